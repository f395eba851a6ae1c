//! What evaluating a check produces: a verdict with per-field diagnostics.

use serde::{Deserialize, Serialize};

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
    /// Not yet: the state is on its way (e.g. a Pod is still starting).
    Pending {
        /// Optional details of what is still missing.
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

/// One mismatch between what a check expects and what the cluster holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Where, as a path into the object (`spec.template.spec.containers[name=busybox].image`);
    /// empty for the object as a whole.
    pub path: String,
    /// What was expected, readable by a beginner (`>= 3`, `"nginx"`, `present`).
    pub expected: String,
    /// What was found (`2`, `"busybox"`, `missing`).
    pub actual: String,
}
