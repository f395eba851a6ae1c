//! Extractors whose rejection is the web error, so a malformed address or body is answered like
//! any other error (JSON on the API, the error page on pages), and what handlers read off a
//! request's headers.

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, FormRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, OriginalUri, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use serde::de::DeserializeOwned;

use super::error::WebError;

/// The route's parameters, as axum's `Path` reads them; 400 `bad_request` when they do not
/// decode.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(WebError))]
pub struct Path<T>(pub T);

impl From<PathRejection> for WebError {
    fn from(e: PathRejection) -> Self {
        WebError::BadRequest(format!("malformed address: {}", e.body_text()))
    }
}

/// A urlencoded form, as axum's `Form` reads it; 400 `bad_request` when it does not decode.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Form), rejection(WebError))]
pub struct Form<T>(pub T);

impl From<FormRejection> for WebError {
    fn from(e: FormRejection) -> Self {
        WebError::BadRequest(e.body_text())
    }
}

/// A form's fields in order, for forms with repeated or prefixed names (`answer.<check-id>`,
/// `replace`, `delete`); a request without a form has none.
#[derive(Debug, Default)]
pub struct FormFields(pub Vec<(String, String)>);

impl FormFields {
    /// The values of every field called `name`, in order.
    pub fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first field called `name`, trimmed (empty when there is none).
    pub fn first(&self, name: &str) -> String {
        self.all(name)
            .next()
            .map(|v| v.trim().to_owned())
            .unwrap_or_default()
    }
}

impl<S: Send + Sync> FromRequest<S> for FormFields {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &S) -> Result<Self, WebError> {
        match axum::Form::<Vec<(String, String)>>::from_request(request, state).await {
            Ok(axum::Form(fields)) => Ok(FormFields(fields)),
            Err(FormRejection::InvalidFormContentType(_)) => Ok(FormFields::default()),
            Err(e) => Err(e.into()),
        }
    }
}

/// A JSON request body of the API, and how a 400 names it.
pub trait JsonRequest: DeserializeOwned {
    /// Completes "the body is not …" in the 400 for a body that is not one (`"a check
    /// request"`).
    const WHAT: &'static str;
}

/// A JSON body. The API's [`same_site_only`](super::api::same_site_only) already refused any
/// other content type; a body that is not a `T` is 400 `bad_request`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// A JSON body that may be left out: no body, or only white space, is `T::default()`.
#[derive(Debug)]
pub struct OptionalJsonBody<T>(pub T);

impl<S: Send + Sync, T: JsonRequest> FromRequest<S> for JsonBody<T> {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &S) -> Result<Self, WebError> {
        let body = body_bytes(request, state).await?;
        parse(&body).map(JsonBody)
    }
}

impl<S: Send + Sync, T: JsonRequest + Default> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = WebError;

    async fn from_request(request: Request, state: &S) -> Result<Self, WebError> {
        let body = body_bytes(request, state).await?;
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJsonBody(T::default()));
        }
        parse(&body).map(OptionalJsonBody)
    }
}

async fn body_bytes<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, WebError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|e: BytesRejection| match e.status() {
            StatusCode::PAYLOAD_TOO_LARGE => WebError::PayloadTooLarge,
            _ => WebError::BadRequest(e.body_text()),
        })
}

fn parse<T: JsonRequest>(body: &[u8]) -> Result<T, WebError> {
    serde_json::from_slice(body)
        .map_err(|e| WebError::BadRequest(format!("the body is not {}: {e}", T::WHAT)))
}

/// Whether the request comes from htmx (it wants a fragment, not a page).
pub fn is_htmx(headers: &HeaderMap) -> bool {
    headers.contains_key("hx-request")
}

/// Whether the request is for the JSON API (nested routers see a shortened path, so the
/// original one is read).
pub fn is_api(parts: &Parts) -> bool {
    parts
        .extensions
        .get::<OriginalUri>()
        .map_or(&parts.uri, |o| &o.0)
        .path()
        .starts_with("/api/")
}
