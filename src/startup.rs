//! Building the app from settings, serving it, and stopping it (used by the `serve` and `check`
//! commands and by the tests).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::cluster::{Cluster, ClusterOptions, QuotaSpec, ToolboxSpec};
use crate::engine::{Engine, TerminalConfig, TerminalLimits, TerminalMode};
use crate::labs::{self, LabSource};
use crate::store::Store;
use crate::web::limits::RateLimit;
use crate::web::{self, WebConfig};

/// Everything `kubelab serve` needs.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where to listen (port 0 for any free port).
    pub addr: SocketAddr,
    /// Progress database URL or path.
    pub database_url: String,
    /// Where the labs come from.
    pub labs: LabSource,
    /// How to reach the cluster.
    pub cluster: ClusterOptions,
    /// Workshop mode: learners join workshops and get their own namespace; instructor pages.
    pub workshop: bool,
    /// Mark every cookie `Secure` (`--secure-cookies`); without it only responses to requests
    /// a TLS proxy forwarded (`X-Forwarded-Proto: https`) do.
    pub secure_cookies: bool,
    /// Per-address limit on joins and instructor sign-ins (`--rate-limit-*`).
    pub rate_limit: RateLimit,
    /// The browser terminal: a local shell (`--terminal`), a toolbox per workshop learner, or
    /// none (see [`terminal_config`]).
    pub terminal: TerminalConfig,
    /// Workshop mode: the ResourceQuota of every learner namespace (`--learner-quota`).
    pub learner_quota: QuotaSpec,
}

/// The terminal a `kubelab serve` offers: in a workshop a toolbox per learner (`toolbox`);
/// locally, with `local_shell`, a pty running it (refused unless `addr` is loopback, since
/// whoever reaches the page gets the shell); otherwise none.
pub fn terminal_config(
    addr: SocketAddr,
    workshop: bool,
    local_shell: Option<Vec<String>>,
    toolbox: ToolboxSpec,
    limits: TerminalLimits,
) -> anyhow::Result<TerminalConfig> {
    let mode = match (workshop, local_shell) {
        (true, _) => TerminalMode::Toolbox(toolbox),
        (false, Some(shell)) => {
            if !addr.ip().is_loopback() {
                anyhow::bail!(
                    "--terminal gives whoever opens the page a shell on this machine, so it is \
                     only allowed when kubelab listens on a loopback address (such as \
                     127.0.0.1:8080), not on {addr}. For learners on other machines, run a \
                     workshop (--workshop): each learner gets a toolbox Pod in their own namespace."
                );
            }
            TerminalMode::Local { shell }
        }
        (false, None) => TerminalMode::Off,
    };
    Ok(TerminalConfig { mode, limits })
}

/// How often running workshops are checked for their end time.
pub const WORKSHOP_SWEEP: Duration = Duration::from_secs(60);

/// What [`instructor_credential`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InstructorCredential {
    /// The token given on the command line is now the credential.
    Given,
    /// None was given or stored: this one was generated and stored (print it once).
    Generated(String),
    /// None was given, and the one stored earlier stays valid.
    Existing,
}

/// Settles the instructor credential at start of a workshop server: `token` replaces the stored
/// one; without it, a new one is generated only when none is stored yet.
pub async fn instructor_credential(
    engine: &Engine,
    token: Option<&str>,
) -> anyhow::Result<InstructorCredential> {
    if let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) {
        if token.len() < 16 {
            anyhow::bail!("the instructor token must be at least 16 characters long");
        }
        engine
            .set_instructor_token(token)
            .await
            .context("storing the instructor token")?;
        return Ok(InstructorCredential::Given);
    }
    if engine
        .has_instructor()
        .await
        .context("reading the instructor credential")?
    {
        return Ok(InstructorCredential::Existing);
    }
    let token = crate::engine::new_token();
    engine
        .set_instructor_token(&token)
        .await
        .context("storing the instructor token")?;
    Ok(InstructorCredential::Generated(token))
}

/// A running kubelab server.
pub struct RunningApp {
    /// The address it listens on.
    pub addr: SocketAddr,
    /// Its engine (tests use it to inspect health).
    pub engine: Engine,
    shutdown: Option<oneshot::Sender<()>>,
    server: JoinHandle<std::io::Result<()>>,
    monitor: JoinHandle<()>,
    sweeper: Option<JoinHandle<()>>,
    reaper: Option<JoinHandle<()>>,
    isolation: Option<JoinHandle<()>>,
}

impl RunningApp {
    /// `http://ADDR`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops accepting connections, finishes in-flight requests and closes the database.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.monitor.abort();
        if let Some(sweeper) = &self.sweeper {
            sweeper.abort();
        }
        for task in [&self.reaper, &self.isolation].into_iter().flatten() {
            task.abort();
        }
        let _ = (&mut self.server).await;
        self.engine.store().close().await;
    }

    /// Serves until the server ends (Ctrl-C, see [`crate::startup::shutdown_signal`]).
    pub async fn wait(mut self) -> anyhow::Result<()> {
        let result = (&mut self.server).await;
        self.monitor.abort();
        if let Some(sweeper) = &self.sweeper {
            sweeper.abort();
        }
        for task in [&self.reaper, &self.isolation].into_iter().flatten() {
            task.abort();
        }
        self.engine.store().close().await;
        result
            .context("server task failed")?
            .context("server failed")
    }
}

/// Builds the engine: labs (validated), store, cluster handle.
pub async fn build_engine(
    labs_source: &LabSource,
    database_url: &str,
    cluster: &ClusterOptions,
) -> anyhow::Result<Engine> {
    let catalog = labs::load(labs_source)
        .map_err(|report| anyhow::anyhow!("the labs folder has problems:\n{report}"))?;
    let store = Store::open(database_url).await.with_context(|| {
        format!(
            "opening the progress database {}",
            crate::store::redacted_url(database_url)
        )
    })?;
    let cluster = Cluster::connect(cluster).await;
    Ok(Engine::new(Arc::new(catalog), cluster, store))
}

/// Starts the server; returns once it is listening.
pub async fn start(settings: Settings) -> anyhow::Result<RunningApp> {
    if let TerminalMode::Local { .. } = settings.terminal.mode
        && !settings.addr.ip().is_loopback()
    {
        anyhow::bail!(
            "a local terminal is only offered on a loopback address, not on {}",
            settings.addr
        );
    }
    let engine = build_engine(&settings.labs, &settings.database_url, &settings.cluster).await?;
    engine.configure_terminals(settings.terminal.clone());
    engine.configure_learner_quota(settings.learner_quota.clone());
    let listener = TcpListener::bind(settings.addr)
        .await
        .with_context(|| format!("cannot listen on {}", settings.addr))?;
    let addr = listener.local_addr().context("reading the bound address")?;
    let proposed: String = (0..64)
        .map(|_| format!("{:02x}", rand::random::<u8>()))
        .collect();
    let cookie_key = engine
        .cookie_key(&proposed)
        .await
        .context("reading the cookie-signing key from the database")?;
    let cookie_key = cookie_key.into_bytes();
    let config = WebConfig {
        cookie_key,
        loopback_only: addr.ip().is_loopback(),
        workshop: settings.workshop,
        secure_cookies: settings.secure_cookies,
        rate_limit: settings.rate_limit,
    };
    let live_streams = web::live::Shutdown::new();
    let app = web::router(engine.clone(), &config, live_streams.clone());
    let monitor = engine.spawn_health_monitor();
    let sweeper = settings
        .workshop
        .then(|| spawn_workshop_sweeper(engine.clone()));
    let reaper =
        (settings.terminal.mode != TerminalMode::Off).then(|| engine.spawn_terminal_reaper());
    let isolation = settings.workshop.then(|| engine.spawn_isolation_guard());
    let (tx, rx) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        web::serve::serve(listener, app, async move {
            tokio::select! {
                _ = rx => {}
                _ = shutdown_signal() => {}
            }
            // Open live streams never end by themselves; graceful shutdown waits for them.
            live_streams.trigger();
        })
        .await
    });
    tracing::info!(%addr, "kubelab is listening on http://{addr}");
    Ok(RunningApp {
        addr,
        engine,
        shutdown: Some(tx),
        server,
        monitor,
        sweeper,
        reaper,
        isolation,
    })
}

/// Ends workshops whose time is up, every [`WORKSHOP_SWEEP`] (their namespaces go with them).
fn spawn_workshop_sweeper(engine: Engine) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(WORKSHOP_SWEEP);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            match engine.end_expired_workshops().await {
                Ok(0) => {}
                Ok(ended) => tracing::info!(ended, "ended workshops whose time was up"),
                Err(e) => tracing::warn!(error = %e, "could not end expired workshops"),
            }
        }
    })
}

/// Resolves on Ctrl-C (or SIGTERM on Unix).
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = term => {}
    }
}
