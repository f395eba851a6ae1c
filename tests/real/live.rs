//! The live stream as a browser reads it: `GET /labs/{lab}/events` (Server-Sent Events), parsed
//! into events, to see a real `kubectl` change reach an open page without any Check.

use std::time::{Duration, Instant};

use crate::app::TestApp;

/// One Server-Sent Event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    /// `event:` (`step`, `objects`, `cluster`, `shutdown`; empty for a comment-only block).
    pub name: String,
    /// `data:` lines joined by newlines.
    pub data: String,
}

impl SseEvent {
    /// For a `step` event, the step it is about (`data-step="…"`).
    pub fn step(&self) -> Option<&str> {
        if self.name != "step" {
            return None;
        }
        let start = self.data.find("data-step=\"")? + "data-step=\"".len();
        self.data[start..].split('"').next()
    }

    /// A `step` event's content without its evaluation time, to tell a new verdict from a
    /// re-sent one.
    fn verdict_part(&self) -> String {
        match self.data.find("data-checked-at=\"") {
            Some(at) => {
                let rest = &self.data[at + "data-checked-at=\"".len()..];
                let after = rest.split_once('"').map_or("", |(_, a)| a);
                format!("{}{after}", &self.data[..at])
            }
            None => self.data.clone(),
        }
    }
}

/// An open live stream of one lab.
pub struct LiveFeed {
    response: reqwest::Response,
    buffer: String,
}

impl LiveFeed {
    /// Opens `GET /labs/{lab}/events` as the lab page does.
    pub async fn open(app: &TestApp, lab: &str) -> LiveFeed {
        let response = app
            .client
            .get(format!("{}/labs/{lab}/events", app.url))
            .header("accept", "text/event-stream")
            .send()
            .await
            .expect("GET events");
        assert_eq!(response.status().as_u16(), 200, "live stream of {lab}");
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        assert!(
            content_type.starts_with("text/event-stream"),
            "{content_type}"
        );
        LiveFeed {
            response,
            buffer: String::new(),
        }
    }

    /// The next event, or `None` when none came before `deadline` (or the stream ended).
    pub async fn next(&mut self, deadline: Instant) -> Option<SseEvent> {
        loop {
            let normalized = self.buffer.replace("\r\n", "\n");
            if let Some(end) = normalized.find("\n\n") {
                let block = normalized[..end].to_owned();
                self.buffer = normalized[end + 2..].to_owned();
                if let Some(event) = parse(&block) {
                    return Some(event);
                }
                continue;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.response.chunk()).await {
                Ok(Ok(Some(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }

    /// Reads until the stream has been quiet for `quiet` (at most `limit`): the state a page
    /// shows now. Returns the last `step` event of `step`, if any.
    pub async fn settle(
        &mut self,
        step: &str,
        quiet: Duration,
        limit: Duration,
    ) -> Option<SseEvent> {
        let until = Instant::now() + limit;
        let mut last = None;
        loop {
            let deadline = (Instant::now() + quiet).min(until);
            match self.next(deadline).await {
                Some(event) if event.step() == Some(step) => last = Some(event),
                Some(_) => {}
                None => return last,
            }
            if Instant::now() >= until {
                return last;
            }
        }
    }

    /// Waits up to `within` for a `step` event of `step` whose verdicts differ from `before`.
    pub async fn changed(
        &mut self,
        step: &str,
        before: Option<&SseEvent>,
        within: Duration,
    ) -> Option<SseEvent> {
        let deadline = Instant::now() + within;
        let before = before.map(SseEvent::verdict_part);
        while let Some(event) = self.next(deadline).await {
            if event.step() == Some(step) && before.as_deref() != Some(&event.verdict_part()) {
                return Some(event);
            }
        }
        None
    }
}

fn parse(block: &str) -> Option<SseEvent> {
    let mut name = String::new();
    let mut data: Vec<&str> = Vec::new();
    for line in block.lines() {
        if let Some(v) = line.strip_prefix("event:") {
            name = v.trim().to_owned();
        } else if let Some(v) = line.strip_prefix("data:") {
            data.push(v.strip_prefix(' ').unwrap_or(v));
        }
    }
    (!name.is_empty() || !data.is_empty()).then(|| SseEvent {
        name,
        data: data.join("\n"),
    })
}
