//! The web layer's one error type, and how it is shown: JSON `{error, reason}` for the API, an
//! HTML page (or an htmx fragment) for the pages.

use askama::Template;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use serde::Serialize;

use super::i18n::{Ui, ui, ws_like};
use super::view::{Chrome, ProblemView};
use crate::engine::EngineError;
use crate::i18n::Lang;

/// How to get a cluster, for messages that say none is reachable.
pub const START_CLUSTER_HELP: &str = "Start one with `colima start --kubernetes`, or point kubelab at another cluster with `kubelab serve --context NAME` (or `--kubeconfig FILE`).";

/// Why a request failed.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No lab with this id.
    #[error("there is no lab called {0:?}")]
    UnknownLab(String),
    /// No step with this id in the lab.
    #[error("lab {lab:?} has no step called {step:?}")]
    UnknownStep {
        /// Lab id.
        lab: String,
        /// Step id.
        step: String,
    },
    /// No route matches.
    #[error("there is nothing at {0}")]
    NotFound(String),
    /// The request is malformed.
    #[error("{0}")]
    BadRequest(String),
    /// Set up on a step without manifests.
    #[error("step {step:?} of lab {lab:?} has nothing to set up")]
    NothingToSetUp {
        /// Lab id.
        lab: String,
        /// Step id.
        step: String,
    },
    /// No cluster is reachable.
    #[error("no Kubernetes cluster is reachable: {0}")]
    ClusterUnavailable(String),
    /// The API server refused or failed a call that stops the whole operation.
    #[error("the Kubernetes API server answered: {0}")]
    Cluster(String),
    /// The progress database failed (details are logged, not shown).
    #[error("kubelab could not read or save progress; see the server log for details")]
    Store,
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
    /// The workshop is full, has ended or has expired.
    #[error("{0}")]
    WorkshopClosed(String),
    /// A bug in kubelab (a template that fails to render...), logged.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<EngineError> for WebError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::UnknownLab(lab) => WebError::UnknownLab(lab),
            EngineError::UnknownStep { lab, step } => WebError::UnknownStep { lab, step },
            EngineError::NothingToSetUp { lab, step } => WebError::NothingToSetUp { lab, step },
            EngineError::ClusterUnavailable(message) => WebError::ClusterUnavailable(message),
            EngineError::Cluster(e) => {
                tracing::warn!(error = %e, "cluster call failed");
                WebError::Cluster(e.to_string())
            }
            EngineError::Store(e) => {
                tracing::error!(error = %e, "progress database failed while serving a request");
                WebError::Store
            }
            EngineError::UnknownWorkshop(_) | EngineError::UnknownLearner(_) => {
                WebError::NotFound(e.to_string())
            }
            EngineError::WorkshopClosed(message) => WebError::WorkshopClosed(message),
            EngineError::BadRequest(message) => WebError::BadRequest(message),
        }
    }
}

impl From<askama::Error> for WebError {
    fn from(e: askama::Error) -> Self {
        tracing::error!(error = %e, "a template failed to render");
        WebError::Internal("a page failed to render".into())
    }
}

impl WebError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            WebError::UnknownLab(_) | WebError::UnknownStep { .. } | WebError::NotFound(_) => {
                StatusCode::NOT_FOUND
            }
            WebError::BadRequest(_) => StatusCode::BAD_REQUEST,
            WebError::NothingToSetUp { .. } | WebError::WorkshopClosed(_) => StatusCode::CONFLICT,
            WebError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            WebError::Forbidden(_) => StatusCode::FORBIDDEN,
            WebError::ClusterUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            WebError::Cluster(_) => StatusCode::BAD_GATEWAY,
            WebError::Store | WebError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            WebError::Csrf(_) | WebError::CrossSite(_) => StatusCode::FORBIDDEN,
            WebError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            WebError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        }
    }

    /// A stable machine-readable code (`reason` in JSON).
    pub fn reason(&self) -> &'static str {
        match self {
            WebError::UnknownLab(_) | WebError::UnknownStep { .. } | WebError::NotFound(_) => {
                "not_found"
            }
            WebError::BadRequest(_) => "bad_request",
            WebError::NothingToSetUp { .. } => "nothing_to_set_up",
            WebError::ClusterUnavailable(_) => "cluster_unavailable",
            WebError::Cluster(_) => "cluster_error",
            WebError::Store => "database_error",
            WebError::Csrf(_) => "csrf",
            WebError::CrossSite(_) => "cross_site",
            WebError::UnsupportedMediaType(_) => "unsupported_media_type",
            WebError::PayloadTooLarge => "payload_too_large",
            WebError::Internal(_) => "internal",
            WebError::Unauthorized(_) => "unauthorized",
            WebError::Forbidden(_) => "forbidden",
            WebError::WorkshopClosed(_) => "workshop_closed",
        }
    }

    /// The learner-facing view of this error in `lang`.
    pub fn problem(&self, t: &'static Ui) -> ProblemView {
        let (title, detail) = match self {
            WebError::UnknownLab(_) | WebError::UnknownStep { .. } | WebError::NotFound(_) => {
                (t.not_found_title, self.to_string())
            }
            WebError::ClusterUnavailable(message) => (t.no_cluster, message.clone()),
            WebError::Csrf(why) => (t.csrf_failed, why.clone()),
            WebError::Store => (t.error_title, t.store_failed.to_owned()),
            WebError::NothingToSetUp { .. } => (t.nothing_to_set_up, String::new()),
            WebError::WorkshopClosed(message) => (ws_like(t).closed_title, message.clone()),
            _ => (t.error_title, self.to_string()),
        };
        ProblemView {
            title: title.to_owned(),
            detail,
            cluster_help: matches!(self, WebError::ClusterUnavailable(_)),
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: String,
    reason: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    help: Option<&'a str>,
}

/// The API's rendering: `{ "error": "...", "reason": "not_found" }` with the right status.
impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let help = matches!(self, WebError::ClusterUnavailable(_)).then_some(START_CLUSTER_HELP);
        let body = ErrorBody {
            error: self.to_string(),
            reason: self.reason(),
            help,
        };
        let mut response = (self.status(), Json(body)).into_response();
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

/// An error on a page: a full HTML page, or just the message for an htmx request.
#[derive(Debug)]
pub struct PageError {
    /// What went wrong.
    pub error: WebError,
    /// The page's language.
    pub lang: Lang,
    /// True for htmx requests, which get a fragment for the step's result panel.
    pub fragment: bool,
}

impl PageError {
    /// Wraps an error for a page in `lang`.
    pub fn new(error: impl Into<WebError>, lang: Lang, fragment: bool) -> PageError {
        PageError {
            error: error.into(),
            lang,
            fragment,
        }
    }
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

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let t = ui(self.lang);
        let status = self.error.status();
        let problem = self.error.problem(t);
        let rendered = if self.fragment {
            ProblemFragment { t, problem }.render()
        } else {
            ErrorPage {
                c: Chrome::bare(self.lang),
                t,
                status: status.as_u16(),
                problem,
            }
            .render()
        };
        match rendered {
            Ok(html) => (status, Html(html)).into_response(),
            Err(e) => {
                tracing::error!(error = %e, "the error page failed to render");
                (status, self.error.to_string()).into_response()
            }
        }
    }
}
