//! Errors from talking to the cluster, keeping the API server's own message, and the mapping
//! from kube-rs errors to them.

use std::time::Duration;

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
    UnknownKind { api_version: String, kind: String },
    /// The object is not a valid Kubernetes object (no kind, no name...).
    #[error("invalid object: {0}")]
    InvalidObject(String),
}

impl ClusterError {
    /// The HTTP status code when the API server refused the call.
    pub fn code(&self) -> Option<u16> {
        match self {
            ClusterError::Api { code, .. } => Some(*code),
            _ => None,
        }
    }

    /// Whether the API server answered 404 Not Found.
    pub fn is_not_found(&self) -> bool {
        self.code() == Some(404)
    }
}

/// Turns a kube-rs error into a [`ClusterError`]; `server` names the API server in messages.
pub(crate) fn from_kube(err: kube::Error, server: &str) -> ClusterError {
    match err {
        kube::Error::Api(status) => from_status(&status, server),
        kube::Error::Auth(e) => ClusterError::Unavailable {
            message: format!(
                "could not get credentials for {server} from the kubeconfig: {}",
                chain(&e)
            ),
        },
        kube::Error::SerdeError(e) => ClusterError::Unavailable {
            message: format!("{server} sent an answer kubelab could not read: {e}"),
        },
        other => ClusterError::Unavailable {
            message: transport_message(&other, server),
        },
    }
}

/// Turns an API server `Status` into a [`ClusterError::Api`], keeping its message verbatim
/// (except for 401, whose bare "Unauthorized" does not tell a learner what to do).
pub(crate) fn from_status(status: &kube::core::Status, server: &str) -> ClusterError {
    let reason = if status.reason.is_empty() {
        http::StatusCode::from_u16(status.code)
            .ok()
            .and_then(|c| c.canonical_reason())
            .unwrap_or_default()
            .replace(' ', "")
    } else {
        status.reason.clone()
    };
    let message = if status.code == 401 {
        format!(
            "{server} rejected kubelab's credentials (401 {reason}): the token or client \
             certificate in the kubeconfig is wrong or has expired"
        )
    } else if status.message.is_empty() {
        format!("{server} answered {} {reason}", status.code)
    } else {
        status.message.clone()
    };
    ClusterError::Api {
        code: status.code,
        reason,
        message,
    }
}

/// The error for a call that did not finish within `limit`.
pub(crate) fn timed_out(server: &str, limit: Duration) -> ClusterError {
    ClusterError::Unavailable {
        message: format!(
            "{server} did not answer within {} — the cluster may be down, overloaded or \
             unreachable from here",
            human(limit)
        ),
    }
}

fn human(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// A short explanation of a connection-level failure (refused, DNS, TLS, timeout...).
fn transport_message(err: &kube::Error, server: &str) -> String {
    let detail = chain(err);
    let lower = detail.to_lowercase();
    let io_kind = io_error_kind(err);
    if io_kind == Some(std::io::ErrorKind::ConnectionRefused)
        || lower.contains("connection refused")
    {
        format!(
            "{server} refused the connection — is the cluster running? \
             (start one with `colima start --kubernetes`)"
        )
    } else if io_kind == Some(std::io::ErrorKind::TimedOut) || lower.contains("timed out") {
        format!("connecting to {server} timed out — is the cluster running and reachable?")
    } else if lower.contains("dns error") || lower.contains("failed to lookup address") {
        format!("cannot resolve the host name of {server}: {detail}")
    } else if lower.contains("certificate") || lower.contains("tls") || lower.contains("handshake")
    {
        format!("the TLS handshake with {server} failed: {detail}")
    } else {
        format!("cannot reach {server}: {detail}")
    }
}

fn io_error_kind(err: &(dyn std::error::Error + 'static)) -> Option<std::io::ErrorKind> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return Some(io.kind());
        }
        current = e.source();
    }
    None
}

/// An error and its sources on one line, skipping sources already contained in their parent.
pub(crate) fn chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut current = err.source();
    while let Some(e) = current {
        let text = e.to_string();
        if !text.is_empty() && !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        current = e.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(code: u16, reason: &str, message: &str) -> kube::core::Status {
        kube::core::Status::failure(message, reason).with_code(code)
    }

    #[test]
    fn api_errors_keep_the_servers_message() {
        let msg = "Apply failed with 1 conflict: conflict with \"kubelab\": .data.fly-name";
        let err = from_kube(
            kube::Error::Api(status(409, "Conflict", msg).boxed()),
            "the API server",
        );
        match err {
            ClusterError::Api {
                code,
                reason,
                message,
            } => {
                assert_eq!(
                    (code, reason.as_str(), message.as_str()),
                    (409, "Conflict", msg)
                );
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn unauthorized_says_the_credentials_were_rejected() {
        let err = from_status(
            &status(401, "Unauthorized", "Unauthorized"),
            "https://x:6443",
        );
        assert_eq!(err.code(), Some(401));
        assert!(
            err.to_string().contains("rejected kubelab's credentials"),
            "{err}"
        );
    }

    #[test]
    fn a_status_without_reason_gets_one_from_the_code() {
        let err = from_status(&status(500, "", "error dialing backend"), "s");
        match err {
            ClusterError::Api {
                reason, message, ..
            } => {
                assert_eq!(reason, "InternalServerError");
                assert_eq!(message, "error dialing backend");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}
