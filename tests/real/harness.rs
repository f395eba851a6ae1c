//! What every theme of the real-cluster suite uses: when to run (the gate), kubelab's JSON API
//! (Set up, Check, Reset) with per-check verdicts, `kubectl` as the learner types it, bounded
//! waits, and the table of asserted verdicts printed at the end.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use kubelab::cluster::ClusterOptions;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::app::{TestApp, spawn_app_with_cluster};

/// Pods starting, rollouts finishing, objects going away (images are local: seconds, but the
/// whole test binary shares two cores).
pub const STARTUP: Duration = Duration::from_secs(120);
/// The kubelet refreshing a ConfigMap volume or retrying a mount: its periodic sync (1 min)
/// plus its cache's TTL and backoff.
pub const KUBELET_SYNC: Duration = Duration::from_secs(180);
/// A controller's resync (the HPA controller looks every 15 s).
pub const CONTROLLER: Duration = Duration::from_secs(90);

/// How long after a learner's action a verdict other than `passed` is trusted: kubelab's watch
/// caches see a change well within this (0.1–0.4 s measured here).
pub const SETTLE: Duration = Duration::from_millis(1500);

/// Whether the suite runs, from `KUBELAB_REAL_CLUSTER` and `KUBELAB_REQUIRE_REAL_CLUSTER`.
#[derive(Debug, PartialEq, Eq)]
pub enum Gate {
    /// Not asked for: skip, saying how to ask.
    Skip(String),
    /// Asked for: run (an unreachable cluster is then a failure).
    Run,
    /// Required but not asked for: a misconfigured CI, which must fail.
    Fail(String),
}

/// The decision for the given values of `KUBELAB_REAL_CLUSTER` and `KUBELAB_REQUIRE_REAL_CLUSTER`.
pub fn gate(real_cluster: Option<&str>, require: Option<&str>) -> Gate {
    let required = require == Some("1");
    match (real_cluster == Some("1"), required) {
        (true, _) => Gate::Run,
        (false, true) => Gate::Fail(
            "KUBELAB_REQUIRE_REAL_CLUSTER=1 but KUBELAB_REAL_CLUSTER is not 1: the real-cluster \
             suite must run here (.ci/run sets both once realkube is up)"
                .into(),
        ),
        (false, false) => Gate::Skip(
            "skipped: the real-cluster suite runs with KUBELAB_REAL_CLUSTER=1 and a cluster in \
             $KUBECONFIG (e.g. ../shared/realkube/up --real-node, KUBECONFIG=/tmp/rk/kubeconfig)"
                .into(),
        ),
    }
}

/// The cluster the suite runs against (`$KUBECONFIG`, `KUBELAB_CONTEXT`).
pub fn real_options() -> ClusterOptions {
    ClusterOptions {
        kubeconfig: std::env::var_os("KUBECONFIG").map(Into::into),
        context: std::env::var("KUBELAB_CONTEXT").ok(),
        public_api: None,
    }
}

/// The node the labs' Pods must run on: realkube's real kubelet.
pub const REAL_NODE: &str = "real-node";

/// The cluster is realkube's with a real node (`up --real-node`): `real-node` Ready, every
/// other node tainted so that no lab Pod lands on the simulated kubelet (which cannot exec).
async fn preflight(kubectl: &Kubectl) {
    let nodes = items(&kubectl.json(&["nodes"]).await);
    let real = nodes
        .iter()
        .find(|n| n["metadata"]["name"] == REAL_NODE)
        .unwrap_or_else(|| {
            panic!(
                "no node {REAL_NODE}: the suite runs the labs' Pods on realkube's real kubelet; \
                 start it with ../shared/realkube/up --real-node"
            )
        });
    assert!(
        real["status"]["conditions"].as_array().is_some_and(|cs| cs
            .iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")),
        "{REAL_NODE} is not Ready: {}",
        real["status"]["conditions"]
    );
    for node in nodes.iter().filter(|n| n["metadata"]["name"] != REAL_NODE) {
        let tainted = node["spec"]["taints"]
            .as_array()
            .is_some_and(|ts| ts.iter().any(|t| t["effect"] == "NoSchedule"));
        assert!(
            tainted,
            "node {} is not tainted NoSchedule, so lab Pods may land there instead of on \
             {REAL_NODE} (realkube's up --real-node taints lab-node)",
            node["metadata"]["name"]
        );
    }
}

/// One asserted outcome, for the table printed at the end.
#[derive(Debug, Clone)]
pub struct Row {
    /// `lab/step` (or the theme).
    pub place: String,
    /// What was done before checking.
    pub action: String,
    /// `check=status` for every asserted check.
    pub verdicts: String,
    /// Seconds until the verdicts were as expected.
    pub waited: f64,
}

/// kubelab (local mode) against the real cluster, shared by every theme of the run.
pub struct Real {
    /// The kubelab under test.
    pub app: TestApp,
    /// The cluster's admin, as a learner on their own laptop.
    pub kubectl: Kubectl,
    rows: Mutex<Vec<Row>>,
}

impl Real {
    /// kubelab started against the cluster, or `None` when the suite is skipped. Panics when
    /// the suite must run and cannot (cluster unreachable, no kubectl).
    pub async fn connect() -> Option<Real> {
        let real = std::env::var("KUBELAB_REAL_CLUSTER").ok();
        let require = std::env::var("KUBELAB_REQUIRE_REAL_CLUSTER").ok();
        match gate(real.as_deref(), require.as_deref()) {
            Gate::Skip(message) => {
                eprintln!("{message}");
                return None;
            }
            Gate::Fail(message) => panic!("{message}"),
            Gate::Run => {}
        }
        let kubectl = Kubectl::admin();
        if let Err(e) = kubectl.try_run(&["version", "-o", "json"]).await {
            panic!(
                "KUBELAB_REAL_CLUSTER=1 but kubectl cannot reach the cluster \
                 (KUBECONFIG={:?}): {e}",
                std::env::var("KUBECONFIG").unwrap_or_default()
            );
        }
        preflight(&kubectl).await;
        let app = spawn_app_with_cluster(real_options()).await;
        let health = app.engine().refresh_health().await;
        assert!(
            health.is_reachable(),
            "KUBELAB_REAL_CLUSTER=1 but kubelab cannot reach the cluster: {health:?}"
        );
        Some(Real {
            app,
            kubectl,
            rows: Mutex::new(Vec::new()),
        })
    }

    /// A step of a lab, to set up and check.
    pub fn step<'a>(&'a self, lab: &'a str, step: &'a str) -> Step<'a> {
        Step {
            app: &self.app,
            real: self,
            lab,
            step,
        }
    }

    /// `POST /api/labs/{lab}/reset`, expecting 200; the report.
    pub async fn reset(&self, lab: &str) -> Value {
        reset_on(&self.app, lab).await
    }

    /// Reset, then Reset again confirming the deletion of what the first one kept as the
    /// learner's own (`why: yours`): a clean start. The second report, if there was one.
    pub async fn reset_everything(&self, lab: &str) -> Option<Value> {
        let first = self.reset(lab).await;
        let yours = kept(&first, "yours");
        if yours.is_empty() {
            return None;
        }
        Some(reset_deleting(&self.app, lab, &yours).await)
    }

    /// Adds a line to the final table.
    pub fn record(&self, row: Row) {
        self.rows.lock().expect("rows").push(row);
    }

    /// The table of everything asserted, as Markdown.
    pub fn table(&self) -> String {
        let rows = self.rows.lock().expect("rows");
        let mut out = String::from(
            "| lab/step | action | asserted verdicts | waited |\n|---|---|---|---:|\n",
        );
        for r in rows.iter() {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.1} s |",
                r.place, r.action, r.verdicts, r.waited
            );
        }
        out
    }

    /// Stops kubelab.
    pub async fn stop(self) {
        self.app.stop().await;
    }
}

/// `POST /api/labs/{lab}/reset` on `app`, expecting 200.
pub async fn reset_on(app: &TestApp, lab: &str) -> Value {
    let (status, report) = app.post_json(&format!("/api/labs/{lab}/reset")).await;
    assert_eq!(status, 200, "reset {lab}: {report}");
    report
}

/// `POST /api/labs/{lab}/reset` with `{"delete": [...]}`: the learner confirms that Reset
/// deletes these objects of theirs too.
pub async fn reset_deleting(app: &TestApp, lab: &str, objects: &[Value]) -> Value {
    let response = app
        .client
        .post(format!("{}/api/labs/{lab}/reset", app.url))
        .json(&json!({ "delete": objects }))
        .send()
        .await
        .expect("POST reset");
    let status = response.status().as_u16();
    let report: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "reset {lab} deleting {objects:?}: {report}");
    report
}

/// The objects a reset report kept for `why` (`yours`, `used-by-lab`, `not-created-by-kubelab`,
/// `learner-namespace`), as object keys.
pub fn kept(report: &Value, why: &str) -> Vec<Value> {
    report["kept"]
        .as_array()
        .map(|kept| {
            kept.iter()
                .filter(|k| k["why"] == why)
                .map(|k| {
                    json!({"apiVersion": k["apiVersion"], "kind": k["kind"],
                           "namespace": k["namespace"], "name": k["name"]})
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The names of the objects of `kind` in a reset report's `deleted` list, or in its `kept`
/// list for `why`.
pub fn names(objects: &[Value], kind: &str) -> Vec<String> {
    objects
        .iter()
        .filter(|o| o["kind"] == kind)
        .filter_map(|o| o["name"].as_str().map(str::to_owned))
        .collect()
}

/// The step report of a check: per-check verdicts.
#[derive(Debug, Clone)]
pub struct Verdicts(pub Value);

impl Verdicts {
    /// `checks[id].verdict.status` (`passed`, `failed`, `pending`, `error`), or `missing`.
    pub fn status(&self, id: &str) -> &str {
        self.0["checks"]
            .as_array()
            .and_then(|cs| cs.iter().find(|c| c["id"] == id))
            .and_then(|c| c["verdict"]["status"].as_str())
            .unwrap_or("missing")
    }

    /// `id=status` for the given checks.
    pub fn summary(&self, ids: &[&str]) -> String {
        ids.iter()
            .map(|id| format!("{id}={}", self.status(id)))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Every check's verdict (with diagnostics), compactly, for failure messages.
    pub fn explain(&self) -> String {
        self.0["checks"]
            .as_array()
            .map(|cs| {
                cs.iter()
                    .map(|c| format!("  {}: {}", c["id"], c["verdict"]))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_else(|| self.0.to_string())
    }
}

/// One step of a lab on one kubelab (the local one, or a workshop learner's session).
pub struct Step<'a> {
    app: &'a TestApp,
    real: &'a Real,
    lab: &'a str,
    step: &'a str,
}

impl<'a> Step<'a> {
    /// The same step as seen through another kubelab client (a workshop learner's session);
    /// rows still go to `real`'s table.
    pub fn on(real: &'a Real, app: &'a TestApp, lab: &'a str, step: &'a str) -> Step<'a> {
        Step {
            app,
            real,
            lab,
            step,
        }
    }

    /// **Set up**, expecting success (200, no refused object); the report.
    pub async fn setup(&self) -> Value {
        let (status, report) = self.setup_answer().await;
        assert_eq!(status, 200, "set up {}/{}: {report}", self.lab, self.step);
        assert!(
            report.get("error").is_none_or(Value::is_null),
            "set up {}/{} refused an object: {report}",
            self.lab,
            self.step
        );
        report
    }

    /// **Set up**, whatever the answer: (status, body).
    pub async fn setup_answer(&self) -> (u16, Value) {
        self.app
            .post_json(&format!("/api/labs/{}/steps/{}/setup", self.lab, self.step))
            .await
    }

    /// **Check** once, with the learner's answers to the step's questions.
    pub async fn check(&self, answers: &[(&str, &str)]) -> Verdicts {
        let answers: serde_json::Map<String, Value> = answers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
            .collect();
        let url = format!(
            "{}/api/labs/{}/steps/{}/check",
            self.app.url, self.lab, self.step
        );
        let response = self
            .app
            .client
            .post(url)
            .json(&json!({ "answers": answers }))
            .send()
            .await
            .expect("POST check");
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_eq!(status, 200, "check {}/{}: {body}", self.lab, self.step);
        Verdicts(body)
    }

    /// Checks until every listed check has one of its allowed statuses (`"passed"`,
    /// `"failed|pending"`), within [`STARTUP`]; records the row and returns the report.
    pub async fn expect(&self, action: &str, want: &[(&str, &str)]) -> Verdicts {
        self.expect_within(action, &[], want, STARTUP).await
    }

    /// [`Step::expect`] with answers to the step's questions.
    pub async fn expect_answers(
        &self,
        action: &str,
        answers: &[(&str, &str)],
        want: &[(&str, &str)],
    ) -> Verdicts {
        self.expect_within(action, answers, want, STARTUP).await
    }

    /// [`Step::expect`] with answers and a bound of its own.
    pub async fn expect_within(
        &self,
        action: &str,
        answers: &[(&str, &str)],
        want: &[(&str, &str)],
        within: Duration,
    ) -> Verdicts {
        let started = Instant::now();
        let ids: Vec<&str> = want.iter().map(|(id, _)| *id).collect();
        // A verdict that is not `passed` may be the one from before the learner's action: it
        // counts only once kubelab's watches have had time to see the action.
        let settle = if want.iter().all(|(_, allowed)| allowed.contains("passed")) {
            Duration::ZERO
        } else {
            SETTLE
        };
        loop {
            let report = self.check(answers).await;
            let as_wanted = want
                .iter()
                .all(|(id, allowed)| allowed.split('|').any(|s| s == report.status(id)));
            if as_wanted && started.elapsed() >= settle {
                self.real.record(Row {
                    place: format!("{}/{}", self.lab, self.step),
                    action: action.to_owned(),
                    verdicts: report.summary(&ids),
                    waited: started.elapsed().as_secs_f64(),
                });
                return report;
            }
            if started.elapsed() > within {
                let wanted: Vec<String> = want.iter().map(|(i, s)| format!("{i}={s}")).collect();
                panic!(
                    "{}/{} after {action:?}: wanted {} within {within:?}, got {}\n{}",
                    self.lab,
                    self.step,
                    wanted.join(", "),
                    report.summary(&ids),
                    report.explain()
                );
            }
            tokio::time::sleep(Duration::from_millis(700)).await;
        }
    }
}

/// `kubectl` as a learner runs it: the admin's (`$KUBECONFIG`, `KUBELAB_CONTEXT`) or with a
/// kubeconfig of its own (a workshop learner's).
#[derive(Debug, Clone)]
pub struct Kubectl {
    kubeconfig: Option<PathBuf>,
}

impl Kubectl {
    /// The cluster's admin.
    pub fn admin() -> Kubectl {
        Kubectl { kubeconfig: None }
    }

    /// With the kubeconfig in `path`.
    pub fn with_kubeconfig(path: &Path) -> Kubectl {
        Kubectl {
            kubeconfig: Some(path.to_path_buf()),
        }
    }

    fn command(&self, args: &[&str]) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("kubectl");
        match &self.kubeconfig {
            Some(path) => {
                cmd.arg("--kubeconfig").arg(path);
            }
            None => {
                if let Ok(context) = std::env::var("KUBELAB_CONTEXT") {
                    cmd.arg("--context").arg(context);
                }
            }
        }
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }

    /// Runs kubectl; stdout, or stderr when it fails.
    pub async fn try_run(&self, args: &[&str]) -> Result<String, String> {
        self.try_run_with_input(args, None).await
    }

    /// `kubectl apply --dry-run=server` of `manifest` in `namespace` (admission runs, nothing is
    /// stored): whether it was admitted, and what kubectl printed on stderr (warnings, errors).
    pub async fn dry_run_apply(&self, namespace: &str, manifest: &str) -> (bool, String) {
        let mut cmd = self.command(&["apply", "--dry-run=server", "-n", namespace, "-f", "-"]);
        cmd.stdin(Stdio::piped());
        let mut child = cmd.spawn().expect("kubectl starts");
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(manifest.as_bytes())
                .await
                .expect("writing to kubectl");
        }
        let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
            .await
            .expect("kubectl answers within 2 minutes")
            .expect("kubectl ran");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Runs kubectl with `input` on stdin; stdout, or stderr when it fails.
    pub async fn try_run_with_input(
        &self,
        args: &[&str],
        input: Option<&str>,
    ) -> Result<String, String> {
        let mut cmd = self.command(args);
        if input.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("kubectl cannot be started: {e}"))?;
        if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
            stdin
                .write_all(input.as_bytes())
                .await
                .map_err(|e| format!("writing to kubectl: {e}"))?;
        }
        let out = tokio::time::timeout(Duration::from_secs(120), child.wait_with_output())
            .await
            .map_err(|_| format!("kubectl {args:?} took more than 2 minutes"))?
            .map_err(|e| format!("kubectl {args:?}: {e}"))?;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() {
            Ok(stdout)
        } else {
            Err(format!(
                "{}{}",
                String::from_utf8_lossy(&out.stderr),
                stdout
            ))
        }
    }

    /// Runs kubectl, panicking with its error when it fails; stdout.
    pub async fn run(&self, args: &[&str]) -> String {
        self.try_run(args)
            .await
            .unwrap_or_else(|e| panic!("kubectl {}: {e}", args.join(" ")))
    }

    /// Runs a command line without quotes (split on whitespace), as typed after `kubectl`;
    /// stdout, or stderr when it fails.
    pub async fn try_line(&self, line: &str) -> Result<String, String> {
        let args: Vec<&str> = line.split_whitespace().collect();
        self.try_run(&args).await
    }

    /// [`Kubectl::try_line`], panicking with kubectl's error when it fails.
    pub async fn line(&self, line: &str) -> String {
        self.try_line(line)
            .await
            .unwrap_or_else(|e| panic!("kubectl {line}: {e}"))
    }

    /// `kubectl apply -f -` of `manifest` (YAML or JSON); stdout, or stderr when refused.
    pub async fn apply(&self, namespace: &str, manifest: &str) -> Result<String, String> {
        self.try_run_with_input(&["apply", "-n", namespace, "-f", "-"], Some(manifest))
            .await
    }

    /// `kubectl get <args> -o json`, parsed; `Value::Null` when it is not there.
    pub async fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["get"];
        all.extend(args);
        all.extend(["-o", "json", "--ignore-not-found"]);
        let out = self.run(&all).await;
        if out.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&out)
                .unwrap_or_else(|e| panic!("kubectl {}: not JSON ({e}): {out}", args.join(" ")))
        }
    }

    /// Waits until `kubectl get <what>` finds nothing (objects deleted, namespaces gone).
    pub async fn wait_gone(&self, what: &[&str], within: Duration) {
        let mut args = vec!["get"];
        args.extend(what);
        args.extend(["--ignore-not-found", "-o", "name"]);
        let listed = wait_for(&format!("{what:?} gone"), within, || async {
            let out = self.run(&args).await;
            out.trim().is_empty().then_some(())
        })
        .await;
        listed.unwrap_or_else(|| panic!("{what:?} still there after {within:?}"));
    }
}

/// Polls `probe` (every 500 ms) until it yields a value or `within` has passed.
pub async fn wait_for<T, F, Fut>(what: &str, within: Duration, mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(value) = probe().await {
            return Some(value);
        }
        if started.elapsed() > within {
            eprintln!("real cluster: gave up waiting for {what} after {within:?}");
            return None;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// True when the Pod has a `Ready` condition `True` (what `kubectl get` shows as READY n/n).
pub fn pod_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// True when the object is being deleted (`metadata.deletionTimestamp` set).
pub fn terminating(object: &Value) -> bool {
    object["metadata"]["deletionTimestamp"].is_string()
}

/// The items of a `kubectl get ... -o json` list.
pub fn items(list: &Value) -> Vec<Value> {
    list["items"].as_array().cloned().unwrap_or_default()
}

/// Where a Pod runs (`spec.nodeName`), or "".
pub fn node_of(pod: &Value) -> &str {
    pod["spec"]["nodeName"].as_str().unwrap_or("")
}

/// A behaviour the trial on a real cluster found wrong and #8/#10 fixed: listed in the table
/// with what was observed, and asserted (a regression fails the suite).
pub fn must_hold(real: &Real, place: &str, finding: &str, holds: bool, observed: &str) {
    let verdicts = if holds {
        format!("as designed: {observed}")
    } else {
        format!("REGRESSION ({finding}): {observed}")
    };
    real.record(Row {
        place: place.to_owned(),
        action: format!("{finding} probe"),
        verdicts,
        waited: 0.0,
    });
    assert!(holds, "{finding} at {place}: {observed}");
}

/// Runs admin `kubectl` commands when dropped — also when a theme panics — to put back what
/// the suite changed outside the labs' namespaces (node labels, a cordon).
pub struct Restore {
    commands: Vec<Vec<String>>,
}

impl Restore {
    /// Runs each of `commands` (kubectl arguments) on drop.
    pub fn new(commands: &[&[&str]]) -> Restore {
        Restore {
            commands: commands
                .iter()
                .map(|c| c.iter().map(|s| (*s).to_owned()).collect())
                .collect(),
        }
    }
}

impl Drop for Restore {
    fn drop(&mut self) {
        for args in &self.commands {
            let mut cmd = std::process::Command::new("kubectl");
            if let Ok(context) = std::env::var("KUBELAB_CONTEXT") {
                cmd.arg("--context").arg(context);
            }
            match cmd.args(args).output() {
                Ok(out) if out.status.success() => {}
                Ok(out) => eprintln!(
                    "real cluster: restoring with kubectl {}: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr)
                ),
                Err(e) => eprintln!("real cluster: kubectl {}: {e}", args.join(" ")),
            }
        }
    }
}

/// A POST to a kubelab's instructor API at `base` (`http://ADDR`) with the bearer `token`:
/// status and JSON answer.
pub async fn instructor_post(base: &str, token: &str, path: &str, body: Value) -> (u16, Value) {
    let response = reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("POST");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}
