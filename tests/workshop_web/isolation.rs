//! Workshop isolation at the web edge: a lab object kubelab will not put in a learner's
//! namespace is refused with 403 "kubelab refused … because …" (not 502 as if the API server had
//! refused it), and the instructor pages warn while the cluster serves no
//! ValidatingAdmissionPolicy — and stop warning once it does and kubelab installed them.

use std::time::Duration;

use kubelab::cluster::{AdmissionGuard, NO_EXTERNAL_IPS_POLICY, NO_TOKEN_SECRETS_POLICY};
use kubelab::labs::LabSource;
use reqwest::{Client, StatusCode};
use serde_json::json;

use super::{Site, TOKEN, browser, instructor_post, join, post_json};

/// Waits for the isolation task of the running kubelab to have settled its guard.
async fn guard(site: &Site) -> AdmissionGuard {
    let engine = &site.app.as_ref().expect("running").engine;
    for _ in 0..200 {
        if let Some(guard) = engine.admission_guard() {
            return guard;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("kubelab never settled how learner namespaces are guarded");
}

async fn instructor_page(site: &Site) -> String {
    let response = Client::new()
        .get(site.at("/instructor"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("GET /instructor");
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.expect("page")
}

#[tokio::test]
async fn a_lab_object_kubelab_will_not_place_is_refused_with_403() {
    let mut site = Site::start().await;
    site.settings.labs = LabSource::Dir(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/workshop_web/fixtures/labs"),
    );
    site.restart().await;
    let (status, workshop) = instructor_post(
        &site,
        "/api/instructor/workshops",
        json!({"name": "Review", "labs": ["review"], "capacity": 2, "hours": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{workshop}");
    let learner = browser();
    let joined = join(
        &site,
        &learner,
        workshop["code"].as_str().expect("code"),
        "Ada",
    )
    .await;
    assert_eq!(joined.status(), StatusCode::SEE_OTHER);
    let (status, report) = post_json(
        &learner,
        &site.at("/api/labs/review/steps/review/setup"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{report}");
    assert_eq!(report["error"]["cause"], "kubelab", "{report}");
    let message = report["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with(
            "kubelab refused to set up SelfSubjectReview who-am-i because it is a cluster-wide kind"
        ),
        "{message}"
    );
    site.stop().await;
}

#[tokio::test]
async fn the_instructor_is_warned_while_no_admission_policy_guards_learners() {
    let mut site = Site::start().await;
    assert!(matches!(guard(&site).await, AdmissionGuard::Sweep { .. }));
    let page = instructor_page(&site).await;
    assert!(page.contains("id=\"isolation-warning\""), "{page}");
    assert!(
        page.contains("Learner namespaces are not protected by admission policies"),
        "{page}"
    );
    assert!(page.contains("within about 10 seconds"), "{page}");

    site.fake.serve_admission_policies(Some("v1"));
    site.restart().await;
    assert_eq!(
        guard(&site).await,
        AdmissionGuard::Policies {
            api_version: "admissionregistration.k8s.io/v1".into()
        }
    );
    for name in [NO_EXTERNAL_IPS_POLICY, NO_TOKEN_SECRETS_POLICY] {
        let binding = site
            .fake
            .get(
                "admissionregistration.k8s.io/v1",
                "ValidatingAdmissionPolicyBinding",
                None,
                name,
            )
            .expect("binding installed");
        assert_eq!(
            binding["spec"]["matchResources"]["namespaceSelector"]["matchExpressions"],
            json!([{"key": "kubelab.io/learner", "operator": "Exists"}])
        );
    }
    let page = instructor_page(&site).await;
    assert!(!page.contains("isolation-warning"), "{page}");
    site.stop().await;
}
