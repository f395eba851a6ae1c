//! Scenarios: the `node` lab — questions answered from the live Node (name, kubelet version,
//! allocatable CPU, runtime), the node's Lease, labelling, cordoning and uncordoning the node,
//! and cleaning up the label and the demo Pod.

use serde_json::{Value, json};

use super::{Env, Report, check_with_answers, env};

const LAB: &str = "node";
const NODE: &str = "colima";

/// colima's node as k3s reports it (Docker runtime, 2 CPUs), Ready.
fn colima_node() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": NODE, "labels": {
            "kubernetes.io/arch": "arm64", "kubernetes.io/hostname": NODE, "kubernetes.io/os": "linux",
            "node-role.kubernetes.io/control-plane": "true", "node-role.kubernetes.io/master": "true"}},
        "spec": {"podCIDR": "10.42.0.0/24", "podCIDRs": ["10.42.0.0/24"]},
        "status": {
            "capacity": {"cpu": "2", "memory": "2015668Ki", "pods": "110"},
            "allocatable": {"cpu": "2", "memory": "2015668Ki", "pods": "110"},
            "conditions": [
                {"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory"},
                {"type": "DiskPressure", "status": "False", "reason": "KubeletHasNoDiskPressure"},
                {"type": "PIDPressure", "status": "False", "reason": "KubeletHasSufficientPID"},
                {"type": "Ready", "status": "True", "reason": "KubeletReady", "message": "kubelet is posting ready status"}
            ],
            "addresses": [{"type": "InternalIP", "address": "192.168.5.15"}, {"type": "Hostname", "address": NODE}],
            "nodeInfo": {
                "kubeletVersion": "v1.28.7+k3s1", "kubeProxyVersion": "v1.28.7+k3s1",
                "containerRuntimeVersion": "docker://24.0.7", "operatingSystem": "linux",
                "architecture": "arm64", "osImage": "Ubuntu 24.04 LTS", "kernelVersion": "6.8.0-39-generic"
            }
        }
    })
}

/// The heartbeat Lease the kubelet keeps renewing.
fn node_lease() -> Value {
    json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": NODE, "namespace": "kube-node-lease"},
        "spec": {"holderIdentity": NODE, "leaseDurationSeconds": 40, "renewTime": "2026-11-29T09:00:00.000000Z"}
    })
}

/// Stores a Lease in kube-node-lease (and the namespace, as k3s creates it at start).
fn put_lease(env: &Env, lease: Value) {
    env.put(
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "kube-node-lease"}}),
    );
    env.put(lease);
}

fn node(env: &Env) -> Value {
    env.fake
        .get("v1", "Node", None, NODE)
        .expect("the node exists")
}

/// `kubectl label node colima kubelab-lab=node` (or `kubelab-lab-` with `None`).
fn label(env: &Env, value: Option<&str>) {
    let mut n = node(env);
    match value {
        Some(v) => n["metadata"]["labels"]["kubelab-lab"] = json!(v),
        None => {
            n["metadata"]["labels"]
                .as_object_mut()
                .expect("labels")
                .remove("kubelab-lab");
        }
    }
    env.put(n);
}

/// `kubectl cordon` (spec only) or `uncordon`; `taint` adds what the node lifecycle controller adds.
fn set_cordon(env: &Env, cordoned: bool, taint: bool) {
    let mut n = node(env);
    let spec = n["spec"].as_object_mut().expect("spec");
    if cordoned {
        spec.insert("unschedulable".into(), json!(true));
    } else {
        spec.remove("unschedulable");
    }
    if taint {
        spec.insert(
            "taints".into(),
            json!([{"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule", "timeAdded": "2026-11-29T09:00:00Z"}]),
        );
    } else {
        spec.remove("taints");
    }
    env.put(n);
}

/// The learner's `cordon-demo` Pod with the given status.
fn cordon_demo(status: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "cordon-demo", "namespace": "default"},
        "spec": {"containers": [{"name": "app", "image": "busybox:1.36"}]},
        "status": status
    })
}

/// What the scheduler writes when every node is cordoned.
fn unschedulable_status() -> Value {
    json!({
        "phase": "Pending", "qosClass": "Burstable",
        "conditions": [{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": "0/1 nodes are available: 1 node(s) were unschedulable. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling.."}]
    })
}

fn diag(report: &Report, id: &str) -> (String, String, String) {
    let diags = report.diagnostics(id);
    assert_eq!(diags.len(), 1, "{id}: {diags:?}");
    diags[0].clone()
}

#[tokio::test]
async fn questions_wait_for_an_answer_then_compare_with_the_node() {
    let env = env().await;
    env.put(colima_node());

    let report = env.check(LAB, "meet-the-node").await;
    assert_eq!(report.verdict("node-ready"), "passed", "{}", report.0);
    for id in ["node-name", "kubelet-version"] {
        assert_eq!(report.verdict(id), "pending", "{id}: {}", report.0);
        assert_eq!(
            diag(&report, id),
            (
                "answer".into(),
                "your answer".into(),
                "not answered yet".into()
            )
        );
    }
    assert_eq!(report.status(), "pending");

    // Wrong answers: the diagnostic shows what the learner typed, never the right value.
    let report = check_with_answers(
        &env,
        LAB,
        "meet-the-node",
        json!({"node-name": "minikube", "kubelet-version": "v1.25.0"}),
    )
    .await;
    assert_eq!(report.verdict("node-name"), "failed");
    assert_eq!(
        diag(&report, "node-name"),
        (
            "answer".into(),
            "the value on your cluster".into(),
            "`\"minikube\"`".into()
        )
    );
    assert_eq!(report.verdict("kubelet-version"), "failed");
    let (_, expected, actual) = diag(&report, "kubelet-version");
    assert_eq!(actual, "`\"v1.25.0\"`");
    assert!(!expected.contains("1.28"), "the answer leaked: {expected}");
    assert_eq!(report.status(), "failed");

    // Right answers, in the forms a learner types them: any case, the version without v or +k3s1.
    let report = check_with_answers(
        &env,
        LAB,
        "meet-the-node",
        json!({"node-name": " Colima ", "kubelet-version": "1.28.7"}),
    )
    .await;
    report.assert_all_passed();
    // The answers are remembered: a plain Check still passes.
    env.check(LAB, "meet-the-node").await.assert_all_passed();
}

#[tokio::test]
async fn the_full_kubelet_version_is_right_too() {
    let env = env().await;
    env.put(colima_node());
    let report = check_with_answers(
        &env,
        LAB,
        "meet-the-node",
        json!({"node-name": "colima", "kubelet-version": "v1.28.7+k3s1"}),
    )
    .await;
    report.assert_all_passed();
}

#[tokio::test]
async fn a_node_that_is_not_ready_fails() {
    let env = env().await;
    let mut n = colima_node();
    n["status"]["conditions"][3] = json!({"type": "Ready", "status": "False", "reason": "KubeletNotReady",
        "message": "container runtime network not ready"});
    env.put(n);
    let report = env.check(LAB, "meet-the-node").await;
    assert_eq!(report.verdict("node-ready"), "failed", "{}", report.0);
    let (path, expected, _) = diag(&report, "node-ready");
    assert_eq!(path, "status.conditions");
    assert_eq!(
        expected,
        "an element with `status` = `\"True\"` and `type` = `\"Ready\"`"
    );
}

#[tokio::test]
async fn without_a_node_there_is_nothing_to_answer_from() {
    let env = env().await;
    let report =
        check_with_answers(&env, LAB, "meet-the-node", json!({"node-name": "colima"})).await;
    for id in ["node-ready", "node-name"] {
        assert_eq!(report.verdict(id), "failed", "{id}: {}", report.0);
        assert_eq!(diag(&report, id).2, "not found");
    }
}

#[tokio::test]
async fn allocatable_cpu_is_read_from_the_node() {
    let env = env().await;
    env.put(colima_node());
    put_lease(&env, node_lease());

    let report =
        check_with_answers(&env, LAB, "node-status", json!({"allocatable-cpu": "4"})).await;
    assert_eq!(report.verdict("allocatable-cpu"), "failed");
    assert_eq!(
        diag(&report, "allocatable-cpu"),
        (
            "answer".into(),
            "the value on your cluster".into(),
            "`\"4\"`".into()
        )
    );
    assert_eq!(report.verdict("node-lease"), "passed");

    check_with_answers(&env, LAB, "node-status", json!({"allocatable-cpu": "2"}))
        .await
        .assert_all_passed();
}

#[tokio::test]
async fn the_heartbeat_lease_must_exist_and_be_renewed() {
    let env = env().await;
    env.put(colima_node());
    let report = env.check(LAB, "node-status").await;
    assert_eq!(report.verdict("node-lease"), "failed");
    assert_eq!(
        diag(&report, "node-lease"),
        (
            "".into(),
            "a Lease to exist".into(),
            "not found in namespace `kube-node-lease`".into()
        )
    );

    // A Lease that has never been renewed does not count as a heartbeat.
    let mut lease = node_lease();
    lease["spec"]
        .as_object_mut()
        .expect("spec")
        .remove("renewTime");
    put_lease(&env, lease);
    let report = env.check(LAB, "node-status").await;
    assert_eq!(report.verdict("node-lease"), "failed");
    assert_eq!(
        diag(&report, "node-lease"),
        ("spec.renewTime".into(), "present".into(), "missing".into())
    );

    put_lease(&env, node_lease());
    assert_eq!(
        env.check(LAB, "node-status").await.verdict("node-lease"),
        "passed"
    );
}

#[tokio::test]
async fn the_runtime_is_answered_by_name_or_whole_value() {
    let env = env().await;
    env.put(colima_node());
    let report = check_with_answers(
        &env,
        LAB,
        "container-runtime",
        json!({"runtime-question": "containerd"}),
    )
    .await;
    assert_eq!(report.verdict("runtime-question"), "failed");
    assert_eq!(diag(&report, "runtime-question").2, "`\"containerd\"`");

    check_with_answers(
        &env,
        LAB,
        "container-runtime",
        json!({"runtime-question": "docker"}),
    )
    .await
    .assert_all_passed();
    check_with_answers(
        &env,
        LAB,
        "container-runtime",
        json!({"runtime-question": "Docker://24.0.7"}),
    )
    .await
    .assert_all_passed();
}

#[tokio::test]
async fn labelling_the_node_is_noticed() {
    let env = env().await;
    env.put(colima_node());
    let report = env.check(LAB, "label-node").await;
    assert_eq!(report.verdict("node-labelled"), "failed");
    assert_eq!(diag(&report, "node-labelled").2, "not found");

    // A typo in the value is not the label.
    label(&env, Some("nodes"));
    assert_eq!(
        env.check(LAB, "label-node").await.verdict("node-labelled"),
        "failed"
    );

    label(&env, Some("node"));
    env.check(LAB, "label-node").await.assert_all_passed();
}

#[tokio::test]
async fn cordon_then_a_pod_that_cannot_be_scheduled() {
    let env = env().await;
    env.put(colima_node());
    label(&env, Some("node"));

    let report = env.check(LAB, "cordon").await;
    assert_eq!(report.verdict("node-cordoned"), "failed");
    assert_eq!(
        diag(&report, "node-cordoned"),
        (
            "spec.unschedulable".into(),
            "`true`".into(),
            "missing".into()
        )
    );
    // Not cordoned, so the missing taint is a failure, not "wait a second".
    assert_eq!(report.verdict("unschedulable-taint"), "failed");
    assert_eq!(report.verdict("demo-unschedulable"), "failed");
    assert_eq!(
        diag(&report, "demo-unschedulable").2,
        "not found in namespace `default`"
    );

    // kubectl cordon: the field first, the control plane's taint a moment later.
    set_cordon(&env, true, false);
    let report = env.check(LAB, "cordon").await;
    assert_eq!(report.verdict("node-cordoned"), "passed");
    assert_eq!(
        report.verdict("unschedulable-taint"),
        "pending",
        "{}",
        report.0
    );
    set_cordon(&env, true, true);

    // The Pod was just created: the scheduler has not answered yet.
    env.put(cordon_demo(
        json!({"phase": "Pending", "qosClass": "Burstable"}),
    ));
    let report = env.check(LAB, "cordon").await;
    assert_eq!(report.verdict("unschedulable-taint"), "passed");
    assert_eq!(
        report.verdict("demo-unschedulable"),
        "pending",
        "{}",
        report.0
    );

    env.fake
        .patch_status(
            "v1",
            "Pod",
            Some("default"),
            "cordon-demo",
            unschedulable_status(),
        )
        .expect("the scheduler's status");
    env.check(LAB, "cordon").await.assert_all_passed();
}

#[tokio::test]
async fn a_demo_pod_created_before_the_cordon_is_running_and_fails() {
    let env = env().await;
    let mut n = colima_node();
    n["metadata"]["labels"]["kubelab-lab"] = json!("node");
    env.put(n);
    set_cordon(&env, true, true);
    let mut pod = cordon_demo(json!({"phase": "Running",
        "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}]}));
    pod["spec"]["nodeName"] = json!(NODE);
    env.put(pod);
    let report = env.check(LAB, "cordon").await;
    assert_eq!(report.verdict("node-cordoned"), "passed");
    assert_eq!(
        report.verdict("demo-unschedulable"),
        "failed",
        "{}",
        report.0
    );
    let diags = report.diagnostics("demo-unschedulable");
    assert!(
        diags
            .iter()
            .any(|(p, e, a)| p == "status.phase" && e == "`\"Pending\"`" && a == "`\"Running\"`"),
        "{diags:?}"
    );
}

#[tokio::test]
async fn uncordon_and_the_waiting_pod_starts() {
    let env = env().await;
    env.put(colima_node());
    label(&env, Some("node"));
    set_cordon(&env, true, true);
    env.put(cordon_demo(unschedulable_status()));

    let report = env.check(LAB, "uncordon").await;
    for id in ["node-schedulable", "taint-removed"] {
        assert_eq!(report.verdict(id), "failed", "{id}: {}", report.0);
        let (path, _, actual) = diag(&report, id);
        assert_eq!(path, "");
        assert!(actual.contains(NODE), "{id}: {actual}");
    }
    assert_eq!(report.verdict("demo-running"), "pending", "{}", report.0);

    // kubectl uncordon; the scheduler then binds the Pod and the kubelet starts it.
    set_cordon(&env, false, false);
    let report = env.check(LAB, "uncordon").await;
    assert_eq!(report.verdict("node-schedulable"), "passed");
    assert_eq!(report.verdict("taint-removed"), "passed");
    assert_eq!(report.verdict("demo-running"), "pending");

    // Bound and started (the fake has no binding subresource: the bound Pod replaces it).
    env.fake
        .delete("v1", "Pod", Some("default"), "cordon-demo")
        .expect("delete the pending Pod");
    let mut pod = cordon_demo(json!({"phase": "Running", "podIP": "10.42.0.9",
        "conditions": [{"type": "PodScheduled", "status": "True"}, {"type": "Ready", "status": "True"}],
        "containerStatuses": [{"name": "app", "ready": true, "restartCount": 0,
            "state": {"running": {"startedAt": "2026-11-29T09:01:00Z"}}}]}));
    pod["spec"]["nodeName"] = json!(NODE);
    env.put(pod);
    env.check(LAB, "uncordon").await.assert_all_passed();
}

#[tokio::test]
async fn a_pod_that_cannot_pull_its_image_is_not_left_pending() {
    let env = env().await;
    env.put(colima_node());
    let mut pod = cordon_demo(json!({"phase": "Pending",
        "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff", "message": "Back-off pulling image"}}}]}));
    pod["spec"]["nodeName"] = json!(NODE);
    env.put(pod);
    let report = env.check(LAB, "uncordon").await;
    assert_eq!(report.verdict("demo-running"), "failed", "{}", report.0);
    let diags = report.diagnostics("demo-running");
    assert!(
        diags
            .iter()
            .any(|(p, _, a)| p == "status.phase" && a == "`\"Pending\"`"),
        "{diags:?}"
    );
}

#[tokio::test]
async fn the_label_and_the_demo_pod_must_be_cleaned_up() {
    let env = env().await;
    env.put(colima_node());
    label(&env, Some("node"));
    env.put(cordon_demo(json!({"phase": "Running"})));

    let report = env.check(LAB, "node-failure").await;
    assert_eq!(report.verdict("demo-cleaned"), "failed");
    assert!(diag(&report, "demo-cleaned").2.contains("cordon-demo"));
    assert_eq!(report.verdict("label-removed"), "failed");
    assert!(diag(&report, "label-removed").2.contains(NODE));

    // Any value of the lab's label counts as left behind.
    label(&env, Some("other"));
    assert_eq!(
        env.check(LAB, "node-failure")
            .await
            .verdict("label-removed"),
        "failed"
    );

    env.fake
        .delete("v1", "Pod", Some("default"), "cordon-demo")
        .expect("delete cordon-demo");
    label(&env, None);
    env.check(LAB, "node-failure").await.assert_all_passed();
    // The node itself is still there, untouched otherwise.
    assert_eq!(
        node(&env)["status"]["nodeInfo"]["containerRuntimeVersion"],
        "docker://24.0.7"
    );
}

#[tokio::test]
async fn reset_leaves_the_node_alone_and_removes_the_demo_pod() {
    let env = env().await;
    env.put(colima_node());
    label(&env, Some("node"));
    env.put(cordon_demo(unschedulable_status()));
    env.reset_confirming(LAB, &["Pod/cordon-demo"]).await;
    assert!(
        env.fake
            .wait_for(std::time::Duration::from_secs(5), |f| f
                .get("v1", "Pod", Some("default"), "cordon-demo")
                .is_none())
            .await,
        "cordon-demo should be deleted by Reset lab"
    );
    assert_eq!(node(&env)["metadata"]["name"], NODE);
}
