//! The command line as clap reads it: the subcommands and their arguments.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// kubelab: guided, self-checking Kubernetes labs.
#[derive(Debug, Parser)]
#[command(name = "kubelab", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the labs on the web.
    Serve(ServeArgs),
    /// Check a labs folder and print every problem with file and line.
    Validate {
        /// The labs folder (default: the labs built into this binary).
        dir: Option<PathBuf>,
    },
    /// Evaluate a lab's checks against the current cluster (exit 0 only when all pass).
    Check(CheckArgs),
}

/// Where the labs come from and how to reach the cluster (shared by `serve` and `check`).
#[derive(Debug, Args, Clone, Default)]
pub struct ClusterArgs {
    /// Serve labs from this folder instead of the ones built into the binary.
    #[arg(long, env = "KUBELAB_LABS")]
    pub labs: Option<PathBuf>,
    /// Kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, then in-cluster config).
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (default: the current context; colima's is `colima`).
    #[arg(long, env = "KUBELAB_CONTEXT")]
    pub context: Option<String>,
}

/// `kubelab serve`.
#[derive(Debug, Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "KUBELAB_ADDR", default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Progress database (`sqlite://PATH`; default: a file in the XDG data directory).
    #[arg(long, env = "KUBELAB_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Workshop mode: learners join a workshop with a code and each works in their own
    /// namespace; an instructor creates and follows workshops at /instructor.
    #[arg(long, env = "KUBELAB_WORKSHOP")]
    pub workshop: bool,
    /// Mark kubelab's cookies `Secure` (sent only over HTTPS): set it when learners reach
    /// kubelab through a TLS proxy that does not send `X-Forwarded-Proto: https` (requests
    /// that carry it get `Secure` cookies anyway).
    #[arg(long, env = "KUBELAB_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Joins and instructor sign-ins one address may make at once before it is slowed down
    /// (0: no limit).
    #[arg(long, env = "KUBELAB_RATE_LIMIT_BURST", default_value_t = 60)]
    pub rate_limit_burst: u32,
    /// Further attempts per second and address once the burst is spent (0: no limit).
    #[arg(long, env = "KUBELAB_RATE_LIMIT_PER_SECOND", default_value_t = 10)]
    pub rate_limit_per_second: u32,
    /// The instructor's credential in workshop mode (at least 16 characters; default: the one
    /// stored earlier, or a new one printed once).
    #[arg(long, env = "KUBELAB_INSTRUCTOR_TOKEN", hide_env_values = true)]
    pub instructor_token: Option<String>,
    /// Workshop mode: the API server's URL as learners reach it, written into their
    /// kubeconfigs instead of the one kubelab connects to (which, when kubelab runs in the
    /// cluster, is an in-cluster address). https, or http only to a loopback address.
    #[arg(long, env = "KUBELAB_PUBLIC_API_SERVER", value_name = "URL")]
    pub public_api_server: Option<String>,
    /// Workshop mode: PEM file with the CA certificate(s) learners' kubectl trusts for
    /// --public-api-server (default: the CA of kubelab's own connection).
    #[arg(
        long,
        env = "KUBELAB_PUBLIC_API_SERVER_CA",
        value_name = "FILE",
        requires = "public_api_server"
    )]
    pub public_api_server_ca: Option<PathBuf>,
    /// Workshop mode: changes one entry of every learner namespace's ResourceQuota, as
    /// NAME=VALUE (repeatable): `pods=20`, `requests.cpu=4`, `requests.storage=10Gi`,
    /// `count/deployments.apps=20`... (defaults leave room for every lab and the toolbox;
    /// `services.nodeports` and `services.loadbalancers` are 0).
    #[arg(
        long = "learner-quota",
        env = "KUBELAB_LEARNER_QUOTA",
        value_name = "NAME=VALUE",
        value_delimiter = ','
    )]
    pub learner_quota: Vec<String>,
    /// Terminal in the browser.
    #[command(flatten)]
    pub terminal: TerminalArgs,
    /// Labs and cluster.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

/// The browser terminal's settings (`kubelab serve`).
#[derive(Debug, Args, Clone)]
pub struct TerminalArgs {
    /// Local mode: offer a terminal in the browser running your `$SHELL` on this machine.
    /// Only allowed when listening on a loopback address (anyone reaching the page gets the
    /// shell). Workshops always offer their learners a toolbox terminal instead.
    #[arg(long, env = "KUBELAB_TERMINAL")]
    pub terminal: bool,
    /// Workshop mode: the toolbox image for learners' terminals (needs bash and kubectl; see
    /// deploy/toolbox/).
    #[arg(long, env = "KUBELAB_TOOLBOX_IMAGE", default_value = crate::cluster::DEFAULT_TOOLBOX_IMAGE)]
    pub toolbox_image: String,
    /// Workshop mode: minutes a toolbox Pod may go without a terminal before it is deleted
    /// (re-created on the next use).
    #[arg(long, env = "KUBELAB_TOOLBOX_IDLE_MINUTES", default_value_t = 30)]
    pub toolbox_idle_minutes: u64,
    /// Minutes a terminal nobody types in stays open.
    #[arg(long, env = "KUBELAB_TERMINAL_IDLE_MINUTES", default_value_t = 30)]
    pub terminal_idle_minutes: u64,
    /// Terminals one learner may have open at once.
    #[arg(long, env = "KUBELAB_TERMINALS_PER_LEARNER", default_value_t = 3)]
    pub terminals_per_learner: usize,
}

impl ServeArgs {
    /// The learner quota: the defaults with each `--learner-quota` applied; an unknown entry or
    /// a malformed value is refused, saying which.
    pub fn learner_quota(&self) -> Result<crate::cluster::QuotaSpec, String> {
        let mut quota = crate::cluster::QuotaSpec::default();
        for entry in &self.learner_quota {
            let (name, value) = entry.split_once('=').ok_or_else(|| {
                format!("--learner-quota takes NAME=VALUE (like pods=20), not {entry:?}")
            })?;
            quota.set(name.trim(), value)?;
        }
        Ok(quota)
    }
}

/// `kubelab check`.
#[derive(Debug, Args, Clone)]
pub struct CheckArgs {
    /// The lab's id (its folder name).
    pub lab: String,
    /// Only this step (default: every step).
    #[arg(long)]
    pub step: Option<String>,
    /// Print the verdicts as JSON.
    #[arg(long)]
    pub json: bool,
    /// An answer to a question check, as `CHECK_ID=ANSWER` (repeatable).
    #[arg(long = "answer", value_name = "CHECK_ID=ANSWER")]
    pub answers: Vec<String>,
    /// The progress database `kubelab serve` uses, read for when you started each step
    /// (`since: step` checks count from there); default: the XDG data directory's, if it exists.
    #[arg(long, env = "KUBELAB_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Labs and cluster.
    #[command(flatten)]
    pub cluster: ClusterArgs,
}

impl ServeArgs {
    /// The per-address limit the flags ask for.
    pub fn rate_limit(&self) -> crate::web::limits::RateLimit {
        if self.rate_limit_burst == 0 || self.rate_limit_per_second == 0 {
            return crate::web::limits::RateLimit::unlimited();
        }
        crate::web::limits::RateLimit {
            burst: self.rate_limit_burst,
            period: std::time::Duration::from_secs(1) / self.rate_limit_per_second,
        }
    }
}

impl CheckArgs {
    /// The `--answer` values by check id; a value without `=` is refused, saying which.
    pub fn answers(&self) -> Result<std::collections::BTreeMap<String, String>, String> {
        self.answers
            .iter()
            .map(|a| match a.split_once('=') {
                Some((id, answer)) if !id.trim().is_empty() => {
                    Ok((id.trim().to_owned(), answer.to_owned()))
                }
                _ => Err(format!("--answer {a:?} is not CHECK_ID=ANSWER")),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    fn serve(args: &[&str]) -> ServeArgs {
        let mut all = vec!["kubelab", "serve"];
        all.extend(args);
        match Cli::try_parse_from(all).expect("parses").command {
            Command::Serve(serve) => serve,
            _ => panic!("not serve"),
        }
    }

    #[test]
    fn learner_quota_entries_change_the_defaults_and_bad_ones_are_named() {
        let quota = serve(&[
            "--learner-quota",
            "pods=20,count/jobs.batch=3",
            "--learner-quota",
            "requests.storage=10Gi",
        ])
        .learner_quota()
        .expect("valid");
        assert_eq!(quota.pods, 20);
        assert_eq!(quota.counts["count/jobs.batch"], 3);
        assert_eq!(quota.requests_storage, "10Gi");
        assert_eq!(quota.node_ports, 0);
        let bad = serve(&["--learner-quota", "pods"]).learner_quota();
        assert!(bad.unwrap_err().contains("NAME=VALUE"));
        let unknown = serve(&["--learner-quota", "gpus=1"]).learner_quota();
        assert!(unknown.unwrap_err().contains("\"gpus\""));
    }
}
