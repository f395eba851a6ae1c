//! Differential test: the same requests sent to the fake API server and to a real
//! kube-apiserver 1.28 with a real kubelet node (`/work/shared/realkube/up --real-node`), the
//! answers compared after removing run-specific values. Every difference is either fixed in
//! the fake or listed, with its reason, in `known.rs`.
//!
//! Runs only against a real cluster:
//!
//! ```sh
//! KUBELAB_REAL_CLUSTER=1 KUBECONFIG=/tmp/rk/kubeconfig \
//!     cargo test --test integration differential -- --nocapture
//! ```
//!
//! Without `KUBELAB_REAL_CLUSTER=1` it prints why it skipped; with
//! `KUBELAB_REQUIRE_REAL_CLUSTER=1` (CI) an unreachable cluster fails the test. The cluster
//! needs a node `real-node` running a kubelet with the image `busybox:1.36`; the test works in a
//! namespace `diff-<random>` of its own and deletes it at the end.

mod access;
mod api;
mod exec_protocols;
mod known;
mod normalize;
mod pods;
mod record;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt;
use serde_json::{Value, json};

use crate::support::client as side;
use crate::support::{FakeApi, NodeFlavor};
use normalize::differences;
use record::Record;
use side::Side;

/// Merges `patch` into `target` (objects key by key, everything else replaced).
pub fn merge(target: &mut Value, patch: &Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                merge(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// The kubeconfig of the real cluster to compare with, or `None` (with the reason printed)
/// when the test should skip. Panics when a cluster is required but not reachable.
pub async fn real_kubeconfig() -> Option<PathBuf> {
    let required = std::env::var("KUBELAB_REQUIRE_REAL_CLUSTER").as_deref() == Ok("1");
    let wanted = required || std::env::var("KUBELAB_REAL_CLUSTER").as_deref() == Ok("1");
    if !wanted {
        eprintln!(
            "skipped: set KUBELAB_REAL_CLUSTER=1 (and KUBECONFIG) to compare the fake with a real cluster"
        );
        return None;
    }
    let path = std::env::var_os("KUBECONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube/config")));
    let reachable = match &path {
        Some(p) if p.exists() => {
            let side = Side::new("real", p, "default", None).await;
            let probe = tokio::time::timeout(Duration::from_secs(10), side.get("/version"));
            matches!(probe.await, Ok(a) if a.status == 200)
        }
        _ => false,
    };
    if reachable {
        return path;
    }
    let why = format!("the real cluster ({path:?}) is not reachable");
    assert!(!required, "KUBELAB_REQUIRE_REAL_CLUSTER=1 but {why}");
    eprintln!("skipped: {why}");
    None
}

/// A fake dressed like the real cluster: node `real-node` with an upstream kubelet.
pub async fn fake_like_real() -> Arc<FakeApi> {
    let fake = Arc::new(FakeApi::start().await);
    fake.set_node("real-node", NodeFlavor::Kubelet);
    fake.simulate_workloads(true);
    fake
}

/// Every scenario, in order, against one side.
async fn run(side: &Side) -> Record {
    let mut r = Record::default();
    let created = side
        .post(
            "/api/v1/namespaces",
            &json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": side.ns}}),
        )
        .await;
    r.answer("namespace/create-main", &created);
    api::discovery(side, &mut r).await;
    pods::create_pods(side, &mut r).await;
    api::apply_configmap(side, &mut r).await;
    api::apply_pod(side, &mut r).await;
    api::apply_merges_lists_by_key(side, &mut r).await;
    api::list_and_watch(side, &mut r).await;
    access::access_reviews(side, &mut r).await;
    access::tokens(side, &mut r).await;
    access::access_checks(side, &mut r).await;
    access::quota_and_policy(side, &mut r).await;
    pods::running(side, &mut r).await;
    pods::exec(side, &mut r).await;
    pods::exec_tty(side, &mut r).await;
    pods::logs(side, &mut r).await;
    pods::graceful_deletion(side, &mut r).await;
    api::namespace_deletion(side, &mut r).await;
    r
}

/// The differences no known entry explains, and the names of the entries that explained some.
fn compare(fake: &Record, real: &Record) -> (Vec<String>, BTreeSet<&'static str>) {
    let mut unexplained = Vec::new();
    let mut used = BTreeSet::new();
    let steps: BTreeSet<&String> = fake
        .steps
        .iter()
        .chain(&real.steps)
        .map(|(s, _)| s)
        .collect();
    let find = |r: &Record, step: &str| {
        r.steps
            .iter()
            .find(|(s, _)| s == step)
            .map(|(_, v)| v.clone())
    };
    for step in steps {
        let (f, rv) = (find(fake, step), find(real, step));
        let mut diffs = Vec::new();
        differences(
            "",
            &f.unwrap_or(Value::Null),
            &rv.unwrap_or(Value::Null),
            &mut diffs,
        );
        for d in diffs {
            let path = d.path.trim_start_matches('.').to_string();
            let d = normalize::Difference { path, ..d };
            match known::explain(step, &d) {
                Some(k) => {
                    used.insert(k.name);
                }
                None => unexplained.push(format!(
                    "{step} {}:\n    fake: {}\n    real: {}",
                    d.path, d.fake, d.real
                )),
            }
        }
    }
    (unexplained, used)
}

#[tokio::test]
async fn the_fake_answers_like_a_real_api_server() {
    let Some(kubeconfig) = real_kubeconfig().await else {
        return;
    };
    let _schedulable = crate::real::REAL_NODE_SCHEDULING.read().await;
    let ns = format!("diff-{}", crate::support::state::random_suffix(6));
    let fake = fake_like_real().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let fake_kubeconfig = fake.write_kubeconfig(dir.path());
    let fake_side = Side::new("fake", &fake_kubeconfig, &ns, Some(fake.clone())).await;
    let real_side = Side::new("real", &kubeconfig, &ns, None).await;
    let started = Instant::now();
    let timed = |side: Side| async move {
        let t = Instant::now();
        let out = std::panic::AssertUnwindSafe(run(&side))
            .catch_unwind()
            .await;
        (out, t.elapsed())
    };
    let ((fake_out, fake_time), (real_out, real_time)) =
        tokio::join!(timed(fake_side), timed(real_side.clone()));
    real_side.delete(&format!("/api/v1/namespaces/{ns}")).await;
    real_side
        .delete(&format!("/api/v1/namespaces/{ns}-gone"))
        .await;
    eprintln!(
        "differential: fake {:.1} s, real {:.1} s, total {:.1} s",
        fake_time.as_secs_f64(),
        real_time.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    let real = real_out.unwrap_or_else(|p| std::panic::resume_unwind(p));
    let fake_record = fake_out.unwrap_or_else(|p| std::panic::resume_unwind(p));
    if let Some(dir) = std::env::var_os("KUBELAB_DIFF_DUMP") {
        // Both sides' comparable answers, for reading a failure side by side.
        for (name, record) in [("fake", &fake_record), ("real", &real)] {
            let steps: serde_json::Map<String, Value> = record.steps.iter().cloned().collect();
            let path = PathBuf::from(&dir).join(format!("{name}.json"));
            let text = serde_json::to_string_pretty(&steps).unwrap_or_default();
            std::fs::write(&path, text).expect("write the differential dump");
        }
    }
    let (unexplained, used) = compare(&fake_record, &real);
    let stale: Vec<&str> = known::KNOWN
        .iter()
        .map(|k| k.name)
        .filter(|n| !used.contains(n))
        .collect();
    assert!(
        unexplained.is_empty() && stale.is_empty(),
        "{} unexplained difference(s) between the fake and the real API server:\n{}\n\n\
         known differences that no longer occur (remove them from known.rs): {stale:?}",
        unexplained.len(),
        unexplained.join("\n")
    );
}
