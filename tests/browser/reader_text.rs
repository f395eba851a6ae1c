//! A workshop learner's lab page in a real browser: the commands of the step text name their
//! own namespace, and so do what **Copy** copies and what **Run** types into their terminal;
//! `kubectl` typed into their toolbox terminal answers for their namespace and no other.

use kubelab::cluster::ToolboxSpec;
use kubelab::engine::{TerminalConfig, TerminalLimits, TerminalMode};
use serde_json::{Value, json};

use super::{Page, Site, run};

const INSTRUCTOR: &str = "instructor-token-for-the-tests-0123456789";

/// The shell block of step `create-configmap` that shows the ConfigMap as YAML.
const BLOCK: &str = "Array.from(document.querySelectorAll('#step-create-configmap .code-block')).find(b => b.querySelector('pre').innerText.includes('get configmap base-map'))";

/// A workshop offering the configmap lab, with each learner's terminal in their toolbox; returns
/// the site and the join code.
async fn workshop() -> (Site, String) {
    let terminal = TerminalConfig {
        mode: TerminalMode::Toolbox(ToolboxSpec::default()),
        limits: TerminalLimits::default(),
    };
    let site = Site::start_with(terminal, true).await;
    site.fake.simulate_workloads(true);
    kubelab::startup::instructor_credential(&site.app().engine, Some(INSTRUCTOR))
        .await
        .expect("instructor token");
    let created: Value = reqwest::Client::new()
        .post(site.url("/api/instructor/workshops"))
        .bearer_auth(INSTRUCTOR)
        .header("content-type", "application/json")
        .body(json!({"name": "t", "labs": ["configmap"], "capacity": 5, "hours": 2}).to_string())
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let code = created["code"].as_str().expect("code").to_owned();
    (site, code)
}

/// Joins as `name` through the join page's form, then opens the configmap lab.
async fn join(page: &Page, site: &Site, code: &str, name: &str) {
    page.goto(&site.url(&format!("/join/{code}"))).await;
    page.fill("#join-name", name).await;
    page.click(".join-form button[type=submit]").await;
    page.wait_until(
        "the join to finish",
        "!location.pathname.startsWith('/join')",
    )
    .await;
    page.goto(&site.url("/labs/configmap")).await;
}

#[tokio::test]
async fn copy_and_run_carry_the_learners_namespace() {
    run("reader_text_copy_run", |page| async move {
        let (site, code) = workshop().await;
        join(&page, &site, &code, "Alice").await;
        let namespace = site
            .fake
            .list("v1", "Namespace", None)
            .iter()
            .filter_map(|n| n["metadata"]["name"].as_str().map(str::to_owned))
            .find(|n| n.starts_with("kl-"))
            .expect("Alice's namespace");
        let expected = format!("kubectl get configmap base-map -n {namespace} -o yaml");

        page.wait_until(
            "the shell block's Copy and Run buttons",
            &format!("{BLOCK} && {BLOCK}.querySelector('button[data-copy]:not([hidden])') && {BLOCK}.querySelector('button[data-run]')"),
        )
        .await;
        let shown = page
            .eval(&format!("{BLOCK}.querySelector('pre').innerText.replace(/\\n+$/, '')"))
            .await;
        assert_eq!(shown, Value::String(expected.clone()));
        let text = page.eval("document.getElementById('step-create-configmap').innerText").await;
        let text = text.as_str().unwrap_or_default();
        assert!(!text.contains("fly-k8s") && !text.contains("{kubelab:"), "{text}");

        page.record_copies().await;
        page.eval(&format!("({BLOCK}.querySelector('button[data-copy]').click(), true)"))
            .await;
        page.wait_until(
            "the command to be copied",
            "window.kubelabCopied && window.kubelabCopied.length > 0",
        )
        .await;
        let copied = page.eval("window.kubelabCopied[window.kubelabCopied.length - 1]").await;
        assert_eq!(copied, Value::String(expected.clone()));

        page.wait_until(
            "the terminal to connect",
            "document.getElementById('terminal').getAttribute('data-state') === 'connected'",
        )
        .await;
        page.eval(&format!("({BLOCK}.querySelector('button[data-run]').click(), true)"))
            .await;
        let expected_js = serde_json::to_string(&expected).expect("string");
        page.wait_until(
            "Run to type the command with her namespace into the terminal",
            &format!(
                "(function () {{ var b = window.kubelabTerminal && window.kubelabTerminal.buffer.active; \
                 if (!b) {{ return false; }} var out = []; for (var i = 0; i < b.length; i++) {{ \
                 var l = b.getLine(i); out.push(l ? l.translateToString(true) : ''); }} \
                 return out.join('').includes({expected_js}); }})()"
            ),
        )
        .await;
    })
    .await;
}

/// Everything the terminal's buffer holds, lines joined (a long line wraps into several).
const TERMINAL_TEXT: &str = "(function () { var b = window.kubelabTerminal && window.kubelabTerminal.buffer.active; \
    if (!b) { return ''; } var out = []; for (var i = 0; i < b.length; i++) { \
    var l = b.getLine(i); out.push(l ? l.translateToString(true) : ''); } return out.join('\\n'); })()";

#[tokio::test]
async fn kubectl_typed_in_the_toolbox_terminal_answers_for_the_learners_namespace() {
    run("toolbox_kubectl_get_pods", |page| async move {
        let (site, code) = workshop().await;
        join(&page, &site, &code, "Bob").await;
        page.wait_until(
            "the terminal to connect to Bob's toolbox",
            "document.getElementById('terminal').getAttribute('data-state') === 'connected'",
        )
        .await;
        let toolbox = site
            .fake
            .list("v1", "Pod", None)
            .into_iter()
            .find(|p| p["metadata"]["name"] == kubelab::cluster::TOOLBOX_POD)
            .expect("the toolbox Pod, created on first use");
        let namespace = toolbox["metadata"]["namespace"]
            .as_str()
            .expect("namespace")
            .to_owned();
        assert!(namespace.starts_with("kl-"), "{namespace}");

        let input = page
            .client
            .find(fantoccini::Locator::Css("#terminal .xterm-helper-textarea"))
            .await
            .expect("the terminal's input");
        input.send_keys("kubectl get pods\n").await.expect("typing");
        page.wait_until(
            "kubectl's table of Bob's Pods, the toolbox Running among them",
            &format!(
                "{TERMINAL_TEXT}.split('\\n').some(l => /^NAME\\s+READY\\s+STATUS\\s+RESTARTS\\s+AGE$/.test(l.trim())) && \
                 {TERMINAL_TEXT}.split('\\n').some(l => /^toolbox\\s+1\\/1\\s+Running\\s+0\\s+\\S+$/.test(l.trim()))"
            ),
        )
        .await;

        input
            .send_keys("kubectl get pods -n default\n")
            .await
            .expect("typing");
        page.wait_until(
            "RBAC to refuse another namespace, as kubectl says it",
            &format!(
                "{TERMINAL_TEXT}.replace(/\\n/g, '').includes('Error from server (Forbidden): pods is forbidden: User \"system:serviceaccount:{namespace}:learner\" cannot list resource \"pods\"')"
            ),
        )
        .await;
        let state = page
            .eval("document.getElementById('terminal').getAttribute('data-state')")
            .await;
        assert_eq!(state, "connected", "the shell stays open between commands");
        let sessions = site.fake.exec_sessions();
        let shell = sessions
            .iter()
            .find(|s| s.call.pod == kubelab::cluster::TOOLBOX_POD)
            .expect("an exec session into the toolbox");
        assert_eq!(shell.call.namespace, namespace, "Bob's own toolbox");
    })
    .await;
}
