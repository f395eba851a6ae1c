//! A workshop learner's browser terminal on a real cluster: kubelab creates the toolbox Pod in
//! the learner's namespace (admitted by real Pod Security and counted by the real quota), the
//! real kubelet runs it as the learner's ServiceAccount, and the page's socket is an exec with a
//! tty into it (typing, resizing). The toolbox's Pod spec also passes Pod Security `restricted`.
//! realkube has no registry, so the image is its local busybox (a shell, no bash nor kubectl):
//! this proves the session, not the default image's tools.

use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use futures::FutureExt;
use kubelab::cluster::{TOOLBOX_POD, ToolboxSpec};
use kubelab::engine::{TerminalConfig, TerminalLimits, TerminalMode};
use kubelab::labs::LabSource;
use kubelab::{RunningApp, Settings};
use serde_json::{Value, json};

use super::harness::{
    Kubectl, REAL_NODE, Real, Row, STARTUP, instructor_post, real_options, wait_for,
};
use crate::terminal::{
    Screen, Socket, Visitor, control, open, page, read_within, resize, type_text,
};

const TOKEN: &str = "real-cluster-terminal-token-0123456789abcdef";
/// A local image of realkube's node (busybox: the toolbox shell falls back to `sh -l`).
const IMAGE: &str = "busybox:1.36";

/// The toolbox Pod under `restricted`, then a learner's terminal from joining to the
/// workshop's end.
pub async fn run(real: &Real) {
    restricted_admits_the_toolbox(real).await;
    let dir = tempfile::tempdir().expect("temp dir");
    let terminal = TerminalConfig {
        mode: TerminalMode::Toolbox(ToolboxSpec {
            image: IMAGE.into(),
            ..ToolboxSpec::default()
        }),
        limits: TerminalLimits::default(),
    };
    let app = kubelab::start(Settings {
        addr: "127.0.0.1:0".parse().expect("addr"),
        database_url: dir.path().join("kubelab.db").display().to_string(),
        labs: LabSource::Embedded,
        cluster: real_options(),
        workshop: true,
        secure_cookies: false,
        rate_limit: Default::default(),
        terminal,
        learner_quota: Default::default(),
    })
    .await
    .expect("kubelab starts");
    kubelab::startup::instructor_credential(&app.engine, Some(TOKEN))
        .await
        .expect("instructor token");
    let workshop = instructor(
        &app,
        "/api/instructor/workshops",
        json!({"name": "real terminal", "labs": ["configmap"], "capacity": 1, "hours": 1}),
    )
    .await;
    let id = workshop["id"].as_str().expect("id").to_owned();
    let code = workshop["code"].as_str().expect("code").to_owned();
    let outcome = AssertUnwindSafe(learner(real, &app, &code))
        .catch_unwind()
        .await;
    instructor(
        &app,
        &format!("/api/instructor/workshops/{id}/end"),
        json!({}),
    )
    .await;
    app.stop().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// A server-side dry run of the toolbox Pod in a namespace that enforces `restricted`.
async fn restricted_admits_the_toolbox(real: &Real) {
    let k = &real.kubectl;
    let ns = format!(
        "kl-restricted-{}",
        crate::support::state::random_suffix(6).to_lowercase()
    );
    k.run(&["create", "namespace", &ns]).await;
    k.run(&[
        "label",
        "namespace",
        &ns,
        "pod-security.kubernetes.io/enforce=restricted",
    ])
    .await;
    k.run(&["create", "serviceaccount", "learner", "-n", &ns])
        .await;
    let pod = ToolboxSpec::default().pod(&ns, "probe").to_string();
    let admitted = k
        .try_run_with_input(
            &["create", "--dry-run=server", "-n", &ns, "-f", "-"],
            Some(&pod),
        )
        .await;
    let _ = k
        .try_run(&["delete", "namespace", &ns, "--wait=false"])
        .await;
    assert!(
        admitted.is_ok(),
        "the toolbox Pod passes Pod Security restricted: {admitted:?}"
    );
    real.record(Row {
        place: "terminal".into(),
        action: "toolbox Pod, server-side dry run under enforce=restricted".into(),
        verdicts: "admitted".into(),
        waited: 0.0,
    });
}

/// Joins, opens the terminal, and uses it as a learner would.
async fn learner(real: &Real, app: &RunningApp, code: &str) {
    let base = app.url();
    let mut visitor = Visitor::default();
    let join = format!("{base}/join/{code}");
    visitor.get(&join).await;
    assert_eq!(
        visitor
            .post_form(&join, &[("name", "Terminal Learner")])
            .await,
        303
    );
    let (status, _) = visitor.get(&format!("{base}/labs/configmap")).await;
    assert_eq!(status, 200);

    let started = Instant::now();
    let mut socket = open(&base, &visitor, page(&base))
        .await
        .expect("the terminal opens");
    let mut screen = Screen::default();
    read_within(&mut socket, &mut screen, STARTUP, |s| {
        s.output.contains("$ ")
    })
    .await;
    let waited = started.elapsed().as_secs_f64();
    let namespace = toolbox_namespace(&real.kubectl).await;
    let pod = real
        .kubectl
        .json(&["pod", TOOLBOX_POD, "-n", &namespace])
        .await;
    assert_eq!(pod["spec"]["nodeName"], REAL_NODE, "{pod}");
    assert_eq!(pod["spec"]["serviceAccountName"], "learner", "{pod}");
    real.record(Row {
        place: "terminal".into(),
        action: "learner opens the terminal (toolbox created on first use)".into(),
        verdicts: format!("shell prompt from a toolbox on {REAL_NODE} in {namespace}"),
        waited,
    });

    run_line(
        &mut socket,
        &mut screen,
        "echo kubelab-$((6*7))",
        "kubelab-42",
    )
    .await;
    run_line(&mut socket, &mut screen, "id -u", "1000").await;
    let mounted = "cat /var/run/secrets/kubernetes.io/serviceaccount/namespace; echo";
    run_line(&mut socket, &mut screen, mounted, &namespace).await;
    control(&mut socket, resize(132, 43)).await;
    resized(&mut socket, &mut screen).await;
    let used = quota_used_cpu(&real.kubectl, &namespace).await;
    assert_eq!(
        used, "100m",
        "the toolbox's request counts in the learner's quota"
    );
    real.record(Row {
        place: "terminal".into(),
        action: "typed echo, id -u, the mounted namespace; resized to 132×43".into(),
        verdicts: format!(
            "echoed through a real tty; uid 1000; stty size 43 132; quota used cpu {used}"
        ),
        waited: 0.0,
    });
}

/// Types `line` and Enter, then reads until `expected` appears after it.
async fn run_line(socket: &mut Socket, screen: &mut Screen, line: &str, expected: &str) {
    let from = screen.output.len();
    type_text(socket, &format!("{line}\r")).await;
    let wanted = format!("\n{expected}");
    read_within(socket, screen, Duration::from_secs(20), |s| {
        s.output[from..].contains(&wanted)
    })
    .await;
}

/// `stty size` until the container's tty has the new size (the resize travels on its own
/// channel and may land after the command).
async fn resized(socket: &mut Socket, screen: &mut Screen) {
    for _ in 0..10 {
        let from = screen.output.len();
        type_text(socket, "stty size\r").await;
        read_within(socket, screen, Duration::from_secs(20), |s| {
            s.output[from..].matches("$ ").count() >= 1 && s.output[from..].contains("stty size")
        })
        .await;
        if screen.output[from..].contains("43 132") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    panic!("the tty never reported 43 132: {:?}", screen.output);
}

/// The namespace holding the (only) toolbox Pod kubelab made.
async fn toolbox_namespace(k: &Kubectl) -> String {
    let pods = k
        .json(&["pods", "-A", "-l", "kubelab.io/toolbox=true"])
        .await;
    let items = pods["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 1, "one toolbox: {pods}");
    items[0]["metadata"]["namespace"]
        .as_str()
        .expect("namespace")
        .to_owned()
}

/// `requests.cpu` used in the learner's ResourceQuota, once the quota controller counted it.
async fn quota_used_cpu(k: &Kubectl, namespace: &str) -> String {
    let used = wait_for("the quota to count the toolbox", STARTUP, || async {
        let quotas = k.json(&["resourcequota", "-n", namespace]).await;
        let used = quotas["items"][0]["status"]["used"]["requests.cpu"].clone();
        used.as_str().filter(|u| *u != "0").map(str::to_owned)
    })
    .await;
    used.unwrap_or_default()
}

/// An instructor API call with the bearer token; the JSON answer (a 2xx status asserted).
async fn instructor(app: &RunningApp, path: &str, body: Value) -> Value {
    let (status, answer) = instructor_post(&app.url(), TOKEN, path, body).await;
    assert!((200..300).contains(&status), "{path}: {status} {answer}");
    answer
}
