//! Discovery documents lifted from the recorded kube-apiserver 1.28 exchanges, and resource
//! resolution (kind <-> plural, namespaced or not) built from them.

use std::path::PathBuf;
use std::sync::LazyLock;

use serde_json::{Value, json};

/// Where the recorded exchanges live inside the repository.
pub fn recorded_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/support/recorded")
}

/// Reads one recorded exchange by its three-digit number (`"016"`).
pub fn recorded(number: &str) -> Value {
    let dir = recorded_dir();
    let entry = std::fs::read_dir(&dir)
        .ok()
        .into_iter()
        .flatten()
        .flatten()
        .find(|e| {
            let name = e.file_name().to_string_lossy().to_string();
            name.starts_with(&format!("{number}-")) && name.ends_with(".json")
        });
    entry
        .and_then(|e| std::fs::read_to_string(e.path()).ok())
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null)
}

fn recorded_body(number: &str) -> Value {
    recorded(number)["response"]["body"].clone()
}

/// One resource the fake serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    /// API group (`""` for core).
    pub group: String,
    /// Version (`v1`).
    pub version: String,
    /// Plural resource name (`deployments`).
    pub plural: String,
    /// Singular name (`deployment`).
    pub singular: String,
    /// Kind (`Deployment`).
    pub kind: String,
    /// Whether objects live in a namespace.
    pub namespaced: bool,
    /// Subresources (`status`, `scale`, `exec`, ...).
    pub subresources: Vec<String>,
    /// Verbs.
    pub verbs: Vec<String>,
    /// Short names (`netpol`).
    pub short_names: Vec<String>,
    /// Categories (`all`).
    pub categories: Vec<String>,
    /// Verbs of each subresource.
    pub subresource_verbs: Vec<Vec<String>>,
}

impl Resource {
    /// `apps/v1` or `v1`.
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `deployments.apps` or `pods` (how error messages name the resource).
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    /// Whether `/status` is a subresource (then the main resource ignores status changes).
    pub fn has_status(&self) -> bool {
        self.subresources.iter().any(|s| s == "status")
    }
}

/// All discovery data.
pub struct Discovery {
    /// `/version`.
    pub version: Value,
    /// `/api`.
    pub api: Value,
    /// `/apis` (plain APIGroupList).
    pub apis: Value,
    /// `/api` aggregated (APIGroupDiscoveryList v2beta1).
    pub api_aggregated: Value,
    /// `/apis` aggregated.
    pub apis_aggregated: Value,
    /// Recorded APIResourceLists by group-version (`v1`, `apps/v1`).
    pub resource_lists: Vec<(String, Value)>,
    /// Every resource of every served version.
    pub resources: Vec<Resource>,
}

/// The discovery data, loaded once.
pub static DISCOVERY: LazyLock<Discovery> = LazyLock::new(load);

fn load() -> Discovery {
    let api_aggregated = recorded_body("009");
    let apis_aggregated = recorded_body("010");
    let mut resources = Vec::new();
    for doc in [&api_aggregated, &apis_aggregated] {
        for group in doc["items"].as_array().into_iter().flatten() {
            let gname = group["metadata"]["name"].as_str().unwrap_or("").to_string();
            resources.extend(group_resources(&gname, group));
        }
    }
    resources.extend(group_resources("metrics.k8s.io", &metrics_group()));
    for version in ["v1", "v1beta1"] {
        resources.extend(super::policies::resources(version));
    }
    let resource_lists = ["003", "005", "006", "007", "008"]
        .iter()
        .map(|n| {
            let body = recorded_body(n);
            (
                body["groupVersion"].as_str().unwrap_or("").to_string(),
                body,
            )
        })
        .collect();
    Discovery {
        version: recorded_body("001"),
        api: recorded_body("002"),
        apis: recorded_body("004"),
        api_aggregated,
        apis_aggregated,
        resource_lists,
        resources,
    }
}

fn group_resources(group: &str, doc: &Value) -> Vec<Resource> {
    let mut out = Vec::new();
    for v in doc["versions"].as_array().into_iter().flatten() {
        let version = v["version"].as_str().unwrap_or("").to_string();
        for r in v["resources"].as_array().into_iter().flatten() {
            let strings = |v: &Value| -> Vec<String> {
                v.as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            };
            out.push(Resource {
                group: group.to_string(),
                version: version.clone(),
                plural: r["resource"].as_str().unwrap_or("").to_string(),
                singular: r["singularResource"].as_str().unwrap_or("").to_string(),
                kind: r["responseKind"]["kind"].as_str().unwrap_or("").to_string(),
                namespaced: r["scope"] == "Namespaced",
                subresources: r["subresources"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|s| s["subresource"].as_str().map(String::from))
                    .collect(),
                verbs: strings(&r["verbs"]),
                short_names: strings(&r["shortNames"]),
                categories: strings(&r["categories"]),
                subresource_verbs: r["subresources"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|s| strings(&s["verbs"]))
                    .collect(),
            });
        }
    }
    out
}

/// The aggregated-discovery entry of metrics.k8s.io (served only when enabled).
pub fn metrics_group() -> Value {
    let res = |plural: &str, singular: &str, kind: &str, scope: &str| {
        json!({"resource": plural, "responseKind": {"group": "", "version": "", "kind": kind},
               "scope": scope, "singularResource": singular, "verbs": ["get", "list"]})
    };
    json!({"metadata": {"name": "metrics.k8s.io", "creationTimestamp": null},
           "versions": [{"version": "v1beta1", "resources": [
               res("nodes", "", "NodeMetrics", "Cluster"),
               res("pods", "", "PodMetrics", "Namespaced")], "freshness": "Current"}]})
}

impl Discovery {
    /// Finds a resource by group, version and plural.
    pub fn by_plural(&self, group: &str, version: &str, plural: &str) -> Option<&Resource> {
        self.resources
            .iter()
            .find(|r| r.group == group && r.version == version && r.plural == plural)
    }

    /// Finds a resource by `apiVersion` and kind.
    pub fn by_kind(&self, api_version: &str, kind: &str) -> Option<&Resource> {
        let (group, version) = split_api_version(api_version);
        self.resources
            .iter()
            .find(|r| r.group == group && r.version == version && r.kind == kind)
    }

    /// Whether a group-version is served at all.
    pub fn serves(&self, group: &str, version: &str) -> bool {
        self.resources
            .iter()
            .any(|r| r.group == group && r.version == version)
    }

    /// The plain APIResourceList of a group-version: recorded when there is one, else built
    /// from the aggregated data.
    pub fn resource_list(&self, group: &str, version: &str) -> Value {
        let gv = if group.is_empty() {
            version.to_string()
        } else {
            format!("{group}/{version}")
        };
        if let Some((_, body)) = self.resource_lists.iter().find(|(g, _)| *g == gv) {
            return body.clone();
        }
        let mut resources = Vec::new();
        for r in self
            .resources
            .iter()
            .filter(|r| r.group == group && r.version == version)
        {
            let mut entry = json!({"name": r.plural, "singularName": r.singular,
                "namespaced": r.namespaced, "kind": r.kind, "verbs": r.verbs,
                "storageVersionHash": storage_version_hash(group, version, &r.kind)});
            if !r.short_names.is_empty() {
                entry["shortNames"] = json!(r.short_names);
            }
            if !r.categories.is_empty() {
                entry["categories"] = json!(r.categories);
            }
            resources.push(entry);
            for (s, verbs) in r.subresources.iter().zip(&r.subresource_verbs) {
                resources.push(
                    json!({"name": format!("{}/{}", r.plural, s), "singularName": "",
                    "namespaced": r.namespaced, "kind": r.kind, "verbs": verbs}),
                );
            }
        }
        json!({"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": gv, "resources": resources})
    }

    /// The plain `/apis` list, with metrics.k8s.io when enabled.
    pub fn apis(&self, metrics: bool) -> Value {
        let mut apis = self.apis.clone();
        if metrics && let Some(groups) = apis["groups"].as_array_mut() {
            let gv = json!({"groupVersion": "metrics.k8s.io/v1beta1", "version": "v1beta1"});
            groups.push(
                json!({"name": "metrics.k8s.io", "versions": [gv.clone()], "preferredVersion": gv}),
            );
        }
        apis
    }

    /// The aggregated `/apis` list, with metrics.k8s.io when enabled.
    pub fn apis_aggregated(&self, metrics: bool) -> Value {
        let mut apis = self.apis_aggregated.clone();
        if metrics && let Some(items) = apis["items"].as_array_mut() {
            items.push(metrics_group());
        }
        apis
    }
}

/// The API server's `storageVersionHash`: base64 of the first 8 bytes of the SHA-256 of
/// `group/version/kind` of the storage version (taken to be the served one here).
pub fn storage_version_hash(group: &str, version: &str, kind: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let digest = sha2::Sha256::digest(format!("{group}/{version}/{kind}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(&digest[..8])
}

/// `apps/v1` -> (`apps`, `v1`); `v1` -> (``, `v1`).
pub fn split_api_version(api_version: &str) -> (&str, &str) {
    match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    }
}
