//! The HPA lab on a cluster without metrics-server (realkube has none): what can be asserted is
//! the set-up, the learner's HPA (a wrong target first), and the real HPA controller saying it
//! cannot get metrics — ScalingActive False, no current CPU, no scale-out under load.

use super::harness::{
    CONTROLLER, REAL_NODE, Real, Row, STARTUP, kept, names, node_of, reset_deleting,
};

const LAB: &str = "hpa";
const NS: &str = "default";

/// The whole lab, from a clean start to Reset.
pub async fn run(real: &Real) {
    let k = &real.kubectl;
    real.reset_everything(LAB).await;
    k.line(&format!("delete hpa cpu-burner -n {NS} --ignore-not-found"))
        .await;
    k.wait_gone(&["pods", "-n", NS, "-l", "app=cpu-burner"], STARTUP)
        .await;
    k.wait_gone(&["pod", "load-generator", "-n", NS], STARTUP)
        .await;

    real.step(LAB, "metrics-server")
        .expect(
            "no metrics-server on this cluster",
            &[("pod-metrics-served", "failed")],
        )
        .await;

    let deployment = real.step(LAB, "deployment");
    deployment.setup().await;
    deployment
        .expect(
            "Set up cpu-burner",
            &[("cpu-requests", "passed"), ("rollout-complete", "passed")],
        )
        .await;
    let pods = k.json(&["pods", "-n", NS, "-l", "app=cpu-burner"]).await;
    assert!(
        super::harness::items(&pods)
            .iter()
            .all(|p| node_of(p) == REAL_NODE)
    );

    let create = real.step(LAB, "create-hpa");
    create
        .expect(
            "no HPA yet",
            &[
                ("hpa-target", "failed"),
                ("hpa-bounds", "failed"),
                ("hpa-cpu-target", "failed"),
            ],
        )
        .await;
    k.line(&format!(
        "autoscale deployment cpu-burner -n {NS} --cpu-percent=90 --min=1 --max=5"
    ))
    .await;
    create
        .expect(
            "kubectl autoscale --cpu-percent=90 (above the lab's 80)",
            &[
                ("hpa-target", "passed"),
                ("hpa-bounds", "passed"),
                ("hpa-cpu-target", "failed"),
            ],
        )
        .await;
    k.line(&format!("delete hpa cpu-burner -n {NS}")).await;
    k.line(&format!(
        "autoscale deployment cpu-burner -n {NS} --cpu-percent=50 --min=1 --max=5"
    ))
    .await;
    create
        .expect(
            "the notes' kubectl autoscale --cpu-percent=50 --min=1 --max=5",
            &[
                ("hpa-target", "passed"),
                ("hpa-bounds", "passed"),
                ("hpa-cpu-target", "passed"),
            ],
        )
        .await;

    // Without a metrics API the HPA controller reports why within its 15 s period; the lab
    // calls that failed (it never resolves by waiting), not pending.
    let metrics = real.step(LAB, "metrics");
    metrics
        .expect_within(
            "HPA controller ran; no metrics API",
            &[],
            &[("scaling-active", "failed"), ("current-cpu", "failed")],
            CONTROLLER,
        )
        .await;
    let hpa = k.json(&["hpa", "cpu-burner", "-n", NS]).await;
    let conditions = hpa["status"]["conditions"].clone();
    eprintln!("real cluster: HPA conditions without metrics-server: {conditions}");
    assert!(
        conditions.as_array().is_some_and(|cs| cs
            .iter()
            .any(|c| c["type"] == "ScalingActive" && c["status"] == "False")),
        "{conditions}"
    );

    let load = real.step(LAB, "load");
    load.setup().await;
    load.expect(
        "Set up load-generator (no metrics: no scale-out)",
        &[
            ("load-running", "passed"),
            ("desired-replicas", "failed|pending"),
            ("deployment-scaled", "failed|pending"),
        ],
    )
    .await;
    real.record(Row {
        place: format!("{LAB}/load"),
        action: "not assertable here".into(),
        verdicts: "scale-out needs metrics-server, which realkube does not run".into(),
        waited: 0.0,
    });

    let stop = real.step(LAB, "stop-load");
    stop.expect("load still running", &[("load-stopped", "failed")])
        .await;
    k.line(&format!("delete pod load-generator -n {NS}")).await;
    stop.expect(
        "kubectl delete pod load-generator",
        &[("load-stopped", "passed")],
    )
    .await;

    // Reset deletes what Set up made; the HPA the learner made with kubectl autoscale is theirs:
    // kept and listed until they confirm.
    let report = real.reset(LAB).await;
    let deleted = report["deleted"].as_array().cloned().unwrap_or_default();
    assert_eq!(names(&deleted, "Deployment"), ["cpu-burner"], "{report}");
    assert_eq!(names(&deleted, "Service"), ["cpu-burner"], "{report}");
    let yours = kept(&report, "yours");
    assert_eq!(
        names(&yours, "HorizontalPodAutoscaler"),
        ["cpu-burner"],
        "the learner's HPA is kept as theirs: {report}"
    );
    k.wait_gone(&["deployment", "cpu-burner", "-n", NS], STARTUP)
        .await;
    k.wait_gone(&["service", "cpu-burner", "-n", NS], STARTUP)
        .await;
    assert!(!k.json(&["hpa", "cpu-burner", "-n", NS]).await.is_null());
    reset_deleting(&real.app, LAB, &yours).await;
    k.wait_gone(&["hpa", "cpu-burner", "-n", NS], STARTUP).await;
    real.record(Row {
        place: format!("{LAB} (Reset)"),
        action: "Reset, then Reset confirming the learner's own objects".into(),
        verdicts:
            "Deployment + Service deleted; the learner's HPA kept (yours), deleted on confirmation"
                .into(),
        waited: 0.0,
    });
}
