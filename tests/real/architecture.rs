//! The architecture lab on a real control plane: the API group question, the real scheduler
//! leaving a Pod Pending with FailedScheduling until a node gets the label it asks for, and the
//! real ReplicaSet controller replacing a deleted Pod. The node label is removed afterwards.

use super::harness::{Kubectl, REAL_NODE, Real, Restore, STARTUP, items, node_of, wait_for};

const LAB: &str = "architecture";
const NS: &str = "default";

/// The whole lab, from a clean start to Reset.
pub async fn run(real: &Real) {
    let k = &real.kubectl;
    real.reset_everything(LAB).await;
    let unlabel: &[&str] = &["label", "nodes", "--all", "disktype-"];
    k.run(unlabel).await;
    k.wait_gone(&["pod", "picky", "-n", NS], STARTUP).await;
    k.wait_gone(&["pods", "-n", NS, "-l", "app=guard"], STARTUP)
        .await;

    let api = real.step(LAB, "apiserver");
    api.expect_answers(
        "answered apps (wrong)",
        &[("hpa-group", "apps")],
        &[("hpa-group", "failed")],
    )
    .await;
    api.expect_answers(
        "answered autoscaling (kubectl api-resources)",
        &[("hpa-group", "autoscaling")],
        &[("hpa-group", "passed")],
    )
    .await;

    let pending = real.step(LAB, "scheduler-pending");
    pending.setup().await;
    pending
        .expect(
            "Set up picky (nodeSelector disktype=ssd)",
            &[
                ("unschedulable", "passed"),
                ("failed-scheduling-event", "passed"),
            ],
        )
        .await;
    let fix = real.step(LAB, "scheduler-fix");
    fix.expect(
        "no node labelled yet",
        &[
            ("scheduled", "failed|pending"),
            ("picky-running", "failed|pending"),
        ],
    )
    .await;
    {
        // The learner labels the nodes as the text says; picky goes to the real node.
        let _unlabel = Restore::new(&[unlabel]);
        k.line("label nodes --all disktype=ssd").await;
        if kubelet_refused_picky(k).await {
            // The kubelet's race, as the reason tells the learner: delete it, Set up again.
            fix.expect(
                "the kubelet refused picky (NodeAffinity: it had not seen the label yet)",
                &[("scheduled", "passed"), ("picky-running", "failed")],
            )
            .await;
            k.line(&format!("delete pod picky -n {NS} --now")).await;
            k.wait_gone(&["pod", "picky", "-n", NS], STARTUP).await;
            pending.setup().await;
        }
        fix.expect(
            "kubectl label nodes --all disktype=ssd",
            &[("scheduled", "passed"), ("picky-running", "passed")],
        )
        .await;
        let picky = k.json(&["pod", "picky", "-n", NS]).await;
        assert_eq!(node_of(&picky), REAL_NODE, "lab-node is tainted");
    }

    let controllers = real.step(LAB, "controllers");
    controllers.setup().await;
    controllers
        .expect(
            "Set up ReplicaSet guard",
            &[
                ("guard-ready", "passed"),
                ("created-by-controller", "passed"),
            ],
        )
        .await;
    let healing = real.step(LAB, "self-healing");
    healing
        .expect(
            "nothing deleted yet",
            &[
                ("replacement", "failed|pending"),
                ("back-to-desired", "passed"),
            ],
        )
        .await;
    let guards = items(&k.json(&["pods", "-n", NS, "-l", "app=guard"]).await);
    assert_eq!(guards.len(), 3);
    assert!(guards.iter().all(|p| node_of(p) == REAL_NODE));
    let victim = guards[0]["metadata"]["name"].as_str().expect("name");
    k.line(&format!("delete pod {victim} -n {NS}")).await;
    healing
        .expect(
            "kubectl delete one guard Pod",
            &[("replacement", "passed"), ("back-to-desired", "passed")],
        )
        .await;

    real.reset(LAB).await;
    k.wait_gone(&["replicaset", "guard", "-n", NS], STARTUP)
        .await;
    k.wait_gone(&["pod", "picky", "-n", NS], STARTUP).await;
    pending
        .expect("after Reset", &[("unschedulable", "failed")])
        .await;
}

/// Waits until picky is bound and either runs or was refused by the kubelet; true when refused
/// (phase `Failed`, reason `NodeAffinity`): a 1.28 kubelet can see the bound Pod before the
/// node's new label and refuse it.
async fn kubelet_refused_picky(k: &Kubectl) -> bool {
    let outcome = wait_for("picky to run or be refused", STARTUP, || async {
        let pod = k.json(&["pod", "picky", "-n", NS]).await;
        match pod["status"]["phase"].as_str() {
            Some("Failed") => Some(pod["status"]["reason"] == "NodeAffinity"),
            Some("Running") => Some(false),
            _ => None,
        }
    })
    .await;
    outcome.unwrap_or(false)
}
