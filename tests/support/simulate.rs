//! The opt-in workload simulator: stands in for the scheduler (nodeSelector, required node
//! affinity, cordon; FailedScheduling/Scheduled events), the deployment, replicaset and HPA
//! controllers, a kubelet (image/container events, env and volume resolution at start) and
//! metrics-server, so Pods run and Deployments roll out and scale without a cluster.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::Shared;
use super::container;
use super::discovery::recorded;
use super::events;
use super::kubelet;
use super::selectors::LabelSelector;
use super::state::{self, ObjKey, State, resource};

/// Creates the simulated node (colima's k3s node: Ready, docker runtime, control-plane labels)
/// if it is missing.
pub fn ensure_node(s: &mut State) {
    let node = s.sim_node.clone();
    if !s
        .list(&resource("v1", "Node"), None)
        .iter()
        .any(|n| n["metadata"]["name"] == node)
    {
        let mut body = recorded("068")["response"]["body"].clone();
        body["metadata"] = json!({"name": node, "labels": {
            "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/instance-type": "k3s",
            "beta.kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64",
            "kubernetes.io/hostname": node, "kubernetes.io/os": "linux",
            "node-role.kubernetes.io/control-plane": "true", "node-role.kubernetes.io/master": "true",
            "node.kubernetes.io/instance-type": "k3s"},
            "annotations": {"k3s.io/hostname": node, "k3s.io/internal-ip": "192.168.5.15",
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true"}});
        body["spec"] = json!({"podCIDR": "10.42.0.0/24", "podCIDRs": ["10.42.0.0/24"],
            "providerID": format!("k3s://{node}")});
        body["status"]["capacity"] = json!({"cpu": "2", "ephemeral-storage": "102626232Ki",
            "hugepages-1Gi": "0", "hugepages-2Mi": "0", "memory": "2014864Ki", "pods": "110"});
        body["status"]["allocatable"] = json!({"cpu": "2", "ephemeral-storage": "99834798412",
            "hugepages-1Gi": "0", "hugepages-2Mi": "0", "memory": "2014864Ki", "pods": "110"});
        body["status"]["nodeInfo"] = json!({"machineID": "c2a8f3d4e5b64f0a9d1e2f3a4b5c6d7e",
            "systemUUID": "c2a8f3d4-e5b6-4f0a-9d1e-2f3a4b5c6d7e",
            "bootID": "5b1c9a7e-3d2f-4e8a-9b6c-1d2e3f4a5b6c", "kernelVersion": "6.5.0-15-generic",
            "osImage": "Ubuntu 23.10", "containerRuntimeVersion": "docker://24.0.7",
            "kubeletVersion": "v1.28.7+k3s1", "kubeProxyVersion": "v1.28.7+k3s1",
            "operatingSystem": "linux", "architecture": "amd64"});
        body["status"]["daemonEndpoints"] = json!({"kubeletEndpoint": {"Port": 10250}});
        body["status"]["addresses"] = json!([{"type": "InternalIP", "address": "192.168.5.15"},
            {"type": "Hostname", "address": node}]);
        if s.node_flavor == kubelet::NodeFlavor::Kubelet {
            // realkube's real-node: an upstream kubelet with containerd, no k3s labels.
            body["metadata"] = json!({"name": node, "labels": {
                "beta.kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
                "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": node,
                "kubernetes.io/os": "linux"},
                "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                    "volumes.kubernetes.io/controller-managed-attach-detach": "true"}});
            body["spec"] = json!({});
            body["status"]["nodeInfo"]["containerRuntimeVersion"] = json!("containerd://1.6.20");
            body["status"]["nodeInfo"]["kubeletVersion"] = json!("v1.28.7");
            body["status"]["nodeInfo"]["kubeProxyVersion"] = json!("v1.28.7");
            body["status"]["nodeInfo"]["osImage"] = json!("Debian GNU/Linux 12 (bookworm)");
            body["status"]["addresses"] = json!([{"type": "InternalIP", "address": "192.0.2.2"},
                {"type": "Hostname", "address": node}]);
        }
        let manager = s.node_flavor.manager();
        let _ = s.put(body, manager);
    }
}

/// Reconciles until nothing changes, then waits for the next change or the next kubelet
/// deadline (a terminating Pod's grace period).
pub async fn run(shared: Arc<Shared>) {
    let mut rx = shared.notify.subscribe();
    loop {
        tokio::time::sleep(Duration::from_millis(30)).await;
        let changed = shared.with_state(reconcile);
        if changed {
            let rv = shared.with_state(|s| s.rv);
            shared.notify.send_replace(rv);
            rx.borrow_and_update();
            continue;
        }
        let next = shared.with_state(|s| kubelet::next_deadline(s));
        let wake = async {
            match next {
                Some(at) => tokio::time::sleep_until(at.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            changed = rx.changed() => if changed.is_err() {
                return;
            },
            () = wake => {}
        }
    }
}

fn fnv_hash(s: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut h: u64 = 0xcbf29ce484222325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    (0..10)
        .map(|i| ALPHABET[((h >> (i * 6)) % ALPHABET.len() as u64) as usize] as char)
        .collect()
}

fn owned_by(obj: &Value, uid: &Value) -> bool {
    obj["metadata"]["ownerReferences"]
        .as_array()
        .is_some_and(|refs| refs.iter().any(|r| r["uid"] == *uid))
}

fn deleting(obj: &Value) -> bool {
    obj["metadata"].get("deletionTimestamp").is_some()
}

fn owner_ref(kind: &str, obj: &Value) -> Value {
    json!([{"apiVersion": "apps/v1", "kind": kind, "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true}])
}

fn is_ready(pod: &Value) -> bool {
    pod["status"]["conditions"].as_array().is_some_and(|c| {
        c.iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    })
}

/// One pass over Deployments, ReplicaSets and Pods; returns whether anything was written.
pub fn reconcile(s: &mut State) -> bool {
    let mut changed = false;
    changed |= reconcile_node(s);
    changed |= reconcile_deployments(s);
    changed |= reconcile_replicasets(s);
    changed |= reconcile_pods(s);
    changed |= deployment_status(s);
    changed |= reconcile_hpas(s);
    changed |= reconcile_metrics(s);
    changed |= kubelet::reconcile_terminations(s);
    for ns in s.finalizing.clone() {
        let before = s.rv;
        s.finalize_namespace(&ns);
        changed |= s.rv != before;
    }
    forget_gone_pods(s);
    changed
}

fn reconcile_deployments(s: &mut State) -> bool {
    let mut changed = false;
    let rs_res = resource("apps/v1", "ReplicaSet");
    for d in s.list(&resource("apps/v1", "Deployment"), None) {
        if deleting(&d) {
            continue;
        }
        let ns = d["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let name = d["metadata"]["name"].as_str().unwrap_or("").to_string();
        let uid = d["metadata"]["uid"].clone();
        let template = d["spec"]["template"].clone();
        let hash = fnv_hash(&template.to_string());
        let rs_name = format!("{name}-{hash}");
        let owned: Vec<Value> = s
            .list(&rs_res, Some(&ns))
            .into_iter()
            .filter(|r| owned_by(r, &uid))
            .collect();
        let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1);
        let revision_of = |r: &Value| {
            r["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
                .as_str()
                .and_then(|v| v.parse::<i64>().ok())
                .unwrap_or(0)
        };
        let current = owned
            .iter()
            .find(|r| r["metadata"]["name"] == rs_name.as_str())
            .cloned();
        let revision = match &current {
            Some(r) => revision_of(r),
            None => owned.iter().map(revision_of).max().unwrap_or(0) + 1,
        };
        let mut labels = template["metadata"]["labels"].clone();
        labels["pod-template-hash"] = json!(hash);
        let mut selector = d["spec"]["selector"].clone();
        selector["matchLabels"]["pod-template-hash"] = json!(hash);
        let mut rs_template = template.clone();
        rs_template["metadata"]["labels"] = labels.clone();
        let annotations = json!({"deployment.kubernetes.io/desired-replicas": replicas.to_string(),
            "deployment.kubernetes.io/max-replicas": (replicas + (replicas + 3) / 4).to_string(),
            "deployment.kubernetes.io/revision": revision.to_string()});
        let wanted_spec =
            json!({"replicas": replicas, "selector": selector, "template": rs_template});
        let needs_write = match &current {
            None => true,
            Some(r) => {
                r["spec"]["replicas"] != json!(replicas)
                    || r["metadata"]["annotations"] != annotations
            }
        };
        if needs_write {
            let mut rs = current.clone().unwrap_or_else(|| {
                json!({"apiVersion": "apps/v1", "kind": "ReplicaSet",
                    "metadata": {"name": rs_name, "namespace": ns, "labels": labels,
                        "ownerReferences": owner_ref("Deployment", &d)},
                    "status": {"replicas": 0}})
            });
            let from = current
                .as_ref()
                .and_then(|r| r["spec"]["replicas"].as_i64())
                .unwrap_or(0);
            rs["metadata"]["annotations"] = annotations;
            rs["spec"] = wanted_spec;
            if s.put(rs, "kube-controller-manager").is_ok() {
                changed = true;
                if current.is_none() || from != replicas {
                    let verb = if replicas >= from { "up" } else { "down" };
                    events::core_event(
                        s,
                        &d,
                        None,
                        "deployment-controller",
                        None,
                        "ScalingReplicaSet",
                        "Normal",
                        &format!("Scaled {verb} replica set {rs_name} to {replicas} from {from}"),
                    );
                }
            }
        }
        for old in owned
            .iter()
            .filter(|r| r["metadata"]["name"] != rs_name.as_str())
        {
            if old["spec"]["replicas"] != json!(0) {
                let mut o = old.clone();
                o["spec"]["replicas"] = json!(0);
                o["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] =
                    json!(replicas.to_string());
                let _ = s.put(o, "kube-controller-manager");
                changed = true;
            }
        }
        if d["metadata"]["annotations"]["deployment.kubernetes.io/revision"]
            != json!(revision.to_string())
        {
            let mut nd = d.clone();
            if !nd["metadata"]["annotations"].is_object() {
                nd["metadata"]["annotations"] = json!({});
            }
            nd["metadata"]["annotations"]["deployment.kubernetes.io/revision"] =
                json!(revision.to_string());
            let _ = s.put(nd, "kube-controller-manager");
            changed = true;
        }
    }
    changed
}

fn reconcile_replicasets(s: &mut State) -> bool {
    let mut changed = false;
    let pod_res = resource("v1", "Pod");
    for rs in s.list(&resource("apps/v1", "ReplicaSet"), None) {
        if deleting(&rs) {
            continue;
        }
        let ns = rs["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let name = rs["metadata"]["name"].as_str().unwrap_or("").to_string();
        let uid = rs["metadata"]["uid"].clone();
        let pods: Vec<Value> = s
            .list(&pod_res, Some(&ns))
            .into_iter()
            .filter(|p| owned_by(p, &uid) && !deleting(p))
            .collect();
        let want = rs["spec"]["replicas"].as_i64().unwrap_or(1).max(0) as usize;
        if pods.len() < want {
            for _ in pods.len()..want {
                let template = &rs["spec"]["template"];
                let pod = json!({"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": format!("{name}-{}", state::random_suffix(5)),
                        "generateName": format!("{name}-"), "namespace": ns,
                        "labels": template["metadata"]["labels"],
                        "ownerReferences": owner_ref("ReplicaSet", &rs)},
                    "spec": template["spec"]});
                let mut pod = pod;
                if let Some(a) = template["metadata"].get("annotations") {
                    pod["metadata"]["annotations"] = a.clone();
                }
                if let Ok(created) = s.put(pod, "kube-controller-manager") {
                    events::core_event(
                        s,
                        &rs,
                        None,
                        "replicaset-controller",
                        None,
                        "SuccessfulCreate",
                        "Normal",
                        &format!(
                            "Created pod: {}",
                            created["metadata"]["name"].as_str().unwrap_or("")
                        ),
                    );
                }
            }
            changed = true;
        } else if pods.len() > want {
            for p in pods.iter().skip(want) {
                let pname = p["metadata"]["name"].as_str().unwrap_or("");
                if s.delete(&pod_res, &ns, pname).is_ok() {
                    events::core_event(
                        s,
                        &rs,
                        None,
                        "replicaset-controller",
                        None,
                        "SuccessfulDelete",
                        "Normal",
                        &format!("Deleted pod: {pname}"),
                    );
                }
            }
            changed = true;
        }
        let pods: Vec<Value> = s
            .list(&pod_res, Some(&ns))
            .into_iter()
            .filter(|p| owned_by(p, &uid) && !deleting(p))
            .collect();
        let ready = pods.iter().filter(|p| is_ready(p)).count();
        let mut st = json!({"replicas": pods.len(), "fullyLabeledReplicas": pods.len(),
            "readyReplicas": ready, "availableReplicas": ready,
            "observedGeneration": rs["metadata"]["generation"]});
        if let Some(m) = st.as_object_mut() {
            m.retain(|k, v| k == "replicas" || k == "observedGeneration" || v != &json!(0));
        }
        if rs["status"] != st {
            let mut n = rs.clone();
            n["status"] = st;
            let _ = s.put(n, "kube-controller-manager");
            changed = true;
        }
    }
    changed
}

/// Why the scheduler cannot place `pod` on `node` (the FailedScheduling message), or `None`.
fn unschedulable_reason(pod: &Value, node: Option<&Value>) -> Option<String> {
    let Some(node) = node else {
        return Some("no nodes available to schedule pods".into());
    };
    let tail = " preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling..";
    let tolerates_cordon = pod["spec"]["tolerations"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|t| {
            t["key"] == "node.kubernetes.io/unschedulable"
                || (t["operator"] == "Exists" && t["key"].as_str().is_none_or(str::is_empty))
        });
    if node["spec"]["unschedulable"] == json!(true) && !tolerates_cordon {
        return Some(format!(
            "0/1 nodes are available: 1 node(s) were unschedulable.{tail}"
        ));
    }
    let labels = &node["metadata"]["labels"];
    let selector_ok = pod["spec"]["nodeSelector"]
        .as_object()
        .is_none_or(|sel| sel.iter().all(|(k, v)| labels.get(k) == Some(v)));
    let terms = &pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        ["nodeSelectorTerms"];
    let affinity_ok = terms
        .as_array()
        .is_none_or(|terms| terms.iter().any(|t| node_term_matches(t, node)));
    if !selector_ok || !affinity_ok {
        return Some(format!(
            "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector.{tail}"
        ));
    }
    None
}

/// One `nodeSelectorTerm`: every `matchExpressions`/`matchFields` requirement holds.
fn node_term_matches(term: &Value, node: &Value) -> bool {
    let labels = &node["metadata"]["labels"];
    let check = |req: &Value, actual: Option<&str>| {
        let values: Vec<&str> = req["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let num = |v: Option<&str>| v.and_then(|v| v.parse::<i64>().ok());
        match req["operator"].as_str().unwrap_or("") {
            "In" => actual.is_some_and(|a| values.contains(&a)),
            "NotIn" => actual.is_none_or(|a| !values.contains(&a)),
            "Exists" => actual.is_some(),
            "DoesNotExist" => actual.is_none(),
            "Gt" => num(actual)
                .zip(num(values.first().copied()))
                .is_some_and(|(a, b)| a > b),
            "Lt" => num(actual)
                .zip(num(values.first().copied()))
                .is_some_and(|(a, b)| a < b),
            _ => false,
        }
    };
    let exprs = term["matchExpressions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let fields = term["matchFields"].as_array().cloned().unwrap_or_default();
    (!exprs.is_empty() || !fields.is_empty())
        && exprs
            .iter()
            .all(|r| check(r, labels[r["key"].as_str().unwrap_or("")].as_str()))
        && fields.iter().all(|r| {
            let actual = (r["key"] == "metadata.name")
                .then(|| node["metadata"]["name"].as_str())
                .flatten();
            check(r, actual)
        })
}

/// Keeps the node's `unschedulable` taint in step with `spec.unschedulable` (cordon).
fn reconcile_node(s: &mut State) -> bool {
    let key = ObjKey::new(&resource("v1", "Node"), "", &s.sim_node);
    let Some(node) = s.get(&key).cloned() else {
        return false;
    };
    let cordoned = node["spec"]["unschedulable"] == json!(true);
    let taint_key = "node.kubernetes.io/unschedulable";
    let mut taints: Vec<Value> = node["spec"]["taints"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let has = taints.iter().any(|t| t["key"] == taint_key);
    if cordoned == has {
        return false;
    }
    if cordoned {
        taints.push(json!({"key": taint_key, "effect": "NoSchedule", "timeAdded": state::now()}));
    } else {
        taints.retain(|t| t["key"] != taint_key);
    }
    let mut n = node.clone();
    if taints.is_empty() {
        if let Some(spec) = n["spec"].as_object_mut() {
            spec.remove("taints");
        }
    } else {
        n["spec"]["taints"] = json!(taints);
    }
    let _ = s.put(n, "k3s");
    true
}

fn condition(ty: &str, t: &str) -> Value {
    json!({"type": ty, "status": "True", "lastProbeTime": null, "lastTransitionTime": t})
}

/// The scheduler and the kubelet: binds Pending Pods to the node when they fit (or reports
/// FailedScheduling), then starts their containers once their ConfigMaps/Secrets exist.
fn reconcile_pods(s: &mut State) -> bool {
    let mut changed = false;
    let node_name = s.sim_node.clone();
    let node = s
        .list(&resource("v1", "Node"), None)
        .into_iter()
        .find(|n| n["metadata"]["name"] == node_name.as_str());
    for pod in s.list(&resource("v1", "Pod"), None) {
        if deleting(&pod) || pod["status"]["phase"] != "Pending" {
            continue;
        }
        let t = state::now();
        let bound = pod["spec"]["nodeName"].as_str().unwrap_or("");
        if !bound.is_empty() && bound != node_name {
            continue;
        }
        let mut p = pod.clone();
        if bound.is_empty() {
            if let Some(message) = unschedulable_reason(&pod, node.as_ref()) {
                let already = pod["status"]["conditions"].as_array().is_some_and(|c| {
                    c.iter()
                        .any(|c| c["reason"] == "Unschedulable" && c["message"] == message.as_str())
                });
                if !already {
                    p["status"]["conditions"] = json!([{"type": "PodScheduled", "status": "False",
                        "lastProbeTime": null, "lastTransitionTime": t, "reason": "Unschedulable",
                        "message": message}]);
                    if let Some(stored) = write_status(s, &p, "kube-scheduler") {
                        events::scheduler_event(
                            s,
                            &stored,
                            "FailedScheduling",
                            "Warning",
                            "Scheduling",
                            &message,
                        );
                    }
                    changed = true;
                }
                continue;
            }
            let key = pod_key(&pod);
            let Some(stored) = s.bind(&key, &node_name) else {
                continue;
            };
            let ns = stored["metadata"]["namespace"].as_str().unwrap_or("");
            let name = stored["metadata"]["name"].as_str().unwrap_or("");
            events::scheduler_event(
                s,
                &stored,
                "Scheduled",
                "Normal",
                "Binding",
                &format!("Successfully assigned {ns}/{name} to {node_name}"),
            );
            p = stored;
            changed = true;
        }
        changed |= kubelet_start(s, p, &node_name, &t);
    }
    changed
}

fn pod_key(pod: &Value) -> ObjKey {
    ObjKey::new(
        &resource("v1", "Pod"),
        pod["metadata"]["namespace"].as_str().unwrap_or(""),
        pod["metadata"]["name"].as_str().unwrap_or(""),
    )
}

/// Writes `pod.status` through the `status` subresource as `manager` (how the scheduler and
/// the kubelet write, recordings 033/115); returns the stored Pod.
fn write_status(s: &mut State, pod: &Value, manager: &str) -> Option<Value> {
    let key = pod_key(pod);
    let cur = s.get(&key).cloned()?;
    let mut next = cur.clone();
    next["status"] = pod["status"].clone();
    s.update(
        &resource("v1", "Pod"),
        &cur,
        next,
        manager,
        Some("status"),
        false,
    )
    .ok()
}

/// The kubelet's part: waits on missing ConfigMaps/Secrets, else pulls, creates and starts
/// every container (with events) and reports the Pod Running and Ready.
fn kubelet_start(s: &mut State, pod: Value, node_name: &str, t: &str) -> bool {
    let flavor = s.node_flavor;
    let mut p = pod.clone();
    // The binding's condition, as it was written.
    let scheduled = pod["status"]["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "PodScheduled").cloned())
        .unwrap_or_else(|| condition("PodScheduled", t));
    let containers: Vec<Value> = pod["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if let Some((reason, message)) = container::start_blocker(s, &pod) {
        let waiting_same =
            pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"] == reason;
        if waiting_same {
            return false;
        }
        let statuses: Vec<Value> = containers
            .iter()
            .map(|c| {
                let mut waiting = json!({"reason": reason});
                if reason != "ContainerCreating" {
                    waiting["message"] = json!(message);
                }
                json!({"name": c["name"], "state": {"waiting": waiting}, "lastState": {},
                    "ready": false, "restartCount": 0, "image": c["image"], "imageID": "",
                    "started": false})
            })
            .collect();
        let not_ready = |ty: &str| {
            json!({"type": ty, "status": "False", "lastProbeTime": null,
            "lastTransitionTime": t, "reason": "ContainersNotReady",
            "message": format!("containers with unready status: [{}]",
                containers.iter().filter_map(|c| c["name"].as_str()).collect::<Vec<_>>().join(" "))})
        };
        p["status"] = json!({"phase": "Pending",
            "conditions": [condition("Initialized", t), not_ready("Ready"), not_ready("ContainersReady"),
                scheduled],
            "hostIP": flavor.host_ip(), "startTime": t,
            "containerStatuses": statuses, "qosClass": pod["status"]["qosClass"]});
        if let Some(stored) = write_status(s, &p, flavor.manager()) {
            let (ereason, emsg) = if reason == "ContainerCreating" {
                ("FailedMount", message)
            } else {
                ("Failed", format!("Error: {message}"))
            };
            events::core_event(
                s,
                &stored,
                None,
                "kubelet",
                Some(node_name),
                ereason,
                "Warning",
                &emsg,
            );
        }
        return true;
    }
    let started = container::start_containers(s, &pod);
    if let Some(uid) = pod["metadata"]["uid"].as_str() {
        s.started.insert(uid.to_string(), started);
    }
    let statuses: Vec<Value> = containers
        .iter()
        .map(|c| {
            let image = c["image"].as_str().unwrap_or("");
            json!({"name": c["name"], "state": {"running": {"startedAt": t}}, "lastState": {},
                "ready": true, "restartCount": 0, "image": flavor.image(image),
                "imageID": flavor.image_id(image), "containerID": flavor.container_id(),
                "started": true})
        })
        .collect();
    let n = s.rv % 250 + 2;
    p["status"] = json!({"phase": "Running",
        "conditions": [condition("Initialized", t), condition("Ready", t), condition("ContainersReady", t),
            scheduled],
        "hostIP": flavor.host_ip(),
        "podIP": flavor.pod_ip(n), "podIPs": [{"ip": flavor.pod_ip(n)}],
        "startTime": t, "containerStatuses": statuses, "qosClass": pod["status"]["qosClass"]});
    let Some(stored) = write_status(s, &p, flavor.manager()) else {
        return false;
    };
    for c in &containers {
        let cname = c["name"].as_str().unwrap_or("");
        let image = c["image"].as_str().unwrap_or("");
        let fp = format!("spec.containers{{{cname}}}");
        let policy = c["imagePullPolicy"].as_str().unwrap_or("IfNotPresent");
        let present = s.pulled_images.contains(image);
        let mut ev = |reason: &str, msg: String| {
            events::core_event(
                s,
                &stored,
                Some(&fp),
                "kubelet",
                Some(node_name),
                reason,
                "Normal",
                &msg,
            );
        };
        if policy == "Always" || (!present && policy != "Never") {
            ev("Pulling", format!("Pulling image \"{image}\""));
            ev(
                "Pulled",
                format!(
                    "Successfully pulled image \"{image}\" in 1.204s (1.204s including waiting)"
                ),
            );
        } else {
            ev(
                "Pulled",
                format!("Container image \"{image}\" already present on machine"),
            );
        }
        ev("Created", format!("Created container {cname}"));
        ev("Started", format!("Started container {cname}"));
        s.pulled_images.insert(image.to_string());
    }
    true
}

/// Drops what the kubelet remembered about Pods that no longer exist.
fn forget_gone_pods(s: &mut State) {
    let pods = s.list(&resource("v1", "Pod"), None);
    let alive: std::collections::BTreeSet<String> = pods
        .iter()
        .filter_map(|p| p["metadata"]["uid"].as_str().map(String::from))
        .collect();
    s.started.retain(|uid, _| alive.contains(uid));
    let named: std::collections::BTreeSet<(String, String)> = pods
        .iter()
        .map(|p| {
            let m = &p["metadata"];
            let text = |v: &Value| v.as_str().unwrap_or("").to_string();
            (text(&m["namespace"]), text(&m["name"]))
        })
        .collect();
    s.logs
        .retain(|(ns, pod, _), _| named.contains(&(ns.clone(), pod.clone())));
}

fn deployment_status(s: &mut State) -> bool {
    let mut changed = false;
    let rs_res = resource("apps/v1", "ReplicaSet");
    for d in s.list(&resource("apps/v1", "Deployment"), None) {
        if deleting(&d) {
            continue;
        }
        let ns = d["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let uid = d["metadata"]["uid"].clone();
        let hash = fnv_hash(&d["spec"]["template"].to_string());
        let rs_name = format!("{}-{hash}", d["metadata"]["name"].as_str().unwrap_or(""));
        let owned: Vec<Value> = s
            .list(&rs_res, Some(&ns))
            .into_iter()
            .filter(|r| owned_by(r, &uid))
            .collect();
        let sum = |f: &str| {
            owned
                .iter()
                .map(|r| r["status"][f].as_i64().unwrap_or(0))
                .sum::<i64>()
        };
        let new_rs = owned
            .iter()
            .find(|r| r["metadata"]["name"] == rs_name.as_str());
        let updated = new_rs
            .map(|r| r["status"]["replicas"].as_i64().unwrap_or(0))
            .unwrap_or(0);
        let replicas = d["spec"]["replicas"].as_i64().unwrap_or(1);
        let available = sum("availableReplicas");
        let complete = updated == replicas && sum("replicas") == replicas && available == replicas;
        let old_conds = d["status"]["conditions"].clone();
        let cond = |ty: &str, st: &str, reason: &str, msg: String| {
            let same = old_conds.as_array().and_then(|c| {
                c.iter()
                    .find(|c| c["type"] == ty && c["status"] == st && c["reason"] == reason)
            });
            let t = state::now();
            json!({"type": ty, "status": st,
                "lastUpdateTime": same.map_or(json!(t), |c| c["lastUpdateTime"].clone()),
                "lastTransitionTime": same.map_or(json!(t), |c| c["lastTransitionTime"].clone()),
                "reason": reason, "message": msg})
        };
        let available_cond = if available >= replicas {
            cond(
                "Available",
                "True",
                "MinimumReplicasAvailable",
                "Deployment has minimum availability.".into(),
            )
        } else {
            cond(
                "Available",
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.".into(),
            )
        };
        let progressing = if complete {
            cond(
                "Progressing",
                "True",
                "NewReplicaSetAvailable",
                format!("ReplicaSet \"{rs_name}\" has successfully progressed."),
            )
        } else {
            cond(
                "Progressing",
                "True",
                "ReplicaSetUpdated",
                format!("ReplicaSet \"{rs_name}\" is progressing."),
            )
        };
        let mut st = json!({"observedGeneration": d["metadata"]["generation"], "replicas": sum("replicas"),
            "updatedReplicas": updated, "readyReplicas": sum("readyReplicas"), "availableReplicas": available,
            "conditions": [available_cond, progressing]});
        if available < replicas {
            st["unavailableReplicas"] = json!(replicas - available);
        }
        if let Some(m) = st.as_object_mut() {
            m.retain(|k, v| {
                !(["readyReplicas", "availableReplicas", "updatedReplicas"].contains(&k.as_str())
                    && v == &json!(0))
            });
        }
        if d["status"] != st {
            let mut nd = d.clone();
            nd["status"] = st;
            let _ = s.put(nd, "kube-controller-manager");
            changed = true;
        }
    }
    changed
}

/// Millicores of a CPU quantity (`100m`, `0.5`, `1`).
fn millicores(q: &Value) -> Option<u64> {
    let q = match q {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    if let Some(m) = q.strip_suffix('m') {
        return m.parse().ok();
    }
    if let Some(n) = q.strip_suffix('n') {
        return n.parse::<u64>().ok().map(|n| n / 1_000_000);
    }
    q.parse::<f64>().ok().map(|c| (c * 1000.0).round() as u64)
}

/// The simulated CPU usage of a Pod (millicores).
fn pod_usage(s: &State, pod: &Value) -> u64 {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
    s.cpu_usage
        .iter()
        .rev()
        .find(|(n, sel, _)| n == ns && LabelSelector::parse(sel).is_ok_and(|l| l.matches(pod)))
        .map_or(1, |(_, _, m)| *m)
}

fn running_on_node(pod: &Value) -> bool {
    !deleting(pod) && pod["status"]["phase"] == "Running"
}

/// Pods selected by a workload's `spec.selector.matchLabels`.
fn selected_pods(s: &State, ns: &str, target: &Value) -> Vec<Value> {
    let labels = target["spec"]["selector"]["matchLabels"].clone();
    s.list(&resource("v1", "Pod"), Some(ns))
        .into_iter()
        .filter(|p| {
            labels.as_object().is_some_and(|m| {
                m.iter()
                    .all(|(k, v)| p["metadata"]["labels"].get(k) == Some(v))
            })
        })
        .collect()
}

/// Conditions with `lastTransitionTime` kept when a condition's status did not change.
fn keep_transitions(old: &Value, new: Vec<Value>) -> Value {
    let t = state::now();
    json!(
        new.into_iter()
            .map(|mut c| {
                let same = old.as_array().and_then(|o| {
                    o.iter()
                        .find(|x| x["type"] == c["type"] && x["status"] == c["status"])
                });
                c["lastTransitionTime"] =
                    same.map_or(json!(t), |x| x["lastTransitionTime"].clone());
                c
            })
            .collect::<Vec<_>>()
    )
}

fn hpa_cond(ty: &str, st: &str, reason: &str, message: &str) -> Value {
    json!({"type": ty, "status": st, "reason": reason, "message": message})
}

/// The HPA controller for CPU utilization targets on Deployments/ReplicaSets: reads the
/// simulated usage through metrics.k8s.io (failing like 036 when it is not served), fills
/// `currentMetrics`, conditions and `desiredReplicas`, and scales the target out (scale-in waits
/// out the real 5-minute stabilization window, so it does not happen here).
fn reconcile_hpas(s: &mut State) -> bool {
    let mut changed = false;
    for hpa in s.list(&resource("autoscaling/v2", "HorizontalPodAutoscaler"), None) {
        if deleting(&hpa) {
            continue;
        }
        let ns = hpa["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let target_ref = &hpa["spec"]["scaleTargetRef"];
        let kind = target_ref["kind"].as_str().unwrap_or("");
        let tname = target_ref["name"].as_str().unwrap_or("");
        let api_version = target_ref["apiVersion"].as_str().unwrap_or("apps/v1");
        let target = ["Deployment", "ReplicaSet", "StatefulSet"]
            .contains(&kind)
            .then(|| {
                s.get(&ObjKey::new(&resource(api_version, kind), &ns, tname))
                    .cloned()
            })
            .flatten();
        let old = hpa["status"]["conditions"].clone();
        let min = hpa["spec"]["minReplicas"].as_i64().unwrap_or(1);
        let max = hpa["spec"]["maxReplicas"].as_i64().unwrap_or(1);
        let mut status = json!({"currentMetrics": null, "desiredReplicas": 0});
        let mut scale_to = None;
        match target {
            None => {
                status["currentReplicas"] = json!(0);
                status["conditions"] = keep_transitions(
                    &old,
                    vec![hpa_cond(
                        "AbleToScale",
                        "False",
                        "FailedGetScale",
                        &format!(
                            "the HPA controller was unable to get the target's current scale: {}.{} \"{tname}\" not found",
                            kind.to_lowercase() + "s",
                            api_version.split('/').next().unwrap_or("apps")
                        ),
                    )],
                );
            }
            Some(target) => {
                let current = target["spec"]["replicas"].as_i64().unwrap_or(1);
                status["currentReplicas"] = json!(current);
                let able = hpa_cond(
                    "AbleToScale",
                    "True",
                    "SucceededGetScale",
                    "the HPA controller was able to get the target's current scale",
                );
                let cpu_target = hpa["spec"]["metrics"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|m| m["type"] == "Resource" && m["resource"]["name"] == "cpu")
                    .map(|m| {
                        m["resource"]["target"]["averageUtilization"]
                            .as_i64()
                            .unwrap_or(80)
                    });
                let pods: Vec<Value> = selected_pods(s, &ns, &target)
                    .into_iter()
                    .filter(running_on_node)
                    .collect();
                let requests: Vec<Option<u64>> = pods
                    .iter()
                    .map(|p| {
                        p["spec"]["containers"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .map(|c| millicores(&c["resources"]["requests"]["cpu"]))
                            .sum::<Option<u64>>()
                    })
                    .collect();
                let failed = |msg: String| {
                    keep_transitions(
                        &old,
                        vec![
                            able.clone(),
                            hpa_cond(
                                "ScalingActive",
                                "False",
                                "FailedGetResourceMetric",
                                &format!(
                                    "the HPA was unable to compute the replica count: failed to get cpu utilization: {msg}"
                                ),
                            ),
                        ],
                    )
                };
                if !s.metrics {
                    status["conditions"] = failed("unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)".into());
                } else if let Some(i) = requests.iter().position(Option::is_none) {
                    let c = pods[i]["spec"]["containers"][0]["name"]
                        .as_str()
                        .unwrap_or("");
                    let p = pods[i]["metadata"]["name"].as_str().unwrap_or("");
                    status["conditions"] = failed(format!(
                        "missing request for cpu in container {c} of Pod {p}"
                    ));
                } else if pods.is_empty() || cpu_target.is_none() {
                    status["conditions"] = failed(
                        "did not receive metrics for targeted pods (pods might be unready)".into(),
                    );
                } else {
                    let target_util = cpu_target.unwrap_or(80).max(1);
                    let usage: u64 = pods.iter().map(|p| pod_usage(s, p)).sum();
                    let request: u64 = requests.iter().flatten().sum::<u64>().max(1);
                    let util = (usage * 100 / request) as i64;
                    let ratio = util as f64 / target_util as f64;
                    let settled = pods.len() as i64 == current;
                    let mut desired = if (ratio - 1.0).abs() <= 0.1 {
                        current
                    } else {
                        (ratio * pods.len() as f64).ceil() as i64
                    };
                    // Scale-in waits out the 5-minute stabilization window.
                    desired = desired.max(current);
                    let limited = if desired > max {
                        desired = max;
                        hpa_cond(
                            "ScalingLimited",
                            "True",
                            "TooManyReplicas",
                            "the desired replica count is more than the maximum replica count",
                        )
                    } else if desired < min {
                        desired = min;
                        hpa_cond(
                            "ScalingLimited",
                            "True",
                            "TooFewReplicas",
                            "the desired replica count is less than the minimum replica count",
                        )
                    } else {
                        hpa_cond(
                            "ScalingLimited",
                            "False",
                            "DesiredWithinRange",
                            "the desired count is within the acceptable range",
                        )
                    };
                    if !settled {
                        desired = current;
                    }
                    let able = if desired != current {
                        scale_to = Some(desired);
                        hpa_cond(
                            "AbleToScale",
                            "True",
                            "SucceededRescale",
                            &format!(
                                "the HPA controller was able to update the target scale to {desired}"
                            ),
                        )
                    } else {
                        old.as_array()
                            .and_then(|o| {
                                o.iter().find(|c| {
                                    c["type"] == "AbleToScale" && c["reason"] == "SucceededRescale"
                                })
                            })
                            .cloned()
                            .unwrap_or_else(|| {
                                hpa_cond(
                                    "AbleToScale",
                                    "True",
                                    "ReadyForNewScale",
                                    "recommended size matches current size",
                                )
                            })
                    };
                    status["desiredReplicas"] = json!(desired);
                    status["currentMetrics"] = json!([{"type": "Resource", "resource": {"name": "cpu",
                        "current": {"averageUtilization": util,
                            "averageValue": format!("{}m", usage / pods.len() as u64)}}}]);
                    status["conditions"] = keep_transitions(
                        &old,
                        vec![
                            able,
                            hpa_cond(
                                "ScalingActive",
                                "True",
                                "ValidMetricFound",
                                "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)",
                            ),
                            limited,
                        ],
                    );
                    if let Some(t) = hpa["status"].get("lastScaleTime") {
                        status["lastScaleTime"] = t.clone();
                    }
                    if let Some(to) = scale_to {
                        status["lastScaleTime"] = json!(state::now());
                        let mut t = target.clone();
                        t["spec"]["replicas"] = json!(to);
                        let _ = s.put(t, "kube-controller-manager");
                        events::core_event(
                            s,
                            &hpa,
                            None,
                            "horizontal-pod-autoscaler",
                            None,
                            "SuccessfulRescale",
                            "Normal",
                            &format!(
                                "New size: {to}; reason: cpu resource utilization (percentage of request) above target"
                            ),
                        );
                    }
                }
            }
        }
        let mut cmp_old = hpa["status"].clone();
        let mut cmp_new = status.clone();
        for v in [&mut cmp_old, &mut cmp_new] {
            if let Some(m) = v.as_object_mut() {
                m.remove("lastScaleTime");
            }
        }
        if cmp_old != cmp_new || scale_to.is_some() {
            let mut h = hpa.clone();
            h["status"] = status;
            let _ = s.put(h, "kube-controller-manager");
            changed = true;
        }
    }
    changed
}

/// metrics-server: a `PodMetrics` per running Pod and a `NodeMetrics` for the node, while
/// metrics.k8s.io is served; rewritten only when the usage changes.
fn reconcile_metrics(s: &mut State) -> bool {
    if !s.metrics {
        return false;
    }
    let mut changed = false;
    let pm_res = resource("metrics.k8s.io/v1beta1", "PodMetrics");
    let pods: Vec<Value> = s
        .list(&resource("v1", "Pod"), None)
        .into_iter()
        .filter(running_on_node)
        .collect();
    let mut total = 150;
    let mut live = std::collections::BTreeSet::new();
    for pod in &pods {
        let ns = pod["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let name = pod["metadata"]["name"].as_str().unwrap_or("").to_string();
        let usage = pod_usage(s, pod);
        total += usage;
        live.insert((ns.clone(), name.clone()));
        let containers: Vec<Value> = pod["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .enumerate()
            .map(|(i, c)| {
                let cpu = if i == 0 { usage } else { 0 };
                json!({"name": c["name"], "usage": {"cpu": format!("{}n", cpu * 1_000_000),
                    "memory": "3712Ki"}})
            })
            .collect();
        let existing = s.get(&ObjKey::new(&pm_res, &ns, &name)).cloned();
        if existing
            .as_ref()
            .is_some_and(|e| e["containers"] == json!(containers))
        {
            continue;
        }
        let pm = json!({"apiVersion": "metrics.k8s.io/v1beta1", "kind": "PodMetrics",
            "metadata": {"name": name, "namespace": ns, "labels": pod["metadata"]["labels"]},
            "timestamp": state::now(), "window": "15.021s", "containers": containers});
        let _ = s.put(pm, "metrics-server");
        changed = true;
    }
    for pm in s.list(&pm_res, None) {
        let ns = pm["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let name = pm["metadata"]["name"].as_str().unwrap_or("").to_string();
        if !live.contains(&(ns.clone(), name.clone())) {
            let _ = s.delete(&pm_res, &ns, &name);
            changed = true;
        }
    }
    let nm_res = resource("metrics.k8s.io/v1beta1", "NodeMetrics");
    let node = s.sim_node.clone();
    let usage = json!({"cpu": format!("{}n", total * 1_000_000), "memory": "1207512Ki"});
    let existing = s.get(&ObjKey::new(&nm_res, "", &node)).cloned();
    if existing.is_none_or(|e| e["usage"] != usage) {
        let nm = json!({"apiVersion": "metrics.k8s.io/v1beta1", "kind": "NodeMetrics",
            "metadata": {"name": node, "labels": {"kubernetes.io/hostname": node,
                "node-role.kubernetes.io/control-plane": "true"}},
            "timestamp": state::now(), "window": "20.05s", "usage": usage});
        let _ = s.put(nm, "metrics-server");
        changed = true;
    }
    changed
}
