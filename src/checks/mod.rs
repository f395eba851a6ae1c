//! The check language: matching cluster objects against a lab's expectations. Pure code —
//! it takes objects and expectations and returns verdicts, with no cluster in sight.
//!
//! [`evaluate`] runs one check; [`CompiledCheck`] does the same for callers that evaluate a
//! check many times (regexes, quantities and CEL are prepared once); [`validate`] lists every
//! problem with a check as written.

pub mod cel;
pub mod matching;
pub mod observed;
pub mod path;
pub mod quantity;
pub mod selector;
pub mod spec;
pub mod values;
pub mod verdict;
pub mod words;

pub use observed::access::{AccessOutcome, AccessRequest, AccessSpec};
pub use observed::token::{MAX_TOKEN_CHARS, TokenReviewed, TokenSpec};
pub use observed::{
    ExecOutcome, ExecTarget, Needs, Observed, access_of, evaluate_observed, exec_target, needs,
    outside_namespace, token_of,
};
pub use selector::{Requirement, Selector, parse_selector};
pub use spec::{AnswerSpec, ApiRef, CheckSpec, ExecSpec, Find, Normalize, PendingSpec, Since};
pub use verdict::{Diagnostic, StepStatus, Verdict};
pub use words::{object_id, terminating};

use serde_json::Value;

use self::cel::CelExpr;
use self::matching::{Expectation, Mismatches, describe};
use crate::i18n::Text;

/// Evaluates one check against the objects its `find` returned (one or none for a name,
/// any number for a selector). Never touches the cluster. A check that is written wrongly
/// (see [`validate`]) gives [`Verdict::Error`].
pub fn evaluate(spec: &CheckSpec, objects: &[Value]) -> Verdict {
    match CompiledCheck::compile(spec) {
        Ok(check) => check.evaluate(objects),
        Err(problems) => Verdict::Error {
            message: format!(
                "check `{}` is written wrongly: {}",
                spec.id,
                problems.join(" ")
            ),
        },
    }
}

/// Problems with a check as written (unknown operator, bad regex, CEL that does not parse,
/// both `name` and `selector`...), each a sentence for `kubelab validate`. Empty when fine.
pub fn validate(spec: &CheckSpec) -> Vec<String> {
    let mut problems = Vec::new();
    if spec.id.trim().is_empty() {
        problems.push(
            "The check's `id` is empty; give it a short name that is unique within the step, such as `configmap-keys`.".to_owned(),
        );
    }
    problems.extend(observed::validate_observed(spec));
    problems.extend(validate_describe(spec));
    let Some(find) = &spec.find else {
        return problems;
    };
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
    if let Some(selector) = &find.selector
        && let Err(e) = parse_selector(selector)
    {
        problems.push(format!(
            "`find.selector` \"{selector}\" does not parse: {e}."
        ));
    }
    if let Err(more) = CompiledCheck::compile(spec) {
        problems.extend(more);
    }
    problems
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

/// A check prepared for evaluation: expectations, regexes, quantities and CEL compiled once.
#[derive(Debug)]
pub struct CompiledCheck {
    find: Option<Find>,
    expect: Option<Expectation>,
    cel: Option<CelExpr>,
    absent: bool,
    count: Option<Expectation>,
    pending: Option<Expectation>,
    // The author's words for the check as a whole.
    describe: Option<Text>,
    // What a false CEL expression says was expected: `describe`, else the title.
    cel_words: Text,
}

impl CompiledCheck {
    /// Compiles `spec`; `Err` lists every problem that keeps it from being evaluated.
    pub fn compile(spec: &CheckSpec) -> Result<CompiledCheck, Vec<String>> {
        let mut problems = Vec::new();
        let expect = spec.expect.as_ref().map(|value| {
            if !value.is_object() {
                problems.push(format!(
                    "`expect` must be a map (a partial object), not {}.",
                    path::show(value)
                ));
            }
            compile_field("expect", value, &mut problems)
        });
        let cel = spec
            .cel
            .as_deref()
            .and_then(|source| match CelExpr::compile(source) {
                Ok(expr) => Some(expr),
                Err(e) => {
                    problems.push(format!("`cel` does not parse {e}."));
                    None
                }
            });
        let count = spec
            .count
            .as_ref()
            .map(|value| compile_count(value, &mut problems));
        if spec.absent && spec.count.is_some() {
            problems.push(
                "`absent: true` cannot be combined with `count`; use `count: 0` instead."
                    .to_owned(),
            );
        }
        let pending = spec
            .pending
            .as_ref()
            .map(|p| compile_field("pending.when", &p.when, &mut problems));
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(CompiledCheck {
            find: spec.find.clone(),
            expect,
            cel,
            absent: spec.absent,
            count,
            pending,
            describe: spec.describe.clone(),
            cel_words: spec.describe.clone().unwrap_or_else(|| spec.title.clone()),
        })
    }

    /// Evaluates the check against the objects its `find` returned.
    pub fn evaluate(&self, objects: &[Value]) -> Verdict {
        self.evaluate_in(objects, None)
    }

    /// Evaluates the check against the objects its `find` returned from `namespace` (named
    /// when nothing was found; `find.namespace` when not given).
    pub fn evaluate_in(&self, objects: &[Value], namespace: Option<&str>) -> Verdict {
        let result = if self.absent {
            self.try_absent(objects)
        } else if let Some(count) = &self.count {
            self.try_count(count, objects)
        } else {
            self.try_default(objects, namespace)
        };
        result.unwrap_or_else(|message| Verdict::Error { message })
    }

    // Passes when no object matches; objects that match but are being deleted are on their way
    // out: pending.
    fn try_absent(&self, objects: &[Value]) -> Result<Verdict, String> {
        let mut staying = Vec::new();
        let mut going = Vec::new();
        for object in objects {
            if self.expect_matches(object) && self.cel_holds(object)? {
                if terminating(object) {
                    going.push(object);
                } else {
                    staying.push(object);
                }
            }
        }
        let expected = || {
            self.describe
                .clone()
                .unwrap_or_else(|| words::none_of(self.find.as_ref()))
        };
        if !staying.is_empty() {
            let diagnostic = Diagnostic::whole(expected(), words::objects(&staying));
            return Ok(self.failed(vec![diagnostic], None, objects));
        }
        if !going.is_empty() {
            return Ok(Verdict::Pending {
                diagnostics: vec![Diagnostic::whole(expected(), words::being_deleted(&going))],
            });
        }
        Ok(Verdict::Passed)
    }

    // Objects being deleted are not counted.
    fn try_count(&self, count: &Expectation, objects: &[Value]) -> Result<Verdict, String> {
        let mut matching = 0usize;
        let mut deleting = 0usize;
        for object in objects {
            if terminating(object) {
                deleting += 1;
            } else if self.expect_matches(object) && self.cel_holds(object)? {
                matching += 1;
            }
        }
        if matching::matches(count, Some(&Value::from(matching))) {
            return Ok(Verdict::Passed);
        }
        let expected = self
            .describe
            .clone()
            .unwrap_or_else(|| words::count_expected(&describe::count(count)));
        let actual = words::count_found(matching, objects.len(), deleting);
        Ok(self.failed(vec![Diagnostic::whole(expected, actual)], None, objects))
    }

    // The default verdict: some object (not being deleted) matches `expect` and `cel`;
    // otherwise the closest one's diagnostics, "being deleted", or "not found".
    fn try_default(&self, objects: &[Value], namespace: Option<&str>) -> Result<Verdict, String> {
        let live: Vec<&Value> = objects.iter().filter(|o| !terminating(o)).collect();
        if live.is_empty() {
            let all: Vec<&Value> = objects.iter().collect();
            let actual = if all.is_empty() {
                words::not_found(self.searched(namespace))
            } else {
                words::being_deleted(&all)
            };
            let diagnostic = Diagnostic::whole(words::to_exist(self.find.as_ref()), actual);
            return Ok(self.failed(vec![diagnostic], None, objects));
        }
        // One pass finds a matching object or, failing that, the closest one: each object is
        // counted only up to the best score so far, so hopeless ones are dropped early. An
        // object whose `expect` matched but whose CEL said false is one mismatch away.
        let mut best: Option<(usize, usize, bool)> = None;
        for (i, object) in live.iter().enumerate() {
            let limit = best.map_or(usize::MAX, |(_, score, _)| score);
            let mismatches = match &self.expect {
                Some(expect) => {
                    let mut report = Mismatches::counting(limit);
                    matching::check(expect, Some(object), &mut report);
                    report.count()
                }
                None => 0,
            };
            let (score, cel_failed) = if mismatches == 0 {
                if self.cel_holds(object)? {
                    return Ok(Verdict::Passed);
                }
                (1, true)
            } else {
                (mismatches, false)
            };
            if score < limit {
                best = Some((i, score, cel_failed));
            }
        }
        let Some((closest, _, cel_failed)) = best else {
            return Ok(Verdict::Passed);
        };
        let object = live[closest];
        let diagnostics = if cel_failed {
            vec![Diagnostic::whole(
                self.cel_words.clone(),
                words::not_the_case(),
            )]
        } else {
            let mut report = Mismatches::collecting();
            if let Some(expect) = &self.expect {
                matching::check(expect, Some(object), &mut report);
            }
            report.into_diagnostics()
        };
        Ok(self.failed(diagnostics, Some(object_id(object)), objects))
    }

    // The namespace named in "not found": where the engine looked, else the one `find` names.
    fn searched<'n>(&'n self, namespace: Option<&'n str>) -> Option<&'n str> {
        namespace.or(self.find.as_ref().and_then(|f| f.namespace.as_deref()))
    }

    // The objects (not being deleted) that match `expect` and `cel` (all of them when neither
    // is given).
    fn matching<'v>(&self, objects: &'v [Value]) -> Result<Vec<&'v Value>, String> {
        let mut out = Vec::new();
        for object in objects.iter().filter(|o| !terminating(o)) {
            if self.expect_matches(object) && self.cel_holds(object)? {
                out.push(object);
            }
        }
        Ok(out)
    }

    // The objects being deleted that would otherwise match `expect` and `cel`.
    fn deleting<'v>(&self, objects: &'v [Value]) -> Result<Vec<&'v Value>, String> {
        let mut out = Vec::new();
        for object in objects.iter().filter(|o| terminating(o)) {
            if self.expect_matches(object) && self.cel_holds(object)? {
                out.push(object);
            }
        }
        Ok(out)
    }

    fn expect_matches(&self, object: &Value) -> bool {
        self.expect
            .as_ref()
            .is_none_or(|expect| matching::matches(expect, Some(object)))
    }

    fn cel_holds(&self, object: &Value) -> Result<bool, String> {
        match &self.cel {
            None => Ok(true),
            Some(expr) => expr
                .eval(object)
                .map_err(|e| format!("{e} (object {})", object_id(object))),
        }
    }

    // Failed, or pending when an object that is not being deleted matches `pending.when`.
    fn failed(
        &self,
        diagnostics: Vec<Diagnostic>,
        closest: Option<String>,
        objects: &[Value],
    ) -> Verdict {
        let pending = self.pending.as_ref().is_some_and(|when| {
            objects
                .iter()
                .any(|object| !terminating(object) && matching::matches(when, Some(object)))
        });
        if pending {
            Verdict::Pending { diagnostics }
        } else {
            Verdict::Failed {
                diagnostics,
                closest,
            }
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
