//! The browser terminal through kubelab's WebSocket, as a page uses it: a local shell (pty) on
//! a laptop kubelab, a toolbox Pod per learner in a workshop (exec with a tty into the fake API
//! server's simulated kubelet), and every refusal the socket makes.

mod local;
mod workshop;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use kubelab::cluster::ClusterOptions;
use kubelab::engine::{TerminalConfig, TerminalLimits, TerminalMode};
use kubelab::labs::LabSource;
use kubelab::{RunningApp, Settings};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// How long a test waits for something a user would see.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// A browser's cookies and CSRF token, kept by hand so the WebSocket handshake can send them.
#[derive(Default, Clone)]
pub struct Visitor {
    cookies: BTreeMap<String, String>,
    /// The token of the last page's `<meta name="csrf-token">`.
    pub csrf: String,
}

impl Visitor {
    fn cookie_header(&self) -> String {
        self.cookies
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn keep(&mut self, response: &reqwest::Response) {
        for value in response.headers().get_all("set-cookie") {
            let Some(pair) = value.to_str().ok().and_then(|v| v.split(';').next()) else {
                continue;
            };
            if let Some((k, v)) = pair.split_once('=') {
                self.cookies
                    .insert(k.trim().to_owned(), v.trim().to_owned());
            }
        }
    }

    /// GETs a page, keeping its cookies and CSRF token; returns status and body.
    pub async fn get(&mut self, url: &str) -> (u16, String) {
        let r = client()
            .get(url)
            .header("cookie", self.cookie_header())
            .send()
            .await
            .expect("GET");
        self.keep(&r);
        let status = r.status().as_u16();
        let body = r.text().await.unwrap_or_default();
        let marker = "<meta name=\"csrf-token\" content=\"";
        if let Some(start) = body.find(marker) {
            self.csrf = body[start + marker.len()..]
                .split('"')
                .next()
                .unwrap_or_default()
                .to_owned();
        }
        (status, body)
    }

    /// POSTs a urlencoded form with the CSRF token, keeping cookies.
    pub async fn post_form(&mut self, url: &str, fields: &[(&str, &str)]) -> u16 {
        let mut body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        body.push(format!("csrf_token={}", self.csrf));
        let r = client()
            .post(url)
            .header("cookie", self.cookie_header())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.join("&"))
            .send()
            .await
            .expect("POST");
        self.keep(&r);
        r.status().as_u16()
    }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// How a handshake is dressed.
pub struct Handshake<'a> {
    /// `Origin` header (None: not sent).
    pub origin: Option<String>,
    /// `csrf=` (None: the visitor's).
    pub csrf: Option<&'a str>,
    /// `session=`.
    pub session: Option<&'a str>,
}

/// The socket, or the HTTP status that refused it.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `/terminal/socket` on `base` (`http://127.0.0.1:PORT`) as `visitor`.
pub async fn open(base: &str, visitor: &Visitor, how: Handshake<'_>) -> Result<Socket, u16> {
    let mut url = format!(
        "{}/terminal/socket?cols=100&rows=30&csrf={}",
        base.replacen("http://", "ws://", 1),
        how.csrf.unwrap_or(&visitor.csrf)
    );
    if let Some(session) = how.session {
        url.push_str(&format!("&session={session}"));
    }
    let mut request = url.into_client_request().expect("request");
    if let Some(origin) = how.origin {
        request
            .headers_mut()
            .insert("origin", origin.parse().expect("origin"));
    }
    request
        .headers_mut()
        .insert("cookie", visitor.cookie_header().parse().expect("cookie"));
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(e) => panic!("handshake failed: {e}"),
    }
}

/// The same-origin handshake a page makes.
pub fn page(base: &str) -> Handshake<'static> {
    Handshake {
        origin: Some(base.to_owned()),
        csrf: None,
        session: None,
    }
}

/// What the terminal showed, as read so far.
#[derive(Debug, Default)]
pub struct Screen {
    /// Every text (control) message.
    pub controls: Vec<Value>,
    /// Every output byte, as text.
    pub output: String,
}

impl Screen {
    /// The `attached` message's id.
    pub fn id(&self) -> String {
        self.controls
            .iter()
            .find(|c| c["type"] == "attached")
            .and_then(|c| c["id"].as_str())
            .unwrap_or_default()
            .to_owned()
    }

    /// The control message of this type, if one came.
    pub fn control(&self, kind: &str) -> Option<&Value> {
        self.controls.iter().find(|c| c["type"] == kind)
    }
}

/// Reads from the socket until `done(screen)` holds (panics after [`PATIENCE`] with what it saw).
pub async fn read_until(socket: &mut Socket, screen: &mut Screen, done: impl Fn(&Screen) -> bool) {
    read_within(socket, screen, PATIENCE, done).await;
}

/// [`read_until`] with its own patience (a real cluster starting a toolbox Pod).
pub async fn read_within(
    socket: &mut Socket,
    screen: &mut Screen,
    within: Duration,
    done: impl Fn(&Screen) -> bool,
) {
    let deadline = tokio::time::Instant::now() + within;
    while !done(screen) {
        let next = tokio::time::timeout_at(deadline, socket.next()).await;
        match next {
            Ok(Some(Ok(Message::Text(t)))) => {
                screen
                    .controls
                    .push(serde_json::from_str(&t).unwrap_or(Value::Null));
            }
            Ok(Some(Ok(Message::Binary(b)))) => {
                screen.output.push_str(&String::from_utf8_lossy(&b))
            }
            Ok(Some(Ok(_))) => {}
            Ok(None) | Ok(Some(Err(_))) => {
                assert!(done(screen), "the socket closed before: {screen:?}");
                return;
            }
            Err(_) => panic!("gave up waiting; the terminal showed: {screen:?}"),
        }
    }
}

/// Types `text` as a page would (a binary frame).
pub async fn type_text(socket: &mut Socket, text: &str) {
    socket
        .send(Message::Binary(text.as_bytes().to_vec().into()))
        .await
        .expect("send");
}

/// Sends a control message.
pub async fn control(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .expect("send");
}

/// Quick limits for tests: a short sweep, everything else as given.
pub fn limits() -> TerminalLimits {
    TerminalLimits {
        sweep: Duration::from_millis(100),
        ..TerminalLimits::default()
    }
}

/// Starts kubelab with `terminal` (local mode when `kubeconfig` is None: no cluster).
pub async fn start(
    dir: &tempfile::TempDir,
    kubeconfig: std::path::PathBuf,
    workshop: bool,
    terminal: TerminalConfig,
) -> RunningApp {
    kubelab::start(Settings {
        addr: "127.0.0.1:0".parse().expect("addr"),
        database_url: dir.path().join("kubelab.db").display().to_string(),
        labs: LabSource::Embedded,
        cluster: ClusterOptions {
            kubeconfig: Some(kubeconfig),
            context: None,
            public_api: None,
        },
        workshop,
        secure_cookies: false,
        rate_limit: Default::default(),
        terminal,
        learner_quota: Default::default(),
    })
    .await
    .expect("kubelab starts")
}

/// A local shell terminal config.
pub fn local_shell(limits: TerminalLimits) -> TerminalConfig {
    TerminalConfig {
        mode: TerminalMode::Local {
            shell: vec!["/bin/sh".into()],
        },
        limits,
    }
}

/// `{"type":"resize",...}`.
pub fn resize(cols: u16, rows: u16) -> Value {
    json!({"type": "resize", "cols": cols, "rows": rows})
}
