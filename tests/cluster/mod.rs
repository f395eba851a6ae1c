//! Integration tests of `kubelab::cluster` against the fake Kubernetes API server over real HTTP:
//! connecting, probing, server-side apply (created / unchanged / configured), the API server's
//! errors, get/list/delete, discovery, and a cluster that is down or hangs. Facts and exec
//! are in `facts`, the shared watch caches in `watch`.

mod facts;
mod isolation;
mod learners;
mod watch;

use std::time::Duration;

use kubelab::cluster::{ApplyAction, Cluster, ClusterError, ClusterOptions, ObjectKey};
use serde_json::{Value, json};

use crate::support::FakeApi;

/// A fake API server, and a cluster handle connected to it through a kubeconfig on disk.
async fn connected() -> (FakeApi, Cluster, tempfile::TempDir) {
    let fake = FakeApi::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let options = ClusterOptions {
        kubeconfig: Some(fake.write_kubeconfig(dir.path())),
        context: None,
        public_api: None,
    };
    let cluster = Cluster::connect(&options).await;
    (fake, cluster, dir)
}

fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

fn config_map(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data})
}

fn key(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> ObjectKey {
    ObjectKey {
        api_version: api_version.into(),
        kind: kind.into(),
        namespace: namespace.map(str::to_owned),
        name: name.into(),
    }
}

fn unavailable_message(result: Result<impl std::fmt::Debug, ClusterError>) -> String {
    match result {
        Err(ClusterError::Unavailable { message }) => message,
        other => panic!("expected Unavailable, got {other:?}"),
    }
}

fn api_error(result: Result<impl std::fmt::Debug, ClusterError>) -> (u16, String, String) {
    match result {
        Err(ClusterError::Api {
            code,
            reason,
            message,
        }) => (code, reason, message),
        other => panic!("expected an API error, got {other:?}"),
    }
}

#[tokio::test]
async fn a_missing_kubeconfig_is_explained_on_every_call() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("nope").join("config");
    let cluster = Cluster::connect(&ClusterOptions {
        kubeconfig: Some(missing.clone()),
        context: None,
        public_api: None,
    })
    .await;
    let message = unavailable_message(cluster.probe().await);
    assert!(
        message.contains(&missing.display().to_string()),
        "{message}"
    );
    assert!(message.contains("colima start --kubernetes"), "{message}");
    let again = unavailable_message(cluster.list("v1", "Pod", None, None).await);
    assert_eq!(again, message);
    let apply = cluster.apply(&config_map("a", json!({})), "default").await;
    assert_eq!(unavailable_message(apply), message);
}

#[tokio::test]
async fn an_unknown_context_names_the_available_ones() {
    let fake = FakeApi::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let cluster = Cluster::connect(&ClusterOptions {
        kubeconfig: Some(fake.write_kubeconfig(dir.path())),
        context: Some("colima".into()),
        public_api: None,
    })
    .await;
    let message = unavailable_message(cluster.probe().await);
    assert!(message.contains("`colima`"), "{message}");
    assert!(message.contains("available: fake"), "{message}");
    assert!(
        fake.requests().is_empty(),
        "no request without a usable context"
    );
}

#[tokio::test]
async fn connecting_makes_no_request_and_probe_reads_the_version() {
    let (fake, cluster, _dir) = connected().await;
    assert!(
        fake.requests().is_empty(),
        "connect must not call the API server"
    );
    assert_eq!(cluster.context(), Some("fake"));
    assert_eq!(cluster.server(), Some(fake.url().as_str()));
    let probe = cluster.probe().await.expect("probe");
    assert!(probe.server_version.starts_with("v1."), "{probe:?}");
    let requests = fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        (requests[0].method.as_str(), requests[0].path.as_str()),
        ("GET", "/version")
    );
}

#[tokio::test]
async fn apply_creates_then_leaves_unchanged_then_configures() {
    let (fake, cluster, _dir) = connected().await;
    let ns = cluster
        .apply(&namespace("fly-k8s"), "ignored")
        .await
        .expect("namespace");
    assert_eq!(ns.action, ApplyAction::Created);
    assert_eq!(ns.key, key("v1", "Namespace", None, "fly-k8s"));

    let manifest = config_map("base-map", json!({"fly-name": "zhangpanqin"}));
    let created = cluster.apply(&manifest, "fly-k8s").await.expect("create");
    assert_eq!(created.action, ApplyAction::Created);
    assert_eq!(
        created.key,
        key("v1", "ConfigMap", Some("fly-k8s"), "base-map")
    );
    assert_eq!(created.object["data"]["fly-name"], "zhangpanqin");
    let stored = fake
        .get("v1", "ConfigMap", Some("fly-k8s"), "base-map")
        .expect("stored in the default namespace");
    assert_eq!(stored["metadata"]["managedFields"][0]["manager"], "kubelab");

    let again = cluster.apply(&manifest, "fly-k8s").await.expect("re-apply");
    assert_eq!(again.action, ApplyAction::Unchanged);

    let changed = config_map("base-map", json!({"fly-name": "kubelab"}));
    let configured = cluster.apply(&changed, "fly-k8s").await.expect("change");
    assert_eq!(configured.action, ApplyAction::Configured);
    let stored = fake
        .get("v1", "ConfigMap", Some("fly-k8s"), "base-map")
        .expect("stored");
    assert_eq!(stored["data"]["fly-name"], "kubelab");

    let patches: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "PATCH")
        .collect();
    assert_eq!(patches.len(), 4);
    for patch in patches {
        assert_eq!(patch.content_type, "application/apply-patch+yaml");
        assert_eq!(
            patch.query.get("fieldManager").map(String::as_str),
            Some("kubelab")
        );
        assert_eq!(patch.query.get("force").map(String::as_str), Some("true"));
    }
}

#[tokio::test]
async fn apply_keeps_an_explicit_namespace_and_refuses_incomplete_objects() {
    let (fake, cluster, _dir) = connected().await;
    let mut manifest = config_map("elsewhere", json!({"a": "b"}));
    manifest["metadata"]["namespace"] = json!("kube-public");
    let applied = cluster.apply(&manifest, "default").await.expect("apply");
    assert_eq!(applied.key.namespace.as_deref(), Some("kube-public"));
    assert!(
        fake.get("v1", "ConfigMap", Some("kube-public"), "elsewhere")
            .is_some()
    );

    fake.clear_requests();
    for broken in [
        json!({"kind": "ConfigMap", "metadata": {"name": "x"}}),
        json!({"apiVersion": "v1", "metadata": {"name": "x"}}),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}),
    ] {
        match cluster.apply(&broken, "default").await {
            Err(ClusterError::InvalidObject(_)) => {}
            other => panic!("{broken} gave {other:?}"),
        }
    }
    assert!(fake.requests().is_empty(), "invalid objects are not sent");
}

#[tokio::test]
async fn the_api_servers_refusals_keep_its_message() {
    let (fake, cluster, _dir) = connected().await;
    cluster
        .apply(&namespace("fly-k8s"), "")
        .await
        .expect("namespace");

    // 422: a Deployment whose selector does not match its template.
    let invalid = json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nginx-deployment"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "nginx"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}}});
    let (code, reason, message) = api_error(cluster.apply(&invalid, "fly-k8s").await);
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    assert!(
        message.contains("`selector` does not match template `labels`"),
        "{message}"
    );

    // 403: a namespace being deleted accepts no new objects.
    fake.set_namespace_deletion_delay(Duration::from_secs(60));
    assert!(
        cluster
            .delete(&key("v1", "Namespace", None, "fly-k8s"))
            .await
            .expect("delete")
    );
    let manifest = config_map("base-map", json!({"a": "b"}));
    let (code, reason, message) = api_error(cluster.apply(&manifest, "fly-k8s").await);
    assert_eq!((code, reason.as_str()), (403, "Forbidden"));
    assert!(
        message.contains("because it is being terminated"),
        "{message}"
    );

    // 404 on apply into a namespace that does not exist.
    let (code, _, message) = api_error(cluster.apply(&manifest, "nowhere").await);
    assert_eq!(code, 404);
    assert!(message.contains("nowhere"), "{message}");
}

#[tokio::test]
async fn rejected_credentials_are_reported() {
    let fake = FakeApi::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = fake.write_kubeconfig(dir.path());
    let text = std::fs::read_to_string(&path).expect("kubeconfig");
    std::fs::write(&path, text.replace(fake.token(), "wrong-token")).expect("rewrite");
    let cluster = Cluster::connect(&ClusterOptions {
        kubeconfig: Some(path),
        context: None,
        public_api: None,
    })
    .await;
    let (code, reason, message) = api_error(cluster.list("v1", "ConfigMap", None, None).await);
    assert_eq!((code, reason.as_str()), (401, "Unauthorized"));
    assert!(message.contains("credentials"), "{message}");
}

#[tokio::test]
async fn get_and_list_return_objects_with_their_kind() {
    let (fake, cluster, _dir) = connected().await;
    for ns in ["fly-k8s", "other"] {
        cluster.apply(&namespace(ns), "").await.expect("namespace");
        for (name, app) in [("web-config", "web"), ("db-config", "db")] {
            let mut cm = config_map(name, json!({"ns": ns}));
            cm["metadata"]["labels"] = json!({"app": app, "lab": "configmap"});
            cluster.apply(&cm, ns).await.expect("configmap");
        }
    }

    let one = cluster
        .get(&key("v1", "ConfigMap", Some("fly-k8s"), "web-config"))
        .await
        .expect("get")
        .expect("exists");
    assert_eq!(
        (one["kind"].as_str(), one["apiVersion"].as_str()),
        (Some("ConfigMap"), Some("v1"))
    );
    assert_eq!(one["data"]["ns"], "fly-k8s");
    let missing = cluster
        .get(&key("v1", "ConfigMap", Some("fly-k8s"), "nope"))
        .await;
    assert_eq!(missing.expect("get missing"), None);

    let names = |items: &[Value]| {
        let mut names: Vec<String> = items
            .iter()
            .map(|o| {
                format!(
                    "{}/{}",
                    o["metadata"]["namespace"].as_str().unwrap_or(""),
                    o["metadata"]["name"].as_str().unwrap_or("")
                )
            })
            .collect();
        names.sort();
        names
    };
    let web = cluster
        .list("v1", "ConfigMap", Some("fly-k8s"), Some("app=web"))
        .await
        .expect("list by selector");
    assert_eq!(names(&web), ["fly-k8s/web-config"]);
    assert!(
        web.iter()
            .all(|o| o["kind"] == "ConfigMap" && o["apiVersion"] == "v1")
    );

    let everywhere = cluster
        .list("v1", "ConfigMap", None, Some("lab=configmap"))
        .await
        .expect("list all namespaces");
    assert_eq!(
        names(&everywhere),
        [
            "fly-k8s/db-config",
            "fly-k8s/web-config",
            "other/db-config",
            "other/web-config"
        ]
    );

    let namespaces = cluster
        .list("v1", "Namespace", None, None)
        .await
        .expect("namespaces");
    assert!(namespaces.iter().all(|o| o["kind"] == "Namespace"));
    assert!(
        names(&namespaces).contains(&"/fly-k8s".to_owned()),
        "{:?}",
        names(&namespaces)
    );

    let selectors: Vec<_> = fake
        .requests()
        .into_iter()
        .filter_map(|r| r.query.get("labelSelector").cloned())
        .collect();
    assert_eq!(selectors, ["app=web", "lab=configmap"]);
}

#[tokio::test]
async fn delete_removes_once_and_reports_absence() {
    let (fake, cluster, _dir) = connected().await;
    cluster
        .apply(&config_map("doomed", json!({})), "default")
        .await
        .expect("apply");
    let doomed = key("v1", "ConfigMap", Some("default"), "doomed");
    assert!(cluster.delete(&doomed).await.expect("delete"));
    assert!(
        fake.get("v1", "ConfigMap", Some("default"), "doomed")
            .is_none()
    );
    assert!(!cluster.delete(&doomed).await.expect("delete again"));
    let delete = fake
        .requests()
        .into_iter()
        .find(|r| r.method == "DELETE")
        .expect("a DELETE request");
    assert!(
        delete.body.contains("Background"),
        "propagation: {}",
        delete.body
    );
}

#[tokio::test]
async fn discovery_knows_scopes_and_unknown_kinds_and_is_cached() {
    let (fake, cluster, _dir) = connected().await;
    for (api_version, kind, namespaced) in [
        ("v1", "Namespace", false),
        ("v1", "Node", false),
        ("v1", "ConfigMap", true),
        ("v1", "Pod", true),
        ("apps/v1", "Deployment", true),
        ("rbac.authorization.k8s.io/v1", "ClusterRole", false),
    ] {
        let got = cluster.is_namespaced(api_version, kind).await;
        assert_eq!(got.expect(kind), namespaced, "{api_version} {kind}");
    }
    for (api_version, kind) in [
        ("v1", "Gadget"),
        ("example.com/v1", "Widget"),
        ("metrics.k8s.io/v1beta1", "NodeMetrics"),
    ] {
        match cluster.is_namespaced(api_version, kind).await {
            Err(ClusterError::UnknownKind {
                api_version: a,
                kind: k,
            }) => {
                assert_eq!((a.as_str(), k.as_str()), (api_version, kind))
            }
            other => panic!("{api_version} {kind}: {other:?}"),
        }
    }
    let unknown = cluster.list("example.com/v1", "Widget", None, None).await;
    assert!(
        matches!(unknown, Err(ClusterError::UnknownKind { .. })),
        "{unknown:?}"
    );

    fake.clear_requests();
    for _ in 0..3 {
        assert!(
            cluster
                .is_namespaced("v1", "ConfigMap")
                .await
                .expect("cached")
        );
        assert!(!cluster.is_namespaced("v1", "Node").await.expect("cached"));
    }
    assert!(
        fake.requests().is_empty(),
        "resolved kinds are cached: {:?}",
        fake.requests()
    );
}

#[tokio::test]
async fn a_stopped_cluster_is_unavailable_without_waiting_for_a_timeout() {
    let (fake, cluster, _dir) = connected().await;
    cluster.probe().await.expect("up");
    fake.stop().await;
    // Generous limits: the failure must come from the refused connection, not from a timer.
    let cluster = cluster.with_timeouts(Duration::from_secs(60), Duration::from_secs(60));
    let message = unavailable_message(cluster.probe().await);
    assert!(!message.contains("did not answer within"), "{message}");
    assert!(message.contains(&fake.url()), "{message}");
    let message = unavailable_message(cluster.list("v1", "Pod", None, None).await);
    assert!(!message.contains("did not answer within"), "{message}");
}

#[tokio::test]
async fn a_server_that_never_answers_times_out_with_a_clear_message() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    // Accepts connections and never answers.
    let silent = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            open.push(stream);
        }
    });
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: silent\n  cluster:\n    server: {url}\n\
         contexts:\n- name: silent\n  context:\n    cluster: silent\n    user: u\n\
         current-context: silent\nusers:\n- name: u\n  user:\n    token: t\n"
    );
    std::fs::write(&path, text).expect("kubeconfig");
    let cluster = Cluster::connect(&ClusterOptions {
        kubeconfig: Some(path),
        context: None,
        public_api: None,
    })
    .await
    .with_timeouts(Duration::from_millis(300), Duration::from_millis(300));
    let message = unavailable_message(cluster.probe().await);
    assert!(
        message.contains("did not answer within 300 ms"),
        "{message}"
    );
    let message = unavailable_message(cluster.is_namespaced("v1", "Pod").await);
    assert!(message.contains(&url), "{message}");
    silent.abort();
}
