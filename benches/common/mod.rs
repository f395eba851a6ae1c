//! What the benches that run the `kubelab` binary as its own process share: starting it against
//! the fake Kubernetes API server, reading its CPU time and memory from `/proc`, creating a
//! workshop, letting learners join it through the join form, and the percentiles printed.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use reqwest::cookie::{CookieStore, Jar};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::support::FakeApi;

/// A `kubelab serve` process using the fake cluster, with its own database.
pub struct Server {
    /// The fake API server kubelab talks to (in this process).
    pub fake: FakeApi,
    /// The kubelab process.
    pub child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// A client without cookies (the instructor's API, readiness).
    pub client: Client,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Server {
    /// Starts `kubelab serve` with `extra` arguments (`--workshop ...`) and waits until it
    /// reports the fake cluster reachable.
    pub async fn start_with(extra: &[&str]) -> Server {
        let fake = FakeApi::start().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = fake.write_kubeconfig(dir.path());
        let addr = format!("127.0.0.1:{}", free_port());
        let child = Command::new(env!("CARGO_BIN_EXE_kubelab"))
            .arg("serve")
            .arg("--addr")
            .arg(&addr)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .arg("--database-url")
            .arg(dir.path().join("kubelab.db"))
            .args(extra)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the kubelab binary");
        let server = Server {
            fake,
            child,
            url: format!("http://{addr}"),
            client: Client::new(),
            _dir: dir,
        };
        for _ in 0..600 {
            if let Ok(r) = server
                .client
                .get(format!("{}/readyz", server.url))
                .send()
                .await
                && let Ok(v) = r.json::<Value>().await
                && v["cluster"]["state"] == "reachable"
            {
                return server;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("kubelab did not become ready with the fake cluster");
    }

    /// The server process's resident memory and its peak, in KiB (`/proc/PID/status`).
    pub fn rss_kib(&self) -> (u64, u64) {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        let field = |name: &str| {
            status
                .lines()
                .find(|l| l.starts_with(name))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        (field("VmRSS:"), field("VmHWM:"))
    }

    /// The server process's CPU time so far.
    pub fn cpu_time(&self) -> Duration {
        cpu_time(self.child.id())
    }

    /// Creates a workshop offering `labs` for `capacity` learners as the instructor (`token`,
    /// given to `kubelab serve` with `--instructor-token`); returns its join code.
    pub async fn create_workshop(
        &self,
        token: &str,
        name: &str,
        labs: &[&str],
        capacity: usize,
    ) -> String {
        // `kubelab serve` stores the instructor token just after it starts answering.
        let mut tries = 0;
        let workshop: Value = loop {
            let r = self
                .client
                .post(format!("{}/api/instructor/workshops", self.url))
                .bearer_auth(token)
                .json(&json!({"name": name, "labs": labs, "capacity": capacity, "hours": 2}))
                .send()
                .await
                .expect("create the workshop");
            let status = r.status();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            tries += 1;
            match status {
                StatusCode::CREATED => break body,
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN if tries < 20 => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                _ => panic!("creating the workshop: {status} {body}"),
            }
        };
        workshop["code"].as_str().expect("code").to_owned()
    }
}

/// A process's CPU time so far (user + system), from `/proc/PID/stat`.
pub fn cpu_time(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map_or("", |(_, rest)| rest)
        .split_whitespace()
        .collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 of the line; the slice starts at field 3.
    let total = ticks(11) + ticks(12);
    Duration::from_secs_f64(total as f64 / clock_ticks() as f64)
}

fn clock_ticks() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}

/// A workshop learner's browser: its cookies (kept in `cookies`, so a WebSocket handshake can
/// send them too), the CSRF token of its pages, and the namespace it works in.
pub struct Learner {
    /// Keeps the learner's cookies.
    pub client: Client,
    /// The same cookies, for requests not made through `client`.
    pub cookies: Arc<Jar>,
    /// The token the pages carry (`csrf_token` fields, `<meta name="csrf-token">`).
    pub csrf: String,
    /// The learner's namespace.
    pub namespace: String,
}

impl Learner {
    /// The `Cookie` header a browser would send to `url`.
    pub fn cookie_header(&self, url: &str) -> String {
        let url = url.parse().expect("a URL");
        self.cookies
            .cookies(&url)
            .and_then(|v| v.to_str().ok().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// One learner (`learner-{i}`) joins workshop `code` through the join page's form; `lab` (one
/// the workshop offers) tells the namespace they work in.
async fn join(url: String, code: String, i: usize, lab: &str) -> Result<Learner, String> {
    let cookies = Arc::new(Jar::default());
    let client = Client::builder()
        .cookie_provider(cookies.clone())
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let join_url = format!("{url}/join/{code}");
    let page = client
        .get(&join_url)
        .send()
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    let marker = "name=\"csrf_token\" value=\"";
    let start = page.find(marker).ok_or("no CSRF token")? + marker.len();
    let csrf = page[start..]
        .split('"')
        .next()
        .unwrap_or_default()
        .to_owned();
    let r = client
        .post(&join_url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("name=learner-{i:03}&csrf_token={csrf}"))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if r.status() != StatusCode::SEE_OTHER {
        return Err(format!("join: {}", r.status()));
    }
    let lab: Value = client
        .get(format!("{url}/api/labs/{lab}"))
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let namespace = lab["namespace"].as_str().ok_or("no namespace")?.to_owned();
    Ok(Learner {
        client,
        cookies,
        csrf,
        namespace,
    })
}

/// `n` learners join workshop `code` at once; panics if one cannot.
pub async fn join_all(server: &Server, code: &str, n: usize, lab: &str) -> Vec<Learner> {
    let joins: Vec<_> = (0..n)
        .map(|i| {
            let (url, code, lab) = (server.url.clone(), code.to_owned(), lab.to_owned());
            tokio::spawn(async move { join(url, code, i, &lab).await })
        })
        .collect();
    let mut learners = Vec::new();
    for j in joins {
        learners.push(j.await.expect("join task").expect("join"));
    }
    learners
}

/// The `p`th percentile of `sorted` (nearest rank).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `12.3 ms`.
pub fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}
