//! The web edge: axum router, pages (askama), the JSON API, static assets, language and CSRF.
//!
//! Handlers share one state, [`AppState`]; a handler that needs one part of it takes that part
//! alone (`State<Engine>`, `State<Key>`, `State<Shutdown>`, through `FromRef`). Every request
//! acts for a learner through [`learner::LearnerEngine`]. Every failure is a
//! [`error::WebError`]: JSON on the API, the HTML error page (or an htmx fragment) on pages,
//! logged once when it is the server's own (see [`error`]). The extractors whose rejection is
//! that error are in [`extract`].
//!
//! # Pages (HTML; forms need the CSRF token, see [`csrf`])
//!
//! | route | what |
//! |---|---|
//! | `GET /` | the chapters in order with progress |
//! | `GET /labs/{lab}` | a lab: intro, steps, Set up / Check / hints / Reset |
//! | `GET /labs/{lab}/steps/{step}` | redirects to the step on its lab page |
//! | `POST /labs/{lab}/steps/{step}/setup` | Set up (`replace` fields: objects in the way the learner confirmed replacing); htmx gets the result panel, a plain form is redirected (303) to the lab page, which shows it |
//! | `POST /labs/{lab}/steps/{step}/check` | Check (`answer.<check-id>` fields); same |
//! | `POST /labs/{lab}/reset` | Reset (`delete` fields: the learner's own objects to delete too); redirected to the lab page with what was deleted and kept |
//! | `GET /labs/{lab}/events` | the live feed (Server-Sent Events, see [`live`]): `step` (a step's result panel and badge after any evaluation), `objects` (the lab's objects), `cluster` (the connection: live, reconnecting, unavailable), `reset` (the lab was reset elsewhere), `shutdown` |
//! | `GET /labs/{lab}/images/{file}` | a lab image (SVG with its own strict CSP, PNG) |
//! | `GET /terminal/socket` | the browser terminal's WebSocket (see [`terminal`]; when a terminal is offered) |
//! | `GET ...?lang=zh` | remembers the language in the `lang` cookie and redirects back |
//!
//! # JSON API (stable)
//!
//! State-changing calls take no body or `Content-Type: application/json` (else 415) and are
//! refused (403) when a browser sends them from another site (`Sec-Fetch-Site: cross-site`, or an
//! `Origin` that is not this server). Errors are `{"error": "...", "reason": "<code>"}` with
//! `reason` one of `not_found` (404), `bad_request` (400), `nothing_to_set_up` (409),
//! `cluster_unavailable` (503, plus a `help` field), `cluster_error` (502), `database_error`
//! (500), `cross_site` / `csrf` (403), `unsupported_media_type` (415), `payload_too_large` (413),
//! `internal` (500); in workshop mode also `unauthorized` (401), `forbidden` (403) and
//! `workshop_closed` (409).
//!
//! An object is named by its key `{apiVersion, kind, namespace, name}` (`namespace` null for
//! cluster-scoped kinds); texts written by lab authors are `{en, zh}`; times are RFC 3339.
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/labs` | `{"labs": [{id, order, title, summary, steps, done, regressed, url}]}`: `steps` counts the lab's steps, `done` those passed (a regressed one too), `regressed` those passed once whose checks no longer hold |
//! | `GET /api/labs/{lab}` | `{id, order, title, summary, namespace, done, regressed, steps: [{id, title, state, confirm, manifests: [{file, apiVersion, kind, name, namespace?}], checks: [{id, title}], hints, progress, report}]}`: `state` is `not-started`, `in-progress`, `passed` or `regressed`; `confirm` marks a step that passes only when the learner presses Check while every check holds; `progress` is what is stored, `{started_at, evidence_at, status, passed_at, checked_at, attempts}` (times or null); `report` is the step's last check report (as `check` answers) or null |
//! | `POST /api/labs/{lab}/steps/{step}/setup` | optional body `{"replace": [key]}` → `{lab, step, applied: [{apiVersion, kind, namespace, name, action}], in_the_way?: [{apiVersion, kind, namespace, name, why, fields?, message?}], error?: {object, file, cause, message}}`; `action` is `created`, `configured`, `unchanged`, `replaced` or `yours`. 200 when every object is as the lab needs it; 409 (same body) when objects are `in_the_way` (`why`: `yours`, `immutable` or `merged`; `fields` where they differ) — send their keys back as `replace` to delete them and create the lab's; `error` (`{object, file, cause, message}`; the objects after it were not applied) with 403 when kubelab refused the object (`cause: kubelab`: it cannot go in a workshop learner's namespace), 409 when it is still being deleted (`busy`), 502 when the API server refused it (`api-server`) |
//! | `POST /api/labs/{lab}/steps/{step}/start` | `{lab, step, started_at}` (the first start counts) |
//! | `POST /api/labs/{lab}/steps/{step}/check` | optional body `{"answers": {"<check-id>": "..."}}` (question checks, ≤ 200 characters each, remembered: no body reuses them; 400 otherwise) → `{lab, step, state, status, awaiting?, attempts, recheck_in?, checks: [{id, title, reason, verdict, pending_reason?, unanswered?}], checked_at}`: `status` (`passed`, `failed`, `pending`, `error`) sums up the verdicts, `state` is the step's state after this check, `awaiting` (`learner-work`, `confirmation`) says why checks that all hold do not count yet, `recheck_in` (seconds) when kubelab checks again by itself; `verdict` is `{status: "passed"}`, `{status: "failed", diagnostics, closest?}`, `{status: "pending", diagnostics}` or `{status: "error", message}`, a diagnostic `{path, expected: {en, zh}, actual: {en, zh}, actual_full?}` with code marked by backticks |
//! | `POST /api/labs/{lab}/reset` | optional body `{"delete": [key]}` → `{lab, deleted: [key], kept: [{apiVersion, kind, namespace, name, why, lab?}]}`: `why` is `yours` (the learner made it; deleted only when its key comes back in `delete`), `used-by-lab` (a namespace the progress of the lab in `lab` still uses), `not-created-by-kubelab` or `learner-namespace` (a workshop learner's own) |
//! | `GET /healthz` | `200 ok` while the process runs |
//! | `GET /readyz` | `{labs, database: "ok", cluster: {state: "unknown"\|"reachable"\|"unreachable", version?, message?}}`; 503 when the database does not answer (never because of the cluster) |
//!
//! Static files are under `/static/...` (embedded; cache-busting `?v=<hash>`).
//!
//! # Workshop mode (`kubelab serve --workshop`)
//!
//! Every page, API and live handler above goes through [`learner::LearnerEngine`]: the learner
//! behind the `kubelab_session` cookie, confined to their namespace and to the workshop's labs
//! (others: 404). Without a session, `/` shows the join form, other pages redirect there and
//! the API answers 401 `unauthorized`. A full, ended or expired workshop is 409
//! `workshop_closed`.
//!
//! | route | what |
//! |---|---|
//! | `GET/POST /join/{code}`, `POST /join` | join (fields `name`, and `code` for `/join`); sets the session cookie and goes home; a browser with a session just goes home |
//! | `GET /kubeconfig` | the learner's kubeconfig (attachment `kubelab-<namespace>.kubeconfig`) |
//! | `GET/POST /instructor/login` | sign in with the instructor token (encrypted cookie `kubelab_instructor`); wrong token 403 |
//! | `GET /instructor`, `POST /instructor/workshops` | the workshops; create one (`name`, `lab`…, `capacity`, `hours`) |
//! | `GET /instructor/workshops/{id}` (`/grid`: the grid alone) | join code and link, learners × steps, actions |
//! | `POST /instructor/workshops/{id}/extend` \| `/end` \| `/learners/{learner}/reset` (`lab`, empty for all) | actions |
//!
//! The instructor API takes `Authorization: Bearer <token>` or the instructor cookie (else
//! 401 `unauthorized`, or 403 `forbidden` for a wrong token):
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/instructor/workshops` | `{"workshops": [{id, name, code, labs, capacity, created_at, expires_at, ended_at, running, join_url}]}` |
//! | `POST /api/instructor/workshops` | body `{name, labs, capacity, hours}` → 201 with the workshop |
//! | `GET /api/instructor/workshops/{id}/grid` | `{workshop, steps: [[lab, step]], learners: [{learner, cells: [{state, status?, stuck_minutes}]}]}` |
//! | `POST /api/instructor/workshops/{id}/extend` | optional `{"hours": 1..24}` (default 1) → the workshop |
//! | `POST /api/instructor/workshops/{id}/end` | `{id, deleted}` (namespaces deleted) |
//! | `POST /api/instructor/workshops/{id}/learners/{learner}/reset` | optional `{"lab": "..."}` (default: all) → `{workshop, learner, lab}` |

pub mod api;
pub mod assets;
pub mod cookies;
pub mod csrf;
pub mod error;
pub mod extract;
pub mod host;
pub mod instructor;
pub mod isolation;
pub mod lang;
pub mod learner;
pub mod limits;
pub mod live;
pub mod pages;
pub mod serve;
pub mod terminal;
pub mod ui_strings;
pub mod view;
pub mod workshop;

use std::time::Duration;

use axum::Router;
use axum::extract::FromRef;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use axum_extra::extract::cookie::Key;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::engine::{ApiReach, Engine};

/// Largest request body accepted (larger ones get 413).
pub const MAX_BODY: usize = 64 * 1024;
/// Longest a request may take before it is answered with 504.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The pages' Content-Security-Policy: nothing inline, nothing from elsewhere.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Settings of the web layer.
#[derive(Clone, Debug)]
pub struct WebConfig {
    /// Key material for the cookies kubelab protects: the CSRF cookie is signed with it, the
    /// instructor's cookie encrypted (the language cookie is plain). At least 64 bytes. Startup
    /// reads it from the progress database — the hex text of 64 random bytes the first start
    /// proposed — so these cookies survive restarts and hold on every replica sharing it.
    pub cookie_key: Vec<u8>,
    /// Listening on loopback: answer only requests addressed to a loopback name (DNS rebinding).
    pub loopback_only: bool,
    /// Workshop mode: learners join with a code and work in their own namespace; the instructor
    /// pages and API exist (see [`workshop`] and [`instructor`]).
    pub workshop: bool,
    /// Mark every cookie `Secure`, not only on requests forwarded from HTTPS (see
    /// [`cookies::secure_cookies`]).
    pub secure_cookies: bool,
    /// The per-address limit on joining and on the instructor's credential.
    pub rate_limit: limits::RateLimit,
}

/// The router's state: everything a handler needs, built once by [`router`].
#[derive(Clone, FromRef)]
pub struct AppState {
    /// The one path to labs, cluster, checks and store.
    pub engine: Engine,
    /// Signs the CSRF cookie and encrypts the instructor cookie (from
    /// [`WebConfig::cookie_key`]).
    pub cookie_key: Key,
    /// Ends the live streams when the server stops.
    pub shutdown: live::Shutdown,
    /// Workshop mode (see [`WebConfig::workshop`]).
    #[from_ref(skip)]
    pub workshop: bool,
    /// Whether learner kubeconfigs name an API server learners can reach (the instructor
    /// pages warn when not).
    pub api_reach: ApiReach,
}

/// The cookie key from the configured bytes; a random one (with a warning) if they are fewer
/// than 64, which only costs the learner a page reload after a restart.
fn cookie_key(bytes: &[u8]) -> Key {
    match Key::try_from(bytes) {
        Ok(key) => key,
        Err(_) => {
            tracing::warn!(
                len = bytes.len(),
                "the cookie key is shorter than 64 bytes; using a random one"
            );
            Key::generate()
        }
    }
}

/// The whole router: pages, API, health, static files, with security headers, compression,
/// tracing, the [`REQUEST_TIMEOUT`] and the [`MAX_BODY`] limit. The live streams
/// (`/labs/{lab}/events`) end when `shutdown` is triggered — trigger it when graceful shutdown
/// starts, or it waits for browsers to hang up.
pub fn router(engine: Engine, config: &WebConfig, shutdown: live::Shutdown) -> Router {
    let state = AppState {
        api_reach: engine.learner_api_reach(config.loopback_only),
        engine,
        cookie_key: cookie_key(&config.cookie_key),
        shutdown,
        workshop: config.workshop,
    };
    let routes = Router::new()
        .merge(html_routes(&state, config.rate_limit))
        .nest("/api", api_routes(state.workshop, config.rate_limit))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/static/{*path}", get(assets::serve))
        .layer(from_fn(error::log_failures))
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(CompressionLayer::new());
    with_security_headers(routes)
        .layer(from_fn_with_state(
            config.secure_cookies,
            cookies::secure_cookies,
        ))
        .layer(from_fn_with_state(config.loopback_only, host::guard))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// Everything people open in a browser; its errors are HTML pages (see
/// [`error::html_pages`]).
fn html_routes(state: &AppState, limit: limits::RateLimit) -> Router<AppState> {
    let mut pages = learner_pages();
    if state.workshop {
        pages = pages.merge(workshop_pages(limit));
    }
    pages
        .merge(terminal::routes())
        .layer(from_fn_with_state(state.clone(), csrf::protect))
        .layer(from_fn(lang::toggle))
        .route("/labs/{lab}/images/{file}", get(assets::lab_image))
        .route("/labs/{lab}/events", get(live::events))
        .fallback(pages::not_found)
        .layer(from_fn(error::html_pages))
}

/// The chapters and labs.
fn learner_pages() -> Router<AppState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/labs/{lab}", get(pages::lab))
        .route("/labs/{lab}/steps/{step}", get(pages::step))
        .route("/labs/{lab}/steps/{step}/setup", post(pages::setup))
        .route("/labs/{lab}/steps/{step}/check", post(pages::check))
        .route("/labs/{lab}/reset", post(pages::reset))
}

/// Joining a workshop, the learner's kubeconfig, the instructor's pages; joining and every
/// instructor page limited per address (each door its own budget).
fn workshop_pages(limit: limits::RateLimit) -> Router<AppState> {
    let joins = Router::new()
        .route(
            "/join/{code}",
            get(workshop::join_page).post(workshop::join_with_code),
        )
        .route("/join", post(workshop::join));
    limits::limited(joins, limit, &[Method::POST])
        .merge(limits::limited(instructor_pages(), limit, &[]))
        .route("/kubeconfig", get(workshop::kubeconfig))
}

/// The instructor's pages.
fn instructor_pages() -> Router<AppState> {
    Router::new()
        .route(
            "/instructor/login",
            get(instructor::login_page).post(instructor::login),
        )
        .route("/instructor", get(instructor::list))
        .route("/instructor/workshops", post(instructor::create))
        .route("/instructor/workshops/{id}", get(instructor::workshop))
        .route(
            "/instructor/workshops/{id}/grid",
            get(instructor::grid_fragment),
        )
        .route(
            "/instructor/workshops/{id}/extend",
            post(instructor::extend_page),
        )
        .route("/instructor/workshops/{id}/end", post(instructor::end_page))
        .route(
            "/instructor/workshops/{id}/learners/{learner}/reset",
            post(instructor::reset_page),
        )
}

/// The JSON API under `/api` (the instructor's too in workshop mode).
fn api_routes(workshop: bool, limit: limits::RateLimit) -> Router<AppState> {
    let mut api = Router::new()
        .route("/labs", get(api::labs))
        .route("/labs/{lab}", get(api::lab))
        .route("/labs/{lab}/steps/{step}/setup", post(api::setup))
        .route("/labs/{lab}/steps/{step}/check", post(api::check))
        .route("/labs/{lab}/steps/{step}/start", post(api::start))
        .route("/labs/{lab}/reset", post(api::reset));
    if workshop {
        let instructor = Router::new()
            .route(
                "/instructor/workshops",
                get(instructor::api_list).post(instructor::api_create),
            )
            .route("/instructor/workshops/{id}/grid", get(instructor::api_grid))
            .route(
                "/instructor/workshops/{id}/extend",
                post(instructor::api_extend),
            )
            .route("/instructor/workshops/{id}/end", post(instructor::api_end))
            .route(
                "/instructor/workshops/{id}/learners/{learner}/reset",
                post(instructor::api_reset),
            );
        api = api.merge(limits::limited(instructor, limit, &[]));
    }
    api.fallback(api::not_found)
        .layer(from_fn(api::same_site_only))
}

/// The headers every answer carries unless its handler set its own (the lab images do).
fn with_security_headers(routes: Router<AppState>) -> Router<AppState> {
    let headers = [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ];
    headers.into_iter().fold(routes, |routes, (name, value)| {
        routes.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ))
    })
}
