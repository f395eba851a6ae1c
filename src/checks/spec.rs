//! The check language as lab authors write it in `lab.yaml` (serde types, no behaviour).

use serde::{Deserialize, Serialize};
use serde_json::Value;

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
    /// Which objects to look at.
    pub find: Find,
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
