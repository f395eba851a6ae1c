//! Everything that talks to Kubernetes: connecting (kubeconfig, context, in-cluster),
//! API discovery, server-side apply, get/list/delete of any kind the cluster serves, facts
//! (served APIs, version, events), exec in containers, and shared watch caches.

mod access;
mod apply;
mod connect;
mod discovery;
mod error;
mod exec;
mod inspect;
mod isolation;
mod labels;
mod learners;
mod public_api;
mod toolbox;
mod watch;

pub use access::TokenAnswer;
pub use error::ClusterError;
pub use exec::{ExecResult, MAX_OUTPUT};
pub use isolation::{
    AdmissionGuard, ApiServerRoute, Breach, LEARNER_NETWORK_POLICY, NO_EXTERNAL_IPS_POLICY,
    NO_TOKEN_SECRETS_POLICY, TOKEN_SECRET_TYPE, admission_policies, breach_of, network_policy,
};
pub use labels::{Selector, parse_label_selector};
pub use learners::{
    LEARNER_LABEL, LEARNER_LIMITS, LEARNER_QUOTA, LEARNER_ROLE, LEARNER_SERVICE_ACCOUNT,
    LearnerSpace, LimitSpec, MANAGED_BY, MANAGED_BY_LABEL, MIN_TOKEN_EXPIRY, POD_SECURITY,
    Provisioned, QuotaSpec, WORKSHOP_LABEL, learner_rules,
};
pub use public_api::{ApiReach, PublicApiError, PublicApiServer, SERVICE_HOST_ENV, api_reach};
pub use toolbox::{
    DEFAULT_TOOLBOX_IMAGE, Shell, ShellInput, TOOLBOX_LABEL, TOOLBOX_POD, TOOLBOX_SHELL,
    ToolboxPod, ToolboxSpec,
};
pub use watch::{CHANGES_CAPACITY, Change, WatchHealth, WatchKey, WatchedKind};

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use kube::api::{Api, DeleteParams, ListParams};
use kube::core::{DynamicObject, TypeMeta};

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Field manager for every server-side apply kubelab makes.
pub const FIELD_MANAGER: &str = "kubelab";

/// How long one cluster call (including its discovery) may take before it fails as unavailable.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a probe (`GET /version`) may take: health checks must answer fast.
pub const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// How to reach the cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// A kubeconfig file; `None` means `KUBECONFIG` / `~/.kube/config` / in-cluster config.
    pub kubeconfig: Option<PathBuf>,
    /// A kubeconfig context; `None` means the current context.
    pub context: Option<String>,
    /// The API server as learners reach it (`--public-api-server`), written into learner
    /// kubeconfigs instead of kubelab's own connection; `None`: kubelab's own.
    pub public_api: Option<PublicApiServer>,
}

/// What a probe of the API server found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Probe {
    /// `gitVersion` of the server (`v1.28.7+k3s1`).
    pub server_version: String,
}

/// The identity of one object.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub struct ObjectKey {
    #[serde(rename = "apiVersion")]
    pub api_version: String,
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
    pub action: ApplyAction,
    /// The object as the server returned it.
    pub object: Value,
}

/// A handle on the cluster (cheap to clone). Built even when no cluster is reachable: every call
/// then returns [`ClusterError::Unavailable`] with an explanation.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
    call_timeout: Duration,
    probe_timeout: Duration,
}

struct Inner {
    client: Option<kube::Client>,
    context: Option<String>,
    /// The API server URL, when known (for messages).
    server: Option<String>,
    /// The API server URL and CA, for learner kubeconfigs.
    endpoint: Option<learners::Endpoint>,
    /// `endpoint` comes from `--public-api-server`.
    public_api: bool,
    /// kubelab connects with its Pod's in-cluster config.
    in_cluster: bool,
    unavailable: Option<String>,
    discovery: discovery::Cache,
    /// The last whole-cluster discovery for [`Cluster::api_groups_of`].
    groups: inspect::GroupCache,
    /// The shared watch caches; their tasks end when the last handle is dropped.
    watches: watch::Registry,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("context", &self.inner.context)
            .field("server", &self.inner.server)
            .field("unavailable", &self.inner.unavailable)
            .finish_non_exhaustive()
    }
}

impl Cluster {
    /// Builds a client from the options; never fails — a missing or broken kubeconfig is
    /// remembered and reported by every later call. Makes no network call.
    pub async fn connect(options: &ClusterOptions) -> Cluster {
        let inner = match connect::connect(options).await {
            Ok(connected) => {
                tracing::info!(
                    server = %connected.server,
                    context = connected.context.as_deref().unwrap_or("in-cluster"),
                    "Kubernetes client ready"
                );
                let endpoint = match &options.public_api {
                    Some(public) => public.endpoint(&connected.endpoint),
                    None => connected.endpoint,
                };
                Inner {
                    client: Some(connected.client),
                    context: connected.context,
                    server: Some(connected.server),
                    endpoint: Some(endpoint),
                    public_api: options.public_api.is_some(),
                    in_cluster: connected.in_cluster,
                    unavailable: None,
                    discovery: discovery::Cache::default(),
                    groups: inspect::GroupCache::default(),
                    watches: watch::Registry::default(),
                }
            }
            Err(message) => {
                tracing::warn!(%message, "no Kubernetes cluster configured");
                Inner {
                    client: None,
                    context: None,
                    server: None,
                    endpoint: None,
                    public_api: false,
                    in_cluster: false,
                    unavailable: Some(message),
                    discovery: discovery::Cache::default(),
                    groups: inspect::GroupCache::default(),
                    watches: watch::Registry::default(),
                }
            }
        };
        Cluster::from_inner(inner)
    }

    /// Wraps an existing client (tests).
    pub fn from_client(client: kube::Client) -> Cluster {
        Cluster::from_inner(Inner {
            client: Some(client),
            context: None,
            server: None,
            endpoint: None,
            public_api: false,
            in_cluster: false,
            unavailable: None,
            discovery: discovery::Cache::default(),
            groups: inspect::GroupCache::default(),
            watches: watch::Registry::default(),
        })
    }

    fn from_inner(inner: Inner) -> Cluster {
        Cluster {
            inner: Arc::new(inner),
            call_timeout: CALL_TIMEOUT,
            probe_timeout: PROBE_TIMEOUT,
        }
    }

    /// The same handle with other time limits for each call and for [`Cluster::probe`].
    pub fn with_timeouts(mut self, call: Duration, probe: Duration) -> Cluster {
        self.call_timeout = call;
        self.probe_timeout = probe;
        self
    }

    /// The kubeconfig context in use, when known.
    pub fn context(&self) -> Option<&str> {
        self.inner.context.as_deref()
    }

    /// The API server URL, when known.
    pub fn server(&self) -> Option<&str> {
        self.inner.server.as_deref()
    }

    /// Why no client could be built, if so (no kubeconfig, unknown context...).
    pub fn configuration_problem(&self) -> Option<&str> {
        self.inner.unavailable.as_deref()
    }

    /// Asks the API server for its version (bounded by a short timeout).
    pub async fn probe(&self) -> Result<Probe, ClusterError> {
        let (client, server) = self.client()?;
        let version = bounded(self.probe_timeout, &server, async {
            client
                .apiserver_version()
                .await
                .map_err(|e| error::from_kube(e, &server))
        })
        .await?;
        Ok(Probe {
            server_version: version.git_version,
        })
    }

    /// Server-side applies `object` (field manager [`FIELD_MANAGER`], force), resolving its kind
    /// through discovery. `default_namespace` fills in a missing namespace on namespaced kinds.
    pub async fn apply(
        &self,
        object: &Value,
        default_namespace: &str,
    ) -> Result<Applied, ClusterError> {
        self.apply_as(object, default_namespace, false).await
    }

    /// What applying `object` would make of it (a server-side dry run: nothing is stored), to
    /// tell whether Set up would change an object someone else made.
    pub async fn apply_dry_run(
        &self,
        object: &Value,
        default_namespace: &str,
    ) -> Result<Applied, ClusterError> {
        self.apply_as(object, default_namespace, true).await
    }

    async fn apply_as(
        &self,
        object: &Value,
        default_namespace: &str,
        dry_run: bool,
    ) -> Result<Applied, ClusterError> {
        let target = apply::target(object)?;
        let (client, server) = self.client()?;
        bounded(self.call_timeout, &server, async {
            let resolved = self
                .resolve(client, &server, &target.api_version, &target.kind)
                .await?;
            let namespace = if resolved.namespaced {
                let ns = target.namespace.as_deref().unwrap_or(default_namespace);
                if ns.is_empty() {
                    return Err(ClusterError::InvalidObject(format!(
                        "{} {} needs a namespace",
                        target.kind, target.name
                    )));
                }
                Some(ns.to_owned())
            } else {
                None
            };
            let key = ObjectKey {
                api_version: target.api_version.clone(),
                kind: target.kind.clone(),
                namespace,
                name: target.name.clone(),
            };
            let body = apply::prepared(object, key.namespace.as_deref());
            let (action, object) =
                apply::apply(client, &server, &resolved, &key, &body, dry_run).await?;
            tracing::debug!(%key, ?action, dry_run, "applied");
            Ok(Applied {
                key,
                action,
                object,
            })
        })
        .await
    }

    /// Gets one object; `Ok(None)` when it does not exist.
    pub async fn get(&self, key: &ObjectKey) -> Result<Option<Value>, ClusterError> {
        let (client, server) = self.client()?;
        bounded(self.call_timeout, &server, async {
            let (api, resource) = self.api_for(client, &server, key).await?;
            let found = api
                .get_opt(&key.name)
                .await
                .map_err(|e| error::from_kube(e, &server))?;
            found.map(|o| to_value(o, &resource)).transpose()
        })
        .await
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
        let (client, server) = self.client()?;
        bounded(self.call_timeout, &server, async {
            let resolved = self.resolve(client, &server, api_version, kind).await?;
            let api: Api<DynamicObject> = match namespace {
                Some(ns) if resolved.namespaced => {
                    Api::namespaced_with(client.clone(), ns, &resolved.resource)
                }
                _ => Api::all_with(client.clone(), &resolved.resource),
            };
            let mut params = ListParams::default();
            if let Some(selector) = selector.map(str::trim).filter(|s| !s.is_empty()) {
                params = params.labels(selector);
            }
            let list = api
                .list(&params)
                .await
                .map_err(|e| error::from_kube(e, &server))?;
            list.items
                .into_iter()
                .map(|o| to_value(o, &resolved))
                .collect()
        })
        .await
    }

    /// Deletes one object; `Ok(false)` when it was already gone. Dependents (a Deployment's
    /// ReplicaSets and Pods) are removed by the garbage collector in the background.
    pub async fn delete(&self, key: &ObjectKey) -> Result<bool, ClusterError> {
        let (client, server) = self.client()?;
        bounded(self.call_timeout, &server, async {
            let (api, _) = self.api_for(client, &server, key).await?;
            match api.delete(&key.name, &DeleteParams::background()).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(status)) if status.code == 404 => Ok(false),
                Err(e) => Err(error::from_kube(e, &server)),
            }
        })
        .await
    }

    /// Deletes one object with a short grace period (the learner confirmed replacing it), then
    /// waits up to `wait` for it to be gone; `Ok(false)` when it is still there after that.
    pub async fn delete_and_wait(
        &self,
        key: &ObjectKey,
        grace_seconds: u32,
        wait: Duration,
    ) -> Result<bool, ClusterError> {
        {
            let (client, server) = self.client()?;
            bounded(self.call_timeout, &server, async {
                let (api, _) = self.api_for(client, &server, key).await?;
                let params = DeleteParams {
                    grace_period_seconds: Some(grace_seconds),
                    ..DeleteParams::background()
                };
                match api.delete(&key.name, &params).await {
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
                    Err(e) => Err(error::from_kube(e, &server)),
                }
            })
            .await?;
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if self.get(key).await?.is_none() {
                return Ok(true);
            }
            if tokio::time::Instant::now() >= deadline {
                return Ok(false);
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Whether a kind is namespaced (through discovery).
    pub async fn is_namespaced(&self, api_version: &str, kind: &str) -> Result<bool, ClusterError> {
        let (client, server) = self.client()?;
        bounded(self.call_timeout, &server, async {
            Ok(self
                .resolve(client, &server, api_version, kind)
                .await?
                .namespaced)
        })
        .await
    }

    /// The client and the server's name for messages, or why there is none.
    fn client(&self) -> Result<(&kube::Client, String), ClusterError> {
        match &self.inner.client {
            Some(client) => Ok((client, self.server_label())),
            None => Err(self.unavailable()),
        }
    }

    fn server_label(&self) -> String {
        match &self.inner.server {
            Some(url) => format!("the Kubernetes API server at {url}"),
            None => "the Kubernetes API server".to_owned(),
        }
    }

    async fn resolve(
        &self,
        client: &kube::Client,
        server: &str,
        api_version: &str,
        kind: &str,
    ) -> Result<discovery::Resolved, ClusterError> {
        self.inner
            .discovery
            .resolve(client, server, api_version, kind)
            .await
    }

    /// An `Api` for the key's kind, scoped to its namespace (the kubeconfig's default namespace
    /// when a namespaced key has none).
    async fn api_for(
        &self,
        client: &kube::Client,
        server: &str,
        key: &ObjectKey,
    ) -> Result<(Api<DynamicObject>, discovery::Resolved), ClusterError> {
        if key.name.trim().is_empty() {
            return Err(ClusterError::InvalidObject(format!(
                "{} without a name",
                key.kind
            )));
        }
        let resolved = self
            .resolve(client, server, &key.api_version, &key.kind)
            .await?;
        let api = if resolved.namespaced {
            match key.namespace.as_deref().filter(|ns| !ns.is_empty()) {
                Some(ns) => Api::namespaced_with(client.clone(), ns, &resolved.resource),
                None => Api::default_namespaced_with(client.clone(), &resolved.resource),
            }
        } else {
            Api::all_with(client.clone(), &resolved.resource)
        };
        Ok((api, resolved))
    }

    fn unavailable(&self) -> ClusterError {
        ClusterError::Unavailable {
            message: self
                .inner
                .unavailable
                .clone()
                .unwrap_or_else(|| "no Kubernetes client is configured".to_owned()),
        }
    }
}

/// Runs a cluster call, failing as unavailable when it takes longer than `limit`.
async fn bounded<T>(
    limit: Duration,
    server: &str,
    call: impl Future<Output = Result<T, ClusterError>>,
) -> Result<T, ClusterError> {
    match tokio::time::timeout(limit, call).await {
        Ok(result) => result,
        Err(_) => Err(error::timed_out(server, limit)),
    }
}

/// An object as JSON with `apiVersion` and `kind` (list items come without them).
fn to_value(
    mut object: DynamicObject,
    resolved: &discovery::Resolved,
) -> Result<Value, ClusterError> {
    object.types = Some(TypeMeta {
        api_version: resolved.resource.api_version.clone(),
        kind: resolved.resource.kind.clone(),
    });
    serde_json::to_value(object).map_err(|e| ClusterError::Unavailable {
        message: format!("an object from the API server could not be read: {e}"),
    })
}

#[cfg(test)]
mod tests;
