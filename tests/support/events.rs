//! Events as kube-apiserver 1.28 stores them: one object seen through core/v1 and
//! events.k8s.io/v1 (field names converted), and builders for the Events the simulated
//! scheduler (events.k8s.io shape, 081/082) and kubelet (core/v1 with `source`, 083) write.

use serde_json::{Map, Value, json};

use super::state::{ObjKey, State, now, resource};

/// (core/v1 field, events.k8s.io/v1 field) pairs that are the same data under two names.
const RENAMED: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
    ("reportingComponent", "reportingController"),
];

/// Fields with the same name in both versions.
const SHARED: &[&str] = &[
    "metadata",
    "reason",
    "type",
    "eventTime",
    "action",
    "related",
    "reportingInstance",
    "series",
];

/// The other API's view of a stored Event (key and object), or `None` for other kinds.
pub fn mirror(key: &ObjKey, obj: &Value) -> Option<(ObjKey, Value)> {
    if key.plural != "events" || !(key.group.is_empty() || key.group == "events.k8s.io") {
        return None;
    }
    let to_new = key.group.is_empty();
    let (api_version, kind) = if to_new {
        ("events.k8s.io/v1", "Event")
    } else {
        ("v1", "Event")
    };
    let mut out = Map::new();
    out.insert("kind".into(), json!(kind));
    out.insert("apiVersion".into(), json!(api_version));
    for f in SHARED {
        if let Some(v) = obj.get(*f) {
            out.insert((*f).into(), v.clone());
        }
    }
    for (core, new) in RENAMED {
        let (from, to) = if to_new { (core, new) } else { (new, core) };
        match obj.get(*from) {
            Some(v) => {
                out.insert((*to).into(), v.clone());
            }
            None if ["source", "deprecatedSource"].contains(to) => {
                out.insert((*to).into(), json!({}));
            }
            None if to.ends_with("Timestamp") => {
                out.insert((*to).into(), Value::Null);
            }
            None => {}
        }
    }
    if !out.contains_key("eventTime") {
        out.insert("eventTime".into(), Value::Null);
    }
    let res = resource(api_version, kind);
    Some((
        ObjKey::new(&res, &key.namespace, &key.name),
        Value::Object(out),
    ))
}

fn event_name(involved: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let salt = u128::from_str_radix(&super::state::uid().replace('-', "")[..8], 16).unwrap_or(0);
    format!("{involved}.{:016x}", (nanos ^ salt) as u64)
}

/// A MicroTime like `2026-11-29T08:29:58.074547Z`.
pub fn micro_now() -> String {
    let micros = time::OffsetDateTime::now_utc().microsecond();
    let base = now();
    format!("{}.{micros:06}Z", base.trim_end_matches('Z'))
}

fn reference(obj: &Value) -> Value {
    let mut r = json!({"kind": obj["kind"], "namespace": obj["metadata"]["namespace"],
        "name": obj["metadata"]["name"], "uid": obj["metadata"]["uid"],
        "apiVersion": obj["apiVersion"], "resourceVersion": obj["metadata"]["resourceVersion"]});
    if let Some(m) = r.as_object_mut() {
        m.retain(|_, v| !v.is_null());
    }
    r
}

/// Writes an Event from the scheduler (events.k8s.io/v1, `reportingController:
/// default-scheduler`) about `pod`, as in recordings 081/082.
pub fn scheduler_event(
    s: &mut State,
    pod: &Value,
    reason: &str,
    etype: &str,
    action: &str,
    note: &str,
) {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("default");
    let ev = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event",
        "metadata": {"name": event_name(pod["metadata"]["name"].as_str().unwrap_or("")), "namespace": ns},
        "eventTime": micro_now(), "reportingController": "default-scheduler",
        "reportingInstance": "default-scheduler-colima", "action": action, "reason": reason,
        "regarding": reference(pod), "note": note, "type": etype});
    let _ = s.put(ev, "kube-scheduler");
}

/// Writes a core/v1 Event from a controller or the kubelet (`source.component`, `count: 1`,
/// first/last timestamps, no `eventTime`), as the kubelet and controllers do.
#[allow(clippy::too_many_arguments)]
pub fn core_event(
    s: &mut State,
    involved: &Value,
    field_path: Option<&str>,
    component: &str,
    host: Option<&str>,
    reason: &str,
    etype: &str,
    message: &str,
) {
    let ns = involved["metadata"]["namespace"]
        .as_str()
        .unwrap_or("default");
    let mut r = reference(involved);
    if let Some(fp) = field_path {
        r["fieldPath"] = json!(fp);
    }
    let mut source = json!({"component": component});
    if let Some(h) = host {
        source["host"] = json!(h);
    }
    let t = now();
    let ev = json!({"apiVersion": "v1", "kind": "Event",
        "metadata": {"name": event_name(involved["metadata"]["name"].as_str().unwrap_or("")), "namespace": ns},
        "involvedObject": r, "reason": reason, "message": message, "source": source,
        "firstTimestamp": t, "lastTimestamp": t, "count": 1, "type": etype, "eventTime": null,
        "reportingComponent": component, "reportingInstance": host.unwrap_or("")});
    let _ = s.put(ev, component);
}
