//! Objects being deleted (issue #8, item 9): a Pod that a real kubelet is still stopping keeps
//! phase Running and Ready True for its whole grace period, yet `kubectl get pods` shows it
//! `Terminating`. It must not count as one of the kubectl lab's "three Pods ready", and an
//! `absent` check over it waits (pending) until it is really gone. The fake's kubelet holds
//! deleted Pods until the test ends their grace period, so every state in between is seen.

use std::time::Duration;

use serde_json::{Value, json};

use kubelab::engine::{LiveEvent, LiveSubscription, StepReport, StepState};

use super::{Env, Report, env, next_second};
use crate::support::PodTermination;

const NGINX: &str = "/apis/apps/v1/namespaces/default/deployments/nginx-deployment";

/// A request to the fake API server as kubectl 1.28 sends it; returns the status code.
async fn kubectl(env: &Env, method: reqwest::Method, path: &str, body: Option<Value>) -> u16 {
    let mut request = reqwest::Client::new()
        .request(method, format!("{}{path}", env.fake.url()))
        .bearer_auth(env.fake.token())
        .header(
            "user-agent",
            "kubectl/v1.28.7 (linux/amd64) kubernetes/c8dcb00",
        );
    if let Some(body) = body {
        request = request
            .header("content-type", "application/merge-patch+json")
            .body(body.to_string());
    }
    let response = request.send().await.expect("the fake answers");
    response.status().as_u16()
}

/// `kubectl scale deployment nginx-deployment --replicas=N`: a merge patch of the Deployment's
/// scale subresource.
async fn scale_nginx(env: &Env, replicas: u64) {
    let status = kubectl(
        env,
        reqwest::Method::PATCH,
        &format!("{NGINX}/scale?fieldManager=kubectl-scale"),
        Some(json!({"spec": {"replicas": replicas}})),
    )
    .await;
    assert_eq!(status, 200, "kubectl scale --replicas={replicas}");
}

fn nginx_pods(env: &Env) -> Vec<Value> {
    env.fake
        .list("v1", "Pod", Some("default"))
        .into_iter()
        .filter(|p| p["metadata"]["labels"]["app"] == "nginx")
        .collect()
}

/// `name` of `namespace/name`.
fn name_of(id: &str) -> &str {
    id.split_once('/').map_or(id, |(_, name)| name)
}

fn ready(pod: &Value) -> bool {
    pod["status"]["phase"] == "Running"
        && pod["status"]["conditions"].as_array().is_some_and(|c| {
            c.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

/// Waits for the live feed's next report on `step` that `until` accepts (up to 10 s).
async fn live_report(
    live: &mut LiveSubscription,
    step: &str,
    until: impl Fn(&StepReport) -> bool,
) -> StepReport {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, live.receiver.recv()).await {
            Ok(Ok(LiveEvent::Step(report))) if report.step == step && until(&report) => {
                return report;
            }
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => panic!("the live feed closed: {e}"),
            Err(_) => panic!("no live report on {step} arrived"),
        }
    }
}

/// One check's verdict status in a live report (`passed`, `failed`, `pending`, `error`).
fn live_verdict(report: &StepReport, check: &str) -> String {
    let verdict = report
        .checks
        .iter()
        .find(|c| c.id == check)
        .map(|c| serde_json::to_value(&c.verdict).expect("a verdict serializes"))
        .unwrap_or_else(|| panic!("no check {check} in the live report"));
    verdict["status"].as_str().unwrap_or("").to_owned()
}

/// Waits for the live panel's objects to show an object `name` with `status` (up to 10 s).
async fn live_object(live: &mut LiveSubscription, name: &str, status: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, live.receiver.recv()).await {
            Ok(Ok(LiveEvent::Objects { objects, .. }))
                if objects.iter().any(|o| o.name == name && o.status == status) =>
            {
                return;
            }
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            Ok(Err(e)) => panic!("the live feed closed: {e}"),
            Err(_) => panic!("the live panel never showed {name} as {status}"),
        }
    }
}

/// The zh wording of a check's only diagnostic's "found".
fn actual_zh(report: &Report, check: &str) -> String {
    report.check(check)["verdict"]["diagnostics"][0]["actual"]["zh"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test]
async fn a_terminating_pod_is_not_one_of_the_three_ready_after_a_scale_down() {
    let env = env().await;
    env.fake.simulate_workloads(true);
    env.fake.set_pod_termination(PodTermination::Manual);
    env.setup("kubectl", "rollout-status").await;
    env.check_until("kubectl", "rollout-status", "passed").await;
    next_second().await;
    let report = env.check_until("kubectl", "explore", "passed").await;
    assert_eq!(report.0["state"], "passed", "{}", report.0);

    // An open lab page follows the step live (one feed read for steps, one for the objects).
    env.app.engine().open_lab("kubectl").await.expect("open");
    let engine = env.app.engine();
    let mut live = engine.subscribe("kubectl").await.expect("subscribe");
    let mut panel = engine.subscribe("kubectl").await.expect("subscribe");

    scale_nginx(&env, 2).await;
    assert!(
        env.fake
            .wait_for(Duration::from_secs(10), |f| f.terminating_pods().len() == 1)
            .await,
        "the ReplicaSet deletes one Pod, gracefully"
    );
    let going = env.fake.terminating_pods()[0].clone();
    let pods = nginx_pods(&env);
    assert_eq!(pods.len(), 3, "the deleted Pod is still listed");
    let terminating = pods
        .iter()
        .find(|p| format!("default/{}", p["metadata"]["name"].as_str().unwrap_or("")) == going)
        .expect("the terminating Pod");
    assert!(
        terminating["metadata"]["deletionTimestamp"].is_string() && ready(terminating),
        "as on a real kubelet, it still says Running and Ready: {terminating}"
    );

    // The learner's page shows it as kubectl does, and turns the step to regressed without a
    // Check...
    live_object(&mut panel, name_of(&going), "Terminating").await;
    let pushed = live_report(&mut live, "explore", |r| r.state != StepState::Passed).await;
    assert_eq!(pushed.state, StepState::Regressed);
    assert_eq!(live_verdict(&pushed, "three-pods-ready"), "failed");

    // ...and Check says why: two Pods, and one being deleted that does not count.
    let report = env.check("kubectl", "explore").await;
    assert_eq!(report.verdict("three-pods-ready"), "failed", "{}", report.0);
    assert_eq!(report.0["state"], "regressed", "{}", report.0);
    assert_eq!(
        report.diagnostics("three-pods-ready"),
        vec![(
            String::new(),
            "matching objects: at least 3".to_owned(),
            "2 matching (of 3 found, 1 being deleted)".to_owned()
        )]
    );
    assert_eq!(
        actual_zh(&report, "three-pods-ready"),
        "2 个匹配（共找到 3 个，其中 1 个正在删除）"
    );

    // The kubelet stops it: gone, and still only two.
    assert!(env.fake.finish_pod_termination("default", name_of(&going)));
    assert!(
        env.fake
            .wait_for(Duration::from_secs(10), |_| nginx_pods(&env).len() == 2)
            .await,
        "the Pod is gone once its grace period ended"
    );
    let report = env.check("kubectl", "explore").await;
    assert_eq!(report.verdict("three-pods-ready"), "failed", "{}", report.0);
    assert_eq!(
        report.diagnostics("three-pods-ready")[0].2,
        "2 matching (of 2 found)"
    );

    // kubectl scale --replicas=3: a third Pod starts, and the step holds again.
    scale_nginx(&env, 3).await;
    let report = env.check_until("kubectl", "explore", "passed").await;
    assert_eq!(report.0["state"], "passed", "{}", report.0);
}

#[tokio::test]
async fn an_absent_check_waits_while_its_pod_terminates() {
    let env = env().await;
    env.fake.simulate_workloads(true);
    env.fake.set_pod_termination(PodTermination::Manual);
    env.setup("hpa", "load").await;
    assert!(
        env.fake
            .wait_for(Duration::from_secs(10), |f| {
                f.get("v1", "Pod", Some("default"), "load-generator")
                    .is_some_and(|p| ready(&p))
            })
            .await,
        "the simulated kubelet runs load-generator"
    );
    let report = env.check("hpa", "stop-load").await;
    assert_eq!(report.verdict("load-stopped"), "failed", "{}", report.0);
    let mut live = env.app.engine().subscribe("hpa").await.expect("subscribe");

    // kubectl delete pod load-generator: graceful, the Pod stays for its grace period.
    let status = kubectl(
        &env,
        reqwest::Method::DELETE,
        "/api/v1/namespaces/default/pods/load-generator",
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(env.fake.terminating_pods(), ["default/load-generator"]);

    let pushed = live_report(&mut live, "stop-load", |r| {
        live_verdict(r, "load-stopped") != "failed"
    })
    .await;
    assert_eq!(
        live_verdict(&pushed, "load-stopped"),
        "pending",
        "not passed while the Pod is still there"
    );
    assert_eq!(pushed.state, StepState::InProgress);

    let report = env.check("hpa", "stop-load").await;
    assert_eq!(report.verdict("load-stopped"), "pending", "{}", report.0);
    assert_eq!(report.status(), "pending");
    assert_eq!(report.0["state"], "in-progress", "{}", report.0);
    assert_eq!(
        report.diagnostics("load-stopped"),
        vec![(
            String::new(),
            "no Pod `load-generator`".to_owned(),
            "`default/load-generator` being deleted (Terminating)".to_owned()
        )]
    );
    assert!(
        actual_zh(&report, "load-stopped").contains("正在删除"),
        "{}",
        report.0
    );

    // The grace period ends: the Pod is gone, the check passes and the step counts.
    assert!(env.fake.finish_pod_termination("default", "load-generator"));
    let pushed = live_report(&mut live, "stop-load", |r| {
        live_verdict(r, "load-stopped") == "passed"
    })
    .await;
    assert_eq!(pushed.state, StepState::Passed);
    assert!(
        env.fake
            .get("v1", "Pod", Some("default"), "load-generator")
            .is_none()
    );
    let report = env.check("hpa", "stop-load").await;
    report.assert_all_passed();
    assert_eq!(report.0["state"], "passed", "{}", report.0);
}
