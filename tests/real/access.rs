//! Access checks and token questions on a real API server (the access fixture lab, its own
//! kubelab): RBAC decides through SubjectAccessReview — the open step turns green by itself
//! after `kubectl create rolebinding`, too much access is named by its binding — and tokens from
//! `kubectl create token` are verified with TokenReview: wrong audience, too long, garbage, right.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::harness::{Gate, Kubectl, gate, real_options};
use super::live::LiveFeed;
use crate::app::{TestApp, spawn_app_with_labs_and_cluster};

const LAB: &str = "rbac";
const NS: &str = "rbac-demo";

async fn check(app: &TestApp, step: &str, answers: Value) -> Value {
    let (status, body) = app
        .post_json_with(
            &format!("/api/labs/{LAB}/steps/{step}/check"),
            &json!({ "answers": answers }),
        )
        .await;
    assert_eq!(status, 200, "check {step}: {body}");
    body
}

fn verdict<'a>(report: &'a Value, id: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == id))
        .map(|c| &c["verdict"])
        .unwrap_or_else(|| panic!("no check {id} in {report}"))
}

fn found(report: &Value, id: &str) -> String {
    verdict(report, id)["diagnostics"][0]["actual"]["en"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

#[tokio::test]
async fn access_checks_and_tokens_on_a_real_api_server() {
    let real = std::env::var("KUBELAB_REAL_CLUSTER").ok();
    let require = std::env::var("KUBELAB_REQUIRE_REAL_CLUSTER").ok();
    match gate(real.as_deref(), require.as_deref()) {
        Gate::Skip(message) => return eprintln!("{message}"),
        Gate::Fail(message) => panic!("{message}"),
        Gate::Run => {}
    }
    let k = Kubectl::admin();
    let _ = k
        .try_run(&[
            "delete",
            "namespace",
            NS,
            "--ignore-not-found",
            "--wait=true",
        ])
        .await;
    let labs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/labs/access");
    let app = spawn_app_with_labs_and_cluster(labs, real_options()).await;
    let outcome =
        futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(run(&app, &k))).await;
    app.stop().await;
    let _ = k
        .try_run(&["delete", "namespace", NS, "--wait=false"])
        .await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn run(app: &TestApp, k: &Kubectl) {
    let (status, body) = app
        .post_json(&format!("/api/labs/{LAB}/steps/grant/setup"))
        .await;
    assert_eq!(status, 200, "set up: {body}");
    let mut feed = LiveFeed::open(app, LAB).await;
    app.post_json(&format!("/api/labs/{LAB}/steps/grant/start"))
        .await;
    let todo = wait(&mut feed, "grant", |d| d.contains("result-todo")).await;
    assert!(
        todo.contains("not allowed: no RoleBinding or ClusterRoleBinding grants it"),
        "{todo}"
    );

    let bound = Instant::now();
    k.run(&[
        "create",
        "rolebinding",
        "reader-pod-reader",
        "--role=pod-reader",
        &format!("--serviceaccount={NS}:reader"),
        "-n",
        NS,
    ])
    .await;
    wait(&mut feed, "grant", |d| d.contains("data-state=\"passed\"")).await;
    eprintln!(
        "real cluster: access step green {:.1} s after kubectl create rolebinding, no Check",
        bound.elapsed().as_secs_f64()
    );
    let (_, lab) = app.get_json(&format!("/api/labs/{LAB}")).await;
    assert_eq!(lab["steps"][0]["progress"]["attempts"], 0, "{lab}");

    // Too much: edit lets reader delete Pods, and the verdict names the binding.
    k.run(&[
        "create",
        "rolebinding",
        "reader-edit",
        "--clusterrole=edit",
        &format!("--serviceaccount={NS}:reader"),
        "-n",
        NS,
    ])
    .await;
    let report = check(app, "grant", json!({})).await;
    assert_eq!(
        verdict(&report, "reader-cannot-delete")["status"],
        "failed",
        "{report}"
    );
    assert_eq!(
        found(&report, "reader-cannot-delete"),
        format!(
            "allowed: `RBAC: allowed by RoleBinding \"reader-edit/{NS}\" of ClusterRole \"edit\" to ServiceAccount \"reader/{NS}\"`"
        )
    );
    let can_i = k
        .try_run(&[
            "auth",
            "can-i",
            "delete",
            "pods",
            &format!("--as=system:serviceaccount:{NS}:reader"),
            "-n",
            NS,
        ])
        .await
        .unwrap_or_else(|e| e);
    let answer = check(app, "ask", json!({"can-delete": can_i.trim()})).await;
    assert_eq!(
        verdict(&answer, "can-delete")["status"],
        "passed",
        "kubectl said {can_i:?}: {answer}"
    );
    k.run(&["delete", "rolebinding", "reader-edit", "-n", NS])
        .await;
    let wrong = check(app, "ask", json!({"can-delete": "yes"})).await;
    assert_eq!(verdict(&wrong, "can-delete")["status"], "failed", "{wrong}");

    tokens(app, k).await;
}

async fn tokens(app: &TestApp, k: &Kubectl) {
    let create = |extra: &'static [&'static str]| async move {
        let mut args = vec!["create", "token", "reader", "-n", NS];
        args.extend_from_slice(extra);
        k.run(&args).await.trim().to_owned()
    };
    let plain = create(&[]).await;
    let report = check(app, "token", json!({"reader-token": plain})).await;
    assert_eq!(
        found(&report, "reader-token"),
        "a token for audience `https://kubernetes.default.svc.cluster.local`",
        "{report}"
    );
    let long = create(&["--audience", "kubelab", "--duration", "2h"]).await;
    let report = check(app, "token", json!({"reader-token": long})).await;
    assert!(
        found(&report, "reader-token").starts_with("valid for `2h`"),
        "{report}"
    );
    let report = check(app, "token", json!({"reader-token": "not-a-token"})).await;
    assert!(
        found(&report, "reader-token").starts_with("not a ServiceAccount token"),
        "{report}"
    );
    let good = create(&["--audience", "kubelab", "--duration", "30m"]).await;
    let report = check(app, "token", json!({"reader-token": good})).await;
    assert_eq!(
        verdict(&report, "reader-token")["status"],
        "passed",
        "{report}"
    );
    let signature = good.rsplit('.').next().unwrap_or(&good).to_owned();
    let (_, lab) = app.get_json(&format!("/api/labs/{LAB}")).await;
    assert!(
        !lab.to_string().contains(&signature),
        "the token is not kept"
    );
}

/// Reads the live stream until a `step` event of `step` whose data satisfies `pred`.
async fn wait(feed: &mut LiveFeed, step: &str, pred: impl Fn(&str) -> bool) -> String {
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut last = None;
    while let Some(event) = feed.next(deadline).await {
        if event.step() == Some(step) {
            if pred(&event.data) {
                return event.data;
            }
            last = Some(event.data);
        }
    }
    panic!("no matching `{step}` event within 40 s; last: {last:#?}");
}
