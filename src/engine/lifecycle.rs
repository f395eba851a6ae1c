//! The step life cycle: not started → in progress → passed, and regressed (passed once,
//! failing now). A step counts as passed only when the learner made it so: its checks held at a
//! moment after it started *and* the learner's work showed since — the checks were seen not
//! holding, or the learner pressed Set up — or, for a confirmation step, the learner pressed
//! Check. Checks that already held before the learner touched a step do not count.

use serde::{Deserialize, Serialize};

use crate::checks::StepStatus;
use crate::store::StepRecord;

/// Where a learner is with one step. One type from the engine to the page script: its
/// [`StepState::as_str`] is the JSON value, the CSS class suffix and the script's state name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StepState {
    /// The learner has not reached the step: its panel only says what will be checked.
    NotStarted,
    /// Started (opened as the current step, Set up, Check, or the step before it passed) and
    /// not passed yet.
    InProgress,
    /// Passed, and still holding as far as kubelab last looked.
    Passed,
    /// Passed once, but its checks do not hold any more.
    Regressed,
}

impl StepState {
    /// Every state, in life-cycle order.
    pub const ALL: [StepState; 4] = [
        StepState::NotStarted,
        StepState::InProgress,
        StepState::Passed,
        StepState::Regressed,
    ];

    /// The state a stored record describes (no record: not started).
    pub fn of(record: Option<&StepRecord>) -> StepState {
        let Some(record) = record else {
            return StepState::NotStarted;
        };
        if record.passed_at.is_some() {
            // A check that could not run (cluster down) says nothing about the learner's work.
            if record.status.is_some_and(StepStatus::is_unmet) {
                StepState::Regressed
            } else {
                StepState::Passed
            }
        } else if record.started_at.is_some() || record.status.is_some() {
            StepState::InProgress
        } else {
            StepState::NotStarted
        }
    }

    /// `not-started`, `in-progress`, `passed`, `regressed`.
    pub fn as_str(self) -> &'static str {
        match self {
            StepState::NotStarted => "not-started",
            StepState::InProgress => "in-progress",
            StepState::Passed => "passed",
            StepState::Regressed => "regressed",
        }
    }

    /// The learner has done this step (it passed, even if it regressed since).
    pub fn is_done(self) -> bool {
        matches!(self, StepState::Passed | StepState::Regressed)
    }

    /// The learner has reached this step.
    pub fn is_started(self) -> bool {
        self != StepState::NotStarted
    }
}

impl std::fmt::Display for StepState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What made kubelab evaluate a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Trigger {
    /// A watched object changed, or a timed re-check.
    Live,
    /// The learner pressed Check.
    Check,
}

/// Why a step whose checks all hold is not counted as passed (yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Awaiting {
    /// The checks held before the learner touched the step: their work has not shown yet.
    LearnerWork,
    /// A confirmation step: everything holds, the learner confirms with Check.
    Confirmation,
}

/// What one evaluation of a started step means for its record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Judgement {
    /// The evaluation is the first sign of the learner's work (checks seen not holding).
    pub evidence: bool,
    /// The step passes now, for the first time.
    pub pass: bool,
    /// Every check holds but the step is not counted: why.
    pub awaiting: Option<Awaiting>,
}

/// Judges one evaluation (`status`) of a started step, given its record before it;
/// `made_since_start` when an object the checks looked at was created after the step started.
pub(crate) fn judge(
    confirm: bool,
    record: &StepRecord,
    status: StepStatus,
    made_since_start: bool,
    trigger: Trigger,
) -> Judgement {
    let evidence = record.evidence_at.is_none() && (status.is_unmet() || made_since_start);
    if status != StepStatus::Passed || record.passed_at.is_some() {
        return Judgement {
            evidence,
            pass: false,
            awaiting: None,
        };
    }
    let shown =
        record.evidence_at.is_some() || made_since_start || (confirm && trigger == Trigger::Check);
    let awaiting = match (shown, confirm) {
        (true, _) => None,
        (false, true) => Some(Awaiting::Confirmation),
        (false, false) => Some(Awaiting::LearnerWork),
    };
    Judgement {
        evidence,
        pass: shown,
        awaiting,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn started() -> StepRecord {
        StepRecord {
            started_at: Some(datetime!(2026-01-01 10:00:00 UTC)),
            ..StepRecord::default()
        }
    }

    fn with_evidence() -> StepRecord {
        StepRecord {
            evidence_at: Some(datetime!(2026-01-01 10:00:05 UTC)),
            ..started()
        }
    }

    fn passed(status: StepStatus) -> StepRecord {
        StepRecord {
            status: Some(status),
            passed_at: Some(datetime!(2026-01-01 10:01:00 UTC)),
            ..with_evidence()
        }
    }

    #[test]
    fn states_follow_the_record() {
        assert_eq!(StepState::of(None), StepState::NotStarted);
        assert_eq!(
            StepState::of(Some(&StepRecord::default())),
            StepState::NotStarted
        );
        assert_eq!(StepState::of(Some(&started())), StepState::InProgress);
        assert_eq!(
            StepState::of(Some(&passed(StepStatus::Passed))),
            StepState::Passed
        );
        assert_eq!(
            StepState::of(Some(&passed(StepStatus::Failed))),
            StepState::Regressed
        );
        assert_eq!(
            StepState::of(Some(&passed(StepStatus::Pending))),
            StepState::Regressed
        );
        // The cluster being down is not the learner undoing their work.
        assert_eq!(
            StepState::of(Some(&passed(StepStatus::Error))),
            StepState::Passed
        );
        assert!(StepState::Regressed.is_done() && !StepState::InProgress.is_done());
        let names: Vec<&str> = StepState::ALL.iter().map(|s| s.as_str()).collect();
        assert_eq!(names, ["not-started", "in-progress", "passed", "regressed"]);
        assert_eq!(
            serde_json::to_value(StepState::InProgress).unwrap(),
            "in-progress"
        );
    }

    #[test]
    fn checks_that_held_from_the_start_do_not_count() {
        let j = judge(false, &started(), StepStatus::Passed, false, Trigger::Live);
        assert_eq!(
            j,
            Judgement {
                evidence: false,
                pass: false,
                awaiting: Some(Awaiting::LearnerWork)
            }
        );
        // Pressing Check does not make a doing step count either.
        let j = judge(false, &started(), StepStatus::Passed, false, Trigger::Check);
        assert!(!j.pass);
    }

    #[test]
    fn a_step_seen_unmet_then_holding_passes() {
        let j = judge(false, &started(), StepStatus::Failed, false, Trigger::Live);
        assert!(j.evidence && !j.pass && j.awaiting.is_none());
        let j = judge(false, &started(), StepStatus::Pending, false, Trigger::Live);
        assert!(j.evidence);
        let j = judge(
            false,
            &with_evidence(),
            StepStatus::Passed,
            false,
            Trigger::Live,
        );
        assert!(j.pass && !j.evidence && j.awaiting.is_none());
    }

    #[test]
    fn an_object_made_after_the_start_is_the_learners_work() {
        // The learner was quicker than kubelab's first look: what they made shows by its age.
        let j = judge(false, &started(), StepStatus::Passed, true, Trigger::Live);
        assert!(j.pass && j.evidence && j.awaiting.is_none());
    }

    #[test]
    fn errors_are_not_the_learners_work() {
        let j = judge(false, &started(), StepStatus::Error, false, Trigger::Live);
        assert!(!j.evidence && !j.pass);
    }

    #[test]
    fn a_confirmation_step_passes_on_check_only() {
        let j = judge(true, &started(), StepStatus::Passed, false, Trigger::Live);
        assert_eq!(j.awaiting, Some(Awaiting::Confirmation));
        assert!(!j.pass);
        let j = judge(true, &started(), StepStatus::Passed, false, Trigger::Check);
        assert!(j.pass);
        // Failing checks are not confirmed by pressing Check.
        let j = judge(true, &started(), StepStatus::Pending, false, Trigger::Check);
        assert!(!j.pass);
        // A confirmation step whose checks were seen unmet turns green by itself.
        let j = judge(
            true,
            &with_evidence(),
            StepStatus::Passed,
            false,
            Trigger::Live,
        );
        assert!(j.pass);
    }

    #[test]
    fn a_passed_step_passes_once() {
        let j = judge(
            false,
            &passed(StepStatus::Failed),
            StepStatus::Passed,
            false,
            Trigger::Live,
        );
        assert!(!j.pass && j.awaiting.is_none());
    }
}
