//! Everything that talks to Kubernetes: connecting (kubeconfig, context, in-cluster),
//! API discovery, server-side apply, get/list/delete of any kind the cluster serves.

mod error;

pub use error::ClusterError;

use std::path::PathBuf;

use serde::Serialize;
use serde_json::Value;

/// Field manager for every server-side apply kubelab makes.
pub const FIELD_MANAGER: &str = "kubelab";

/// How to reach the cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// A kubeconfig file; `None` means `KUBECONFIG` / `~/.kube/config` / in-cluster config.
    pub kubeconfig: Option<PathBuf>,
    /// A kubeconfig context; `None` means the current context.
    pub context: Option<String>,
}

/// What a probe of the API server found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Probe {
    /// `gitVersion` of the server (`v1.28.7+k3s1`).
    pub server_version: String,
}

/// The identity of one object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
pub struct ObjectKey {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// `metadata.namespace` (None for cluster-scoped kinds).
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
}

impl std::fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {}/{}", self.kind, ns, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

/// What a server-side apply did to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ApplyAction {
    /// The object did not exist (HTTP 201).
    Created,
    /// The object existed and changed (new resourceVersion).
    Configured,
    /// The object existed and already matched (same resourceVersion).
    Unchanged,
}

/// The result of applying one object.
#[derive(Debug, Clone, Serialize)]
pub struct Applied {
    /// Which object (namespace filled in for namespaced kinds).
    pub key: ObjectKey,
    /// What happened.
    pub action: ApplyAction,
    /// The object as the server returned it.
    pub object: Value,
}

/// A handle on the cluster (cheap to clone). Built even when no cluster is reachable: every call
/// then returns [`ClusterError::Unavailable`] with an explanation.
#[derive(Clone)]
pub struct Cluster {
    inner: std::sync::Arc<Inner>,
}

struct Inner {
    client: Option<kube::Client>,
    context: Option<String>,
    unavailable: Option<String>,
}

impl Cluster {
    /// Builds a client from the options; never fails — a missing or broken kubeconfig is
    /// remembered and reported by every later call.
    pub async fn connect(options: &ClusterOptions) -> Cluster {
        let _ = options;
        Cluster {
            inner: std::sync::Arc::new(Inner {
                client: None,
                context: None,
                unavailable: Some("not implemented yet".into()),
            }),
        }
    }

    /// Wraps an existing client (tests).
    pub fn from_client(client: kube::Client) -> Cluster {
        Cluster {
            inner: std::sync::Arc::new(Inner {
                client: Some(client),
                context: None,
                unavailable: None,
            }),
        }
    }

    /// The kubeconfig context in use, when known.
    pub fn context(&self) -> Option<&str> {
        self.inner.context.as_deref()
    }

    /// Asks the API server for its version (bounded by a short timeout).
    pub async fn probe(&self) -> Result<Probe, ClusterError> {
        Err(self.unavailable())
    }

    /// Server-side applies `object` (field manager [`FIELD_MANAGER`], force), resolving its kind
    /// through discovery. `default_namespace` fills in a missing namespace on namespaced kinds.
    pub async fn apply(&self, object: &Value, default_namespace: &str) -> Result<Applied, ClusterError> {
        let _ = (object, default_namespace);
        Err(self.unavailable())
    }

    /// Gets one object; `Ok(None)` when it does not exist.
    pub async fn get(&self, key: &ObjectKey) -> Result<Option<Value>, ClusterError> {
        let _ = key;
        Err(self.unavailable())
    }

    /// Lists objects of a kind, in one namespace (or cluster-wide with `None`), optionally by
    /// label selector. Items carry `apiVersion` and `kind`.
    pub async fn list(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        selector: Option<&str>,
    ) -> Result<Vec<Value>, ClusterError> {
        let _ = (api_version, kind, namespace, selector);
        Err(self.unavailable())
    }

    /// Deletes one object; `Ok(false)` when it was already gone.
    pub async fn delete(&self, key: &ObjectKey) -> Result<bool, ClusterError> {
        let _ = key;
        Err(self.unavailable())
    }

    /// Whether a kind is namespaced (through discovery).
    pub async fn is_namespaced(&self, api_version: &str, kind: &str) -> Result<bool, ClusterError> {
        let _ = (api_version, kind);
        Err(self.unavailable())
    }

    fn unavailable(&self) -> ClusterError {
        ClusterError::Unavailable {
            message: self.inner.unavailable.clone().unwrap_or_default(),
        }
    }
}
