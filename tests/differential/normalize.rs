//! Removes what differs between any two runs against the same server — uids, resourceVersions,
//! timestamps, IPs, container and image ids, tokens, generated name suffixes — so that two
//! answers can be compared field by field; and the field-by-field comparison itself.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

/// Keys whose string values are timestamps.
const TIME_KEYS: &[&str] = &[
    "creationTimestamp",
    "deletionTimestamp",
    "time",
    "lastTransitionTime",
    "lastProbeTime",
    "lastUpdateTime",
    "lastHeartbeatTime",
    "startedAt",
    "finishedAt",
    "startTime",
    "eventTime",
    "firstTimestamp",
    "lastTimestamp",
    "expirationTimestamp",
    "timeAdded",
    "lastScaleTime",
];

/// Keys whose string values are IP addresses (or lists of them).
const IP_KEYS: &[&str] = &["podIP", "hostIP", "clusterIP", "ip", "clusterIPs"];

static IPV4: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b").expect("regex"));
static HEX64: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[0-9a-f]{64}").expect("regex"));
static API_ACCESS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"kube-api-access-[a-z0-9]{5}").expect("regex"));
static UUID: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").expect("regex")
});

fn scrub_text(s: &str) -> String {
    let s = HEX64.replace_all(s, "<hex>");
    let s = UUID.replace_all(&s, "<uid>");
    let s = API_ACCESS.replace_all(&s, "kube-api-access-<rand>");
    IPV4.replace_all(&s, "<ip>").into_owned()
}

/// The run-independent form of a server answer body.
pub fn normalize(v: &Value) -> Value {
    normalize_at(v)
}

fn normalize_at(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, child) in m {
                out.insert(scrub_text(k), normalize_field(k, child));
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(normalize_at).collect()),
        Value::String(s) => Value::String(scrub_text(s)),
        other => other.clone(),
    }
}

fn normalize_field(key: &str, v: &Value) -> Value {
    let placeholder = |p: &str| match v {
        Value::String(s) if !s.is_empty() => Value::String(p.into()),
        Value::Array(a) if IP_KEYS.contains(&key) => {
            Value::Array(a.iter().map(|_| Value::String(p.into())).collect())
        }
        other => other.clone(),
    };
    match key {
        // The server orders entries by time first; with times removed, order by the rest.
        "managedFields" => {
            let mut entries: Vec<Value> = v
                .as_array()
                .into_iter()
                .flatten()
                .map(normalize_at)
                .collect();
            let order = |e: &Value| {
                ["operation", "manager", "apiVersion", "subresource"]
                    .map(|k| e[k].as_str().unwrap_or("").to_string())
            };
            entries.sort_by_key(order);
            Value::Array(entries)
        }
        "uid" => placeholder("<uid>"),
        "resourceVersion" => placeholder("<rv>"),
        "continue" => placeholder("<continue>"),
        "serverAddress" => placeholder("<addr>"),
        "containerID" | "imageID" => placeholder("<id>"),
        "token" => placeholder("<token>"),
        k if TIME_KEYS.contains(&k) => placeholder("<time>"),
        k if IP_KEYS.contains(&k) => placeholder("<ip>"),
        _ => normalize_at(v),
    }
}

/// Stands for a key one side does not have.
pub const ABSENT: &str = "<absent>";

/// One place where two answers differ.
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    /// `status`, `body.metadata.labels.app`, `body.items[0].spec` ...
    pub path: String,
    /// The fake's value ([`ABSENT`] when it has none).
    pub fake: Value,
    /// The real server's value ([`ABSENT`] when it has none).
    pub real: Value,
}

/// Every leaf where `fake` and `real` differ (keys missing on one side count).
pub fn differences(path: &str, fake: &Value, real: &Value, out: &mut Vec<Difference>) {
    match (fake, real) {
        (Value::Object(f), Value::Object(r)) => {
            let mut keys: Vec<&String> = f.keys().chain(r.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let child = format!("{path}.{k}");
                match (f.get(k), r.get(k)) {
                    (Some(a), Some(b)) => differences(&child, a, b, out),
                    (a, b) => out.push(Difference {
                        path: child,
                        fake: a.cloned().unwrap_or_else(|| Value::String(ABSENT.into())),
                        real: b.cloned().unwrap_or_else(|| Value::String(ABSENT.into())),
                    }),
                }
            }
        }
        (Value::Array(f), Value::Array(r)) if f.len() == r.len() => {
            for (i, (a, b)) in f.iter().zip(r).enumerate() {
                differences(&format!("{path}[{i}]"), a, b, out);
            }
        }
        (a, b) if a != b => out.push(Difference {
            path: path.to_string(),
            fake: a.clone(),
            real: b.clone(),
        }),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn run_specific_values_are_replaced_and_the_rest_is_kept() {
        let pod = json!({"metadata": {"name": "term", "uid": "ca67d2c1-b079-4f11-83e5-9ff0f866dcf6",
            "resourceVersion": "22357", "creationTimestamp": "2026-12-03T13:32:58Z",
            "managedFields": [{"manager": "kubelet", "time": "2026-12-03T13:32:59Z",
                "fieldsV1": {"f:status": {"f:podIPs": {"k:{\"ip\":\"10.88.0.61\"}": {}}}}}]},
            "spec": {"volumes": [{"name": "kube-api-access-l28rj"}]},
            "status": {"podIP": "10.88.0.61", "podIPs": [{"ip": "10.88.0.61"}],
                "containerStatuses": [{"containerID": "containerd://e1ed", "restartCount": 0}]}});
        let n = normalize(&pod);
        assert_eq!(n["metadata"]["name"], "term");
        assert_eq!(n["metadata"]["uid"], "<uid>");
        assert_eq!(n["metadata"]["resourceVersion"], "<rv>");
        assert_eq!(n["metadata"]["managedFields"][0]["time"], "<time>");
        assert_eq!(n["metadata"]["managedFields"][0]["manager"], "kubelet");
        assert!(
            n["metadata"]["managedFields"][0]["fieldsV1"]["f:status"]["f:podIPs"]
                .get("k:{\"ip\":\"<ip>\"}")
                .is_some()
        );
        assert_eq!(n["spec"]["volumes"][0]["name"], "kube-api-access-<rand>");
        assert_eq!(n["status"]["podIP"], "<ip>");
        assert_eq!(n["status"]["podIPs"][0]["ip"], "<ip>");
        assert_eq!(n["status"]["containerStatuses"][0]["containerID"], "<id>");
        assert_eq!(n["status"]["containerStatuses"][0]["restartCount"], 0);
    }

    #[test]
    fn differences_name_each_leaf_and_missing_keys() {
        let mut out = Vec::new();
        differences(
            "body",
            &json!({"a": 1, "b": {"c": [1, 2]}, "only_fake": true}),
            &json!({"a": 1, "b": {"c": [1, 3]}, "only_real": "x"}),
            &mut out,
        );
        let paths: Vec<&str> = out.iter().map(|d| d.path.as_str()).collect();
        assert_eq!(paths, ["body.b.c[1]", "body.only_fake", "body.only_real"]);
        assert_eq!(out[1].real, json!(ABSENT));
    }
}
