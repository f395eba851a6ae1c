//! Opt-in: every lab's set-up and the checks that need no learner action, against a real cluster.
//!
//! Skipped unless `KUBELAB_REAL_CLUSTER=1`. Uses `$KUBECONFIG` (or `~/.kube/config`) and its
//! current context, or `KUBELAB_CONTEXT`. It creates and then deletes the labs' objects
//! (namespace `fly-k8s`, Deployment `nginx-deployment` in `default`), so point it at a learning
//! cluster such as colima's k3s:
//!
//! ```sh
//! colima start --kubernetes
//! KUBELAB_REAL_CLUSTER=1 cargo test --test integration real_cluster -- --nocapture
//! ```

use std::time::Duration;

use kubelab::cluster::ClusterOptions;
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

async fn real_cluster() -> Option<TestApp> {
    if std::env::var("KUBELAB_REAL_CLUSTER").ok().as_deref() != Some("1") {
        eprintln!("skipped: set KUBELAB_REAL_CLUSTER=1 to run the labs against your cluster");
        return None;
    }
    let app = spawn_app_with_cluster(ClusterOptions {
        kubeconfig: std::env::var_os("KUBECONFIG").map(Into::into),
        context: std::env::var("KUBELAB_CONTEXT").ok(),
    })
    .await;
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
