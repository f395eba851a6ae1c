//! CSRF protection for the pages' forms: a random token in a signed, `SameSite=Strict` cookie,
//! echoed by every state-changing request either as the `X-CSRF-Token` header (htmx, set by
//! `static/app.js`) or as the `csrf_token` form field (plain forms without JavaScript).

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum_extra::extract::SignedCookieJar;
use axum_extra::extract::cookie::{Cookie, Key, SameSite};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use super::error::WebError;

/// Name of the signed cookie holding the token.
pub const CSRF_COOKIE: &str = "kubelab_csrf";
/// Header htmx sends the token in.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Form field plain forms send the token in.
pub const CSRF_FIELD: &str = "csrf_token";
/// Largest form body read while looking for the token (the router limits bodies anyway).
const MAX_FORM: usize = 64 * 1024;

/// The current request's CSRF token, for pages to put in `<meta>` and hidden fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CsrfToken(pub String);

impl<S: Send + Sync> FromRequestParts<S> for CsrfToken {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<CsrfToken>()
            .cloned()
            .ok_or_else(|| WebError::Internal("the CSRF layer is not installed".into()))
    }
}

fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

fn well_formed(token: &str) -> bool {
    (16..=128).contains(&token.len())
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Compares without stopping at the first difference.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// The token sent in a urlencoded form body, if any. Tokens are URL-safe, so no decoding is needed.
fn token_in_form(body: &[u8]) -> Option<String> {
    std::str::from_utf8(body)
        .ok()?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(name, _)| *name == CSRF_FIELD)
        .map(|(_, value)| value.to_owned())
}

/// Middleware: hands out a token on safe requests (setting the cookie when missing) and refuses
/// unsafe requests whose token is missing or does not match the cookie (403).
pub async fn protect(State(key): State<Key>, mut request: Request, next: Next) -> Response {
    let jar = SignedCookieJar::from_headers(request.headers(), key);
    let existing = jar
        .get(CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|t| well_formed(t));
    let safe = matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if safe {
        let (token, fresh) = match existing {
            Some(t) => (t, false),
            None => (new_token(), true),
        };
        request.extensions_mut().insert(CsrfToken(token.clone()));
        let response = next.run(request).await;
        if !fresh {
            return response;
        }
        let cookie = Cookie::build((CSRF_COOKIE, token))
            .path("/")
            .http_only(true)
            .same_site(SameSite::Strict)
            .build();
        return (jar.add(cookie), response).into_response();
    }

    let refuse = |why: &str| WebError::Csrf(why.to_owned()).into_response();
    let Some(expected) = existing else {
        return refuse("the security cookie is missing (cookies blocked, or the page is too old)");
    };
    let mut sent = request
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    if sent.is_none() {
        let is_form = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
        if is_form {
            let (parts, body) = request.into_parts();
            let bytes = match to_bytes(body, MAX_FORM).await {
                Ok(b) => b,
                Err(_) => return WebError::PayloadTooLarge.into_response(),
            };
            sent = token_in_form(&bytes);
            request = Request::from_parts(parts, Body::from(bytes));
        }
    }
    match sent {
        Some(sent) if same(&sent, &expected) => {
            request.extensions_mut().insert(CsrfToken(expected));
            next.run(request).await
        }
        Some(_) => refuse("the security token does not match"),
        None => refuse("the request carries no security token"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_well_formed_and_compared_exactly() {
        let t = new_token();
        assert!(well_formed(&t));
        assert!(same(&t, &t.clone()));
        assert!(!same(&t, &new_token()));
        assert!(!well_formed("short"));
        assert!(!well_formed("has spaces in it and is long"));
    }

    #[test]
    fn finds_the_token_among_form_fields() {
        assert_eq!(
            token_in_form(b"a=1&csrf_token=abc_DEF-1&b=2").as_deref(),
            Some("abc_DEF-1")
        );
        assert_eq!(token_in_form(b"a=1"), None);
    }
}
