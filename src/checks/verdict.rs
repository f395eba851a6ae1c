//! What evaluating a check produces: a verdict with per-field diagnostics, in both languages.

use serde::{Deserialize, Serialize};

use crate::i18n::Text;

/// The outcome of one check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Verdict {
    /// The cluster is in the expected state.
    Passed,
    /// The cluster is not in the expected state; `diagnostics` say where and how.
    Failed {
        /// Per field path: what was expected, what was found.
        diagnostics: Vec<Diagnostic>,
        /// With several candidates (a selector), the object that came closest.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        closest: Option<String>,
    },
    /// Not yet: the state is on its way (e.g. a Pod is still starting, an object is being
    /// deleted).
    Pending {
        /// What is awaited and what is there now.
        diagnostics: Vec<Diagnostic>,
    },
    /// The check could not be evaluated (cluster unreachable, forbidden, bad expression).
    Error {
        /// A message for the learner.
        message: String,
    },
}

impl Verdict {
    /// True for [`Verdict::Passed`].
    pub fn is_passed(&self) -> bool {
        matches!(self, Verdict::Passed)
    }
}

/// One mismatch between what a check expects and what the cluster holds, readable by a
/// beginner in both languages.
///
/// `expected` and `actual` are short text in which code (values, names, patterns) is marked as
/// Markdown code spans: `` at least 3 ``, `` text matching the pattern `^nginx:` ``,
/// `` `"busybox"` ``. A span opens with a run of backticks and closes with a run of the same
/// length, so a value holding backticks is fenced with a longer run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Where, as a path into the object (`spec.template.spec.containers[name=busybox].image`);
    /// empty for the object as a whole.
    pub path: String,
    /// What was expected (`at least 3`, `` `"nginx"` ``, `present`), or the lab author's words.
    pub expected: Text,
    /// What was found (`` `2` ``, `` `"busybox"` ``, `missing`); a long value is shown
    /// around the place where it differs.
    pub actual: Text,
    /// The whole found value when `actual` shows only part of it (a string as it is, other
    /// values as indented JSON), for an expandable view.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actual_full: Option<String>,
}

impl Diagnostic {
    /// A diagnostic whose found value is shown whole.
    pub fn new(path: impl Into<String>, expected: Text, actual: Text) -> Diagnostic {
        Diagnostic {
            path: path.into(),
            expected,
            actual,
            actual_full: None,
        }
    }

    /// A diagnostic about the object(s) as a whole (empty path).
    pub fn whole(expected: Text, actual: Text) -> Diagnostic {
        Diagnostic::new(String::new(), expected, actual)
    }
}

/// A step's verdicts summed up: error beats failed beats pending beats passed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StepStatus {
    /// Every check passed.
    Passed,
    /// At least one check failed.
    Failed,
    /// Nothing failed but something is not there yet.
    Pending,
    /// A check could not be evaluated.
    Error,
}

impl StepStatus {
    /// The summary of a step's verdicts (a step without checks passes).
    pub fn of<'a>(verdicts: impl IntoIterator<Item = &'a Verdict>) -> StepStatus {
        let mut status = StepStatus::Passed;
        for verdict in verdicts {
            status = match (verdict, status) {
                (Verdict::Error { .. }, _) => return StepStatus::Error,
                (Verdict::Failed { .. }, _) => StepStatus::Failed,
                (Verdict::Pending { .. }, StepStatus::Passed) => StepStatus::Pending,
                (_, s) => s,
            };
        }
        status
    }

    /// Lowercase name, as stored and sent in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Passed => "passed",
            StepStatus::Failed => "failed",
            StepStatus::Pending => "pending",
            StepStatus::Error => "error",
        }
    }

    /// The status named by [`StepStatus::as_str`].
    pub fn from_name(name: &str) -> Option<StepStatus> {
        match name {
            "passed" => Some(StepStatus::Passed),
            "failed" => Some(StepStatus::Failed),
            "pending" => Some(StepStatus::Pending),
            "error" => Some(StepStatus::Error),
            _ => None,
        }
    }

    /// True when the cluster showed the step not done yet (failed or on its way), as opposed
    /// to passed or not evaluable.
    pub fn is_unmet(self) -> bool {
        matches!(self, StepStatus::Failed | StepStatus::Pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_step_sums_up_error_then_failed_then_pending() {
        let failed = || Verdict::Failed {
            diagnostics: vec![],
            closest: None,
        };
        let pending = || Verdict::Pending {
            diagnostics: vec![],
        };
        assert_eq!(StepStatus::of(&[Verdict::Passed]), StepStatus::Passed);
        assert_eq!(StepStatus::of(&[]), StepStatus::Passed);
        assert_eq!(
            StepStatus::of(&[pending(), Verdict::Passed]),
            StepStatus::Pending
        );
        assert_eq!(StepStatus::of(&[pending(), failed()]), StepStatus::Failed);
        let error = Verdict::Error {
            message: "x".into(),
        };
        assert_eq!(StepStatus::of(&[failed(), error]), StepStatus::Error);
        for s in [
            StepStatus::Passed,
            StepStatus::Failed,
            StepStatus::Pending,
            StepStatus::Error,
        ] {
            assert_eq!(StepStatus::from_name(s.as_str()), Some(s));
        }
        assert!(StepStatus::Pending.is_unmet() && !StepStatus::Error.is_unmet());
    }
}
