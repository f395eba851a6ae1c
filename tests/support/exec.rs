//! Exec into the simulator's Pods over WebSocket, as kube-apiserver 1.28 (through the kubelet)
//! speaks it to kube-rs: the `v4.channel.k8s.io` binary framing (first byte = channel), a JSON
//! `Status` on channel 3, then close; plus a default command interpreter that answers a few
//! realistic commands from the Pod's spec and the stored ConfigMaps and Secrets.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use base64::Engine;
use serde_json::{Value, json};

use super::state::{ObjKey, State, resource};

/// One exec request that reached a running container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecCall {
    /// The Pod's namespace.
    pub namespace: String,
    /// The Pod's name.
    pub pod: String,
    /// The container (the one asked for, or the Pod's default container).
    pub container: String,
    /// The command and its arguments (`command=` query parameters in order).
    pub command: Vec<String>,
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
}

/// A test-registered exec handler.
pub type ExecHandler = Arc<dyn Fn(ExecCall) -> ExecReply + Send + Sync>;

/// The subprotocols a 1.28 kubelet speaks with the same binary framing, in its preference order.
pub const PROTOCOLS: [&str; 2] = ["v4.channel.k8s.io", "channel.k8s.io"];

/// The page `wget` gets from a port another container listens on (nginx's welcome page).
pub const WELCOME_PAGE: &str = "<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head>\n<body>\n<h1>Welcome to nginx!</h1>\n<p>If you see this page, the nginx web server is successfully installed and\nworking. Further configuration is required.</p>\n</body>\n</html>\n";

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

/// The status frame (channel 3) for an exit code.
pub fn status_json(reply: &ExecReply, command: &[String]) -> Value {
    if reply.exit_code == 0 {
        return json!({"metadata": {}, "status": "Success"});
    }
    let code = reply.exit_code;
    json!({"metadata": {}, "status": "Failure",
        "message": format!("command terminated with non-zero exit code: error executing command [{}], exit code {code}", command.join(" ")),
        "reason": "NonZeroExitCode",
        "details": {"causes": [{"reason": "ExitCode", "message": code.to_string()}]}})
}

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut v = Vec::with_capacity(data.len() + 1);
    v.push(channel);
    v.extend_from_slice(data);
    Message::Binary(v.into())
}

/// Runs one exec stream: opening frames, the delay, output, status, close.
pub async fn serve(
    mut socket: WebSocket,
    reply: ExecReply,
    command: Vec<String>,
    stdout: bool,
    stderr: bool,
) {
    // The kubelet announces each open stream with a one-byte frame.
    let mut opening = Vec::new();
    if stdout {
        opening.push(1u8);
    }
    if stderr {
        opening.push(2u8);
    }
    opening.push(3u8);
    for ch in opening {
        if socket.send(frame(ch, &[])).await.is_err() {
            return;
        }
    }
    if !reply.delay.is_zero() {
        // A client that gives up closes the socket; stop waiting then.
        let sleep = tokio::time::sleep(reply.delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                _ = &mut sleep => break,
                msg = socket.recv() => match msg {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                    Some(Ok(_)) => {}
                },
            }
        }
    }
    if stdout
        && !reply.stdout.is_empty()
        && socket
            .send(frame(1, reply.stdout.as_bytes()))
            .await
            .is_err()
    {
        return;
    }
    if stderr
        && !reply.stderr.is_empty()
        && socket
            .send(frame(2, reply.stderr.as_bytes()))
            .await
            .is_err()
    {
        return;
    }
    let status = status_json(&reply, &command).to_string();
    if socket.send(frame(3, status.as_bytes())).await.is_err() {
        return;
    }
    let _ = socket.send(Message::Close(None)).await;
}

/// A Pod's container as the kubelet started it: the environment resolved at start and the
/// content of `subPath` mounts (which do not receive updates).
#[derive(Debug, Clone, Default)]
pub struct StartedContainer {
    /// Environment variables in definition order (later ones win).
    pub env: Vec<(String, String)>,
    /// `subPath`-mounted files: mount path -> content at start.
    pub fixed_files: BTreeMap<String, String>,
}

fn get_obj(s: &State, api_version: &str, kind: &str, ns: &str, name: &str) -> Option<Value> {
    s.get(&ObjKey::new(&resource(api_version, kind), ns, name))
        .cloned()
}

/// Key -> text of a ConfigMap (`data` and UTF-8 `binaryData`) or Secret (decoded `data`).
fn source_data(s: &State, kind: &str, ns: &str, name: &str) -> Option<BTreeMap<String, String>> {
    let obj = get_obj(s, "v1", kind, ns, name)?;
    let mut out = BTreeMap::new();
    let b64 = |v: &Value| {
        v.as_str()
            .and_then(|t| base64::engine::general_purpose::STANDARD.decode(t).ok())
            .map(|b| String::from_utf8_lossy(&b).into_owned())
    };
    for (k, v) in obj["data"].as_object().into_iter().flatten() {
        let text = if kind == "Secret" {
            b64(v)
        } else {
            v.as_str().map(String::from)
        };
        if let Some(t) = text {
            out.insert(k.clone(), t);
        }
    }
    if kind == "Secret" {
        for (k, v) in obj["stringData"].as_object().into_iter().flatten() {
            out.insert(k.clone(), v.as_str().unwrap_or("").to_string());
        }
    } else {
        for (k, v) in obj["binaryData"].as_object().into_iter().flatten() {
            if let Some(t) = b64(v) {
                out.insert(k.clone(), t);
            }
        }
    }
    Some(out)
}

/// What keeps a container from starting: `(reason, message)` of the waiting state, or `None`.
pub fn start_blocker(s: &State, pod: &Value) -> Option<(&'static str, String)> {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
    for v in pod["spec"]["volumes"].as_array().into_iter().flatten() {
        for (field, kind, name_key) in [
            ("configMap", "ConfigMap", "name"),
            ("secret", "Secret", "secretName"),
        ] {
            let src = &v[field];
            if src.is_object()
                && src["optional"] != json!(true)
                && let Some(name) = src[name_key].as_str()
                && get_obj(s, "v1", kind, ns, name).is_none()
            {
                return Some((
                    "ContainerCreating",
                    format!(
                        "MountVolume.SetUp failed for volume \"{}\" : {} \"{name}\" not found",
                        v["name"].as_str().unwrap_or(""),
                        kind.to_lowercase()
                    ),
                ));
            }
        }
    }
    for c in pod["spec"]["containers"].as_array().into_iter().flatten() {
        if let Err(msg) = resolve_env(s, pod, c) {
            return Some(("CreateContainerConfigError", msg));
        }
    }
    None
}

/// Resolves a container's environment as the kubelet does at start.
pub fn resolve_env(
    s: &State,
    pod: &Value,
    container: &Value,
) -> Result<Vec<(String, String)>, String> {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
    let mut env = Vec::new();
    for from in container["envFrom"].as_array().into_iter().flatten() {
        let prefix = from["prefix"].as_str().unwrap_or("");
        for (field, kind) in [("configMapRef", "ConfigMap"), ("secretRef", "Secret")] {
            let r = &from[field];
            let Some(name) = r["name"].as_str() else {
                continue;
            };
            match source_data(s, kind, ns, name) {
                Some(data) => {
                    env.extend(data.into_iter().map(|(k, v)| (format!("{prefix}{k}"), v)))
                }
                None if r["optional"] == json!(true) => {}
                None => return Err(format!("{} \"{name}\" not found", kind.to_lowercase())),
            }
        }
    }
    for e in container["env"].as_array().into_iter().flatten() {
        let name = e["name"].as_str().unwrap_or("").to_string();
        if let Some(v) = e.get("value").and_then(Value::as_str) {
            env.push((name, v.to_string()));
            continue;
        }
        let vf = &e["valueFrom"];
        let mut resolved = None;
        for (field, kind) in [("configMapKeyRef", "ConfigMap"), ("secretKeyRef", "Secret")] {
            let r = &vf[field];
            let Some(src) = r["name"].as_str() else {
                continue;
            };
            let key = r["key"].as_str().unwrap_or("");
            let optional = r["optional"] == json!(true);
            match source_data(s, kind, ns, src) {
                Some(data) => match data.get(key) {
                    Some(v) => resolved = Some(v.clone()),
                    None if optional => {}
                    None => {
                        return Err(format!("couldn't find key {key} in {kind} {ns}/{src}"));
                    }
                },
                None if optional => {}
                None => return Err(format!("{} \"{src}\" not found", kind.to_lowercase())),
            }
        }
        if let Some(path) = vf["fieldRef"]["fieldPath"].as_str() {
            let mut cur = pod;
            for seg in path.split('.') {
                cur = &cur[seg];
            }
            resolved = Some(cur.as_str().unwrap_or("").to_string());
        }
        if let Some(v) = resolved {
            env.push((name, v));
        } else if vf.is_null() {
            env.push((name, String::new()));
        }
    }
    Ok(env)
}

/// Snapshot taken when the simulator starts a Pod's containers.
pub fn start_containers(s: &State, pod: &Value) -> BTreeMap<String, StartedContainer> {
    let mut out = BTreeMap::new();
    for c in pod["spec"]["containers"].as_array().into_iter().flatten() {
        let name = c["name"].as_str().unwrap_or("").to_string();
        let mut env = vec![
            (
                "PATH".to_string(),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
            ),
            (
                "HOSTNAME".to_string(),
                pod["metadata"]["name"].as_str().unwrap_or("").to_string(),
            ),
        ];
        env.extend(
            resolve_env(s, pod, c)
                .unwrap_or_default()
                .into_iter()
                .filter(|(k, _)| !k.is_empty()),
        );
        if pod["spec"]["enableServiceLinks"] != json!(false) {
            env.extend(
                [
                    ("KUBERNETES_SERVICE_HOST", "10.43.0.1"),
                    ("KUBERNETES_SERVICE_PORT", "443"),
                    ("KUBERNETES_SERVICE_PORT_HTTPS", "443"),
                    ("KUBERNETES_PORT", "tcp://10.43.0.1:443"),
                ]
                .map(|(k, v)| (k.to_string(), v.to_string())),
            );
        }
        env.push(("HOME".into(), "/root".into()));
        let mut fixed_files = BTreeMap::new();
        for m in c["volumeMounts"].as_array().into_iter().flatten() {
            if let Some(sub) = m["subPath"].as_str().filter(|p| !p.is_empty()) {
                let mount = m["mountPath"].as_str().unwrap_or("");
                let files = volume_files(s, pod, m["name"].as_str().unwrap_or(""));
                if let Some(text) = files.get(sub) {
                    fixed_files.insert(mount.to_string(), text.clone());
                }
            }
        }
        out.insert(name, StartedContainer { env, fixed_files });
    }
    out
}

/// The files of a configMap/secret/projected volume as the kubelet currently writes them.
fn volume_files(s: &State, pod: &Value, volume: &str) -> BTreeMap<String, String> {
    let ns = pod["metadata"]["namespace"].as_str().unwrap_or("");
    let Some(v) = pod["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|v| v["name"] == volume)
    else {
        return BTreeMap::new();
    };
    let mut sources = Vec::new();
    if v["configMap"].is_object() {
        sources.push(("ConfigMap", v["configMap"].clone(), "name"));
    }
    if v["secret"].is_object() {
        sources.push(("Secret", v["secret"].clone(), "secretName"));
    }
    for p in v["projected"]["sources"].as_array().into_iter().flatten() {
        if p["configMap"].is_object() {
            sources.push(("ConfigMap", p["configMap"].clone(), "name"));
        }
        if p["secret"].is_object() {
            sources.push(("Secret", p["secret"].clone(), "name"));
        }
    }
    let mut out = BTreeMap::new();
    for (kind, src, name_key) in sources {
        let Some(data) = src[name_key]
            .as_str()
            .and_then(|n| source_data(s, kind, ns, n))
        else {
            continue;
        };
        match src["items"].as_array() {
            Some(items) => {
                for it in items {
                    let key = it["key"].as_str().unwrap_or("");
                    let path = it["path"].as_str().unwrap_or(key);
                    if let Some(t) = data.get(key) {
                        out.insert(path.to_string(), t.clone());
                    }
                }
            }
            None => out.extend(data),
        }
    }
    out
}

/// Splits a shell line into words (single and double quotes, no other syntax).
fn shell_words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    for c in line.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => cur.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut cur));
                    in_word = false;
                }
            }
            (None, c) => {
                cur.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(cur);
    }
    words
}

/// Expands `$NAME` and `${NAME}` from the environment.
fn expand(word: &str, env: &[(String, String)]) -> String {
    let lookup = |name: &str| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let mut out = String::new();
    let chars: Vec<char> = word.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        if chars[i] == '$' && i + 1 < chars.len() {
            if chars[i + 1] == '{'
                && let Some(end) = chars[i + 2..].iter().position(|c| *c == '}')
            {
                let name: String = chars[i + 2..i + 2 + end].iter().collect();
                out.push_str(&lookup(&name));
                i += end + 3;
                continue;
            }
            let name: String = chars[i + 1..]
                .iter()
                .take_while(|c| c.is_ascii_alphanumeric() || **c == '_')
                .collect();
            if !name.is_empty() {
                out.push_str(&lookup(&name));
                i += name.len() + 1;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// The default "container": answers `printenv`, `env`, `cat`, `ls`, `echo`, `hostname`,
/// `sh -c '<simple command>'`, `wget -qO- http://localhost:PORT`, `true`/`false`, `exit N`;
/// anything else is "not found" with exit code 127.
pub fn default_reply(s: &State, started: Option<&StartedContainer>, call: &ExecCall) -> ExecReply {
    let Some(pod) = get_obj(s, "v1", "Pod", &call.namespace, &call.pod) else {
        return ExecReply::fail("", 1);
    };
    let empty = StartedContainer::default();
    let started = started.unwrap_or(&empty);
    run(s, &pod, started, call, &call.command, 0)
}

fn run(
    s: &State,
    pod: &Value,
    started: &StartedContainer,
    call: &ExecCall,
    argv: &[String],
    depth: usize,
) -> ExecReply {
    let env = &started.env;
    let Some(prog) = argv.first() else {
        return ExecReply::ok("");
    };
    let base = prog.rsplit('/').next().unwrap_or(prog);
    let args = &argv[1..];
    match base {
        "sh" | "bash" | "ash" if args.first().is_some_and(|a| a == "-c") && depth < 4 => {
            let script = args.get(1).cloned().unwrap_or_default();
            let words: Vec<String> = shell_words(&script)
                .iter()
                .map(|w| expand(w, env))
                .collect();
            run(s, pod, started, call, &words, depth + 1)
        }
        "echo" => ExecReply::ok(format!("{}\n", args.join(" "))),
        "true" => ExecReply::ok(""),
        "false" => ExecReply::fail("", 1),
        "exit" => ExecReply::fail("", args.first().and_then(|a| a.parse().ok()).unwrap_or(0)),
        "hostname" => ExecReply::ok(format!("{}\n", call.pod)),
        "printenv" | "env" if args.is_empty() => {
            let mut out = String::new();
            let mut seen = BTreeMap::new();
            for (k, v) in env {
                seen.insert(k.clone(), v.clone());
            }
            for (k, _) in env {
                if let Some(v) = seen.remove(k) {
                    out.push_str(&format!("{k}={v}\n"));
                }
            }
            ExecReply::ok(out)
        }
        "printenv" => {
            let mut out = String::new();
            let mut all = true;
            for name in args {
                match env.iter().rev().find(|(k, _)| k == name) {
                    Some((_, v)) => out.push_str(&format!("{v}\n")),
                    None => all = false,
                }
            }
            ExecReply {
                stdout: out,
                exit_code: if all { 0 } else { 1 },
                ..ExecReply::default()
            }
        }
        "cat" => {
            let mut out = String::new();
            let mut err = String::new();
            for path in args {
                match read_file(s, pod, started, &call.container, path) {
                    Some(t) => out.push_str(&t),
                    None => err.push_str(&format!(
                        "cat: can't open '{path}': No such file or directory\n"
                    )),
                }
            }
            ExecReply {
                stdout: out,
                exit_code: if err.is_empty() { 0 } else { 1 },
                stderr: err,
                ..ExecReply::default()
            }
        }
        "ls" => {
            let dir = args
                .iter()
                .find(|a| !a.starts_with('-'))
                .map_or("/", String::as_str);
            match list_dir(s, pod, &call.container, dir) {
                Some(names) if !names.is_empty() => ExecReply::ok(
                    names
                        .into_iter()
                        .map(|n| format!("{n}\n"))
                        .collect::<String>(),
                ),
                _ => ExecReply::fail(format!("ls: {dir}: No such file or directory\n"), 1),
            }
        }
        "wget" | "curl" => {
            let url = args
                .iter()
                .find(|a| a.contains("://"))
                .cloned()
                .unwrap_or_default();
            let rest = url.split_once("://").map_or("", |(_, r)| r);
            let hostport = rest.split('/').next().unwrap_or("");
            let (host, port) = match hostport.rsplit_once(':') {
                Some((h, p)) => (h, p.parse::<i64>().unwrap_or(80)),
                None => (hostport, 80),
            };
            let local = ["localhost", "127.0.0.1"].contains(&host)
                || pod["status"]["podIP"].as_str() == Some(host);
            let listening = pod["spec"]["containers"]
                .as_array()
                .into_iter()
                .flatten()
                .flat_map(|c| c["ports"].as_array().cloned().unwrap_or_default())
                .any(|p| p["containerPort"].as_i64() == Some(port));
            if local && listening {
                ExecReply::ok(WELCOME_PAGE)
            } else if base == "curl" {
                ExecReply::fail(
                    format!(
                        "curl: (7) Failed to connect to {host} port {port}: Connection refused\n"
                    ),
                    7,
                )
            } else {
                let ip = if host == "localhost" {
                    "127.0.0.1"
                } else {
                    host
                };
                ExecReply::fail(
                    format!("wget: can't connect to remote host ({ip}): Connection refused\n"),
                    1,
                )
            }
        }
        _ => ExecReply::fail(format!("sh: {prog}: not found\n"), 127),
    }
}

/// Mounts of a container: (mountPath, volume name, subPath).
fn mounts(pod: &Value, container: &str) -> Vec<(String, String, String)> {
    pod["spec"]["containers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| c["name"] == container)
        .flat_map(|c| c["volumeMounts"].as_array().cloned().unwrap_or_default())
        .map(|m| {
            (
                m["mountPath"]
                    .as_str()
                    .unwrap_or("")
                    .trim_end_matches('/')
                    .to_string(),
                m["name"].as_str().unwrap_or("").to_string(),
                m["subPath"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn read_file(
    s: &State,
    pod: &Value,
    started: &StartedContainer,
    container: &str,
    path: &str,
) -> Option<String> {
    if let Some(t) = started.fixed_files.get(path) {
        return Some(t.clone());
    }
    if path == "/etc/hostname" {
        return Some(format!(
            "{}\n",
            pod["metadata"]["name"].as_str().unwrap_or("")
        ));
    }
    for (mount, volume, sub) in mounts(pod, container) {
        if !sub.is_empty() {
            continue;
        }
        if let Some(rel) = path.strip_prefix(&format!("{mount}/")) {
            return volume_files(s, pod, &volume).get(rel).cloned();
        }
    }
    None
}

fn list_dir(s: &State, pod: &Value, container: &str, dir: &str) -> Option<Vec<String>> {
    let dir = dir.trim_end_matches('/');
    mounts(pod, container)
        .into_iter()
        .find(|(mount, _, sub)| mount == dir && sub.is_empty())
        .map(|(_, volume, _)| volume_files(s, pod, &volume).into_keys().collect())
}
