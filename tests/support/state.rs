//! The fake's object store: a global resourceVersion counter, an event log for watches,
//! server-side apply, updates, deletes, defaulting and validation shaped like kube-apiserver 1.28.

use std::collections::BTreeMap;
use std::time::Duration;

use rand::Rng;
use serde_json::{Map, Value, json};

use super::RecordedRequest;
use super::discovery::{DISCOVERY, Resource};
use super::fields::{self, FieldSet};

/// Where an object is stored.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjKey {
    /// API group.
    pub group: String,
    /// Plural resource.
    pub plural: String,
    /// Namespace (`""` for cluster-scoped).
    pub namespace: String,
    /// Name.
    pub name: String,
}

impl ObjKey {
    /// The key of `name` in `ns` for a resource.
    pub fn new(res: &Resource, ns: &str, name: &str) -> ObjKey {
        ObjKey {
            group: res.group.clone(),
            plural: res.plural.clone(),
            namespace: if res.namespaced {
                ns.to_string()
            } else {
                String::new()
            },
            name: name.to_string(),
        }
    }
}

/// One entry of the watch event log.
#[derive(Debug, Clone)]
pub struct LogEntry {
    /// resourceVersion of the change.
    pub rv: u64,
    /// `ADDED`, `MODIFIED`, `DELETED`.
    pub etype: &'static str,
    /// The object's key.
    pub key: ObjKey,
    /// The object after the change (before it, for DELETED).
    pub object: Value,
    /// The object before the change.
    pub prev: Option<Value>,
}

/// An error answered as a `kind: Status` body.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// The Status body.
    pub body: Value,
}

/// Builds a Failure Status.
pub fn status(code: u16, reason: &str, message: &str, details: Option<Value>) -> ApiError {
    let mut body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message});
    if !reason.is_empty() {
        body["reason"] = json!(reason);
    }
    if let Some(d) = details {
        body["details"] = d;
    }
    body["code"] = json!(code);
    ApiError { code, body }
}

/// An object's `metadata.namespace` and `metadata.name` (`""` when missing).
fn namespace_and_name(obj: &Value) -> (String, String) {
    let text = |k: &str| obj["metadata"][k].as_str().unwrap_or_default().to_string();
    (text("namespace"), text("name"))
}

/// `details` naming an object: `{name, group?, kind: plural}` (no `group` key for core).
pub fn details(res: &Resource, name: &str) -> Value {
    let mut d = Map::new();
    if !name.is_empty() {
        d.insert("name".into(), json!(name));
    }
    if !res.group.is_empty() {
        d.insert("group".into(), json!(res.group));
    }
    d.insert("kind".into(), json!(res.plural));
    Value::Object(d)
}

/// 404 for an object.
pub fn not_found(res: &Resource, name: &str) -> ApiError {
    status(
        404,
        "NotFound",
        &format!("{} \"{name}\" not found", res.qualified()),
        Some(details(res, name)),
    )
}

fn namespace_not_found(ns: &str) -> ApiError {
    status(
        404,
        "NotFound",
        &format!("namespaces \"{ns}\" not found"),
        Some(json!({"name": ns, "kind": "namespaces"})),
    )
}

/// 400 BadRequest without details.
pub fn bad_request(message: &str) -> ApiError {
    status(400, "BadRequest", message, None)
}

/// The current time as Kubernetes writes it (seconds, `Z`).
pub fn now() -> String {
    format_time(time::OffsetDateTime::now_utc())
}

/// A random RFC 4122 v4 uid.
pub fn uid() -> String {
    let b: [u8; 16] = rand::rng().random();
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

/// `n` random characters from the alphabet Kubernetes uses for generated names.
pub fn random_suffix(n: usize) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

/// One managedFields entry.
#[derive(Debug, Clone, PartialEq)]
struct Managed {
    manager: String,
    operation: String,
    api_version: String,
    time: String,
    subresource: Option<String>,
    fields: FieldSet,
}

impl Managed {
    fn same_slot(&self, manager: &str, operation: &str, sub: Option<&str>) -> bool {
        self.manager == manager && self.operation == operation && self.subresource.as_deref() == sub
    }

    fn to_json(&self) -> Value {
        let mut m = json!({"manager": self.manager, "operation": self.operation,
            "apiVersion": self.api_version, "time": self.time, "fieldsType": "FieldsV1",
            "fieldsV1": self.fields.to_json()});
        if let Some(s) = &self.subresource {
            m["subresource"] = json!(s);
        }
        m
    }

    /// How the API server names the manager in conflict messages (`printManager`).
    fn describe(&self) -> String {
        let mut out = format!("\"{}\"", self.manager);
        if let Some(sub) = &self.subresource {
            out.push_str(&format!(" with subresource \"{sub}\""));
        }
        if self.operation == "Update" {
            out.push_str(&format!(" using {}", self.api_version));
        }
        out
    }
}

fn read_managed(obj: &Value) -> Vec<Managed> {
    obj["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| Managed {
            manager: m["manager"].as_str().unwrap_or("").into(),
            operation: m["operation"].as_str().unwrap_or("").into(),
            api_version: m["apiVersion"].as_str().unwrap_or("").into(),
            time: m["time"].as_str().unwrap_or("").into(),
            subresource: m["subresource"].as_str().map(String::from),
            fields: FieldSet::from_json(&m["fieldsV1"]),
        })
        .collect()
}

fn write_managed(obj: &mut Value, managed: &[Managed]) {
    let Some(meta) = obj["metadata"].as_object_mut() else {
        return;
    };
    // The API server's order: operation, then time (to the second), manager, apiVersion,
    // subresource.
    let mut managed = managed.to_vec();
    managed.sort_by(|a, b| {
        (
            &a.operation,
            &a.time,
            &a.manager,
            &a.api_version,
            &a.subresource,
        )
            .cmp(&(
                &b.operation,
                &b.time,
                &b.manager,
                &b.api_version,
                &b.subresource,
            ))
    });
    if managed.is_empty() {
        meta.remove("managedFields");
    } else {
        meta.insert(
            "managedFields".into(),
            Value::Array(managed.iter().map(Managed::to_json).collect()),
        );
    }
}

/// The object without server bookkeeping, for "did anything change" comparisons.
fn clean(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(meta) = o["metadata"].as_object_mut() {
        meta.remove("managedFields");
        meta.remove("resourceVersion");
    }
    o
}

/// Kinds whose `metadata.generation` the real server maintains (per the recordings).
fn has_generation(res: &Resource) -> bool {
    matches!(
        res.group.as_str(),
        "apps" | "batch" | "policy" | "apiextensions.k8s.io" | "networking.k8s.io"
    )
}

/// The fake's whole mutable state.
pub struct State {
    /// Last resourceVersion handed out.
    pub rv: u64,
    /// Objects by key (iteration order is etcd key order).
    pub objects: BTreeMap<ObjKey, Value>,
    /// Watch event log.
    pub log: Vec<LogEntry>,
    /// Watches from a resourceVersion below this are "too old" (410).
    pub log_start: u64,
    /// Request log.
    pub requests: Vec<RecordedRequest>,
    /// Whether metrics.k8s.io is served.
    pub metrics: bool,
    /// The version ValidatingAdmissionPolicy is served in (`v1`, `v1beta1`), if any.
    pub admission_policies: Option<String>,
    /// Whether the workload simulator runs.
    pub simulate: bool,
    /// How long a Terminating namespace takes to disappear.
    pub namespace_delete_delay: Duration,
    /// The node the simulator schedules Pods on.
    pub sim_node: String,
    /// Containers the simulator started, by Pod uid then container name.
    pub started: BTreeMap<String, BTreeMap<String, super::container::StartedContainer>>,
    /// Simulated CPU usage per Pod: (namespace, label selector, millicores); the last match wins.
    pub cpu_usage: Vec<(String, String, u64)>,
    /// Images the simulated node has pulled.
    pub pulled_images: std::collections::BTreeSet<String>,
    /// ServiceAccount tokens issued through TokenRequest, by token.
    pub tokens: BTreeMap<String, super::rbac::IssuedToken>,
    /// `Warning` headers produced by admission for the request being served.
    pub warnings: Vec<String>,
    /// What the simulated node looks like.
    pub node_flavor: super::kubelet::NodeFlavor,
    /// The exec subprotocols the simulated node accepts.
    pub exec_protocols: super::exec::ExecProtocols,
    /// How long the simulated kubelet takes to stop deleted Pods.
    pub pod_termination: super::kubelet::PodTermination,
    /// Pods the simulated kubelet is stopping, by uid.
    pub terminations: BTreeMap<String, super::kubelet::Termination>,
    /// Container logs by (namespace, Pod, container).
    pub logs: BTreeMap<(String, String, String), String>,
    /// Terminating namespaces whose content is still being deleted.
    pub finalizing: std::collections::BTreeSet<String>,
}

impl State {
    /// A fresh store seeded with the namespaces every cluster has.
    pub fn new() -> State {
        let mut s = State {
            rv: 200,
            objects: BTreeMap::new(),
            log: Vec::new(),
            log_start: 0,
            requests: Vec::new(),
            metrics: false,
            admission_policies: None,
            simulate: false,
            namespace_delete_delay: Duration::from_millis(300),
            sim_node: "colima".into(),
            started: BTreeMap::new(),
            cpu_usage: Vec::new(),
            pulled_images: std::collections::BTreeSet::new(),
            tokens: BTreeMap::new(),
            warnings: Vec::new(),
            node_flavor: super::kubelet::NodeFlavor::default(),
            exec_protocols: super::exec::ExecProtocols::default(),
            pod_termination: super::kubelet::PodTermination::default(),
            terminations: BTreeMap::new(),
            logs: BTreeMap::new(),
            finalizing: std::collections::BTreeSet::new(),
        };
        for ns in ["default", "kube-node-lease", "kube-public", "kube-system"] {
            let obj = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
            let _ = s.put(obj, "kube-apiserver");
        }
        let tracking = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {
            "name": "kube-apiserver-legacy-service-account-token-tracking", "namespace": "kube-system"},
            "data": {"since": now()}});
        let _ = s.put(tracking, "kube-apiserver");
        s
    }

    /// Stores an object with a fresh resourceVersion and logs the event.
    fn commit(&mut self, key: ObjKey, mut obj: Value, etype: &'static str) -> Value {
        self.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        // core/v1 and events.k8s.io/v1 Events are one stored object seen through two APIs.
        if let Some((mirror_key, mirror)) = super::events::mirror(&key, &obj) {
            let prev = self.objects.insert(mirror_key.clone(), mirror.clone());
            self.log.push(LogEntry {
                rv: self.rv,
                etype,
                key: mirror_key,
                object: mirror,
                prev,
            });
        }
        let prev = self.objects.insert(key.clone(), obj.clone());
        self.log.push(LogEntry {
            rv: self.rv,
            etype,
            key,
            object: obj.clone(),
            prev,
        });
        obj
    }

    fn remove(&mut self, key: &ObjKey) -> Option<Value> {
        let obj = self.objects.remove(key)?;
        if let Some(uid) = obj["metadata"]["uid"].as_str() {
            self.terminations.remove(uid);
        }
        self.rv += 1;
        if let Some((mirror_key, _)) = super::events::mirror(key, &obj)
            && let Some(m) = self.objects.remove(&mirror_key)
        {
            let mut gone = m.clone();
            gone["metadata"]["resourceVersion"] = json!(self.rv.to_string());
            self.log.push(LogEntry {
                rv: self.rv,
                etype: "DELETED",
                key: mirror_key,
                object: gone,
                prev: Some(m),
            });
        }
        let mut gone = obj.clone();
        gone["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.log.push(LogEntry {
            rv: self.rv,
            etype: "DELETED",
            key: key.clone(),
            object: gone.clone(),
            prev: Some(obj),
        });
        let ns = key.namespace.clone();
        self.refresh_quotas(&ns);
        Some(gone)
    }

    /// Gets a stored object.
    pub fn get(&self, key: &ObjKey) -> Option<&Value> {
        self.objects.get(key)
    }

    /// Objects of a resource in a namespace (`None`: all namespaces), in key order.
    pub fn list(&self, res: &Resource, ns: Option<&str>) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|(k, _)| {
                k.group == res.group
                    && k.plural == res.plural
                    && ns.is_none_or(|n| !res.namespaced || k.namespace == n)
            })
            .map(|(_, v)| with_type(v, res))
            .collect()
    }

    fn check_namespace_for_create(
        &self,
        res: &Resource,
        ns: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        if !res.namespaced {
            return Ok(());
        }
        let ns_res = resource("v1", "Namespace");
        match self.objects.get(&ObjKey::new(&ns_res, "", ns)) {
            None => Err(namespace_not_found(ns)),
            Some(n) if n["status"]["phase"] == "Terminating" => Err(status(
                403,
                "Forbidden",
                &format!(
                    "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                    res.qualified()
                ),
                Some({
                    let mut d = details(res, name);
                    d["causes"] = json!([{"reason": "NamespaceTerminating",
                        "message": format!("namespace {ns} is being terminated"),
                        "field": "metadata.namespace"}]);
                    d
                }),
            )),
            Some(_) => Ok(()),
        }
    }

    /// Creates a new object (POST, or SSA/PUT of a missing object).
    fn create(
        &mut self,
        res: &Resource,
        ns: &str,
        mut obj: Value,
        managed: Vec<Managed>,
    ) -> Result<Value, ApiError> {
        let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
        self.check_namespace_for_create(res, ns, &name)?;
        let key = ObjKey::new(res, ns, &name);
        if self.objects.contains_key(&key) {
            return Err(status(
                409,
                "AlreadyExists",
                &format!("{} \"{name}\" already exists", res.qualified()),
                Some(details(res, &name)),
            ));
        }
        obj["apiVersion"] = json!(res.api_version());
        obj["kind"] = json!(res.kind);
        let meta = obj["metadata"]
            .as_object_mut()
            .ok_or_else(|| bad_request("metadata must be an object"))?;
        if res.namespaced {
            meta.insert("namespace".into(), json!(ns));
        } else {
            meta.remove("namespace");
        }
        for k in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "managedFields",
        ] {
            meta.remove(k);
        }
        meta.insert("uid".into(), json!(uid()));
        meta.insert("creationTimestamp".into(), json!(now()));
        if has_generation(res) {
            meta.insert("generation".into(), json!(1));
        } else {
            meta.remove("generation");
        }
        default_object(res, &mut obj, true);
        super::admission::limit_ranger(self, res, ns, &mut obj);
        if res.group.is_empty() && res.kind == "Pod" {
            obj["status"]["qosClass"] = json!(qos_class(&obj["spec"]));
        }
        validate(res, None, &obj)?;
        let mut warnings = Vec::new();
        let admitted = super::admission::validate_create(self, res, ns, &name, &obj, &mut warnings);
        self.warnings.extend(warnings);
        admitted?;
        super::policies::admit(self, res, ns, &name, &obj, "CREATE")?;
        write_managed(&mut obj, &managed);
        let stored = self.commit(key, order_metadata(obj), "ADDED");
        if res.group.is_empty() && res.kind == "Namespace" {
            self.namespace_created(&name);
        }
        self.refresh_quotas(ns);
        Ok(stored)
    }

    fn namespace_created(&mut self, ns: &str) {
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "kube-root-ca.crt", "namespace": ns, "annotations": {
                "kubernetes.io/description": "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters."}},
            "data": {"ca.crt": "-----BEGIN CERTIFICATE-----\nRkFLRSBDQSBGT1IgVEVTVFM=\n-----END CERTIFICATE-----\n"}});
        let sa = json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": "default", "namespace": ns}});
        let _ = self.put(cm, "kube-controller-manager");
        let _ = self.put(sa, "kube-controller-manager");
    }

    /// Creates or replaces an object directly (as a controller would): Update managedFields,
    /// new resourceVersion, watch events. Status is taken from `obj` as given.
    pub fn put(&mut self, obj: Value, manager: &str) -> Result<Value, ApiError> {
        let api_version = obj["apiVersion"].as_str().unwrap_or("").to_string();
        let kind = obj["kind"].as_str().unwrap_or("").to_string();
        let res = DISCOVERY
            .by_kind(&api_version, &kind)
            .cloned()
            .ok_or_else(|| bad_request(&format!("no resource for {api_version} {kind}")))?;
        let ns = obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string();
        let name = obj["metadata"]["name"].as_str().unwrap_or("").to_string();
        let key = ObjKey::new(&res, &ns, &name);
        match self.objects.get(&key).cloned() {
            None => self.put_new(&res, obj, manager),
            Some(cur) => self.update(&res, &cur, obj, manager, None, true),
        }
    }

    /// Creates an object as a POST does: one Update managedFields entry for `manager`.
    pub fn put_new(
        &mut self,
        res: &Resource,
        obj: Value,
        manager: &str,
    ) -> Result<Value, ApiError> {
        let ns = obj["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let mut o = obj.clone();
        default_object(res, &mut o, false);
        let zero = fields::zero_object(&res.group, &res.kind);
        let set = fields::update_set(Some(&zero), &o, false);
        let mut managed = Vec::new();
        if !set.is_empty() {
            managed.push(Managed {
                manager: manager.into(),
                operation: "Update".into(),
                api_version: res.api_version(),
                time: now(),
                subresource: None,
                fields: set,
            });
        }
        self.create(res, &ns, obj, managed)
    }

    /// Replaces an existing object's content (PUT, merge/strategic PATCH, `/status`).
    /// `raw` writes status and spec together (test hooks and controllers).
    pub fn update(
        &mut self,
        res: &Resource,
        cur: &Value,
        candidate: Value,
        manager: &str,
        subresource: Option<&str>,
        raw: bool,
    ) -> Result<Value, ApiError> {
        let status_only = subresource == Some("status");
        let mut new = if status_only {
            let mut n = cur.clone();
            n["status"] = candidate.get("status").cloned().unwrap_or(json!({}));
            n
        } else {
            let mut n = candidate;
            if res.has_status() && !raw {
                match cur.get("status") {
                    Some(s) => n["status"] = s.clone(),
                    None => {
                        if let Some(m) = n.as_object_mut() {
                            m.remove("status");
                        }
                    }
                }
            }
            n
        };
        new["apiVersion"] = json!(res.api_version());
        new["kind"] = json!(res.kind);
        if !new["metadata"].is_object() {
            new["metadata"] = json!({});
        }
        for k in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "generation",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            match cur["metadata"].get(k) {
                Some(v) => new["metadata"][k] = v.clone(),
                None => {
                    if let Some(m) = new["metadata"].as_object_mut() {
                        m.remove(k);
                    }
                }
            }
        }
        if status_only {
            new["metadata"] = cur["metadata"].clone();
        }
        default_object(res, &mut new, false);
        validate(res, Some(cur), &new)?;
        if !status_only {
            let (ns, name) = namespace_and_name(&new);
            super::policies::admit(self, res, &ns, &name, &new, "UPDATE")?;
        }
        let mut managed = read_managed(cur);
        let set = fields::update_set(Some(&clean(cur)), &clean(&new), status_only);
        let changed = clean(cur) != clean(&new);
        if !changed {
            return Ok(with_type(cur, res));
        }
        if !set.is_empty() {
            for m in managed.iter_mut() {
                m.fields.subtract(&set);
            }
            match managed
                .iter_mut()
                .find(|m| m.same_slot(manager, "Update", subresource))
            {
                Some(m) => {
                    m.fields.union(&set);
                    m.time = now();
                }
                None => managed.push(Managed {
                    manager: manager.into(),
                    operation: "Update".into(),
                    api_version: res.api_version(),
                    time: now(),
                    subresource: subresource.map(String::from),
                    fields: set,
                }),
            }
        }
        self.finish_write(res, cur, new, managed)
    }

    fn finish_write(
        &mut self,
        res: &Resource,
        cur: &Value,
        mut new: Value,
        mut managed: Vec<Managed>,
    ) -> Result<Value, ApiError> {
        for m in managed.iter_mut() {
            m.fields.prune(&new);
        }
        managed.retain(|m| !m.fields.is_empty());
        if has_generation(res) {
            let spec_changed = strip_meta_status(cur) != strip_meta_status(&new);
            let g = cur["metadata"]["generation"].as_i64().unwrap_or(1);
            new["metadata"]["generation"] = json!(if spec_changed { g + 1 } else { g });
        }
        write_managed(&mut new, &managed);
        let ns = new["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_string();
        let name = new["metadata"]["name"].as_str().unwrap_or("").to_string();
        let stored = self.commit(
            ObjKey::new(res, &ns, &name),
            order_metadata(new),
            "MODIFIED",
        );
        if res.group.is_empty() && ["Pod", "ResourceQuota"].contains(&res.kind.as_str()) {
            self.refresh_quotas(&ns);
        }
        Ok(stored)
    }

    /// The resourcequota controller: keeps each quota's `status` (hard, used) current in a
    /// live namespace (quota admission updates it synchronously on create, recording 107).
    fn refresh_quotas(&mut self, ns: &str) {
        if ns.is_empty() {
            return;
        }
        let ns_key = ObjKey::new(&resource("v1", "Namespace"), "", ns);
        if self
            .objects
            .get(&ns_key)
            .is_none_or(|n| n["status"]["phase"] == "Terminating")
        {
            return;
        }
        let quota_res = resource("v1", "ResourceQuota");
        for quota in self.list(&quota_res, Some(ns)) {
            let wanted = super::admission::quota_status(self, &quota);
            let name = quota["metadata"]["name"].as_str().unwrap_or("").to_string();
            let key = ObjKey::new(&quota_res, ns, &name);
            if let Some(stored) = self.objects.get(&key).cloned()
                && stored["status"] != wanted
            {
                let mut next = stored.clone();
                next["status"] = wanted;
                let _ = self.update(
                    &quota_res,
                    &stored,
                    next,
                    "kube-controller-manager",
                    Some("status"),
                    false,
                );
            }
        }
    }

    /// Server-side apply. Returns (created, object).
    #[allow(clippy::too_many_arguments)]
    pub fn apply(
        &mut self,
        res: &Resource,
        ns: &str,
        name: &str,
        applied: Value,
        manager: Option<&str>,
        force: bool,
        subresource: Option<&str>,
    ) -> Result<(bool, Value), ApiError> {
        let Some(manager) = manager.filter(|m| !m.is_empty()) else {
            return Err(status(
                422,
                "Invalid",
                "PatchOptions.meta.k8s.io \"\" is invalid: fieldManager: Required value: is required for apply patch",
                Some(
                    json!({"group": "meta.k8s.io", "kind": "PatchOptions", "causes": [
                    {"reason": "FieldValueRequired", "message": "Required value: is required for apply patch",
                     "field": "fieldManager"}]}),
                ),
            ));
        };
        if !applied.is_object() {
            return Err(bad_request(
                "error decoding YAML: the applied configuration is not an object",
            ));
        }
        let body_name = applied["metadata"]["name"].as_str().unwrap_or("");
        if body_name != name {
            return Err(bad_request(&format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        if res.namespaced
            && let Some(body_ns) = applied["metadata"]["namespace"].as_str()
            && body_ns != ns
        {
            return Err(bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let status_only = subresource == Some("status");
        let mut applied = applied;
        if let Some(m) = applied.as_object_mut()
            && res.has_status()
            && !status_only
        {
            m.remove("status");
        }
        let new_set = fields::applied_set(&applied, status_only);
        let key = ObjKey::new(res, ns, name);
        let Some(cur) = self.objects.get(&key).cloned() else {
            if status_only {
                return Err(not_found(res, name));
            }
            let mut obj = applied.clone();
            let meta = obj["metadata"]
                .as_object_mut()
                .ok_or_else(|| bad_request("metadata must be an object"))?;
            meta.retain(|k, _| {
                [
                    "name",
                    "namespace",
                    "labels",
                    "annotations",
                    "finalizers",
                    "ownerReferences",
                ]
                .contains(&k.as_str())
            });
            let managed = if new_set.is_empty() {
                Vec::new()
            } else {
                vec![Managed {
                    manager: manager.into(),
                    operation: "Apply".into(),
                    api_version: res.api_version(),
                    time: now(),
                    subresource: None,
                    fields: new_set,
                }]
            };
            return self.create(res, ns, obj, managed).map(|o| (true, o));
        };
        let mut managed = read_managed(&cur);
        let mut conflicts: Vec<(usize, Vec<String>)> = Vec::new();
        for (i, m) in managed.iter().enumerate() {
            if m.same_slot(manager, "Apply", subresource) {
                continue;
            }
            for leaf in new_set.leaves() {
                if leaf.last().map(String::as_str) == Some(".") || !m.fields.contains(&leaf) {
                    continue;
                }
                if fields::get_path(&applied, &leaf) != fields::get_path(&cur, &leaf) {
                    conflicts.push((i, leaf));
                }
            }
        }
        if !conflicts.is_empty() && !force {
            return Err(conflict_error(&managed, &conflicts));
        }
        for (i, leaf) in &conflicts {
            managed[*i].fields.remove(leaf);
        }
        let mine = managed
            .iter()
            .position(|m| m.same_slot(manager, "Apply", subresource));
        let old_mine = mine.map(|i| managed[i].fields.clone()).unwrap_or_default();
        let mut new = cur.clone();
        let mut dropped = old_mine.clone();
        dropped.subtract(&new_set);
        for leaf in dropped.leaves() {
            let owned_elsewhere = managed
                .iter()
                .enumerate()
                .any(|(i, m)| Some(i) != mine && m.fields.contains(&leaf));
            if !owned_elsewhere {
                fields::remove_path(&mut new, &leaf);
            }
        }
        let mut patch = applied.clone();
        if let Some(p) = patch.as_object_mut() {
            p.remove("apiVersion");
            p.remove("kind");
            if let Some(meta) = p.get_mut("metadata").and_then(Value::as_object_mut) {
                meta.retain(|k, _| {
                    ["labels", "annotations", "finalizers", "ownerReferences"].contains(&k.as_str())
                });
            }
        }
        fields::merge(&mut new, &patch, "");
        default_object(res, &mut new, false);
        validate(res, Some(&cur), &new)?;
        if !status_only {
            super::policies::admit(self, res, ns, name, &new, "UPDATE")?;
        }
        match mine {
            Some(i) => managed[i].fields = new_set,
            None => managed.push(Managed {
                manager: manager.into(),
                operation: "Apply".into(),
                api_version: res.api_version(),
                time: String::new(),
                subresource: subresource.map(String::from),
                fields: new_set,
            }),
        }
        for m in managed.iter_mut() {
            m.fields.prune(&new);
        }
        managed.retain(|m| !m.fields.is_empty());
        if clean(&new) == clean(&cur) && managed_equal(&managed, &read_managed(&cur)) {
            return Ok((false, with_type(&cur, res)));
        }
        if let Some(m) = managed
            .iter_mut()
            .find(|m| m.same_slot(manager, "Apply", subresource))
        {
            m.time = now();
        }
        self.finish_write(res, &cur, new, managed)
            .map(|o| (false, o))
    }

    /// Deletes an object the way the real server answers DELETE.
    pub fn delete(&mut self, res: &Resource, ns: &str, name: &str) -> Result<Value, ApiError> {
        self.delete_with(res, ns, name, None)
    }

    /// Deletes with the DeleteOptions' `gracePeriodSeconds` (`None`: the object's own).
    pub fn delete_with(
        &mut self,
        res: &Resource,
        ns: &str,
        name: &str,
        grace: Option<i64>,
    ) -> Result<Value, ApiError> {
        let key = ObjKey::new(res, ns, name);
        let cur = self
            .objects
            .get(&key)
            .cloned()
            .ok_or_else(|| not_found(res, name))?;
        if res.group.is_empty() && res.kind == "Namespace" {
            if cur["metadata"].get("deletionTimestamp").is_some() {
                return Ok(with_type(&cur, res));
            }
            let mut n = cur.clone();
            n["metadata"]["deletionTimestamp"] = json!(now());
            n["status"] = json!({"phase": "Terminating"});
            let stored = self.commit(key, order_metadata(n), "MODIFIED");
            return Ok(with_type(&stored, res));
        }
        if res.group.is_empty() && res.kind == "Pod" {
            return Ok(with_type(&self.delete_pod(&key, &cur, grace), res));
        }
        self.remove(&key);
        // The real registry answers some kinds with the deleted object itself (its
        // `ReturnDeletedObject`): ServiceAccounts, as the differential test saw.
        if res.group.is_empty() && res.kind == "ServiceAccount" {
            return Ok(with_type(&cur, res));
        }
        let mut d = details(res, name);
        d["uid"] = cur["metadata"]["uid"].clone();
        Ok(
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": d}),
        )
    }

    /// Whether the simulated kubelet runs this Pod (so it must confirm the deletion).
    fn kubelet_runs(&self, pod: &Value) -> bool {
        self.simulate && pod["spec"]["nodeName"].as_str() == Some(self.sim_node.as_str())
    }

    /// DELETE of a Pod: graceful when a kubelet runs it (recordings 124/125: deadline = now +
    /// grace, the Pod stays until the kubelet confirms), else gone at once (063/064).
    fn delete_pod(&mut self, key: &ObjKey, cur: &Value, grace: Option<i64>) -> Value {
        let bound = cur["spec"]["nodeName"]
            .as_str()
            .is_some_and(|n| !n.is_empty());
        let grace = grace
            .or_else(|| cur["spec"]["terminationGracePeriodSeconds"].as_i64())
            .unwrap_or(30)
            .max(0);
        let finished =
            ["Succeeded", "Failed"].contains(&cur["status"]["phase"].as_str().unwrap_or(""));
        if self.kubelet_runs(cur) && grace > 0 && !finished {
            let current = cur["metadata"]["deletionGracePeriodSeconds"].as_i64();
            if current.is_some_and(|c| c <= grace) {
                return cur.clone();
            }
            let deadline = time::OffsetDateTime::now_utc() + time::Duration::seconds(grace);
            let mut p = cur.clone();
            p["metadata"]["deletionTimestamp"] = json!(format_time(deadline));
            p["metadata"]["deletionGracePeriodSeconds"] = json!(grace);
            let stored = self.commit(key.clone(), order_metadata(p), "MODIFIED");
            let uid = cur["metadata"]["uid"].as_str().unwrap_or("").to_string();
            // With no container running the kubelet has nothing to wait for (about a second).
            let running = cur["status"]["containerStatuses"]
                .as_array()
                .is_some_and(|cs| cs.iter().any(|c| c["state"]["running"].is_object()));
            let wait = if running { grace } else { 0 };
            let termination = super::kubelet::Termination {
                key: key.clone(),
                deadline: super::kubelet::deadline(self.pod_termination, wait),
            };
            self.terminations.insert(uid, termination);
            return stored;
        }
        let mut p = cur.clone();
        if p["metadata"].get("deletionTimestamp").is_none() {
            p["metadata"]["deletionTimestamp"] = json!(now());
        }
        p["metadata"]["deletionGracePeriodSeconds"] = json!(if bound { grace } else { 0 });
        let stored = self.commit(key.clone(), order_metadata(p), "MODIFIED");
        self.remove(key);
        stored
    }

    /// The kubelet's last word on a terminated Pod: a delete with grace 0 (which moves the
    /// deadline back by the old grace period, to the time of the DELETE), then gone.
    pub fn final_delete(&mut self, key: &ObjKey) {
        let Some(cur) = self.objects.get(key).cloned() else {
            return;
        };
        let grace = cur["metadata"]["deletionGracePeriodSeconds"]
            .as_i64()
            .unwrap_or(0);
        let mut p = cur.clone();
        if let Some(t) = cur["metadata"]["deletionTimestamp"]
            .as_str()
            .and_then(parse_time)
        {
            p["metadata"]["deletionTimestamp"] =
                json!(format_time(t - time::Duration::seconds(grace)));
        }
        p["metadata"]["deletionGracePeriodSeconds"] = json!(0);
        self.commit(key.clone(), order_metadata(p), "MODIFIED");
        self.remove(key);
    }

    /// The scheduler's binding: `spec.nodeName` and condition PodScheduled, written through
    /// `pods/binding`, which leaves no managedFields entry (recording 115).
    pub fn bind(&mut self, key: &ObjKey, node: &str) -> Option<Value> {
        let mut p = self.objects.get(key).cloned()?;
        p["spec"]["nodeName"] = json!(node);
        p["status"]["conditions"] = json!([{"type": "PodScheduled", "status": "True",
            "lastProbeTime": null, "lastTransitionTime": now()}]);
        Some(self.commit(key.clone(), p, "MODIFIED"))
    }

    /// Deletes a Terminating namespace's content (Pods a kubelet runs terminate gracefully,
    /// keeping the namespace until they are gone), then the namespace.
    pub fn finalize_namespace(&mut self, ns: &str) {
        let ns_res = resource("v1", "Namespace");
        let key = ObjKey::new(&ns_res, "", ns);
        let Some(cur) = self.objects.get(&key).cloned() else {
            self.finalizing.remove(ns);
            return;
        };
        if !self.finalizing.contains(ns) {
            self.finalizing.insert(ns.to_string());
            let mut n = cur.clone();
            n["status"]["conditions"] = namespace_conditions();
            self.commit(key.clone(), n, "MODIFIED");
        }
        let content: Vec<ObjKey> = self
            .objects
            .keys()
            .filter(|k| k.namespace == ns)
            .cloned()
            .collect();
        let pod_res = resource("v1", "Pod");
        for k in content {
            let is_pod = k.group.is_empty() && k.plural == "pods";
            match self.objects.get(&k).cloned() {
                Some(p) if is_pod && p["metadata"].get("deletionTimestamp").is_none() => {
                    let _ = self.delete(&pod_res, ns, &k.name);
                }
                Some(_) if !is_pod => {
                    self.remove(&k);
                }
                _ => {}
            }
        }
        if !self.objects.keys().any(|k| k.namespace == ns) {
            self.finalizing.remove(ns);
            self.remove(&key);
        }
    }
}

/// The five conditions the namespace controller writes while deleting content (recording 091).
fn namespace_conditions() -> Value {
    let t = now();
    let cond = |ty: &str, st: &str, reason: &str, msg: &str| json!({"type": ty, "status": st, "lastTransitionTime": t, "reason": reason, "message": msg});
    json!([
        cond(
            "NamespaceDeletionDiscoveryFailure",
            "False",
            "ResourcesDiscovered",
            "All resources successfully discovered"
        ),
        cond(
            "NamespaceDeletionGroupVersionParsingFailure",
            "False",
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed"
        ),
        cond(
            "NamespaceDeletionContentFailure",
            "False",
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization"
        ),
        cond(
            "NamespaceContentRemaining",
            "False",
            "ContentRemoved",
            "All content successfully removed"
        ),
        cond(
            "NamespaceFinalizersRemaining",
            "False",
            "ContentHasNoFinalizers",
            "All content-preserving finalizers finished"
        ),
    ])
}

/// A timestamp as Kubernetes writes it (seconds, `Z`).
pub fn format_time(t: time::OffsetDateTime) -> String {
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// Parses a Kubernetes timestamp.
pub fn parse_time(text: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

fn managed_equal(a: &[Managed], b: &[Managed]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.manager == y.manager
                && x.operation == y.operation
                && x.subresource == y.subresource
                && x.fields == y.fields
        })
}

fn conflict_error(managed: &[Managed], conflicts: &[(usize, Vec<String>)]) -> ApiError {
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|(i, p)| {
            json!({"reason": "FieldManagerConflict",
                "message": format!("conflict with {}", managed[*i].describe()),
                "field": fields::display_path(p)})
        })
        .collect();
    let message = if conflicts.len() == 1 {
        let (i, p) = &conflicts[0];
        format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            managed[*i].describe(),
            fields::display_path(p)
        )
    } else {
        let mut by_manager: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (i, p) in conflicts {
            by_manager
                .entry(managed[*i].describe())
                .or_default()
                .push(fields::display_path(p));
        }
        let mut lines = Vec::new();
        for (m, paths) in by_manager {
            lines.push(format!("conflicts with {m}:"));
            lines.extend(paths.into_iter().map(|p| format!("- {p}")));
        }
        format!(
            "Apply failed with {} conflicts: {}",
            conflicts.len(),
            lines.join("\n")
        )
    };
    status(409, "Conflict", &message, Some(json!({"causes": causes})))
}

/// Looks up a resource by apiVersion and kind (panics only on a typo in the fake itself).
pub fn resource(api_version: &str, kind: &str) -> Resource {
    DISCOVERY
        .by_kind(api_version, kind)
        .cloned()
        .unwrap_or_else(|| panic!("the fake's discovery has no {api_version} {kind}"))
}

/// The object with `kind`/`apiVersion` of the resource first (as the server serializes).
pub fn with_type(obj: &Value, res: &Resource) -> Value {
    let mut out = Map::new();
    out.insert("kind".into(), json!(res.kind));
    out.insert("apiVersion".into(), json!(res.api_version()));
    if let Some(m) = obj.as_object() {
        for (k, v) in m {
            if k != "kind" && k != "apiVersion" {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    Value::Object(out)
}

fn strip_meta_status(obj: &Value) -> Value {
    let mut o = obj.clone();
    if let Some(m) = o.as_object_mut() {
        m.remove("metadata");
        m.remove("status");
    }
    o
}

/// Puts metadata keys in the order the server writes them.
fn order_metadata(mut obj: Value) -> Value {
    const ORDER: &[&str] = &[
        "name",
        "generateName",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    ];
    if let Some(meta) = obj["metadata"].as_object_mut() {
        let mut sorted = Map::new();
        for k in ORDER {
            if let Some(v) = meta.remove(*k) {
                sorted.insert((*k).to_string(), v);
            }
        }
        sorted.append(meta);
        *meta = sorted;
    }
    obj
}

fn set_default(obj: &mut Value, key: &str, v: Value) {
    if let Some(m) = obj.as_object_mut()
        && m.get(key).is_none_or(Value::is_null)
    {
        m.insert(key.to_string(), v);
    }
}

/// Defaults a pod spec as the API server's defaulting does (not admission).
fn default_pod_spec(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    for list in ["containers", "initContainers"] {
        if let Some(cs) = spec.get_mut(list).and_then(Value::as_array_mut) {
            for c in cs {
                set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
                set_default(c, "terminationMessagePolicy", json!("File"));
                let image = c["image"].as_str().unwrap_or("");
                let tag = image.rsplit('/').next().unwrap_or("");
                let latest = !tag.contains(':') || tag.ends_with(":latest");
                let policy = if latest && !image.contains('@') {
                    "Always"
                } else {
                    "IfNotPresent"
                };
                set_default(c, "imagePullPolicy", json!(policy));
                set_default(c, "resources", json!({}));
                if let Some(ports) = c.get_mut("ports").and_then(Value::as_array_mut) {
                    for p in ports {
                        set_default(p, "protocol", json!("TCP"));
                    }
                }
            }
        }
    }
    if let Some(vols) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
        for v in vols {
            for src in ["configMap", "secret"] {
                if v.get(src).is_some() {
                    set_default(&mut v[src], "defaultMode", json!(420));
                }
            }
        }
    }
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "securityContext", json!({}));
    set_default(spec, "schedulerName", json!("default-scheduler"));
}

fn qos_class(spec: &Value) -> &'static str {
    let containers: Vec<&Value> = spec["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .collect();
    let any = containers.iter().any(|c| {
        c["resources"]["requests"]
            .as_object()
            .is_some_and(|m| !m.is_empty())
            || c["resources"]["limits"]
                .as_object()
                .is_some_and(|m| !m.is_empty())
    });
    if !any {
        return "BestEffort";
    }
    let guaranteed = containers.iter().all(|c| {
        let limits = &c["resources"]["limits"];
        let requests = &c["resources"]["requests"];
        ["cpu", "memory"].iter().all(|r| {
            limits.get(*r).is_some() && requests.get(*r).is_none_or(|q| Some(q) == limits.get(*r))
        })
    });
    if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// Server defaulting and create-time admission effects.
pub fn default_object(res: &Resource, obj: &mut Value, creating: bool) {
    if !obj["metadata"].is_object() {
        obj["metadata"] = json!({});
    }
    match (res.group.as_str(), res.kind.as_str()) {
        ("", "Namespace") => {
            let name = obj["metadata"]["name"].clone();
            if !obj["metadata"]["labels"].is_object() {
                obj["metadata"]["labels"] = json!({});
            }
            obj["metadata"]["labels"]["kubernetes.io/metadata.name"] = name;
            if creating {
                // The namespace strategy's, not defaulting: nobody owns them.
                set_default(obj, "spec", json!({}));
                set_default(&mut obj["spec"], "finalizers", json!(["kubernetes"]));
                set_default(obj, "status", json!({}));
                set_default(&mut obj["status"], "phase", json!("Active"));
            }
        }
        ("", "Pod") => {
            set_default(obj, "spec", json!({}));
            default_pod_spec(&mut obj["spec"]);
            // Pod defaulting (not for templates): owned by the creator.
            set_default(&mut obj["spec"], "enableServiceLinks", json!(true));
            if creating {
                let spec = &mut obj["spec"];
                set_default(spec, "serviceAccountName", json!("default"));
                let sa = spec["serviceAccountName"].clone();
                set_default(spec, "serviceAccount", sa);
                set_default(spec, "preemptionPolicy", json!("PreemptLowerPriority"));
                set_default(spec, "priority", json!(0));
                set_default(
                    spec,
                    "tolerations",
                    json!([
                        {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                        {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]),
                );
                let has_token = spec["volumes"].as_array().is_some_and(|v| {
                    v.iter().any(|v| {
                        v["name"]
                            .as_str()
                            .is_some_and(|n| n.starts_with("kube-api-access-"))
                    })
                });
                if !has_token && spec["automountServiceAccountToken"] != json!(false) {
                    let vname = format!("kube-api-access-{}", random_suffix(5));
                    let vol = json!({"name": vname, "projected": {"sources": [
                        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
                        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
                        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}],
                        "defaultMode": 420}});
                    if !spec["volumes"].is_array() {
                        spec["volumes"] = json!([]);
                    }
                    if let Some(v) = spec.get_mut("volumes").and_then(Value::as_array_mut) {
                        v.push(vol);
                    }
                    if let Some(cs) = spec["containers"].as_array_mut() {
                        for c in cs {
                            if !c["volumeMounts"].is_array() {
                                c["volumeMounts"] = json!([]);
                            }
                            if let Some(m) = c["volumeMounts"].as_array_mut() {
                                m.push(json!({"name": vname, "readOnly": true,
                                    "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}));
                            }
                        }
                    }
                }
            }
            let qos = qos_class(&obj["spec"]);
            set_default(obj, "status", json!({}));
            set_default(&mut obj["status"], "phase", json!("Pending"));
            set_default(&mut obj["status"], "qosClass", json!(qos));
        }
        ("apps", "Deployment")
        | ("apps", "ReplicaSet")
        | ("apps", "StatefulSet")
        | ("apps", "DaemonSet") => {
            set_default(obj, "spec", json!({}));
            let spec = &mut obj["spec"];
            if res.kind != "DaemonSet" {
                set_default(spec, "replicas", json!(1));
            }
            if spec["template"].is_object() {
                if !spec["template"]["metadata"].is_object() {
                    spec["template"]["metadata"] = json!({});
                }
                if let Some(m) = spec["template"]["metadata"].as_object_mut() {
                    m.entry("creationTimestamp").or_insert(Value::Null);
                }
                default_pod_spec(&mut spec["template"]["spec"]);
            }
            if res.kind == "Deployment" {
                set_default(
                    spec,
                    "strategy",
                    json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}}),
                );
                set_default(spec, "revisionHistoryLimit", json!(10));
                set_default(spec, "progressDeadlineSeconds", json!(600));
            }
            set_default(obj, "status", json!({}));
        }
        ("", "Secret") => {
            set_default(obj, "type", json!("Opaque"));
            if let Some(sd) = obj.as_object_mut().and_then(|m| m.remove("stringData")) {
                use base64::Engine;
                for (k, v) in sd.as_object().into_iter().flatten() {
                    let enc =
                        base64::engine::general_purpose::STANDARD.encode(v.as_str().unwrap_or(""));
                    if !obj["data"].is_object() {
                        obj["data"] = json!({});
                    }
                    obj["data"][k] = json!(enc);
                }
            }
        }
        ("", "Service") => {
            set_default(obj, "spec", json!({}));
            let spec = &mut obj["spec"];
            set_default(spec, "type", json!("ClusterIP"));
            set_default(spec, "sessionAffinity", json!("None"));
            let kind = spec["type"].as_str().unwrap_or("").to_string();
            if kind != "ExternalName" {
                set_default(spec, "internalTrafficPolicy", json!("Cluster"));
            }
            if kind == "NodePort" || kind == "LoadBalancer" {
                set_default(spec, "externalTrafficPolicy", json!("Cluster"));
            }
            if kind == "LoadBalancer" {
                set_default(spec, "allocateLoadBalancerNodePorts", json!(true));
            }
            if let Some(ports) = spec.get_mut("ports").and_then(Value::as_array_mut) {
                for p in ports {
                    set_default(p, "protocol", json!("TCP"));
                    let port = p["port"].clone();
                    set_default(p, "targetPort", port);
                    if creating && (kind == "NodePort" || kind == "LoadBalancer") {
                        let n = 30000 + rand::rng().random_range(0..2768);
                        set_default(p, "nodePort", json!(n));
                    }
                }
            }
            if creating && kind != "ExternalName" && spec["clusterIP"] != json!("None") {
                // The service IP allocator's (10.96.0.0/12 on realkube).
                let ip = format!(
                    "10.{}.{}.{}",
                    96 + rand::rng().random_range(0..16),
                    rand::rng().random_range(0..256),
                    rand::rng().random_range(1..255)
                );
                set_default(spec, "clusterIP", json!(ip));
                let ip = spec["clusterIP"].clone();
                set_default(spec, "clusterIPs", json!([ip]));
                set_default(spec, "ipFamilies", json!(["IPv4"]));
                set_default(spec, "ipFamilyPolicy", json!("SingleStack"));
            }
            set_default(obj, "status", json!({"loadBalancer": {}}));
        }
        ("", "Node") => {
            set_default(obj, "spec", json!({}));
            set_default(obj, "status", json!({}));
            set_default(
                &mut obj["status"],
                "daemonEndpoints",
                json!({"kubeletEndpoint": {"Port": 0}}),
            );
        }
        ("autoscaling", "HorizontalPodAutoscaler") => {
            set_default(
                obj,
                "status",
                json!({"desiredReplicas": 0, "currentMetrics": null}),
            );
        }
        ("", "ResourceQuota") => {
            set_default(obj, "status", json!({}));
        }
        _ => {}
    }
}

fn dns_label_ok(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

fn invalid(res: &Resource, name: &str, causes: Vec<(&str, String, String)>) -> ApiError {
    let kind = if res.group.is_empty() {
        res.kind.clone()
    } else {
        format!("{}.{}", res.kind, res.group)
    };
    let parts: Vec<String> = causes.iter().map(|(_, f, m)| format!("{f}: {m}")).collect();
    let joined = if parts.len() == 1 {
        parts[0].clone()
    } else {
        format!("[{}]", parts.join(", "))
    };
    let mut d = Map::new();
    d.insert("name".into(), json!(name));
    if !res.group.is_empty() {
        d.insert("group".into(), json!(res.group));
    }
    d.insert("kind".into(), json!(res.kind));
    d.insert(
        "causes".into(),
        Value::Array(
            causes
                .iter()
                .map(|(r, f, m)| json!({"reason": r, "message": m, "field": f}))
                .collect(),
        ),
    );
    status(
        422,
        "Invalid",
        &format!("{kind} \"{name}\" is invalid: {joined}"),
        Some(Value::Object(d)),
    )
}

const POD_UPDATE_FORBIDDEN: &str = "Forbidden: pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

fn validate(res: &Resource, old: Option<&Value>, obj: &Value) -> Result<(), ApiError> {
    let name = obj["metadata"]["name"].as_str().unwrap_or("");
    let mut causes: Vec<(&str, String, String)> = Vec::new();
    if old.is_none() && name.is_empty() && obj["metadata"]["generateName"].is_null() {
        causes.push((
            "FieldValueRequired",
            "metadata.name".into(),
            "Required value: name or generateName is required".into(),
        ));
    }
    let containers_path = match (res.group.as_str(), res.kind.as_str()) {
        ("", "Pod") => Some(("spec.containers", &obj["spec"]["containers"])),
        ("apps", _) | ("batch", "Job") => Some((
            "spec.template.spec.containers",
            &obj["spec"]["template"]["spec"]["containers"],
        )),
        _ => None,
    };
    if res.group == "apps" && res.kind != "ControllerRevision" {
        if let Some(r) = obj["spec"]["replicas"].as_i64()
            && r < 0
        {
            causes.push((
                "FieldValueInvalid",
                "spec.replicas".into(),
                format!("Invalid value: {r}: must be greater than or equal to 0"),
            ));
        }
        let selector = &obj["spec"]["selector"]["matchLabels"];
        let labels = &obj["spec"]["template"]["metadata"]["labels"];
        if obj["spec"]["selector"].is_null() {
            causes.push((
                "FieldValueRequired",
                "spec.selector".into(),
                "Required value".into(),
            ));
        } else if let Some(sel) = selector.as_object()
            && !sel.iter().all(|(k, v)| labels.get(k) == Some(v))
        {
            let shown: Vec<String> = labels
                .as_object()
                .into_iter()
                .flatten()
                .map(|(k, v)| format!("\"{k}\":{v}"))
                .collect();
            causes.push((
                "FieldValueInvalid",
                "spec.template.metadata.labels".into(),
                format!(
                    "Invalid value: map[string]string{{{}}}: `selector` does not match template `labels`",
                    shown.join(", ")
                ),
            ));
        }
    }
    if let Some((path, containers)) = containers_path {
        match containers.as_array() {
            Some(cs) if !cs.is_empty() => {
                for (i, c) in cs.iter().enumerate() {
                    let cname = c["name"].as_str().unwrap_or("");
                    if !dns_label_ok(cname) {
                        causes.push((
                            "FieldValueInvalid",
                            format!("{path}[{i}].name"),
                            format!("Invalid value: \"{cname}\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"),
                        ));
                    }
                    if c["image"].as_str().is_none_or(str::is_empty) {
                        causes.push((
                            "FieldValueRequired",
                            format!("{path}[{i}].image"),
                            "Required value".into(),
                        ));
                    }
                }
            }
            _ => causes.push((
                "FieldValueRequired",
                path.to_string(),
                "Required value".into(),
            )),
        }
    }
    if !causes.is_empty() {
        return Err(invalid(res, name, causes));
    }
    if res.group.is_empty()
        && res.kind == "Pod"
        && let Some(old) = old
    {
        // Checked first, on its own (ValidatePodUpdate).
        for list in ["containers", "initContainers"] {
            let count = |p: &Value| p["spec"][list].as_array().map_or(0, Vec::len);
            if count(old) != count(obj) {
                return Err(invalid(
                    res,
                    name,
                    vec![(
                        "FieldValueForbidden",
                        format!("spec.{list}"),
                        "Forbidden: pod updates may not add or remove containers".into(),
                    )],
                ));
            }
        }
        let mutable = |spec: &Value| {
            let mut s = spec.clone();
            if let Some(m) = s.as_object_mut() {
                for k in [
                    "activeDeadlineSeconds",
                    "tolerations",
                    "terminationGracePeriodSeconds",
                    "nodeName",
                ] {
                    m.remove(k);
                }
            }
            for list in ["containers", "initContainers"] {
                if let Some(cs) = s.get_mut(list).and_then(Value::as_array_mut) {
                    for c in cs {
                        if let Some(m) = c.as_object_mut() {
                            m.remove("image");
                        }
                    }
                }
            }
            s
        };
        if mutable(&old["spec"]) != mutable(&obj["spec"]) {
            return Err(invalid(
                res,
                name,
                vec![(
                    "FieldValueForbidden",
                    "spec".into(),
                    POD_UPDATE_FORBIDDEN.into(),
                )],
            ));
        }
    }
    Ok(())
}
