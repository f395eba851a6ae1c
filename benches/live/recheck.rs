//! Timed re-checks under load: many workshop learners, each with the `pod` lab page open on
//! `shared-volume`, whose two exec checks keep failing (nobody wrote the file), so every
//! learner's step runs its commands again on its backing-off timer. Prints commands run per
//! second, API-server requests per minute, the kubelab process's CPU and RSS, and the most
//! commands seen running at once. See `bench/README.md` ("Timed re-checks").

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::Client;
use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::common::{Learner, Server, join_all};
use crate::support::{ExecCall, ExecReply, FakeApi};

const TOKEN: &str = "instructor-token-for-the-recheck-bench";
const LAB: &str = "pod";
const STEP: &str = "shared-volume";

/// What the run does; the defaults are the figures, the smoke plan is for `cargo test`.
pub struct Plan {
    learners: usize,
    warmup: Duration,
    window: Duration,
    /// How long each command takes in the fake's containers (a slow node).
    exec_time: Duration,
}

impl Plan {
    pub fn from_env(benchmarking: bool) -> Plan {
        let number = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(default)
        };
        let (learners, warmup, window) = if benchmarking {
            (300, 20, 30)
        } else {
            (5, 1, 3)
        };
        Plan {
            learners: (number("KUBELAB_BENCH_RECHECK_LEARNERS", learners) as usize).clamp(1, 499),
            warmup: Duration::from_secs(number("KUBELAB_BENCH_RECHECK_WARMUP_SECS", warmup)),
            window: Duration::from_secs(number("KUBELAB_BENCH_RECHECK_SECS", window).max(1)),
            exec_time: Duration::from_millis(number("KUBELAB_BENCH_RECHECK_EXEC_MS", 0)),
        }
    }
}

/// The containers of every `pair`: web never sees the file the learner is to write; each
/// command takes `delay`.
fn containers(fake: &FakeApi, delay: Duration) {
    fake.set_exec_handler(move |call: ExecCall| {
        let reply = match call.command.as_slice() {
            [cat, path] if cat == "cat" && path == "/shared/from-web.txt" => {
                ExecReply::ok("written by web at Sun Nov 29 09:00:00 UTC 2026\n")
            }
            [_, path] => ExecReply::fail(
                format!("cat: can't open '{path}': No such file or directory\n"),
                1,
            ),
            _ => ExecReply::fail("sh: not found\n", 127),
        };
        ExecReply { delay, ..reply }
    });
}

/// `pair` (web and sidecar sharing an emptyDir), as the learner made it.
fn pair(namespace: &str) -> Value {
    let container = |name: &str| {
        json!({"name": name, "image": "busybox:1.36",
               "command": ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 3600 & wait $!; done"],
               "volumeMounts": [{"name": "shared", "mountPath": "/shared"}]})
    };
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "pair", "namespace": namespace, "labels": {"app": "pair"}},
        "spec": {"containers": [container("web"), container("sidecar")],
                 "volumes": [{"name": "shared", "emptyDir": {}}]}
    })
}

fn pair_runs(fake: &FakeApi, namespace: &str) -> bool {
    fake.get("v1", "Pod", Some(namespace), "pair")
        .and_then(|p| p["status"]["containerStatuses"].as_array().cloned())
        .is_some_and(|cs| cs.len() == 2 && cs.iter().all(|c| c["state"]["running"].is_object()))
}

/// One learner's open page: reports when the step's first verdict arrived, then keeps reading.
async fn page(client: Client, url: String, tx: mpsc::UnboundedSender<usize>, i: usize) {
    let Ok(mut response) = client.get(url).send().await else {
        return;
    };
    let mut buffer = String::new();
    let mut told = false;
    while let Ok(Some(chunk)) = response.chunk().await {
        if told {
            continue;
        }
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        if buffer.contains(&format!("data-step=\"{STEP}\"")) {
            told = true;
            buffer = String::new();
            let _ = tx.send(i);
        }
    }
}

/// Creates the workshop, lets every learner join, gives each a running `pair`, starts the step
/// and opens their page. Returns the pages' tasks (each keeps its stream open).
async fn prepare(server: &Server, plan: &Plan) -> Vec<tokio::task::JoinHandle<()>> {
    let code = server
        .create_workshop(TOKEN, "Re-check bench", &[LAB], plan.learners + 1)
        .await;
    let learners = join_all(server, &code, plan.learners, LAB).await;
    for learner in &learners {
        server.fake.put(pair(&learner.namespace)).expect("pair");
    }
    let all_run = server
        .fake
        .wait_for(Duration::from_secs(60), |f| {
            learners.iter().all(|l| pair_runs(f, &l.namespace))
        })
        .await;
    assert!(all_run, "every pair runs");
    // The step starts after the Pod was made (whole seconds).
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (tx, mut rx) = mpsc::unbounded_channel();
    let mut pages = Vec::new();
    for (i, Learner { client, .. }) in learners.into_iter().enumerate() {
        let start = format!("{}/api/labs/{LAB}/steps/{STEP}/start", server.url);
        let r = client
            .post(&start)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .expect("start the step");
        assert!(r.status().is_success(), "start: {}", r.status());
        let events = format!("{}/labs/{LAB}/events", server.url);
        pages.push(tokio::spawn(page(client, events, tx.clone(), i)));
    }
    let mut shown = 0;
    while shown < plan.learners {
        match tokio::time::timeout(Duration::from_secs(60), rx.recv()).await {
            Ok(Some(_)) => shown += 1,
            _ => panic!("only {shown} of {} pages showed the step", plan.learners),
        }
    }
    pages
}

/// What one measuring window saw.
struct Window {
    wall: Duration,
    execs: usize,
    cpu: Duration,
    requests: BTreeMap<String, usize>,
    most_at_once: usize,
    rss_kib: u64,
    hwm_kib: u64,
}

/// Measures `length` of steady state.
async fn measure(server: &Server, length: Duration) -> Window {
    server.fake.clear_requests();
    let execs_before = server.fake.exec_sessions().len();
    let cpu_before = server.cpu_time();
    let started = Instant::now();
    let mut most_at_once = 0;
    while started.elapsed() < length {
        let sessions = server.fake.exec_sessions();
        let running = sessions[execs_before.min(sessions.len())..]
            .iter()
            .filter(|s| !s.ended)
            .count();
        most_at_once = most_at_once.max(running);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let wall = started.elapsed();
    let cpu = server.cpu_time() - cpu_before;
    let execs = server.fake.exec_sessions().len() - execs_before;
    let mut requests = BTreeMap::new();
    for r in server.fake.requests() {
        let kind = if r.path.ends_with("/exec") {
            "pods/exec".to_owned()
        } else {
            format!("{} {}", r.method, r.path)
        };
        *requests.entry(kind).or_insert(0) += 1;
    }
    let (rss_kib, hwm_kib) = server.rss_kib();
    Window {
        wall,
        execs,
        cpu,
        requests,
        most_at_once,
        rss_kib,
        hwm_kib,
    }
}

fn print_row(label: &str, learners: usize, w: &Window) {
    let secs = w.wall.as_secs_f64();
    let all: usize = w.requests.values().sum();
    let exec_requests = w.requests.get("pods/exec").copied().unwrap_or(0);
    println!(
        "| {label} | {learners} | {:.0} s | {:.1} | {:.2} | {:.0} ({:.0}) | {:.1} % | {:.1} MiB ({:.1} MiB) | {} |",
        secs,
        w.execs as f64 / secs,
        w.execs as f64 * 60.0 / secs / learners as f64,
        all as f64 * 60.0 / secs,
        (all - exec_requests) as f64 * 60.0 / secs,
        w.cpu.as_secs_f64() / secs * 100.0,
        w.rss_kib as f64 / 1024.0,
        w.hwm_kib as f64 / 1024.0,
        w.most_at_once,
    );
}

/// The whole run: a kubelab process in workshop mode, the learners, a warm-up window (the
/// steps' pauses still growing) and a steady window.
pub async fn run(plan: &Plan) {
    let server = Server::start_with(&["--workshop", "--instructor-token", TOKEN]).await;
    server.fake.simulate_workloads(true);
    containers(&server.fake, plan.exec_time);
    let idle = server.rss_kib();
    let pages = prepare(&server, plan).await;
    let warmup = measure(&server, plan.warmup).await;
    let steady = measure(&server, plan.window).await;
    println!();
    println!(
        "kubelab timed re-checks — {} workshop learners with {LAB}/{STEP} open and failing \
         (2 exec checks each, {} ms per command), the kubelab binary against the fake API server",
        plan.learners,
        plan.exec_time.as_millis()
    );
    println!(
        "server RSS before any learner: {:.1} MiB",
        idle.0 as f64 / 1024.0
    );
    println!();
    println!(
        "| window | learners | length | commands run /s | per learner /min | API requests /min (without exec) | kubelab CPU | kubelab RSS (peak) | most commands at once |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    print_row("from the pages opening", plan.learners, &warmup);
    print_row("steady", plan.learners, &steady);
    println!(
        "steady-state requests by kind: {:?}",
        steady
            .requests
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(k, n)| format!("{k}: {n}"))
            .collect::<Vec<_>>()
    );
    for page in pages {
        page.abort();
    }
}
