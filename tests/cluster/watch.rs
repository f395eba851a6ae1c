//! Integration tests of the shared watch caches against the fake API server: changes appear
//! in snapshots and as `Change`s, one watch per key however many readers, recovery after the
//! API server restarts (re-list, catching up) or stops (reconnecting with a message), and
//! watches ending with the cluster handle.

use std::time::Duration;

use futures::future::join_all;
use kubelab::cluster::{Change, Cluster, WatchHealth, WatchedKind};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::connected;
use crate::support::FakeApi;

/// Generous bound for conditions that hold within milliseconds normally; recovery after a
/// failure waits for the watch's backoff (about a second, jittered, doubling).
const WAIT: Duration = Duration::from_secs(30);

/// A fake API server with the namespaces the tests use, and a cluster handle on it.
async fn with_namespaces() -> (FakeApi, Cluster, tempfile::TempDir) {
    let (fake, cluster, dir) = connected().await;
    for name in ["fly-k8s", "other"] {
        fake.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
            .expect("namespace");
    }
    (fake, cluster, dir)
}

fn config_map(namespace: &str, name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "data": data})
}

async fn ready(cluster: &Cluster, api_version: &str, kind: &str, ns: Option<&str>) -> WatchedKind {
    let watched = cluster.watch(api_version, kind, ns).await.expect("watch");
    tokio::time::timeout(WAIT, watched.wait_ready())
        .await
        .expect("the initial list completes")
        .expect("the watch runs");
    assert!(watched.is_ready());
    watched
}

/// Receives changes until one names `name`.
async fn change_for(changes: &mut broadcast::Receiver<Change>, name: &str) -> Change {
    tokio::time::timeout(WAIT, async {
        loop {
            match changes.recv().await {
                Ok(change) if change.name == name => return change,
                Ok(_) => {}
                Err(e) => panic!("changes channel: {e}"),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no change for {name}"))
}

/// Waits until `cond` holds on the watched kind.
async fn until(watched: &WatchedKind, what: &str, cond: impl Fn(&WatchedKind) -> bool) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !cond(watched) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} never happened"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn watch_requests(fake: &FakeApi, path: &str) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.path == path)
        .filter(|r| {
            r.query
                .get("watch")
                .is_some_and(|w| w == "true" || w == "1")
        })
        .count()
}

#[tokio::test]
async fn changes_through_the_api_server_reach_the_snapshot_and_the_change_stream() {
    let (fake, cluster, _dir) = with_namespaces().await;
    fake.put(config_map(
        "fly-k8s",
        "base-map",
        json!({"fly-name": "zhangpanqin"}),
    ))
    .expect("put");
    fake.put(config_map(
        "other",
        "base-map",
        json!({"fly-name": "other"}),
    ))
    .expect("put");
    let mut changes = cluster.changes();
    let maps = ready(&cluster, "v1", "ConfigMap", Some("fly-k8s")).await;
    assert_eq!(maps.key().namespace.as_deref(), Some("fly-k8s"));

    let seen = maps.snapshot(Some("base-map"), None);
    assert_eq!(seen.len(), 1, "only fly-k8s is watched: {seen:?}");
    assert_eq!(
        (seen[0]["apiVersion"].as_str(), seen[0]["kind"].as_str()),
        (Some("v1"), Some("ConfigMap"))
    );
    assert_eq!(seen[0]["data"]["fly-name"], "zhangpanqin");
    // The initial list announces its objects too.
    let listed = change_for(&mut changes, "base-map").await;
    assert_eq!(listed.namespace.as_deref(), Some("fly-k8s"));

    fake.put(config_map(
        "fly-k8s",
        "base-map",
        json!({"fly-name": "changed"}),
    ))
    .expect("put");
    let change = change_for(&mut changes, "base-map").await;
    assert_eq!(
        (
            change.api_version.as_str(),
            change.kind.as_str(),
            change.namespace.as_deref()
        ),
        ("v1", "ConfigMap", Some("fly-k8s"))
    );
    // Announced after the cache took it in.
    assert_eq!(
        maps.snapshot(Some("base-map"), None)[0]["data"]["fly-name"],
        "changed"
    );

    fake.put(config_map("fly-k8s", "second", json!({})))
        .expect("put");
    change_for(&mut changes, "second").await;
    let names = |list: Vec<Value>| -> Vec<String> {
        list.iter()
            .filter_map(|o| o["metadata"]["name"].as_str().map(str::to_owned))
            .collect()
    };
    // `app` exists on the test's maps, not on the namespace's `kube-root-ca.crt`.
    assert_eq!(
        names(maps.snapshot(None, Some("app"))),
        ["base-map", "second"]
    );
    assert!(names(maps.snapshot(None, None)).contains(&"kube-root-ca.crt".to_owned()));
    assert_eq!(names(maps.snapshot(None, Some("app=second"))), ["second"]);
    assert_eq!(
        names(maps.snapshot(None, Some("app in (base-map, x)"))),
        ["base-map"]
    );
    // As on the API server, `!=` also selects objects without the label.
    assert_eq!(
        names(maps.snapshot(None, Some("app!=second"))),
        ["base-map", "kube-root-ca.crt"]
    );
    assert!(
        maps.snapshot(None, Some("app=(")).is_empty(),
        "a bad selector matches nothing"
    );

    fake.delete("v1", "ConfigMap", Some("fly-k8s"), "second")
        .expect("delete");
    change_for(&mut changes, "second").await;
    assert!(maps.snapshot(Some("second"), None).is_empty());
}

#[tokio::test]
async fn a_status_written_by_a_controller_reaches_a_cluster_wide_watch() {
    let (fake, cluster, _dir) = with_namespaces().await;
    fake.put(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "busybox", "namespace": "fly-k8s"},
        "spec": {"containers": [{"name": "b", "image": "busybox"}]}}))
        .expect("pod");
    let mut changes = cluster.changes();
    let pods = ready(&cluster, "v1", "Pod", None).await;
    change_for(&mut changes, "busybox").await;
    fake.patch_status(
        "v1",
        "Pod",
        Some("fly-k8s"),
        "busybox",
        json!({"phase": "Running"}),
    )
    .expect("status");
    change_for(&mut changes, "busybox").await;
    let pod = &pods.snapshot_in(Some("fly-k8s"), Some("busybox"), None)[0];
    assert_eq!(pod["status"]["phase"], "Running");
    assert!(
        pods.snapshot_in(Some("elsewhere"), Some("busybox"), None)
            .is_empty()
    );

    // Cluster-scoped kinds ignore the namespace asked for.
    let nodes = cluster
        .watch("v1", "Node", Some("fly-k8s"))
        .await
        .expect("watch");
    assert_eq!(nodes.key().namespace, None);
}

#[tokio::test]
async fn one_watch_per_key_however_many_readers() {
    let (fake, cluster, _dir) = with_namespaces().await;
    fake.put(config_map("fly-k8s", "base-map", json!({})))
        .expect("put");
    let first = ready(&cluster, "v1", "ConfigMap", Some("fly-k8s")).await;
    let path = "/api/v1/namespaces/fly-k8s/configmaps";
    assert!(
        fake.wait_for(WAIT, |f| watch_requests(f, path) >= 1).await,
        "the watch request is made"
    );

    let readers = join_all((0..50).map(|_| {
        let cluster = cluster.clone();
        async move {
            let watched = cluster
                .watch("v1", "ConfigMap", Some("fly-k8s"))
                .await
                .expect("watch");
            watched.snapshot(Some("base-map"), None).len()
        }
    }))
    .await;
    assert!(readers.iter().all(|n| *n == 1), "{readers:?}");
    let again = cluster
        .watch("v1", "ConfigMap", Some("fly-k8s"))
        .await
        .expect("watch");
    assert_eq!(again.key(), first.key());
    assert_eq!(cluster.watched().len(), 1);

    // Another namespace is another watch; then a change flows through both caches' stream.
    let other = ready(&cluster, "v1", "ConfigMap", Some("other")).await;
    assert_eq!(cluster.watched().len(), 2);
    assert!(other.snapshot(None, Some("app")).is_empty());
    let mut changes = cluster.changes();
    fake.put(config_map("fly-k8s", "later", json!({})))
        .expect("put");
    change_for(&mut changes, "later").await;

    assert_eq!(watch_requests(&fake, path), 1, "{:#?}", fake.requests());
    let lists = fake
        .requests()
        .iter()
        .filter(|r| r.path == path && !r.query.contains_key("watch"))
        .count();
    assert_eq!(lists, 1, "one initial list; readers read the cache");
}

/// Waits until the watch state has been `Reconnecting` and then `Live` again.
async fn reconnects_then_lives(states: &mut broadcast::Receiver<(WatchHealth, Option<String>)>) {
    tokio::time::timeout(WAIT, async {
        let mut reconnecting = false;
        loop {
            let (health, message) = states.recv().await.expect("watch state stream");
            match health {
                WatchHealth::Reconnecting => {
                    assert!(message.is_some_and(|m| !m.is_empty()), "a reason is given");
                    reconnecting = true;
                }
                WatchHealth::Live if reconnecting => {
                    assert_eq!(message, None);
                    return;
                }
                WatchHealth::Live => {}
            }
        }
    })
    .await
    .expect("reconnecting, then live again");
}

#[tokio::test]
async fn after_an_api_server_restart_the_cache_catches_up() {
    let (fake, cluster, _dir) = with_namespaces().await;
    fake.put(config_map("fly-k8s", "kept", json!({"v": "1"})))
        .expect("put");
    fake.put(config_map("fly-k8s", "removed", json!({})))
        .expect("put");
    let maps = ready(&cluster, "v1", "ConfigMap", Some("fly-k8s")).await;
    assert_eq!(cluster.watch_state(), (WatchHealth::Live, None));
    let mut states = cluster.watch_state_changes();
    let mut changes = cluster.changes();

    fake.stop().await;
    fake.put(config_map("fly-k8s", "kept", json!({"v": "2"})))
        .expect("put");
    fake.delete("v1", "ConfigMap", Some("fly-k8s"), "removed")
        .expect("delete");
    fake.put(config_map("fly-k8s", "added", json!({})))
        .expect("put");
    fake.restart().await;

    reconnects_then_lives(&mut states).await;
    assert_eq!(cluster.watch_state(), (WatchHealth::Live, None));
    let names: Vec<&str> = vec!["added", "kept"];
    let snapshot = maps.snapshot(None, Some("app"));
    let seen: Vec<&str> = snapshot
        .iter()
        .filter_map(|o| o["metadata"]["name"].as_str())
        .collect();
    assert_eq!(seen, names);
    assert_eq!(maps.snapshot(Some("kept"), None)[0]["data"]["v"], "2");
    // Every object of the re-list is announced, and so is the one found gone.
    let mut announced = Vec::new();
    while let Ok(change) = changes.try_recv() {
        announced.push(change.name);
    }
    for name in ["added", "kept", "removed"] {
        assert!(
            announced.iter().any(|n| n == name),
            "{name} in {announced:?}"
        );
    }

    // And the watch keeps following after recovering.
    fake.put(config_map("fly-k8s", "after", json!({})))
        .expect("put");
    change_for(&mut changes, "after").await;
    until(&maps, "the new object in the cache", |m| {
        !m.snapshot(Some("after"), None).is_empty()
    })
    .await;
}

#[tokio::test]
async fn a_stopped_api_server_makes_the_watches_reconnect_with_a_reason() {
    let (fake, cluster, _dir) = with_namespaces().await;
    let maps = ready(&cluster, "v1", "ConfigMap", Some("fly-k8s")).await;
    let mut states = cluster.watch_state_changes();
    fake.stop().await;
    let (health, message) = tokio::time::timeout(WAIT, states.recv())
        .await
        .expect("the state changes")
        .expect("state stream");
    assert_eq!(health, WatchHealth::Reconnecting);
    let message = message.expect("a reason");
    assert!(message.contains(&fake.url()), "{message}");
    assert_eq!(cluster.watch_state().0, WatchHealth::Reconnecting);
    // The cache keeps its last state for the page meanwhile.
    assert!(maps.is_ready());

    fake.restart().await;
    let recovered = tokio::time::timeout(WAIT, async {
        loop {
            if states.recv().await.expect("state stream").0 == WatchHealth::Live {
                return;
            }
        }
    })
    .await;
    assert!(recovered.is_ok(), "live again after the API server is back");
}

#[tokio::test]
async fn a_cluster_that_is_down_from_the_start_reports_reconnecting() {
    let fake = FakeApi::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let cluster = Cluster::connect(&kubelab::cluster::ClusterOptions {
        kubeconfig: Some(fake.write_kubeconfig(dir.path())),
        context: None,
    })
    .await;
    // Discovery first, so that watch() itself can resolve the kind.
    assert!(
        cluster
            .is_namespaced("v1", "ConfigMap")
            .await
            .expect("discovery")
    );
    let mut states = cluster.watch_state_changes();
    fake.stop().await;
    let maps = cluster
        .watch("v1", "ConfigMap", Some("fly-k8s"))
        .await
        .expect("watch");
    let (health, message) = tokio::time::timeout(WAIT, states.recv())
        .await
        .expect("the state changes")
        .expect("state stream");
    assert_eq!(health, WatchHealth::Reconnecting);
    assert!(message.is_some());
    assert!(!maps.is_ready());
    assert!(maps.snapshot(None, None).is_empty());
}

#[tokio::test]
async fn unknown_kinds_and_missing_clusters_are_refused() {
    let (_fake, cluster, _dir) = with_namespaces().await;
    match cluster.watch("example.com/v1", "Widget", None).await {
        Err(kubelab::cluster::ClusterError::UnknownKind { kind, .. }) => assert_eq!(kind, "Widget"),
        other => panic!("expected UnknownKind, got {other:?}"),
    }
    assert!(cluster.watched().is_empty());
}

#[tokio::test]
async fn watches_end_with_the_cluster_handle() {
    let (fake, cluster, _dir) = with_namespaces().await;
    let mut changes = cluster.changes();
    let maps = ready(&cluster, "v1", "ConfigMap", Some("fly-k8s")).await;
    drop(cluster);
    // Every sender (the registry's and the watch task's) is gone once the task is aborted.
    let closed = tokio::time::timeout(WAIT, async {
        loop {
            match changes.recv().await {
                Err(broadcast::error::RecvError::Closed) => return,
                _ => continue,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "the watch task ended");
    // The cache stays readable, just frozen.
    fake.put(config_map("fly-k8s", "late", json!({})))
        .expect("put");
    assert!(maps.snapshot(Some("late"), None).is_empty());
}
