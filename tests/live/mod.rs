//! Live feedback: changes in the cluster reach subscribed pages without any check request,
//! through one shared watch per kind, and the stream survives an API server restart. Checks no
//! watch can see (commands in containers) are in `recheck`.

mod recheck;

use std::time::Duration;

use kubelab::engine::{LiveEvent, LiveSubscription, WatchState};
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;

use crate::scenarios::env;

/// Waits (up to 30 s) for an event satisfying `pred`, looking at the initial events first.
async fn wait_for(
    what: &str,
    sub: &mut LiveSubscription,
    mut pred: impl FnMut(&LiveEvent) -> bool,
) -> LiveEvent {
    if let Some(e) = sub.initial.iter().find(|e| pred(e)) {
        return e.clone();
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut seen = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, sub.receiver.recv()).await {
            Ok(Ok(event)) if pred(&event) => return event,
            Ok(Ok(event)) => seen.push(serde_json::to_string(&event).unwrap_or_default()),
            Ok(Err(RecvError::Lagged(_))) => {}
            Ok(Err(RecvError::Closed)) => panic!("the live stream closed"),
            Err(_) => panic!("no live event {what} within 30 s; saw {seen:#?}"),
        }
    }
}

fn step_status<'a>(event: &'a LiveEvent, step: &str) -> Option<&'a str> {
    match event {
        LiveEvent::Step(report) if report.step == step => Some(report.status.as_str()),
        _ => None,
    }
}

#[tokio::test]
async fn a_cluster_change_turns_the_step_green_without_a_check() {
    let env = env().await;
    // A page opens the lab first, which starts its current step.
    env.app.engine().open_lab("kubectl").await.expect("open");
    let mut sub = env
        .app
        .engine()
        .subscribe("kubectl")
        .await
        .expect("subscribe");
    wait_for("#1", &mut sub, |e| {
        step_status(e, "rollout-status") == Some("failed")
    })
    .await;

    env.setup("kubectl", "rollout-status").await;
    wait_for("#2", &mut sub, |e| {
        step_status(e, "rollout-status") == Some("pending")
    })
    .await;

    env.fake
        .patch_status(
            "apps/v1",
            "Deployment",
            Some("default"),
            "nginx-deployment",
            json!({"observedGeneration": 1, "replicas": 3, "updatedReplicas": 3, "readyReplicas": 3,
                   "availableReplicas": 3,
                   "conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}),
        )
        .expect("status");
    wait_for("#3", &mut sub, |e| {
        step_status(e, "rollout-status") == Some("passed")
    })
    .await;
    // The pass is remembered like a Check button pass.
    let progress = env
        .app
        .engine()
        .lab_progress("kubectl")
        .await
        .expect("progress");
    assert!(
        progress
            .step("rollout-status")
            .is_some_and(|s| s.record.passed_at.is_some())
    );
    // The live panel lists the Deployment with its status (as a page opened now sees it).
    let mut sub = env
        .app
        .engine()
        .subscribe("kubectl")
        .await
        .expect("subscribe");
    wait_for("#4", &mut sub, |e| match e {
        LiveEvent::Objects { objects, .. } => objects.iter().any(|o| {
            o.kind == "Deployment" && o.name == "nginx-deployment" && o.status == "3/3 ready"
        }),
        _ => false,
    })
    .await;
}

#[tokio::test]
async fn many_pages_share_one_watch_per_kind() {
    let env = env().await;
    env.app.engine().open_lab("configmap").await.expect("open");
    let mut subs = Vec::new();
    for _ in 0..50 {
        subs.push(
            env.app
                .engine()
                .subscribe("configmap")
                .await
                .expect("subscribe"),
        );
    }
    let first = subs.first_mut().expect("a subscription");
    wait_for("first", first, |e| {
        step_status(e, "create-configmap").is_some()
    })
    .await;
    let watches: Vec<String> = env
        .fake
        .requests()
        .into_iter()
        .filter(|r| {
            r.query
                .get("watch")
                .is_some_and(|w| w == "true" || w == "1")
        })
        .map(|r| r.path)
        .collect();
    let mut distinct = watches.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(
        watches.len(),
        distinct.len(),
        "one watch per kind and namespace: {watches:?}"
    );
    assert!(!watches.is_empty());
    assert_eq!(env.app.engine().live_pages("configmap"), 50);

    // Checks now read the caches: a Check makes no GET or LIST of the watched kinds.
    env.fake.clear_requests();
    env.check("configmap", "create-configmap").await;
    let reads: Vec<String> = env
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "GET" && !r.query.contains_key("watch"))
        .map(|r| r.path)
        .collect();
    assert!(
        reads.is_empty(),
        "checks read the watch caches, not the API: {reads:?}"
    );
}

#[tokio::test]
async fn the_stream_reconnects_after_an_api_server_restart() {
    let env = env().await;
    env.app.engine().open_lab("kubectl").await.expect("open");
    let mut sub = env
        .app
        .engine()
        .subscribe("kubectl")
        .await
        .expect("subscribe");
    wait_for("#5", &mut sub, |e| {
        matches!(
            e,
            LiveEvent::Cluster {
                state: WatchState::Live,
                ..
            }
        )
    })
    .await;
    wait_for("#6", &mut sub, |e| {
        step_status(e, "rollout-status") == Some("failed")
    })
    .await;

    env.fake.stop().await;
    wait_for("#7", &mut sub, |e| {
        matches!(
            e,
            LiveEvent::Cluster {
                state: WatchState::Reconnecting,
                ..
            }
        )
    })
    .await;
    // A change made while kubelab was not watching.
    env.put(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "nginx-deployment", "namespace": "default"},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "nginx"}},
                 "template": {"metadata": {"labels": {"app": "nginx"}},
                              "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}}
    }));
    env.fake.restart().await;
    wait_for("#8", &mut sub, |e| {
        matches!(
            e,
            LiveEvent::Cluster {
                state: WatchState::Live,
                ..
            }
        )
    })
    .await;
    wait_for("#9", &mut sub, |e| {
        step_status(e, "rollout-status") == Some("pending")
    })
    .await;
}
