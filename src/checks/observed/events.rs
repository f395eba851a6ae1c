//! `events` checks: core/v1 Events about the found objects, matched against an expectation.

use serde_json::Value;

use super::super::matching::{self, Node};
use super::super::path;
use super::super::spec::CheckSpec;
use super::super::verdict::{Diagnostic, Verdict};
use super::super::{CompiledCheck, describe_count};
use super::{SinceStep, nothing_found};

// Enough reasons to recognise what happened without flooding the learner.
const MAX_REASONS: usize = 8;

pub(super) fn evaluate(
    spec: &CheckSpec,
    check: &CompiledCheck,
    expected: &Value,
    objects: &[Value],
    since: &SinceStep,
    events: &[Value],
) -> Verdict {
    if objects.is_empty() {
        return if spec.absent {
            Verdict::Passed
        } else {
            nothing_found(check, since, objects)
        };
    }
    let candidates = match check.matching(objects) {
        Ok(candidates) => candidates,
        Err(message) => return Verdict::Error { message },
    };
    if candidates.is_empty() {
        if spec.absent {
            return Verdict::Passed;
        }
        return match check.try_default(objects) {
            Ok(verdict) => verdict,
            Err(message) => Verdict::Error { message },
        };
    }
    let node = matching::compile(expected, &mut Vec::new(), &mut Vec::new());
    let about: Vec<&Value> = events
        .iter()
        .filter(|event| candidates.iter().any(|object| is_about(event, object)))
        .collect();
    let matching: Vec<&Value> = about
        .iter()
        .copied()
        .filter(|event| matching::matches(&node, Some(event)))
        .collect();
    let diagnostic = |expected: String, actual: String| Diagnostic {
        path: "events".to_owned(),
        expected,
        actual,
    };
    let failure = if let Some(count) = &check.count {
        if matching::matches(count, Some(&Value::from(matching.len()))) {
            return Verdict::Passed;
        }
        let what = match wanted(&node).strip_prefix("an event matching ") {
            Some(rest) => format!(" (events matching {rest})"),
            None => String::new(),
        };
        diagnostic(
            format!("{}{what}", describe_count(count)),
            format!("{} matching (of {} events)", matching.len(), about.len()),
        )
    } else if spec.absent {
        if matching.is_empty() {
            return Verdict::Passed;
        }
        diagnostic(
            format!("no event matching {}", path::show(expected)),
            reasons(&matching),
        )
    } else {
        if !matching.is_empty() {
            return Verdict::Passed;
        }
        diagnostic(wanted(&node), reasons(&about))
    };
    check.failed(vec![failure], None, objects)
}

fn wanted(node: &Node) -> String {
    match node {
        Node::Map(entries) if entries.is_empty() => "an event".to_owned(),
        _ => format!("an event matching {}", path::show(&node.to_json())),
    }
}

// `no events`, or `events with reasons ["Scheduled", "Pulled"]` (each reason once, in the order
// first seen).
fn reasons(events: &[&Value]) -> String {
    if events.is_empty() {
        return "no events".to_owned();
    }
    let mut seen: Vec<&str> = Vec::new();
    for event in events {
        let reason = event
            .get("reason")
            .and_then(Value::as_str)
            .unwrap_or("(no reason)");
        if !seen.contains(&reason) {
            seen.push(reason);
        }
    }
    let more = seen.len().saturating_sub(MAX_REASONS);
    let shown: Vec<String> = seen
        .iter()
        .take(MAX_REASONS)
        .map(|r| path::show(&Value::String((*r).to_owned())))
        .collect();
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    match shown.as_slice() {
        [one] => format!("events with reason {one}"),
        _ => format!("events with reasons [{}]{tail}", shown.join(", ")),
    }
}

/// Whether `event`'s `involvedObject` is `object`: same kind and name, the same namespace when
/// the Event says one, and the same uid when both have one (a re-created object with the same
/// name is another object).
fn is_about(event: &Value, object: &Value) -> bool {
    let involved = |key: &str| {
        event
            .pointer(&format!("/involvedObject/{key}"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let own = |pointer: &str| object.pointer(pointer).and_then(Value::as_str);
    let same = |key: &str, pointer: &str| match (involved(key), own(pointer)) {
        (Some(theirs), Some(ours)) => theirs == ours,
        _ => true,
    };
    involved("kind").is_some_and(|k| Some(k) == own("/kind"))
        && involved("name").is_some_and(|n| Some(n) == own("/metadata/name"))
        && same("namespace", "/metadata/namespace")
        && same("uid", "/metadata/uid")
}
