//! `events` checks: core/v1 Events about the found objects, matched against an expectation.
//! A failure shows the events that were seen, reason and message.

use serde_json::Value;

use super::super::matching::{self, Expectation, describe};
use super::super::spec::CheckSpec;
use super::super::values::{Shown, code, text};
use super::super::verdict::{Diagnostic, Verdict};
use super::super::{Eval, words};
use super::{Scope, nothing_found};

// Enough events to recognise what happened without flooding the learner; the rest unfold.
const MAX_SHOWN: usize = 5;

// Characters of one event's message shown inline.
const MAX_MESSAGE_CHARS: usize = 100;

const EVENT: (&str, &str) = ("event", "事件");

pub(super) fn evaluate(
    spec: &CheckSpec,
    check: &Eval<'_>,
    node: &Expectation,
    objects: &[Value],
    scope: &Scope<'_>,
    events: &[Value],
) -> Verdict {
    if objects.is_empty() {
        return if spec.absent {
            Verdict::Passed
        } else {
            nothing_found(check, scope, objects)
        };
    }
    let candidates = match check.matching(objects) {
        Ok(candidates) => candidates,
        Err(message) => return Verdict::Error { message },
    };
    if candidates.is_empty() {
        return no_candidates(spec, check, objects, scope);
    }
    let about: Vec<&Value> = events
        .iter()
        .filter(|event| candidates.iter().any(|object| is_about(event, object)))
        .collect();
    let matching: Vec<&Value> = about
        .iter()
        .copied()
        .filter(|event| check.holds(node, Some(event)))
        .collect();
    let words = |generated: fn(&Expectation) -> crate::i18n::Text| {
        check.describe.clone().unwrap_or_else(|| generated(node))
    };
    let failure = if let Some(count) = &check.count {
        if matching::matches(count, Some(&Value::from(matching.len()))) {
            return Verdict::Passed;
        }
        let expected = check
            .describe
            .clone()
            .unwrap_or_else(|| describe::count_of(node, EVENT, &describe::count(count)));
        let (n, of) = (matching.len(), about.len());
        Diagnostic::new(
            "events",
            expected,
            text(
                format!("{n} matching (of {of} events)"),
                format!("{n} 条匹配（共 {of} 条事件）"),
            ),
        )
    } else if spec.absent {
        if matching.is_empty() {
            return Verdict::Passed;
        }
        seen_diagnostic(words(|n| describe::no_thing(n, EVENT)), &matching)
    } else {
        if !matching.is_empty() {
            return Verdict::Passed;
        }
        seen_diagnostic(words(|n| describe::thing(n, EVENT)), &about)
    };
    check.failed(vec![failure], None, objects)
}

// No found object qualifies: with `absent` that passes (or waits for objects being deleted);
// otherwise the usual diagnostics of the closest object.
fn no_candidates(
    spec: &CheckSpec,
    check: &Eval<'_>,
    objects: &[Value],
    scope: &Scope<'_>,
) -> Verdict {
    if spec.absent {
        return match check.deleting(objects) {
            Ok(going) if going.is_empty() => Verdict::Passed,
            Ok(going) => Verdict::Pending {
                diagnostics: vec![Diagnostic::whole(
                    words::none_of(check.find.as_ref()),
                    words::being_deleted(&going),
                )],
            },
            Err(message) => Verdict::Error { message },
        };
    }
    check
        .try_default(objects, scope.namespace)
        .unwrap_or_else(|message| Verdict::Error { message })
}

fn seen_diagnostic(expected: crate::i18n::Text, events: &[&Value]) -> Diagnostic {
    let shown = seen(events);
    Diagnostic {
        path: "events".to_owned(),
        expected,
        actual: shown.text,
        actual_full: shown.full,
    }
}

// The events seen, each once, in the order first seen: `` `Scheduled`: Successfully assigned
// fly-k8s/picky to colima; `Pulled`: … `` (`no events`). All of them unfold when some are cut.
fn seen(events: &[&Value]) -> Shown {
    if events.is_empty() {
        return Shown::whole(text("no events", "没有事件"));
    }
    let mut distinct: Vec<(&str, &str)> = Vec::new();
    for event in events {
        let field = |key: &str| event.get(key).and_then(Value::as_str).unwrap_or_default();
        let entry = (field("reason"), field("message"));
        if !distinct.contains(&entry) {
            distinct.push(entry);
        }
    }
    let mut cut = distinct.len() > MAX_SHOWN;
    let line = |(reason, message): &(&str, &str), cut: &mut bool| {
        let reason = if reason.is_empty() {
            "(no reason)"
        } else {
            reason
        };
        let mut message = message.trim().to_owned();
        if let Some((at, _)) = message.char_indices().nth(MAX_MESSAGE_CHARS) {
            message.truncate(at);
            message.push('…');
            *cut = true;
        }
        if message.is_empty() {
            code(reason)
        } else {
            format!("{}: {message}", code(reason))
        }
    };
    let shown: Vec<String> = distinct
        .iter()
        .take(MAX_SHOWN)
        .map(|entry| line(entry, &mut cut))
        .collect();
    let more = distinct.len().saturating_sub(MAX_SHOWN);
    let (en_more, zh_more) = if more > 0 {
        (format!("; and {more} more"), format!("；另有 {more} 条"))
    } else {
        (String::new(), String::new())
    };
    let full = cut.then(|| {
        distinct
            .iter()
            .map(|(reason, message)| format!("{reason}: {message}"))
            .collect::<Vec<_>>()
            .join("\n")
    });
    Shown {
        text: text(
            format!("{}{en_more}", shown.join("; ")),
            format!("{}{zh_more}", shown.join("；")),
        ),
        full,
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
