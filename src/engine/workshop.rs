//! Workshops: an instructor creates one, learners join it with a code and get their own
//! namespace (isolation objects from `cluster`), and the instructor follows, resets, extends and
//! ends it — which removes every namespace it created.

use std::time::Duration;

use rand::Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::cluster::{ApiReach, ClusterError, LearnerSpace};
use crate::labs::Mode;
use crate::store::{JoinOutcome, LearnerRecord, NewWorkshop, Workshop};

use super::names::clean_name;
use super::{Engine, EngineError, Learner, StepState, StepStatus, now_text};

/// What an instructor asks for when creating a workshop.
#[derive(Debug, Clone)]
pub struct WorkshopRequest {
    pub name: String,
    /// The labs it offers (ids); each must support workshop mode.
    pub labs: Vec<String>,
    /// How many learners may join (1..=500).
    pub capacity: u32,
    /// How long it runs from now.
    pub duration: Duration,
}

/// A learner who just joined: their record and the session token for their browser's cookie
/// (only its hash is stored).
#[derive(Debug, Clone)]
pub struct Joined {
    pub learner: LearnerRecord,
    pub workshop: Workshop,
    /// The raw session token.
    pub session: String,
}

/// The instructor's view of a workshop: every learner's state in every step of its labs.
#[derive(Debug, Clone, Serialize)]
pub struct Grid {
    pub workshop: Workshop,
    /// Columns: (lab id, step id), in order.
    pub steps: Vec<(String, String)>,
    /// One row per learner, in join order.
    pub learners: Vec<GridRow>,
}

/// One learner's row of the grid.
#[derive(Debug, Clone, Serialize)]
pub struct GridRow {
    pub learner: LearnerRecord,
    /// One cell per column of [`Grid::steps`].
    pub cells: Vec<GridCell>,
}

/// One learner's state in one step.
#[derive(Debug, Clone, Serialize)]
pub struct GridCell {
    /// Not started, in progress, passed or regressed — the same life cycle the learner sees.
    pub state: StepState,
    /// The step's last verdict, while in progress (failing, on its way...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<StepStatus>,
    /// Minutes since the learner started the step, while it is not done.
    pub stuck_minutes: Option<i64>,
}

/// The SHA-256 of a session or instructor token, hex.
pub fn token_hash(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Constant-time equality of two byte strings of public length.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A new random token (256 bits, hex).
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn later(duration: Duration) -> String {
    let then = OffsetDateTime::now_utc() + duration;
    then.replace_nanosecond(0)
        .unwrap_or(then)
        .format(&Rfc3339)
        .unwrap_or_else(|_| now_text())
}

fn is_past(timestamp: &str) -> bool {
    OffsetDateTime::parse(timestamp, &Rfc3339).is_ok_and(|t| t <= OffsetDateTime::now_utc())
}

/// Why a workshop cannot be joined or used.
fn closed(workshop: &Workshop) -> Option<EngineError> {
    if workshop.ended_at.is_some() {
        Some(EngineError::WorkshopClosed(format!(
            "the workshop “{}” has ended",
            workshop.name
        )))
    } else if is_past(&workshop.expires_at) {
        Some(EngineError::WorkshopClosed(format!(
            "the workshop “{}” expired at {}",
            workshop.name, workshop.expires_at
        )))
    } else {
        None
    }
}

impl Engine {
    /// Creates a workshop offering `request.labs` (all must exist and support workshops).
    pub async fn create_workshop(&self, request: WorkshopRequest) -> Result<Workshop, EngineError> {
        let name = clean_name(&request.name);
        let name = name.as_str();
        if name.is_empty() || name.chars().count() > 80 {
            return Err(EngineError::BadRequest(
                "give the workshop a name of 1 to 80 characters".into(),
            ));
        }
        if !(1..=500).contains(&request.capacity) {
            return Err(EngineError::BadRequest(
                "capacity must be between 1 and 500 learners".into(),
            ));
        }
        let mut labs: Vec<String> = Vec::new();
        for lab in request.labs {
            if !labs.contains(&lab) {
                labs.push(lab);
            }
        }
        if labs.is_empty() {
            return Err(EngineError::BadRequest("choose at least one lab".into()));
        }
        for id in &labs {
            let lab = self.lab(id)?;
            if !lab.modes.contains(&Mode::Workshop) {
                return Err(EngineError::BadRequest(format!(
                    "lab {id:?} needs the learner's own machine and cannot be offered in a workshop"
                )));
            }
        }
        let hours = request.duration.as_secs().div_ceil(3600);
        if !(1..=72).contains(&hours) {
            return Err(EngineError::BadRequest(
                "a workshop lasts between 1 and 72 hours".into(),
            ));
        }
        Ok(self
            .inner
            .store
            .create_workshop(&NewWorkshop {
                name: name.to_owned(),
                labs,
                capacity: request.capacity,
                created_at: now_text(),
                expires_at: later(request.duration),
            })
            .await?)
    }

    /// Every workshop, newest first.
    pub async fn workshops(&self) -> Result<Vec<Workshop>, EngineError> {
        Ok(self.inner.store.workshops().await?)
    }

    /// One workshop.
    pub async fn workshop(&self, id: &str) -> Result<Workshop, EngineError> {
        self.inner
            .store
            .workshop(id)
            .await?
            .ok_or_else(|| EngineError::UnknownWorkshop(id.to_owned()))
    }

    /// A learner joins with the workshop's code and a display name: a place is taken
    /// atomically, then their namespace is provisioned on the cluster.
    pub async fn join(&self, code: &str, display_name: &str) -> Result<Joined, EngineError> {
        let display_name = clean_name(display_name);
        let display_name = display_name.as_str();
        if display_name.is_empty() || display_name.chars().count() > 40 {
            return Err(EngineError::BadRequest(
                "give a name of 1 to 40 characters".into(),
            ));
        }
        let workshop = self
            .inner
            .store
            .workshop_by_code(code.trim())
            .await?
            .ok_or_else(|| EngineError::UnknownWorkshop(code.trim().to_owned()))?;
        if let Some(e) = closed(&workshop) {
            return Err(e);
        }
        let suffix: u64 = rand::rng().random_range(0..1 << 48);
        let namespace = format!("kl-{}-{suffix:012x}", workshop.code.to_ascii_lowercase());
        let session = new_token();
        let outcome = self
            .inner
            .store
            .join_workshop(
                &workshop.id,
                display_name,
                &namespace,
                &token_hash(&session),
                &now_text(),
                workshop.capacity,
            )
            .await?;
        let learner = match outcome {
            JoinOutcome::Joined(learner) => learner,
            JoinOutcome::Full => {
                return Err(EngineError::WorkshopClosed(format!(
                    "the workshop “{}” is full ({} learners)",
                    workshop.name, workshop.capacity
                )));
            }
            JoinOutcome::Closed => {
                return Err(EngineError::WorkshopClosed(format!(
                    "the workshop “{}” has ended",
                    workshop.name
                )));
            }
        };
        let mut space = LearnerSpace::new(&namespace, &workshop.id, &learner.id);
        space.quota = self.learner_quota();
        let provisioned = self.inner.cluster.provision_learner(&space).await;
        // The workshop may have ended while the namespace was being made (its deletion then
        // makes the provisioning fail): undo it and say that it ended, not what the API server
        // answered to a namespace being deleted.
        let now_closed = self
            .inner
            .store
            .workshop(&workshop.id)
            .await?
            .as_ref()
            .and_then(closed);
        if provisioned.is_err() || now_closed.is_some() {
            // No half-made learners: the place is given back.
            if now_closed.is_some() {
                let _ = self.inner.cluster.delete_learner(&namespace).await;
            }
            let _ = self.inner.store.remove_learner(&learner.id).await;
        }
        if let Some(now_closed) = now_closed {
            return Err(now_closed);
        }
        provisioned?;
        Ok(Joined {
            learner,
            workshop,
            session,
        })
    }

    /// The learner (and workshop) behind a session token, if the workshop is still running.
    pub async fn session(
        &self,
        token: &str,
    ) -> Result<Option<(Workshop, LearnerRecord)>, EngineError> {
        let Some(learner) = self
            .inner
            .store
            .learner_by_session(&token_hash(token), &now_text())
            .await?
        else {
            return Ok(None);
        };
        let Some(workshop) = self.inner.store.workshop(&learner.workshop_id).await? else {
            return Ok(None);
        };
        if closed(&workshop).is_some() {
            return Ok(None);
        }
        Ok(Some((workshop, learner)))
    }

    /// The workshop behind a session token when it has ended or expired (the learner's browser
    /// still has the cookie): the join page says so instead of greeting them blank.
    pub async fn ended_workshop_of(&self, token: &str) -> Result<Option<Workshop>, EngineError> {
        let Some(learner) = self
            .inner
            .store
            .learner_by_session(&token_hash(token), &now_text())
            .await?
        else {
            return Ok(None);
        };
        let workshop = self.inner.store.workshop(&learner.workshop_id).await?;
        Ok(workshop.filter(|w| closed(w).is_some()))
    }

    /// Whether the learner is still in their workshop and it still runs (not ended, expired,
    /// nor the learner removed): what a live stream opened earlier asks now and then.
    pub async fn learner_active(&self, learner_id: &str) -> Result<bool, EngineError> {
        let Some(learner) = self.inner.store.learner(learner_id).await? else {
            return Ok(false);
        };
        let workshop = self.inner.store.workshop(&learner.workshop_id).await?;
        Ok(workshop.as_ref().is_some_and(|w| closed(w).is_none()))
    }

    /// The engine acting for a workshop learner.
    pub fn for_record(&self, learner: &LearnerRecord) -> Engine {
        self.for_learner(Learner::in_namespace(&learner.id, &learner.namespace))
    }

    /// A kubeconfig for the learner's own namespace, valid until the workshop expires.
    pub async fn learner_kubeconfig(
        &self,
        workshop: &Workshop,
        learner: &LearnerRecord,
    ) -> Result<String, EngineError> {
        let left = OffsetDateTime::parse(&workshop.expires_at, &Rfc3339)
            .map(|t| (t - OffsetDateTime::now_utc()).whole_seconds().max(0))
            .unwrap_or(0);
        let expiry = Duration::from_secs(u64::try_from(left).unwrap_or(0).max(600));
        Ok(self
            .inner
            .cluster
            .learner_kubeconfig(&learner.namespace, expiry)
            .await?)
    }

    /// Whether the API server address in learner kubeconfigs can work from learners' own
    /// computers, given whether kubelab listens only on a loopback address.
    pub fn learner_api_reach(&self, listening_on_loopback: bool) -> ApiReach {
        self.inner.cluster.learner_api_reach(listening_on_loopback)
    }

    /// Resets one learner's lab, or every lab of the workshop when `lab` is `None`.
    pub async fn reset_learner(
        &self,
        workshop_id: &str,
        learner_id: &str,
        lab: Option<&str>,
    ) -> Result<(), EngineError> {
        let workshop = self.workshop(workshop_id).await?;
        let learner = self
            .inner
            .store
            .learner(learner_id)
            .await?
            .filter(|l| l.workshop_id == workshop.id)
            .ok_or_else(|| EngineError::UnknownLearner(learner_id.to_owned()))?;
        let scoped = self.for_record(&learner);
        match lab {
            Some(lab) if !workshop.labs.iter().any(|l| l == lab) => {
                return Err(EngineError::UnknownLab(lab.to_owned()));
            }
            Some(lab) => {
                scoped.reset(lab).await?;
            }
            None => {
                for lab in &workshop.labs {
                    scoped.reset(lab).await?;
                }
            }
        }
        Ok(())
    }

    /// Gives a running workshop more time.
    pub async fn extend_workshop(&self, id: &str, by: Duration) -> Result<Workshop, EngineError> {
        let workshop = self.workshop(id).await?;
        if workshop.ended_at.is_some() {
            return Err(EngineError::WorkshopClosed(format!(
                "the workshop “{}” has ended",
                workshop.name
            )));
        }
        let from = OffsetDateTime::parse(&workshop.expires_at, &Rfc3339)
            .ok()
            .filter(|t| *t > OffsetDateTime::now_utc())
            .unwrap_or_else(OffsetDateTime::now_utc);
        // At most 72 hours after creation, however often it is extended.
        let latest = OffsetDateTime::parse(&workshop.created_at, &Rfc3339)
            .map(|t| t + Duration::from_secs(72 * 3600))
            .unwrap_or_else(|_| OffsetDateTime::now_utc() + Duration::from_secs(72 * 3600));
        let until = (from + by).min(latest);
        let until = until.replace_nanosecond(0).unwrap_or(until);
        let until = until.format(&Rfc3339).unwrap_or_else(|_| now_text());
        self.inner.store.extend_workshop(id, &until).await?;
        self.workshop(id).await
    }

    /// Ends a workshop: every namespace it created is deleted; learners' sessions stop working.
    /// Returns how many namespaces were deleted.
    pub async fn end_workshop(&self, id: &str) -> Result<usize, EngineError> {
        let workshop = self.workshop(id).await?;
        self.inner
            .store
            .end_workshop(&workshop.id, &now_text())
            .await?;
        for learner in self.inner.store.learners(&workshop.id).await? {
            self.forget_learner(&learner.id);
            self.end_terminals_of(&learner.id, "the workshop ended");
        }
        self.clean_up(&workshop).await
    }

    /// Deletes the namespaces an ended workshop still has (after a cluster outage, or a join
    /// that raced the end); returns how many were deleted.
    async fn clean_up(&self, workshop: &Workshop) -> Result<usize, EngineError> {
        let mut deleted = 0;
        for namespace in self.inner.cluster.learner_namespaces(&workshop.id).await? {
            match self.inner.cluster.delete_learner(&namespace).await {
                Ok(true) => deleted += 1,
                Ok(false) => {}
                Err(ClusterError::Unavailable { message }) => {
                    return Err(EngineError::ClusterUnavailable(message));
                }
                Err(e) => {
                    tracing::warn!(%namespace, error = %e, "could not delete a learner namespace")
                }
            }
        }
        Ok(deleted)
    }

    /// Ends every running workshop whose time is up, and finishes cleaning up ended ones
    /// (called periodically); one failing workshop does not stop the others.
    pub async fn end_expired_workshops(&self) -> Result<usize, EngineError> {
        let mut ended = 0;
        for workshop in self.workshops().await? {
            let result = if workshop.ended_at.is_none() && is_past(&workshop.expires_at) {
                ended += 1;
                self.end_workshop(&workshop.id).await
            } else if workshop.ended_at.is_some() {
                self.clean_up(&workshop).await
            } else {
                Ok(0)
            };
            if let Err(e) = result {
                tracing::warn!(workshop = %workshop.id, error = %e, "ending a workshop is not finished yet");
            }
        }
        Ok(ended)
    }

    /// The instructor's grid: learners × steps of the workshop's labs.
    pub async fn grid(&self, id: &str) -> Result<Grid, EngineError> {
        let workshop = self.workshop(id).await?;
        let mut steps = Vec::new();
        for lab in &workshop.labs {
            if let Some(lab) = self.catalog().lab(lab) {
                steps.extend(lab.steps.iter().map(|s| (lab.id.clone(), s.id.clone())));
            }
        }
        let now = OffsetDateTime::now_utc();
        let mut rows = Vec::new();
        for learner in self.inner.store.learners(&workshop.id).await? {
            let progress = self.for_record(&learner).all_progress().await?;
            let cells = steps
                .iter()
                .map(|(lab, step)| {
                    let step = progress.get(lab).and_then(|p| p.step(step));
                    let state = step.map_or(StepState::NotStarted, |s| s.state);
                    let status = step
                        .and_then(|s| s.record.status)
                        .filter(|_| state == StepState::InProgress);
                    let stuck_minutes = step
                        .and_then(|s| s.record.started_at)
                        .filter(|_| !state.is_done())
                        .map(|t| (now - t).whole_minutes());
                    GridCell {
                        state,
                        status,
                        stuck_minutes,
                    }
                })
                .collect();
            rows.push(GridRow { learner, cells });
        }
        Ok(Grid {
            workshop,
            steps,
            learners: rows,
        })
    }

    /// Checks the instructor credential against the stored hash (the one last set with
    /// [`Engine::set_instructor_token`]), comparing in constant time.
    pub async fn instructor_allowed(&self, token: &str) -> Result<bool, EngineError> {
        Ok(self
            .inner
            .store
            .instructor_hash()
            .await?
            .is_some_and(|hash| same(hash.as_bytes(), token_hash(token).as_bytes())))
    }

    /// Stores the instructor credential (hashed), replacing any earlier one.
    pub async fn set_instructor_token(&self, token: &str) -> Result<(), EngineError> {
        Ok(self
            .inner
            .store
            .set_instructor_hash(&token_hash(token))
            .await?)
    }

    /// The key that signs cookies, shared through the database (first start proposes it).
    pub async fn cookie_key(&self, proposed: &str) -> Result<String, EngineError> {
        Ok(self.inner.store.cookie_key(proposed).await?)
    }

    /// Whether an instructor credential has been set.
    pub async fn has_instructor(&self) -> Result<bool, EngineError> {
        Ok(self.inner.store.instructor_hash().await?.is_some())
    }
}
