//! kubelab's exec against both generations of the exec WebSocket protocol: a 1.28 node speaks
//! only `v4.channel.k8s.io` and refuses a v5-only offer; 1.30 and later (colima's current k3s)
//! prefer `v5.channel.k8s.io`. kube-rs offers both in one header, so kubelab must work with
//! whichever the server picks — checked against the fake in both modes and, when one is
//! available, against a real 1.28 node.

use std::path::Path;
use std::time::Duration;

use kubelab::cluster::{Cluster, ClusterError, ClusterOptions, ExecResult};
use serde_json::json;

use super::pods::OFFER;
use super::side::Side;
use crate::support::{ExecProtocols, FakeApi};

const LIMIT: Duration = Duration::from_secs(20);

fn command(words: &[&str]) -> Vec<String> {
    words.iter().map(|w| w.to_string()).collect()
}

async fn cluster(kubeconfig: &Path) -> Cluster {
    Cluster::connect(&ClusterOptions {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        context: std::env::var("KUBELAB_CONTEXT").ok(),
        public_api: None,
    })
    .await
}

/// A busybox Pod `shell` on `real-node` in `ns`, Running, and a Pod `waiting` whose container
/// never starts (its ConfigMap volume is missing).
async fn shell_pod(side: &Side) {
    let ns = &side.ns;
    side.post(
        "/api/v1/namespaces",
        &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
    )
    .await;
    let created = side
        .post(
            &format!("/api/v1/namespaces/{ns}/pods"),
            &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "shell"},
                "spec": {"nodeSelector": {"kubernetes.io/hostname": "real-node"},
                    "terminationGracePeriodSeconds": 1,
                    "containers": [{"name": "c", "image": "busybox:1.36",
                        "imagePullPolicy": "IfNotPresent", "command": ["sleep", "3600"]}]}}),
        )
        .await;
    assert_eq!(created.status, 201, "{}: {:?}", side.name, created.body);
    let waiting = side
        .post(
            &format!("/api/v1/namespaces/{ns}/pods"),
            &json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "waiting"},
                "spec": {"nodeSelector": {"kubernetes.io/hostname": "real-node"},
                    "terminationGracePeriodSeconds": 1,
                    "volumes": [{"name": "cfg", "configMap": {"name": "missing"}}],
                    "containers": [{"name": "c", "image": "busybox:1.36",
                        "imagePullPolicy": "IfNotPresent", "command": ["sleep", "3600"],
                        "volumeMounts": [{"name": "cfg", "mountPath": "/cfg"}]}]}}),
        )
        .await;
    assert_eq!(waiting.status, 201, "{}: {:?}", side.name, waiting.body);
    let running = side
        .wait_until(
            &format!("/api/v1/namespaces/{ns}/pods/shell"),
            Duration::from_secs(90),
            |a| a.body["status"]["phase"] == "Running",
        )
        .await;
    assert_eq!(running.body["status"]["phase"], "Running", "{}", side.name);
    side.wait_until(
        &format!("/api/v1/namespaces/{ns}/pods/waiting"),
        Duration::from_secs(30),
        |a| !a.body["status"]["containerStatuses"].is_null(),
    )
    .await;
}

/// What kubelab's exec must report on any server: output, exit codes, and a command that
/// cannot start as the API server's InternalError.
async fn kubelab_exec_works(cluster: &Cluster, ns: &str) {
    let out = cluster
        .exec(
            ns,
            "shell",
            "",
            &command(&["sh", "-c", "echo out; echo err >&2; exit 3"]),
            LIMIT,
        )
        .await
        .expect("exec");
    assert_eq!(
        out,
        ExecResult::Finished {
            stdout: "out\n".into(),
            stderr: "err\n".into(),
            exit_code: 3
        }
    );
    let out = cluster
        .exec(ns, "shell", "c", &command(&["printenv", "HOSTNAME"]), LIMIT)
        .await
        .expect("exec");
    assert_eq!(
        out,
        ExecResult::Finished {
            stdout: "shell\n".into(),
            stderr: String::new(),
            exit_code: 0
        }
    );
    match cluster
        .exec(ns, "shell", "c", &command(&["printenvx", "FOO"]), LIMIT)
        .await
    {
        Err(ClusterError::Api {
            code,
            reason,
            message,
        }) => {
            assert_eq!((code, reason.as_str()), (500, "InternalError"));
            assert!(message.contains("executable file not found"), "{message}");
        }
        other => panic!("a command that cannot start must be an API error: {other:?}"),
    }
    match cluster
        .exec(ns, "shell", "nope", &command(&["true"]), LIMIT)
        .await
    {
        Err(ClusterError::Api { code, message, .. }) => {
            assert_eq!(code, 400);
            assert_eq!(message, "container nope is not valid for pod shell");
        }
        other => panic!("a wrong container must be a 400: {other:?}"),
    }
    // The kubelet answers in plain text for a container that has not started (recording 120).
    match cluster
        .exec(ns, "waiting", "c", &command(&["true"]), LIMIT)
        .await
    {
        Err(ClusterError::Api { code, message, .. }) => {
            assert_eq!(code, 500);
            assert_eq!(
                message,
                "the node's kubelet answered: container not found (\"c\")"
            );
        }
        other => panic!("a container that has not started must be a 500: {other:?}"),
    }
}

async fn fake_in_mode(
    protocols: ExecProtocols,
) -> (std::sync::Arc<FakeApi>, Side, tempfile::TempDir) {
    let fake = super::fake_like_real().await;
    fake.set_exec_protocols(protocols);
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = fake.write_kubeconfig(dir.path());
    let side = Side::new("fake", &kubeconfig, "exec-modes", Some(fake.clone())).await;
    shell_pod(&side).await;
    (fake, side, dir)
}

#[tokio::test]
async fn kubelab_exec_works_with_a_1_28_node_that_speaks_only_v4() {
    let (fake, side, dir) = fake_in_mode(ExecProtocols::Kube128).await;
    let cluster = cluster(&dir.path().join("kubeconfig")).await;
    kubelab_exec_works(&cluster, &side.ns).await;
    let sessions = fake.exec_sessions();
    assert!(!sessions.is_empty());
    assert!(
        sessions.iter().all(|s| s.protocol == "v4.channel.k8s.io"),
        "{sessions:?}"
    );
    let path = format!(
        "/api/v1/namespaces/{}/pods/shell/exec?command=true&stdout=true",
        side.ns
    );
    let refused = side
        .websocket(&path, "v5.channel.k8s.io")
        .await
        .err()
        .expect("a v5-only offer is refused");
    assert_eq!(refused.status, 403);
    assert_eq!(refused.header("connection"), "close");
    assert!(refused.body.is_null(), "{:?}", refused.body);
}

#[tokio::test]
async fn kubelab_exec_works_with_a_newer_node_that_prefers_v5() {
    let (fake, side, dir) = fake_in_mode(ExecProtocols::Kube130).await;
    let cluster = cluster(&dir.path().join("kubeconfig")).await;
    kubelab_exec_works(&cluster, &side.ns).await;
    let sessions = fake.exec_sessions();
    assert!(
        sessions.iter().all(|s| s.protocol == "v5.channel.k8s.io"),
        "{sessions:?}"
    );
    // v5 can half-close stdin (channel 255): `cat` then sees the end of its input and exits.
    let path = format!(
        "/api/v1/namespaces/{}/pods/shell/exec?command=cat&stdin=true&stdout=true",
        side.ns
    );
    let mut ws = side.websocket(&path, OFFER).await.expect("upgrade");
    assert_eq!(ws.protocol(), "v5.channel.k8s.io");
    ws.send(0, b"typed\n").await;
    ws.send(255, &[0]).await;
    ws.read_to_close(LIMIT).await;
    assert_eq!(ws.text(1), "typed\n");
    assert_eq!(ws.summary()["status"]["status"], "Success");
    assert_eq!(ws.close, Some(1000));
}

#[tokio::test]
async fn kubelab_exec_works_with_the_real_1_28_node() {
    let Some(kubeconfig) = super::real_kubeconfig().await else {
        return;
    };
    let _schedulable = crate::real::REAL_NODE_SCHEDULING.read().await;
    let ns = format!("diff-exec-{}", crate::support::state::random_suffix(6));
    let side = Side::new("real", &kubeconfig, &ns, None).await;
    let run = async {
        shell_pod(&side).await;
        let cluster = cluster(&kubeconfig).await;
        kubelab_exec_works(&cluster, &ns).await;
        let path = format!("/api/v1/namespaces/{ns}/pods/shell/exec?command=true&stdout=true");
        let ws = side.websocket(&path, OFFER).await.expect("upgrade");
        assert_eq!(ws.protocol(), "v4.channel.k8s.io");
    };
    let out = futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(run)).await;
    side.delete(&format!("/api/v1/namespaces/{ns}")).await;
    if let Err(p) = out {
        std::panic::resume_unwind(p);
    }
}
