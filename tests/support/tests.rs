//! Focused tests of the fake API server over real HTTP (reqwest and kube-rs).

use std::time::Duration;

use serde_json::{Value, json};

use super::{FakeApi, PodTermination};

async fn call(
    fake: &FakeApi,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: Option<String>,
) -> (u16, Value) {
    let client = reqwest::Client::new();
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = client
        .request(method, format!("{}{}", fake.url(), path))
        .bearer_auth(fake.token())
        .header("User-Agent", "python-requests/2.31");
    if let Some(ct) = content_type {
        req = req.header("Content-Type", ct);
    }
    if let Some(b) = body {
        req = req.body(b);
    }
    let resp = req.send().await.expect("request to the fake");
    let code = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (
        code,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn apply(fake: &FakeApi, path: &str, query: &str, body: &str) -> (u16, Value) {
    call(
        fake,
        "PATCH",
        &format!("{path}?{query}"),
        Some("application/apply-patch+yaml"),
        Some(body.into()),
    )
    .await
}

const NS: &str =
    "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: fly-k8s\n  labels:\n    name: fly-k8s\n";

fn configmap(value: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: base-map\n  namespace: fly-k8s\ndata:\n  fly-name: {value}\n  other: kept\n"
    )
}

const CM_PATH: &str = "/api/v1/namespaces/fly-k8s/configmaps/base-map";

#[tokio::test]
async fn apply_creates_201_then_identical_reapply_is_a_true_noop_then_change_bumps_rv() {
    let fake = FakeApi::start().await;
    let (code, ns) = apply(
        &fake,
        "/api/v1/namespaces/fly-k8s",
        "fieldManager=kubelab&force=true",
        NS,
    )
    .await;
    assert_eq!(code, 201);
    assert_eq!(
        ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "fly-k8s"
    );
    assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(ns["status"]["phase"], "Active");
    assert_eq!(
        ns["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:metadata": {"f:labels": {"f:name": {}}}})
    );
    let (code, created) = apply(
        &fake,
        CM_PATH,
        "fieldManager=kubelab&force=true",
        &configmap("zhangpanqin"),
    )
    .await;
    assert_eq!(code, 201);
    let (code, again) = apply(
        &fake,
        CM_PATH,
        "fieldManager=kubelab&force=true",
        &configmap("zhangpanqin"),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(
        again["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );
    assert_eq!(
        again["metadata"]["managedFields"][0]["time"],
        created["metadata"]["managedFields"][0]["time"]
    );
    let (code, changed) = apply(
        &fake,
        CM_PATH,
        "fieldManager=kubelab&force=true",
        &configmap("v2"),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(changed["data"]["fly-name"], "v2");
    let before: u64 = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let after: u64 = changed["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(after > before);
    // Every new namespace gets the root CA ConfigMap and the default ServiceAccount.
    assert!(
        fake.get("v1", "ConfigMap", Some("fly-k8s"), "kube-root-ca.crt")
            .is_some()
    );
    assert!(
        fake.get("v1", "ServiceAccount", Some("fly-k8s"), "default")
            .is_some()
    );
}

#[tokio::test]
async fn apply_conflict_409_then_force_moves_ownership_and_reclaim_drops_the_other_manager() {
    let fake = FakeApi::start().await;
    apply(
        &fake,
        "/api/v1/namespaces/fly-k8s",
        "fieldManager=kubelab&force=true",
        NS,
    )
    .await;
    apply(
        &fake,
        CM_PATH,
        "fieldManager=kubelab&force=true",
        &configmap("a"),
    )
    .await;
    let other = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: base-map\n  namespace: fly-k8s\ndata:\n  fly-name: b\n";
    let (code, status) = apply(&fake, CM_PATH, "fieldManager=other-tool", other).await;
    assert_eq!(code, 409);
    assert_eq!(
        status,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "Apply failed with 1 conflict: conflict with \"kubelab\": .data.fly-name",
            "reason": "Conflict", "details": {"causes": [{"reason": "FieldManagerConflict",
                "message": "conflict with \"kubelab\"", "field": ".data.fly-name"}]}, "code": 409})
    );
    let (code, forced) = apply(&fake, CM_PATH, "fieldManager=other-tool&force=true", other).await;
    assert_eq!(code, 200);
    assert_eq!(forced["data"]["fly-name"], "b");
    let managers: Vec<&str> = forced["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["manager"].as_str().unwrap())
        .collect();
    assert_eq!(managers, ["kubelab", "other-tool"]);
    assert_eq!(
        forced["metadata"]["managedFields"][0]["fieldsV1"],
        json!({"f:data": {"f:other": {}}})
    );
    let (code, back) = apply(
        &fake,
        CM_PATH,
        "fieldManager=kubelab&force=true",
        &configmap("a"),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(back["data"]["fly-name"], "a");
    assert_eq!(
        back["metadata"]["managedFields"].as_array().unwrap().len(),
        1
    );
    // A field the manager stops applying is removed.
    let only = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: base-map\n  namespace: fly-k8s\ndata:\n  fly-name: a\n";
    let (_, pruned) = apply(&fake, CM_PATH, "fieldManager=kubelab&force=true", only).await;
    assert_eq!(pruned["data"], json!({"fly-name": "a"}));
}

#[tokio::test]
async fn apply_errors_have_the_recorded_status_shapes() {
    let fake = FakeApi::start().await;
    apply(
        &fake,
        "/api/v1/namespaces/fly-k8s",
        "fieldManager=kubelab&force=true",
        NS,
    )
    .await;
    let (code, s) = apply(&fake, CM_PATH, "", &configmap("a")).await;
    assert_eq!(
        (code, s["details"]["kind"].as_str()),
        (422, Some("PatchOptions"))
    );
    let (code, s) = apply(
        &fake,
        "/api/v1/namespaces/fly-k8s/configmaps/other-map",
        "fieldManager=kubelab",
        &configmap("a"),
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(
        s["message"],
        "the name of the object (base-map) does not match the name on the URL (other-map)"
    );
    let missing = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n";
    let (code, s) = apply(
        &fake,
        "/api/v1/namespaces/nope/configmaps/x",
        "fieldManager=kubelab",
        missing,
    )
    .await;
    assert_eq!(code, 404);
    assert_eq!(s["message"], "namespaces \"nope\" not found");
    let bad = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bad-deployment"},
        "spec": {"replicas": -1, "selector": {"matchLabels": {"app": "x"}},
            "template": {"metadata": {"labels": {"app": "y"}}, "spec": {"containers": [{"name": "Bad_Name", "image": "nginx"}]}}}});
    let (code, s) = apply(
        &fake,
        "/apis/apps/v1/namespaces/fly-k8s/deployments/bad-deployment",
        "fieldManager=kubelab",
        &bad.to_string(),
    )
    .await;
    assert_eq!(code, 422);
    let fields: Vec<&str> = s["details"]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "spec.replicas",
            "spec.template.metadata.labels",
            "spec.template.spec.containers[0].name"
        ]
    );
    assert_eq!(s["details"]["kind"], "Deployment");
    let pod = |cmd: &str| {
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: busybox\nspec:\n  containers:\n  - name: busybox\n    image: busybox\n    command: [{cmd}]\n"
        )
    };
    let (code, created) = apply(
        &fake,
        "/api/v1/namespaces/fly-k8s/pods/busybox",
        "fieldManager=kubelab",
        &pod("sh"),
    )
    .await;
    assert_eq!(code, 201);
    assert_eq!(
        created["status"],
        json!({"phase": "Pending", "qosClass": "BestEffort"})
    );
    assert_eq!(created["spec"]["serviceAccountName"], "default");
    assert!(created["metadata"].get("generation").is_none());
    let (code, s) = apply(
        &fake,
        "/api/v1/namespaces/fly-k8s/pods/busybox",
        "fieldManager=kubelab",
        &pod("sh, -c"),
    )
    .await;
    assert_eq!(code, 422);
    assert_eq!(s["details"]["causes"][0]["reason"], "FieldValueForbidden");
}

#[tokio::test]
async fn not_found_and_unauthorized_bodies_match_the_recordings() {
    let fake = FakeApi::start().await;
    let (code, s) = call(
        &fake,
        "GET",
        "/api/v1/namespaces/fly-k8s/pods/does-not-exist",
        None,
        None,
    )
    .await;
    assert_eq!(code, 404);
    assert_eq!(s, super::discovery::recorded("037")["response"]["body"]);
    let (code, s) = call(
        &fake,
        "GET",
        "/apis/apps/v1/namespaces/fly-k8s/deployments/nope",
        None,
        None,
    )
    .await;
    assert_eq!(code, 404);
    assert_eq!(s, super::discovery::recorded("038")["response"]["body"]);
    let resp = reqwest::Client::new()
        .get(format!("{}/api/v1/namespaces/fly-k8s/pods", fake.url()))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body, super::discovery::recorded("056")["response"]["body"]);
}

#[tokio::test]
async fn lists_filter_by_selectors_and_paginate() {
    let fake = FakeApi::start().await;
    apply(
        &fake,
        "/api/v1/namespaces/fly-k8s",
        "fieldManager=kubelab&force=true",
        NS,
    )
    .await;
    for (name, app) in [("a", "nginx"), ("b", "nginx"), ("c", "redis")] {
        fake.put(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": "fly-k8s",
            "labels": {"app": app}}, "spec": {"containers": [{"name": "c", "image": "nginx:1.14.2"}]}}))
            .unwrap();
    }
    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (code, l) = call(
        &fake,
        "GET",
        "/api/v1/namespaces/fly-k8s/pods?labelSelector=app%3Dnginx",
        None,
        None,
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(l["kind"], "PodList");
    assert!(l["items"][0].get("kind").is_none());
    assert_eq!(names(&l), ["a", "b"]);
    let (_, l) = call(
        &fake,
        "GET",
        "/api/v1/namespaces/fly-k8s/pods?labelSelector=app+notin+(nginx)",
        None,
        None,
    )
    .await;
    assert_eq!(names(&l), ["c"]);
    let (_, l) = call(
        &fake,
        "GET",
        "/api/v1/namespaces/fly-k8s/pods?fieldSelector=status.phase%3DPending,metadata.name!%3Da",
        None,
        None,
    )
    .await;
    assert_eq!(names(&l), ["b", "c"]);
    let (code, s) = call(
        &fake,
        "GET",
        "/api/v1/namespaces/fly-k8s/configmaps?fieldSelector=data.fly-name%3Dx",
        None,
        None,
    )
    .await;
    assert_eq!(code, 400);
    assert_eq!(s, super::discovery::recorded("042")["response"]["body"]);
    let (code, l) = call(
        &fake,
        "GET",
        "/api/v1/namespaces/no-such-ns/pods",
        None,
        None,
    )
    .await;
    assert_eq!((code, l["items"].as_array().unwrap().len()), (200, 0));
    let (_, page1) = call(
        &fake,
        "GET",
        "/api/v1/namespaces/fly-k8s/pods?limit=2",
        None,
        None,
    )
    .await;
    assert_eq!(names(&page1), ["a", "b"]);
    assert_eq!(page1["metadata"]["remainingItemCount"], 1);
    let token = page1["metadata"]["continue"].as_str().unwrap();
    let (_, page2) = call(
        &fake,
        "GET",
        &format!("/api/v1/namespaces/fly-k8s/pods?limit=2&continue={token}"),
        None,
        None,
    )
    .await;
    assert_eq!(names(&page2), ["c"]);
    assert!(page2["metadata"].get("continue").is_none());
}

async fn watch_lines(fake: &FakeApi, path: &str) -> Vec<Value> {
    let text = reqwest::Client::new()
        .get(format!("{}{}", fake.url(), path))
        .bearer_auth(fake.token())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn watch_replays_from_a_resource_version_and_answers_410_after_restart() {
    let fake = FakeApi::start().await;
    apply(
        &fake,
        "/api/v1/namespaces/fly-k8s",
        "fieldManager=kubelab&force=true",
        NS,
    )
    .await;
    let rv = fake.resource_version();
    apply(
        &fake,
        CM_PATH,
        "fieldManager=kubelab&force=true",
        &configmap("a"),
    )
    .await;
    apply(
        &fake,
        CM_PATH,
        "fieldManager=kubelab&force=true",
        &configmap("b"),
    )
    .await;
    fake.delete("v1", "ConfigMap", Some("fly-k8s"), "base-map")
        .unwrap();
    let events = watch_lines(&fake, &format!("/api/v1/namespaces/fly-k8s/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=1&fieldSelector=metadata.name%3Dbase-map")).await;
    let types: Vec<&str> = events.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(types, ["ADDED", "MODIFIED", "DELETED"]);
    assert_eq!(events[0]["object"]["kind"], "ConfigMap");
    fake.restart().await;
    let events = watch_lines(
        &fake,
        &format!(
            "/api/v1/namespaces/fly-k8s/configmaps?watch=1&resourceVersion={rv}&timeoutSeconds=5"
        ),
    )
    .await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["type"], "ERROR");
    assert_eq!(events[0]["object"]["code"], 410);
    assert_eq!(events[0]["object"]["reason"], "Expired");
    // Objects survive the restart.
    assert!(fake.get("v1", "Namespace", None, "fly-k8s").is_some());
}

#[tokio::test]
async fn deleted_namespace_is_terminating_then_gone_with_its_objects() {
    let fake = FakeApi::start().await;
    fake.set_namespace_deletion_delay(Duration::from_millis(200));
    apply(
        &fake,
        "/api/v1/namespaces/fly-k8s",
        "fieldManager=kubelab&force=true",
        NS,
    )
    .await;
    apply(
        &fake,
        CM_PATH,
        "fieldManager=kubelab&force=true",
        &configmap("a"),
    )
    .await;
    let (code, ns) = call(&fake, "DELETE", "/api/v1/namespaces/fly-k8s", None, None).await;
    assert_eq!(code, 200);
    assert_eq!(ns["status"]["phase"], "Terminating");
    assert!(ns["metadata"]["deletionTimestamp"].is_string());
    let late = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}});
    let (code, s) = call(
        &fake,
        "POST",
        "/api/v1/namespaces/fly-k8s/configmaps",
        Some("application/json"),
        Some(late.to_string()),
    )
    .await;
    assert_eq!(code, 403);
    assert_eq!(s["details"]["causes"][0]["reason"], "NamespaceTerminating");
    assert!(
        fake.wait_for(Duration::from_secs(10), |f| f
            .get("v1", "Namespace", None, "fly-k8s")
            .is_none())
            .await
    );
    assert!(fake.list("v1", "ConfigMap", Some("fly-k8s")).is_empty());
    let (code, _) = call(&fake, "GET", "/api/v1/namespaces/fly-k8s", None, None).await;
    assert_eq!(code, 404);
}

async fn kube_client(fake: &FakeApi, dir: &std::path::Path) -> kube::Client {
    let path = fake.write_kubeconfig(dir);
    let kc = kube::config::Kubeconfig::read_from(&path).unwrap();
    let cfg = kube::Config::from_custom_kubeconfig(kc, &kube::config::KubeConfigOptions::default())
        .await
        .unwrap();
    kube::Client::try_from(cfg).unwrap()
}

#[tokio::test]
async fn kube_rs_discovers_applies_and_watches_through_the_kubeconfig() {
    use futures::StreamExt;
    use kube::api::{Api, DynamicObject, Patch, PatchParams};
    use kube::discovery::{self, Discovery};
    use kube::runtime::WatchStreamExt;

    let fake = FakeApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    let client = kube_client(&fake, dir.path()).await;
    let version = client.apiserver_version().await.unwrap();
    assert_eq!(version.git_version, "v1.28.7");
    let disc = Discovery::new(client.clone())
        .run_aggregated()
        .await
        .unwrap();
    assert!(disc.has_group("apps") && disc.has_group("events.k8s.io"));
    assert!(!disc.has_group("metrics.k8s.io"));
    fake.set_metrics_api(true);
    let disc = Discovery::new(client.clone())
        .run_aggregated()
        .await
        .unwrap();
    assert!(disc.has_group("metrics.k8s.io"));
    let gvk = kube::api::GroupVersionKind::gvk("autoscaling", "v2", "HorizontalPodAutoscaler");
    let (ar, caps) = discovery::pinned_kind(&client, &gvk).await.unwrap();
    assert_eq!(ar.plural, "horizontalpodautoscalers");
    assert_eq!(caps.scope, kube::discovery::Scope::Namespaced);

    let ns_ar = kube::api::ApiResource::erase::<k8s_openapi::api::core::v1::Namespace>(&());
    let namespaces: Api<DynamicObject> = Api::all_with(client.clone(), &ns_ar);
    let ns: DynamicObject = serde_json::from_value(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fly-k8s"}}),
    )
    .unwrap();
    namespaces
        .patch(
            "fly-k8s",
            &PatchParams::apply("kubelab").force(),
            &Patch::Apply(&ns),
        )
        .await
        .unwrap();

    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(client.clone(), "fly-k8s");
    let mut stream = kube::runtime::watcher(cms.clone(), kube::runtime::watcher::Config::default())
        .applied_objects()
        .boxed();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first.metadata.name.as_deref(), Some("kube-root-ca.crt"));
    let cm: k8s_openapi::api::core::v1::ConfigMap =
        serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "base-map"}, "data": {"k": "v"}}))
        .unwrap();
    cms.patch(
        "base-map",
        &PatchParams::apply("kubelab"),
        &Patch::Apply(&cm),
    )
    .await
    .unwrap();
    let next = stream.next().await.unwrap().unwrap();
    assert_eq!(next.metadata.name.as_deref(), Some("base-map"));
    let missing = cms.get_opt("nope").await.unwrap();
    assert!(missing.is_none());
}

#[tokio::test]
async fn simulator_runs_pods_and_rolls_deployments_out_again_on_restart() {
    let fake = FakeApi::start().await;
    // About the rollout, not the old Pods' grace period.
    fake.set_pod_termination(PodTermination::AtMost(Duration::from_millis(50)));
    fake.simulate_workloads(true);
    apply(
        &fake,
        "/api/v1/namespaces/fly-k8s",
        "fieldManager=kubelab&force=true",
        NS,
    )
    .await;
    let deploy = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "nginx-deployment", "namespace": "fly-k8s"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "nginx"}},
            "template": {"metadata": {"labels": {"app": "nginx"}}, "spec": {"containers": [{"name": "nginx", "image": "nginx:1.14.2"}]}}}});
    let path = "/apis/apps/v1/namespaces/fly-k8s/deployments/nginx-deployment";
    let (code, _) = apply(&fake, path, "fieldManager=kubelab", &deploy.to_string()).await;
    assert_eq!(code, 201);
    let complete = |f: &FakeApi, generation: i64| {
        f.get("apps/v1", "Deployment", Some("fly-k8s"), "nginx-deployment")
            .is_some_and(|d| {
                d["status"]["observedGeneration"] == generation
                    && d["status"]["availableReplicas"] == 3
                    && d["status"]["updatedReplicas"] == 3
                    && d["status"]["conditions"]
                        .as_array()
                        .is_some_and(|c| c.iter().any(|c| c["reason"] == "NewReplicaSetAvailable"))
            })
    };
    assert!(
        fake.wait_for(Duration::from_secs(10), |f| complete(f, 1))
            .await
    );
    let pods = fake.list("v1", "Pod", Some("fly-k8s"));
    assert_eq!(pods.len(), 3);
    assert!(
        pods.iter()
            .all(|p| p["status"]["phase"] == "Running" && p["spec"]["nodeName"] == "colima")
    );
    assert!(fake.get("v1", "Node", None, "colima").is_some());
    let restart = json!({"spec": {"template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-29T08:28:59Z"}}}}});
    let (code, d) = call(
        &fake,
        "PATCH",
        &format!("{path}?fieldManager=kubectl-rollout"),
        Some("application/strategic-merge-patch+json"),
        Some(restart.to_string()),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(d["metadata"]["generation"], 2);
    assert!(
        fake.wait_for(Duration::from_secs(10), |f| complete(f, 2))
            .await
    );
    let rs = fake.list("apps/v1", "ReplicaSet", Some("fly-k8s"));
    assert_eq!(rs.len(), 2);
    assert!(
        fake.wait_for(Duration::from_secs(10), |f| f
            .list("v1", "Pod", Some("fly-k8s"))
            .len()
            == 3)
            .await
    );
    let pods = fake.list("v1", "Pod", Some("fly-k8s"));
    assert!(pods.iter().all(
        |p| p["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            == "2026-11-29T08:28:59Z"
    ));
}

/// Output of one exec through kube-rs: stdout, stderr and the status frame as JSON.
async fn kube_exec(
    pods: &kube::Api<k8s_openapi::api::core::v1::Pod>,
    pod: &str,
    container: &str,
    command: &[&str],
) -> (String, String, Value) {
    use tokio::io::AsyncReadExt;
    let ap = kube::api::AttachParams::default()
        .container(container)
        .stderr(true);
    let mut attached = pods
        .exec(pod, command.iter().map(|c| c.to_string()), &ap)
        .await
        .expect("exec upgrade");
    let mut stdout = attached.stdout().expect("stdout");
    let mut stderr = attached.stderr().expect("stderr");
    let status = attached.take_status().expect("status");
    let (mut out, mut err) = (String::new(), String::new());
    let (r1, r2, status) = tokio::join!(
        stdout.read_to_string(&mut out),
        stderr.read_to_string(&mut err),
        status
    );
    r1.expect("read stdout");
    r2.expect("read stderr");
    attached.join().await.expect("exec stream ends cleanly");
    (
        out,
        err,
        serde_json::to_value(status).expect("status as JSON"),
    )
}

async fn apply_json(fake: &FakeApi, path: &str, obj: Value) -> (u16, Value) {
    apply(
        fake,
        path,
        "fieldManager=kubelab&force=true",
        &obj.to_string(),
    )
    .await
}

async fn namespace_with_configmap(fake: &FakeApi) {
    apply(
        fake,
        "/api/v1/namespaces/fly-k8s",
        "fieldManager=kubelab&force=true",
        NS,
    )
    .await;
    let (code, _) = apply_json(
        fake,
        CM_PATH,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "base-map", "namespace": "fly-k8s"},
            "data": {"fly-name": "zhangpanqin", "game.properties": "lives=3\n"}}),
    )
    .await;
    assert_eq!(code, 201);
}

fn running(f: &FakeApi, ns: &str, name: &str) -> bool {
    f.get("v1", "Pod", Some(ns), name)
        .is_some_and(|p| p["status"]["phase"] == "Running")
}

/// A two-container Pod: busybox reading the ConfigMap/Secret (env and files) and nginx on :80.
fn two_container_pod() -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "shared", "namespace": "fly-k8s"},
        "spec": {"containers": [
            {"name": "busybox", "image": "busybox:1.36", "command": ["sleep", "3600"],
             "env": [
                {"name": "FLY_NAME", "valueFrom": {"configMapKeyRef": {"name": "base-map", "key": "fly-name"}}},
                {"name": "PASSWORD", "valueFrom": {"secretKeyRef": {"name": "creds", "key": "password"}}},
                {"name": "GREETING", "value": "hello"}],
             "volumeMounts": [{"name": "config", "mountPath": "/config"},
                {"name": "config", "mountPath": "/etc/game.properties", "subPath": "game.properties"}]},
            {"name": "nginx", "image": "nginx:1.14.2", "ports": [{"containerPort": 80}]}],
         "volumes": [{"name": "config", "configMap": {"name": "base-map"}}]}})
}

#[tokio::test]
async fn exec_default_interpreter_reads_env_files_and_the_sibling_container() {
    use k8s_openapi::api::core::v1::Pod;
    let fake = FakeApi::start().await;
    fake.simulate_workloads(true);
    namespace_with_configmap(&fake).await;
    apply_json(
        &fake,
        "/api/v1/namespaces/fly-k8s/secrets/creds",
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "creds", "namespace": "fly-k8s"},
            "data": {"password": "czNjcjN0"}}),
    )
    .await;
    let (code, _) = apply_json(
        &fake,
        "/api/v1/namespaces/fly-k8s/pods/shared",
        two_container_pod(),
    )
    .await;
    assert_eq!(code, 201);
    assert!(
        fake.wait_for(Duration::from_secs(10), |f| running(f, "fly-k8s", "shared"))
            .await
    );
    let dir = tempfile::tempdir().unwrap();
    let client = kube_client(&fake, dir.path()).await;
    let pods: kube::Api<Pod> = kube::Api::namespaced(client, "fly-k8s");
    let ok = json!({"apiVersion": "v1", "kind": "Status", "metadata": {}, "status": "Success"});
    let (out, err, st) = kube_exec(&pods, "shared", "busybox", &["printenv", "FLY_NAME"]).await;
    assert_eq!(
        (out.as_str(), err.as_str(), &st),
        ("zhangpanqin\n", "", &ok)
    );
    let (out, _, _) = kube_exec(&pods, "shared", "busybox", &["printenv", "PASSWORD"]).await;
    assert_eq!(out, "s3cr3t\n");
    let (out, _, _) = kube_exec(
        &pods,
        "shared",
        "busybox",
        &["sh", "-c", "echo $GREETING ${FLY_NAME}"],
    )
    .await;
    assert_eq!(out, "hello zhangpanqin\n");
    let (out, _, _) = kube_exec(&pods, "shared", "busybox", &["cat", "/config/fly-name"]).await;
    assert_eq!(out, "zhangpanqin");
    let (out, _, st) = kube_exec(
        &pods,
        "shared",
        "busybox",
        &["wget", "-qO-", "http://localhost:80"],
    )
    .await;
    assert!(out.contains("Welcome to nginx!"), "{out}");
    assert_eq!(st, ok);
    let (_, err, st) = kube_exec(
        &pods,
        "shared",
        "busybox",
        &["wget", "-qO-", "http://localhost:8080"],
    )
    .await;
    assert!(err.contains("Connection refused"));
    assert_eq!(st["reason"], "NonZeroExitCode");

    // Editing the ConfigMap updates the mounted file, not the env nor a subPath mount.
    apply_json(
        &fake,
        CM_PATH,
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "base-map", "namespace": "fly-k8s"},
            "data": {"fly-name": "v2", "game.properties": "lives=9\n"}}),
    )
    .await;
    let (out, _, _) = kube_exec(&pods, "shared", "busybox", &["cat", "/config/fly-name"]).await;
    assert_eq!(out, "v2");
    let (out, _, _) = kube_exec(&pods, "shared", "busybox", &["printenv", "FLY_NAME"]).await;
    assert_eq!(out, "zhangpanqin\n");
    let (out, _, _) = kube_exec(&pods, "shared", "busybox", &["cat", "/etc/game.properties"]).await;
    assert_eq!(out, "lives=3\n");

    // A program the image does not have cannot start: no exit code, an InternalError (118).
    let (out, err, st) = kube_exec(&pods, "shared", "busybox", &["kubectl", "version"]).await;
    assert_eq!((out.as_str(), err.as_str()), ("", ""));
    assert_eq!(st["status"], "Failure");
    assert_eq!(st["reason"], "InternalError");
    assert_eq!(st["code"], 500);
    assert!(
        st["message"]
            .as_str()
            .is_some_and(|m| m.contains("exec: \"kubectl\": executable file not found in $PATH")),
        "{st}"
    );
    // Through a shell it is the shell that reports it, with exit code 127.
    let (out, err, st) =
        kube_exec(&pods, "shared", "busybox", &["sh", "-c", "kubectl version"]).await;
    assert_eq!(out, "");
    assert!(err.contains("sh: kubectl: not found"), "{err}");
    assert_eq!(st["reason"], "NonZeroExitCode");
    assert_eq!(
        st["details"]["causes"],
        json!([{"reason": "ExitCode", "message": "127"}])
    );
    let exec_request = fake
        .requests()
        .into_iter()
        .find(|r| r.path.ends_with("/exec"))
        .expect("exec request recorded");
    assert_eq!(exec_request.method, "GET");
    assert_eq!(exec_request.query["container"], "busybox");
}

#[tokio::test]
async fn exec_custom_handler_exit_codes_delays_and_apiserver_errors() {
    use k8s_openapi::api::core::v1::Pod;
    let fake = FakeApi::start().await;
    fake.simulate_workloads(true);
    namespace_with_configmap(&fake).await;
    apply_json(
        &fake,
        "/api/v1/namespaces/fly-k8s/pods/busybox",
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "busybox", "namespace": "fly-k8s"},
            "spec": {"containers": [{"name": "busybox", "image": "busybox:1.36"}]}}),
    )
    .await;
    assert!(
        fake.wait_for(Duration::from_secs(10), |f| running(
            f, "fly-k8s", "busybox"
        ))
        .await
    );
    let calls = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = calls.clone();
    fake.set_exec_handler(move |call: super::ExecCall| {
        seen.lock().unwrap().push(call.clone());
        match call.command.first().map(String::as_str) {
            Some("fail") => super::ExecReply {
                stdout: "partial\n".into(),
                stderr: "boom\n".into(),
                exit_code: 3,
                ..Default::default()
            },
            Some("hang") => super::ExecReply {
                delay: Duration::from_secs(60),
                ..Default::default()
            },
            _ => super::ExecReply::ok("custom\n"),
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let client = kube_client(&fake, dir.path()).await;
    let pods: kube::Api<Pod> = kube::Api::namespaced(client.clone(), "fly-k8s");
    let (out, _, st) = kube_exec(&pods, "busybox", "busybox", &["anything", "at all"]).await;
    assert_eq!(out, "custom\n");
    assert_eq!(st["status"], "Success");
    assert_eq!(
        calls.lock().unwrap()[0],
        super::ExecCall {
            namespace: "fly-k8s".into(),
            pod: "busybox".into(),
            container: "busybox".into(),
            command: vec!["anything".into(), "at all".into()],
            stdin: None,
        }
    );
    let (out, err, st) = kube_exec(&pods, "busybox", "busybox", &["fail"]).await;
    assert_eq!((out.as_str(), err.as_str()), ("partial\n", "boom\n"));
    assert_eq!(st["reason"], "NonZeroExitCode");
    assert_eq!(st["details"]["causes"][0]["message"], "3");
    assert!(
        st["message"]
            .as_str()
            .unwrap()
            .starts_with("command terminated with non-zero exit code")
    );
    // A process slower than the caller's timeout: the caller gives up, the fake copes.
    let slow = tokio::time::timeout(
        Duration::from_millis(300),
        kube_exec(&pods, "busybox", "busybox", &["hang"]),
    )
    .await;
    assert!(slow.is_err());
    fake.clear_exec_handler();
    let (out, _, _) = kube_exec(&pods, "busybox", "busybox", &["echo", "back"]).await;
    assert_eq!(out, "back\n");

    // The apiserver's own answers before any stream: 404, 400 without upgrade, 400 no host.
    let ap = kube::api::AttachParams::default();
    match pods.exec("missing-pod", vec!["printenv"], &ap).await {
        Err(kube::Error::Api(s)) => assert_eq!((s.code, s.reason.as_str()), (404, "NotFound")),
        Err(other) => panic!("expected 404, got {other:?}"),
        Ok(_) => panic!("expected 404, got a stream"),
    }
    let (code, body) = call(
        &fake,
        "GET",
        "/api/v1/namespaces/fly-k8s/pods/busybox/exec?command=printenv&stdout=true",
        None,
        None,
    )
    .await;
    assert_eq!(
        (code, &body["message"]),
        (400, &json!("Upgrade request required"))
    );
    apply_json(
        &fake,
        "/api/v1/namespaces/fly-k8s/pods/nowhere",
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "nowhere", "namespace": "fly-k8s"},
            "spec": {"nodeSelector": {"disk": "ssd"}, "containers": [{"name": "c", "image": "busybox"}]}}),
    )
    .await;
    match pods.exec("nowhere", vec!["true"], &ap).await {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.code, 400);
            assert_eq!(s.message, "pod nowhere does not have a host assigned");
        }
        Err(other) => panic!("expected 400, got {other:?}"),
        Ok(_) => panic!("expected 400, got a stream"),
    }
    match pods
        .exec(
            "busybox",
            vec!["true"],
            &kube::api::AttachParams::default().container("nope"),
        )
        .await
    {
        Err(kube::Error::Api(s)) => {
            assert_eq!(s.message, "container nope is not valid for pod busybox")
        }
        Err(other) => panic!("expected 400, got {other:?}"),
        Ok(_) => panic!("expected 400, got a stream"),
    }
}

fn event_names(fake: &FakeApi, reason: &str, name: &str) -> Vec<Value> {
    fake.list("v1", "Event", Some("fly-k8s"))
        .into_iter()
        .filter(|e| e["reason"] == reason && e["involvedObject"]["name"] == name)
        .collect()
}

#[tokio::test]
async fn failed_scheduling_until_the_node_is_labelled_then_pod_events_and_field_selectors() {
    let fake = FakeApi::start().await;
    fake.simulate_workloads(true);
    namespace_with_configmap(&fake).await;
    apply_json(
        &fake,
        "/api/v1/namespaces/fly-k8s/pods/unschedulable-pod",
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "unschedulable-pod", "namespace": "fly-k8s"},
            "spec": {"nodeSelector": {"disktype": "ssd"}, "containers": [{"name": "nginx", "image": "nginx:1.14.2"}]}}),
    )
    .await;
    assert!(
        fake.wait_for(Duration::from_secs(10), |f| !event_names(
            f,
            "FailedScheduling",
            "unschedulable-pod"
        )
        .is_empty())
            .await
    );
    let pod = fake
        .get("v1", "Pod", Some("fly-k8s"), "unschedulable-pod")
        .unwrap();
    assert_eq!(pod["status"]["phase"], "Pending");
    let message = "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling..";
    assert_eq!(
        pod["status"]["conditions"][0],
        json!({"type": "PodScheduled", "status": "False", "lastProbeTime": null,
            "lastTransitionTime": pod["status"]["conditions"][0]["lastTransitionTime"],
            "reason": "Unschedulable", "message": message})
    );
    let base = "/api/v1/namespaces/fly-k8s/events?fieldSelector=";
    let (code, list) = call(
        &fake,
        "GET",
        &format!("{base}involvedObject.kind%3DPod%2CinvolvedObject.name%3Dunschedulable-pod"),
        None,
        None,
    )
    .await;
    assert_eq!(code, 200);
    let ev = &list["items"][0];
    assert_eq!(ev["reason"], "FailedScheduling");
    assert_eq!(ev["type"], "Warning");
    assert_eq!(ev["message"], message);
    assert_eq!(ev["source"], json!({}));
    assert_eq!(ev["reportingComponent"], "default-scheduler");
    assert_eq!(ev["involvedObject"]["uid"], pod["metadata"]["uid"]);
    let (_, by_type) = call(&fake, "GET", &format!("{base}type%3DWarning"), None, None).await;
    assert_eq!(by_type["items"].as_array().unwrap().len(), 1);
    let (_, new_api) = call(
        &fake,
        "GET",
        "/apis/events.k8s.io/v1/namespaces/fly-k8s/events?fieldSelector=regarding.name%3Dunschedulable-pod",
        None,
        None,
    )
    .await;
    assert_eq!(new_api["items"][0]["note"], message);
    assert_eq!(
        new_api["items"][0]["reportingController"],
        "default-scheduler"
    );
    assert_eq!(
        new_api["items"][0]["metadata"]["name"],
        ev["metadata"]["name"]
    );

    // Labelling the node (merge patch, as `kubectl label node`) lets the scheduler place it.
    let (code, _) = call(
        &fake,
        "PATCH",
        "/api/v1/nodes/colima",
        Some("application/merge-patch+json"),
        Some(json!({"metadata": {"labels": {"disktype": "ssd"}}}).to_string()),
    )
    .await;
    assert_eq!(code, 200);
    assert!(
        fake.wait_for(Duration::from_secs(10), |f| running(
            f,
            "fly-k8s",
            "unschedulable-pod"
        ))
        .await
    );
    for reason in ["Scheduled", "Pulling", "Pulled", "Created", "Started"] {
        assert_eq!(
            event_names(&fake, reason, "unschedulable-pod").len(),
            1,
            "{reason}"
        );
    }
    let scheduled = &event_names(&fake, "Scheduled", "unschedulable-pod")[0];
    assert_eq!(
        scheduled["message"],
        "Successfully assigned fly-k8s/unschedulable-pod to colima"
    );
    let started = &event_names(&fake, "Started", "unschedulable-pod")[0];
    assert_eq!(
        started["source"],
        json!({"component": "kubelet", "host": "colima"})
    );
    assert_eq!(
        started["involvedObject"]["fieldPath"],
        "spec.containers{nginx}"
    );
    let (_, kubelet) = call(
        &fake,
        "GET",
        &format!("{base}source%3Dkubelet%2Creason%3DStarted"),
        None,
        None,
    )
    .await;
    assert_eq!(kubelet["items"].as_array().unwrap().len(), 1);
    let (code, bad) = call(&fake, "GET", &format!("{base}note%3Dx"), None, None).await;
    assert_eq!(code, 400);
    assert!(
        bad["message"]
            .as_str()
            .unwrap()
            .contains("not a known field selector")
    );
}

#[tokio::test]
async fn node_is_colima_and_cordon_keeps_new_pods_pending_until_uncordon() {
    let fake = FakeApi::start().await;
    fake.simulate_workloads(true);
    namespace_with_configmap(&fake).await;
    let node = fake.get("v1", "Node", None, "colima").unwrap();
    let info = &node["status"]["nodeInfo"];
    assert_eq!(info["kubeletVersion"], "v1.28.7+k3s1");
    assert_eq!(info["kubeProxyVersion"], "v1.28.7+k3s1");
    assert_eq!(info["containerRuntimeVersion"], "docker://24.0.7");
    assert_eq!(info["architecture"], "amd64");
    assert!(info["osImage"].is_string());
    assert_eq!(
        node["metadata"]["labels"]["kubernetes.io/hostname"],
        "colima"
    );
    assert_eq!(
        node["metadata"]["labels"]["node-role.kubernetes.io/control-plane"],
        "true"
    );
    assert_eq!(node["status"]["allocatable"]["pods"], "110");
    assert!(
        node["status"]["conditions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    );
    let (code, _) = call(
        &fake,
        "PATCH",
        "/api/v1/nodes/colima",
        Some("application/strategic-merge-patch+json"),
        Some(json!({"spec": {"unschedulable": true}}).to_string()),
    )
    .await;
    assert_eq!(code, 200);
    apply_json(
        &fake,
        "/api/v1/namespaces/fly-k8s/pods/late",
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "late", "namespace": "fly-k8s"},
            "spec": {"containers": [{"name": "nginx", "image": "nginx:1.14.2"}]}}),
    )
    .await;
    assert!(
        fake.wait_for(Duration::from_secs(10), |f| !event_names(
            f,
            "FailedScheduling",
            "late"
        )
        .is_empty())
            .await
    );
    assert!(
        event_names(&fake, "FailedScheduling", "late")[0]["message"]
            .as_str()
            .unwrap()
            .contains("1 node(s) were unschedulable")
    );
    let node = fake.get("v1", "Node", None, "colima").unwrap();
    assert_eq!(
        node["spec"]["taints"][0]["key"],
        "node.kubernetes.io/unschedulable"
    );
    call(
        &fake,
        "PATCH",
        "/api/v1/nodes/colima",
        Some("application/merge-patch+json"),
        Some(json!({"spec": {"unschedulable": null}}).to_string()),
    )
    .await;
    assert!(
        fake.wait_for(Duration::from_secs(10), |f| running(f, "fly-k8s", "late"))
            .await
    );
}

#[tokio::test]
async fn replicaset_replaces_a_deleted_pod_with_a_new_one() {
    let fake = FakeApi::start().await;
    // About the replacement, not the victim's grace period.
    fake.set_pod_termination(PodTermination::AtMost(Duration::from_millis(50)));
    fake.simulate_workloads(true);
    namespace_with_configmap(&fake).await;
    let (code, rs) = apply_json(
        &fake,
        "/apis/apps/v1/namespaces/fly-k8s/replicasets/web",
        json!({"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web", "namespace": "fly-k8s"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                "template": {"metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "nginx", "image": "nginx:1.14.2"}]}}}}),
    )
    .await;
    assert_eq!(code, 201);
    let running_pods = |f: &FakeApi| -> Vec<Value> {
        f.list("v1", "Pod", Some("fly-k8s"))
            .into_iter()
            .filter(|p| p["status"]["phase"] == "Running")
            .collect()
    };
    assert!(
        fake.wait_for(Duration::from_secs(10), |f| running_pods(f).len() == 2)
            .await
    );
    let before = running_pods(&fake);
    for p in &before {
        let name = p["metadata"]["name"].as_str().unwrap();
        let suffix = name.strip_prefix("web-").unwrap();
        assert_eq!(suffix.len(), 5, "{name}");
        assert_eq!(
            p["metadata"]["ownerReferences"][0]["uid"],
            rs["metadata"]["uid"]
        );
        assert_eq!(p["metadata"]["ownerReferences"][0]["kind"], "ReplicaSet");
    }
    let victim = before[0]["metadata"]["name"].as_str().unwrap().to_string();
    let (code, _) = call(
        &fake,
        "DELETE",
        &format!("/api/v1/namespaces/fly-k8s/pods/{victim}"),
        None,
        None,
    )
    .await;
    assert_eq!(code, 200);
    assert!(
        fake.wait_for(Duration::from_secs(10), |f| {
            let now = running_pods(f);
            now.len() == 2 && now.iter().all(|p| p["metadata"]["name"] != victim.as_str())
        })
        .await
    );
    let replacement = running_pods(&fake)
        .into_iter()
        .find(|p| p["metadata"]["name"] != before[1]["metadata"]["name"])
        .unwrap();
    assert!(
        replacement["metadata"]["creationTimestamp"]
            .as_str()
            .unwrap()
            >= before[0]["metadata"]["creationTimestamp"].as_str().unwrap()
    );
    assert_ne!(replacement["metadata"]["uid"], before[0]["metadata"]["uid"]);
    let created: Vec<Value> = fake
        .list("v1", "Event", Some("fly-k8s"))
        .into_iter()
        .filter(|e| e["reason"] == "SuccessfulCreate")
        .collect();
    assert_eq!(created.len(), 3);
    assert_eq!(created[0]["source"]["component"], "replicaset-controller");
}

#[tokio::test]
async fn hpa_scales_the_deployment_out_from_simulated_cpu_usage_and_metrics_are_served() {
    let fake = FakeApi::start().await;
    fake.simulate_workloads(true);
    namespace_with_configmap(&fake).await;
    apply_json(
        &fake,
        "/apis/apps/v1/namespaces/fly-k8s/deployments/php-apache",
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "php-apache", "namespace": "fly-k8s"},
            "spec": {"replicas": 1, "selector": {"matchLabels": {"run": "php-apache"}},
                "template": {"metadata": {"labels": {"run": "php-apache"}},
                    "spec": {"containers": [{"name": "php-apache", "image": "registry.k8s.io/hpa-example",
                        "resources": {"requests": {"cpu": "200m"}, "limits": {"cpu": "500m"}}}]}}}}),
    )
    .await;
    apply_json(
        &fake,
        "/apis/autoscaling/v2/namespaces/fly-k8s/horizontalpodautoscalers/php-apache",
        json!({"apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
            "metadata": {"name": "php-apache", "namespace": "fly-k8s"},
            "spec": {"scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "php-apache"},
                "minReplicas": 1, "maxReplicas": 5,
                "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}}]}}),
    )
    .await;
    let hpa = |f: &FakeApi| {
        f.get(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            Some("fly-k8s"),
            "php-apache",
        )
        .unwrap()
    };
    let cond = |h: &Value, ty: &str| -> Value {
        h["status"]["conditions"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|c| c["type"] == ty)
            .cloned()
            .unwrap_or(Value::Null)
    };
    // Without metrics-server the HPA cannot compute a replica count (recording 036).
    assert!(
        fake.wait_for(Duration::from_secs(10), |f| cond(&hpa(f), "ScalingActive")
            ["reason"]
            == "FailedGetResourceMetric")
            .await
    );
    fake.set_metrics_api(true);
    assert!(
        fake.wait_for(Duration::from_secs(10), |f| cond(&hpa(f), "ScalingActive")
            ["status"]
            == "True")
            .await
    );
    let idle = hpa(&fake);
    assert_eq!(idle["status"]["desiredReplicas"], 1);
    assert_eq!(
        idle["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"],
        0
    );
    assert_eq!(cond(&idle, "AbleToScale")["status"], "True");

    fake.set_pod_cpu_usage("fly-k8s", "run=php-apache", 250);
    assert!(
        fake.wait_for(Duration::from_secs(10), |f| {
            f.get("apps/v1", "Deployment", Some("fly-k8s"), "php-apache")
                .is_some_and(|d| d["spec"]["replicas"].as_i64().unwrap_or(0) > 1)
        })
        .await
    );
    assert!(
        fake.wait_for(Duration::from_secs(10), |f| {
            let h = hpa(f);
            h["status"]["desiredReplicas"] == 5
                && h["status"]["currentReplicas"] == 5
                && cond(&h, "ScalingLimited")["reason"] == "TooManyReplicas"
        })
        .await
    );
    let scaled = hpa(&fake);
    assert_eq!(
        scaled["status"]["currentMetrics"][0]["resource"]["current"]["averageUtilization"],
        125
    );
    assert_eq!(cond(&scaled, "ScalingActive")["reason"], "ValidMetricFound");
    assert!(scaled["status"]["lastScaleTime"].is_string());
    assert!(
        fake.list("v1", "Event", Some("fly-k8s"))
            .iter()
            .any(|e| e["reason"] == "SuccessfulRescale")
    );

    // metrics.k8s.io objects through kube-rs (what `kubectl top` reads).
    use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
    let dir = tempfile::tempdir().unwrap();
    let client = kube_client(&fake, dir.path()).await;
    let pm = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("metrics.k8s.io", "v1beta1", "PodMetrics"),
        "pods",
    );
    let pod_metrics: Api<DynamicObject> = Api::namespaced_with(client.clone(), "fly-k8s", &pm);
    assert!(
        fake.wait_for(Duration::from_secs(10), |f| f
            .list("metrics.k8s.io/v1beta1", "PodMetrics", Some("fly-k8s"))
            .len()
            == 5)
            .await
    );
    let list = pod_metrics
        .list(&ListParams::default().labels("run=php-apache"))
        .await
        .unwrap();
    assert_eq!(list.items.len(), 5);
    assert_eq!(
        list.items[0].data["containers"][0]["usage"]["cpu"],
        "250000000n"
    );
    let nm = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("metrics.k8s.io", "v1beta1", "NodeMetrics"),
        "nodes",
    );
    let node_metrics: Api<DynamicObject> = Api::all_with(client, &nm);
    let colima = node_metrics.get("colima").await.unwrap();
    assert!(colima.data["usage"]["cpu"].as_str().unwrap().ends_with('n'));
    assert!(colima.data["usage"]["memory"].is_string());
}

#[tokio::test]
async fn kube_rs_watchers_survive_dropped_watches_for_cluster_scoped_and_field_selected_kinds() {
    use futures::StreamExt;
    use k8s_openapi::api::core::v1::{Event, Node};
    use kube::runtime::{WatchStreamExt, watcher};

    let fake = FakeApi::start().await;
    fake.simulate_workloads(true);
    namespace_with_configmap(&fake).await;
    let dir = tempfile::tempdir().unwrap();
    let client = kube_client(&fake, dir.path()).await;
    let nodes: kube::Api<Node> = kube::Api::all(client.clone());
    let node_stream = watcher(
        nodes,
        watcher::Config::default().fields("metadata.name=colima"),
    )
    .default_backoff()
    .applied_objects();
    let events: kube::Api<Event> = kube::Api::namespaced(client, "fly-k8s");
    let event_stream = watcher(
        events,
        watcher::Config::default().fields("reason=FailedScheduling"),
    )
    .default_backoff()
    .applied_objects();
    // Watchers only send requests while polled: keep both running in the background.
    let (node_tx, mut node_rx) = tokio::sync::mpsc::unbounded_channel();
    let (event_tx, mut event_rx) = tokio::sync::mpsc::unbounded_channel();
    let node_task = tokio::spawn(node_stream.for_each(move |n| {
        let _ = node_tx.send(n.expect("node watcher item"));
        async {}
    }));
    let event_task = tokio::spawn(event_stream.for_each(move |e| {
        let _ = event_tx.send(e.expect("event watcher item"));
        async {}
    }));
    let first = node_rx.recv().await.unwrap();
    assert_eq!(first.metadata.name.as_deref(), Some("colima"));
    let watching = |f: &FakeApi, path: &str| {
        f.requests()
            .iter()
            .any(|r| r.path == path && r.query.get("watch").is_some_and(|w| w == "true"))
    };
    assert!(
        fake.wait_for(Duration::from_secs(10), |f| watching(f, "/api/v1/nodes")
            && watching(f, "/api/v1/namespaces/fly-k8s/events"))
            .await
    );
    fake.drop_watches();
    let (code, _) = call(
        &fake,
        "PATCH",
        "/api/v1/nodes/colima",
        Some("application/merge-patch+json"),
        Some(json!({"metadata": {"labels": {"lab": "after-drop"}}}).to_string()),
    )
    .await;
    assert_eq!(code, 200);
    loop {
        let n = tokio::time::timeout(Duration::from_secs(10), node_rx.recv())
            .await
            .expect("node watcher keeps delivering")
            .unwrap();
        if n.metadata
            .labels
            .as_ref()
            .is_some_and(|l| l.get("lab").map(String::as_str) == Some("after-drop"))
        {
            break;
        }
    }
    apply_json(
        &fake,
        "/api/v1/namespaces/fly-k8s/pods/stuck",
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stuck", "namespace": "fly-k8s"},
            "spec": {"nodeSelector": {"disktype": "ssd"}, "containers": [{"name": "c", "image": "busybox"}]}}),
    )
    .await;
    let ev = tokio::time::timeout(Duration::from_secs(10), event_rx.recv())
        .await
        .expect("event watcher delivers")
        .unwrap();
    assert_eq!(ev.reason.as_deref(), Some("FailedScheduling"));
    assert_eq!(ev.involved_object.name.as_deref(), Some("stuck"));
    let node_watches = fake
        .requests()
        .into_iter()
        .filter(|r| r.path == "/api/v1/nodes" && r.query.get("watch").is_some_and(|w| w == "true"))
        .collect::<Vec<_>>();
    assert!(node_watches.len() >= 2, "{node_watches:?}");
    assert_eq!(node_watches[0].query["allowWatchBookmarks"], "true");
    assert_eq!(
        node_watches[0].query["fieldSelector"],
        "metadata.name=colima"
    );
    node_task.abort();
    event_task.abort();
}

/// Sends recorded exchange `number` with `token`; returns the answer and the recording.
async fn replay_as(fake: &FakeApi, number: &str, token: &str) -> (u16, Value, Value) {
    let ex = super::discovery::recorded(number);
    let req = &ex["request"];
    let mut query: Vec<String> = req["query"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    query.sort();
    let url = format!(
        "{}{}{}{}",
        fake.url(),
        req["path"].as_str().unwrap_or(""),
        if query.is_empty() { "" } else { "?" },
        query.join("&")
    );
    let method = reqwest::Method::from_bytes(req["method"].as_str().unwrap_or("GET").as_bytes())
        .expect("method");
    let mut builder = reqwest::Client::new()
        .request(method, url)
        .bearer_auth(token)
        .header("User-Agent", "python-requests/2.31");
    if let Some(ct) = req["headers"]["Content-Type"].as_str() {
        builder = builder.header("Content-Type", ct);
    }
    builder = match &req["body"] {
        Value::Null => builder,
        Value::String(s) => builder.body(s.clone()),
        other => builder.body(other.to_string()),
    };
    let resp = builder.send().await.expect("request to the fake");
    let code = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (
        code,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        ex["response"].clone(),
    )
}

#[tokio::test]
async fn learner_isolation_exchanges_match_the_recordings_when_sent_as_the_learner() {
    let fake = FakeApi::start().await;
    for number in ["092", "093", "094", "095", "096", "097"] {
        let (code, body, want) = replay_as(&fake, number, fake.token()).await;
        assert_eq!(
            u64::from(code),
            want["status"].as_u64().unwrap_or(0),
            "{number}: {body}"
        );
    }
    let (code, quota, want) = replay_as(&fake, "098", fake.token()).await;
    assert_eq!(code, 200);
    assert_eq!(quota["status"], want["body"]["status"], "098 quota status");
    let (code, token_request, want) = replay_as(&fake, "099", fake.token()).await;
    assert_eq!(code, 201);
    assert_eq!(token_request["spec"], want["body"]["spec"]);
    let token = token_request["status"]["token"]
        .as_str()
        .expect("a token")
        .to_string();
    assert_eq!(token.split('.').count(), 3, "JWT-shaped: {token}");
    for number in ["100", "101", "102"] {
        let (code, review, want) = replay_as(&fake, number, &token).await;
        assert_eq!(code, 201, "{number}");
        assert_eq!(review["status"], want["body"]["status"], "{number}");
    }
    let (code, rules, want) = replay_as(&fake, "103", &token).await;
    assert_eq!(code, 201);
    assert_eq!(rules["status"], want["body"]["status"], "103 rules");

    let (code, web1, want) = replay_as(&fake, "104", &token).await;
    assert_eq!(code, 201, "{web1}");
    let container = |p: &Value| p["spec"]["containers"][0]["resources"].clone();
    assert_eq!(container(&web1), container(&want["body"]));
    assert_eq!(
        web1["metadata"]["annotations"],
        want["body"]["metadata"]["annotations"]
    );
    assert_eq!(web1["status"]["qosClass"], "Burstable");
    let (code, refused, want) = replay_as(&fake, "105", &token).await;
    assert_eq!(code, 403);
    assert_eq!(refused, want["body"], "105");

    let web2 = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web-2", "namespace": "learner-alice", "labels": {"app": "web"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.14.2"}]}});
    let (code, _) = call(
        &fake,
        "POST",
        "/api/v1/namespaces/learner-alice/pods",
        Some("application/json"),
        Some(web2.to_string()),
    )
    .await;
    assert_eq!(code, 201);
    let (code, refused, want) = replay_as(&fake, "106", &token).await;
    assert_eq!(code, 403);
    assert_eq!(refused, want["body"], "106");
    let (code, quota, want) = replay_as(&fake, "107", fake.token()).await;
    assert_eq!(code, 200);
    assert_eq!(quota["status"], want["body"]["status"], "107 quota status");

    // 054/055: a ServiceAccount without bindings is refused with the recorded messages.
    fake.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fly-k8s"}}))
        .expect("namespace");
    fake.put(json!({"apiVersion": "v1", "kind": "ServiceAccount",
        "metadata": {"name": "nobody", "namespace": "fly-k8s"}}))
        .expect("service account");
    let (code, issued) = call(
        &fake,
        "POST",
        "/api/v1/namespaces/fly-k8s/serviceaccounts/nobody/token",
        Some("application/json"),
        Some(json!({"spec": {"expirationSeconds": 3600}}).to_string()),
    )
    .await;
    assert_eq!(code, 201);
    let nobody = issued["status"]["token"]
        .as_str()
        .expect("token")
        .to_string();
    for number in ["054", "055"] {
        let (code, refused, want) = replay_as(&fake, number, &nobody).await;
        assert_eq!(code, 403, "{number}");
        assert_eq!(refused, want["body"], "{number}");
    }
}
