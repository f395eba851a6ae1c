//! What the engine answers: set-up, check and reset reports, and the cached cluster health.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

pub use super::lifecycle::{Awaiting, StepState};
pub use crate::checks::StepStatus;
use crate::checks::Verdict;
pub use crate::cluster::{ApplyAction, ObjectKey};
use crate::i18n::Text;

/// The outcome of **Set up** for one step.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetupReport {
    /// Lab id.
    pub lab: String,
    /// Step id.
    pub step: String,
    /// Objects set up, in order, with what happened to each.
    pub applied: Vec<AppliedObject>,
    /// Objects that keep the step from being set up as the lab needs it (made by the learner
    /// and different, impossible to change in place, or holding someone else's additions).
    /// Set up stops at the first one; **Replace** deletes them and creates the lab's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub in_the_way: Vec<Obstacle>,
    /// The first object the API server (or kubelab) refused, with its message; later objects
    /// were not applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<SetupFailure>,
}

impl SetupReport {
    /// Every object is as the lab needs it.
    pub fn is_complete(&self) -> bool {
        self.in_the_way.is_empty() && self.error.is_none()
    }
}

/// One object Set up handled.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppliedObject {
    #[serde(flatten)]
    pub key: ObjectKey,
    /// What happened to it.
    pub action: SetupAction,
}

/// What Set up did with one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SetupAction {
    /// It did not exist: kubelab created it (and Reset will delete it).
    Created,
    /// kubelab's own object, changed back to the lab's version.
    Configured,
    /// kubelab's own object, already as the lab's version.
    Unchanged,
    /// The learner's object was deleted (they confirmed) and the lab's created.
    Replaced,
    /// The learner's own object, already as the lab needs it: left as it is, untouched.
    Yours,
}

impl From<ApplyAction> for SetupAction {
    fn from(action: ApplyAction) -> Self {
        match action {
            ApplyAction::Created => SetupAction::Created,
            ApplyAction::Configured => SetupAction::Configured,
            ApplyAction::Unchanged => SetupAction::Unchanged,
        }
    }
}

/// An object in the way of Set up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Obstacle {
    #[serde(flatten)]
    pub key: ObjectKey,
    /// Why it is in the way.
    pub why: ObstacleKind,
    /// Field paths where it differs from the lab's version, or the items someone else added
    /// (`spec.template.spec.containers[name=busybox]`), at most a handful.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fields: Vec<String>,
    /// The API server's own words, when it refused (immutable fields).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// Why an object is in the way of Set up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ObstacleKind {
    /// The learner made it, and it differs from the lab's version: Set up does not touch
    /// what the learner made.
    Yours,
    /// It cannot be changed in place (most of a Pod's spec is immutable).
    Immutable,
    /// kubelab's object, but it also holds list items someone else added (server-side apply
    /// merges lists by key and keeps them), so it still differs from the lab's version.
    Merged,
}

/// An object Set up could not apply, and why.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SetupFailure {
    /// `Kind namespace/name` of the refused object.
    pub object: String,
    /// The manifest file it came from.
    pub file: String,
    /// Who stopped it.
    #[serde(default)]
    pub cause: FailureCause,
    /// The API server's message, or kubelab's ("kubelab refused … because …").
    pub message: String,
}

/// Who stopped a Set up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FailureCause {
    /// The API server refused the object (admission, validation, quota...).
    #[default]
    ApiServer,
    /// kubelab refused it: the manifest cannot go in a workshop learner's namespace.
    Kubelab,
    /// An object in the way is still being deleted: pressing Set up again later works.
    Busy,
}

/// The outcome of **Check** (or of a live re-evaluation) for one step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// Lab id.
    pub lab: String,
    /// Step id.
    pub step: String,
    /// Where the learner is with the step after this evaluation.
    pub state: StepState,
    /// The checks' verdicts summed up.
    pub status: StepStatus,
    /// Every check holds, but the step does not count (yet): why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub awaiting: Option<Awaiting>,
    /// How often the learner pressed Check on this step (failures show as failures only then).
    pub attempts: i64,
    /// kubelab evaluates this step again by itself in about this many seconds (checks no watch
    /// can see, such as commands in a container).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recheck_in: Option<u64>,
    /// One entry per check, in the lab's order.
    pub checks: Vec<CheckReport>,
    /// When it was checked.
    #[serde(with = "time::serde::rfc3339")]
    pub checked_at: OffsetDateTime,
}

impl StepReport {
    /// The same verdicts, ignoring when they were reached (to tell whether anything changed).
    pub fn same_as(&self, other: &StepReport) -> bool {
        self.state == other.state
            && self.status == other.status
            && self.awaiting == other.awaiting
            && self.attempts == other.attempts
            && self.recheck_in.is_some() == other.recheck_in.is_some()
            && self.checks == other.checks
    }
}

/// One check's verdict with the author's words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_reason: Option<Text>,
    /// A question the learner has not answered yet (pending until they do).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub unanswered: bool,
}

/// The outcome of **Reset**.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ResetReport {
    /// Lab id.
    pub lab: String,
    pub deleted: Vec<ObjectKey>,
    /// Objects left alone on purpose, with why.
    pub kept: Vec<KeptObject>,
}

impl ResetReport {
    /// The kept objects the learner made, which Reset deletes only when they confirm.
    pub fn yours(&self) -> impl Iterator<Item = &ObjectKey> {
        self.kept
            .iter()
            .filter(|k| k.why == KeptReason::Yours)
            .map(|k| &k.key)
    }
}

/// An object reset did not delete.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeptObject {
    #[serde(flatten)]
    pub key: ObjectKey,
    /// Why it was kept.
    pub why: KeptReason,
    /// The other lab whose progress uses it ([`KeptReason::UsedByLab`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lab: Option<String>,
}

/// Why Reset kept an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KeptReason {
    /// The learner made it (this lab's manifests or checks name it): deleted only when they
    /// confirm.
    Yours,
    /// kubelab created this namespace, but another lab's progress still uses it.
    UsedByLab,
    /// kubelab did not create it (a namespace, a node...): never deleted.
    NotCreatedByKubelab,
    /// The learner's own namespace in a workshop, which outlives a reset.
    LearnerNamespace,
}

/// What kubelab last knew about the cluster (never fetched on a page request).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Health {
    /// Not probed yet.
    Unknown,
    /// The API server answered.
    Reachable { version: String },
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
