//! Running a command in a container through the API server's exec subresource (WebSocket),
//! bounded by a timeout. Commands come from lab authors, never from the server's host.

use std::time::Duration;

use super::{Cluster, ClusterError};

/// What a command run in a container produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExecResult {
    /// It finished.
    Finished {
        /// Standard output.
        stdout: String,
        /// Standard error.
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
    /// [`ExecResult::TimedOut`].
    pub async fn exec(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
        command: &[String],
        timeout: Duration,
    ) -> Result<ExecResult, ClusterError> {
        let _ = (namespace, pod, container, command, timeout);
        Err(ClusterError::InvalidObject("exec is not implemented yet".into()))
    }
}
