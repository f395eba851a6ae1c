//! Per-address rate limits on the doors that take a secret: joining with a code and the
//! instructor's credential (sign-in form, pages and API). A guesser gets a burst, then a few
//! tries a second, then `429 Too Many Requests` with `Retry-After` — however many requests they
//! send in parallel. A room behind one NAT address still joins: the burst covers a class
//! arriving together.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request};
use axum::response::{IntoResponse, Response};
use tower_governor::GovernorError;
use tower_governor::GovernorLayer;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;

use super::AppState;
use super::error::WebError;

/// How many attempts an address may make: `burst` at once, then one more every `period`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Attempts allowed at once.
    pub burst: u32,
    /// Time after which one more attempt is allowed.
    pub period: Duration,
}

impl Default for RateLimit {
    /// 60 at once (a class joining together from one address), then 10 a second: a join code
    /// (31⁶ codes) or an instructor token cannot be guessed at that pace.
    fn default() -> RateLimit {
        RateLimit {
            burst: 60,
            period: Duration::from_millis(100),
        }
    }
}

impl RateLimit {
    /// No limit (benchmarks that join hundreds of learners from one address).
    pub const fn unlimited() -> RateLimit {
        RateLimit {
            burst: 0,
            period: Duration::ZERO,
        }
    }
}

/// The client's address as the limit sees it: the peer, or — when the peer is a proxy on this
/// machine or a private network (an Ingress controller) — the address that proxy appended last
/// to `X-Forwarded-For`. The rightmost entry is the one the proxy wrote; those left of it
/// are whatever the client sent, so they are not believed.
#[derive(Debug, Clone, Copy, Default)]
pub struct ClientAddress;

impl KeyExtractor for ClientAddress {
    type Key = IpAddr;

    fn extract<T>(&self, req: &Request<T>) -> Result<IpAddr, GovernorError> {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(client_address(peer, req.headers()))
    }
}

fn client_address(peer: Option<IpAddr>, headers: &HeaderMap) -> IpAddr {
    // Without the connection's address (a router driven in-process) every request is one client.
    let Some(peer) = peer else {
        return IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    };
    if !is_proxy_address(peer) {
        return peer;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|entry| entry.trim().parse::<IpAddr>().ok())
        .next_back()
        .unwrap_or(peer)
}

/// Loopback, private (RFC 1918, unique local) and link-local addresses: where a reverse proxy
/// in front of kubelab connects from.
fn is_proxy_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_proxy_address(IpAddr::V4(v4)))
        }
    }
}

/// `routes` limited per client address for `methods` (all when empty); the limiter's memory
/// of addresses is trimmed every minute for as long as the routes live.
pub fn limited(routes: Router<AppState>, limit: RateLimit, methods: &[Method]) -> Router<AppState> {
    let mut builder = GovernorConfigBuilder::default().key_extractor(ClientAddress);
    builder.period(limit.period).burst_size(limit.burst);
    if !methods.is_empty() {
        builder.methods(methods.to_vec());
    }
    let Some(config) = builder.finish() else {
        // A zero burst or period: no limit asked for.
        return routes;
    };
    let config = Arc::new(config);
    let limiter = Arc::downgrade(config.limiter());
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(60)).await;
            let Some(limiter) = limiter.upgrade() else {
                return;
            };
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    });
    routes.route_layer(GovernorLayer::new(config).error_handler(too_many))
}

fn too_many(error: GovernorError) -> Response {
    match error {
        GovernorError::TooManyRequests { wait_time, .. } => WebError::TooManyRequests {
            retry_after_secs: wait_time.max(1),
        }
        .into_response(),
        other => WebError::Internal(format!("the rate limiter failed: {other}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn forwarded(value: &'static str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("x-forwarded-for", HeaderValue::from_static(value));
        h
    }

    #[test]
    fn a_public_peer_is_the_client_whatever_it_claims() {
        let peer: IpAddr = "203.0.113.7".parse().unwrap();
        assert_eq!(client_address(Some(peer), &forwarded("198.51.100.1")), peer);
    }

    #[test]
    fn behind_a_local_proxy_the_address_it_appended_counts() {
        let proxy: IpAddr = "10.42.0.12".parse().unwrap();
        let client: IpAddr = "198.51.100.9".parse().unwrap();
        assert_eq!(
            client_address(Some(proxy), &forwarded("198.51.100.9")),
            client
        );
        // What the client put first (a forgery to get a fresh budget) is not believed.
        assert_eq!(
            client_address(Some(proxy), &forwarded("1.2.3.4, 198.51.100.9")),
            client
        );
        assert_eq!(client_address(Some(proxy), &HeaderMap::new()), proxy);
        assert_eq!(client_address(Some(proxy), &forwarded("garbage")), proxy);
        let loopback: IpAddr = "::1".parse().unwrap();
        assert_eq!(
            client_address(Some(loopback), &forwarded("198.51.100.9")),
            client
        );
    }

    #[test]
    fn without_a_connection_every_request_is_one_client() {
        assert_eq!(
            client_address(None, &forwarded("198.51.100.9")),
            IpAddr::V4(Ipv4Addr::UNSPECIFIED)
        );
    }
}
