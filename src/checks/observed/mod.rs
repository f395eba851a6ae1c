//! The check kinds that observe more than the found objects (exec, events, questions,
//! capabilities, "since the step started"): what the engine observed for a check, and the pure
//! verdict over it.

pub mod access;
mod events;
mod exec;
mod question;
pub mod token;
mod validate;

use std::borrow::Cow;

use serde_json::{Map, Value};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::matching::{self, Expectation, Mismatches};
use super::spec::{ApiRef, CheckSpec, Find};
use super::template::Values;
use super::values::{self, code, text};
use super::verdict::{Diagnostic, Verdict};
use super::{CompiledCheck, Eval, words};

pub use question::{accepts, normalize_text};
pub use validate::validate_observed;

/// What the engine gathered for one check before judging it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Observed<'a> {
    /// What `find` returned (unfiltered by `since`).
    pub objects: &'a [Value],
    /// The namespace `find` looked in (None for cluster-scoped kinds), named when nothing
    /// was found: "not found in namespace `fly-k8s`". Without it, `find.namespace` is named.
    pub namespace: Option<&'a str>,
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
    /// The API groups serving `answer.apiGroupOf` (`""` for the core group).
    pub api_groups: &'a [String],
    /// What the SubjectAccessReview of `access` (or `answer.access`) answered.
    pub access: Option<&'a access::AccessOutcome>,
    /// The namespace the lab works in for this reader (a workshop learner's own): where
    /// `access` and `answer.token` look for their ServiceAccount.
    pub home: Option<&'a str>,
    /// A workshop learner: verdicts never name other namespaces.
    pub confined: bool,
    /// What placeholders in the check stand for, for this reader (None: left as written).
    pub values: Option<&'a Values>,
}

/// The outcome of running a check's command in a container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecOutcome {
    /// The command ran to completion.
    Finished {
        stdout: String,
        stderr: String,
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
    /// A SubjectAccessReview of this question (`access` or `answer.access`).
    pub access: Option<access::AccessSpec>,
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
            || spec
                .answer
                .as_ref()
                .is_some_and(|a| a.server_version == Some(true)),
        api_groups_of: spec.answer.as_ref().and_then(|a| a.api_group_of.clone()),
        access: access_of(spec).cloned(),
    }
}

/// The access question a check asks (`access`, or `answer.access`).
pub fn access_of(spec: &CheckSpec) -> Option<&access::AccessSpec> {
    spec.access
        .as_ref()
        .or_else(|| spec.answer.as_ref().and_then(|a| a.access.as_ref()))
}

/// The token a question asks the learner to paste (`answer.token`).
pub fn token_of(spec: &CheckSpec) -> Option<&token::TokenSpec> {
    spec.answer.as_ref().and_then(|a| a.token.as_ref())
}

/// Where a check reaches outside a workshop learner's namespace (`lab_namespace`: the lab's
/// own), each a phrase: another namespace or the cluster scope, asked about by `access` or
/// `answer.token`. Empty when it stays inside.
pub fn outside_namespace(spec: &CheckSpec, lab_namespace: &str) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(question) = access_of(spec) {
        out.extend(access::outside_namespace(question, lab_namespace));
    }
    if let Some(wanted) = token_of(spec) {
        out.extend(token::outside_namespace(wanted, lab_namespace));
    }
    out
}

/// Chooses the Pod and container an exec check runs in: the first found Pod (created since the
/// step started, with `since: step`) that is not being deleted and whose container is running.
/// Otherwise the verdict, which settles the check without running anything: no Pod is failed
/// ("not found in namespace …" when `namespace`, the namespace searched, is known), a container
/// not running yet or a Pod being deleted is pending, a container that stopped or cannot start
/// is failed.
pub fn exec_target(
    check: &CompiledCheck,
    objects: &[Value],
    step_started: Option<&str>,
    namespace: Option<&str>,
    values: Option<&Values>,
) -> Result<ExecTarget, Verdict> {
    let spec = check.spec();
    let scope = Scope::of(spec, step_started, namespace);
    let objects = scope.filter(objects);
    exec::target(spec, &check.for_reader(values), &objects, &scope)
}

/// Judges a check from everything observed for it. A check that only matches objects gives
/// exactly what [`super::evaluate`] gives for `observed.objects`. Compiles `spec` first: the
/// engine holds the compiled form and calls [`CompiledCheck::judge`].
pub fn evaluate_observed(spec: &CheckSpec, observed: &Observed<'_>) -> Verdict {
    match CompiledCheck::compile(spec) {
        Ok(check) => judge(&check, observed),
        Err(problems) => super::written_wrongly(spec, &problems),
    }
}

pub(super) fn judge(compiled: &CompiledCheck, observed: &Observed<'_>) -> Verdict {
    let verdict = judge_as_written(compiled, observed);
    match observed.values {
        Some(values) => for_reader(verdict, values),
        None => verdict,
    }
}

// What was expected in the reader's terms: the author's words (`describe`, `$describe`) and
// expectations may name `{kubelab:namespace}`. What was found comes from the cluster as it is.
fn for_reader(verdict: Verdict, values: &Values) -> Verdict {
    let render = |diagnostics: Vec<Diagnostic>| {
        diagnostics
            .into_iter()
            .map(|d| Diagnostic {
                expected: values.text(&d.expected),
                ..d
            })
            .collect()
    };
    match verdict {
        Verdict::Failed {
            diagnostics,
            closest,
        } => Verdict::Failed {
            diagnostics: render(diagnostics),
            closest,
        },
        Verdict::Pending { diagnostics } => Verdict::Pending {
            diagnostics: render(diagnostics),
        },
        other => other,
    }
}

fn judge_as_written(compiled: &CompiledCheck, observed: &Observed<'_>) -> Verdict {
    let spec = compiled.spec();
    let check = compiled.for_reader(observed.values);
    if let Some(api) = &spec.served {
        return served(api, spec.absent, observed.served, spec.describe.as_ref());
    }
    if let Some(expect) = &compiled.server_version {
        return server_version(expect, observed.server_version);
    }
    if let Some(question) = &spec.access {
        return match observed.access {
            Some(outcome) => access::evaluate(
                question,
                observed.home.unwrap_or_default(),
                outcome,
                spec.describe.as_ref(),
            ),
            None => Verdict::Error {
                message: "the cluster's answer to the access review is missing".to_owned(),
            },
        };
    }
    let scope = Scope::of(spec, observed.step_started, observed.namespace);
    let objects = scope.filter(observed.objects);
    if spec.question.is_some() {
        return question::evaluate(spec, &check, &objects, &scope, observed);
    }
    if spec.exec.is_some() {
        return exec::evaluate(spec, &check, &objects, &scope, observed.exec);
    }
    if let Some(expected) = &compiled.events {
        return events::evaluate(spec, &check, expected, &objects, &scope, observed.events);
    }
    let verdict = check.evaluate_in(&objects, scope.namespace);
    match verdict {
        Verdict::Failed { .. } if objects.is_empty() => match scope.nothing_new(spec.find.as_ref())
        {
            Some(diagnostic) => Verdict::Failed {
                diagnostics: vec![diagnostic],
                closest: None,
            },
            None => verdict,
        },
        other => other,
    }
}

fn served(
    api: &ApiRef,
    absent: bool,
    served: Option<bool>,
    described: Option<&crate::i18n::Text>,
) -> Verdict {
    let Some(served) = served else {
        return Verdict::Error {
            message: format!(
                "whether the cluster serves {} ({}) could not be found out",
                api.kind, api.api_version
            ),
        };
    };
    if served != absent {
        return Verdict::Passed;
    }
    let (kind, version) = (code(&api.kind), code(&api.api_version));
    let (expected, actual) = if absent {
        (
            text(
                format!("the cluster not to serve {kind} ({version})"),
                format!("集群不提供 {kind}（{version}）"),
            ),
            text("served", "已提供"),
        )
    } else {
        (serving(&api.kind, Some(&api.api_version)), not_served())
    };
    Verdict::Failed {
        diagnostics: vec![Diagnostic::whole(
            described.cloned().unwrap_or(expected),
            actual,
        )],
        closest: None,
    }
}

/// Expected of a kind the cluster must serve: `the cluster to serve `PodMetrics` (`…/v1beta1`)`.
fn serving(kind: &str, version: Option<&str>) -> crate::i18n::Text {
    let (en_v, zh_v) = match version {
        Some(v) => (format!(" ({})", code(v)), format!("（{}）", code(v))),
        None => (String::new(), String::new()),
    };
    text(
        format!("the cluster to serve {}{en_v}", code(kind)),
        format!("集群提供 {}{zh_v}", code(kind)),
    )
}

fn not_served() -> crate::i18n::Text {
    text("not served", "未提供")
}

fn server_version(node: &Expectation, document: Option<&Value>) -> Verdict {
    let Some(document) = document else {
        return Verdict::Error {
            message: "the API server's version could not be read".to_owned(),
        };
    };
    let version = version_numbers(document);
    let mut report = Mismatches::collecting();
    matching::check(node, Some(&version), &mut report);
    let diagnostics = report.into_diagnostics();
    if diagnostics.is_empty() {
        Verdict::Passed
    } else {
        Verdict::Failed {
            diagnostics,
            closest: None,
        }
    }
}

/// The `/version` document with `major` and `minor` as numbers: `"1"` → 1, k3s's and GKE's
/// `"28+"` → 28. Values that hold no number are kept as they are.
pub fn version_numbers(document: &Value) -> Value {
    let Some(map) = document.as_object() else {
        return document.clone();
    };
    let mut out: Map<String, Value> = map.clone();
    for key in ["major", "minor"] {
        if let Some(Value::String(text)) = map.get(key) {
            let digits: String = text
                .trim()
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(n) = digits.parse::<u64>() {
                out.insert(key.to_owned(), Value::from(n));
            }
        }
    }
    Value::Object(out)
}

/// Where and since when the objects of one evaluation were looked for: the namespace searched
/// (for "not found"), and when the step started, if the check asks for `since: step` and the
/// engine knows it.
struct Scope<'a> {
    namespace: Option<&'a str>,
    started: Option<OffsetDateTime>,
}

impl<'a> Scope<'a> {
    // Without a known start nothing is filtered: a check must not stay red forever because the
    // start was not recorded.
    fn of(spec: &CheckSpec, step_started: Option<&str>, namespace: Option<&'a str>) -> Scope<'a> {
        let started = spec
            .since
            .and(step_started)
            .and_then(|s| OffsetDateTime::parse(s.trim(), &Rfc3339).ok());
        Scope { namespace, started }
    }

    /// The objects created at or after the start (all of them without `since`). Objects
    /// without a readable `creationTimestamp` cannot be shown to be new and are left out.
    fn filter<'v>(&self, objects: &'v [Value]) -> Cow<'v, [Value]> {
        let Some(started) = self.started else {
            return Cow::Borrowed(objects);
        };
        Cow::Owned(
            objects
                .iter()
                .filter(|object| {
                    object
                        .pointer("/metadata/creationTimestamp")
                        .and_then(Value::as_str)
                        .and_then(|t| OffsetDateTime::parse(t, &Rfc3339).ok())
                        .is_some_and(|created| created >= started)
                })
                .cloned()
                .collect(),
        )
    }

    /// With `since: step`, the diagnostic for "nothing created since the step started".
    fn nothing_new(&self, find: Option<&Find>) -> Option<Diagnostic> {
        let started = self.started?;
        let find = find?;
        let kind = &find.kind;
        let (en, zh) = match &find.name {
            Some(name) => (
                format!("{kind} {}", code(name)),
                format!("{kind} {}", code(name)),
            ),
            None => (words::a(kind), kind.clone()),
        };
        let utc = started.to_offset(time::UtcOffset::UTC);
        let at = format!(
            "{:02}:{:02}:{:02} UTC",
            utc.hour(),
            utc.minute(),
            utc.second()
        );
        Some(Diagnostic::whole(
            text(
                format!("{en} created after you started this step"),
                format!("你开始本步骤之后创建的 {zh}"),
            ),
            text(format!("none since {at}"), format!("自 {at} 以来没有新建")),
        ))
    }
}

// "not found in namespace …", or "nothing new" with `since: step`; pending when
// `pending.when` says so.
fn nothing_found(check: &Eval<'_>, scope: &Scope<'_>, objects: &[Value]) -> Verdict {
    let diagnostic = scope.nothing_new(check.find.as_ref()).unwrap_or_else(|| {
        Diagnostic::whole(
            words::to_exist(check.find.as_ref()),
            words::not_found(check.searched(scope.namespace)),
        )
    });
    check.failed(vec![diagnostic], None, objects)
}

// A learner's text as a diagnostic shows it: a JSON string, cut when long.
fn quoted(answer: &str) -> values::Shown {
    values::found(Some(&Value::String(answer.to_owned())))
}

#[cfg(test)]
mod tests;
