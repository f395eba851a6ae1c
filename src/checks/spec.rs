//! The check language as lab authors write it in `lab.yaml` (serde types, no behaviour).

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use super::observed::access::AccessSpec;
pub use super::observed::token::{DurationRange, TokenSpec};
use crate::i18n::Text;

/// One check of a step: which object(s) to look at and what they must look like.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckSpec {
    /// Unique within the step; used in the API and in progress records.
    pub id: String,
    /// What this check verifies, in a few words ("ConfigMap base-map has three keys").
    pub title: Text,
    /// Shown when the check fails: why it matters and what to do, in plain language.
    pub reason: Text,
    /// What the check wants, in the author's words, shown as *expected* instead of kubelab's
    /// generated words for the check as a whole: a `cel` expression that is false (which
    /// otherwise shows the `title`), `absent`, `count`, `events` and `served`. Field-by-field
    /// rows of `expect` are worded with `$describe` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub describe: Option<Text>,
    /// Which objects to look at. Exactly one of `find`, `served`, `serverVersion` and `access`
    /// is the check's target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub find: Option<Find>,
    /// Passes when the cluster serves this kind in this apiVersion (a capability check).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served: Option<ApiRef>,
    /// An expectation over the API server's version `{major, minor, gitVersion, platform}`.
    #[serde(
        default,
        rename = "serverVersion",
        skip_serializing_if = "Option::is_none"
    )]
    pub server_version: Option<Value>,
    /// Whether a subject may do something, asked with a SubjectAccessReview (a target of its
    /// own, like `served`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<AccessSpec>,
    /// Runs a command in the found Pod's container; `expect` then applies to
    /// `{stdout, stderr, exitCode}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecSpec>,
    /// An expectation matched against each Event about the found object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<Value>,
    /// A question the learner answers; the right answer is read from the cluster (`answer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question: Option<Text>,
    /// Where the right answer to `question` comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<AnswerSpec>,
    /// How answers are compared (default `text`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub normalize: Option<Normalize>,
    /// `step`: only objects created after the learner started the step count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Since>,
    /// A partial object: every listed key must match; unlisted keys are ignored.
    /// Operators (`$gte`, `$regex`, ...) replace a value where equality is not enough.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect: Option<Value>,
    /// A CEL expression over `object` that must evaluate to `true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cel: Option<String>,
    /// When true the check passes only if no object matches `find`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub absent: bool,
    /// How many objects must match `find` + `expect`: a number or an operator map
    /// (`{$gte: 3}`). Without it, one matching object is enough.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<Value>,
    /// When the check fails but an object matches this, the verdict is *pending*
    /// (e.g. a Pod still starting) instead of *failed*.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingSpec>,
}

/// Which objects a check looks at.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Find {
    /// `v1`, `apps/v1`, ...
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `ConfigMap`, `Deployment`, ...
    pub kind: String,
    /// One object by name. Either `name` or `selector` (or neither: every object of the kind).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The namespace; defaults to the lab's namespace for namespaced kinds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// A label selector in kubectl syntax (`app=nginx,tier!=db`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<String>,
}

/// When a failing check is only "not yet".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingSpec {
    /// A partial object, with the same operators as `expect`.
    pub when: Value,
    /// What the learner is told while waiting ("the Pod is still starting").
    pub reason: Text,
}

/// An API kind (`served` checks).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiRef {
    /// `metrics.k8s.io/v1beta1`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `PodMetrics`.
    pub kind: String,
}

/// A command to run in a container of the found Pod.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecSpec {
    /// The container; default: the Pod's first container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The argv (no shell unless written as `["sh", "-c", "..."]`).
    pub command: Vec<String>,
    /// How long the command may run (default 5, at most 30).
    #[serde(
        default,
        rename = "timeoutSeconds",
        skip_serializing_if = "Option::is_none"
    )]
    pub timeout_seconds: Option<u64>,
}

impl ExecSpec {
    /// The timeout to use: the author's, bounded to 1..=30 s, default 5 s.
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout_seconds.unwrap_or(5).clamp(1, 30))
    }
}

/// Where the right answer of a question comes from (exactly one field set).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct AnswerSpec {
    /// A dotted path into each found object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The number of found objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<bool>,
    /// The API server's `gitVersion`.
    #[serde(
        default,
        rename = "serverVersion",
        skip_serializing_if = "Option::is_none"
    )]
    pub server_version: Option<bool>,
    /// The API group(s) serving this kind.
    #[serde(
        default,
        rename = "apiGroupOf",
        skip_serializing_if = "Option::is_none"
    )]
    pub api_group_of: Option<String>,
    /// Whether a subject may do something: `yes` or `no`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access: Option<AccessSpec>,
    /// The learner pastes a token, verified with a TokenReview (and never stored).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<TokenSpec>,
}

/// How a learner's answer is compared with the cluster's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Normalize {
    /// Trimmed, case-insensitive, whitespace collapsed.
    #[default]
    Text,
    /// Numeric equality.
    Number,
    /// Text; a leading `v` ignored; the part before `+`/`-` also accepted.
    Version,
    /// Text; the runtime name before `://` also accepted.
    Runtime,
}

/// Which objects count, by age.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Since {
    /// Created after the learner started the step.
    Step,
}
