//! Questions: the learner's answer compared with the value read from the cluster, which is never
//! shown.

use serde_json::Value;

use super::super::matching::describe;
use super::super::path;
use super::super::spec::{AnswerSpec, CheckSpec, Normalize};
use super::super::values::{self, text};
use super::super::verdict::{Diagnostic, Verdict};
use super::super::{Eval, object_id};
use super::{Observed, Scope, access, not_served, nothing_found, quoted, serving, token};

pub(super) fn evaluate(
    spec: &CheckSpec,
    check: &Eval<'_>,
    objects: &[Value],
    scope: &Scope<'_>,
    observed: &Observed<'_>,
) -> Verdict {
    let source = spec.answer.clone().unwrap_or_default();
    if let Some(wanted) = &source.token {
        return pasted_token(wanted, observed);
    }
    let right = match right_answers(&source, check, objects, scope, observed) {
        Ok(right) => right,
        Err(verdict) => return verdict,
    };
    let given = observed.answer.filter(|a| !a.trim().is_empty());
    let Some(given) = given else {
        return unanswered();
    };
    let normalize = spec.normalize.unwrap_or_default();
    if right.iter().any(|r| accepts(normalize, given, r)) {
        return Verdict::Passed;
    }
    let given = quoted(given);
    Verdict::Failed {
        diagnostics: vec![Diagnostic {
            path: "answer".to_owned(),
            expected: text("the value on your cluster", "你的集群上的值"),
            actual: given.text,
            actual_full: given.full,
        }],
        closest: None,
    }
}

fn unanswered() -> Verdict {
    Verdict::Pending {
        diagnostics: vec![Diagnostic::new(
            "answer",
            text("your answer", "你的回答"),
            text("not answered yet", "尚未回答"),
        )],
    }
}

// A token question: judged from the review kubelab remembered when the learner pasted it.
fn pasted_token(wanted: &token::TokenSpec, observed: &Observed<'_>) -> Verdict {
    match observed.answer.and_then(token::recall) {
        Some(reviewed) => token::evaluate(
            wanted,
            observed.home.unwrap_or_default(),
            &reviewed,
            observed.confined,
        ),
        None => unanswered(),
    }
}

// Every value that counts as right; `Err` when there is nothing to compare with.
fn right_answers(
    source: &AnswerSpec,
    check: &Eval<'_>,
    objects: &[Value],
    scope: &Scope<'_>,
    observed: &Observed<'_>,
) -> Result<Vec<String>, Verdict> {
    if source.server_version.is_some() {
        return observed
            .server_version
            .and_then(|v| v.get("gitVersion"))
            .and_then(Value::as_str)
            .map(|v| vec![v.to_owned()])
            .ok_or_else(|| Verdict::Error {
                message: "the API server's version could not be read".to_owned(),
            });
    }
    if source.access.is_some() {
        return observed
            .access
            .map(access::right_answers)
            .ok_or_else(|| Verdict::Error {
                message: "the cluster's answer to the access review is missing".to_owned(),
            });
    }
    if let Some(kind) = &source.api_group_of {
        if observed.api_groups.is_empty() {
            return Err(Verdict::Failed {
                diagnostics: vec![Diagnostic::whole(serving(kind, None), not_served())],
                closest: None,
            });
        }
        return Ok(observed
            .api_groups
            .iter()
            .flat_map(|group| match group.as_str() {
                "" | "core" => vec!["core".to_owned(), "v1".to_owned()],
                other => vec![other.to_owned()],
            })
            .collect());
    }
    // `field` and `count` read the objects `find` returned, narrowed by `expect` and `cel`.
    let candidates = check
        .matching(objects)
        .map_err(|message| Verdict::Error { message })?;
    if source.count.is_some() {
        return Ok(vec![candidates.len().to_string()]);
    }
    let Some(field) = &source.field else {
        return Err(Verdict::Error {
            message: "the question's answer has no source".to_owned(),
        });
    };
    if objects.is_empty() {
        return Err(nothing_found(check, scope, objects));
    }
    if candidates.is_empty() {
        return Err(check
            .try_default(objects, scope.namespace)
            .unwrap_or_else(|message| Verdict::Error { message }));
    }
    let steps = check.answer_field.as_ref().ok_or_else(|| Verdict::Error {
        message: format!("`answer.field` \"{field}\" is not a path"),
    })?;
    let right: Vec<String> = candidates
        .iter()
        .filter_map(|object| path::lookup(object, steps))
        .flat_map(texts)
        .collect();
    if right.is_empty() {
        return Err(check.failed(
            vec![Diagnostic::new(
                path::render_field(steps),
                describe::present(),
                values::missing(),
            )],
            candidates.first().map(|o| object_id(o)),
            objects,
        ));
    }
    Ok(right)
}

// A value as the text(s) a learner would type: strings as they are, numbers and booleans as
// written, each element of a list of scalars, other values as JSON.
fn texts(value: &Value) -> Vec<String> {
    match value {
        Value::Null => Vec::new(),
        Value::String(s) => vec![s.clone()],
        Value::Number(_) | Value::Bool(_) => vec![value.to_string()],
        Value::Array(items) if items.iter().all(|i| !i.is_array() && !i.is_object()) => {
            items.iter().flat_map(texts).collect()
        }
        other => vec![other.to_string()],
    }
}

/// Text as questions compare it: trimmed, lower case, each run of whitespace one space.
pub fn normalize_text(text: &str) -> String {
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// Whether the learner's `answer` is right for the cluster's value `right` under `normalize`.
pub fn accepts(normalize: Normalize, answer: &str, right: &str) -> bool {
    let answer = normalize_text(answer);
    let right = normalize_text(right);
    match normalize {
        Normalize::Text => answer == right,
        Normalize::Number => match (number(&answer), number(&right)) {
            (Some(a), Some(r)) => a == r,
            // A value that is no number can only be matched as text.
            (_, None) => answer == right,
            (None, Some(_)) => false,
        },
        Normalize::Version => {
            let answer = answer.strip_prefix('v').unwrap_or(&answer);
            let right = right.strip_prefix('v').unwrap_or(&right);
            let release = right.split(['+', '-']).next().unwrap_or(right);
            answer == right || answer == release
        }
        Normalize::Runtime => {
            answer == right
                || right
                    .split_once("://")
                    .is_some_and(|(name, _)| answer == name)
        }
    }
}

fn number(text: &str) -> Option<f64> {
    text.parse::<f64>().ok().filter(|n| n.is_finite())
}
