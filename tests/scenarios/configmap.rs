//! The `configmap` lab: namespace fly-k8s, ConfigMap base-map, Pod busybox wired to it, a change.

use serde_json::{Value, json};

use super::{Env, env, running_ready};

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
            && e == "\"fly-name\""
            && a == "\"name\""),
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
async fn changing_the_configmap_is_noticed() {
    let env = env().await;
    env.setup(LAB, "create-configmap").await;
    env.setup(LAB, "pod").await;
    let ready = running_ready(busybox(&env));
    env.fake
        .patch_status("v1", "Pod", Some(NS), "busybox", ready["status"].clone())
        .expect("status");

    let report = env.check(LAB, "change-config").await;
    assert_eq!(report.verdict("fly-name-changed"), "failed");
    assert_eq!(
        report.diagnostics("fly-name-changed"),
        vec![(
            "data.fly-name".to_owned(),
            "not \"kubelab\"".to_owned(),
            "\"kubelab\"".to_owned()
        )]
    );
    assert_eq!(report.verdict("lives-changed"), "failed");
    assert_eq!(report.verdict("pod-back-up"), "passed");

    // The learner's kubectl patch.
    let mut cm = base_map(&env);
    cm["data"]["fly-name"] = json!("kubelab-v2");
    cm["data"]["game.properties"] = json!("enemy.types=aliens,monsters\nplayer.maximum-lives=3\n");
    env.put(cm);
    env.check(LAB, "change-config").await.assert_all_passed();
}

#[tokio::test]
async fn demo_objects_must_be_cleaned_up() {
    let env = env().await;
    env.check(LAB, "beyond-the-notes").await.assert_all_passed();
    env.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}));
    env.put(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "subpath-demo", "namespace": NS},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}
    }));
    let report = env.check(LAB, "beyond-the-notes").await;
    assert_eq!(report.verdict("subpath-demo-cleaned"), "failed");
    let diags = report.diagnostics("subpath-demo-cleaned");
    assert!(
        diags.iter().any(|(_, _, a)| a.contains("subpath-demo")),
        "{diags:?}"
    );
    assert_eq!(report.verdict("waiting-demo-cleaned"), "passed");
}
