//! The environment lab on a real API server: reachability, a Ready node, the version (answered
//! right and wrong) and the metrics API, which realkube does not serve.

use super::harness::Real;

const LAB: &str = "environment";

/// The whole lab (nothing to set up).
pub async fn run(real: &Real) {
    let k = &real.kubectl;
    real.reset_everything(LAB).await;
    real.step(LAB, "start")
        .expect(
            "kubectl get nodes",
            &[("cluster-answers", "passed"), ("node-ready", "passed")],
        )
        .await;

    let version: serde_json::Value =
        serde_json::from_str(&k.line("version -o json").await).expect("kubectl version");
    let server = version["serverVersion"]["gitVersion"]
        .as_str()
        .expect("server version")
        .to_owned();
    let step = real.step(LAB, "version");
    step.expect_answers(
        "answered v1.99.0 (wrong)",
        &[("server-version", "v1.99.0")],
        &[("new-enough", "passed"), ("server-version", "failed")],
    )
    .await;
    step.expect_answers(
        "answered the Server Version of kubectl version",
        &[("server-version", &server)],
        &[("server-version", "passed")],
    )
    .await;

    real.step(LAB, "metrics")
        .expect(
            "no metrics-server on this cluster",
            &[("metrics-api", "failed")],
        )
        .await;
}
