//! Shared watch caches: one kube-runtime `watcher` per (kind, namespace) however many learners
//! and pages look at it, feeding a reflector store (managedFields dropped) that check
//! evaluations read instead of the API server. Every change is announced on a broadcast channel;
//! an interrupted watch resumes from its last resourceVersion, a 410 Gone re-lists (announcing
//! what disappeared meanwhile), and the aggregated health says "reconnecting" while one fails.

mod answered;
mod follow;
mod health;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use kube::api::Api;
use kube::core::DynamicObject;
use kube::runtime::reflector::store::Writer;
use kube::runtime::reflector::{ObjectRef, Store};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast;
use tokio::task::AbortHandle;

use super::discovery::Resolved;
use super::labels::Selector;
use super::{Cluster, ClusterError, ObjectKey, bounded, to_value};
use follow::Follow;
use health::HealthBoard;

/// How many changes a slow [`Cluster::changes`] receiver may fall behind before it is told it
/// lagged (and should then re-read everything it cares about).
pub const CHANGES_CAPACITY: usize = 4096;

/// What one watch covers: a kind in one namespace, or everywhere (`namespace: None`; always
/// `None` for cluster-scoped kinds).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct WatchKey {
    /// `apiVersion` (`apps/v1`).
    pub api_version: String,
    /// `kind` (`Deployment`).
    pub kind: String,
    /// The namespace watched; `None` for all namespaces or a cluster-scoped kind.
    pub namespace: Option<String>,
}

impl std::fmt::Display for WatchKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {} in {ns}", self.api_version, self.kind),
            None => write!(f, "{} {}", self.api_version, self.kind),
        }
    }
}

/// One object of a watched kind was added, changed or deleted: seen on the watch, or found by a
/// (re-)list to be new, at another resourceVersion, or gone (deleted while the watch was down).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Change {
    /// `apiVersion` of the watch that saw it.
    pub api_version: String,
    pub kind: String,
    /// `metadata.namespace` (None for cluster-scoped kinds).
    pub namespace: Option<String>,
    /// `metadata.name`.
    pub name: String,
}

impl Change {
    /// The changed object's identity.
    pub fn object_key(&self) -> ObjectKey {
        ObjectKey {
            api_version: self.api_version.clone(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }

    /// Whether the change concerns what `key` watches.
    pub fn concerns(&self, key: &WatchKey) -> bool {
        self.api_version == key.api_version
            && self.kind == key.kind
            && (key.namespace.is_none() || key.namespace == self.namespace)
    }
}

/// Whether the watch caches are following the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchHealth {
    /// Every watch is connected (or has not failed yet).
    Live,
    /// At least one watch failed and is retrying (resuming, or re-listing after a 410 Gone);
    /// caches may be stale.
    Reconnecting,
}

/// The shared cache of one watched kind (cheap to clone).
#[derive(Clone)]
pub struct WatchedKind {
    key: WatchKey,
    resolved: Resolved,
    store: Store<DynamicObject>,
    ready: tokio::sync::watch::Receiver<bool>,
}

impl std::fmt::Debug for WatchedKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchedKind")
            .field("key", &self.key)
            .field("ready", &self.is_ready())
            .finish_non_exhaustive()
    }
}

impl WatchedKind {
    /// What this cache watches.
    pub fn key(&self) -> &WatchKey {
        &self.key
    }

    /// Whether the initial list is done (until then snapshots are empty, not authoritative).
    pub fn is_ready(&self) -> bool {
        *self.ready.borrow()
    }

    /// Waits until the initial list is done. Never returns while the cluster stays unreachable:
    /// bound it with a timeout. Fails only when the cluster handle was dropped.
    pub async fn wait_ready(&self) -> Result<(), ClusterError> {
        let mut ready = self.ready.clone();
        ready
            .wait_for(|r| *r)
            .await
            .map(|_| ())
            .map_err(|_| ClusterError::Unavailable {
                message: format!("the watch of {} has stopped", self.key),
            })
    }

    /// The cached objects (with `apiVersion` and `kind`, without `metadata.managedFields`, which
    /// the cache does not keep), sorted by namespace and name: the one
    /// named `name`, and/or those matching the label `selector` (parsed once, when the labs
    /// load, with the grammar validation uses).
    pub fn snapshot(&self, name: Option<&str>, selector: Option<&Selector>) -> Vec<Value> {
        self.snapshot_in(None, name, selector)
    }

    /// Like [`WatchedKind::snapshot`], keeping only objects in `namespace` (for a watch over all
    /// namespaces shared by many learners).
    pub fn snapshot_in(
        &self,
        namespace: Option<&str>,
        name: Option<&str>,
        selector: Option<&Selector>,
    ) -> Vec<Value> {
        let selector = selector.filter(|s| !s.requirements().is_empty());
        // A name on a namespaced or cluster-scoped watch is one lookup in the store's index,
        // not a scan: checks by name stay cheap however many objects the cache holds.
        if let Some(name) = name
            && selector.is_none()
        {
            let within = namespace.or(self.key.namespace.as_deref());
            if within.is_some() || !self.resolved.namespaced {
                let mut reference =
                    ObjectRef::<DynamicObject>::new_with(name, self.resolved.resource.clone());
                if let Some(ns) = within {
                    reference = reference.within(ns);
                }
                return self
                    .store
                    .get(&reference)
                    .and_then(|o| to_value(DynamicObject::clone(&o), &self.resolved).ok())
                    .into_iter()
                    .collect();
            }
        }
        let mut objects: Vec<Value> = self
            .store
            .state()
            .into_iter()
            .filter(|o| name.is_none_or(|n| o.metadata.name.as_deref() == Some(n)))
            .filter(|o| namespace.is_none_or(|ns| o.metadata.namespace.as_deref() == Some(ns)))
            .filter_map(|o| to_value(DynamicObject::clone(&o), &self.resolved).ok())
            .filter(|o| selector.is_none_or(|s| s.matches_object(o)))
            .collect();
        objects.sort_by(|a, b| sort_key(a).cmp(&sort_key(b)));
        objects
    }
}

fn sort_key(object: &Value) -> (&str, &str) {
    let text = |p: &str| {
        object
            .pointer(p)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    (text("/metadata/namespace"), text("/metadata/name"))
}

/// The watches of one cluster handle, their shared channels, and the tasks to end with it.
pub(crate) struct Registry {
    entries: Mutex<HashMap<WatchKey, (WatchedKind, AbortHandle)>>,
    changes: broadcast::Sender<Change>,
    board: Arc<HealthBoard>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            entries: Mutex::new(HashMap::new()),
            changes: broadcast::channel(CHANGES_CAPACITY).0,
            board: Arc::new(HealthBoard::default()),
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let entries = self.entries.get_mut().unwrap_or_else(|e| e.into_inner());
        for (_, (_, task)) in entries.drain() {
            task.abort();
        }
    }
}

impl Cluster {
    /// The shared watch cache of `kind` in `namespace` (`None`: all namespaces; ignored for
    /// cluster-scoped kinds), starting its watch on first use; later calls for the same key
    /// return the same cache. The kind is resolved through discovery.
    pub async fn watch(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
    ) -> Result<WatchedKind, ClusterError> {
        let (client, server) = self.client()?;
        let resolved = bounded(
            self.call_timeout,
            &server,
            self.resolve(client, &server, api_version, kind),
        )
        .await?;
        let namespace = namespace
            .filter(|ns| resolved.namespaced && !ns.is_empty())
            .map(str::to_owned);
        let key = WatchKey {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            namespace,
        };
        let registry = &self.inner.watches;
        let mut entries = registry.entries.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((watched, _)) = entries.get(&key) {
            return Ok(watched.clone());
        }
        let (answered_tx, answered) = tokio::sync::watch::channel(0);
        let client = answered::counting_watches(client.clone(), answered_tx);
        let api: Api<DynamicObject> = match &key.namespace {
            Some(ns) => Api::namespaced_with(client, ns, &resolved.resource),
            None => Api::all_with(client, &resolved.resource),
        };
        let writer = Writer::new(resolved.resource.clone());
        let (ready_tx, ready_rx) = tokio::sync::watch::channel(false);
        let watched = WatchedKind {
            key: key.clone(),
            resolved: resolved.clone(),
            store: writer.as_reader(),
            ready: ready_rx,
        };
        let follow = Follow {
            key: key.clone(),
            store: writer.as_reader(),
            ready: ready_tx,
            changes: registry.changes.clone(),
            board: registry.board.clone(),
            server,
        };
        let task = tokio::spawn(follow::run(follow, api, writer, answered));
        tracing::debug!(%key, "watch started");
        entries.insert(key, (watched.clone(), task.abort_handle()));
        Ok(watched)
    }

    /// Every change seen by any watch of this handle, from now on.
    pub fn changes(&self) -> broadcast::Receiver<Change> {
        self.inner.watches.changes.subscribe()
    }

    /// Whether the watches follow the cluster, and why not when they do not (`None` when
    /// live).
    pub fn watch_state(&self) -> (WatchHealth, Option<String>) {
        self.inner.watches.board.current()
    }

    /// Every later transition of [`Cluster::watch_state`], in order.
    pub fn watch_state_changes(&self) -> broadcast::Receiver<(WatchHealth, Option<String>)> {
        self.inner.watches.board.subscribe()
    }

    /// The keys being watched, sorted.
    pub fn watched(&self) -> Vec<WatchKey> {
        let entries = self
            .inner
            .watches
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let mut keys: Vec<WatchKey> = entries.keys().cloned().collect();
        keys.sort();
        keys
    }
}
