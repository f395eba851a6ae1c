//! Behaviour of the observing check kinds (exec, events, questions, capabilities, since) as a lab author and a learner see them: verdicts, exact
//! diagnostics and validation messages.

use serde_json::{Value, json};

use super::super::tests::{english, evaluate};
use super::super::{CheckSpec, Diagnostic, Normalize, Verdict, validate};
use super::*;
use crate::i18n::Text;

/// [`super::evaluate_observed`], as the English page shows it.
fn evaluate_observed(spec: &CheckSpec, observed: &Observed<'_>) -> Verdict {
    english(super::evaluate_observed(spec, observed))
}

/// [`super::exec_target`] without a known namespace, as the English page shows it.
fn exec_target(
    spec: &CheckSpec,
    objects: &[Value],
    step_started: Option<&str>,
) -> Result<ExecTarget, Verdict> {
    target_in(spec, objects, step_started, None).map_err(english)
}

/// [`super::exec_target`] of `spec` compiled, with the namespace searched.
fn target_in(
    spec: &CheckSpec,
    objects: &[Value],
    step_started: Option<&str>,
    namespace: Option<&str>,
) -> Result<ExecTarget, Verdict> {
    match CompiledCheck::compile(spec) {
        Ok(check) => super::exec_target(&check, objects, step_started, namespace, None),
        Err(problems) => Err(super::super::written_wrongly(spec, &problems)),
    }
}

/// A check from the YAML a lab author writes (id, title and reason added).
fn spec(body: &str) -> CheckSpec {
    let yaml = format!("id: a-check\ntitle: {{en: t, zh: t}}\nreason: {{en: r, zh: r}}\n{body}");
    serde_saphyr::from_str(&yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

fn d(path: &str, expected: &str, actual: &str) -> Diagnostic {
    Diagnostic::new(path, Text::same(expected), Text::same(actual))
}

fn failed(diagnostics: Vec<Diagnostic>, closest: Option<&str>) -> Verdict {
    Verdict::Failed {
        diagnostics,
        closest: closest.map(str::to_owned),
    }
}

fn pending(diagnostics: Vec<Diagnostic>) -> Verdict {
    Verdict::Pending { diagnostics }
}

fn error(message: &str) -> Verdict {
    Verdict::Error {
        message: message.to_owned(),
    }
}

fn with_objects(objects: &[Value]) -> Observed<'_> {
    Observed {
        objects,
        ..Observed::default()
    }
}

/// A Pod with containers `busybox` and `sidecar`; `state` is busybox's container state
/// (`None`: no container statuses yet).
fn pod(name: &str, phase: &str, state: Option<Value>) -> Value {
    let mut pod = json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": "fly-k8s",
            "uid": format!("uid-{name}"),
            "labels": {"app": "demo"},
            "creationTimestamp": "2024-05-01T09:00:00Z"
        },
        "spec": {"containers": [
            {"name": "busybox", "image": "busybox:1.36"},
            {"name": "sidecar", "image": "nginx:1.25"}
        ]},
        "status": {"phase": phase}
    });
    if let Some(state) = state {
        pod["status"]["containerStatuses"] = json!([
            {"name": "busybox", "ready": false, "state": state},
            {"name": "sidecar", "ready": true, "state": {"running": {"startedAt": "2024-05-01T09:00:05Z"}}}
        ]);
    }
    pod
}

fn running(name: &str) -> Value {
    pod(
        name,
        "Running",
        Some(json!({"running": {"startedAt": "2024-05-01T09:00:05Z"}})),
    )
}

fn created(mut object: Value, at: &str) -> Value {
    object["metadata"]["creationTimestamp"] = json!(at);
    object
}

fn node(kubelet: &str, runtime: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "colima", "uid": "uid-node", "labels": {"kubernetes.io/hostname": "colima"}},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "nodeInfo": {"kubeletVersion": kubelet, "containerRuntimeVersion": runtime, "osImage": "Ubuntu 24.04 LTS"}
        }
    })
}

fn event(about: &str, uid: Option<&str>, reason: &str, message: &str) -> Value {
    let mut involved = json!({"kind": "Pod", "name": about, "namespace": "fly-k8s"});
    if let Some(uid) = uid {
        involved["uid"] = json!(uid);
    }
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": format!("{about}.17a"), "namespace": "fly-k8s"},
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "type": if reason.starts_with("Failed") { "Warning" } else { "Normal" }
    })
}

fn k3s_version() -> Value {
    json!({
        "major": "1",
        "minor": "28+",
        "gitVersion": "v1.28.7+k3s1",
        "gitCommit": "051b14b248655896fdfd7ba6c93db6182cde7431",
        "platform": "linux/arm64"
    })
}

// ------------------------------------------------- checks that only match objects are unchanged

#[test]
fn v1_checks_behave_exactly_as_evaluate() {
    let web = running("web-1");
    let other = pod("web-2", "Pending", None);
    let specs = [
        spec("find: {apiVersion: v1, kind: Pod, name: web-1}\nexpect: {status: {phase: Running}}"),
        spec(
            "find: {apiVersion: v1, kind: Pod, selector: app=demo}\nexpect: {status: {phase: Failed}}",
        ),
        spec("find: {apiVersion: v1, kind: Pod, name: web-1}\nabsent: true"),
        spec("find: {apiVersion: v1, kind: Pod, selector: app=demo}\ncount: {$gte: 3}"),
        spec(
            "find: {apiVersion: v1, kind: Pod, selector: app=demo}\nexpect: {status: {phase: Running}}\npending: {when: {status: {phase: Pending}}, reason: {en: w, zh: w}}",
        ),
        spec("find: {apiVersion: v1, kind: Pod, name: web-1}\ncel: \"object.status.podIP == '1'\""),
        spec("find: {apiVersion: v1, kind: Pod, name: web-1}\nexpect: {status: {$bogus: 1}}"),
    ];
    let both = [web.clone(), other];
    let sets: [&[Value]; 3] = [&[], std::slice::from_ref(&web), &both];
    for s in &specs {
        for objects in sets {
            assert_eq!(
                evaluate_observed(s, &with_objects(objects)),
                evaluate(s, objects),
                "{s:?}"
            );
        }
    }
}

#[test]
fn what_each_kind_needs() {
    let plain = spec("find: {apiVersion: v1, kind: Pod, name: web}");
    assert_eq!(
        needs(&plain),
        Needs {
            objects: true,
            ..Needs::default()
        }
    );
    let exec = spec("find: {apiVersion: v1, kind: Pod, name: web}\nexec: {command: [date]}");
    assert!(needs(&exec).exec && needs(&exec).objects);
    let events = spec("find: {apiVersion: v1, kind: Pod, name: web}\nevents: {reason: Pulled}");
    assert!(needs(&events).events);
    let version = spec("question: {en: q, zh: q}\nanswer: {serverVersion: true}");
    assert_eq!(
        needs(&version),
        Needs {
            answer: true,
            server_version: true,
            ..Needs::default()
        }
    );
    let group = spec("question: {en: q, zh: q}\nanswer: {apiGroupOf: HorizontalPodAutoscaler}");
    assert_eq!(
        needs(&group).api_groups_of.as_deref(),
        Some("HorizontalPodAutoscaler")
    );
    let served = spec("served: {apiVersion: metrics.k8s.io/v1beta1, kind: PodMetrics}");
    assert_eq!(
        needs(&served),
        Needs {
            served: true,
            ..Needs::default()
        }
    );
    let min = spec("serverVersion: {minor: {$gte: 25}}");
    assert!(needs(&min).server_version && !needs(&min).objects);
}

// ---------------------------------------------------------------- exec: where it runs

fn exec_spec(extra: &str) -> CheckSpec {
    spec(&format!(
        "find: {{apiVersion: v1, kind: Pod, name: busybox}}\nexec: {{command: [printenv, FLY_NAME]{extra}}}"
    ))
}

#[test]
fn exec_runs_in_the_first_container_of_a_running_pod() {
    assert_eq!(
        exec_target(&exec_spec(""), &[running("busybox")], None),
        Ok(ExecTarget {
            namespace: Some("fly-k8s".to_owned()),
            pod: "busybox".to_owned(),
            container: "busybox".to_owned(),
        })
    );
    // The sidecar runs even though busybox does not.
    let starting = pod(
        "busybox",
        "Pending",
        Some(json!({"waiting": {"reason": "ContainerCreating"}})),
    );
    assert_eq!(
        exec_target(&exec_spec(", container: sidecar"), &[starting], None).map(|t| t.container),
        Ok("sidecar".to_owned())
    );
}

#[test]
fn exec_without_a_pod_fails_as_not_found() {
    assert_eq!(
        exec_target(&exec_spec(""), &[], None),
        Err(failed(
            vec![d("", "Pod `busybox` to exist", "not found")],
            None
        ))
    );
    let by_label =
        spec("find: {apiVersion: v1, kind: Pod, selector: app=demo}\nexec: {command: [printenv]}");
    assert_eq!(
        exec_target(&by_label, &[], None),
        Err(failed(
            vec![d("", "a Pod matching `app=demo` to exist", "not found")],
            None
        ))
    );
}

#[test]
fn exec_waits_for_a_starting_container() {
    let creating = pod(
        "busybox",
        "Pending",
        Some(json!({"waiting": {"reason": "ContainerCreating"}})),
    );
    let expected = "container `busybox` running";
    assert_eq!(
        exec_target(&exec_spec(""), &[creating], None),
        Err(pending(vec![d(
            "",
            expected,
            "waiting (ContainerCreating)"
        )]))
    );
    assert_eq!(
        exec_target(&exec_spec(""), &[pod("busybox", "Pending", None)], None),
        Err(pending(vec![d("", expected, "not started (Pod Pending)")]))
    );
    let mut unschedulable = pod("busybox", "Pending", None);
    unschedulable["status"]["conditions"] =
        json!([{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]);
    assert_eq!(
        exec_target(&exec_spec(""), &[unschedulable], None),
        Err(pending(vec![d(
            "",
            expected,
            "not scheduled yet (Unschedulable)"
        )]))
    );
    let bare_waiting = pod("busybox", "Pending", Some(json!({"waiting": {}})));
    assert_eq!(
        exec_target(&exec_spec(""), &[bare_waiting], None),
        Err(pending(vec![d("", expected, "waiting")]))
    );
}

#[test]
fn exec_fails_for_a_stopped_or_stuck_container() {
    let expected = "container `busybox` running";
    let done = pod(
        "busybox",
        "Succeeded",
        Some(json!({"terminated": {"reason": "Completed", "exitCode": 0}})),
    );
    assert_eq!(
        exec_target(&exec_spec(""), &[done], None),
        Err(failed(
            vec![d("", expected, "terminated (Completed, exit code 0)")],
            Some("fly-k8s/busybox")
        ))
    );
    let crashing = pod(
        "busybox",
        "Running",
        Some(json!({"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 10s"}})),
    );
    assert_eq!(
        exec_target(&exec_spec(""), &[crashing], None),
        Err(failed(
            vec![d("", expected, "waiting (CrashLoopBackOff)")],
            Some("fly-k8s/busybox")
        ))
    );
    let no_image = pod(
        "busybox",
        "Pending",
        Some(json!({"waiting": {"reason": "ImagePullBackOff"}})),
    );
    assert_eq!(
        exec_target(&exec_spec(""), &[no_image], None),
        Err(failed(
            vec![d("", expected, "waiting (ImagePullBackOff)")],
            Some("fly-k8s/busybox")
        ))
    );
    assert_eq!(
        exec_target(&exec_spec(""), &[pod("busybox", "Failed", None)], None),
        Err(failed(
            vec![d("", expected, "Pod Failed")],
            Some("fly-k8s/busybox")
        ))
    );
    assert_eq!(
        exec_target(&exec_spec(", container: app"), &[running("busybox")], None),
        Err(failed(
            vec![d(
                "",
                "container `app` running",
                "no container `app` in this Pod (it has `[\"busybox\",\"sidecar\"]`)"
            )],
            Some("fly-k8s/busybox")
        ))
    );
}

#[test]
fn exec_prefers_running_pods_that_are_not_being_deleted() {
    let spec =
        spec("find: {apiVersion: v1, kind: Pod, selector: app=demo}\nexec: {command: [printenv]}");
    let mut old = running("demo-old");
    old["metadata"]["deletionTimestamp"] = json!("2024-05-01T09:10:00Z");
    let starting = pod("demo-new", "Pending", None);
    let new = running("demo-ready");
    let target = exec_target(&spec, &[old.clone(), starting.clone(), new], None).unwrap();
    assert_eq!(target.pod, "demo-ready");
    // A Pod being deleted never runs the command, even when it is the only one running: the
    // check waits for the Pod that replaces it.
    assert_eq!(
        exec_target(&spec, &[old.clone(), starting.clone()], None),
        Err(pending(vec![d(
            "",
            "container `busybox` running",
            "not started (Pod Pending)"
        )]))
    );
    assert_eq!(
        exec_target(&spec, std::slice::from_ref(&old), None),
        Err(pending(vec![d(
            "",
            "container `busybox` running in a Pod that is not being deleted",
            "`fly-k8s/demo-old` being deleted (Terminating)"
        )]))
    );
    // Nothing is run for it either when the engine evaluates the check.
    assert_eq!(
        run(&spec, std::slice::from_ref(&old), &finished("", "", 0)),
        pending(vec![d(
            "",
            "container `busybox` running in a Pod that is not being deleted",
            "`fly-k8s/demo-old` being deleted (Terminating)"
        )])
    );
    // A Pod that will start soon makes the check pending even when another has stopped.
    let stopped = pod("demo-done", "Failed", None);
    assert_eq!(
        exec_target(&spec, &[stopped, starting], None),
        Err(pending(vec![d(
            "",
            "container `busybox` running",
            "not started (Pod Pending)"
        )]))
    );
}

#[test]
fn exec_failure_can_be_declared_pending() {
    let spec =
        exec_spec("}\npending: {when: {status: {phase: Succeeded}}, reason: {en: wait, zh: wait}");
    let done = pod(
        "busybox",
        "Succeeded",
        Some(json!({"terminated": {"reason": "Completed", "exitCode": 0}})),
    );
    assert_eq!(
        exec_target(&spec, &[done], None),
        Err(pending(vec![d(
            "",
            "container `busybox` running",
            "terminated (Completed, exit code 0)"
        )]))
    );
}

// ---------------------------------------------------------------- exec: the output

fn finished(stdout: &str, stderr: &str, exit_code: i32) -> ExecOutcome {
    ExecOutcome::Finished {
        stdout: stdout.to_owned(),
        stderr: stderr.to_owned(),
        exit_code,
    }
}

fn run(spec: &CheckSpec, objects: &[Value], outcome: &ExecOutcome) -> Verdict {
    evaluate_observed(
        spec,
        &Observed {
            objects,
            exec: Some(outcome),
            ..Observed::default()
        },
    )
}

#[test]
fn exec_expects_exit_code_zero_by_default() {
    let s = exec_spec("");
    let pods = [running("busybox")];
    assert_eq!(
        run(&s, &pods, &finished("kubelab\n", "", 0)),
        Verdict::Passed
    );
    assert_eq!(
        run(&s, &pods, &finished("", "", 1)),
        failed(vec![d("exitCode", "`0`", "`1`")], Some("fly-k8s/busybox"))
    );
}

#[test]
fn exec_output_is_matched_as_text() {
    let s = spec(
        r#"find: {apiVersion: v1, kind: Pod, name: busybox}
exec: {command: [printenv, FLY_NAME], timeoutSeconds: 3}
expect:
  exitCode: 0
  stdout: {$contains: kubelab}
"#,
    );
    let pods = [running("busybox")];
    assert_eq!(
        run(&s, &pods, &finished("kubelab\n", "", 0)),
        Verdict::Passed
    );
    assert_eq!(
        run(&s, &pods, &finished("fly\n", "", 0)),
        failed(
            vec![d("stdout", "text containing `\"kubelab\"`", "`\"fly\\n\"`")],
            Some("fly-k8s/busybox")
        )
    );
    assert_eq!(
        run(&s, &pods, &finished("", "", 1)),
        failed(
            vec![
                d("exitCode", "`0`", "`1`"),
                d("stdout", "text containing `\"kubelab\"`", "`\"\"`")
            ],
            Some("fly-k8s/busybox")
        )
    );
    // The trailing newline is kept: `$eq` needs the exact text.
    let exact = spec(
        "find: {apiVersion: v1, kind: Pod, name: busybox}\nexec: {command: [cat, /config/fly-name]}\nexpect: {stdout: \"fly\\n\", stderr: \"\"}",
    );
    assert_eq!(
        run(&exact, &pods, &finished("fly\n", "", 0)),
        Verdict::Passed
    );
    assert_eq!(
        run(&exact, &pods, &finished("fly", "", 0)),
        failed(
            vec![d("stdout", "`\"fly\\n\"`", "`\"fly\"`")],
            Some("fly-k8s/busybox")
        )
    );
    let errors = spec(
        "find: {apiVersion: v1, kind: Pod, name: busybox}\nexec: {command: [cat, /nope]}\nexpect: {exitCode: {$ne: 0}, stderr: {$regex: \"No such file\"}}",
    );
    assert_eq!(
        run(
            &errors,
            &pods,
            &finished(
                "",
                "cat: can't open '/nope': No such file or directory\n",
                1
            )
        ),
        Verdict::Passed
    );
}

#[test]
fn exec_that_cannot_finish_is_an_error() {
    let s = exec_spec("");
    let pods = [running("busybox")];
    assert_eq!(
        run(&s, &pods, &ExecOutcome::TimedOut { seconds: 5 }),
        error("the command did not finish within 5 s")
    );
    assert_eq!(
        run(
            &s,
            &pods,
            &ExecOutcome::Failed {
                message: "pods \"busybox\" is forbidden".to_owned()
            }
        ),
        error(
            "the command could not be run in container busybox of Pod fly-k8s/busybox: pods \"busybox\" is forbidden"
        )
    );
    assert_eq!(
        evaluate_observed(&s, &with_objects(&pods)),
        error("the command was not run in container busybox of Pod fly-k8s/busybox")
    );
    // No Pod: the same verdict the engine settles with, whatever ran.
    assert_eq!(
        run(&s, &[], &finished("", "", 0)),
        failed(vec![d("", "Pod `busybox` to exist", "not found")], None)
    );
}

// ---------------------------------------------------------------- events

fn events_spec(extra: &str) -> CheckSpec {
    spec(&format!(
        "find: {{apiVersion: v1, kind: Pod, name: picky}}\nevents:\n  reason: FailedScheduling\n  message: {{$contains: \"didn't match\"}}\n{extra}"
    ))
}

fn judge_events(spec: &CheckSpec, objects: &[Value], events: &[Value]) -> Verdict {
    evaluate_observed(
        spec,
        &Observed {
            objects,
            events,
            ..Observed::default()
        },
    )
}

const WANTED: &str =
    "an event with `message` containing `\"didn't match\"` and `reason` = `\"FailedScheduling\"`";

#[test]
fn events_pass_when_some_event_matches() {
    let picky = [pod("picky", "Pending", None)];
    let events = [event(
        "picky",
        Some("uid-picky"),
        "FailedScheduling",
        "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.",
    )];
    assert_eq!(
        judge_events(&events_spec(""), &picky, &events),
        Verdict::Passed
    );
    // Events without a uid are matched by kind, name and namespace.
    let events = [event(
        "picky",
        None,
        "FailedScheduling",
        "1 node(s) didn't match",
    )];
    assert_eq!(
        judge_events(&events_spec(""), &picky, &events),
        Verdict::Passed
    );
}

#[test]
fn events_failures_list_what_was_seen() {
    let picky = [pod("picky", "Pending", None)];
    assert_eq!(
        judge_events(&events_spec(""), &picky, &[]),
        failed(vec![d("events", WANTED, "no events")], None)
    );
    let seen = [
        event(
            "picky",
            Some("uid-picky"),
            "Scheduled",
            "Successfully assigned fly-k8s/picky to colima",
        ),
        event(
            "picky",
            Some("uid-picky"),
            "Pulled",
            "Container image already present",
        ),
        event(
            "picky",
            Some("uid-picky"),
            "Pulled",
            "Container image already present",
        ),
    ];
    assert_eq!(
        judge_events(&events_spec(""), &picky, &seen),
        failed(
            vec![d(
                "events",
                WANTED,
                "`Scheduled`: Successfully assigned fly-k8s/picky to colima; `Pulled`: Container image already present"
            )],
            None
        )
    );
    assert_eq!(
        judge_events(&events_spec(""), &picky, &seen[..1]),
        failed(
            vec![d(
                "events",
                WANTED,
                "`Scheduled`: Successfully assigned fly-k8s/picky to colima"
            )],
            None
        )
    );
    // Events about another object, or an earlier object of the same name, do not count.
    let elsewhere = [
        event(
            "other",
            Some("uid-other"),
            "FailedScheduling",
            "didn't match",
        ),
        event(
            "picky",
            Some("uid-old-picky"),
            "FailedScheduling",
            "didn't match",
        ),
    ];
    assert_eq!(
        judge_events(&events_spec(""), &picky, &elsewhere),
        failed(vec![d("events", WANTED, "no events")], None)
    );
    assert_eq!(
        judge_events(&events_spec(""), &[], &elsewhere),
        failed(vec![d("", "Pod `picky` to exist", "not found")], None)
    );
}

#[test]
fn events_absent_and_count() {
    let picky = [pod("picky", "Pending", None)];
    let failing = event(
        "picky",
        Some("uid-picky"),
        "FailedScheduling",
        "1 node(s) didn't match",
    );
    let absent = events_spec("absent: true");
    assert_eq!(judge_events(&absent, &picky, &[]), Verdict::Passed);
    assert_eq!(judge_events(&absent, &[], &[]), Verdict::Passed);
    assert_eq!(
        judge_events(&absent, &picky, std::slice::from_ref(&failing)),
        failed(
            vec![d(
                "events",
                "no event with `message` containing `\"didn't match\"` and `reason` = `\"FailedScheduling\"`",
                "`FailedScheduling`: 1 node(s) didn't match"
            )],
            None
        )
    );
    let twice = events_spec("count: {$gte: 2}");
    let scheduled = event("picky", Some("uid-picky"), "Scheduled", "assigned");
    assert_eq!(
        judge_events(&twice, &picky, &[failing.clone(), scheduled]),
        failed(
            vec![d(
                "events",
                "events with `message` containing `\"didn't match\"` and `reason` = `\"FailedScheduling\"`: at least 2",
                "1 matching (of 2 events)"
            )],
            None
        )
    );
    assert_eq!(
        judge_events(&twice, &picky, &[failing.clone(), failing]),
        Verdict::Passed
    );
}

#[test]
fn events_of_objects_narrowed_by_expect() {
    let s = spec(
        "find: {apiVersion: v1, kind: Pod, selector: app=demo}\nexpect: {status: {phase: Pending}}\nevents: {reason: FailedScheduling}\npending: {when: {status: {phase: Pending}}, reason: {en: wait, zh: wait}}",
    );
    let stuck = pod("stuck", "Pending", None);
    let fine = running("fine");
    let about_fine = event("fine", Some("uid-fine"), "FailedScheduling", "x");
    // Only the Pending Pod's events count; none yet, and it is still Pending: pending.
    assert_eq!(
        judge_events(
            &s,
            &[stuck.clone(), fine.clone()],
            std::slice::from_ref(&about_fine)
        ),
        pending(vec![d(
            "events",
            "an event with `reason` = `\"FailedScheduling\"`",
            "no events"
        )])
    );
    // No Pod is Pending: the usual diagnostics of the closest object.
    assert_eq!(
        judge_events(&s, &[fine], &[about_fine]),
        failed(
            vec![d("status.phase", "`\"Pending\"`", "`\"Running\"`")],
            Some("fly-k8s/fine")
        )
    );
    let any = spec("find: {apiVersion: v1, kind: Pod, name: stuck}\nevents: {}");
    assert_eq!(
        judge_events(&any, std::slice::from_ref(&stuck), &[]),
        failed(vec![d("events", "an event", "no events")], None)
    );
}

// ---------------------------------------------------------------- questions

fn ask(spec: &CheckSpec, objects: &[Value], answer: Option<&str>) -> Verdict {
    evaluate_observed(
        spec,
        &Observed {
            objects,
            answer,
            ..Observed::default()
        },
    )
}

fn kubelet_question() -> CheckSpec {
    spec(
        "question: {en: Which kubelet version does your node run?, zh: 你的节点运行的 kubelet 是哪个版本？}\nfind: {apiVersion: v1, kind: Node}\nanswer: {field: status.nodeInfo.kubeletVersion}\nnormalize: version",
    )
}

fn wrong(answer: &str) -> Verdict {
    failed(
        vec![d(
            "answer",
            "the value on your cluster",
            &format!("`{}`", Value::String(answer.to_owned())),
        )],
        None,
    )
}

#[test]
fn questions_wait_for_an_answer() {
    let nodes = [node("v1.28.7+k3s1", "docker://24.0.7")];
    let unanswered = pending(vec![d("answer", "your answer", "not answered yet")]);
    assert_eq!(ask(&kubelet_question(), &nodes, None), unanswered);
    assert_eq!(ask(&kubelet_question(), &nodes, Some("  ")), unanswered);
}

#[test]
fn version_answers() {
    let nodes = [node("v1.28.7+k3s1", "docker://24.0.7")];
    for right in [
        "v1.28.7+k3s1",
        "V1.28.7",
        " 1.28.7 ",
        "1.28.7",
        "1.28.7+k3s1",
        "V1.28.7+K3S1",
    ] {
        assert_eq!(
            ask(&kubelet_question(), &nodes, Some(right)),
            Verdict::Passed,
            "{right}"
        );
    }
    for answer in ["1.28", "1.28.8", "v1.27.7+k3s1", "k3s1", "1.28.7-k3s1x"] {
        assert_eq!(
            ask(&kubelet_question(), &nodes, Some(answer)),
            wrong(answer),
            "{answer}"
        );
    }
}

#[test]
fn a_wrong_answer_never_reveals_the_right_one() {
    let nodes = [node("v1.28.7+k3s1", "docker://24.0.7")];
    let verdict = ask(&kubelet_question(), &nodes, Some("1.29.0"));
    let shown = serde_json::to_string(&verdict).unwrap();
    assert!(!shown.contains("1.28"), "{shown}");
    assert_eq!(verdict, wrong("1.29.0"));
}

#[test]
fn runtime_answers() {
    let q = |value: &str| {
        (
            spec(
                "question: {en: runtime?, zh: runtime?}\nfind: {apiVersion: v1, kind: Node}\nanswer: {field: status.nodeInfo.containerRuntimeVersion}\nnormalize: runtime",
            ),
            [node("v1.28.7+k3s1", value)],
        )
    };
    let (s, nodes) = q("docker://24.0.7");
    for right in ["docker", "Docker", " docker://24.0.7 ", "DOCKER://24.0.7"] {
        assert_eq!(ask(&s, &nodes, Some(right)), Verdict::Passed, "{right}");
    }
    for answer in ["containerd", "docker://24", "docker:", "24.0.7"] {
        assert_eq!(ask(&s, &nodes, Some(answer)), wrong(answer), "{answer}");
    }
    let (s, nodes) = q("containerd://1.7.11-k3s2");
    assert_eq!(ask(&s, &nodes, Some("containerd")), Verdict::Passed);
    assert_eq!(
        ask(&s, &nodes, Some("containerd://1.7.11-k3s2")),
        Verdict::Passed
    );
    assert_eq!(
        ask(&s, &nodes, Some("containerd://1.7")),
        wrong("containerd://1.7")
    );
    assert_eq!(ask(&s, &nodes, Some("docker")), wrong("docker"));
    let (s, nodes) = q("containerd://1.7");
    assert_eq!(ask(&s, &nodes, Some("containerd://1.7")), Verdict::Passed);
}

#[test]
fn text_and_number_normalization() {
    use Normalize::*;
    assert!(accepts(Text, "  Ubuntu   24.04\tLTS ", "Ubuntu 24.04 LTS"));
    assert!(accepts(Text, "COLIMA", "colima"));
    assert!(!accepts(Text, "colima2", "colima"));
    assert!(!accepts(Text, "v1.28.7", "1.28.7"));
    assert!(accepts(Number, " 3 ", "3"));
    assert!(accepts(Number, "3.0", "3"));
    assert!(accepts(Number, "3", "3.0"));
    assert!(!accepts(Number, "three", "3"));
    assert!(!accepts(Number, "4", "3"));
    assert!(accepts(Number, "N/A", "n/a"));
    assert!(accepts(Version, "1.28.7", "v1.28.7-eks-1234"));
    assert!(accepts(Version, "v1.25.0", "v1.25.0+k3s1"));
    assert!(!accepts(Version, "1.25", "v1.25.0+k3s1"));
    assert!(accepts(Runtime, "docker", "docker://24.0.7"));
    assert!(!accepts(Runtime, "docker", "containerd://1.7.11"));
    assert_eq!(normalize_text("  A\n b  "), "a b");
}

#[test]
fn counting_questions() {
    let s = spec(
        "question: {en: How many Pods?, zh: 几个 Pod？}\nfind: {apiVersion: v1, kind: Pod, namespace: kube-system}\nanswer: {count: true}\nnormalize: number",
    );
    let pods = [
        running("coredns"),
        running("metrics-server"),
        running("traefik"),
    ];
    assert_eq!(ask(&s, &pods, Some("3")), Verdict::Passed);
    assert_eq!(ask(&s, &pods, Some(" 3.0 ")), Verdict::Passed);
    assert_eq!(ask(&s, &pods, Some("4")), wrong("4"));
    assert_eq!(ask(&s, &pods, Some("three")), wrong("three"));
    // Nothing found is an answer too: 0.
    assert_eq!(ask(&s, &[], Some("0")), Verdict::Passed);
    // `expect` narrows what is counted.
    let ready = spec(
        "question: {en: How many run?, zh: 几个在运行？}\nfind: {apiVersion: v1, kind: Pod, namespace: kube-system}\nexpect: {status: {phase: Running}}\nanswer: {count: true}\nnormalize: number",
    );
    let mixed = [running("a"), pod("b", "Pending", None)];
    assert_eq!(ask(&ready, &mixed, Some("1")), Verdict::Passed);
}

#[test]
fn questions_from_discovery() {
    let version = spec(
        "question: {en: Which version?, zh: 哪个版本？}\nanswer: {serverVersion: true}\nnormalize: version",
    );
    let doc = k3s_version();
    let with_version = |answer| {
        evaluate_observed(
            &version,
            &Observed {
                server_version: Some(&doc),
                answer: Some(answer),
                ..Observed::default()
            },
        )
    };
    assert_eq!(with_version("1.28.7"), Verdict::Passed);
    assert_eq!(with_version("1.25.0"), wrong("1.25.0"));
    assert_eq!(
        evaluate_observed(
            &version,
            &Observed {
                answer: Some("1.28.7"),
                ..Observed::default()
            }
        ),
        error("the API server's version could not be read")
    );

    let group = spec(
        "question: {en: Which group?, zh: 哪个组？}\nanswer: {apiGroupOf: HorizontalPodAutoscaler}",
    );
    let autoscaling = ["autoscaling".to_owned()];
    let core = [String::new()];
    let with_groups = |groups: &[String], answer| {
        evaluate_observed(
            &group,
            &Observed {
                api_groups: groups,
                answer: Some(answer),
                ..Observed::default()
            },
        )
    };
    assert_eq!(with_groups(&autoscaling, "autoscaling"), Verdict::Passed);
    assert_eq!(with_groups(&autoscaling, " Autoscaling "), Verdict::Passed);
    assert_eq!(with_groups(&autoscaling, "apps"), wrong("apps"));
    assert_eq!(with_groups(&core, "core"), Verdict::Passed);
    assert_eq!(with_groups(&core, "v1"), Verdict::Passed);
    assert_eq!(with_groups(&core, "apps"), wrong("apps"));
    assert_eq!(
        with_groups(&[], "autoscaling"),
        failed(
            vec![d(
                "",
                "the cluster to serve `HorizontalPodAutoscaler`",
                "not served"
            )],
            None
        )
    );
}

#[test]
fn field_questions_need_something_to_read() {
    let s = kubelet_question();
    assert_eq!(
        ask(&s, &[], Some("1.28.7")),
        failed(vec![d("", "a Node to exist", "not found")], None)
    );
    let mut bare = node("v1", "docker://1");
    bare["status"] = json!({});
    assert_eq!(
        ask(&s, &[bare], Some("1.28.7")),
        failed(
            vec![d("status.nodeInfo.kubeletVersion", "present", "missing")],
            Some("colima")
        )
    );
    // Quoted keys, and any found object's value is right.
    let host = spec(
        "question: {en: host?, zh: host?}\nfind: {apiVersion: v1, kind: Node}\nanswer: {field: 'metadata.labels[\"kubernetes.io/hostname\"]'}",
    );
    let mut second = node("v1.28.7", "docker://24");
    second["metadata"]["labels"]["kubernetes.io/hostname"] = json!("worker-1");
    let nodes = [node("v1.28.7", "docker://24"), second];
    assert_eq!(ask(&host, &nodes, Some("Colima")), Verdict::Passed);
    assert_eq!(ask(&host, &nodes, Some("worker-1")), Verdict::Passed);
    assert_eq!(ask(&host, &nodes, Some("worker-2")), wrong("worker-2"));
}

// ---------------------------------------------------------------- capabilities

#[test]
fn served_checks() {
    let s = spec("served: {apiVersion: metrics.k8s.io/v1beta1, kind: PodMetrics}");
    let with = |served| {
        evaluate_observed(
            &s,
            &Observed {
                served,
                ..Observed::default()
            },
        )
    };
    assert_eq!(with(Some(true)), Verdict::Passed);
    assert_eq!(
        with(Some(false)),
        failed(
            vec![d(
                "",
                "the cluster to serve `PodMetrics` (`metrics.k8s.io/v1beta1`)",
                "not served"
            )],
            None
        )
    );
    assert_eq!(
        with(None),
        error(
            "whether the cluster serves PodMetrics (metrics.k8s.io/v1beta1) could not be found out"
        )
    );
    let gone = spec("served: {apiVersion: extensions/v1beta1, kind: Deployment}\nabsent: true");
    let removed = |served| {
        evaluate_observed(
            &gone,
            &Observed {
                served: Some(served),
                ..Observed::default()
            },
        )
    };
    assert_eq!(removed(false), Verdict::Passed);
    assert_eq!(
        removed(true),
        failed(
            vec![d(
                "",
                "the cluster not to serve `Deployment` (`extensions/v1beta1`)",
                "served"
            )],
            None
        )
    );
}

#[test]
fn server_version_checks() {
    let doc = k3s_version();
    let judge = |body: &str| {
        evaluate_observed(
            &spec(body),
            &Observed {
                server_version: Some(&doc),
                ..Observed::default()
            },
        )
    };
    assert_eq!(judge("serverVersion: {minor: {$gte: 25}}"), Verdict::Passed);
    assert_eq!(
        judge("serverVersion: {major: 1, minor: 28}"),
        Verdict::Passed
    );
    assert_eq!(
        judge(
            "serverVersion: {gitVersion: {$regex: \"\\\\+k3s\"}, platform: {$glob: \"linux/*\"}}"
        ),
        Verdict::Passed
    );
    assert_eq!(
        judge("serverVersion: {minor: {$gte: 29}}"),
        failed(vec![d("minor", "at least 29", "`28`")], None)
    );
    assert_eq!(
        judge("serverVersion: {major: 2, platform: linux/amd64}"),
        failed(
            vec![
                d("major", "`2`", "`1`"),
                d("platform", "`\"linux/amd64\"`", "`\"linux/arm64\"`")
            ],
            None
        )
    );
    assert_eq!(
        evaluate_observed(
            &spec("serverVersion: {minor: {$gte: 25}}"),
            &Observed::default()
        ),
        error("the API server's version could not be read")
    );
}

#[test]
fn version_numbers_read_major_and_minor() {
    assert_eq!(
        version_numbers(&json!({"major": "1", "minor": "28+", "gitVersion": "v1.28.7+k3s1"})),
        json!({"major": 1, "minor": 28, "gitVersion": "v1.28.7+k3s1"})
    );
    assert_eq!(
        version_numbers(&json!({"major": 1, "minor": "", "platform": "linux/amd64"})),
        json!({"major": 1, "minor": "", "platform": "linux/amd64"})
    );
}

// ---------------------------------------------------------------- since: step

const STARTED: &str = "2024-05-01T09:12:03Z";

fn since(spec: &CheckSpec, objects: &[Value], started: Option<&str>) -> Verdict {
    evaluate_observed(
        spec,
        &Observed {
            objects,
            step_started: started,
            ..Observed::default()
        },
    )
}

#[test]
fn since_step_ignores_older_objects() {
    let s = spec(
        "find: {apiVersion: v1, kind: Pod, selector: app=demo}\nsince: step\ncount: {$gte: 1}",
    );
    let old = created(running("demo-old"), "2024-05-01T09:00:00Z");
    let nothing_new = failed(
        vec![d(
            "",
            "a Pod created after you started this step",
            "none since 09:12:03 UTC",
        )],
        None,
    );
    assert_eq!(
        since(&s, std::slice::from_ref(&old), Some(STARTED)),
        nothing_new
    );
    assert_eq!(since(&s, &[], Some(STARTED)), nothing_new);
    let new = created(running("demo-new"), "2024-05-01T09:12:30Z");
    assert_eq!(
        since(&s, &[old.clone(), new], Some(STARTED)),
        Verdict::Passed
    );
    // Created in the same second the step started: counts.
    let same = created(running("demo-same"), STARTED);
    assert_eq!(since(&s, &[same], Some(STARTED)), Verdict::Passed);
    // Instants, not text: 17:12:04+08:00 is after 09:12:03Z.
    let offset = created(running("demo-cn"), "2024-05-01T17:12:04+08:00");
    assert_eq!(since(&s, &[offset], Some(STARTED)), Verdict::Passed);
    let earlier = created(running("demo-cn"), "2024-05-01T17:12:02+08:00");
    assert_eq!(since(&s, &[earlier], Some(STARTED)), nothing_new);
    // Without a known start (or a readable one) nothing is filtered.
    assert_eq!(since(&s, std::slice::from_ref(&old), None), Verdict::Passed);
    assert_eq!(
        since(&s, std::slice::from_ref(&old), Some("yesterday")),
        Verdict::Passed
    );
    // An object without a creation time cannot be shown to be new.
    let mut timeless = running("demo-x");
    timeless["metadata"]
        .as_object_mut()
        .unwrap()
        .remove("creationTimestamp");
    assert_eq!(since(&s, &[timeless], Some(STARTED)), nothing_new);
}

#[test]
fn since_step_keeps_old_objects_out_of_closest() {
    let s = spec(
        "find: {apiVersion: v1, kind: Pod, name: demo}\nsince: step\nexpect: {status: {phase: Running}}",
    );
    let old = created(running("demo"), "2024-05-01T08:00:00Z");
    assert_eq!(
        since(&s, &[old], Some("2024-05-01T17:12:03+08:00")),
        failed(
            vec![d(
                "",
                "Pod `demo` created after you started this step",
                "none since 09:12:03 UTC"
            )],
            None
        )
    );
    let new_pending = created(pod("demo", "Pending", None), "2024-05-01T09:13:00Z");
    assert_eq!(
        since(&s, &[new_pending], Some(STARTED)),
        failed(
            vec![d("status.phase", "`\"Running\"`", "`\"Pending\"`")],
            Some("fly-k8s/demo")
        )
    );
    // `absent` with `since`: only new objects are looked for.
    let absent = spec("find: {apiVersion: v1, kind: Pod, name: demo}\nsince: step\nabsent: true");
    let old = created(running("demo"), "2024-05-01T08:00:00Z");
    assert_eq!(since(&absent, &[old], Some(STARTED)), Verdict::Passed);
}

#[test]
fn since_step_chooses_a_new_pod_for_exec() {
    let s = spec(
        "find: {apiVersion: v1, kind: Pod, selector: app=demo}\nsince: step\nexec: {command: [printenv, FLY_NAME]}",
    );
    let old = created(running("demo-old"), "2024-05-01T09:00:00Z");
    let new = created(running("demo-new"), "2024-05-01T09:13:00Z");
    assert_eq!(
        exec_target(&s, &[old.clone(), new], Some(STARTED)).map(|t| t.pod),
        Ok("demo-new".to_owned())
    );
    assert_eq!(
        exec_target(&s, &[old], Some(STARTED)),
        Err(failed(
            vec![d(
                "",
                "a Pod created after you started this step",
                "none since 09:12:03 UTC"
            )],
            None
        ))
    );
}

// ---------------------------------------------------------------- validation

fn problems(body: &str) -> Vec<String> {
    validate(&spec(body))
}

#[test]
fn the_contract_examples_validate() {
    for body in [
        "find: {apiVersion: v1, kind: Pod, name: busybox}\nexec:\n  container: busybox\n  command: [printenv, FLY_NAME]\n  timeoutSeconds: 5\nexpect:\n  exitCode: 0\n  stdout: {$contains: kubelab}",
        "find: {apiVersion: v1, kind: Pod, name: picky}\nevents:\n  reason: FailedScheduling\n  message: {$contains: \"didn't match\"}",
        "find: {apiVersion: v1, kind: Pod, name: picky}\nevents: {reason: FailedScheduling}\nabsent: true",
        "question: {en: q, zh: q}\nfind: {apiVersion: v1, kind: Node}\nanswer:\n  field: status.nodeInfo.kubeletVersion\nnormalize: version",
        "question: {en: q, zh: q}\nfind: {apiVersion: v1, kind: Pod, namespace: kube-system}\nanswer: {count: true}\nnormalize: number",
        "question: {en: q, zh: q}\nanswer: {serverVersion: true}",
        "question: {en: q, zh: q}\nanswer: {apiGroupOf: HorizontalPodAutoscaler}",
        "served: {apiVersion: metrics.k8s.io/v1beta1, kind: PodMetrics}",
        "served: {apiVersion: extensions/v1beta1, kind: Deployment}\nabsent: true",
        "serverVersion: {minor: {$gte: 25}}",
        "find: {apiVersion: v1, kind: Pod, selector: \"app=demo\"}\nsince: step\ncount: {$gte: 1}",
    ] {
        assert_eq!(problems(body), Vec::<String>::new(), "{body}");
    }
}

#[test]
fn exec_misuse() {
    assert_eq!(
        problems("exec: {command: [date]}"),
        vec![
            "The check has no target: give it `find` (objects), `served` (an API), `serverVersion` or `access`.",
            "`exec` needs `find` naming the Pod(s) to run the command in (`apiVersion: v1`, `kind: Pod`, a `name` or a `selector`).",
        ]
    );
    assert_eq!(
        problems(
            "find: {apiVersion: apps/v1, kind: Deployment, name: web}\nexec: {command: [date]}"
        ),
        vec![
            "`exec` runs a command in a Pod, but `find` looks for `Deployment` (`apps/v1`); use `apiVersion: v1` and `kind: Pod`."
        ]
    );
    let no_program = "`exec.command` has no program; write it as a list, e.g. [\"printenv\", \"FLY_NAME\"] (or [\"sh\", \"-c\", \"...\"] for a shell).";
    assert_eq!(
        problems("find: {apiVersion: v1, kind: Pod, name: b}\nexec: {command: []}"),
        vec![no_program]
    );
    assert_eq!(
        problems("find: {apiVersion: v1, kind: Pod, name: b}\nexec: {command: [\" \", x]}"),
        vec![no_program]
    );
    assert_eq!(
        problems(
            "find: {apiVersion: v1, kind: Pod, name: b}\nexec: {command: [sleep, \"60\"], timeoutSeconds: 60}"
        ),
        vec!["`exec.timeoutSeconds` is 60; it can be at most 30 (the default is 5)."]
    );
    assert_eq!(
        problems(
            "find: {apiVersion: v1, kind: Pod, name: b}\nexec: {command: [date], timeoutSeconds: 0, container: \"\"}"
        ),
        vec![
            "`exec.timeoutSeconds` is 0; give at least 1 second (the default is 5).",
            "`exec.container` is empty; leave it out to use the Pod's first container.",
        ]
    );
    assert_eq!(
        problems(
            "find: {apiVersion: v1, kind: Pod, name: b}\nexec: {command: [date]}\nabsent: true"
        ),
        vec![
            "`absent: true` cannot be combined with `exec`: the command needs a Pod to run in. Check that a Pod is gone in a separate check without `exec`."
        ]
    );
    assert_eq!(
        problems(
            "find: {apiVersion: v1, kind: Pod, selector: a=b}\nexec: {command: [date]}\ncount: 2\ncel: \"true\""
        ),
        vec![
            "`count` cannot be combined with `exec`: the command runs in one Pod.",
            "`cel` cannot be combined with `exec`: `expect` is matched against the command's `stdout`, `stderr` and `exitCode`. Check the Pod itself in a separate check.",
        ]
    );
    assert_eq!(
        problems(
            "find: {apiVersion: v1, kind: Pod, name: b}\nexec: {command: [date]}\nexpect: {status: {phase: Running}}"
        ),
        vec![
            "`expect` of an `exec` check is matched against `stdout`, `stderr` and `exitCode`, not `status`; check the Pod itself in a separate check."
        ]
    );
    assert_eq!(
        problems(
            "find: {apiVersion: v1, kind: Pod, name: b}\nexec: {command: [date]}\nevents: {reason: Pulled}"
        ),
        vec![
            "A check can do only one of `exec`, `events` and `question`, but this one has `exec` and `events`; split it into separate checks."
        ]
    );
}

#[test]
fn events_misuse() {
    assert_eq!(
        problems("find: {apiVersion: v1, kind: Pod, name: p}\nevents: FailedScheduling"),
        vec![
            "`events` must be a map matched against each Event, such as {reason: FailedScheduling}, not \"FailedScheduling\"."
        ]
    );
    assert_eq!(
        problems("find: {apiVersion: v1, kind: Pod, name: p}\nevents: {$some: {reason: Pulled}}"),
        vec![
            "`events` must be a map matched against each Event, such as {reason: FailedScheduling}, not {\"$some\":{\"reason\":\"Pulled\"}}."
        ]
    );
    assert_eq!(
        problems("find: {apiVersion: v1, kind: Pod, name: p}\nevents: {reason: {$regexp: Failed}}"),
        vec![
            "`events` at `reason`: unknown operator `$regexp` (did you mean `$regex`?); the operators are `$eq`, `$ne`, `$gt`, `$gte`, `$lt`, `$lte`, `$exists`, `$regex`, `$glob`, `$in`, `$contains`, `$len`, `$not`, `$every`, `$some`, `$none`, `$exact`, `$count`, `$and`."
        ]
    );
    assert_eq!(
        problems("events: {reason: Pulled}"),
        vec![
            "The check has no target: give it `find` (objects), `served` (an API), `serverVersion` or `access`.",
            "`events` needs `find`: the Events checked are those about the objects `find` returns.",
        ]
    );
}

#[test]
fn question_misuse() {
    assert_eq!(
        problems("question: {en: q, zh: q}\nfind: {apiVersion: v1, kind: Node}"),
        vec![
            "`question` needs `answer`: where kubelab reads the right answer (`field`, `count: true`, `serverVersion: true`, `apiGroupOf`, `access` or `token`)."
        ]
    );
    assert_eq!(
        problems("find: {apiVersion: v1, kind: Node}\nanswer: {count: true}"),
        vec![
            "`answer` needs `question`: the question the learner answers, in English and Chinese."
        ]
    );
    assert_eq!(
        problems("question: {en: q, zh: q}\nfind: {apiVersion: v1, kind: Node}\nanswer: {}"),
        vec![
            "`answer` has no source; give exactly one of `field`, `count: true`, `serverVersion: true`, `apiGroupOf`, `access` and `token`."
        ]
    );
    assert_eq!(
        problems(
            "question: {en: q, zh: q}\nfind: {apiVersion: v1, kind: Node}\nanswer: {field: metadata.name, count: true}"
        ),
        vec!["`answer` has several sources (`field`, `count`); give exactly one."]
    );
    assert_eq!(
        problems(
            "question: {en: q, zh: q}\nfind: {apiVersion: v1, kind: Node}\nanswer: {count: false}"
        ),
        vec!["`answer.count: false` is no source; write `count: true` or leave it out."]
    );
    assert_eq!(
        problems(
            "question: {en: q, zh: q}\nfind: {apiVersion: v1, kind: Node}\nanswer: {field: .status.nodeInfo}"
        ),
        vec![
            "`answer.field` \".status.nodeInfo\" is not a path: it starts with a dot; leave the leading dot out. Write it like `status.nodeInfo.kubeletVersion` or `metadata.labels[\"kubernetes.io/hostname\"]`."
        ]
    );
    assert_eq!(
        problems("question: {en: q, zh: q}\nanswer: {field: status.nodeInfo.kubeletVersion}"),
        vec!["`answer.field` reads the objects `find` returns; add `find`."]
    );
    assert_eq!(
        problems("question: {en: q, zh: q}\nanswer: {count: true}"),
        vec!["`answer.count` counts the objects `find` returns; add `find`."]
    );
    assert_eq!(
        problems(
            "question: {en: q, zh: q}\nfind: {apiVersion: v1, kind: Node}\nanswer: {serverVersion: true}"
        ),
        vec!["`answer.serverVersion` does not read objects; remove `find`."]
    );
    assert_eq!(
        problems("question: {en: q, zh: q}\nanswer: {apiGroupOf: \" \"}"),
        vec!["`answer.apiGroupOf` is empty; write a kind, e.g. `HorizontalPodAutoscaler`."]
    );
    assert_eq!(
        problems(
            "question: {en: q, zh: q}\nfind: {apiVersion: v1, kind: Node}\nanswer: {count: true}\ncount: 1\nabsent: true"
        ),
        vec![
            "`absent: true` cannot be combined with `question`.",
            "`count` cannot be combined with `question`; to ask how many objects there are, write `answer: {count: true}`.",
            "`absent: true` cannot be combined with `count`; use `count: 0` instead.",
        ]
    );
    assert_eq!(
        problems(
            "question: {en: q, zh: q}\nanswer: {serverVersion: true}\nexpect: {a: 1}\npending: {when: {a: 1}, reason: {en: w, zh: w}}"
        ),
        vec![
            "`expect` needs `find`: it applies to the objects `find` returns.",
            "`pending` needs `find`: it applies to the objects `find` returns.",
        ]
    );
    assert_eq!(
        problems("find: {apiVersion: v1, kind: Node}\nnormalize: version"),
        vec!["`normalize` only applies to a `question`; remove it or add the question."]
    );
}

#[test]
fn capability_misuse() {
    assert_eq!(
        problems("served: {apiVersion: \"\", kind: \" \"}"),
        vec![
            "`served.apiVersion` is empty; write e.g. `metrics.k8s.io/v1beta1`.",
            "`served.kind` is empty; write e.g. `PodMetrics`.",
        ]
    );
    assert_eq!(
        problems("served: {apiVersion: v1, kind: Pod}\nexpect: {a: 1}\nsince: step"),
        vec![
            "`expect` cannot be combined with `served`: it applies to objects, and this check looks at the cluster itself.",
            "`since` cannot be combined with `served`: it applies to objects, and this check looks at the cluster itself.",
        ]
    );
    assert_eq!(
        problems("served: {apiVersion: v1, kind: Pod}\nfind: {apiVersion: v1, kind: Pod}"),
        vec![
            "The check has more than one target: use only one of `find`, `served`, `serverVersion` and `access`."
        ]
    );
    assert_eq!(
        problems("serverVersion: 28"),
        vec![
            "`serverVersion` must be a map over `major`, `minor`, `gitVersion` and `platform`, such as {minor: {$gte: 25}}, not 28."
        ]
    );
    assert_eq!(
        problems("serverVersion: {$gte: 25}"),
        vec![
            "`serverVersion` must be a map over `major`, `minor`, `gitVersion` and `platform`, such as {minor: {$gte: 25}}, not {\"$gte\":25}."
        ]
    );
    assert_eq!(
        problems("serverVersion: {version: \"1.28\", minor: {$gte: x}}"),
        vec![
            "`serverVersion` has `version`, which the server's version does not; use `major`, `minor`, `gitVersion` or `platform`.",
            "`serverVersion` at `minor`: `$gte` needs a number, a quantity such as \"500m\" or an RFC 3339 timestamp, not \"x\".",
        ]
    );
    assert_eq!(
        problems("serverVersion: {minor: {$gte: 25}}\nabsent: true\ncount: 1"),
        vec![
            "`absent: true` cannot be combined with `serverVersion`; write the opposite expectation with `$not`.",
            "`count` cannot be combined with `serverVersion`: it applies to objects, and this check looks at the cluster itself.",
        ]
    );
    assert_eq!(
        problems(
            "serverVersion: {minor: 28}\nquestion: {en: q, zh: q}\nanswer: {serverVersion: true}"
        ),
        vec![
            "`question` cannot be combined with `served` or `serverVersion`; to ask for the server's version, write `answer: {serverVersion: true}`."
        ]
    );
}

#[test]
fn since_misuse() {
    assert_eq!(
        problems("question: {en: q, zh: q}\nanswer: {serverVersion: true}\nsince: step"),
        vec![
            "`since: step` needs `find`: it keeps only the objects created after the learner started the step."
        ]
    );
}

#[test]
fn misused_checks_evaluate_to_errors() {
    let s = spec("find: {apiVersion: v1, kind: Pod, name: b}\nexec: {command: []}");
    assert_eq!(
        evaluate_observed(&s, &with_objects(&[running("b")])),
        error(
            "check `a-check` is written wrongly: `exec.command` has no program; write it as a list, e.g. [\"printenv\", \"FLY_NAME\"] (or [\"sh\", \"-c\", \"...\"] for a shell)."
        )
    );
    assert!(matches!(
        exec_target(&s, &[running("b")], None),
        Err(Verdict::Error { .. })
    ));
}

// ---------------------------------------------------------------- both languages, terminating

/// What the Chinese page shows of a verdict's diagnostics: (path, expected, found).
fn chinese(verdict: &Verdict) -> Vec<(String, String, String)> {
    let diagnostics = match verdict {
        Verdict::Failed { diagnostics, .. } | Verdict::Pending { diagnostics } => diagnostics,
        _ => return Vec::new(),
    };
    diagnostics
        .iter()
        .map(|d| (d.path.clone(), d.expected.zh.clone(), d.actual.zh.clone()))
        .collect()
}

fn zh(path: &str, expected: &str, actual: &str) -> (String, String, String) {
    (path.to_owned(), expected.to_owned(), actual.to_owned())
}

fn terminating(mut object: Value) -> Value {
    object["metadata"]["deletionTimestamp"] = json!("2024-05-01T09:20:00Z");
    object
}

#[test]
fn not_found_names_the_namespace_the_engine_searched() {
    let s = spec("find: {apiVersion: v1, kind: ConfigMap, name: base-map}");
    let observed = Observed {
        namespace: Some("fly-k8s-a1b2c3"),
        ..Observed::default()
    };
    assert_eq!(
        evaluate_observed(&s, &observed),
        failed(
            vec![d(
                "",
                "ConfigMap `base-map` to exist",
                "not found in namespace `fly-k8s-a1b2c3`"
            )],
            None
        )
    );
    assert_eq!(
        chinese(&super::evaluate_observed(&s, &observed)),
        vec![zh(
            "",
            "ConfigMap `base-map` 存在",
            "在命名空间 `fly-k8s-a1b2c3` 中未找到"
        )]
    );
    // The same for exec, events and questions, which settle "not found" themselves.
    assert_eq!(
        target_in(&exec_spec(""), &[], None, Some("fly-k8s")).map_err(english),
        Err(failed(
            vec![d(
                "",
                "Pod `busybox` to exist",
                "not found in namespace `fly-k8s`"
            )],
            None
        ))
    );
    let events = evaluate_observed(
        &events_spec(""),
        &Observed {
            namespace: Some("fly-k8s"),
            ..Observed::default()
        },
    );
    assert_eq!(
        events,
        failed(
            vec![d(
                "",
                "Pod `picky` to exist",
                "not found in namespace `fly-k8s`"
            )],
            None
        )
    );
}

#[test]
fn exec_states_in_chinese() {
    let creating = pod(
        "busybox",
        "Pending",
        Some(json!({"waiting": {"reason": "ContainerCreating"}})),
    );
    let verdict = target_in(&exec_spec(""), &[creating], None, None).unwrap_err();
    assert_eq!(
        chinese(&verdict),
        vec![zh(
            "",
            "容器 `busybox` 正在运行",
            "等待中（ContainerCreating）"
        )]
    );
    let done = pod(
        "busybox",
        "Succeeded",
        Some(json!({"terminated": {"reason": "Completed", "exitCode": 0}})),
    );
    let verdict = target_in(&exec_spec(""), &[done], None, None).unwrap_err();
    assert_eq!(chinese(&verdict)[0].2, "已终止（Completed，退出码 0）");
    let verdict = target_in(
        &exec_spec(", container: app"),
        &[running("busybox")],
        None,
        None,
    )
    .unwrap_err();
    assert_eq!(
        chinese(&verdict)[0].2,
        "此 Pod 中没有容器 `app`（它有 `[\"busybox\",\"sidecar\"]`）"
    );
    let mut unschedulable = pod("busybox", "Pending", None);
    unschedulable["status"]["conditions"] =
        json!([{"type": "PodScheduled", "status": "False", "reason": "Unschedulable"}]);
    let verdict = target_in(&exec_spec(""), &[unschedulable], None, None).unwrap_err();
    assert_eq!(chinese(&verdict)[0].2, "尚未调度（Unschedulable）");
    let verdict = target_in(
        &exec_spec(""),
        &[terminating(running("busybox"))],
        None,
        None,
    )
    .unwrap_err();
    assert_eq!(
        chinese(&verdict),
        vec![zh(
            "",
            "容器 `busybox` 在一个未被删除的 Pod 中运行",
            "`fly-k8s/busybox` 正在删除（Terminating）"
        )]
    );
}

#[test]
fn events_show_what_was_seen_reason_and_message() {
    let picky = [pod("picky", "Pending", None)];
    let long = format!("0/1 nodes are available: {}", "x".repeat(200));
    let seen = [
        event(
            "picky",
            Some("uid-picky"),
            "Scheduled",
            "Successfully assigned fly-k8s/picky to colima",
        ),
        event("picky", Some("uid-picky"), "FailedMount", &long),
    ];
    let verdict = super::evaluate_observed(
        &events_spec(""),
        &Observed {
            objects: &picky,
            events: &seen,
            ..Observed::default()
        },
    );
    let Verdict::Failed { diagnostics, .. } = &verdict else {
        panic!("expected failed: {verdict:?}");
    };
    let actual = &diagnostics[0].actual.en;
    assert!(
        actual.starts_with("`Scheduled`: Successfully assigned fly-k8s/picky to colima; `FailedMount`: 0/1 nodes are available: xxx"),
        "{actual}"
    );
    assert!(actual.ends_with('…'), "{actual}");
    // The messages cut short unfold whole.
    let full = diagnostics[0].actual_full.as_deref().unwrap_or_default();
    assert!(full.ends_with(&long), "{full}");
    assert!(
        full.starts_with("Scheduled: Successfully assigned"),
        "{full}"
    );
    assert_eq!(
        diagnostics[0].expected.zh,
        "`message` 包含 `\"didn't match\"`、`reason` 为 `\"FailedScheduling\"` 的事件"
    );
    // Many events: the first few, then how many more.
    let many: Vec<Value> = (0..8)
        .map(|i| event("picky", Some("uid-picky"), "BackOff", &format!("try {i}")))
        .collect();
    let verdict = super::evaluate_observed(
        &events_spec(""),
        &Observed {
            objects: &picky,
            events: &many,
            ..Observed::default()
        },
    );
    let Verdict::Failed { diagnostics, .. } = &verdict else {
        panic!("expected failed: {verdict:?}");
    };
    assert!(
        diagnostics[0]
            .actual
            .en
            .ends_with("`BackOff`: try 4; and 3 more"),
        "{:?}",
        diagnostics[0]
    );
    assert!(
        diagnostics[0]
            .actual
            .zh
            .ends_with("`BackOff`: try 4；另有 3 条"),
        "{:?}",
        diagnostics[0]
    );
    assert_eq!(
        diagnostics[0]
            .actual_full
            .as_deref()
            .map(|f| f.lines().count()),
        Some(8)
    );
    assert_eq!(
        chinese(&super::evaluate_observed(
            &events_spec(""),
            &Observed {
                objects: &picky,
                ..Observed::default()
            },
        ))[0]
            .2,
        "没有事件"
    );
}

#[test]
fn events_of_objects_being_deleted() {
    let going = [terminating(pod("picky", "Pending", None))];
    let failing = event(
        "picky",
        Some("uid-picky"),
        "FailedScheduling",
        "1 node(s) didn't match",
    );
    // Being deleted, its events no longer show the object is there.
    assert_eq!(
        judge_events(&events_spec(""), &going, std::slice::from_ref(&failing)),
        failed(
            vec![d(
                "",
                "Pod `picky` to exist",
                "`fly-k8s/picky` being deleted (Terminating)"
            )],
            None
        )
    );
    // "No such event" waits until the object is gone.
    assert_eq!(
        judge_events(&events_spec("absent: true"), &going, &[failing]),
        pending(vec![d(
            "",
            "no Pod `picky`",
            "`fly-k8s/picky` being deleted (Terminating)"
        )])
    );
}

#[test]
fn questions_read_objects_that_stay() {
    let s = spec(
        "question: {en: How many Pods run?, zh: 运行着几个 Pod？}\nfind: {apiVersion: v1, kind: Pod, selector: app=demo}\nanswer: {count: true}\nnormalize: number",
    );
    let pods = [running("a"), terminating(running("b"))];
    assert_eq!(ask(&s, &pods, Some("1")), Verdict::Passed);
    assert_eq!(ask(&s, &pods, Some("2")), wrong("2"));
    let node_field = kubelet_question();
    let mut going = node("v1.28.7+k3s1", "docker://24.0.7");
    going["metadata"]["deletionTimestamp"] = json!("2024-05-01T09:20:00Z");
    assert_eq!(
        ask(&node_field, &[going], Some("v1.28.7")),
        failed(
            vec![d(
                "",
                "a Node to exist",
                "`colima` being deleted (Terminating)"
            )],
            None
        )
    );
    assert_eq!(
        chinese(&super::evaluate_observed(&s, &with_objects(&pods))),
        vec![zh("answer", "你的回答", "尚未回答")]
    );
}

#[test]
fn since_step_does_not_count_new_objects_being_deleted() {
    let s = spec(
        "find: {apiVersion: v1, kind: Pod, selector: app=demo}\nsince: step\ncount: {$gte: 1}",
    );
    let new_but_going = terminating(created(running("demo-new"), "2024-05-01T09:13:00Z"));
    assert_eq!(
        since(&s, &[new_but_going], Some(STARTED)),
        failed(
            vec![d(
                "",
                "matching objects: at least 1",
                "0 matching (of 1 found, 1 being deleted)"
            )],
            None
        )
    );
    let nothing = super::evaluate_observed(
        &s,
        &Observed {
            step_started: Some(STARTED),
            ..Observed::default()
        },
    );
    assert_eq!(
        chinese(&nothing),
        vec![zh(
            "",
            "你开始本步骤之后创建的 Pod",
            "自 09:12:03 UTC 以来没有新建"
        )]
    );
}

#[test]
fn capabilities_in_chinese_and_in_the_authors_words() {
    let s = spec("served: {apiVersion: metrics.k8s.io/v1beta1, kind: PodMetrics}");
    let not = Observed {
        served: Some(false),
        ..Observed::default()
    };
    assert_eq!(
        chinese(&super::evaluate_observed(&s, &not)),
        vec![zh(
            "",
            "集群提供 `PodMetrics`（`metrics.k8s.io/v1beta1`）",
            "未提供"
        )]
    );
    let described = spec(
        "served: {apiVersion: metrics.k8s.io/v1beta1, kind: PodMetrics}\ndescribe: {en: the metrics API, zh: metrics API}",
    );
    assert_eq!(
        evaluate_observed(&described, &not),
        failed(vec![d("", "the metrics API", "not served")], None)
    );
}

#[test]
fn events_in_the_authors_words() {
    let picky = [pod("picky", "Pending", None)];
    let s = spec(
        "find: {apiVersion: v1, kind: Pod, name: picky}\nevents:\n  reason: FailedScheduling\n  $describe: {en: the scheduler's complaint, zh: 调度器的报错}",
    );
    assert_eq!(validate(&s), Vec::<String>::new());
    assert_eq!(
        judge_events(&s, &picky, &[]),
        failed(
            vec![d("events", "the scheduler's complaint", "no events")],
            None
        )
    );
    // `describe` on the check words it as a whole, here with a count.
    let counted = spec(
        "find: {apiVersion: v1, kind: Pod, name: picky}\nevents: {reason: BackOff}\ncount: {$gte: 3}\ndescribe: {en: three restarts backing off, zh: 三次退避重启}",
    );
    assert_eq!(
        chinese(&super::evaluate_observed(
            &counted,
            &Observed {
                objects: &picky,
                ..Observed::default()
            }
        )),
        vec![zh("events", "三次退避重启", "0 条匹配（共 0 条事件）")]
    );
}
