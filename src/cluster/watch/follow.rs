//! One watch task, the kube-rs way: `watcher(api, config).default_backoff()`, managedFields
//! dropped by `modify`, stored by `reflect` into a reflector store. kube-runtime recovers: an
//! interrupted watch resumes from the last resourceVersion it saw, and only a 410 Gone re-lists.
//! This task adds what kubelab needs on top: a [`Change`] for every object the store took in or
//! let go (including, after a re-list, those found gone while the watch was down), readiness,
//! and the health board (reconnecting with the reason, then live again).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::Api;
use kube::core::DynamicObject;
use kube::runtime::WatchStreamExt;
use kube::runtime::reflector::Store;
use kube::runtime::reflector::store::Writer;
use kube::runtime::watcher::{self, Event};
use tokio::sync::{broadcast, watch};
use tokio::time::Instant;

use super::health::HealthBoard;
use super::{Change, WatchKey};
use crate::cluster::error::{from_kube, from_status};

/// How long a watch the API server accepted after a failure must go without a new error before
/// it counts as live again: a real API server that lost the history answers a resumed watch with
/// 200 and then, at once, an ERROR event with 410 (recording 057), which must not flash "live".
const SETTLE: Duration = Duration::from_secs(1);

/// Everything one watch task owns (nothing that keeps the cluster handle alive).
pub(super) struct Follow {
    pub(super) key: WatchKey,
    pub(super) store: Store<DynamicObject>,
    pub(super) ready: watch::Sender<bool>,
    pub(super) changes: broadcast::Sender<Change>,
    pub(super) board: Arc<HealthBoard>,
    /// The API server's name, for messages.
    pub(super) server: String,
}

/// Where the task stands between the watcher's events.
#[derive(Default)]
struct Progress {
    /// The watch failed and has not been seen working since.
    failing: bool,
    /// When a re-established watch counts as live, if nothing fails before.
    settle: Option<Instant>,
    /// During a (re-)list: the resourceVersion of each object cached when it started.
    before: Option<Versions>,
}

/// An object's namespace and name.
type Identity = (Option<String>, String);

/// The resourceVersion of each cached object.
type Versions = HashMap<Identity, Option<String>>;

/// Follows the kind until the task is aborted (the watcher retries forever, backing off).
/// `answered` is bumped whenever the API server accepts one of this watch's watch requests.
pub(super) async fn run(
    follow: Follow,
    api: Api<DynamicObject>,
    writer: Writer<DynamicObject>,
    mut answered: watch::Receiver<u64>,
) {
    let events = watcher::watcher(api, watcher::Config::default())
        .default_backoff()
        .modify(|object| object.metadata.managed_fields = None)
        .reflect(writer);
    let mut events = std::pin::pin!(events);
    let mut progress = Progress::default();
    loop {
        let settle_at = progress.settle.unwrap_or_else(Instant::now);
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(event)) => follow.on_event(event, &mut progress),
                Some(Err(e)) => {
                    // Watches accepted before this error do not prove that the next one works.
                    answered.borrow_and_update();
                    follow.on_error(e, &mut progress);
                }
                None => {
                    let message = format!("the watch of {} stopped", follow.key);
                    follow.board.set(&follow.key, Some(message));
                    return;
                }
            },
            Ok(()) = answered.changed(), if progress.failing => {
                progress.settle = Some(Instant::now() + SETTLE);
            }
            () = tokio::time::sleep_until(settle_at), if progress.settle.is_some() => {
                follow.live(&mut progress);
            }
        }
    }
}

impl Follow {
    /// Takes in one event the store has already applied, then announces what changed (after,
    /// so that a receiver reading the cache sees the new state).
    fn on_event(&self, event: Event<DynamicObject>, progress: &mut Progress) {
        match event {
            // `reflect` only buffers a (re-)list until `InitDone`: the store still holds what
            // was cached before it.
            Event::Init => progress.before = Some(self.versions()),
            Event::InitApply(_) => {}
            Event::InitDone => {
                let before = progress.before.take().unwrap_or_default();
                // Changes first: whoever hears "ready" or "live" finds them already queued.
                for (namespace, name) in relisted(&before, &self.versions()) {
                    self.announce(namespace, name);
                }
                self.ready.send_replace(true);
                self.live(progress);
            }
            Event::Apply(object) | Event::Delete(object) => {
                let (namespace, name) = identity(&object);
                self.announce(namespace, name);
                self.live(progress);
            }
        }
    }

    /// Marks the watch as reconnecting; kube-runtime's watcher retries after its backoff.
    fn on_error(&self, err: watcher::Error, progress: &mut Progress) {
        progress.failing = true;
        progress.settle = None;
        let message = failure_message(err, &self.server);
        if self.board.set(&self.key, Some(message.clone())) {
            tracing::debug!(key = %self.key, %message, "watch still failing");
        } else {
            tracing::warn!(key = %self.key, %message, "watch failed; retrying");
        }
    }

    fn live(&self, progress: &mut Progress) {
        progress.failing = false;
        progress.settle = None;
        if self.board.set(&self.key, None) {
            tracing::info!(key = %self.key, "watch live again");
        }
    }

    fn announce(&self, namespace: Option<String>, name: String) {
        let _ = self.changes.send(Change {
            api_version: self.key.api_version.clone(),
            kind: self.key.kind.clone(),
            namespace,
            name,
        });
    }

    fn versions(&self) -> Versions {
        self.store
            .state()
            .iter()
            .map(|o| (identity(o), o.metadata.resource_version.clone()))
            .collect()
    }
}

/// What a (re-)list changed, sorted: objects new or at another resourceVersion than before, and
/// objects cached before that the list no longer has (deleted while the watch was down).
fn relisted(before: &Versions, after: &Versions) -> Vec<Identity> {
    let changed = after
        .iter()
        .filter(|(id, version)| before.get(*id) != Some(*version))
        .map(|(id, _)| id);
    let gone = before.keys().filter(|id| !after.contains_key(*id));
    let mut out: Vec<Identity> = changed.chain(gone).cloned().collect();
    out.sort();
    out
}

fn identity(object: &DynamicObject) -> Identity {
    (
        object.metadata.namespace.clone(),
        object.metadata.name.clone().unwrap_or_default(),
    )
}

/// A sentence for the page's "reconnecting" notice.
fn failure_message(err: watcher::Error, server: &str) -> String {
    match err {
        watcher::Error::InitialListFailed(e)
        | watcher::Error::WatchStartFailed(e)
        | watcher::Error::WatchFailed(e) => from_kube(e, server).to_string(),
        watcher::Error::WatchError(status) if status.code == 410 => format!(
            "{server} no longer has the history this watch needs (it may have restarted); \
             re-reading the current state"
        ),
        watcher::Error::WatchError(status) => from_status(&status, server).to_string(),
        watcher::Error::NoResourceVersion => {
            format!("{server} sent a watch answer without a resourceVersion")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Versions, relisted};

    fn versions(entries: &[(&str, &str)]) -> Versions {
        entries
            .iter()
            .map(|(name, rv)| {
                (
                    (Some("ns".to_owned()), (*name).to_owned()),
                    Some((*rv).to_owned()),
                )
            })
            .collect()
    }

    #[test]
    fn a_relist_reports_new_changed_and_gone_objects_only() {
        let before = versions(&[("kept", "1"), ("changed", "2"), ("removed", "3")]);
        let after = versions(&[("kept", "1"), ("changed", "9"), ("added", "10")]);
        let names: Vec<String> = relisted(&before, &after)
            .into_iter()
            .map(|(_, name)| name)
            .collect();
        assert_eq!(names, ["added", "changed", "removed"]);
    }

    #[test]
    fn the_first_list_reports_every_object() {
        let after = versions(&[("b", "1"), ("a", "2")]);
        let names: Vec<String> = relisted(&Versions::new(), &after)
            .into_iter()
            .map(|(_, name)| name)
            .collect();
        assert_eq!(names, ["a", "b"]);
    }
}
