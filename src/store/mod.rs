//! Progress storage (sqlx; SQLite file by default): which steps each learner has passed.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Serialize;
use sqlx::Row;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

/// The learner of a single-user (laptop) kubelab.
pub const LOCAL_LEARNER: &str = "local";

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database URL is not one kubelab can open.
    #[error("unsupported database URL {0:?} (use sqlite://PATH)")]
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
    pool: SqlitePool,
}

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
    /// Opens (creating if needed) the database at `url` (`sqlite://PATH` or a bare path) and
    /// applies migrations.
    pub async fn open(url: &str) -> Result<Store, StoreError> {
        let path = url
            .strip_prefix("sqlite://")
            .or_else(|| url.strip_prefix("sqlite:"))
            .unwrap_or(url);
        if url.contains("://") && !url.starts_with("sqlite:") {
            return Err(StoreError::UnsupportedUrl(url.to_owned()));
        }
        let options = if path == ":memory:" {
            SqliteConnectOptions::from_str("sqlite::memory:")
                .map_err(|e| StoreError::Open(e.to_string()))?
        } else {
            if let Some(dir) = Path::new(path)
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
            {
                std::fs::create_dir_all(dir).map_err(|e| {
                    StoreError::Open(format!("cannot create {}: {e}", dir.display()))
                })?;
            }
            SqliteConnectOptions::new()
                .filename(path)
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
        };
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
        Ok(Store { pool })
    }

    /// Checks the database answers.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
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
        sqlx::query(
            "INSERT INTO progress (learner, lab, step, status, passed_at, checked_at, attempts)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 1)
             ON CONFLICT (learner, lab, step) DO UPDATE SET
               status = excluded.status,
               passed_at = COALESCE(progress.passed_at, excluded.passed_at),
               checked_at = excluded.checked_at,
               attempts = progress.attempts + 1",
        )
        .bind(learner)
        .bind(lab)
        .bind(step)
        .bind(status)
        .bind(passed_at)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every step record of one learner in one lab, by step id.
    pub async fn lab_progress(
        &self,
        learner: &str,
        lab: &str,
    ) -> Result<BTreeMap<String, StepRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT step, status, passed_at, checked_at, attempts FROM progress
             WHERE learner = ?1 AND lab = ?2",
        )
        .bind(learner)
        .bind(lab)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|row| (row.get::<String, _>("step"), record(&row)))
            .collect())
    }

    /// Every step record of one learner, by lab then step id.
    pub async fn all_progress(
        &self,
        learner: &str,
    ) -> Result<BTreeMap<String, BTreeMap<String, StepRecord>>, StoreError> {
        let rows = sqlx::query(
            "SELECT lab, step, status, passed_at, checked_at, attempts FROM progress
             WHERE learner = ?1",
        )
        .bind(learner)
        .fetch_all(&self.pool)
        .await?;
        let mut all: BTreeMap<String, BTreeMap<String, StepRecord>> = BTreeMap::new();
        for row in rows {
            all.entry(row.get("lab"))
                .or_default()
                .insert(row.get("step"), record(&row));
        }
        Ok(all)
    }

    /// Forgets one learner's progress, answers and step starts in one lab.
    pub async fn clear_lab(&self, learner: &str, lab: &str) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        for statement in [
            "DELETE FROM progress WHERE learner = ?1 AND lab = ?2",
            "DELETE FROM answers WHERE learner = ?1 AND lab = ?2",
            "DELETE FROM step_starts WHERE learner = ?1 AND lab = ?2",
        ] {
            sqlx::query(statement)
                .bind(learner)
                .bind(lab)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
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
        let mut tx = self.pool.begin().await?;
        for (check, answer) in answers {
            sqlx::query(
                "INSERT INTO answers (learner, lab, step, check_id, answer) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (learner, lab, step, check_id) DO UPDATE SET answer = excluded.answer",
            )
            .bind(learner)
            .bind(lab)
            .bind(step)
            .bind(check)
            .bind(answer)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A learner's answers to a step's questions, by check id.
    pub async fn answers(
        &self,
        learner: &str,
        lab: &str,
        step: &str,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        let rows = sqlx::query(
            "SELECT check_id, answer FROM answers WHERE learner = ?1 AND lab = ?2 AND step = ?3",
        )
        .bind(learner)
        .bind(lab)
        .bind(step)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get("check_id"), r.get("answer")))
            .collect())
    }

    /// Records that a learner started a step (the first time only); returns the start time.
    pub async fn start_step(
        &self,
        learner: &str,
        lab: &str,
        step: &str,
        now: &str,
    ) -> Result<String, StoreError> {
        sqlx::query(
            "INSERT INTO step_starts (learner, lab, step, started_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (learner, lab, step) DO NOTHING",
        )
        .bind(learner)
        .bind(lab)
        .bind(step)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(self
            .step_starts(learner, lab)
            .await?
            .remove(step)
            .unwrap_or_else(|| now.to_owned()))
    }

    /// When a learner started each step of a lab, by step id.
    pub async fn step_starts(
        &self,
        learner: &str,
        lab: &str,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        let rows =
            sqlx::query("SELECT step, started_at FROM step_starts WHERE learner = ?1 AND lab = ?2")
                .bind(learner)
                .bind(lab)
                .fetch_all(&self.pool)
                .await?;
        Ok(rows
            .into_iter()
            .map(|r| (r.get("step"), r.get("started_at")))
            .collect())
    }

    /// Closes the pool (waits for connections to finish).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn record(row: &sqlx::sqlite::SqliteRow) -> StepRecord {
    StepRecord {
        status: row.get("status"),
        passed_at: row.get("passed_at"),
        checked_at: row.get("checked_at"),
        attempts: row.get("attempts"),
    }
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
}
