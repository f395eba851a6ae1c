//! The health board: which watches are failing and why, aggregated into one [`WatchHealth`] and
//! reason that pages show ("reconnecting: <reason>") and whose transitions are broadcast in
//! order.

use std::collections::BTreeMap;
use std::sync::Mutex;

use tokio::sync::broadcast;

use super::{WatchHealth, WatchKey};

/// The aggregated health of all watches of one cluster handle.
pub(super) struct HealthBoard {
    board: Mutex<Board>,
    updates: broadcast::Sender<(WatchHealth, Option<String>)>,
}

struct Board {
    failing: BTreeMap<WatchKey, String>,
    current: (WatchHealth, Option<String>),
}

impl Default for HealthBoard {
    fn default() -> Self {
        HealthBoard {
            board: Mutex::new(Board {
                failing: BTreeMap::new(),
                current: (WatchHealth::Live, None),
            }),
            updates: broadcast::channel(64).0,
        }
    }
}

impl HealthBoard {
    /// Records whether `key` fails (and why); returns whether it was failing before.
    pub(super) fn set(&self, key: &WatchKey, failure: Option<String>) -> bool {
        let mut guard = self.board.lock().unwrap_or_else(|e| e.into_inner());
        let Board { failing, current } = &mut *guard;
        let was_failing = match failure {
            Some(message) => failing.insert(key.clone(), message),
            None => failing.remove(key),
        }
        .is_some();
        let next = match failing.values().next() {
            Some(message) => (WatchHealth::Reconnecting, Some(message.clone())),
            None => (WatchHealth::Live, None),
        };
        if *current != next {
            *current = next.clone();
            // Sent under the lock so receivers see the transitions in order.
            let _ = self.updates.send(next);
        }
        was_failing
    }

    /// The state now.
    pub(super) fn current(&self) -> (WatchHealth, Option<String>) {
        let guard = self.board.lock().unwrap_or_else(|e| e.into_inner());
        guard.current.clone()
    }

    /// Every later transition, in order.
    pub(super) fn subscribe(&self) -> broadcast::Receiver<(WatchHealth, Option<String>)> {
        self.updates.subscribe()
    }
}
