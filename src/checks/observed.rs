//! The v2 check kinds (exec, events, questions, capabilities, "since the step started"): what
//! the engine observed for a check, and the pure verdict over it.

use serde_json::Value;

use super::spec::CheckSpec;
use super::verdict::Verdict;

/// What the engine gathered for one check before judging it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Observed<'a> {
    /// What `find` returned (unfiltered by `since`).
    pub objects: &'a [Value],
    /// When the learner started the step (RFC 3339), for `since: step`.
    pub step_started: Option<&'a str>,
    /// Events in the found objects' namespaces about the found objects (for `events`).
    pub events: &'a [Value],
    /// The outcome of the check's command (for `exec`), when it ran.
    pub exec: Option<&'a ExecOutcome>,
    /// The learner's answer (for `question`).
    pub answer: Option<&'a str>,
    /// Whether the `served` kind is served.
    pub served: Option<bool>,
    /// The API server's `/version` document.
    pub server_version: Option<&'a Value>,
    /// The API groups serving `answer.apiGroupOf`.
    pub api_groups: &'a [String],
}

/// The outcome of running a check's command in a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecOutcome {
    /// The command ran to completion.
    Finished {
        /// Standard output.
        stdout: String,
        /// Standard error.
        stderr: String,
        /// Exit code.
        exit_code: i32,
    },
    /// The command did not finish within the timeout.
    TimedOut {
        /// The timeout.
        seconds: u64,
    },
    /// The command could not be run (container gone, exec refused...).
    Failed {
        /// Why, for the learner.
        message: String,
    },
}

/// Where an exec check's command runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecTarget {
    /// The Pod's namespace.
    pub namespace: Option<String>,
    /// The Pod's name.
    pub pod: String,
    /// The container.
    pub container: String,
}

/// What the engine must gather to judge a check.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// Objects of `find`.
    pub objects: bool,
    /// Events about the found objects.
    pub events: bool,
    /// Running the command (after [`exec_target`] chose where).
    pub exec: bool,
    /// The learner's answer.
    pub answer: bool,
    /// Discovery of the `served` kind.
    pub served: bool,
    /// The `/version` document.
    pub server_version: bool,
    /// Discovery of the groups serving this kind (`answer.apiGroupOf`).
    pub api_groups_of: Option<String>,
}

/// What `spec` needs observed.
pub fn needs(spec: &CheckSpec) -> Needs {
    Needs {
        objects: spec.find.is_some(),
        events: spec.events.is_some(),
        exec: spec.exec.is_some(),
        answer: spec.question.is_some(),
        served: spec.served.is_some(),
        server_version: spec.server_version.is_some()
            || spec.answer.as_ref().is_some_and(|a| a.server_version == Some(true)),
        api_groups_of: spec.answer.as_ref().and_then(|a| a.api_group_of.clone()),
    }
}

/// Chooses the Pod and container an exec check runs in, or the verdict when it cannot run yet
/// (no Pod: failed; container not running yet: pending).
pub fn exec_target(spec: &CheckSpec, objects: &[Value]) -> Result<ExecTarget, Verdict> {
    let _ = (spec, objects);
    Err(Verdict::Error {
        message: "exec checks are not implemented yet".into(),
    })
}

/// Judges a check from everything observed for it (v1 checks: only `objects` matters).
pub fn evaluate_observed(spec: &CheckSpec, observed: &Observed<'_>) -> Verdict {
    super::evaluate(spec, observed.objects)
}

/// Problems with the v2 parts of a check as written, for `kubelab validate`.
pub fn validate_v2(spec: &CheckSpec) -> Vec<String> {
    let _ = spec;
    Vec::new()
}
