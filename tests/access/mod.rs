//! Access checks and token questions end to end, against the fake API server's RBAC and
//! TokenReview: a step turns green by itself once the learner binds a Role (no Check pressed),
//! `kubectl auth can-i`'s answer is a question, and a pasted token is verified, judged with
//! reasons a learner can act on, and never kept — not in the database, the logs, the answers
//! or the live stream.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine as _;
use kubelab::engine::Learner;
use serde_json::{Value, json};

use crate::app::{TestApp, spawn_app_with_labs};
use crate::real::live::{LiveFeed, SseEvent};
use crate::scenarios::{Report, next_second};
use crate::support::FakeApi;
use crate::support::rbac::IssuedToken;

const LAB: &str = "rbac";
const NS: &str = "rbac-demo";

fn labs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/labs/access")
}

/// The fake and kubelab serving the access fixture lab.
struct Env {
    fake: FakeApi,
    app: TestApp,
    _dir: tempfile::TempDir,
}

async fn env() -> Env {
    let fake = FakeApi::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = fake.write_kubeconfig(dir.path());
    let app = spawn_app_with_labs(&kubeconfig, labs()).await;
    Env {
        fake,
        app,
        _dir: dir,
    }
}

impl Env {
    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.app.post_json_with(path, body).await
    }

    async fn check(&self, step: &str, answers: Value) -> Report {
        let (status, body) = self
            .post(
                &format!("/api/labs/{LAB}/steps/{step}/check"),
                &json!({ "answers": answers }),
            )
            .await;
        assert_eq!(status, 200, "check {step}: {body}");
        Report(body)
    }

    async fn setup(&self) {
        let (status, body) = self
            .app
            .post_json(&format!("/api/labs/{LAB}/steps/grant/setup"))
            .await;
        assert_eq!(status, 200, "set up: {body}");
    }

    /// `kubectl create rolebinding reader-pod-reader --role=<role> --serviceaccount=NS:reader`.
    fn bind(&self, namespace: &str, role_kind: &str, role: &str) {
        self.fake
            .put(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": format!("reader-{role}"), "namespace": namespace},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role},
                "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": namespace}]}))
            .expect("rolebinding");
    }

    /// `kubectl create token reader [--audience …] --duration …`, through the fake's API.
    async fn create_token(&self, audiences: &[&str], seconds: u64) -> String {
        let response = reqwest::Client::new()
            .post(format!(
                "{}/api/v1/namespaces/{NS}/serviceaccounts/reader/token",
                self.fake.url()
            ))
            .bearer_auth(self.fake.token())
            .json(
                &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"audiences": audiences, "expirationSeconds": seconds}}),
            )
            .send()
            .await
            .expect("TokenRequest");
        assert_eq!(response.status().as_u16(), 201);
        let body: Value = response.json().await.expect("json");
        body["status"]["token"].as_str().expect("token").to_owned()
    }
}

/// A token the fake issued an hour ago for 10 minutes: expired.
fn expired_token(fake: &FakeApi) -> String {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let token = format!(
        "{}.{}.expired-signature",
        b64(json!({"alg": "RS256", "kid": "fake"})),
        b64(
            json!({"aud": ["kubelab"], "iat": now - 3600, "exp": now - 3000,
            "sub": format!("system:serviceaccount:{NS}:reader")})
        )
    );
    let uid = fake
        .get("v1", "ServiceAccount", Some(NS), "reader")
        .and_then(|sa| sa["metadata"]["uid"].as_str().map(str::to_owned))
        .expect("reader exists");
    fake.accept_token(
        &token,
        IssuedToken {
            audiences: vec!["kubelab".to_owned()],
            namespace: NS.to_owned(),
            name: "reader".to_owned(),
            uid,
            expires: now - 3000,
        },
    );
    token
}

fn state_is(event: &SseEvent, state: &str) -> bool {
    event.data.contains(&format!("data-state=\"{state}\""))
}

async fn wait_step(feed: &mut LiveFeed, step: &str, pred: impl Fn(&SseEvent) -> bool) -> SseEvent {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut last = None;
    while let Some(event) = feed.next(deadline).await {
        if event.step() == Some(step) {
            if pred(&event) {
                return event;
            }
            last = Some(event.data);
        }
    }
    panic!("no matching `{step}` event within 30 s; last: {last:#?}");
}

#[tokio::test]
async fn binding_the_role_turns_the_open_step_green_without_check() {
    let env = env().await;
    env.setup().await;
    let mut feed = LiveFeed::open(&env.app, LAB).await;
    env.app
        .post_json(&format!("/api/labs/{LAB}/steps/grant/start"))
        .await;

    // reader may do nothing yet: still to do (not red), with the review's words, re-checked.
    let todo = wait_step(&mut feed, "grant", |e| {
        state_is(e, "in-progress") && e.data.contains("result-todo")
    })
    .await;
    assert!(
        todo.data
            .contains("not allowed: no RoleBinding or ClusterRoleBinding grants it"),
        "{}",
        todo.data
    );
    assert!(
        todo.data.contains("class=\"result-recheck\""),
        "{}",
        todo.data
    );

    // The learner binds the Role: no object the step watches changes, the timer sees it.
    env.bind(NS, "Role", "pod-reader");
    let passed = wait_step(&mut feed, "grant", |e| state_is(e, "passed")).await;
    assert!(!passed.data.contains("result-recheck"), "{}", passed.data);
    let (_, lab) = env.app.get_json(&format!("/api/labs/{LAB}")).await;
    let step = &lab["steps"][0];
    assert_eq!(step["state"], "passed", "{step}");
    assert_eq!(
        step["progress"]["attempts"], 0,
        "nobody pressed Check: {step}"
    );
}

#[tokio::test]
async fn too_much_access_fails_with_the_binding_that_grants_it() {
    let env = env().await;
    env.setup().await;
    env.fake
        .put(
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": "edit"},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["*"]}]}),
        )
        .expect("clusterrole");
    env.bind(NS, "ClusterRole", "edit");
    let report = env.check("grant", json!({})).await;
    assert_eq!(report.verdict("reader-lists-pods"), "passed");
    assert_eq!(
        report.diagnostics("reader-cannot-delete"),
        vec![(
            "access".to_owned(),
            format!("ServiceAccount `reader` cannot `delete` `pods` in namespace `{NS}`"),
            format!(
                "allowed: `RBAC: allowed by RoleBinding \"reader-edit/{NS}\" of ClusterRole \"edit\" to ServiceAccount \"reader/{NS}\"`"
            ),
        )]
    );
}

#[tokio::test]
async fn can_i_is_a_question_the_cluster_answers() {
    let env = env().await;
    env.setup().await;
    let wrong = env.check("ask", json!({"can-delete": "yes"})).await;
    assert_eq!(wrong.verdict("can-delete"), "failed");
    let right = env.check("ask", json!({"can-delete": "no"})).await;
    assert_eq!(right.verdict("can-delete"), "passed");
}

#[tokio::test]
async fn a_workshop_learner_is_asked_about_in_their_own_namespace() {
    let env = env().await;
    let ns = "ws-learner-1";
    env.fake
        .put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
        .expect("namespace");
    env.fake
        .put(
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
            "metadata": {"name": "pod-reader", "namespace": ns},
            "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["list"]}]}),
        )
        .expect("role");
    let learner = env
        .app
        .engine()
        .for_learner(Learner::in_namespace("learner-1", ns));
    let before = learner
        .check(LAB, "grant", &Default::default())
        .await
        .expect("check");
    assert!(!before.checks[0].verdict.is_passed(), "{before:?}");
    // A binding in the lab's own namespace does not count for the learner…
    env.fake
        .put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}))
        .expect("namespace");
    env.bind(NS, "Role", "pod-reader");
    // …one in their namespace does.
    env.bind(ns, "Role", "pod-reader");
    let after = learner
        .check(LAB, "grant", &Default::default())
        .await
        .expect("check");
    assert!(after.checks[0].verdict.is_passed(), "{after:?}");
}

/// Every byte of the test's database files (the SQLite file and its journal).
fn database_bytes(app: &TestApp) -> Vec<u8> {
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(app.dir.path())
        .expect("temp dir")
        .flatten()
    {
        if entry
            .file_name()
            .to_string_lossy()
            .starts_with("kubelab.db")
        {
            bytes.extend(std::fs::read(entry.path()).unwrap_or_default());
        }
    }
    bytes
}

fn holds(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// A learner pastes tokens: wrong audience, expired, garbage, then the right one. Each gets a
/// reason they can act on; the right one passes — and no token is kept or logged anywhere.
/// (The test's runtime has one thread, so every task of kubelab logs to its capture.)
#[tokio::test]
async fn a_pasted_token_is_verified_judged_and_never_kept() {
    let logs = crate::support::logs::LogCapture::start();

    let env = env().await;
    env.setup().await;
    next_second().await;
    let mut feed = LiveFeed::open(&env.app, LAB).await;
    let mut pasted = Vec::new();

    let plain = env.create_token(&[], 1800).await;
    pasted.push(plain.clone());
    let report = env.check("token", json!({"reader-token": plain})).await;
    assert_eq!(
        report.diagnostics("reader-token"),
        vec![(
            "token".to_owned(),
            "a token for audience `kubelab` (`kubectl create token … --audience kubelab`)"
                .to_owned(),
            "a token for audience `https://kubernetes.default.svc.cluster.local`".to_owned()
        )]
    );

    let expired = expired_token(&env.fake);
    pasted.push(expired.clone());
    let report = env.check("token", json!({"reader-token": expired})).await;
    let (_, expected, found) = &report.diagnostics("reader-token")[0];
    assert_eq!(expected, "a token that has not expired");
    assert!(
        found.starts_with("expired at ") && found.ends_with(" UTC; create a new one"),
        "{found}"
    );

    let garbage = "eyJhbGciOiJSUzI1NiJ9-this-is-not-a-token";
    pasted.push(garbage.to_owned());
    let report = env.check("token", json!({"reader-token": garbage})).await;
    assert!(
        report.diagnostics("reader-token")[0]
            .2
            .starts_with("not a ServiceAccount token"),
        "{}",
        report.0
    );

    let long = env.create_token(&["kubelab"], 7200).await;
    pasted.push(long.clone());
    let report = env.check("token", json!({"reader-token": long})).await;
    assert!(
        report.diagnostics("reader-token")[0]
            .2
            .starts_with("valid for `2h`"),
        "{}",
        report.0
    );

    let good = env.create_token(&["kubelab"], 1800).await;
    pasted.push(good.clone());
    let report = env
        .check("token", json!({"reader-token": format!("{good}\n")}))
        .await;
    assert_eq!(report.verdict("reader-token"), "passed", "{}", report.0);

    // The verdict stays without the token: a Check without answers and the lab page agree.
    let again = env.check("token", json!({})).await;
    assert_eq!(again.verdict("reader-token"), "passed", "{}", again.0);
    let (status, page) = env.app.get(&format!("/labs/{LAB}")).await;
    assert_eq!(status, 200);
    assert!(page.contains("type=\"password\""), "a password field");
    let feed_text = {
        let mut text = String::new();
        while let Some(event) = feed.next(Instant::now() + Duration::from_millis(500)).await {
            text.push_str(&event.data);
        }
        text
    };
    let (_, api) = env.app.get_json(&format!("/api/labs/{LAB}")).await;
    let database = database_bytes(&env.app);
    let log_text = logs.text();
    assert!(
        log_text.contains("tokenreviews"),
        "the logs were captured: {}",
        &log_text[..log_text.len().min(3000)]
    );
    for token in &pasted {
        let signature = token.rsplit('.').next().unwrap_or(token);
        for (place, text) in [
            ("the logs", log_text.as_str()),
            ("the page", page.as_str()),
            ("the live stream", feed_text.as_str()),
            ("the API", &api.to_string()),
            ("a check report", &again.0.to_string()),
        ] {
            assert!(!text.contains(signature), "a token in {place}");
        }
        assert!(!holds(&database, signature), "a token in the database");
    }
}

#[tokio::test]
async fn a_token_answer_may_be_long_and_other_answers_stay_short() {
    let env = env().await;
    let (status, body) = env
        .post(
            &format!("/api/labs/{LAB}/steps/token/check"),
            &json!({"answers": {"reader-token": "x".repeat(4097)}}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .contains("longer than 4096 characters"),
        "{body}"
    );
    let (status, body) = env
        .post(
            &format!("/api/labs/{LAB}/steps/ask/check"),
            &json!({"answers": {"can-delete": "x".repeat(201)}}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .contains("200 characters"),
        "{body}"
    );
}
