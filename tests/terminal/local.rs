//! Local mode (`--terminal`): a shell on the learner's machine behind a pty.

use std::net::SocketAddr;

use kubelab::engine::{TerminalConfig, TerminalLimits};
use kubelab::startup::terminal_config;

use super::*;

async fn local_app(limits: TerminalLimits) -> (RunningApp, tempfile::TempDir, Visitor) {
    let dir = tempfile::tempdir().expect("dir");
    let app = start(&dir, dir.path().join("none"), false, local_shell(limits)).await;
    let mut visitor = Visitor::default();
    let (status, page) = visitor.get(&format!("{}/labs/configmap", app.url())).await;
    assert_eq!(status, 200);
    assert!(
        page.contains("id=\"terminal\""),
        "the lab page has the terminal panel"
    );
    (app, dir, visitor)
}

#[tokio::test]
async fn typing_runs_in_a_real_shell_and_a_reload_reattaches_with_scrollback() {
    let (app, _dir, visitor) = local_app(limits()).await;
    let base = app.url();
    let mut socket = open(&base, &visitor, page(&base)).await.expect("opens");
    let mut screen = Screen::default();
    read_until(&mut socket, &mut screen, |s| {
        s.control("attached").is_some()
    })
    .await;
    assert_eq!(screen.control("attached").unwrap()["resumed"], false);
    type_text(&mut socket, "echo kube$((40+2))lab\r").await;
    read_until(&mut socket, &mut screen, |s| s.output.contains("kube42lab")).await;
    control(&mut socket, resize(120, 40)).await;
    type_text(&mut socket, "stty size\r").await;
    read_until(&mut socket, &mut screen, |s| s.output.contains("40 120")).await;
    let id = screen.id();
    drop(socket);

    // The page reloads: same session, its scrollback first, and the shell still there.
    let how = Handshake {
        session: Some(&id),
        ..page(&base)
    };
    let mut again = open(&base, &visitor, how).await.expect("re-opens");
    let mut screen = Screen::default();
    read_until(&mut again, &mut screen, |s| s.output.contains("kube42lab")).await;
    assert_eq!(screen.control("attached").unwrap()["resumed"], true);
    assert_eq!(screen.id(), id);
    type_text(&mut again, "exit\r").await;
    read_until(&mut again, &mut screen, |s| s.control("ended").is_some()).await;
    assert_eq!(app.engine.open_terminals(), 0);
    app.stop().await;
}

#[tokio::test]
async fn the_socket_refuses_other_sites_missing_tokens_and_servers_without_a_terminal() {
    let (app, _dir, visitor) = local_app(limits()).await;
    let base = app.url();
    let no_origin = Handshake {
        origin: None,
        ..page(&base)
    };
    assert_eq!(open(&base, &visitor, no_origin).await.err(), Some(403));
    let elsewhere = Handshake {
        origin: Some("http://evil.example".into()),
        ..page(&base)
    };
    assert_eq!(open(&base, &visitor, elsewhere).await.err(), Some(403));
    let wrong_token = Handshake {
        csrf: Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        ..page(&base)
    };
    assert_eq!(open(&base, &visitor, wrong_token).await.err(), Some(403));
    let no_cookie = Visitor {
        csrf: visitor.csrf.clone(),
        ..Visitor::default()
    };
    assert_eq!(open(&base, &no_cookie, page(&base)).await.err(), Some(403));
    app.stop().await;

    // Without --terminal: no panel, and the socket is not there.
    let dir = tempfile::tempdir().expect("dir");
    let off = start(
        &dir,
        dir.path().join("none"),
        false,
        TerminalConfig::default(),
    )
    .await;
    let mut visitor = Visitor::default();
    let (_, page_html) = visitor.get(&format!("{}/labs/configmap", off.url())).await;
    assert!(!page_html.contains("id=\"terminal\""));
    let base = off.url();
    assert_eq!(open(&base, &visitor, page(&base)).await.err(), Some(404));
    off.stop().await;
}

#[tokio::test]
async fn a_local_terminal_is_refused_on_a_non_loopback_address() {
    let public: SocketAddr = "0.0.0.0:8080".parse().unwrap();
    let err = terminal_config(
        public,
        false,
        Some(vec!["/bin/sh".into()]),
        Default::default(),
        limits(),
    )
    .expect_err("refused");
    let message = err.to_string();
    assert!(message.contains("loopback"), "{message}");
    assert!(message.contains("--workshop"), "{message}");
    let dir = tempfile::tempdir().expect("dir");
    let refused = kubelab::start(Settings {
        addr: "0.0.0.0:0".parse().unwrap(),
        database_url: dir.path().join("kubelab.db").display().to_string(),
        labs: LabSource::Embedded,
        cluster: ClusterOptions::default(),
        workshop: false,
        secure_cookies: false,
        rate_limit: Default::default(),
        terminal: local_shell(limits()),
        learner_quota: Default::default(),
    })
    .await;
    assert!(refused.is_err(), "kubelab does not start");
}

#[tokio::test]
async fn limits_on_terminals_input_and_idle_time() {
    let (app, _dir, visitor) = local_app(TerminalLimits {
        per_learner: 1,
        input_burst: 1000,
        input_rate: 1,
        idle: Duration::from_secs(3),
        ..limits()
    })
    .await;
    let base = app.url();
    let mut first = open(&base, &visitor, page(&base)).await.expect("opens");
    let mut screen = Screen::default();
    read_until(&mut first, &mut screen, |s| s.control("attached").is_some()).await;

    // A second terminal (not re-attaching) is over the limit of one.
    let mut second = open(&base, &visitor, page(&base)).await.expect("upgrades");
    let mut refused = Screen::default();
    read_until(&mut second, &mut refused, |s| s.control("ended").is_some()).await;
    let reason = refused.control("ended").unwrap()["reason"].to_string();
    assert!(reason.contains("terminals open"), "{reason}");

    // A paste larger than the burst is cut, and the page is told.
    type_text(&mut first, &format!(": {}\r", "x".repeat(5000))).await;
    read_until(&mut first, &mut screen, |s| s.control("notice").is_some()).await;
    let notice = screen.control("notice").unwrap()["text"].to_string();
    assert!(notice.contains("dropped"), "{notice}");

    // Nothing typed for the idle time: the terminal ends and says why.
    read_until(&mut first, &mut screen, |s| s.control("ended").is_some()).await;
    let reason = screen.control("ended").unwrap()["reason"].to_string();
    assert!(reason.contains("idle"), "{reason}");
    app.stop().await;
}

/// An operator reads one line per session — who, when, how many bytes — never the keystrokes.
/// (The test's runtime has one thread, so every task of kubelab logs to its capture.)
#[tokio::test]
async fn each_session_leaves_one_log_line_with_its_bytes_and_never_what_was_typed() {
    let logs = crate::support::logs::LogCapture::start();

    let (app, _dir, visitor) = local_app(limits()).await;
    let base = app.url();
    let mut socket = open(&base, &visitor, page(&base)).await.expect("opens");
    let mut screen = Screen::default();
    let typed = ["echo s3cret-$((1+1))\r", "exit\r"];
    type_text(&mut socket, typed[0]).await;
    read_until(&mut socket, &mut screen, |s| s.output.contains("s3cret-2")).await;
    type_text(&mut socket, typed[1]).await;
    read_until(&mut socket, &mut screen, |s| s.control("ended").is_some()).await;
    app.stop().await;

    let text = logs.text();
    let ended: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("terminal session ended"))
        .collect();
    assert_eq!(ended.len(), 1, "{text}");
    let line = ended[0];
    let bytes_in: usize = typed.iter().map(|t| t.len()).sum();
    for field in [
        "learner=".to_owned(),
        "started=".to_owned(),
        "ended=".to_owned(),
        format!("bytes_in={bytes_in}"),
        "bytes_out=".to_owned(),
    ] {
        assert!(line.contains(&field), "{field} in {line}");
    }
    assert_eq!(
        text.lines()
            .filter(|l| l.contains("terminal session started"))
            .count(),
        1,
        "{text}"
    );
    assert!(!text.contains("s3cret"), "nothing typed is logged: {text}");
}
