//! Scenarios: the `docker` lab — the learner names the node's container runtime, then runs Pod
//! `my-image` from a tag they made with `docker tag`, with `imagePullPolicy: Never`.

use serde_json::{Value, json};

use super::check_with_answers;
use super::{env, running_ready};

const LAB: &str = "docker";

/// The Pod `kubectl run my-image --image=<image> --image-pull-policy=<policy> ...` creates.
fn my_image(image: &str, policy: &str) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "my-image", "namespace": "default", "labels": {"run": "my-image"}},
        "spec": {"containers": [{
            "name": "my-image", "image": image, "imagePullPolicy": policy,
            "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 3600 & wait; done"]
        }]}
    })
}

/// The status a kubelet reports while the container waits for `reason`.
fn waiting(reason: &str, message: &str) -> Value {
    json!({
        "phase": "Pending",
        "conditions": [
            {"type": "Initialized", "status": "True"},
            {"type": "Ready", "status": "False", "reason": "ContainersNotReady"},
            {"type": "ContainersReady", "status": "False", "reason": "ContainersNotReady"},
            {"type": "PodScheduled", "status": "True"}
        ],
        "containerStatuses": [{
            "name": "my-image", "ready": false, "restartCount": 0, "image": "fly-k8s/nothing:0.0.1",
            "imageID": "", "started": false,
            "state": {"waiting": {"reason": reason, "message": message}}
        }]
    })
}

#[tokio::test]
async fn the_runtime_question_is_answered_from_the_nodes_own_report() {
    let env = env().await;

    // No node to read the runtime from: the usual not-found diagnostic.
    let report = env.check(LAB, "runtime").await;
    assert_eq!(
        report.verdict("container-runtime"),
        "failed",
        "{}",
        report.0
    );
    assert!(
        report
            .diagnostics("container-runtime")
            .iter()
            .any(|(_, e, a)| e.contains("Node") && a == "not found"),
        "{}",
        report.0
    );

    // colima's node, whose kubelet reports docker://24.0.7.
    env.fake.simulate_workloads(true);
    let report = env.check(LAB, "runtime").await;
    assert_eq!(
        report.verdict("container-runtime"),
        "pending",
        "{}",
        report.0
    );
    assert_eq!(
        report.diagnostics("container-runtime"),
        vec![(
            "answer".to_owned(),
            "your answer".to_owned(),
            "not answered yet".to_owned()
        )]
    );

    // colima can also run containerd, but this node does not: the learner must read, not guess.
    let report = check_with_answers(
        &env,
        LAB,
        "runtime",
        json!({"container-runtime": "containerd"}),
    )
    .await;
    assert_eq!(
        report.verdict("container-runtime"),
        "failed",
        "{}",
        report.0
    );
    assert_eq!(
        report.diagnostics("container-runtime"),
        vec![(
            "answer".to_owned(),
            "the value on your cluster".to_owned(),
            "`\"containerd\"`".to_owned()
        )]
    );

    // The whole column, or just the name before ://, in any case.
    check_with_answers(
        &env,
        LAB,
        "runtime",
        json!({"container-runtime": "docker://24.0.7"}),
    )
    .await
    .assert_all_passed();
    check_with_answers(&env, LAB, "runtime", json!({"container-runtime": "Docker"}))
        .await
        .assert_all_passed();
}

#[tokio::test]
async fn a_pod_from_the_learners_own_tag_that_never_pulls_passes() {
    let env = env().await;
    env.fake.simulate_workloads(true);

    // Nothing yet: each check names the missing Pod and where it was looked for.
    let report = env.check(LAB, "run-own-image").await;
    assert_eq!(report.status(), "failed", "{}", report.0);
    for id in ["own-tag", "never-pull", "running"] {
        assert!(
            report
                .diagnostics(id)
                .iter()
                .any(|(_, e, a)| e == "Pod `my-image` to exist"
                    && a == "not found in namespace `default`"),
            "{id}: {}",
            report.0
        );
    }

    // kubectl run my-image --image=fly-k8s/busybox:0.0.1 --image-pull-policy=Never ...
    env.put(my_image("fly-k8s/busybox:0.0.1", "Never"));
    let report = env.check_until(LAB, "run-own-image", "passed").await;
    report.assert_all_passed();
    assert_eq!(report.0["state"], "passed", "{}", report.0);
}

#[tokio::test]
async fn other_names_the_learner_may_choose_are_accepted() {
    let env = env().await;
    for image in [
        "zhangpanqin/busybox:0.0.1",
        "ghcr.io/someone/busybox:0.0.1",
        "my-team/tools/busybox:v2",
    ] {
        // A Pod's image name is fixed once created: the learner deletes it and runs it again.
        let _ = env.fake.delete("v1", "Pod", Some("default"), "my-image");
        env.put(running_ready(my_image(image, "Never")));
        let report = env.check(LAB, "run-own-image").await;
        assert_eq!(report.verdict("own-tag"), "passed", "{image}: {}", report.0);
    }
}

#[tokio::test]
async fn official_images_and_latest_are_not_the_learners_own_tag() {
    let env = env().await;
    for image in [
        "busybox:1.36",
        "docker.io/library/busybox:1.36",
        "library/busybox:1.36",
        "fly-k8s/busybox:latest",
        "fly-k8s/busybox",
    ] {
        // A Pod's image name is fixed once created: the learner deletes it and runs it again.
        let _ = env.fake.delete("v1", "Pod", Some("default"), "my-image");
        env.put(running_ready(my_image(image, "Never")));
        let report = env.check(LAB, "run-own-image").await;
        assert_eq!(report.verdict("own-tag"), "failed", "{image}: {}", report.0);
        let diags = report.diagnostics("own-tag");
        assert!(
            diags
                .iter()
                .any(|(p, _, a)| p == "spec.containers[name=my-image].image"
                    && a == &format!("`\"{image}\"`")),
            "{image}: {diags:?}"
        );
        // The other checks judge other things: the learner sees exactly what is wrong.
        assert_eq!(
            report.verdict("never-pull"),
            "passed",
            "{image}: {}",
            report.0
        );
        assert_eq!(report.verdict("running"), "passed", "{image}: {}", report.0);
    }
}

#[tokio::test]
async fn a_pod_that_may_pull_does_not_prove_the_local_tag_was_used() {
    let env = env().await;
    env.put(running_ready(my_image(
        "fly-k8s/busybox:0.0.1",
        "IfNotPresent",
    )));
    let report = env.check(LAB, "run-own-image").await;
    assert_eq!(report.verdict("own-tag"), "passed", "{}", report.0);
    assert_eq!(report.verdict("never-pull"), "failed", "{}", report.0);
    assert_eq!(
        report.diagnostics("never-pull"),
        vec![(
            "spec.containers[name=my-image].imagePullPolicy".to_owned(),
            "`\"Never\"`".to_owned(),
            "`\"IfNotPresent\"`".to_owned()
        )]
    );
    assert_eq!(report.status(), "failed");
}

#[tokio::test]
async fn starting_is_pending_but_an_image_missing_from_the_node_is_a_failure() {
    let env = env().await;
    env.put(my_image("fly-k8s/nothing:0.0.1", "Never"));

    // The container is being created: wait.
    env.fake
        .patch_status(
            "v1",
            "Pod",
            Some("default"),
            "my-image",
            waiting("ContainerCreating", ""),
        )
        .expect("status");
    let report = env.check(LAB, "run-own-image").await;
    assert_eq!(report.verdict("running"), "pending", "{}", report.0);
    assert!(
        report.check("running")["pending_reason"]["en"]
            .as_str()
            .is_some_and(|r| r.contains("starting")),
        "{}",
        report.0
    );

    // The tag is not on the node and Never forbids pulling: it will never start by itself.
    env.fake
        .patch_status(
            "v1",
            "Pod",
            Some("default"),
            "my-image",
            waiting(
                "ErrImageNeverPull",
                "Container image \"fly-k8s/nothing:0.0.1\" is not present with pull policy of Never",
            ),
        )
        .expect("status");
    let report = env.check(LAB, "run-own-image").await;
    assert_eq!(report.verdict("running"), "failed", "{}", report.0);
    let diags = report.diagnostics("running");
    assert!(
        diags
            .iter()
            .any(|(p, e, a)| p == "status.phase" && e == "`\"Running\"`" && a == "`\"Pending\"`"),
        "{diags:?}"
    );
    let reason = report.check("running")["reason"]["en"]
        .as_str()
        .unwrap_or("");
    assert!(
        reason.contains("ErrImageNeverPull") && reason.contains("docker images"),
        "the reason explains the error and what to look at: {reason}"
    );
}

#[tokio::test]
async fn reset_deletes_the_learners_pod_only_when_they_confirm() {
    let env = env().await;
    env.put(running_ready(my_image("fly-k8s/busybox:0.0.1", "Never")));
    let (first, second) = env.reset_confirming(LAB, &["Pod/my-image"]).await;
    assert_eq!(first["deleted"], json!([]), "{first}");
    assert!(
        env.fake
            .get("v1", "Pod", Some("default"), "my-image")
            .is_none(),
        "my-image is gone once the learner confirmed: {second}"
    );
}
