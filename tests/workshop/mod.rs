//! Workshop isolation in the engine: a learner confined to a namespace gets every lab's objects
//! there, cannot create cluster-wide or cross-namespace objects, sees only their own verdicts,
//! resets only their own objects, and shares the cluster's watches with every other learner.

use std::time::Duration;

use kubelab::engine::{Engine, Learner, LiveEvent};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::app::spawn_app_with_labs;
use crate::scenarios::env;
use crate::support::FakeApi;

fn learner(env_engine: &Engine, name: &str) -> Engine {
    env_engine.for_learner(Learner::in_namespace(name, format!("ws-{name}")))
}

fn namespace(fake: &FakeApi, name: &str) {
    fake.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
        .expect("namespace");
}

#[tokio::test]
async fn a_learners_lab_lives_in_their_namespace_only() {
    let env = env().await;
    namespace(&env.fake, "ws-alice");
    namespace(&env.fake, "ws-bob");
    let alice = learner(env.app.engine(), "alice");
    let bob = learner(env.app.engine(), "bob");

    let report = alice
        .setup("configmap", "create-configmap")
        .await
        .expect("set up");
    assert!(report.error.is_none(), "{report:?}");
    let applied: Vec<String> = report.applied.iter().map(|a| a.key.to_string()).collect();
    assert_eq!(
        applied,
        ["Namespace ws-alice", "ConfigMap ws-alice/base-map"]
    );
    assert!(
        env.fake.get("v1", "Namespace", None, "fly-k8s").is_none(),
        "no lab namespace"
    );
    let cm = env
        .fake
        .get("v1", "ConfigMap", Some("ws-alice"), "base-map")
        .expect("in alice's namespace");
    assert_eq!(cm["metadata"]["labels"]["kubelab.io/learner"], "alice");

    let mine = alice
        .check("configmap", "create-configmap", &Default::default())
        .await
        .expect("check");
    assert_eq!(mine.status.as_str(), "passed", "{mine:?}");
    let theirs = bob
        .check("configmap", "create-configmap", &Default::default())
        .await
        .expect("check");
    assert_eq!(
        theirs.status.as_str(),
        "failed",
        "bob sees only his own namespace"
    );
    let done = |progress: kubelab::engine::LabProgress| {
        progress
            .step("create-configmap")
            .is_some_and(|s| s.state.is_done())
    };
    assert!(done(
        alice.lab_progress("configmap").await.expect("progress")
    ));
    assert!(!done(
        bob.lab_progress("configmap").await.expect("progress")
    ));

    // Bob's reset leaves Alice's objects alone; Alice's removes hers but not her namespace.
    bob.setup("configmap", "create-configmap")
        .await
        .expect("set up");
    bob.reset("configmap").await.expect("reset");
    assert!(
        env.fake
            .get("v1", "ConfigMap", Some("ws-alice"), "base-map")
            .is_some()
    );
    assert!(
        env.fake
            .get("v1", "ConfigMap", Some("ws-bob"), "base-map")
            .is_none()
    );
    alice.reset("configmap").await.expect("reset");
    assert!(
        env.fake
            .get("v1", "ConfigMap", Some("ws-alice"), "base-map")
            .is_none()
    );
    assert!(
        env.fake.get("v1", "Namespace", None, "ws-alice").is_some(),
        "namespace kept"
    );
}

#[tokio::test]
async fn cluster_wide_and_cross_namespace_manifests_and_reads_are_refused() {
    let fake = FakeApi::start().await;
    let dir = tempfile::tempdir().expect("dir");
    let kubeconfig = fake.write_kubeconfig(dir.path());
    let labs =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workshop/fixtures/labs");
    let app = spawn_app_with_labs(&kubeconfig, labs).await;
    namespace(&fake, "ws-carol");
    let carol = learner(app.engine(), "carol");

    let report = carol
        .setup("strays", "cluster-wide")
        .await
        .expect("answers");
    let error = report.error.expect("refused");
    assert_eq!(error.cause, kubelab::engine::FailureCause::Kubelab);
    assert!(
        error
            .message
            .starts_with("kubelab refused to set up ClusterRole strays-reader because"),
        "{}",
        error.message
    );
    assert!(error.message.contains("cluster-wide"), "{}", error.message);
    assert!(
        fake.get(
            "rbac.authorization.k8s.io/v1",
            "ClusterRole",
            None,
            "strays-reader"
        )
        .is_none()
    );

    let report = carol.setup("strays", "elsewhere").await.expect("answers");
    let error = report.error.expect("refused");
    assert!(error.message.contains("kube-system"), "{}", error.message);
    assert!(
        fake.get("v1", "ConfigMap", Some("kube-system"), "elsewhere")
            .is_none()
    );

    let report = carol
        .check("strays", "elsewhere", &Default::default())
        .await
        .expect("check");
    let verdict = serde_json::to_value(&report.checks[0].verdict).expect("json");
    assert_eq!(verdict["status"], "error", "{verdict}");
    assert!(
        verdict["message"]
            .as_str()
            .is_some_and(|m| m.contains("outside your workshop namespace"))
    );

    // The same lab on a laptop applies both.
    let local = app.engine().clone();
    assert!(
        local
            .setup("strays", "cluster-wide")
            .await
            .expect("set up")
            .error
            .is_none()
    );
}

#[tokio::test]
async fn learners_share_one_watch_per_kind_and_see_only_their_own_changes() {
    let env = env().await;
    for name in ["ws-dave", "ws-erin"] {
        namespace(&env.fake, name);
    }
    let dave = learner(env.app.engine(), "dave");
    let erin = learner(env.app.engine(), "erin");
    let mut dave_live = dave.subscribe("kubectl").await.expect("subscribe");
    let _erin_live = erin.subscribe("kubectl").await.expect("subscribe");

    // Erin's Deployment must not reach Dave's page.
    erin.setup("kubectl", "rollout-status")
        .await
        .expect("set up");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, dave_live.receiver.recv()).await {
            Ok(Ok(LiveEvent::Step(report))) if report.step == "rollout-status" => {
                assert_ne!(
                    report.status.as_str(),
                    "pending",
                    "Erin's rollout showed up for Dave"
                );
            }
            Ok(Ok(LiveEvent::Objects { objects, .. })) => {
                assert!(
                    objects
                        .iter()
                        .all(|o| o.namespace.as_deref() != Some("ws-erin")),
                    "{objects:?}"
                );
            }
            Ok(Ok(_)) | Ok(Err(RecvError::Lagged(_))) => {}
            Ok(Err(RecvError::Closed)) | Err(_) => break,
        }
    }

    // Dave's own rollout reaches Dave's page, through the shared all-namespaces watch.
    dave.setup("kubectl", "rollout-status")
        .await
        .expect("set up");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut seen_own = false;
    while !seen_own {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, dave_live.receiver.recv()).await {
            Ok(Ok(LiveEvent::Objects { objects, .. })) => {
                seen_own = objects
                    .iter()
                    .any(|o| o.kind == "Deployment" && o.namespace.as_deref() == Some("ws-dave"));
            }
            Ok(Ok(_)) | Ok(Err(RecvError::Lagged(_))) => {}
            Ok(Err(RecvError::Closed)) | Err(_) => break,
        }
    }
    assert!(
        seen_own,
        "Dave's own Deployment appears live on Dave's page"
    );

    let watches: Vec<(String, String)> = env
        .fake
        .requests()
        .into_iter()
        .filter(|r| {
            r.query
                .get("watch")
                .is_some_and(|w| w == "true" || w == "1")
        })
        .map(|r| {
            (
                r.path,
                r.query.get("labelSelector").cloned().unwrap_or_default(),
            )
        })
        .collect();
    let mut distinct = watches.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        watches.len(),
        distinct.len(),
        "one watch per kind: {watches:?}"
    );
    assert!(
        watches
            .iter()
            .all(|(path, _)| !path.contains("/namespaces/ws-")),
        "learners share all-namespaces watches: {watches:?}"
    );
}
