//! Integration tests: the web edge (pages, JSON API, language, CSRF, limits, headers, assets),
//! against kubelab serving the small catalog in `tests/web/fixtures/labs` with no cluster.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use reqwest::StatusCode;
use serde_json::Value;

use crate::app::{TestApp, spawn_app_with_labs};

fn fixture_labs() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/web/fixtures/labs")
}

/// kubelab with the fixture labs and a kubeconfig that does not exist.
async fn app() -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let app = spawn_app_with_labs(&dir.path().join("missing-kubeconfig"), fixture_labs()).await;
    drop(dir);
    app
}

/// The CSRF token a page hands out (its `<meta name="csrf-token">`).
fn csrf_of(page: &str) -> String {
    let marker = "<meta name=\"csrf-token\" content=\"";
    let start = page.find(marker).expect("csrf meta") + marker.len();
    let end = page[start..].find('"').expect("end of csrf meta") + start;
    page[start..end].to_owned()
}

/// Every `src="..."` and `href="..."` value in a page.
fn links(page: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["src=\"", "href=\""] {
        let mut rest = page;
        while let Some(i) = rest.find(attr) {
            rest = &rest[i + attr.len()..];
            if let Some(end) = rest.find('"') {
                out.push(rest[..end].to_owned());
                rest = &rest[end..];
            }
        }
    }
    out
}

async fn post_form(
    app: &TestApp,
    path: &str,
    token: Option<&str>,
    htmx: bool,
) -> reqwest::Response {
    let mut req = app
        .client
        .post(format!("{}{path}", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(match token {
            Some(t) => format!("csrf_token={t}"),
            None => String::new(),
        });
    if htmx {
        req = req.header("HX-Request", "true");
    }
    req.send().await.expect("POST")
}

#[tokio::test]
async fn home_lists_the_chapters_in_order_with_progress() {
    let app = app().await;
    app.engine()
        .store()
        .record_check(
            "local",
            "alpha",
            "deploy",
            "passed",
            true,
            "2024-01-01T00:00:00Z",
        )
        .await
        .expect("record");
    let (status, page) = app.get("/").await;
    assert_eq!(status, 200);
    let alpha = page.find("Alpha lab").expect("alpha listed");
    let beta = page.find("Beta lab").expect("beta listed");
    assert!(alpha < beta, "chapters are in order");
    assert!(page.contains("The first chapter of the test catalog."));
    assert!(page.contains("href=\"/labs/alpha\""));
    assert!(page.contains("1 / 2 steps done"), "alpha progress shown");
    assert!(page.contains("0 / 1 steps done"), "beta progress shown");
    assert!(page.contains("<progress value=\"1\" max=\"2\""));
    app.stop().await;
}

#[tokio::test]
async fn lab_page_shows_steps_copy_buttons_hints_and_set_up_only_where_there_are_manifests() {
    let app = app().await;
    app.engine()
        .store()
        .record_check(
            "local",
            "alpha",
            "verify",
            "failed",
            false,
            "2024-01-01T00:00:00Z",
        )
        .await
        .expect("record");
    let (status, page) = app.get("/labs/alpha").await;
    assert_eq!(status, 200);
    assert!(page.contains("Create the ConfigMap"));
    assert!(page.contains("Read the data back"));
    assert!(page.contains("This lab is used by the <strong>web tests</strong>"));
    assert_eq!(
        page.matches("data-copy hidden").count(),
        1,
        "the one code block gets one copy button"
    );
    assert!(page.contains("kubectl apply -f configmap.yaml"));
    assert!(page.contains("action=\"/labs/alpha/steps/deploy/setup\""));
    assert!(
        !page.contains("/labs/alpha/steps/verify/setup"),
        "no Set up without manifests"
    );
    assert!(page.contains("hx-post=\"/labs/alpha/steps/deploy/check\""));
    assert!(page.contains("hx-post=\"/labs/alpha/steps/verify/check\""));
    assert!(page.contains("Show a hint (1/2)"));
    assert!(page.contains("Show another hint (2/2)"));
    assert!(page.contains("Reset lab"));
    assert!(page.contains("id=\"badge-verify\" class=\"badge badge-failed\""));
    assert!(page.contains("id=\"badge-deploy\" class=\"badge badge-not-checked\""));
    let token = csrf_of(&page);
    assert!(token.len() >= 32);
    assert!(page.contains(&format!("name=\"csrf_token\" value=\"{token}\"")));
    // A step URL leads to the step on its lab page.
    let r = app
        .client
        .get(format!("{}/labs/alpha/steps/verify", app.url))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/labs/alpha#step-verify");
    app.stop().await;
}

#[tokio::test]
async fn language_follows_accept_language_and_the_toggle_is_remembered() {
    let app = app().await;
    let zh = app
        .client
        .get(format!("{}/labs/alpha", app.url))
        .header("accept-language", "zh-CN,zh;q=0.9,en;q=0.5")
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    assert!(zh.contains("<html lang=\"zh-CN\">"));
    assert!(zh.contains("阿尔法实验"));
    assert!(zh.contains("检查"));
    assert!(zh.contains("显示提示 (1/2)"));

    let (_, en) = app.get("/labs/alpha").await;
    assert!(en.contains("<html lang=\"en\">"), "English by default");
    assert!(en.contains("Alpha lab"));

    let r = app
        .client
        .get(format!("{}/labs/alpha?lang=zh", app.url))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/labs/alpha");
    let cookie = r.headers()["set-cookie"].to_str().expect("cookie");
    assert!(cookie.starts_with("lang=zh"), "{cookie}");

    // The cookie now beats the browser's Accept-Language.
    let page = app
        .client
        .get(format!("{}/", app.url))
        .header("accept-language", "en")
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    assert!(page.contains("<html lang=\"zh-CN\">"));
    assert!(page.contains("贝塔实验"));
    app.stop().await;
}

#[tokio::test]
async fn without_a_cluster_pages_say_so_and_set_up_and_check_answer_503_with_the_explanation() {
    let app = app().await;
    assert!(!app.wait_for_health().await.is_reachable());
    let (_, page) = app.get("/").await;
    assert!(page.contains("No Kubernetes cluster is reachable."));
    assert!(page.contains("colima start --kubernetes"));
    assert!(page.contains("--context"));

    let (status, body) = app.post_json("/api/labs/alpha/steps/deploy/setup").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["reason"], "cluster_unavailable");
    assert!(
        body["help"]
            .as_str()
            .unwrap_or("")
            .contains("colima start --kubernetes")
    );
    let (status, body) = app.post_json("/api/labs/alpha/steps/deploy/check").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["reason"], "cluster_unavailable");

    // The page's forms, as htmx sends them: a fragment with the explanation.
    let (_, page) = app.get("/labs/alpha").await;
    let token = csrf_of(&page);
    let r = post_form(&app, "/labs/alpha/steps/deploy/check", Some(&token), true).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let fragment = r.text().await.expect("body");
    assert!(!fragment.contains("<html"), "htmx gets a fragment");
    assert!(fragment.contains("No Kubernetes cluster is reachable."));
    assert!(fragment.contains("colima start --kubernetes"));

    // Without JavaScript: the whole lab page, with the explanation in the step's panel.
    let r = post_form(&app, "/labs/alpha/steps/deploy/setup", Some(&token), false).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    let full = r.text().await.expect("body");
    assert!(full.contains("<html"));
    assert!(full.contains("result-panel result-error"));
    assert!(full.contains("Read the data back"));

    // Reset without a cluster is explained too.
    let r = post_form(&app, "/labs/alpha/reset", Some(&token), false).await;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("No Kubernetes cluster is reachable.")
    );
    app.stop().await;
}

#[tokio::test]
async fn a_step_without_manifests_has_nothing_to_set_up() {
    let app = app().await;
    let (status, body) = app.post_json("/api/labs/alpha/steps/verify/setup").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["reason"], "nothing_to_set_up");
    app.stop().await;
}

#[tokio::test]
async fn unknown_labs_and_steps_are_404_pages_and_404_json() {
    let app = app().await;
    for path in ["/labs/nope", "/labs/alpha/steps/nope", "/no/such/page"] {
        let r = app
            .client
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(
            r.headers()["content-type"]
                .to_str()
                .unwrap_or("")
                .starts_with("text/html")
        );
        let body = r.text().await.expect("body");
        assert!(body.contains("Page not found"), "{path}: {body}");
        assert!(body.contains("href=\"/\""));
    }
    for path in ["/api/labs/nope", "/api/nothing-here"] {
        let (status, body) = app.get_json(path).await;
        assert_eq!(status, 404, "{path}");
        assert_eq!(body["reason"], "not_found", "{path}");
        assert!(body["error"].is_string());
    }
    let (status, body) = app.post_json("/api/labs/alpha/steps/nope/check").await;
    assert_eq!(status, 404);
    assert_eq!(body["reason"], "not_found");
    let (_, page) = app.get("/labs/alpha").await;
    let r = post_form(
        &app,
        "/labs/alpha/steps/nope/check",
        Some(&csrf_of(&page)),
        false,
    )
    .await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test]
async fn json_api_lists_labs_and_describes_one() {
    let app = app().await;
    let (status, body) = app.get_json("/api/labs").await;
    assert_eq!(status, 200);
    let labs = body["labs"].as_array().expect("labs");
    assert_eq!(labs.len(), 2);
    assert_eq!(labs[0]["id"], "alpha");
    assert_eq!(labs[0]["steps"], 2);
    assert_eq!(labs[0]["done"], 0);
    assert_eq!(labs[0]["title"]["zh"], "阿尔法实验");
    assert_eq!(labs[1]["id"], "beta");

    let (status, lab) = app.get_json("/api/labs/alpha").await;
    assert_eq!(status, 200);
    let steps = lab["steps"].as_array().expect("steps");
    assert_eq!(steps[0]["id"], "deploy");
    assert_eq!(steps[0]["manifests"][0]["kind"], "ConfigMap");
    assert_eq!(
        steps[0]["checks"][0]["title"]["en"],
        "The ConfigMap web-cm exists"
    );
    assert_eq!(steps[0]["hints"], 2);
    assert_eq!(steps[0]["state"], "not-checked");
    assert_eq!(steps[1]["manifests"], Value::Array(vec![]));
    app.stop().await;
}

#[tokio::test]
async fn posts_without_a_valid_csrf_token_are_refused() {
    let app = app().await;
    let (_, page) = app.get("/labs/alpha").await;
    let r = post_form(&app, "/labs/alpha/steps/deploy/check", None, false).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(
        r.text()
            .await
            .expect("body")
            .contains("did not come from kubelab")
    );
    let r = post_form(
        &app,
        "/labs/alpha/steps/deploy/check",
        Some("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
        true,
    )
    .await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A fresh client (no cookie) with a token copied from the page is refused as well.
    let stranger = reqwest::Client::new();
    let r = stranger
        .post(format!("{}/labs/alpha/reset", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf_token={}", csrf_of(&page)))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // The header works as well as the field.
    let r = app
        .client
        .post(format!("{}/labs/alpha/steps/deploy/check", app.url))
        .header("x-csrf-token", csrf_of(&page))
        .header("hx-request", "true")
        .send()
        .await
        .expect("POST");
    assert_ne!(r.status(), StatusCode::FORBIDDEN);
    app.stop().await;
}

#[tokio::test]
async fn the_api_refuses_cross_site_browsers_and_non_json_bodies() {
    let app = app().await;
    let url = format!("{}/api/labs/alpha/steps/deploy/check", app.url);
    let r = app
        .client
        .post(&url)
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["reason"], "cross_site");
    let r = app
        .client
        .post(&url)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = app
        .client
        .post(&url)
        .header("content-type", "text/plain")
        .body("hello")
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // curl-style: no body at all, same origin.
    let r = app
        .client
        .post(&url)
        .header("origin", app.url.clone())
        .send()
        .await
        .expect("POST");
    assert_eq!(
        r.status(),
        StatusCode::SERVICE_UNAVAILABLE,
        "reaches the engine"
    );
    app.stop().await;
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let app = app().await;
    let big = format!("{{\"x\":\"{}\"}}", "a".repeat(100 * 1024));
    let r = app
        .client
        .post(format!("{}/api/labs/alpha/steps/deploy/check", app.url))
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let r = app
        .client
        .post(format!("{}/labs/alpha/steps/deploy/check", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("junk={big}"))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    app.stop().await;
}

#[tokio::test]
async fn pages_send_strict_security_headers_and_use_no_external_urls() {
    let app = app().await;
    for path in ["/", "/labs/alpha", "/labs/nope"] {
        let r = app
            .client
            .get(format!("{}{path}", app.url))
            .send()
            .await
            .expect("GET");
        let h = r.headers().clone();
        let csp = h["content-security-policy"].to_str().expect("csp");
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("script-src 'self'"));
        assert!(csp.contains("frame-ancestors 'none'"));
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert_eq!(h["referrer-policy"], "no-referrer");
        let page = r.text().await.expect("body");
        assert!(!page.contains("<script>"), "{path}: no inline scripts");
        assert!(!page.contains(" style=\""), "{path}: no inline styles");
        assert!(!page.contains("<style"), "{path}: no style blocks");
        for link in links(&page) {
            assert!(
                link.starts_with('/') && !link.starts_with("//") || link.starts_with('#'),
                "{path} links outside kubelab: {link}"
            );
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn health_and_readiness() {
    let app = app().await;
    let (status, body) = app.get("/healthz").await;
    assert_eq!((status, body.as_str()), (200, "ok"));
    app.wait_for_health().await;
    let (status, body) = app.get_json("/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["labs"], 2);
    assert_eq!(body["database"], "ok");
    assert_eq!(
        body["cluster"]["state"], "unreachable",
        "reported, not failed on"
    );
    app.stop().await;
}

#[tokio::test]
async fn static_assets_are_served_with_their_type_and_cached_by_version() {
    let app = app().await;
    let (_, page) = app.get("/").await;
    let assets: Vec<String> = links(&page)
        .into_iter()
        .filter(|l| l.starts_with("/static/"))
        .collect();
    assert!(
        assets.iter().any(|a| a.contains("vendor/htmx.min.js")),
        "{assets:?}"
    );
    for (file, kind) in [
        ("app.css", "text/css"),
        ("app.js", "javascript"),
        ("vendor/htmx.min.js", "javascript"),
        ("logo.svg", "image/svg+xml"),
    ] {
        let url = assets
            .iter()
            .find(|a| a.starts_with(&format!("/static/{file}?v=")))
            .unwrap_or_else(|| panic!("{file} linked with a version"));
        let r = app
            .client
            .get(format!("{}{url}", app.url))
            .send()
            .await
            .expect("GET");
        assert_eq!(r.status(), StatusCode::OK, "{url}");
        let ct = r.headers()["content-type"].to_str().expect("ct").to_owned();
        assert!(ct.contains(kind), "{url}: {ct}");
        assert!(
            r.headers()["cache-control"]
                .to_str()
                .expect("cc")
                .contains("immutable")
        );
        let etag = r.headers()["etag"].clone();
        let again = app
            .client
            .get(format!("{}{url}", app.url))
            .header("if-none-match", etag)
            .send()
            .await
            .expect("GET");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    }
    let (status, _) = app.get("/static/nope.js").await;
    assert_eq!(status, 404);
    app.stop().await;
}

#[tokio::test]
async fn before_the_first_probe_the_banner_says_the_cluster_is_being_checked() {
    // Serve the router directly, without the health monitor, so the health stays Unknown.
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = kubelab::startup::build_engine(
        &kubelab::labs::LabSource::Dir(fixture_labs()),
        &dir.path().join("k.db").display().to_string(),
        &kubelab::cluster::ClusterOptions {
            kubeconfig: Some(dir.path().join("missing")),
            context: None,
        },
    )
    .await
    .expect("engine");
    let router = kubelab::web::router(kubelab::web::AppState {
        engine,
        config: Arc::new(kubelab::web::WebConfig {
            cookie_key: vec![7; 64],
        }),
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
    });
    let page = reqwest::get(format!("http://{addr}/"))
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    assert!(page.contains("Checking the cluster"));
    assert!(!page.contains("No Kubernetes cluster is reachable."));
    server.abort();
}

/// kubelab with the fixture labs against the fake API server, once the cluster is seen.
async fn app_with_cluster(fake: &crate::support::FakeApi, dir: &std::path::Path) -> TestApp {
    let app = spawn_app_with_labs(&fake.write_kubeconfig(dir), fixture_labs()).await;
    assert!(app.wait_for_health().await.is_reachable());
    app
}

#[tokio::test]
async fn set_up_and_check_show_objects_verdicts_and_per_field_diagnostics() {
    let fake = crate::support::FakeApi::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let _ = fake.put(serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web-test"}
    }));
    let app = app_with_cluster(&fake, dir.path()).await;
    let (_, page) = app.get("/labs/alpha").await;
    assert!(
        page.contains("class=\"cluster-pill\""),
        "version shown in the header"
    );
    assert!(!page.contains("No Kubernetes cluster is reachable."));
    let token = csrf_of(&page);

    // Set up (htmx): the objects created.
    let r = post_form(&app, "/labs/alpha/steps/deploy/setup", Some(&token), true).await;
    assert_eq!(r.status(), StatusCode::OK);
    let fragment = r.text().await.expect("body");
    assert!(fragment.contains("ConfigMap web-test/web-cm"), "{fragment}");
    assert!(fragment.contains("action-created"), "{fragment}");

    // Check (htmx): passed, and the step's badge is swapped out of band.
    let r = post_form(&app, "/labs/alpha/steps/deploy/check", Some(&token), true).await;
    assert_eq!(r.status(), StatusCode::OK);
    let fragment = r.text().await.expect("body");
    assert!(fragment.contains("All checks passed"), "{fragment}");
    assert!(
        fragment.contains("id=\"badge-deploy\" class=\"badge badge-done\" hx-swap-oob=\"true\"")
    );

    // Change the data: the next step's check fails with the author's reason and a table.
    let _ = fake.put(serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "web-cm", "namespace": "web-test"},
        "data": {"colour": "red"}
    }));
    let r = post_form(&app, "/labs/alpha/steps/verify/check", Some(&token), false).await;
    assert_eq!(r.status(), StatusCode::OK);
    let full = r.text().await.expect("body");
    assert!(full.contains("Not there yet"), "{full}");
    assert!(full.contains("Add the key colour."));
    assert!(full.contains("<code>data.colour</code>"), "{full}");
    assert!(
        full.contains("<code>&#34;blue&#34;</code>")
            || full.contains("<code>&quot;blue&quot;</code>"),
        "{full}"
    );
    assert!(full.contains("id=\"badge-verify\" class=\"badge badge-failed\""));

    // The API gives the same verdicts.
    let (status, report) = app.post_json("/api/labs/alpha/steps/verify/check").await;
    assert_eq!(status, 200);
    assert_eq!(report["status"], "failed");
    assert_eq!(
        report["checks"][0]["verdict"]["diagnostics"][0]["path"],
        "data.colour"
    );
    let (_, home) = app.get("/").await;
    assert!(home.contains("1 / 2 steps done"));

    // Reset deletes what the lab made and forgets progress.
    let r = post_form(&app, "/labs/alpha/reset", Some(&token), false).await;
    assert_eq!(r.status(), StatusCode::OK);
    let page = r.text().await.expect("body");
    assert!(page.contains("The lab was reset"));
    assert!(page.contains("ConfigMap web-test/web-cm"));
    assert!(
        fake.get("v1", "ConfigMap", Some("web-test"), "web-cm")
            .is_none()
    );
    let (_, home) = app.get("/").await;
    assert!(home.contains("0 / 2 steps done"));
    app.stop().await;
    fake.stop().await;
}
