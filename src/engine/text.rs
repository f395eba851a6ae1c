//! What the placeholders of lab text stand for, for this engine's learner: the namespace they
//! work in, and the name of the cluster's node (looked up when a lab's text names it, and kept
//! for a minute).

use std::sync::RwLock;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::Engine;
use crate::labs::{Lab, Values};

/// The node name shown when the cluster cannot say (colima's node is called so by default).
pub const FALLBACK_NODE: &str = "colima";

/// How long a looked-up node name is used before it is looked up again.
const NODE_NAME_TTL: Duration = Duration::from_secs(60);

/// The node name last read from the cluster, and when.
#[derive(Default)]
pub(super) struct NodeName(RwLock<Option<(String, Instant)>>);

impl NodeName {
    fn fresh(&self) -> Option<String> {
        let cached = self.0.read().ok()?;
        cached
            .as_ref()
            .filter(|(_, at)| at.elapsed() < NODE_NAME_TTL)
            .map(|(name, _)| name.clone())
    }

    fn remember(&self, name: &str) {
        if let Ok(mut cached) = self.0.write() {
            *cached = Some((name.to_owned(), Instant::now()));
        }
    }
}

impl Engine {
    /// The values of `lab`'s placeholders for this learner: their namespace (the lab's locally,
    /// their own in a workshop) and, when the lab's text names it, the cluster's node.
    pub async fn placeholders(&self, lab: &Lab) -> Values {
        let node = if lab.names_node {
            self.node_name().await
        } else {
            FALLBACK_NODE.to_owned()
        };
        Values {
            namespace: self.namespace_for(lab).to_owned(),
            node,
        }
    }

    /// The first node's name (by name), from a short-lived cache or the cluster; the fallback
    /// when the cluster does not answer (the page still shows, with colima's usual name).
    async fn node_name(&self) -> String {
        if let Some(name) = self.inner.node_name.fresh() {
            return name;
        }
        let listed = self.inner.cluster.list("v1", "Node", None, None).await;
        let first = listed.ok().and_then(|nodes| {
            nodes
                .iter()
                .filter_map(|n| n.pointer("/metadata/name").and_then(Value::as_str))
                .min()
                .map(str::to_owned)
        });
        match first {
            Some(name) => {
                self.inner.node_name.remember(&name);
                name
            }
            None => FALLBACK_NODE.to_owned(),
        }
    }
}
