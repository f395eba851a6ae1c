//! Running a command in a container through the API server's exec subresource (WebSocket),
//! bounded by a timeout. Commands come from lab authors, never from the server's host.
//!
//! Protocol negotiation: kube-rs offers `v5.channel.k8s.io, v4.channel.k8s.io` in one
//! `Sec-WebSocket-Protocol` header and accepts whichever the server picks. A 1.28 node (recordings
//! 116-122) speaks only v4 and would refuse a v5-only offer with a bare 403; Kubernetes 1.30 and
//! later (colima's current k3s) pick v5. kubelab never sends stdin, so v5's stdin half-close is
//! not needed and both generations behave the same: a ready frame, stdout/stderr, the exit
//! status on channel 3. What differs between servers is how refusals arrive — errors the kubelet
//! or the container runtime answer are relayed raw, not as a `Status` ([`exec_refusal`]).

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Status as ExecStatus;
use kube::api::{Api, AttachParams};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::error::{chain, from_kube, from_status};
use super::{Cluster, ClusterError, bounded};

/// How much of each output stream is kept; the rest is read and dropped so the command is not
/// blocked on a full pipe.
pub const MAX_OUTPUT: usize = 1024 * 1024;

/// What a command run in a container produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecResult {
    /// It finished.
    Finished {
        stdout: String,
        stderr: String,
        /// Exit code (from the exec status channel).
        exit_code: i32,
    },
    /// It was still running when the timeout came; it was abandoned.
    TimedOut,
}

impl Cluster {
    /// Runs `command` in container `container` of Pod `namespace/pod` and collects stdout,
    /// stderr and the exit code; a command still running after `timeout` gives
    /// [`ExecResult::TimedOut`]. An empty `container` lets the API server choose (a Pod with
    /// one container). Refusals of the API server (no such Pod or container, the kubelet
    /// unreachable, a command that cannot start) are [`ClusterError::Api`] with its message.
    pub async fn exec(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        command: &[String],
        timeout: Duration,
    ) -> Result<ExecResult, ClusterError> {
        if command.is_empty() || command[0].trim().is_empty() {
            return Err(ClusterError::InvalidObject(
                "a command to run in a container cannot be empty".into(),
            ));
        }
        if pod.trim().is_empty() || namespace.trim().is_empty() {
            return Err(ClusterError::InvalidObject(
                "a command needs a Pod and its namespace".into(),
            ));
        }
        let (client, server) = self.client()?;
        let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let mut params = AttachParams::default()
            .stdin(false)
            .stdout(true)
            .stderr(true)
            .tty(false);
        if !container.is_empty() {
            params = params.container(container);
        }
        let mut process = bounded(self.call_timeout, &server, async {
            api.exec(pod, command.to_vec(), &params)
                .await
                .map_err(|e| exec_refusal(e, &server))
        })
        .await?;

        let stdout = process.stdout();
        let stderr = process.stderr();
        let status = process.take_status();
        let run = async {
            tokio::join!(read_capped(stdout), read_capped(stderr), async {
                match status {
                    Some(status) => status.await,
                    None => None,
                }
            })
        };
        let Ok((stdout, stderr, status)) = tokio::time::timeout(timeout, run).await else {
            // Dropping the process closes the WebSocket; the command may go on in the container.
            process.abort();
            return Ok(ExecResult::TimedOut);
        };
        let ended = process.join().await;
        let Some(status) = status else {
            let why = match ended {
                Err(e) => chain(&e),
                Ok(()) => "the connection closed without an exit status".to_owned(),
            };
            // The API server answered; the stream ended early (e.g. the container restarted).
            return Err(ClusterError::Api {
                code: 500,
                reason: "ExecInterrupted".to_owned(),
                message: format!("running a command in Pod {namespace}/{pod} failed: {why}"),
            });
        };
        let exit_code = exit_code(&status, &server)?;
        Ok(ExecResult::Finished {
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            exit_code,
        })
    }
}

/// The exit code a status-channel `Status` reports: 0 on success, the `ExitCode` cause of a
/// `NonZeroExitCode` failure; any other failure (the command could not start) is returned as
/// an API error.
fn exit_code(status: &ExecStatus, server: &str) -> Result<i32, ClusterError> {
    if status.status.as_deref() == Some("Success") {
        return Ok(0);
    }
    let reason = status.reason.clone().unwrap_or_default();
    if reason == "NonZeroExitCode"
        && let Some(code) = status
            .details
            .iter()
            .flat_map(|d| d.causes.iter().flatten())
            .find(|c| c.reason.as_deref() == Some("ExitCode"))
            .and_then(|c| c.message.as_deref())
            .and_then(|m| m.trim().parse().ok())
    {
        return Ok(code);
    }
    let message = status.message.clone().unwrap_or_default();
    let code = status
        .code
        .and_then(|c| u16::try_from(c).ok())
        .filter(|c| *c != 0)
        .unwrap_or(500);
    let failure = kube::core::Status::failure(&message, &reason).with_code(code);
    Err(from_status(&failure, server))
}

/// What kube-rs calls the reason of an error answer whose body was not a `Status`.
const NOT_A_STATUS: &str = "Failed to parse error data";

/// The error for an exec the server refused before the upgrade. The API server's own checks are
/// `Status` bodies; the kubelet's and the runtime's answers are relayed raw: a text 500 such as
/// `container not found ("app")` for a container that has not started (recording 120), or a
/// bare 403 when the runtime accepts none of the offered subprotocols (122).
pub(super) fn exec_refusal(err: kube::Error, server: &str) -> ClusterError {
    let kube::Error::Api(status) = &err else {
        return from_kube(err, server);
    };
    if status.reason != NOT_A_STATUS {
        return from_kube(err, server);
    }
    let code = status.code;
    let text = status.message.trim();
    let (reason, message) = match (code, text.is_empty()) {
        (403, true) => (
            "Forbidden",
            "the node's container runtime refused every exec protocol kubelab offers \
             (v5.channel.k8s.io, v4.channel.k8s.io)"
                .to_owned(),
        ),
        (_, true) => (
            "InternalError",
            format!("the node's kubelet refused the command with HTTP {code}"),
        ),
        (_, false) => (
            "InternalError",
            format!("the node's kubelet answered: {text}"),
        ),
    };
    ClusterError::Api {
        code,
        reason: reason.to_owned(),
        message,
    }
}

/// Reads a stream to its end, keeping at most [`MAX_OUTPUT`] bytes.
async fn read_capped(reader: Option<impl AsyncRead + Unpin>) -> Vec<u8> {
    let mut kept = Vec::new();
    let Some(mut reader) = reader else {
        return kept;
    };
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_OUTPUT.saturating_sub(kept.len());
                kept.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{StatusCause, StatusDetails};

    fn failure(reason: &str, causes: Vec<StatusCause>) -> ExecStatus {
        ExecStatus {
            status: Some("Failure".into()),
            message: Some("command terminated with non-zero exit code".into()),
            reason: Some(reason.into()),
            details: Some(StatusDetails {
                causes: Some(causes),
                ..StatusDetails::default()
            }),
            ..ExecStatus::default()
        }
    }

    #[test]
    fn success_is_exit_code_zero() {
        let success = ExecStatus {
            status: Some("Success".into()),
            ..ExecStatus::default()
        };
        assert_eq!(exit_code(&success, "s").ok(), Some(0));
    }

    #[test]
    fn non_zero_exit_codes_come_from_the_exit_code_cause() {
        let status = failure(
            "NonZeroExitCode",
            vec![StatusCause {
                reason: Some("ExitCode".into()),
                message: Some("3".into()),
                field: None,
            }],
        );
        assert_eq!(exit_code(&status, "s").ok(), Some(3));
    }

    #[test]
    fn other_failures_are_errors_with_their_message() {
        let status = failure("InternalError", Vec::new());
        match exit_code(&status, "s") {
            Err(ClusterError::Api {
                code,
                reason,
                message,
            }) => {
                assert_eq!((code, reason.as_str()), (500, "InternalError"));
                assert!(message.contains("non-zero"), "{message}");
            }
            other => panic!("expected an API error, got {other:?}"),
        }
    }

    fn raw(code: u16, body: &str) -> kube::Error {
        kube::Error::Api(
            kube::core::Status::failure(body, NOT_A_STATUS)
                .with_code(code)
                .boxed(),
        )
    }

    #[test]
    fn a_kubelets_raw_answer_keeps_its_text() {
        match exec_refusal(raw(500, "container not found (\"app\")"), "s") {
            ClusterError::Api {
                code,
                reason,
                message,
            } => {
                assert_eq!((code, reason.as_str()), (500, "InternalError"));
                assert_eq!(
                    message,
                    "the node's kubelet answered: container not found (\"app\")"
                );
            }
            other => panic!("expected an API error, got {other:?}"),
        }
    }

    #[test]
    fn a_refused_subprotocol_is_not_mistaken_for_rbac() {
        match exec_refusal(raw(403, ""), "s") {
            ClusterError::Api { code, message, .. } => {
                assert_eq!(code, 403);
                assert!(message.contains("v4.channel.k8s.io"), "{message}");
            }
            other => panic!("expected an API error, got {other:?}"),
        }
    }

    #[test]
    fn api_server_statuses_pass_through() {
        let status =
            kube::core::Status::failure("container nope is not valid for pod shell", "BadRequest")
                .with_code(400);
        match exec_refusal(kube::Error::Api(status.boxed()), "s") {
            ClusterError::Api {
                code,
                reason,
                message,
            } => {
                assert_eq!((code, reason.as_str()), (400, "BadRequest"));
                assert_eq!(message, "container nope is not valid for pod shell");
            }
            other => panic!("expected an API error, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn output_is_capped() {
        let big = vec![b'x'; MAX_OUTPUT + 10];
        let kept = read_capped(Some(&big[..])).await;
        assert_eq!(kept.len(), MAX_OUTPUT);
        assert!(read_capped(None::<&[u8]>).await.is_empty());
    }
}
