//! Workshop isolation beyond each learner's namespace objects: the learner quota in force
//! (`--learner-quota`), and how learner namespaces are kept from `externalIPs` and legacy token
//! Secrets — the cluster's admission policies, installed at start, or, where the cluster serves
//! none, a sweep every [`SWEEP_EVERY`] that deletes such objects (and a warning the instructor
//! sees).

use std::sync::RwLock;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::{Engine, EngineError};
use crate::cluster::{AdmissionGuard, Breach, ClusterError, QuotaSpec};

/// How often kubelab looks for `externalIPs` Services and token Secrets in learner namespaces
/// when no admission policy refuses them.
pub const SWEEP_EVERY: Duration = Duration::from_secs(10);

/// How long to wait before trying again to install the admission policies when the cluster did
/// not answer.
const RETRY_EVERY: Duration = Duration::from_secs(15);

/// The isolation settings and what the cluster allowed.
#[derive(Debug, Default)]
pub(crate) struct Isolation {
    quota: RwLock<QuotaSpec>,
    guard: RwLock<Option<AdmissionGuard>>,
}

impl Engine {
    /// Sets the ResourceQuota every learner namespace provisioned from now on gets.
    pub fn configure_learner_quota(&self, quota: QuotaSpec) {
        *self
            .inner
            .isolation
            .quota
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = quota;
    }

    /// The learner quota in force.
    pub fn learner_quota(&self) -> QuotaSpec {
        self.inner
            .isolation
            .quota
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// How learner namespaces are kept from `externalIPs` and token Secrets; `None` until
    /// [`Engine::secure_learner_namespaces`] found out.
    pub fn admission_guard(&self) -> Option<AdmissionGuard> {
        self.inner
            .isolation
            .guard
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Installs the admission policies where the cluster serves them (idempotent), remembers
    /// the outcome and logs a warning when it falls back to the sweep.
    pub async fn secure_learner_namespaces(&self) -> Result<AdmissionGuard, EngineError> {
        let guard = match self.inner.cluster.ensure_admission_policies().await {
            Ok(guard) => guard,
            // Served but refused (kubelab lacks the rights, a webhook objects): fall back.
            Err(e @ (ClusterError::Api { .. } | ClusterError::InvalidObject(_))) => {
                AdmissionGuard::Sweep {
                    why: format!("kubelab could not install its admission policies: {e}"),
                }
            }
            Err(e) => return Err(e.into()),
        };
        if let AdmissionGuard::Sweep { why } = &guard {
            tracing::warn!(
                %why,
                sweep_seconds = SWEEP_EVERY.as_secs(),
                "learner namespaces are not protected by admission policies: the API server will \
                 accept Services with spec.externalIPs and service-account-token Secrets there; \
                 kubelab deletes them when its sweep finds them"
            );
        }
        *self
            .inner
            .isolation
            .guard
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(guard.clone());
        Ok(guard)
    }

    /// Deletes `externalIPs` Services and token Secrets from learner namespaces (the fallback
    /// where no admission policy refuses them).
    pub async fn sweep_learner_breaches(&self) -> Result<Vec<Breach>, EngineError> {
        Ok(self.inner.cluster.sweep_learner_breaches().await?)
    }

    /// Workshop mode's isolation task: installs the admission policies (retrying while the
    /// cluster does not answer), then, if the cluster serves none, sweeps learner namespaces
    /// every [`SWEEP_EVERY`].
    pub fn spawn_isolation_guard(&self) -> JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            let guard = loop {
                match engine.secure_learner_namespaces().await {
                    Ok(guard) => break guard,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not install the learner admission policies; trying again");
                        tokio::time::sleep(RETRY_EVERY).await;
                    }
                }
            };
            if guard.enforced() {
                return;
            }
            let mut ticks = tokio::time::interval(SWEEP_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                match engine.sweep_learner_breaches().await {
                    Ok(_) => {}
                    Err(EngineError::ClusterUnavailable(_)) => {}
                    Err(e) => tracing::warn!(error = %e, "could not sweep learner namespaces"),
                }
            }
        })
    }
}
