//! Live verdicts: a learner's started steps re-evaluated from shared watch caches whenever the
//! objects they look at change — and, for checks no watch can see (commands in containers, what
//! the cluster serves, its version), on a backing-off timer while the step is in progress — then
//! pushed to every page that has the lab open. One follower task per learner and open lab (not
//! per page), one watch per kind and namespace (not per learner or page).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{Notify, broadcast};
use tokio::time::Instant;

use super::evaluate::ExecPolicy;
use super::lifecycle::Trigger;
use super::{Engine, EngineError, Inner, Learner, StepContext, StepReport, StepState, summary};
use crate::checks::Verdict;
use crate::cluster::{Change, ClusterError, WatchHealth, WatchKey, WatchedKind};
use crate::labs::{Lab, Step};
use crate::store::StepRecord;

/// Something a page with the lab open should show now.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum LiveEvent {
    /// A step's verdicts or state changed (the same report the Check button gives).
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
    /// The lab was reset (by the learner on another page, or by an instructor): every step is
    /// back to the start.
    Reset {
        /// Lab id.
        lab: String,
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

/// The state of the watches behind the live stream, as a page shows it.
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

impl From<WatchHealth> for WatchState {
    fn from(health: WatchHealth) -> Self {
        match health {
            WatchHealth::Live => WatchState::Live,
            WatchHealth::Reconnecting => WatchState::Reconnecting,
        }
    }
}

/// A page's subscription to a lab: the current state, then changes.
pub struct LiveSubscription {
    /// Events describing the state now (cluster state, objects, each started step).
    pub initial: Vec<LiveEvent>,
    /// Later changes. On `Lagged`, subscribe again to resynchronize.
    pub receiver: broadcast::Receiver<LiveEvent>,
}

/// Which learner follows which lab.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct FollowKey {
    learner: String,
    lab: String,
}

/// The open labs and the watch caches they share.
#[derive(Default)]
pub(super) struct LiveHub {
    labs: Mutex<HashMap<FollowKey, Arc<LabLive>>>,
    caches: Mutex<HashMap<WatchKey, WatchedKind>>,
}

/// One open lab of one learner: its broadcast channel, what was last sent, the steps the
/// engine asked it to look at, and its follower task.
struct LabLive {
    tx: broadcast::Sender<LiveEvent>,
    last: Mutex<LastSent>,
    /// Steps started (or reset) since the follower last looked; `all` asks for every step.
    nudged: Mutex<Nudge>,
    wake: Notify,
    task: Mutex<Option<tokio::task::AbortHandle>>,
}

#[derive(Default)]
struct LastSent {
    /// How many Resets the open pages were told of: a verdict reached before the latest one
    /// is stale and never sent.
    resets: u64,
    cluster: Option<LiveEvent>,
    objects: Option<Vec<ObjectSummary>>,
    steps: BTreeMap<String, StepReport>,
}

#[derive(Default)]
struct Nudge {
    steps: BTreeSet<String>,
    all: bool,
}

/// Poisoned locks are recovered everywhere: the data behind them is plain state a panicking
/// holder cannot leave half-written in a way that matters more than stopping the feed would.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl LabLive {
    fn new() -> LabLive {
        let (tx, _) = broadcast::channel(256);
        LabLive {
            tx,
            last: Mutex::new(LastSent::default()),
            nudged: Mutex::new(Nudge::default()),
            wake: Notify::new(),
            task: Mutex::new(None),
        }
    }

    fn send_cluster(&self, event: LiveEvent) {
        lock(&self.last).cluster = Some(event.clone());
        let _ = self.tx.send(event);
    }

    fn nudge(&self, step: Option<&str>) {
        {
            let mut nudged = lock(&self.nudged);
            match step {
                Some(step) => {
                    nudged.steps.insert(step.to_owned());
                }
                None => nudged.all = true,
            }
        }
        self.wake.notify_one();
    }

    fn take_nudged(&self) -> Nudge {
        std::mem::take(&mut *lock(&self.nudged))
    }
}

impl Drop for LabLive {
    fn drop(&mut self) {
        if let Some(task) = lock(&self.task).take() {
            task.abort();
        }
    }
}

impl Drop for LiveHub {
    fn drop(&mut self) {
        lock(&self.labs).clear();
    }
}

/// The watches a lab needs, and which steps depend on each.
struct LabWatches {
    keys: BTreeSet<WatchKey>,
    steps_by_key: BTreeMap<WatchKey, BTreeSet<String>>,
}

/// What a change means for a follower.
#[derive(Default)]
struct Dirty {
    steps: BTreeSet<String>,
    /// Steps a watched change concerns (their timed re-checks start over from the shortest
    /// pause).
    watched: BTreeSet<String>,
    /// The live objects panel shows something that changed.
    panel: bool,
}

/// How long a lab nobody looks at keeps its follower.
const IDLE: Duration = Duration::from_secs(30);
/// How soon a step whose evaluation failed (cluster or database hiccup) is tried again.
const RETRY: Duration = Duration::from_secs(1);
/// Changes arriving within this window are evaluated together.
const DEBOUNCE: Duration = Duration::from_millis(50);
/// The first pause before a step's unwatchable checks run again; it doubles up to
/// [`RECHECK_MAX`] while the step stays in progress.
const RECHECK_FIRST: Duration = Duration::from_secs(1);
/// The longest pause between two timed re-checks of a step.
const RECHECK_MAX: Duration = Duration::from_secs(10);

impl Engine {
    /// Subscribes to a lab's live events, starting its follower and shared watches if needed.
    pub async fn subscribe(&self, lab_id: &str) -> Result<LiveSubscription, EngineError> {
        let lab = self.lab(lab_id)?;
        let live = lock(&self.inner.live.labs)
            .entry(self.follow_key(&lab.id))
            .or_insert_with(|| Arc::new(LabLive::new()))
            .clone();
        let receiver = live.tx.subscribe();
        {
            let mut task = lock(&live.task);
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
        let last = lock(&live.last);
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
        lock(&self.inner.live.labs).retain(|key, live| {
            let keep = key.learner != learner_id;
            if !keep && let Some(task) = lock(&live.task).take() {
                // The follower holds the channel: ending it closes the pages' streams.
                task.abort();
            }
            keep
        });
    }

    /// How many pages follow a lab now (0 when it is not open).
    pub fn live_pages(&self, lab_id: &str) -> usize {
        self.open_lab_live(lab_id)
            .map_or(0, |live| live.tx.receiver_count())
    }

    fn follow_key(&self, lab_id: &str) -> FollowKey {
        FollowKey {
            learner: self.learner.id.clone(),
            lab: lab_id.to_owned(),
        }
    }

    /// This learner's follower of a lab, when the lab is open.
    fn open_lab_live(&self, lab_id: &str) -> Option<Arc<LabLive>> {
        lock(&self.inner.live.labs)
            .get(&self.follow_key(lab_id))
            .cloned()
    }

    /// Tells the follower of the lab (if open) that a step started, so it follows it now.
    pub(super) fn step_started(&self, lab_id: &str, step_id: &str) {
        if let Some(live) = self.open_lab_live(lab_id) {
            live.nudge(Some(step_id));
        }
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
            state: health.into(),
            message,
        }
    }

    /// The shared cache for `key`, when one is running and has listed (checks then read it
    /// instead of asking the API server).
    pub(super) fn cached(&self, key: &WatchKey) -> Option<WatchedKind> {
        lock(&self.inner.live.caches)
            .get(key)
            .cloned()
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

    /// The watch for a kind as this learner's checks read it, or `None` for a kind the cluster
    /// does not serve (its checks then ask the API server, and say the kind is missing) and for
    /// another namespace in a workshop (see `fetch`).
    async fn served_watch_key(
        &self,
        api_version: &str,
        kind: &str,
        namespace: Option<&str>,
        lab_namespace: &str,
    ) -> Result<Option<WatchKey>, ClusterError> {
        if self.learner.namespace.is_some() && namespace.is_some_and(|ns| ns != lab_namespace) {
            return Ok(None);
        }
        let lab_namespace = self.learner.namespace.as_deref().unwrap_or(lab_namespace);
        let namespace = namespace.filter(|_| self.learner.namespace.is_none());
        match self.inner.cluster.is_namespaced(api_version, kind).await {
            Ok(namespaced) => Ok(Some(
                self.scoped_key(WatchKey {
                    api_version: api_version.to_owned(),
                    kind: kind.to_owned(),
                    namespace: namespaced.then(|| namespace.unwrap_or(lab_namespace).to_owned()),
                })
                .0,
            )),
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
                let Some(find) = &check.find else { continue };
                let ns = find.namespace.as_deref();
                keys.extend(
                    self.served_watch_key(&find.api_version, &find.kind, ns, &lab.namespace)
                        .await?,
                );
                if check.events.is_some() {
                    keys.extend(
                        self.served_watch_key("v1", "Event", ns, &lab.namespace)
                            .await?,
                    );
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
        let mut caches = Vec::new();
        for key in &watches.keys {
            let watched = self
                .inner
                .cluster
                .watch(&key.api_version, &key.kind, key.namespace.as_deref())
                .await?;
            lock(&self.inner.live.caches).insert(key.clone(), watched.clone());
            caches.push(watched);
        }
        // Watches that cannot list yet (cluster slow or gone) must not hold the others up: the
        // follower evaluates what it can and catches up on the change stream.
        let _ = tokio::time::timeout(
            Duration::from_secs(10),
            futures::future::join_all(caches.iter().map(WatchedKind::wait_ready)),
        )
        .await;
        Ok(())
    }

    /// Re-evaluates the started ones of `steps` and sends what changed. Returns the steps that
    /// could not be evaluated now (to retry shortly) and, for each step in progress whose
    /// checks no watch can see, that it wants a timed re-check.
    async fn refresh(
        &self,
        lab: &Lab,
        live: &LabLive,
        steps: &BTreeSet<String>,
        schedule: &mut Schedule,
    ) -> BTreeSet<String> {
        let mut retry = BTreeSet::new();
        let resets = lock(&live.last).resets;
        let records = match self.inner.store.lab_steps(&self.learner.id, &lab.id).await {
            Ok(records) => records,
            Err(e) => {
                tracing::debug!(lab = %lab.id, error = %e, "live refresh: progress unreadable; retrying");
                return steps.clone();
            }
        };
        for step in lab.steps.iter().filter(|s| steps.contains(&s.id)) {
            let record = records.get(&step.id).cloned().unwrap_or_default();
            let state = StepState::of(Some(&record));
            if !state.is_started() {
                schedule.forget(&step.id);
                continue;
            }
            let previous = lock(&live.last).steps.get(&step.id).cloned();
            match self
                .refresh_step(lab, step, &record, previous.as_ref(), schedule)
                .await
            {
                Ok(report) => {
                    let mut last = lock(&live.last);
                    // Under the lock that Reset takes to tell the pages: either this verdict goes
                    // out before the Reset event, or it was reached before the Reset and is
                    // dropped.
                    if last.resets == resets
                        && previous.as_ref().is_none_or(|p| !p.same_as(&report))
                    {
                        last.steps.insert(step.id.clone(), report.clone());
                        let _ = live.tx.send(LiveEvent::Step(report));
                    }
                }
                Err(e) => {
                    tracing::debug!(lab = %lab.id, step = %step.id, error = %e, "live evaluation failed; retrying");
                    retry.insert(step.id.clone());
                }
            }
        }
        self.send_objects(lab, live);
        retry
    }

    /// One step's live evaluation: commands in containers run for a step in progress (at most
    /// once per [`RECHECK_FIRST`]), reused for a passed one.
    async fn refresh_step(
        &self,
        lab: &Lab,
        step: &Step,
        record: &StepRecord,
        previous: Option<&StepReport>,
        schedule: &mut Schedule,
    ) -> Result<StepReport, EngineError> {
        let state = StepState::of(Some(record));
        let run_commands = state != StepState::Passed && schedule.may_run(&step.id);
        let exec = if run_commands {
            ExecPolicy::Run
        } else {
            ExecPolicy::Reuse(self.known_verdicts(lab, step, previous).await)
        };
        let context = StepContext {
            answers: self
                .inner
                .store
                .answers(&self.learner.id, &lab.id, &step.id)
                .await?,
            started: record.started_at.map(super::steps::rfc3339),
            exec,
        };
        let evaluation = self.evaluate_step(lab, step, &context).await?;
        let mut report = self
            .judge_and_record(lab, step, record, evaluation, Trigger::Live, previous)
            .await?;
        if run_commands {
            schedule.ran(&step.id);
        }
        if report.state == StepState::InProgress && needs_timer(step) {
            report.recheck_in = Some(schedule.plan(&step.id).as_secs().max(1));
        } else {
            schedule.forget(&step.id);
        }
        Ok(report)
    }

    /// The verdicts to reuse instead of running a step's commands: those the pages were last
    /// sent or, when the follower has just started (a page opened, kubelab restarted), the last
    /// ones stored — so opening a page does not run the commands of a passed step either.
    async fn known_verdicts(
        &self,
        lab: &Lab,
        step: &Step,
        previous: Option<&StepReport>,
    ) -> BTreeMap<String, Verdict> {
        if previous.is_some() || !step.checks.iter().any(|c| c.exec.is_some()) {
            return exec_verdicts(previous);
        }
        let stored = match self.inner.store.reports(&self.learner.id, &lab.id).await {
            Ok(mut reports) => reports
                .remove(&step.id)
                .and_then(|json| serde_json::from_str::<StepReport>(&json).ok()),
            Err(e) => {
                tracing::debug!(lab = %lab.id, step = %step.id, error = %e, "stored report unreadable; running the commands");
                None
            }
        };
        exec_verdicts(stored.as_ref())
    }

    /// After a reset: forgets what the open pages were last told about the lab and tells them
    /// to start over; the follower then follows only what is started again.
    pub(super) async fn forget_live(&self, lab: &Lab) {
        if let Some(live) = self.open_lab_live(&lab.id) {
            let mut last = lock(&live.last);
            last.resets += 1;
            last.steps.clear();
            let _ = live.tx.send(LiveEvent::Reset {
                lab: lab.id.clone(),
            });
            drop(last);
            live.nudge(None);
        }
    }

    /// How many Resets the open pages of the lab were told of (see [`Engine::publish`]).
    pub(super) fn resets_told(&self, lab_id: &str) -> Option<u64> {
        self.open_lab_live(lab_id)
            .map(|live| lock(&live.last).resets)
    }

    /// Shares a verdict the Check button produced with the pages that have the lab open, so
    /// they (and pages opened later) show the same as the learner who pressed it — unless a
    /// Reset was told to them since the Check began (`resets`, from [`Engine::resets_told`]).
    pub(super) fn publish(&self, report: &StepReport, resets: Option<u64>) {
        if let Some(live) = self.open_lab_live(&report.lab) {
            let mut last = lock(&live.last);
            if resets.is_some_and(|r| r != last.resets) {
                return;
            }
            last.steps.insert(report.step.clone(), report.clone());
            let _ = live.tx.send(LiveEvent::Step(report.clone()));
        }
    }

    fn send_objects(&self, lab: &Lab, live: &LabLive) {
        let objects = self.lab_objects(lab);
        let mut last = lock(&live.last);
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
        let caches: Vec<WatchedKind> = lock(&self.inner.live.caches).values().cloned().collect();
        let mut seen: BTreeMap<(String, Option<String>, String), ObjectSummary> = BTreeMap::new();
        let mut add = |objects: Vec<Value>| {
            for object in objects {
                let summary = summarize(&object);
                seen.insert(
                    (
                        summary.kind.clone(),
                        summary.namespace.clone(),
                        summary.name.clone(),
                    ),
                    summary,
                );
            }
        };
        let of_kind = |api_version: &str, kind: &str| -> Vec<WatchedKind> {
            caches
                .iter()
                .filter(|c| c.key().api_version == api_version && c.key().kind == kind)
                .cloned()
                .collect()
        };
        for step in &lab.steps {
            for m in &step.manifests {
                for cache in of_kind(&m.api_version, &m.kind) {
                    add(cache.snapshot_in(within, Some(&m.name), None));
                }
            }
            for check in &step.compiled {
                let Some(find) = &check.spec().find else {
                    continue;
                };
                if find.name.is_none() && find.selector.is_none() {
                    continue;
                }
                for cache in of_kind(&find.api_version, &find.kind) {
                    add(cache.snapshot_in(within, find.name.as_deref(), check.selector()));
                }
            }
        }
        seen.into_values().collect()
    }
}

fn summarize(object: &Value) -> ObjectSummary {
    let text = |pointer: &str| {
        object
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    ObjectSummary {
        kind: text("/kind").unwrap_or_default(),
        namespace: text("/metadata/namespace"),
        name: text("/metadata/name").unwrap_or_default(),
        status: summary::status_line(object),
        created: text("/metadata/creationTimestamp"),
    }
}

/// The verdicts of a report's checks, by id, for reuse instead of running commands again.
fn exec_verdicts(report: Option<&StepReport>) -> BTreeMap<String, Verdict> {
    report
        .map(|r| {
            r.checks
                .iter()
                .map(|c| (c.id.clone(), c.verdict.clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// Whether a step has checks no watch can see change: commands in containers, what the cluster
/// serves (an aggregated API appearing), its version, and what a subject may do (RBAC).
pub(super) fn needs_timer(step: &Step) -> bool {
    step.checks.iter().any(|c| {
        c.exec.is_some()
            || c.served.is_some()
            || c.server_version.is_some()
            || crate::checks::access_of(c).is_some()
    })
}

/// When each step in progress with unwatchable checks is evaluated again, backing off
/// 1 → 2 → 4 → 8 → 10 s while it stays in progress; a watched change resets the pause. Also
/// bounds how often one step's commands run: at most once per [`RECHECK_FIRST`].
#[derive(Default)]
struct Schedule {
    next: BTreeMap<String, (Instant, Duration)>,
    last_run: BTreeMap<String, Instant>,
}

impl Schedule {
    /// Whether the step's commands may run now (rate limit per step).
    fn may_run(&self, step: &str) -> bool {
        self.last_run
            .get(step)
            .is_none_or(|at| at.elapsed() >= RECHECK_FIRST)
    }

    fn ran(&mut self, step: &str) {
        self.last_run.insert(step.to_owned(), Instant::now());
    }

    /// Plans the next timed re-check of a step after this evaluation; returns the pause.
    fn plan(&mut self, step: &str) -> Duration {
        let pause = match self.next.get(step) {
            Some((at, pause)) if *at <= Instant::now() => (*pause * 2).min(RECHECK_MAX),
            Some((_, pause)) => *pause,
            None => RECHECK_FIRST,
        };
        self.next
            .insert(step.to_owned(), (Instant::now() + pause, pause));
        pause
    }

    /// A watched change concerns the step: start backing off from the beginning.
    fn restart(&mut self, step: &str) {
        self.next.remove(step);
    }

    fn forget(&mut self, step: &str) {
        self.next.remove(step);
        self.last_run.remove(step);
    }

    /// The steps due now.
    fn due(&self) -> BTreeSet<String> {
        let now = Instant::now();
        self.next
            .iter()
            .filter(|(_, (at, _))| *at <= now)
            .map(|(step, _)| step.clone())
            .collect()
    }

    /// When the next re-check is due.
    fn next_due(&self) -> Option<Instant> {
        self.next.values().map(|(at, _)| *at).min()
    }
}

/// The follower of one open lab: sets up its watches, evaluates the started steps once, then
/// re-evaluates the steps whose watched objects change or whose timed re-check is due, until
/// nobody has looked for a while.
async fn follow(inner: Weak<Inner>, learner: Arc<Learner>, lab_id: String, live: Arc<LabLive>) {
    let Some((engine, lab, watches)) = setup(&inner, &learner, &lab_id, &live).await else {
        return;
    };
    let mut changes = engine.inner.cluster.changes();
    let mut states = engine.inner.cluster.watch_state_changes();
    let all_steps: BTreeSet<String> = lab.steps.iter().map(|s| s.id.clone()).collect();
    let mut schedule = Schedule::default();
    let mut retry = engine.refresh(&lab, &live, &all_steps, &mut schedule).await;
    drop(engine);
    let mut idle = Idle::default();
    loop {
        let mut dirty = Dirty::default();
        let pause = if retry.is_empty() { IDLE / 3 } else { RETRY };
        let deadline = schedule.next_due().map_or(Instant::now() + pause, |due| {
            due.min(Instant::now() + pause)
        });
        tokio::select! {
            change = changes.recv() => match change {
                Ok(change) => dirty.add(steps_for(&watches, &learner, &change)),
                Err(RecvError::Lagged(_)) => dirty.steps.extend(all_steps.iter().cloned()),
                Err(RecvError::Closed) => return,
            },
            state = states.recv() => match state {
                Ok((health, message)) => {
                    live.send_cluster(LiveEvent::Cluster { state: health.into(), message });
                    if health == WatchHealth::Live {
                        dirty.steps.extend(all_steps.iter().cloned());
                    }
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            },
            _ = live.wake.notified() => {}
            _ = tokio::time::sleep_until(deadline) => dirty.steps.append(&mut retry),
        }
        if idle.expired(&live) {
            let Some(inner) = inner.upgrade() else { return };
            if release(&inner, &learner, &lab_id, &live) {
                return;
            }
        }
        let nudged = live.take_nudged();
        if nudged.all {
            dirty.steps.extend(all_steps.iter().cloned());
            dirty.panel = true;
        }
        dirty.steps.extend(nudged.steps);
        dirty.steps.extend(schedule.due());
        if dirty.steps.is_empty() && !dirty.panel {
            continue;
        }
        tokio::time::sleep(DEBOUNCE).await;
        loop {
            match changes.try_recv() {
                Ok(change) => dirty.add(steps_for(&watches, &learner, &change)),
                Err(TryRecvError::Lagged(_)) => dirty.steps.extend(all_steps.iter().cloned()),
                Err(_) => break,
            }
        }
        let Some(inner) = inner.upgrade() else { return };
        let engine = Engine {
            inner,
            learner: learner.clone(),
        };
        dirty.steps.append(&mut retry);
        for step in &dirty.watched {
            schedule.restart(step);
        }
        retry = engine
            .refresh(&lab, &live, &dirty.steps, &mut schedule)
            .await;
    }
}

impl Dirty {
    fn add(&mut self, (steps, panel): (Vec<String>, bool)) {
        self.watched.extend(steps.iter().cloned());
        self.steps.extend(steps);
        self.panel |= panel;
    }
}

/// How long nobody has been looking at a lab.
#[derive(Default)]
struct Idle {
    since: Option<Instant>,
}

impl Idle {
    /// True once the lab has had no page for [`IDLE`].
    fn expired(&mut self, live: &LabLive) -> bool {
        if live.tx.receiver_count() > 0 {
            self.since = None;
            return false;
        }
        self.since.get_or_insert_with(Instant::now).elapsed() >= IDLE
    }
}

/// Removes an idle follower from the hub, unless a page subscribed meanwhile.
fn release(inner: &Inner, learner: &Learner, lab_id: &str, live: &LabLive) -> bool {
    let mut labs = lock(&inner.live.labs);
    if live.tx.receiver_count() > 0 {
        return false;
    }
    labs.remove(&FollowKey {
        learner: learner.id.clone(),
        lab: lab_id.to_owned(),
    });
    true
}

/// Starts the lab's watches, retrying while the cluster is unreachable.
async fn setup(
    inner: &Weak<Inner>,
    learner: &Arc<Learner>,
    lab_id: &str,
    live: &LabLive,
) -> Option<(Engine, Lab, LabWatches)> {
    let mut idle = Idle::default();
    loop {
        if idle.expired(live) {
            if let Some(inner) = inner.upgrade() {
                release(&inner, learner, lab_id, live);
            }
            return None;
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
                live.send_cluster(engine.cluster_event());
                return Some((engine, lab, watches));
            }
            Err(e) => live.send_cluster(LiveEvent::Cluster {
                state: WatchState::Unavailable,
                message: Some(e.to_string()),
            }),
        }
        drop(engine);
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
}

/// The steps a change concerns for this learner, and whether the objects panel shows it.
fn steps_for(watches: &LabWatches, learner: &Learner, change: &Change) -> (Vec<String>, bool) {
    if let (Some(mine), Some(theirs)) = (&learner.namespace, &change.namespace)
        && mine != theirs
    {
        return (Vec::new(), false);
    }
    let steps = watches
        .steps_by_key
        .iter()
        .filter(|(key, _)| change.concerns(key))
        .flat_map(|(_, steps)| steps.iter().cloned())
        .collect();
    // Objects of the live panel that no check looks at still refresh the panel.
    let panel = watches.keys.iter().any(|k| change.concerns(k));
    (steps, panel)
}
