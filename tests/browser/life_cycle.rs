//! The step life cycle in a real browser: a fresh lab shows nothing red, a step that stops
//! holding shows as regressed (not done), and a Reset made elsewhere turns an open page back to
//! the start without a reload.

use serde_json::json;

use super::{Site, run};

/// Once Set up's Deployment exists (the page may show its name before: "what kubelab will
/// check"), plays the Deployment controller finishing the rollout.
async fn finish_rollout(site: &Site) {
    let created = site
        .fake
        .wait_for(std::time::Duration::from_secs(20), |f| {
            f.get("apps/v1", "Deployment", Some("default"), "nginx-deployment")
                .is_some()
        })
        .await;
    assert!(created, "Set up created nginx-deployment");
    site.fake
        .patch_status(
            "apps/v1",
            "Deployment",
            Some("default"),
            "nginx-deployment",
            json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3,
                   "availableReplicas": 3,
                   "conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}),
        )
        .expect("the fake updates the Deployment's status");
}

#[tokio::test]
async fn a_fresh_lab_shows_nothing_red() {
    run("fresh_lab", |page| async move {
        let site = Site::start().await;
        page.goto(&site.url("/labs/configmap")).await;
        page.wait_for_class("#connection", "connection-live").await;
        // The live stream has sent the first step's verdicts: still nothing red.
        page.wait_until(
            "the first step's live verdicts",
            "document.querySelector('#result-create-configmap .result-todo')",
        )
        .await;
        let red = page
            .eval(
                "document.querySelectorAll('.result-failed, .check-failed, .badge-regressed, \
                 .dot-regressed, .verdict-failed').length",
            )
            .await;
        assert_eq!(red, json!(0), "red on arrival");
        assert!(
            page.has_class("#step-create-configmap", "step-in-progress")
                .await
        );
        assert!(page.has_class("#step-pod", "step-not-started").await);
        // A step not started says what will be checked, neutrally.
        let later = page
            .eval("document.querySelector('#result-beyond-the-notes').textContent")
            .await;
        assert!(
            later
                .as_str()
                .is_some_and(|t| t.contains("What kubelab will check")),
            "{later}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_step_that_stops_holding_shows_as_regressed() {
    run("regressed", |page| async move {
        let site = Site::start().await;
        page.goto(&site.url("/labs/kubectl")).await;
        page.wait_for_class("#connection", "connection-live").await;
        page.click("#step-rollout-status .btn-setup").await;
        page.wait_for_text("#result-rollout-status", "nginx-deployment")
            .await;
        finish_rollout(&site).await;
        page.wait_for_class("#step-rollout-status", "step-passed")
            .await;
        // The learner deletes the Deployment: done once, failing now.
        site.fake
            .delete("apps/v1", "Deployment", Some("default"), "nginx-deployment")
            .expect("delete");
        page.wait_for_class("#step-rollout-status", "step-regressed")
            .await;
        let badge = page
            .wait_for_text("#badge-rollout-status", "Done, now failing")
            .await;
        assert_eq!(badge.trim(), "Done, now failing");
        assert!(
            !page.has_class("#step-rollout-status", "step-passed").await,
            "a regressed step keeps no Done badge"
        );
        page.wait_for_text("#result-rollout-status", "do not hold any more")
            .await;
    })
    .await;
}

#[tokio::test]
async fn a_reset_elsewhere_turns_the_open_page_back_to_the_start() {
    run("reset_elsewhere", |page| async move {
        let site = Site::start().await;
        page.goto(&site.url("/labs/kubectl")).await;
        page.wait_for_class("#connection", "connection-live").await;
        page.click("#step-rollout-status .btn-setup").await;
        page.wait_for_text("#result-rollout-status", "nginx-deployment")
            .await;
        finish_rollout(&site).await;
        page.wait_for_class("#step-rollout-status", "step-passed")
            .await;
        page.wait_for_text("#lab-progress", "1 / ").await;
        page.mark().await;

        // Another tab (or the instructor) resets the lab.
        let response = reqwest::Client::new()
            .post(site.url("/api/labs/kubectl/reset"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .expect("reset");
        assert_eq!(response.status().as_u16(), 200);

        page.wait_for_text("#lab-notice", "This lab was reset.")
            .await;
        page.wait_for_text("#lab-progress", "0 / ").await;
        assert!(
            !page.has_class("#step-rollout-status", "step-passed").await,
            "the step is back to the start"
        );
        page.wait_until(
            "the nav dot to be back to the start",
            "!document.querySelector('.lab-nav .nav-dot.dot-passed')",
        )
        .await;
        assert!(page.was_not_reloaded().await, "the page reloaded itself");
        // The refreshed steps still work: Set up again, and the step follows live.
        page.click("#step-rollout-status .btn-setup").await;
        page.wait_for_text("#result-rollout-status", "created")
            .await;
    })
    .await;
}
