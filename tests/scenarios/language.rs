//! The check language as labs use it end to end: placeholders in checks rendered per reader (a
//! workshop learner's RoleBinding names their own namespace), and `kubelab check` judging
//! answers and `since: step` exactly as the server does.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use kubelab::engine::Learner;
use serde_json::{Value, json};

use super::{Env, env};
use crate::app::spawn_app_with_labs;
use crate::support::{FakeApi, state};

const LAB: &str = r#"order: 1
title: {en: RBAC, zh: RBAC}
summary: {en: Who may read Pods, zh: 谁能读取 Pod}
namespace: rbac-lab
steps:
  - id: bind
    title: {en: Bind the reader, zh: 绑定 reader}
    checks:
      - id: subject
        title: {en: "pod-reader is bound to reader in {kubelab:namespace}", zh: "pod-reader 绑定到 {kubelab:namespace} 中的 reader"}
        reason: {en: "Bind it: kubectl create rolebinding ...", zh: "请绑定：kubectl create rolebinding ..."}
        find: {apiVersion: rbac.authorization.k8s.io/v1, kind: RoleBinding, name: read-pods}
        expect:
          roleRef: {kind: Role, name: pod-reader}
          subjects:
            - {kind: ServiceAccount, name: reader, namespace: "{kubelab:namespace}"}
      - id: subject-cel
        title: {en: "The binding names reader's user", zh: "绑定写的是 reader 的用户名"}
        reason: {en: "Name the ServiceAccount's user.", zh: "请写 ServiceAccount 的用户名。"}
        describe: {en: "a subject system:serviceaccount:{kubelab:namespace}:reader", zh: "主体 system:serviceaccount:{kubelab:namespace}:reader"}
        find: {apiVersion: rbac.authorization.k8s.io/v1, kind: RoleBinding, name: read-pods}
        cel: >-
          object.subjects.exists(s, s.kind == 'ServiceAccount'
          && 'system:serviceaccount:' + s.namespace + ':' + s.name == 'system:serviceaccount:{kubelab:namespace}:reader')
    hints:
      - {en: "kubectl create rolebinding read-pods --role=pod-reader --serviceaccount={kubelab:namespace}:reader", zh: "kubectl create rolebinding read-pods --role=pod-reader --serviceaccount={kubelab:namespace}:reader"}
"#;

/// A labs folder with the one RBAC lab.
fn labs_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    let lab = dir.path().join("rbac");
    std::fs::create_dir_all(lab.join("steps")).expect("mkdir");
    std::fs::write(lab.join("lab.yaml"), LAB).expect("lab.yaml");
    for lang in ["en", "zh"] {
        std::fs::write(
            lab.join(format!("steps/bind.{lang}.md")),
            "```shell\nkubectl create rolebinding read-pods --role=pod-reader --serviceaccount={kubelab:namespace}:reader -n {kubelab:namespace}\n```\n",
        )
        .expect("step text");
    }
    dir
}

fn binding(namespace: &str, subject_namespace: &str) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "read-pods", "namespace": namespace},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "pod-reader"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": subject_namespace}]
    })
}

#[tokio::test]
async fn a_workshop_learners_rolebinding_check_passes_with_their_namespace() {
    let fake = FakeApi::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let kubeconfig = fake.write_kubeconfig(dir.path());
    let labs = labs_folder();
    let app = spawn_app_with_labs(&kubeconfig, labs.path().to_path_buf()).await;
    for ns in ["ws-alice", "ws-bob", "rbac-lab"] {
        fake.put(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
            .expect("namespace");
    }
    // Alice binds her own reader; Bob copied Alice's command with her namespace in it.
    fake.put(binding("ws-alice", "ws-alice"))
        .expect("alice's binding");
    fake.put(binding("ws-bob", "ws-alice"))
        .expect("bob's binding");
    let alice = app
        .engine()
        .for_learner(Learner::in_namespace("alice", "ws-alice"));
    let bob = app
        .engine()
        .for_learner(Learner::in_namespace("bob", "ws-bob"));

    let mine = alice
        .check("rbac", "bind", &Default::default())
        .await
        .expect("check");
    assert_eq!(mine.status.as_str(), "passed", "{mine:?}");
    assert_eq!(
        mine.checks[0].title.en,
        "pod-reader is bound to reader in ws-alice"
    );

    let theirs = bob
        .check("rbac", "bind", &Default::default())
        .await
        .expect("check");
    assert_eq!(theirs.status.as_str(), "failed", "{theirs:?}");
    let json = serde_json::to_value(&theirs.checks).expect("json");
    let shown = |i: usize| json[i]["verdict"]["diagnostics"][0].clone();
    assert_eq!(
        shown(0)["path"],
        "subjects[name=reader].namespace",
        "{json}"
    );
    assert_eq!(shown(0)["expected"]["en"], "`\"ws-bob\"`", "{json}");
    assert_eq!(shown(0)["actual"]["en"], "`\"ws-alice\"`", "{json}");
    assert_eq!(
        shown(1)["expected"]["en"],
        "a subject system:serviceaccount:ws-bob:reader",
        "{json}"
    );

    // On a laptop the placeholder is the lab's own namespace.
    fake.put(binding("rbac-lab", "rbac-lab"))
        .expect("local binding");
    let local = app
        .engine()
        .check("rbac", "bind", &Default::default())
        .await
        .expect("check");
    assert_eq!(local.status.as_str(), "passed", "{local:?}");
}

/// Runs the kubelab binary with `args`, hermetic (no user database): exit code, stdout, stderr.
fn kubelab(args: &[&str]) -> (i32, String, String) {
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

async fn cli(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        kubelab(&args)
    })
    .await
    .expect("join")
}

fn args(kubeconfig: &Path, database: &Path, rest: &[&str]) -> Vec<String> {
    let mut all: Vec<String> = rest.iter().map(|s| (*s).to_owned()).collect();
    all.extend([
        "--kubeconfig".to_owned(),
        kubeconfig.display().to_string(),
        "--database-url".to_owned(),
        database.display().to_string(),
    ]);
    all
}

#[tokio::test]
async fn kubelab_check_refuses_an_unknown_answer_as_the_api_does() {
    let env = env().await;
    let dir = tempfile::tempdir().expect("dir");
    let kubeconfig = env.fake.write_kubeconfig(dir.path());
    let database = env.app.dir.path().join("kubelab.db");
    let (status, body) = env
        .app
        .post_json_with(
            "/api/labs/kubectl/steps/rollout-restart/check",
            &json!({"answers": {"nosuch": "1"}}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let api_says = body["error"].as_str().unwrap_or_default().to_owned();
    assert!(api_says.contains("has no question \"nosuch\""), "{body}");

    let (code, stdout, stderr) = cli(args(
        &kubeconfig,
        &database,
        &[
            "check",
            "kubectl",
            "--step",
            "rollout-restart",
            "--answer",
            "nosuch=1",
        ],
    ))
    .await;
    assert_ne!(code, 0, "{stdout}");
    assert!(stderr.contains(&api_says), "API: {api_says}\nCLI: {stderr}");

    let (code, _, stderr) = cli(args(
        &kubeconfig,
        &database,
        &["check", "kubectl", "--answer", "nosuch=1"],
    ))
    .await;
    assert_ne!(code, 0);
    assert!(
        stderr.contains("lab \"kubectl\" has no question \"nosuch\""),
        "{stderr}"
    );
}

fn nginx_pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": name, "namespace": "default", "labels": {"app": "nginx"}},
        "spec": {"containers": [{"name": "nginx", "image": "nginx:1.14.2"}]}})
}

async fn next_second(env: &Env) {
    let before = state::now();
    let moved = env
        .fake
        .wait_for(Duration::from_secs(3), |_| state::now() != before)
        .await;
    assert!(moved, "the clock moved on");
}

/// The `new-pods` verdict (`since: step`) as `kubelab check --json` gives it.
async fn cli_new_pods(kubeconfig: &Path, database: &Path) -> String {
    let (_, stdout, stderr) = cli(args(
        kubeconfig,
        database,
        &["check", "kubectl", "--step", "rollout-restart", "--json"],
    ))
    .await;
    let json: Value = serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{stdout}{stderr}"));
    json["steps"][0]["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == "new-pods"))
        .and_then(|c| c["verdict"]["status"].as_str())
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn since_step_counts_the_same_in_the_cli_as_in_the_server() {
    let env = env().await;
    let dir = tempfile::tempdir().expect("dir");
    let kubeconfig = env.fake.write_kubeconfig(dir.path());
    let database = env.app.dir.path().join("kubelab.db");
    for name in ["old-1", "old-2", "old-3"] {
        env.put(nginx_pod(name));
    }
    next_second(&env).await;
    let (status, body) = env
        .app
        .post_json("/api/labs/kubectl/steps/rollout-restart/start")
        .await;
    assert_eq!(status, 200, "{body}");
    next_second(&env).await;

    let server = env.check("kubectl", "rollout-restart").await;
    assert_eq!(server.verdict("new-pods"), "failed", "{}", server.0);
    assert_eq!(cli_new_pods(&kubeconfig, &database).await, "failed");

    for name in ["new-1", "new-2", "new-3"] {
        env.put(nginx_pod(name));
    }
    let server = env.check("kubectl", "rollout-restart").await;
    assert_eq!(server.verdict("new-pods"), "passed", "{}", server.0);
    assert_eq!(cli_new_pods(&kubeconfig, &database).await, "passed");
}
