//! A workshop learner's toolbox: one Pod in their namespace, running as their ServiceAccount
//! (so their RBAC, quota, LimitRange and Pod Security apply exactly as to their kubeconfig),
//! and interactive shells into it (exec with a tty, stdin and resizes) for the browser terminal.

use std::future::Future;
use std::time::Duration;

use futures::SinkExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, AttachParams, TerminalSize};
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use super::learners::{LEARNER_LABEL, LEARNER_SERVICE_ACCOUNT, MANAGED_BY, MANAGED_BY_LABEL};
use super::{Cluster, ClusterError, ObjectKey, bounded};

/// The toolbox Pod's name in each learner namespace.
pub const TOOLBOX_POD: &str = "toolbox";
/// Label marking a toolbox Pod (`kubelab.io/toolbox=true`); checked before every exec.
pub const TOOLBOX_LABEL: &str = "kubelab.io/toolbox";
/// The image used when `--toolbox-image` is not given: a public image with bash, kubectl and
/// completion, pinned by tag (build `deploy/toolbox/` to use kubelab's own).
pub const DEFAULT_TOOLBOX_IMAGE: &str = "docker.io/alpine/k8s:1.31.4";
/// The shell started in the toolbox for each terminal: a login bash, or `sh` in an image
/// without bash (an instructor's `--toolbox-image` may be busybox-based).
pub const TOOLBOX_SHELL: &[&str] = &[
    "sh",
    "-c",
    "if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi",
];
/// How long kubelab waits for a new toolbox to run.
pub const TOOLBOX_START: Duration = Duration::from_secs(120);

/// What a toolbox Pod looks like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolboxSpec {
    /// The container image.
    pub image: String,
    /// CPU request (part of the learner's quota).
    pub request_cpu: String,
    /// Memory request.
    pub request_memory: String,
    /// CPU limit.
    pub limit_cpu: String,
    /// Memory limit.
    pub limit_memory: String,
}

impl Default for ToolboxSpec {
    /// The pinned image, small requests; the learner quota's defaults leave room for every lab
    /// beside it (see [`super::QuotaSpec`]).
    fn default() -> ToolboxSpec {
        ToolboxSpec {
            image: DEFAULT_TOOLBOX_IMAGE.into(),
            request_cpu: "100m".into(),
            request_memory: "128Mi".into(),
            limit_cpu: "500m".into(),
            limit_memory: "256Mi".into(),
        }
    }
}

impl ToolboxSpec {
    /// The Pod in `namespace` for `learner`: Pod Security `restricted` (non-root, no privilege
    /// escalation, every capability dropped, the runtime's seccomp profile).
    pub fn pod(&self, namespace: &str, learner: &str) -> Value {
        json!({
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {
                "name": TOOLBOX_POD,
                "namespace": namespace,
                "labels": {
                    TOOLBOX_LABEL: "true",
                    LEARNER_LABEL: learner,
                    MANAGED_BY_LABEL: MANAGED_BY,
                },
            },
            "spec": {
                "serviceAccountName": LEARNER_SERVICE_ACCOUNT,
                "automountServiceAccountToken": true,
                "enableServiceLinks": false,
                "terminationGracePeriodSeconds": 1,
                "securityContext": {
                    "runAsNonRoot": true,
                    "runAsUser": 1000,
                    "runAsGroup": 1000,
                    "seccompProfile": {"type": "RuntimeDefault"},
                },
                "containers": [{
                    "name": "toolbox",
                    "image": self.image,
                    "command": ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 3600 & wait $!; done"],
                    "env": [
                        {"name": "HOME", "value": "/tmp"},
                        {"name": "TERM", "value": "xterm-256color"},
                        {"name": "POD_NAMESPACE", "value": namespace},
                    ],
                    "workingDir": "/tmp",
                    "resources": {
                        "requests": {"cpu": self.request_cpu, "memory": self.request_memory},
                        "limits": {"cpu": self.limit_cpu, "memory": self.limit_memory},
                    },
                    "securityContext": {
                        "allowPrivilegeEscalation": false,
                        "capabilities": {"drop": ["ALL"]},
                        "runAsNonRoot": true,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                }],
            },
        })
    }
}

/// A toolbox Pod kubelab found in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolboxPod {
    /// Its namespace.
    pub namespace: String,
    /// The learner label's value.
    pub learner: String,
}

/// What is sent to a shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ShellInput {
    /// Bytes typed (stdin).
    Bytes(Vec<u8>),
    /// The terminal's new size.
    Resize {
        /// Columns.
        cols: u16,
        /// Rows.
        rows: u16,
    },
}

/// A running interactive shell: send input and sizes on `input` (dropping it ends the shell),
/// read its output from `output` (closed when the shell ends).
#[derive(Debug)]
pub struct Shell {
    /// Input and resizes.
    pub input: mpsc::Sender<ShellInput>,
    /// Output (a tty: stdout and stderr are one stream).
    pub output: mpsc::Receiver<Vec<u8>>,
}

impl Shell {
    /// Starts the task that carries a shell's output (`reader`) to [`Shell::output`] and
    /// [`Shell::input`] to it (`writer`; `resize` applies a new size) until either side ends,
    /// then runs `end`.
    pub fn pump<R, W>(
        mut reader: R,
        mut writer: W,
        mut resize: impl FnMut(&mut W, u16, u16) + Send + 'static,
        end: impl Future<Output = ()> + Send + 'static,
    ) -> Shell
    where
        R: AsyncRead + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let (input_tx, mut input_rx) = mpsc::channel::<ShellInput>(64);
        let (output_tx, output_rx) = mpsc::channel::<Vec<u8>>(64);
        tokio::spawn(async move {
            let mut buf = vec![0u8; 16 * 1024];
            loop {
                tokio::select! {
                    read = reader.read(&mut buf) => match read {
                        // A pty answers EIO once the shell and its children closed it.
                        Ok(0) | Err(_) => break,
                        Ok(n) => if output_tx.send(buf[..n].to_vec()).await.is_err() { break },
                    },
                    input = input_rx.recv() => match input {
                        None => break,
                        Some(ShellInput::Bytes(b)) => {
                            if writer.write_all(&b).await.is_err() || writer.flush().await.is_err() {
                                break;
                            }
                        }
                        Some(ShellInput::Resize { cols, rows }) => resize(&mut writer, cols, rows),
                    },
                }
            }
            drop(writer);
            end.await;
        });
        Shell {
            input: input_tx,
            output: output_rx,
        }
    }
}

fn pod_key(namespace: &str) -> ObjectKey {
    ObjectKey {
        api_version: "v1".into(),
        kind: "Pod".into(),
        namespace: Some(namespace.to_owned()),
        name: TOOLBOX_POD.into(),
    }
}

/// Whether `pod` is a toolbox of `learner` in `namespace` (labels and namespace), so an exec
/// never reaches another Pod.
fn is_toolbox_of(pod: &Value, namespace: &str, learner: &str) -> bool {
    let meta = &pod["metadata"];
    meta["namespace"] == namespace
        && meta["name"] == TOOLBOX_POD
        && meta["labels"][TOOLBOX_LABEL] == "true"
        && meta["labels"][LEARNER_LABEL] == learner
        && meta["labels"][MANAGED_BY_LABEL] == MANAGED_BY
}

fn is_running(pod: &Value) -> bool {
    pod["metadata"]["deletionTimestamp"].is_null()
        && pod["status"]["phase"] == "Running"
        && pod["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["state"]["running"].is_object())
}

impl Cluster {
    /// Makes sure `learner`'s toolbox runs in `namespace`: creates it when missing (or when a
    /// previous one is gone or ending), then waits until its container runs.
    pub async fn ensure_toolbox(
        &self,
        namespace: &str,
        learner: &str,
        spec: &ToolboxSpec,
    ) -> Result<(), ClusterError> {
        let key = pod_key(namespace);
        let deadline = tokio::time::Instant::now() + TOOLBOX_START;
        let mut created = false;
        loop {
            match self.get(&key).await? {
                Some(pod) if !is_toolbox_of(&pod, namespace, learner) => {
                    return Err(ClusterError::InvalidObject(format!(
                        "a Pod named {TOOLBOX_POD} in {namespace} is not this learner's toolbox \
                         (it lacks the label {TOOLBOX_LABEL}=true or names another learner)"
                    )));
                }
                Some(pod) if is_running(&pod) => return Ok(()),
                Some(pod)
                    if pod["status"]["phase"] == "Failed"
                        || pod["status"]["phase"] == "Succeeded" =>
                {
                    self.delete(&key).await?;
                }
                Some(_) => {}
                None if !created => {
                    self.apply(&spec.pod(namespace, learner), namespace).await?;
                    created = true;
                    tracing::info!(%namespace, image = %spec.image, "toolbox created");
                }
                None => {
                    self.apply(&spec.pod(namespace, learner), namespace).await?;
                }
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(ClusterError::Api {
                    code: 504,
                    reason: "ToolboxNotReady".into(),
                    message: format!(
                        "the toolbox Pod in {namespace} did not start within {} s (is the image \
                         {} reachable from the node?)",
                        TOOLBOX_START.as_secs(),
                        spec.image
                    ),
                });
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Deletes the toolbox in `namespace` (if it is one); `Ok(false)` when there is none.
    pub async fn delete_toolbox(&self, namespace: &str) -> Result<bool, ClusterError> {
        let key = pod_key(namespace);
        match self.get(&key).await? {
            Some(pod) if pod["metadata"]["labels"][TOOLBOX_LABEL] == "true" => {
                let deleted = self.delete(&key).await?;
                if deleted {
                    tracing::info!(%namespace, "idle toolbox deleted");
                }
                Ok(deleted)
            }
            _ => Ok(false),
        }
    }

    /// Every toolbox Pod in the cluster (by label).
    pub async fn toolboxes(&self) -> Result<Vec<ToolboxPod>, ClusterError> {
        let selector = format!("{TOOLBOX_LABEL}=true,{MANAGED_BY_LABEL}={MANAGED_BY}");
        let pods = self.list("v1", "Pod", None, Some(&selector)).await?;
        Ok(pods
            .iter()
            .filter(|p| p["metadata"]["name"] == TOOLBOX_POD)
            .filter_map(|p| {
                Some(ToolboxPod {
                    namespace: p["metadata"]["namespace"].as_str()?.to_owned(),
                    learner: p["metadata"]["labels"][LEARNER_LABEL]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                })
            })
            .collect())
    }

    /// Starts an interactive shell in `learner`'s toolbox in `namespace` (exec with a tty and
    /// stdin), after checking that the Pod there is that learner's toolbox.
    pub async fn toolbox_shell(
        &self,
        namespace: &str,
        learner: &str,
        cols: u16,
        rows: u16,
    ) -> Result<Shell, ClusterError> {
        let pod = self.get(&pod_key(namespace)).await?;
        if !pod
            .as_ref()
            .is_some_and(|p| is_toolbox_of(p, namespace, learner))
        {
            return Err(ClusterError::InvalidObject(format!(
                "kubelab refuses to open a shell in {namespace}/{TOOLBOX_POD}: it is not this \
                 learner's toolbox"
            )));
        }
        let (client, server) = self.client()?;
        let api: Api<Pod> = Api::namespaced(client.clone(), namespace);
        let params = AttachParams::interactive_tty().container("toolbox");
        let command: Vec<String> = TOOLBOX_SHELL.iter().map(|s| (*s).to_owned()).collect();
        let mut process = bounded(self.call_timeout, &server, async {
            api.exec(TOOLBOX_POD, command, &params)
                .await
                .map_err(|e| super::exec::exec_refusal(e, &server))
        })
        .await?;
        let (Some(stdin), Some(stdout), Some(mut sizes)) =
            (process.stdin(), process.stdout(), process.terminal_size())
        else {
            return Err(ClusterError::Api {
                code: 500,
                reason: "ExecInterrupted".into(),
                message: "the toolbox shell has no terminal streams".into(),
            });
        };
        let _ = sizes
            .send(TerminalSize {
                width: cols,
                height: rows,
            })
            .await;
        let resize = move |_: &mut _, width, height| {
            // A resize that finds the channel full is dropped: the next one follows soon.
            let _ = sizes.try_send(TerminalSize { width, height });
        };
        // Aborting closes the WebSocket; the shell gets a hangup.
        let end = async move { process.abort() };
        Ok(Shell::pump(stdout, stdin, resize, end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_in_the_toolbox_defaults_to_the_learners_namespace() {
        // kubectl without a kubeconfig uses the in-cluster config, whose default namespace is
        // $POD_NAMESPACE, then the mounted ServiceAccount token's namespace: both are the
        // learner's, so commands without `-n` act there.
        let pod = ToolboxSpec::default().pod("kl-x", "abc");
        let spec = &pod["spec"];
        assert_eq!(pod["metadata"]["namespace"], "kl-x");
        assert_eq!(spec["serviceAccountName"], LEARNER_SERVICE_ACCOUNT);
        assert_eq!(spec["automountServiceAccountToken"], true);
        let env = spec["containers"][0]["env"].as_array().expect("env");
        assert!(
            env.iter()
                .any(|e| e["name"] == "POD_NAMESPACE" && e["value"] == "kl-x"),
            "{env:?}"
        );
        assert!(
            !env.iter().any(|e| e["name"] == "KUBECONFIG"),
            "no kubeconfig overrides the in-cluster default"
        );
    }

    #[test]
    fn the_pod_passes_pod_security_restricted_and_names_its_learner() {
        let pod = ToolboxSpec::default().pod("kl-x", "abc");
        let spec = &pod["spec"];
        assert_eq!(spec["securityContext"]["runAsNonRoot"], true);
        assert_eq!(
            spec["securityContext"]["seccompProfile"]["type"],
            "RuntimeDefault"
        );
        let c = &spec["containers"][0]["securityContext"];
        assert_eq!(c["allowPrivilegeEscalation"], false);
        assert_eq!(c["capabilities"]["drop"][0], "ALL");
        assert_eq!(spec["serviceAccountName"], LEARNER_SERVICE_ACCOUNT);
        assert!(is_toolbox_of(&pod, "kl-x", "abc"));
        assert!(!is_toolbox_of(&pod, "kl-y", "abc"));
        assert!(!is_toolbox_of(&pod, "kl-x", "other"));
    }
}
