//! Field sets in the `FieldsV1` encoding (`f:`, `k:{..}`, `.`) and the merge rules of
//! server-side apply: which fields an applied config owns, conflicts, merging and pruning.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

/// A set of fields: a tree whose leaves (empty nodes) are owned fields.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet(pub BTreeMap<String, FieldSet>);

/// The `metadata` fields a manager can own; the rest are the server's.
const OWNED_METADATA: &[&str] = &["labels", "annotations", "finalizers", "ownerReferences"];

/// Keyed lists whose items are owned whole (`LocalObjectReference` is `+structType=atomic`).
const ATOMIC_ITEMS: &[&str] = &["imagePullSecrets"];

/// Fields whose value is owned as one field (`+structType=atomic` LabelSelectors,
/// `+mapType=atomic` maps such as `nodeSelector` and a Service's `selector`).
const ATOMIC: &[&str] = &[
    "selector",
    "podSelector",
    "namespaceSelector",
    "nodeSelector",
    "roleRef",
];

impl FieldSet {
    /// Whether the set owns nothing.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The set as the `fieldsV1` JSON value.
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect::<Map<String, Value>>(),
        )
    }

    /// Reads a `fieldsV1` JSON value.
    pub fn from_json(v: &Value) -> FieldSet {
        match v {
            Value::Object(m) => FieldSet(
                m.iter()
                    .map(|(k, v)| (k.clone(), FieldSet::from_json(v)))
                    .collect(),
            ),
            _ => FieldSet::default(),
        }
    }

    /// Every leaf as its path of raw keys.
    pub fn leaves(&self) -> Vec<Vec<String>> {
        let mut out = Vec::new();
        self.collect(&mut Vec::new(), &mut out);
        out
    }

    fn collect(&self, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        for (k, child) in &self.0 {
            prefix.push(k.clone());
            if child.0.is_empty() {
                out.push(prefix.clone());
            } else {
                child.collect(prefix, out);
            }
            prefix.pop();
        }
    }

    /// Whether the set holds this leaf path.
    pub fn contains(&self, path: &[String]) -> bool {
        match path.split_first() {
            None => self.0.is_empty(),
            Some((head, rest)) => self.0.get(head).is_some_and(|c| c.contains(rest)),
        }
    }

    /// Adds a leaf path.
    pub fn insert(&mut self, path: &[String]) {
        if let Some((head, rest)) = path.split_first() {
            self.0.entry(head.clone()).or_default().insert(rest);
        }
    }

    /// Removes a leaf path, dropping parents left without children.
    pub fn remove(&mut self, path: &[String]) {
        if let Some((head, rest)) = path.split_first() {
            if rest.is_empty() {
                self.0.remove(head);
            } else if let Some(child) = self.0.get_mut(head) {
                child.remove(rest);
                if child.0.is_empty() {
                    self.0.remove(head);
                }
            }
        }
    }

    /// Adds every leaf of `other`.
    pub fn union(&mut self, other: &FieldSet) {
        for leaf in other.leaves() {
            self.insert(&leaf);
        }
    }

    /// Removes every leaf of `other`.
    pub fn subtract(&mut self, other: &FieldSet) {
        for leaf in other.leaves() {
            self.remove(&leaf);
        }
    }

    /// Keeps only leaves that still exist in `obj`.
    pub fn prune(&mut self, obj: &Value) {
        for leaf in self.leaves() {
            if get_path(obj, &leaf).is_none() {
                self.remove(&leaf);
            }
        }
    }
}

/// The merge key fields of a list, when the list is associative.
pub fn list_keys(field: &str, items: &[Value]) -> Option<Vec<&'static str>> {
    let first = items.iter().find(|i| i.is_object());
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "env"
        | "volumes"
        | "imagePullSecrets"
        | "resourceClaims" => Some(vec!["name"]),
        "volumeMounts" => Some(vec!["mountPath"]),
        "conditions" | "addresses" => Some(vec!["type"]),
        "podIPs" | "hostIPs" => Some(vec!["ip"]),
        "ownerReferences" => Some(vec!["uid"]),
        "hostAliases" => Some(vec!["ip"]),
        "ports" => match first {
            Some(i) if i.get("containerPort").is_some() => Some(vec!["containerPort", "protocol"]),
            Some(i) if i.get("port").is_some() => Some(vec!["port", "protocol"]),
            _ => None,
        },
        _ => None,
    }
    .filter(|_| items.iter().all(Value::is_object))
}

/// The `k:{..}` key of one list item (protocol defaults to TCP as the server does).
pub fn item_key(keys: &[&str], item: &Value) -> String {
    let mut m = Map::new();
    for k in keys {
        let v = match item.get(*k) {
            Some(v) => v.clone(),
            None if *k == "protocol" => Value::String("TCP".into()),
            None => continue,
        };
        m.insert((*k).to_string(), v);
    }
    format!("k:{}", Value::Object(m))
}

fn is_atomic_struct(field: &str, v: &Value) -> bool {
    ATOMIC.contains(&field) && v.is_object()
}

/// The fields an applied configuration sets (what its manager will own).
pub fn applied_set(applied: &Value, with_status: bool) -> FieldSet {
    let mut set = FieldSet::default();
    let Some(obj) = applied.as_object() else {
        return set;
    };
    for (k, v) in obj {
        match k.as_str() {
            "apiVersion" | "kind" => {}
            "status" if !with_status => {}
            "metadata" => {
                let mut meta = FieldSet::default();
                if let Some(m) = v.as_object() {
                    for (mk, mv) in m {
                        if OWNED_METADATA.contains(&mk.as_str()) && !mv.is_null() {
                            meta.0.insert(format!("f:{mk}"), value_set(mk, mv));
                        }
                    }
                }
                if !meta.is_empty() {
                    set.0.insert("f:metadata".into(), meta);
                }
            }
            _ if v.is_null() => {}
            _ => {
                set.0.insert(format!("f:{k}"), value_set(k, v));
            }
        }
    }
    set
}

fn value_set(field: &str, v: &Value) -> FieldSet {
    match v {
        Value::Object(m) if !m.is_empty() && !is_atomic_struct(field, v) => FieldSet(
            m.iter()
                .filter(|(_, cv)| !cv.is_null())
                .map(|(ck, cv)| (format!("f:{ck}"), value_set(ck, cv)))
                .collect(),
        ),
        Value::Array(items) => match list_keys(field, items) {
            Some(keys) if !items.is_empty() => {
                let mut s = FieldSet::default();
                for item in items {
                    let child = if ATOMIC_ITEMS.contains(&field) {
                        FieldSet::default()
                    } else {
                        let mut child = value_set("", item);
                        child.0.insert(".".into(), FieldSet::default());
                        child
                    };
                    s.0.insert(item_key(&keys, item), child);
                }
                s
            }
            _ => FieldSet::default(),
        },
        _ => FieldSet::default(),
    }
}

/// The fields an update (POST/PUT/PATCH) changed between `old` and `new`, as an Update entry.
pub fn update_set(old: Option<&Value>, new: &Value, status_only: bool) -> FieldSet {
    let mut set = FieldSet::default();
    let Some(obj) = new.as_object() else {
        return set;
    };
    for (k, v) in obj {
        let old_v = old.and_then(|o| o.get(k));
        match k.as_str() {
            "apiVersion" | "kind" => {}
            "status" if !status_only => {}
            _ if status_only && k != "status" => {}
            "metadata" => {
                let mut meta = FieldSet::default();
                if let Some(m) = v.as_object() {
                    for (mk, mv) in m {
                        if OWNED_METADATA.contains(&mk.as_str())
                            && let Some(s) = diff_set(mk, old_v.and_then(|o| o.get(mk)), mv)
                        {
                            meta.0.insert(format!("f:{mk}"), s);
                        }
                    }
                }
                if !meta.is_empty() {
                    set.0.insert("f:metadata".into(), meta);
                }
            }
            _ => {
                if let Some(s) = diff_set(k, old_v, v) {
                    set.0.insert(format!("f:{k}"), s);
                }
            }
        }
    }
    set
}

fn diff_set(field: &str, old: Option<&Value>, new: &Value) -> Option<FieldSet> {
    // A null where there was none (`lastProbeTime: null` of a new condition) is a field too.
    if old == Some(new) || (new.is_null() && old.is_some()) {
        return None;
    }
    // A field absent before (not merely null or empty) is added as a whole: `.` marks it
    // when it also has children.
    let added = old.is_none();
    match new {
        Value::Object(m) if !m.is_empty() && !is_atomic_struct(field, new) => {
            let mut s = FieldSet::default();
            for (k, v) in m {
                if let Some(c) = diff_set(k, old.and_then(|o| o.get(k)), v) {
                    s.0.insert(format!("f:{k}"), c);
                }
            }
            if added && !s.is_empty() {
                s.0.insert(".".into(), FieldSet::default());
            }
            (!s.is_empty()).then_some(s)
        }
        Value::Array(items) => match list_keys(field, items) {
            Some(keys) if !items.is_empty() => {
                let old_items = old.and_then(Value::as_array);
                let mut s = FieldSet::default();
                for item in items {
                    let key = item_key(&keys, item);
                    let old_item =
                        old_items.and_then(|o| o.iter().find(|oi| item_key(&keys, oi) == key));
                    if ATOMIC_ITEMS.contains(&field) {
                        if old_item != Some(item) {
                            s.0.insert(key, FieldSet::default());
                        }
                    } else if let Some(child) = diff_set("", old_item, item) {
                        s.0.insert(key, child);
                    }
                }
                if added && !s.is_empty() {
                    s.0.insert(".".into(), FieldSet::default());
                }
                (!s.is_empty()).then_some(s)
            }
            _ => Some(FieldSet::default()),
        },
        _ => Some(FieldSet::default()),
    }
}

/// What an empty object of the kind serializes to in Go: non-pointer structs are `{}`, slices
/// without `omitempty` are `null`. A create's Update entry owns only what differs from it, so
/// `spec`, a Deployment's `strategy` or a NetworkPolicy's empty `podSelector` are not "added".
pub fn zero_object(group: &str, kind: &str) -> Value {
    let template = serde_json::json!({"metadata": {"creationTimestamp": null},
        "spec": {"containers": null}});
    let spec = match (group, kind) {
        ("", "Pod") => serde_json::json!({"containers": null}),
        ("apps", "Deployment") => {
            serde_json::json!({"selector": null, "template": template, "strategy": {}})
        }
        ("apps", "ReplicaSet") => serde_json::json!({"selector": null, "template": template}),
        ("apps", "StatefulSet") => serde_json::json!({"selector": null, "template": template,
            "serviceName": "", "updateStrategy": {}}),
        ("apps", "DaemonSet") => {
            serde_json::json!({"selector": null, "template": template, "updateStrategy": {}})
        }
        ("batch", "Job") => serde_json::json!({"template": template}),
        ("networking.k8s.io", "NetworkPolicy") => serde_json::json!({"podSelector": {}}),
        ("", "LimitRange") => serde_json::json!({"limits": null}),
        ("rbac.authorization.k8s.io", "RoleBinding" | "ClusterRoleBinding") => {
            return serde_json::json!({"metadata": {"creationTimestamp": null},
                "roleRef": {"apiGroup": "", "kind": "", "name": ""}});
        }
        ("authentication.k8s.io", "TokenRequest") => serde_json::json!({"audiences": null}),
        _ => serde_json::json!({}),
    };
    serde_json::json!({"metadata": {"creationTimestamp": null}, "spec": spec})
}

/// The value at a raw-key path (`f:spec`, `k:{"name":"c"}`, `.`).
pub fn get_path<'a>(obj: &'a Value, path: &[String]) -> Option<&'a Value> {
    let Some((head, rest)) = path.split_first() else {
        return Some(obj);
    };
    if head == "." {
        return Some(obj);
    }
    let next = if let Some(f) = head.strip_prefix("f:") {
        obj.get(f)?
    } else if let Some(k) = head.strip_prefix("k:") {
        let key: Value = serde_json::from_str(k).ok()?;
        obj.as_array()?.iter().find(|i| item_matches(i, &key))?
    } else {
        return None;
    };
    get_path(next, rest)
}

fn item_matches(item: &Value, key: &Value) -> bool {
    key.as_object().is_some_and(|km| {
        km.iter().all(|(k, v)| match item.get(k) {
            Some(iv) => iv == v,
            None => k == "protocol" && v == "TCP",
        })
    })
}

/// Removes the value at a raw-key path (a `.` leaf removes the list item or map itself).
pub fn remove_path(obj: &mut Value, path: &[String]) {
    let Some((head, rest)) = path.split_first() else {
        return;
    };
    if let Some(f) = head.strip_prefix("f:") {
        let Some(m) = obj.as_object_mut() else { return };
        if rest.is_empty() || rest == ["."] {
            m.remove(f);
        } else if let Some(child) = m.get_mut(f) {
            remove_path(child, rest);
        }
    } else if let Some(k) = head.strip_prefix("k:") {
        let Ok(key) = serde_json::from_str::<Value>(k) else {
            return;
        };
        let Some(items) = obj.as_array_mut() else {
            return;
        };
        if rest.is_empty() || rest == ["."] {
            items.retain(|i| !item_matches(i, &key));
        } else if let Some(item) = items.iter_mut().find(|i| item_matches(i, &key)) {
            remove_path(item, rest);
        }
    }
}

/// A human path for conflict messages: `.data.fly-name`, `.spec.containers[name="c"].image`.
pub fn display_path(path: &[String]) -> String {
    let mut out = String::new();
    for p in path {
        if let Some(f) = p.strip_prefix("f:") {
            out.push('.');
            out.push_str(f);
        } else if let Some(k) = p.strip_prefix("k:") {
            let key: Value = serde_json::from_str(k).unwrap_or(Value::Null);
            let parts: Vec<String> = key
                .as_object()
                .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
                .unwrap_or_default();
            out.push_str(&format!("[{}]", parts.join(",")));
        }
    }
    out
}

/// Merges an applied/patch config into `target`: maps recursively, associative lists by key,
/// everything else replaced. `null` in a patch deletes (merge-patch semantics).
pub fn merge(target: &mut Value, patch: &Value, field: &str) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                    continue;
                }
                match t.get_mut(k) {
                    Some(existing) => merge(existing, v, k),
                    None => {
                        let mut fresh = Value::Null;
                        merge(&mut fresh, v, k);
                        t.insert(k.clone(), fresh);
                    }
                }
            }
        }
        (Value::Array(t), Value::Array(p)) if list_keys(field, p).is_some() => {
            let keys = list_keys(field, p).unwrap_or_default();
            for item in p {
                let key = item_key(&keys, item);
                match t.iter_mut().find(|ti| item_key(&keys, ti) == key) {
                    Some(existing) => merge(existing, item, ""),
                    None => t.push(strip_nulls(item)),
                }
            }
        }
        (t, p) => *t = strip_nulls(p),
    }
}

fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn applied_set_uses_keys_for_containers_and_ports() {
        let set = applied_set(
            &json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "d", "labels": {"app": "nginx"}},
                "spec": {"selector": {"matchLabels": {"app": "nginx"}},
                  "template": {"spec": {"containers": [{"name": "nginx", "ports": [{"containerPort": 80}]}]}}}}),
            false,
        );
        let j = set.to_json();
        assert_eq!(j["f:metadata"], json!({"f:labels": {"f:app": {}}}));
        assert_eq!(j["f:spec"]["f:selector"], json!({}));
        assert_eq!(
            j["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"nginx\"}"]["f:ports"],
            json!({"k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}}})
        );
    }
}
