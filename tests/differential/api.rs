//! Scenarios on the API machinery: discovery, server-side apply (create, update, no-op,
//! conflict, errors, list merge by key), list and watch with selectors, namespace deletion.

use std::time::Duration;

use serde_json::{Value, json};

use super::record::{Record, without_controllers};
use super::side::Side;

const AGGREGATED: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

/// Discovery documents.
pub async fn discovery(side: &Side, r: &mut Record) {
    for (step, path) in [
        ("discovery/version", "/version"),
        ("discovery/api", "/api"),
        ("discovery/apis", "/apis"),
        ("discovery/core-v1", "/api/v1"),
        ("discovery/apps-v1", "/apis/apps/v1"),
        ("discovery/networking-v1", "/apis/networking.k8s.io/v1"),
        (
            "discovery/admissionregistration",
            "/apis/admissionregistration.k8s.io",
        ),
        (
            "discovery/admissionregistration-v1beta1-404",
            "/apis/admissionregistration.k8s.io/v1beta1",
        ),
    ] {
        r.answer(step, &side.get(path).await);
    }
    for (step, path) in [
        ("discovery/api-aggregated", "/api"),
        ("discovery/apis-aggregated", "/apis"),
    ] {
        let a = side.call_accept("GET", path, AGGREGATED).await;
        r.answer(step, &a);
    }
}

fn configmap(ns: &str, value: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "base-map", "namespace": ns, "labels": {"app": "diff"}},
        "data": {"fly-name": value, "other": "kept"}})
}

fn rv(v: &Value) -> Value {
    v["metadata"]["resourceVersion"].clone()
}

/// Server-side apply of a ConfigMap: create, no-op, change, conflicts, option errors.
pub async fn apply_configmap(side: &Side, r: &mut Record) {
    let ns = &side.ns;
    let path = format!("/api/v1/namespaces/{ns}/configmaps/base-map");
    let kubelab = "fieldManager=kubelab&force=true";
    let created = side.apply(&path, kubelab, &configmap(ns, "one")).await;
    r.answer("apply/configmap-create", &created);
    let again = side.apply(&path, kubelab, &configmap(ns, "one")).await;
    r.answer("apply/configmap-identical", &again);
    r.fact(
        "apply/configmap-identical-keeps-rv",
        json!(rv(&again.body) == rv(&created.body)),
    );
    let changed = side.apply(&path, kubelab, &configmap(ns, "two")).await;
    r.answer("apply/configmap-change", &changed);
    r.fact(
        "apply/configmap-change-new-rv",
        json!(rv(&changed.body) != rv(&again.body)),
    );
    let other = side
        .apply(&path, "fieldManager=other-tool", &configmap(ns, "three"))
        .await;
    r.answer("apply/configmap-conflict", &other);
    let forced = side
        .apply(
            &path,
            "fieldManager=other-tool&force=true",
            &configmap(ns, "three"),
        )
        .await;
    r.answer("apply/configmap-conflict-forced", &forced);
    let reclaim = side.apply(&path, kubelab, &configmap(ns, "two")).await;
    r.answer("apply/configmap-reclaim", &reclaim);
    let missing = side.apply(&path, "force=true", &configmap(ns, "two")).await;
    r.answer("apply/configmap-no-field-manager", &missing);
    let mismatch = side
        .apply(
            &format!("/api/v1/namespaces/{ns}/configmaps/other-map"),
            kubelab,
            &configmap(ns, "two"),
        )
        .await;
    r.answer("apply/configmap-name-mismatch", &mismatch);
}

fn busybox_pod(ns: &str, name: &str, command: &[&str]) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {"nodeSelector": {"kubernetes.io/hostname": "real-node"},
            "terminationGracePeriodSeconds": 3,
            "containers": [{"name": "c", "image": "busybox:1.36",
                "imagePullPolicy": "IfNotPresent", "command": command}]}})
}

/// Server-side apply of a Pod, then a change to an immutable field.
pub async fn apply_pod(side: &Side, r: &mut Record) {
    let ns = &side.ns;
    let path = format!("/api/v1/namespaces/{ns}/pods/applied");
    let pod = busybox_pod(ns, "applied", &["sleep", "3600"]);
    let created = side
        .apply(&path, "fieldManager=kubelab&force=true", &pod)
        .await;
    // Only what the apply itself wrote: the scheduler and kubelet race with the answer.
    r.answer_view("apply/pod-create", &created, |b| {
        let mut b = b.clone();
        if let Some(mf) = b["metadata"]["managedFields"].as_array_mut() {
            mf.retain(|e| e["manager"] == "kubelab");
        }
        b["spec"].as_object_mut().map(|s| s.remove("nodeName"));
        b["status"] = json!({"qosClass": b["status"]["qosClass"]});
        b
    });
    let changed = busybox_pod(ns, "applied", &["sleep", "7200"]);
    let refused = side
        .apply(&path, "fieldManager=kubelab&force=true", &changed)
        .await;
    r.answer("apply/pod-immutable", &refused);
    // A learner's own Pod of the same name: applying the lab's would merge a second container
    // into it, which a Pod cannot take.
    let mine = busybox_pod(ns, "mine", &["sleep", "3600"]);
    let created = side
        .post(&format!("/api/v1/namespaces/{ns}/pods"), &mine)
        .await;
    r.answer_view("apply/pod-learners-own", &created, |b| {
        json!({"containers": b["spec"]["containers"], "managedFields": b["metadata"]["managedFields"]})
    });
    let mut lab = busybox_pod(ns, "mine", &["sleep", "3600"]);
    lab["spec"]["containers"][0]["name"] = json!("lab");
    let refused = side
        .apply(
            &format!("/api/v1/namespaces/{ns}/pods/mine"),
            "fieldManager=kubelab&force=true",
            &lab,
        )
        .await;
    r.answer("apply/pod-over-learners-pod", &refused);
}

/// A Deployment created like `kubectl create deployment` (POST, another manager), then
/// applied by kubelab with a different container: the server keeps both containers.
pub async fn apply_merges_lists_by_key(side: &Side, r: &mut Record) {
    let ns = &side.ns;
    let created = side
        .post(
            &format!("/apis/apps/v1/namespaces/{ns}/deployments?fieldManager=kubectl-create"),
            &json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "namespace": ns, "labels": {"app": "web"}},
                "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                    "template": {"metadata": {"labels": {"app": "web"}},
                        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25",
                            "ports": [{"containerPort": 80}]}],
                            "tolerations": [{"key": "a", "operator": "Exists"}]}}}}),
        )
        .await;
    r.answer_view("apply/deployment-post", &created, without_controllers);
    let applied = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": ns},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "busybox:1.36",
                    "env": [{"name": "MODE", "value": "lab"}],
                    "ports": [{"containerPort": 8080, "name": "http"}],
                    "volumeMounts": [{"name": "data", "mountPath": "/data"}]}],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                    "imagePullSecrets": [{"name": "regcred"}]}}}});
    let path = format!("/apis/apps/v1/namespaces/{ns}/deployments/web");
    let merged = side.apply(&path, "fieldManager=kubelab", &applied).await;
    r.answer_view("apply/deployment-merge", &merged, without_controllers);
    let mut tolerations = applied.clone();
    tolerations["spec"]["template"]["spec"]["tolerations"] =
        json!([{"key": "b", "operator": "Exists"}]);
    let conflict = side
        .apply(&path, "fieldManager=kubelab", &tolerations)
        .await;
    r.answer("apply/deployment-atomic-list-conflict", &conflict);
    let invalid = side
        .apply(
            &format!("/apis/apps/v1/namespaces/{ns}/deployments/bad-deployment"),
            "fieldManager=kubelab&force=true",
            &json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "bad-deployment", "namespace": ns},
                "spec": {"replicas": -1, "selector": {"matchLabels": {"app": "a"}},
                    "template": {"metadata": {"labels": {"app": "b"}},
                        "spec": {"containers": [{"name": "Bad_Name", "image": "nginx:1.25"}]}}}}),
        )
        .await;
    r.answer("apply/deployment-invalid", &invalid);
}

fn labelled(ns: &str, name: &str, tier: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": "listed", "tier": tier}},
        "data": {"k": "v"}})
}

/// Lists with label and field selectors, pagination, and a watch from a list's
/// resourceVersion with a label selector while objects are created, relabelled and deleted.
pub async fn list_and_watch(side: &Side, r: &mut Record) {
    let ns = &side.ns;
    let base = format!("/api/v1/namespaces/{ns}/configmaps");
    for (name, tier) in [("list-a", "front"), ("list-b", "front"), ("list-c", "back")] {
        let a = side.post(&base, &labelled(ns, name, tier)).await;
        r.answer(&format!("list/create-{name}"), &a);
    }
    for (step, query) in [
        ("list/label-selector", "labelSelector=app%3Dlisted"),
        (
            "list/label-selector-set",
            "labelSelector=app%3Dlisted,tier%20in%20(back)",
        ),
        (
            "list/field-selector",
            "fieldSelector=metadata.name%3Dlist-b",
        ),
        (
            "list/field-selector-unsupported",
            "fieldSelector=data.k%3Dv",
        ),
        ("list/limit", "labelSelector=app%3Dlisted&limit=2"),
        (
            "list/rv-match-without-rv",
            "resourceVersionMatch=NotOlderThan",
        ),
    ] {
        r.answer(step, &side.get(&format!("{base}?{query}")).await);
    }
    r.answer(
        "list/missing-namespace",
        &side
            .get(&format!("/api/v1/namespaces/{ns}-missing/configmaps"))
            .await,
    );
    let listed = side
        .get(&format!("{base}?labelSelector=tier%3Dfront"))
        .await;
    let from = listed.body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .to_string();
    let watch = format!(
        "{base}?watch=1&labelSelector=tier%3Dfront&resourceVersion={from}&timeoutSeconds=3"
    );
    let during = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        side.post(&base, &labelled(ns, "list-d", "front")).await;
        side.merge_patch(
            &format!("{base}/list-a"),
            &json!({"metadata": {"labels": {"tier": "back"}}}),
        )
        .await;
        side.merge_patch(
            &format!("{base}/list-b"),
            &json!({"data": {"k": "changed"}}),
        )
        .await;
        side.delete(&format!("{base}/list-b")).await;
    };
    let (status, events) = side.watch(&watch, during).await;
    r.fact(
        "watch/label-selector",
        json!({"status": status, "events": events}),
    );
}

/// Deleting a namespace: 200 Terminating, creates refused with 403, then gone.
pub async fn namespace_deletion(side: &Side, r: &mut Record) {
    let gone = format!("{}-gone", side.ns);
    let created = side
        .post(
            "/api/v1/namespaces",
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": gone}}),
        )
        .await;
    r.answer("namespace/create", &created);
    side.post(
        &format!("/api/v1/namespaces/{gone}/configmaps"),
        &json!({"metadata": {"name": "settings"}, "data": {"a": "b"}}),
    )
    .await;
    let deleted = side.delete(&format!("/api/v1/namespaces/{gone}")).await;
    r.answer("namespace/delete", &deleted);
    let refused = side
        .post(
            &format!("/api/v1/namespaces/{gone}/configmaps"),
            &json!({"metadata": {"name": "late"}, "data": {"a": "b"}}),
        )
        .await;
    r.answer("namespace/create-in-terminating", &refused);
    let end = side
        .wait_until(
            &format!("/api/v1/namespaces/{gone}"),
            Duration::from_secs(90),
            |a| a.status == 404,
        )
        .await;
    r.answer("namespace/gone", &end);
}
