//! Across steps and restarts: progress is remembered, reset cleans up only what is the lab's,
//! an unreachable cluster is explained, and `kubelab check` scripts the same checks.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Env, env};
use crate::app::spawn_app;

fn completed(env: &Env) {
    let generation = env
        .fake
        .get("apps/v1", "Deployment", Some("default"), "nginx-deployment")
        .expect("deployment")["metadata"]["generation"]
        .clone();
    env.fake
        .patch_status(
            "apps/v1",
            "Deployment",
            Some("default"),
            "nginx-deployment",
            json!({"observedGeneration": generation, "replicas": 3, "updatedReplicas": 3,
                   "readyReplicas": 3, "availableReplicas": 3,
                   "conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}),
        )
        .expect("status");
}

async fn step_done(env: &Env, lab: &str, step: &str) -> bool {
    env.app
        .engine()
        .lab_progress(lab)
        .await
        .expect("progress")
        .step(step)
        .is_some_and(|s| s.state.is_done())
}

#[tokio::test]
async fn a_passed_step_stays_done_across_restarts_and_later_failures() {
    let mut env = env().await;
    env.setup("kubectl", "rollout-status").await;
    completed(&env);
    env.check("kubectl", "rollout-status")
        .await
        .assert_all_passed();

    env.app.restart().await;
    assert!(step_done(&env, "kubectl", "rollout-status").await);
    let (status, lab) = env.app.get_json("/api/labs/kubectl").await;
    assert_eq!(status, 200);
    assert!(lab.to_string().contains("rollout-status"), "{lab}");

    // The learner deletes the Deployment: the check fails now, but the step was done.
    env.fake
        .delete("apps/v1", "Deployment", Some("default"), "nginx-deployment")
        .expect("delete");
    let report = env.check("kubectl", "rollout-status").await;
    assert_eq!(report.status(), "failed");
    assert_eq!(report.0["done"], true);
}

#[tokio::test]
async fn reset_removes_the_labs_objects_and_progress() {
    let env = env().await;
    env.fake
        .set_namespace_deletion_delay(Duration::from_millis(50));
    env.setup("configmap", "create-configmap").await;
    env.setup("configmap", "pod").await;
    env.check("configmap", "create-configmap")
        .await
        .assert_all_passed();
    assert!(step_done(&env, "configmap", "create-configmap").await);

    let (status, report) = env.app.post_json("/api/labs/configmap/reset").await;
    assert_eq!(status, 200, "{report}");
    let deleted: Vec<String> = report["deleted"]
        .as_array()
        .expect("deleted")
        .iter()
        .map(|d| {
            format!(
                "{}/{}",
                d["kind"].as_str().unwrap_or(""),
                d["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    for expected in ["Pod/busybox", "ConfigMap/base-map", "Namespace/fly-k8s"] {
        assert!(
            deleted.contains(&expected.to_owned()),
            "{expected} in {deleted:?}"
        );
    }
    assert!(
        env.fake
            .wait_for(Duration::from_secs(5), |f| f
                .get("v1", "Namespace", None, "fly-k8s")
                .is_none())
            .await,
        "the namespace kubelab created is gone"
    );
    assert!(!step_done(&env, "configmap", "create-configmap").await);
    assert!(
        !env.app
            .engine()
            .lab_progress("configmap")
            .await
            .expect("progress")
            .started()
    );
}

#[tokio::test]
async fn reset_keeps_a_namespace_kubelab_did_not_create() {
    let env = env().await;
    // The learner made fly-k8s and base-map themselves, with kubectl.
    env.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fly-k8s"}}));
    env.put(json!({"apiVersion": "v1", "kind": "ConfigMap",
                   "metadata": {"name": "base-map", "namespace": "fly-k8s"}, "data": {"fly-name": "x"}}));
    let (status, report) = env.app.post_json("/api/labs/configmap/reset").await;
    assert_eq!(status, 200, "{report}");
    assert!(
        env.fake.get("v1", "Namespace", None, "fly-k8s").is_some(),
        "namespace kept"
    );
    assert!(
        env.fake
            .get("v1", "ConfigMap", Some("fly-k8s"), "base-map")
            .is_none(),
        "named object removed"
    );
    let kept = report["kept"].to_string();
    assert!(kept.contains("fly-k8s"), "{report}");
}

#[tokio::test]
async fn reset_of_the_kubectl_lab_leaves_the_default_namespace_alone() {
    let env = env().await;
    env.setup("kubectl", "rollout-status").await;
    let (status, report) = env.app.post_json("/api/labs/kubectl/reset").await;
    assert_eq!(status, 200, "{report}");
    assert!(
        env.fake
            .get("apps/v1", "Deployment", Some("default"), "nginx-deployment")
            .is_none()
    );
    assert!(env.fake.get("v1", "Namespace", None, "default").is_some());
    assert!(
        !env.fake
            .requests()
            .iter()
            .any(|r| r.method == "DELETE" && r.path.ends_with("/namespaces/default"))
    );
}

#[tokio::test]
async fn without_a_cluster_set_up_and_check_explain_instead_of_failing() {
    let app = spawn_app().await;
    for path in [
        "/api/labs/kubectl/steps/rollout-status/setup",
        "/api/labs/kubectl/steps/rollout-status/check",
    ] {
        let (status, body) = app.post_json(path).await;
        assert_eq!(status, 503, "{path}: {body}");
        let text = body.to_string();
        assert!(text.contains("kubeconfig"), "{path}: {text}");
    }
    // The readiness probe reports the cluster without failing on it.
    let (status, ready) = app.get_json("/readyz").await;
    assert_eq!(status, 200, "{ready}");
    assert!(
        ready.to_string().contains("unreachable") || ready.to_string().contains("unknown"),
        "{ready}"
    );
}

#[tokio::test]
async fn a_cluster_that_goes_away_and_comes_back() {
    let env = env().await;
    env.setup("kubectl", "rollout-status").await;
    env.fake.stop().await;
    let (status, body) = env
        .app
        .post_json("/api/labs/kubectl/steps/rollout-status/check")
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(matches!(
        env.app.engine().health(),
        kubelab::engine::Health::Unreachable { .. }
    ));
    env.fake.restart().await;
    let report = env.check("kubectl", "rollout-status").await;
    assert_ne!(report.status(), "error", "{}", report.0);
}

fn kubelab(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .args(args)
        .env("RUST_LOG", "error")
        .output()
        .expect("kubelab runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn kubelab_check_exits_zero_only_when_everything_passes() {
    let env = env().await;
    let dir = tempfile::tempdir().expect("dir");
    let kubeconfig = env.fake.write_kubeconfig(dir.path());
    let kubeconfig = kubeconfig.to_str().expect("utf-8 path").to_owned();
    env.setup("kubectl", "rollout-status").await;

    let kc = kubeconfig.clone();
    let (code, stdout, _) = tokio::task::spawn_blocking(move || {
        kubelab(&[
            "check",
            "kubectl",
            "--step",
            "rollout-status",
            "--kubeconfig",
            &kc,
        ])
    })
    .await
    .expect("join");
    assert_ne!(code, 0);
    assert!(stdout.contains("rollout-complete"), "{stdout}");

    completed(&env);
    let kc = kubeconfig.clone();
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || {
        kubelab(&[
            "check",
            "kubectl",
            "--step",
            "rollout-status",
            "--json",
            "--kubeconfig",
            &kc,
        ])
    })
    .await
    .expect("join");
    assert_eq!(code, 0, "{stdout}{stderr}");
    let json: Value = serde_json::from_str(&stdout).expect("--json prints JSON");
    assert_eq!(json["passed"], true);

    let kc = kubeconfig.clone();
    let (code, _, stderr) = tokio::task::spawn_blocking(move || {
        kubelab(&["check", "no-such-lab", "--kubeconfig", &kc])
    })
    .await
    .expect("join");
    assert_ne!(code, 0);
    assert!(stderr.contains("no-such-lab"), "{stderr}");
}
