//! `exec` checks: choosing the container a command runs in, and judging its output.

use serde_json::{Value, json};

use super::super::matching::{self, Report};
use super::super::spec::CheckSpec;
use super::super::verdict::{Diagnostic, Verdict};
use super::super::{CompiledCheck, object_id};
use super::{ExecOutcome, ExecTarget, SinceStep, nothing_found};

// Waiting reasons that do not resolve by waiting: the learner has to act, so they fail.
const STUCK: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
    "CrashLoopBackOff",
];

/// Why a Pod's container cannot run a command now.
enum NotRunning {
    /// It will probably run soon (pending).
    Soon(String),
    /// It will not run without the learner acting (failed).
    Never(String),
}

pub(super) fn target(
    spec: &CheckSpec,
    check: &CompiledCheck,
    objects: &[Value],
    since: &SinceStep,
) -> Result<ExecTarget, Verdict> {
    if objects.is_empty() {
        return Err(nothing_found(check, since, objects));
    }
    let wanted = spec.exec.as_ref().and_then(|e| e.container.as_deref());
    // A Pod being deleted (the old Pod of a rollout) is only used when nothing else runs.
    let deleting = |pod: &Value| {
        pod.pointer("/metadata/deletionTimestamp")
            .is_some_and(|t| !t.is_null())
    };
    let mut first_problem: Option<(&Value, String, NotRunning)> = None;
    let mut first_soon: Option<(String, String)> = None;
    for pass_deleting in [false, true] {
        for pod in objects.iter().filter(|p| deleting(p) == pass_deleting) {
            let container = match wanted {
                Some(name) => Some(name.to_owned()),
                None => pod
                    .pointer("/spec/containers/0/name")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
            };
            let Some(container) = container else {
                let problem = NotRunning::Never("no containers".to_owned());
                first_problem.get_or_insert((pod, "a container".to_owned(), problem));
                continue;
            };
            match state(pod, &container) {
                Ok(()) => {
                    return Ok(ExecTarget {
                        namespace: pod
                            .pointer("/metadata/namespace")
                            .and_then(Value::as_str)
                            .map(str::to_owned),
                        pod: pod
                            .pointer("/metadata/name")
                            .and_then(Value::as_str)
                            .unwrap_or_default()
                            .to_owned(),
                        container,
                    });
                }
                Err(problem) => {
                    if let NotRunning::Soon(actual) = &problem {
                        first_soon.get_or_insert((container.clone(), actual.clone()));
                    }
                    first_problem.get_or_insert((pod, container, problem));
                }
            }
        }
    }
    let running = |container: &str| format!("container {container} running");
    if let Some((container, actual)) = first_soon {
        return Err(Verdict::Pending {
            diagnostics: vec![Diagnostic {
                path: String::new(),
                expected: running(&container),
                actual,
            }],
        });
    }
    let Some((pod, container, NotRunning::Never(actual) | NotRunning::Soon(actual))) =
        first_problem
    else {
        return Err(nothing_found(check, since, objects));
    };
    let diagnostic = Diagnostic {
        path: String::new(),
        expected: running(&container),
        actual,
    };
    Err(check.failed(vec![diagnostic], Some(object_id(pod)), objects))
}

// Whether `container` of `pod` runs, read from `status.containerStatuses[name=container].state`.
fn state(pod: &Value, container: &str) -> Result<(), NotRunning> {
    let declared: Vec<&str> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map(|cs| {
            cs.iter()
                .filter_map(|c| c.get("name").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if !declared.is_empty() && !declared.contains(&container) {
        return Err(NotRunning::Never(format!(
            "no container {container} in this Pod (it has {})",
            super::super::path::show(&json!(declared))
        )));
    }
    let phase = pod
        .pointer("/status/phase")
        .and_then(Value::as_str)
        .unwrap_or("Pending");
    let status = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .and_then(|cs| {
            cs.iter()
                .find(|c| c.get("name").and_then(Value::as_str) == Some(container))
        });
    let reason = |state: &Value| {
        state
            .get("reason")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    if let Some(state) = status.and_then(|s| s.get("state")) {
        if state.get("running").is_some_and(|r| !r.is_null()) {
            return Ok(());
        }
        if let Some(waiting) = state.get("waiting").filter(|w| !w.is_null()) {
            return Err(match reason(waiting) {
                Some(r) if STUCK.contains(&r.as_str()) => {
                    NotRunning::Never(format!("waiting ({r})"))
                }
                Some(r) => NotRunning::Soon(format!("waiting ({r})")),
                None => NotRunning::Soon("waiting".to_owned()),
            });
        }
        if let Some(terminated) = state.get("terminated").filter(|t| !t.is_null()) {
            let code = terminated.get("exitCode").and_then(Value::as_i64);
            let mut parts: Vec<String> = reason(terminated).into_iter().collect();
            parts.extend(code.map(|c| format!("exit code {c}")));
            return Err(NotRunning::Never(if parts.is_empty() {
                "terminated".to_owned()
            } else {
                format!("terminated ({})", parts.join(", "))
            }));
        }
    }
    match phase {
        "Succeeded" | "Failed" => Err(NotRunning::Never(format!("Pod {phase}"))),
        _ => {
            let unschedulable = pod
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|cs| {
                    cs.iter().find(|c| {
                        c.get("type").and_then(Value::as_str) == Some("PodScheduled")
                            && c.get("status").and_then(Value::as_str) == Some("False")
                    })
                })
                .and_then(|c| c.get("reason").and_then(Value::as_str));
            Err(NotRunning::Soon(match unschedulable {
                Some(r) => format!("not scheduled yet ({r})"),
                None => format!("not started (Pod {phase})"),
            }))
        }
    }
}

pub(super) fn evaluate(
    spec: &CheckSpec,
    check: &CompiledCheck,
    objects: &[Value],
    since: &SinceStep,
    outcome: Option<&ExecOutcome>,
) -> Verdict {
    let target = match target(spec, check, objects, since) {
        Ok(target) => target,
        Err(verdict) => return verdict,
    };
    let place = match &target.namespace {
        Some(ns) => format!("container {} of Pod {ns}/{}", target.container, target.pod),
        None => format!("container {} of Pod {}", target.container, target.pod),
    };
    let (stdout, stderr, exit_code) = match outcome {
        None => {
            return Verdict::Error {
                message: format!("the command was not run in {place}"),
            };
        }
        Some(ExecOutcome::TimedOut { seconds }) => {
            return Verdict::Error {
                message: format!("the command did not finish within {seconds} s"),
            };
        }
        Some(ExecOutcome::Failed { message }) => {
            return Verdict::Error {
                message: format!("the command could not be run in {place}: {message}"),
            };
        }
        Some(ExecOutcome::Finished {
            stdout,
            stderr,
            exit_code,
        }) => (stdout, stderr, exit_code),
    };
    let output = json!({"stdout": stdout, "stderr": stderr, "exitCode": exit_code});
    let default;
    let expect = match &check.expect {
        Some(expect) => expect,
        None => {
            default = matching::compile(&json!({"exitCode": 0}), &mut Vec::new(), &mut Vec::new());
            &default
        }
    };
    let mut report = Report::collecting();
    matching::check(expect, Some(&output), &mut report);
    let diagnostics = report.into_diagnostics();
    if diagnostics.is_empty() {
        return Verdict::Passed;
    }
    let pod = match &target.namespace {
        Some(ns) => format!("{ns}/{}", target.pod),
        None => target.pod.clone(),
    };
    check.failed(diagnostics, Some(pod), objects)
}
