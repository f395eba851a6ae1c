//! The workshop's edges as people meet them: names that cannot hide or reorder text, joins
//! that race the end told "has ended", unknown workshops named as such, and cookies marked
//! `Secure` when kubelab is reached over HTTPS.

use futures::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use super::{
    Site, browser, create_workshop, csrf, get_json, instructor_get, instructor_post, join,
};

/// `application/x-www-form-urlencoded` of any text.
fn form_encode(fields: &[(&str, &str)]) -> String {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                    (b as char).to_string()
                }
                b' ' => "+".into(),
                b => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    fields
        .iter()
        .map(|(k, v)| format!("{}={}", enc(k), enc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

#[tokio::test]
async fn display_names_lose_control_bidi_and_invisible_characters() {
    let site = Site::start().await;
    let workshop = create_workshop(&site, 10).await;
    let code = workshop["code"].as_str().expect("code");
    let id = workshop["id"].as_str().expect("id");
    let url = site.at(&format!("/join/{code}"));

    let alice = browser();
    let token = csrf(&alice, &url).await;
    let r = alice
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_encode(&[
            ("name", "  Al\u{0}ice\u{202E}gpj.exe\u{200B}  \t"),
            ("csrf_token", &token),
        ]))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "joined");

    let mallory = browser();
    let token = csrf(&mallory, &url).await;
    let r = mallory
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_encode(&[
            ("name", "\u{200B}\u{2066}\u{0}"),
            ("csrf_token", &token),
        ]))
        .send()
        .await
        .expect("POST");
    assert_eq!(
        r.status(),
        StatusCode::BAD_REQUEST,
        "a name of nothing visible"
    );
    let page = r.text().await.expect("page");
    assert!(page.contains("give a name of 1 to 40 characters"), "{page}");

    let (status, grid) =
        instructor_get(&site, &format!("/api/instructor/workshops/{id}/grid")).await;
    assert_eq!(status, StatusCode::OK, "{grid}");
    let names: Vec<&str> = grid["learners"]
        .as_array()
        .expect("learners")
        .iter()
        .filter_map(|l| l["learner"]["display_name"].as_str())
        .collect();
    assert_eq!(names, ["Alicegpj.exe"]);
    site.stop().await;
}

#[tokio::test]
async fn joins_racing_the_end_are_told_it_ended() {
    let site = Site::start().await;
    let workshop = create_workshop(&site, 100).await;
    let code = workshop["code"].as_str().expect("code").to_owned();
    let id = workshop["id"].as_str().expect("id").to_owned();
    site.fake
        .set_namespace_deletion_delay(std::time::Duration::from_millis(300));
    // Learners open the join page before the end, and post their names around it.
    let mut learners = Vec::new();
    for i in 0..24 {
        let client = browser();
        let url = site.at(&format!("/join/{code}"));
        let token = csrf(&client, &url).await;
        learners.push((client, url, token, format!("learner {i}")));
    }
    let joins = learners
        .iter()
        .enumerate()
        .map(|(i, (client, url, token, name))| async move {
            tokio::time::sleep(std::time::Duration::from_millis(15 * i as u64)).await;
            client
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form_encode(&[("name", name), ("csrf_token", token)]))
                .send()
                .await
                .expect("POST")
        });
    let end = async {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        instructor_post(
            &site,
            &format!("/api/instructor/workshops/{id}/end"),
            json!({}),
        )
        .await
    };
    let (answers, (end_status, ended)) = tokio::join!(join_all(joins), end);
    assert_eq!(end_status, StatusCode::OK, "{ended}");
    let (mut joined, mut told) = (0, 0);
    for r in answers {
        let status = r.status();
        match status {
            StatusCode::SEE_OTHER => joined += 1,
            StatusCode::CONFLICT => {
                let page = r.text().await.expect("page");
                assert!(page.contains("has ended"), "{page}");
                told += 1;
            }
            other => panic!(
                "a join racing the end answered {other}: {}",
                r.text().await.unwrap_or_default()
            ),
        }
    }
    // After the end, a join is refused on the form (not an error page), the name kept.
    let late = browser();
    let r = join(&site, &late, &code, "Latecomer").await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let page = r.text().await.expect("page");
    assert!(
        page.contains("has ended") && page.contains("value=\"Latecomer\""),
        "{page}"
    );
    println!("of 24 joins racing the end, {joined} joined and {told} were told it ended");
    site.stop().await;
}

#[tokio::test]
async fn an_unknown_workshop_is_named_as_such() {
    let site = Site::start().await;
    let (status, body) = instructor_get(&site, "/api/instructor/workshops/nope/grid").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "there is no workshop \"nope\"", "{body}");
    let page = reqwest::Client::new()
        .get(site.at("/instructor/workshops/nope"))
        .bearer_auth(super::TOKEN)
        .send()
        .await
        .expect("GET");
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    let text = page.text().await.expect("page");
    assert!(
        text.contains("there is no workshop") && !text.contains("nothing at there"),
        "{text}"
    );
    let (status, _) = get_json(&browser(), &site.at("/join/NOPE")).await;
    assert_eq!(status, StatusCode::OK, "the join form, code kept");
    site.stop().await;
}

#[tokio::test]
async fn cookies_are_secure_behind_https_and_plain_otherwise() {
    let site = Site::start().await;
    let set_cookies = |r: &reqwest::Response| -> Vec<String> {
        r.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_owned))
            .collect()
    };
    let plain = reqwest::Client::new()
        .get(site.at("/instructor/login"))
        .send()
        .await
        .expect("GET");
    let cookies = set_cookies(&plain);
    assert!(!cookies.is_empty(), "the sign-in page sets the CSRF cookie");
    assert!(cookies.iter().all(|c| !c.contains("Secure")), "{cookies:?}");

    let proxied = reqwest::Client::new()
        .get(site.at("/instructor/login"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .expect("GET");
    let cookies = set_cookies(&proxied);
    assert!(!cookies.is_empty());
    assert!(
        cookies
            .iter()
            .all(|c| c.ends_with("; Secure") && c.contains("HttpOnly")),
        "{cookies:?}"
    );
    site.stop().await;
}

#[tokio::test]
async fn an_open_live_stream_ends_with_a_notice_when_the_workshop_ends() {
    let site = Site::start().await;
    let workshop = create_workshop(&site, 10).await;
    let code = workshop["code"].as_str().expect("code");
    let id = workshop["id"].as_str().expect("id");
    let alice = browser();
    assert_eq!(
        join(&site, &alice, code, "Alice").await.status(),
        StatusCode::SEE_OTHER
    );
    let mut feed = alice
        .get(site.at(&format!("/labs/{}/events", super::LAB)))
        .send()
        .await
        .expect("GET events");
    assert_eq!(feed.status(), StatusCode::OK);
    let mut seen = String::new();
    let read_until = |want: &'static str| {
        let want = want.to_owned();
        move |seen: &str| seen.contains(&want)
    };
    assert!(
        crate::web::read_events_until(&mut feed, &mut seen, read_until("event: cluster")).await,
        "{seen}"
    );

    let (status, ended) = instructor_post(
        &site,
        &format!("/api/instructor/workshops/{id}/end"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{ended}");
    let started = std::time::Instant::now();
    assert!(
        crate::web::read_events_until(&mut feed, &mut seen, read_until("event: ended")).await,
        "the stream says the workshop ended: {seen}"
    );
    assert!(seen.contains("This workshop has ended"), "{seen}");
    // And then it ends, rather than following the lab for a learner who is gone.
    let closed = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while let Ok(Some(_)) = feed.chunk().await {}
    })
    .await;
    assert!(closed.is_ok(), "the stream closes after the notice");
    println!("ended notice after {:?}", started.elapsed());
    let again = alice
        .get(site.at(&format!("/labs/{}/events", super::LAB)))
        .send()
        .await
        .expect("GET events");
    assert_ne!(
        again.status(),
        StatusCode::OK,
        "no new stream for an ended workshop"
    );
    // Coming back, she is told her workshop ended, above the join form.
    let home = alice.get(site.at("/")).send().await.expect("GET /");
    assert_eq!(home.status(), StatusCode::OK);
    let page = home.text().await.expect("page");
    assert!(
        page.contains("id=\"join-notice\"")
            && page.contains("The workshop “Friday class” has ended"),
        "{page}"
    );
    let stranger = browser().get(site.at("/")).send().await.expect("GET /");
    let page = stranger.text().await.expect("page");
    assert!(
        !page.contains("join-notice"),
        "no notice for a browser that never joined"
    );
    site.stop().await;
}

#[tokio::test]
async fn guessing_join_codes_or_the_instructor_token_is_slowed_per_address() {
    let site = Site::start().await;
    let workshop = create_workshop(&site, 10).await;
    let code = workshop["code"].as_str().expect("code");
    // A guesser behind the same proxy as everyone (kubelab sees the proxy on loopback), sending
    // wrong codes in parallel from one address.
    let guesser = browser();
    let url = site.at("/join");
    let token = csrf(&guesser, &site.at("/")).await;
    let guesses = (0..90).map(|i| {
        let (guesser, url, token) = (&guesser, &url, &token);
        async move {
            guesser
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-forwarded-for", "198.51.100.66")
                .body(form_encode(&[
                    ("code", &format!("ZZZ{i:03}")),
                    ("name", "guess"),
                    ("csrf_token", token),
                ]))
                .send()
                .await
                .expect("POST")
        }
    });
    let answers = join_all(guesses).await;
    let limited: Vec<_> = answers
        .iter()
        .filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert!(
        limited.len() >= 25,
        "{} of 90 parallel guesses were slowed down",
        limited.len()
    );
    assert!(
        limited
            .iter()
            .all(|r| r.headers().contains_key("retry-after"))
    );
    let unknown = answers
        .iter()
        .filter(|r| r.status() == StatusCode::NOT_FOUND)
        .count();
    assert_eq!(
        unknown + limited.len(),
        90,
        "the others were told the code is unknown"
    );

    // Another learner in the same room (another address behind the proxy) still joins.
    let learner = browser();
    let url = site.at(&format!("/join/{code}"));
    let token = csrf(&learner, &url).await;
    let r = learner
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-forwarded-for", "198.51.100.7")
        .body(form_encode(&[("name", "Grace"), ("csrf_token", &token)]))
        .send()
        .await
        .expect("POST");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);

    // Wrong instructor tokens in parallel: each waits, and past the burst they are refused
    // at once with 429.
    let tries = (0..80).map(|_| async {
        reqwest::Client::new()
            .get(site.at("/api/instructor/workshops"))
            .bearer_auth("not-the-instructor-token-0000000000")
            .send()
            .await
            .expect("GET")
            .status()
    });
    let statuses = join_all(tries).await;
    let slowed = statuses
        .iter()
        .filter(|s| **s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert!(
        slowed >= 15,
        "{slowed} of 80 wrong tokens slowed: {statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::TOO_MANY_REQUESTS || *s == StatusCode::FORBIDDEN)
    );
    site.stop().await;
}

#[tokio::test]
async fn the_sign_in_form_shows_no_error_before_an_attempt() {
    let site = Site::start().await;
    let first = browser()
        .get(site.at("/instructor"))
        .send()
        .await
        .expect("GET");
    assert_eq!(first.status(), StatusCode::UNAUTHORIZED);
    let page = first.text().await.expect("page");
    assert!(page.contains("name=\"token\""), "the sign-in form: {page}");
    assert!(
        !page.contains("role=\"alert\""),
        "no error before an attempt: {page}"
    );

    let wrong = reqwest::Client::new()
        .get(site.at("/instructor"))
        .bearer_auth("not-the-instructor-token-0000000000")
        .send()
        .await
        .expect("GET");
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let page = wrong.text().await.expect("page");
    assert!(
        page.contains("role=\"alert\""),
        "a wrong token is said: {page}"
    );
    site.stop().await;
}

#[tokio::test]
async fn a_refused_create_form_keeps_what_the_instructor_typed() {
    let site = Site::start().await;
    let instructor = browser();
    let page = instructor
        .get(site.at("/instructor"))
        .bearer_auth(super::TOKEN)
        .send()
        .await
        .expect("GET")
        .text()
        .await
        .expect("page");
    let marker = "name=\"csrf_token\" value=\"";
    let start = page.find(marker).expect("a form") + marker.len();
    let token = page[start..].split('"').next().expect("token").to_owned();
    let post = |fields: Vec<(&'static str, &'static str)>| {
        let (instructor, token, url) = (&instructor, &token, site.at("/instructor/workshops"));
        async move {
            let mut all = fields;
            all.push(("csrf_token", token.as_str()));
            instructor
                .post(url)
                .bearer_auth(super::TOKEN)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form_encode(&all))
                .send()
                .await
                .expect("POST")
        }
    };
    // No lab ticked: refused, the name, capacity and hours kept.
    let r = post(vec![
        ("name", "Friday class"),
        ("capacity", "12"),
        ("hours", "5"),
    ])
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = r.text().await.expect("page");
    assert!(
        page.contains("role=\"alert\"")
            && page.contains("value=\"Friday class\"")
            && page.contains("value=\"12\"")
            && page.contains("value=\"5\""),
        "{page}"
    );
    // A lab ticked but no name: the tick is kept.
    let r = post(vec![
        ("name", " "),
        ("lab", super::LAB),
        ("capacity", "30"),
        ("hours", "3"),
    ])
    .await;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    let page = r.text().await.expect("page");
    assert!(
        page.contains(&format!("value=\"{}\" checked", super::LAB)),
        "{page}"
    );
    site.stop().await;
}
