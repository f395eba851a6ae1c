//! Read-only facts about the cluster beyond objects: which APIs it serves, its version, and the
//! Events about an object.

use serde_json::Value;

use super::{Cluster, ClusterError};

impl Cluster {
    /// Whether the cluster serves `kind` in `api_version` (through discovery; never cached as
    /// "not served", so an API installed later is seen).
    pub async fn served(&self, api_version: &str, kind: &str) -> Result<bool, ClusterError> {
        let _ = (api_version, kind);
        Err(ClusterError::InvalidObject("served is not implemented yet".into()))
    }

    /// The API server's `/version` document, with `major`/`minor` as numbers
    /// (k3s's `"28+"` read as 28).
    pub async fn server_version(&self) -> Result<Value, ClusterError> {
        Err(ClusterError::InvalidObject("server_version is not implemented yet".into()))
    }

    /// The API groups that serve `kind` (`""` for the core group).
    pub async fn api_groups_of(&self, kind: &str) -> Result<Vec<String>, ClusterError> {
        let _ = kind;
        Err(ClusterError::InvalidObject("api_groups_of is not implemented yet".into()))
    }

    /// core/v1 Events in `namespace` whose involvedObject is `kind`/`name`.
    pub async fn events_about(
        &self,
        namespace: Option<&str>,
        kind: &str,
        name: &str,
    ) -> Result<Vec<Value>, ClusterError> {
        let _ = (namespace, kind, name);
        Err(ClusterError::InvalidObject("events_about is not implemented yet".into()))
    }
}
