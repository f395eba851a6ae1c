//! Workshop benchmarks: kubelab in workshop mode (in process) against the fake Kubernetes API
//! server. Prints how long 300 learners take to join one workshop at once (total, p50/p99 per
//! join, API-server requests per join), then, with every learner set up and checking, how long
//! the instructor's grid takes to answer and to show a learner's passing check. See
//! `bench/README.md` ("Workshops") for how to run and read it.

// The fake's own unit tests are compiled out here (no cfg(test)), leaving their imports unused,
// and this bench drives only a few parts of the fake; the integration tests, which use all of
// it, are where unused code is reported.
#[allow(unused_imports, dead_code)]
#[path = "../tests/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use kubelab::cluster::ClusterOptions;
use kubelab::labs::{LabSource, Mode};
use kubelab::startup::instructor_credential;
use kubelab::{RunningApp, Settings};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use support::{FakeApi, RecordedRequest};

/// The instructor credential the bench sets.
const TOKEN: &str = "instructor-token-for-the-workshop-bench";
/// The step every learner sets up and checks (its ConfigMap comes with the set-up).
const LAB: &str = "configmap";
const STEP: &str = "create-configmap";
/// How long a grid update may take before the bench gives up on it.
const ROUND_TIMEOUT: Duration = Duration::from_secs(30);

/// What the run does; the defaults are the figures, the smoke plan is for `cargo test`.
struct Plan {
    learners: usize,
    rounds: usize,
    grid_samples: usize,
    check_every: Option<Duration>,
}

impl Plan {
    fn from_env(benchmarking: bool) -> Plan {
        let number = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(default)
        };
        let (learners, rounds, samples, every) = if benchmarking {
            (300, 20, 50, 5)
        } else {
            (10, 3, 5, 1)
        };
        // A workshop holds at most 500 learners, one place is kept for a lone join at the end,
        // and the probes come out of the learners.
        let learners = (number("KUBELAB_BENCH_LEARNERS", learners) as usize).clamp(2, 499);
        let rounds = (number("KUBELAB_BENCH_GRID_ROUNDS", rounds) as usize).clamp(1, learners - 1);
        Plan {
            learners,
            rounds,
            grid_samples: (number("KUBELAB_BENCH_GRID_SAMPLES", samples) as usize).max(1),
            check_every: match number("KUBELAB_BENCH_CHECK_EVERY_SECS", every) {
                0 => None,
                secs => Some(Duration::from_secs(secs)),
            },
        }
    }
}

/// kubelab (`workshop: true`) and the fake it talks to, in this process.
struct Site {
    fake: FakeApi,
    app: Option<RunningApp>,
    url: String,
    instructor: Client,
    _dir: tempfile::TempDir,
}

impl Site {
    async fn start() -> Site {
        let fake = FakeApi::start().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = fake.write_kubeconfig(dir.path());
        let app = kubelab::start(Settings {
            addr: "127.0.0.1:0".parse().expect("addr"),
            database_url: dir.path().join("kubelab.db").display().to_string(),
            labs: LabSource::Embedded,
            cluster: ClusterOptions {
                kubeconfig: Some(kubeconfig),
                context: None,
                public_api: None,
            },
            workshop: true,
            secure_cookies: false,
            rate_limit: kubelab::web::limits::RateLimit::unlimited(),
            terminal: Default::default(),
            learner_quota: Default::default(),
        })
        .await
        .expect("kubelab starts");
        instructor_credential(&app.engine, Some(TOKEN))
            .await
            .expect("instructor token stored");
        let health = app.engine.refresh_health().await;
        assert!(
            health.is_reachable(),
            "the fake is not reachable: {health:?}"
        );
        Site {
            fake,
            url: app.url(),
            app: Some(app),
            instructor: Client::new(),
            _dir: dir,
        }
    }

    fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    /// The labs a workshop may offer, in chapter order.
    fn workshop_labs(&self) -> Vec<String> {
        let engine = &self.app.as_ref().expect("running").engine;
        engine
            .catalog()
            .labs
            .iter()
            .filter(|l| l.modes.contains(&Mode::Workshop))
            .map(|l| l.id.clone())
            .collect()
    }

    async fn instructor_post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        let r = self
            .instructor
            .post(self.at(path))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .expect("POST");
        let status = r.status();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// One grid request as the instructor: its latency (headers and whole body) and the body.
    async fn grid(&self, path: &str) -> (Duration, Vec<u8>) {
        let started = Instant::now();
        let r = self
            .instructor
            .get(self.at(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("GET grid");
        assert_eq!(r.status(), StatusCode::OK, "GET {path}");
        let body = r.bytes().await.expect("grid body");
        let took = started.elapsed();
        (took, body.to_vec())
    }

    async fn stop(mut self) {
        if let Some(app) = self.app.take() {
            app.stop().await;
        }
        self.fake.stop().await;
    }
}

/// A learner's browser: keeps cookies, does not follow redirects.
fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The CSRF token of the join form (the GET also sets the CSRF cookie).
async fn csrf(client: &Client, url: &str) -> String {
    let page = client
        .get(url)
        .send()
        .await
        .expect("GET join page")
        .text()
        .await
        .expect("body");
    let marker = "name=\"csrf_token\" value=\"";
    let start = page.find(marker).expect("a form with a CSRF token") + marker.len();
    page[start..].split('"').next().expect("token").to_owned()
}

/// `POST` to the learner JSON API.
async fn api_post(client: &Client, url: &str) -> Result<Value, String> {
    let r = client
        .post(url)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!("{status}: {body}"))
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

/// `p50 / p99 / max` of some latencies.
fn spread(mut times: Vec<Duration>) -> String {
    times.sort();
    format!(
        "{} / {} / {}",
        ms(percentile(&times, 50.0)),
        ms(percentile(&times, 99.0)),
        ms(times.last().copied().unwrap_or_default())
    )
}

/// `METHOD /path` with learner namespaces (`kl-…`) replaced by `{ns}`, `(watch)` for watches.
fn request_kind(r: &RecordedRequest) -> String {
    let path: Vec<&str> = r
        .path
        .split('/')
        .map(|s| if s.starts_with("kl-") { "{ns}" } else { s })
        .collect();
    let watch = r
        .query
        .get("watch")
        .is_some_and(|w| w == "true" || w == "1");
    format!(
        "{} {}{}",
        r.method,
        path.join("/"),
        if watch { " (watch)" } else { "" }
    )
}

/// One learner after joining.
struct Member {
    name: String,
    client: Client,
    /// The join POST's latency.
    latency: Duration,
    done_at: Instant,
}

/// Every learner joins at once: each loads the join page first (CSRF), then all POST together.
async fn join_all(site: &Site, code: &str, learners: usize) -> (Vec<Member>, Vec<String>, Instant) {
    let url = site.at(&format!("/join/{code}"));
    let gate = Arc::new(tokio::sync::Barrier::new(learners + 1));
    let mut tasks = Vec::new();
    for i in 0..learners {
        let url = url.clone();
        let gate = gate.clone();
        tasks.push(tokio::spawn(async move {
            let client = browser();
            let token = csrf(&client, &url).await;
            let name = format!("learner-{i:03}");
            gate.wait().await;
            let started = Instant::now();
            let r = client
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(format!("name={name}&csrf_token={token}"))
                .send()
                .await;
            let latency = started.elapsed();
            match r {
                Ok(r) if r.status() == StatusCode::SEE_OTHER => Ok(Member {
                    name,
                    client,
                    latency,
                    done_at: Instant::now(),
                }),
                Ok(r) => {
                    let status = r.status();
                    let body = r.text().await.unwrap_or_default();
                    Err(format!(
                        "{name}: {status} {}",
                        body.trim().chars().take(300).collect::<String>()
                    ))
                }
                Err(e) => Err(format!("{name}: {e}")),
            }
        }));
    }
    site.fake.clear_requests();
    gate.wait().await;
    let started = Instant::now();
    let mut members = Vec::new();
    let mut failures = Vec::new();
    for task in tasks {
        match task.await.expect("join task") {
            Ok(member) => members.push(member),
            Err(e) => failures.push(e),
        }
    }
    (members, failures, started)
}

/// The state of `name`'s cell in column `column` of a grid answer.
fn cell_state(grid: &Value, name: &str, column: usize) -> Option<String> {
    grid["learners"]
        .as_array()?
        .iter()
        .find(|row| row["learner"]["display_name"] == name)?["cells"][column]["state"]
        .as_str()
        .map(str::to_owned)
}

async fn run(plan: &Plan) {
    let site = Site::start().await;
    let labs = site.workshop_labs();
    assert!(
        labs.iter().any(|l| l == LAB),
        "{LAB} is offered in workshops"
    );
    let (status, workshop) = site
        .instructor_post(
            "/api/instructor/workshops",
            json!({"name": "Benchmark class", "labs": labs, "capacity": plan.learners + 1, "hours": 2}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{workshop}");
    let id = workshop["id"].as_str().expect("id").to_owned();
    let code = workshop["code"].as_str().expect("code").to_owned();

    // 1. Everyone joins at once.
    let (members, failures, started) = join_all(&site, &code, plan.learners).await;
    let total = members
        .iter()
        .map(|m| m.done_at)
        .max()
        .map_or(Duration::ZERO, |end| end - started);
    let requests = site.fake.requests();
    let mut by_kind: BTreeMap<String, usize> = BTreeMap::new();
    for r in &requests {
        *by_kind.entry(request_kind(r)).or_insert(0) += 1;
    }
    let probes = by_kind.get("GET /version").copied().unwrap_or(0);
    let joined = members.len().max(1);
    println!();
    println!(
        "kubelab workshop — {} learners joining one workshop of {} labs at once, in-process \
         kubelab against the fake API server",
        plan.learners,
        labs.len()
    );
    println!();
    println!(
        "| learners | joined (failed) | total | join p50 / p99 / max | API requests per join |"
    );
    println!("|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {} ({}) | {} | {} | {:.2} |",
        plan.learners,
        members.len(),
        failures.len(),
        ms(total),
        spread(members.iter().map(|m| m.latency).collect()),
        (requests.len() - probes) as f64 / joined as f64
    );
    println!("requests during the joins (health probes included): {by_kind:?}");
    for failure in failures.iter().take(5) {
        println!("  join failed: {failure}");
    }
    assert!(
        members.len() > plan.rounds,
        "too few learners joined to go on"
    );

    // 2. Everyone sets up the step; all but the probe learners check it (and pass).
    let (probe_learners, others) = members.split_at(plan.rounds);
    let setup_url = site.at(&format!("/api/labs/{LAB}/steps/{STEP}/setup"));
    let check_url = site.at(&format!("/api/labs/{LAB}/steps/{STEP}/check"));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (i, m) in members.iter().enumerate() {
        let (client, setup_url, check_url) =
            (m.client.clone(), setup_url.clone(), check_url.clone());
        let check = i >= plan.rounds;
        tasks.push(tokio::spawn(async move {
            api_post(&client, &setup_url).await?;
            if check {
                let report = api_post(&client, &check_url).await?;
                if report["status"] != "passed" {
                    return Err(format!("check: {}", report["status"]));
                }
            }
            Ok::<(), String>(())
        }));
    }
    let mut problems = Vec::new();
    for task in tasks {
        if let Err(e) = task.await.expect("set-up task") {
            problems.push(e);
        }
    }
    println!(
        "set-up of {LAB}/{STEP} by {} learners and check by {}: {} ({} problems{})",
        members.len(),
        others.len(),
        ms(started.elapsed()),
        problems.len(),
        problems
            .first()
            .map(|p| format!(", first: {p}"))
            .unwrap_or_default()
    );

    // 3. Learners keep checking in the background while the instructor watches the grid.
    let stop = Arc::new(AtomicBool::new(false));
    let background_checks = Arc::new(AtomicU64::new(0));
    let background_errors = Arc::new(AtomicU64::new(0));
    let mut background = Vec::new();
    if let Some(every) = plan.check_every {
        for (i, m) in others.iter().enumerate() {
            let (client, url) = (m.client.clone(), check_url.clone());
            let (stop, done, errors) = (
                stop.clone(),
                background_checks.clone(),
                background_errors.clone(),
            );
            // Spread over the period, so the load is even rather than in bursts.
            let offset = every.mul_f64(i as f64 / others.len().max(1) as f64);
            background.push(tokio::spawn(async move {
                tokio::time::sleep(offset).await;
                while !stop.load(Ordering::Relaxed) {
                    match api_post(&client, &url).await {
                        Ok(_) => done.fetch_add(1, Ordering::Relaxed),
                        Err(_) => errors.fetch_add(1, Ordering::Relaxed),
                    };
                    tokio::time::sleep(every).await;
                }
            }));
        }
    }
    let load_started = Instant::now();

    let json_grid = format!("/api/instructor/workshops/{id}/grid");
    let html_grid = format!("/instructor/workshops/{id}/grid");
    let (_, body) = site.grid(&json_grid).await;
    let grid: Value = serde_json::from_slice(&body).expect("grid JSON");
    let columns = grid["steps"].as_array().map_or(0, Vec::len);
    let rows = grid["learners"].as_array().map_or(0, Vec::len);
    let column = grid["steps"]
        .as_array()
        .and_then(|s| s.iter().position(|c| c[0] == LAB && c[1] == STEP))
        .expect("the step is a grid column");
    let mut json_times = Vec::new();
    let mut html_times = Vec::new();
    let mut html_size = 0;
    for _ in 0..plan.grid_samples {
        json_times.push(site.grid(&json_grid).await.0);
        let (took, body) = site.grid(&html_grid).await;
        html_times.push(took);
        html_size = body.len();
    }

    // 4. A probe learner's check passes; how long until the grid shows it?
    let mut check_times = Vec::new();
    let mut visible_after = Vec::new();
    let mut polls = Vec::new();
    let mut missed = 0;
    for probe in probe_learners {
        let before = cell_state(&grid, &probe.name, column);
        assert_ne!(
            before.as_deref(),
            Some("passed"),
            "{} had not checked yet",
            probe.name
        );
        let passed_at = Instant::now();
        let report = api_post(&probe.client, &check_url)
            .await
            .expect("probe check");
        assert_eq!(report["status"], "passed", "{report}");
        check_times.push(passed_at.elapsed());
        let mut n = 0;
        loop {
            n += 1;
            let (_, body) = site.grid(&json_grid).await;
            let now: Value = serde_json::from_slice(&body).expect("grid JSON");
            if cell_state(&now, &probe.name, column).as_deref() == Some("passed") {
                visible_after.push(passed_at.elapsed());
                polls.push(n);
                break;
            }
            if passed_at.elapsed() > ROUND_TIMEOUT {
                missed += 1;
                break;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    for task in background {
        let _ = task.await;
    }
    let load_secs = load_started.elapsed().as_secs_f64();

    println!();
    println!(
        "instructor grid: {rows} learners × {columns} steps; JSON {:.0} KiB, HTML fragment {:.0} KiB; \
         background load: {} checks ({:.1}/s, {} errors)",
        body.len() as f64 / 1024.0,
        html_size as f64 / 1024.0,
        background_checks.load(Ordering::Relaxed),
        background_checks.load(Ordering::Relaxed) as f64 / load_secs,
        background_errors.load(Ordering::Relaxed),
    );
    println!();
    println!("| what | samples | p50 / p99 / max |");
    println!("|---|---:|---:|");
    println!(
        "| `GET /api/instructor/workshops/{{id}}/grid` (JSON) | {} | {} |",
        json_times.len(),
        spread(json_times)
    );
    println!(
        "| `GET /instructor/workshops/{{id}}/grid` (HTML fragment) | {} | {} |",
        html_times.len(),
        spread(html_times)
    );
    println!(
        "| learner's passing `POST .../check` | {} | {} |",
        check_times.len(),
        spread(check_times)
    );
    println!(
        "| passing check sent → grid shows `passed` | {} ({missed} missed) | {} |",
        visible_after.len(),
        spread(visible_after)
    );
    println!("grid requests needed until it showed the pass: {:?}", polls);

    // 5. One more learner joins alone, with everyone else active but idle.
    let (late, failures, _) = join_all(&site, &code, 1).await;
    let lone = site.fake.requests().len();
    match (late.first(), failures.first()) {
        (Some(m), _) => println!(
            "a lone join with {} learners in the workshop: {} ({lone} API requests)",
            members.len(),
            ms(m.latency)
        ),
        (None, Some(e)) => println!("the lone join failed: {e}"),
        (None, None) => {}
    }

    // 6. Ending the workshop removes every learner namespace.
    let started = Instant::now();
    let (status, ended) = site
        .instructor_post(&format!("/api/instructor/workshops/{id}/end"), json!({}))
        .await;
    println!(
        "end workshop: {status}, {} namespaces deleted in {}",
        ended["deleted"],
        ms(started.elapsed())
    );
    println!();
    site.stop().await;
}

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let plan = Plan::from_env(benchmarking);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(&plan));
}
