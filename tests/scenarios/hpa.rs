//! Scenarios: the `hpa` lab — metrics-server served, cpu-burner with a CPU request, an
//! autoscaling/v2 HPA on it, its metrics arriving, load, scale-out, and the load stopped.
//!
//! The fake has no HPA controller and no metrics-server: the tests write the HPA's status the way
//! kube-controller-manager does (recorded exchanges 021 and 036), and scale the Deployment as the
//! HPA would through its scale subresource.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Env, env};

const LAB: &str = "hpa";
const NS: &str = "default";

/// The HPA that `kubectl autoscale deployment cpu-burner --cpu-percent=50 --min=1 --max=5`
/// creates, as the API server stores it right after creation (recorded exchange 021).
fn autoscale_hpa() -> Value {
    json!({
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": "cpu-burner", "namespace": NS},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": "cpu-burner"},
            "minReplicas": 1,
            "maxReplicas": 5,
            "metrics": [{
                "type": "Resource",
                "resource": {"name": "cpu", "target": {"type": "Utilization", "averageUtilization": 50}}
            }]
        },
        "status": {"desiredReplicas": 0, "currentMetrics": null}
    })
}

/// The HPA controller's status when it cannot compute a replica count (recorded exchange 036).
fn failing_status(message: &str) -> Value {
    json!({
        "currentReplicas": 1,
        "desiredReplicas": 0,
        "currentMetrics": null,
        "conditions": [
            {"type": "AbleToScale", "status": "True", "lastTransitionTime": "2026-11-29T08:15:48Z",
             "reason": "SucceededGetScale", "message": "the HPA controller was able to get the target's current scale"},
            {"type": "ScalingActive", "status": "False", "lastTransitionTime": "2026-11-29T08:15:48Z",
             "reason": "FailedGetResourceMetric", "message": message}
        ]
    })
}

/// The HPA controller's status once metrics flow: `utilization` % of the request, `current`
/// replicas, `desired` replicas.
fn active_status(utilization: i64, current: i64, desired: i64) -> Value {
    json!({
        "currentReplicas": current,
        "desiredReplicas": desired,
        "currentMetrics": [{
            "type": "Resource",
            "resource": {"name": "cpu", "current": {"averageValue": format!("{utilization}m"), "averageUtilization": utilization}}
        }],
        "conditions": [
            {"type": "AbleToScale", "status": "True", "lastTransitionTime": "2026-11-29T08:15:48Z",
             "reason": "ReadyForNewScale", "message": "recommended size matches current size"},
            {"type": "ScalingActive", "status": "True", "lastTransitionTime": "2026-11-29T08:16:48Z",
             "reason": "ValidMetricFound",
             "message": "the HPA was able to successfully calculate a replica count from cpu resource utilization (percentage of request)"},
            {"type": "ScalingLimited", "status": "False", "lastTransitionTime": "2026-11-29T08:16:48Z",
             "reason": "DesiredWithinRange", "message": "the desired count is within the acceptable range"}
        ]
    })
}

const NO_METRICS_YET: &str = "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: no metrics returned from resource metrics API";
const NO_METRICS_API: &str = "the HPA was unable to compute the replica count: failed to get cpu utilization: unable to get metrics for resource cpu: unable to fetch metrics from resource metrics API: the server could not find the requested resource (get pods.metrics.k8s.io)";
const MISSING_REQUEST: &str = "the HPA was unable to compute the replica count: failed to get cpu utilization: missing request for cpu in container web of Pod cpu-burner-7d4b9c8f6-x2x7q";

fn set_hpa_status(env: &Env, status: Value) {
    // Conditions are a list: replace the whole status rather than merging into the old one.
    let mut hpa = env
        .fake
        .get(
            "autoscaling/v2",
            "HorizontalPodAutoscaler",
            Some(NS),
            "cpu-burner",
        )
        .expect("the HPA exists");
    hpa["status"] = status;
    env.put(hpa);
}

/// Scales cpu-burner as the HPA does through the scale subresource.
fn scale(env: &Env, replicas: i64) {
    let mut deployment = env
        .fake
        .get("apps/v1", "Deployment", Some(NS), "cpu-burner")
        .expect("cpu-burner exists");
    deployment["spec"]["replicas"] = json!(replicas);
    env.put(deployment);
}

#[tokio::test]
async fn metrics_server_must_be_served() {
    let env = env().await;
    let report = env.check(LAB, "metrics-server").await;
    assert_eq!(
        report.verdict("pod-metrics-served"),
        "failed",
        "{}",
        report.0
    );
    assert_eq!(
        report.diagnostics("pod-metrics-served"),
        vec![(
            String::new(),
            "the cluster to serve `PodMetrics` (`metrics.k8s.io/v1beta1`)".to_owned(),
            "not served".to_owned()
        )]
    );

    env.fake.set_metrics_api(true);
    env.check(LAB, "metrics-server").await.assert_all_passed();
}

#[tokio::test]
async fn set_up_deploys_cpu_burner_with_a_cpu_request() {
    let env = env().await;
    let report = env.setup(LAB, "deployment").await;
    let applied: Vec<String> = report["applied"]
        .as_array()
        .expect("applied")
        .iter()
        .map(|a| {
            format!(
                "{}/{}",
                a["kind"].as_str().unwrap_or(""),
                a["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(applied, vec!["Deployment/cpu-burner", "Service/cpu-burner"]);
    let deployment = env
        .fake
        .get("apps/v1", "Deployment", Some(NS), "cpu-burner")
        .expect("cpu-burner exists");
    assert_eq!(
        deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"],
        "100m"
    );

    // No controller has acted yet: the request is there, the rollout is only starting.
    let report = env.check(LAB, "deployment").await;
    assert_eq!(report.verdict("cpu-requests"), "passed", "{}", report.0);
    assert_eq!(
        report.verdict("rollout-complete"),
        "pending",
        "{}",
        report.0
    );
}

#[tokio::test]
async fn cpu_burner_rolls_out_with_a_kubelet() {
    let env = env().await;
    env.fake.simulate_workloads(true);
    env.setup(LAB, "deployment").await;
    env.check_until(LAB, "deployment", "passed")
        .await
        .assert_all_passed();
}

#[tokio::test]
async fn a_deployment_without_a_cpu_request_cannot_be_autoscaled() {
    let env = env().await;
    env.put(json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "cpu-burner", "namespace": NS, "labels": {"app": "cpu-burner"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "cpu-burner"}},
            "template": {
                "metadata": {"labels": {"app": "cpu-burner"}},
                "spec": {"containers": [{"name": "web", "image": "busybox:1.36",
                                         "resources": {"limits": {"memory": "64Mi"}}}]}
            }
        }
    }));
    let report = env.check(LAB, "deployment").await;
    assert_eq!(report.verdict("cpu-requests"), "failed", "{}", report.0);
    let diags = report.diagnostics("cpu-requests");
    assert!(
        diags.iter().any(|(p, _, a)| p
            .starts_with("spec.template.spec.containers[name=web].resources")
            && a == "missing"),
        "{diags:?}"
    );
}

#[tokio::test]
async fn the_hpa_is_checked_on_its_spec() {
    let env = env().await;
    let report = env.check(LAB, "create-hpa").await;
    for id in ["hpa-target", "hpa-bounds", "hpa-cpu-target"] {
        assert_eq!(report.verdict(id), "failed", "{id}: {}", report.0);
        assert_eq!(
            report.diagnostics(id),
            vec![(
                String::new(),
                "HorizontalPodAutoscaler `cpu-burner` to exist".to_owned(),
                "not found in namespace `default`".to_owned()
            )],
            "{id}"
        );
    }

    // What kubectl autoscale writes.
    env.put(autoscale_hpa());
    env.check(LAB, "create-hpa").await.assert_all_passed();
}

#[tokio::test]
async fn a_wrong_hpa_is_explained_field_by_field() {
    let env = env().await;
    let mut hpa = autoscale_hpa();
    // Scales the wrong Deployment, cannot grow, and targets memory instead of CPU.
    hpa["spec"]["scaleTargetRef"]["name"] = json!("nginx-deployment");
    hpa["spec"]["minReplicas"] = json!(2);
    hpa["spec"]["maxReplicas"] = json!(2);
    hpa["spec"]["metrics"][0]["resource"]["name"] = json!("memory");
    env.put(hpa);

    let report = env.check(LAB, "create-hpa").await;
    assert_eq!(report.verdict("hpa-target"), "failed");
    assert_eq!(
        report.diagnostics("hpa-target"),
        vec![(
            "spec.scaleTargetRef.name".to_owned(),
            "`\"cpu-burner\"`".to_owned(),
            "`\"nginx-deployment\"`".to_owned()
        )]
    );
    assert_eq!(report.verdict("hpa-bounds"), "failed");
    assert!(
        report.diagnostics("hpa-bounds").contains(&(
            "spec.minReplicas".to_owned(),
            "`1`".to_owned(),
            "`2`".to_owned()
        )),
        "{:?}",
        report.diagnostics("hpa-bounds")
    );
    assert_eq!(report.verdict("hpa-cpu-target"), "failed");
    let diags = report.diagnostics("hpa-cpu-target");
    assert!(
        diags
            .iter()
            .any(|(p, _, a)| p == "spec.metrics" && a.contains("memory")),
        "{diags:?}"
    );
}

#[tokio::test]
async fn metrics_are_pending_in_the_first_minute_then_active() {
    let env = env().await;
    env.fake.set_metrics_api(true);
    env.put(autoscale_hpa());

    // Just created: the controller has not written any condition yet.
    let report = env.check(LAB, "metrics").await;
    assert_eq!(report.verdict("scaling-active"), "pending", "{}", report.0);
    assert_eq!(report.verdict("current-cpu"), "pending", "{}", report.0);

    // The first minute: metrics-server has no sample of the new Pods yet.
    set_hpa_status(&env, failing_status(NO_METRICS_YET));
    let report = env.check(LAB, "metrics").await;
    assert_eq!(report.verdict("scaling-active"), "pending", "{}", report.0);
    assert!(
        report
            .diagnostics("scaling-active")
            .iter()
            .any(|(p, _, _)| p.starts_with("status.conditions")),
        "{}",
        report.0
    );
    assert_eq!(report.verdict("current-cpu"), "pending", "{}", report.0);

    // Metrics flow: 0% of the request while idle.
    set_hpa_status(&env, active_status(0, 1, 1));
    env.check(LAB, "metrics").await.assert_all_passed();
}

#[tokio::test]
async fn metrics_that_will_never_come_fail_instead_of_waiting() {
    let env = env().await;
    env.put(autoscale_hpa());

    // The Pods have no CPU request: waiting does not help.
    set_hpa_status(&env, failing_status(MISSING_REQUEST));
    let report = env.check(LAB, "metrics").await;
    assert_eq!(report.verdict("scaling-active"), "failed", "{}", report.0);
    assert_eq!(report.verdict("current-cpu"), "failed", "{}", report.0);
    assert_eq!(report.status(), "failed");

    // No metrics API at all, exactly as recorded from a cluster without metrics-server.
    set_hpa_status(&env, failing_status(NO_METRICS_API));
    let report = env.check(LAB, "metrics").await;
    assert_eq!(report.verdict("scaling-active"), "failed", "{}", report.0);
    let diags = report.diagnostics("current-cpu");
    assert!(
        diags
            .iter()
            .any(|(p, _, a)| p == "status.currentMetrics" && a == "`null`"),
        "{diags:?}"
    );
}

#[tokio::test]
async fn load_scales_the_deployment_out() {
    let env = env().await;
    env.fake.set_metrics_api(true);
    env.fake.simulate_workloads(true);
    env.setup(LAB, "deployment").await;
    env.check_until(LAB, "deployment", "passed").await;
    env.put(autoscale_hpa());
    set_hpa_status(&env, active_status(1, 1, 1));
    env.check(LAB, "metrics").await.assert_all_passed();

    let report = env.setup(LAB, "load").await;
    assert_eq!(report["applied"][0]["name"], "load-generator");
    let pod = env
        .fake
        .get("v1", "Pod", Some(NS), "load-generator")
        .expect("load-generator exists");
    assert!(
        pod["spec"]["containers"][0]["command"]
            .to_string()
            .contains("http://cpu-burner/cgi-bin/burn"),
        "{pod}"
    );

    // The load runs, the HPA works but has not seen the rise yet: waiting, not wrong.
    assert!(
        env.fake
            .wait_for(Duration::from_secs(10), |f| {
                f.get("v1", "Pod", Some(NS), "load-generator")
                    .is_some_and(|p| p["status"]["phase"] == "Running")
            })
            .await,
        "the simulated kubelet starts load-generator"
    );
    let report = env.check(LAB, "load").await;
    assert_eq!(report.verdict("load-running"), "passed", "{}", report.0);
    assert_eq!(
        report.verdict("desired-replicas"),
        "pending",
        "{}",
        report.0
    );
    assert_eq!(
        report.verdict("deployment-scaled"),
        "pending",
        "{}",
        report.0
    );

    // The HPA sees 248% of the request and asks for ceil(1 × 248 / 50) = 5 replicas.
    set_hpa_status(&env, active_status(248, 1, 5));
    scale(&env, 5);
    let report = env.check_until(LAB, "load", "passed").await;
    report.assert_all_passed();
    let deployment = env
        .fake
        .get("apps/v1", "Deployment", Some(NS), "cpu-burner")
        .expect("cpu-burner exists");
    assert_eq!(deployment["spec"]["replicas"], 5);
}

#[tokio::test]
async fn no_scale_out_when_the_hpa_cannot_read_the_cpu() {
    let env = env().await;
    env.setup(LAB, "deployment").await;
    env.put(autoscale_hpa());
    set_hpa_status(&env, failing_status(MISSING_REQUEST));
    let report = env.check(LAB, "load").await;
    assert_eq!(report.verdict("load-running"), "failed", "{}", report.0);
    assert_eq!(
        report.diagnostics("load-running"),
        vec![(
            String::new(),
            "Pod `load-generator` to exist".to_owned(),
            "not found in namespace `default`".to_owned()
        )]
    );
    assert_eq!(report.verdict("desired-replicas"), "failed", "{}", report.0);
    assert_eq!(
        report.diagnostics("desired-replicas"),
        vec![(
            "status.desiredReplicas".to_owned(),
            "at least 2".to_owned(),
            "`0`".to_owned()
        )]
    );
}

#[tokio::test]
async fn the_load_generator_must_be_stopped() {
    let env = env().await;
    env.setup(LAB, "load").await;
    let report = env.check(LAB, "stop-load").await;
    assert_eq!(report.verdict("load-stopped"), "failed");
    assert_eq!(
        report.diagnostics("load-stopped"),
        vec![(
            String::new(),
            "no Pod `load-generator`".to_owned(),
            "`default/load-generator`".to_owned()
        )]
    );

    env.fake
        .delete("v1", "Pod", Some(NS), "load-generator")
        .expect("kubectl delete pod load-generator");
    env.check(LAB, "stop-load").await.assert_all_passed();
}

#[tokio::test]
async fn reset_removes_the_deployment_the_hpa_and_the_load() {
    let env = env().await;
    env.setup(LAB, "deployment").await;
    env.setup(LAB, "load").await;
    env.put(autoscale_hpa());

    // The HPA is the learner's (kubectl autoscale): deleted only once they confirm.
    let (report, _) = env
        .reset_confirming(LAB, &["HorizontalPodAutoscaler/cpu-burner"])
        .await;
    for (api_version, kind, name) in [
        ("apps/v1", "Deployment", "cpu-burner"),
        ("v1", "Service", "cpu-burner"),
        ("autoscaling/v2", "HorizontalPodAutoscaler", "cpu-burner"),
        ("v1", "Pod", "load-generator"),
    ] {
        assert!(
            env.fake.get(api_version, kind, Some(NS), name).is_none(),
            "{kind}/{name} is gone: {report}"
        );
    }
    assert!(
        env.fake.get("v1", "Namespace", None, NS).is_some(),
        "default stays"
    );
}
