//! A test client for an API server — the fake or a real kube-apiserver (one "side" of the
//! differential test) — reached through a kube-rs client built from a kubeconfig, with raw HTTP,
//! streaming (watch, log follow) and exec WebSocket helpers that keep status codes, headers and
//! bodies exactly as the server sent them.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body as AxumBody;
use futures::{SinkExt, StreamExt};
use http::{HeaderMap, Request};
use hyper_util::rt::TokioIo;
use kube::config::{KubeConfigOptions, Kubeconfig};
use serde_json::{Value, json};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::Role;

use super::FakeApi;

/// The User-Agent of every request: the server derives the default field manager from it.
pub const USER_AGENT: &str = "kubelab-diff/1.0";

/// A server answer: status, headers and the body (JSON when it parses, else text, or `null`).
#[derive(Debug, Clone)]
pub struct Answer {
    /// HTTP status code.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Value,
}

impl Answer {
    /// A header's value ("" when absent).
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }
}

/// One side: which server, a client for it and, for the fake, its test hooks.
#[derive(Clone)]
pub struct Side {
    /// `fake` or `real`.
    pub name: &'static str,
    /// The client (admin credentials from the kubeconfig, or a ServiceAccount token).
    pub client: kube::Client,
    /// The kubeconfig, to derive clients with other tokens.
    kubeconfig: Kubeconfig,
    /// The namespace every scenario works in (the same name on both sides).
    pub ns: String,
    /// The fake's hooks (`None` on the real cluster).
    pub fake: Option<Arc<FakeApi>>,
}

async fn client_for(kubeconfig: &Kubeconfig) -> kube::Client {
    let mut config = kube::Config::from_custom_kubeconfig(
        kubeconfig.clone(),
        &KubeConfigOptions {
            context: std::env::var("KUBELAB_CONTEXT").ok(),
            ..KubeConfigOptions::default()
        },
    )
    .await
    .expect("a kube-rs config from the kubeconfig");
    // Exec and graceful deletion wait on the server; reads must not cut them short.
    config.read_timeout = Some(Duration::from_secs(120));
    kube::Client::try_from(config).expect("a kube-rs client")
}

impl Side {
    /// A side for the server `kubeconfig` points at.
    pub async fn new(
        name: &'static str,
        kubeconfig: &Path,
        ns: &str,
        fake: Option<Arc<FakeApi>>,
    ) -> Side {
        let kubeconfig = Kubeconfig::read_from(kubeconfig).expect("readable kubeconfig");
        Side {
            name,
            client: client_for(&kubeconfig).await,
            kubeconfig,
            ns: ns.to_string(),
            fake,
        }
    }

    /// The same server, authenticating with `token` instead.
    pub async fn with_token(&self, token: &str) -> Side {
        let mut kubeconfig = self.kubeconfig.clone();
        let auth: kube::config::AuthInfo =
            serde_json::from_value(json!({"token": token})).expect("an AuthInfo with a token");
        for named in &mut kubeconfig.auth_infos {
            named.auth_info = Some(auth.clone());
        }
        Side {
            client: client_for(&kubeconfig).await,
            kubeconfig,
            ..self.clone()
        }
    }

    /// Sends one request and reads the whole answer.
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: Option<String>,
    ) -> Answer {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("User-Agent", USER_AGENT)
            .header("Accept", "application/json");
        if let Some(ct) = content_type {
            req = req.header("Content-Type", ct);
        }
        let req = req
            .body(kube::client::Body::from(
                body.unwrap_or_default().into_bytes(),
            ))
            .expect("a request");
        self.send(req, method, path).await
    }

    async fn send(&self, req: Request<kube::client::Body>, method: &str, path: &str) -> Answer {
        let res = self
            .client
            .send(req)
            .await
            .unwrap_or_else(|e| panic!("{} {method} {path}: {e}", self.name));
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(AxumBody::new(res.into_body()), 64 * 1024 * 1024)
            .await
            .unwrap_or_default();
        Answer {
            status,
            headers,
            body: parse_body(&bytes),
        }
    }

    /// `GET path`.
    pub async fn get(&self, path: &str) -> Answer {
        self.call("GET", path, None, None).await
    }

    /// A bodiless request with its own `Accept` header.
    pub async fn call_accept(&self, method: &str, path: &str, accept: &str) -> Answer {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header("User-Agent", USER_AGENT)
            .header("Accept", accept)
            .body(kube::client::Body::empty())
            .expect("a request");
        self.send(req, method, path).await
    }

    /// `POST path` with a JSON body.
    pub async fn post(&self, path: &str, body: &Value) -> Answer {
        self.call(
            "POST",
            path,
            Some("application/json"),
            Some(body.to_string()),
        )
        .await
    }

    /// `DELETE path`.
    pub async fn delete(&self, path: &str) -> Answer {
        self.call("DELETE", path, None, None).await
    }

    /// Server-side apply of `body` (JSON, as kubectl sends it) to `path` with `query`.
    pub async fn apply(&self, path: &str, query: &str, body: &Value) -> Answer {
        self.call(
            "PATCH",
            &format!("{path}?{query}"),
            Some("application/apply-patch+yaml"),
            Some(body.to_string()),
        )
        .await
    }

    /// A merge patch.
    pub async fn merge_patch(&self, path: &str, body: &Value) -> Answer {
        self.call(
            "PATCH",
            path,
            Some("application/merge-patch+json"),
            Some(body.to_string()),
        )
        .await
    }

    /// Polls `GET path` until `ready` holds (or `limit` passes) and returns the last answer.
    pub async fn wait_until(
        &self,
        path: &str,
        limit: Duration,
        ready: impl Fn(&Answer) -> bool,
    ) -> Answer {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let answer = self.get(path).await;
            if ready(&answer) || tokio::time::Instant::now() >= deadline {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Repeats `POST path` with `body` until `ready` holds (or `limit` passes) and returns the
    /// last answer (for computed kinds whose answer follows a change a moment later).
    pub async fn post_until(
        &self,
        path: &str,
        body: &Value,
        limit: Duration,
        ready: impl Fn(&Answer) -> bool,
    ) -> Answer {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            let answer = self.post(path, body).await;
            if ready(&answer) || tokio::time::Instant::now() >= deadline {
                return answer;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Opens a watch (`path` with its query), runs `during` while it is open and returns every
    /// event the server sent until it ended the stream itself (`timeoutSeconds`).
    pub async fn watch<F: Future<Output = ()>>(&self, path: &str, during: F) -> (u16, Vec<Value>) {
        let (status, text) = self.stream(path, during).await;
        let events = text
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect();
        (status, events)
    }

    /// Opens a streamed GET (a watch, `follow=true` logs), runs `during` while it is open and
    /// returns everything received until the server ended the stream.
    pub async fn stream<F: Future<Output = ()>>(&self, path: &str, during: F) -> (u16, String) {
        let req = Request::builder()
            .method("GET")
            .uri(path)
            .header("User-Agent", USER_AGENT)
            .body(kube::client::Body::empty())
            .expect("a streamed request");
        let res = self
            .client
            .send(req)
            .await
            .unwrap_or_else(|e| panic!("{} stream {path}: {e}", self.name));
        let status = res.status().as_u16();
        let mut stream = AxumBody::new(res.into_body()).into_data_stream();
        let collect = async {
            let mut buf = Vec::new();
            while let Some(Ok(chunk)) = stream.next().await {
                buf.extend_from_slice(&chunk);
            }
            String::from_utf8_lossy(&buf).into_owned()
        };
        let (text, ()) = tokio::join!(collect, during);
        (status, text)
    }

    /// Starts a WebSocket exec/attach request offering `protocols` (one
    /// `Sec-WebSocket-Protocol` header, comma-separated as client-go and kube-rs send it).
    pub async fn websocket(&self, path: &str, protocols: &str) -> Result<Ws, Answer> {
        use base64::Engine;
        let key: [u8; 16] = rand::random();
        let key = base64::engine::general_purpose::STANDARD.encode(key);
        let req = Request::builder()
            .method("GET")
            .uri(path)
            .header("User-Agent", USER_AGENT)
            .header("Connection", "Upgrade")
            .header("Upgrade", "websocket")
            .header("Sec-WebSocket-Version", "13")
            .header("Sec-WebSocket-Key", key.as_str())
            .header("Sec-WebSocket-Protocol", protocols)
            .body(kube::client::Body::empty())
            .expect("an upgrade request");
        let res = self
            .client
            .send(req)
            .await
            .unwrap_or_else(|e| panic!("{} websocket {path}: {e}", self.name));
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        if status != 101 {
            let bytes = axum::body::to_bytes(AxumBody::new(res.into_body()), 1024 * 1024)
                .await
                .unwrap_or_default();
            return Err(Answer {
                status,
                headers,
                body: parse_body(&bytes),
            });
        }
        let upgraded = hyper::upgrade::on(res)
            .await
            .unwrap_or_else(|e| panic!("{} upgrade {path}: {e}", self.name));
        let stream =
            WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Client, None).await;
        Ok(Ws {
            headers,
            stream,
            received: Vec::new(),
            close: None,
        })
    }
}

fn parse_body(bytes: &[u8]) -> Value {
    if bytes.is_empty() {
        return Value::Null;
    }
    serde_json::from_slice(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// An open exec WebSocket: what arrived so far, and how the server closed it.
pub struct Ws {
    /// The 101's headers.
    pub headers: HeaderMap,
    stream: WebSocketStream<TokioIo<hyper::upgrade::Upgraded>>,
    /// Data messages received: (channel, bytes after the channel byte).
    pub received: Vec<(u8, Vec<u8>)>,
    /// The server's close code, once it closed.
    pub close: Option<u16>,
}

impl Ws {
    /// The negotiated subprotocol.
    pub fn protocol(&self) -> String {
        self.headers
            .get("Sec-WebSocket-Protocol")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string()
    }

    /// Sends `data` on `channel`.
    pub async fn send(&mut self, channel: u8, data: &[u8]) {
        let mut frame = vec![channel];
        frame.extend_from_slice(data);
        self.stream
            .send(Message::binary(frame))
            .await
            .expect("send a WebSocket frame");
    }

    /// Reads until the stdout text received so far ends with `suffix` (or `limit` passes).
    pub async fn read_until(&mut self, suffix: &str, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while !self.text(1).ends_with(suffix) && self.close.is_none() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() || !self.read_one(left).await {
                return;
            }
        }
    }

    /// Reads until the server closes the connection (or `limit` passes).
    pub async fn read_to_close(&mut self, limit: Duration) {
        let deadline = tokio::time::Instant::now() + limit;
        while self.close.is_none() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() || !self.read_one(left).await {
                return;
            }
        }
    }

    /// Reads one message; false when the stream ended or nothing came within `limit`.
    async fn read_one(&mut self, limit: Duration) -> bool {
        match tokio::time::timeout(limit, self.stream.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) if !b.is_empty() => {
                self.received.push((b[0], b[1..].to_vec()));
                true
            }
            Ok(Some(Ok(Message::Close(frame)))) => {
                self.close = Some(frame.map_or(1005, |f| u16::from(f.code)));
                true
            }
            Ok(Some(Ok(_))) => true,
            _ => false,
        }
    }

    /// Everything received on `channel`, as text.
    pub fn text(&self, channel: u8) -> String {
        let bytes: Vec<u8> = self
            .received
            .iter()
            .filter(|(c, _)| *c == channel)
            .flat_map(|(_, d)| d.clone())
            .collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    /// A comparable summary: protocol, the first message (the "ready" frame), each channel's
    /// text, the status on channel 3 and the close code.
    pub fn summary(&self) -> Value {
        let first = self
            .received
            .first()
            .map(|(c, d)| json!({"channel": c, "data": String::from_utf8_lossy(d)}));
        let status = self
            .received
            .iter()
            .find(|(c, _)| *c == 3)
            .map(|(_, d)| serde_json::from_slice::<Value>(d).unwrap_or(Value::Null));
        json!({"protocol": self.protocol(), "first": first, "stdout": self.text(1),
            "stderr": self.text(2), "status": status, "close": self.close,
            "channels": self.received.iter().map(|(c, _)| *c).collect::<std::collections::BTreeSet<u8>>()})
    }
}
