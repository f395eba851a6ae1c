//! Progress storage (sqlx): which steps each learner has passed, their answers and step starts,
//! and workshops with their learners — in a SQLite file by default, or in PostgreSQL
//! (`postgres://…`) so several replicas can share it.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use serde::Serialize;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};
use sqlx::{ColumnIndex, Connection, Decode, Row, Type};

/// The learner of a single-user (laptop) kubelab.
pub const LOCAL_LEARNER: &str = "local";

/// How long opening a PostgreSQL connection may take before `open` gives up.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one kubelab can open (the password, if any, is masked).
    #[error("unsupported database URL {0:?} (use sqlite://PATH or postgres://USER:PASS@HOST/DB)")]
    UnsupportedUrl(String),
    /// The database could not be opened or migrated.
    #[error("cannot open the database: {0}")]
    Open(String),
    /// A query failed.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
}

/// What is remembered about one step for one learner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StepRecord {
    /// The last check's outcome (`passed`, `failed`, `pending`, `error`).
    pub status: String,
    /// When the step was first passed (RFC 3339); stays set once passed.
    pub passed_at: Option<String>,
    /// When it was last checked (RFC 3339).
    pub checked_at: String,
    /// How many times it was checked.
    pub attempts: i64,
}

/// A handle on the progress database (cheap to clone).
#[derive(Clone, Debug)]
pub struct Store {
    backend: Backend,
}

/// The database behind a [`Store`]; every query is written once, in SQL both accept.
#[derive(Clone, Debug)]
enum Backend {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Runs `$body` with `$pool` bound to whichever pool the store has. The body is the same text
/// for both arms, so each query is written once and compiled for both drivers.
macro_rules! on_pool {
    ($store:expr, |$pool:ident| $body:expr) => {
        match &$store.backend {
            Backend::Sqlite($pool) => $body,
            Backend::Postgres($pool) => $body,
        }
    };
}

mod workshops;

pub use workshops::{CODE_LENGTH, JoinOutcome, LearnerRecord, NewWorkshop, Workshop};

// The SQL below uses `$n` placeholders, which both PostgreSQL and SQLite (as named parameters)
// accept, and `INSERT … ON CONFLICT`, which both execute atomically per row.

const RECORD_CHECK: &str = "INSERT INTO progress
       (learner, lab, step, status, passed_at, checked_at, attempts)
     VALUES ($1, $2, $3, $4, $5, $6, 1)
     ON CONFLICT (learner, lab, step) DO UPDATE SET
       status = excluded.status,
       passed_at = COALESCE(progress.passed_at, excluded.passed_at),
       checked_at = excluded.checked_at,
       attempts = progress.attempts + 1";

// `attempts` is a 32-bit INTEGER in PostgreSQL; the cast keeps `StepRecord::attempts` an i64
// on both without changing an already-applied migration.
const LAB_PROGRESS: &str = "SELECT step, status, passed_at, checked_at,
       CAST(attempts AS BIGINT) AS attempts
     FROM progress WHERE learner = $1 AND lab = $2";

const ALL_PROGRESS: &str = "SELECT lab, step, status, passed_at, checked_at,
       CAST(attempts AS BIGINT) AS attempts
     FROM progress WHERE learner = $1";

const CLEAR_LAB: [&str; 3] = [
    "DELETE FROM progress WHERE learner = $1 AND lab = $2",
    "DELETE FROM answers WHERE learner = $1 AND lab = $2",
    "DELETE FROM step_starts WHERE learner = $1 AND lab = $2",
];

const SAVE_ANSWER: &str = "INSERT INTO answers (learner, lab, step, check_id, answer)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (learner, lab, step, check_id) DO UPDATE SET answer = excluded.answer";

const ANSWERS: &str =
    "SELECT check_id, answer FROM answers WHERE learner = $1 AND lab = $2 AND step = $3";

const START_STEP: &str = "INSERT INTO step_starts (learner, lab, step, started_at)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (learner, lab, step) DO NOTHING";

const STEP_START: &str =
    "SELECT started_at FROM step_starts WHERE learner = $1 AND lab = $2 AND step = $3";

const STEP_STARTS: &str =
    "SELECT step, started_at FROM step_starts WHERE learner = $1 AND lab = $2";

/// The default database: `$XDG_DATA_HOME/kubelab/kubelab.db` (or `~/.local/share/...`).
pub fn default_database_path() -> PathBuf {
    let base = std::env::var_os("XDG_DATA_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".local/share")))
        .unwrap_or_else(|| PathBuf::from("."));
    base.join("kubelab").join("kubelab.db")
}

impl Store {
    /// Opens the database at `url` and applies migrations: `postgres://…` or `postgresql://…`
    /// for a PostgreSQL server, otherwise SQLite — `sqlite://PATH`, a bare path (created if
    /// needed) or `:memory:`.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return open_postgres(url).await;
        }
        if url.contains("://") && !url.starts_with("sqlite:") {
            return Err(StoreError::UnsupportedUrl(redacted_url(url)));
        }
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        open_sqlite(path).await
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query("SELECT 1").execute(pool).await?;
        });
        Ok(())
    }

    /// Records a check of a step; `passed` marks it done (and it stays done).
    pub async fn record_check(
        &self,
        learner: &str,
        lab: &str,
        step: &str,
        status: &str,
        passed: bool,
        now: &str,
    ) -> Result<(), StoreError> {
        let passed_at = passed.then_some(now);
        on_pool!(self, |pool| {
            sqlx::query(RECORD_CHECK)
                .bind(learner)
                .bind(lab)
                .bind(step)
                .bind(status)
                .bind(passed_at)
                .bind(now)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Every step record of one learner in one lab, by step id.
    pub async fn lab_progress(
        &self,
        learner: &str,
        lab: &str,
    ) -> Result<BTreeMap<String, StepRecord>, StoreError> {
        let progress = on_pool!(self, |pool| {
            let rows = sqlx::query(LAB_PROGRESS)
                .bind(learner)
                .bind(lab)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|row| Ok((row.try_get("step")?, record(row)?)))
                .collect::<Result<BTreeMap<String, StepRecord>, sqlx::Error>>()?
        });
        Ok(progress)
    }

    /// Every step record of one learner, by lab then step id.
    pub async fn all_progress(
        &self,
        learner: &str,
    ) -> Result<BTreeMap<String, BTreeMap<String, StepRecord>>, StoreError> {
        let mut all: BTreeMap<String, BTreeMap<String, StepRecord>> = BTreeMap::new();
        on_pool!(self, |pool| {
            let rows = sqlx::query(ALL_PROGRESS)
                .bind(learner)
                .fetch_all(pool)
                .await?;
            for row in &rows {
                all.entry(row.try_get("lab")?)
                    .or_default()
                    .insert(row.try_get("step")?, record(row)?);
            }
        });
        Ok(all)
    }

    /// Forgets one learner's progress, answers and step starts in one lab.
    pub async fn clear_lab(&self, learner: &str, lab: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for statement in CLEAR_LAB {
                sqlx::query(statement)
                    .bind(learner)
                    .bind(lab)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// Remembers a learner's answers to a step's questions (replacing earlier ones).
    pub async fn save_answers(
        &self,
        learner: &str,
        lab: &str,
        step: &str,
        answers: &BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            for (check, answer) in answers {
                sqlx::query(SAVE_ANSWER)
                    .bind(learner)
                    .bind(lab)
                    .bind(step)
                    .bind(check)
                    .bind(answer)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        });
        Ok(())
    }

    /// A learner's answers to a step's questions, by check id.
    pub async fn answers(
        &self,
        learner: &str,
        lab: &str,
        step: &str,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        let answers = on_pool!(self, |pool| {
            let rows = sqlx::query(ANSWERS)
                .bind(learner)
                .bind(lab)
                .bind(step)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("check_id")?, r.try_get("answer")?)))
                .collect::<Result<BTreeMap<String, String>, sqlx::Error>>()?
        });
        Ok(answers)
    }

    /// Records that a learner started a step (the first time only); returns the start time.
    pub async fn start_step(
        &self,
        learner: &str,
        lab: &str,
        step: &str,
        now: &str,
    ) -> Result<String, StoreError> {
        // Two statements, each atomic: a concurrent first insert either wins or is skipped
        // (PostgreSQL waits for the competing insert to commit), so the read sees the winner.
        let started: Option<String> = on_pool!(self, |pool| {
            sqlx::query(START_STEP)
                .bind(learner)
                .bind(lab)
                .bind(step)
                .bind(now)
                .execute(pool)
                .await?;
            sqlx::query_scalar(STEP_START)
                .bind(learner)
                .bind(lab)
                .bind(step)
                .fetch_optional(pool)
                .await?
        });
        Ok(started.unwrap_or_else(|| now.to_owned()))
    }

    /// When a learner started each step of a lab, by step id.
    pub async fn step_starts(
        &self,
        learner: &str,
        lab: &str,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        let starts = on_pool!(self, |pool| {
            let rows = sqlx::query(STEP_STARTS)
                .bind(learner)
                .bind(lab)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("step")?, r.try_get("started_at")?)))
                .collect::<Result<BTreeMap<String, String>, sqlx::Error>>()?
        });
        Ok(starts)
    }

    /// Closes the pool (waits for connections to finish).
    pub async fn close(&self) {
        on_pool!(self, |pool| pool.close().await);
    }
}

/// Opens (creating if needed) a SQLite database file, or an in-memory one for `:memory:`.
async fn open_sqlite(path: &str) -> Result<Store, StoreError> {
    let options = if path == ":memory:" {
        SqliteConnectOptions::from_str("sqlite::memory:")
            .map_err(|e| StoreError::Open(e.to_string()))?
    } else {
        if let Some(dir) = Path::new(path)
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir)
                .map_err(|e| StoreError::Open(format!("cannot create {}: {e}", dir.display())))?;
        }
        SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
    };
    // Every connection to `:memory:` is a separate database, so the pool keeps exactly one.
    let max = if path == ":memory:" { 1 } else { 8 };
    let pool = SqlitePoolOptions::new()
        .max_connections(max)
        .connect_with(options)
        .await
        .map_err(|e| StoreError::Open(format!("{path}: {e}")))?;
    sqlx::migrate!("./migrations")
        .run(&pool)
        .await
        .map_err(|e| StoreError::Open(format!("migrating {path}: {e}")))?;
    Ok(Store {
        backend: Backend::Sqlite(pool),
    })
}

/// Connects to a PostgreSQL server, applies migrations and returns a pooled store.
async fn open_postgres(url: &str) -> Result<Store, StoreError> {
    let shown = redacted_url(url);
    let options = PgConnectOptions::from_str(url).map_err(|e| {
        StoreError::Open(format!(
            "invalid PostgreSQL URL {shown}: {}",
            scrub(&e.to_string(), url)
        ))
    })?;
    let server = format!(
        "PostgreSQL at {}:{} (database {}, user {})",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or(options.get_username()),
        options.get_username()
    );
    // One direct connection first: the pool would retry a refused connection silently until
    // its timeout, while this fails at once with the driver's reason.
    let mut conn =
        tokio::time::timeout(CONNECT_TIMEOUT, sqlx::PgConnection::connect_with(&options))
            .await
            .map_err(|_| {
                StoreError::Open(format!(
                    "cannot connect to {server}: no answer within {}s",
                    CONNECT_TIMEOUT.as_secs()
                ))
            })?
            .map_err(|e| {
                StoreError::Open(format!(
                    "cannot connect to {server}: {}",
                    scrub(&e.to_string(), url)
                ))
            })?;
    // sqlx holds an advisory lock while migrating, so replicas starting together are safe.
    sqlx::migrate!("./migrations")
        .run(&mut conn)
        .await
        .map_err(|e| {
            StoreError::Open(format!(
                "migrating {server}: {}",
                scrub(&e.to_string(), url)
            ))
        })?;
    // Closing is a courtesy to the server; the migrations are already committed.
    let _ = conn.close().await;
    let pool = PgPoolOptions::new()
        .max_connections(8)
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_lazy_with(options);
    Ok(Store {
        backend: Backend::Postgres(pool),
    })
}

/// `url` with the password (in the user info or a `password=` parameter) replaced by `***`,
/// for logs and error messages that name the database.
pub fn redacted_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}=***")
                    }
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// `message` with every password found in `url` masked, in case a driver error quotes it.
fn scrub(message: &str, url: &str) -> String {
    let mut passwords = Vec::new();
    if let Some((_, rest)) = url.split_once("://") {
        let authority = &rest[..rest.find(['/', '?', '#']).unwrap_or(rest.len())];
        if let Some((userinfo, _)) = authority.rsplit_once('@')
            && let Some((_, password)) = userinfo.split_once(':')
        {
            passwords.push(password);
        }
        if let Some((_, query)) = rest.split_once('?') {
            passwords.extend(query.split('&').filter_map(|pair| {
                pair.split_once('=')
                    .filter(|(key, _)| key.eq_ignore_ascii_case("password"))
                    .map(|(_, value)| value)
            }));
        }
    }
    passwords
        .into_iter()
        .filter(|p| !p.is_empty())
        .fold(message.to_owned(), |m, p| m.replace(p, "***"))
}

/// Reads a progress row (either driver's) into a [`StepRecord`].
fn record<R>(row: &R) -> Result<StepRecord, sqlx::Error>
where
    R: Row,
    for<'c> &'c str: ColumnIndex<R>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
{
    Ok(StepRecord {
        status: row.try_get("status")?,
        passed_at: row.try_get("passed_at")?,
        checked_at: row.try_get("checked_at")?,
        attempts: row.try_get("attempts")?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn passed_stays_passed_and_clear_forgets() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path().join("a/b.db").to_str().unwrap())
            .await
            .unwrap();
        store
            .record_check("local", "kubectl", "deploy", "passed", true, "t1")
            .await
            .unwrap();
        store
            .record_check("local", "kubectl", "deploy", "failed", false, "t2")
            .await
            .unwrap();
        let p = store.lab_progress("local", "kubectl").await.unwrap();
        let r = &p["deploy"];
        assert_eq!(r.passed_at.as_deref(), Some("t1"));
        assert_eq!(r.status, "failed");
        assert_eq!(r.attempts, 2);
        let answers = BTreeMap::from([("q".to_owned(), "v1.28".to_owned())]);
        store
            .save_answers("local", "kubectl", "deploy", &answers)
            .await
            .unwrap();
        assert_eq!(
            store.answers("local", "kubectl", "deploy").await.unwrap(),
            answers
        );
        assert_eq!(
            store
                .start_step("local", "kubectl", "deploy", "t3")
                .await
                .unwrap(),
            "t3"
        );
        assert_eq!(
            store
                .start_step("local", "kubectl", "deploy", "t4")
                .await
                .unwrap(),
            "t3"
        );
        store.clear_lab("local", "kubectl").await.unwrap();
        assert!(
            store
                .lab_progress("local", "kubectl")
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .answers("local", "kubectl", "deploy")
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .step_starts("local", "kubectl")
                .await
                .unwrap()
                .is_empty()
        );
    }

    #[tokio::test]
    async fn rejects_unknown_scheme() {
        assert!(matches!(
            Store::open("mysql://x").await,
            Err(StoreError::UnsupportedUrl(_))
        ));
    }

    #[tokio::test]
    async fn unsupported_url_does_not_show_the_password() {
        let err = Store::open("mysql://kubelab:hunter2@db.example/kubelab")
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(message.contains("db.example"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn redact_masks_passwords() {
        assert_eq!(
            redacted_url("postgres://u:p%40ss@h:5432/db?sslmode=disable&password=x"),
            "postgres://u:***@h:5432/db?sslmode=disable&password=***"
        );
        assert_eq!(redacted_url("postgres://h/db"), "postgres://h/db");
        assert_eq!(redacted_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(
            scrub(
                "failed for p%40ss and x",
                "postgres://u:p%40ss@h/db?password=x"
            ),
            "failed for *** and ***"
        );
    }
}
