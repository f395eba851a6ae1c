//! The progress store's behaviour, run once on SQLite and once on a real PostgreSQL server.
//!
//! PostgreSQL runs when `KUBELAB_TEST_POSTGRES_URL` names a database the tests may create
//! schemas in (`.ci/run` starts one); each test works in its own fresh schema, so they run in
//! parallel. Without the variable the PostgreSQL tests are skipped with a message, unless
//! `KUBELAB_REQUIRE_POSTGRES=1` makes its absence a failure.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;

use kubelab::store::{Store, StoreError};
use sqlx::{AssertSqlSafe, Connection};

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
    clear_lab_forgets_progress_answers_and_starts,
    two_stores_share_one_database,
);

async fn passed_stays_passed_and_attempts_count(store: Store, _url: String) {
    store.ping().await.unwrap();
    for (status, passed, now) in [
        ("failed", false, "t1"),
        ("passed", true, "t2"),
        ("failed", false, "t3"),
        ("passed", true, "t4"),
        ("pending", false, "t5"),
    ] {
        store
            .record_check("ana", "kubectl", "restart", status, passed, now)
            .await
            .unwrap();
    }
    let progress = store.lab_progress("ana", "kubectl").await.unwrap();
    let record = &progress["restart"];
    assert_eq!(record.status, "pending", "the last check's status");
    assert_eq!(record.passed_at.as_deref(), Some("t2"), "first pass kept");
    assert_eq!(record.checked_at, "t5");
    assert_eq!(record.attempts, 5);
}

async fn concurrent_checks_count_every_attempt(store: Store, _url: String) {
    store
        .record_check("ana", "pod", "shared", "failed", false, "t-first")
        .await
        .unwrap();
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let passed = i % 2 == 0;
                let status = if passed { "passed" } else { "failed" };
                store
                    .record_check("ana", "pod", "shared", status, passed, &format!("t{i:02}"))
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let record = &store.lab_progress("ana", "pod").await.unwrap()["shared"];
    assert_eq!(record.attempts, 21, "every concurrent check counted");
    let passed_at = record
        .passed_at
        .as_deref()
        .expect("a passing check marks it passed");
    let even: BTreeSet<String> = (0..20).step_by(2).map(|i| format!("t{i:02}")).collect();
    assert!(
        even.contains(passed_at),
        "passed_at {passed_at} is a passing check's time"
    );
}

async fn progress_per_lab_and_across_labs(store: Store, _url: String) {
    store
        .record_check("ana", "kubectl", "status", "passed", true, "t1")
        .await
        .unwrap();
    store
        .record_check("ana", "kubectl", "restart", "failed", false, "t2")
        .await
        .unwrap();
    store
        .record_check("ana", "pod", "two-containers", "passed", true, "t3")
        .await
        .unwrap();
    store
        .record_check("ben", "kubectl", "status", "failed", false, "t4")
        .await
        .unwrap();

    let kubectl = store.lab_progress("ana", "kubectl").await.unwrap();
    assert_eq!(
        kubectl.keys().collect::<Vec<_>>(),
        ["restart", "status"],
        "only this lab's steps"
    );
    assert_eq!(kubectl["status"].status, "passed");
    assert_eq!(kubectl["restart"].passed_at, None);

    let all = store.all_progress("ana").await.unwrap();
    assert_eq!(all.keys().collect::<Vec<_>>(), ["kubectl", "pod"]);
    assert_eq!(all["kubectl"], kubectl);
    assert_eq!(
        all["pod"]["two-containers"].passed_at.as_deref(),
        Some("t3")
    );

    let ben = store.all_progress("ben").await.unwrap();
    assert_eq!(ben.len(), 1, "another learner's progress is separate");
    assert_eq!(ben["kubectl"]["status"].status, "failed");
    assert!(
        store
            .lab_progress("cleo", "kubectl")
            .await
            .unwrap()
            .is_empty()
    );
    assert!(store.all_progress("cleo").await.unwrap().is_empty());
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
    let candidates: BTreeSet<String> = (0..20)
        .map(|i| format!("2024-01-01T00:00:{i:02}Z"))
        .collect();
    let tasks: Vec<_> = candidates
        .iter()
        .cloned()
        .map(|now| {
            let store = store.clone();
            tokio::spawn(async move { store.start_step("ana", "hpa", "scale", &now).await })
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
        store.step_starts("ana", "hpa").await.unwrap()["scale"],
        first
    );
    assert_eq!(
        store
            .start_step("ana", "hpa", "scale", "2030-01-01T00:00:00Z")
            .await
            .unwrap(),
        first,
        "a later start keeps the first"
    );
    assert_eq!(
        store
            .start_step("ana", "hpa", "load", "2030-01-01T00:00:00Z")
            .await
            .unwrap(),
        "2030-01-01T00:00:00Z",
        "another step starts on its own"
    );
}

async fn clear_lab_forgets_progress_answers_and_starts(store: Store, _url: String) {
    let answers = BTreeMap::from([("q".to_owned(), "a".to_owned())]);
    for (learner, lab) in [
        ("ana", "configmap"),
        ("ana", "secret"),
        ("ben", "configmap"),
    ] {
        store
            .record_check(learner, lab, "step", "passed", true, "t1")
            .await
            .unwrap();
        store
            .save_answers(learner, lab, "step", &answers)
            .await
            .unwrap();
        store.start_step(learner, lab, "step", "t0").await.unwrap();
    }
    store.clear_lab("ana", "configmap").await.unwrap();

    assert!(
        store
            .lab_progress("ana", "configmap")
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
    assert!(
        store
            .step_starts("ana", "configmap")
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .start_step("ana", "configmap", "step", "t9")
            .await
            .unwrap(),
        "t9",
        "a cleared lab starts afresh"
    );

    for (learner, lab) in [("ana", "secret"), ("ben", "configmap")] {
        assert_eq!(store.lab_progress(learner, lab).await.unwrap().len(), 1);
        assert_eq!(store.answers(learner, lab, "step").await.unwrap(), answers);
        assert_eq!(store.step_starts(learner, lab).await.unwrap()["step"], "t0");
    }
}

async fn two_stores_share_one_database(store: Store, url: String) {
    // A second replica opening the same database re-runs the (already applied) migrations.
    let replica = Store::open(&url).await.expect("second open");
    store
        .record_check("ana", "docker", "tag", "passed", true, "t1")
        .await
        .unwrap();
    replica
        .record_check("ana", "docker", "tag", "failed", false, "t2")
        .await
        .unwrap();
    let seen = replica.lab_progress("ana", "docker").await.unwrap();
    assert_eq!(seen, store.lab_progress("ana", "docker").await.unwrap());
    assert_eq!(seen["tag"].attempts, 2);
    assert_eq!(seen["tag"].passed_at.as_deref(), Some("t1"));
    assert_eq!(
        replica
            .start_step("ana", "docker", "tag", "t3")
            .await
            .unwrap(),
        store
            .start_step("ana", "docker", "tag", "t4")
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
