//! One-line statuses for the live objects panel, like the columns `kubectl get` prints.

use serde_json::Value;

/// The key status of an object (`Running 1/1`, `3/3 ready`, `Active`, `3 keys`).
pub fn status_line(object: &Value) -> String {
    let kind = object["kind"].as_str().unwrap_or_default();
    let status = &object["status"];
    match kind {
        "Pod" => pod(object),
        "Deployment" | "ReplicaSet" | "StatefulSet" => {
            let want = object
                .pointer("/spec/replicas")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            let ready = status["readyReplicas"].as_i64().unwrap_or(0);
            format!("{ready}/{want} ready")
        }
        "DaemonSet" => format!(
            "{}/{} ready",
            status["numberReady"].as_i64().unwrap_or(0),
            status["desiredNumberScheduled"].as_i64().unwrap_or(0)
        ),
        "Namespace" => status["phase"].as_str().unwrap_or("Active").to_owned(),
        "Node" => {
            let ready = conditions_true(status, "Ready");
            let mut line = if ready { "Ready" } else { "NotReady" }.to_owned();
            if object
                .pointer("/spec/unschedulable")
                .and_then(Value::as_bool)
                == Some(true)
            {
                line.push_str(",SchedulingDisabled");
            }
            line
        }
        "ConfigMap" => keys(object, &["data", "binaryData"]),
        "Secret" => format!(
            "{} · {}",
            object["type"].as_str().unwrap_or("Opaque"),
            keys(object, &["data"])
        ),
        "HorizontalPodAutoscaler" => {
            let current = status["currentReplicas"].as_i64().unwrap_or(0);
            let desired = status["desiredReplicas"].as_i64().unwrap_or(0);
            let cpu = status["currentMetrics"]
                .as_array()
                .and_then(|m| {
                    m.iter().find_map(|m| {
                        m.pointer("/resource/current/averageUtilization")
                            .and_then(Value::as_i64)
                    })
                })
                .map(|u| format!("cpu {u}%, "))
                .unwrap_or_default();
            format!("{cpu}{current} → {desired} replicas")
        }
        "Service" => object
            .pointer("/spec/clusterIP")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        _ => String::new(),
    }
}

fn pod(object: &Value) -> String {
    let status = &object["status"];
    if object.pointer("/metadata/deletionTimestamp").is_some() {
        return "Terminating".to_owned();
    }
    let statuses = status["containerStatuses"].as_array();
    let total = object
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let ready = statuses.map_or(0, |s| {
        s.iter()
            .filter(|c| c["ready"].as_bool() == Some(true))
            .count()
    });
    let waiting = statuses.and_then(|s| {
        s.iter().find_map(|c| {
            c.pointer("/state/waiting/reason")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
    });
    let phase = status["phase"].as_str().unwrap_or("Pending");
    let shown = waiting.unwrap_or_else(|| phase.to_owned());
    format!("{shown} {ready}/{total}")
}

fn conditions_true(status: &Value, kind: &str) -> bool {
    status["conditions"].as_array().is_some_and(|cs| {
        cs.iter()
            .any(|c| c["type"] == kind && c["status"] == "True")
    })
}

fn keys(object: &Value, fields: &[&str]) -> String {
    let n: usize = fields
        .iter()
        .filter_map(|f| object[*f].as_object())
        .map(|m| m.len())
        .sum();
    if n == 1 {
        "1 key".to_owned()
    } else {
        format!("{n} keys")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pods_show_phase_or_waiting_reason_and_ready_count() {
        let pod = json!({"kind": "Pod", "spec": {"containers": [{}, {}]},
            "status": {"phase": "Running", "containerStatuses": [{"ready": true}, {"ready": false}]}});
        assert_eq!(status_line(&pod), "Running 1/2");
        let pulling = json!({"kind": "Pod", "spec": {"containers": [{}]},
            "status": {"phase": "Pending", "containerStatuses": [{"ready": false, "state": {"waiting": {"reason": "ErrImagePull"}}}]}});
        assert_eq!(status_line(&pulling), "ErrImagePull 0/1");
    }

    #[test]
    fn workloads_nodes_and_config() {
        assert_eq!(
            status_line(
                &json!({"kind": "Deployment", "spec": {"replicas": 3}, "status": {"readyReplicas": 2}})
            ),
            "2/3 ready"
        );
        assert_eq!(
            status_line(&json!({"kind": "Node", "spec": {"unschedulable": true},
                "status": {"conditions": [{"type": "Ready", "status": "True"}]}})),
            "Ready,SchedulingDisabled"
        );
        assert_eq!(
            status_line(&json!({"kind": "ConfigMap", "data": {"a": "1", "b": "2"}})),
            "2 keys"
        );
        assert_eq!(
            status_line(
                &json!({"kind": "HorizontalPodAutoscaler", "status": {"currentReplicas": 1, "desiredReplicas": 3,
                "currentMetrics": [{"resource": {"current": {"averageUtilization": 90}}}]}})
            ),
            "cpu 90%, 1 → 3 replicas"
        );
    }
}
