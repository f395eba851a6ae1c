//! Read-only facts about the cluster beyond objects: which APIs it serves, its version, and the
//! Events about an object.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use k8s_openapi::api::core::v1::Event;
use kube::api::{Api, ListParams};
use kube::core::DynamicObject;
use kube::core::discovery::ApiResource;
use serde_json::Value;

use super::discovery::Resolved;
use super::error::from_kube;
use super::{Cluster, ClusterError, bounded, to_value};

/// How long the answer of [`Cluster::api_groups_of`] is reused: a whole-cluster discovery is
/// a few dozen requests, and checks re-evaluate often.
pub(crate) const GROUPS_TTL: Duration = Duration::from_secs(30);

/// Every kind the cluster serves, with the groups serving it (`""` for core).
type GroupsByKind = HashMap<String, BTreeSet<String>>;

/// The last whole-cluster discovery, kept for [`GROUPS_TTL`].
#[derive(Default)]
pub(crate) struct GroupCache {
    // A tokio mutex held across the discovery, so concurrent checks share one round of requests.
    last: tokio::sync::Mutex<Option<(Instant, Arc<GroupsByKind>)>>,
}

impl Cluster {
    /// Whether the cluster serves `kind` in `api_version` (through discovery; never cached as
    /// "not served", so an API installed later is seen). An aggregated API that is registered
    /// but whose backend does not answer (503, e.g. metrics-server still starting) counts as
    /// not served.
    pub async fn served(&self, api_version: &str, kind: &str) -> Result<bool, ClusterError> {
        let (client, server) = self.client()?;
        bounded(self.call_timeout, &server, async {
            match self.resolve(client, &server, api_version, kind).await {
                Ok(_) => Ok(true),
                Err(ClusterError::UnknownKind { .. }) => Ok(false),
                Err(ClusterError::Api { code: 503, .. }) => Ok(false),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// The API server's `/version` document, with `major`/`minor` as numbers
    /// (k3s's `"28+"` read as 28).
    pub async fn server_version(&self) -> Result<Value, ClusterError> {
        let (client, server) = self.client()?;
        bounded(self.call_timeout, &server, async {
            let request = http::Request::get("/version")
                .body(Vec::new())
                .map_err(|e| ClusterError::InvalidObject(e.to_string()))?;
            let document: Value = client
                .request(request)
                .await
                .map_err(|e| from_kube(e, &server))?;
            Ok(numeric_version(document))
        })
        .await
    }

    /// The API groups that serve `kind` (`""` for the core group), sorted; empty when no group
    /// does. Groups whose discovery fails (an aggregated API that is down) are left out.
    pub async fn api_groups_of(&self, kind: &str) -> Result<Vec<String>, ClusterError> {
        let (client, server) = self.client()?;
        bounded(self.call_timeout, &server, async {
            let mut last = self.inner.groups.last.lock().await;
            let by_kind = match last.as_ref() {
                Some((at, by_kind)) if at.elapsed() < GROUPS_TTL => by_kind.clone(),
                _ => {
                    let fresh = Arc::new(discover_groups(client, &server).await?);
                    *last = Some((Instant::now(), fresh.clone()));
                    fresh
                }
            };
            Ok(by_kind
                .get(kind)
                .map(|groups| groups.iter().cloned().collect())
                .unwrap_or_default())
        })
        .await
    }

    /// core/v1 Events in `namespace` (all namespaces with `None`) whose involvedObject is
    /// `kind`/`name`, as the API server lists them, each with `apiVersion` and `kind`.
    pub async fn events_about(
        &self,
        namespace: Option<&str>,
        kind: &str,
        name: &str,
    ) -> Result<Vec<Value>, ClusterError> {
        let (client, server) = self.client()?;
        let resolved = Resolved {
            resource: ApiResource::erase::<Event>(&()),
            namespaced: true,
        };
        bounded(self.call_timeout, &server, async {
            let api: Api<DynamicObject> = match namespace.filter(|ns| !ns.is_empty()) {
                Some(ns) => Api::namespaced_with(client.clone(), ns, &resolved.resource),
                None => Api::all_with(client.clone(), &resolved.resource),
            };
            let selector = format!(
                "involvedObject.kind={},involvedObject.name={}",
                escape_field_value(kind),
                escape_field_value(name)
            );
            let list = api
                .list(&ListParams::default().fields(&selector))
                .await
                .map_err(|e| from_kube(e, &server))?;
            list.items
                .into_iter()
                .map(|o| to_value(o, &resolved))
                .collect()
        })
        .await
    }
}

/// Discovers every group-version and the kinds it serves.
async fn discover_groups(
    client: &kube::Client,
    server: &str,
) -> Result<GroupsByKind, ClusterError> {
    let core = client
        .list_core_api_versions()
        .await
        .map_err(|e| from_kube(e, server))?;
    let groups = client
        .list_api_groups()
        .await
        .map_err(|e| from_kube(e, server))?;
    let mut versions: Vec<(String, String)> = core
        .versions
        .into_iter()
        .map(|v| (String::new(), v))
        .collect();
    for group in groups.groups {
        for version in group.versions {
            versions.push((group.name.clone(), version.group_version));
        }
    }
    let listed = join_all(versions.iter().map(|(group, gv)| async move {
        if group.is_empty() {
            client.list_core_api_resources(gv).await
        } else {
            client.list_api_group_resources(gv).await
        }
    }))
    .await;
    let mut by_kind = GroupsByKind::new();
    for ((group, gv), result) in versions.into_iter().zip(listed) {
        let list = match result {
            Ok(list) => list,
            // One broken aggregated API (metrics-server down answers 503) must not hide the rest.
            Err(kube::Error::Api(status)) => {
                tracing::debug!(%gv, code = status.code, "group-version discovery failed; skipped");
                continue;
            }
            Err(e) => return Err(from_kube(e, server)),
        };
        for resource in list.resources.iter().filter(|r| !r.name.contains('/')) {
            by_kind
                .entry(resource.kind.clone())
                .or_default()
                .insert(group.clone());
        }
    }
    Ok(by_kind)
}

/// `/version` with `major`/`minor` turned into numbers when they start with digits.
fn numeric_version(mut document: Value) -> Value {
    for field in ["major", "minor"] {
        if let Some(number) = document
            .get(field)
            .and_then(Value::as_str)
            .and_then(leading_number)
        {
            document[field] = Value::from(number);
        }
    }
    document
}

/// `"28+"` → 28; `None` without leading digits.
fn leading_number(text: &str) -> Option<u64> {
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// Escapes a field selector value (`\`, `,` and `=` are special in field selectors).
fn escape_field_value(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '\\' | ',' | '=') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn version_numbers_are_read_from_their_leading_digits() {
        let v = numeric_version(
            json!({"major": "1", "minor": "28+", "gitVersion": "v1.28.7+k3s1",
            "platform": "linux/arm64"}),
        );
        assert_eq!(v["major"], json!(1));
        assert_eq!(v["minor"], json!(28));
        assert_eq!(v["gitVersion"], "v1.28.7+k3s1");
        assert_eq!(v["platform"], "linux/arm64");
        let odd = numeric_version(json!({"major": "", "minor": "x"}));
        assert_eq!(odd["major"], "");
        assert_eq!(odd["minor"], "x");
    }

    #[test]
    fn field_selector_values_are_escaped() {
        assert_eq!(escape_field_value("nginx-1"), "nginx-1");
        assert_eq!(escape_field_value("a,b=c\\"), "a\\,b\\=c\\\\");
    }
}
