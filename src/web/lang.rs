//! Choosing the UI language: the `lang` cookie, else `Accept-Language`, else English; and the
//! `?lang=zh` toggle that remembers the choice in the cookie and redirects back.

use std::convert::Infallible;

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::i18n::Lang;

/// Name of the cookie remembering the language.
pub const LANG_COOKIE: &str = "lang";

/// The language of the current request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UiLang(pub Lang);

/// The language a request asks for, from its headers.
pub fn negotiate(headers: &HeaderMap) -> Lang {
    cookie_lang(headers)
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or_default()
}

fn cookie_lang(headers: &HeaderMap) -> Option<Lang> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == LANG_COOKIE)
        .and_then(|(_, value)| Lang::from_code(value))
}

impl<S: Send + Sync> FromRequestParts<S> for UiLang {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(UiLang(negotiate(&parts.headers)))
    }
}

/// Middleware for pages: `GET ...?lang=zh` stores the choice in the cookie (a year) and
/// redirects to the same URL without the parameter, so reloads and bookmarks stay clean.
pub async fn toggle(request: Request, next: Next) -> Response {
    let Some(query) = request.uri().query() else {
        return next.run(request).await;
    };
    let mut chosen = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("lang", value)) => chosen = Some(Lang::from_code(value)),
            _ => rest.push(pair),
        }
    }
    let Some(chosen) = chosen else {
        return next.run(request).await;
    };
    let mut location = request.uri().path().to_owned();
    if !rest.is_empty() {
        location.push('?');
        location.push_str(&rest.join("&"));
    }
    let Some(lang) = chosen else {
        // An unknown language: ignore it rather than fail, and drop it from the URL.
        return redirect(&location, None);
    };
    redirect(&location, Some(lang))
}

fn redirect(location: &str, lang: Option<Lang>) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(location) {
        headers.insert(header::LOCATION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(lang) = lang {
        let cookie = format!(
            "{LANG_COOKIE}={}; Path=/; Max-Age=31536000; SameSite=Lax; HttpOnly",
            lang.code()
        );
        if let Ok(value) = HeaderValue::from_str(&cookie) {
            headers.insert(header::SET_COOKIE, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(header::HeaderName, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (name, value) in pairs {
            h.append(name.clone(), HeaderValue::from_static(value));
        }
        h
    }

    #[test]
    fn cookie_beats_accept_language_which_beats_default() {
        assert_eq!(negotiate(&HeaderMap::new()), Lang::En);
        assert_eq!(
            negotiate(&headers(&[(header::ACCEPT_LANGUAGE, "zh-CN,zh;q=0.9")])),
            Lang::Zh
        );
        assert_eq!(
            negotiate(&headers(&[
                (header::ACCEPT_LANGUAGE, "zh-CN"),
                (header::COOKIE, "a=b; lang=en")
            ])),
            Lang::En
        );
        assert_eq!(
            negotiate(&headers(&[(header::COOKIE, "lang=klingon")])),
            Lang::En
        );
    }
}
