//! Scenarios: the `architecture` lab — the API server answers a question about its API groups,
//! the scheduler refuses Pod `picky` (Pending, Unschedulable, a FailedScheduling event) until the
//! node is labelled or the Pod re-created, and the ReplicaSet controller replaces a deleted Pod.

use std::time::Duration;

use serde_json::{Value, json};

use super::check_with_answers;
use super::{Env, env, running_ready};
use crate::support::state;

const LAB: &str = "architecture";
const NS: &str = "default";

fn picky(env: &Env) -> Option<Value> {
    env.fake.get("v1", "Pod", Some(NS), "picky")
}

/// An Event about `object`, as a component writes it (core/v1 view).
fn event_about(object: &Value, reason: &str, kind: &str, component: &str, message: &str) -> Value {
    let name = object["metadata"]["name"].as_str().unwrap_or("");
    json!({
        "apiVersion": "v1", "kind": "Event",
        "metadata": {"name": format!("{name}.{}", state::random_suffix(8)), "namespace": NS},
        "involvedObject": {
            "apiVersion": object["apiVersion"], "kind": object["kind"], "namespace": NS,
            "name": name, "uid": object["metadata"]["uid"]
        },
        "reason": reason, "message": message, "type": kind,
        "source": {"component": component}, "reportingComponent": component,
        "firstTimestamp": state::now(), "lastTimestamp": state::now(), "count": 1
    })
}

/// The scheduler's event for `picky` when no node has the label its nodeSelector asks for.
fn failed_scheduling(pod: &Value) -> Value {
    event_about(
        pod,
        "FailedScheduling",
        "Warning",
        "default-scheduler",
        "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling..",
    )
}

/// `kubectl label nodes --all disktype=ssd` on the simulated node.
fn label_node(env: &Env) {
    let mut node = env
        .fake
        .get("v1", "Node", None, "colima")
        .expect("the simulated node exists");
    node["metadata"]["labels"]["disktype"] = json!("ssd");
    env.put(node);
}

/// Waits until the fake's clock (seconds, as in creationTimestamp) has moved on, so that objects
/// created afterwards are unambiguously newer than anything before.
async fn next_second(env: &Env) {
    let before = state::now();
    let moved = env
        .fake
        .wait_for(Duration::from_secs(3), |_| state::now() != before)
        .await;
    assert!(moved, "the clock moved on");
}

fn guard_pods(env: &Env) -> Vec<Value> {
    env.fake
        .list("v1", "Pod", Some(NS))
        .into_iter()
        .filter(|p| p["metadata"]["labels"]["app"] == "guard")
        .collect()
}

/// Sets up the controllers step and waits for the simulated controller to run 3 ready Pods.
async fn guard_running(env: &Env) -> Value {
    env.setup(LAB, "controllers").await;
    let ready = env
        .fake
        .wait_for(Duration::from_secs(10), |f| {
            f.get("apps/v1", "ReplicaSet", Some(NS), "guard")
                .is_some_and(|rs| rs["status"]["readyReplicas"] == 3)
        })
        .await;
    assert!(ready, "the simulated ReplicaSet controller ran 3 Pods");
    env.fake
        .get("apps/v1", "ReplicaSet", Some(NS), "guard")
        .expect("guard")
}

#[tokio::test]
async fn the_learner_finds_the_api_group_of_horizontalpodautoscaler() {
    let env = env().await;
    let report = env.check(LAB, "apiserver").await;
    assert_eq!(report.verdict("hpa-group"), "pending", "{}", report.0);
    assert_eq!(
        report.diagnostics("hpa-group"),
        vec![(
            "answer".to_owned(),
            "your answer".to_owned(),
            "not answered yet".to_owned()
        )]
    );

    // Deployments are in apps; HPAs are not.
    let report = check_with_answers(&env, LAB, "apiserver", json!({"hpa-group": "apps"})).await;
    assert_eq!(report.verdict("hpa-group"), "failed", "{}", report.0);
    assert_eq!(
        report.diagnostics("hpa-group"),
        vec![(
            "answer".to_owned(),
            "the value on your cluster".to_owned(),
            "`\"apps\"`".to_owned()
        )]
    );

    let report =
        check_with_answers(&env, LAB, "apiserver", json!({"hpa-group": "autoscaling"})).await;
    report.assert_all_passed();
}

#[tokio::test]
async fn set_up_creates_only_the_picky_pod_with_its_node_selector() {
    let env = env().await;
    let report = env.setup(LAB, "scheduler-pending").await;
    let applied = report["applied"].as_array().expect("applied list");
    assert_eq!(applied.len(), 1, "{report}");
    assert_eq!(applied[0]["kind"], "Pod");
    assert_eq!(applied[0]["name"], "picky");
    assert_eq!(applied[0]["namespace"], NS);
    let pod = picky(&env).expect("picky exists");
    assert_eq!(pod["spec"]["nodeSelector"], json!({"disktype": "ssd"}));
    assert_eq!(pod["metadata"]["labels"]["kubelab.io/lab"], LAB);
}

#[tokio::test]
async fn an_unschedulable_pod_is_pending_until_the_scheduler_speaks_then_passes() {
    let env = env().await;
    // Created, the scheduler has not looked at it yet: both checks wait.
    env.setup(LAB, "scheduler-pending").await;
    let report = env.check(LAB, "scheduler-pending").await;
    assert_eq!(report.verdict("unschedulable"), "pending", "{}", report.0);
    assert_eq!(
        report.verdict("failed-scheduling-event"),
        "pending",
        "{}",
        report.0
    );

    // The scheduler marks it Unschedulable (the simulated node has no disktype label) ...
    env.fake.simulate_workloads(true);
    let unschedulable = env
        .fake
        .wait_for(Duration::from_secs(10), |f| {
            f.get("v1", "Pod", Some(NS), "picky").is_some_and(|p| {
                p["status"]["conditions"]
                    .as_array()
                    .is_some_and(|c| c.iter().any(|c| c["reason"] == "Unschedulable"))
            })
        })
        .await;
    assert!(unschedulable, "the simulated scheduler refused picky");
    // Stop the simulation and forget its events, to see the step without the scheduler's event.
    env.fake.simulate_workloads(false);
    clear_events(&env);
    let report = env.check(LAB, "scheduler-pending").await;
    assert_eq!(report.verdict("unschedulable"), "passed", "{}", report.0);
    // ... but an explanation without its event is not the whole story yet.
    assert_eq!(
        report.verdict("failed-scheduling-event"),
        "failed",
        "{}",
        report.0
    );
    let diags = report.diagnostics("failed-scheduling-event");
    assert!(
        diags.iter().any(|(p, e, a)| p == "events"
            && e.contains("FailedScheduling")
            && a.contains("no events")),
        "{diags:?}"
    );

    // An event about some other Pod does not count.
    let other = env
        .fake
        .put(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "someone-else", "namespace": NS},
            "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}))
        .expect("other pod");
    env.put(failed_scheduling(&other));
    let report = env.check(LAB, "scheduler-pending").await;
    assert_eq!(
        report.verdict("failed-scheduling-event"),
        "failed",
        "{}",
        report.0
    );

    // The scheduler's own event about picky.
    env.put(failed_scheduling(&picky(&env).expect("picky")));
    let report = env.check(LAB, "scheduler-pending").await;
    report.assert_all_passed();
}

#[tokio::test]
async fn a_pod_that_got_scheduled_anyway_fails_the_pending_step_with_the_node_named() {
    let env = env().await;
    env.fake.simulate_workloads(true);
    // The node was labelled before Set up (for instance on a second run of the lab).
    label_node(&env);
    env.setup(LAB, "scheduler-pending").await;
    let report = env.check_until(LAB, "scheduler-pending", "failed").await;
    assert_eq!(report.verdict("unschedulable"), "failed", "{}", report.0);
    let diags = report.diagnostics("unschedulable");
    assert!(
        diags
            .iter()
            .any(|(p, e, a)| p == "spec.nodeName" && e == "absent" && a == "`\"colima\"`"),
        "{diags:?}"
    );
    let reason = report.check("unschedulable")["reason"]["en"]
        .as_str()
        .unwrap_or("");
    assert!(
        reason.contains("disktype-"),
        "the reason says how to undo the label: {reason}"
    );
}

#[tokio::test]
async fn labelling_the_node_lets_the_scheduler_place_the_pod() {
    let env = env().await;
    env.fake.simulate_workloads(true);
    env.setup(LAB, "scheduler-pending").await;
    env.put(failed_scheduling(&picky(&env).expect("picky")));
    env.check_until(LAB, "scheduler-pending", "passed").await;

    // Still Pending: the fix step says the Pod has no node and how to give it one.
    let report = env.check(LAB, "scheduler-fix").await;
    assert_eq!(report.verdict("scheduled"), "failed", "{}", report.0);
    let diags = report.diagnostics("scheduled");
    assert!(
        diags
            .iter()
            .any(|(p, e, a)| p == "spec.nodeName" && e == "present" && a == "missing"),
        "{diags:?}"
    );
    // Unscheduled is not "starting": no pending for the running check either.
    assert_eq!(report.verdict("picky-running"), "failed", "{}", report.0);

    // kubectl label nodes --all disktype=ssd: the scheduler retries by itself.
    label_node(&env);
    let report = env.check_until(LAB, "scheduler-fix", "passed").await;
    report.assert_all_passed();
    assert_eq!(picky(&env).expect("picky")["spec"]["nodeName"], "colima");
}

#[tokio::test]
async fn re_creating_the_pod_without_the_selector_also_fixes_it() {
    let env = env().await;
    env.fake.simulate_workloads(true);
    env.setup(LAB, "scheduler-pending").await;

    // kubectl delete pod picky; kubectl run picky --image=busybox:1.36 --command -- sh -c ...
    env.fake
        .delete("v1", "Pod", Some(NS), "picky")
        .expect("deleted");
    env.put(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "picky", "namespace": NS, "labels": {"run": "picky"}},
        "spec": {"containers": [{"name": "picky", "image": "busybox:1.36",
            "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 3600 & wait; done"]}]}
    }));
    let report = env.check_until(LAB, "scheduler-fix", "passed").await;
    report.assert_all_passed();
}

/// Sets up picky, binds it to the node and gives it `status`, as the kubelet reports it.
async fn picky_bound_with(env: &Env, status: Value) {
    env.setup(LAB, "scheduler-pending").await;
    let mut pod = picky(env).expect("picky");
    pod["spec"]["nodeName"] = json!("colima");
    env.put(pod);
    env.fake
        .patch_status("v1", "Pod", Some(NS), "picky", status)
        .expect("status");
}

#[tokio::test]
async fn a_scheduled_pod_that_is_still_starting_is_pending() {
    let env = env().await;
    // Bound to the node; the kubelet is creating the container.
    picky_bound_with(
        &env,
        json!({"phase": "Pending", "conditions": [
            {"type": "PodScheduled", "status": "True"},
            {"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
            "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0,
                "state": {"waiting": {"reason": "ContainerCreating"}}}]}),
    )
    .await;
    let report = env.check(LAB, "scheduler-fix").await;
    assert_eq!(report.verdict("scheduled"), "passed", "{}", report.0);
    assert_eq!(report.verdict("picky-running"), "pending", "{}", report.0);
    assert_eq!(report.status(), "pending");
}

/// Seen on a real 1.28 kubelet: labelled a moment earlier, the node's kubelet still had the old
/// labels, refused the bound Pod (`Predicate NodeAffinity failed`) and replaced its conditions.
#[tokio::test]
async fn a_pod_the_kubelet_refused_is_scheduled_but_failed_with_the_way_out() {
    let env = env().await;
    picky_bound_with(
        &env,
        json!({"phase": "Failed", "reason": "NodeAffinity",
            "message": "Pod was rejected: Predicate NodeAffinity failed"}),
    )
    .await;
    let report = env.check(LAB, "scheduler-fix").await;
    assert_eq!(report.verdict("scheduled"), "passed", "{}", report.0);
    assert_eq!(report.verdict("picky-running"), "failed", "{}", report.0);
    let reason = report.check("picky-running")["reason"]["en"]
        .as_str()
        .unwrap_or("");
    assert!(
        reason.contains("NodeAffinity") && reason.contains("kubectl delete pod picky"),
        "the reason names the refusal and the way out: {reason}"
    );
}

#[tokio::test]
async fn the_replicaset_controller_runs_guard_and_signs_its_work() {
    let env = env().await;
    env.fake.simulate_workloads(true);
    let rs = guard_running(&env).await;
    assert_eq!(guard_pods(&env).len(), 3);
    // Stop the simulation and forget the controller's events, to see the step without them.
    env.fake.simulate_workloads(false);
    clear_events(&env);

    // All replicas ready, but no SuccessfulCreate event (yet): the second check says so.
    let report = env.check(LAB, "controllers").await;
    assert_eq!(report.verdict("guard-ready"), "passed", "{}", report.0);
    assert_eq!(
        report.verdict("created-by-controller"),
        "failed",
        "{}",
        report.0
    );
    let diags = report.diagnostics("created-by-controller");
    assert!(
        diags
            .iter()
            .any(|(p, e, _)| p == "events" && e.contains("SuccessfulCreate")),
        "{diags:?}"
    );

    for pod in guard_pods(&env) {
        let name = pod["metadata"]["name"].as_str().unwrap_or("").to_owned();
        env.put(event_about(
            &rs,
            "SuccessfulCreate",
            "Normal",
            "replicaset-controller",
            &format!("Created pod: {name}"),
        ));
    }
    env.check(LAB, "controllers").await.assert_all_passed();
}

#[tokio::test]
async fn guard_is_pending_while_starting_and_failed_when_the_controller_cannot_create_pods() {
    let env = env().await;
    env.setup(LAB, "controllers").await;
    // No controller running in the fake: the ReplicaSet exists, no Pods are ready yet.
    let report = env.check(LAB, "controllers").await;
    assert_eq!(report.verdict("guard-ready"), "pending", "{}", report.0);

    // A quota refused the Pods: the controller reports ReplicaFailure; that needs the learner.
    env.fake
        .patch_status(
            "apps/v1",
            "ReplicaSet",
            Some(NS),
            "guard",
            json!({"replicas": 0, "conditions": [{"type": "ReplicaFailure", "status": "True",
                "reason": "FailedCreate",
                "message": "pods \"guard-x\" is forbidden: exceeded quota: learner-quota"}]}),
        )
        .expect("status");
    let report = env.check(LAB, "controllers").await;
    assert_eq!(report.verdict("guard-ready"), "failed", "{}", report.0);
}

#[tokio::test]
async fn a_deleted_pod_is_replaced_after_the_step_started() {
    let env = env().await;
    env.fake.simulate_workloads(true);
    guard_running(&env).await;
    let before: Vec<Value> = guard_pods(&env)
        .iter()
        .map(|p| p["metadata"]["name"].clone())
        .collect();

    // The learner arrives at the step: the three Pods are older than the step.
    next_second(&env).await;
    let report = env.check(LAB, "self-healing").await;
    assert_eq!(report.verdict("replacement"), "failed", "{}", report.0);
    let diags = report.diagnostics("replacement");
    assert!(
        diags
            .iter()
            .any(|(_, e, a)| e == "a Pod created after you started this step"
                && a.starts_with("none since")),
        "{diags:?}"
    );
    assert_eq!(report.verdict("back-to-desired"), "passed", "{}", report.0);

    // kubectl delete pod <one of them>: the controller creates a replacement at once.
    next_second(&env).await;
    let victim = before[0].as_str().expect("pod name").to_owned();
    env.fake
        .delete("v1", "Pod", Some(NS), &victim)
        .expect("deleted");
    // The step passes while the victim is still Terminating (its kubelet grace period runs).
    let report = env.check_until(LAB, "self-healing", "passed").await;
    report.assert_all_passed();
    assert!(
        env.fake
            .terminating_pods()
            .contains(&format!("{NS}/{victim}")),
        "{:?}",
        env.fake.terminating_pods()
    );
    env.fake.finish_pod_termination(NS, &victim);
    assert!(
        env.fake
            .wait_for(Duration::from_secs(5), |_| guard_pods(&env).len() == 3)
            .await
    );
    let after: Vec<Value> = guard_pods(&env)
        .iter()
        .map(|p| p["metadata"]["name"].clone())
        .collect();
    assert!(!after.contains(&json!(victim)), "{after:?}");
    env.check(LAB, "self-healing").await.assert_all_passed();
}

#[tokio::test]
async fn a_pod_made_by_hand_is_not_a_replacement() {
    let env = env().await;
    env.fake.simulate_workloads(true);
    guard_running(&env).await;
    next_second(&env).await;
    env.check(LAB, "self-healing").await;
    next_second(&env).await;

    // A Pod with the right label but no owner: the controller did not make it.
    env.put(running_ready(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "guard-by-hand", "namespace": NS, "labels": {"app": "guard"}},
        "spec": {"containers": [{"name": "app", "image": "busybox:1.36"}]}
    })));
    let report = env.check(LAB, "self-healing").await;
    assert_eq!(report.verdict("replacement"), "failed", "{}", report.0);
    let diags = report.diagnostics("replacement");
    assert!(
        diags
            .iter()
            .any(|(_, e, a)| e == "matching objects: at least 1" && a.starts_with("0 matching")),
        "the Pod made by hand is found but does not count: {diags:?}"
    );
}

#[tokio::test]
async fn reset_removes_picky_and_guard() {
    let env = env().await;
    env.setup(LAB, "scheduler-pending").await;
    env.setup(LAB, "controllers").await;
    let (status, body) = env.app.post_json(&format!("/api/labs/{LAB}/reset")).await;
    assert_eq!(status, 200, "{body}");
    assert!(picky(&env).is_none(), "{body}");
    assert!(
        env.fake
            .get("apps/v1", "ReplicaSet", Some(NS), "guard")
            .is_none(),
        "{body}"
    );
}

/// Deletes every Event in the lab's namespace (what the simulated controllers wrote).
fn clear_events(env: &Env) {
    for event in env.fake.list("v1", "Event", Some(NS)) {
        let name = event["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        env.fake
            .delete("v1", "Event", Some(NS), &name)
            .expect("event deleted");
    }
}
