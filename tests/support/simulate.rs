//! The opt-in workload simulator: stands in for the scheduler, the deployment and replicaset
//! controllers and a kubelet, so Pods run and Deployments roll out without a cluster.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};

use super::Shared;
use super::discovery::recorded;
use super::state::{self, State, resource};

/// Creates the simulated node (Ready, from the recorded `lab-node`) if it is missing.
pub fn ensure_node(s: &mut State) {
    let node = s.sim_node.clone();
    if !s
        .list(&resource("v1", "Node"), None)
        .iter()
        .any(|n| n["metadata"]["name"] == node)
    {
        let mut body = recorded("068")["response"]["body"].clone();
        body["metadata"] = json!({"name": node, "labels": {
            "kubernetes.io/arch": "amd64", "kubernetes.io/hostname": node, "kubernetes.io/os": "linux",
            "node-role.kubernetes.io/control-plane": "true", "node-role.kubernetes.io/master": "true"}});
        body["status"]["nodeInfo"]["kubeletVersion"] = json!("v1.28.7+k3s1");
        body["status"]["nodeInfo"]["kubeProxyVersion"] = json!("v1.28.7+k3s1");
        body["status"]["nodeInfo"]["containerRuntimeVersion"] = json!("docker://24.0.7");
        body["status"]["addresses"] = json!([{"type": "InternalIP", "address": "192.168.5.15"},
            {"type": "Hostname", "address": node}]);
        let _ = s.put(body, "k3s");
    }
}

/// Reconciles until nothing changes, then waits for the next change.
pub async fn run(shared: Arc<Shared>) {
    let mut rx = shared.notify.subscribe();
    loop {
        tokio::time::sleep(Duration::from_millis(30)).await;
        let changed = shared.with_state(reconcile);
        if changed {
            let rv = shared.with_state(|s| s.rv);
            shared.notify.send_replace(rv);
            rx.borrow_and_update();
        } else if rx.changed().await.is_err() {
            return;
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
    changed |= reconcile_deployments(s);
    changed |= reconcile_replicasets(s);
    changed |= reconcile_pods(s);
    changed |= deployment_status(s);
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
            rs["metadata"]["annotations"] = annotations;
            rs["spec"] = wanted_spec;
            if s.put(rs, "kube-controller-manager").is_ok() {
                changed = true;
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
                let _ = s.put(pod, "kube-controller-manager");
            }
            changed = true;
        } else if pods.len() > want {
            for p in pods.iter().skip(want) {
                let pname = p["metadata"]["name"].as_str().unwrap_or("");
                let _ = s.delete(&pod_res, &ns, pname);
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
        let selector_ok = pod["spec"]["nodeSelector"].as_object().is_none_or(|sel| {
            sel.iter().all(|(k, v)| {
                node.as_ref()
                    .is_some_and(|n| n["metadata"]["labels"].get(k) == Some(v))
            })
        });
        let mut p = pod.clone();
        if !selector_ok || node.is_none() {
            let message = "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling..";
            let cond = json!([{"type": "PodScheduled", "status": "False", "lastProbeTime": null,
                "lastTransitionTime": t, "reason": "Unschedulable", "message": message}]);
            if pod["status"]["conditions"]
                .as_array()
                .is_none_or(|c| c.iter().all(|c| c["reason"] != "Unschedulable"))
            {
                p["status"]["conditions"] = cond;
                let _ = s.put(p, "kube-scheduler");
                changed = true;
            }
            continue;
        }
        p["spec"]["nodeName"] = json!(node_name);
        let cond = |ty: &str| json!({"type": ty, "status": "True", "lastProbeTime": null, "lastTransitionTime": t});
        let statuses: Vec<Value> = p["spec"]["containers"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                let image = c["image"].as_str().unwrap_or("");
                json!({"name": c["name"], "state": {"running": {"startedAt": t}}, "lastState": {},
                    "ready": true, "restartCount": 0, "image": image,
                    "imageID": format!("docker-pullable://{image}@sha256:{}", "0".repeat(64)),
                    "containerID": format!("docker://{}", state::uid().replace('-', "")),
                    "started": true})
            })
            .collect();
        let n = s.rv % 250 + 2;
        p["status"] = json!({"phase": "Running",
            "conditions": [cond("Initialized"), cond("Ready"), cond("ContainersReady"), cond("PodScheduled")],
            "hostIP": "192.168.5.15", "podIP": format!("10.42.0.{n}"), "podIPs": [{"ip": format!("10.42.0.{n}")}],
            "startTime": t, "containerStatuses": statuses, "qosClass": pod["status"]["qosClass"]});
        let _ = s.put(p, "k3s");
        changed = true;
    }
    changed
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
