//! API discovery: resolving any apiVersion/kind the cluster serves to its resource (plural,
//! scope), cached per kind so repeated checks do not ask the API server again.

use std::collections::HashMap;
use std::sync::RwLock;

use kube::core::discovery::ApiResource;
use kube::core::gvk::GroupVersion;

use super::ClusterError;
use super::error::from_kube;

/// One kind the cluster serves.
#[derive(Debug, Clone)]
pub(crate) struct Resolved {
    /// Group, version, kind and plural, as kube-rs wants them.
    pub resource: ApiResource,
    /// Whether objects of this kind live in a namespace.
    pub namespaced: bool,
}

/// Kinds already resolved, by (apiVersion, kind). Only kinds that were found are kept: a kind
/// that is missing now (a CRD, an aggregated API such as metrics) may be served later.
#[derive(Default)]
pub(crate) struct Cache {
    kinds: RwLock<HashMap<(String, String), Resolved>>,
}

impl Cache {
    /// Resolves `api_version`/`kind`, asking the API server for the group-version's resources
    /// on a cache miss (and caching every kind of that group-version).
    pub(crate) async fn resolve(
        &self,
        client: &kube::Client,
        server: &str,
        api_version: &str,
        kind: &str,
    ) -> Result<Resolved, ClusterError> {
        let key = (api_version.to_owned(), kind.to_owned());
        if let Some(found) = self.read().get(&key) {
            return Ok(found.clone());
        }
        let unknown = || ClusterError::UnknownKind {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
        };
        let gv = parse_api_version(api_version).ok_or_else(unknown)?;
        let listed = if gv.group.is_empty() {
            client.list_core_api_resources(&gv.version).await
        } else {
            client.list_api_group_resources(api_version).await
        };
        let list = match listed {
            Ok(list) => list,
            // The group-version itself is not served.
            Err(kube::Error::Api(status)) if status.code == 404 => return Err(unknown()),
            Err(e) => return Err(from_kube(e, server)),
        };
        let resolved: Vec<Resolved> = list
            .resources
            .iter()
            // `pods/log`, `deployments/scale`...: subresources are not kinds of their own.
            .filter(|r| !r.name.contains('/'))
            .map(|r| Resolved {
                resource: ApiResource {
                    group: gv.group.clone(),
                    version: gv.version.clone(),
                    api_version: api_version.to_owned(),
                    kind: r.kind.clone(),
                    plural: r.name.clone(),
                },
                namespaced: r.namespaced,
            })
            .collect();
        let mut kinds = self.kinds.write().unwrap_or_else(|e| e.into_inner());
        for r in resolved {
            kinds
                .entry((api_version.to_owned(), r.resource.kind.clone()))
                .or_insert(r);
        }
        kinds.get(&key).cloned().ok_or_else(unknown)
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<(String, String), Resolved>> {
        self.kinds.read().unwrap_or_else(|e| e.into_inner())
    }
}

/// `v1` → core group, `apps/v1` → group `apps`; anything else is not an apiVersion.
fn parse_api_version(api_version: &str) -> Option<GroupVersion> {
    let version_ok = |v: &str| !v.is_empty() && v.chars().all(|c| c.is_ascii_alphanumeric());
    // A DNS subdomain: also keeps `..` and `/` out of the discovery URL.
    let group_ok = |g: &str| {
        !g.is_empty()
            && g.split('.').all(|label| {
                !label.is_empty() && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            })
    };
    match api_version.split_once('/') {
        None if version_ok(api_version) => Some(GroupVersion::gv("", api_version)),
        Some((group, version)) if group_ok(group) && version_ok(version) => {
            Some(GroupVersion::gv(group, version))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_versions_parse() {
        let core = parse_api_version("v1").map(|g| (g.group, g.version));
        assert_eq!(core, Some((String::new(), "v1".to_owned())));
        let apps = parse_api_version("apps/v1").map(|g| (g.group, g.version));
        assert_eq!(apps, Some(("apps".to_owned(), "v1".to_owned())));
        assert!(parse_api_version("a/b/c").is_none());
        assert!(parse_api_version("").is_none());
        assert!(parse_api_version("apps/").is_none());
        assert!(parse_api_version("../v1").is_none());
        let metrics = parse_api_version("metrics.k8s.io/v1beta1").map(|g| g.group);
        assert_eq!(metrics.as_deref(), Some("metrics.k8s.io"));
    }
}
