//! The web edge: axum router, pages (askama), the JSON API, static assets, language and CSRF.
//!
//! # Pages (HTML; forms need the CSRF token, see [`csrf`])
//!
//! | route | what |
//! |---|---|
//! | `GET /` | the chapters in order with progress |
//! | `GET /labs/{lab}` | a lab: intro, steps, Set up / Check / hints / Reset |
//! | `GET /labs/{lab}/steps/{step}` | redirects to the step on its lab page |
//! | `POST /labs/{lab}/steps/{step}/setup` | Set up; htmx gets the result panel, plain forms the whole page |
//! | `POST /labs/{lab}/steps/{step}/check` | Check; same |
//! | `POST /labs/{lab}/reset` | Reset; the lab page with what was deleted |
//! | `GET /labs/{lab}/events` | the live feed (Server-Sent Events, see [`live`]) |
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
//! `internal` (500).
//!
//! | route | answer |
//! |---|---|
//! | `GET /api/labs` | `{"labs": [{id, order, title: {en, zh}, summary, steps, done, url}]}` |
//! | `GET /api/labs/{lab}` | `{id, order, title, summary, namespace, done, steps: [{id, title, state, manifests: [{file, apiVersion, kind, name, namespace?}], checks: [{id, title}], hints, progress}]}`; `state` is `done`, `failed`, `pending`, `error` or `not-checked` |
//! | `POST /api/labs/{lab}/steps/{step}/setup` | `{lab, step, applied: [{apiVersion, kind, namespace, name, action}], error?: {object, file, message}}`; 502 with the same body when the API server refused an object |
//! | `POST /api/labs/{lab}/steps/{step}/start` | `{lab, step, started_at}` (the first start counts) |
//! | `POST /api/labs/{lab}/steps/{step}/check` | optional body `{"answers": {"<check-id>": "..."}}` (question checks, ≤ 200 characters each; 400 otherwise) → `{lab, step, status, done, checked_at, checks: [{id, title, reason, verdict: {status, diagnostics: [{path, expected, actual}], closest?, message?}, pending_reason?}]}` |
//! | `POST /api/labs/{lab}/reset` | `{lab, deleted: [{apiVersion, kind, namespace, name}], kept: [{..., why}]}` |
//! | `GET /healthz` | `200 ok` while the process runs |
//! | `GET /readyz` | `{labs, database: "ok", cluster: {state: "unknown"\|"reachable"\|"unreachable", version?, message?}}`; 503 when the database does not answer (never because of the cluster) |
//!
//! Static files are under `/static/...` (embedded; cache-busting `?v=<hash>`).
//!
//! # Workshop mode (`kubelab serve --workshop`)
//!
//! Every page, API and live handler above goes through [`workshop::LearnerEngine`]: the learner
//! behind the `kubelab_session` cookie, confined to their namespace and to the workshop's labs
//! (others: 404). Without a session, `/` shows the join form, other pages redirect there and
//! the API answers 401 `unauthorized`. A full, ended or expired workshop is 409
//! `workshop_closed`.
//!
//! | route | what |
//! |---|---|
//! | `GET/POST /join/{code}`, `POST /join` | join (fields `name`, and `code` for `/join`); sets the session cookie and goes home; a browser with a session just goes home |
//! | `GET /kubeconfig` | the learner's kubeconfig (attachment `kubelab-<namespace>.kubeconfig`) |
//! | `GET/POST /instructor/login` | sign in with the instructor token (signed cookie `kubelab_instructor`); wrong token 403 |
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
//! | `GET /api/instructor/workshops/{id}/grid` | `{workshop, steps: [[lab, step]], learners: [{learner, cells: [{state, stuck_minutes}]}]}` |
//! | `POST /api/instructor/workshops/{id}/extend` | optional `{"hours": 1..24}` (default 1) → the workshop |
//! | `POST /api/instructor/workshops/{id}/end` | `{id, deleted}` (namespaces deleted) |
//! | `POST /api/instructor/workshops/{id}/learners/{learner}/reset` | optional `{"lab": "..."}` (default: all) → `{workshop, learner, lab}` |

pub mod api;
pub mod assets;
pub mod csrf;
pub mod error;
pub mod host;
pub mod i18n;
pub mod instructor;
pub mod lang;
pub mod live;
pub mod pages;
pub mod terminal;
pub mod view;
pub mod workshop;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::{get, post};
use axum_extra::extract::cookie::Key;
use tower_http::compression::CompressionLayer;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::engine::Engine;

/// Largest request body accepted (larger ones get 413).
pub const MAX_BODY: usize = 64 * 1024;
/// Longest a request may take before it is answered with 504.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// The pages' Content-Security-Policy: nothing inline, nothing from elsewhere.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Settings of the web layer.
#[derive(Clone, Debug)]
pub struct WebConfig {
    /// Key for signing cookies (language choice, CSRF token); 64 random bytes per start is fine.
    pub cookie_key: Vec<u8>,
    /// Listening on loopback: answer only requests addressed to a loopback name (DNS rebinding).
    pub loopback_only: bool,
    /// Workshop mode: learners join with a code and work in their own namespace; the instructor
    /// pages and API exist (see [`workshop`] and [`instructor`]).
    pub workshop: bool,
}

/// Everything a handler needs.
#[derive(Clone)]
pub struct AppState {
    /// The one path to labs, cluster, checks and store.
    pub engine: Engine,
    /// Web settings.
    pub config: Arc<WebConfig>,
}

/// The router's own state: the engine and the cookie key, derived once.
#[derive(Clone)]
pub struct WebState {
    /// The engine.
    pub engine: Engine,
    /// Signs the CSRF cookie.
    pub key: Key,
    /// Ends the live streams when the server stops.
    pub shutdown: live::Shutdown,
    /// Workshop mode (see [`WebConfig::workshop`]).
    pub workshop: bool,
}

/// The signing key from the configured bytes; a random one (with a warning) if they are too
/// short, which only costs the learner a page reload after a restart.
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
/// tracing, a 30 s timeout and a 64 KiB body limit. Live streams end on Ctrl-C / SIGTERM; use
/// [`router_with_shutdown`] to end them on another signal as well.
pub fn router(state: AppState) -> Router {
    router_with_shutdown(state, live::Shutdown::new())
}

/// [`router`], whose live streams (`/labs/{lab}/events`) also end when `shutdown` is
/// triggered — trigger it when graceful shutdown starts, or it waits for browsers to hang up.
pub fn router_with_shutdown(state: AppState, shutdown: live::Shutdown) -> Router {
    let loopback_only = state.config.loopback_only;
    let web = WebState {
        engine: state.engine,
        key: cookie_key(&state.config.cookie_key),
        shutdown,
        workshop: state.config.workshop,
    };
    let mut pages = Router::new()
        .route("/", get(pages::home))
        .route("/labs/{lab}", get(pages::lab))
        .route("/labs/{lab}/steps/{step}", get(pages::step))
        .route("/labs/{lab}/steps/{step}/setup", post(pages::setup))
        .route("/labs/{lab}/steps/{step}/check", post(pages::check))
        .route("/labs/{lab}/reset", post(pages::reset));
    if web.workshop {
        pages = pages
            .route(
                "/join/{code}",
                get(workshop::join_page).post(workshop::join_with_code),
            )
            .route("/join", post(workshop::join))
            .route("/kubeconfig", get(workshop::kubeconfig))
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
            );
    }
    let pages = pages
        .merge(terminal::routes())
        .layer(from_fn_with_state(web.key.clone(), csrf::protect))
        .layer(from_fn(lang::toggle));
    let mut api = Router::new()
        .route("/labs", get(api::labs))
        .route("/labs/{lab}", get(api::lab))
        .route("/labs/{lab}/steps/{step}/setup", post(api::setup))
        .route("/labs/{lab}/steps/{step}/check", post(api::check))
        .route("/labs/{lab}/steps/{step}/start", post(api::start))
        .route("/labs/{lab}/reset", post(api::reset));
    if web.workshop {
        api = api
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
    }
    let api = api
        .fallback(api::not_found)
        .layer(from_fn(api::same_site_only));
    Router::new()
        .merge(pages)
        .nest("/api", api)
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/static/{*path}", get(assets::serve))
        .route("/labs/{lab}/images/{file}", get(assets::lab_image))
        .route("/labs/{lab}/events", get(live::events))
        .fallback(pages::not_found)
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(CompressionLayer::new())
        .layer(SetResponseHeaderLayer::if_not_present(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ))
        .layer(from_fn_with_state(loopback_only, host::guard))
        .layer(TraceLayer::new_for_http())
        .with_state(web)
}
