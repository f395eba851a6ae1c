//! What the engine answers: set-up, check and reset reports, and the cached cluster health.

use serde::Serialize;

use crate::checks::Verdict;
pub use crate::cluster::{ApplyAction, ObjectKey};
use crate::i18n::Text;

/// The outcome of **Set up** for one step.
#[derive(Debug, Clone, Serialize)]
pub struct SetupReport {
    /// Lab id.
    pub lab: String,
    /// Step id.
    pub step: String,
    /// Objects applied, in order, with what happened to each.
    pub applied: Vec<AppliedObject>,
    /// The first object the API server refused, with its own message; later objects were not applied.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<SetupFailure>,
}

/// One applied object.
#[derive(Debug, Clone, Serialize)]
pub struct AppliedObject {
    /// Which object.
    #[serde(flatten)]
    pub key: ObjectKey,
    /// Created, configured or unchanged.
    pub action: ApplyAction,
}

/// An object the API server refused.
#[derive(Debug, Clone, Serialize)]
pub struct SetupFailure {
    /// `Kind namespace/name` of the refused object.
    pub object: String,
    /// The manifest file it came from.
    pub file: String,
    /// The API server's message.
    pub message: String,
}

/// The overall state of a step after a check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
    /// Lowercase name, as stored and shown in CSS classes.
    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Passed => "passed",
            StepStatus::Failed => "failed",
            StepStatus::Pending => "pending",
            StepStatus::Error => "error",
        }
    }
}

/// The outcome of **Check** for one step.
#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    /// Lab id.
    pub lab: String,
    /// Step id.
    pub step: String,
    /// Overall state.
    pub status: StepStatus,
    /// True once this step has ever passed (it stays done).
    pub done: bool,
    /// One entry per check, in the lab's order.
    pub checks: Vec<CheckReport>,
    /// When it was checked (RFC 3339).
    pub checked_at: String,
}

/// One check's verdict with the author's words.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// Check id.
    pub id: String,
    /// What is checked.
    pub title: Text,
    /// Why it matters / what to do, shown when it does not pass.
    pub reason: Text,
    /// The verdict with diagnostics.
    pub verdict: Verdict,
    /// For a pending verdict, the author's "not yet" message.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_reason: Option<Text>,
}

/// The outcome of **Reset**.
#[derive(Debug, Clone, Serialize)]
pub struct ResetReport {
    /// Lab id.
    pub lab: String,
    /// Objects deleted.
    pub deleted: Vec<ObjectKey>,
    /// Objects left alone on purpose, with why.
    pub kept: Vec<KeptObject>,
}

/// An object reset did not delete.
#[derive(Debug, Clone, Serialize)]
pub struct KeptObject {
    /// Which object.
    #[serde(flatten)]
    pub key: ObjectKey,
    /// Why it was kept.
    pub why: String,
}

/// What kubelab last knew about the cluster (never fetched on a page request).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Health {
    /// Not probed yet.
    Unknown,
    /// The API server answered.
    Reachable {
        /// Server version.
        version: String,
    },
    /// No cluster, or it does not answer.
    Unreachable {
        /// Why.
        message: String,
    },
}

impl Health {
    /// True when the last probe succeeded.
    pub fn is_reachable(&self) -> bool {
        matches!(self, Health::Reachable { .. })
    }
}
