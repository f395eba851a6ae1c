//! The lab page's live feed: `GET /labs/{lab}/events`, Server-Sent Events rendered on the
//! server as HTML fragments the page swaps in (see `static/app.js`).
//!
//! | event | data |
//! |---|---|
//! | `step` | `<div class="live-step" data-step data-state>` around the same result panel and badge the Check button swaps in |
//! | `objects` | the live table of the lab's objects (kind, name, status, age) |
//! | `cluster` | the `.connection` indicator: live, reconnecting to the cluster, no cluster |
//! | `reset` | a notice: the lab was reset elsewhere; the page reloads its steps |
//! | `shutdown` | empty: kubelab is stopping; the browser reconnects by itself |
//! | `ended` | a notice: the learner's workshop ended (or they were removed); the stream ends for good |
//!
//! A new connection (and a reconnection after a server restart) starts with the state now, so
//! the page resynchronizes; a subscriber that fell behind resubscribes and gets it again.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use askama::Template;
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use tokio::sync::{broadcast, watch};

use super::error::WebError;
use super::extract::Path;
use super::lang::UiLang;
use super::learner::LearnerEngine;
use super::ui_strings::{Ui, ui};
use super::view::{LiveObjectRow, ResultView, age_text, rfc3339, seconds_since_text};
use crate::engine::{Engine, Health, LiveEvent, ObjectSummary, StepReport, WatchState};
use crate::i18n::Lang;

/// How often an idle stream sends a comment, so proxies and browsers keep it open.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// How soon the browser reconnects after losing the stream (a server restart).
pub const BROWSER_RETRY: Duration = Duration::from_secs(2);
/// The longest pause before resubscribing when the engine closed a lab's channel.
const MAX_PAUSE: Duration = Duration::from_secs(30);
/// How often a workshop learner's stream asks whether the workshop still runs (an end on this
/// replica closes it at once; this catches expiry and the other replicas).
pub const SESSION_CHECK: Duration = Duration::from_secs(10);

/// Tells long-lived responses (the live streams) that the server is stopping, so graceful
/// shutdown does not wait for browsers to hang up.
#[derive(Clone, Debug)]
pub struct Shutdown {
    tx: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    /// A signal not triggered yet.
    pub fn new() -> Shutdown {
        Shutdown {
            tx: Arc::new(watch::channel(false).0),
        }
    }

    /// Ends every live stream (call when graceful shutdown starts).
    pub fn trigger(&self) {
        self.tx.send_replace(true);
    }

    /// Resolves once [`Shutdown::trigger`] was called (startup calls it on Ctrl-C / SIGTERM and
    /// on `RunningApp::stop`).
    pub(crate) fn wait(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.tx.subscribe();
        async move {
            let _ = rx.wait_for(|stopping| *stopping).await;
        }
    }
}

/// The `step` event's data.
#[derive(Template)]
#[template(path = "live_step.html")]
struct LiveStep {
    t: &'static Ui,
    step_id: String,
    state: &'static str,
    checked_at: String,
    r: ResultView,
}

/// The `objects` event's data (also rendered empty in the page).
#[derive(Template)]
#[template(path = "live_objects.html")]
pub struct LiveObjects {
    /// UI strings.
    pub t: &'static Ui,
    /// One row per object.
    pub rows: Vec<LiveObjectRow>,
}

/// The `cluster` event's data.
#[derive(Template)]
#[template(path = "connection.html")]
pub struct Connection {
    /// `connecting`, `live`, `reconnecting`, `unavailable`.
    pub state: &'static str,
    /// Localized label.
    pub label: &'static str,
    /// Why, when not live.
    pub message: String,
}

impl Connection {
    /// The indicator before the stream says anything.
    pub fn connecting(t: &'static Ui) -> Connection {
        Connection {
            state: "connecting",
            label: t.conn_connecting,
            message: String::new(),
        }
    }
}

/// `GET /labs/{lab}/events`: the lab's live feed.
pub async fn events(
    State(shutdown): State<Shutdown>,
    learner: LearnerEngine,
    UiLang(lang): UiLang,
    Path(lab_id): Path<String>,
) -> Result<Response, WebError> {
    learner.lab_or_404(&lab_id)?;
    let feed = Feed {
        engine: learner.engine,
        lab: lab_id,
        lang,
        queue: VecDeque::from([Event::default()
            .retry(BROWSER_RETRY)
            .comment("kubelab live feed")]),
        receiver: None,
        pause: Duration::from_secs(1),
        shutdown: Box::pin(shutdown.wait()),
        done: false,
        learner: learner.session.as_ref().map(|s| s.learner.id.clone()),
        session_due: tokio::time::Instant::now() + SESSION_CHECK,
    };
    let stream = futures::stream::unfold(feed, Feed::next);
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response();
    // Reverse proxies (nginx) must pass events on as they come.
    response.headers_mut().insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    Ok(response)
}

/// One browser's feed: rendered events waiting to be sent, and the engine subscription.
struct Feed {
    engine: Engine,
    lab: String,
    lang: Lang,
    queue: VecDeque<Event>,
    receiver: Option<broadcast::Receiver<LiveEvent>>,
    pause: Duration,
    shutdown: Pin<Box<dyn Future<Output = ()> + Send>>,
    done: bool,
    /// The workshop learner the stream is for (`None` on a laptop).
    learner: Option<String>,
    /// When to ask next whether the learner's workshop still runs.
    session_due: tokio::time::Instant,
}

/// What woke a waiting feed.
enum Wake {
    Shutdown,
    SessionCheck,
    Received(Result<LiveEvent, broadcast::error::RecvError>),
}

impl Feed {
    /// The next SSE event; `None` ends the response (server shutdown).
    async fn next(mut self) -> Option<(Result<Event, Infallible>, Feed)> {
        loop {
            if let Some(event) = self.queue.pop_front() {
                return Some((Ok(event), self));
            }
            if self.done {
                return None;
            }
            let Some(receiver) = self.receiver.as_mut() else {
                self.subscribe().await;
                continue;
            };
            let in_workshop = self.learner.is_some();
            let wake = tokio::select! {
                _ = &mut self.shutdown => Wake::Shutdown,
                _ = tokio::time::sleep_until(self.session_due), if in_workshop => Wake::SessionCheck,
                received = receiver.recv() => Wake::Received(received),
            };
            match wake {
                Wake::Shutdown => self.stop(),
                Wake::SessionCheck => self.check_session().await,
                Wake::Received(Ok(event)) => self.push(event),
                Wake::Received(Err(broadcast::error::RecvError::Lagged(missed))) => {
                    // Resubscribing sends the whole state again, which replaces what was missed.
                    tracing::debug!(lab = %self.lab, missed, "live feed lagged; resynchronizing");
                    self.receiver = None;
                }
                Wake::Received(Err(broadcast::error::RecvError::Closed)) => {
                    self.receiver = None;
                    // Ending a workshop closes its learners' channels: say so rather than
                    // resubscribe.
                    self.check_session().await;
                    if !self.done {
                        self.wait_a_little().await;
                    }
                }
            }
        }
    }

    /// Subscribes and queues the state now; on failure, says so and waits before retrying.
    async fn subscribe(&mut self) {
        match self.engine.subscribe(&self.lab).await {
            Ok(subscription) => {
                self.pause = Duration::from_secs(1);
                if !subscription
                    .initial
                    .iter()
                    .any(|e| matches!(e, LiveEvent::Cluster { .. }))
                    && let Some(event) = self.cluster_from_health()
                {
                    self.push(event);
                }
                for event in subscription.initial {
                    self.push(event);
                }
                self.receiver = Some(subscription.receiver);
            }
            Err(e) => {
                tracing::warn!(lab = %self.lab, error = %e, "live feed: cannot subscribe");
                self.push(LiveEvent::Cluster {
                    state: WatchState::Unavailable,
                    message: Some(e.to_string()),
                });
                self.wait_a_little().await;
            }
        }
    }

    /// The connection state from the engine's cached health, when the engine's initial
    /// events do not say it themselves.
    fn cluster_from_health(&self) -> Option<LiveEvent> {
        match self.engine.health() {
            Health::Unknown => None,
            Health::Reachable { .. } => Some(LiveEvent::Cluster {
                state: WatchState::Live,
                message: None,
            }),
            Health::Unreachable { message } => Some(LiveEvent::Cluster {
                state: WatchState::Unavailable,
                message: Some(message),
            }),
        }
    }

    /// Waits (growing up to [`MAX_PAUSE`]) unless the server stops meanwhile.
    async fn wait_a_little(&mut self) {
        let pause = self.pause;
        self.pause = (self.pause * 2).min(MAX_PAUSE);
        tokio::select! {
            _ = &mut self.shutdown => self.stop(),
            _ = tokio::time::sleep(pause) => {}
        }
    }

    /// Ends the stream with an `ended` notice when the learner's workshop no longer runs (or
    /// they were removed from it). A store failure keeps the stream: it is asked again later.
    async fn check_session(&mut self) {
        let Some(learner) = &self.learner else {
            return;
        };
        self.session_due = tokio::time::Instant::now() + SESSION_CHECK;
        match self.engine.learner_active(learner).await {
            Ok(true) => {}
            Ok(false) => {
                self.done = true;
                self.receiver = None;
                self.queue.push_back(
                    Event::default()
                        .event("ended")
                        .data(ui(self.lang).workshop_ended_live),
                );
            }
            Err(e) => {
                tracing::warn!(%learner, error = %e, "live feed: cannot tell whether the workshop still runs");
            }
        }
    }

    fn stop(&mut self) {
        self.done = true;
        self.receiver = None;
        self.queue
            .push_back(Event::default().event("shutdown").data("stopping"));
    }

    fn push(&mut self, event: LiveEvent) {
        let t = ui(self.lang);
        let rendered = match &event {
            LiveEvent::Step(report) => self.step_event(t, report),
            LiveEvent::Objects { lab, objects } if *lab == self.lab => {
                render("objects", &objects_view(t, objects))
            }
            LiveEvent::Objects { .. } => None,
            LiveEvent::Cluster { state, message } => {
                render("cluster", &connection_view(t, *state, message.as_deref()))
            }
            // The page fetches itself again: every step is back to the start.
            LiveEvent::Reset { lab } if *lab == self.lab => {
                Some(Event::default().event("reset").data(t.reset_elsewhere))
            }
            LiveEvent::Reset { .. } => None,
        };
        if let Some(event) = rendered {
            self.queue.push_back(event);
        }
    }

    fn step_event(&self, t: &'static Ui, report: &StepReport) -> Option<Event> {
        let known = report.lab == self.lab
            && self
                .engine
                .catalog()
                .lab(&self.lab)
                .is_some_and(|lab| lab.step(&report.step).is_some());
        if !known {
            return None;
        }
        render(
            "step",
            &LiveStep {
                t,
                step_id: report.step.clone(),
                state: report.state.as_str(),
                checked_at: rfc3339(report.checked_at),
                r: ResultView::from_check(t, self.lang, report),
            },
        )
    }
}

fn render(name: &'static str, template: &impl Template) -> Option<Event> {
    match template.render() {
        Ok(html) => Some(Event::default().event(name).data(html)),
        Err(e) => {
            tracing::error!(error = %e, event = name, "a live fragment failed to render");
            None
        }
    }
}

/// The live table's rows.
pub fn objects_view(t: &'static Ui, objects: &[ObjectSummary]) -> LiveObjects {
    LiveObjects {
        t,
        rows: objects
            .iter()
            .map(|o| LiveObjectRow {
                kind: o.kind.clone(),
                name: o.name.clone(),
                namespace: o.namespace.clone().unwrap_or_default(),
                status: o.status.clone(),
                created: o.created.clone().unwrap_or_default(),
                age: o
                    .created
                    .as_deref()
                    .and_then(seconds_since_text)
                    .map(age_text)
                    .unwrap_or_default(),
            })
            .collect(),
    }
}

/// The connection indicator for a watch state.
pub fn connection_view(t: &'static Ui, state: WatchState, message: Option<&str>) -> Connection {
    let (state, label) = match state {
        WatchState::Live => ("live", t.conn_live),
        WatchState::Reconnecting => ("reconnecting", t.conn_reconnecting),
        WatchState::Unavailable => ("unavailable", t.conn_unavailable),
    };
    Connection {
        state,
        label,
        message: message.unwrap_or_default().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_render_in_both_languages() {
        let objects = [ObjectSummary {
            kind: "Pod".into(),
            namespace: Some("demo".into()),
            name: "web-1".into(),
            status: "Running 1/1".into(),
            created: Some("2020-01-01T00:00:00Z".into()),
        }];
        let html = objects_view(ui(Lang::En), &objects)
            .render()
            .expect("renders");
        assert!(
            html.contains("title=\"demo/web-1\"><code>web-1</code>"),
            "{html}"
        );
        assert!(html.contains("Running 1/1"));
        assert!(html.contains("data-created=\"2020-01-01T00:00:00Z\""));
        let empty = objects_view(ui(Lang::Zh), &[]).render().expect("renders");
        assert!(empty.contains("本实验的对象还不存在"), "{empty}");
        let c = connection_view(ui(Lang::Zh), WatchState::Reconnecting, Some("watch failed"))
            .render()
            .expect("renders");
        assert!(c.contains("connection-reconnecting"), "{c}");
        assert!(c.contains("正在重新连接集群"), "{c}");
        assert!(c.contains("watch failed"), "{c}");
    }
}
