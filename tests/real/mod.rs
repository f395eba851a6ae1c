//! Opt-in: the labs on a real Kubernetes — kubelab's own HTTP API (Set up, Check, Reset, the
//! live stream, a workshop learner's session and browser terminal) and the learner's
//! `kubectl`, asserting per-check verdicts after right and typical wrong actions, on a real API
//! server, controllers, scheduler and kubelet (exec, graceful deletion, ConfigMap volume
//! updates).
//!
//! Skipped unless `KUBELAB_REAL_CLUSTER=1`; with `KUBELAB_REQUIRE_REAL_CLUSTER=1` (set by
//! `.ci/run`) a suite that cannot run is a failure instead. Uses `$KUBECONFIG` (or
//! `~/.kube/config`) and its current context, or `KUBELAB_CONTEXT`. It creates and deletes the
//! labs' objects (namespace `fly-k8s`, objects in `default`, a learner namespace `kl-…`), labels
//! and cordons the node `real-node` for a few seconds and puts it back, so point it at a
//! throwaway cluster — realkube's (`up --real-node`: a real kubelet node, the simulated one
//! tainted), which the suite expects:
//!
//! ```sh
//! ../shared/realkube/up --real-node
//! KUBELAB_REAL_CLUSTER=1 KUBECONFIG=/tmp/rk/kubeconfig cargo test --test integration real -- --nocapture
//! ```
//!
//! One kubelab and one cluster for the whole run; the labs run at once where they share no
//! objects (ConfigMap then Secret, which share `fly-k8s`; the node lab alone at the end, since
//! a cordon stops every new Pod). The verdicts asserted and the wall time are printed.

mod access;
mod architecture;
mod configmap;
mod docker;
mod environment;
mod harness;
mod hpa;
mod kubectl;
pub(crate) mod live;
mod node;
mod pod;
mod secret;
mod terminal;
mod workshop;

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::{Duration, Instant};

use futures::FutureExt;

use harness::{Gate, Real, gate};

/// Runs one theme, catching its panic: (theme, wall time, the failure if any).
async fn theme(
    name: &'static str,
    work: impl Future<Output = ()>,
) -> (&'static str, Duration, Option<String>) {
    let started = Instant::now();
    let outcome = AssertUnwindSafe(work).catch_unwind().await;
    let failure = outcome.err().map(|panic| {
        panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_else(|| "panicked".into())
    });
    let elapsed = started.elapsed();
    eprintln!(
        "real cluster: {name} {} in {:.0} s",
        if failure.is_some() {
            "FAILED"
        } else {
            "passed"
        },
        elapsed.as_secs_f64()
    );
    (name, elapsed, failure)
}

/// The ConfigMap lab over a namespace the learner made, then from scratch, the Secret lab in the
/// namespace it left, then both Resets.
async fn configmap_then_secret(real: &Real) {
    configmap::clean_namespace(real).await;
    configmap::learner_namespace_survives_reset(real).await;
    configmap::run(real).await;
    secret::run(real).await;
    let outcome = AssertUnwindSafe(async {
        configmap::finish(real).await;
        secret::finish(real).await;
        configmap::last_reset(real).await;
    })
    .catch_unwind()
    .await;
    configmap::clean_namespace(real).await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

/// Prints the verdicts asserted and the wall times past the test harness's output capture (so
/// CI's plain `cargo test` shows them), and keeps them in `target/tmp/real-cluster-report.md`.
fn report(real: &Real, results: &[(&str, Duration, Option<String>)], wall: Duration) {
    let mut text = format!(
        "\n## Real cluster: verdicts asserted\n\n{}\n## Real cluster: wall time\n\n",
        real.table()
    );
    for (name, elapsed, failure) in results {
        text.push_str(&format!(
            "- {name}: {:.0} s{}\n",
            elapsed.as_secs_f64(),
            if failure.is_some() { " FAILED" } else { "" }
        ));
    }
    text.push_str(&format!("- the whole suite: {:.0} s\n", wall.as_secs_f64()));
    let file = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("real-cluster-report.md");
    if std::fs::write(&file, &text).is_ok() {
        text.push_str(&format!("(kept in {})\n", file.display()));
    }
    // Not eprintln!: libtest captures that for passing tests.
    let _ = std::io::Write::write_all(&mut std::io::stderr(), text.as_bytes());
}

/// Held shared by tests that need Pods scheduled on the real node while they run (the
/// differential tests) and exclusively by the node lab, which cordons it: libtest runs this
/// binary's tests at once, and a cordon would leave their Pods Pending.
pub(crate) static REAL_NODE_SCHEDULING: std::sync::LazyLock<tokio::sync::RwLock<()>> =
    std::sync::LazyLock::new(|| tokio::sync::RwLock::new(()));

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn real_cluster_labs() {
    let Some(real) = Real::connect().await else {
        return;
    };
    let started = Instant::now();
    let mut results = futures::future::join_all([
        theme("environment", environment::run(&real)).boxed_local(),
        theme("kubectl", kubectl::run(&real)).boxed_local(),
        theme("configmap+secret", configmap_then_secret(&real)).boxed_local(),
        theme("pod", pod::run(&real)).boxed_local(),
        theme("architecture", architecture::run(&real)).boxed_local(),
        theme("hpa", hpa::run(&real)).boxed_local(),
        theme("docker", docker::run(&real)).boxed_local(),
        theme("workshop", workshop::run(&real)).boxed_local(),
        theme("terminal", terminal::run(&real)).boxed_local(),
    ])
    .await;
    results.push(theme("node", node::run(&real)).await);
    let wall = started.elapsed();

    report(&real, &results, wall);
    real.stop().await;
    let failures: Vec<String> = results
        .into_iter()
        .filter_map(|(name, _, f)| f.map(|f| format!("{name}: {f}")))
        .collect();
    assert!(
        failures.is_empty(),
        "the labs on the real cluster:\n{}",
        failures.join("\n\n")
    );
}

#[test]
fn the_real_suite_runs_only_when_asked_and_fails_when_required_but_not_asked() {
    assert_eq!(gate(Some("1"), None), Gate::Run);
    assert_eq!(gate(Some("1"), Some("1")), Gate::Run);
    assert!(matches!(gate(None, None), Gate::Skip(m) if m.contains("KUBELAB_REAL_CLUSTER=1")));
    assert!(matches!(gate(Some("0"), None), Gate::Skip(_)));
    assert!(matches!(
        gate(None, Some("1")),
        Gate::Fail(m) if m.contains("KUBELAB_REQUIRE_REAL_CLUSTER")
    ));
}
