//! The web edge: axum router, pages (askama), the JSON API, static assets, language and CSRF.

use std::sync::Arc;

use axum::Router;

use crate::engine::Engine;

/// Settings of the web layer.
#[derive(Clone, Debug)]
pub struct WebConfig {
    /// Key for signing cookies (language choice, CSRF token); 64 random bytes per start is fine.
    pub cookie_key: Vec<u8>,
}

/// Everything a handler needs.
#[derive(Clone)]
pub struct AppState {
    /// The one path to labs, cluster, checks and store.
    pub engine: Engine,
    /// Web settings.
    pub config: Arc<WebConfig>,
}

/// The whole router: pages, API, health, static files.
pub fn router(state: AppState) -> Router {
    Router::new().with_state(state)
}
