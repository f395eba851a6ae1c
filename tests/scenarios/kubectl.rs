//! The `kubectl` lab: wait for nginx-deployment's rollout, look at its Pods, restart it.

use std::time::Duration;

use serde_json::{Value, json};

use super::check_with_answers;
use super::{Env, env, next_second, running_ready};

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

/// A Pod of the restart's rollout: the ReplicaSet copies the template's restartedAt annotation.
fn restarted_nginx_pod(name: &str) -> Value {
    let mut pod = nginx_pod(name);
    pod["metadata"]["annotations"] =
        json!({"kubectl.kubernetes.io/restartedAt": "2026-11-29T08:28:59Z"});
    pod
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
            .any(|(_, e, a)| e == "Deployment `nginx-deployment` to exist"
                && a == "not found in namespace `default`"),
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
    assert_eq!(report.0["state"], "passed", "{}", report.0);
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
            .any(|(_, e, a)| e.contains("at least 3") && a.starts_with('2')),
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
    let report = env.check(LAB, "rollout-restart").await;
    assert_eq!(report.verdict("restarted-at"), "passed");
    assert_eq!(report.verdict("restart-rollout-complete"), "passed");
}

#[tokio::test]
async fn only_pods_created_after_the_step_started_count_as_replaced() {
    let env = env().await;
    env.setup(LAB, "rollout-status").await;
    roll_out(&env);
    // The Pods from before: the ones the learner wrote down.
    for name in ["nginx-old-a", "nginx-old-b", "nginx-old-c"] {
        env.put(running_ready(nginx_pod(name)));
    }
    next_second().await;
    let started = env.start_step(LAB, "rollout-restart").await;

    let report = env.check(LAB, "rollout-restart").await;
    assert_eq!(report.verdict("new-pods"), "failed", "{}", report.0);
    let diags = report.diagnostics("new-pods");
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].0, "");
    assert_eq!(diags[0].1, "a Pod created after you started this step");
    // "none since 10:00:44 UTC": the step's start, as a time of day.
    let time_of_day = &started[11..19];
    assert_eq!(
        diags[0].2,
        format!("none since {time_of_day} UTC"),
        "{started}"
    );
    assert!(
        report.check("new-pods")["reason"]["en"]
            .as_str()
            .is_some_and(|r| r.contains("kubectl rollout restart deployment nginx-deployment")),
        "{}",
        report.0
    );

    // A lone replacement for a Pod the learner deleted is new, but no restart is under way:
    // a failure that asks for the restart, not "pending".
    env.put(running_ready(nginx_pod("nginx-replacement")));
    let report = env.check(LAB, "rollout-restart").await;
    assert_eq!(report.verdict("new-pods"), "failed", "{}", report.0);
    env.fake
        .delete("v1", "Pod", Some("default"), "nginx-replacement")
        .expect("delete");

    // The rolling update has made its first new Pod, which is starting: pending, not failed.
    env.put(restarted_nginx_pod("nginx-new-a"));
    env.fake
        .patch_status(
            "v1",
            "Pod",
            Some("default"),
            "nginx-new-a",
            json!({"phase": "Pending"}),
        )
        .expect("status");
    let report = env.check(LAB, "rollout-restart").await;
    assert_eq!(report.verdict("new-pods"), "pending", "{}", report.0);
    assert!(
        report.check("new-pods")["pending_reason"]["en"]
            .as_str()
            .is_some_and(|r| r.contains("one at a time")),
        "{}",
        report.0
    );

    // Two new ones ready and the old ones still there: still only two new Pods.
    let ready = running_ready(restarted_nginx_pod("nginx-new-a"));
    env.fake
        .patch_status(
            "v1",
            "Pod",
            Some("default"),
            "nginx-new-a",
            ready["status"].clone(),
        )
        .expect("status");
    env.put(running_ready(restarted_nginx_pod("nginx-new-b")));
    let report = env.check(LAB, "rollout-restart").await;
    assert_eq!(report.verdict("new-pods"), "pending", "{}", report.0);
    assert_eq!(
        report.diagnostics("new-pods"),
        vec![(
            String::new(),
            "matching objects: at least 3".to_owned(),
            "2 matching (of 2 found)".to_owned()
        )],
        "the old Pods are not counted at all"
    );

    env.put(running_ready(restarted_nginx_pod("nginx-new-c")));
    let report = env.check(LAB, "rollout-restart").await;
    assert_eq!(report.verdict("new-pods"), "passed", "{}", report.0);
}

fn replica_set(name: &str, replicas: u64) -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name, "namespace": "default",
            "labels": {"app": "nginx", "pod-template-hash": name.rsplit('-').next().unwrap_or("")}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "nginx"}},
            "template": {"metadata": {"labels": {"app": "nginx"}},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}
        }
    })
}

#[tokio::test]
async fn the_replicaset_question_is_answered_from_the_cluster() {
    let env = env().await;
    env.setup(LAB, "rollout-status").await;
    env.put(replica_set("nginx-deployment-7c5ddbdf54", 0));
    env.put(replica_set("nginx-deployment-5b8d7f9c6d", 3));
    // Another app's ReplicaSet is not one of them.
    let mut other = replica_set("web-6f9d8c7b5a", 2);
    other["metadata"]["labels"]["app"] = json!("web");
    env.put(other);

    // Not answered yet: waiting for the learner, not wrong.
    let report = env.check(LAB, "rollout-restart").await;
    assert_eq!(
        report.verdict("replicaset-count"),
        "pending",
        "{}",
        report.0
    );
    assert_eq!(
        report.diagnostics("replicaset-count"),
        vec![(
            "answer".to_owned(),
            "your answer".to_owned(),
            "not answered yet".to_owned()
        )]
    );
    let question = &report.check("replicaset-count");
    assert!(
        question
            .to_string()
            .contains("kubectl get replicaset -l app=nginx"),
        "{question}"
    );

    // Counting Pods instead of ReplicaSets: wrong, and the right number is not given away.
    let report = check_with_answers(
        &env,
        LAB,
        "rollout-restart",
        json!({"replicaset-count": "3"}),
    )
    .await;
    assert_eq!(report.verdict("replicaset-count"), "failed", "{}", report.0);
    assert_eq!(
        report.diagnostics("replicaset-count"),
        vec![(
            "answer".to_owned(),
            "the value on your cluster".to_owned(),
            "`\"3\"`".to_owned()
        )]
    );

    let report = check_with_answers(
        &env,
        LAB,
        "rollout-restart",
        json!({"replicaset-count": " 2 "}),
    )
    .await;
    assert_eq!(report.verdict("replicaset-count"), "passed", "{}", report.0);
    // The answer is remembered: a later Check without answers still has it.
    let report = env.check(LAB, "rollout-restart").await;
    assert_eq!(report.verdict("replicaset-count"), "passed", "{}", report.0);
}

#[tokio::test]
async fn whole_lab_with_simulated_controllers() {
    let env = env().await;
    env.fake.simulate_workloads(true);
    env.setup(LAB, "rollout-status").await;
    env.check_until(LAB, "rollout-status", "passed").await;
    // The learner takes a moment to look around; passing explore starts rollout-restart.
    next_second().await;
    env.check_until(LAB, "explore", "passed").await;
    next_second().await;
    let report = env.check(LAB, "rollout-restart").await;
    assert_eq!(report.verdict("new-pods"), "failed", "{}", report.0);

    let mut d = deployment(&env);
    d["spec"]["template"]["metadata"]["annotations"] =
        json!({"kubectl.kubernetes.io/restartedAt": "2026-11-29T09:00:00Z"});
    env.put(d);
    // Everything but the question passes once the simulated rollout is done.
    let mut report = env.check(LAB, "rollout-restart").await;
    for _ in 0..100 {
        if report.verdict("new-pods") == "passed"
            && report.verdict("restart-rollout-complete") == "passed"
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        report = env.check(LAB, "rollout-restart").await;
    }
    assert_eq!(report.verdict("new-pods"), "passed", "{}", report.0);
    assert_eq!(
        report.status(),
        "pending",
        "the question is still open: {}",
        report.0
    );

    // The old ReplicaSet is kept at 0 next to the new one.
    let report = check_with_answers(
        &env,
        LAB,
        "rollout-restart",
        json!({"replicaset-count": "2"}),
    )
    .await;
    report.assert_all_passed();
    assert_eq!(report.0["state"], "passed", "{}", report.0);
}
