//! The Secret lab on a real cluster, in the namespace the ConfigMap lab left (the chapters'
//! order): a registry credential made right and wrong, a Pod naming it, a Pod started before
//! its Secret exists (CreateContainerConfigError, then it starts by itself), the env inside
//! (exec), the Secrets counted on 1.24+ — and Reset keeping a namespace it did not create.

use super::configmap::NS;
use super::harness::{REAL_NODE, Real, Row, STARTUP, kept, names, node_of, reset_deleting};

const LAB: &str = "secret";

/// The whole lab; the namespace exists (made by the ConfigMap lab's Set up).
pub async fn run(real: &Real) {
    let k = &real.kubectl;
    real.reset_everything(LAB).await;

    let regcred = real.step(LAB, "create-regcred");
    regcred
        .expect(
            "no Secret yet",
            &[
                ("namespace-active", "passed"),
                ("regcred-type", "failed"),
                ("regcred-auths", "failed"),
            ],
        )
        .await;
    k.line(&format!(
        "create secret generic regcred -n {NS} --from-literal=user=learner"
    ))
    .await;
    regcred
        .expect(
            "kubectl create secret generic regcred (wrong type)",
            &[("regcred-type", "failed"), ("regcred-auths", "failed")],
        )
        .await;
    k.line(&format!("delete secret regcred -n {NS}")).await;
    k.line(&format!("create secret docker-registry regcred --docker-server=ghcr.io --docker-username=learner --docker-password=not-a-real-token -n {NS}"))
    .await;
    regcred
        .expect(
            "kubectl create secret docker-registry regcred",
            &[("regcred-type", "passed"), ("regcred-auths", "passed")],
        )
        .await;

    let pull = real.step(LAB, "pull-secret-pod");
    pull.setup().await;
    pull.expect(
        "Set up",
        &[("pod-uses-regcred", "passed"), ("pod-running", "passed")],
    )
    .await;
    assert_eq!(
        node_of(&k.json(&["pod", "pull-demo", "-n", NS]).await),
        REAL_NODE
    );

    // The learner presses Set up on the env step before creating db-login.
    let env = real.step(LAB, "secret-env");
    env.setup().await;
    let stuck = super::harness::wait_for("CreateContainerConfigError", STARTUP, || async {
        let pod = k.json(&["pod", "secret-env", "-n", NS]).await;
        let reason = pod["status"]["containerStatuses"][0]["state"]["waiting"]["reason"].clone();
        (reason == "CreateContainerConfigError").then_some(reason)
    })
    .await;
    assert!(
        stuck.is_some(),
        "a missing Secret stops the container from being created"
    );
    env.expect(
        "Set up before db-login exists",
        &[
            ("env-from-secret", "passed"),
            ("env-pod-ready", "failed"),
            ("env-inside", "failed|error"),
        ],
    )
    .await;

    let generic = real.step(LAB, "generic-secret");
    k.line(&format!(
        "create secret generic db-login -n {NS} --from-literal=username=kubelab"
    ))
    .await;
    generic
        .expect(
            "db-login without a password",
            &[("db-login-keys", "failed"), ("db-login-type", "pending")],
        )
        .await;
    k.line(&format!("delete secret db-login -n {NS}")).await;
    k.line(&format!("create secret generic db-login --from-literal=username=kubelab --from-literal=password=not-a-real-password -n {NS}"))
    .await;
    generic
        .expect_answers(
            "the notes' kubectl create secret generic; answered generic (wrong)",
            &[("db-login-type", "generic")],
            &[("db-login-keys", "passed"), ("db-login-type", "failed")],
        )
        .await;
    generic
        .expect_answers(
            "answered Opaque",
            &[("db-login-type", "Opaque")],
            &[("db-login-type", "passed")],
        )
        .await;

    // The kubelet retries the container once the Secret exists.
    env.expect(
        "db-login created; the kubelet retries by itself",
        &[
            ("env-from-secret", "passed"),
            ("env-pod-ready", "passed"),
            ("env-inside", "passed"),
        ],
    )
    .await;
    let username = k
        .line(&format!("exec secret-env -n {NS} -- printenv DB_USERNAME"))
        .await;
    assert_eq!(username.trim(), "kubelab");

    let beyond = real.step(LAB, "beyond-the-notes");
    let count = k
        .line(&format!("get secrets -n {NS} --no-headers"))
        .await
        .lines()
        .count()
        .to_string();
    assert_eq!(
        count, "2",
        "no token Secrets since 1.24: regcred and db-login"
    );
    beyond
        .expect_answers(
            "answered 3 (wrong)",
            &[("secret-count", "3")],
            &[("secret-count", "failed")],
        )
        .await;
    beyond
        .expect_answers(
            "answered 2 (kubectl get secrets)",
            &[("secret-count", &count)],
            &[("secret-count", "passed")],
        )
        .await;
}

/// Reset: the Pods Set up made go; the Secrets the learner made are theirs, kept and listed
/// until they confirm.
pub async fn finish(real: &Real) {
    let k = &real.kubectl;
    let report = real.reset(LAB).await;
    eprintln!("real cluster: secret reset → {report}");
    let deleted = report["deleted"].as_array().cloned().unwrap_or_default();
    let mut pods = names(&deleted, "Pod");
    pods.sort();
    assert_eq!(pods, ["pull-demo", "secret-env"], "{report}");
    let yours = kept(&report, "yours");
    let mut secrets = names(&yours, "Secret");
    secrets.sort();
    assert_eq!(
        secrets,
        ["db-login", "regcred"],
        "the learner's Secrets are kept as theirs: {report}"
    );
    for pod in ["pull-demo", "secret-env"] {
        k.wait_gone(&["pod", pod, "-n", NS], STARTUP).await;
    }
    reset_deleting(&real.app, LAB, &yours).await;
    for secret in ["regcred", "db-login"] {
        k.wait_gone(&["secret", secret, "-n", NS], STARTUP).await;
    }
    real.record(Row {
        place: format!("{LAB} (Reset)"),
        action: "Reset, then Reset confirming the learner's own objects".into(),
        verdicts: "Pods pull-demo, secret-env deleted; Secrets regcred, db-login kept (yours), deleted on confirmation".into(),
        waited: 0.0,
    });
    real.step(LAB, "create-regcred")
        .expect(
            "after Reset",
            &[("regcred-type", "failed"), ("regcred-auths", "failed")],
        )
        .await;
}
