//! Scenarios on Pods a kubelet runs: creation and status, graceful deletion, exec over
//! WebSocket (frames, errors, tty with resize), logs.

use std::time::Duration;

use serde_json::{Value, json};

use super::record::Record;
use super::side::{Answer, Side};

/// The subprotocols kube-rs and client-go offer (in one comma-separated header).
pub const OFFER: &str = "v5.channel.k8s.io, v4.channel.k8s.io";

/// The lines the `logger` Pod prints before it sleeps.
const LOG_LINES: usize = 7;

fn pod(ns: &str, name: &str, command: &[&str], extra: Value) -> Value {
    let mut p = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": {"app": name}},
        "spec": {"nodeSelector": {"kubernetes.io/hostname": "real-node"},
            "terminationGracePeriodSeconds": 3,
            "containers": [{"name": "c", "image": "busybox:1.36",
                "imagePullPolicy": "IfNotPresent", "command": command}]}});
    super::merge(&mut p, &extra);
    p
}

fn pods_path(ns: &str) -> String {
    format!("/api/v1/namespaces/{ns}/pods")
}

/// Creates the Pods the later scenarios use; their containers start in parallel.
pub async fn create_pods(side: &Side, r: &mut Record) {
    let ns = &side.ns;
    let script =
        format!("i=1; while [ $i -le {LOG_LINES} ]; do echo line $i; i=$((i+1)); done; sleep 3600");
    let pods = [
        pod(ns, "shell", &["sleep", "3600"], json!({})),
        pod(ns, "term", &["sleep", "3600"], json!({})),
        pod(ns, "logger", &["sh", "-c", &script], json!({})),
        pod(
            ns,
            "pending",
            &["sleep", "3600"],
            json!({"spec": {"nodeSelector": {"kubernetes.io/hostname": "no-such-node"}}}),
        ),
        pod(
            ns,
            "waiting",
            &["sleep", "3600"],
            json!({"spec": {"terminationGracePeriodSeconds": 30,
                "volumes": [{"name": "cfg", "configMap": {"name": "missing"}}],
                "containers": [{"name": "c", "image": "busybox:1.36",
                    "imagePullPolicy": "IfNotPresent", "command": ["sleep", "3600"],
                    "volumeMounts": [{"name": "cfg", "mountPath": "/cfg"}]}]}}),
        ),
    ];
    for p in pods {
        let name = p["metadata"]["name"].as_str().unwrap_or("").to_string();
        let a = side.post(&pods_path(ns), &p).await;
        r.answer(&format!("pods/create-{name}"), &a);
    }
    if let Some(fake) = &side.fake {
        let lines: String = (1..=LOG_LINES).map(|i| format!("line {i}\n")).collect();
        fake.set_container_log(ns, "logger", "c", &lines);
    }
}

fn ready(a: &super::side::Answer) -> bool {
    a.body["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// Waits for the running Pods and records one as its kubelet reports it.
pub async fn running(side: &Side, r: &mut Record) {
    let ns = &side.ns;
    for name in ["term", "logger", "shell"] {
        let a = side
            .wait_until(
                &format!("{}/{name}", pods_path(ns)),
                Duration::from_secs(90),
                ready,
            )
            .await;
        assert!(
            ready(&a),
            "{}: Pod {name} never became ready: {:?}",
            side.name,
            a.body
        );
        if name == "shell" {
            r.answer("pods/running", &a);
        }
    }
    let waiting = side
        .wait_until(
            &format!("{}/waiting", pods_path(ns)),
            Duration::from_secs(30),
            |a| !a.body["status"]["containerStatuses"].is_null(),
        )
        .await;
    r.answer("pods/waiting-for-volume", &waiting);
}

fn unix(ts: &Value) -> i64 {
    ts.as_str()
        .and_then(|t| {
            time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok()
        })
        .map_or(0, |t| t.unix_timestamp())
}

/// What a watch event says about a terminating Pod.
fn termination_view(e: &Value) -> Value {
    let o = &e["object"];
    let ready = o["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .map(|c| json!([c["status"], c["reason"]]));
    json!({"type": e["type"], "grace": o["metadata"]["deletionGracePeriodSeconds"],
        "phase": o["status"]["phase"], "ready": ready,
        "terminated": o["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"]})
}

/// Deletes Pod `name` while watching it; returns the DELETE's answer, the time just before it
/// and the watch's status and events.
async fn watch_deletion(side: &Side, name: &str, seconds: u64) -> (i64, Answer, u16, Vec<Value>) {
    let ns = &side.ns;
    let listed = side
        .get(&format!(
            "{}?fieldSelector=metadata.name%3D{name}",
            pods_path(ns)
        ))
        .await;
    let from = listed.body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or("0")
        .to_string();
    let watch = format!(
        "{}?watch=1&fieldSelector=metadata.name%3D{name}&resourceVersion={from}&timeoutSeconds={seconds}",
        pods_path(ns)
    );
    let mut deleted = None;
    let during = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let before = time::OffsetDateTime::now_utc().unix_timestamp();
        let a = side.delete(&format!("{}/{name}", pods_path(ns))).await;
        deleted = Some((before, a));
    };
    let (status, events) = side.watch(&watch, during).await;
    let (before, answer) = deleted.expect("the DELETE ran");
    (before, answer, status, events)
}

/// Graceful deletion of a Pod the kubelet runs (recordings 124/125), of one whose container
/// never started, and of an unscheduled one.
pub async fn graceful_deletion(side: &Side, r: &mut Record) {
    let ns = &side.ns;
    let (before, answer, status, events) = watch_deletion(side, "term", 10).await;
    r.answer("delete/pod-term", &answer);
    let deadline = unix(&answer.body["metadata"]["deletionTimestamp"]);
    r.fact(
        "delete/pod-term-deadline-is-now-plus-grace",
        json!((deadline - before - 3).abs() <= 1),
    );
    let mut views: Vec<Value> = events.iter().map(termination_view).collect();
    views.dedup();
    r.fact(
        "delete/pod-term-watch",
        json!({"status": status, "events": views}),
    );
    let last = events
        .iter()
        .rev()
        .find(|e| e["type"] == "MODIFIED")
        .map(|e| unix(&e["object"]["metadata"]["deletionTimestamp"]));
    r.fact(
        "delete/pod-term-final-timestamp-is-the-request-time",
        json!(last.is_some_and(|t| (t - before).abs() <= 1)),
    );
    if let Some(e) = events.last() {
        r.fact("delete/pod-term-deleted-object", e.clone());
    }
    // Its container never started: gone well within its 30 s grace period (the watch lasts
    // 6 s), its container ContainerStatusUnknown.
    let (_, answer, status, events) = watch_deletion(side, "waiting", 6).await;
    r.answer("delete/pod-not-started", &answer);
    let types: Vec<Value> = events.iter().map(|e| e["type"].clone()).collect();
    r.fact(
        "delete/pod-not-started-watch",
        json!({"status": status, "types": types,
            "last": events.last().map(|e| e["object"]["status"].clone())}),
    );
    let unbound = side.delete(&format!("{}/pending", pods_path(ns))).await;
    r.answer("delete/pod-unscheduled", &unbound);
    r.answer(
        "delete/pod-unscheduled-gone",
        &side.get(&format!("{}/pending", pods_path(ns))).await,
    );
}

fn exec_path(ns: &str, pod: &str, command: &[&str], extra: &str) -> String {
    let mut q: Vec<String> = command
        .iter()
        .map(|c| format!("command={}", urlencode(c)))
        .collect();
    q.push(extra.to_string());
    format!("/api/v1/namespaces/{ns}/pods/{pod}/exec?{}", q.join("&"))
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Runs one exec to its end and records the summary, or the refusal.
async fn exec_step(side: &Side, r: &mut Record, step: &str, path: &str, offer: &str) {
    match side.websocket(path, offer).await {
        Ok(mut ws) => {
            ws.read_to_close(Duration::from_secs(20)).await;
            r.fact(step, ws.summary());
        }
        Err(refused) => r.answer(step, &refused),
    }
}

/// Exec over WebSocket: frames, exit codes, errors before and after the upgrade.
pub async fn exec(side: &Side, r: &mut Record) {
    let ns = &side.ns;
    let out_err = "stdout=true&stderr=true";
    let cases: [(&str, &str, &[&str], &str, &str); 8] = [
        (
            "exec/exit-3",
            "shell",
            &["sh", "-c", "echo out; echo err >&2; exit 3"],
            out_err,
            OFFER,
        ),
        (
            "exec/printenv",
            "shell",
            &["printenv", "HOSTNAME"],
            out_err,
            OFFER,
        ),
        (
            "exec/stdout-only",
            "shell",
            &["echo", "hi"],
            "stdout=true",
            OFFER,
        ),
        (
            "exec/not-found",
            "shell",
            &["printenvx", "FOO"],
            out_err,
            OFFER,
        ),
        (
            "exec/missing-container",
            "shell",
            &["printenv", "HOSTNAME"],
            "stdout=true&stderr=true&container=nope",
            OFFER,
        ),
        (
            "exec/v5-only",
            "shell",
            &["printenv", "HOSTNAME"],
            out_err,
            "v5.channel.k8s.io",
        ),
        (
            "exec/unscheduled",
            "pending",
            &["printenv", "HOSTNAME"],
            out_err,
            OFFER,
        ),
        (
            "exec/not-started",
            "waiting",
            &["printenv", "HOSTNAME"],
            out_err,
            OFFER,
        ),
    ];
    for (step, pod, command, query, offer) in cases {
        exec_step(side, r, step, &exec_path(ns, pod, command, query), offer).await;
    }
    let plain = side
        .get(&exec_path(ns, "shell", &["printenv", "HOSTNAME"], out_err))
        .await;
    r.answer("exec/no-upgrade", &plain);
}

/// An interactive shell: tty, stdin, a resize on channel 4, typed commands echoed by the pty.
pub async fn exec_tty(side: &Side, r: &mut Record) {
    let path = exec_path(
        &side.ns,
        "shell",
        &["sh"],
        "stdin=true&stdout=true&tty=true",
    );
    let mut ws = match side.websocket(&path, OFFER).await {
        Ok(ws) => ws,
        Err(refused) => {
            r.answer("exec/tty", &refused);
            return;
        }
    };
    let wait = Duration::from_secs(10);
    ws.read_until("/ # \u{1b}[6n", wait).await;
    ws.send(4, br#"{"Width":100,"Height":30}"#).await;
    ws.read_until("/ # \u{1b}[J", wait).await;
    ws.send(0, b"echo hi\n").await;
    ws.read_until("hi\r\n/ # \u{1b}[6n", wait).await;
    ws.send(0, b"exit\n").await;
    ws.read_to_close(wait).await;
    r.fact("exec/tty", ws.summary());
}

/// Pod logs: the tail of a container's output, and the errors for a wrong container or a
/// previous instance that does not exist.
pub async fn logs(side: &Side, r: &mut Record) {
    let ns = &side.ns;
    let base = format!("{}/logger/log", pods_path(ns));
    side.wait_until(
        &format!("{base}?container=c"),
        Duration::from_secs(30),
        |a| {
            a.body
                .as_str()
                .is_some_and(|t| t.contains(&format!("line {LOG_LINES}\n")))
        },
    )
    .await;
    for (step, query) in [
        ("logs/tail", "container=c&tailLines=5"),
        ("logs/all", "container=c"),
        ("logs/missing-container", "container=nope&tailLines=5"),
        ("logs/previous", "container=c&previous=true"),
    ] {
        r.answer(step, &side.get(&format!("{base}?{query}")).await);
    }
    // follow=true never ends while the container runs: delete the Pod, the stream ends when
    // the kubelet kills the container after its grace period.
    let during = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        side.delete(&format!("{}/logger", pods_path(ns))).await;
    };
    let (status, text) = side
        .stream(
            &format!("{base}?container=c&follow=true&tailLines=2"),
            during,
        )
        .await;
    r.fact(
        "logs/follow-until-the-container-stops",
        json!({"status": status, "text": text}),
    );
}
