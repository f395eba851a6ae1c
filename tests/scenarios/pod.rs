//! Scenarios: the `pod` lab — the two-container Pod `pair` (its shape and readiness), the exec
//! checks from inside it (localhost, hostname, the shared volume, separate processes), the
//! Pod-IP question, and `pair-shared-pid` with `shareProcessNamespace`.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

use super::{Env, check_with_answers, env};
use crate::support::{ExecCall, ExecReply};

const LAB: &str = "pod";
const NS: &str = "default";

fn pair(env: &Env) -> Value {
    env.fake
        .get("v1", "Pod", Some(NS), "pair")
        .expect("pair exists")
}

/// A container status as the kubelet reports it.
fn container(name: &str, ready: bool, state: Value) -> Value {
    json!({"name": name, "ready": ready, "restartCount": 0, "image": "busybox:1.36",
        "started": state.get("running").is_some(), "state": state})
}

fn running() -> Value {
    json!({"running": {"startedAt": "2026-11-29T09:00:00Z"}})
}

/// pair's status with the given container statuses, as the kubelet writes it.
fn pair_status(env: &Env, phase: &str, statuses: Value) {
    env.fake
        .patch_status(
            "v1",
            "Pod",
            Some(NS),
            "pair",
            json!({"phase": phase, "podIP": "10.42.0.17", "hostIP": "192.168.5.15",
                "containerStatuses": statuses}),
        )
        .expect("status written");
}

/// The learner's own Pod `pair`, built from the given containers and volumes.
fn own_pair(containers: Value, volumes: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "pair", "namespace": NS},
        "spec": {"containers": containers, "volumes": volumes}
    })
}

/// The `shared` emptyDir of pair: path -> content, as both containers see it.
type SharedDir = Arc<Mutex<BTreeMap<String, String>>>;

/// Makes the fake's containers behave like the lab's busybox containers: httpd in web answers
/// on localhost:8080 (unless `web_serving` is false), the hostname is the Pod's name, `cat`
/// reads the shared volume, `ps` shows other containers' processes only in pair-shared-pid.
fn busybox_pair(env: &Env, web_serving: bool) -> SharedDir {
    let shared: SharedDir = Arc::new(Mutex::new(BTreeMap::from([(
        "/shared/from-web.txt".to_owned(),
        "written by web at Sun Nov 29 09:00:00 UTC 2026\n".to_owned(),
    )])));
    let files = shared.clone();
    env.fake.set_exec_handler(move |call: ExecCall| {
        let args: Vec<&str> = call.command.iter().map(String::as_str).collect();
        match args.as_slice() {
            ["wget", "-qO-", "http://localhost:8080"] if web_serving => {
                ExecReply::ok("hello from the web container\n")
            }
            ["wget", ..] => ExecReply::fail(
                "wget: can't connect to remote host (127.0.0.1): Connection refused\n",
                1,
            ),
            ["hostname"] => ExecReply::ok(format!("{}\n", call.pod)),
            ["cat", path] => match files.lock().expect("shared dir").get(*path) {
                Some(text) => ExecReply::ok(text.clone()),
                None => ExecReply::fail(
                    format!("cat: can't open '{path}': No such file or directory\n"),
                    1,
                ),
            },
            ["ps"] if call.pod == "pair-shared-pid" => ExecReply::ok(
                "PID   USER     TIME  COMMAND\n    1 65535     0:00 /pause\n   13 root      0:00 httpd -f -p 8080 -h /www\n   14 root      0:00 sh -c trap 'exit 0' TERM; while true; do sleep 3600 & wait $!; done\n   30 root      0:00 ps\n",
            ),
            ["ps"] => ExecReply::ok(
                "PID   USER     TIME  COMMAND\n    1 root      0:00 sh -c trap 'exit 0' TERM; while true; do sleep 3600 & wait $!; done\n    7 root      0:00 sleep 3600\n   13 root      0:00 ps\n",
            ),
            _ => ExecReply::fail(format!("sh: {}: not found\n", args.join(" ")), 127),
        }
    });
    shared
}

/// Sets up pair and lets the simulated kubelet start it.
async fn running_pair(env: &Env) {
    env.fake.simulate_workloads(true);
    env.setup(LAB, "create-pod").await;
    env.check_until(LAB, "create-pod", "passed").await;
}

#[tokio::test]
async fn from_the_sidecar_localhost_is_the_web_container() {
    let env = env().await;
    busybox_pair(&env, true);
    running_pair(&env).await;
    let ip = pair(&env)["status"]["podIP"]
        .as_str()
        .expect("pair has an IP")
        .to_owned();
    check_with_answers(&env, LAB, "shared-network", json!({"pod-ip": ip}))
        .await
        .assert_all_passed();
}

#[tokio::test]
async fn a_web_server_that_does_not_answer_fails_the_localhost_check() {
    let env = env().await;
    busybox_pair(&env, false);
    running_pair(&env).await;
    let report = env.check(LAB, "shared-network").await;
    assert_eq!(
        report.verdict("localhost-from-sidecar"),
        "failed",
        "{}",
        report.0
    );
    let diags = report.diagnostics("localhost-from-sidecar");
    assert!(
        diags
            .iter()
            .any(|(p, e, a)| p == "exitCode" && e == "`0`" && a == "`1`"),
        "{diags:?}"
    );
    assert!(diags.iter().any(|(p, _, _)| p == "stdout"), "{diags:?}");
    assert_eq!(report.verdict("same-hostname"), "passed");
}

#[tokio::test]
async fn files_pass_both_ways_through_the_shared_volume() {
    let env = env().await;
    let shared = busybox_pair(&env, true);
    running_pair(&env).await;

    let report = env.check(LAB, "shared-volume").await;
    assert_eq!(
        report.verdict("sidecar-reads-web-file"),
        "passed",
        "{}",
        report.0
    );
    assert_eq!(report.verdict("web-reads-sidecar-file"), "failed");
    assert!(
        report
            .diagnostics("web-reads-sidecar-file")
            .iter()
            .any(|(p, e, a)| p == "exitCode" && e == "`0`" && a == "`1`"),
        "{:?}",
        report.diagnostics("web-reads-sidecar-file")
    );

    // kubectl exec pair -c sidecar -- sh -c 'echo hello from sidecar > /shared/from-sidecar.txt'
    shared.lock().expect("shared dir").insert(
        "/shared/from-sidecar.txt".to_owned(),
        "hello from sidecar\n".to_owned(),
    );
    env.check(LAB, "shared-volume").await.assert_all_passed();
}

#[tokio::test]
async fn processes_are_shared_only_with_share_process_namespace() {
    let env = env().await;
    busybox_pair(&env, true);
    running_pair(&env).await;
    env.setup(LAB, "process-namespace").await;
    env.check_until(LAB, "process-namespace", "passed")
        .await
        .assert_all_passed();
}

#[tokio::test]
async fn a_pair_that_shares_processes_fails_pid_separate() {
    let env = env().await;
    env.fake.set_exec_handler(|call: ExecCall| match call.command.as_slice() {
        [ps] if ps == "ps" => {
            ExecReply::ok("PID   USER     TIME  COMMAND\n    1 65535     0:00 /pause\n   13 root      0:00 httpd -f -p 8080 -h /www\n")
        }
        _ => ExecReply::fail("not found\n", 127),
    });
    running_pair(&env).await;
    let report = env.check(LAB, "process-namespace").await;
    assert_eq!(report.verdict("pid-separate"), "failed", "{}", report.0);
    let diags = report.diagnostics("pid-separate");
    assert!(
        diags
            .iter()
            .any(|(p, _, a)| p == "stdout" && a.contains("httpd")),
        "{diags:?}"
    );
}

#[tokio::test]
async fn set_up_creates_pair_and_it_becomes_ready() {
    let env = env().await;
    let report = env.setup(LAB, "create-pod").await;
    let applied: Vec<(String, String, String)> = report["applied"]
        .as_array()
        .expect("applied")
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap_or("").to_owned(),
                a["name"].as_str().unwrap_or("").to_owned(),
                a["action"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        applied,
        vec![("Pod".into(), "pair".into(), "created".into())]
    );
    let spec = &pair(&env)["spec"];
    assert_eq!(spec["containers"][0]["name"], "web");
    assert_eq!(spec["containers"][1]["name"], "sidecar");

    // The shape is right at once; readiness takes the kubelet a moment.
    let report = env.check(LAB, "create-pod").await;
    assert_eq!(report.verdict("two-containers"), "passed", "{}", report.0);
    assert_eq!(report.verdict("both-ready"), "pending", "{}", report.0);

    env.fake.simulate_workloads(true);
    env.check_until(LAB, "create-pod", "passed")
        .await
        .assert_all_passed();
}

#[tokio::test]
async fn one_container_still_starting_is_pending() {
    let env = env().await;
    env.setup(LAB, "create-pod").await;
    // web runs but its readiness probe has not succeeded yet: READY 1/2.
    pair_status(
        &env,
        "Running",
        json!([
            container("web", false, running()),
            container("sidecar", true, running())
        ]),
    );
    let report = env.check(LAB, "create-pod").await;
    assert_eq!(report.verdict("both-ready"), "pending", "{}", report.0);
    let diags = report.diagnostics("both-ready");
    assert!(
        diags
            .iter()
            .any(|(p, e, a)| p == "status.containerStatuses[name=web].ready"
                && e == "`true`"
                && a == "`false`"),
        "{diags:?}"
    );
}

#[tokio::test]
async fn a_crash_looping_container_fails_with_its_name() {
    let env = env().await;
    env.setup(LAB, "create-pod").await;
    pair_status(
        &env,
        "Running",
        json!([
            container("web", true, running()),
            container(
                "sidecar",
                false,
                json!({"waiting": {"reason": "CrashLoopBackOff",
                "message": "back-off 20s restarting failed container=sidecar"}})
            )
        ]),
    );
    let report = env.check(LAB, "create-pod").await;
    assert_eq!(report.verdict("two-containers"), "passed");
    assert_eq!(report.verdict("both-ready"), "failed", "{}", report.0);
    assert_eq!(
        report.diagnostics("both-ready"),
        vec![(
            "status.containerStatuses[name=sidecar].ready".to_owned(),
            "`true`".to_owned(),
            "`false`".to_owned()
        )]
    );
    assert_eq!(report.status(), "failed");
}

#[tokio::test]
async fn a_pod_without_the_sidecar_fails() {
    let env = env().await;
    let mut pod = own_pair(
        json!([{"name": "web", "image": "busybox:1.36",
            "volumeMounts": [{"name": "shared", "mountPath": "/shared"}]}]),
        json!([{"name": "shared", "emptyDir": {}}]),
    );
    pod["status"] =
        json!({"phase": "Running", "containerStatuses": [container("web", true, running())]});
    env.put(pod);
    let report = env.check(LAB, "create-pod").await;
    assert_eq!(report.verdict("two-containers"), "failed");
    let diags = report.diagnostics("two-containers");
    assert!(
        diags.iter().any(|(p, e, _)| p == "spec.containers"
            && e.starts_with("an element with")
            && e.contains("`\"sidecar\"`")),
        "{diags:?}"
    );
    // One ready container out of one is not "both ready".
    assert_eq!(report.verdict("both-ready"), "pending", "{}", report.0);
    assert!(
        report
            .diagnostics("both-ready")
            .iter()
            .any(|(p, _, _)| p == "status.containerStatuses"),
        "{:?}",
        report.diagnostics("both-ready")
    );
}

#[tokio::test]
async fn a_volume_that_only_one_container_mounts_fails() {
    let env = env().await;
    // The API server still gives the sidecar its service-account token mount.
    env.put(own_pair(
        json!([
            {"name": "web", "image": "busybox:1.36",
                "volumeMounts": [{"name": "shared", "mountPath": "/shared"}]},
            {"name": "sidecar", "image": "busybox:1.36"}
        ]),
        json!([{"name": "shared", "hostPath": {"path": "/tmp/shared"}}]),
    ));
    let report = env.check(LAB, "create-pod").await;
    assert_eq!(report.verdict("two-containers"), "failed");
    let diags = report.diagnostics("two-containers");
    assert!(
        diags.iter().any(
            |(p, e, a)| p == "spec.containers[name=sidecar].volumeMounts"
                && e.starts_with("an element with")
                && a.contains("kube-api-access")
        ),
        "{diags:?}"
    );
    assert!(
        diags
            .iter()
            .any(|(p, e, a)| p == "spec.volumes[name=shared].emptyDir"
                && e == "present"
                && a == "missing"),
        "{diags:?}"
    );
}

#[tokio::test]
async fn exec_checks_wait_while_the_containers_start() {
    let env = env().await;
    env.setup(LAB, "create-pod").await;
    pair_status(
        &env,
        "Pending",
        json!([
            container(
                "web",
                false,
                json!({"waiting": {"reason": "ContainerCreating"}})
            ),
            container(
                "sidecar",
                false,
                json!({"waiting": {"reason": "ContainerCreating"}})
            )
        ]),
    );
    let report = env.check(LAB, "shared-network").await;
    for id in ["localhost-from-sidecar", "same-hostname"] {
        assert_eq!(report.verdict(id), "pending", "{id}: {}", report.0);
        let diags = report.diagnostics(id);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].0, "");
        assert_eq!(diags[0].1, "container `sidecar` running");
        assert!(diags[0].2.contains("ContainerCreating"), "{diags:?}");
    }
    let report = env.check(LAB, "shared-volume").await;
    assert_eq!(report.verdict("sidecar-reads-web-file"), "pending");
    assert_eq!(report.verdict("web-reads-sidecar-file"), "pending");
    assert_eq!(
        report.diagnostics("web-reads-sidecar-file")[0].1,
        "container `web` running"
    );
}

#[tokio::test]
async fn exec_checks_fail_when_the_pod_is_gone() {
    let env = env().await;
    let report =
        check_with_answers(&env, LAB, "shared-network", json!({"pod-ip": "10.42.0.17"})).await;
    for id in ["localhost-from-sidecar", "same-hostname", "pod-ip"] {
        assert_eq!(report.verdict(id), "failed", "{id}: {}", report.0);
        let diags = report.diagnostics(id);
        assert_eq!(
            diags,
            vec![(
                "".to_owned(),
                "Pod `pair` to exist".to_owned(),
                "not found in namespace `default`".to_owned()
            )]
        );
    }
}

#[tokio::test]
async fn the_pod_ip_is_answered_from_the_cluster() {
    let env = env().await;
    env.fake.simulate_workloads(true);
    env.setup(LAB, "create-pod").await;
    env.check_until(LAB, "create-pod", "passed").await;
    let ip = pair(&env)["status"]["podIP"]
        .as_str()
        .expect("the simulated kubelet gave pair an IP")
        .to_owned();

    let report = env.check(LAB, "shared-network").await;
    assert_eq!(report.verdict("pod-ip"), "pending");
    assert_eq!(
        report.diagnostics("pod-ip"),
        vec![(
            "answer".to_owned(),
            "your answer".to_owned(),
            "not answered yet".to_owned()
        )]
    );

    // The node's address is not the Pod's.
    let report = check_with_answers(
        &env,
        LAB,
        "shared-network",
        json!({"pod-ip": "192.168.5.15"}),
    )
    .await;
    assert_eq!(report.verdict("pod-ip"), "failed");
    assert_eq!(
        report.diagnostics("pod-ip"),
        vec![(
            "answer".to_owned(),
            "the value on your cluster".to_owned(),
            "`\"192.168.5.15\"`".to_owned()
        )]
    );

    let report = check_with_answers(
        &env,
        LAB,
        "shared-network",
        json!({"pod-ip": format!(" {ip} ")}),
    )
    .await;
    assert_eq!(report.verdict("pod-ip"), "passed", "{}", report.0);
}

#[tokio::test]
async fn set_up_creates_the_shared_pid_pod() {
    let env = env().await;
    let report = env.check(LAB, "process-namespace").await;
    assert_eq!(report.verdict("shared-pid-enabled"), "failed");
    assert_eq!(
        report.diagnostics("shared-pid-enabled"),
        vec![(
            "".to_owned(),
            "Pod `pair-shared-pid` to exist".to_owned(),
            "not found in namespace `default`".to_owned()
        )]
    );

    env.setup(LAB, "process-namespace").await;
    let pod = env
        .fake
        .get("v1", "Pod", Some(NS), "pair-shared-pid")
        .expect("pair-shared-pid exists");
    assert_eq!(pod["spec"]["shareProcessNamespace"], true);
    let report = env.check(LAB, "process-namespace").await;
    assert_eq!(
        report.verdict("shared-pid-enabled"),
        "passed",
        "{}",
        report.0
    );
    // Its container is not running yet, so the ps inside it waits.
    assert_eq!(
        report.verdict("shared-pid-sees-httpd"),
        "pending",
        "{}",
        report.0
    );
}

#[tokio::test]
async fn a_pod_of_that_name_without_shared_pids_fails() {
    let env = env().await;
    env.put(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "pair-shared-pid", "namespace": NS},
        "spec": {"containers": [{"name": "web", "image": "busybox:1.36"},
            {"name": "sidecar", "image": "busybox:1.36"}]}
    }));
    let report = env.check(LAB, "process-namespace").await;
    assert_eq!(report.verdict("shared-pid-enabled"), "failed");
    assert_eq!(
        report.diagnostics("shared-pid-enabled"),
        vec![(
            "spec.shareProcessNamespace".to_owned(),
            "`true`".to_owned(),
            "missing".to_owned()
        )]
    );
}

#[tokio::test]
async fn reset_deletes_both_pods() {
    let env = env().await;
    env.setup(LAB, "create-pod").await;
    env.setup(LAB, "process-namespace").await;
    let (status, body) = env.app.post_json(&format!("/api/labs/{LAB}/reset")).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        env.fake
            .wait_for(std::time::Duration::from_secs(5), |f| {
                f.get("v1", "Pod", Some(NS), "pair").is_none()
                    && f.get("v1", "Pod", Some(NS), "pair-shared-pid").is_none()
            })
            .await,
        "Reset lab should delete pair and pair-shared-pid"
    );
}
