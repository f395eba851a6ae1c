//! Errors from talking to the cluster, keeping the API server's own message.

/// Why a cluster call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ClusterError {
    /// No cluster is configured or it does not answer.
    #[error("no Kubernetes cluster is reachable: {message}")]
    Unavailable {
        /// Why (no kubeconfig, connection refused, timeout...).
        message: String,
    },
    /// The API server answered with a `Status` error.
    #[error("{message}")]
    Api {
        /// HTTP status code (403, 404, 409, 422...).
        code: u16,
        /// The Status `reason` (`Forbidden`, `Invalid`...).
        reason: String,
        /// The API server's message, verbatim.
        message: String,
    },
    /// The cluster does not serve this apiVersion/kind.
    #[error("the cluster does not serve {kind} in {api_version}")]
    UnknownKind {
        /// `apiVersion`.
        api_version: String,
        /// `kind`.
        kind: String,
    },
    /// The object is not a valid Kubernetes object (no kind, no name...).
    #[error("invalid object: {0}")]
    InvalidObject(String),
}
