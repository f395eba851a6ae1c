//! Opt-in: every lab's set-up and the checks that need no learner action, and a workshop
//! learner's namespace and RBAC, against a real cluster.
//!
//! Skipped unless `KUBELAB_REAL_CLUSTER=1`. Uses `$KUBECONFIG` (or `~/.kube/config`) and its
//! current context, or `KUBELAB_CONTEXT`. It creates and then deletes the labs' objects
//! (namespace `fly-k8s`, Deployment `nginx-deployment` in `default`) and one learner namespace
//! `kl-<code>-<random>`, so point it at a learning cluster such as colima's k3s:
//!
//! ```sh
//! colima start --kubernetes
//! KUBELAB_REAL_CLUSTER=1 cargo test --test integration real_cluster -- --nocapture
//! ```

use std::time::Duration;

use kubelab::cluster::{Cluster, ClusterOptions, ObjectKey};
use kubelab::engine::WorkshopRequest;
use serde_json::Value;

use crate::app::{TestApp, spawn_app_with_cluster};

/// Steps whose checks pass once set-up is done and the cluster has caught up.
const UNATTENDED: &[(&str, &[&str])] = &[
    ("kubectl", &["rollout-status", "explore"]),
    (
        "configmap",
        &["create-configmap", "pod", "look-inside", "beyond-the-notes"],
    ),
];

/// The cluster the suite runs against (`$KUBECONFIG`, `KUBELAB_CONTEXT`).
fn real_options() -> ClusterOptions {
    ClusterOptions {
        kubeconfig: std::env::var_os("KUBECONFIG").map(Into::into),
        context: std::env::var("KUBELAB_CONTEXT").ok(),
    }
}

async fn real_cluster() -> Option<TestApp> {
    if std::env::var("KUBELAB_REAL_CLUSTER").ok().as_deref() != Some("1") {
        eprintln!("skipped: set KUBELAB_REAL_CLUSTER=1 to run the labs against your cluster");
        return None;
    }
    let app = spawn_app_with_cluster(real_options()).await;
    let health = app.engine().refresh_health().await;
    assert!(
        health.is_reachable(),
        "the cluster is not reachable: {health:?}"
    );
    Some(app)
}

async fn wait_until_passed(app: &TestApp, lab: &str, step: &str) {
    let path = format!("/api/labs/{lab}/steps/{step}/check");
    let mut last = Value::Null;
    // Image pulls on a fresh cluster take a while.
    for _ in 0..180 {
        let (status, report) = app.post_json(&path).await;
        assert_eq!(status, 200, "{path}: {report}");
        if report["status"] == "passed" {
            return;
        }
        last = report;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    panic!("{lab}/{step} did not pass within 3 minutes: {last:#}");
}

#[tokio::test]
async fn real_cluster_labs_set_up_and_pass() {
    let Some(app) = real_cluster().await else {
        return;
    };
    for (lab, steps) in UNATTENDED {
        let (status, report) = app.post_json(&format!("/api/labs/{lab}/reset")).await;
        assert_eq!(status, 200, "reset {lab}: {report}");
        // A namespace deleted by reset must be gone before set-up can recreate it.
        tokio::time::sleep(Duration::from_secs(5)).await;
        let lab_model = app.engine().catalog().lab(lab).expect("lab").clone();
        for step in &lab_model.steps {
            if step.manifests.is_empty() {
                continue;
            }
            let (status, report) = app
                .post_json(&format!("/api/labs/{lab}/steps/{}/setup", step.id))
                .await;
            assert_eq!(status, 200, "set up {lab}/{}: {report}", step.id);
            assert!(report.get("error").is_none_or(Value::is_null), "{report}");
        }
        for step in *steps {
            wait_until_passed(&app, lab, step).await;
        }
        let (status, report) = app.post_json(&format!("/api/labs/{lab}/reset")).await;
        assert_eq!(status, 200, "reset {lab}: {report}");
    }
    app.stop().await;
}

/// What a workshop learner may do: (namespace — `None` for the learner's own, `Some` for
/// another, `"*"` for cluster-wide —, verb, API group, resource, allowed?).
const LEARNER_ACCESS: &[(Option<&str>, &str, &str, &str, bool)] = &[
    (None, "list", "", "pods", true),
    (None, "create", "", "pods", true),
    (None, "create", "", "configmaps", true),
    (None, "create", "", "pods/exec", true),
    (Some("default"), "list", "", "pods", false),
    (Some("kube-system"), "list", "", "pods", false),
    (Some("*"), "list", "", "nodes", false),
    (Some("*"), "create", "", "namespaces", false),
    (None, "create", "rbac.authorization.k8s.io", "roles", false),
];

/// Where each [`LEARNER_ACCESS`] row disagrees with the cluster, as the learner sees it.
async fn learner_access_mismatches(learner: &Cluster, own: &str) -> Vec<String> {
    let mut mismatches = Vec::new();
    for &(namespace, verb, group, resource, expected) in LEARNER_ACCESS {
        let namespace = match namespace {
            None => Some(own),
            Some("*") => None,
            Some(other) => Some(other),
        };
        let place = namespace.unwrap_or("the whole cluster");
        match learner.can_i(namespace, verb, group, resource).await {
            Ok(allowed) if allowed == expected => {}
            Ok(allowed) => mismatches.push(format!(
                "{verb} {resource} ({group:?}) in {place}: allowed={allowed}, expected {expected}"
            )),
            Err(e) => mismatches.push(format!("can-i {verb} {resource} in {place}: {e}")),
        }
    }
    // Beyond the access reviews, one real request each way: Pods at home yes, in `default` no.
    if let Err(e) = learner.list("v1", "Pod", Some(own), None).await {
        mismatches.push(format!("listing Pods in {own} failed: {e}"));
    }
    match learner.list("v1", "Pod", Some("default"), None).await {
        Err(e) if e.code() == Some(403) => {}
        other => mismatches.push(format!(
            "listing Pods in default should be forbidden (403), got {other:?}"
        )),
    }
    mismatches
}

#[tokio::test]
async fn real_cluster_learner_namespace_is_confined() {
    let Some(app) = real_cluster().await else {
        return;
    };
    let engine = app.engine();
    let workshop = engine
        .create_workshop(WorkshopRequest {
            name: "kubelab real-cluster test".into(),
            labs: vec!["configmap".into()],
            capacity: 1,
            duration: Duration::from_secs(3600),
        })
        .await
        .expect("workshop created");
    // Joining provisions the namespace, ServiceAccount, Role/RoleBinding, quota and limits.
    let joined = engine
        .join(&workshop.code, "real-cluster test")
        .await
        .expect("joining provisions a learner namespace");
    let namespace = joined.learner.namespace.clone();
    eprintln!("provisioned learner namespace {namespace}");

    // Everything is checked before anything is asserted, so the namespace is always deleted.
    let mut mismatches = Vec::new();
    match engine
        .learner_kubeconfig(&joined.workshop, &joined.learner)
        .await
    {
        Ok(yaml) => match Cluster::from_kubeconfig_text(&yaml).await {
            Ok(learner) => mismatches.extend(learner_access_mismatches(&learner, &namespace).await),
            Err(e) => mismatches.push(format!("the learner kubeconfig is unusable: {e}")),
        },
        Err(e) => mismatches.push(format!("no learner kubeconfig: {e}")),
    }

    let deleted = engine.end_workshop(&workshop.id).await;
    let admin = Cluster::connect(&real_options()).await;
    let left = admin
        .get(&ObjectKey {
            api_version: "v1".into(),
            kind: "Namespace".into(),
            namespace: None,
            name: namespace.clone(),
        })
        .await
        .expect("reading the namespace back");
    app.stop().await;

    assert!(
        mismatches.is_empty(),
        "the learner's access in {namespace} is not as designed:\n{}",
        mismatches.join("\n")
    );
    assert_eq!(
        deleted.expect("ending the workshop"),
        1,
        "namespaces deleted"
    );
    // Deletion is asynchronous: the namespace is gone or terminating.
    assert!(
        left.as_ref()
            .is_none_or(|ns| ns["metadata"]["deletionTimestamp"].is_string()),
        "{namespace} is still there: {left:?}"
    );
}
