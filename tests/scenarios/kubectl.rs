//! The `kubectl` lab: wait for nginx-deployment's rollout, look at its Pods, restart it.

use serde_json::{Value, json};

use super::{Env, env, running_ready};

const LAB: &str = "kubectl";

fn deployment(env: &Env) -> Value {
    env.fake
        .get("apps/v1", "Deployment", Some("default"), "nginx-deployment")
        .expect("nginx-deployment exists")
}

/// Writes the status the deployment controller reports once every replica is updated and ready.
fn roll_out(env: &Env) {
    let generation = deployment(env)["metadata"]["generation"].clone();
    env.fake
        .patch_status(
            "apps/v1",
            "Deployment",
            Some("default"),
            "nginx-deployment",
            json!({
                "observedGeneration": generation,
                "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3, "availableReplicas": 3,
                "conditions": [
                    {"type": "Available", "status": "True", "reason": "MinimumReplicasAvailable"},
                    {"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}
                ]
            }),
        )
        .expect("status written");
}

fn nginx_pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "nginx"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}
    })
}

#[tokio::test]
async fn set_up_applies_exactly_the_deployment_in_default() {
    let env = env().await;
    let report = env.setup(LAB, "rollout-status").await;
    let applied = report["applied"].as_array().expect("applied list");
    assert_eq!(applied.len(), 1, "{report}");
    assert_eq!(applied[0]["kind"], "Deployment");
    assert_eq!(applied[0]["name"], "nginx-deployment");
    assert_eq!(applied[0]["namespace"], "default");
    assert_eq!(applied[0]["action"], "created");

    let d = deployment(&env);
    assert_eq!(d["metadata"]["labels"]["kubelab.io/lab"], LAB);
    assert_eq!(
        d["metadata"]["labels"]["app.kubernetes.io/managed-by"],
        "kubelab"
    );
    assert_eq!(d["spec"]["replicas"], 3);
    let managers: Vec<&str> = d["metadata"]["managedFields"]
        .as_array()
        .expect("managedFields")
        .iter()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    assert_eq!(
        managers,
        ["kubelab"],
        "applied with field manager kubelab only"
    );

    // Set up again: server-side apply of the same manifest changes nothing.
    let again = env.setup(LAB, "rollout-status").await;
    assert_eq!(again["applied"][0]["action"], "unchanged", "{again}");
}

#[tokio::test]
async fn rollout_status_waits_then_passes_when_every_replica_is_ready() {
    let env = env().await;
    // Nothing there yet: the learner is told the Deployment does not exist.
    let report = env.check(LAB, "rollout-status").await;
    assert_eq!(report.status(), "failed");
    let diags = report.diagnostics("rollout-complete");
    assert!(
        diags
            .iter()
            .any(|(_, e, a)| e.contains("nginx-deployment") && a == "not found"),
        "{diags:?}"
    );

    env.setup(LAB, "rollout-status").await;
    // Created, controllers have not caught up: not a failure, a rollout in progress.
    let report = env.check(LAB, "rollout-status").await;
    assert_eq!(
        report.verdict("rollout-complete"),
        "pending",
        "{}",
        report.0
    );
    assert_eq!(report.status(), "pending");
    assert!(
        report.check("rollout-complete")["pending_reason"]["en"]
            .as_str()
            .is_some_and(|r| r.contains("rollout")),
        "{}",
        report.0
    );

    // A rollout that gave up is a failure, not "still waiting".
    env.fake
        .patch_status(
            "apps/v1",
            "Deployment",
            Some("default"),
            "nginx-deployment",
            json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 1,
                   "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}]}),
        )
        .expect("status");
    let report = env.check(LAB, "rollout-status").await;
    assert_eq!(report.verdict("progressing-done"), "failed", "{}", report.0);
    let diags = report.diagnostics("progressing-done");
    assert!(
        diags
            .iter()
            .any(|(p, _, _)| p.starts_with("status.conditions")),
        "per-field diagnostics name the condition: {diags:?}"
    );

    roll_out(&env);
    let report = env.check(LAB, "rollout-status").await;
    report.assert_all_passed();
    assert_eq!(report.0["done"], true);
}

#[tokio::test]
async fn explore_needs_three_ready_nginx_pods() {
    let env = env().await;
    env.put(running_ready(nginx_pod("nginx-a")));
    env.put(running_ready(nginx_pod("nginx-b")));
    let report = env.check(LAB, "explore").await;
    assert_eq!(report.verdict("three-pods-ready"), "failed", "{}", report.0);
    let diags = report.diagnostics("three-pods-ready");
    assert!(
        diags
            .iter()
            .any(|(_, e, a)| e.contains(">= 3") && a.starts_with('2')),
        "{diags:?}"
    );

    // A third one still starting: pending, not failed.
    env.put(nginx_pod("nginx-c"));
    env.fake
        .patch_status(
            "v1",
            "Pod",
            Some("default"),
            "nginx-c",
            json!({"phase": "Pending"}),
        )
        .expect("status");
    let report = env.check(LAB, "explore").await;
    assert_eq!(
        report.verdict("three-pods-ready"),
        "pending",
        "{}",
        report.0
    );

    let ready = running_ready(nginx_pod("nginx-c"));
    env.fake
        .patch_status(
            "v1",
            "Pod",
            Some("default"),
            "nginx-c",
            ready["status"].clone(),
        )
        .expect("status");
    env.check(LAB, "explore").await.assert_all_passed();
}

#[tokio::test]
async fn restart_is_seen_through_the_restarted_at_annotation() {
    let env = env().await;
    env.setup(LAB, "rollout-status").await;
    roll_out(&env);

    let report = env.check(LAB, "rollout-restart").await;
    assert_eq!(report.verdict("restarted-at"), "failed");
    assert_eq!(
        report.diagnostics("restarted-at"),
        vec![(
            "spec.template.metadata.annotations[\"kubectl.kubernetes.io/restartedAt\"]".to_owned(),
            "present".to_owned(),
            "missing".to_owned()
        )]
    );
    assert!(
        report.check("restarted-at")["reason"]["en"]
            .as_str()
            .is_some_and(|r| r.contains("kubectl rollout restart")),
        "the author's reason tells what to run"
    );

    // What `kubectl rollout restart` does: a template annotation, hence a new generation.
    let mut d = deployment(&env);
    d["spec"]["template"]["metadata"]["annotations"] =
        json!({"kubectl.kubernetes.io/restartedAt": "2026-11-29T08:28:59Z"});
    env.put(d);
    let report = env.check(LAB, "rollout-restart").await;
    assert_eq!(report.verdict("restarted-at"), "passed");
    assert_eq!(
        report.verdict("restart-rollout-complete"),
        "pending",
        "{}",
        report.0
    );

    roll_out(&env);
    env.check(LAB, "rollout-restart").await.assert_all_passed();
}

#[tokio::test]
async fn whole_lab_with_simulated_controllers() {
    let env = env().await;
    env.fake.simulate_workloads(true);
    env.setup(LAB, "rollout-status").await;
    env.check_until(LAB, "rollout-status", "passed").await;
    env.check_until(LAB, "explore", "passed").await;

    let mut d = deployment(&env);
    d["spec"]["template"]["metadata"]["annotations"] =
        json!({"kubectl.kubernetes.io/restartedAt": "2026-11-29T09:00:00Z"});
    env.put(d);
    env.check_until(LAB, "rollout-restart", "passed").await;
}
