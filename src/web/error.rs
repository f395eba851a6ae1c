//! The web layer's one error type and how it reaches people and the log.
//!
//! A handler or extractor returns a [`WebError`]; its response is the API's JSON
//! `{error, reason}` and carries the error itself as an [`ErrorReport`] extension. On the pages,
//! [`html_pages`] turns that response into the HTML error page in the request's language (or
//! the problem fragment for an htmx request). [`log_failures`] logs every server-side failure
//! (5xx) once, with the request it broke — nothing else logs errors on their way out.

use std::error::Error as _;
use std::sync::Arc;

use askama::Template;
use axum::Json;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;

use super::extract::is_htmx;
use super::lang::negotiate;
use super::ui_strings::{Ui, ui, ws_like};
use super::view::{Chrome, ProblemView};
use crate::engine::EngineError;
use crate::i18n::Lang;

/// How to get a cluster, for messages that say none is reachable.
pub const START_CLUSTER_HELP: &str = "Start one with `colima start --kubernetes`, or point kubelab at another cluster with `kubelab serve --context NAME` (or `--kubeconfig FILE`).";

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// The engine refused or failed: an unknown lab, step, workshop or learner, nothing to set
    /// up, no cluster, the API server, the progress database, a closed workshop.
    #[error("{}", engine_message(.0))]
    Engine(#[from] EngineError),
    /// No route matches.
    #[error("there is nothing at {0}")]
    NotFound(String),
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// A page form without a valid CSRF token.
    #[error("refused: {0}")]
    Csrf(String),
    /// A browser request to the API from another site.
    #[error("refused: {0}")]
    CrossSite(String),
    /// The API got a body that is not JSON.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The request body is larger than kubelab accepts.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// No credential for something that needs one (no workshop session, no instructor token).
    #[error("{0}")]
    Unauthorized(String),
    /// A credential that is not good enough (wrong instructor token).
    #[error("refused: {0}")]
    Forbidden(String),
    /// Too many attempts from one address at a door that takes a secret (join code, instructor
    /// credential).
    #[error("too many attempts from your address: try again in {retry_after_secs} s")]
    TooManyRequests {
        /// Seconds until the next attempt is allowed (`Retry-After`).
        retry_after_secs: u64,
    },
    /// A page failed to render: a bug in kubelab.
    #[error("internal error: a page failed to render")]
    Template(#[from] askama::Error),
    /// Another bug in kubelab.
    #[error("internal error: {0}")]
    Internal(String),
}

/// What people see of an engine error; the database's own words stay in the server log.
fn engine_message(e: &EngineError) -> String {
    match e {
        EngineError::ClusterUnavailable(message) => {
            format!("no Kubernetes cluster is reachable: {message}")
        }
        EngineError::Cluster(e) => format!("the Kubernetes API server answered: {e}"),
        EngineError::Store(_) => {
            "kubelab could not read or save progress; see the server log for details".to_owned()
        }
        other => other.to_string(),
    }
}

impl WebError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.classify().0
    }

    /// A stable machine-readable code (`reason` in JSON).
    pub fn reason(&self) -> &'static str {
        self.classify().1
    }

    fn classify(&self) -> (StatusCode, &'static str) {
        match self {
            WebError::Engine(e) => match e {
                EngineError::UnknownLab(_)
                | EngineError::UnknownStep { .. }
                | EngineError::UnknownWorkshop(_)
                | EngineError::UnknownLearner(_) => (StatusCode::NOT_FOUND, "not_found"),
                EngineError::NothingToSetUp { .. } => (StatusCode::CONFLICT, "nothing_to_set_up"),
                EngineError::ClusterUnavailable(_) => {
                    (StatusCode::SERVICE_UNAVAILABLE, "cluster_unavailable")
                }
                EngineError::Cluster(_) => (StatusCode::BAD_GATEWAY, "cluster_error"),
                EngineError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "database_error"),
                EngineError::WorkshopClosed(_) => (StatusCode::CONFLICT, "workshop_closed"),
                EngineError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            },
            WebError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            WebError::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad_request"),
            WebError::Csrf(_) => (StatusCode::FORBIDDEN, "csrf"),
            WebError::CrossSite(_) => (StatusCode::FORBIDDEN, "cross_site"),
            WebError::UnsupportedMediaType(_) => {
                (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
            }
            WebError::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            WebError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            WebError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            WebError::TooManyRequests { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, "too_many_requests")
            }
            WebError::Template(_) | WebError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
        }
    }

    /// The learner-facing view of this error in `t`'s language.
    pub fn problem(&self, t: &'static Ui) -> ProblemView {
        let (title, detail) = match self {
            _ if self.status() == StatusCode::NOT_FOUND => (t.not_found_title, self.to_string()),
            WebError::Engine(EngineError::ClusterUnavailable(message)) => {
                (t.no_cluster, message.clone())
            }
            WebError::Engine(EngineError::Store(_)) => (t.error_title, t.store_failed.to_owned()),
            WebError::Engine(EngineError::NothingToSetUp { .. }) => {
                (t.nothing_to_set_up, String::new())
            }
            WebError::Engine(EngineError::WorkshopClosed(message)) => {
                (ws_like(t).closed_title, message.clone())
            }
            WebError::Csrf(why) => (t.csrf_failed, why.clone()),
            _ => (t.error_title, self.to_string()),
        };
        ProblemView {
            title: title.to_owned(),
            detail,
            cluster_help: matches!(self, WebError::Engine(EngineError::ClusterUnavailable(_))),
        }
    }

    /// Attaches this error to a response that already shows it in its own way (a step's
    /// result panel, a redirect to a page that shows it), so that it is logged like any other.
    pub fn shown_in(self, response: impl IntoResponse) -> Response {
        let mut response = response.into_response();
        response.extensions_mut().insert(ErrorReport {
            error: Arc::new(self),
            shown: true,
        });
        response
    }
}

/// The error a response stands for, kept in the response's extensions for the middleware.
#[derive(Debug, Clone)]
pub struct ErrorReport {
    pub error: Arc<WebError>,
    /// The response already shows it to people; only the log still needs it.
    pub shown: bool,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: String,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<&'a str>,
}

/// The API's rendering, `{"error": "...", "reason": "not_found"}` with the right status, which
/// [`html_pages`] replaces on the pages.
impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let help = matches!(self, WebError::Engine(EngineError::ClusterUnavailable(_)))
            .then_some(START_CLUSTER_HELP);
        let body = ErrorBody {
            error: self.to_string(),
            reason: self.reason(),
            help,
        };
        let mut response = (self.status(), Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if let WebError::TooManyRequests { retry_after_secs } = &self {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(*retry_after_secs));
        }
        response.extensions_mut().insert(ErrorReport {
            error: Arc::new(self),
            shown: false,
        });
        response
    }
}

/// Middleware for every route: logs the server's own failures (5xx) with the request they
/// broke — at `error` for kubelab's (500), at `warn` for the cluster's (502, 503).
pub async fn log_failures(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    if let Some(report) = response.extensions().get::<ErrorReport>() {
        let error = &report.error;
        let status = error.status();
        let cause = causes(error);
        let cause = cause.as_deref();
        if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::error!(%method, %path, status = status.as_u16(), %error, cause, "request failed");
        } else if status.is_server_error() {
            tracing::warn!(%method, %path, status = status.as_u16(), %error, cause, "request failed");
        }
    }
    response
}

/// The chain of underlying errors, outermost first, when there is one.
fn causes(error: &WebError) -> Option<String> {
    let mut out = Vec::new();
    let mut source = error.source();
    while let Some(e) = source {
        out.push(e.to_string());
        source = e.source();
    }
    (!out.is_empty()).then(|| out.join(": "))
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    c: Chrome,
    t: &'static Ui,
    status: u16,
    problem: ProblemView,
}

#[derive(Template)]
#[template(path = "problem_fragment.html")]
struct ProblemFragment {
    t: &'static Ui,
    problem: ProblemView,
}

/// Middleware for the pages: a response that stands for an error nobody has shown yet becomes
/// the HTML error page in the request's language, or, for htmx, the problem fragment that goes
/// into the step's result panel. Status, cookies and the report stay.
pub async fn html_pages(request: Request, next: Next) -> Response {
    let lang = negotiate(request.headers());
    let fragment = is_htmx(request.headers());
    let response = next.run(request).await;
    let Some(report) = response
        .extensions()
        .get::<ErrorReport>()
        .filter(|r| !r.shown)
        .cloned()
    else {
        return response;
    };
    let (mut parts, _json) = response.into_parts();
    let shown = match render_problem(&report.error, lang, fragment) {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "the error page failed to render");
            report.error.to_string().into_response()
        }
    };
    let (shown, body) = shown.into_parts();
    for name in [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CACHE_CONTROL,
    ] {
        parts.headers.remove(&name);
    }
    parts.headers.extend(shown.headers);
    parts.extensions.insert(ErrorReport {
        shown: true,
        ..report
    });
    Response::from_parts(parts, body)
}

fn render_problem(error: &WebError, lang: Lang, fragment: bool) -> askama::Result<String> {
    let t = ui(lang);
    let problem = error.problem(t);
    if fragment {
        ProblemFragment { t, problem }.render()
    } else {
        ErrorPage {
            c: Chrome::bare(lang),
            t,
            status: error.status().as_u16(),
            problem,
        }
        .render()
    }
}
