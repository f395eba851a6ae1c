//! Scenarios: the `secret` lab — regcred made by `kubectl create secret docker-registry`, a Pod
//! that names it in imagePullSecrets, a generic Secret read as environment variables, questions
//! answered from the cluster, and a Reset that leaves the namespace shared with `configmap` alone.

use std::time::Duration;

use serde_json::{Value, json};

use super::{Env, check_with_answers, env, running_ready};

const LAB: &str = "secret";
const NS: &str = "fly-k8s";

/// base64 of `{"auths":{"ghcr.io":{"username":"learner","password":"not-a-real-token",
/// "auth":"bGVhcm5lcjpub3QtYS1yZWFsLXRva2Vu"}}}`, byte for byte what kubectl writes for
/// `--docker-server=ghcr.io --docker-username=learner --docker-password=not-a-real-token`.
const KUBECTL_DOCKERCONFIGJSON: &str = "eyJhdXRocyI6eyJnaGNyLmlvIjp7InVzZXJuYW1lIjoibGVhcm5lciIsInBhc3N3b3JkIjoibm90LWEtcmVhbC10b2tlbiIsImF1dGgiOiJiR1ZoY201bGNqcHViM1F0WVMxeVpXRnNMWFJ2YTJWdSJ9fX0=";

/// base64 of `{"auths":{}}`: a registry login for no server at all.
const EMPTY_AUTHS: &str = "eyJhdXRocyI6e319";

/// `kubectl create namespace fly-k8s`.
fn namespace(env: &Env) {
    env.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NS}}));
}

fn secret(name: &str, kind: &str, data: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": name, "namespace": NS},
        "type": kind,
        "data": data
    })
}

/// What `kubectl create secret docker-registry regcred --docker-server=ghcr.io ...` creates.
fn regcred() -> Value {
    secret(
        "regcred",
        "kubernetes.io/dockerconfigjson",
        json!({".dockerconfigjson": KUBECTL_DOCKERCONFIGJSON}),
    )
}

/// What `kubectl create secret generic db-login --from-literal=username=kubelab
/// --from-literal=password=not-a-real-password` creates.
fn db_login() -> Value {
    secret(
        "db-login",
        "Opaque",
        json!({"username": "a3ViZWxhYg==", "password": "bm90LWEtcmVhbC1wYXNzd29yZA=="}),
    )
}

fn pod(env: &Env, name: &str) -> Value {
    env.fake
        .get("v1", "Pod", Some(NS), name)
        .unwrap_or_else(|| panic!("Pod {name} exists"))
}

/// A Pod whose container is waiting with `reason`, as the kubelet reports it.
fn waiting(reason: &str) -> Value {
    json!({
        "phase": "Pending",
        "conditions": [{"type": "PodScheduled", "status": "True"},
                       {"type": "Ready", "status": "False", "reason": "ContainersNotReady"}],
        "containerStatuses": [{"name": "app", "ready": false, "restartCount": 0,
                               "state": {"waiting": {"reason": reason}}}]
    })
}

#[tokio::test]
async fn regcred_made_with_kubectl_passes() {
    let env = env().await;
    namespace(&env);
    env.put(regcred());
    env.check(LAB, "create-regcred").await.assert_all_passed();
}

#[tokio::test]
async fn nothing_created_yet_names_what_is_missing() {
    let env = env().await;
    let report = env.check(LAB, "create-regcred").await;
    assert_eq!(report.verdict("namespace-active"), "failed");
    assert_eq!(
        report.diagnostics("namespace-active"),
        vec![(
            String::new(),
            "Namespace `fly-k8s` to exist".to_owned(),
            "not found".to_owned()
        )]
    );
    for id in ["regcred-type", "regcred-auths"] {
        assert_eq!(report.verdict(id), "failed", "{id}: {}", report.0);
        assert_eq!(
            report.diagnostics(id),
            vec![(
                String::new(),
                "Secret `regcred` to exist".to_owned(),
                "not found in namespace `fly-k8s`".to_owned()
            )],
            "{id}"
        );
    }
}

#[tokio::test]
async fn a_generic_secret_is_not_a_registry_login() {
    let env = env().await;
    namespace(&env);
    // kubectl create secret generic regcred --from-literal=username=... --from-literal=password=...
    env.put(secret(
        "regcred",
        "Opaque",
        json!({"username": "bGVhcm5lcg==", "password": "bm90LWEtcmVhbC10b2tlbg=="}),
    ));
    let report = env.check(LAB, "create-regcred").await;
    assert_eq!(report.verdict("namespace-active"), "passed");
    assert_eq!(report.verdict("regcred-type"), "failed");
    let diags = report.diagnostics("regcred-type");
    assert!(
        diags.contains(&(
            "type".to_owned(),
            "`\"kubernetes.io/dockerconfigjson\"`".to_owned(),
            "`\"Opaque\"`".to_owned()
        )),
        "{diags:?}"
    );
    assert!(
        diags.contains(&(
            "data[\".dockerconfigjson\"]".to_owned(),
            "present".to_owned(),
            "missing".to_owned()
        )),
        "{diags:?}"
    );
    assert_eq!(report.verdict("regcred-auths"), "failed", "{}", report.0);
}

#[tokio::test]
async fn a_registry_login_without_a_server_fails() {
    let env = env().await;
    namespace(&env);
    env.put(secret(
        "regcred",
        "kubernetes.io/dockerconfigjson",
        json!({".dockerconfigjson": EMPTY_AUTHS}),
    ));
    let report = env.check(LAB, "create-regcred").await;
    assert_eq!(report.verdict("regcred-type"), "passed", "{}", report.0);
    assert_eq!(report.verdict("regcred-auths"), "failed", "{}", report.0);
}

#[tokio::test]
async fn pull_demo_names_regcred_and_runs() {
    let env = env().await;
    namespace(&env);
    env.put(regcred());
    let report = env.setup(LAB, "pull-secret-pod").await;
    assert_eq!(report["applied"][0]["kind"], "Pod");
    assert_eq!(report["applied"][0]["name"], "pull-demo");
    assert_eq!(
        pod(&env, "pull-demo")["spec"]["imagePullSecrets"],
        json!([{"name": "regcred"}])
    );

    let report = env.check(LAB, "pull-secret-pod").await;
    assert_eq!(report.verdict("pod-uses-regcred"), "passed", "{}", report.0);
    assert_eq!(report.verdict("pod-running"), "pending", "{}", report.0);

    let ready = running_ready(pod(&env, "pull-demo"));
    env.fake
        .patch_status("v1", "Pod", Some(NS), "pull-demo", ready["status"].clone())
        .expect("status");
    env.check(LAB, "pull-secret-pod").await.assert_all_passed();
}

#[tokio::test]
async fn a_pod_without_image_pull_secrets_fails() {
    let env = env().await;
    namespace(&env);
    env.put(running_ready(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "pull-demo", "namespace": NS},
        "spec": {"containers": [{"name": "app", "image": "registry.k8s.io/pause:3.9"}]}
    })));
    let report = env.check(LAB, "pull-secret-pod").await;
    assert_eq!(report.verdict("pod-uses-regcred"), "failed");
    assert_eq!(
        report.diagnostics("pod-uses-regcred"),
        vec![(
            "spec.imagePullSecrets".to_owned(),
            "an element with `name` = `\"regcred\"`".to_owned(),
            "missing".to_owned()
        )]
    );
    assert_eq!(report.verdict("pod-running"), "passed");
}

#[tokio::test]
async fn a_rejected_pull_is_a_failure_not_a_wait() {
    let env = env().await;
    namespace(&env);
    env.put(regcred());
    env.setup(LAB, "pull-secret-pod").await;
    env.fake
        .patch_status("v1", "Pod", Some(NS), "pull-demo", waiting("ErrImagePull"))
        .expect("status");
    let report = env.check(LAB, "pull-secret-pod").await;
    assert_eq!(report.verdict("pod-running"), "failed", "{}", report.0);
    assert_eq!(
        report.diagnostics("pod-running"),
        vec![(
            "status.phase".to_owned(),
            "`\"Running\"`".to_owned(),
            "`\"Pending\"`".to_owned()
        )]
    );
}

#[tokio::test]
async fn db_login_keys_and_the_type_question() {
    let env = env().await;
    namespace(&env);
    env.put(db_login());

    let report = env.check(LAB, "generic-secret").await;
    assert_eq!(report.verdict("db-login-keys"), "passed", "{}", report.0);
    assert_eq!(report.verdict("db-login-type"), "pending", "{}", report.0);
    assert_eq!(
        report.diagnostics("db-login-type"),
        vec![(
            "answer".to_owned(),
            "your answer".to_owned(),
            "not answered yet".to_owned()
        )]
    );

    let report = check_with_answers(
        &env,
        LAB,
        "generic-secret",
        json!({"db-login-type": "generic"}),
    )
    .await;
    assert_eq!(report.verdict("db-login-type"), "failed", "{}", report.0);
    assert_eq!(
        report.diagnostics("db-login-type"),
        vec![(
            "answer".to_owned(),
            "the value on your cluster".to_owned(),
            "`\"generic\"`".to_owned()
        )]
    );

    // The TYPE column says Opaque; case and surrounding spaces do not matter.
    let report = check_with_answers(
        &env,
        LAB,
        "generic-secret",
        json!({"db-login-type": " opaque "}),
    )
    .await;
    report.assert_all_passed();
}

#[tokio::test]
async fn db_login_without_a_password_fails() {
    let env = env().await;
    namespace(&env);
    env.put(secret(
        "db-login",
        "Opaque",
        json!({"username": "a3ViZWxhYg=="}),
    ));
    let report = env.check(LAB, "generic-secret").await;
    assert_eq!(report.verdict("db-login-keys"), "failed");
    assert_eq!(
        report.diagnostics("db-login-keys"),
        vec![(
            "data.password".to_owned(),
            "text matching the pattern `\\S`".to_owned(),
            "missing".to_owned()
        )]
    );
}

#[tokio::test]
async fn secret_env_waits_for_db_login() {
    let env = env().await;
    namespace(&env);
    let report = env.setup(LAB, "secret-env").await;
    assert_eq!(report["applied"][0]["name"], "secret-env");

    // The Secret does not exist yet: the kubelet cannot build the container's environment.
    env.fake
        .patch_status(
            "v1",
            "Pod",
            Some(NS),
            "secret-env",
            waiting("CreateContainerConfigError"),
        )
        .expect("status");
    let report = env.check(LAB, "secret-env").await;
    assert_eq!(report.verdict("env-from-secret"), "passed", "{}", report.0);
    assert_eq!(report.verdict("env-pod-ready"), "failed", "{}", report.0);
    // The container cannot start until the learner creates the Secret: nothing to exec into,
    // and waiting alone will not fix it.
    assert_eq!(report.verdict("env-inside"), "failed", "{}", report.0);
    assert_eq!(
        report.diagnostics("env-inside"),
        vec![(
            String::new(),
            "container `app` running".to_owned(),
            "waiting (CreateContainerConfigError)".to_owned()
        )]
    );
}

#[tokio::test]
async fn secret_env_runs_once_db_login_exists() {
    let env = env().await;
    env.fake.simulate_workloads(true);
    namespace(&env);
    env.put(db_login());
    env.setup(LAB, "secret-env").await;
    assert!(
        env.fake
            .wait_for(Duration::from_secs(10), |f| {
                f.get("v1", "Pod", Some(NS), "secret-env")
                    .is_some_and(|p| p["status"]["phase"] == "Running")
            })
            .await,
        "the simulated kubelet starts secret-env"
    );
    let report = env.check(LAB, "secret-env").await;
    assert_eq!(report.verdict("env-from-secret"), "passed", "{}", report.0);
    assert_eq!(report.verdict("env-pod-ready"), "passed", "{}", report.0);
}

#[tokio::test]
async fn a_password_typed_into_the_pod_is_not_a_secret_reference() {
    let env = env().await;
    namespace(&env);
    env.put(running_ready(json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "secret-env", "namespace": NS},
        "spec": {"containers": [{
            "name": "app", "image": "busybox:1.36",
            "env": [
                {"name": "DB_USERNAME", "valueFrom": {"secretKeyRef": {"name": "db-login", "key": "username"}}},
                {"name": "DB_PASSWORD", "value": "not-a-real-password"}
            ]
        }]}
    })));
    let report = env.check(LAB, "secret-env").await;
    assert_eq!(report.verdict("env-from-secret"), "failed");
    let diags = report.diagnostics("env-from-secret");
    assert!(
        diags.iter().any(|(p, _, a)| p
            .starts_with("spec.containers[name=app].env[name=DB_PASSWORD].valueFrom")
            && a == "missing"),
        "{diags:?}"
    );
}

#[tokio::test]
async fn the_secret_count_is_read_from_the_cluster() {
    let env = env().await;
    namespace(&env);
    env.put(regcred());
    env.put(db_login());

    let report = env.check(LAB, "beyond-the-notes").await;
    assert_eq!(report.verdict("secret-count"), "pending", "{}", report.0);

    // An old cluster would also list default-token-xxxxx; this one has only the learner's two.
    let report =
        check_with_answers(&env, LAB, "beyond-the-notes", json!({"secret-count": "3"})).await;
    assert_eq!(report.verdict("secret-count"), "failed", "{}", report.0);
    assert_eq!(
        report.diagnostics("secret-count"),
        vec![(
            "answer".to_owned(),
            "the value on your cluster".to_owned(),
            "`\"3\"`".to_owned()
        )]
    );
    check_with_answers(&env, LAB, "beyond-the-notes", json!({"secret-count": "2"}))
        .await
        .assert_all_passed();
}

#[tokio::test]
async fn reset_keeps_the_namespace_shared_with_the_configmap_lab() {
    let env = env().await;
    // The ConfigMap chapter's Set up created fly-k8s (labelled as configmap's) and base-map.
    env.setup("configmap", "create-configmap").await;
    env.put(regcred());
    env.put(db_login());
    env.setup(LAB, "pull-secret-pod").await;
    env.setup(LAB, "secret-env").await;

    // The Secrets are the learner's (kubectl create secret): deleted once they confirm.
    let (report, _) = env
        .reset_confirming(LAB, &["Secret/db-login", "Secret/regcred"])
        .await;
    for (kind, name) in [
        ("Secret", "regcred"),
        ("Secret", "db-login"),
        ("Pod", "pull-demo"),
        ("Pod", "secret-env"),
    ] {
        assert!(
            env.fake.get("v1", kind, Some(NS), name).is_none(),
            "{kind}/{name} is gone: {report}"
        );
    }
    let namespace = env
        .fake
        .get("v1", "Namespace", None, NS)
        .expect("fly-k8s is kept");
    assert!(
        namespace["metadata"]["deletionTimestamp"].is_null(),
        "{namespace}"
    );
    assert!(
        env.fake
            .get("v1", "ConfigMap", Some(NS), "base-map")
            .is_some(),
        "the ConfigMap chapter's objects are left alone"
    );
    assert!(report["kept"].to_string().contains(NS), "{report}");
}
