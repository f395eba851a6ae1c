//! The browser terminal's WebSocket: `GET /terminal/socket?csrf=TOKEN[&session=ID][&cols=C&rows=R]`.
//!
//! A WebSocket handshake is a GET a page on another site could start (browsers send cookies
//! with it), so the socket checks what a state-changing form would: the `Origin` must be this
//! server, the CSRF token (from the page's `<meta>`) must match the signed cookie, and in a
//! workshop the learner session cookie must name a running workshop (instructors and anonymous
//! visitors are refused). While open, the learner's session is re-checked every
//! [`REVALIDATE`]; the engine ends the terminals itself when the workshop ends.
//!
//! Messages: binary frames carry terminal bytes both ways. The browser sends text
//! `{"type":"resize","cols":C,"rows":R}` and `{"type":"close"}`; the server sends text
//! `{"type":"attached","id":ID,"resumed":BOOL}` (then the scrollback as one binary frame),
//! `{"type":"notice","text":...}` (input dropped by the rate limit), and before closing
//! `{"type":"ended","reason":...}`, `{"type":"detached"}` (opened in another page) or
//! `{"type":"reattach"}` (fell behind: connect again with the same id).

use std::time::Duration;

use axum::Router;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Deserialize;
use serde_json::json;

use super::AppState;
use super::csrf::CsrfToken;
use super::learner::{current_session, session_token};
use super::live::Shutdown;
use crate::engine::{Engine, InputOutcome, TerminalAttachment, TerminalEvent};

/// How often an open terminal re-checks the learner's workshop session.
pub const REVALIDATE: Duration = Duration::from_secs(15);
/// Largest message the browser may send (a paste); larger ones close the socket.
pub const MAX_MESSAGE: usize = 64 * 1024;

/// The terminal's routes (added to the page router, inside its CSRF layer).
pub fn routes() -> Router<AppState> {
    Router::new().route("/terminal/socket", get(socket))
}

/// The socket's query.
#[derive(Debug, Deserialize)]
pub struct SocketQuery {
    csrf: Option<String>,
    session: Option<String>,
    cols: Option<u16>,
    rows: Option<u16>,
}

fn refuse(status: StatusCode, why: &str) -> Response {
    (status, why.to_owned()).into_response()
}

/// Whether the handshake comes from a page of this server: an `Origin` naming this `Host`, and
/// no `Sec-Fetch-Site: cross-site`.
fn same_origin(headers: &HeaderMap) -> bool {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if get("sec-fetch-site") == Some("cross-site") {
        return false;
    }
    let (Some(origin), Some(host)) = (get(header::ORIGIN.as_str()), get(header::HOST.as_str()))
    else {
        return false;
    };
    origin
        .split_once("://")
        .is_some_and(|(scheme, rest)| matches!(scheme, "http" | "https") && rest == host)
}

fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

/// Who is opening a terminal: the engine acting for them, and their session token to re-check
/// (workshop mode).
async fn learner(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(Engine, Option<String>), Response> {
    if !state.workshop {
        return Ok((state.engine.clone(), None));
    }
    match current_session(&state.engine, headers).await {
        Ok(Some(session)) => Ok((
            state.engine.for_record(&session.learner),
            session_token(headers),
        )),
        Ok(None) => Err(refuse(
            StatusCode::UNAUTHORIZED,
            "join the workshop first: the terminal is for its learners",
        )),
        Err(e) => {
            tracing::error!(error = %e, "could not read a learner session for a terminal");
            Err(refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                "could not read your session",
            ))
        }
    }
}

/// `GET /terminal/socket`: checks origin, CSRF token and session, then upgrades.
pub async fn socket(
    State(state): State<AppState>,
    CsrfToken(expected): CsrfToken,
    Query(query): Query<SocketQuery>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    if !same_origin(&headers) {
        return refuse(
            StatusCode::FORBIDDEN,
            "the terminal opens only from this server's own pages",
        );
    }
    if !query
        .csrf
        .as_deref()
        .is_some_and(|t| same_token(t, &expected))
    {
        return refuse(
            StatusCode::FORBIDDEN,
            "the security token does not match (reload the page)",
        );
    }
    let (engine, token) = match learner(&state, &headers).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    if !engine.terminal_available() {
        return refuse(StatusCode::NOT_FOUND, "this kubelab offers no terminal");
    }
    let cols = query.cols.unwrap_or(80);
    let rows = query.rows.unwrap_or(24);
    let resume = query.session.filter(|s| s.len() <= 64);
    let shutdown = state.shutdown.clone();
    let root = state.engine.clone();
    ws.max_message_size(MAX_MESSAGE)
        .on_upgrade(move |mut socket| async move {
            let attachment = match engine.open_terminal(resume.as_deref(), cols, rows).await {
                Ok(a) => a,
                Err(e) => {
                    let _ = send_end(
                        &mut socket,
                        json!({"type": "ended", "reason": e.to_string()}),
                    )
                    .await;
                    return;
                }
            };
            let guard = token.map(|t| (root, t, engine.learner().id.clone()));
            run(socket, attachment, guard, shutdown).await;
        })
}

async fn send_text(socket: &mut WebSocket, value: serde_json::Value) -> bool {
    socket
        .send(Message::Text(value.to_string().into()))
        .await
        .is_ok()
}

async fn send_end(socket: &mut WebSocket, value: serde_json::Value) -> bool {
    let sent = send_text(socket, value).await;
    let _ = socket
        .send(Message::Close(Some(CloseFrame {
            code: 1000,
            reason: "".into(),
        })))
        .await;
    sent
}

/// A text message from the browser.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
enum Control {
    Resize { cols: u16, rows: u16 },
    Close,
}

/// What the loop does after one browser message.
enum Step {
    Continue,
    Stop,
}

async fn from_browser(
    socket: &mut WebSocket,
    attachment: &TerminalAttachment,
    message: Option<Result<Message, axum::Error>>,
) -> Step {
    match message {
        Some(Ok(Message::Binary(bytes))) => match attachment.input(&bytes).await {
            InputOutcome::Sent | InputOutcome::Ended => Step::Continue,
            InputOutcome::Limited(dropped) => {
                let text = format!(
                    "kubelab dropped {dropped} bytes of input: too much at once (paste less)"
                );
                if send_text(socket, json!({"type": "notice", "text": text})).await {
                    Step::Continue
                } else {
                    Step::Stop
                }
            }
        },
        Some(Ok(Message::Text(text))) => {
            match serde_json::from_str::<Control>(&text) {
                Ok(Control::Resize { cols, rows }) => attachment.resize(cols, rows).await,
                Ok(Control::Close) => attachment.close(),
                Err(_) => {}
            }
            Step::Continue
        }
        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => Step::Stop,
        Some(Ok(_)) => Step::Continue,
    }
}

/// Moves bytes between the socket and the terminal until either ends.
async fn run(
    mut socket: WebSocket,
    mut attachment: TerminalAttachment,
    guard: Option<(Engine, String, String)>,
    shutdown: Shutdown,
) {
    let hello = json!({"type": "attached", "id": attachment.id, "resumed": attachment.resumed});
    if !send_text(&mut socket, hello).await {
        return;
    }
    let scrollback = std::mem::take(&mut attachment.scrollback);
    if !scrollback.is_empty()
        && socket
            .send(Message::Binary(scrollback.into()))
            .await
            .is_err()
    {
        return;
    }
    let mut revalidate = tokio::time::interval(REVALIDATE);
    revalidate.tick().await;
    let stopping = shutdown.wait();
    tokio::pin!(stopping);
    loop {
        tokio::select! {
            event = attachment.next() => {
                let end = match event {
                    TerminalEvent::Output(bytes) => {
                        if socket.send(Message::Binary(bytes.into())).await.is_err() {
                            return;
                        }
                        continue;
                    }
                    TerminalEvent::Ended(reason) => json!({"type": "ended", "reason": reason}),
                    TerminalEvent::TakenOver => json!({"type": "detached"}),
                    TerminalEvent::Lagged => json!({"type": "reattach"}),
                };
                send_end(&mut socket, end).await;
                return;
            }
            message = socket.recv() => {
                if let Step::Stop = from_browser(&mut socket, &attachment, message).await {
                    return;
                }
            }
            _ = revalidate.tick(), if guard.is_some() => {
                if let Some((engine, token, learner)) = &guard
                    && matches!(engine.session(token).await, Ok(None))
                {
                    engine.end_terminals_of(learner, "your workshop session ended");
                }
            }
            () = &mut stopping => {
                send_end(&mut socket, json!({"type": "reattach"})).await;
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_this_servers_pages_may_open_a_terminal() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, "127.0.0.1:8080".parse().unwrap());
        assert!(!same_origin(&h), "no Origin");
        h.insert(header::ORIGIN, "http://127.0.0.1:8080".parse().unwrap());
        assert!(same_origin(&h));
        h.insert(header::ORIGIN, "http://evil.example".parse().unwrap());
        assert!(!same_origin(&h));
        h.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(!same_origin(&h));
    }
}
