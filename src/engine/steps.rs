//! A learner's steps: starting them, **Check**, and the one path by which an evaluation becomes
//! progress — taken by the Check button and the live stream alike.

use std::collections::BTreeMap;

use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::evaluate::{Evaluation, ExecPolicy};
use super::lifecycle::{Trigger, judge};
use super::{CheckReport, Engine, EngineError, StepContext, StepReport, StepState, now};
use crate::checks::StepStatus;
use crate::labs::{Lab, Step};
use crate::store::StepRecord;

/// Longest answer accepted, in characters (a token question takes
/// [`crate::checks::MAX_TOKEN_CHARS`]).
pub const MAX_ANSWER_CHARS: usize = 200;

/// One step as the learner has it: its life-cycle state, what is stored, the last report.
#[derive(Debug, Clone)]
pub struct StepProgress {
    /// Step id.
    pub id: String,
    /// Not started, in progress, passed or regressed.
    pub state: StepState,
    /// What is stored about it (all `None` when not started).
    pub record: StepRecord,
    /// Its last evaluation, when it has one (with `state` brought up to date).
    pub report: Option<StepReport>,
}

/// A learner's progress through one lab, step by step in the lab's order.
#[derive(Debug, Clone)]
pub struct LabProgress {
    /// Lab id.
    pub lab: String,
    /// Every step of the lab, in order.
    pub steps: Vec<StepProgress>,
}

impl LabProgress {
    /// How many steps are done (passed, even if one regressed since).
    pub fn done(&self) -> usize {
        self.steps.iter().filter(|s| s.state.is_done()).count()
    }

    /// How many steps regressed.
    pub fn regressed(&self) -> usize {
        self.steps
            .iter()
            .filter(|s| s.state == StepState::Regressed)
            .count()
    }

    /// The learner's current step: the first one not done.
    pub fn current(&self) -> Option<&StepProgress> {
        self.steps.iter().find(|s| !s.state.is_done())
    }

    /// Every step is done.
    pub fn complete(&self) -> bool {
        !self.steps.is_empty() && self.current().is_none()
    }

    /// Any step started.
    pub fn started(&self) -> bool {
        self.steps.iter().any(|s| s.state.is_started())
    }

    /// One step.
    pub fn step(&self, id: &str) -> Option<&StepProgress> {
        self.steps.iter().find(|s| s.id == id)
    }

    fn of(
        lab: &Lab,
        mut records: BTreeMap<String, StepRecord>,
        mut reports: BTreeMap<String, StepReport>,
    ) -> LabProgress {
        let steps = lab
            .steps
            .iter()
            .map(|step| {
                let record = records.remove(&step.id).unwrap_or_default();
                let state = StepState::of(Some(&record));
                let report = reports.remove(&step.id).map(|mut r| {
                    r.state = state;
                    r
                });
                StepProgress {
                    id: step.id.clone(),
                    state,
                    record,
                    // A report from before a reset or from a step not started is stale.
                    report: report.filter(|_| state.is_started()),
                }
            })
            .collect();
        LabProgress {
            lab: lab.id.clone(),
            steps,
        }
    }
}

impl Engine {
    /// The learner's progress in one lab, with each step's last report.
    pub async fn lab_progress(&self, lab_id: &str) -> Result<LabProgress, EngineError> {
        let lab = self.lab(lab_id)?;
        let store = &self.inner.store;
        let records = store.lab_steps(&self.learner.id, &lab.id).await?;
        let reports = store
            .reports(&self.learner.id, &lab.id)
            .await?
            .into_iter()
            .filter_map(|(step, json)| Some((step, serde_json::from_str(&json).ok()?)))
            .collect();
        Ok(LabProgress::of(lab, records, reports))
    }

    /// The learner's progress in every lab (without reports), by lab id.
    pub async fn all_progress(&self) -> Result<BTreeMap<String, LabProgress>, EngineError> {
        let mut records = self.inner.store.all_steps(&self.learner.id).await?;
        Ok(self
            .catalog()
            .labs
            .iter()
            .map(|lab| {
                let records = records.remove(&lab.id).unwrap_or_default();
                (
                    lab.id.clone(),
                    LabProgress::of(lab, records, BTreeMap::new()),
                )
            })
            .collect())
    }

    /// The learner opened the lab: its current step (the first not done) starts. Returns it.
    pub async fn open_lab(&self, lab_id: &str) -> Result<Option<String>, EngineError> {
        let lab = self.lab(lab_id)?;
        self.start_current_step(lab).await
    }

    pub(super) async fn start_current_step(
        &self,
        lab: &Lab,
    ) -> Result<Option<String>, EngineError> {
        let records = self
            .inner
            .store
            .lab_steps(&self.learner.id, &lab.id)
            .await?;
        let current = lab
            .steps
            .iter()
            .find(|s| !StepState::of(records.get(&s.id)).is_done());
        if let Some(step) = current
            && records.get(&step.id).is_none_or(|r| r.started_at.is_none())
        {
            self.inner
                .store
                .start_step(&self.learner.id, &lab.id, &step.id, now())
                .await?;
            self.step_started(&lab.id, &step.id);
        }
        Ok(current.map(|s| s.id.clone()))
    }

    /// Records that the learner started `step` (the first start counts); returns when.
    pub async fn start_step(
        &self,
        lab_id: &str,
        step_id: &str,
    ) -> Result<OffsetDateTime, EngineError> {
        let lab = self.lab(lab_id)?;
        let step = self.step(lab, step_id)?;
        let started = self
            .inner
            .store
            .start_step(&self.learner.id, &lab.id, &step.id, now())
            .await?;
        self.step_started(&lab.id, &step.id);
        Ok(started)
    }

    /// The learner's remembered answers to a step's questions.
    pub async fn answers(
        &self,
        lab_id: &str,
        step_id: &str,
    ) -> Result<BTreeMap<String, String>, EngineError> {
        let lab = self.lab(lab_id)?;
        let step = self.step(lab, step_id)?;
        Ok(self
            .inner
            .store
            .answers(&self.learner.id, &lab.id, &step.id)
            .await?)
    }

    /// Leaves a notice (JSON, opaque to the engine) for the learner's next view of a lab: what a
    /// form did, shown on the page it redirects to.
    pub async fn leave_notice(&self, lab_id: &str, notice: &str) -> Result<(), EngineError> {
        let lab = self.lab(lab_id)?;
        Ok(self
            .inner
            .store
            .put_flash(&self.learner.id, &lab.id, notice, now())
            .await?)
    }

    /// Takes the notice left for a lab, if any (it is shown once).
    pub async fn take_notice(&self, lab_id: &str) -> Result<Option<String>, EngineError> {
        let lab = self.lab(lab_id)?;
        Ok(self
            .inner
            .store
            .take_flash(&self.learner.id, &lab.id, now())
            .await?)
    }

    /// Refuses answers that name no question of the step, or that are longer than
    /// [`MAX_ANSWER_CHARS`], saying which (the API, the pages and `kubelab check` alike).
    pub fn check_answers(
        &self,
        lab_id: &str,
        step_id: &str,
        answers: &BTreeMap<String, String>,
    ) -> Result<(), EngineError> {
        let lab = self.lab(lab_id)?;
        let step = self.step(lab, step_id)?;
        for (id, answer) in answers {
            let Some(check) = step
                .checks
                .iter()
                .find(|c| c.id == *id && c.question.is_some())
            else {
                return Err(EngineError::BadRequest(format!(
                    "step {step_id:?} has no question {id:?}"
                )));
            };
            let limit = super::access::answer_limit(check);
            if answer.chars().count() > limit {
                return Err(EngineError::BadRequest(format!(
                    "the answer to {id:?} is longer than {limit} characters"
                )));
            }
        }
        Ok(())
    }

    /// **Check**: evaluates the step's checks against the cluster with the learner's `answers`
    /// (remembered for later checks) and records the outcome. Checking a step starts it; it
    /// passes only as the life cycle says (see [`super::lifecycle`]), and a pass starts the next.
    pub async fn check(
        &self,
        lab_id: &str,
        step_id: &str,
        answers: &BTreeMap<String, String>,
    ) -> Result<StepReport, EngineError> {
        self.check_answers(lab_id, step_id, answers)?;
        let lab = self.lab(lab_id)?;
        let step = self.step(lab, step_id)?;
        let resets = self.resets_told(&lab.id);
        let _turn = self.cluster_turn().await;
        let store = &self.inner.store;
        let learner = &self.learner.id;
        let mut known: BTreeMap<String, String> = answers
            .iter()
            .filter(|(id, answer)| !answer.trim().is_empty() && is_question(step, id))
            .map(|(id, answer)| (id.clone(), answer.clone()))
            .collect();
        self.review_tokens(step, &mut known).await?;
        if !known.is_empty() {
            store
                .save_answers(learner, &lab.id, &step.id, &known)
                .await?;
        }
        let at = now();
        let newly_started = store.start_step(learner, &lab.id, &step.id, at).await? == at;
        let record = store
            .lab_steps(learner, &lab.id)
            .await?
            .remove(&step.id)
            .unwrap_or_default();
        let context = StepContext {
            answers: store.answers(learner, &lab.id, &step.id).await?,
            started: record.started_at.map(rfc3339),
            exec: ExecPolicy::Run,
        };
        let evaluation = self.evaluate_step(lab, step, &context).await?;
        let report = self
            .judge_and_record(lab, step, &record, evaluation, Trigger::Check, None)
            .await?;
        self.publish(&report, resets);
        if newly_started {
            self.step_started(&lab.id, &step.id);
        }
        Ok(report)
    }

    /// Evaluates a step's checks without recording anything (`kubelab check`): questions are
    /// judged against `answers`, `since: step` counts from the learner's recorded start of the
    /// step (or from now, as a first Check would).
    pub async fn evaluate(
        &self,
        lab_id: &str,
        step_id: &str,
        answers: &BTreeMap<String, String>,
    ) -> Result<Vec<CheckReport>, EngineError> {
        self.check_answers(lab_id, step_id, answers)?;
        let lab = self.lab(lab_id)?;
        let step = self.step(lab, step_id)?;
        let started = self
            .inner
            .store
            .lab_steps(&self.learner.id, &lab.id)
            .await?
            .get(&step.id)
            .and_then(|r| r.started_at)
            .unwrap_or_else(now);
        let mut answers = answers.clone();
        self.review_tokens(step, &mut answers).await?;
        let context = StepContext {
            answers,
            started: Some(rfc3339(started)),
            exec: ExecPolicy::Run,
        };
        Ok(self.evaluate_step(lab, step, &context).await?.checks)
    }

    /// Turns an evaluation of a started step into progress: the first sign of the learner's
    /// work, the verdict, a pass when the life cycle allows it (which starts the next step),
    /// and the report kept for the page. `previous` is the report the page already has.
    pub(super) async fn judge_and_record(
        &self,
        lab: &Lab,
        step: &Step,
        record: &StepRecord,
        evaluation: Evaluation,
        trigger: Trigger,
        previous: Option<&StepReport>,
    ) -> Result<StepReport, EngineError> {
        let store = &self.inner.store;
        let learner = &self.learner.id;
        let at = now();
        let checks = evaluation.checks;
        let status = StepStatus::of(checks.iter().map(|c| &c.verdict));
        let made_since_start = record
            .started_at
            .zip(evaluation.newest)
            .is_some_and(|(started, newest)| newest >= started);
        let judgement = judge(step.confirm, record, status, made_since_start, trigger);
        let mut updated = record.clone();
        if judgement.evidence {
            store.note_evidence(learner, &lab.id, &step.id, at).await?;
            updated.evidence_at = Some(at);
        }
        let changed = record.status != Some(status) || judgement.evidence || judgement.pass;
        if trigger == Trigger::Check || changed {
            store
                .record_status(
                    learner,
                    &lab.id,
                    &step.id,
                    status,
                    at,
                    trigger == Trigger::Check,
                )
                .await?;
            updated.status = Some(status);
            updated.checked_at = Some(at);
            if trigger == Trigger::Check {
                updated.attempts += 1;
            }
        }
        if judgement.pass {
            store.record_pass(learner, &lab.id, &step.id, at).await?;
            updated.passed_at = Some(at);
        }
        let report = StepReport {
            lab: lab.id.clone(),
            step: step.id.clone(),
            state: StepState::of(Some(&updated)),
            status,
            awaiting: judgement.awaiting,
            attempts: updated.attempts,
            recheck_in: None,
            checks,
            checked_at: at,
        };
        if previous.is_none_or(|p| !p.same_as(&report)) {
            let json = serde_json::to_string(&report).unwrap_or_default();
            store
                .save_report(learner, &lab.id, &step.id, &json, at)
                .await?;
        }
        if judgement.pass {
            self.start_current_step(lab).await?;
        }
        Ok(report)
    }
}

/// Whether `id` names a question of `step`.
pub(super) fn is_question(step: &Step, id: &str) -> bool {
    step.checks
        .iter()
        .any(|c| c.id == id && c.question.is_some())
}

/// A time as the check language compares it (RFC 3339, like Kubernetes timestamps).
pub(super) fn rfc3339(t: OffsetDateTime) -> String {
    t.format(&Rfc3339)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00Z"))
}
