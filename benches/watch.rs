//! Memory and recovery of the shared watch caches: lists thousands of Pods shaped like the
//! recorded running Pod (file 071, with managedFields) from the fake Kubernetes API server into
//! kubelab's cache and into plain kube-runtime reflector stores, and prints the heap each store
//! holds (counted by the global allocator) per cached object; then cuts the network under a
//! warm cache and prints what recovering cost (requests, changes announced, time until live).
//! See `bench/README.md` for how to run and read it.

// The fake's own unit tests are compiled out here (no cfg(test)), leaving their imports unused,
// and this bench drives only a few parts of the fake; the integration tests, which use all of
// it, are where unused code is reported.
#[allow(unused_imports, dead_code)]
#[path = "../tests/support/mod.rs"]
mod support;

use std::alloc::System;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use cap::Cap;
use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::reflector::store::Writer;
use kube::runtime::{WatchStreamExt, watcher};
use kubelab::cluster::{Cluster, ClusterOptions, WatchHealth};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast::error::TryRecvError;
use tokio::sync::watch;

use support::FakeApi;

/// Counts every byte the process holds on the heap.
#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

const NAMESPACE: &str = "bench";
const PODS: &str = "/api/v1/namespaces/bench/pods";
const WAIT: Duration = Duration::from_secs(120);

/// A Pod as the recorded API server returned it once it ran (three managedFields entries).
fn recorded_pod() -> Value {
    support::discovery::recorded("071")["response"]["body"].clone()
}

/// Fills the fake with `count` Pods like the recorded one, written the way the cluster writes
/// them (the spec, then the status through `/status`), so each carries two managedFields
/// entries computed by the fake.
fn fill(fake: &FakeApi, count: usize) {
    fake.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}))
        .expect("namespace");
    let template = recorded_pod();
    for i in 0..count {
        let name = format!("nginx-deployment-747889d48f-{i:05}");
        let mut pod = template.clone();
        let status = pod["status"].take();
        let meta = pod["metadata"].as_object_mut().expect("metadata");
        for field in [
            "managedFields",
            "resourceVersion",
            "uid",
            "creationTimestamp",
        ] {
            meta.remove(field);
        }
        meta.insert("name".into(), json!(name));
        meta.insert("namespace".into(), json!(NAMESPACE));
        pod.as_object_mut().expect("pod").remove("status");
        fake.put(pod).expect("pod");
        fake.patch_status("v1", "Pod", Some(NAMESPACE), &name, status)
            .expect("status");
    }
}

/// Heap bytes held now, after a pause that lets transient buffers (list pages) go.
async fn heap_now() -> usize {
    tokio::time::sleep(Duration::from_millis(300)).await;
    ALLOCATOR.allocated()
}

/// Lists the Pods into a plain kube-runtime reflector store (the pipeline kubelab's cache used
/// before, with `strip` false) and returns the heap it holds; the store is dropped after.
async fn reflector_heap(kubeconfig: &Path, strip: bool) -> usize {
    let config = kube::Config::from_custom_kubeconfig(
        kube::config::Kubeconfig::read_from(kubeconfig).expect("kubeconfig"),
        &kube::config::KubeConfigOptions::default(),
    )
    .await
    .expect("config");
    let client = kube::Client::try_from(config).expect("client");
    let resource = ApiResource::erase::<k8s_openapi::api::core::v1::Pod>(&());
    let before = heap_now().await;
    let api: Api<DynamicObject> = Api::namespaced_with(client, NAMESPACE, &resource);
    let writer = Writer::new(resource);
    let store = writer.as_reader();
    let events = watcher(api, watcher::Config::default()).default_backoff();
    let task = if strip {
        let events = events
            .modify(|o| o.metadata.managed_fields = None)
            .reflect(writer);
        tokio::spawn(events.for_each(|_| async {}))
    } else {
        tokio::spawn(events.reflect(writer).for_each(|_| async {}))
    };
    tokio::time::timeout(WAIT, store.wait_until_ready())
        .await
        .expect("listed in time")
        .expect("listed");
    let held = heap_now().await.saturating_sub(before);
    task.abort();
    held
}

/// Starts kubelab's shared cache of the Pods and returns the heap it holds.
async fn kubelab_heap(kubeconfig: &Path) -> (usize, usize) {
    let cluster = connect(kubeconfig).await;
    // Discovery first: its cache is not the watch's.
    cluster.is_namespaced("v1", "Pod").await.expect("discovery");
    let before = heap_now().await;
    let pods = cluster
        .watch("v1", "Pod", Some(NAMESPACE))
        .await
        .expect("watch");
    tokio::time::timeout(WAIT, pods.wait_ready())
        .await
        .expect("listed in time")
        .expect("listed");
    let held = heap_now().await.saturating_sub(before);
    (held, pods.snapshot(None, None).len())
}

async fn connect(kubeconfig: &Path) -> Cluster {
    Cluster::connect(&ClusterOptions {
        kubeconfig: Some(kubeconfig.to_path_buf()),
        context: None,
        public_api: None,
    })
    .await
}

/// A TCP proxy in front of the fake, standing for the network: `cut` breaks every connection
/// and refuses new ones; the API server keeps its watch history meanwhile.
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
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("address"));
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

    fn kubeconfig(&self, fake: &FakeApi, dir: &Path) -> std::path::PathBuf {
        let path = dir.join("kubeconfig-link");
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: link\n  cluster:\n    server: {}\ncontexts:\n- name: link\n  context:\n    cluster: link\n    user: admin\ncurrent-context: link\nusers:\n- name: admin\n  user:\n    token: {}\n",
            self.url,
            fake.token()
        );
        std::fs::write(&path, text).expect("kubeconfig");
        path
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What recovering from a network outage under a warm cache cost.
struct Recovery {
    lists: usize,
    watches: usize,
    changes: usize,
    until_live: Duration,
}

/// Cuts the network under a warm cache of the Pods until the watch reports it, mends it, and
/// counts what the recovery asked of the API server and announced.
async fn recovery(fake: &FakeApi, dir: &Path) -> Recovery {
    let link = Link::to(fake).await;
    let cluster = connect(&link.kubeconfig(fake, dir)).await;
    let pods = cluster
        .watch("v1", "Pod", Some(NAMESPACE))
        .await
        .expect("watch");
    tokio::time::timeout(WAIT, pods.wait_ready())
        .await
        .expect("listed in time")
        .expect("listed");
    let watching = |f: &FakeApi| {
        f.requests()
            .iter()
            .any(|r| r.path == PODS && r.query.contains_key("watch"))
    };
    assert!(fake.wait_for(WAIT, watching).await, "the watch is made");
    let mut states = cluster.watch_state_changes();
    let mut changes = cluster.changes();
    link.up.send_replace(false);
    loop {
        let (health, _) = states.recv().await.expect("states");
        if health == WatchHealth::Reconnecting {
            break;
        }
    }
    fake.clear_requests();
    link.up.send_replace(true);
    let mended = Instant::now();
    loop {
        let (health, _) = tokio::time::timeout(WAIT, states.recv())
            .await
            .expect("live again in time")
            .expect("states");
        if health == WatchHealth::Live {
            break;
        }
    }
    let until_live = mended.elapsed();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut announced = 0;
    loop {
        match changes.try_recv() {
            Ok(_) => announced += 1,
            // More than the channel holds: the engine's followers would re-check everything.
            Err(TryRecvError::Lagged(missed)) => announced += missed as usize,
            Err(_) => break,
        }
    }
    let requests = fake.requests();
    let on_pods = requests.iter().filter(|r| r.path == PODS);
    let (watches, lists): (Vec<_>, Vec<_>) = on_pods.partition(|r| r.query.contains_key("watch"));
    Recovery {
        lists: lists.len(),
        watches: watches.len(),
        changes: announced,
        until_live,
    }
}

fn mib(bytes: usize) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

fn per_object(bytes: usize, count: usize) -> String {
    format!("{:.1} KiB", bytes as f64 / 1024.0 / count.max(1) as f64)
}

fn main() {
    let benchmarking = std::env::args().any(|a| a == "--bench");
    let count = std::env::var("KUBELAB_BENCH_PODS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(if benchmarking { 5000 } else { 200 });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let fake = FakeApi::start().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = fake.write_kubeconfig(dir.path());
        fill(&fake, count);
        let stored = fake.list("v1", "Pod", Some(NAMESPACE));
        let json_len = |v: &Value| serde_json::to_vec(v).map(|b| b.len()).unwrap_or(0);
        let whole: usize = stored.iter().map(json_len).sum();
        let managed: usize = stored
            .iter()
            .map(|p| json_len(&p["metadata"]["managedFields"]))
            .sum();
        let recorded = recorded_pod();
        println!(
            "{count} Pods in {NAMESPACE}: {} of JSON each, {} of it managedFields (the recorded Pod: {} / {})",
            per_object(whole, count),
            per_object(managed, count),
            per_object(json_len(&recorded), 1),
            per_object(json_len(&recorded["metadata"]["managedFields"]), 1),
        );

        let kept = reflector_heap(&kubeconfig, false).await;
        let stripped = reflector_heap(&kubeconfig, true).await;
        let (kubelab, cached) = kubelab_heap(&kubeconfig).await;
        assert_eq!(cached, count, "every Pod is cached");
        println!("heap held by the store once the list is in (global allocator, after a 300 ms pause):");
        println!("  {:<58} {:>10} {:>12}", "store", "total", "per object");
        for (what, bytes) in [
            ("kube-runtime reflector, objects as listed", kept),
            ("kube-runtime reflector, managedFields dropped (modify)", stripped),
            ("kubelab's cache (Cluster::watch)", kubelab),
        ] {
            println!("  {what:<58} {:>10} {:>12}", mib(bytes), per_object(bytes, count));
        }

        let r = recovery(&fake, dir.path()).await;
        println!(
            "network outage under a warm cache of {count} Pods, then mended: {} list request(s), {} watch request(s), {} changes announced, live again {} ms after the network came back",
            r.lists,
            r.watches,
            r.changes,
            r.until_live.as_millis()
        );
    });
}
