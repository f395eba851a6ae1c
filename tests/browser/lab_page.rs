//! The lab page in a real browser: Set up lists what it created, a cluster change turns the step
//! green by itself (no reload, no Check), the next step unfolds, copy buttons copy, the language
//! toggle sticks, hints unfold one at a time, the page resumes its live stream after kubelab
//! restarts, and a question is answered in the page.

use serde_json::{Value, json};

use super::{Page, Site, run};

/// What the Deployment controller reports once all three nginx replicas are up.
fn rolled_out() -> Value {
    json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3,
           "availableReplicas": 3,
           "conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]})
}

fn finish_rollout(site: &Site) {
    site.fake
        .patch_status(
            "apps/v1",
            "Deployment",
            Some("default"),
            "nginx-deployment",
            rolled_out(),
        )
        .expect("the fake updates the Deployment's status");
}

/// Which of the elements matching `css` are shown, in document order.
async fn shown(page: &Page, css: &str) -> Vec<bool> {
    let elements = page
        .client
        .find_all(fantoccini::Locator::Css(css))
        .await
        .unwrap_or_default();
    let mut out = Vec::new();
    for e in elements {
        out.push(e.is_displayed().await.unwrap_or(false));
    }
    out
}

async fn click_nth(page: &Page, css: &str, n: usize) {
    let elements = page
        .client
        .find_all(fantoccini::Locator::Css(css))
        .await
        .unwrap_or_default();
    let element = elements
        .get(n)
        .unwrap_or_else(|| panic!("no element {n} of {css}"));
    element
        .click()
        .await
        .unwrap_or_else(|e| panic!("clicking element {n} of {css}: {e}"));
}

#[tokio::test]
async fn set_up_lists_the_objects_and_the_step_turns_green_without_reload_or_check() {
    run("set_up_then_live_pass", |page| async move {
        let site = Site::start().await;
        page.goto(&site.url("/labs/kubectl")).await;
        page.wait_for_class("#connection", "connection-live").await;
        page.mark().await;

        page.click("#step-rollout-status .btn-setup").await;
        // The result panel lists what Set up created.
        let result = page
            .wait_for_text("#result-rollout-status", "nginx-deployment")
            .await;
        assert!(result.contains("Deployment"), "{result}");
        // The live objects panel shows it too, without a reload.
        page.wait_for_text("#live-objects", "nginx-deployment")
            .await;
        assert!(!page.has_class("#step-rollout-status", "step-passed").await);

        // The cluster reaches the expected state; nobody presses Check.
        finish_rollout(&site);
        page.wait_for_class("#step-rollout-status", "step-passed")
            .await;
        let badge = page.wait_for_text("#badge-rollout-status", "Done").await;
        assert_eq!(badge.trim(), "Done");
        page.wait_for_text("#result-rollout-status", "passed").await;
        page.wait_for_text("#live-objects", "3/3 ready").await;
        // The nav's dot follows, and the next step unfolds.
        page.wait_until(
            "the nav dot to turn done",
            "document.querySelector('.lab-nav a[data-step=\"rollout-status\"] .nav-dot.dot-passed')",
        )
        .await;
        page.wait_until(
            "the next step to unfold",
            "document.querySelector('#step-explore details.step-fold').open",
        )
        .await;
        assert!(page.has_class("#step-explore", "step-current").await);
        // Progress is updated from the server, still without a reload.
        page.wait_for_text("#lab-progress", "1 / ").await;
        assert!(page.was_not_reloaded().await, "the page reloaded itself");

        // And it is remembered: a reload shows the step done.
        page.reload().await;
        assert!(page.has_class("#step-rollout-status", "step-passed").await);
    })
    .await;
}

#[tokio::test]
async fn the_copy_button_copies_the_command() {
    run("copy_button", |page| async move {
        let site = Site::start().await;
        page.goto(&site.url("/labs/kubectl")).await;
        let button = "#step-rollout-status button[data-copy]";
        page.wait_until(
            "the copy buttons to be shown",
            &format!("document.querySelector('{button}') && !document.querySelector('{button}').hidden"),
        )
        .await;
        page.record_copies().await;
        let expected = page
            .eval(&format!(
                "document.querySelector('{button}').closest('.code-block').querySelector('pre').innerText.replace(/\\n$/, '')"
            ))
            .await;
        assert!(
            expected.as_str().is_some_and(|t| t.contains("replicas: 3")),
            "{expected}"
        );

        page.click(button).await;
        let feedback = page
            .wait_until(
                "the button to say Copied",
                &format!("document.querySelector('{button}').textContent === 'Copied' && document.querySelector('{button}').classList.contains('is-copied')"),
            )
            .await;
        assert_eq!(feedback, Value::Bool(true));
        let copied = page.eval("window.kubelabCopied").await;
        assert_eq!(
            copied.as_array().and_then(|a| a.last()),
            Some(&expected),
            "what was copied: {copied}"
        );
        // The feedback goes away by itself.
        page.wait_until(
            "the button to say Copy again",
            &format!("document.querySelector('{button}').textContent === 'Copy'"),
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn the_language_toggle_switches_to_chinese_and_stays_after_a_reload() {
    run("language_toggle", |page| async move {
        let site = Site::start().await;
        page.goto(&site.url("/labs/kubectl")).await;
        page.wait_for_text("#step-rollout-status .btn-setup", "Set up")
            .await;
        assert_eq!(page.eval("document.documentElement.lang").await, "en");

        page.click(".lang-toggle a[lang=\"zh\"]").await;
        page.wait_until(
            "the page to be in Chinese",
            "document.documentElement.lang.startsWith('zh') && document.readyState === 'complete'",
        )
        .await;
        page.wait_for_text("#step-rollout-status .btn-setup", "准备环境")
            .await;
        page.wait_for_text("h1", "kubectl：等待部署完成").await;
        assert!(
            page.eval("location.pathname").await == "/labs/kubectl",
            "the toggle leads back to the same lab"
        );

        page.reload().await;
        assert!(
            page.eval("document.documentElement.lang")
                .await
                .as_str()
                .is_some_and(|l| l.starts_with("zh"))
        );
        page.wait_for_text("#step-rollout-status .btn-setup", "准备环境")
            .await;
        // Other pages follow the choice too.
        page.goto(&site.url("/")).await;
        assert!(
            page.eval("document.documentElement.lang")
                .await
                .as_str()
                .is_some_and(|l| l.starts_with("zh"))
        );

        // And back.
        page.click(".lang-toggle a[lang=\"en\"]").await;
        page.wait_until(
            "the page to be in English",
            "document.documentElement.lang === 'en' && document.readyState === 'complete'",
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn hints_unfold_one_at_a_time() {
    run("hints", |page| async move {
        let site = Site::start().await;
        page.goto(&site.url("/labs/kubectl")).await;
        let bodies = "#step-rollout-status details.hint > .hint-body";
        let summaries = "#step-rollout-status details.hint > summary";
        page.wait_until(
            "the first step to be open",
            "document.querySelector('#step-rollout-status details.step-fold').open",
        )
        .await;
        assert_eq!(shown(&page, bodies).await, [false, false, false]);
        assert_eq!(shown(&page, summaries).await, [true, false, false]);

        click_nth(&page, summaries, 0).await;
        page.wait_until(
            "the first hint to open",
            "document.querySelectorAll('#step-rollout-status details.hint')[0].open",
        )
        .await;
        assert_eq!(shown(&page, bodies).await, [true, false, false]);
        assert_eq!(shown(&page, summaries).await, [true, true, false]);
        page.wait_for_text(summaries, "(2/3)").await;

        click_nth(&page, summaries, 1).await;
        page.wait_until(
            "the second hint to open",
            "document.querySelectorAll('#step-rollout-status details.hint')[1].open",
        )
        .await;
        assert_eq!(shown(&page, bodies).await, [true, true, false]);
        assert_eq!(shown(&page, summaries).await, [true, true, true]);

        // Folding the first folds the others: unfolding it again shows one hint, not two.
        click_nth(&page, summaries, 0).await;
        page.wait_until(
            "the hints to fold",
            "!document.querySelectorAll('#step-rollout-status details.hint')[0].open",
        )
        .await;
        assert_eq!(shown(&page, bodies).await, [false, false, false]);
        click_nth(&page, summaries, 0).await;
        page.wait_until(
            "the first hint to open again",
            "document.querySelectorAll('#step-rollout-status details.hint')[0].open",
        )
        .await;
        assert_eq!(shown(&page, bodies).await, [true, false, false]);

        // A learner stuck on the current step is offered the first hint (here after one
        // second instead of the default few minutes).
        click_nth(&page, summaries, 0).await;
        page.eval("document.querySelector('#step-rollout-status').setAttribute('data-hint-after', '1')")
            .await;
        page.wait_until(
            "the first hint to be offered",
            "document.querySelector('#step-rollout-status .hint-offer') && !document.querySelector('#step-rollout-status .hint-offer').hidden",
        )
        .await;
        assert_eq!(shown(&page, bodies).await, [true, false, false]);
    })
    .await;
}

#[tokio::test]
async fn the_page_resumes_its_live_stream_after_kubelab_restarts() {
    run("reconnect_after_restart", |page| async move {
        let mut site = Site::start().await;
        let addr = site.addr();
        page.goto(&site.url("/labs/kubectl")).await;
        page.wait_for_class("#connection", "connection-live").await;
        page.click("#step-rollout-status .btn-setup").await;
        page.wait_for_text("#live-objects", "nginx-deployment")
            .await;
        page.mark().await;

        site.stop().await;
        page.wait_until(
            "the page to say kubelab is gone",
            "!document.querySelector('#connection').classList.contains('connection-live')",
        )
        .await;

        site.start_again().await;
        assert_eq!(site.addr(), addr, "started again on the same port");
        page.wait_for_class("#connection", "connection-live").await;

        // A change after the restart reaches the same page.
        finish_rollout(&site);
        page.wait_for_class("#step-rollout-status", "step-passed")
            .await;
        page.wait_for_text("#live-objects", "3/3 ready").await;
        assert!(page.was_not_reloaded().await, "the page reloaded itself");
    })
    .await;
}

#[tokio::test]
async fn a_question_is_answered_in_the_page() {
    run("question", |page| async move {
        let site = Site::start().await;
        page.goto(&site.url("/labs/environment#step-version")).await;
        page.wait_until(
            "the linked step to unfold",
            "document.querySelector('#step-version details.step-fold').open",
        )
        .await;
        let input = "#answer-version-server-version";
        assert!(page.is_displayed(input).await);

        // The notes' version is not this cluster's.
        page.fill(input, "v1.25.0+k3s1").await;
        page.click("#check-version .btn-check").await;
        // Still in progress: a wrong answer is not a regression, and the panel says it failed.
        page.wait_for_text("#result-version", "Not there yet").await;
        assert!(page.has_class("#step-version", "step-in-progress").await);
        let result = page.wait_for_text("#result-version", "v1.25.0").await;
        assert!(result.contains("Server Version"), "{result}");

        // The fake is a 1.28.7 API server.
        page.fill(input, "v1.28.7").await;
        page.click("#check-version .btn-check").await;
        page.wait_for_class("#step-version", "step-passed").await;
        page.wait_for_text("#badge-version", "Done").await;

        // The answer is remembered, also by the live stream that resumes after the reload.
        page.reload().await;
        // The stream's initial events (connection, objects, then each step) have arrived.
        page.wait_until(
            "the live stream's first events",
            "document.querySelector('#live-objects').children.length > 0",
        )
        .await;
        assert!(
            page.has_class("#step-version", "step-passed").await,
            "the answered step is not done after a reload: {}",
            page.eval("document.querySelector('#result-version').innerText")
                .await
        );
        assert_eq!(
            page.eval(&format!("document.querySelector('{input}').value"))
                .await,
            "v1.28.7"
        );
    })
    .await;
}
