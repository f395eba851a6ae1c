//! Workshop terminals under load: the `kubelab` binary (its own process, `serve --workshop`)
//! against the fake Kubernetes API server, whose simulated kubelet runs each learner's toolbox
//! Pod and answers the tty exec with an interactive shell that echoes what is typed. Learners
//! join, all open their terminal at once (`/terminal/socket`, as the lab page does), stay idle,
//! then each types at a human rate. Prints the time to open the terminals, kubelab's RSS and
//! CPU idle and while typing, and keystroke → echo latency through kubelab (p50/p95/p99/max).
//! See `bench/README.md` ("Workshop terminals").

// The fake's own unit tests are compiled out here (no cfg(test)), leaving their imports unused,
// and this bench drives only a few parts of the fake; the integration tests, which use all of
// it, are where unused code is reported.
#[allow(unused_imports, dead_code)]
#[path = "../tests/support/mod.rs"]
mod support;

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use common::{Learner, Server, cpu_time, join_all, ms, percentile};

const TOKEN: &str = "instructor-token-for-the-terminal-bench";
/// The lab the workshop offers (any: every workshop offers a toolbox terminal).
const LAB: &str = "configmap";
/// The end of the fake shell's prompt (busybox ash writes `/ # ` then asks for the cursor).
const PROMPT: &str = "/ # \u{1b}[6n";
/// How long a keystroke's echo may take before it counts as lost.
const ECHO_PATIENCE: Duration = Duration::from_secs(10);
/// How long opening a terminal may take (the toolbox Pod is created and started first).
const OPEN_PATIENCE: Duration = Duration::from_secs(120);

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// What the run does; the defaults are the issue's figures, the smoke plan is for `cargo test`.
struct Plan {
    /// Learners (one terminal each) of each run, a fresh kubelab process per run.
    terminals: Vec<usize>,
    /// The window with every terminal open and nobody typing.
    idle: Duration,
    /// The window in which every learner types.
    typing: Duration,
    /// The pause before each keystroke is drawn uniformly from this range.
    gap: (Duration, Duration),
}

impl Plan {
    fn from_env(benchmarking: bool) -> Plan {
        let number = |name: &str, default: u64| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .unwrap_or(default)
        };
        let (terminals, idle, typing) = if benchmarking {
            (vec![50, 300], 10, 40)
        } else {
            (vec![3], 1, 2)
        };
        let terminals = std::env::var("KUBELAB_BENCH_TERMINALS")
            .ok()
            .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect())
            .filter(|v: &Vec<usize>| !v.is_empty())
            .unwrap_or(terminals);
        let low = number("KUBELAB_BENCH_KEY_MIN_MS", 150);
        Plan {
            terminals: terminals.into_iter().map(|n| n.clamp(1, 499)).collect(),
            idle: Duration::from_secs(number("KUBELAB_BENCH_IDLE_SECS", idle).max(1)),
            typing: Duration::from_secs(number("KUBELAB_BENCH_TYPING_SECS", typing).max(1)),
            gap: (
                Duration::from_millis(low),
                Duration::from_millis(number("KUBELAB_BENCH_KEY_MAX_MS", 300).max(low)),
            ),
        }
    }
}

/// Reads the terminal until its output since `output` was last cleared contains `needle`;
/// returns when the frame that completed it arrived. A control message that ends or detaches
/// the terminal, or a notice (input dropped), is an error.
async fn read_until(
    socket: &mut Socket,
    output: &mut Vec<u8>,
    needle: &[u8],
    patience: Duration,
) -> Result<Instant, String> {
    let deadline = tokio::time::Instant::now() + patience;
    loop {
        if output.windows(needle.len()).any(|w| w == needle) {
            return Ok(Instant::now());
        }
        match tokio::time::timeout_at(deadline, socket.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => output.extend_from_slice(&b),
            Ok(Some(Ok(Message::Text(t)))) => {
                let control: Value = serde_json::from_str(&t).unwrap_or(Value::Null);
                if control["type"] != "attached" {
                    return Err(format!("the terminal said {t}"));
                }
            }
            Ok(Some(Ok(_))) => {}
            Ok(None) | Ok(Some(Err(_))) => return Err("the socket closed".into()),
            Err(_) => {
                return Err(format!(
                    "no {:?} within {patience:?}; the terminal showed {:?}",
                    String::from_utf8_lossy(needle),
                    String::from_utf8_lossy(output)
                ));
            }
        }
    }
}

/// A learner loads the lab page, then opens its terminal as the page does (same origin, the
/// session and CSRF cookies, the token in the query) and waits for the shell's prompt.
/// Returns the socket and the time from the handshake to the prompt.
async fn open_terminal(base: String, learner: Learner) -> Result<(Socket, Duration), String> {
    let page = learner
        .client
        .get(format!("{base}/labs/{LAB}"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !page.status().is_success() {
        return Err(format!("the lab page: {}", page.status()));
    }
    let started = Instant::now();
    let url = format!(
        "{}/terminal/socket?cols=100&rows=30&csrf={}",
        base.replacen("http://", "ws://", 1),
        learner.csrf
    );
    let mut request = url.into_client_request().map_err(|e| e.to_string())?;
    let headers = request.headers_mut();
    headers.insert("origin", base.parse().map_err(|_| "origin")?);
    let cookie = learner.cookie_header(&base);
    headers.insert("cookie", cookie.parse().map_err(|_| "cookie")?);
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .map_err(|e| format!("handshake: {e}"))?;
    let mut output = Vec::new();
    read_until(&mut socket, &mut output, PROMPT.as_bytes(), OPEN_PATIENCE).await?;
    Ok((socket, started.elapsed()))
}

/// What one learner's typing measured.
#[derive(Default)]
struct Typed {
    /// Keystroke → echo, one per keystroke answered.
    latencies: Vec<Duration>,
    /// Lines typed and answered (`echo WORD` + Enter → output and prompt).
    lines: usize,
    /// Why the learner stopped early (an echo that never came, the terminal ending).
    failure: Option<String>,
}

/// Sends one keystroke and times its echo (`expected`).
async fn keystroke(socket: &mut Socket, key: u8, expected: &[u8]) -> Result<Duration, String> {
    let mut output = Vec::new();
    let sent = Instant::now();
    socket
        .send(Message::Binary(vec![key].into()))
        .await
        .map_err(|e| format!("send: {e}"))?;
    let echoed = read_until(socket, &mut output, expected, ECHO_PATIENCE).await?;
    if expected == b"\r\n" {
        // Enter: the shell answers the line and prompts again before the learner goes on.
        read_until(socket, &mut output, PROMPT.as_bytes(), ECHO_PATIENCE).await?;
    }
    Ok(echoed - sent)
}

/// A learner types `echo WORD` lines (a random word of 3–8 letters) until `until`, pausing a
/// random `gap` before each keystroke, and times each keystroke's echo. Returns the socket
/// (still open) with what was measured.
async fn typist(
    mut socket: Socket,
    until: Instant,
    gap: (Duration, Duration),
    seed: u64,
) -> (Socket, Typed) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut typed = Typed::default();
    // Learners do not start in step.
    tokio::time::sleep(rng.random_range(Duration::ZERO..=gap.1)).await;
    'lines: while Instant::now() < until {
        let word: String = (0..rng.random_range(3..=8))
            .map(|_| char::from(rng.random_range(b'a'..=b'z')))
            .collect();
        let line = format!("echo {word}\r");
        for key in line.bytes() {
            tokio::time::sleep(rng.random_range(gap.0..=gap.1)).await;
            if Instant::now() >= until {
                break 'lines;
            }
            let expected: &[u8] = if key == b'\r' { b"\r\n" } else { &[key] };
            match keystroke(&mut socket, key, expected).await {
                Ok(latency) => typed.latencies.push(latency),
                Err(e) => {
                    typed.failure = Some(e);
                    break 'lines;
                }
            }
        }
        typed.lines += 1;
    }
    (socket, typed)
}

/// kubelab's CPU and memory over one window, with the fake's requests meanwhile.
struct Window {
    wall: Duration,
    cpu: Duration,
    /// This process (the fake and the learners' clients).
    bench_cpu: Duration,
    rss_kib: u64,
    hwm_kib: u64,
    requests: BTreeMap<String, usize>,
}

/// Starts a window: clears the fake's request log and notes the CPU times so far.
fn window_start(server: &Server) -> (Instant, Duration, Duration) {
    server.fake.clear_requests();
    (
        Instant::now(),
        server.cpu_time(),
        cpu_time(std::process::id()),
    )
}

fn window_end(server: &Server, (started, cpu, bench_cpu): (Instant, Duration, Duration)) -> Window {
    let mut requests = BTreeMap::new();
    for r in server.fake.requests() {
        // Learner namespaces differ; what matters is the kind of request.
        let mut segments: Vec<&str> = r.path.split('/').collect();
        for i in 1..segments.len() {
            if segments[i - 1] == "namespaces" {
                segments[i] = "{ns}";
            }
        }
        *requests
            .entry(format!("{} {}", r.method, segments.join("/")))
            .or_insert(0) += 1;
    }
    let (rss_kib, hwm_kib) = server.rss_kib();
    Window {
        wall: started.elapsed(),
        cpu: server.cpu_time() - cpu,
        bench_cpu: cpu_time(std::process::id()) - bench_cpu,
        rss_kib,
        hwm_kib,
        requests,
    }
}

/// Everything one run measured.
struct Run {
    terminals: usize,
    rss_before_kib: u64,
    rss_joined_kib: u64,
    joined_in: Duration,
    open: Window,
    /// Handshake → prompt, per terminal, sorted.
    open_times: Vec<Duration>,
    idle: Window,
    typing: Window,
    /// Keystroke → echo, every learner's, sorted.
    latencies: Vec<Duration>,
    lines: usize,
    failures: Vec<String>,
    sessions: usize,
}

/// Opens every learner's terminal at once; panics if one does not open.
async fn open_all(server: &Server, learners: Vec<Learner>) -> (Vec<Socket>, Vec<Duration>) {
    let opens: Vec<_> = learners
        .into_iter()
        .map(|l| tokio::spawn(open_terminal(server.url.clone(), l)))
        .collect();
    let mut sockets = Vec::new();
    let mut times = Vec::new();
    for (i, open) in opens.into_iter().enumerate() {
        let (socket, took) = open
            .await
            .expect("open task")
            .unwrap_or_else(|e| panic!("learner {i}'s terminal: {e}"));
        sockets.push(socket);
        times.push(took);
    }
    times.sort();
    (sockets, times)
}

/// Every learner types for `plan.typing`; returns the sockets and what they measured.
async fn type_all(sockets: Vec<Socket>, plan: &Plan) -> (Vec<Socket>, Vec<Typed>) {
    let until = Instant::now() + plan.typing;
    let typists: Vec<_> = sockets
        .into_iter()
        .enumerate()
        .map(|(i, s)| tokio::spawn(typist(s, until, plan.gap, i as u64)))
        .collect();
    let mut sockets = Vec::new();
    let mut typed = Vec::new();
    for t in typists {
        let (socket, measured) = t.await.expect("typist task");
        sockets.push(socket);
        typed.push(measured);
    }
    (sockets, typed)
}

/// One run: a fresh kubelab process, `n` learners join, open their terminals, idle, type.
async fn run(n: usize, plan: &Plan) -> Run {
    let server = Server::start_with(&["--workshop", "--instructor-token", TOKEN]).await;
    server.fake.simulate_workloads(true);
    let code = server
        .create_workshop(TOKEN, "Terminal bench", &[LAB], n + 1)
        .await;
    let rss_before_kib = server.rss_kib().0;
    let joining = Instant::now();
    let learners = join_all(&server, &code, n, LAB).await;
    let joined_in = joining.elapsed();
    let namespaces: Vec<String> = learners.iter().map(|l| l.namespace.clone()).collect();
    // Let the joins' work (database, caches) settle before the baseline.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_joined_kib = server.rss_kib().0;

    let opening = window_start(&server);
    let (sockets, open_times) = open_all(&server, learners).await;
    let open = window_end(&server, opening);
    let toolboxes = namespaces
        .iter()
        .filter(|ns| {
            server
                .fake
                .get(
                    "v1",
                    "Pod",
                    Some(ns.as_str()),
                    kubelab::cluster::TOOLBOX_POD,
                )
                .is_some()
        })
        .count();
    assert_eq!(toolboxes, n, "a toolbox Pod in every learner's namespace");

    let idling = window_start(&server);
    tokio::time::sleep(plan.idle).await;
    let idle = window_end(&server, idling);

    let typing = window_start(&server);
    let (sockets, typed) = type_all(sockets, plan).await;
    let typing = window_end(&server, typing);
    let sessions = server.fake.exec_sessions().len();
    drop(sockets);

    let mut latencies: Vec<Duration> = typed.iter().flat_map(|t| t.latencies.clone()).collect();
    latencies.sort();
    Run {
        terminals: n,
        rss_before_kib,
        rss_joined_kib,
        joined_in,
        open,
        open_times,
        idle,
        typing,
        latencies,
        lines: typed.iter().map(|t| t.lines).sum(),
        failures: typed.into_iter().filter_map(|t| t.failure).collect(),
        sessions,
    }
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn percent(cpu: Duration, wall: Duration) -> String {
    format!("{:.1} %", cpu.as_secs_f64() / wall.as_secs_f64() * 100.0)
}

fn per_minute(w: &Window) -> String {
    let all: usize = w.requests.values().sum();
    format!("{:.0}", all as f64 * 60.0 / w.wall.as_secs_f64())
}

fn print_opening(runs: &[Run]) {
    println!(
        "| terminals | all joined in | kubelab RSS before joins → joined | all terminals open in | open min / p50 / p99 / max | API requests per open | kubelab CPU while opening | fake + clients CPU | kubelab RSS with all open, idle (peak) | per terminal |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in runs {
        let all: usize = r.open.requests.values().sum();
        let per_terminal = r.idle.rss_kib.saturating_sub(r.rss_joined_kib) / r.terminals as u64;
        println!(
            "| {} | {:.2} s | {} → {} | {:.2} s | {} / {} / {} / {} | {:.1} | {} | {} | {} ({}) | {per_terminal} KiB |",
            r.terminals,
            r.joined_in.as_secs_f64(),
            mib(r.rss_before_kib),
            mib(r.rss_joined_kib),
            r.open.wall.as_secs_f64(),
            ms(r.open_times.first().copied().unwrap_or_default()),
            ms(percentile(&r.open_times, 50.0)),
            ms(percentile(&r.open_times, 99.0)),
            ms(r.open_times.last().copied().unwrap_or_default()),
            all as f64 / r.terminals as f64,
            percent(r.open.cpu, r.open.wall),
            percent(r.open.bench_cpu, r.open.wall),
            mib(r.idle.rss_kib),
            mib(r.idle.hwm_kib),
        );
    }
}

fn print_typing(runs: &[Run]) {
    println!(
        "| terminals | window | keystrokes timed (learners who stopped) | keystrokes /s | echo p50 | p95 | p99 | max | kubelab CPU | kubelab RSS (peak) | fake + clients CPU | API requests /min |"
    );
    println!("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in runs {
        let secs = r.typing.wall.as_secs_f64();
        println!(
            "| {} | idle {:.0} s | | | | | | | {} | {} ({}) | {} | {} |",
            r.terminals,
            r.idle.wall.as_secs_f64(),
            percent(r.idle.cpu, r.idle.wall),
            mib(r.idle.rss_kib),
            mib(r.idle.hwm_kib),
            percent(r.idle.bench_cpu, r.idle.wall),
            per_minute(&r.idle),
        );
        println!(
            "| {} | typing {secs:.0} s | {} ({}) | {:.0} | {} | {} | {} | {} | {} | {} ({}) | {} | {} |",
            r.terminals,
            r.latencies.len(),
            r.failures.len(),
            r.latencies.len() as f64 / secs,
            ms(percentile(&r.latencies, 50.0)),
            ms(percentile(&r.latencies, 95.0)),
            ms(percentile(&r.latencies, 99.0)),
            ms(r.latencies.last().copied().unwrap_or_default()),
            percent(r.typing.cpu, r.typing.wall),
            mib(r.typing.rss_kib),
            mib(r.typing.hwm_kib),
            percent(r.typing.bench_cpu, r.typing.wall),
            per_minute(&r.typing),
        );
    }
}

fn print_report(runs: &[Run], plan: &Plan) {
    println!();
    println!(
        "kubelab workshop terminals — the kubelab binary against the fake API server; each learner \
         types `echo WORD` lines, one keystroke every {}–{} ms",
        plan.gap.0.as_millis(),
        plan.gap.1.as_millis()
    );
    println!();
    print_opening(runs);
    println!();
    print_typing(runs);
    for r in runs {
        println!(
            "{} terminals: {} lines answered, {} exec sessions in the fake",
            r.terminals, r.lines, r.sessions
        );
        println!("  requests while opening: {:?}", r.open.requests);
        println!("  requests while idle: {:?}", r.idle.requests);
        println!("  requests while typing: {:?}", r.typing.requests);
        for f in r.failures.iter().take(5) {
            println!("  a learner stopped: {f}");
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
    let runs: Vec<Run> = plan
        .terminals
        .iter()
        .map(|&n| rt.block_on(run(n, &plan)))
        .collect();
    print_report(&runs, &plan);
}
