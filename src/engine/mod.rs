//! One learner's lab: set up, check, reset, and the cached cluster health. The single place
//! that combines labs, cluster, checks and store — every page, API call and CLI command that
//! touches the cluster goes through here.

mod evaluate;
mod live;
mod report;
mod summary;
mod workshop;

pub use evaluate::StepContext;
pub use live::{LiveEvent, LiveSubscription, ObjectSummary, WatchState};
pub use report::{
    AppliedObject, ApplyAction, CheckReport, Health, KeptObject, ObjectKey, ResetReport,
    SetupFailure, SetupReport, StepReport, StepStatus,
};
pub use workshop::{Grid, GridCell, GridRow, Joined, WorkshopRequest, new_token, token_hash};

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, RwLock};

use std::time::Duration;
use tokio::sync::Semaphore;

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::checks::{CheckSpec, Verdict};
use crate::cluster::{Cluster, ClusterError};
use crate::labs::{Catalog, Lab, Step};
use crate::store::{StepRecord, Store, StoreError};

/// How many set-ups, checks and resets may talk to the cluster at once; more wait their turn
/// (bounded by the web layer's request timeout), so a burst of clicks cannot flood the API server.
const MAX_CLUSTER_WORK: usize = 16;

/// Label put on every object kubelab applies, naming the lab it belongs to.
pub const LAB_LABEL: &str = "kubelab.io/lab";
/// Label naming the workshop learner an object was applied for.
pub const LEARNER_LABEL: &str = "kubelab.io/learner";
/// The standard managed-by label, set to `kubelab` on every applied object.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";

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

    /// Progress of the learner in one lab, by step id.
    pub async fn lab_progress(
        &self,
        lab: &str,
    ) -> Result<BTreeMap<String, StepRecord>, EngineError> {
        let lab = self.lab(lab)?;
        Ok(self
            .inner
            .store
            .lab_progress(&self.learner.id, &lab.id)
            .await?)
    }

    /// Progress of the learner in every lab, by lab id then step id.
    pub async fn all_progress(
        &self,
    ) -> Result<BTreeMap<String, BTreeMap<String, StepRecord>>, EngineError> {
        Ok(self.inner.store.all_progress(&self.learner.id).await?)
    }

    /// **Set up**: server-side applies the step's manifests, labelled as the lab's.
    pub async fn setup(&self, lab_id: &str, step_id: &str) -> Result<SetupReport, EngineError> {
        let lab = self.lab(lab_id)?;
        let _turn = self.cluster_turn().await;
        let step = self.step(lab, step_id)?;
        if step.manifests.is_empty() {
            return Err(EngineError::NothingToSetUp {
                lab: lab.id.clone(),
                step: step.id.clone(),
            });
        }
        self.inner
            .store
            .start_step(&self.learner.id, &lab.id, &step.id, &now())
            .await?;
        let mut report = SetupReport {
            lab: lab.id.clone(),
            step: step.id.clone(),
            applied: Vec::new(),
            error: None,
        };
        for manifest in &step.manifests {
            let mut object = labelled(&manifest.object, &lab.id);
            if let Some(learner_namespace) = &self.learner.namespace {
                match self.confine(lab, manifest, &mut object).await {
                    Ok(Confined::Apply) => {}
                    Ok(Confined::AlreadyThere) => {
                        report.applied.push(AppliedObject {
                            key: ObjectKey {
                                api_version: manifest.api_version.clone(),
                                kind: manifest.kind.clone(),
                                namespace: None,
                                name: learner_namespace.clone(),
                            },
                            action: ApplyAction::Unchanged,
                        });
                        continue;
                    }
                    Ok(Confined::Refused(why)) => {
                        report.error = Some(SetupFailure {
                            object: format!("{} {}", manifest.kind, manifest.name),
                            file: manifest.file.clone(),
                            message: why,
                        });
                        break;
                    }
                    Err(ClusterError::Unavailable { message }) => {
                        return Err(EngineError::ClusterUnavailable(message));
                    }
                    Err(e) => return Err(EngineError::Cluster(e)),
                }
            }
            match self
                .inner
                .cluster
                .apply(&object, self.namespace_for(lab))
                .await
            {
                Ok(applied) => {
                    self.set_reachable_if_unknown();
                    report.applied.push(AppliedObject {
                        key: applied.key,
                        action: applied.action,
                    })
                }
                Err(ClusterError::Unavailable { message }) => {
                    self.set_health(Health::Unreachable {
                        message: message.clone(),
                    });
                    return Err(EngineError::ClusterUnavailable(message));
                }
                Err(e) => {
                    tracing::info!(lab = %lab.id, step = %step.id, error = %e, "apply refused");
                    report.error = Some(SetupFailure {
                        object: format!(
                            "{} {}",
                            manifest.kind,
                            match &manifest.namespace {
                                Some(ns) => format!("{ns}/{}", manifest.name),
                                None => manifest.name.clone(),
                            }
                        ),
                        file: manifest.file.clone(),
                        message: e.to_string(),
                    });
                    break;
                }
            }
        }
        Ok(report)
    }

    /// In a workshop, rewrites a manifest's object into the learner's namespace — or says why it
    /// cannot go there (a cluster-wide kind, another namespace). The lab's own Namespace is the
    /// learner's namespace, which already exists.
    async fn confine(
        &self,
        lab: &Lab,
        manifest: &crate::labs::Manifest,
        object: &mut Value,
    ) -> Result<Confined, ClusterError> {
        let learner_namespace = self.namespace_for(lab).to_owned();
        let namespaced = self
            .inner
            .cluster
            .is_namespaced(&manifest.api_version, &manifest.kind)
            .await?;
        if !namespaced {
            if manifest.kind == "Namespace" && manifest.name == lab.namespace {
                return Ok(Confined::AlreadyThere);
            }
            return Ok(Confined::Refused(format!(
                "{} is a cluster-wide kind: in a workshop you can only create objects in your namespace {learner_namespace}",
                manifest.kind
            )));
        }
        if let Some(other) = manifest
            .namespace
            .as_deref()
            .filter(|ns| *ns != lab.namespace)
        {
            return Ok(Confined::Refused(format!(
                "this manifest names namespace {other}: in a workshop everything goes in your namespace {learner_namespace}"
            )));
        }
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("namespace".into(), Value::String(learner_namespace));
            if let Some(labels) = meta.get_mut("labels").and_then(Value::as_object_mut) {
                labels.insert(LEARNER_LABEL.into(), Value::String(self.learner.id.clone()));
            }
        }
        Ok(Confined::Apply)
    }

    /// **Check**: evaluates the step's checks against the cluster with the learner's `answers`
    /// (remembered for later checks) and records the outcome; a pass starts the next step.
    pub async fn check(
        &self,
        lab_id: &str,
        step_id: &str,
        answers: &BTreeMap<String, String>,
    ) -> Result<StepReport, EngineError> {
        let lab = self.lab(lab_id)?;
        let step = self.step(lab, step_id)?;
        let _turn = self.cluster_turn().await;
        let store = &self.inner.store;
        let learner = &self.learner.id;
        let known: BTreeMap<String, String> = answers
            .iter()
            .filter(|(id, answer)| {
                !answer.trim().is_empty()
                    && step
                        .checks
                        .iter()
                        .any(|c| &c.id == *id && c.question.is_some())
            })
            .map(|(id, answer)| (id.clone(), answer.chars().take(200).collect()))
            .collect();
        if !known.is_empty() {
            store
                .save_answers(learner, &lab.id, &step.id, &known)
                .await?;
        }
        let started = store.start_step(learner, &lab.id, &step.id, &now()).await?;
        let context = StepContext {
            answers: store.answers(learner, &lab.id, &step.id).await?,
            started: Some(started),
        };
        let reports = self.evaluate_step(lab, step, &context).await?;
        let status = overall(&reports);
        let now = now();
        let passed = status == StepStatus::Passed;
        store
            .record_check(learner, &lab.id, &step.id, status.as_str(), passed, &now)
            .await?;
        let done = passed
            || store
                .lab_progress(learner, &lab.id)
                .await?
                .get(&step.id)
                .is_some_and(|r| r.passed_at.is_some());
        if passed {
            self.start_current_step(lab).await?;
        }
        let report = StepReport {
            lab: lab.id.clone(),
            step: step.id.clone(),
            status,
            done,
            checks: reports,
            checked_at: now,
        };
        self.publish(&report);
        Ok(report)
    }

    /// Evaluates a step's checks without recording anything (`kubelab check`); questions are
    /// judged against `answers`, `since: step` counts every object.
    pub async fn evaluate(
        &self,
        lab_id: &str,
        step_id: &str,
        answers: &BTreeMap<String, String>,
    ) -> Result<Vec<CheckReport>, EngineError> {
        let lab = self.lab(lab_id)?;
        let step = self.step(lab, step_id)?;
        let context = StepContext {
            answers: answers.clone(),
            started: None,
        };
        self.evaluate_step(lab, step, &context).await
    }

    /// Records that the learner started `step` (first time only; `since: step` checks count
    /// objects created after it).
    pub async fn start_step(&self, lab_id: &str, step_id: &str) -> Result<String, EngineError> {
        let lab = self.lab(lab_id)?;
        let step = self.step(lab, step_id)?;
        Ok(self
            .inner
            .store
            .start_step(&self.learner.id, &lab.id, &step.id, &now())
            .await?)
    }

    /// The learner opened the lab: the first step not done yet becomes started. Returns its id.
    pub async fn open_lab(&self, lab_id: &str) -> Result<Option<String>, EngineError> {
        let lab = self.lab(lab_id)?;
        self.start_current_step(lab).await
    }

    async fn start_current_step(&self, lab: &Lab) -> Result<Option<String>, EngineError> {
        let progress = self
            .inner
            .store
            .lab_progress(&self.learner.id, &lab.id)
            .await?;
        let current = lab
            .steps
            .iter()
            .find(|s| progress.get(&s.id).is_none_or(|r| r.passed_at.is_none()));
        if let Some(step) = current {
            self.inner
                .store
                .start_step(&self.learner.id, &lab.id, &step.id, &now())
                .await?;
        }
        Ok(current.map(|s| s.id.clone()))
    }

    /// When the learner started each step of a lab.
    pub async fn step_starts(&self, lab_id: &str) -> Result<BTreeMap<String, String>, EngineError> {
        let lab = self.lab(lab_id)?;
        Ok(self
            .inner
            .store
            .step_starts(&self.learner.id, &lab.id)
            .await?)
    }

    /// The learner's remembered answers to a step's questions.
    pub async fn answers(
        &self,
        lab_id: &str,
        step_id: &str,
    ) -> Result<BTreeMap<String, String>, EngineError> {
        let lab = self.lab(lab_id)?;
        let step = self.step(lab, step_id)?;
        Ok(self
            .inner
            .store
            .answers(&self.learner.id, &lab.id, &step.id)
            .await?)
    }

    /// **Reset**: deletes what the lab set up and the namespaced objects its checks name (never a
    /// cluster-scoped object, such as a namespace, that kubelab did not create), then forgets the
    /// lab's progress.
    pub async fn reset(&self, lab_id: &str) -> Result<ResetReport, EngineError> {
        let lab = self.lab(lab_id)?;
        let _turn = self.cluster_turn().await;
        let cluster = &self.inner.cluster;
        // (object, named only by a check): objects a check names are the learner's work and are
        // removed only from the lab's own namespace, never from e.g. kube-system.
        let mut candidates: Vec<(ObjectKey, bool)> = Vec::new();
        for step in &lab.steps {
            for m in &step.manifests {
                candidates.push((
                    ObjectKey {
                        api_version: m.api_version.clone(),
                        kind: m.kind.clone(),
                        namespace: m.namespace.clone(),
                        name: m.name.clone(),
                    },
                    false,
                ));
            }
            for find in step.checks.iter().filter_map(|c| c.find.as_ref()) {
                if let Some(name) = &find.name {
                    candidates.push((
                        ObjectKey {
                            api_version: find.api_version.clone(),
                            kind: find.kind.clone(),
                            namespace: find.namespace.clone(),
                            name: name.clone(),
                        },
                        true,
                    ));
                }
            }
        }
        let mut namespaced = Vec::new();
        let mut cluster_scoped = Vec::new();
        for (mut key, named_by_check) in candidates {
            let is_namespaced = match cluster.is_namespaced(&key.api_version, &key.kind).await {
                Ok(n) => n,
                Err(ClusterError::UnknownKind { .. }) => continue,
                Err(e) => return Err(e.into()),
            };
            if is_namespaced {
                key.namespace.get_or_insert_with(|| lab.namespace.clone());
                if key.namespace.as_deref() != Some(lab.namespace.as_str())
                    && (named_by_check || self.learner.namespace.is_some())
                {
                    continue;
                }
                key.namespace = Some(self.namespace_for(lab).to_owned());
                if !namespaced.contains(&key) {
                    namespaced.push(key);
                }
            } else {
                key.namespace = None;
                if !cluster_scoped.contains(&key) {
                    cluster_scoped.push(key);
                }
            }
        }
        let mut report = ResetReport {
            lab: lab.id.clone(),
            deleted: Vec::new(),
            kept: Vec::new(),
        };
        for key in namespaced {
            if cluster.delete(&key).await? {
                report.deleted.push(key);
            }
        }
        for key in cluster_scoped {
            if self.learner.namespace.is_some() {
                // A workshop learner never owns cluster-wide objects, and the lab's Namespace
                // is their own namespace, which outlives a reset.
                continue;
            }
            let Some(object) = cluster.get(&key).await? else {
                continue;
            };
            let ours = object
                .pointer("/metadata/labels")
                .and_then(|l| l.get(LAB_LABEL))
                .and_then(Value::as_str)
                == Some(lab.id.as_str());
            if ours {
                if cluster.delete(&key).await? {
                    report.deleted.push(key);
                }
            } else {
                report.kept.push(KeptObject {
                    key,
                    why: "cluster-scoped and not created by this lab".into(),
                });
            }
        }
        self.inner
            .store
            .clear_lab(&self.learner.id, &lab.id)
            .await?;
        self.forget_live(lab).await;
        Ok(report)
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

pub(crate) fn report(check: &CheckSpec, verdict: Verdict) -> CheckReport {
    let pending_reason = match (&verdict, &check.pending) {
        (Verdict::Pending { .. }, Some(p)) => Some(p.reason.clone()),
        _ => None,
    };
    CheckReport {
        id: check.id.clone(),
        title: check.title.clone(),
        reason: check.reason.clone(),
        verdict,
        pending_reason,
    }
}

/// The step's state from its checks' verdicts: error beats failed beats pending.
pub(crate) fn overall(reports: &[CheckReport]) -> StepStatus {
    let mut status = StepStatus::Passed;
    for r in reports {
        status = match (&r.verdict, status) {
            (Verdict::Error { .. }, _) => return StepStatus::Error,
            (Verdict::Failed { .. }, _) => StepStatus::Failed,
            (Verdict::Pending { .. }, StepStatus::Passed) => StepStatus::Pending,
            (_, s) => s,
        };
    }
    status
}

/// What a workshop does with one of a lab's manifests.
enum Confined {
    /// Apply it (rewritten into the learner's namespace).
    Apply,
    /// It is the lab's Namespace: the learner's namespace stands in for it.
    AlreadyThere,
    /// It cannot go into the learner's namespace; why.
    Refused(String),
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
            labels.insert(MANAGED_BY_LABEL.into(), Value::String("kubelab".into()));
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
pub(crate) fn now() -> String {
    let now = OffsetDateTime::now_utc();
    now.replace_nanosecond(0)
        .unwrap_or(now)
        .format(&Rfc3339)
        .unwrap_or_else(|_| String::from("1970-01-01T00:00:00Z"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Text;

    fn report_with(verdict: Verdict) -> CheckReport {
        CheckReport {
            id: "c".into(),
            title: Text::same("t"),
            reason: Text::same("r"),
            verdict,
            pending_reason: None,
        }
    }

    #[test]
    fn overall_prefers_error_then_failed_then_pending() {
        let failed = || Verdict::Failed {
            diagnostics: vec![],
            closest: None,
        };
        let pending = || Verdict::Pending {
            diagnostics: vec![],
        };
        assert_eq!(overall(&[report_with(Verdict::Passed)]), StepStatus::Passed);
        assert_eq!(
            overall(&[report_with(pending()), report_with(Verdict::Passed)]),
            StepStatus::Pending
        );
        assert_eq!(
            overall(&[report_with(pending()), report_with(failed())]),
            StepStatus::Failed
        );
        assert_eq!(
            overall(&[
                report_with(failed()),
                report_with(Verdict::Error {
                    message: "x".into()
                })
            ]),
            StepStatus::Error
        );
    }

    #[test]
    fn labelled_adds_lab_labels_and_keeps_others() {
        let obj = serde_json::json!({"metadata": {"name": "a", "labels": {"app": "x"}}});
        let l = labelled(&obj, "configmap");
        assert_eq!(l["metadata"]["labels"]["app"], "x");
        assert_eq!(l["metadata"]["labels"][LAB_LABEL], "configmap");
        assert_eq!(l["metadata"]["labels"][MANAGED_BY_LABEL], "kubelab");
    }
}
