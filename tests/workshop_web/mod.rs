//! Workshop mode through the web edge, as an instructor and learners use it: each person is a
//! cookie-keeping HTTP client against kubelab (`--workshop`) and the fake API server.

use std::time::Duration;

use kubelab::cluster::ClusterOptions;
use kubelab::labs::LabSource;
use kubelab::startup::{InstructorCredential, instructor_credential};
use kubelab::web::learner::LearnerEngine;
use kubelab::{RunningApp, Settings};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

use crate::app::spawn_app;
use crate::support::FakeApi;

mod edge;
mod isolation;
mod public_api;
mod text;

const TOKEN: &str = "instructor-token-for-the-tests-0123456789";
const LAB: &str = "configmap";
const STEP: &str = "create-configmap";

/// kubelab in workshop mode against a fake cluster, restartable on the same database.
struct Site {
    fake: FakeApi,
    settings: Settings,
    app: Option<RunningApp>,
    url: String,
    _dir: tempfile::TempDir,
}

impl Site {
    async fn start() -> Site {
        Site::start_with(None).await
    }

    /// Started with `--public-api-server` (and CA) when `public_api` is given.
    async fn start_with(public_api: Option<kubelab::cluster::PublicApiServer>) -> Site {
        let fake = FakeApi::start().await;
        let dir = tempfile::tempdir().expect("temp dir");
        let kubeconfig = fake.write_kubeconfig(dir.path());
        let settings = Settings {
            addr: "127.0.0.1:0".parse().expect("addr"),
            database_url: dir.path().join("kubelab.db").display().to_string(),
            labs: LabSource::Embedded,
            cluster: ClusterOptions {
                kubeconfig: Some(kubeconfig),
                context: None,
                public_api,
            },
            workshop: true,
            secure_cookies: false,
            rate_limit: Default::default(),
            terminal: Default::default(),
            learner_quota: Default::default(),
        };
        let mut site = Site {
            fake,
            settings,
            app: None,
            url: String::new(),
            _dir: dir,
        };
        site.launch().await;
        let engine = &site.app.as_ref().expect("running").engine;
        assert_eq!(
            instructor_credential(engine, Some(TOKEN))
                .await
                .expect("token stored"),
            InstructorCredential::Given
        );
        site
    }

    async fn launch(&mut self) {
        let app = kubelab::start(self.settings.clone())
            .await
            .expect("kubelab starts");
        self.url = app.url();
        self.app = Some(app);
    }

    async fn restart(&mut self) {
        if let Some(app) = self.app.take() {
            app.stop().await;
        }
        self.launch().await;
    }

    fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    async fn stop(mut self) {
        if let Some(app) = self.app.take() {
            app.stop().await;
        }
    }
}

/// A browser: keeps cookies, does not follow redirects (so tests see them).
fn browser() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The CSRF token of the form on a page.
async fn csrf(client: &Client, url: &str) -> String {
    let page = client
        .get(url)
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    let marker = "name=\"csrf_token\" value=\"";
    let start = page.find(marker).expect("a form with a CSRF token") + marker.len();
    page[start..].split('"').next().expect("token").to_owned()
}

/// Posts a urlencoded form (values are plain ASCII words here).
async fn post_form(client: &Client, url: &str, fields: &[(&str, &str)]) -> reqwest::Response {
    let body = fields
        .iter()
        .map(|(k, v)| format!("{k}={}", v.replace(' ', "+")))
        .collect::<Vec<_>>()
        .join("&");
    client
        .post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("POST")
}

async fn get_json(client: &Client, url: &str) -> (StatusCode, Value) {
    let r = client.get(url).send().await.expect("GET");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn post_json(client: &Client, url: &str, body: Value) -> (StatusCode, Value) {
    let r = client
        .post(url)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("POST");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn instructor_get(site: &Site, path: &str) -> (StatusCode, Value) {
    let r = Client::new()
        .get(site.at(path))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("GET");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn instructor_post(site: &Site, path: &str, body: Value) -> (StatusCode, Value) {
    let r = Client::new()
        .post(site.at(path))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body(body.to_string())
        .send()
        .await
        .expect("POST");
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn create_workshop(site: &Site, capacity: u32) -> Value {
    let (status, workshop) = instructor_post(
        site,
        "/api/instructor/workshops",
        json!({"name": "Friday class", "labs": [LAB], "capacity": capacity, "hours": 2}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{workshop}");
    workshop
}

/// Joins through the join page's form; returns the response to the POST.
async fn join(site: &Site, client: &Client, code: &str, name: &str) -> reqwest::Response {
    let url = site.at(&format!("/join/{code}"));
    let token = csrf(client, &url).await;
    post_form(client, &url, &[("name", name), ("csrf_token", &token)]).await
}

fn location(r: &reqwest::Response) -> &str {
    r.headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The learner's namespace, as the API reports it for the lab.
async fn namespace_of(site: &Site, client: &Client) -> String {
    let (status, lab) = get_json(client, &site.at(&format!("/api/labs/{LAB}"))).await;
    assert_eq!(status, StatusCode::OK, "{lab}");
    lab["namespace"].as_str().expect("namespace").to_owned()
}

fn step_state(lab: &Value) -> String {
    lab["steps"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["id"] == STEP))
        .map(|s| s["state"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn a_workshop_from_join_to_end() {
    let mut site = Site::start().await;
    let workshop = create_workshop(&site, 10).await;
    let id = workshop["id"].as_str().expect("id").to_owned();
    let code = workshop["code"].as_str().expect("code").to_owned();
    assert!(
        workshop["join_url"]
            .as_str()
            .is_some_and(|u| u.ends_with(&format!("/join/{code}"))),
        "{workshop}"
    );

    // Without a session the home page asks to join, and the learner API refuses.
    let alice = browser();
    let home = alice.get(site.at("/")).send().await.expect("GET");
    assert_eq!(home.status(), StatusCode::OK);
    assert!(
        home.text()
            .await
            .expect("body")
            .contains("action=\"/join\"")
    );
    let (status, body) = get_json(&alice, &site.at("/api/labs")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    // Alice joins with the form: a session cookie, and her namespace with Pod Security labels.
    let joined = join(&site, &alice, &code, "Alice").await;
    assert_eq!(joined.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&joined), "/");
    let cookie = joined
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("kubelab_session="))
        .expect("session cookie")
        .to_owned();
    for attribute in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let ns_a = namespace_of(&site, &alice).await;
    let namespace = site
        .fake
        .get("v1", "Namespace", None, &ns_a)
        .expect("Alice's namespace");
    assert_eq!(
        namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"],
        "baseline"
    );
    let home = alice
        .get(site.at("/"))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    assert!(home.contains("Alice") && home.contains(&ns_a), "{home}");
    assert!(home.contains("/kubeconfig"));
    assert!(home.contains("/labs/configmap"));
    assert!(!home.contains("/labs/pod\""), "only the workshop's labs");

    // Her kubeconfig downloads as a file named after her namespace.
    let download = alice.get(site.at("/kubeconfig")).send().await.expect("GET");
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(
        download.headers()["content-disposition"],
        format!("attachment; filename=\"kubelab-{ns_a}.kubeconfig\"").as_str()
    );
    assert!(download.text().await.expect("body").contains(&ns_a));

    // Set up through the page's form, check through the API: her objects, in her namespace.
    let lab_url = site.at(&format!("/labs/{LAB}"));
    let token = csrf(&alice, &lab_url).await;
    let setup = post_form(
        &alice,
        &site.at(&format!("/labs/{LAB}/steps/{STEP}/setup")),
        &[("csrf_token", &token)],
    )
    .await;
    assert_eq!(
        setup.status(),
        StatusCode::SEE_OTHER,
        "a page form redirects"
    );
    let cm = site
        .fake
        .get("v1", "ConfigMap", Some(&ns_a), "base-map")
        .expect("in Alice's namespace");
    assert_eq!(cm["metadata"]["namespace"], ns_a.as_str());
    let (status, report) = post_json(
        &alice,
        &site.at(&format!("/api/labs/{LAB}/steps/{STEP}/check")),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["status"], "passed", "{report}");

    // A lab the workshop does not offer does not exist for her.
    assert_eq!(
        alice
            .get(site.at("/labs/pod"))
            .send()
            .await
            .expect("GET")
            .status(),
        StatusCode::NOT_FOUND
    );
    let (status, _) = get_json(&alice, &site.at("/api/labs/pod")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Bob joins; he sees only his own progress and resets only his own objects.
    let bob = browser();
    let joined = join(&site, &bob, &code, "Bob").await;
    assert_eq!(joined.status(), StatusCode::SEE_OTHER);
    let ns_b = namespace_of(&site, &bob).await;
    assert_ne!(ns_a, ns_b);
    let (_, labs) = get_json(&bob, &site.at("/api/labs")).await;
    assert_eq!(labs["labs"].as_array().map(Vec::len), Some(1), "{labs}");
    assert_eq!(labs["labs"][0]["done"], 0, "{labs}");
    let (_, lab) = get_json(&bob, &site.at(&format!("/api/labs/{LAB}"))).await;
    assert_ne!(step_state(&lab), "passed", "{lab}");
    let (status, _) = post_json(&bob, &site.at(&format!("/api/labs/{LAB}/reset")), json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        site.fake
            .get("v1", "ConfigMap", Some(&ns_a), "base-map")
            .is_some(),
        "Bob's reset leaves Alice's objects"
    );
    let (_, lab) = get_json(&alice, &site.at(&format!("/api/labs/{LAB}"))).await;
    assert_eq!(step_state(&lab), "passed", "{lab}");
    let page = bob
        .get(site.at(&format!("/labs/{LAB}")))
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    assert!(page.contains(&ns_b) && !page.contains(&ns_a));

    // Learners and strangers get nothing from the instructor side.
    let stranger = browser();
    for client in [&stranger, &alice, &bob] {
        let r = client
            .get(site.at("/instructor"))
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert!(r.text().await.expect("body").contains("/instructor/login"));
        let (status, body) = get_json(client, &site.at("/api/instructor/workshops")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["reason"], "unauthorized");
        let (status, _) = get_json(
            client,
            &site.at(&format!("/api/instructor/workshops/{id}/grid")),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        let (status, _) = post_json(
            client,
            &site.at(&format!("/api/instructor/workshops/{id}/end")),
            json!({}),
        )
        .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let r = Client::new()
        .get(site.at("/api/instructor/workshops"))
        .bearer_auth("not-the-instructor-token")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let login_url = site.at("/instructor/login");
    let token = csrf(&stranger, &login_url).await;
    let refused = post_form(
        &stranger,
        &login_url,
        &[("token", "guessing-the-token-0000"), ("csrf_token", &token)],
    )
    .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(refused.text().await.expect("body").contains("not right"));

    // The instructor signs in with the form and sees Alice's passed step in the grid.
    let teacher = browser();
    let token = csrf(&teacher, &login_url).await;
    let signed_in = post_form(
        &teacher,
        &login_url,
        &[("token", TOKEN), ("csrf_token", &token)],
    )
    .await;
    assert_eq!(signed_in.status(), StatusCode::SEE_OTHER);
    let page = teacher
        .get(site.at(&format!("/instructor/workshops/{id}")))
        .send()
        .await
        .expect("GET");
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.expect("body");
    assert!(page.contains(&code) && page.contains(&format!("/join/{code}")));
    assert!(page.contains("Alice") && page.contains("Bob"));
    assert!(page.contains("ws-cell-passed"), "{page}");
    assert!(page.contains(&format!("hx-get=\"/instructor/workshops/{id}/grid\"")));
    let (status, list) = get_json(&teacher, &site.at("/api/instructor/workshops")).await;
    assert_eq!(status, StatusCode::OK, "cookie works for the API: {list}");
    let (_, grid) = instructor_get(&site, &format!("/api/instructor/workshops/{id}/grid")).await;
    let column = grid["steps"]
        .as_array()
        .and_then(|s| s.iter().position(|c| c[0] == LAB && c[1] == STEP))
        .expect("column");
    let row = |name: &str| {
        grid["learners"]
            .as_array()
            .and_then(|rows| rows.iter().find(|r| r["learner"]["display_name"] == name))
            .cloned()
            .expect("row")
    };
    assert_eq!(row("Alice")["cells"][column]["state"], "passed", "{grid}");
    assert_ne!(row("Bob")["cells"][column]["state"], "passed", "{grid}");
    let alice_id = row("Alice")["learner"]["id"]
        .as_str()
        .expect("id")
        .to_owned();

    // Rejoining from the same browser resumes the session.
    let again = alice
        .get(site.at(&format!("/join/{code}")))
        .send()
        .await
        .expect("GET");
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    let again = post_form(
        &alice,
        &site.at(&format!("/join/{code}")),
        &[("name", "Alice")],
    )
    .await;
    // (without a CSRF token the form is refused; with one it goes home as the same learner)
    assert_eq!(again.status(), StatusCode::FORBIDDEN);
    let token = csrf(&alice, &site.at(&format!("/labs/{LAB}"))).await;
    let again = post_form(
        &alice,
        &site.at(&format!("/join/{code}")),
        &[("name", "Alice"), ("csrf_token", &token)],
    )
    .await;
    assert_eq!(again.status(), StatusCode::SEE_OTHER);
    assert_eq!(namespace_of(&site, &alice).await, ns_a);
    let (_, grid) = instructor_get(&site, &format!("/api/instructor/workshops/{id}/grid")).await;
    assert_eq!(grid["learners"].as_array().map(Vec::len), Some(2));

    // A restart keeps Alice's session and progress.
    site.restart().await;
    let (status, lab) = get_json(&alice, &site.at(&format!("/api/labs/{LAB}"))).await;
    assert_eq!(status, StatusCode::OK, "{lab}");
    assert_eq!(lab["namespace"], ns_a.as_str());
    assert_eq!(step_state(&lab), "passed", "{lab}");
    // The cookie-signing key lives in the database: the instructor stays signed in too.
    let (status, list) = get_json(&teacher, &site.at("/api/instructor/workshops")).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "instructor cookie after a restart: {list}"
    );

    // The instructor resets Alice's lab: her objects go, Bob's namespace stays.
    let (status, body) = instructor_post(
        &site,
        &format!("/api/instructor/workshops/{id}/learners/{alice_id}/reset"),
        json!({"lab": LAB}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        site.fake
            .get("v1", "ConfigMap", Some(&ns_a), "base-map")
            .is_none()
    );
    let (_, lab) = get_json(&alice, &site.at(&format!("/api/labs/{LAB}"))).await;
    assert_ne!(step_state(&lab), "passed", "{lab}");

    // Extending gives it more time; ending deletes every namespace and ends the sessions.
    let before = workshop["expires_at"].as_str().expect("expiry").to_owned();
    let (status, extended) = instructor_post(
        &site,
        &format!("/api/instructor/workshops/{id}/extend"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{extended}");
    assert!(extended["expires_at"].as_str().expect("expiry") > before.as_str());
    let (status, ended) = instructor_post(
        &site,
        &format!("/api/instructor/workshops/{id}/end"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ended}");
    assert_eq!(ended["deleted"], 2, "{ended}");
    for ns in [&ns_a, &ns_b] {
        assert!(
            site.fake
                .wait_for(Duration::from_secs(10), |f| {
                    f.get("v1", "Namespace", None, ns)
                        .is_none_or(|n| n["metadata"]["deletionTimestamp"].is_string())
                })
                .await,
            "{ns} deleted"
        );
    }
    let (status, _) = get_json(&alice, &site.at("/api/labs")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let home = alice.get(site.at("/")).send().await.expect("GET");
    assert!(
        home.text()
            .await
            .expect("body")
            .contains("action=\"/join\"")
    );
    let late = join(&site, &browser(), &code, "Carol").await;
    assert_eq!(late.status(), StatusCode::CONFLICT);
    site.stop().await;
}

#[tokio::test]
async fn a_full_workshop_says_so() {
    let site = Site::start().await;
    let workshop = create_workshop(&site, 1).await;
    let code = workshop["code"].as_str().expect("code");
    let first = join(&site, &browser(), code, "First").await;
    assert_eq!(first.status(), StatusCode::SEE_OTHER);
    let second = join(&site, &browser(), code, "Second").await;
    assert_eq!(second.status(), StatusCode::CONFLICT);
    let page = second.text().await.expect("body");
    assert!(page.contains("is full"), "{page}");
    // An unknown code is not found; an empty name is asked again.
    let unknown = join(&site, &browser(), "NOSUCH", "Third").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let (status, body) = instructor_post(
        &site,
        "/api/instructor/workshops",
        json!({"name": "On a laptop", "labs": ["docker"], "capacity": 5, "hours": 1}),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    site.stop().await;
}

#[tokio::test]
async fn a_laptop_kubelab_has_no_workshop_routes_and_one_learner() {
    let app = spawn_app().await;
    for path in [
        "/join/ABCDEF",
        "/kubeconfig",
        "/instructor",
        "/instructor/login",
    ] {
        let (status, _) = app.get(path).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = app.get_json("/api/instructor/workshops").await;
    assert_eq!(status, 404);
    let (status, labs) = app.get_json("/api/labs").await;
    assert_eq!(status, 200);
    assert!(labs["labs"].as_array().is_some_and(|l| l.len() > 5));

    let local = LearnerEngine::local(app.engine().clone());
    assert!(local.session.is_none());
    assert!(local.offers("docker") && local.offers("configmap"));
    assert_eq!(local.labs().len(), app.engine().catalog().labs.len());
    assert!(local.engine.learner().namespace.is_none());
    app.stop().await;
}
