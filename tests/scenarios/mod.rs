//! Scenarios a learner goes through, end to end: kubelab's JSON API against the fake API server —
//! set up applies exactly the lab's objects, checks fail with the right diagnostics on partial
//! states and pass on the solution state, progress survives a restart, reset cleans up.

mod architecture;
mod configmap;
mod docker;
mod environment;
mod hpa;
mod kubectl;
mod language;
mod lifecycle;
mod node;
mod pod;
mod secret;
mod terminating;

use std::time::Duration;

use serde_json::{Value, json};

use crate::app::{TestApp, spawn_app_with_kubeconfig};
use crate::support::FakeApi;

/// A fake cluster and a kubelab pointed at it.
pub struct Env {
    pub fake: FakeApi,
    pub app: TestApp,
    _kubeconfig_dir: tempfile::TempDir,
}

/// Starts a fake API server and a kubelab using it.
pub async fn env() -> Env {
    let fake = FakeApi::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = fake.write_kubeconfig(dir.path());
    let app = spawn_app_with_kubeconfig(&kubeconfig).await;
    Env {
        fake,
        app,
        _kubeconfig_dir: dir,
    }
}

impl Env {
    /// Reset, then — as the learner confirming it — Reset again deleting the objects the first
    /// one kept as theirs. Returns both reports; asserts the first kept exactly `yours`
    /// (`Kind/name`).
    pub async fn reset_confirming(&self, lab: &str, yours: &[&str]) -> (Value, Value) {
        let path = format!("/api/labs/{lab}/reset");
        let (status, first) = self.app.post_json(&path).await;
        assert_eq!(status, 200, "reset {lab}: {first}");
        let kept: Vec<Value> = first["kept"]
            .as_array()
            .expect("kept")
            .iter()
            .filter(|k| k["why"] == "yours")
            .cloned()
            .collect();
        let mut names: Vec<String> = kept
            .iter()
            .map(|k| {
                format!(
                    "{}/{}",
                    k["kind"].as_str().unwrap_or(""),
                    k["name"].as_str().unwrap_or("")
                )
            })
            .collect();
        names.sort();
        let mut expected: Vec<String> = yours.iter().map(|s| (*s).to_owned()).collect();
        expected.sort();
        assert_eq!(
            names, expected,
            "the learner's own objects are kept: {first}"
        );
        let (status, second) = self
            .app
            .post_json_with(&path, &json!({"delete": kept}))
            .await;
        assert_eq!(status, 200, "reset {lab} deleting yours: {second}");
        (first, second)
    }

    /// `POST /api/labs/{lab}/steps/{step}/setup`, expecting success.
    pub async fn setup(&self, lab: &str, step: &str) -> Value {
        let (status, body) = self
            .app
            .post_json(&format!("/api/labs/{lab}/steps/{step}/setup"))
            .await;
        assert_eq!(status, 200, "set up {lab}/{step}: {body}");
        assert!(
            body.get("error").is_none_or(Value::is_null),
            "set up {lab}/{step} failed: {body}"
        );
        body
    }

    /// `POST /api/labs/{lab}/steps/{step}/check`, expecting an answer (whatever the verdict).
    pub async fn check(&self, lab: &str, step: &str) -> Report {
        let (status, body) = self
            .app
            .post_json(&format!("/api/labs/{lab}/steps/{step}/check"))
            .await;
        assert_eq!(status, 200, "check {lab}/{step}: {body}");
        Report(body)
    }

    /// Checks until the step has `status` (the fake's simulator needs a moment), up to 10 s.
    pub async fn check_until(&self, lab: &str, step: &str, status: &str) -> Report {
        let mut last = None;
        for _ in 0..100 {
            let report = self.check(lab, step).await;
            if report.status() == status {
                return report;
            }
            last = Some(report);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "{lab}/{step} never became {status}: {}",
            last.expect("checked").0
        );
    }

    /// `POST /api/labs/{lab}/steps/{step}/start`, as the lab page does for the current step;
    /// returns `started_at`.
    pub async fn start_step(&self, lab: &str, step: &str) -> String {
        let (status, body) = self
            .app
            .post_json(&format!("/api/labs/{lab}/steps/{step}/start"))
            .await;
        assert_eq!(status, 200, "start {lab}/{step}: {body}");
        body["started_at"].as_str().expect("started_at").to_owned()
    }

    /// Creates or replaces an object in the fake cluster, as a learner's kubectl or a controller would.
    pub fn put(&self, object: Value) {
        self.fake.put(object).expect("the fake accepts the object");
    }
}

/// Waits until the wall clock is in a later second than when called: Kubernetes timestamps and
/// step starts have whole seconds, so objects created after this are unambiguously later.
pub async fn next_second() {
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock after 1970")
            .as_secs()
    };
    let start = now();
    while now() == start {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `POST .../check` with the learner's answers to the step's questions, as the page's inputs do.
pub async fn check_with_answers(env: &Env, lab: &str, step: &str, answers: Value) -> Report {
    let response = env
        .app
        .client
        .post(format!("{}/api/labs/{lab}/steps/{step}/check", env.app.url))
        .json(&json!({ "answers": answers }))
        .send()
        .await
        .expect("POST check with answers");
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "check {lab}/{step} with answers: {body}");
    Report(body)
}

/// A step report from the JSON API.
pub struct Report(pub Value);

impl Report {
    /// The step's overall status (`passed`, `failed`, `pending`, `error`).
    pub fn status(&self) -> &str {
        self.0["status"].as_str().unwrap_or("")
    }

    /// One check's entry.
    pub fn check(&self, id: &str) -> &Value {
        self.0["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["id"] == id))
            .unwrap_or_else(|| panic!("no check {id} in {}", self.0))
    }

    /// One check's verdict status.
    pub fn verdict(&self, id: &str) -> &str {
        self.check(id)["verdict"]["status"].as_str().unwrap_or("")
    }

    /// One check's diagnostics as (path, expected, actual), in English (code in backticks).
    pub fn diagnostics(&self, id: &str) -> Vec<(String, String, String)> {
        self.check(id)["verdict"]["diagnostics"]
            .as_array()
            .map(|ds| {
                ds.iter()
                    .map(|d| {
                        (
                            d["path"].as_str().unwrap_or("").to_owned(),
                            d["expected"]["en"].as_str().unwrap_or("").to_owned(),
                            d["actual"]["en"].as_str().unwrap_or("").to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Asserts every check passed.
    pub fn assert_all_passed(&self) {
        for c in self.0["checks"].as_array().expect("checks") {
            assert_eq!(
                c["verdict"]["status"], "passed",
                "check {} did not pass: {}",
                c["id"], c
            );
        }
        assert_eq!(self.status(), "passed");
    }
}

/// A Pod as the kubelet reports it once its containers run and are ready.
pub fn running_ready(mut pod: Value) -> Value {
    pod["status"] = json!({
        "phase": "Running",
        "conditions": [
            {"type": "Initialized", "status": "True"},
            {"type": "Ready", "status": "True"},
            {"type": "ContainersReady", "status": "True"},
            {"type": "PodScheduled", "status": "True"}
        ],
        "containerStatuses": [{"name": "c", "ready": true, "restartCount": 0, "state": {"running": {"startedAt": "2026-11-29T08:00:00Z"}}}]
    });
    pod
}
