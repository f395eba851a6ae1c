//! The simulated kubelet's node-specific behaviour: how its node looks (colima's k3s with
//! Docker, or an upstream kubelet with containerd like realkube's `real-node`), graceful Pod
//! termination (recordings 124/125: the Pod stays, Running and Ready, until its grace period
//! ends, then `Failed` with exit code 137, then a grace-0 delete and DELETED), and container
//! logs (recordings 151-154).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::header;
use axum::response::Response;
use serde_json::{Value, json};

use super::Shared;
use super::exec::{dial_error, pick_container};
use super::state::{self, ApiError, ObjKey, State, bad_request, resource};

/// Which kind of node the simulator runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum NodeFlavor {
    /// colima's k3s: kubelet, controllers and scheduler in one `k3s` process (that manager name
    /// in managedFields), Docker as the runtime (`docker://` ids, images as written).
    #[default]
    K3s,
    /// An upstream kubelet with containerd (realkube's `real-node`, recordings 115-125):
    /// manager `kubelet`, `containerd://` ids, `sha256:` image ids, fully qualified image names.
    Kubelet,
}

impl NodeFlavor {
    /// The field manager of the kubelet's status writes.
    pub fn manager(self) -> &'static str {
        match self {
            NodeFlavor::K3s => "k3s",
            NodeFlavor::Kubelet => "kubelet",
        }
    }

    /// The node's InternalIP (the Pods' hostIP).
    pub fn host_ip(self) -> &'static str {
        match self {
            NodeFlavor::K3s => "192.168.5.15",
            NodeFlavor::Kubelet => "192.0.2.2",
        }
    }

    /// A Pod IP from the node's Pod network.
    pub fn pod_ip(self, n: u64) -> String {
        match self {
            NodeFlavor::K3s => format!("10.42.0.{n}"),
            NodeFlavor::Kubelet => format!("10.88.0.{n}"),
        }
    }

    /// The image name the runtime reports for `image`.
    pub fn image(self, image: &str) -> String {
        match self {
            NodeFlavor::K3s => image.to_string(),
            NodeFlavor::Kubelet => {
                let first = image.split('/').next().unwrap_or("");
                let has_registry = image.contains('/')
                    && (first.contains('.') || first.contains(':') || first == "localhost");
                match (has_registry, image.contains('/')) {
                    (true, _) => image.to_string(),
                    (false, true) => format!("docker.io/{image}"),
                    (false, false) => format!("docker.io/library/{image}"),
                }
            }
        }
    }

    /// The runtime's image id.
    pub fn image_id(self, image: &str) -> String {
        match self {
            NodeFlavor::K3s => format!("docker-pullable://{image}@sha256:{}", "0".repeat(64)),
            NodeFlavor::Kubelet => format!("sha256:{}", "0".repeat(64)),
        }
    }

    /// A new container id.
    pub fn container_id(self) -> String {
        let id: String = (0..2).map(|_| state::uid().replace('-', "")).collect();
        match self {
            NodeFlavor::K3s => format!("docker://{id}"),
            NodeFlavor::Kubelet => format!("containerd://{id}"),
        }
    }
}

/// How long the simulated kubelet takes to stop a deleted Pod's containers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PodTermination {
    /// The Pod's whole grace period, like a container that ignores SIGTERM (`sleep` as PID 1
    /// in recording 125): the default.
    #[default]
    Faithful,
    /// At most this long (for tests that do not care about the grace period). The Pod still
    /// reports the real grace period and deadline.
    AtMost(Duration),
    /// Until the test calls `FakeApi::finish_pod_termination`.
    Manual,
}

/// A Pod the kubelet is stopping.
#[derive(Debug, Clone)]
pub struct Termination {
    /// Where it is stored.
    pub key: ObjKey,
    /// When the kubelet kills it (`None`: when the test says so).
    pub deadline: Option<Instant>,
}

/// When a Pod deleted now with `grace` seconds is stopped, under `mode`.
pub fn deadline(mode: PodTermination, grace: i64) -> Option<Instant> {
    let grace = Duration::from_secs(u64::try_from(grace).unwrap_or(0));
    match mode {
        PodTermination::Faithful => Some(Instant::now() + grace),
        PodTermination::AtMost(limit) => Some(Instant::now() + grace.min(limit)),
        PodTermination::Manual => None,
    }
}

/// The earliest pending termination deadline.
pub fn next_deadline(s: &State) -> Option<Instant> {
    s.terminations.values().filter_map(|t| t.deadline).min()
}

/// Finishes the terminations whose time has come; returns whether anything was written.
pub fn reconcile_terminations(s: &mut State) -> bool {
    let now = Instant::now();
    let due: Vec<String> = s
        .terminations
        .iter()
        .filter(|(_, t)| t.deadline.is_some_and(|d| d <= now))
        .map(|(uid, _)| uid.clone())
        .collect();
    for uid in &due {
        if let Some(t) = s.terminations.remove(uid) {
            stop_pod(s, &t.key);
        }
    }
    !due.is_empty()
}

fn not_ready(t: &str) -> impl Fn(&Value) -> Value + '_ {
    move |c: &Value| {
        let ready_kind = c["type"] == "Ready" || c["type"] == "ContainersReady";
        if ready_kind && c["status"] == "True" {
            json!({"type": c["type"], "status": "False", "lastProbeTime": null,
                "lastTransitionTime": t, "reason": "PodFailed"})
        } else {
            c.clone()
        }
    }
}

/// A container's state once the kubelet stopped it: killed after the grace period (exit
/// code 137), or never started (`ContainerStatusUnknown`).
fn terminated(c: &Value, t: &str) -> Value {
    if c["state"]["running"].is_object() {
        json!({"terminated": {"exitCode": 137, "reason": "Error",
            "startedAt": c["state"]["running"]["startedAt"], "finishedAt": t,
            "containerID": c["containerID"]}})
    } else {
        json!({"terminated": {"exitCode": 137, "reason": "ContainerStatusUnknown",
            "message": "The container could not be located when the pod was terminated",
            "startedAt": null, "finishedAt": null}})
    }
}

/// What the kubelet writes when a deleted Pod's grace period is over (recording 125): the
/// containers killed (exit code 137), phase `Failed`, the Pod IP dropped in that first write and
/// back in the next, then the final delete with grace 0 (`deletionTimestamp` moved back to the
/// time of the DELETE), then the object is gone. A Pod whose containers never started goes the
/// same way at once, its containers `ContainerStatusUnknown`.
pub fn stop_pod(s: &mut State, key: &ObjKey) {
    let res = resource("v1", "Pod");
    let Some(pod) = s.get(key).cloned() else {
        return;
    };
    let t = state::now();
    let manager = s.node_flavor.manager();
    let mut status = pod["status"].clone();
    status["phase"] = json!("Failed");
    let conditions: Vec<Value> = status["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(not_ready(&t))
        .collect();
    status["conditions"] = json!(conditions);
    if let Some(cs) = status
        .get_mut("containerStatuses")
        .and_then(Value::as_array_mut)
    {
        for c in cs {
            c["state"] = terminated(c, &t);
            c["ready"] = json!(false);
            c["started"] = json!(false);
        }
    }
    let mut writes = Vec::new();
    if status.get("podIP").is_some() {
        let mut without_ip = status.clone();
        if let Some(m) = without_ip.as_object_mut() {
            m.remove("podIP");
            m.remove("podIPs");
        }
        writes.push(without_ip);
    }
    writes.push(status);
    for st in writes {
        if let Some(cur) = s.get(key).cloned() {
            let mut next = cur.clone();
            next["status"] = st;
            let _ = s.update(&res, &cur, next, manager, Some("status"), false);
        }
    }
    s.final_delete(key);
}

/// `GET pods/NAME/log`: the API server's checks, then the kubelet's answer from the text
/// tests gave the container (`FakeApi::set_container_log`).
pub fn logs(
    shared: &Arc<Shared>,
    pod: &Value,
    query: &BTreeMap<String, String>,
) -> Result<Response, ApiError> {
    let name = pod["metadata"]["name"].as_str().unwrap_or("");
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
    let container = pick_container(pod, name, query.get("container"))?;
    let node = pod["spec"]["nodeName"].as_str().unwrap_or("").to_string();
    let (simulate, sim_node) = shared.with_state(|s| (s.simulate, s.sim_node.clone()));
    if node.is_empty() {
        return Err(bad_request(&format!(
            "pod {name} does not have a host assigned"
        )));
    }
    if !simulate || node != sim_node {
        return Err(dial_error(&node));
    }
    if query
        .get("previous")
        .is_some_and(|p| p == "true" || p == "1")
    {
        return Err(bad_request(&format!(
            "previous terminated container \"{container}\" in pod \"{name}\" not found"
        )));
    }
    let state = pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == container.as_str())
        .map(|c| c["state"].clone())
        .unwrap_or(Value::Null);
    if let Some(reason) = state["waiting"]["reason"].as_str() {
        return Err(bad_request(&format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: {reason}"
        )));
    }
    let key = (ns.to_string(), name.to_string(), container.clone());
    let text = shared.with_state(|s| s.logs.get(&key).cloned().unwrap_or_default());
    let sent = text.len();
    let text = match query.get("tailLines").and_then(|n| n.parse::<usize>().ok()) {
        Some(n) => {
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            lines[lines.len().saturating_sub(n)..].concat()
        }
        None => text,
    };
    let body = if query.get("follow").is_some_and(|f| f == "true" || f == "1") {
        Body::from_stream(follow(shared.clone(), key, text, sent))
    } else {
        Body::from(text)
    };
    Ok(Response::builder()
        .header(header::CONTENT_TYPE, "text/plain")
        .header(header::CACHE_CONTROL, "no-cache, private")
        .header("Audit-Id", state::uid())
        .body(body)
        .unwrap_or_default())
}

/// `follow=true` (recording 152): the tail at once, then whatever the container writes
/// (`FakeApi::append_container_log`) as it comes, until the Pod is gone or its container stops.
fn follow(
    shared: Arc<Shared>,
    key: (String, String, String),
    first: String,
    sent: usize,
) -> impl futures::Stream<Item = Result<String, std::io::Error>> {
    futures::stream::unfold((Some(first), sent), move |(pending, sent)| {
        let shared = shared.clone();
        let key = key.clone();
        async move {
            if let Some(text) = pending.filter(|t| !t.is_empty()) {
                return Some((Ok(text), (None, sent)));
            }
            loop {
                tokio::time::sleep(Duration::from_millis(50)).await;
                let (text, running) = shared.with_state(|s| {
                    let pod = s.get(&ObjKey::new(&resource("v1", "Pod"), &key.0, &key.1));
                    let running = pod.is_some_and(|p| {
                        p["status"]["containerStatuses"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .any(|c| {
                                c["name"] == key.2.as_str() && c["state"]["running"].is_object()
                            })
                    });
                    (s.logs.get(&key).cloned().unwrap_or_default(), running)
                });
                if text.len() > sent {
                    let new = text.get(sent..).unwrap_or("").to_string();
                    return Some((Ok(new), (None, text.len())));
                }
                if !running {
                    return None;
                }
            }
        }
    })
}
