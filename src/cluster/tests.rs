//! Unit tests of the cluster module against a scripted API server (`tower_test::mock`): apply
//! actions from status codes, discovery caching, list items carrying their kind, 404 handling.

use std::sync::{Arc, Mutex};

use http::{Request, Response, StatusCode};
use kube::client::Body;
use serde_json::{Value, json};

use super::*;

type Responder = dyn Fn(&str, &str, &Value) -> (StatusCode, Value) + Send + Sync;

/// A cluster whose API server answers with `respond(method, path, body)`; the returned
/// log holds every request as `METHOD path?query`.
fn scripted(respond: Arc<Responder>) -> (Cluster, Arc<Mutex<Vec<String>>>) {
    let (service, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let log = Arc::new(Mutex::new(Vec::new()));
    let seen = log.clone();
    tokio::spawn(async move {
        while let Some((request, reply)) = handle.next_request().await {
            let method = request.method().to_string();
            let target = request
                .uri()
                .path_and_query()
                .map(|p| p.to_string())
                .unwrap_or_default();
            let bytes = request
                .into_body()
                .collect_bytes()
                .await
                .unwrap_or_default();
            let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            seen.lock().unwrap().push(format!("{method} {target}"));
            let path = target.split('?').next().unwrap_or_default();
            let (status, answer) = respond(&method, path, &body);
            let response = Response::builder()
                .status(status)
                .header("content-type", "application/json")
                .body(Body::from(serde_json::to_vec(&answer).unwrap_or_default()))
                .unwrap();
            reply.send_response(response);
        }
    });
    (
        Cluster::from_client(kube::Client::new(service, "default")),
        log,
    )
}

fn core_v1() -> Value {
    json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
        {"name": "configmaps", "singularName": "configmap", "namespaced": true, "kind": "ConfigMap", "verbs": ["get", "list", "patch", "delete"]},
        {"name": "namespaces", "singularName": "namespace", "namespaced": false, "kind": "Namespace", "verbs": ["get", "list", "patch", "delete"]},
        {"name": "pods", "singularName": "pod", "namespaced": true, "kind": "Pod", "verbs": ["get", "list"]},
        {"name": "pods/log", "singularName": "", "namespaced": true, "kind": "Pod", "verbs": ["get"]}
    ]})
}

fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
           "message": message, "reason": reason, "code": code})
}

fn not_found() -> (StatusCode, Value) {
    (
        StatusCode::NOT_FOUND,
        status(
            404,
            "NotFound",
            "the server could not find the requested resource",
        ),
    )
}

fn config_map(rv: &str) -> Value {
    json!({"kind": "ConfigMap", "apiVersion": "v1",
           "metadata": {"name": "base-map", "namespace": "fly-k8s", "resourceVersion": rv},
           "data": {"fly-name": "zhangpanqin"}})
}

fn manifest() -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "base-map"},
           "data": {"fly-name": "zhangpanqin"}})
}

/// Answers discovery for core/v1 and `object` for the ConfigMap `base-map` (GET: `existing`,
/// PATCH: `patch_status` with resourceVersion `after`).
fn apply_server(
    existing: Option<&'static str>,
    patch_status: StatusCode,
    after: &'static str,
) -> Arc<Responder> {
    Arc::new(move |method, target, _body| match (method, target) {
        ("GET", "/api/v1") => (StatusCode::OK, core_v1()),
        ("GET", "/api/v1/namespaces/fly-k8s/configmaps/base-map") => match existing {
            Some(rv) => (StatusCode::OK, config_map(rv)),
            None => not_found(),
        },
        ("PATCH", "/api/v1/namespaces/fly-k8s/configmaps/base-map") => {
            (patch_status, config_map(after))
        }
        _ => not_found(),
    })
}

#[tokio::test]
async fn apply_reports_created_unchanged_and_configured() {
    let cases = [
        (None, StatusCode::CREATED, "246", ApplyAction::Created),
        (Some("246"), StatusCode::OK, "246", ApplyAction::Unchanged),
        (Some("246"), StatusCode::OK, "250", ApplyAction::Configured),
    ];
    for (existing, code, after, expected) in cases {
        let (cluster, log) = scripted(apply_server(existing, code, after));
        let applied = cluster.apply(&manifest(), "fly-k8s").await.unwrap();
        assert_eq!(applied.action, expected);
        assert_eq!(applied.key.namespace.as_deref(), Some("fly-k8s"));
        assert_eq!(applied.object["metadata"]["resourceVersion"], after);
        let requests = log.lock().unwrap().clone();
        let patch = requests.iter().find(|r| r.starts_with("PATCH")).unwrap();
        assert!(patch.contains("fieldManager=kubelab"), "{patch}");
        assert!(patch.contains("force=true"), "{patch}");
    }
}

#[tokio::test]
async fn apply_sends_the_default_namespace_in_the_body() {
    let body_seen = Arc::new(Mutex::new(Value::Null));
    let seen = body_seen.clone();
    let (cluster, _) = scripted(Arc::new(move |method, target, body| {
        if method == "PATCH" {
            *seen.lock().unwrap() = body.clone();
        }
        apply_server(None, StatusCode::CREATED, "1")(method, target, body)
    }));
    cluster.apply(&manifest(), "fly-k8s").await.unwrap();
    assert_eq!(
        body_seen.lock().unwrap()["metadata"]["namespace"],
        "fly-k8s"
    );
}

#[tokio::test]
async fn apply_errors_keep_the_api_servers_message() {
    let message = "Apply failed with 1 conflict: conflict with \"kubelab\": .data.fly-name";
    let (cluster, _) = scripted(Arc::new(move |method, target, _| match (method, target) {
        ("GET", "/api/v1") => (StatusCode::OK, core_v1()),
        ("PATCH", _) => (StatusCode::CONFLICT, status(409, "Conflict", message)),
        _ => not_found(),
    }));
    match cluster.apply(&manifest(), "fly-k8s").await {
        Err(ClusterError::Api {
            code,
            reason,
            message: m,
        }) => assert_eq!(
            (code, reason.as_str(), m.as_str()),
            (409, "Conflict", message)
        ),
        other => panic!("unexpected {other:?}"),
    }
}

#[tokio::test]
async fn discovery_runs_once_per_group_version() {
    let (cluster, log) = scripted(Arc::new(|method, target, _| match (method, target) {
        ("GET", "/api/v1") => (StatusCode::OK, core_v1()),
        _ => not_found(),
    }));
    assert!(cluster.is_namespaced("v1", "ConfigMap").await.unwrap());
    assert!(!cluster.is_namespaced("v1", "Namespace").await.unwrap());
    assert!(cluster.is_namespaced("v1", "Pod").await.unwrap());
    let discoveries = log
        .lock()
        .unwrap()
        .iter()
        .filter(|r| *r == "GET /api/v1")
        .count();
    assert_eq!(discoveries, 1);
}

#[tokio::test]
async fn unknown_kinds_and_group_versions() {
    let (cluster, _) = scripted(Arc::new(|method, target, _| match (method, target) {
        ("GET", "/api/v1") => (StatusCode::OK, core_v1()),
        _ => not_found(),
    }));
    for (api_version, kind) in [
        ("v1", "Gadget"),
        ("example.com/v1", "Widget"),
        ("a/b/c", "X"),
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
}

#[tokio::test]
async fn list_items_carry_kind_and_use_the_selector() {
    let (cluster, log) = scripted(Arc::new(|method, target, _| match (method, target) {
        ("GET", "/api/v1") => (StatusCode::OK, core_v1()),
        ("GET", t)
            if t.starts_with("/api/v1/pods")
                || t.starts_with("/api/v1/namespaces/fly-k8s/pods") =>
        {
            (
                StatusCode::OK,
                json!({"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": "282"},
                   "items": [{"metadata": {"name": "web", "namespace": "fly-k8s", "labels": {"app": "nginx"}},
                              "spec": {"containers": []}}]}),
            )
        }
        _ => not_found(),
    }));
    let items = cluster
        .list("v1", "Pod", Some("fly-k8s"), Some("app=nginx"))
        .await
        .unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["kind"], "Pod");
    assert_eq!(items[0]["apiVersion"], "v1");
    assert_eq!(items[0]["metadata"]["name"], "web");
    cluster.list("v1", "Pod", None, None).await.unwrap();
    let requests = log.lock().unwrap().clone();
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("GET /api/v1/namespaces/fly-k8s/pods?")
                && r.contains("labelSelector=app%3Dnginx")),
        "{requests:?}"
    );
    assert!(
        requests.iter().any(|r| r.starts_with("GET /api/v1/pods")),
        "{requests:?}"
    );
}

#[tokio::test]
async fn get_and_delete_treat_404_as_absent() {
    let (cluster, log) = scripted(Arc::new(|method, target, _| match (method, target) {
        ("GET", "/api/v1") => (StatusCode::OK, core_v1()),
        ("GET", "/api/v1/namespaces/fly-k8s/configmaps/base-map") => {
            (StatusCode::OK, config_map("7"))
        }
        ("DELETE", "/api/v1/namespaces/fly-k8s/configmaps/base-map") => {
            (StatusCode::OK, config_map("8"))
        }
        _ => not_found(),
    }));
    let key = |name: &str| ObjectKey {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: Some("fly-k8s".into()),
        name: name.into(),
    };
    let found = cluster.get(&key("base-map")).await.unwrap().unwrap();
    assert_eq!(found["data"]["fly-name"], "zhangpanqin");
    assert_eq!(cluster.get(&key("missing")).await.unwrap(), None);
    assert!(cluster.delete(&key("base-map")).await.unwrap());
    assert!(!cluster.delete(&key("missing")).await.unwrap());
    let requests = log.lock().unwrap().clone();
    assert!(
        requests
            .iter()
            .any(|r| r.starts_with("DELETE /api/v1/namespaces/fly-k8s/configmaps/base-map"))
    );
}

#[tokio::test]
async fn delete_propagates_in_the_background() {
    let body_seen = Arc::new(Mutex::new(Value::Null));
    let seen = body_seen.clone();
    let (cluster, _) = scripted(Arc::new(move |method, target, body| {
        match (method, target) {
            ("GET", "/api/v1") => (StatusCode::OK, core_v1()),
            ("DELETE", _) => {
                *seen.lock().unwrap() = body.clone();
                (StatusCode::OK, config_map("8"))
            }
            _ => not_found(),
        }
    }));
    let key = ObjectKey {
        api_version: "v1".into(),
        kind: "ConfigMap".into(),
        namespace: Some("fly-k8s".into()),
        name: "base-map".into(),
    };
    assert!(cluster.delete(&key).await.unwrap());
    assert_eq!(body_seen.lock().unwrap()["propagationPolicy"], "Background");
}

#[tokio::test]
async fn a_missing_kubeconfig_is_explained() {
    let dir = std::env::temp_dir().join(format!("kubelab-no-kubeconfig-{}", std::process::id()));
    let options = ClusterOptions {
        kubeconfig: Some(dir.join("config")),
        context: None,
        public_api: None,
    };
    let cluster = Cluster::connect(&options).await;
    match cluster.probe().await {
        Err(ClusterError::Unavailable { message }) => {
            assert!(message.contains("does not exist"), "{message}");
            assert!(message.contains("colima start --kubernetes"), "{message}");
        }
        other => panic!("unexpected {other:?}"),
    }
}
