//! The progress store's behaviour, run once on SQLite and once on a real PostgreSQL server.
//!
//! PostgreSQL runs when `KUBELAB_TEST_POSTGRES_URL` names a database the tests may create
//! schemas in (`.ci/run` starts one); each test works in its own fresh schema, so they run in
//! parallel. Without the variable the PostgreSQL tests are skipped with a message, unless
//! `KUBELAB_REQUIRE_POSTGRES=1` makes its absence a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use kubelab::checks::StepStatus;
use kubelab::store::{CreatedObject, Store, StoreError};
use sqlx::{AssertSqlSafe, Connection};
use time::OffsetDateTime;
use time::macros::datetime;

/// A database for one test: a SQLite file in a temporary folder, or a PostgreSQL schema.
struct TestDb {
    url: String,
    kind: Kind,
}

enum Kind {
    /// The folder lives as long as the test's database.
    Sqlite {
        _dir: tempfile::TempDir,
    },
    Postgres {
        admin_url: String,
        schema: String,
    },
}

/// The PostgreSQL server under test, or `None` (test skipped) when none is configured.
fn postgres_url() -> Option<String> {
    match std::env::var("KUBELAB_TEST_POSTGRES_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("KUBELAB_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "KUBELAB_REQUIRE_POSTGRES=1 but KUBELAB_TEST_POSTGRES_URL is not set"
            );
            eprintln!(
                "skipped: set KUBELAB_TEST_POSTGRES_URL=postgres://USER:PASS@HOST/DB to run the \
                 store tests on PostgreSQL"
            );
            None
        }
    }
}

impl TestDb {
    fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        TestDb {
            url: format!("sqlite://{}", dir.path().join("kubelab.db").display()),
            kind: Kind::Sqlite { _dir: dir },
        }
    }

    /// A fresh schema `t_<random>` in the configured database, and a URL whose `search_path`
    /// points into it.
    async fn postgres() -> Option<TestDb> {
        let admin_url = postgres_url()?;
        let schema = format!("t_{:016x}", rand::random::<u64>());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connect to KUBELAB_TEST_POSTGRES_URL");
        // The name is generated here from hex digits, never from input.
        sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
            .execute(&mut admin)
            .await
            .expect("create the test schema");
        admin.close().await.expect("close");
        let separator = if admin_url.contains('?') { '&' } else { '?' };
        Some(TestDb {
            url: format!("{admin_url}{separator}options=-csearch_path%3D{schema}"),
            kind: Kind::Postgres { admin_url, schema },
        })
    }

    async fn open(&self) -> Store {
        Store::open(&self.url).await.expect("store opens")
    }

    /// Removes what the test created (the SQLite folder goes with `self`).
    async fn finish(self) {
        if let Kind::Postgres { admin_url, schema } = &self.kind {
            let mut admin = sqlx::PgConnection::connect(admin_url)
                .await
                .expect("connect");
            sqlx::query(AssertSqlSafe(format!("DROP SCHEMA {schema} CASCADE")))
                .execute(&mut admin)
                .await
                .expect("drop the test schema");
            admin.close().await.expect("close");
        }
    }
}

/// Runs one behaviour against a store on `db`, then cleans up.
async fn run<F, Fut>(db: TestDb, behaviour: F)
where
    F: FnOnce(Store, String) -> Fut,
    Fut: Future<Output = ()>,
{
    let store = db.open().await;
    behaviour(store.clone(), db.url.clone()).await;
    store.close().await;
    db.finish().await;
}

/// One test per backend for a behaviour `async fn name(store: Store, url: String)`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                super::run(super::TestDb::sqlite(), super::$name).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                if let Some(db) = super::TestDb::postgres().await {
                    super::run(db, super::$name).await;
                }
            }
        }
    )*};
}

mod workshops;

on_both!(
    passed_stays_passed_and_attempts_count,
    concurrent_checks_count_every_attempt,
    progress_per_lab_and_across_labs,
    answers_replace_earlier_ones,
    first_start_kept_under_concurrent_starts,
    evidence_is_kept_from_its_first_sign,
    clear_lab_forgets_progress_answers_starts_and_reports,
    created_objects_and_notices,
    two_stores_share_one_database,
);

/// A time `secs` seconds into 2024.
fn t(secs: i64) -> OffsetDateTime {
    datetime!(2024-01-01 00:00:00 UTC) + time::Duration::seconds(secs)
}

async fn passed_stays_passed_and_attempts_count(store: Store, _url: String) {
    store.ping().await.unwrap();
    store
        .start_step("ana", "kubectl", "restart", t(0))
        .await
        .unwrap();
    for (status, pass, at) in [
        (StepStatus::Failed, false, t(1)),
        (StepStatus::Passed, true, t(2)),
        (StepStatus::Failed, false, t(3)),
        (StepStatus::Passed, true, t(4)),
        (StepStatus::Pending, false, t(5)),
    ] {
        store
            .record_status("ana", "kubectl", "restart", status, at, true)
            .await
            .unwrap();
        if pass {
            store
                .record_pass("ana", "kubectl", "restart", at)
                .await
                .unwrap();
        }
    }
    let progress = store.lab_steps("ana", "kubectl").await.unwrap();
    let record = &progress["restart"];
    assert_eq!(
        record.status,
        Some(StepStatus::Pending),
        "the last check's status"
    );
    assert_eq!(record.passed_at, Some(t(2)), "first pass kept");
    assert_eq!(record.checked_at, Some(t(5)));
    assert_eq!(record.started_at, Some(t(0)));
    assert_eq!(record.attempts, 5);
    // A live evaluation is not an attempt.
    store
        .record_status("ana", "kubectl", "restart", StepStatus::Passed, t(6), false)
        .await
        .unwrap();
    assert_eq!(
        store.lab_steps("ana", "kubectl").await.unwrap()["restart"].attempts,
        5
    );
}

async fn concurrent_checks_count_every_attempt(store: Store, _url: String) {
    store
        .start_step("ana", "pod", "shared", t(0))
        .await
        .unwrap();
    store
        .record_status("ana", "pod", "shared", StepStatus::Failed, t(0), true)
        .await
        .unwrap();
    let tasks: Vec<_> = (1..=20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let passed = i % 2 == 0;
                let status = if passed {
                    StepStatus::Passed
                } else {
                    StepStatus::Failed
                };
                store
                    .record_status("ana", "pod", "shared", status, t(i), true)
                    .await?;
                if passed {
                    store.record_pass("ana", "pod", "shared", t(i)).await?;
                }
                Ok::<(), StoreError>(())
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let record = &store.lab_steps("ana", "pod").await.unwrap()["shared"];
    assert_eq!(record.attempts, 21, "every concurrent check counted");
    let passed_at = record.passed_at.expect("a passing check marks it passed");
    let even: BTreeSet<OffsetDateTime> = (2..=20).step_by(2).map(t).collect();
    assert!(
        even.contains(&passed_at),
        "passed_at {passed_at} is a passing check's time"
    );
}

async fn progress_per_lab_and_across_labs(store: Store, _url: String) {
    for (learner, lab, step, status) in [
        ("ana", "kubectl", "status", StepStatus::Passed),
        ("ana", "kubectl", "restart", StepStatus::Failed),
        ("ana", "pod", "two-containers", StepStatus::Passed),
        ("ben", "kubectl", "status", StepStatus::Failed),
    ] {
        store.start_step(learner, lab, step, t(0)).await.unwrap();
        store
            .record_status(learner, lab, step, status, t(1), true)
            .await
            .unwrap();
        if status == StepStatus::Passed {
            store.record_pass(learner, lab, step, t(1)).await.unwrap();
        }
    }
    // Started but never evaluated.
    store
        .start_step("ana", "kubectl", "explore", t(2))
        .await
        .unwrap();

    let kubectl = store.lab_steps("ana", "kubectl").await.unwrap();
    assert_eq!(
        kubectl.keys().collect::<Vec<_>>(),
        ["explore", "restart", "status"],
        "only this lab's steps"
    );
    assert_eq!(kubectl["status"].status, Some(StepStatus::Passed));
    assert_eq!(kubectl["restart"].passed_at, None);
    assert_eq!(kubectl["explore"].status, None);
    assert_eq!(kubectl["explore"].started_at, Some(t(2)));

    let all = store.all_steps("ana").await.unwrap();
    assert_eq!(all.keys().collect::<Vec<_>>(), ["kubectl", "pod"]);
    assert_eq!(all["kubectl"], kubectl);
    assert_eq!(all["pod"]["two-containers"].passed_at, Some(t(1)));

    let ben = store.all_steps("ben").await.unwrap();
    assert_eq!(ben.len(), 1, "another learner's progress is separate");
    assert_eq!(ben["kubectl"]["status"].status, Some(StepStatus::Failed));
    assert!(store.lab_steps("cleo", "kubectl").await.unwrap().is_empty());
    assert!(store.all_steps("cleo").await.unwrap().is_empty());
}

async fn answers_replace_earlier_ones(store: Store, _url: String) {
    let first = BTreeMap::from([
        ("kubelet".to_owned(), "v1.27".to_owned()),
        ("runtime".to_owned(), "docker".to_owned()),
    ]);
    store
        .save_answers("ana", "node", "info", &first)
        .await
        .unwrap();
    let second = BTreeMap::from([("kubelet".to_owned(), "v1.28.3+k3s1".to_owned())]);
    store
        .save_answers("ana", "node", "info", &second)
        .await
        .unwrap();
    assert_eq!(
        store.answers("ana", "node", "info").await.unwrap(),
        BTreeMap::from([
            ("kubelet".to_owned(), "v1.28.3+k3s1".to_owned()),
            ("runtime".to_owned(), "docker".to_owned()),
        ])
    );
    assert!(
        store
            .answers("ana", "node", "labels")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .answers("ben", "node", "info")
            .await
            .unwrap()
            .is_empty()
    );
}

async fn first_start_kept_under_concurrent_starts(store: Store, _url: String) {
    let candidates: BTreeSet<OffsetDateTime> = (0..20).map(t).collect();
    let tasks: Vec<_> = candidates
        .iter()
        .copied()
        .map(|now| {
            let store = store.clone();
            tokio::spawn(async move { store.start_step("ana", "hpa", "scale", now).await })
        })
        .collect();
    let mut answers = BTreeSet::new();
    for task in tasks {
        answers.insert(task.await.unwrap().unwrap());
    }
    assert_eq!(
        answers.len(),
        1,
        "every caller sees the same start: {answers:?}"
    );
    let first = answers.pop_first().unwrap();
    assert!(candidates.contains(&first));
    assert_eq!(
        store.lab_steps("ana", "hpa").await.unwrap()["scale"].started_at,
        Some(first)
    );
    let later = t(1_000_000);
    assert_eq!(
        store
            .start_step("ana", "hpa", "scale", later)
            .await
            .unwrap(),
        first,
        "a later start keeps the first"
    );
    assert_eq!(
        store.start_step("ana", "hpa", "load", later).await.unwrap(),
        later,
        "another step starts on its own"
    );
}

async fn evidence_is_kept_from_its_first_sign(store: Store, _url: String) {
    store
        .start_step("ana", "configmap", "change", t(0))
        .await
        .unwrap();
    store
        .note_evidence("ana", "configmap", "change", t(5))
        .await
        .unwrap();
    store
        .note_evidence("ana", "configmap", "change", t(9))
        .await
        .unwrap();
    // No start, no evidence: the note needs a started step.
    store
        .note_evidence("ana", "configmap", "other", t(9))
        .await
        .unwrap();
    let steps = store.lab_steps("ana", "configmap").await.unwrap();
    assert_eq!(steps["change"].evidence_at, Some(t(5)));
    assert!(!steps.contains_key("other"));
}

async fn clear_lab_forgets_progress_answers_starts_and_reports(store: Store, _url: String) {
    let answers = BTreeMap::from([("q".to_owned(), "a".to_owned())]);
    for (learner, lab) in [
        ("ana", "configmap"),
        ("ana", "secret"),
        ("ben", "configmap"),
    ] {
        store.start_step(learner, lab, "step", t(0)).await.unwrap();
        store
            .record_status(learner, lab, "step", StepStatus::Passed, t(1), true)
            .await
            .unwrap();
        store.record_pass(learner, lab, "step", t(1)).await.unwrap();
        store
            .save_answers(learner, lab, "step", &answers)
            .await
            .unwrap();
        store
            .save_report(learner, lab, "step", "{}", t(1))
            .await
            .unwrap();
    }
    store.clear_lab("ana", "configmap").await.unwrap();

    assert!(
        store
            .lab_steps("ana", "configmap")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        store
            .answers("ana", "configmap", "step")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.reports("ana", "configmap").await.unwrap().is_empty());
    assert_eq!(
        store
            .start_step("ana", "configmap", "step", t(9))
            .await
            .unwrap(),
        t(9),
        "a cleared lab starts afresh"
    );

    for (learner, lab) in [("ana", "secret"), ("ben", "configmap")] {
        let steps = store.lab_steps(learner, lab).await.unwrap();
        assert_eq!(steps["step"].started_at, Some(t(0)));
        assert_eq!(steps["step"].passed_at, Some(t(1)));
        assert_eq!(store.answers(learner, lab, "step").await.unwrap(), answers);
        assert_eq!(store.reports(learner, lab).await.unwrap().len(), 1);
    }
}

async fn created_objects_and_notices(store: Store, _url: String) {
    let object = CreatedObject {
        lab: "configmap".into(),
        api_version: "v1".into(),
        kind: "Namespace".into(),
        namespace: None,
        name: "fly-k8s".into(),
        uid: "u-1".into(),
        created_at: t(0),
    };
    store.remember_created("ana", &object).await.unwrap();
    // Created again (after a reset) under another uid: the newer one counts.
    let again = CreatedObject {
        uid: "u-2".into(),
        ..object.clone()
    };
    store.remember_created("ana", &again).await.unwrap();
    assert_eq!(store.created("ana").await.unwrap(), vec![again]);
    assert!(store.created("ben").await.unwrap().is_empty());
    store
        .forget_created("ana", "v1", "Namespace", None, "fly-k8s")
        .await
        .unwrap();
    assert!(store.created("ana").await.unwrap().is_empty());

    store
        .put_flash("ana", "configmap", "first", t(0))
        .await
        .unwrap();
    store
        .put_flash("ana", "configmap", "second", t(1))
        .await
        .unwrap();
    assert_eq!(
        store
            .take_flash("ana", "configmap", t(2))
            .await
            .unwrap()
            .as_deref(),
        Some("second")
    );
    assert_eq!(
        store.take_flash("ana", "configmap", t(2)).await.unwrap(),
        None
    );
}

async fn two_stores_share_one_database(store: Store, url: String) {
    // A second replica opening the same database re-runs the (already applied) migrations.
    let replica = Store::open(&url).await.expect("second open");
    store
        .start_step("ana", "docker", "tag", t(0))
        .await
        .unwrap();
    store
        .record_status("ana", "docker", "tag", StepStatus::Passed, t(1), true)
        .await
        .unwrap();
    store
        .record_pass("ana", "docker", "tag", t(1))
        .await
        .unwrap();
    replica
        .record_status("ana", "docker", "tag", StepStatus::Failed, t(2), true)
        .await
        .unwrap();
    let seen = replica.lab_steps("ana", "docker").await.unwrap();
    assert_eq!(seen, store.lab_steps("ana", "docker").await.unwrap());
    assert_eq!(seen["tag"].attempts, 2);
    assert_eq!(seen["tag"].passed_at, Some(t(1)));
    assert_eq!(
        replica
            .start_step("ana", "docker", "tag", t(3))
            .await
            .unwrap(),
        store
            .start_step("ana", "docker", "tag", t(4))
            .await
            .unwrap()
    );
    replica.close().await;
}

/// The message of a failed open.
async fn open_error(url: &str) -> StoreError {
    match Store::open(url).await {
        Ok(_) => panic!("{url} should not open"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn malformed_postgres_url_is_a_clear_error() {
    let err = open_error("postgres://kubelab:s3cret-pw@db.example:notaport/kubelab").await;
    let message = err.to_string();
    assert!(matches!(err, StoreError::Open(_)), "{message}");
    assert!(message.contains("invalid PostgreSQL URL"), "{message}");
    assert!(message.contains("db.example"), "{message}");
    assert!(!message.contains("s3cret-pw"), "{message}");
}

#[tokio::test]
async fn unreachable_postgres_names_the_host_not_the_password() {
    // Port 1 on loopback refuses connections at once.
    let err = open_error("postgresql://kubelab:s3cret-pw@127.0.0.1:1/kubelab").await;
    let message = err.to_string();
    assert!(matches!(err, StoreError::Open(_)), "{message}");
    assert!(message.contains("cannot connect"), "{message}");
    assert!(message.contains("127.0.0.1:1"), "{message}");
    assert!(!message.contains("s3cret-pw"), "{message}");
}

#[tokio::test]
async fn unknown_scheme_is_refused() {
    let err = open_error("mysql://kubelab:s3cret-pw@db.example/kubelab").await;
    let message = err.to_string();
    assert!(matches!(err, StoreError::UnsupportedUrl(_)), "{message}");
    assert!(!message.contains("s3cret-pw"), "{message}");
}

#[tokio::test]
async fn wrong_postgres_password_is_a_clear_error() {
    let Some(url) = postgres_url() else { return };
    // Swap the configured password for a wrong one.
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (userinfo, host) = rest.split_once('@').expect("user@host in the URL");
    let user = userinfo.split(':').next().unwrap_or(userinfo);
    let bad = format!("{scheme}://{user}:not-the-password@{host}");
    let err = open_error(&bad).await;
    let message = err.to_string();
    assert!(matches!(err, StoreError::Open(_)), "{message}");
    assert!(message.contains("cannot connect"), "{message}");
    let host_name = host.split(['/', ':', '?']).next().unwrap_or(host);
    assert!(message.contains(host_name), "{message}");
    assert!(!message.contains("not-the-password"), "{message}");
}
