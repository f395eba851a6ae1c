//! The default "container" behind exec: a small command interpreter answering `printenv`,
//! `env`, `cat`, `ls`, `echo`, `hostname`, `sleep`, `wget`/`curl` to localhost, `kubectl get
//! pods` where the image has kubectl, and `sh -c` scripts of such commands joined by `;`, `&&`
//! and `||` with `>&2` redirection — from the Pod's spec, its environment at start and the
//! ConfigMaps and Secrets it mounts.

use std::collections::BTreeMap;

use serde_json::Value;

use super::container::{StartedContainer, get_obj, volume_files};
use super::exec::{ExecCall, ExecReply};
use super::state::State;

/// The page `wget` gets from a port another container listens on (nginx's welcome page).
pub const WELCOME_PAGE: &str = "<!DOCTYPE html>\n<html>\n<head>\n<title>Welcome to nginx!</title>\n</head>\n<body>\n<h1>Welcome to nginx!</h1>\n<p>If you see this page, the nginx web server is successfully installed and\nworking. Further configuration is required.</p>\n</body>\n</html>\n";
/// One piece of a `sh -c` script.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    /// A word (quotes removed).
    Word(String),
    /// `;`, `&&` or `||`.
    Then(&'static str),
    /// `>&2` / `1>&2`: this command's stdout goes to stderr.
    ToStderr,
    /// `>/dev/null` or `2>/dev/null`: the stream is dropped.
    Drop(u8),
}

/// Splits a script into words, command separators and the redirections the interpreter knows.
fn tokenize(script: &str) -> Vec<Token> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    let chars: Vec<char> = script.chars().collect();
    let mut i = 0;
    let flush = |cur: &mut String, in_word: &mut bool, out: &mut Vec<Token>| {
        if *in_word {
            out.push(Token::Word(std::mem::take(cur)));
            *in_word = false;
        }
    };
    while i < chars.len() {
        let c = chars[i];
        let rest: String = chars[i..].iter().take(12).collect();
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                in_word = true;
            }
            None if c == '\n' => {
                flush(&mut cur, &mut in_word, &mut out);
                out.push(Token::Then(";"));
            }
            None if c.is_whitespace() => flush(&mut cur, &mut in_word, &mut out),
            None => {
                let ops: [(&str, Option<Token>); 8] = [
                    ("&&", Some(Token::Then("&&"))),
                    ("||", Some(Token::Then("||"))),
                    (";", Some(Token::Then(";"))),
                    ("1>&2", Some(Token::ToStderr)),
                    (">&2", Some(Token::ToStderr)),
                    ("2>/dev/null", Some(Token::Drop(2))),
                    ("1>/dev/null", Some(Token::Drop(1))),
                    (">/dev/null", Some(Token::Drop(1))),
                ];
                if let Some((text, tok)) = ops.iter().find(|(t, _)| rest.starts_with(t)) {
                    flush(&mut cur, &mut in_word, &mut out);
                    out.extend(tok.clone());
                    i += text.chars().count();
                    continue;
                }
                cur.push(c);
                in_word = true;
            }
        }
        i += 1;
    }
    flush(&mut cur, &mut in_word, &mut out);
    out
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

/// What running a program gave: its reply, or that no such program exists.
enum Ran {
    /// It ran.
    Done(ExecReply),
    /// No executable of that name.
    NotFound,
}

/// The default "container": runs `call.command` as the container runtime would. A program it
/// does not know cannot be started: the reply carries the runtime's error (recording 118), as
/// opposed to `sh -c 'unknown'`, where the shell reports `not found` with exit code 127.
pub fn default_reply(s: &State, started: Option<&StartedContainer>, call: &ExecCall) -> ExecReply {
    let Some(pod) = get_obj(s, "v1", "Pod", &call.namespace, &call.pod) else {
        return ExecReply::fail("", 1);
    };
    let empty = StartedContainer::default();
    let started = started.unwrap_or(&empty);
    let ctx = Context {
        s,
        pod: &pod,
        started,
        call,
    };
    match ctx.program(&call.command, 0) {
        Ran::Done(reply) => reply,
        Ran::NotFound => ExecReply::cannot_start(&call.command[0]),
    }
}

/// What a command runs against.
struct Context<'a> {
    s: &'a State,
    pod: &'a Value,
    started: &'a StartedContainer,
    call: &'a ExecCall,
}

impl Context<'_> {
    /// A `sh -c` script: commands joined by `;`, `&&`, `||`, with redirections.
    fn script(&self, script: &str, depth: usize) -> ExecReply {
        let mut out = ExecReply::ok("");
        let mut skip = false;
        let mut command: Vec<String> = Vec::new();
        let (mut to_stderr, mut drop) = (false, [false; 3]);
        let mut tokens = tokenize(script);
        tokens.push(Token::Then(";"));
        for t in tokens {
            match t {
                Token::Word(w) => command.push(expand(&w, &self.started.env)),
                Token::ToStderr => to_stderr = true,
                Token::Drop(stream) => drop[usize::from(stream)] = true,
                Token::Then(op) => {
                    if !skip && !command.is_empty() {
                        if command[0] == "exit" {
                            out.exit_code = command
                                .get(1)
                                .and_then(|a| a.parse().ok())
                                .unwrap_or(out.exit_code);
                            return out;
                        }
                        let mut r = match self.program(&command, depth + 1) {
                            Ran::Done(r) => r,
                            Ran::NotFound => {
                                ExecReply::fail(format!("sh: {}: not found\n", command[0]), 127)
                            }
                        };
                        if to_stderr {
                            r.stderr = std::mem::take(&mut r.stdout) + &r.stderr;
                        }
                        if !drop[1] {
                            out.stdout.push_str(&r.stdout);
                        }
                        if !drop[2] {
                            out.stderr.push_str(&r.stderr);
                        }
                        out.delay += r.delay;
                        out.exit_code = r.exit_code;
                    }
                    skip = match op {
                        "&&" => out.exit_code != 0,
                        "||" => out.exit_code == 0,
                        _ => false,
                    };
                    command.clear();
                    (to_stderr, drop) = (false, [false; 3]);
                }
            }
        }
        out
    }

    /// One program with its arguments.
    fn program(&self, argv: &[String], depth: usize) -> Ran {
        let (s, pod, started, call) = (self.s, self.pod, self.started, self.call);
        let env = &started.env;
        let Some(prog) = argv.first() else {
            return Ran::Done(ExecReply::ok(""));
        };
        let base = prog.rsplit('/').next().unwrap_or(prog);
        let args = &argv[1..];
        Ran::Done(match base {
            "sh" | "bash" | "ash" if args.first().is_some_and(|a| a == "-c") && depth < 4 => {
                self.script(args.get(1).map_or("", String::as_str), depth)
            }
            "sh" | "bash" | "ash" if args.is_empty() && depth < 4 => {
                self.script(call.stdin.as_deref().unwrap_or(""), depth)
            }
            "cat" if args.is_empty() => ExecReply::ok(call.stdin.clone().unwrap_or_default()),
            "sleep" => ExecReply {
                delay: std::time::Duration::from_secs_f64(
                    args.first().and_then(|a| a.parse().ok()).unwrap_or(0.0),
                ),
                ..ExecReply::ok("")
            },
            "echo" => ExecReply::ok(format!("{}\n", args.join(" "))),
            "true" => ExecReply::ok(""),
            "false" => ExecReply::fail("", 1),
            "hostname" => ExecReply::ok(format!("{}\n", call.pod)),
            "kubectl" if super::kubectl::has_kubectl(pod, &call.container) => {
                super::kubectl::run(s, pod, args)
            }
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
            _ => return Ran::NotFound,
        })
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

/// Whether a program reads its standard input to the end (`cat`, a shell reading its script),
/// so that a non-tty exec with stdin waits for the client to close it.
pub fn reads_stdin(argv: &[String]) -> bool {
    let base = argv
        .first()
        .map(|p| p.rsplit('/').next().unwrap_or(p).to_string());
    argv.len() == 1 && matches!(base.as_deref(), Some("cat" | "sh" | "bash" | "ash"))
}
