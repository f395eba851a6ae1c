//! The lab text as each reader sees it: the placeholders in step texts, hints and check
//! messages name a workshop learner's own namespace (pages and API alike) and the lab's
//! namespace on a laptop; the node lab's commands name the cluster's node.

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{LAB, STEP, Site, browser, create_workshop, get_json, join, namespace_of, post_json};
use crate::app::spawn_app_with_kubeconfig;
use crate::support::{FakeApi, NodeFlavor};

/// The reasons of every check in a step report.
fn reasons(report: &Value) -> Vec<String> {
    report["checks"]
        .as_array()
        .map(|checks| {
            checks
                .iter()
                .map(|c| c["reason"]["en"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Nothing in `text` is a placeholder left unrendered or the lab's namespace in a command.
fn rendered_for(text: &str, namespace: &str) {
    assert!(!text.contains("{kubelab:"), "an unrendered placeholder");
    if namespace != "fly-k8s" {
        assert!(
            !text.contains("-n fly-k8s"),
            "the lab's namespace in a command"
        );
    }
}

#[tokio::test]
async fn a_workshop_learner_reads_commands_naming_their_own_namespace() {
    let site = Site::start().await;
    let workshop = create_workshop(&site, 5).await;
    let code = workshop["code"].as_str().expect("code").to_owned();
    let alice = browser();
    join(&site, &alice, &code, "Alice").await;
    let ns = namespace_of(&site, &alice).await;
    assert_ne!(ns, "fly-k8s");

    let page = alice
        .get(site.at(&format!("/labs/{LAB}")))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    rendered_for(&page, &ns);
    for command in [
        format!("kubectl get configmap base-map -n {ns} -o yaml"),
        format!("kubectl exec busybox -n {ns} -- ls -la /config"),
    ] {
        assert!(page.contains(&command), "{command} missing from the page");
    }
    assert!(
        page.contains(&format!(
            "kubectl describe configmap base-map -n {ns} prints every key"
        )),
        "a hint names her namespace"
    );
    assert!(
        page.contains(&format!("Namespace {ns} exists and is active")),
        "a check title names her namespace"
    );

    let (status, lab) = get_json(&alice, &site.at(&format!("/api/labs/{LAB}"))).await;
    assert_eq!(status, StatusCode::OK, "{lab}");
    rendered_for(&lab.to_string(), &ns);
    assert_eq!(
        lab["steps"][0]["checks"][0]["title"]["en"],
        format!("Namespace {ns} exists and is active").as_str()
    );
    let (status, report) = post_json(
        &alice,
        &site.at(&format!("/api/labs/{LAB}/steps/{STEP}/check")),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    rendered_for(&report.to_string(), &ns);
    let reasons = reasons(&report);
    assert!(
        reasons
            .iter()
            .any(|r| r.contains(&format!("kubectl get configmap base-map -n {ns} -o yaml"))),
        "{reasons:?}"
    );
    site.stop().await;
}

#[tokio::test]
async fn a_laptop_reader_reads_the_labs_namespace_and_the_clusters_node() {
    let fake = FakeApi::start().await;
    fake.set_node("lima-box", NodeFlavor::default());
    fake.simulate_workloads(true);
    let dir = tempfile::tempdir().expect("temp dir");
    let app = spawn_app_with_kubeconfig(&fake.write_kubeconfig(dir.path())).await;

    let (status, page) = app.get(&format!("/labs/{LAB}")).await;
    assert_eq!(status, 200);
    rendered_for(&page, "fly-k8s");
    assert!(page.contains("kubectl get configmap base-map -n fly-k8s -o yaml"));
    let (status, report) = app
        .post_json(&format!("/api/labs/{LAB}/steps/{STEP}/check"))
        .await;
    assert_eq!(status, 200, "{report}");
    assert!(
        reasons(&report)
            .iter()
            .any(|r| r.contains("kubectl get configmap base-map -n fly-k8s -o yaml")),
        "{report}"
    );

    let (status, page) = app.get("/labs/node").await;
    assert_eq!(status, 200);
    rendered_for(&page, "default");
    assert!(page.contains("kubectl label node lima-box kubelab-lab=node"));
    assert!(page.contains("kubectl cordon lima-box"));
    let (_, intro) = app.get("/labs/kubectl").await;
    assert!(intro.contains("works in the namespace <code>default</code>"));
    app.stop().await;
}
