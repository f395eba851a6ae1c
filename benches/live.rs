//! Live-feedback benchmarks: the `kubelab` binary (its own process) against the fake Kubernetes
//! API server, with 1, 100 and 300 pages following a lab over Server-Sent Events. Prints
//! cluster change → SSE `step` event latency (p50/p99), API-server requests in steady state,
//! the server's RSS, and check throughput from the watch caches; then criterion times one
//! `POST .../check` with warm caches. First, `recheck` measures the timed re-checks of exec
//! steps with 300 workshop learners. See `bench/README.md` for how to run and read it.

// The fake's own unit tests are compiled out here (no cfg(test)), leaving their imports unused,
// and this bench drives only a few parts of the fake; the integration tests, which use all of
// it, are where unused code is reported.
#[allow(unused_imports, dead_code)]
#[path = "../tests/support/mod.rs"]
mod support;

// The terminal bench also opens WebSockets with the learners' cookies and CSRF token, which
// the learners of this one never need.
#[allow(dead_code)]
mod common;
#[path = "live/recheck.rs"]
mod recheck;

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use common::{Server, ms, percentile};

/// The lab and step the load follows (a Deployment whose rollout the fake reports).
const LAB: &str = "kubectl";
const STEP: &str = "rollout-status";
/// How long one round may take before its missing events count as lost.
const ROUND_TIMEOUT: Duration = Duration::from_secs(30);

/// What the load run does; the defaults are the figures, `smoke` is for `cargo test`.
struct Plan {
    pages: Vec<usize>,
    rounds: usize,
    steady: Duration,
    check_for: Duration,
}

impl Plan {
    fn from_env(benchmarking: bool) -> Plan {
        let number = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(default)
        };
        if !benchmarking {
            return Plan {
                pages: vec![1, 5],
                rounds: 2,
                steady: Duration::from_secs(1),
                check_for: Duration::from_millis(500),
            };
        }
        let pages = std::env::var("KUBELAB_BENCH_PAGES")
            .ok()
            .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
            .filter(|v: &Vec<usize>| !v.is_empty())
            .unwrap_or_else(|| vec![1, 100, 300]);
        Plan {
            pages,
            rounds: number("KUBELAB_BENCH_ROUNDS", 20) as usize,
            steady: Duration::from_secs(number("KUBELAB_BENCH_STEADY_SECS", 20)),
            check_for: Duration::from_secs(number("KUBELAB_BENCH_CHECK_SECS", 5)),
        }
    }
}

impl Server {
    async fn start() -> Server {
        Server::start_with(&[]).await
    }

    async fn post(&self, path: &str) -> Value {
        let r = self
            .client
            .post(format!("{}{path}", self.url))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .expect("POST");
        assert!(r.status().is_success(), "POST {path}: {}", r.status());
        r.json().await.expect("JSON answer")
    }

    /// Sets the Deployment's status so the step is `done` (all replicas up) or `pending`.
    fn rollout(&self, complete: bool) {
        let ready = if complete { 3 } else { 1 };
        self.fake
            .patch_status(
                "apps/v1",
                "Deployment",
                Some("default"),
                "nginx-deployment",
                json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3,
                       "readyReplicas": ready, "availableReplicas": ready,
                       "conditions": [{"type": "Progressing", "status": "True",
                                       "reason": if complete { "NewReplicaSetAvailable" } else { "ReplicaSetUpdated" }}]}),
            )
            .expect("the fake updates the status");
    }
}

/// What one page saw: it is connected, or the step's state arrived.
struct Seen {
    page: usize,
    state: String,
    at: Instant,
}

/// The verdict (`passed`, `pending`, ...) a `step` event for [`STEP`] shows, if `block` is one.
/// (Its `data-state` stays `done` once the step has passed, so the result panel is read.)
fn step_state(block: &str) -> Option<String> {
    if !block.lines().any(|l| l == "event: step") {
        return None;
    }
    if !block.contains(&format!("data-step=\"{STEP}\"")) {
        return None;
    }
    let marker = "class=\"result-panel result-";
    let start = block.find(marker)? + marker.len();
    let end = block[start..].find('"')?;
    Some(block[start..start + end].to_owned())
}

/// One page's live stream: reports when it is connected and each state of the step.
async fn page(id: usize, url: String, client: reqwest::Client, tx: mpsc::UnboundedSender<Seen>) {
    let Ok(mut response) = client.get(url).send().await else {
        return;
    };
    let mut buffer = String::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let at = Instant::now();
        // The markers looked for are ASCII; a character split across chunks does not matter.
        buffer.push_str(&String::from_utf8_lossy(&chunk));
        while let Some(end) = buffer.find("\n\n") {
            let block: String = buffer.drain(..end + 2).collect();
            let state = match step_state(&block) {
                Some(state) => state,
                None if block.lines().any(|l| l == "event: objects") => "connected".into(),
                None => continue,
            };
            if tx
                .send(Seen {
                    page: id,
                    state,
                    at,
                })
                .is_err()
            {
                return;
            }
        }
    }
}

/// One row of the printed table.
struct Row {
    pages: usize,
    samples: usize,
    lost: usize,
    p50: Duration,
    p99: Duration,
    max: Duration,
    rss_kib: u64,
    hwm_kib: u64,
    steady_requests: usize,
    steady_by_path: BTreeMap<String, usize>,
}

/// The load run: pages join, the cluster changes, the pages' streams are timed.
/// Returns a row per page count and the distinct watches kubelab opened.
async fn load(server: &Server, plan: &Plan) -> (Vec<Row>, Vec<String>) {
    let (tx, mut rx) = mpsc::unbounded_channel::<Seen>();
    let events_url = format!("{}/labs/{LAB}/events", server.url);
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let mut open = 0;
    let mut rows = Vec::new();
    let mut watches = std::collections::BTreeSet::new();
    for &n in &plan.pages {
        // Pages join until `n` follow the lab.
        let mut connected = HashSet::new();
        for id in open..n {
            tokio::spawn(page(id, events_url.clone(), client.clone(), tx.clone()));
        }
        let deadline = Instant::now() + ROUND_TIMEOUT;
        while connected.len() < n - open && Instant::now() < deadline {
            if let Ok(Some(seen)) =
                tokio::time::timeout(Duration::from_millis(200), rx.recv()).await
                && seen.state == "connected"
                && seen.page >= open
            {
                connected.insert(seen.page);
            }
        }
        assert_eq!(connected.len(), n - open, "pages that connected");
        open = n;
        // Let the initial events settle, then forget them.
        tokio::time::sleep(Duration::from_millis(500)).await;
        while rx.try_recv().is_ok() {}

        let mut latencies = Vec::new();
        let mut lost = 0;
        for round in 0..plan.rounds {
            let complete = round % 2 == 0;
            let target = if complete { "passed" } else { "pending" };
            let changed = Instant::now();
            server.rollout(complete);
            let mut arrived = HashSet::new();
            let deadline = changed + ROUND_TIMEOUT;
            while arrived.len() < n {
                let left = deadline.saturating_duration_since(Instant::now());
                match tokio::time::timeout(left, rx.recv()).await {
                    Ok(Some(seen)) => {
                        if seen.state == target && seen.at >= changed && arrived.insert(seen.page) {
                            latencies.push(seen.at - changed);
                        }
                    }
                    Ok(None) | Err(_) => break,
                }
            }
            lost += n - arrived.len();
            // Other events of this round (the objects panel) are not timed.
            tokio::time::sleep(Duration::from_millis(100)).await;
            while rx.try_recv().is_ok() {}
        }
        latencies.sort();

        let (rss_kib, hwm_kib) = server.rss_kib();
        watches.extend(watch_paths(&server.fake.requests()));
        // Steady state: pages open, nothing changes; what does kubelab ask the API server?
        server.fake.clear_requests();
        tokio::time::sleep(plan.steady).await;
        let requests = server.fake.requests();
        watches.extend(watch_paths(&requests));
        while rx.try_recv().is_ok() {}
        let mut steady_by_path = BTreeMap::new();
        for r in &requests {
            let watch = r
                .query
                .get("watch")
                .is_some_and(|w| w == "true" || w == "1");
            let key = format!(
                "{} {}{}",
                r.method,
                r.path,
                if watch { " (watch)" } else { "" }
            );
            *steady_by_path.entry(key).or_insert(0) += 1;
        }
        rows.push(Row {
            pages: n,
            samples: latencies.len(),
            lost,
            p50: percentile(&latencies, 50.0),
            p99: percentile(&latencies, 99.0),
            max: latencies.last().copied().unwrap_or_default(),
            rss_kib,
            hwm_kib,
            steady_requests: requests.len(),
            steady_by_path,
        });
    }
    (rows, watches.into_iter().collect())
}

fn is_watch(r: &support::RecordedRequest) -> bool {
    r.query
        .get("watch")
        .is_some_and(|w| w == "true" || w == "1")
}

/// The paths of the watch requests among `requests`.
fn watch_paths(requests: &[support::RecordedRequest]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| is_watch(r))
        .map(|r| r.path.clone())
        .collect()
}

/// Checks per second with `concurrency` clients for `duration`, and the requests the fake
/// received meanwhile (watch caches warm: the step's kinds are watched for the open pages).
async fn check_throughput(
    server: &Server,
    concurrency: usize,
    duration: Duration,
) -> (f64, Duration, Duration, Vec<String>) {
    server.fake.clear_requests();
    let url = format!("{}/api/labs/{LAB}/steps/{STEP}/check", server.url);
    let done = Arc::new(AtomicU64::new(0));
    let until = Instant::now() + duration;
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let client = server.client.clone();
        let url = url.clone();
        let done = done.clone();
        tasks.push(tokio::spawn(async move {
            let mut times = Vec::new();
            while Instant::now() < until {
                let t = Instant::now();
                let ok = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .body("{}")
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ok {
                    times.push(t.elapsed());
                    done.fetch_add(1, Ordering::Relaxed);
                }
            }
            times
        }));
    }
    let mut times = Vec::new();
    for t in tasks {
        times.extend(t.await.unwrap_or_default());
    }
    let elapsed = started.elapsed();
    times.sort();
    let reads: Vec<String> = server
        .fake
        .requests()
        .into_iter()
        .filter(|r| !r.query.contains_key("watch"))
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    (
        done.load(Ordering::Relaxed) as f64 / elapsed.as_secs_f64(),
        percentile(&times, 50.0),
        percentile(&times, 99.0),
        reads,
    )
}

fn print_report(rows: &[Row], plan: &Plan, baseline: (u64, u64), watches: &[String]) {
    println!();
    println!(
        "kubelab live feedback — {LAB}/{STEP}, the kubelab binary against the fake API server"
    );
    println!(
        "server RSS before any page: {:.1} MiB",
        baseline.0 as f64 / 1024.0
    );
    println!(
        "shared watches opened (whole run): {} — {}",
        watches.len(),
        watches.join(", ")
    );
    println!();
    println!(
        "| pages | change → SSE step event p50 | p99 | max | events timed (lost) | server RSS (peak) | API requests in {} s steady (health probes) | per page per minute, beyond probes and watches |",
        plan.steady.as_secs()
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        // `GET /version` is the process's cluster health probe, the same with 0 or 300 pages.
        let probes = r.steady_by_path.get("GET /version").copied().unwrap_or(0);
        let per_minute =
            (r.steady_requests - probes) as f64 * 60.0 / plan.steady.as_secs_f64().max(1.0);
        println!(
            "| {} | {} | {} | {} | {} ({}) | {:.1} MiB ({:.1} MiB) | {} ({probes}) | {:.2} |",
            r.pages,
            ms(r.p50),
            ms(r.p99),
            ms(r.max),
            r.samples,
            r.lost,
            r.rss_kib as f64 / 1024.0,
            r.hwm_kib as f64 / 1024.0,
            r.steady_requests,
            per_minute / r.pages as f64,
        );
    }
    for r in rows {
        if !r.steady_by_path.is_empty() {
            println!(
                "steady-state requests with {} pages: {:?}",
                r.pages, r.steady_by_path
            );
        }
    }
}

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let plan = Plan::from_env(benchmarking);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let only = std::env::var("KUBELAB_BENCH_ONLY").unwrap_or_default();
    if only != "pages" {
        rt.block_on(recheck::run(&recheck::Plan::from_env(benchmarking)));
    }
    if only == "recheck" {
        return;
    }
    let server = rt.block_on(Server::start());
    rt.block_on(server.post(&format!("/api/labs/{LAB}/steps/{STEP}/setup")));
    let baseline = server.rss_kib();
    let (rows, watches) = rt.block_on(load(&server, &plan));
    print_report(&rows, &plan, baseline, &watches);

    let (per_second, p50, p99, reads) = rt.block_on(check_throughput(&server, 8, plan.check_for));
    println!(
        "check throughput from the caches, 8 clients, {} pages open: {per_second:.0} checks/s (p50 {}, p99 {}); API-server reads meanwhile: {}",
        plan.pages.last().copied().unwrap_or(0),
        ms(p50),
        ms(p99),
        reads.len()
    );
    if !reads.is_empty() {
        println!("  reads: {:?}", &reads[..reads.len().min(10)]);
    }
    println!();

    let mut c = Criterion::default().configure_from_args();
    let url = format!("{}/api/labs/{LAB}/steps/{STEP}/check", server.url);
    let mut group = c.benchmark_group("live");
    group.throughput(Throughput::Elements(1));
    group.bench_function("check_request_warm_cache", |b| {
        b.to_async(&rt).iter(|| async {
            let r = server
                .client
                .post(&url)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .expect("POST check");
            assert!(r.status().is_success());
            r.bytes().await.expect("body");
        })
    });
    group.finish();
    c.final_summary();
    drop(server);
}
