//! Terminals in the browser: server-side shell sessions that outlive a page (re-attached after a
//! reload with their scrollback), bounded per learner, by input rate and idle time, ended with
//! the learner's workshop. A session's shell is a pty on the learner's own machine (local mode,
//! `--terminal`) or an exec into the learner's toolbox Pod (workshop mode); the web layer only
//! moves bytes between a WebSocket and a [`TerminalAttachment`].
//!
//! Every session logs one line when it starts and one when it ends (learner, times, bytes in
//! and out, why) — never what was typed.

mod local;
mod session;

pub use session::{InputOutcome, TerminalAttachment, TerminalEvent};

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use session::Term;

use super::{Engine, EngineError};
use crate::cluster::{Shell, ToolboxSpec};

/// Where terminals run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TerminalMode {
    /// No terminal is offered.
    #[default]
    Off,
    /// A pty on this machine running `shell` (the learner's `$SHELL`), for the laptop learner.
    Local {
        /// The program and its arguments.
        shell: Vec<String>,
    },
    /// An exec into each workshop learner's toolbox Pod, created on first use.
    Toolbox(ToolboxSpec),
}

/// The bounds every terminal lives within.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TerminalLimits {
    /// Terminals one learner may have at once.
    pub per_learner: usize,
    /// Bytes per second a terminal accepts from the browser, sustained.
    pub input_rate: u32,
    /// Bytes a terminal accepts in one burst (a paste).
    pub input_burst: u32,
    /// A terminal nobody typed in for this long ends.
    pub idle: Duration,
    /// A terminal no page is attached to ends after this long (a reload re-attaches sooner).
    pub linger: Duration,
    /// Output kept for a page that re-attaches.
    pub scrollback: usize,
    /// A toolbox without a terminal for this long is deleted (re-created on demand).
    pub toolbox_idle: Duration,
    /// How often the limits above are enforced.
    pub sweep: Duration,
}

impl Default for TerminalLimits {
    fn default() -> TerminalLimits {
        TerminalLimits {
            per_learner: 3,
            input_rate: 4096,
            input_burst: 64 * 1024,
            idle: Duration::from_secs(30 * 60),
            linger: Duration::from_secs(5 * 60),
            scrollback: 256 * 1024,
            toolbox_idle: Duration::from_secs(30 * 60),
            sweep: Duration::from_secs(5),
        }
    }
}

/// Terminal settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TerminalConfig {
    /// Where shells run.
    pub mode: TerminalMode,
    /// Bounds.
    pub limits: TerminalLimits,
}

/// The engine's terminals: settings, open sessions and when each toolbox was last used.
#[derive(Default)]
pub(crate) struct Terminals {
    config: RwLock<Arc<TerminalConfig>>,
    sessions: Mutex<HashMap<String, Arc<Term>>>,
    toolbox_used: Mutex<HashMap<String, Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Terminals {
    pub(crate) fn remove(&self, id: &str) {
        lock(&self.sessions).remove(id);
    }
}

impl Engine {
    /// Sets where terminals run and their bounds (before serving).
    pub fn configure_terminals(&self, config: TerminalConfig) {
        if let Ok(mut c) = self.inner.terminals.config.write() {
            *c = Arc::new(config);
        }
    }

    fn terminal_config(&self) -> Arc<TerminalConfig> {
        self.inner
            .terminals
            .config
            .read()
            .map(|c| c.clone())
            .unwrap_or_default()
    }

    /// Whether this learner is offered a terminal (local mode with `--terminal` for the laptop
    /// learner, a toolbox for a workshop learner).
    pub fn terminal_available(&self) -> bool {
        match self.terminal_config().mode {
            TerminalMode::Off => false,
            TerminalMode::Local { .. } => self.learner.namespace.is_none(),
            TerminalMode::Toolbox(_) => self.learner.namespace.is_some(),
        }
    }

    /// How many terminals are open (all learners).
    pub fn open_terminals(&self) -> usize {
        lock(&self.inner.terminals.sessions).len()
    }

    /// Attaches to this learner's terminal `resume` (with its scrollback) if it is still open,
    /// or opens a new one of `cols` × `rows` — refused when the learner has as many as allowed.
    /// A page attached to the same terminal before is detached.
    pub async fn open_terminal(
        &self,
        resume: Option<&str>,
        cols: u16,
        rows: u16,
    ) -> Result<TerminalAttachment, EngineError> {
        if !self.terminal_available() {
            return Err(EngineError::BadRequest(
                "this kubelab offers no terminal".into(),
            ));
        }
        if let Some(id) = resume {
            let existing = lock(&self.inner.terminals.sessions).get(id).cloned();
            if let Some(term) = existing.filter(|t| t.learner == self.learner.id) {
                return Ok(term.attach(true));
            }
        }
        let config = self.terminal_config();
        let mine = lock(&self.inner.terminals.sessions)
            .values()
            .filter(|t| t.learner == self.learner.id)
            .count();
        if mine >= config.limits.per_learner {
            return Err(EngineError::BadRequest(format!(
                "you already have {mine} terminals open, the most allowed; close one (type exit) \
                 or reuse it"
            )));
        }
        let shell = self.start_shell(&config.mode, cols, rows).await?;
        let term = Term::start(self, shell, &config.limits);
        lock(&self.inner.terminals.sessions).insert(term.id.clone(), term.clone());
        Ok(term.attach(false))
    }

    async fn start_shell(
        &self,
        mode: &TerminalMode,
        cols: u16,
        rows: u16,
    ) -> Result<Shell, EngineError> {
        match (mode, &self.learner.namespace) {
            (TerminalMode::Local { shell }, None) => local::spawn(shell, cols, rows)
                .map_err(|e| EngineError::BadRequest(format!("could not start a shell: {e}"))),
            (TerminalMode::Toolbox(spec), Some(namespace)) => {
                let cluster = &self.inner.cluster;
                self.touch_toolbox(namespace);
                cluster
                    .ensure_toolbox(namespace, &self.learner.id, spec)
                    .await?;
                Ok(cluster
                    .toolbox_shell(namespace, &self.learner.id, cols, rows)
                    .await?)
            }
            _ => Err(EngineError::BadRequest(
                "this kubelab offers no terminal".into(),
            )),
        }
    }

    fn touch_toolbox(&self, namespace: &str) {
        lock(&self.inner.terminals.toolbox_used).insert(namespace.to_owned(), Instant::now());
    }

    /// Ends every terminal of `learner_id` (their workshop ended, their session was revoked).
    pub fn end_terminals_of(&self, learner_id: &str, reason: &str) {
        let terms: Vec<Arc<Term>> = lock(&self.inner.terminals.sessions)
            .values()
            .filter(|t| t.learner == learner_id)
            .cloned()
            .collect();
        for term in terms {
            term.end(reason);
        }
    }

    /// Ends idle and abandoned terminals and deletes toolboxes nobody used for a while, every
    /// `limits.sweep` (terminal settings are read at each round).
    pub fn spawn_terminal_reaper(&self) -> tokio::task::JoinHandle<()> {
        let engine = self.clone();
        tokio::spawn(async move {
            loop {
                let config = engine.terminal_config();
                tokio::time::sleep(config.limits.sweep).await;
                engine.reap_terminals(&config.limits);
                if matches!(config.mode, TerminalMode::Toolbox(_))
                    && let Err(e) = engine.delete_idle_toolboxes(&config.limits).await
                {
                    tracing::warn!(error = %e, "could not delete idle toolboxes");
                }
            }
        })
    }

    fn reap_terminals(&self, limits: &TerminalLimits) {
        let terms: Vec<Arc<Term>> = lock(&self.inner.terminals.sessions)
            .values()
            .cloned()
            .collect();
        for term in terms {
            if let Some(reason) = term.expired(limits) {
                term.end(reason);
            } else if let Some(ns) = &term.namespace {
                self.touch_toolbox(ns);
            }
        }
    }

    /// Deletes toolboxes without a terminal for `limits.toolbox_idle` (ones found in the
    /// cluster but unknown to this process, after a restart, count from now); returns how many.
    pub async fn delete_idle_toolboxes(
        &self,
        limits: &TerminalLimits,
    ) -> Result<usize, EngineError> {
        let found = self.inner.cluster.toolboxes().await?;
        let idle: Vec<String> = {
            let mut used = lock(&self.inner.terminals.toolbox_used);
            let now = Instant::now();
            found
                .iter()
                .filter(|t| {
                    let last = *used.entry(t.namespace.clone()).or_insert(now);
                    now.duration_since(last) >= limits.toolbox_idle
                })
                .map(|t| t.namespace.clone())
                .collect()
        };
        let open: Vec<String> = lock(&self.inner.terminals.sessions)
            .values()
            .filter_map(|t| t.namespace.clone())
            .collect();
        let mut deleted = 0;
        for namespace in idle.into_iter().filter(|ns| !open.contains(ns)) {
            if self.inner.cluster.delete_toolbox(&namespace).await? {
                deleted += 1;
            }
            lock(&self.inner.terminals.toolbox_used).remove(&namespace);
        }
        Ok(deleted)
    }
}
