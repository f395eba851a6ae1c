//! The check language: matching cluster objects against a lab's expectations. Pure code —
//! it takes objects and expectations and returns verdicts, with no cluster in sight.
//!
//! [`CompiledCheck`] is a check compiled and validated once, when the labs load: the form
//! validation reports on is the form the engine evaluates on every watch event. [`evaluate`]
//! and [`validate`] compile on the spot, for callers holding only a [`CheckSpec`].

pub mod cel;
mod eval;
pub mod lint;
pub mod matching;
pub mod observed;
pub mod path;
pub mod quantity;
pub mod selector;
pub mod spec;
pub mod template;
pub mod values;
pub mod verdict;
pub mod words;

pub use eval::Eval;
pub use observed::access::{AccessOutcome, AccessRequest, AccessSpec};
pub use observed::token::{MAX_TOKEN_CHARS, TokenReviewed, TokenSpec};
pub use observed::{
    ExecOutcome, ExecTarget, Needs, Observed, access_of, evaluate_observed, exec_target, needs,
    outside_namespace, token_of,
};
pub use selector::{Requirement, Selector, parse_selector};
pub use spec::{AnswerSpec, ApiRef, CheckSpec, ExecSpec, Find, Normalize, PendingSpec, Since};
pub use template::Values;
pub use verdict::{Diagnostic, StepStatus, Verdict};
pub use words::{object_id, terminating};

use serde_json::Value;

use self::cel::CelExpr;
use self::matching::Expectation;
use self::path::FieldStep;
use crate::i18n::Text;

/// Evaluates one check against the objects its `find` returned (one or none for a name,
/// any number for a selector). Never touches the cluster. A check that is written wrongly
/// (see [`validate`]) gives [`Verdict::Error`].
pub fn evaluate(spec: &CheckSpec, objects: &[Value]) -> Verdict {
    match CompiledCheck::compile(spec) {
        Ok(check) => check.evaluate(objects),
        Err(problems) => written_wrongly(spec, &problems),
    }
}

/// Problems with a check as written (unknown operator, bad regex, CEL that does not parse or
/// names what does not exist, both `name` and `selector`...), each a sentence for
/// `kubelab validate`. Empty when fine.
pub fn validate(spec: &CheckSpec) -> Vec<String> {
    match CompiledCheck::compile(spec) {
        Ok(_) => Vec::new(),
        Err(problems) => problems.into_iter().map(|p| p.to_string()).collect(),
    }
}

/// One problem with a check as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// What is wrong and what to write instead.
    pub message: String,
    /// For a problem in `cel`: what is wrong and where in the expression, so that the loader
    /// can name the file's line and column.
    pub cel: Option<cel::CelError>,
}

impl Problem {
    fn new(message: impl Into<String>) -> Problem {
        Problem {
            message: message.into(),
            cel: None,
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn written_wrongly(spec: &CheckSpec, problems: &[Problem]) -> Verdict {
    Verdict::Error {
        message: format!(
            "check `{}` is written wrongly: {}",
            spec.id,
            problems
                .iter()
                .map(|p| p.message.as_str())
                .collect::<Vec<_>>()
                .join(" ")
        ),
    }
}

// The check's `find` as written: both fields it must have, one way to pick objects.
fn validate_find(find: &Find, problems: &mut Vec<String>) -> Option<Selector> {
    if find.api_version.trim().is_empty() {
        problems.push("`find.apiVersion` is empty; write e.g. `v1` or `apps/v1`.".to_owned());
    }
    if find.kind.trim().is_empty() {
        problems.push("`find.kind` is empty; write e.g. `ConfigMap` or `Deployment`.".to_owned());
    }
    if find.name.is_some() && find.selector.is_some() {
        problems.push("`find` has both `name` and `selector`; use one of them.".to_owned());
    }
    if find.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
        problems.push(
            "`find.name` is empty; leave it out to look at every object of the kind.".to_owned(),
        );
    }
    let selector = find.selector.as_ref()?;
    match parse_selector(selector) {
        Ok(parsed) => Some(parsed),
        Err(e) => {
            problems.push(format!(
                "`find.selector` \"{selector}\" does not parse: {e}."
            ));
            None
        }
    }
}

// `describe` words the check as a whole, so it needs both languages and a check that has a
// whole to word.
fn validate_describe(spec: &CheckSpec) -> Vec<String> {
    let Some(words) = &spec.describe else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    if words.en.trim().is_empty() || words.zh.trim().is_empty() {
        problems.push("`describe` needs the check's expectation in both `en` and `zh`.".to_owned());
    }
    let whole = spec.cel.is_some()
        || spec.absent
        || spec.count.is_some()
        || spec.events.is_some()
        || spec.served.is_some()
        || spec.access.is_some();
    if !whole {
        problems.push(
            "`describe` words a check as a whole (`cel`, `absent`, `count`, `events`, `served` or `access`), and this check has none of them; word a field of `expect` with `$describe` next to its operators instead.".to_owned(),
        );
    }
    problems
}

/// A check compiled once: its spec as written, and everything evaluation needs prepared —
/// the selector parsed, expectations, regexes, quantities and CEL compiled, the answer's path
/// parsed. Shared by every reader; placeholders are rendered per evaluation.
#[derive(Debug)]
pub struct CompiledCheck {
    spec: CheckSpec,
    find: Option<Find>,
    selector: Option<Selector>,
    expect: Option<Expectation>,
    cel: Option<CelExpr>,
    absent: bool,
    count: Option<Expectation>,
    pending: Option<Expectation>,
    events: Option<Expectation>,
    server_version: Option<Expectation>,
    answer_field: Option<Vec<FieldStep>>,
    // The author's words for the check as a whole.
    describe: Option<Text>,
    // What a false CEL expression says was expected: `describe`, else the title.
    cel_words: Text,
}

impl CompiledCheck {
    /// Compiles and validates `spec`; `Err` lists every problem, in the order the author reads
    /// the check.
    pub fn compile(spec: &CheckSpec) -> Result<CompiledCheck, Vec<Problem>> {
        let mut problems = Vec::new();
        if spec.id.trim().is_empty() {
            problems.push(
                "The check's `id` is empty; give it a short name that is unique within the step, such as `configmap-keys`.".to_owned(),
            );
        }
        problems.extend(observed::validate_observed(spec));
        problems.extend(validate_describe(spec));
        let selector = spec
            .find
            .as_ref()
            .and_then(|find| validate_find(find, &mut problems));
        problems.extend(lint::condition_statuses(spec));
        let mut problems: Vec<Problem> = problems.into_iter().map(Problem::new).collect();
        let mut messages = Vec::new();
        let parts = Parts::compile(spec, &mut messages);
        let answer_field = spec
            .answer
            .as_ref()
            .and_then(|a| a.field.as_deref())
            .and_then(|f| path::parse_field(f).ok());
        // `events` is reported by the observing parts' validation, and so is every object
        // expectation of a check without `find` ("needs `find`").
        messages.retain(|m| !m.starts_with("`events`"));
        if spec.find.is_some() {
            problems.extend(messages.into_iter().map(Problem::new));
        }
        let cel = spec
            .cel
            .as_deref()
            .and_then(|source| match CelExpr::compile(source) {
                Ok(expr) => Some(expr),
                Err(e) => {
                    let verb = if e.syntax { "does not parse " } else { "" };
                    problems.push(Problem {
                        message: format!("`cel` {verb}{e}."),
                        cel: Some(e),
                    });
                    None
                }
            });
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(CompiledCheck {
            spec: spec.clone(),
            find: spec.find.clone(),
            selector,
            expect: parts.expect,
            cel,
            absent: spec.absent,
            count: parts.count,
            pending: parts.pending,
            events: parts.events,
            server_version: parts.server_version,
            answer_field,
            describe: spec.describe.clone(),
            cel_words: spec.describe.clone().unwrap_or_else(|| spec.title.clone()),
        })
    }

    /// The check as written.
    pub fn spec(&self) -> &CheckSpec {
        &self.spec
    }

    /// The label selector of `find`, parsed.
    pub fn selector(&self) -> Option<&Selector> {
        self.selector.as_ref()
    }

    /// The check as evaluated for one reader (placeholders rendered with `values`).
    pub fn for_reader<'c>(&'c self, values: Option<&'c Values>) -> Eval<'c> {
        Eval::new(self, values)
    }

    /// Evaluates the check against the objects its `find` returned (placeholders as written).
    pub fn evaluate(&self, objects: &[Value]) -> Verdict {
        self.for_reader(None).evaluate_in(objects, None)
    }

    /// Evaluates the check against the objects its `find` returned from `namespace` (named
    /// when nothing was found; `find.namespace` when not given).
    pub fn evaluate_in(&self, objects: &[Value], namespace: Option<&str>) -> Verdict {
        self.for_reader(None).evaluate_in(objects, namespace)
    }

    /// Judges the check from everything observed for it (see [`evaluate_observed`]).
    pub fn judge(&self, observed: &Observed<'_>) -> Verdict {
        observed::judge(self, observed)
    }

    // The namespace named in "not found": where the engine looked, else the one `find` names.
    fn searched<'n>(&'n self, namespace: Option<&'n str>) -> Option<&'n str> {
        namespace.or(self.find.as_ref().and_then(|f| f.namespace.as_deref()))
    }
}

/// A check's expectations, compiled.
struct Parts {
    expect: Option<Expectation>,
    count: Option<Expectation>,
    pending: Option<Expectation>,
    events: Option<Expectation>,
    server_version: Option<Expectation>,
}

impl Parts {
    fn compile(spec: &CheckSpec, messages: &mut Vec<String>) -> Parts {
        let expect = spec.expect.as_ref().map(|value| {
            if !value.is_object() {
                messages.push(format!(
                    "`expect` must be a map (a partial object), not {}.",
                    path::show(value)
                ));
            }
            compile_field("expect", value, messages)
        });
        let count = spec
            .count
            .as_ref()
            .map(|value| compile_count(value, messages));
        if spec.absent && spec.count.is_some() {
            messages.push(
                "`absent: true` cannot be combined with `count`; use `count: 0` instead."
                    .to_owned(),
            );
        }
        Parts {
            expect,
            count,
            pending: spec
                .pending
                .as_ref()
                .map(|p| compile_field("pending.when", &p.when, messages)),
            events: spec
                .events
                .as_ref()
                .map(|e| compile_field("events", e, messages)),
            // Reported by the observing parts' validation.
            server_version: spec
                .server_version
                .as_ref()
                .map(|v| compile_field("serverVersion", v, &mut Vec::new())),
        }
    }
}

fn compile_field(field: &str, value: &Value, problems: &mut Vec<String>) -> Expectation {
    let mut errors = Vec::new();
    let node = matching::compile(value, &mut Vec::new(), &mut errors);
    problems.extend(errors.into_iter().map(|e| format!("`{field}`{e}.")));
    node
}

const COUNT_OPERATORS: &[&str] = &["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$not"];

fn compile_count(value: &Value, problems: &mut Vec<String>) -> Expectation {
    let before = problems.len();
    check_count(value, problems);
    if problems.len() > before {
        return Expectation::Null;
    }
    let mut errors = Vec::new();
    let node = matching::compile(value, &mut Vec::new(), &mut errors);
    problems.extend(errors.into_iter().map(|e| format!("`count`{e}.")));
    node
}

fn check_count(value: &Value, problems: &mut Vec<String>) {
    match value {
        Value::Number(n) if n.as_u64().is_some() => {}
        Value::Object(map) if !map.is_empty() && map.keys().all(|k| k.starts_with('$')) => {
            for (op, operand) in map {
                match op.as_str() {
                    matching::DESCRIBE => {}
                    "$not" => check_count(operand, problems),
                    "$in" => {
                        if !operand.as_array().is_some_and(|a| a.iter().all(Value::is_number)) {
                            problems.push(format!(
                                "`count`: `$in` needs an array of numbers, not {}.",
                                path::show(operand)
                            ));
                        }
                    }
                    known if COUNT_OPERATORS.contains(&known) => {
                        if !operand.is_number() {
                            problems.push(format!(
                                "`count`: `{known}` needs a number, not {}.",
                                path::show(operand)
                            ));
                        }
                    }
                    other => problems.push(format!(
                        "`count` cannot use `{other}`; it takes a number or {}.",
                        COUNT_OPERATORS
                            .iter()
                            .map(|o| format!("`{o}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )),
                }
            }
        }
        other => problems.push(format!(
            "`count` must be a whole number of 0 or more, or an operator map such as {{$gte: 3}}, not {}.",
            path::show(other)
        )),
    }
}

#[cfg(test)]
mod tests;
