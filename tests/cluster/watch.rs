//! Integration tests of the shared watch caches against the fake API server: changes appear
//! in snapshots and as `Change`s, one watch per key however many readers, managedFields left
//! out of the cache, recovery after a cut watch stream or a network outage (resuming from the
//! last resourceVersion, no re-list) and after the API server restarts (410 Gone: re-list,
//! catching up, deletions announced), reconnecting with a message, and watches ending with the
//! cluster handle.

use std::net::SocketAddr;
use std::time::Duration;

use futures::future::join_all;
use kubelab::cluster::{Change, Cluster, ClusterOptions, WatchHealth, WatchedKind};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{broadcast, watch};

use super::connected;
use crate::support::{FakeApi, RecordedRequest};

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

fn is_watch(request: &RecordedRequest) -> bool {
    request
        .query
        .get("watch")
        .is_some_and(|w| w == "true" || w == "1")
}

fn watch_requests(fake: &FakeApi, path: &str) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.path == path && is_watch(r))
        .count()
}

/// The watch requests made on `path`, in order.
fn watches_of(fake: &FakeApi, path: &str) -> Vec<RecordedRequest> {
    fake.requests()
        .into_iter()
        .filter(|r| r.path == path && is_watch(r))
        .collect()
}

/// How many (re-)lists were made on `path`: GETs that are not watches.
fn lists_of(fake: &FakeApi, path: &str) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == path && !is_watch(r))
        .count()
}

fn names(list: &[Value]) -> Vec<&str> {
    list.iter()
        .filter_map(|o| o["metadata"]["name"].as_str())
        .collect()
}

const MAPS: &str = "/api/v1/namespaces/fly-k8s/configmaps";

/// Waits for the next state the board announces.
async fn next_state(
    states: &mut broadcast::Receiver<(WatchHealth, Option<String>)>,
) -> (WatchHealth, Option<String>) {
    tokio::time::timeout(WAIT, states.recv())
        .await
        .expect("the watch state changes")
        .expect("watch state stream")
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
        names(maps.snapshot(None, Some(&sel("app")))),
        ["base-map", "second"]
    );
    assert!(names(maps.snapshot(None, None)).contains(&"kube-root-ca.crt".to_owned()));
    assert_eq!(
        names(maps.snapshot(None, Some(&sel("app=second")))),
        ["second"]
    );
    assert_eq!(
        names(maps.snapshot(None, Some(&sel("app in (base-map, x)")))),
        ["base-map"]
    );
    // As on the API server, `!=` also selects objects without the label.
    assert_eq!(
        names(maps.snapshot(None, Some(&sel("app!=second")))),
        ["base-map", "kube-root-ca.crt"]
    );
    // The grammar validation accepts, `key>n` included, filters the cache as the API server
    // filters a list.
    assert!(names(maps.snapshot(None, Some(&sel("app,x>1")))).is_empty());

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
    assert!(other.snapshot(None, Some(&sel("app"))).is_empty());
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
    let snapshot = maps.snapshot(None, Some(&sel("app")));
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
        public_api: None,
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

#[tokio::test]
async fn cached_objects_leave_managed_fields_out() {
    let (fake, cluster, _dir) = with_namespaces().await;
    cluster
        .apply(
            &config_map("fly-k8s", "applied", json!({"v": "1"})),
            "fly-k8s",
        )
        .await
        .expect("apply");
    let stored = fake
        .get("v1", "ConfigMap", Some("fly-k8s"), "applied")
        .expect("stored");
    assert_eq!(stored["metadata"]["managedFields"][0]["manager"], "kubelab");
    let mut changes = cluster.changes();
    let maps = ready(&cluster, "v1", "ConfigMap", Some("fly-k8s")).await;

    let listed = &maps.snapshot(Some("applied"), None)[0];
    assert_eq!(listed["data"]["v"], "1");
    assert!(
        listed["metadata"].get("managedFields").is_none(),
        "{listed}"
    );
    // The rest of the metadata is kept.
    assert_eq!(listed["metadata"]["labels"]["app"], "applied");
    assert!(listed["metadata"]["resourceVersion"].is_string());
    assert!(listed["metadata"]["uid"].is_string());

    // Objects arriving on the watch lose them too.
    fake.put(config_map("fly-k8s", "applied", json!({"v": "2"})))
        .expect("put");
    change_for(&mut changes, "applied").await;
    until(&maps, "the change in the cache", |m| {
        m.snapshot(Some("applied"), None)[0]["data"]["v"] == "2"
    })
    .await;
    let watched = &maps.snapshot(Some("applied"), None)[0];
    assert!(
        watched["metadata"].get("managedFields").is_none(),
        "{watched}"
    );
    assert!(
        fake.get("v1", "ConfigMap", Some("fly-k8s"), "applied")
            .expect("stored")["metadata"]["managedFields"]
            .is_array(),
        "only the cache drops them"
    );
}

#[tokio::test]
async fn a_cut_watch_stream_resumes_from_its_last_resource_version_without_a_relist() {
    let (fake, cluster, _dir) = with_namespaces().await;
    fake.put(config_map("fly-k8s", "kept", json!({})))
        .expect("put");
    let mut changes = cluster.changes();
    let maps = ready(&cluster, "v1", "ConfigMap", Some("fly-k8s")).await;
    let mut states = cluster.watch_state_changes();
    fake.put(config_map("fly-k8s", "before-cut", json!({})))
        .expect("put");
    change_for(&mut changes, "before-cut").await;
    let seen = maps.snapshot(Some("before-cut"), None)[0]["metadata"]["resourceVersion"]
        .as_str()
        .expect("resourceVersion")
        .to_owned();

    // The API server ends every watch stream (as a load balancer or its own timeout does).
    fake.drop_watches();
    assert!(
        fake.wait_for(WAIT, |f| watch_requests(f, MAPS) >= 2).await,
        "the watch is made again"
    );
    let resumed = &watches_of(&fake, MAPS)[1];
    assert_eq!(
        resumed.query.get("resourceVersion"),
        Some(&seen),
        "resumed from the last object seen: {resumed:?}"
    );
    fake.put(config_map("fly-k8s", "after-cut", json!({})))
        .expect("put");
    change_for(&mut changes, "after-cut").await;
    assert_eq!(
        names(&maps.snapshot(None, Some(&sel("app")))),
        ["after-cut", "before-cut", "kept"]
    );

    assert_eq!(
        lists_of(&fake, MAPS),
        1,
        "no re-list: {:#?}",
        fake.requests()
    );
    // Nothing failed, so the board never left "live".
    assert!(states.try_recv().is_err());
    assert_eq!(cluster.watch_state(), (WatchHealth::Live, None));
}

/// A TCP proxy between kubelab and the fake API server, standing for the network: `cut` breaks
/// every connection and refuses new ones, `mend` lets them through again. The API server (and
/// its watch history) is untouched meanwhile.
struct Link {
    url: String,
    up: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Link {
    async fn to(fake: &FakeApi) -> Link {
        let target: SocketAddr = fake
            .url()
            .trim_start_matches("http://")
            .parse()
            .expect("the fake's address");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the link");
        let url = format!("http://{}", listener.local_addr().expect("link address"));
        let (up, state) = watch::channel(true);
        let task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let mut state = state.clone();
                if !*state.borrow_and_update() {
                    continue;
                }
                tokio::spawn(async move {
                    let Ok(mut server) = TcpStream::connect(target).await else {
                        return;
                    };
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = state.wait_for(|up| !*up) => {}
                    }
                });
            }
        });
        Link { url, up, task }
    }

    fn cut(&self) {
        self.up.send_replace(false);
    }

    fn mend(&self) {
        self.up.send_replace(true);
    }

    /// A cluster handle that reaches `fake` through this link.
    async fn cluster(&self, fake: &FakeApi, dir: &std::path::Path) -> Cluster {
        let path = dir.join("kubeconfig-through-link");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: link\n  cluster:\n    server: {url}\ncontexts:\n- name: link\n  context:\n    cluster: link\n    user: admin\ncurrent-context: link\nusers:\n- name: admin\n  user:\n    token: {token}\n",
            url = self.url,
            token = fake.token()
        );
        std::fs::write(&path, text).expect("write the kubeconfig");
        Cluster::connect(&ClusterOptions {
            kubeconfig: Some(path),
            context: None,
            public_api: None,
        })
        .await
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn after_a_network_outage_the_watch_resumes_and_the_board_goes_live_again() {
    let (fake, _direct, dir) = with_namespaces().await;
    fake.put(config_map("fly-k8s", "kept", json!({})))
        .expect("put");
    fake.put(config_map("fly-k8s", "removed", json!({})))
        .expect("put");
    let link = Link::to(&fake).await;
    let cluster = link.cluster(&fake, dir.path()).await;
    let maps = ready(&cluster, "v1", "ConfigMap", Some("fly-k8s")).await;
    let mut states = cluster.watch_state_changes();
    let mut changes = cluster.changes();

    assert!(
        fake.wait_for(WAIT, |f| watch_requests(f, MAPS) >= 1).await,
        "the watch request is made"
    );

    link.cut();
    let (health, message) = next_state(&mut states).await;
    assert_eq!(health, WatchHealth::Reconnecting);
    let message = message.expect("a reason");
    assert!(message.contains(&link.url), "{message}");
    // The cluster changes while kubelab cannot see it.
    fake.put(config_map("fly-k8s", "added", json!({})))
        .expect("put");
    fake.delete("v1", "ConfigMap", Some("fly-k8s"), "removed")
        .expect("delete");
    assert!(maps.is_ready(), "the cache keeps its last state meanwhile");

    link.mend();
    assert_eq!(next_state(&mut states).await, (WatchHealth::Live, None));
    // The resumed watch replays what happened meanwhile.
    change_for(&mut changes, "added").await;
    change_for(&mut changes, "removed").await;
    until(&maps, "the cache caught up", |m| {
        names(&m.snapshot(None, Some(&sel("app")))) == ["added", "kept"]
    })
    .await;

    // A second outage in which nothing changes: no event will come, yet the resumed watch
    // counts as live once the API server has accepted it.
    link.cut();
    assert_eq!(next_state(&mut states).await.0, WatchHealth::Reconnecting);
    link.mend();
    assert_eq!(next_state(&mut states).await, (WatchHealth::Live, None));
    assert_eq!(
        names(&maps.snapshot(None, Some(&sel("app")))),
        ["added", "kept"]
    );

    assert_eq!(
        lists_of(&fake, MAPS),
        1,
        "no re-list: {:#?}",
        fake.requests()
    );
    let watches = watches_of(&fake, MAPS);
    assert!(watches.len() >= 3, "{watches:#?}");
    assert!(
        watches
            .iter()
            .all(|w| w.query.get("resourceVersion").is_some_and(|rv| rv != "0")),
        "every watch starts from a resourceVersion seen: {watches:#?}"
    );
}

#[tokio::test]
async fn an_expired_history_relists_and_announces_what_was_deleted_meanwhile() {
    let (fake, cluster, _dir) = with_namespaces().await;
    fake.put(config_map("fly-k8s", "kept", json!({})))
        .expect("put");
    fake.put(config_map("fly-k8s", "removed", json!({})))
        .expect("put");
    let maps = ready(&cluster, "v1", "ConfigMap", Some("fly-k8s")).await;
    let mut states = cluster.watch_state_changes();
    let mut changes = cluster.changes();
    let stale = fake.resource_version();

    // Deleted while the API server is down; it comes back without the old history (410 Gone).
    fake.stop().await;
    fake.delete("v1", "ConfigMap", Some("fly-k8s"), "removed")
        .expect("delete");
    fake.clear_requests();
    fake.restart().await;

    let mut seen = Vec::new();
    let relisted = tokio::time::timeout(WAIT, async {
        loop {
            let state = states.recv().await.expect("watch state stream");
            seen.push(state.clone());
            if state.0 == WatchHealth::Live {
                return;
            }
        }
    })
    .await;
    assert!(relisted.is_ok(), "live again; states seen: {seen:?}");
    assert!(
        seen.iter()
            .any(|(h, m)| *h == WatchHealth::Reconnecting && m.is_some()),
        "{seen:?}"
    );
    // "Live" only once the re-list is in the cache (not when the stale watch was accepted).
    assert_eq!(names(&maps.snapshot(None, Some(&sel("app")))), ["kept"]);
    assert!(maps.snapshot(Some("removed"), None).is_empty());
    let gone = change_for(&mut changes, "removed").await;
    assert_eq!(gone.namespace.as_deref(), Some("fly-k8s"));

    // The stale watch was refused, so the watcher listed again, then watched from the new list.
    let requests = fake.requests();
    let stale_watch = requests
        .iter()
        .position(|r| {
            r.path == MAPS
                && is_watch(r)
                && r.query
                    .get("resourceVersion")
                    .and_then(|rv| rv.parse::<u64>().ok())
                    .is_some_and(|rv| rv <= stale)
        })
        .expect("a watch from the old resourceVersion");
    let relist = requests
        .iter()
        .position(|r| r.path == MAPS && r.method == "GET" && !is_watch(r))
        .expect("a re-list");
    assert!(stale_watch < relist, "{requests:#?}");
    assert_eq!(lists_of(&fake, MAPS), 1);
}

/// A label selector as a check's `find.selector` is parsed when the labs load.
fn sel(text: &str) -> kubelab::checks::Selector {
    kubelab::checks::parse_selector(text).expect("a valid selector")
}
