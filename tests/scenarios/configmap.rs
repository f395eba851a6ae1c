//! The `configmap` lab: namespace fly-k8s, ConfigMap base-map, Pod busybox wired to it, a change.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Env, env, next_second};
use crate::support::ExecReply;

const LAB: &str = "configmap";
const NS: &str = "fly-k8s";

fn busybox(env: &Env) -> Value {
    env.fake
        .get("v1", "Pod", Some(NS), "busybox")
        .expect("busybox exists")
}

fn base_map(env: &Env) -> Value {
    env.fake
        .get("v1", "ConfigMap", Some(NS), "base-map")
        .expect("base-map exists")
}

#[tokio::test]
async fn set_up_creates_the_namespace_then_the_configmap() {
    let env = env().await;
    let report = env.setup(LAB, "create-configmap").await;
    let applied: Vec<(String, String, String, String)> = report["applied"]
        .as_array()
        .expect("applied")
        .iter()
        .map(|a| {
            (
                a["kind"].as_str().unwrap_or("").to_owned(),
                a["namespace"].as_str().unwrap_or("").to_owned(),
                a["name"].as_str().unwrap_or("").to_owned(),
                a["action"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect();
    assert_eq!(
        applied,
        vec![
            ("Namespace".into(), "".into(), NS.into(), "created".into()),
            (
                "ConfigMap".into(),
                NS.into(),
                "base-map".into(),
                "created".into()
            ),
        ]
    );
    let cm = base_map(&env);
    assert_eq!(cm["data"]["fly-name"], "kubelab");
    assert!(
        cm["data"]["game.properties"]
            .as_str()
            .is_some_and(|p| p.contains("player.maximum-lives=5"))
    );
    env.check(LAB, "create-configmap").await.assert_all_passed();
}

#[tokio::test]
async fn a_configmap_missing_a_key_fails_with_the_key_named() {
    let env = env().await;
    env.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}));
    env.put(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "base-map", "namespace": NS},
        "data": {"fly-name": "me", "application.yaml": "server:\n  port: 8080\n"}
    }));
    let report = env.check(LAB, "create-configmap").await;
    assert_eq!(report.verdict("namespace-active"), "passed");
    assert_eq!(report.verdict("configmap-keys"), "failed");
    let diags = report.diagnostics("configmap-keys");
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].0, "data[\"game.properties\"]");
    assert_eq!(diags[0].2, "missing");
}

#[tokio::test]
async fn pod_wiring_is_checked_field_by_field() {
    let env = env().await;
    env.setup(LAB, "create-configmap").await;
    env.setup(LAB, "pod").await;
    // The wiring is right from the start; the Pod is only starting.
    let report = env.check(LAB, "pod").await;
    for id in ["env-from-configmap", "config-volume", "config-mounted"] {
        assert_eq!(report.verdict(id), "passed", "{id}: {}", report.0);
    }
    assert_eq!(report.verdict("pod-ready"), "pending", "{}", report.0);
    assert_eq!(report.status(), "pending");

    // A Pod that reads the wrong key and mounts somewhere else (Pods are immutable: the
    // learner replaces it, as `kubectl replace --force` does).
    let mut pod = busybox(&env);
    env.fake
        .delete("v1", "Pod", Some(NS), "busybox")
        .expect("delete");
    pod["metadata"]
        .as_object_mut()
        .expect("metadata")
        .retain(|k, _| k == "name" || k == "namespace" || k == "labels");
    pod["spec"]["containers"][0]["env"][0]["valueFrom"]["configMapKeyRef"]["key"] = json!("name");
    pod["spec"]["containers"][0]["volumeMounts"][0]["mountPath"] = json!("/etc/config");
    env.put(pod);
    let report = env.check(LAB, "pod").await;
    assert_eq!(report.verdict("env-from-configmap"), "failed");
    let diags = report.diagnostics("env-from-configmap");
    assert!(
        diags.iter().any(|(p, e, a)| p
            == "spec.containers[name=busybox].env[name=FLY_NAME].valueFrom.configMapKeyRef.key"
            && e == "`\"fly-name\"`"
            && a == "`\"name\"`"),
        "{diags:?}"
    );
    assert_eq!(report.verdict("config-mounted"), "failed");
    assert_eq!(report.status(), "failed");
}

#[tokio::test]
async fn pod_runs_and_stays_ready_with_a_kubelet() {
    let env = env().await;
    env.fake.simulate_workloads(true);
    env.setup(LAB, "create-configmap").await;
    env.setup(LAB, "pod").await;
    env.check_until(LAB, "pod", "passed").await;
    env.check(LAB, "look-inside").await.assert_all_passed();
}

#[tokio::test]
async fn look_inside_runs_the_commands_in_the_container() {
    let env = env().await;
    env.fake.simulate_workloads(true);
    env.setup(LAB, "create-configmap").await;
    env.setup(LAB, "pod").await;
    env.check_until(LAB, "pod", "passed").await;
    env.fake.clear_requests();
    let report = env.check(LAB, "look-inside").await;
    for id in ["env-inside", "game-file-inside", "only-listed-keys"] {
        assert_eq!(report.verdict(id), "passed", "{id}: {}", report.0);
    }
    // The commands went to the container through the API server's exec subresource.
    let execs: Vec<_> = env
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.path == format!("/api/v1/namespaces/{NS}/pods/busybox/exec"))
        .collect();
    assert_eq!(execs.len(), 3, "one exec per check: {execs:?}");
    assert!(
        execs
            .iter()
            .all(|r| r.query.get("container").map(String::as_str) == Some("busybox")),
        "{execs:?}"
    );
}

/// Replaces Pod busybox with `pod` (Pods are immutable: `kubectl replace --force` deletes, waits
/// until the old Pod is gone and creates again), as the learner's own manifest or a changed copy
/// of the lab's. The kubelet's grace period is cut short: these tests are not about it.
async fn replace_busybox(env: &Env, mut pod: Value) {
    let _ = env.fake.delete("v1", "Pod", Some(NS), "busybox");
    env.fake.finish_pod_termination(NS, "busybox");
    assert!(
        env.fake
            .wait_for(Duration::from_secs(5), |f| f
                .get("v1", "Pod", Some(NS), "busybox")
                .is_none())
            .await,
        "the old Pod busybox is still there"
    );
    pod["metadata"]
        .as_object_mut()
        .expect("metadata")
        .retain(|k, _| k == "name" || k == "namespace" || k == "labels");
    if let Some(pod) = pod.as_object_mut() {
        pod.remove("status");
    }
    env.put(pod);
}

#[tokio::test]
async fn look_inside_shows_what_a_differently_wired_container_prints() {
    let env = env().await;
    env.fake.simulate_workloads(true);
    env.setup(LAB, "create-configmap").await;
    // The learner's own Pod: no FLY_NAME, and the whole ConfigMap mounted (no items).
    env.put(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "busybox", "namespace": NS},
        "spec": {
            "containers": [{"name": "busybox", "image": "busybox:1.36",
                "command": ["sleep", "3600"],
                "volumeMounts": [{"name": "config", "mountPath": "/config"}]}],
            "volumes": [{"name": "config", "configMap": {"name": "base-map"}}]
        }
    }));
    let report = env.check_until(LAB, "look-inside", "failed").await;
    assert_eq!(report.verdict("pod-still-ready"), "passed", "{}", report.0);

    assert_eq!(report.verdict("env-inside"), "failed");
    let diags = report.diagnostics("env-inside");
    assert!(
        diags.contains(&("exitCode".to_owned(), "`0`".to_owned(), "`1`".to_owned())),
        "printenv exits 1 for a variable that is not set: {diags:?}"
    );
    assert!(
        diags.iter().any(|(p, _, a)| p == "stdout" && a == "`\"\"`"),
        "{diags:?}"
    );

    // Without items every key is a file: fly-name shows up in /config.
    assert_eq!(report.verdict("only-listed-keys"), "failed");
    let diags = report.diagnostics("only-listed-keys");
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(diags[0].0, "stdout");
    assert!(diags[0].2.contains("fly-name"), "{diags:?}");

    // The file itself is there either way.
    assert_eq!(report.verdict("game-file-inside"), "passed", "{}", report.0);

    // Mounted somewhere else: cat finds nothing, and says so.
    let mut pod = busybox(&env);
    pod["spec"]["containers"][0]["volumeMounts"][0]["mountPath"] = json!("/etc/config");
    replace_busybox(&env, pod).await;
    let report = env.check_until(LAB, "look-inside", "failed").await;
    assert_eq!(report.verdict("game-file-inside"), "failed", "{}", report.0);
    let diags = report.diagnostics("game-file-inside");
    assert!(
        diags.contains(&("exitCode".to_owned(), "`0`".to_owned(), "`1`".to_owned())),
        "{diags:?}"
    );
}

#[tokio::test]
async fn look_inside_waits_for_a_starting_container_and_fails_a_stuck_one() {
    let env = env().await;
    env.setup(LAB, "create-configmap").await;
    env.setup(LAB, "pod").await;
    // No kubelet yet: the Pod is Pending, so nothing can run in it: pending, with the reason.
    let report = env.check(LAB, "look-inside").await;
    assert_eq!(report.status(), "pending", "{}", report.0);
    for id in ["env-inside", "game-file-inside", "only-listed-keys"] {
        assert_eq!(report.verdict(id), "pending", "{id}: {}", report.0);
        let diags = report.diagnostics(id);
        assert_eq!(diags.len(), 1, "{diags:?}");
        assert_eq!(diags[0].0, "");
        assert_eq!(diags[0].1, "container `busybox` running");
        assert!(
            report.check(id)["pending_reason"]["en"]
                .as_str()
                .is_some_and(|r| r.contains("not running yet")),
            "{}",
            report.0
        );
    }
    assert!(
        !env.fake
            .requests()
            .iter()
            .any(|r| r.path.ends_with("/exec")),
        "no command is sent to a container that does not run"
    );

    // A ConfigMap without fly-name: the kubelet cannot build the environment and gives up
    // with CreateContainerConfigError, which waiting does not fix.
    replace_busybox(&env, busybox(&env)).await;
    let mut cm = base_map(&env);
    cm["data"].as_object_mut().expect("data").remove("fly-name");
    env.put(cm);
    env.fake.simulate_workloads(true);
    let stuck = env
        .fake
        .wait_for(Duration::from_secs(10), |f| {
            f.get("v1", "Pod", Some(NS), "busybox").is_some_and(|p| {
                p["status"]["containerStatuses"][0]["state"]["waiting"]["reason"]
                    == "CreateContainerConfigError"
            })
        })
        .await;
    assert!(
        stuck,
        "the simulated kubelet reports CreateContainerConfigError"
    );
    let report = env.check(LAB, "look-inside").await;
    assert_eq!(report.status(), "failed", "{}", report.0);
    assert_eq!(report.verdict("env-inside"), "failed", "{}", report.0);
    assert_eq!(
        report.diagnostics("env-inside"),
        vec![(
            String::new(),
            "container `busybox` running".to_owned(),
            "waiting (CreateContainerConfigError)".to_owned()
        )]
    );
}

/// The lab's `kubectl patch`: new fly-name, three lives.
fn patch_base_map(env: &Env) {
    let mut cm = base_map(env);
    cm["data"]["fly-name"] = json!("kubelab-v2");
    cm["data"]["game.properties"] = json!("enemy.types=aliens,monsters\nplayer.maximum-lives=3\n");
    env.put(cm);
}

/// The step starts a moment after the Pod of the earlier step is running, as when the learner
/// reaches it: that Pod is then older than the step.
async fn start_change_config(env: &Env) {
    next_second().await;
    env.start_step(LAB, "change-config").await;
}

/// Asserts that `id` failed because no Pod busybox was created since the step started.
fn assert_no_new_pod(report: &super::Report, id: &str) {
    assert_eq!(report.verdict(id), "failed", "{id}: {}", report.0);
    let diags = report.diagnostics(id);
    assert_eq!(diags.len(), 1, "{diags:?}");
    assert_eq!(
        diags[0].1,
        "Pod `busybox` created after you started this step"
    );
    assert!(diags[0].2.starts_with("none since"), "{diags:?}");
}

#[tokio::test]
async fn changing_the_configmap_is_noticed() {
    let env = env().await;
    env.fake.simulate_workloads(true);
    env.setup(LAB, "create-configmap").await;
    env.setup(LAB, "pod").await;
    env.check_until(LAB, "pod", "passed").await;
    start_change_config(&env).await;

    let report = env.check(LAB, "change-config").await;
    assert_eq!(report.verdict("fly-name-changed"), "failed");
    assert_eq!(
        report.diagnostics("fly-name-changed"),
        vec![(
            "data.fly-name".to_owned(),
            "anything but `\"kubelab\"`".to_owned(),
            "`\"kubelab\"`".to_owned()
        )]
    );
    assert_eq!(report.verdict("lives-changed"), "failed");
    // The Pod from before the step is running, but it was not recreated: it does not count.
    assert_no_new_pod(&report, "pod-back-up");
    assert_eq!(report.status(), "failed");

    patch_base_map(&env);
    let report = env.check(LAB, "change-config").await;
    for id in ["fly-name-changed", "lives-changed", "file-follows"] {
        assert_eq!(report.verdict(id), "passed", "{id}: {}", report.0);
    }
    // The running container keeps the value it started with, however long the learner waits:
    // only a Pod created during the step can pass.
    assert_no_new_pod(&report, "env-after-restart");
    assert_no_new_pod(&report, "pod-back-up");
    assert_eq!(report.status(), "failed");
}

#[tokio::test]
async fn mounted_file_follows_after_the_kubelet_sync_but_env_waits_for_a_new_pod() {
    let env = env().await;
    env.fake.simulate_workloads(true);
    env.setup(LAB, "create-configmap").await;
    env.setup(LAB, "pod").await;
    env.check_until(LAB, "pod", "passed").await;
    start_change_config(&env).await;

    // Until its next sync the kubelet still serves the old file; the process's environment is
    // what it was at start.
    env.fake
        .set_exec_handler(|call| match call.command.as_slice() {
            [cat, path] if cat == "cat" && path == "/config/game.properties" => {
                ExecReply::ok("enemy.types=aliens,monsters\nplayer.maximum-lives=5\n")
            }
            [printenv, var] if printenv == "printenv" && var == "FLY_NAME" => {
                ExecReply::ok("kubelab\n")
            }
            _ => ExecReply::fail("sh: not expected here\n", 127),
        });
    patch_base_map(&env);
    let report = env.check(LAB, "change-config").await;
    assert_eq!(report.verdict("fly-name-changed"), "passed", "{}", report.0);
    assert_eq!(report.verdict("lives-changed"), "passed", "{}", report.0);
    // Not yet: the file catches up by itself.
    assert_eq!(report.verdict("file-follows"), "pending", "{}", report.0);
    assert!(
        report.check("file-follows")["pending_reason"]["en"]
            .as_str()
            .is_some_and(|r| r.contains("about once a minute")),
        "{}",
        report.0
    );
    assert!(
        report
            .diagnostics("file-follows")
            .iter()
            .any(|(p, _, a)| p == "stdout" && a.contains("player.maximum-lives=5")),
        "{}",
        report.0
    );

    // The kubelet has synced: the file shows 3 lives, without any restart.
    env.fake.clear_exec_handler();
    let report = env.check(LAB, "change-config").await;
    assert_eq!(report.verdict("file-follows"), "passed", "{}", report.0);
    // ... while the environment variable needs a new Pod: a failure that asks for a restart.
    assert_no_new_pod(&report, "env-after-restart");
    assert!(
        report.check("env-after-restart")["reason"]["en"]
            .as_str()
            .is_some_and(|r| r.contains("kubectl replace --force")),
        "the reason says how to recreate the Pod"
    );
    assert_eq!(report.status(), "failed");

    // kubectl replace --force: a new Pod, whose container starts with the new value. While
    // it is starting, the commands wait.
    env.fake.simulate_workloads(false);
    replace_busybox(&env, busybox(&env)).await;
    let report = env.check(LAB, "change-config").await;
    assert_eq!(
        report.verdict("env-after-restart"),
        "pending",
        "{}",
        report.0
    );
    assert!(
        report.check("env-after-restart")["pending_reason"]["en"]
            .as_str()
            .is_some_and(|r| r.contains("recreated Pod is starting")),
        "{}",
        report.0
    );
    assert_eq!(report.verdict("pod-back-up"), "pending", "{}", report.0);

    env.fake.simulate_workloads(true);
    let report = env.check_until(LAB, "change-config", "passed").await;
    report.assert_all_passed();
    assert_eq!(report.0["state"], "passed", "{}", report.0);
    // The earlier steps stay green with the new values.
    env.check(LAB, "look-inside").await.assert_all_passed();
    env.check(LAB, "create-configmap").await.assert_all_passed();
}

#[tokio::test]
async fn a_pod_recreated_before_the_change_still_has_the_old_value() {
    let env = env().await;
    env.fake.simulate_workloads(true);
    env.setup(LAB, "create-configmap").await;
    env.setup(LAB, "pod").await;
    env.check_until(LAB, "pod", "passed").await;
    start_change_config(&env).await;
    // Restarted during the step but too early: the new container read the old fly-name.
    replace_busybox(&env, busybox(&env)).await;
    env.check_until(LAB, "pod", "passed").await;
    patch_base_map(&env);
    let report = env.check(LAB, "change-config").await;
    assert_eq!(report.verdict("file-follows"), "passed", "{}", report.0);
    // It is a new Pod and it runs...
    assert_eq!(report.verdict("pod-back-up"), "passed", "{}", report.0);
    // ... but its environment was copied before the change.
    assert_eq!(
        report.verdict("env-after-restart"),
        "failed",
        "{}",
        report.0
    );
    assert_eq!(
        report.diagnostics("env-after-restart"),
        vec![(
            "stdout".to_owned(),
            "anything but `\"kubelab\\n\"`".to_owned(),
            "`\"kubelab\\n\"`".to_owned()
        )]
    );
    assert_eq!(report.status(), "failed");

    // Recreated once more, after the change: now it reads the new value.
    replace_busybox(&env, busybox(&env)).await;
    env.check_until(LAB, "change-config", "passed")
        .await
        .assert_all_passed();
}

#[tokio::test]
async fn demo_objects_fail_while_they_exist_and_pass_once_deleted() {
    let env = env().await;
    env.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}));
    // The learner's experiment: a demo Pod and the ConfigMap it waited for.
    env.put(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "subpath-demo", "namespace": NS},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}
    }));
    env.put(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "late-map", "namespace": NS},
        "data": {"hello": "world"}
    }));
    let report = env.check(LAB, "beyond-the-notes").await;
    assert_eq!(report.status(), "failed", "{}", report.0);
    assert_eq!(report.verdict("subpath-demo-cleaned"), "failed");
    let diags = report.diagnostics("subpath-demo-cleaned");
    assert!(
        diags.iter().any(|(_, _, a)| a.contains("subpath-demo")),
        "{diags:?}"
    );
    assert!(
        report.check("subpath-demo-cleaned")["reason"]["en"]
            .as_str()
            .is_some_and(|r| r.contains("kubectl delete pod subpath-demo -n fly-k8s")),
        "the reason says how to delete it: {}",
        report.0
    );
    assert_eq!(report.verdict("late-map-cleaned"), "failed");
    // The experiment not done is nothing to clean up.
    assert_eq!(report.verdict("waiting-demo-cleaned"), "passed");

    // Cleaned up: what was created is gone again.
    env.fake
        .delete("v1", "Pod", Some(NS), "subpath-demo")
        .expect("delete");
    env.fake
        .delete("v1", "ConfigMap", Some(NS), "late-map")
        .expect("delete");
    env.check(LAB, "beyond-the-notes").await.assert_all_passed();
}
