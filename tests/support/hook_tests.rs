//! Tests of the fake's kubelet-side behaviour and the hooks tests drive it with: graceful Pod
//! termination (faithful, shortened, manual), scripted interactive shells with resizes, the v5
//! exec protocol, logs, token audiences and reviews, quota on NodePorts/LoadBalancers.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::client::Side;
use super::{ExecReply, ExecSession, FakeApi, PodTermination, ShellScript, TerminalSize};

const NS: &str = "hooks";

/// A fake with the simulator on, namespace `hooks` and a client for it.
async fn started(termination: PodTermination) -> (Arc<FakeApi>, Side, tempfile::TempDir) {
    let fake = Arc::new(FakeApi::start().await);
    fake.set_pod_termination(termination);
    fake.simulate_workloads(true);
    let dir = tempfile::tempdir().expect("temp dir");
    let side = Side::new(
        "fake",
        &fake.write_kubeconfig(dir.path()),
        NS,
        Some(fake.clone()),
    )
    .await;
    let ns = side
        .post(
            "/api/v1/namespaces",
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}),
        )
        .await;
    assert_eq!(ns.status, 201);
    (fake, side, dir)
}

/// Creates a busybox Pod and waits until it runs.
async fn running_pod(side: &Side, name: &str, grace: i64) -> Value {
    let created = side
        .post(
            &format!("/api/v1/namespaces/{NS}/pods"),
            &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                "spec": {"terminationGracePeriodSeconds": grace,
                    "containers": [{"name": "c", "image": "busybox:1.36", "command": ["sleep", "3600"]}]}}),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let running = side
        .wait_until(
            &format!("/api/v1/namespaces/{NS}/pods/{name}"),
            Duration::from_secs(5),
            |a| a.body["status"]["phase"] == "Running",
        )
        .await;
    assert_eq!(running.body["status"]["phase"], "Running");
    running.body
}

fn exists(fake: &FakeApi, name: &str) -> bool {
    fake.get("v1", "Pod", Some(NS), name).is_some()
}

#[tokio::test]
async fn a_deleted_pod_stays_running_until_the_test_ends_its_grace_period() {
    let (fake, side, _dir) = started(PodTermination::Manual).await;
    running_pod(&side, "term", 20).await;
    let rv = fake.resource_version();
    let watch =
        format!("/api/v1/namespaces/{NS}/pods?watch=1&resourceVersion={rv}&timeoutSeconds=2");
    let during = async {
        let before = time::OffsetDateTime::now_utc().unix_timestamp();
        let deleted = side
            .delete(&format!("/api/v1/namespaces/{NS}/pods/term"))
            .await;
        assert_eq!(deleted.status, 200);
        let meta = &deleted.body["metadata"];
        assert_eq!(meta["deletionGracePeriodSeconds"], 20);
        let deadline = super::state::parse_time(meta["deletionTimestamp"].as_str().unwrap_or(""))
            .expect("a deadline")
            .unix_timestamp();
        assert!(
            (deadline - before - 20).abs() <= 1,
            "deadline = now + grace"
        );
        assert_eq!(deleted.body["status"]["phase"], "Running");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(exists(&fake, "term"), "the kubelet has not confirmed yet");
        assert_eq!(fake.terminating_pods(), [format!("{NS}/term")]);
        assert!(fake.finish_pod_termination(NS, "term"));
        assert!(
            fake.wait_for(Duration::from_secs(2), |f| !exists(f, "term"))
                .await
        );
        assert!(!fake.finish_pod_termination(NS, "term"));
    };
    let (_, events) = side.watch(&watch, during).await;
    let seen: Vec<(String, Value, Value, bool, Value)> = events
        .iter()
        .map(|e| {
            let o = &e["object"];
            (
                e["type"].as_str().unwrap_or("").to_string(),
                o["status"]["phase"].clone(),
                o["metadata"]["deletionGracePeriodSeconds"].clone(),
                o["status"]["podIP"].is_string(),
                o["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"].clone(),
            )
        })
        .collect();
    let m = |t: &str, phase: &str, grace: i64, ip: bool, code: Value| {
        (t.to_string(), json!(phase), json!(grace), ip, code)
    };
    assert_eq!(
        seen,
        vec![
            m("MODIFIED", "Running", 20, true, Value::Null),
            m("MODIFIED", "Failed", 20, false, json!(137)),
            m("MODIFIED", "Failed", 20, true, json!(137)),
            m("MODIFIED", "Failed", 0, true, json!(137)),
            m("DELETED", "Failed", 0, true, json!(137)),
        ],
        "recording 125's sequence"
    );
    let first = events[0]["object"]["metadata"]["deletionTimestamp"].clone();
    let last = events[3]["object"]["metadata"]["deletionTimestamp"].clone();
    let secs = |v: &Value| {
        super::state::parse_time(v.as_str().unwrap_or("")).map_or(0, |t| t.unix_timestamp())
    };
    assert_eq!(
        secs(&first) - secs(&last),
        20,
        "moved back to the DELETE time"
    );
}

#[tokio::test]
async fn the_default_waits_the_whole_grace_period_and_at_most_shortens_it() {
    let (fake, side, _dir) = started(PodTermination::Faithful).await;
    running_pod(&side, "one-second", 1).await;
    let t = Instant::now();
    side.delete(&format!("/api/v1/namespaces/{NS}/pods/one-second"))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(exists(&fake, "one-second"), "still within its grace period");
    assert!(
        fake.wait_for(Duration::from_secs(3), |f| !exists(f, "one-second"))
            .await
    );
    assert!(t.elapsed() >= Duration::from_secs(1));

    fake.set_pod_termination(PodTermination::AtMost(Duration::from_millis(50)));
    running_pod(&side, "thirty", 30).await;
    let deleted = side
        .delete(&format!("/api/v1/namespaces/{NS}/pods/thirty"))
        .await;
    assert_eq!(deleted.body["metadata"]["deletionGracePeriodSeconds"], 30);
    assert!(
        fake.wait_for(Duration::from_secs(2), |f| !exists(f, "thirty"))
            .await
    );
}

#[tokio::test]
async fn unscheduled_and_force_deleted_pods_go_at_once() {
    let (fake, side, _dir) = started(PodTermination::Faithful).await;
    let pending = side
        .post(
            &format!("/api/v1/namespaces/{NS}/pods"),
            &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "pending"},
                "spec": {"nodeSelector": {"disktype": "ssd"},
                    "containers": [{"name": "c", "image": "busybox:1.36"}]}}),
        )
        .await;
    assert_eq!(pending.status, 201);
    let deleted = side
        .delete(&format!("/api/v1/namespaces/{NS}/pods/pending"))
        .await;
    assert_eq!(deleted.body["metadata"]["deletionGracePeriodSeconds"], 0);
    assert!(!exists(&fake, "pending"));
    running_pod(&side, "forced", 30).await;
    let forced = side
        .delete(&format!(
            "/api/v1/namespaces/{NS}/pods/forced?gracePeriodSeconds=0"
        ))
        .await;
    assert_eq!(forced.status, 200);
    assert!(!exists(&fake, "forced"));
}

#[tokio::test]
async fn a_deleted_namespace_waits_for_its_terminating_pods() {
    let (fake, side, _dir) = started(PodTermination::Manual).await;
    fake.set_namespace_deletion_delay(Duration::from_millis(50));
    running_pod(&side, "last", 30).await;
    side.delete(&format!("/api/v1/namespaces/{NS}")).await;
    assert!(
        fake.wait_for(Duration::from_secs(2), |f| f.terminating_pods().len() == 1)
            .await
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let ns = fake.get("v1", "Namespace", None, NS).expect("still there");
    assert_eq!(ns["status"]["phase"], "Terminating");
    fake.finish_pod_termination(NS, "last");
    assert!(
        fake.wait_for(Duration::from_secs(2), |f| f
            .get("v1", "Namespace", None, NS)
            .is_none())
            .await
    );
}

fn exec(command: &str, query: &str) -> String {
    let words: Vec<String> = command.split(' ').map(|w| format!("command={w}")).collect();
    format!(
        "/api/v1/namespaces/{NS}/pods/shell/exec?{}&{query}",
        words.join("&")
    )
}

fn last_session(fake: &FakeApi) -> ExecSession {
    fake.exec_sessions().pop().expect("a session")
}

#[tokio::test]
async fn an_interactive_shell_echoes_with_crlf_redraws_on_resize_and_exits() {
    let (fake, side, _dir) = started(PodTermination::AtMost(Duration::ZERO)).await;
    running_pod(&side, "shell", 1).await;
    let tty = "stdin=true&stdout=true&stderr=true&tty=true";
    let mut ws = side
        .websocket(&exec("sh", tty), "v4.channel.k8s.io")
        .await
        .expect("upgrade");
    let wait = Duration::from_secs(2);
    ws.read_until("/ # \u{1b}[6n", wait).await;
    assert!(ws.text(1).contains("BusyBox"), "{:?}", ws.text(1));
    ws.send(4, br#"{"Width":120,"Height":40}"#).await;
    ws.read_until("\r/ # \u{1b}[J", wait).await;
    ws.send(0, b"echo hi\r").await;
    ws.read_until("hi\r\n/ # \u{1b}[6n", wait).await;
    assert!(ws.text(1).contains("echo hi\r\nhi\r\n"), "{:?}", ws.text(1));
    ws.send(0, b"exit 4\n").await;
    ws.read_to_close(wait).await;
    assert_eq!(ws.summary()["status"]["reason"], "NonZeroExitCode");
    assert_eq!(ws.close, Some(1000));
    // stderr is not a separate stream with a tty.
    assert!(!ws.received.iter().any(|(c, _)| *c == 2));
    let session = last_session(&fake);
    assert!(session.tty && session.stdin && session.ended);
    assert_eq!(
        session.resizes,
        [TerminalSize {
            width: 120,
            height: 40
        }]
    );
    assert_eq!(session.input, "echo hi\rexit 4\n");
}

#[tokio::test]
async fn a_scripted_shell_answers_typed_lines_and_v5_can_close_its_stdin() {
    let (fake, side, _dir) = started(PodTermination::AtMost(Duration::ZERO)).await;
    fake.set_exec_protocols(super::ExecProtocols::Kube130);
    running_pod(&side, "shell", 1).await;
    fake.set_shell_script(ShellScript {
        banner: String::new(),
        prompt: "learner$ ".into(),
        after_prompt: String::new(),
        on_line: Some(Arc::new(|call, line| {
            ExecReply::ok(format!("{} ran {line} in {}\n", call.pod, call.container))
        })),
    });
    let mut ws = side
        .websocket(
            &exec("/bin/bash", "stdin=true&stdout=true&tty=true"),
            "v5.channel.k8s.io, v4.channel.k8s.io",
        )
        .await
        .expect("upgrade");
    assert_eq!(ws.protocol(), "v5.channel.k8s.io");
    let wait = Duration::from_secs(2);
    ws.read_until("learner$ ", wait).await;
    ws.send(0, b"kubectl get pods\n").await;
    ws.read_until("shell ran kubectl get pods in c\r\nlearner$ ", wait)
        .await;
    ws.send(255, &[0]).await;
    ws.read_to_close(wait).await;
    assert_eq!(ws.summary()["status"]["status"], "Success");
    assert!(last_session(&fake).stdin_closed);
}

#[tokio::test]
async fn logs_tail_and_refusals() {
    let (fake, side, _dir) = started(PodTermination::AtMost(Duration::ZERO)).await;
    running_pod(&side, "logger", 1).await;
    fake.set_container_log(NS, "logger", "c", "a\nb\nc\n");
    fake.append_container_log(NS, "logger", "c", "d\n");
    let base = format!("/api/v1/namespaces/{NS}/pods/logger/log");
    let tail = side.get(&format!("{base}?tailLines=2")).await;
    assert_eq!((tail.status, tail.body.clone()), (200, json!("c\nd\n")));
    assert_eq!(tail.header("content-type"), "text/plain");
    let wrong = side.get(&format!("{base}?container=nope")).await;
    assert_eq!(wrong.status, 400);
    assert_eq!(
        wrong.body["message"],
        "container nope is not valid for pod logger"
    );
    let previous = side.get(&format!("{base}?previous=true")).await;
    assert_eq!(
        previous.body["message"],
        "previous terminated container \"c\" in pod \"logger\" not found"
    );
    // follow: the tail at once, then what the container writes, until it stops.
    let during = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        fake.append_container_log(NS, "logger", "c", "e\n");
        tokio::time::sleep(Duration::from_millis(200)).await;
        side.delete(&format!("/api/v1/namespaces/{NS}/pods/logger"))
            .await;
    };
    let (status, text) = side
        .stream(&format!("{base}?follow=true&tailLines=1"), during)
        .await;
    assert_eq!((status, text.as_str()), (200, "d\ne\n"));
}

#[tokio::test]
async fn tokens_carry_audiences_and_reviews_answer_201() {
    let (_fake, side, _dir) = started(PodTermination::Faithful).await;
    side.post(
        &format!("/api/v1/namespaces/{NS}/serviceaccounts"),
        &json!({"metadata": {"name": "reader"}}),
    )
    .await;
    let minted = side
        .post(
            &format!("/api/v1/namespaces/{NS}/serviceaccounts/reader/token"),
            &json!({"spec": {"audiences": ["demo"], "expirationSeconds": 600}}),
        )
        .await;
    assert_eq!(minted.status, 201);
    assert_eq!(
        minted.body["metadata"]["managedFields"][0]["subresource"],
        "token"
    );
    let token = minted.body["status"]["token"].as_str().unwrap_or("");
    let foreign = side.with_token(token).await;
    assert_eq!(
        foreign
            .get(&format!("/api/v1/namespaces/{NS}/pods"))
            .await
            .status,
        401
    );
    let review = |spec: Value| json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": spec});
    let path = "/apis/authentication.k8s.io/v1/tokenreviews";
    let good = side
        .post(
            path,
            &review(json!({"token": token, "audiences": ["demo"]})),
        )
        .await;
    assert_eq!(good.status, 201);
    assert_eq!(good.body["status"]["authenticated"], true);
    assert_eq!(
        good.body["status"]["user"]["username"],
        format!("system:serviceaccount:{NS}:reader")
    );
    let wrong = side.post(path, &review(json!({"token": token}))).await;
    assert!(wrong.body["status"].get("authenticated").is_none());
    assert!(
        wrong.body["status"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("token audiences [\"demo\"] is invalid")),
        "{:?}",
        wrong.body
    );
    let sar = side
        .post(
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            &json!({"spec": {"resourceAttributes": {"verb": "get", "resource": "pods"}}}),
        )
        .await;
    assert_eq!(sar.status, 422);
}

#[tokio::test]
async fn quota_refuses_node_ports_and_load_balancers() {
    let (_fake, side, _dir) = started(PodTermination::Faithful).await;
    side.post(
        &format!("/api/v1/namespaces/{NS}/resourcequotas"),
        &json!({"metadata": {"name": "no-external"},
            "spec": {"hard": {"services.nodeports": "0", "services.loadbalancers": "0"}}}),
    )
    .await;
    let service = |name: &str, kind: &str| {
        json!({"metadata": {"name": name}, "spec": {"type": kind, "selector": {"app": "web"},
            "ports": [{"port": 80}]}})
    };
    let path = format!("/api/v1/namespaces/{NS}/services");
    let lb = side.post(&path, &service("lb", "LoadBalancer")).await;
    assert_eq!(lb.status, 403);
    assert_eq!(
        lb.body["message"],
        "services \"lb\" is forbidden: exceeded quota: no-external, requested: services.loadbalancers=1,services.nodeports=1, used: services.loadbalancers=0,services.nodeports=0, limited: services.loadbalancers=0,services.nodeports=0"
    );
    let plain = side.post(&path, &service("web", "ClusterIP")).await;
    assert_eq!(plain.status, 201);
    assert!(plain.body["spec"]["clusterIP"].is_string());
}
