//! One terminal session: its shell, scrollback, the page attached to it, input accounting, and
//! its end (with the one log line that records it).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, Weak};
use std::time::Instant;

use time::OffsetDateTime;
use tokio::sync::{broadcast, mpsc, watch};

use super::{Engine, TerminalLimits, lock};
use crate::cluster::{Shell, ShellInput};

/// Output chunks buffered for a slow page before it is told to re-attach.
const OUTPUT_BACKLOG: usize = 1024;

/// Who is attached and whether the session is over.
#[derive(Debug, Clone, Default)]
struct Phase {
    /// Bumped by each attach; an attachment whose generation is older was taken over.
    generation: u64,
    /// Why the session ended.
    ended: Option<String>,
}

struct Counters {
    scrollback: VecDeque<u8>,
    scrollback_cap: usize,
    attached: bool,
    detached_at: Instant,
    last_input: Instant,
    bytes_in: u64,
    bytes_out: u64,
    tokens: f64,
    refilled: Instant,
}

/// A running terminal session (shared by the hub, its pump and attachments).
pub(crate) struct Term {
    pub(crate) id: String,
    pub(crate) learner: String,
    pub(crate) namespace: Option<String>,
    started: OffsetDateTime,
    input: Mutex<Option<mpsc::Sender<ShellInput>>>,
    output: broadcast::Sender<Vec<u8>>,
    phase: watch::Sender<Phase>,
    counters: Mutex<Counters>,
    rate: f64,
    burst: f64,
    hub: Weak<super::super::Inner>,
}

/// What happened on an attached terminal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminalEvent {
    /// The shell wrote this.
    Output(Vec<u8>),
    /// Another page attached to this terminal.
    TakenOver,
    /// The page fell too far behind; it should re-attach (it gets the scrollback again).
    Lagged,
    /// The session ended, for this reason.
    Ended(String),
}

/// What became of input sent to a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputOutcome {
    /// All of it went to the shell.
    Sent,
    /// The input rate limit dropped this many bytes (the rest went to the shell).
    Limited(usize),
    /// The session is over.
    Ended,
}

/// A page attached to a terminal session. Dropping it detaches the page; the session lives on
/// for `linger` so that a reload finds it again.
pub struct TerminalAttachment {
    /// The session's id, for re-attaching.
    pub id: String,
    /// Whether this re-attached to a session that was already open.
    pub resumed: bool,
    /// What the terminal showed before this page attached (the newest output, bounded).
    pub scrollback: Vec<u8>,
    output: broadcast::Receiver<Vec<u8>>,
    phase: watch::Receiver<Phase>,
    generation: u64,
    term: Arc<Term>,
}

fn new_id() -> String {
    let bytes: [u8; 16] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Term {
    /// Registers a session around `shell` and starts pumping its output.
    pub(crate) fn start(engine: &Engine, shell: Shell, limits: &TerminalLimits) -> Arc<Term> {
        let Shell { input, mut output } = shell;
        let now = Instant::now();
        let term = Arc::new(Term {
            id: new_id(),
            learner: engine.learner.id.clone(),
            namespace: engine.learner.namespace.clone(),
            started: OffsetDateTime::now_utc(),
            input: Mutex::new(Some(input)),
            output: broadcast::channel(OUTPUT_BACKLOG).0,
            phase: watch::channel(Phase::default()).0,
            counters: Mutex::new(Counters {
                scrollback: VecDeque::new(),
                scrollback_cap: limits.scrollback,
                attached: false,
                detached_at: now,
                last_input: now,
                bytes_in: 0,
                bytes_out: 0,
                tokens: f64::from(limits.input_burst),
                refilled: now,
            }),
            rate: f64::from(limits.input_rate),
            burst: f64::from(limits.input_burst),
            hub: Arc::downgrade(&engine.inner),
        });
        tracing::info!(
            learner = %term.learner,
            terminal = %term.id,
            namespace = term.namespace.as_deref().unwrap_or("-"),
            "terminal session started"
        );
        let pump = term.clone();
        tokio::spawn(async move {
            while let Some(chunk) = output.recv().await {
                pump.record_output(chunk);
            }
            pump.end("the shell exited");
        });
        term
    }

    fn record_output(&self, chunk: Vec<u8>) {
        let mut c = lock(&self.counters);
        c.bytes_out += chunk.len() as u64;
        c.scrollback.extend(chunk.iter().copied());
        let excess = c.scrollback.len().saturating_sub(c.scrollback_cap);
        c.scrollback.drain(..excess);
        // Sent under the lock, so an attach sees each chunk exactly once: in its scrollback
        // snapshot or on its receiver.
        let _ = self.output.send(chunk);
    }

    /// A new attachment; an earlier one is taken over.
    pub(crate) fn attach(self: &Arc<Term>, resumed: bool) -> TerminalAttachment {
        let mut c = lock(&self.counters);
        c.attached = true;
        let scrollback: Vec<u8> = c.scrollback.iter().copied().collect();
        let output = self.output.subscribe();
        drop(c);
        let mut generation = 0;
        self.phase.send_modify(|p| {
            p.generation += 1;
            generation = p.generation;
        });
        TerminalAttachment {
            id: self.id.clone(),
            resumed,
            scrollback,
            output,
            phase: self.phase.subscribe(),
            generation,
            term: self.clone(),
        }
    }

    /// Why the session should end now, if it should.
    pub(crate) fn expired(&self, limits: &TerminalLimits) -> Option<&'static str> {
        let c = lock(&self.counters);
        if c.last_input.elapsed() >= limits.idle {
            return Some("nothing was typed for too long (idle timeout)");
        }
        if !c.attached && c.detached_at.elapsed() >= limits.linger {
            return Some("no page was attached for too long");
        }
        None
    }

    /// Ends the session (once): the shell is hung up, attached pages are told why, one log
    /// line records it.
    pub(crate) fn end(&self, reason: &str) {
        let mut first = false;
        self.phase.send_if_modified(|p| {
            first = p.ended.is_none();
            if first {
                p.ended = Some(reason.to_owned());
            }
            first
        });
        if !first {
            return;
        }
        lock(&self.input).take();
        if let Some(hub) = self.hub.upgrade() {
            hub.terminals.remove(&self.id);
        }
        let c = lock(&self.counters);
        let ended = OffsetDateTime::now_utc();
        tracing::info!(
            learner = %self.learner,
            terminal = %self.id,
            namespace = self.namespace.as_deref().unwrap_or("-"),
            started = %self.started,
            ended = %ended,
            seconds = (ended - self.started).whole_seconds(),
            bytes_in = c.bytes_in,
            bytes_out = c.bytes_out,
            reason,
            "terminal session ended"
        );
    }

    /// Takes what the rate limit allows of `len` bytes now.
    fn admit(&self, len: usize) -> usize {
        let mut c = lock(&self.counters);
        let now = Instant::now();
        let refill = now.duration_since(c.refilled).as_secs_f64() * self.rate;
        c.tokens = (c.tokens + refill).min(self.burst);
        c.refilled = now;
        let allowed = (c.tokens.floor() as usize).min(len);
        c.tokens -= allowed as f64;
        c.bytes_in += allowed as u64;
        c.last_input = now;
        allowed
    }
}

impl TerminalAttachment {
    /// The next thing that happens on this terminal.
    pub async fn next(&mut self) -> TerminalEvent {
        loop {
            {
                let phase = self.phase.borrow_and_update();
                if let Some(reason) = &phase.ended {
                    return TerminalEvent::Ended(reason.clone());
                }
                if phase.generation != self.generation {
                    return TerminalEvent::TakenOver;
                }
            }
            tokio::select! {
                chunk = self.output.recv() => match chunk {
                    Ok(chunk) => return TerminalEvent::Output(chunk),
                    Err(broadcast::error::RecvError::Lagged(_)) => return TerminalEvent::Lagged,
                    Err(broadcast::error::RecvError::Closed) => {
                        return TerminalEvent::Ended("the shell exited".into());
                    }
                },
                changed = self.phase.changed() => if changed.is_err() {
                    return TerminalEvent::Ended("the shell exited".into());
                },
            }
        }
    }

    /// Sends typed bytes to the shell, within the input rate limit.
    pub async fn input(&self, bytes: &[u8]) -> InputOutcome {
        let allowed = self.term.admit(bytes.len());
        let sender = lock(&self.term.input).clone();
        let Some(sender) = sender else {
            return InputOutcome::Ended;
        };
        if allowed > 0
            && sender
                .send(ShellInput::Bytes(bytes[..allowed].to_vec()))
                .await
                .is_err()
        {
            return InputOutcome::Ended;
        }
        if allowed < bytes.len() {
            InputOutcome::Limited(bytes.len() - allowed)
        } else {
            InputOutcome::Sent
        }
    }

    /// Tells the shell the terminal's new size.
    pub async fn resize(&self, cols: u16, rows: u16) {
        let sender = lock(&self.term.input).clone();
        if let Some(sender) = sender {
            let cols = cols.clamp(2, 1000);
            let rows = rows.clamp(1, 1000);
            let _ = sender.send(ShellInput::Resize { cols, rows }).await;
        }
    }

    /// Ends the session (the page's "close terminal").
    pub fn close(&self) {
        self.term.end("closed by the learner");
    }
}

impl Drop for TerminalAttachment {
    fn drop(&mut self) {
        if self.phase.borrow().generation == self.generation {
            let mut c = lock(&self.term.counters);
            c.attached = false;
            c.detached_at = Instant::now();
        }
    }
}
