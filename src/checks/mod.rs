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
pub mod verdict;

pub use observed::{
    ExecOutcome, ExecTarget, Needs, Observed, evaluate_observed, exec_target, needs,
};
pub use selector::{Requirement, Selector, parse_selector};
pub use spec::{AnswerSpec, ApiRef, CheckSpec, ExecSpec, Find, Normalize, PendingSpec, Since};
pub use verdict::{Diagnostic, StepStatus, Verdict};

use serde_json::Value;

use self::cel::CelExpr;
use self::matching::{Node, Report};

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
    problems.extend(observed::validate_v2(spec));
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

/// A check prepared for evaluation: expectations, regexes, quantities and CEL compiled once.
#[derive(Debug)]
pub struct CompiledCheck {
    find: Option<Find>,
    expect: Option<Node>,
    cel: Option<CelExpr>,
    absent: bool,
    count: Option<Node>,
    pending: Option<Node>,
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
        })
    }

    /// Evaluates the check against the objects its `find` returned.
    pub fn evaluate(&self, objects: &[Value]) -> Verdict {
        match self.try_evaluate(objects) {
            Ok(verdict) => verdict,
            Err(message) => Verdict::Error { message },
        }
    }

    fn try_evaluate(&self, objects: &[Value]) -> Result<Verdict, String> {
        if self.absent {
            const NAMED: usize = 3;
            let mut found = 0usize;
            let mut names = Vec::new();
            for object in objects {
                if self.expect_matches(object) && self.cel_holds(object)? {
                    found += 1;
                    if names.len() < NAMED {
                        names.push(object_id(object));
                    }
                }
            }
            if found == 0 {
                return Ok(Verdict::Passed);
            }
            let more = match found - names.len() {
                0 => String::new(),
                n => format!(" and {n} more"),
            };
            let diagnostic = Diagnostic {
                path: String::new(),
                expected: format!("no {}", self.described(false)),
                actual: format!("found {}{more}", names.join(", ")),
            };
            return Ok(self.failed(vec![diagnostic], None, objects));
        }
        if let Some(count) = &self.count {
            let mut matching = 0usize;
            for object in objects {
                if self.expect_matches(object) && self.cel_holds(object)? {
                    matching += 1;
                }
            }
            if matching::matches(count, Some(&Value::from(matching))) {
                return Ok(Verdict::Passed);
            }
            let diagnostic = Diagnostic {
                path: String::new(),
                expected: describe_count(count),
                actual: format!("{matching} matching (of {} found)", objects.len()),
            };
            return Ok(self.failed(vec![diagnostic], None, objects));
        }
        self.try_default(objects)
    }

    // The default verdict: some object matches `expect` and `cel`; otherwise the closest one's
    // diagnostics (or "not found").
    fn try_default(&self, objects: &[Value]) -> Result<Verdict, String> {
        if objects.is_empty() {
            let diagnostic = Diagnostic {
                path: String::new(),
                expected: format!("{} to exist", self.described(true)),
                actual: "not found".to_owned(),
            };
            return Ok(self.failed(vec![diagnostic], None, objects));
        }
        // One pass finds a matching object or, failing that, the closest one: each object is
        // counted only up to the best score so far, so hopeless ones are dropped early. An
        // object whose `expect` matched but whose CEL said false is one mismatch away.
        let mut best: Option<(usize, usize, bool)> = None;
        for (i, object) in objects.iter().enumerate() {
            let limit = best.map_or(usize::MAX, |(_, score, _)| score);
            let mismatches = match &self.expect {
                Some(expect) => {
                    let mut report = Report::counting(limit);
                    matching::check(expect, Some(object), &mut report);
                    report.mismatches()
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
        let object = &objects[closest];
        let diagnostics = if cel_failed {
            vec![self.cel_diagnostic()]
        } else {
            let mut report = Report::collecting();
            if let Some(expect) = &self.expect {
                matching::check(expect, Some(object), &mut report);
            }
            report.into_diagnostics()
        };
        Ok(self.failed(diagnostics, Some(object_id(object)), objects))
    }

    // The objects that match `expect` and `cel` (all of them when neither is given).
    fn matching<'v>(&self, objects: &'v [Value]) -> Result<Vec<&'v Value>, String> {
        let mut out = Vec::new();
        for object in objects {
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

    fn cel_diagnostic(&self) -> Diagnostic {
        Diagnostic {
            path: String::new(),
            expected: format!(
                "`{}` to be true",
                self.cel.as_ref().map(CelExpr::source).unwrap_or_default()
            ),
            actual: "false".to_owned(),
        }
    }

    fn failed(
        &self,
        diagnostics: Vec<Diagnostic>,
        closest: Option<String>,
        objects: &[Value],
    ) -> Verdict {
        let pending = self.pending.as_ref().is_some_and(|when| {
            objects
                .iter()
                .any(|object| matching::matches(when, Some(object)))
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

    // `ConfigMap "base-map"`, `a Pod matching "app=nginx"`, `a Pod` (`Pod ...` without the
    // article after "no").
    fn described(&self, article: bool) -> String {
        let a = if article { "a " } else { "" };
        let Some(find) = &self.find else {
            return format!("{a}object");
        };
        let kind = &find.kind;
        match (&find.name, &find.selector) {
            (Some(name), _) => format!("{kind} \"{name}\""),
            (None, Some(selector)) => format!("{a}{kind} matching \"{selector}\""),
            (None, None) => format!("{a}{kind}"),
        }
    }
}

fn compile_field(field: &str, value: &Value, problems: &mut Vec<String>) -> Node {
    let mut errors = Vec::new();
    let node = matching::compile(value, &mut Vec::new(), &mut errors);
    problems.extend(errors.into_iter().map(|e| format!("`{field}`{e}.")));
    node
}

const COUNT_OPERATORS: &[&str] = &["$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$not"];

fn compile_count(value: &Value, problems: &mut Vec<String>) -> Node {
    let before = problems.len();
    check_count(value, problems);
    if problems.len() > before {
        return Node::Null;
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

// `count >= 3`, `count = 3`.
fn describe_count(count: &Node) -> String {
    let wanted = matching::describe(count);
    if wanted.starts_with(|c: char| c.is_ascii_digit()) {
        format!("count = {wanted}")
    } else {
        format!("count {wanted}")
    }
}

/// `namespace/name` of an object (`name` for cluster-scoped objects).
pub fn object_id(object: &Value) -> String {
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("(unnamed)");
    match object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
    {
        Some(ns) => format!("{ns}/{name}"),
        None => name.to_owned(),
    }
}

#[cfg(test)]
mod tests;
