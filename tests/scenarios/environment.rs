//! Scenarios: the `environment` lab — the cluster answers, a node is Ready, the server is 1.25 or
//! later (the fake is a 1.28.7 API server), the learner reads its version, metrics are served.

use serde_json::{Value, json};

use super::{Report, check_with_answers, env};

const LAB: &str = "environment";

/// A Node as a kubelet registers it, with the given Ready condition (none when `ready` is None).
fn node(name: &str, ready: Option<&str>) -> Value {
    let conditions: Vec<Value> = ready
        .map(|status| {
            vec![
                json!({"type": "MemoryPressure", "status": "False", "reason": "KubeletHasSufficientMemory"}),
                json!({"type": "Ready", "status": status,
                       "reason": if status == "True" { "KubeletReady" } else { "KubeletNotReady" },
                       "message": "container runtime network not ready"}),
            ]
        })
        .unwrap_or_default();
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "status": {
            "conditions": conditions,
            "nodeInfo": {"kubeletVersion": "v1.28.7+k3s1", "containerRuntimeVersion": "docker://24.0.7"}
        }
    })
}

#[tokio::test]
async fn start_needs_a_ready_node_and_says_when_it_is_only_getting_ready() {
    let env = env().await;

    // The API server answers, but no node has registered yet.
    let report = env.check(LAB, "start").await;
    assert_eq!(report.verdict("cluster-answers"), "passed", "{}", report.0);
    assert_eq!(report.verdict("node-ready"), "failed", "{}", report.0);
    let diags = report.diagnostics("node-ready");
    assert!(
        diags
            .iter()
            .any(|(p, e, a)| p.is_empty() && e.contains("Node") && a == "not found"),
        "{diags:?}"
    );

    // Registered, no Ready condition reported yet: getting ready, not broken.
    env.put(node("colima", None));
    let report = env.check(LAB, "start").await;
    assert_eq!(report.verdict("node-ready"), "pending", "{}", report.0);
    assert_eq!(report.status(), "pending");

    // The kubelet reports NotReady: a failure with the condition named.
    env.put(node("colima", Some("False")));
    let report = env.check(LAB, "start").await;
    assert_eq!(report.verdict("node-ready"), "failed", "{}", report.0);
    let diags = report.diagnostics("node-ready");
    assert!(
        diags
            .iter()
            .any(|(p, _, _)| p.starts_with("status.conditions")),
        "{diags:?}"
    );

    // Ready: the step passes.
    env.put(node("colima", Some("True")));
    let report = env.check(LAB, "start").await;
    report.assert_all_passed();
    assert_eq!(report.0["state"], "passed", "{}", report.0);
}

#[tokio::test]
async fn any_ready_node_of_several_is_enough() {
    let env = env().await;
    env.put(node("agent-1", Some("False")));
    env.put(node("colima", Some("True")));
    env.check(LAB, "start").await.assert_all_passed();
}

#[tokio::test]
async fn a_cluster_that_is_down_does_not_pass_the_first_step() {
    let env = env().await;
    env.put(node("colima", Some("True")));
    env.check(LAB, "start").await.assert_all_passed();

    env.fake.stop().await;
    let (status, body) = env
        .app
        .post_json(&format!("/api/labs/{LAB}/steps/start/check"))
        .await;
    if status == 200 {
        let report = Report(body);
        assert_ne!(report.verdict("cluster-answers"), "passed", "{}", report.0);
        assert_ne!(report.status(), "passed", "{}", report.0);
    } else {
        // The API refuses to give a verdict and says why instead.
        assert!(status >= 500, "{status}: {body}");
        assert!(
            body.to_string().to_lowercase().contains("cluster"),
            "{body}"
        );
    }
}

#[tokio::test]
async fn version_is_new_enough_and_the_learner_reads_it_off_the_server() {
    let env = env().await;

    // Not answered yet: the version check passes, the question waits for the learner.
    let report = env.check(LAB, "version").await;
    assert_eq!(report.verdict("new-enough"), "passed", "{}", report.0);
    assert_eq!(report.verdict("server-version"), "pending", "{}", report.0);
    assert_eq!(
        report.diagnostics("server-version"),
        vec![(
            "answer".to_owned(),
            "your answer".to_owned(),
            "not answered yet".to_owned()
        )]
    );

    // The notes' version (or kubectl's own client version) is not this cluster's: wrong, and
    // the right value is never given away.
    let report = check_with_answers(
        &env,
        LAB,
        "version",
        json!({"server-version": "v1.25.0+k3s1"}),
    )
    .await;
    assert_eq!(report.verdict("server-version"), "failed", "{}", report.0);
    let diags = report.diagnostics("server-version");
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].0, "answer");
    assert_eq!(diags[0].1, "the value on your cluster");
    assert_eq!(diags[0].2, "`\"v1.25.0+k3s1\"`");

    // The Server Version line of kubectl version, with or without the leading v.
    let report =
        check_with_answers(&env, LAB, "version", json!({"server-version": "v1.28.7"})).await;
    report.assert_all_passed();
    let report =
        check_with_answers(&env, LAB, "version", json!({"server-version": " 1.28.7 "})).await;
    report.assert_all_passed();

    // The answer is remembered: a plain Check later still passes.
    env.check(LAB, "version").await.assert_all_passed();
}

#[tokio::test]
async fn metrics_step_fails_without_metrics_server_and_passes_once_it_serves() {
    let env = env().await;
    env.fake.set_metrics_api(false);
    let report = env.check(LAB, "metrics").await;
    assert_eq!(report.verdict("metrics-api"), "failed", "{}", report.0);
    assert_eq!(
        report.diagnostics("metrics-api"),
        vec![(
            String::new(),
            "the cluster to serve `NodeMetrics` (`metrics.k8s.io/v1beta1`)".to_owned(),
            "not served".to_owned()
        )]
    );
    let reason = report.check("metrics-api")["reason"]["en"]
        .as_str()
        .unwrap_or("");
    assert!(
        reason.contains("metrics-server") && reason.contains("kube-system"),
        "the reason says what is missing and where: {reason}"
    );

    // metrics-server comes up (it registers its APIService after its first scrape).
    env.fake.set_metrics_api(true);
    let report = env.check_until(LAB, "metrics", "passed").await;
    report.assert_all_passed();
}
