//! The node lab (local mode) on the real kubelet's node `real-node`: questions answered from
//! its node info, then labelled, cordoned (a Pod stays Pending), uncordoned (it runs) and
//! restored. Runs alone after the other themes: a cordon stops every new Pod from landing.

use super::harness::{REAL_NODE, Real, Restore, STARTUP};

const LAB: &str = "node";
const NODE: &str = REAL_NODE;

/// The whole lab; the node is put back (label, cordon, demo Pod) even when a check fails.
pub async fn run(real: &Real) {
    let _cordons = super::REAL_NODE_SCHEDULING.write().await;
    let k = &real.kubectl;
    real.reset_everything(LAB).await;
    let _restore = Restore::new(&[
        &["uncordon", NODE],
        &["label", "node", NODE, "kubelab-lab-"],
        &[
            "delete",
            "pod",
            "cordon-demo",
            "-n",
            "default",
            "--ignore-not-found",
            "--now",
        ],
    ]);
    let node = k.json(&["node", NODE]).await;
    let info = &node["status"]["nodeInfo"];
    let kubelet = info["kubeletVersion"].as_str().expect("kubelet version");
    let runtime = info["containerRuntimeVersion"]
        .as_str()
        .expect("runtime version");
    let cpu = node["status"]["allocatable"]["cpu"]
        .as_str()
        .expect("allocatable cpu");

    real.step(LAB, "meet-the-node")
        .expect_answers(
            "answered real-node and its kubelet version",
            &[("node-name", NODE), ("kubelet-version", kubelet)],
            &[
                ("node-ready", "passed"),
                ("node-name", "passed"),
                ("kubelet-version", "passed"),
            ],
        )
        .await;
    real.step(LAB, "node-status")
        .expect_answers(
            "answered real-node's allocatable CPU",
            &[("allocatable-cpu", cpu)],
            &[("allocatable-cpu", "passed"), ("node-lease", "passed")],
        )
        .await;
    let runtime_step = real.step(LAB, "container-runtime");
    runtime_step
        .expect_answers(
            "answered docker://24.0.7 (wrong)",
            &[("runtime-question", "docker://24.0.7")],
            &[("runtime-question", "failed")],
        )
        .await;
    runtime_step
        .expect_answers(
            "answered real-node's CONTAINER-RUNTIME",
            &[("runtime-question", runtime)],
            &[("runtime-question", "passed")],
        )
        .await;

    let label = real.step(LAB, "label-node");
    label
        .expect("no node labelled", &[("node-labelled", "failed")])
        .await;
    k.line(&format!("label node {NODE} kubelab-lab=node")).await;
    label
        .expect(
            "kubectl label node real-node kubelab-lab=node",
            &[("node-labelled", "passed")],
        )
        .await;

    let cordon = real.step(LAB, "cordon");
    k.line(&format!("cordon {NODE}")).await;
    k.apply("default", CORDON_DEMO)
        .await
        .expect("cordon-demo applies");
    // realkube runs kube-controller-manager without the node-lifecycle controller, which is
    // what adds the node.kubernetes.io/unschedulable taint to a cordoned node (k3s has it).
    cordon
        .expect(
            "kubectl cordon real-node; cordon-demo applied",
            &[
                ("node-cordoned", "passed"),
                ("unschedulable-taint", "pending|passed"),
                ("demo-unschedulable", "passed"),
            ],
        )
        .await;
    let uncordon = real.step(LAB, "uncordon");
    k.line(&format!("uncordon {NODE}")).await;
    uncordon
        .expect(
            "kubectl uncordon real-node",
            &[
                ("node-schedulable", "passed"),
                ("taint-removed", "passed"),
                ("demo-running", "passed"),
            ],
        )
        .await;

    let failure = real.step(LAB, "node-failure");
    failure
        .expect(
            "not cleaned up yet",
            &[("demo-cleaned", "failed"), ("label-removed", "failed")],
        )
        .await;
    k.line("delete pod cordon-demo -n default --now").await;
    k.line(&format!("label node {NODE} kubelab-lab-")).await;
    failure
        .expect(
            "kubectl delete pod cordon-demo; kubectl label node real-node kubelab-lab-",
            &[("demo-cleaned", "passed"), ("label-removed", "passed")],
        )
        .await;
    k.wait_gone(&["pod", "cordon-demo", "-n", "default"], STARTUP)
        .await;
    real.reset(LAB).await;
}

const CORDON_DEMO: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  name: cordon-demo
spec:
  containers:
    - name: app
      image: busybox:1.36
      command: ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 3600 & wait $!; done"]
      resources:
        requests: {cpu: "10m", memory: "16Mi"}
        limits: {cpu: "100m", memory: "64Mi"}
"#;
