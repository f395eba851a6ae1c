//! Integration tests of the cluster facts the check kinds need, against the fake API server:
//! which APIs are served (and an API installed later), the server version, the groups serving
//! a kind, the Events about an object, and commands run in a container.

use std::time::Duration;

use kubelab::cluster::{ClusterError, ExecResult};
use serde_json::{Value, json};

use super::connected;
use crate::support::{ExecReply, FakeApi};

#[tokio::test]
async fn served_apis_are_found_and_an_api_installed_later_is_seen() {
    let (fake, cluster, _dir) = connected().await;
    assert!(cluster.served("v1", "Pod").await.expect("served"));
    assert!(
        cluster
            .served("apps/v1", "Deployment")
            .await
            .expect("served")
    );
    assert!(
        cluster
            .served("autoscaling/v2", "HorizontalPodAutoscaler")
            .await
            .expect("served")
    );
    assert!(!cluster.served("v1", "Deployment").await.expect("served"));
    assert!(
        !cluster
            .served("example.com/v1", "Widget")
            .await
            .expect("served")
    );
    assert!(
        !cluster
            .served("metrics.k8s.io/v1beta1", "PodMetrics")
            .await
            .expect("served")
    );

    fake.set_metrics_api(true);
    assert!(
        cluster
            .served("metrics.k8s.io/v1beta1", "PodMetrics")
            .await
            .expect("served"),
        "metrics-server installed after a first look must be seen"
    );

    // Once served, the answer is cached: no further discovery request for it.
    fake.clear_requests();
    assert!(
        cluster
            .served("metrics.k8s.io/v1beta1", "NodeMetrics")
            .await
            .expect("served")
    );
    assert!(cluster.served("v1", "Pod").await.expect("served"));
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}

#[tokio::test]
async fn the_server_version_has_numeric_major_and_minor() {
    let (_fake, cluster, _dir) = connected().await;
    let version = cluster.server_version().await.expect("version");
    assert_eq!(version["major"], json!(1));
    assert_eq!(version["minor"], json!(28));
    assert_eq!(version["gitVersion"], "v1.28.7");
    assert!(
        version["platform"]
            .as_str()
            .is_some_and(|p| p.starts_with("linux/")),
        "{version}"
    );
}

#[tokio::test]
async fn api_groups_of_a_kind_come_from_discovery() {
    let (fake, cluster, _dir) = connected().await;
    fake.set_metrics_api(true);
    assert_eq!(
        cluster.api_groups_of("Deployment").await.expect("groups"),
        ["apps"]
    );
    assert_eq!(
        cluster.api_groups_of("Event").await.expect("groups"),
        ["", "events.k8s.io"]
    );
    assert_eq!(cluster.api_groups_of("Pod").await.expect("groups"), [""]);
    assert_eq!(
        cluster.api_groups_of("PodMetrics").await.expect("groups"),
        ["metrics.k8s.io"]
    );
    assert!(
        cluster
            .api_groups_of("Widget")
            .await
            .expect("groups")
            .is_empty()
    );

    // Cached briefly: asking again makes no request.
    fake.clear_requests();
    assert_eq!(
        cluster.api_groups_of("Deployment").await.expect("groups"),
        ["apps"]
    );
    assert!(fake.requests().is_empty(), "{:?}", fake.requests());
}

#[tokio::test]
async fn facts_of_a_stopped_cluster_are_unavailable() {
    let (fake, cluster, _dir) = connected().await;
    fake.stop().await;
    for result in [
        cluster.served("v1", "Pod").await.map(|_| ()),
        cluster.server_version().await.map(|_| ()),
        cluster.api_groups_of("Pod").await.map(|_| ()),
        cluster
            .events_about(Some("default"), "Pod", "x")
            .await
            .map(|_| ()),
    ] {
        match result {
            Err(ClusterError::Unavailable { message }) => {
                assert!(message.contains(&fake.url()), "{message}")
            }
            other => panic!("expected Unavailable, got {other:?}"),
        }
    }
}

fn event(namespace: &str, name: &str, kind: &str, object: &str, reason: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": name, "namespace": namespace},
        "involvedObject": {"apiVersion": "v1", "kind": kind, "name": object, "namespace": namespace},
        "reason": reason, "message": format!("{reason} happened"), "type": "Warning",
        "source": {"component": "default-scheduler"}, "count": 1})
}

#[tokio::test]
async fn events_about_an_object_are_selected_by_kind_and_name() {
    let (fake, cluster, _dir) = connected().await;
    for name in ["fly-k8s", "elsewhere"] {
        fake.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
            .expect("namespace");
    }
    fake.put(event(
        "fly-k8s",
        "busybox.1",
        "Pod",
        "busybox",
        "FailedScheduling",
    ))
    .expect("event");
    fake.put(event("fly-k8s", "busybox.2", "Pod", "busybox", "Scheduled"))
        .expect("event");
    fake.put(event("fly-k8s", "other.1", "Pod", "other", "Scheduled"))
        .expect("event");
    fake.put(event(
        "fly-k8s",
        "rs.1",
        "ReplicaSet",
        "busybox",
        "SuccessfulCreate",
    ))
    .expect("event");
    fake.put(event("elsewhere", "busybox.3", "Pod", "busybox", "Pulled"))
        .expect("event");

    let events = cluster
        .events_about(Some("fly-k8s"), "Pod", "busybox")
        .await
        .expect("events");
    let mut reasons: Vec<&str> = events.iter().filter_map(|e| e["reason"].as_str()).collect();
    reasons.sort_unstable();
    assert_eq!(reasons, ["FailedScheduling", "Scheduled"]);
    for e in &events {
        assert_eq!(
            (e["apiVersion"].as_str(), e["kind"].as_str()),
            (Some("v1"), Some("Event"))
        );
    }
    let request = fake
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.path.ends_with("/events"))
        .expect("an events request");
    assert_eq!(request.path, "/api/v1/namespaces/fly-k8s/events");
    assert_eq!(
        request.query.get("fieldSelector").map(String::as_str),
        Some("involvedObject.kind=Pod,involvedObject.name=busybox")
    );

    let everywhere = cluster
        .events_about(None, "Pod", "busybox")
        .await
        .expect("events");
    assert_eq!(everywhere.len(), 3);
    assert!(
        cluster
            .events_about(Some("fly-k8s"), "Pod", "nobody")
            .await
            .expect("events")
            .is_empty()
    );
}

/// A running two-container Pod in `fly-k8s` (the simulator starts it).
async fn running_pod(fake: &FakeApi) {
    fake.simulate_workloads(true);
    fake.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fly-k8s"}}))
        .expect("namespace");
    fake.put(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "two", "namespace": "fly-k8s"},
        "spec": {"containers": [
            {"name": "web", "image": "nginx:1.25", "ports": [{"containerPort": 80}],
             "env": [{"name": "GREETING", "value": "hello"}]},
            {"name": "side", "image": "busybox:1.36", "command": ["sleep", "3600"]}]}}))
        .expect("pod");
    let running = fake
        .wait_for(Duration::from_secs(10), |f| {
            f.get("v1", "Pod", Some("fly-k8s"), "two")
                .is_some_and(|p| p["status"]["phase"] == "Running")
        })
        .await;
    assert!(running, "the simulator should run the Pod");
}

fn command(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| (*w).to_owned()).collect()
}

const LONG: Duration = Duration::from_secs(10);

#[tokio::test]
async fn exec_collects_output_and_exit_codes() {
    let (fake, cluster, _dir) = connected().await;
    running_pod(&fake).await;

    let out = cluster
        .exec(
            "fly-k8s",
            "two",
            "web",
            &command(&["printenv", "GREETING"]),
            LONG,
        )
        .await
        .expect("exec");
    assert_eq!(
        out,
        ExecResult::Finished {
            stdout: "hello\n".into(),
            stderr: String::new(),
            exit_code: 0
        }
    );

    let out = cluster
        .exec(
            "fly-k8s",
            "two",
            "side",
            &command(&["wget", "-qO-", "http://localhost:80"]),
            LONG,
        )
        .await
        .expect("exec");
    match out {
        ExecResult::Finished {
            stdout, exit_code, ..
        } => {
            assert_eq!(exit_code, 0);
            assert!(stdout.contains("Welcome to nginx!"), "{stdout}");
        }
        other => panic!("unexpected {other:?}"),
    }

    let out = cluster
        .exec("fly-k8s", "two", "side", &command(&["cat", "/nope"]), LONG)
        .await
        .expect("exec");
    match out {
        ExecResult::Finished {
            stderr, exit_code, ..
        } => {
            assert_eq!(exit_code, 1);
            assert!(stderr.contains("No such file"), "{stderr}");
        }
        other => panic!("unexpected {other:?}"),
    }

    fake.set_exec_handler(|_| ExecReply {
        stdout: "out".into(),
        stderr: "err".into(),
        exit_code: 42,
        ..ExecReply::default()
    });
    let out = cluster
        .exec("fly-k8s", "two", "web", &command(&["anything"]), LONG)
        .await
        .expect("exec");
    assert_eq!(
        out,
        ExecResult::Finished {
            stdout: "out".into(),
            stderr: "err".into(),
            exit_code: 42
        }
    );
}

#[tokio::test]
async fn a_command_that_hangs_times_out() {
    let (fake, cluster, _dir) = connected().await;
    running_pod(&fake).await;
    fake.set_exec_handler(|_| ExecReply {
        delay: Duration::from_secs(600),
        ..ExecReply::ok("late")
    });
    let out = cluster
        .exec(
            "fly-k8s",
            "two",
            "web",
            &command(&["sleep", "600"]),
            Duration::from_millis(300),
        )
        .await
        .expect("exec");
    assert_eq!(out, ExecResult::TimedOut);
}

fn api_error(result: Result<ExecResult, ClusterError>) -> (u16, String) {
    match result {
        Err(ClusterError::Api { code, message, .. }) => (code, message),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn exec_refusals_keep_the_api_servers_message() {
    let (fake, cluster, _dir) = connected().await;
    running_pod(&fake).await;
    let echo = command(&["echo", "hi"]);

    let (code, message) = api_error(cluster.exec("fly-k8s", "missing", "web", &echo, LONG).await);
    assert_eq!(code, 404);
    assert!(message.contains("pods \"missing\" not found"), "{message}");

    let (code, message) = api_error(cluster.exec("fly-k8s", "two", "nope", &echo, LONG).await);
    assert_eq!(code, 400);
    assert!(message.contains("container nope is not valid"), "{message}");

    // A Pod on a node the API server cannot dial (recording 112).
    fake.put(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "far", "namespace": "fly-k8s"},
        "spec": {"nodeName": "elsewhere", "containers": [{"name": "c", "image": "busybox"}]}}))
        .expect("pod");
    let (code, message) = api_error(cluster.exec("fly-k8s", "far", "c", &echo, LONG).await);
    assert_eq!(code, 500);
    assert!(message.contains("error dialing backend"), "{message}");

    assert!(matches!(
        cluster.exec("fly-k8s", "two", "web", &[], LONG).await,
        Err(ClusterError::InvalidObject(_))
    ));

    fake.stop().await;
    match cluster.exec("fly-k8s", "two", "web", &echo, LONG).await {
        Err(ClusterError::Unavailable { message }) => {
            assert!(message.contains(&fake.url()), "{message}")
        }
        other => panic!("expected Unavailable, got {other:?}"),
    }
}
