//! Live verdicts: a lab's steps re-evaluated from shared watch caches whenever the objects they
//! look at change, pushed to every page that has the lab open. One follower task per open lab
//! (not per page), one watch per kind and namespace (not per learner or page).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast;
use tokio::sync::broadcast::error::RecvError;

use crate::cluster::{ClusterError, WatchHealth, WatchKey, WatchedKind};
use crate::labs::Lab;

use super::{Engine, EngineError, Inner, Learner, StepContext, StepReport, overall, summary};

/// Something a page with the lab open should show now.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum LiveEvent {
    /// A step's verdicts changed (the same report the Check button gives).
    Step(StepReport),
    /// The lab's objects as the cluster has them now (a small live `kubectl get`).
    Objects {
        /// Lab id.
        lab: String,
        /// One line per object.
        objects: Vec<ObjectSummary>,
    },
    /// The connection to the cluster changed.
    Cluster {
        /// Watching, reconnecting or unavailable.
        state: WatchState,
        /// Why, when not live.
        #[serde(skip_serializing_if = "Option::is_none")]
        message: Option<String>,
    },
}

/// One object of the live panel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ObjectSummary {
    /// `Pod`.
    pub kind: String,
    /// Namespace, for namespaced kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// Key status, like kubectl's columns (`Running 1/1`, `3/3 ready`, `Active`).
    pub status: String,
    /// `metadata.creationTimestamp`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
}

/// The state of the watches behind the live stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WatchState {
    /// Watching: changes arrive within a second.
    Live,
    /// A watch failed; reconnecting with backoff.
    Reconnecting,
    /// No cluster.
    Unavailable,
}

/// A page's subscription to a lab: the current state, then changes.
pub struct LiveSubscription {
    /// Events describing the state now (cluster state, objects, each step checked so far).
    pub initial: Vec<LiveEvent>,
    /// Later changes. On `Lagged`, subscribe again to resynchronize.
    pub receiver: broadcast::Receiver<LiveEvent>,
}

/// The open labs and the watch caches they share.
#[derive(Default)]
pub(super) struct LiveHub {
    labs: Mutex<HashMap<String, Arc<LabLive>>>,
    caches: Mutex<HashMap<WatchKey, WatchedKind>>,
}

/// One open lab: its broadcast channel, what was last sent, and its follower task.
struct LabLive {
    tx: broadcast::Sender<LiveEvent>,
    last: Mutex<LastSent>,
    task: Mutex<Option<tokio::task::AbortHandle>>,
}

#[derive(Default)]
struct LastSent {
    cluster: Option<LiveEvent>,
    objects: Option<Vec<ObjectSummary>>,
    steps: BTreeMap<String, StepReport>,
}

impl Drop for LabLive {
    fn drop(&mut self) {
        if let Some(task) = self.task.lock().ok().and_then(|mut t| t.take()) {
            task.abort();
        }
    }
}

impl Drop for LiveHub {
    fn drop(&mut self) {
        if let Ok(labs) = self.labs.get_mut() {
            labs.clear();
        }
    }
}

/// The watches a lab needs, and which steps depend on each.
struct LabWatches {
    keys: BTreeSet<WatchKey>,
    steps_by_key: BTreeMap<WatchKey, BTreeSet<String>>,
}

/// How long a lab nobody looks at keeps its follower.
const IDLE: Duration = Duration::from_secs(30);
/// How soon a step whose evaluation failed (cluster or database hiccup) is tried again.
const RETRY: Duration = Duration::from_secs(1);
/// Changes arriving within this window are evaluated together.
const DEBOUNCE: Duration = Duration::from_millis(50);

impl Engine {
    /// Subscribes to a lab's live events, starting its follower and shared watches if needed.
    pub async fn subscribe(&self, lab_id: &str) -> Result<LiveSubscription, EngineError> {
        let lab = self.lab(lab_id)?;
        let live = {
            let mut labs = self
                .inner
                .live
                .labs
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            labs.entry(engine_key(&self.learner, &lab.id))
                .or_insert_with(|| {
                    let (tx, _) = broadcast::channel(256);
                    Arc::new(LabLive {
                        tx,
                        last: Mutex::new(LastSent::default()),
                        task: Mutex::new(None),
                    })
                })
                .clone()
        };
        let receiver = live.tx.subscribe();
        {
            let mut task = live.task.lock().unwrap_or_else(|e| e.into_inner());
            if task.is_none() {
                let handle = tokio::spawn(follow(
                    Arc::downgrade(&self.inner),
                    self.learner.clone(),
                    lab.id.clone(),
                    live.clone(),
                ));
                *task = Some(handle.abort_handle());
            }
        }
        let last = live.last.lock().unwrap_or_else(|e| e.into_inner());
        let mut initial = Vec::new();
        initial.push(last.cluster.clone().unwrap_or_else(|| self.cluster_event()));
        initial.push(LiveEvent::Objects {
            lab: lab.id.clone(),
            objects: last.objects.clone().unwrap_or_default(),
        });
        initial.extend(last.steps.values().cloned().map(LiveEvent::Step));
        Ok(LiveSubscription { initial, receiver })
    }

    /// Stops following every lab of a learner (their workshop ended): open streams close.
    pub(super) fn forget_learner(&self, learner_id: &str) {
        let prefix = format!("{learner_id}\n");
        if let Ok(mut labs) = self.inner.live.labs.lock() {
            labs.retain(|key, live| {
                let keep = !key.starts_with(&prefix);
                if !keep && let Some(task) = live.task.lock().ok().and_then(|mut t| t.take()) {
                    // The follower holds the channel: ending it closes the pages' streams.
                    task.abort();
                }
                keep
            });
        }
    }

    /// How many pages follow a lab now (0 when it is not open).
    pub fn live_pages(&self, lab_id: &str) -> usize {
        self.open_lab_live(lab_id)
            .map_or(0, |live| live.tx.receiver_count())
    }

    /// This learner's follower of a lab, when the lab is open.
    fn open_lab_live(&self, lab_id: &str) -> Option<Arc<LabLive>> {
        self.inner
            .live
            .labs
            .lock()
            .ok()
            .and_then(|labs| labs.get(&engine_key(&self.learner, lab_id)).cloned())
    }

    fn cluster_event(&self) -> LiveEvent {
        if let Some(problem) = self.inner.cluster.configuration_problem() {
            return LiveEvent::Cluster {
                state: WatchState::Unavailable,
                message: Some(problem.to_owned()),
            };
        }
        let (health, message) = self.inner.cluster.watch_state();
        LiveEvent::Cluster {
            state: match health {
                WatchHealth::Live => WatchState::Live,
                WatchHealth::Reconnecting => WatchState::Reconnecting,
            },
            message,
        }
    }

    /// The shared cache for `key`, when one is running and has listed (checks then read it
    /// instead of asking the API server).
    pub(super) fn cached(&self, key: &WatchKey) -> Option<WatchedKind> {
        self.inner
            .live
            .caches
            .lock()
            .ok()
            .and_then(|c| c.get(key).cloned())
            .filter(WatchedKind::is_ready)
    }

    /// The watch a key is served by, and the namespace to keep from it: a workshop learner's
    /// namespaced kinds come from one all-namespaces watch shared by every learner, so the
    /// number of watches does not grow with the number of learners.
    pub(super) fn scoped_key(&self, key: WatchKey) -> (WatchKey, Option<String>) {
        match (&self.learner.namespace, key.namespace) {
            (Some(_), Some(ns)) => (
                WatchKey {
                    namespace: None,
                    ..key
                },
                Some(ns),
            ),
            (_, namespace) => (WatchKey { namespace, ..key }, None),
        }
    }

    /// Where a kind lives for a lab: the namespace for namespaced kinds, `None` otherwise.
    pub(super) async fn watch_key(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        lab_namespace: &str,
    ) -> Result<WatchKey, ClusterError> {
        let namespaced = self.inner.cluster.is_namespaced(api_version, kind).await?;
        Ok(WatchKey {
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            namespace: namespaced.then(|| namespace.unwrap_or(lab_namespace).to_owned()),
        })
    }

    /// Like [`Engine::watch_key`], but `None` for a kind the cluster does not serve (its checks
    /// then ask the API server, and say the kind is missing).
    async fn served_watch_key(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        lab_namespace: &str,
    ) -> Result<Option<WatchKey>, ClusterError> {
        // A workshop learner's checks read only their own namespace (see `fetch`).
        if self.learner.namespace.is_some() && namespace.is_some_and(|ns| ns != lab_namespace) {
            return Ok(None);
        }
        let lab_namespace = self.learner.namespace.as_deref().unwrap_or(lab_namespace);
        let namespace = namespace.filter(|_| self.learner.namespace.is_none());
        match self
            .watch_key(api_version, kind, namespace, lab_namespace)
            .await
        {
            Ok(key) => Ok(Some(self.scoped_key(key).0)),
            Err(ClusterError::UnknownKind { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn lab_watches(&self, lab: &Lab) -> Result<LabWatches, ClusterError> {
        let mut watches = LabWatches {
            keys: BTreeSet::new(),
            steps_by_key: BTreeMap::new(),
        };
        for step in &lab.steps {
            let mut keys = Vec::new();
            for check in &step.checks {
                if let Some(find) = &check.find {
                    keys.extend(
                        self.served_watch_key(
                            &find.api_version,
                            &find.kind,
                            find.namespace.as_deref(),
                            &lab.namespace,
                        )
                        .await?,
                    );
                    if check.events.is_some() {
                        keys.extend(
                            self.served_watch_key(
                                "v1",
                                "Event",
                                find.namespace.as_deref(),
                                &lab.namespace,
                            )
                            .await?,
                        );
                    }
                }
            }
            for manifest in &step.manifests {
                watches.keys.extend(
                    self.served_watch_key(
                        &manifest.api_version,
                        &manifest.kind,
                        manifest.namespace.as_deref(),
                        &lab.namespace,
                    )
                    .await?,
                );
            }
            for key in keys {
                watches.keys.insert(key.clone());
                watches
                    .steps_by_key
                    .entry(key)
                    .or_default()
                    .insert(step.id.clone());
            }
        }
        Ok(watches)
    }

    async fn start_watches(&self, watches: &LabWatches) -> Result<(), ClusterError> {
        for key in &watches.keys {
            let watched = self
                .inner
                .cluster
                .watch(&key.api_version, &key.kind, key.namespace.as_deref())
                .await?;
            self.inner
                .live
                .caches
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .insert(key.clone(), watched);
        }
        let caches: Vec<WatchedKind> = self
            .inner
            .live
            .caches
            .lock()
            .map(|c| {
                watches
                    .keys
                    .iter()
                    .filter_map(|k| c.get(k).cloned())
                    .collect()
            })
            .unwrap_or_default();
        // Watches that cannot list yet (cluster slow or gone) must not hold the others up: the
        // follower evaluates what it can and catches up on the change stream.
        let _ = tokio::time::timeout(
            Duration::from_secs(10),
            futures::future::join_all(caches.iter().map(WatchedKind::wait_ready)),
        )
        .await;
        Ok(())
    }

    /// Re-evaluates `steps` of a lab and sends what changed; returns the steps that could not
    /// be evaluated now (to retry shortly).
    async fn refresh(
        &self,
        lab: &Lab,
        live: &LabLive,
        steps: &BTreeSet<String>,
    ) -> BTreeSet<String> {
        let mut retry = BTreeSet::new();
        let store = &self.inner.store;
        let learner = &self.learner.id;
        // Read once: evaluating a step changes neither the starts nor earlier passes.
        let mut starts = store
            .step_starts(learner, &lab.id)
            .await
            .unwrap_or_default();
        let progress = store
            .lab_progress(learner, &lab.id)
            .await
            .unwrap_or_default();
        for step in lab.steps.iter().filter(|s| steps.contains(&s.id)) {
            let context = StepContext {
                answers: store
                    .answers(learner, &lab.id, &step.id)
                    .await
                    .unwrap_or_default(),
                started: starts.remove(&step.id),
            };
            let checks = match self.evaluate_step(lab, step, &context).await {
                Ok(checks) => checks,
                Err(e) => {
                    tracing::debug!(lab = %lab.id, step = %step.id, error = %e, "live evaluation failed; retrying");
                    retry.insert(step.id.clone());
                    continue;
                }
            };
            let status = overall(&checks);
            let previous = live
                .last
                .lock()
                .ok()
                .and_then(|l| l.steps.get(&step.id).cloned());
            let unchanged = previous.as_ref().is_some_and(|p| {
                p.status == status
                    && serde_json::to_value(&p.checks).ok() == serde_json::to_value(&checks).ok()
            });
            if unchanged {
                continue;
            }
            let now = super::now();
            let passed = status == super::StepStatus::Passed;
            let status_changed = previous.as_ref().is_none_or(|p| p.status != status);
            // Only a pass is the learner's progress; a step nobody has tried yet is not "failed"
            // because the watch looked at it.
            if passed
                && status_changed
                && let Err(e) = store
                    .record_check(learner, &lab.id, &step.id, status.as_str(), passed, &now)
                    .await
            {
                tracing::error!(lab = %lab.id, step = %step.id, error = %e, "recording a live pass failed");
            }
            if passed && status_changed {
                let _ = self.start_current_step(lab).await;
            }
            let done = passed
                || progress
                    .get(&step.id)
                    .is_some_and(|r| r.passed_at.is_some());
            let report = StepReport {
                lab: lab.id.clone(),
                step: step.id.clone(),
                status,
                done,
                checks,
                checked_at: now,
            };
            if let Ok(mut last) = live.last.lock() {
                last.steps.insert(step.id.clone(), report.clone());
            }
            let _ = live.tx.send(LiveEvent::Step(report));
        }
        self.send_objects(lab, live);
        retry
    }

    /// After a reset: forgets what the open pages were last told about the lab and evaluates
    /// every step again, so passes are recorded afresh and pages show the reset state.
    pub(super) async fn forget_live(&self, lab: &Lab) {
        let live = self.open_lab_live(&lab.id);
        if let Some(live) = live {
            if let Ok(mut last) = live.last.lock() {
                last.steps.clear();
            }
            let all: BTreeSet<String> = lab.steps.iter().map(|s| s.id.clone()).collect();
            self.refresh(lab, &live, &all).await;
        }
    }

    /// Shares a verdict the Check button produced with the pages that have the lab open, so
    /// they (and pages opened later) show the same as the learner who pressed it.
    pub(super) fn publish(&self, report: &StepReport) {
        let live = self.open_lab_live(&report.lab);
        if let Some(live) = live {
            if let Ok(mut last) = live.last.lock() {
                last.steps.insert(report.step.clone(), report.clone());
            }
            let _ = live.tx.send(LiveEvent::Step(report.clone()));
        }
    }

    fn send_objects(&self, lab: &Lab, live: &LabLive) {
        let objects = self.lab_objects(lab);
        let mut last = live.last.lock().unwrap_or_else(|e| e.into_inner());
        if last.objects.as_ref() != Some(&objects) {
            last.objects = Some(objects.clone());
            let _ = live.tx.send(LiveEvent::Objects {
                lab: lab.id.clone(),
                objects,
            });
        }
    }

    /// The objects a lab sets up or its checks name, as the caches hold them now.
    fn lab_objects(&self, lab: &Lab) -> Vec<ObjectSummary> {
        let within = self.learner.namespace.as_deref();
        let caches: Vec<WatchedKind> = self
            .inner
            .live
            .caches
            .lock()
            .map(|c| c.values().cloned().collect())
            .unwrap_or_default();
        let mut seen: BTreeMap<(String, Option<String>, String), ObjectSummary> = BTreeMap::new();
        let mut add = |objects: Vec<Value>| {
            for object in objects {
                let kind = object["kind"].as_str().unwrap_or_default().to_owned();
                let namespace = object
                    .pointer("/metadata/namespace")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                let name = object
                    .pointer("/metadata/name")
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_owned();
                let created = object
                    .pointer("/metadata/creationTimestamp")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                let status = summary::status_line(&object);
                seen.insert(
                    (kind.clone(), namespace.clone(), name.clone()),
                    ObjectSummary {
                        kind,
                        namespace,
                        name,
                        status,
                        created,
                    },
                );
            }
        };
        let find_cache = |api_version: &str, kind: &str| -> Vec<WatchedKind> {
            caches
                .iter()
                .filter(|c| c.key().api_version == api_version && c.key().kind == kind)
                .cloned()
                .collect()
        };
        for step in &lab.steps {
            for m in &step.manifests {
                for cache in find_cache(&m.api_version, &m.kind) {
                    add(cache.snapshot_in(within, Some(&m.name), None));
                }
            }
            for find in step.checks.iter().filter_map(|c| c.find.as_ref()) {
                if find.name.is_none() && find.selector.is_none() {
                    continue;
                }
                for cache in find_cache(&find.api_version, &find.kind) {
                    add(cache.snapshot_in(within, find.name.as_deref(), find.selector.as_deref()));
                }
            }
        }
        seen.into_values().collect()
    }
}

/// The follower of one open lab: sets up its watches, evaluates every step once, then
/// re-evaluates the steps whose watched objects change, until nobody has looked for a while.
async fn follow(inner: Weak<Inner>, learner: Arc<Learner>, lab_id: String, live: Arc<LabLive>) {
    let Some((engine, lab, watches)) = setup(&inner, &learner, &lab_id, &live).await else {
        return;
    };
    let mut changes = engine.inner.cluster.changes();
    let mut states = engine.inner.cluster.watch_state_changes();
    let all_steps: BTreeSet<String> = lab.steps.iter().map(|s| s.id.clone()).collect();
    let mut retry = engine.refresh(&lab, &live, &all_steps).await;
    drop(engine);
    let mut idle_since: Option<tokio::time::Instant> = None;
    loop {
        let mut dirty: BTreeSet<String> = BTreeSet::new();
        let pause = if retry.is_empty() { IDLE / 3 } else { RETRY };
        tokio::select! {
            change = changes.recv() => match change {
                Ok(change) => dirty.extend(steps_for(&watches, &learner, &change)),
                Err(RecvError::Lagged(_)) => dirty.extend(all_steps.iter().cloned()),
                Err(RecvError::Closed) => return,
            },
            state = states.recv() => match state {
                Ok((health, message)) => {
                    let event = LiveEvent::Cluster {
                        state: match health {
                            WatchHealth::Live => WatchState::Live,
                            WatchHealth::Reconnecting => WatchState::Reconnecting,
                        },
                        message,
                    };
                    if let Ok(mut last) = live.last.lock() {
                        last.cluster = Some(event.clone());
                    }
                    let _ = live.tx.send(event);
                    if health == WatchHealth::Live {
                        dirty.extend(all_steps.iter().cloned());
                    }
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
            _ = tokio::time::sleep(pause) => dirty.append(&mut retry),
        }
        if live.tx.receiver_count() == 0 {
            let since = *idle_since.get_or_insert_with(tokio::time::Instant::now);
            if since.elapsed() >= IDLE {
                let Some(inner) = inner.upgrade() else { return };
                if let Ok(mut labs) = inner.live.labs.lock()
                    && live.tx.receiver_count() == 0
                {
                    labs.remove(&engine_key(&learner, &lab_id));
                    return;
                }
            }
        } else {
            idle_since = None;
        }
        if dirty.is_empty() {
            continue;
        }
        tokio::time::sleep(DEBOUNCE).await;
        loop {
            match changes.try_recv() {
                Ok(change) => dirty.extend(steps_for(&watches, &learner, &change)),
                Err(broadcast::error::TryRecvError::Lagged(_)) => {
                    dirty.extend(all_steps.iter().cloned())
                }
                Err(_) => break,
            }
        }
        let Some(inner) = inner.upgrade() else { return };
        let engine = Engine {
            inner,
            learner: learner.clone(),
        };
        dirty.append(&mut retry);
        retry = engine.refresh(&lab, &live, &dirty).await;
    }
}

/// Starts the lab's watches, retrying while the cluster is unreachable.
async fn setup(
    inner: &Weak<Inner>,
    learner: &Arc<Learner>,
    lab_id: &str,
    live: &LabLive,
) -> Option<(Engine, Lab, LabWatches)> {
    let mut idle_since: Option<tokio::time::Instant> = None;
    loop {
        if live.tx.receiver_count() == 0 {
            let since = *idle_since.get_or_insert_with(tokio::time::Instant::now);
            if since.elapsed() >= IDLE {
                if let Some(inner) = inner.upgrade()
                    && let Ok(mut labs) = inner.live.labs.lock()
                    && live.tx.receiver_count() == 0
                {
                    labs.remove(&engine_key(learner, lab_id));
                }
                return None;
            }
        } else {
            idle_since = None;
        }
        let engine = Engine {
            inner: inner.upgrade()?,
            learner: learner.clone(),
        };
        let lab = engine.lab(lab_id).ok()?.clone();
        let result = match engine.lab_watches(&lab).await {
            Ok(watches) => engine.start_watches(&watches).await.map(|_| watches),
            Err(e) => Err(e),
        };
        match result {
            Ok(watches) => {
                let event = engine.cluster_event();
                if let Ok(mut last) = live.last.lock() {
                    last.cluster = Some(event.clone());
                }
                let _ = live.tx.send(event);
                return Some((engine, lab, watches));
            }
            Err(e) => {
                let event = LiveEvent::Cluster {
                    state: WatchState::Unavailable,
                    message: Some(e.to_string()),
                };
                if let Ok(mut last) = live.last.lock() {
                    last.cluster = Some(event.clone());
                }
                let _ = live.tx.send(event);
            }
        }
        drop(engine);
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

/// Open labs are followed per learner: a learner sees their own namespace's verdicts.
fn engine_key(learner: &Learner, lab_id: &str) -> String {
    format!("{}\n{lab_id}", learner.id)
}

fn steps_for(
    watches: &LabWatches,
    learner: &Learner,
    change: &crate::cluster::Change,
) -> Vec<String> {
    if let (Some(mine), Some(theirs)) = (&learner.namespace, &change.namespace)
        && mine != theirs
    {
        return Vec::new();
    }
    watches
        .steps_by_key
        .iter()
        .filter(|(key, _)| change.concerns(key))
        .flat_map(|(_, steps)| steps.iter().cloned())
        .chain(
            // Objects of the live panel that no check looks at still refresh the panel.
            watches
                .keys
                .iter()
                .any(|k| change.concerns(k))
                .then(String::new),
        )
        .collect()
}
