//! The browser's files (`static/`), embedded in the binary and served under `/static/...` with a
//! content hash in their URLs so they can be cached for a year.

use std::sync::OnceLock;

use axum::body::{Body, Bytes};
use axum::extract::Query;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;
use serde::Deserialize;

use super::error::WebError;
use super::extract::Path;
use super::learner::LearnerEngine;

#[derive(Embed)]
#[folder = "static/"]
struct Static;

/// Versioned URLs of the files every page links to.
#[derive(Debug)]
pub struct AssetUrls {
    /// The stylesheet.
    pub css: String,
    /// The page script.
    pub js: String,
    /// htmx (vendored).
    pub htmx: String,
    /// The logo / favicon.
    pub logo: String,
    /// xterm.js (vendored), its stylesheet and fit addon, and the terminal panel's script.
    pub terminal: TerminalAssets,
}

/// Versioned URLs of the terminal panel's files.
#[derive(Debug)]
pub struct TerminalAssets {
    /// xterm.js.
    pub xterm_js: String,
    /// xterm.css.
    pub xterm_css: String,
    /// The fit addon.
    pub fit_js: String,
    /// `terminal.js`: the panel and Run buttons.
    pub js: String,
}

/// The short content hash of a file under `static/`, if it exists.
fn version(path: &str) -> Option<String> {
    Static::get(path).map(|f| {
        f.metadata.sha256_hash()[..6]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    })
}

/// `/static/PATH?v=HASH`.
pub fn url(path: &str) -> String {
    match version(path) {
        Some(v) => format!("/static/{path}?v={v}"),
        None => format!("/static/{path}"),
    }
}

/// The URLs of the shared files, computed once.
pub fn urls() -> &'static AssetUrls {
    static URLS: OnceLock<AssetUrls> = OnceLock::new();
    URLS.get_or_init(|| AssetUrls {
        css: url("app.css"),
        js: url("app.js"),
        htmx: url("vendor/htmx.min.js"),
        logo: url("logo.svg"),
        terminal: TerminalAssets {
            xterm_js: url("vendor/xterm.js"),
            xterm_css: url("vendor/xterm.css"),
            fit_js: url("vendor/addon-fit.js"),
            js: url("terminal.js"),
        },
    })
}

/// The `?v=` query.
#[derive(Debug, Deserialize)]
pub struct VersionQuery {
    v: Option<String>,
}

/// `GET /static/{*path}`: the file with its type; immutable caching when the URL carries the
/// file's current hash, a short revalidated cache otherwise; `304` on a matching `If-None-Match`.
pub async fn serve(
    Path(path): Path<String>,
    Query(query): Query<VersionQuery>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let file = Static::get(&path).ok_or_else(|| WebError::NotFound(format!("/static/{path}")))?;
    let hash: String = file.metadata.sha256_hash()[..6]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let etag = format!("\"{hash}\"");
    let cache = if query.v.as_deref() == Some(hash.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=60, must-revalidate"
    };
    let mime = file.metadata.mimetype();
    let content_type = if mime.starts_with("text/") || mime.ends_with("javascript") {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_owned()
    };
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        file.data.into_owned().into_response()
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&content_type) {
        h.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    Ok(response)
}

/// The policy of an image opened on its own: no scripts, nothing loaded, its own inline
/// `<style>` only.
pub const IMAGE_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'";

/// `GET /labs/{lab}/images/{file}`: one of the lab's images, with its type, a strict CSP,
/// `nosniff`, an `ETag` and a short cache (`304` on a matching `If-None-Match`).
pub async fn lab_image(
    learner: LearnerEngine,
    Path((lab_id, file)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let image = learner
        .lab(&lab_id)
        .and_then(|lab| lab.images.get(&file))
        .ok_or_else(|| WebError::NotFound(format!("/labs/{lab_id}/images/{file}")))?;
    let etag = format!("\"{}\"", image.version);
    let mut response = if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Body::from(Bytes::copy_from_slice(&image.bytes)).into_response()
    };
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(image.content_type),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(IMAGE_CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=3600, must-revalidate"),
    );
    h.insert(
        HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("same-origin"),
    );
    if let Ok(v) = HeaderValue::from_str(&etag) {
        h.insert(header::ETAG, v);
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_files_exist_and_are_versioned() {
        let urls = urls();
        for u in [&urls.css, &urls.js, &urls.htmx, &urls.logo] {
            assert!(u.contains("?v="), "{u} has no version");
        }
    }
}
