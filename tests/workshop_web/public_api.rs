//! `--public-api-server`: the API server learners' kubeconfigs name, and the instructor pages'
//! warning when the address kubelab would hand out cannot work from learners' computers.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use base64::Engine;
use kube::config::Kubeconfig;
use kubelab::cluster::{ClusterOptions, PublicApiServer};
use kubelab::startup::instructor_credential;
use reqwest::{Client, StatusCode};

use super::{Site, TOKEN, browser, create_workshop, join, namespace_of};
use crate::app::spawn_workshop_app_with_cluster;

const PUBLIC: &str = "https://k8s.workshop.example:6443";
const WARNING: &str = "id=\"kubeconfig-reach-warning\"";

/// A PEM file with one certificate-shaped DER block, written as kubelab writes PEM (64-column
/// lines), so the kubeconfig's CA can be compared with it byte for byte.
fn write_ca(dir: &Path) -> (std::path::PathBuf, String) {
    let mut der = vec![0x30, 0x82, 0x01, 0x2c];
    der.extend((0..300u32).map(|i| (i * 7 % 251) as u8));
    let encoded = base64::engine::general_purpose::STANDARD.encode(&der);
    let mut pem = String::from("-----BEGIN CERTIFICATE-----\n");
    for line in encoded.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        pem.push('\n');
    }
    pem.push_str("-----END CERTIFICATE-----\n");
    let path = dir.join("public-ca.pem");
    std::fs::write(&path, &pem).expect("write the CA");
    (path, pem)
}

/// An instructor page as HTML, in `lang`.
async fn instructor_page(url: &str, lang: &str) -> String {
    let r = Client::new()
        .get(url)
        .bearer_auth(TOKEN)
        .header("accept-language", lang)
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::OK, "{url}");
    r.text().await.expect("body")
}

#[tokio::test]
async fn a_learners_kubeconfig_names_the_public_api_server_and_its_ca() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (ca, pem) = write_ca(dir.path());
    let public = PublicApiServer::new(&format!("{PUBLIC}/"), Some(&ca)).expect("valid");
    let site = Site::start_with(Some(public)).await;
    let workshop = create_workshop(&site, 5).await;
    let id = workshop["id"].as_str().expect("id");
    let code = workshop["code"].as_str().expect("code");
    let alice = browser();
    assert_eq!(
        join(&site, &alice, code, "Alice").await.status(),
        StatusCode::SEE_OTHER
    );
    let namespace = namespace_of(&site, &alice).await;

    let download = alice.get(site.at("/kubeconfig")).send().await.expect("GET");
    assert_eq!(download.status(), StatusCode::OK);
    let text = download.text().await.expect("body");
    let kubeconfig = Kubeconfig::from_yaml(&text).expect("a kubeconfig");
    let cluster = kubeconfig.clusters[0].cluster.as_ref().expect("cluster");
    assert_eq!(cluster.server.as_deref(), Some(PUBLIC), "{text}");
    let ca_data = cluster
        .certificate_authority_data
        .as_deref()
        .expect("the public CA");
    let handed_out = base64::engine::general_purpose::STANDARD
        .decode(ca_data)
        .expect("base64");
    assert_eq!(String::from_utf8_lossy(&handed_out), pem);
    assert_eq!(cluster.insecure_skip_tls_verify, None, "{text}");
    assert!(
        !text.contains(&site.fake.url()),
        "kubelab's own address: {text}"
    );
    let context = kubeconfig.contexts[0].context.as_ref().expect("context");
    assert_eq!(context.namespace.as_deref(), Some(namespace.as_str()));

    // The instructor is not warned, and sees the address learners are given.
    let list = instructor_page(&site.at("/instructor"), "en").await;
    assert!(!list.contains(WARNING), "{list}");
    let page = instructor_page(&site.at(&format!("/instructor/workshops/{id}")), "en").await;
    assert!(!page.contains(WARNING), "{page}");
    assert!(page.contains("API server in learner kubeconfigs"), "{page}");
    assert!(page.contains(PUBLIC), "{page}");
    site.stop().await;
}

#[tokio::test]
async fn no_warning_when_kubelab_and_the_api_server_share_this_machine() {
    // The fake listens on 127.0.0.1 and so does kubelab: learners are on this machine.
    let site = Site::start().await;
    let list = instructor_page(&site.at("/instructor"), "en").await;
    assert!(!list.contains(WARNING), "{list}");
    site.stop().await;
}

/// Writes a kubeconfig naming `server` (nothing answers there).
fn kubeconfig_naming(dir: &Path, server: &str) -> std::path::PathBuf {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n\
         contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\n\
         users:\n- name: u\n  user:\n    token: t\n"
    );
    std::fs::write(&path, text).expect("write the kubeconfig");
    path
}

#[tokio::test]
async fn the_instructor_is_warned_when_kubeconfigs_would_name_an_in_cluster_address() {
    let dir = tempfile::tempdir().expect("temp dir");
    let in_cluster = "https://kubernetes.default.svc:443";
    let kubeconfig = kubeconfig_naming(dir.path(), in_cluster);
    let options = |public_api| ClusterOptions {
        kubeconfig: Some(kubeconfig.clone()),
        context: None,
        public_api,
    };

    let app = spawn_workshop_app_with_cluster(options(None)).await;
    instructor_credential(app.engine(), Some(TOKEN))
        .await
        .expect("token stored");
    let en = instructor_page(&format!("{}/instructor", app.url), "en").await;
    assert!(en.contains(WARNING), "{en}");
    for says in [
        "kubeconfigs will not reach the API server",
        in_cluster,
        "inside the cluster",
        "--public-api-server https://ADDRESS:6443",
        "--public-api-server-ca FILE",
    ] {
        assert!(en.contains(says), "{says:?} missing in {en}");
    }
    let zh = instructor_page(&format!("{}/instructor", app.url), "zh-CN,zh;q=0.9").await;
    assert!(zh.contains(WARNING), "{zh}");
    assert!(zh.contains("学员的 kubeconfig 连不上 API 服务器"), "{zh}");
    assert!(zh.contains("集群内部"), "{zh}");
    app.stop().await;

    // Named explicitly, the same setup is not warned about.
    let public = PublicApiServer::new(PUBLIC, None).expect("valid");
    let app = spawn_workshop_app_with_cluster(options(Some(public))).await;
    instructor_credential(app.engine(), Some(TOKEN))
        .await
        .expect("token stored");
    let en = instructor_page(&format!("{}/instructor", app.url), "en").await;
    assert!(!en.contains(WARNING), "{en}");
    app.stop().await;
}

/// Runs `kubelab serve` with `args`; it must end by itself (within a minute).
fn serve(dir: &Path, args: &[&str]) -> Output {
    let database = format!("sqlite://{}", dir.join("kubelab.db").display());
    let mut child = Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .args(["serve", "--workshop", "--addr", "127.0.0.1:0"])
        .args(["--database-url", &database])
        .args(args)
        .env_remove("KUBELAB_PUBLIC_API_SERVER")
        .env_remove("KUBELAB_PUBLIC_API_SERVER_CA")
        .env("KUBECONFIG", dir.join("no-kubeconfig"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the kubelab binary runs");
    for _ in 0..600 {
        if child.try_wait().expect("wait").is_some() {
            return child.wait_with_output().expect("output");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    panic!("kubelab serve {args:?} did not stop: it should have refused to start");
}

#[test]
fn serve_refuses_a_public_api_server_it_cannot_hand_out() {
    let dir = tempfile::tempdir().expect("temp dir");
    let not_pem = dir.path().join("not-a-ca.pem");
    std::fs::write(&not_pem, "hello\n").expect("write");
    let not_pem = not_pem.display().to_string();
    let missing = dir.path().join("missing.pem").display().to_string();
    for (args, says) in [
        (
            vec!["--public-api-server", "http://203.0.113.10:6443"],
            "must use https",
        ),
        (
            vec!["--public-api-server", "k8s.workshop.example:6443"],
            "is not a URL of the form https://HOST[:PORT]",
        ),
        (
            vec![
                "--public-api-server",
                PUBLIC,
                "--public-api-server-ca",
                &missing,
            ],
            "cannot read it",
        ),
        (
            vec![
                "--public-api-server",
                PUBLIC,
                "--public-api-server-ca",
                &not_pem,
            ],
            "holds no certificate",
        ),
        (
            vec!["--public-api-server-ca", &not_pem],
            "--public-api-server <URL>",
        ),
    ] {
        let out = serve(dir.path(), &args);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} started: {stderr}");
        assert!(
            stderr.contains(says),
            "{args:?}: {says:?} missing in {stderr}"
        );
    }
    assert!(
        !dir.path().join("kubelab.db").exists(),
        "refused before opening the database"
    );
}
