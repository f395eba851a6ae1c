//! Each learner's way through each lab: when a step started, when the learner's work first
//! showed, the last verdict, the first pass, their answers and the last report of each step.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row;
use time::OffsetDateTime;

use super::{Backend, Store, StoreError, parse_time, time_text};
use crate::checks::StepStatus;

/// What is remembered about one step for one learner.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct StepRecord {
    /// When the learner started the step (opened it as the current step, pressed Set up or
    /// Check, or passed the step before it); `None`: not started.
    #[serde(with = "time::serde::rfc3339::option")]
    pub started_at: Option<OffsetDateTime>,
    /// The first moment after the start that showed the learner's work: the step's checks seen
    /// not holding, or Set up pressed. A step whose checks held all along has none.
    #[serde(with = "time::serde::rfc3339::option")]
    pub evidence_at: Option<OffsetDateTime>,
    /// The outcome of the step's last evaluation (live or Check).
    pub status: Option<StepStatus>,
    /// When the step was first passed; stays set once passed (until a reset).
    #[serde(with = "time::serde::rfc3339::option")]
    pub passed_at: Option<OffsetDateTime>,
    /// When the step was last evaluated.
    #[serde(with = "time::serde::rfc3339::option")]
    pub checked_at: Option<OffsetDateTime>,
    /// How many times the learner pressed Check on it.
    pub attempts: i64,
}

// `attempts` is a 32-bit INTEGER in PostgreSQL; the cast keeps it an i64 on both.
const STEPS: &str =
    "SELECT s.step AS step, s.started_at AS started_at, s.evidence_at AS evidence_at,
       p.status AS status, p.passed_at AS passed_at, p.checked_at AS checked_at,
       CAST(COALESCE(p.attempts, 0) AS BIGINT) AS attempts
     FROM step_starts s LEFT JOIN progress p
       ON p.learner = s.learner AND p.lab = s.lab AND p.step = s.step
     WHERE s.learner = $1 AND s.lab = $2
   UNION ALL
   SELECT p.step, NULL, NULL, p.status, p.passed_at, p.checked_at, CAST(p.attempts AS BIGINT)
     FROM progress p
     WHERE p.learner = $1 AND p.lab = $2 AND NOT EXISTS (SELECT 1 FROM step_starts s
       WHERE s.learner = p.learner AND s.lab = p.lab AND s.step = p.step)";

const LABS_OF: &str = "SELECT lab FROM step_starts WHERE learner = $1
     UNION SELECT lab FROM progress WHERE learner = $1";

// Progress and reports are written only for a step still started: an evaluation that ends
// after a Reset must not bring the step back.
const RECORD_STATUS: &str = "INSERT INTO progress
       (learner, lab, step, status, passed_at, checked_at, attempts)
     SELECT $1, $2, $3, $4, NULL, $5, $6
     WHERE EXISTS (SELECT 1 FROM step_starts WHERE learner = $1 AND lab = $2 AND step = $3)
     ON CONFLICT (learner, lab, step) DO UPDATE SET
       status = excluded.status,
       checked_at = excluded.checked_at,
       attempts = progress.attempts + excluded.attempts";

const RECORD_PASS: &str = "UPDATE progress SET passed_at = COALESCE(passed_at, $4) WHERE learner = $1 AND lab = $2 AND step = $3";

const START_STEP: &str = "INSERT INTO step_starts (learner, lab, step, started_at)
     VALUES ($1, $2, $3, $4)
     ON CONFLICT (learner, lab, step) DO NOTHING";

const STEP_START: &str =
    "SELECT started_at FROM step_starts WHERE learner = $1 AND lab = $2 AND step = $3";

const NOTE_EVIDENCE: &str = "UPDATE step_starts SET evidence_at = COALESCE(evidence_at, $4)
     WHERE learner = $1 AND lab = $2 AND step = $3";

const SAVE_ANSWER: &str = "INSERT INTO answers (learner, lab, step, check_id, answer)
     VALUES ($1, $2, $3, $4, $5)
     ON CONFLICT (learner, lab, step, check_id) DO UPDATE SET answer = excluded.answer";

const ANSWERS: &str =
    "SELECT check_id, answer FROM answers WHERE learner = $1 AND lab = $2 AND step = $3";

const SAVE_REPORT: &str = "INSERT INTO step_reports (learner, lab, step, report, updated_at)
     SELECT $1, $2, $3, $4, $5
     WHERE EXISTS (SELECT 1 FROM step_starts WHERE learner = $1 AND lab = $2 AND step = $3)
     ON CONFLICT (learner, lab, step) DO UPDATE SET
       report = excluded.report, updated_at = excluded.updated_at";

const REPORTS: &str = "SELECT step, report FROM step_reports WHERE learner = $1 AND lab = $2";

const CLEAR_LAB: [&str; 4] = [
    "DELETE FROM progress WHERE learner = $1 AND lab = $2",
    "DELETE FROM answers WHERE learner = $1 AND lab = $2",
    "DELETE FROM step_starts WHERE learner = $1 AND lab = $2",
    "DELETE FROM step_reports WHERE learner = $1 AND lab = $2",
];

/// Runs `$query` (binding learner, lab and step, then `$extra`) on whichever pool the store has.
macro_rules! execute_step {
    ($store:expr, $query:expr, $learner:expr, $lab:expr, $step:expr $(, $extra:expr)*) => {
        on_pool!($store, |pool| {
            sqlx::query($query)
                .bind($learner)
                .bind($lab)
                .bind($step)
                $(.bind($extra))*
                .execute(pool)
                .await?;
        })
    };
}

impl Store {
    /// Every step record of one learner in one lab, by step id (started or evaluated steps).
    pub async fn lab_steps(
        &self,
        learner: &str,
        lab: &str,
    ) -> Result<BTreeMap<String, StepRecord>, StoreError> {
        let rows: Vec<RawStep> = on_pool!(self, |pool| {
            sqlx::query(STEPS)
                .bind(learner)
                .bind(lab)
                .fetch_all(pool)
                .await?
                .iter()
                .map(|row| {
                    Ok(RawStep {
                        step: row.try_get("step")?,
                        started_at: row.try_get("started_at")?,
                        evidence_at: row.try_get("evidence_at")?,
                        status: row.try_get("status")?,
                        passed_at: row.try_get("passed_at")?,
                        checked_at: row.try_get("checked_at")?,
                        attempts: row.try_get("attempts")?,
                    })
                })
                .collect::<Result<Vec<RawStep>, sqlx::Error>>()?
        });
        Ok(rows.into_iter().map(RawStep::into_record).collect())
    }

    /// Every step record of one learner, by lab then step id.
    pub async fn all_steps(
        &self,
        learner: &str,
    ) -> Result<BTreeMap<String, BTreeMap<String, StepRecord>>, StoreError> {
        let labs: Vec<String> = on_pool!(self, |pool| {
            sqlx::query_scalar(LABS_OF)
                .bind(learner)
                .fetch_all(pool)
                .await?
        });
        let mut all = BTreeMap::new();
        for lab in labs {
            let steps = self.lab_steps(learner, &lab).await?;
            all.insert(lab, steps);
        }
        Ok(all)
    }

    /// Records that a learner started a step (the first time only); returns the start time.
    pub async fn start_step(
        &self,
        learner: &str,
        lab: &str,
        step: &str,
        now: OffsetDateTime,
    ) -> Result<OffsetDateTime, StoreError> {
        let now_text = time_text(now);
        // Two statements, each atomic: a concurrent first insert either wins or is skipped
        // (PostgreSQL waits for the competing insert to commit), so the read sees the winner.
        execute_step!(self, START_STEP, learner, lab, step, &now_text);
        let started: Option<String> = on_pool!(self, |pool| {
            sqlx::query_scalar(STEP_START)
                .bind(learner)
                .bind(lab)
                .bind(step)
                .fetch_optional(pool)
                .await?
        });
        Ok(started.as_deref().and_then(parse_time).unwrap_or(now))
    }

    /// Records the first sign of the learner's work on a started step (later ones are ignored).
    pub async fn note_evidence(
        &self,
        learner: &str,
        lab: &str,
        step: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        execute_step!(self, NOTE_EVIDENCE, learner, lab, step, time_text(at));
        Ok(())
    }

    /// Records the outcome of an evaluation of a step; `attempt` when the learner pressed Check.
    /// Nothing is written for a step that is not started (an evaluation that ended after a
    /// Reset).
    pub async fn record_status(
        &self,
        learner: &str,
        lab: &str,
        step: &str,
        status: StepStatus,
        at: OffsetDateTime,
        attempt: bool,
    ) -> Result<(), StoreError> {
        let attempts: i32 = attempt.into();
        execute_step!(
            self,
            RECORD_STATUS,
            learner,
            lab,
            step,
            status.as_str(),
            time_text(at),
            attempts
        );
        Ok(())
    }

    /// Marks a step passed (the first pass stays); the step must have a recorded status.
    pub async fn record_pass(
        &self,
        learner: &str,
        lab: &str,
        step: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        execute_step!(self, RECORD_PASS, learner, lab, step, time_text(at));
        Ok(())
    }

    /// Forgets one learner's progress, answers, step starts and reports in one lab.
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

    /// Keeps the last report of a step (JSON), so a page shows it before anything is re-checked.
    pub async fn save_report(
        &self,
        learner: &str,
        lab: &str,
        step: &str,
        report: &str,
        at: OffsetDateTime,
    ) -> Result<(), StoreError> {
        execute_step!(self, SAVE_REPORT, learner, lab, step, report, time_text(at));
        Ok(())
    }

    /// The last report of each step of a lab (JSON), by step id.
    pub async fn reports(
        &self,
        learner: &str,
        lab: &str,
    ) -> Result<BTreeMap<String, String>, StoreError> {
        let reports = on_pool!(self, |pool| {
            let rows = sqlx::query(REPORTS)
                .bind(learner)
                .bind(lab)
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| Ok((r.try_get("step")?, r.try_get("report")?)))
                .collect::<Result<BTreeMap<String, String>, sqlx::Error>>()?
        });
        Ok(reports)
    }
}

/// A row of [`STEPS`] as both drivers decode it.
struct RawStep {
    step: String,
    started_at: Option<String>,
    evidence_at: Option<String>,
    status: Option<String>,
    passed_at: Option<String>,
    checked_at: Option<String>,
    attempts: i64,
}

impl RawStep {
    fn into_record(self) -> (String, StepRecord) {
        let time = |t: Option<String>| t.as_deref().and_then(parse_time);
        (
            self.step,
            StepRecord {
                started_at: time(self.started_at),
                evidence_at: time(self.evidence_at),
                status: self.status.as_deref().and_then(StepStatus::from_name),
                passed_at: time(self.passed_at),
                checked_at: time(self.checked_at),
                attempts: self.attempts,
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[tokio::test]
    async fn a_step_is_started_evidenced_checked_and_passed_once() {
        let store = Store::open(":memory:").await.unwrap();
        let t1 = datetime!(2026-01-01 10:00:00 UTC);
        let t2 = datetime!(2026-01-01 10:01:00 UTC);
        assert!(
            store
                .lab_steps("local", "kubectl")
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.start_step("local", "kubectl", "a", t1).await.unwrap(),
            t1
        );
        assert_eq!(
            store.start_step("local", "kubectl", "a", t2).await.unwrap(),
            t1
        );
        store
            .note_evidence("local", "kubectl", "a", t1)
            .await
            .unwrap();
        store
            .note_evidence("local", "kubectl", "a", t2)
            .await
            .unwrap();
        store
            .record_status("local", "kubectl", "a", StepStatus::Failed, t1, true)
            .await
            .unwrap();
        store
            .record_status("local", "kubectl", "a", StepStatus::Passed, t2, false)
            .await
            .unwrap();
        store
            .record_pass("local", "kubectl", "a", t2)
            .await
            .unwrap();
        store
            .record_pass("local", "kubectl", "a", t1)
            .await
            .unwrap();
        let steps = store.lab_steps("local", "kubectl").await.unwrap();
        assert_eq!(
            steps["a"],
            StepRecord {
                started_at: Some(t1),
                evidence_at: Some(t1),
                status: Some(StepStatus::Passed),
                passed_at: Some(t2),
                checked_at: Some(t2),
                attempts: 1,
            }
        );
        let all = store.all_steps("local").await.unwrap();
        assert_eq!(all["kubectl"].len(), 1);

        let answers = BTreeMap::from([("q".to_owned(), "v1.28".to_owned())]);
        store
            .save_answers("local", "kubectl", "a", &answers)
            .await
            .unwrap();
        assert_eq!(
            store.answers("local", "kubectl", "a").await.unwrap(),
            answers
        );
        store
            .save_report("local", "kubectl", "a", "{}", t2)
            .await
            .unwrap();
        assert_eq!(store.reports("local", "kubectl").await.unwrap()["a"], "{}");

        store.clear_lab("local", "kubectl").await.unwrap();
        assert!(
            store
                .lab_steps("local", "kubectl")
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            store
                .answers("local", "kubectl", "a")
                .await
                .unwrap()
                .is_empty()
        );
        assert!(store.reports("local", "kubectl").await.unwrap().is_empty());
    }

    #[tokio::test]
    async fn an_evaluation_that_ends_after_a_reset_brings_nothing_back() {
        let store = Store::open(":memory:").await.unwrap();
        let t = datetime!(2026-01-01 10:00:00 UTC);
        store
            .record_status("local", "kubectl", "b", StepStatus::Pending, t, false)
            .await
            .unwrap();
        store
            .save_report("local", "kubectl", "b", "{}", t)
            .await
            .unwrap();
        assert!(store.all_steps("local").await.unwrap().is_empty());
        assert!(store.reports("local", "kubectl").await.unwrap().is_empty());
    }
}
