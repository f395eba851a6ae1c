//! Validation of a check's target and of its observing parts (exec, events, questions,
//! capabilities, since): every misuse, each a sentence for `kubelab validate`.

use serde_json::Value;

use super::super::matching;
use super::super::path;
use super::super::spec::{AnswerSpec, CheckSpec};
use super::{access, token};

// What `/version` holds; `major`, `minor`, `gitVersion` and `platform` are the useful ones.
const VERSION_KEYS: &[&str] = &[
    "major",
    "minor",
    "gitVersion",
    "platform",
    "gitCommit",
    "gitTreeState",
    "buildDate",
    "goVersion",
    "compiler",
    "emulationMajor",
    "emulationMinor",
    "minCompatibilityMajor",
    "minCompatibilityMinor",
];

const EXEC_OUTPUT_KEYS: &[&str] = &["stdout", "stderr", "exitCode"];

/// Problems with the check's target (`find`, `served`, `serverVersion`) and its observing
/// parts. Empty when fine; `find`'s own fields and the expectations on objects are checked by
/// [`crate::checks::validate`].
pub fn validate_observed(spec: &CheckSpec) -> Vec<String> {
    let mut problems = Vec::new();
    targets(spec, &mut problems);
    exec(spec, &mut problems);
    events(spec, &mut problems);
    question(spec, &mut problems);
    capability(spec, &mut problems);
    access_check(spec, &mut problems);
    if spec.since.is_some() && spec.find.is_none() && !capability_target(spec) {
        problems.push(
            "`since: step` needs `find`: it keeps only the objects created after the learner started the step.".to_owned(),
        );
    }
    problems
}

// Targets that look at the cluster itself, not objects: their own rules say what combines.
fn capability_target(spec: &CheckSpec) -> bool {
    spec.served.is_some() || spec.server_version.is_some() || spec.access.is_some()
}

fn targets(spec: &CheckSpec, problems: &mut Vec<String>) {
    let targets = [
        spec.find.is_some(),
        spec.served.is_some(),
        spec.server_version.is_some(),
        spec.access.is_some(),
    ]
    .iter()
    .filter(|t| **t)
    .count();
    let answer_without_find = spec.answer.as_ref().is_some_and(|a| {
        a.server_version.is_some()
            || a.api_group_of.is_some()
            || a.access.is_some()
            || a.token.is_some()
    });
    if targets == 0 && !answer_without_find && spec.answer.is_none() {
        problems.push(
            "The check has no target: give it `find` (objects), `served` (an API), `serverVersion` or `access`.".to_owned(),
        );
    }
    if targets > 1 {
        problems.push(
            "The check has more than one target: use only one of `find`, `served`, `serverVersion` and `access`.".to_owned(),
        );
    }
    let kinds: Vec<&str> = [
        (spec.exec.is_some(), "`exec`"),
        (spec.events.is_some(), "`events`"),
        (
            spec.question.is_some() || spec.answer.is_some(),
            "`question`",
        ),
    ]
    .iter()
    .filter(|(set, _)| *set)
    .map(|(_, name)| *name)
    .collect();
    if kinds.len() > 1 {
        problems.push(format!(
            "A check can do only one of `exec`, `events` and `question`, but this one has {}; split it into separate checks.",
            kinds.join(" and ")
        ));
    }
    // Without `find` (a question answered from discovery) the object parts have nothing to
    // apply to; with `served`/`serverVersion` the capability messages say it.
    if targets == 0 && answer_without_find {
        for (set, field) in [
            (spec.expect.is_some(), "expect"),
            (spec.cel.is_some(), "cel"),
            (spec.count.is_some(), "count"),
            (spec.absent, "absent"),
            (spec.pending.is_some(), "pending"),
        ] {
            if set {
                problems.push(format!(
                    "`{field}` needs `find`: it applies to the objects `find` returns."
                ));
            }
        }
    }
}

fn exec(spec: &CheckSpec, problems: &mut Vec<String>) {
    let Some(exec) = &spec.exec else {
        return;
    };
    match &spec.find {
        None if capability_target(spec) => {}
        None => problems.push(
            "`exec` needs `find` naming the Pod(s) to run the command in (`apiVersion: v1`, `kind: Pod`, a `name` or a `selector`).".to_owned(),
        ),
        Some(find) if find.kind != "Pod" || find.api_version != "v1" => problems.push(format!(
            "`exec` runs a command in a Pod, but `find` looks for `{}` (`{}`); use `apiVersion: v1` and `kind: Pod`.",
            find.kind, find.api_version
        )),
        Some(_) => {}
    }
    if exec
        .command
        .first()
        .is_none_or(|program| program.trim().is_empty())
    {
        problems.push(
            "`exec.command` has no program; write it as a list, e.g. [\"printenv\", \"FLY_NAME\"] (or [\"sh\", \"-c\", \"...\"] for a shell).".to_owned(),
        );
    }
    match exec.timeout_seconds {
        Some(0) => problems.push(
            "`exec.timeoutSeconds` is 0; give at least 1 second (the default is 5).".to_owned(),
        ),
        Some(n) if n > 30 => problems.push(format!(
            "`exec.timeoutSeconds` is {n}; it can be at most 30 (the default is 5)."
        )),
        _ => {}
    }
    if exec
        .container
        .as_deref()
        .is_some_and(|c| c.trim().is_empty())
    {
        problems.push(
            "`exec.container` is empty; leave it out to use the Pod's first container.".to_owned(),
        );
    }
    if spec.absent {
        problems.push(
            "`absent: true` cannot be combined with `exec`: the command needs a Pod to run in. Check that a Pod is gone in a separate check without `exec`.".to_owned(),
        );
    }
    if spec.count.is_some() {
        problems.push(
            "`count` cannot be combined with `exec`: the command runs in one Pod.".to_owned(),
        );
    }
    if spec.cel.is_some() {
        problems.push(
            "`cel` cannot be combined with `exec`: `expect` is matched against the command's `stdout`, `stderr` and `exitCode`. Check the Pod itself in a separate check.".to_owned(),
        );
    }
    if let Some(Value::Object(expect)) = &spec.expect {
        for key in expect
            .keys()
            .filter(|k| !EXEC_OUTPUT_KEYS.contains(&k.as_str()))
        {
            problems.push(format!(
                "`expect` of an `exec` check is matched against `stdout`, `stderr` and `exitCode`, not `{key}`; check the Pod itself in a separate check."
            ));
        }
    }
}

fn events(spec: &CheckSpec, problems: &mut Vec<String>) {
    let Some(events) = &spec.events else {
        return;
    };
    if spec.find.is_none() && !capability_target(spec) {
        problems.push(
            "`events` needs `find`: the Events checked are those about the objects `find` returns."
                .to_owned(),
        );
    }
    if !is_map_expectation(events) {
        problems.push(format!(
            "`events` must be a map matched against each Event, such as {{reason: FailedScheduling}}, not {}.",
            path::show(events)
        ));
        return;
    }
    compile_errors("events", events, problems);
}

fn question(spec: &CheckSpec, problems: &mut Vec<String>) {
    if spec.normalize.is_some() && spec.question.is_none() {
        problems.push(
            "`normalize` only applies to a `question`; remove it or add the question.".to_owned(),
        );
    }
    match (&spec.question, &spec.answer) {
        (None, None) => return,
        (Some(_), None) => {
            problems.push(
                "`question` needs `answer`: where kubelab reads the right answer (`field`, `count: true`, `serverVersion: true`, `apiGroupOf`, `access` or `token`).".to_owned(),
            );
            return;
        }
        (None, Some(_)) => problems.push(
            "`answer` needs `question`: the question the learner answers, in English and Chinese."
                .to_owned(),
        ),
        (Some(_), Some(_)) => {}
    }
    let Some(answer) = &spec.answer else {
        return;
    };
    answer_source(answer, problems);
    if let Some(field) = &answer.field {
        if let Err(e) = path::parse_field(field) {
            problems.push(format!(
                "`answer.field` \"{field}\" is not a path: {e}. Write it like `status.nodeInfo.kubeletVersion` or `metadata.labels[\"kubernetes.io/hostname\"]`."
            ));
        }
        if spec.find.is_none() {
            problems
                .push("`answer.field` reads the objects `find` returns; add `find`.".to_owned());
        }
    }
    if answer.count.is_some() && spec.find.is_none() {
        problems.push("`answer.count` counts the objects `find` returns; add `find`.".to_owned());
    }
    for (set, name) in [
        (answer.server_version.is_some(), "serverVersion"),
        (answer.api_group_of.is_some(), "apiGroupOf"),
        (answer.access.is_some(), "access"),
        (answer.token.is_some(), "token"),
    ] {
        if set && spec.find.is_some() {
            problems.push(format!(
                "`answer.{name}` does not read objects; remove `find`."
            ));
        }
    }
    if answer
        .api_group_of
        .as_deref()
        .is_some_and(|k| k.trim().is_empty())
    {
        problems.push(
            "`answer.apiGroupOf` is empty; write a kind, e.g. `HorizontalPodAutoscaler`."
                .to_owned(),
        );
    }
    if let Some(question) = &answer.access {
        problems.extend(access::problems(question, "answer.access"));
        if question.allowed.is_some() {
            problems.push(
                "`answer.access.allowed` does not apply: the right answer is `yes` or `no`, whichever the cluster says.".to_owned(),
            );
        }
    }
    if let Some(wanted) = &answer.token {
        problems.extend(token::problems(wanted));
        if spec.normalize.is_some() {
            problems.push(
                "`normalize` does not apply to `answer.token`: the pasted token is verified by the cluster, not compared as text.".to_owned(),
            );
        }
    }
    if spec.absent {
        problems.push("`absent: true` cannot be combined with `question`.".to_owned());
    }
    if spec.count.is_some() {
        problems.push(
            "`count` cannot be combined with `question`; to ask how many objects there are, write `answer: {count: true}`.".to_owned(),
        );
    }
    if spec.served.is_some() || spec.server_version.is_some() {
        problems.push(
            "`question` cannot be combined with `served` or `serverVersion`; to ask for the server's version, write `answer: {serverVersion: true}`.".to_owned(),
        );
    }
}

// `answer` names exactly one place the right answer is read from.
fn answer_source(answer: &AnswerSpec, problems: &mut Vec<String>) {
    let sources: Vec<&str> = [
        (answer.field.is_some(), "`field`"),
        (answer.count.is_some(), "`count`"),
        (answer.server_version.is_some(), "`serverVersion`"),
        (answer.api_group_of.is_some(), "`apiGroupOf`"),
        (answer.access.is_some(), "`access`"),
        (answer.token.is_some(), "`token`"),
    ]
    .iter()
    .filter(|(set, _)| *set)
    .map(|(_, name)| *name)
    .collect();
    match sources.len() {
        0 => problems.push(
            "`answer` has no source; give exactly one of `field`, `count: true`, `serverVersion: true`, `apiGroupOf`, `access` and `token`.".to_owned(),
        ),
        1 => {}
        _ => problems.push(format!(
            "`answer` has several sources ({}); give exactly one.",
            sources.join(", ")
        )),
    }
    for (value, name) in [
        (answer.count, "count"),
        (answer.server_version, "serverVersion"),
    ] {
        if value == Some(false) {
            problems.push(format!(
                "`answer.{name}: false` is no source; write `{name}: true` or leave it out."
            ));
        }
    }
}

fn capability(spec: &CheckSpec, problems: &mut Vec<String>) {
    let target = if let Some(served) = &spec.served {
        if served.api_version.trim().is_empty() {
            problems.push(
                "`served.apiVersion` is empty; write e.g. `metrics.k8s.io/v1beta1`.".to_owned(),
            );
        }
        if served.kind.trim().is_empty() {
            problems.push("`served.kind` is empty; write e.g. `PodMetrics`.".to_owned());
        }
        "served"
    } else if let Some(version) = &spec.server_version {
        server_version(version, problems);
        if spec.absent {
            problems.push(
                "`absent: true` cannot be combined with `serverVersion`; write the opposite expectation with `$not`.".to_owned(),
            );
        }
        "serverVersion"
    } else {
        return;
    };
    for (set, field) in [
        (spec.expect.is_some(), "expect"),
        (spec.cel.is_some(), "cel"),
        (spec.count.is_some(), "count"),
        (spec.pending.is_some(), "pending"),
        (spec.since.is_some(), "since"),
        (spec.events.is_some(), "events"),
        (spec.exec.is_some(), "exec"),
    ] {
        if set {
            problems.push(format!(
                "`{field}` cannot be combined with `{target}`: it applies to objects, and this check looks at the cluster itself."
            ));
        }
    }
}

// An access check asks the cluster about a subject, not about objects: only its own words
// (`describe`) go with it.
fn access_check(spec: &CheckSpec, problems: &mut Vec<String>) {
    let Some(question) = &spec.access else {
        return;
    };
    problems.extend(access::problems(question, "access"));
    for (set, field) in [
        (spec.expect.is_some(), "expect"),
        (spec.cel.is_some(), "cel"),
        (spec.count.is_some(), "count"),
        (spec.absent, "absent"),
        (spec.pending.is_some(), "pending"),
        (spec.since.is_some(), "since"),
        (spec.events.is_some(), "events"),
        (spec.exec.is_some(), "exec"),
        (spec.question.is_some() || spec.answer.is_some(), "question"),
    ] {
        if set {
            let instead = match field {
                "absent" => {
                    " (to check that the subject may not do it, write `allowed: false` in `access`)"
                }
                "question" => {
                    " (to ask the learner, write `answer: {access: …}` without `access` on the check)"
                }
                _ => "",
            };
            problems.push(format!(
                "`{field}` cannot be combined with `access`: it asks the cluster whether a subject may do something, and looks at no objects{instead}."
            ));
        }
    }
}

fn server_version(version: &Value, problems: &mut Vec<String>) {
    if !is_map_expectation(version) {
        problems.push(format!(
            "`serverVersion` must be a map over `major`, `minor`, `gitVersion` and `platform`, such as {{minor: {{$gte: 25}}}}, not {}.",
            path::show(version)
        ));
        return;
    }
    if let Value::Object(map) = version {
        for key in map.keys().filter(|k| !VERSION_KEYS.contains(&k.as_str())) {
            problems.push(format!(
                "`serverVersion` has `{key}`, which the server's version does not; use `major`, `minor`, `gitVersion` or `platform`."
            ));
        }
    }
    compile_errors("serverVersion", version, problems);
}

// A partial map with plain keys (an operator map at the top would not say which field); the
// author's words (`$describe`) may stand next to them.
fn is_map_expectation(value: &Value) -> bool {
    value.as_object().is_some_and(|map| {
        !map.keys()
            .any(|k| k.starts_with('$') && k != matching::DESCRIBE)
    })
}

fn compile_errors(field: &str, value: &Value, problems: &mut Vec<String>) {
    let mut errors = Vec::new();
    matching::compile(value, &mut Vec::new(), &mut errors);
    problems.extend(errors.into_iter().map(|e| format!("`{field}`{e}.")));
}
