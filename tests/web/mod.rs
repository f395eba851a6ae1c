//! Integration tests: the web edge (pages, JSON API, language, CSRF, limits, headers, assets),
//! against kubelab serving the small catalog in `tests/web/fixtures/labs` with no cluster.

use std::net::SocketAddr;
use std::path::PathBuf;

use reqwest::StatusCode;
use serde_json::Value;

use crate::app::{TestApp, mark_passed, spawn_app_with_labs};

mod stalled;

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
    mark_passed(
        app.engine().store(),
        "local",
        "alpha",
        "deploy",
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:00:00Z",
    )
    .await;
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
    let at = time::macros::datetime!(2024-01-01 00:00:00 UTC);
    app.engine()
        .store()
        .start_step("local", "alpha", "verify", at)
        .await
        .expect("start");
    app.engine()
        .store()
        .record_status(
            "local",
            "alpha",
            "verify",
            kubelab::checks::StepStatus::Failed,
            time::macros::datetime!(2024-01-01 00:00:00 UTC),
            true,
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
    // Checked once (an old database without a start): in progress. Opening the page started
    // the first step. Neither is red: nobody pressed Check since.
    assert!(page.contains("id=\"badge-verify\" class=\"badge badge-in-progress\""));
    assert!(page.contains("id=\"badge-deploy\" class=\"badge badge-in-progress\""));
    assert!(!page.contains("result-failed"), "{page}");
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

    // Without JavaScript: redirected to the lab page, with the explanation in the step's panel.
    let r = post_form(&app, "/labs/alpha/steps/deploy/setup", Some(&token), false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, full) = app.get("/labs/alpha").await;
    assert!(full.contains("<html"));
    assert!(full.contains("result-panel result-error"), "{full}");
    assert!(full.contains("No Kubernetes cluster is reachable."));
    assert!(full.contains("Read the data back"));

    // Reset without a cluster is explained too.
    let r = post_form(&app, "/labs/alpha/reset", Some(&token), false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, full) = app.get("/labs/alpha").await;
    assert!(
        full.contains("No Kubernetes cluster is reachable."),
        "{full}"
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
    assert_eq!(labs.len(), 3);
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
    assert_eq!(steps[0]["state"], "not-started");
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
async fn errors_answer_in_the_shape_and_language_the_request_asked_for() {
    let app = app().await;
    // A page in Chinese gets its error page in Chinese.
    let r = app
        .client
        .get(format!("{}/labs/nope", app.url))
        .header("accept-language", "zh-CN")
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let body = r.text().await.expect("body");
    assert!(
        body.contains("<html") && body.contains("找不到页面"),
        "{body}"
    );

    // htmx gets the problem as a fragment for the step's panel, not a whole page.
    let r = post_form(&app, "/labs/alpha/steps/deploy/check", None, true).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let fragment = r.text().await.expect("body");
    assert!(!fragment.contains("<html"), "{fragment}");
    assert!(fragment.contains("result-panel result-error"), "{fragment}");
    assert!(fragment.contains("did not come from kubelab"), "{fragment}");

    // An address that does not decode is a 400: a page for browsers, JSON for the API.
    let r = app
        .client
        .get(format!("{}/labs/%FF", app.url))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let body = r.text().await.expect("body");
    assert!(
        body.contains("<html") && body.contains("malformed address"),
        "{body}"
    );
    let (status, body) = app.get_json("/api/labs/%FF").await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["reason"], "bad_request");
    assert!(
        body["error"]
            .as_str()
            .unwrap_or("")
            .contains("malformed address"),
        "{body}"
    );
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
    assert_eq!(body["labs"], 3);
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
    let engine = unmonitored_engine(&dir).await;
    let router = kubelab::web::router(engine, &web_config(), kubelab::web::live::Shutdown::new());
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
        fragment.contains("id=\"badge-deploy\" class=\"badge badge-passed\" hx-swap-oob=\"true\""),
        "{fragment}"
    );

    // Change the data: the next step's check fails with the author's reason and a table.
    let _ = fake.put(serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "web-cm", "namespace": "web-test"},
        "data": {"colour": "red"}
    }));
    // Without JavaScript the form is redirected to the lab page, which shows the result.
    let r = post_form(&app, "/labs/alpha/steps/verify/check", Some(&token), false).await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/labs/alpha#step-verify");
    let (_, full) = app.get("/labs/alpha").await;
    assert!(full.contains("Not there yet"), "{full}");
    assert!(full.contains("Add the key colour."));
    assert!(full.contains("<code>data.colour</code>"), "{full}");
    assert!(
        full.contains("<code>&#34;blue&#34;</code>")
            || full.contains("<code>&quot;blue&quot;</code>"),
        "{full}"
    );
    assert!(full.contains("id=\"badge-verify\" class=\"badge badge-in-progress\""));

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
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let (_, page) = app.get("/labs/alpha").await;
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

/// Reads an event stream until `done` holds for what arrived (or the stream ends); gives up
/// after 20 s so a broken feed fails the test instead of hanging it.
pub(crate) async fn read_events_until(
    response: &mut reqwest::Response,
    buffer: &mut String,
    done: impl Fn(&str) -> bool,
) -> bool {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while !done(buffer) {
        match tokio::time::timeout_at(deadline, response.chunk()).await {
            Ok(Ok(Some(bytes))) => buffer.push_str(&String::from_utf8_lossy(&bytes)),
            _ => return done(buffer),
        }
    }
    true
}

/// The `data:` lines of each `event: NAME` in an event stream, joined.
fn events_named(stream: &str, name: &str) -> Vec<String> {
    stream
        .split("\n\n")
        .filter(|block| block.lines().any(|l| l == format!("event: {name}")))
        .map(|block| {
            block
                .lines()
                .filter_map(|l| l.strip_prefix("data: ").or(l.strip_prefix("data:")))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .collect()
}

#[tokio::test]
async fn questions_are_asked_remembered_and_judged_without_giving_the_answer_away() {
    let fake = crate::support::FakeApi::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let app = app_with_cluster(&fake, dir.path()).await;
    let (status, page) = app.get("/labs/gamma").await;
    assert_eq!(status, 200);
    assert!(
        page.contains(
            "<label for=\"answer-ask-version\">Which version does your API server run?</label>"
        ),
        "{page}"
    );
    assert!(
        page.contains("name=\"answer.version\" value=\"\""),
        "empty before answering"
    );
    assert!(page.contains("maxlength=\"200\""));
    let token = csrf_of(&page);

    // A wrong answer through the page's form (htmx): failed, the learner's answer shown, the
    // cluster's value not.
    let r = app
        .client
        .post(format!("{}/labs/gamma/steps/ask/check", app.url))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("hx-request", "true")
        .body(format!("csrf_token={token}&answer.version=v9.9.9"))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::OK);
    let fragment = r.text().await.expect("body");
    assert!(fragment.contains("Not there yet"), "{fragment}");
    assert!(fragment.contains("v9.9.9"), "{fragment}");
    assert!(
        !fragment.contains("1.28"),
        "the right answer leaks: {fragment}"
    );
    assert!(fragment.contains("id=\"badge-ask\" class=\"badge badge-in-progress\""));

    // Remembered: the page shows it again, in the other language too.
    let (_, page) = app.get("/labs/gamma").await;
    assert!(
        page.contains("name=\"answer.version\" value=\"v9.9.9\""),
        "{page}"
    );
    assert_eq!(
        app.engine().answers("gamma", "ask").await.expect("answers")["version"],
        "v9.9.9"
    );

    // The API: a wrong answer's diagnostics do not carry the value either.
    let post = |body: &'static str| {
        app.client
            .post(format!("{}/api/labs/gamma/steps/ask/check", app.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let r = post(r#"{"answers": {"version": "1.27.0"}}"#)
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::OK);
    let text = r.text().await.expect("body");
    assert!(!text.contains("1.28"), "{text}");
    let report: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(report["status"], "failed");

    // The right one passes (versions compare without the leading v).
    let r = post(r#"{"answers": {"version": "1.28.7"}}"#)
        .await
        .expect("POST");
    let report: Value = r.json().await.expect("json");
    assert_eq!(report["status"], "passed", "{report}");
    assert_eq!(report["state"], "passed", "{report}");
    // No body reuses the remembered answer.
    let (status, report) = app.post_json("/api/labs/gamma/steps/ask/check").await;
    assert_eq!((status, report["status"].as_str()), (200, Some("passed")));

    // Mistakes are 400s that say what is wrong, never 500s.
    for (body, says) in [
        (r#"{"answers": {"nope": "x"}}"#, "has no question \"nope\""),
        (r#"{"answer": {"version": "x"}}"#, "unknown field `answer`"),
        (r#"{"answers": {"version": 3}}"#, "invalid type"),
        ("not json", "not a check request"),
    ] {
        let r = post(body).await.expect("POST");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{body}");
        let e: Value = r.json().await.expect("json");
        assert_eq!(e["reason"], "bad_request");
        assert!(
            e["error"].as_str().unwrap_or("").contains(says),
            "{body}: {e}"
        );
    }
    let long = format!(r#"{{"answers": {{"version": "{}"}}}}"#, "9".repeat(201));
    let r = app
        .client
        .post(format!("{}/api/labs/gamma/steps/ask/check", app.url))
        .header("content-type", "application/json")
        .body(long)
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    app.stop().await;
    fake.stop().await;
}

#[tokio::test]
async fn steps_start_when_seen_and_show_their_times_and_the_lab_its_summary() {
    let app = app().await;
    // The API starts a step once: the first time counts.
    let (status, first) = app.post_json("/api/labs/alpha/steps/verify/start").await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["step"], "verify");
    let started = first["started_at"].as_str().expect("started_at").to_owned();
    let (_, again) = app.post_json("/api/labs/alpha/steps/verify/start").await;
    assert_eq!(again["started_at"], started.as_str());
    let (status, body) = app.post_json("/api/labs/alpha/steps/nope/start").await;
    assert_eq!((status, body["reason"].as_str()), (404, Some("not_found")));

    // Opening the lab starts its current step, which is unfolded and timed.
    let started = |progress: kubelab::engine::LabProgress| {
        progress
            .step("deploy")
            .is_some_and(|s| s.record.started_at.is_some())
    };
    assert!(!started(
        app.engine().lab_progress("alpha").await.expect("progress")
    ));
    let (_, page) = app.get("/labs/alpha").await;
    assert!(started(
        app.engine().lab_progress("alpha").await.expect("progress")
    ));
    assert!(
        page.contains("class=\"step step-in-progress step-current\" id=\"step-deploy\""),
        "{page}"
    );
    assert!(page.contains("<details class=\"step-fold\" open>"));
    assert_eq!(
        page.matches("<details class=\"step-fold\" open>").count(),
        1,
        "later steps are folded"
    );
    assert!(page.contains("On this step for"));
    assert!(page.contains("data-hint-after=\"180\""));
    assert!(
        page.contains("id=\"lab-summary\" aria-labelledby=\"summary-title\" hidden"),
        "nothing done yet"
    );

    // A done step says how long it took; the summary lists it.
    mark_passed(
        app.engine().store(),
        "local",
        "beta",
        "only",
        "2024-01-01T00:00:00Z",
        "2024-01-01T00:04:12Z",
    )
    .await;
    let (_, page) = app.get("/labs/beta").await;
    assert!(page.contains("Took 4 min 12 s"), "{page}");
    assert!(page.contains("What you did"));
    assert!(page.contains("<span class=\"recap-title\">Look around</span> <span class=\"recap-time\">4 min 12 s</span>"), "{page}");
    // The whole lab is done: the celebration, with the total time and the next chapter.
    assert!(
        page.contains("id=\"celebration\" aria-labelledby=\"celebration-title\">"),
        "{page}"
    );
    assert!(page.contains("Lab complete!"));
    assert!(page.contains("Total time: <strong class=\"total-time\">4 min 12 s</strong>"));
    assert!(
        page.contains("href=\"/labs/gamma\">Next chapter: Gamma lab →</a>"),
        "{page}"
    );
    let zh = app
        .client
        .get(format!("{}/labs/beta", app.url))
        .header("accept-language", "zh")
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("body");
    assert!(zh.contains("用时 4分 12秒"), "{zh}");
    assert!(zh.contains("实验完成！"));
    assert!(zh.contains("下一章"));
    let (_, alpha) = app.get("/labs/alpha").await;
    assert!(alpha.contains("id=\"celebration\" aria-labelledby=\"celebration-title\" hidden"));
    app.stop().await;
}

#[tokio::test]
async fn lab_images_are_served_safely_and_markdown_points_at_them() {
    let app = app().await;
    let (_, page) = app.get("/labs/gamma").await;
    assert!(
        page.contains("<img src=\"/labs/gamma/images/parts.svg\" alt=\"The parts of the test\" title=\"Parts\">"),
        "{page}"
    );
    let url = format!("{}/labs/gamma/images/parts.svg", app.url);
    let r = app.client.get(&url).send().await.expect("GET");
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "image/svg+xml");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(
        h["content-security-policy"],
        "default-src 'none'; style-src 'unsafe-inline'"
    );
    assert!(
        h["cache-control"]
            .to_str()
            .expect("cc")
            .contains("max-age=")
    );
    assert!(r.text().await.expect("body").contains("api → etcd"));
    let again = app
        .client
        .get(&url)
        .header("if-none-match", h["etag"].clone())
        .send()
        .await
        .expect("GET");
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    for path in [
        "/labs/gamma/images/nope.svg",
        "/labs/nope/images/parts.svg",
        "/labs/gamma/images/..%2Flab.yaml",
    ] {
        let (status, _) = app.get(path).await;
        assert_eq!(status, 404, "{path}");
    }
    app.stop().await;
}

#[tokio::test]
async fn validate_refuses_svg_that_runs_code_or_loads_things_and_images_that_are_too_big() {
    let dir = tempfile::tempdir().expect("temp dir");
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/web/fixtures/bad-images/evil");
    let lab = dir.path().join("evil");
    for sub in ["", "steps", "images"] {
        std::fs::create_dir_all(lab.join(sub)).expect("mkdir");
        for entry in std::fs::read_dir(src.join(sub)).expect("read") {
            let path = entry.expect("entry").path();
            if path.is_file() {
                std::fs::copy(&path, lab.join(sub).join(path.file_name().expect("name")))
                    .expect("copy");
            }
        }
    }
    let mut huge = b"\x89PNG\r\n\x1a\n".to_vec();
    huge.resize(600 * 1024, 0);
    std::fs::write(lab.join("images/huge.png"), huge).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_kubelab"))
        .arg("validate")
        .arg(dir.path())
        .output()
        .expect("kubelab runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    for line in [
        "evil/images/evil.svg:2: the SVG contains a <script> element",
        "evil/images/evil.svg:3: the SVG contains an event-handler attribute (onload=)",
        "evil/images/evil.svg:4: the SVG contains an external reference",
        "evil/images/huge.png: the image is 600 KiB; lab images may be at most 512 KiB",
        "evil/steps/look.en.md:3: image images/missing.svg does not exist",
    ] {
        assert!(
            stderr.lines().any(|l| l.starts_with(line)),
            "missing {line:?} in:\n{stderr}"
        );
    }
}

#[tokio::test]
async fn the_live_feed_sends_the_state_then_steps_that_turn_green_by_themselves() {
    let fake = crate::support::FakeApi::start().await;
    let dir = tempfile::tempdir().expect("temp dir");
    let _ = fake.put(serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "web-test"}
    }));
    let app = app_with_cluster(&fake, dir.path()).await;
    let (_, page) = app.get("/labs/gamma").await;
    assert!(page.contains("data-live=\"/labs/gamma/events\""));
    assert!(page.contains("id=\"live-objects\" class=\"live-objects\""));
    assert!(page.contains("id=\"connection\" class=\"connection connection-connecting\""));

    let mut feed = app
        .client
        .get(format!("{}/labs/gamma/events", app.url))
        .send()
        .await
        .expect("GET");
    assert_eq!(feed.status(), StatusCode::OK);
    assert!(
        feed.headers()["content-type"]
            .to_str()
            .unwrap_or("")
            .starts_with("text/event-stream")
    );
    let mut stream = String::new();
    let initial = read_events_until(&mut feed, &mut stream, |s| {
        s.contains("event: objects") && s.contains("event: cluster")
    })
    .await;
    assert!(initial, "initial events: {stream}");
    assert!(stream.contains("retry: 2000"), "{stream}");
    let cluster = events_named(&stream, "cluster");
    assert!(
        cluster[0].contains("class=\"connection connection-"),
        "{cluster:?}"
    );

    // The learner moves on to `make` (only started steps are followed), then a change made
    // behind kubelab's back arrives as a step event, with no Check pressed.
    let (status, _) = app.post_json("/api/labs/gamma/steps/make/start").await;
    assert_eq!(status, 200);
    let _ = fake.put(serde_json::json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "gamma-cm", "namespace": "web-test"},
        "data": {"a": "b"}
    }));
    let arrived = read_events_until(&mut feed, &mut stream, |s| {
        events_named(s, "step")
            .iter()
            .any(|d| d.contains("data-step=\"make\"") && d.contains("data-state=\"passed\""))
    })
    .await;
    assert!(arrived, "no live step event for `make`: {stream}");
    let step = events_named(&stream, "step")
        .into_iter()
        .find(|d| d.contains("data-step=\"make\""))
        .expect("step event");
    assert!(step.contains("All checks passed"), "{step}");
    assert!(
        step.contains("id=\"badge-make\" class=\"badge badge-passed\""),
        "{step}"
    );
    let listed = read_events_until(&mut feed, &mut stream, |s| {
        events_named(s, "objects")
            .iter()
            .any(|d| d.contains("title=\"web-test/gamma-cm\"><code>gamma-cm</code>"))
    })
    .await;
    assert!(listed, "the live table shows the new object: {stream}");
    drop(feed);
    app.stop().await;
    fake.stop().await;
}

#[tokio::test]
async fn live_feeds_end_when_the_server_shuts_down_and_unknown_labs_have_none() {
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = unmonitored_engine(&dir).await;
    let shutdown = kubelab::web::live::Shutdown::new();
    let router = kubelab::web::router(engine, &web_config(), shutdown.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = stop_rx.await;
        })
        .await
    });
    let client = reqwest::Client::new();
    let r = client
        .get(format!("http://{addr}/labs/nope/events"))
        .send()
        .await
        .expect("GET");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    let mut feed = client
        .get(format!("http://{addr}/labs/alpha/events"))
        .send()
        .await
        .expect("GET");
    let mut stream = String::new();
    assert!(read_events_until(&mut feed, &mut stream, |s| s.contains("event: objects")).await);
    let _ = stop_tx.send(());
    shutdown.trigger();
    let ended = read_events_until(&mut feed, &mut stream, |s| s.contains("event: shutdown")).await;
    assert!(ended, "{stream}");
    assert!(
        matches!(feed.chunk().await, Ok(None) | Err(_)),
        "the stream ends after saying so"
    );
    server.await.expect("server task").expect("served");
}

#[tokio::test]
async fn a_loopback_kubelab_refuses_requests_for_other_host_names() {
    let app = crate::app::spawn_app().await;
    let refused = app
        .client
        .get(format!("{}/api/labs", app.url))
        .header("host", "rebound.example:8080")
        .send()
        .await
        .expect("request");
    assert_eq!(refused.status().as_u16(), 421);
    assert!(refused.text().await.unwrap_or_default().contains("--addr"));
    let (status, _) = app.get_json("/api/labs").await;
    assert_eq!(status, 200, "requests for 127.0.0.1 are served");
}

/// An engine over the fixture labs with no cluster, and no health monitor (health stays Unknown).
async fn unmonitored_engine(dir: &tempfile::TempDir) -> kubelab::engine::Engine {
    kubelab::startup::build_engine(
        &kubelab::labs::LabSource::Dir(fixture_labs()),
        &dir.path().join("k.db").display().to_string(),
        &kubelab::cluster::ClusterOptions {
            kubeconfig: Some(dir.path().join("missing")),
            context: None,
            public_api: None,
        },
    )
    .await
    .expect("engine")
}

/// The web settings of a laptop kubelab, with a fixed cookie key.
fn web_config() -> kubelab::web::WebConfig {
    kubelab::web::WebConfig {
        cookie_key: vec![7; 64],
        loopback_only: true,
        workshop: false,
        secure_cookies: false,
        rate_limit: Default::default(),
    }
}

#[tokio::test]
async fn with_secure_cookies_every_cookie_is_secure() {
    use tower::ServiceExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let engine = unmonitored_engine(&dir).await;
    let config = kubelab::web::WebConfig {
        secure_cookies: true,
        ..web_config()
    };
    let router = kubelab::web::router(engine, &config, kubelab::web::live::Shutdown::new());
    let response = router
        .oneshot(
            axum::http::Request::get("/")
                .header("host", "localhost")
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    let cookies: Vec<String> = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    assert!(!cookies.is_empty(), "the page sets its CSRF cookie");
    assert!(
        cookies.iter().all(|c| c.ends_with("; Secure")),
        "{cookies:?}"
    );
}
