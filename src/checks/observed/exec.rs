//! `exec` checks: choosing the container a command runs in, and judging its output.

use serde_json::{Value, json};

use super::super::matching::{self, Mismatches};
use super::super::spec::CheckSpec;
use super::super::values::{self, code, text};
use super::super::verdict::{Diagnostic, Verdict};
use super::super::{Eval, object_id, terminating, words};
use super::{ExecOutcome, ExecTarget, Scope, nothing_found};
use crate::i18n::Text;

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
    Soon(Text),
    /// It will not run without the learner acting (failed).
    Never(Text),
}

pub(super) fn target(
    spec: &CheckSpec,
    check: &Eval<'_>,
    objects: &[Value],
    scope: &Scope<'_>,
) -> Result<ExecTarget, Verdict> {
    if objects.is_empty() {
        return Err(nothing_found(check, scope, objects));
    }
    let wanted = spec.exec.as_ref().and_then(|e| e.container.as_deref());
    let container_of = |pod: &Value| match wanted {
        Some(name) => Some(name.to_owned()),
        None => pod
            .pointer("/spec/containers/0/name")
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    // A Pod being deleted (the old Pod of a rollout) never runs the command.
    let deleting: Vec<&Value> = objects.iter().filter(|p| terminating(p)).collect();
    let mut first_problem: Option<(&Value, String, NotRunning)> = None;
    let mut first_soon: Option<(String, Text)> = None;
    for pod in objects.iter().filter(|p| !terminating(p)) {
        let Some(container) = container_of(pod) else {
            let problem = NotRunning::Never(text("no containers", "没有容器"));
            first_problem.get_or_insert((pod, String::new(), problem));
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
    if let Some((container, actual)) = first_soon {
        return Err(Verdict::Pending {
            diagnostics: vec![Diagnostic::whole(running(&container), actual)],
        });
    }
    if let Some((pod, container, NotRunning::Never(actual) | NotRunning::Soon(actual))) =
        first_problem
    {
        let diagnostic = Diagnostic::whole(running(&container), actual);
        return Err(check.failed(vec![diagnostic], Some(object_id(pod)), objects));
    }
    if let Some(pod) = deleting.first() {
        let container = container_of(pod).unwrap_or_default();
        return Err(Verdict::Pending {
            diagnostics: vec![Diagnostic::whole(
                running_in_a_pod_that_stays(&container),
                words::being_deleted(&deleting),
            )],
        });
    }
    Err(nothing_found(check, scope, objects))
}

// `container `busybox` running` (`a container running` when the Pod declares none).
fn running(container: &str) -> Text {
    if container.is_empty() {
        return text("a container running", "有容器正在运行");
    }
    text(
        format!("container {} running", code(container)),
        format!("容器 {} 正在运行", code(container)),
    )
}

fn running_in_a_pod_that_stays(container: &str) -> Text {
    let c = code(container);
    text(
        format!("container {c} running in a Pod that is not being deleted"),
        format!("容器 {c} 在一个未被删除的 Pod 中运行"),
    )
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
        let declared = values::json(&json!(declared));
        return Err(NotRunning::Never(text(
            format!(
                "no container {} in this Pod (it has {declared})",
                code(container)
            ),
            format!("此 Pod 中没有容器 {}（它有 {declared}）", code(container)),
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
                Some(r) if STUCK.contains(&r.as_str()) => NotRunning::Never(waiting_for(&r)),
                Some(r) => NotRunning::Soon(waiting_for(&r)),
                None => NotRunning::Soon(text("waiting", "等待中")),
            });
        }
        if let Some(terminated) = state.get("terminated").filter(|t| !t.is_null()) {
            return Err(NotRunning::Never(stopped(reason(terminated), terminated)));
        }
    }
    match phase {
        "Succeeded" | "Failed" => Err(NotRunning::Never(text(
            format!("Pod {phase}"),
            format!("Pod 已结束（{phase}）"),
        ))),
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
                Some(r) => text(
                    format!("not scheduled yet ({r})"),
                    format!("尚未调度（{r}）"),
                ),
                None => text(
                    format!("not started (Pod {phase})"),
                    format!("尚未启动（Pod {phase}）"),
                ),
            }))
        }
    }
}

// `terminated (Completed, exit code 0)`.
fn stopped(reason: Option<String>, terminated: &Value) -> Text {
    let exit = terminated.get("exitCode").and_then(Value::as_i64);
    let en: Vec<String> = reason
        .iter()
        .cloned()
        .chain(exit.map(|c| format!("exit code {c}")))
        .collect();
    let zh: Vec<String> = reason
        .into_iter()
        .chain(exit.map(|c| format!("退出码 {c}")))
        .collect();
    if en.is_empty() {
        text("terminated", "已终止")
    } else {
        text(
            format!("terminated ({})", en.join(", ")),
            format!("已终止（{}）", zh.join("，")),
        )
    }
}

// `waiting (ContainerCreating)`.
fn waiting_for(reason: &str) -> Text {
    text(format!("waiting ({reason})"), format!("等待中（{reason}）"))
}

pub(super) fn evaluate(
    spec: &CheckSpec,
    check: &Eval<'_>,
    objects: &[Value],
    scope: &Scope<'_>,
    outcome: Option<&ExecOutcome>,
) -> Verdict {
    let target = match target(spec, check, objects, scope) {
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
    let mut report = Mismatches::collecting().for_reader(check.values());
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
