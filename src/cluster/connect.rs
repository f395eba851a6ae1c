//! Building a kube-rs client from the options: an explicit kubeconfig, `KUBECONFIG` /
//! `~/.kube/config`, or the in-cluster config of a Pod — without any network call.

use std::path::PathBuf;
use std::time::Duration;

use kube::config::{Config, KubeConfigOptions, Kubeconfig, KubeconfigError};

use super::ClusterOptions;

/// How long establishing a TCP/TLS connection may take before the call fails.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

// Unary calls are bounded per call (see `Cluster::call_timeout`); this only catches a dead
// connection under a long-lived watch, which the API server itself ends after at most ~5 min.
const READ_TIMEOUT: Duration = Duration::from_secs(330);

const START_A_CLUSTER: &str = "start a cluster with `colima start --kubernetes`";

/// A client ready to use, and what it points at.
pub(crate) struct Connected {
    pub client: kube::Client,
    /// The kubeconfig context, when a kubeconfig was used.
    pub context: Option<String>,
    /// The API server URL.
    pub server: String,
    /// The API server URL and CA, for learner kubeconfigs.
    pub endpoint: super::learners::Endpoint,
    /// Built from the Pod's in-cluster config (no kubeconfig).
    pub in_cluster: bool,
}

/// Builds a client from the options, or explains in one sentence why it cannot.
pub(crate) async fn connect(options: &ClusterOptions) -> Result<Connected, String> {
    let (mut config, context, in_cluster) = match load_kubeconfig(options)? {
        Some((kubeconfig, origin)) => {
            let context = choose_context(&kubeconfig, options.context.as_deref(), &origin)?;
            let config = config_from(kubeconfig, &context, &origin).await?;
            (config, Some(context), false)
        }
        None => {
            let config = Config::incluster().map_err(|e| {
                tracing::debug!(error = %e, "no in-cluster config");
                format!(
                    "no kubeconfig found at {} and not running in a Pod — {START_A_CLUSTER}",
                    default_location()
                )
            })?;
            if let Some(context) = &options.context {
                tracing::warn!(%context, "running in a Pod without a kubeconfig: --context ignored");
            }
            (config, None, true)
        }
    };
    config.apply_debug_overrides();
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    config.read_timeout = Some(READ_TIMEOUT);
    let server = config.cluster_url.to_string();
    let server = server.trim_end_matches('/').to_owned();
    let endpoint = super::learners::Endpoint::of(&config);
    let client = kube::Client::try_from(config).map_err(|e| {
        format!(
            "cannot build a client for {server}: {}",
            super::error::chain(&e)
        )
    })?;
    Ok(Connected {
        client,
        context,
        server,
        endpoint,
        in_cluster,
    })
}

/// Where a kubeconfig came from, for messages.
enum Origin {
    Flag(PathBuf),
    Env(String),
    Home,
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::Flag(path) => write!(f, "{}", path.display()),
            Origin::Env(value) => write!(f, "{value} (from KUBECONFIG)"),
            Origin::Home => f.write_str("~/.kube/config"),
        }
    }
}

fn default_location() -> String {
    match std::env::var("KUBECONFIG") {
        Ok(value) if !value.trim().is_empty() => format!("{value} (KUBECONFIG)"),
        _ => "~/.kube/config".to_owned(),
    }
}

/// The kubeconfig to use; `Ok(None)` when there is none (so the in-cluster config applies).
fn load_kubeconfig(options: &ClusterOptions) -> Result<Option<(Kubeconfig, Origin)>, String> {
    if let Some(path) = &options.kubeconfig {
        return match Kubeconfig::read_from(path) {
            Ok(k) => Ok(Some((k, Origin::Flag(path.clone())))),
            Err(e) if is_not_found(&e) => Err(format!(
                "the kubeconfig {} does not exist — check --kubeconfig, or {START_A_CLUSTER}",
                path.display()
            )),
            Err(e) => Err(format!(
                "cannot read the kubeconfig {}: {e}",
                path.display()
            )),
        };
    }
    let origin = match std::env::var("KUBECONFIG") {
        Ok(value) if !value.trim().is_empty() => Origin::Env(value),
        _ => Origin::Home,
    };
    match Kubeconfig::read() {
        Ok(k) => Ok(Some((k, origin))),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(format!("cannot read the kubeconfig {origin}: {e}")),
    }
}

fn is_not_found(e: &KubeconfigError) -> bool {
    match e {
        KubeconfigError::FindPath => true,
        KubeconfigError::ReadConfig(io, _) => io.kind() == std::io::ErrorKind::NotFound,
        _ => false,
    }
}

fn choose_context(
    kubeconfig: &Kubeconfig,
    wanted: Option<&str>,
    origin: &Origin,
) -> Result<String, String> {
    let names: Vec<&str> = kubeconfig
        .contexts
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    let available = if names.is_empty() {
        "it has no contexts".to_owned()
    } else {
        format!("available: {}", names.join(", "))
    };
    let name = match wanted.or(kubeconfig.current_context.as_deref()) {
        Some(name) if !name.is_empty() => name,
        _ => {
            return Err(format!(
                "the kubeconfig {origin} has no current context — pass --context ({available})"
            ));
        }
    };
    if !names.contains(&name) {
        return Err(format!(
            "the context `{name}` is not in the kubeconfig {origin} ({available})"
        ));
    }
    Ok(name.to_owned())
}

async fn config_from(
    kubeconfig: Kubeconfig,
    context: &str,
    origin: &Origin,
) -> Result<Config, String> {
    let options = KubeConfigOptions {
        context: Some(context.to_owned()),
        ..KubeConfigOptions::default()
    };
    // Reads local files only (certificates, token files); exec plugins run on the first request.
    Config::from_custom_kubeconfig(kubeconfig, &options)
        .await
        .map_err(|e| format!("the context `{context}` in the kubeconfig {origin} is unusable: {e}"))
}
