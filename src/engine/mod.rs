//! One learner's lab: set up, check, reset, and the cached cluster health. The single place
//! that combines labs, cluster, checks and store — every page, API call and CLI command that
//! touches the cluster goes through here.

mod access;
mod evaluate;
mod isolation;
mod lifecycle;
mod live;
mod names;
mod report;
mod reset;
mod setup;
mod steps;
mod summary;
mod terminal;
mod text;
mod workshop;

pub use evaluate::StepContext;
pub use isolation::SWEEP_EVERY;
pub use lifecycle::{Awaiting, StepState};
pub use live::{LiveEvent, LiveSubscription, ObjectSummary, WatchState};
pub use report::{
    AppliedObject, ApplyAction, CheckReport, FailureCause, Health, KeptObject, KeptReason,
    ObjectKey, Obstacle, ObstacleKind, ResetReport, SetupAction, SetupFailure, SetupReport,
    StepReport, StepStatus,
};
pub use steps::{LabProgress, MAX_ANSWER_CHARS, StepProgress};
pub use terminal::{
    InputOutcome, TerminalAttachment, TerminalConfig, TerminalEvent, TerminalLimits, TerminalMode,
};
pub use workshop::{Grid, GridCell, GridRow, Joined, WorkshopRequest, new_token, token_hash};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::Semaphore;

use crate::checks::{CheckSpec, Verdict};
use crate::cluster::{Cluster, ClusterError};
use crate::labs::{Catalog, Lab, Step, Values};
use crate::store::{Store, StoreError};

/// How many set-ups, checks and resets may talk to the cluster at once; more wait their turn
/// (bounded by the web layer's request timeout), so a burst of clicks cannot flood the API server.
const MAX_CLUSTER_WORK: usize = 16;

/// How many commands kubelab may be running in containers at once (exec checks of every
/// learner together); more wait their turn.
pub const MAX_CONCURRENT_EXECS: usize = 8;

/// Label put on every object kubelab creates for a lab, naming the lab it belongs to.
pub const LAB_LABEL: &str = "kubelab.io/lab";
pub use crate::cluster::{ApiReach, LEARNER_LABEL, MANAGED_BY, MANAGED_BY_LABEL};

/// Why an engine operation failed as a whole (individual check problems are verdicts instead).
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// No lab with this id.
    #[error("there is no lab called {0:?}")]
    UnknownLab(String),
    /// No step with this id in the lab.
    #[error("lab {lab:?} has no step called {step:?}")]
    UnknownStep {
        /// Lab id.
        lab: String,
        /// Step id.
        step: String,
    },
    /// The step has nothing to set up.
    #[error("step {step:?} of lab {lab:?} has nothing to set up")]
    NothingToSetUp {
        /// Lab id.
        lab: String,
        /// Step id.
        step: String,
    },
    /// No cluster is reachable.
    #[error("{0}")]
    ClusterUnavailable(String),
    /// A cluster call failed in a way that stops the whole operation.
    #[error(transparent)]
    Cluster(ClusterError),
    /// The progress database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No workshop with this id or join code.
    #[error("there is no workshop {0:?}")]
    UnknownWorkshop(String),
    /// No such learner in this workshop.
    #[error("there is no learner {0:?} in this workshop")]
    UnknownLearner(String),
    /// The workshop cannot be joined or used (full, ended, expired).
    #[error("{0}")]
    WorkshopClosed(String),
    /// A request that makes no sense (empty name, capacity 0...).
    #[error("{0}")]
    BadRequest(String),
}

impl From<ClusterError> for EngineError {
    fn from(e: ClusterError) -> Self {
        match e {
            ClusterError::Unavailable { message } => EngineError::ClusterUnavailable(message),
            other => EngineError::Cluster(other),
        }
    }
}

/// The engine: cheap to clone, shared by the web layer and the CLI.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
    learner: Arc<Learner>,
}

/// Who an engine call acts for: the laptop's single learner, or a workshop learner confined to
/// their own namespace.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Learner {
    /// Progress, answers and step starts are kept under this id.
    pub id: String,
    /// In a workshop, the learner's namespace: every namespaced object of every lab lives there,
    /// cluster-wide kinds cannot be created, and checks read only there (plus cluster facts).
    pub namespace: Option<String>,
}

impl Learner {
    /// The single learner of a laptop kubelab, working in each lab's own namespace.
    pub fn local() -> Learner {
        Learner {
            id: crate::store::LOCAL_LEARNER.to_owned(),
            namespace: None,
        }
    }

    /// A workshop learner confined to `namespace`.
    pub fn in_namespace(id: impl Into<String>, namespace: impl Into<String>) -> Learner {
        Learner {
            id: id.into(),
            namespace: Some(namespace.into()),
        }
    }
}

struct Inner {
    catalog: Arc<Catalog>,
    cluster: Cluster,
    store: Store,
    health: RwLock<Health>,
    probing: AtomicBool,
    live: live::LiveHub,
    cluster_work: Semaphore,
    exec_slots: Semaphore,
    terminals: terminal::Terminals,
    node_name: text::NodeName,
    isolation: isolation::Isolation,
}

impl Engine {
    /// Builds an engine for the single local learner.
    pub fn new(catalog: Arc<Catalog>, cluster: Cluster, store: Store) -> Engine {
        Engine {
            learner: Arc::new(Learner::local()),
            inner: Arc::new(Inner {
                catalog,
                cluster,
                store,
                health: RwLock::new(Health::Unknown),
                probing: AtomicBool::new(false),
                live: live::LiveHub::default(),
                cluster_work: Semaphore::new(MAX_CLUSTER_WORK),
                exec_slots: Semaphore::new(MAX_CONCURRENT_EXECS),
                terminals: terminal::Terminals::default(),
                node_name: text::NodeName::default(),
                isolation: isolation::Isolation::default(),
            }),
        }
    }

    /// The same engine acting for `learner` (shares watches, store and cluster).
    pub fn for_learner(&self, learner: Learner) -> Engine {
        Engine {
            inner: self.inner.clone(),
            learner: Arc::new(learner),
        }
    }

    /// Who this engine acts for.
    pub fn learner(&self) -> &Learner {
        &self.learner
    }

    /// The namespace `lab` works in for this learner.
    pub(crate) fn namespace_for<'a>(&'a self, lab: &'a Lab) -> &'a str {
        self.learner.namespace.as_deref().unwrap_or(&lab.namespace)
    }

    /// Every lab.
    pub fn catalog(&self) -> &Catalog {
        &self.inner.catalog
    }

    /// The store (for readiness checks).
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The kubeconfig context in use, when known.
    pub fn context(&self) -> Option<&str> {
        self.inner.cluster.context()
    }

    /// What kubelab last knew about the cluster; never calls it.
    pub fn health(&self) -> Health {
        self.inner
            .health
            .read()
            .map(|h| h.clone())
            .unwrap_or(Health::Unknown)
    }

    fn set_health(&self, health: Health) {
        if let Ok(mut h) = self.inner.health.write() {
            if *h != health {
                tracing::info!(?health, "cluster health changed");
            }
            *h = health;
        }
    }

    /// Probes the cluster once and updates the cached health.
    pub async fn refresh_health(&self) -> Health {
        let health = match self.inner.cluster.probe().await {
            Ok(probe) => Health::Reachable {
                version: probe.server_version,
            },
            Err(e) => Health::Unreachable {
                message: unreachable_message(&e),
            },
        };
        self.set_health(health.clone());
        health
    }

    /// Keeps the cached health fresh in the background: every few seconds while the cluster is
    /// unreachable, less often while it answers.
    pub fn spawn_health_monitor(&self) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            loop {
                let health = engine.refresh_health().await;
                let pause = if health.is_reachable() { 15 } else { 3 };
                tokio::time::sleep(Duration::from_secs(pause)).await;
            }
        })
    }

    fn lab(&self, lab: &str) -> Result<&Lab, EngineError> {
        self.inner
            .catalog
            .lab(lab)
            .ok_or_else(|| EngineError::UnknownLab(lab.to_owned()))
    }

    fn step<'a>(&'a self, lab: &'a Lab, step: &str) -> Result<&'a Step, EngineError> {
        lab.step(step).ok_or_else(|| EngineError::UnknownStep {
            lab: lab.id.clone(),
            step: step.to_owned(),
        })
    }

    /// Waits for a turn to talk to the cluster (see [`MAX_CLUSTER_WORK`]).
    async fn cluster_turn(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        self.inner.cluster_work.acquire().await.ok()
    }

    fn set_reachable_if_unknown(&self) {
        if !self.health().is_reachable() && !self.inner.probing.swap(true, Ordering::AcqRel) {
            let engine = self.clone();
            tokio::spawn(async move {
                engine.refresh_health().await;
                engine.inner.probing.store(false, Ordering::Release);
            });
        }
    }
}

/// A check's report, its author's words rendered for the reader (`values`).
pub(crate) fn report(
    check: &CheckSpec,
    verdict: Verdict,
    answered: bool,
    values: &Values,
) -> CheckReport {
    let pending_reason = match (&verdict, &check.pending) {
        (Verdict::Pending { .. }, Some(p)) => Some(values.text(&p.reason)),
        _ => None,
    };
    let unanswered = check.question.is_some() && !answered;
    CheckReport {
        id: check.id.clone(),
        title: values.text(&check.title),
        reason: values.text(&check.reason),
        verdict,
        pending_reason,
        unanswered,
    }
}

/// Adds the lab and managed-by labels to a manifest's object.
fn labelled(object: &Value, lab: &str) -> Value {
    let mut object = object.clone();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        let labels = meta
            .entry("labels")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Some(labels) = labels.as_object_mut() {
            labels.insert(LAB_LABEL.into(), Value::String(lab.into()));
            labels.insert(MANAGED_BY_LABEL.into(), Value::String(MANAGED_BY.into()));
        }
    }
    object
}

fn unreachable_message(e: &ClusterError) -> String {
    match e {
        ClusterError::Unavailable { message } => message.clone(),
        other => other.to_string(),
    }
}

/// Now, in whole seconds: Kubernetes timestamps have no fractions, and `since: step` compares
/// with them.
pub(crate) fn now() -> OffsetDateTime {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0).unwrap_or(now)
}

/// [`now`] as RFC 3339 text.
pub(crate) fn now_text() -> String {
    now()
        .format(&Rfc3339)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00Z"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labelled_adds_lab_labels_and_keeps_others() {
        let obj = serde_json::json!({"metadata": {"name": "a", "labels": {"app": "x"}}});
        let l = labelled(&obj, "configmap");
        assert_eq!(l["metadata"]["labels"]["app"], "x");
        assert_eq!(l["metadata"]["labels"][LAB_LABEL], "configmap");
        assert_eq!(l["metadata"]["labels"][MANAGED_BY_LABEL], "kubelab");
    }
}
