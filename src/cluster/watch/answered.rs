//! A client that counts the watch requests the API server accepted. kube-runtime's `watcher`
//! resumes an interrupted watch from its last resourceVersion without emitting any event, so
//! this count is how a watch that failed learns that it is connected again.

use kube::client::Body;
use tokio::sync::watch;

/// Wraps `client` so that every watch request answered with a success status bumps `answered`.
/// Errors and every other request pass through untouched.
pub(super) fn counting_watches(client: kube::Client, answered: watch::Sender<u64>) -> kube::Client {
    let default_namespace = client.default_namespace().to_owned();
    let answered = std::sync::Arc::new(answered);
    let service = tower::service_fn(move |request: http::Request<Body>| {
        let client = client.clone();
        let answered = answered.clone();
        async move {
            let watching = is_watch(request.uri());
            let response = client.send(request).await?;
            if watching && response.status().is_success() {
                answered.send_modify(|n| *n += 1);
            }
            Ok::<_, kube::Error>(response)
        }
    });
    kube::Client::new(service, default_namespace)
}

/// Whether a request is a watch (`?watch=true`, as kube-rs sends it, or `?watch=1`).
fn is_watch(uri: &http::Uri) -> bool {
    uri.query()
        .into_iter()
        .flat_map(|q| q.split('&'))
        .any(|pair| pair == "watch=true" || pair == "watch=1")
}

#[cfg(test)]
mod tests {
    use super::is_watch;

    #[test]
    fn only_watch_requests_count() {
        let uri = |s: &str| s.parse::<http::Uri>().expect("uri");
        assert!(is_watch(&uri(
            "/api/v1/namespaces/a/pods?&watch=true&timeoutSeconds=290&resourceVersion=7"
        )));
        assert!(is_watch(&uri("/api/v1/pods?watch=1")));
        assert!(!is_watch(&uri("/api/v1/pods?limit=500")));
        assert!(!is_watch(&uri("/api/v1/pods?watch=false")));
        assert!(!is_watch(&uri("/api/v1/pods")));
    }
}
