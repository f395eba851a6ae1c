//! The terminal panel in a real browser (local mode, `/bin/sh` behind a pty): typing shows the
//! shell's answer, a reload re-attaches to the same shell with its scrollback, and Run types a
//! step's command into the terminal.

use kubelab::engine::{TerminalConfig, TerminalLimits, TerminalMode};

use super::{Page, Site, run};

fn local_terminal() -> TerminalConfig {
    TerminalConfig {
        mode: TerminalMode::Local {
            shell: vec!["/bin/sh".into()],
        },
        limits: TerminalLimits::default(),
    }
}

/// Everything the terminal's buffer holds, as text.
const BUFFER: &str = "(function () { var b = window.kubelabTerminal && window.kubelabTerminal.buffer.active; \
    if (!b) { return ''; } var out = []; for (var i = 0; i < b.length; i++) { \
    var l = b.getLine(i); out.push(l ? l.translateToString(true) : ''); } return out.join('\\n'); })()";

async fn wait_for_terminal(page: &Page, text: &str) {
    let text_js = serde_json::to_string(text).expect("string");
    page.wait_until(
        &format!("the terminal to show {text:?}"),
        &format!("{BUFFER}.includes({text_js})"),
    )
    .await;
}

async fn type_into_terminal(page: &Page, keys: &str) {
    let textarea = page
        .client
        .find(fantoccini::Locator::Css("#terminal .xterm-helper-textarea"))
        .await
        .expect("the terminal's input");
    textarea.send_keys(keys).await.expect("typing");
}

#[tokio::test]
async fn typing_in_the_terminal_shows_the_shells_answer_and_a_reload_keeps_it() {
    run("terminal_type_and_reload", |page| async move {
        let site = Site::start_with_terminal(local_terminal()).await;
        page.goto(&site.url("/labs/configmap")).await;
        page.wait_until(
            "the terminal to connect",
            "document.getElementById('terminal').getAttribute('data-state') === 'connected'",
        )
        .await;
        type_into_terminal(&page, "echo hi-$((6*7))\n").await;
        wait_for_terminal(&page, "hi-42").await;
        page.reload().await;
        wait_for_terminal(&page, "hi-42").await;
        let state = page
            .eval("document.getElementById('terminal').getAttribute('data-state')")
            .await;
        assert_eq!(state, "connected");
        assert_eq!(site.app().engine.open_terminals(), 1, "the same shell");
    })
    .await;
}

#[tokio::test]
async fn run_types_the_steps_command_into_the_terminal() {
    run("terminal_run_button", |page| async move {
        let site = Site::start_with_terminal(local_terminal()).await;
        page.goto(&site.url("/labs/configmap")).await;
        page.wait_until(
            "Run buttons beside the Copy buttons",
            "document.querySelectorAll('button[data-run]').length > 0 && \
             document.querySelectorAll('button[data-run]').length === document.querySelectorAll('button[data-copy]').length",
        )
        .await;
        page.wait_until(
            "the terminal to connect",
            "document.getElementById('terminal').getAttribute('data-state') === 'connected'",
        )
        .await;
        let command = page
            .eval(
                "(function () { var b = document.querySelector('button[data-run]'); \
                 b.closest('details') && (b.closest('details').open = true); \
                 return b.closest('.code-block').querySelector('pre').innerText.split('\\n')[0].trim(); })()",
            )
            .await;
        let command = command.as_str().expect("a command").to_owned();
        page.eval("(document.querySelector('button[data-run]').click(), true)")
            .await;
        wait_for_terminal(&page, &command).await;
    })
    .await;
}
