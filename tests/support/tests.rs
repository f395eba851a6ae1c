//! Focused tests of the fake API server over real HTTP (reqwest and kube-rs).

use std::time::Duration;

use serde_json::{Value, json};

use super::FakeApi;

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
