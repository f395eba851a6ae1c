//! Exec into the simulator's Pods over WebSocket, as the API server relays it from a kubelet
//! (recordings 108-122): the API server's checks (options, Pod, container, node, upgrade), the
//! kubelet's (a running container), the runtime's subprotocol handshake (`v4.channel.k8s.io` on
//! 1.28, a bare 403 for a v5-only offer; `v5.channel.k8s.io` preferred on newer nodes) and the
//! binary channel framing: one empty "ready" message, output, a `Status` on channel 3, close
//! 1000. A command that cannot start still upgrades and fails on channel 3. Interactive tty
//! sessions are in `terminal.rs`; the default command interpreter is in `interpreter.rs`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ws::{Message, WebSocket};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::Response;
use serde_json::{Value, json};

use super::Shared;
use super::state::{self, ApiError, ObjKey, bad_request, not_found, status};

/// One exec request that reached a running container.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecCall {
    /// The Pod's namespace.
    pub namespace: String,
    /// The Pod's name.
    pub pod: String,
    /// The container (the one asked for, or the Pod's default container).
    pub container: String,
    /// The command and its arguments (`command=` query parameters in order).
    pub command: Vec<String>,
    /// What the client wrote on stdin before closing it, for a non-tty command that reads its
    /// input (`cat`, `sh` without `-c`); `None` otherwise. Only v5 can close stdin: on a v4
    /// connection such a command waits until the client goes away.
    pub stdin: Option<String>,
}

/// What the "container" answers to an exec.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecReply {
    /// Bytes written to stdout (channel 1).
    pub stdout: String,
    /// Bytes written to stderr (channel 2).
    pub stderr: String,
    /// The process's exit code (0: `Success` status; otherwise `NonZeroExitCode`).
    pub exit_code: i32,
    /// How long the process runs before it answers (longer than a client's timeout = a hang).
    pub delay: Duration,
    /// The runtime could not start the process (this text): the upgrade still succeeds and
    /// channel 3 carries an `InternalError` (recording 118) instead of an exit code.
    pub start_error: Option<String>,
}

impl ExecReply {
    /// Exit code 0 with this stdout.
    pub fn ok(stdout: impl Into<String>) -> ExecReply {
        ExecReply {
            stdout: stdout.into(),
            ..ExecReply::default()
        }
    }

    /// A failure with this stderr and exit code.
    pub fn fail(stderr: impl Into<String>, exit_code: i32) -> ExecReply {
        ExecReply {
            stderr: stderr.into(),
            exit_code,
            ..ExecReply::default()
        }
    }

    /// The runtime's refusal to start `program`, which does not exist (recording 118).
    pub fn cannot_start(program: &str) -> ExecReply {
        let exec_id: String = (0..4).map(|_| state::uid().replace('-', "")).collect();
        ExecReply {
            start_error: Some(format!(
                "error executing command in container: failed to exec in container: failed to start exec \"{}\": OCI runtime exec failed: exec failed: unable to start container process: exec: \"{program}\": executable file not found in $PATH: unknown",
                &exec_id[..64]
            )),
            ..ExecReply::default()
        }
    }
}

/// A test-registered exec handler.
pub type ExecHandler = Arc<dyn Fn(ExecCall) -> ExecReply + Send + Sync>;

/// Which exec WebSocket subprotocols the simulated node accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExecProtocols {
    /// Kubernetes 1.28 (recordings 116-122): `v4.channel.k8s.io` only; an offer without it gets
    /// a bare `403 Forbidden`.
    #[default]
    Kube128,
    /// Kubernetes 1.30 and later (colima's current k3s): `v5.channel.k8s.io` preferred (stdin
    /// can be half-closed on channel 255), `v4.channel.k8s.io` still accepted.
    Kube130,
}

impl ExecProtocols {
    /// The subprotocols accepted.
    pub fn accepted(self) -> &'static [&'static str] {
        match self {
            ExecProtocols::Kube128 => &["v4.channel.k8s.io"],
            ExecProtocols::Kube130 => &["v5.channel.k8s.io", "v4.channel.k8s.io"],
        }
    }
}

/// A terminal size sent on channel 4 (`{"Width":100,"Height":30}`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TerminalSize {
    /// Columns.
    pub width: u16,
    /// Rows.
    pub height: u16,
}

/// What the fake saw of one exec session, for tests (`FakeApi::exec_sessions`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExecSession {
    /// The request.
    pub call: ExecCall,
    /// The negotiated subprotocol.
    pub protocol: String,
    /// Whether a tty was requested.
    pub tty: bool,
    /// Whether stdin was requested.
    pub stdin: bool,
    /// Terminal sizes the client sent on channel 4, in order.
    pub resizes: Vec<TerminalSize>,
    /// Everything the client wrote on stdin.
    pub input: String,
    /// Whether the client half-closed stdin (v5 only).
    pub stdin_closed: bool,
    /// The exit status sent on channel 3.
    pub status: Option<Value>,
    /// Whether the session is over.
    pub ended: bool,
}

/// The repeated `command=` parameters of a raw query string, decoded, in order.
pub fn commands(query: Option<&str>) -> Vec<String> {
    query
        .unwrap_or("")
        .split('&')
        .filter_map(|p| p.split_once('='))
        .filter(|(k, _)| *k == "command")
        .map(|(_, v)| super::server::decode(v))
        .collect()
}

/// The status frame (channel 3) for a finished command (a JSON Status without kind/apiVersion).
pub fn status_json(reply: &ExecReply, command: &[String]) -> Value {
    if let Some(err) = &reply.start_error {
        return json!({"metadata": {}, "status": "Failure",
            "message": format!("Internal error occurred: {err}"), "reason": "InternalError",
            "details": {"causes": [{"message": err}]}, "code": 500});
    }
    if reply.exit_code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    let code = reply.exit_code;
    json!({"metadata": {}, "status": "Failure",
        "message": format!("command terminated with non-zero exit code: error executing command [{}], exit code {code}", command.join(" ")),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}})
}

/// A binary message: the channel byte, then the data.
pub fn frame(channel: u8, data: &[u8]) -> Message {
    let mut v = Vec::with_capacity(data.len() + 1);
    v.push(channel);
    v.extend_from_slice(data);
    Message::Binary(v.into())
}

/// The first offered subprotocol (client order, as the runtime's handshake picks) that the
/// node accepts.
pub fn negotiate(headers: &HeaderMap, protocols: ExecProtocols) -> Option<&'static str> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .find_map(|offered| {
            protocols
                .accepted()
                .iter()
                .find(|p| **p == offered)
                .copied()
        })
}

/// Everything a session task needs.
pub struct Session {
    /// The fake (handler, state, session records).
    pub shared: Arc<Shared>,
    /// Index of this session in the records.
    pub index: usize,
    /// The request.
    pub call: ExecCall,
    /// The negotiated subprotocol.
    pub protocol: &'static str,
    /// Requested streams.
    pub stdin: bool,
    /// Requested streams.
    pub stdout: bool,
    /// Requested streams (always false with a tty).
    pub stderr: bool,
    /// Whether a tty was requested.
    pub tty: bool,
}

/// What the client sent.
pub enum Incoming {
    /// Bytes on stdin.
    Stdin(Vec<u8>),
    /// A resize (its size is in the session's record).
    Resize,
    /// The client half-closed stdin (v5, channel 255).
    StdinClosed,
    /// The client closed the connection or it broke.
    Gone,
    /// Something else (pings, unknown channels).
    Other,
}

impl Session {
    /// Updates this session's record.
    pub fn record(&self, f: impl FnOnce(&mut ExecSession)) {
        let mut sessions = self
            .shared
            .exec_sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Some(s) = sessions.get_mut(self.index) {
            f(s);
        }
    }

    /// The empty message on the lowest requested output channel that tells the client the
    /// streams are ready (the kubelet's `createWebSocketStreams`).
    pub async fn ready(&self, socket: &mut WebSocket) -> bool {
        let channel = if self.stdout {
            1
        } else if self.stderr {
            2
        } else {
            3
        };
        socket.send(frame(channel, &[])).await.is_ok()
    }

    /// Reads one client message and records what it said.
    pub async fn receive(&self, socket: &mut WebSocket) -> Incoming {
        let msg = match socket.recv().await {
            None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return Incoming::Gone,
            Some(Ok(Message::Binary(b))) => b,
            Some(Ok(_)) => return Incoming::Other,
        };
        match (msg.first(), &msg[1.min(msg.len())..]) {
            (Some(0), data) => {
                let text = String::from_utf8_lossy(data).into_owned();
                self.record(|s| s.input.push_str(&text));
                Incoming::Stdin(data.to_vec())
            }
            (Some(4), data) => {
                let v: Value = serde_json::from_slice(data).unwrap_or(Value::Null);
                let size = TerminalSize {
                    width: v["Width"].as_u64().unwrap_or(0) as u16,
                    height: v["Height"].as_u64().unwrap_or(0) as u16,
                };
                self.record(|s| s.resizes.push(size));
                Incoming::Resize
            }
            (Some(255), [0]) if self.protocol.starts_with("v5") => {
                self.record(|s| s.stdin_closed = true);
                Incoming::StdinClosed
            }
            _ => Incoming::Other,
        }
    }

    /// The reply of the test's handler, or of the default interpreter.
    pub fn reply(&self, call: &ExecCall) -> ExecReply {
        let handler = self
            .shared
            .exec_handler
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match handler {
            Some(h) => h(call.clone()),
            None => self
                .shared
                .with_state(|s| super::server::default_exec(s, call)),
        }
    }

    /// Sends the exit status and the close frame, and records them.
    pub async fn finish(&self, socket: &mut WebSocket, reply: &ExecReply) {
        let status = status_json(reply, &self.call.command);
        self.record(|s| {
            s.status = Some(status.clone());
            s.ended = true;
        });
        if socket
            .send(frame(3, status.to_string().as_bytes()))
            .await
            .is_ok()
        {
            let _ = socket
                .send(Message::Close(Some(axum::extract::ws::CloseFrame {
                    code: 1000,
                    reason: "".into(),
                })))
                .await;
        }
    }
}

/// A tty turns `\n` into `\r\n` on output.
pub fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

/// Runs a non-interactive session: ready frame, stdin until closed (for commands that read
/// it), the command's run time, its output, the status, close.
pub async fn serve(mut socket: WebSocket, session: Session) {
    if !session.ready(&mut socket).await {
        return;
    }
    let mut call = session.call.clone();
    if session.stdin && !session.tty && super::interpreter::reads_stdin(&call.command) {
        let mut input = Vec::new();
        loop {
            match session.receive(&mut socket).await {
                Incoming::Stdin(data) => input.extend(data),
                Incoming::StdinClosed => break,
                Incoming::Gone => return,
                _ => {}
            }
        }
        call.stdin = Some(String::from_utf8_lossy(&input).into_owned());
    }
    let reply = session.reply(&call);
    if reply.start_error.is_none() && !reply.delay.is_zero() {
        // A client that gives up closes the socket; stop waiting then.
        let sleep = tokio::time::sleep(reply.delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => break,
                msg = session.receive(&mut socket) => if let Incoming::Gone = msg {
                    session.record(|s| s.ended = true);
                    return;
                },
            }
        }
    }
    if reply.start_error.is_none() {
        let (out, err) = if session.tty {
            (crlf(&reply.stdout), crlf(&reply.stderr))
        } else {
            (reply.stdout.clone(), reply.stderr.clone())
        };
        // With a tty, stdout and stderr are one stream.
        let streams = if session.tty {
            vec![(1, out + &err)]
        } else {
            vec![(1, out), (2, err)]
        };
        for (channel, text) in streams {
            let wanted = if channel == 1 {
                session.stdout
            } else {
                session.stderr
            };
            if wanted
                && !text.is_empty()
                && socket.send(frame(channel, text.as_bytes())).await.is_err()
            {
                return;
            }
        }
    }
    session.finish(&mut socket, &reply).await;
}

fn flag(query: &BTreeMap<String, String>, k: &str) -> bool {
    query.get(k).is_some_and(|v| v == "true" || v == "1")
}

/// The kubelet's own refusal, relayed verbatim: plain text, not a Status (recording 120).
fn kubelet_refusal(code: StatusCode, text: &str) -> Response {
    Response::builder()
        .status(code)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(Body::from(text.to_string()))
        .unwrap_or_default()
}

/// The container an exec or log request names (or the Pod's only one), as the API server
/// checks it (recordings 121, 153).
pub fn pick_container(pod: &Value, name: &str, asked: Option<&String>) -> Result<String, ApiError> {
    let names: Vec<String> = pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|c| c["name"].as_str().map(String::from))
        .collect();
    match asked.filter(|c| !c.is_empty()) {
        Some(c) if names.contains(c) => Ok(c.clone()),
        Some(c) => Err(bad_request(&format!(
            "container {c} is not valid for pod {name}"
        ))),
        None if names.len() == 1 => Ok(names[0].clone()),
        None => Err(bad_request(&format!(
            "a container name must be specified for pod {name}, choose one of: [{}]",
            names.join(" ")
        ))),
    }
}

/// The 500 the API server answers when it cannot reach the node's kubelet (recording 108).
pub fn dial_error(node: &str) -> ApiError {
    status(
        500,
        "",
        &format!("error dialing backend: dial tcp: lookup {node} on 192.0.2.53:53: no such host"),
        None,
    )
}

/// `pods/exec`: the API server's checks in its order, the kubelet's, the runtime's handshake,
/// then a session.
pub async fn request(
    shared: &Arc<Shared>,
    parts: &mut axum::http::request::Parts,
    ns: &str,
    name: &str,
    query: &BTreeMap<String, String>,
) -> Result<Response, ApiError> {
    use axum::extract::FromRequestParts;
    use axum::extract::ws::WebSocketUpgrade;

    if !matches!(parts.method, Method::GET | Method::POST) {
        return Err(status(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource",
            Some(json!({})),
        ));
    }
    let command = commands(parts.uri.query());
    if command.is_empty() {
        return Err(bad_request("you must specify at least 1 command"));
    }
    let res = state::resource("v1", "Pod");
    let (pod, sim_node, simulate, protocols) = shared.with_state(|s| {
        (
            s.get(&ObjKey::new(&res, ns, name)).cloned(),
            s.sim_node.clone(),
            s.simulate,
            s.exec_protocols,
        )
    });
    let pod = pod.ok_or_else(|| not_found(&res, name))?;
    let container = pick_container(&pod, name, query.get("container"))?;
    let node = pod["spec"]["nodeName"].as_str().unwrap_or("").to_string();
    if node.is_empty() {
        return Err(bad_request(&format!(
            "pod {name} does not have a host assigned"
        )));
    }
    let upgrade = parts
        .headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if upgrade.is_empty() {
        return Err(bad_request("Upgrade request required"));
    }
    if !simulate || node != sim_node {
        return Err(dial_error(&node));
    }
    let running = pod["status"]["containerStatuses"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["name"] == container.as_str() && c["state"]["running"].is_object());
    if !running {
        return Ok(kubelet_refusal(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("container not found (\"{container}\")"),
        ));
    }
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return Err(bad_request(
            "the fake API server streams exec over WebSocket only, not SPDY",
        ));
    }
    let Some(protocol) = negotiate(&parts.headers, protocols) else {
        // The runtime's streaming server refuses the handshake: no body, no Status (122).
        return Ok(Response::builder()
            .status(StatusCode::FORBIDDEN)
            .header(header::CONNECTION, "close")
            .body(Body::empty())
            .unwrap_or_default());
    };
    // The API server accepts POST upgrades too; the WebSocket handshake itself is method-agnostic.
    parts.method = Method::GET;
    let ws = WebSocketUpgrade::from_request_parts(parts, &())
        .await
        .map_err(|e| bad_request(&e.body_text()))?
        .protocols([protocol]);
    let tty = flag(query, "tty");
    let call = ExecCall {
        namespace: ns.to_string(),
        pod: name.to_string(),
        container,
        command,
        stdin: None,
    };
    let index = {
        let mut sessions = shared
            .exec_sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        sessions.push(ExecSession {
            call: call.clone(),
            protocol: protocol.to_string(),
            tty,
            stdin: flag(query, "stdin"),
            ..ExecSession::default()
        });
        sessions.len() - 1
    };
    let session = Session {
        shared: shared.clone(),
        index,
        call,
        protocol,
        stdin: flag(query, "stdin"),
        stdout: flag(query, "stdout"),
        // The kubelet drops stderr when a tty is asked for (it is the same stream).
        stderr: flag(query, "stderr") && !tty,
        tty,
    };
    let interactive = session.tty && session.stdin && super::terminal::is_shell(&session.call);
    Ok(ws.on_upgrade(move |socket| async move {
        if interactive {
            super::terminal::serve(socket, session).await;
        } else {
            serve(socket, session).await;
        }
    }))
}
