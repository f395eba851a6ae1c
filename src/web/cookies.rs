//! `Secure` on kubelab's cookies when the browser reached it over HTTPS: kubelab itself speaks
//! plain HTTP, so that is when a TLS proxy says so (`X-Forwarded-Proto: https`, or `proto=https`
//! in `Forwarded`), or always with `--secure-cookies`.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;

/// Adds `; Secure` to every `Set-Cookie` of the response when `always`, or when the request
/// came through HTTPS.
pub async fn secure_cookies(State(always): State<bool>, request: Request, next: Next) -> Response {
    let secure = always || forwarded_from_https(request.headers());
    let mut response = next.run(request).await;
    if !secure {
        return response;
    }
    let cookies: Vec<HeaderValue> = response
        .headers_mut()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(with_secure)
        .collect();
    if cookies.is_empty() {
        return response;
    }
    let headers = response.headers_mut();
    headers.remove(header::SET_COOKIE);
    for cookie in cookies {
        headers.append(header::SET_COOKIE, cookie);
    }
    response
}

/// Whether a proxy in front of kubelab says the browser used HTTPS. Believing a forged header
/// only costs the forger: their browser then keeps the cookie for HTTPS alone.
fn forwarded_from_https(headers: &HeaderMap) -> bool {
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim);
    if let Some(proto) = proto {
        return proto.eq_ignore_ascii_case("https");
    }
    headers
        .get(header::FORWARDED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .is_some_and(|first| {
            first.split(';').any(|pair| {
                pair.trim().split_once('=').is_some_and(|(k, v)| {
                    k.trim().eq_ignore_ascii_case("proto")
                        && v.trim().trim_matches('"').eq_ignore_ascii_case("https")
                })
            })
        })
}

fn with_secure(cookie: &HeaderValue) -> HeaderValue {
    let text = cookie.to_str().unwrap_or_default();
    let already = text
        .split(';')
        .skip(1)
        .any(|attr| attr.trim().eq_ignore_ascii_case("secure"));
    if already || text.is_empty() {
        return cookie.clone();
    }
    HeaderValue::from_str(&format!("{text}; Secure")).unwrap_or_else(|_| cookie.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn https_is_read_from_the_proxy_headers() {
        assert!(forwarded_from_https(&headers(&[(
            "x-forwarded-proto",
            "https"
        )])));
        assert!(forwarded_from_https(&headers(&[(
            "x-forwarded-proto",
            "HTTPS, http"
        )])));
        assert!(!forwarded_from_https(&headers(&[(
            "x-forwarded-proto",
            "http"
        )])));
        assert!(forwarded_from_https(&headers(&[(
            "forwarded",
            "for=192.0.2.60;proto=https;by=203.0.113.43"
        )])));
        assert!(forwarded_from_https(&headers(&[(
            "forwarded",
            "proto=\"https\""
        )])));
        assert!(!forwarded_from_https(&headers(&[(
            "forwarded",
            "for=192.0.2.60"
        )])));
        assert!(!forwarded_from_https(&HeaderMap::new()));
    }

    #[test]
    fn secure_is_added_once() {
        let plain = HeaderValue::from_static("a=b; Path=/; HttpOnly");
        assert_eq!(with_secure(&plain), "a=b; Path=/; HttpOnly; Secure");
        let secure = HeaderValue::from_static("a=b; Secure; HttpOnly");
        assert_eq!(with_secure(&secure), "a=b; Secure; HttpOnly");
    }
}
