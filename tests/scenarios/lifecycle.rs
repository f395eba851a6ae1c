//! The step life cycle across steps, resets and restarts: a step counts only when the learner
//! made it so, a regressed step shows as such, Reset goes back to the true beginning and
//! deletes only what kubelab created, Set up never changes what the learner made, an
//! unreachable cluster is explained, and `kubelab check` scripts the same checks.

use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use super::{Env, env, next_second, running_ready};
use crate::app::spawn_app;

fn completed(env: &Env) {
    let generation = env
        .fake
        .get("apps/v1", "Deployment", Some("default"), "nginx-deployment")
        .expect("deployment")["metadata"]["generation"]
        .clone();
    env.fake
        .patch_status(
            "apps/v1",
            "Deployment",
            Some("default"),
            "nginx-deployment",
            json!({"observedGeneration": generation, "replicas": 3, "updatedReplicas": 3,
                   "readyReplicas": 3, "availableReplicas": 3,
                   "conditions": [{"type": "Progressing", "status": "True", "reason": "NewReplicaSetAvailable"}]}),
        )
        .expect("status");
}

async fn step_done(env: &Env, lab: &str, step: &str) -> bool {
    env.app
        .engine()
        .lab_progress(lab)
        .await
        .expect("progress")
        .step(step)
        .is_some_and(|s| s.state.is_done())
}

#[tokio::test]
async fn reset_of_the_kubectl_lab_leaves_the_default_namespace_alone() {
    let env = env().await;
    env.setup("kubectl", "rollout-status").await;
    let (status, report) = env.app.post_json("/api/labs/kubectl/reset").await;
    assert_eq!(status, 200, "{report}");
    assert!(
        env.fake
            .get("apps/v1", "Deployment", Some("default"), "nginx-deployment")
            .is_none()
    );
    assert!(env.fake.get("v1", "Namespace", None, "default").is_some());
    assert!(
        !env.fake
            .requests()
            .iter()
            .any(|r| r.method == "DELETE" && r.path.ends_with("/namespaces/default"))
    );
}

#[tokio::test]
async fn without_a_cluster_set_up_and_check_explain_instead_of_failing() {
    let app = spawn_app().await;
    for path in [
        "/api/labs/kubectl/steps/rollout-status/setup",
        "/api/labs/kubectl/steps/rollout-status/check",
    ] {
        let (status, body) = app.post_json(path).await;
        assert_eq!(status, 503, "{path}: {body}");
        let text = body.to_string();
        assert!(text.contains("kubeconfig"), "{path}: {text}");
    }
    // The readiness probe reports the cluster without failing on it.
    let (status, ready) = app.get_json("/readyz").await;
    assert_eq!(status, 200, "{ready}");
    assert!(
        ready.to_string().contains("unreachable") || ready.to_string().contains("unknown"),
        "{ready}"
    );
}

#[tokio::test]
async fn a_cluster_that_goes_away_and_comes_back() {
    let env = env().await;
    env.setup("kubectl", "rollout-status").await;
    env.fake.stop().await;
    let (status, body) = env
        .app
        .post_json("/api/labs/kubectl/steps/rollout-status/check")
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(matches!(
        env.app.engine().health(),
        kubelab::engine::Health::Unreachable { .. }
    ));
    env.fake.restart().await;
    let report = env.check("kubectl", "rollout-status").await;
    assert_ne!(report.status(), "error", "{}", report.0);
}

fn kubelab(args: &[&str]) -> (i32, String, String) {
    // Hermetic: no progress database of the machine's user is read.
    let data = tempfile::tempdir().expect("dir");
    let out = Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .args(args)
        .env("RUST_LOG", "error")
        .env("XDG_DATA_HOME", data.path())
        .output()
        .expect("kubelab runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn kubelab_check_exits_zero_only_when_everything_passes() {
    let env = env().await;
    let dir = tempfile::tempdir().expect("dir");
    let kubeconfig = env.fake.write_kubeconfig(dir.path());
    let kubeconfig = kubeconfig.to_str().expect("utf-8 path").to_owned();
    env.setup("kubectl", "rollout-status").await;

    let kc = kubeconfig.clone();
    let (code, stdout, _) = tokio::task::spawn_blocking(move || {
        kubelab(&[
            "check",
            "kubectl",
            "--step",
            "rollout-status",
            "--kubeconfig",
            &kc,
        ])
    })
    .await
    .expect("join");
    assert_ne!(code, 0);
    assert!(stdout.contains("rollout-complete"), "{stdout}");

    completed(&env);
    let kc = kubeconfig.clone();
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || {
        kubelab(&[
            "check",
            "kubectl",
            "--step",
            "rollout-status",
            "--json",
            "--kubeconfig",
            &kc,
        ])
    })
    .await
    .expect("join");
    assert_eq!(code, 0, "{stdout}{stderr}");
    let json: Value = serde_json::from_str(&stdout).expect("--json prints JSON");
    assert_eq!(json["passed"], true);

    let kc = kubeconfig.clone();
    let (code, _, stderr) = tokio::task::spawn_blocking(move || {
        kubelab(&["check", "no-such-lab", "--kubeconfig", &kc])
    })
    .await
    .expect("join");
    assert_ne!(code, 0);
    assert!(stderr.contains("no-such-lab"), "{stderr}");
}

/// `GET /api/labs/{lab}`.
async fn lab_api(env: &Env, lab: &str) -> Value {
    let (status, body) = env.app.get_json(&format!("/api/labs/{lab}")).await;
    assert_eq!(status, 200, "{body}");
    body
}

fn step_state<'a>(lab: &'a Value, step: &str) -> &'a str {
    lab["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == step))
        .and_then(|s| s["state"].as_str())
        .unwrap_or_else(|| panic!("no step {step} in {lab}"))
}

fn labels(object: &Value) -> Value {
    object["metadata"]["labels"].clone()
}

#[tokio::test]
async fn nothing_is_done_before_the_learner_did_anything() {
    let env = env().await;
    // Opening the page starts the first step only.
    let (status, _) = env.app.get("/labs/configmap").await;
    assert_eq!(status, 200);
    let lab = lab_api(&env, "configmap").await;
    assert_eq!(lab["done"], 0, "{lab}");
    assert_eq!(step_state(&lab, "create-configmap"), "in-progress");
    assert_eq!(step_state(&lab, "beyond-the-notes"), "not-started");

    // Step 5 holds only `absent` checks, true on an empty cluster: one Check does not count.
    let report = env.check("configmap", "beyond-the-notes").await;
    assert_eq!(report.status(), "passed", "{}", report.0);
    assert_eq!(report.0["state"], "in-progress", "{}", report.0);
    assert_eq!(report.0["awaiting"], "learner-work", "{}", report.0);
    let lab = lab_api(&env, "configmap").await;
    assert_eq!(lab["done"], 0, "{lab}");
    let (_, labs) = env.app.get_json("/api/labs").await;
    let configmap = labs["labs"]
        .as_array()
        .and_then(|l| l.iter().find(|l| l["id"] == "configmap"))
        .expect("configmap listed");
    assert_eq!(configmap["done"], 0, "{labs}");
}

#[tokio::test]
async fn an_absent_only_step_counts_once_what_was_made_is_gone() {
    let env = env().await;
    env.check("configmap", "beyond-the-notes").await;
    // The learner tries the subPath demo...
    env.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fly-k8s"}}));
    env.put(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "subpath-demo", "namespace": "fly-k8s"},
        "spec": {"containers": [{"name": "c", "image": "busybox:1.36"}]}}));
    let report = env.check("configmap", "beyond-the-notes").await;
    assert_eq!(report.verdict("subpath-demo-cleaned"), "failed");
    assert_eq!(report.0["state"], "in-progress");
    // ...and cleans up: the step counts.
    env.fake
        .delete("v1", "Pod", Some("fly-k8s"), "subpath-demo")
        .expect("delete");
    let report = env.check("configmap", "beyond-the-notes").await;
    assert_eq!(report.0["state"], "passed", "{}", report.0);
}

#[tokio::test]
async fn checks_that_held_before_the_step_started_do_not_count_until_set_up() {
    let env = env().await;
    // Everything of step 1 is already there (made in an earlier session, by hand).
    env.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fly-k8s"}}));
    env.put(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "base-map", "namespace": "fly-k8s"},
        "data": {"fly-name": "kubelab",
                 "application.yaml": "server:\n  port: 8080\ngreeting: \"hello from a ConfigMap\"\n",
                 "game.properties": "enemy.types=aliens,monsters\nplayer.maximum-lives=5\n"}}));
    next_second().await;
    let report = env.check("configmap", "create-configmap").await;
    report.assert_all_passed();
    assert_eq!(report.0["state"], "in-progress", "{}", report.0);
    assert_eq!(report.0["awaiting"], "learner-work");
    // Pressing Set up is the learner's doing: the step now counts.
    let setup = env.setup("configmap", "create-configmap").await;
    let actions: Vec<&str> = setup["applied"]
        .as_array()
        .expect("applied")
        .iter()
        .filter_map(|a| a["action"].as_str())
        .collect();
    assert_eq!(actions, ["yours", "yours"], "{setup}");
    let report = env.check("configmap", "create-configmap").await;
    assert_eq!(report.0["state"], "passed", "{}", report.0);
}

#[tokio::test]
async fn a_confirmation_step_passes_when_the_learner_presses_check() {
    let env = env().await;
    env.fake.simulate_workloads(true);
    env.setup("configmap", "create-configmap").await;
    env.check_until("configmap", "create-configmap", "passed")
        .await;
    env.setup("configmap", "pod").await;
    let report = env.check_until("configmap", "pod", "passed").await;
    assert_eq!(report.0["state"], "passed", "{}", report.0);
    // look-inside (a confirmation step) started when `pod` passed; its checks hold at once.
    let lab = lab_api(&env, "configmap").await;
    assert_eq!(step_state(&lab, "look-inside"), "in-progress", "{lab}");
    let report = env.check("configmap", "look-inside").await;
    assert_eq!(report.0["state"], "passed", "{}", report.0);
}

#[tokio::test]
async fn a_passed_step_that_stops_holding_shows_as_regressed() {
    let mut env = env().await;
    env.setup("kubectl", "rollout-status").await;
    let report = env.check("kubectl", "rollout-status").await;
    assert_eq!(report.status(), "pending");
    completed(&env);
    let report = env.check("kubectl", "rollout-status").await;
    assert_eq!(report.0["state"], "passed", "{}", report.0);

    env.app.restart().await;
    assert!(step_done(&env, "kubectl", "rollout-status").await);
    // The learner deletes the Deployment: the step was done, but does not hold now.
    env.fake
        .delete("apps/v1", "Deployment", Some("default"), "nginx-deployment")
        .expect("delete");
    let report = env.check("kubectl", "rollout-status").await;
    assert_eq!(report.status(), "failed");
    assert_eq!(report.0["state"], "regressed", "{}", report.0);
    let lab = lab_api(&env, "kubectl").await;
    assert_eq!(step_state(&lab, "rollout-status"), "regressed");
    assert_eq!(
        (lab["done"].as_u64(), lab["regressed"].as_u64()),
        (Some(1), Some(1))
    );
    let (_, page) = env.app.get("/labs/kubectl").await;
    assert!(
        page.contains("class=\"badge badge-regressed\">Done, now failing</span>"),
        "{page}"
    );
    assert!(!page.contains("badge-passed\">Done</span>"), "{page}");
}

#[tokio::test]
async fn reset_returns_to_the_true_beginning() {
    let env = env().await;
    env.fake.simulate_workloads(true);
    env.fake
        .set_namespace_deletion_delay(Duration::from_millis(50));
    env.app.engine().open_lab("configmap").await.expect("open");
    let mut live = env
        .app
        .engine()
        .subscribe("configmap")
        .await
        .expect("subscribe");
    env.setup("configmap", "create-configmap").await;
    env.check_until("configmap", "create-configmap", "passed")
        .await;
    env.setup("configmap", "pod").await;
    env.check_until("configmap", "pod", "passed").await;
    // The live re-check can start and pass the next step (look-inside: the running Pod's
    // environment) before this reads the lab; seen in about half the runs. At least the two
    // set-up steps are done, and Reset must undo whatever was.
    let before = lab_api(&env, "configmap").await;
    assert_eq!(
        step_state(&before, "create-configmap"),
        "passed",
        "{before}"
    );
    assert_eq!(step_state(&before, "pod"), "passed", "{before}");
    assert!(before["done"].as_u64() >= Some(2), "{before}");

    let (status, report) = env.app.post_json("/api/labs/configmap/reset").await;
    assert_eq!(status, 200, "{report}");
    let deleted: Vec<String> = report["deleted"]
        .as_array()
        .expect("deleted")
        .iter()
        .map(|d| {
            format!(
                "{}/{}",
                d["kind"].as_str().unwrap_or(""),
                d["name"].as_str().unwrap_or("")
            )
        })
        .collect();
    let mut contents = deleted[..2].to_vec();
    contents.sort();
    assert_eq!(
        (contents, deleted[2].as_str()),
        (
            vec!["ConfigMap/base-map".to_owned(), "Pod/busybox".to_owned()],
            "Namespace/fly-k8s"
        ),
        "what kubelab created, contents before the namespace: {report}"
    );
    // Progress, starts, answers and reports are gone at once.
    let lab = lab_api(&env, "configmap").await;
    assert_eq!(lab["done"], 0, "{lab}");
    for step in lab["steps"].as_array().expect("steps") {
        assert_eq!(step["state"], "not-started", "{step}");
        assert!(step["progress"]["passed_at"].is_null(), "{step}");
        assert!(step["report"].is_null(), "{step}");
    }
    // The open pages are told.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, live.receiver.recv()).await {
            Ok(Ok(kubelab::engine::LiveEvent::Reset { lab })) => {
                assert_eq!(lab, "configmap");
                break;
            }
            Ok(Ok(_)) | Ok(Err(_)) => {}
            Err(_) => panic!("no reset event reached the open page"),
        }
    }
    // A reopened page starts the first step, neutral: nothing red, no green.
    env.fake
        .wait_for(Duration::from_secs(5), |f| {
            f.get("v1", "Namespace", None, "fly-k8s").is_none()
        })
        .await;
    let (_, page) = env.app.get("/labs/configmap").await;
    assert!(!page.contains("badge-passed"), "{page}");
    assert!(!page.contains("result-failed"), "{page}");
    assert!(page.contains("What kubelab will check"), "{page}");
}

#[tokio::test]
async fn reset_never_deletes_a_namespace_kubelab_did_not_create() {
    let env = env().await;
    // The secret chapter tells learners: kubectl create namespace fly-k8s, then a Secret in it.
    env.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "fly-k8s"}}));
    env.put(
        json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
        "metadata": {"name": "mine", "namespace": "fly-k8s"}, "data": {"a": "Yg=="}}),
    );
    let report = env.setup("configmap", "create-configmap").await;
    assert_eq!(report["applied"][0]["kind"], "Namespace");
    assert_eq!(report["applied"][0]["action"], "yours", "{report}");
    assert_eq!(report["applied"][1]["action"], "created", "{report}");
    let namespace = env
        .fake
        .get("v1", "Namespace", None, "fly-k8s")
        .expect("ns");
    assert!(
        labels(&namespace).get("kubelab.io/lab").is_none(),
        "kubelab's labels never go onto the learner's namespace: {namespace}"
    );

    let (status, report) = env.app.post_json("/api/labs/configmap/reset").await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(
        report["deleted"],
        json!([{"apiVersion": "v1", "kind": "ConfigMap", "namespace": "fly-k8s", "name": "base-map"}]),
        "{report}"
    );
    assert!(
        report["kept"]
            .as_array()
            .expect("kept")
            .iter()
            .any(|k| k["name"] == "fly-k8s" && k["why"] == "not-created-by-kubelab"),
        "{report}"
    );
    let namespace = env
        .fake
        .get("v1", "Namespace", None, "fly-k8s")
        .expect("kept");
    assert!(namespace["metadata"]["deletionTimestamp"].is_null());
    assert!(
        env.fake
            .get("v1", "Secret", Some("fly-k8s"), "mine")
            .is_some()
    );
}

#[tokio::test]
async fn reset_keeps_a_namespace_another_lab_still_uses() {
    let env = env().await;
    env.setup("configmap", "create-configmap").await;
    // The secret chapter, in the same namespace, is under way.
    env.check("secret", "create-regcred").await;
    let (status, report) = env.app.post_json("/api/labs/configmap/reset").await;
    assert_eq!(status, 200, "{report}");
    assert!(
        report["kept"]
            .as_array()
            .expect("kept")
            .iter()
            .any(|k| k["name"] == "fly-k8s" && k["why"] == "used-by-lab" && k["lab"] == "secret"),
        "{report}"
    );
    assert!(env.fake.get("v1", "Namespace", None, "fly-k8s").is_some());
    assert!(
        env.fake
            .get("v1", "ConfigMap", Some("fly-k8s"), "base-map")
            .is_none(),
        "the ConfigMap kubelab created for this lab is gone"
    );
}

#[tokio::test]
async fn set_up_over_the_learners_own_pod_explains_and_replaces_only_when_asked() {
    let env = env().await;
    env.setup("configmap", "create-configmap").await;
    // The learner made their own Pod busybox, with another image.
    let theirs = json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "busybox", "namespace": "fly-k8s"},
        "spec": {"containers": [{"name": "busybox", "image": "busybox:1.35",
                                 "command": ["sleep", "3600"]}]}});
    env.put(theirs);
    let (status, report) = env
        .app
        .post_json("/api/labs/configmap/steps/pod/setup")
        .await;
    assert_eq!(status, 409, "{report}");
    let obstacle = &report["in_the_way"][0];
    assert_eq!(obstacle["name"], "busybox", "{report}");
    assert!(
        ["yours", "immutable"].contains(&obstacle["why"].as_str().unwrap_or("")),
        "{report}"
    );
    let pod = env
        .fake
        .get("v1", "Pod", Some("fly-k8s"), "busybox")
        .expect("pod");
    assert_eq!(
        pod["spec"]["containers"][0]["image"], "busybox:1.35",
        "the learner's Pod is untouched"
    );
    assert!(labels(&pod).get("kubelab.io/lab").is_none(), "{pod}");

    // Replace, as the learner confirmed.
    let (status, report) = env
        .app
        .post_json_with(
            "/api/labs/configmap/steps/pod/setup",
            &json!({"replace": [{"apiVersion": "v1", "kind": "Pod", "namespace": "fly-k8s", "name": "busybox"}]}),
        )
        .await;
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["applied"][0]["action"], "replaced", "{report}");
    let pod = env
        .fake
        .get("v1", "Pod", Some("fly-k8s"), "busybox")
        .expect("pod");
    assert_eq!(pod["spec"]["containers"][0]["image"], "busybox:1.36");
    assert_eq!(labels(&pod)["kubelab.io/lab"], "configmap");
    // Now it is kubelab's: Reset deletes it.
    let (_, report) = env.app.post_json("/api/labs/configmap/reset").await;
    assert!(
        report["deleted"].to_string().contains("busybox"),
        "{report}"
    );
}

#[tokio::test]
async fn set_up_does_not_merge_into_the_learners_deployment() {
    let env = env().await;
    // kubectl create deployment cpu-burner --image=busybox:1.36 -- sleep 3600
    env.put(json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "cpu-burner", "namespace": "default", "labels": {"app": "cpu-burner"}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "cpu-burner"}},
                 "template": {"metadata": {"labels": {"app": "cpu-burner"}},
                              "spec": {"containers": [{"name": "busybox", "image": "busybox:1.36",
                                                       "command": ["sleep", "3600"]}]}}}}));
    let (status, report) = env
        .app
        .post_json("/api/labs/hpa/steps/deployment/setup")
        .await;
    assert_eq!(
        status, 409,
        "never 'configured' over the learner's object: {report}"
    );
    assert_eq!(report["in_the_way"][0]["kind"], "Deployment", "{report}");
    assert_eq!(report["in_the_way"][0]["why"], "yours", "{report}");
    let deployment = env
        .fake
        .get("apps/v1", "Deployment", Some("default"), "cpu-burner")
        .expect("deployment");
    let containers = deployment["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers");
    assert_eq!(containers.len(), 1, "{deployment}");
    assert_eq!(containers[0]["name"], "busybox");
}

#[tokio::test]
async fn a_set_up_page_form_redirects_to_a_reloadable_address() {
    let env = env().await;
    let (_, page) = env.app.get("/labs/configmap").await;
    let csrf = {
        let marker = "<meta name=\"csrf-token\" content=\"";
        let start = page.find(marker).expect("csrf") + marker.len();
        page[start..start + page[start..].find('"').expect("end")].to_owned()
    };
    for (path, target) in [
        (
            "/labs/configmap/steps/create-configmap/setup",
            "/labs/configmap#step-create-configmap",
        ),
        (
            "/labs/configmap/steps/create-configmap/check",
            "/labs/configmap#step-create-configmap",
        ),
        ("/labs/configmap/reset", "/labs/configmap"),
    ] {
        let response = env
            .app
            .client
            .post(format!("{}{path}", env.app.url))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("csrf_token={csrf}"))
            .send()
            .await
            .expect("POST");
        assert_eq!(response.status().as_u16(), 303, "{path}");
        assert_eq!(
            response.headers()["location"].to_str().expect("location"),
            target
        );
        // The page it goes to shows what happened, once.
        let (status, page) = env.app.get("/labs/configmap").await;
        assert_eq!(status, 200);
        if path.ends_with("/reset") {
            assert!(page.contains("The lab was reset"), "{page}");
            let (_, again) = env.app.get("/labs/configmap").await;
            assert!(!again.contains("The lab was reset"), "shown once");
        }
        if path.ends_with("/setup") {
            assert!(page.contains("Set up done"), "{page}");
        }
    }
}

#[tokio::test]
async fn since_step_counts_from_the_learners_start_in_kubelab_check_too() {
    let env = env().await;
    let dir = tempfile::tempdir().expect("dir");
    let kubeconfig = env.fake.write_kubeconfig(dir.path());
    env.setup("kubectl", "rollout-status").await;
    completed(&env);
    // An nginx Pod from before the step: it must not count as a new Pod.
    env.put(running_ready(json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "nginx-old", "namespace": "default", "labels": {"app": "nginx"}},
        "spec": {"containers": [{"name": "c", "image": "nginx:1.25"}]}})));
    next_second().await;
    let report = env.check("kubectl", "rollout-restart").await;
    assert_ne!(report.verdict("new-pods"), "passed", "{}", report.0);
    let database = env.app.dir.path().join("kubelab.db");
    let args = [
        "check".to_owned(),
        "kubectl".to_owned(),
        "--step".to_owned(),
        "rollout-restart".to_owned(),
        "--json".to_owned(),
        "--kubeconfig".to_owned(),
        kubeconfig.display().to_string(),
        "--database-url".to_owned(),
        database.display().to_string(),
    ];
    let (_, stdout, stderr) = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        kubelab(&args)
    })
    .await
    .expect("join");
    let json: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}{stderr}"));
    let new_pods = json["steps"][0]["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == "new-pods"))
        .expect("new-pods");
    assert_ne!(new_pods["verdict"]["status"], "passed", "{json}");
    // Unknown answers are refused, as the API refuses them.
    let kc = kubeconfig.display().to_string();
    let (code, _, stderr) = tokio::task::spawn_blocking(move || {
        kubelab(&[
            "check",
            "kubectl",
            "--answer",
            "nosuch=1",
            "--kubeconfig",
            &kc,
        ])
    })
    .await
    .expect("join");
    assert_ne!(code, 0);
    assert!(stderr.contains("nosuch"), "{stderr}");
}
