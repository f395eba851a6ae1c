//! Interactive exec sessions (`tty=true&stdin=true` running a shell), shaped like busybox ash
//! behind a pty on a real kubelet (recording 117): a banner and a prompt followed by a cursor
//! position query, the pty's echo of typed input with CRLF line ends, a redraw of the prompt on
//! each resize (channel 4), one command per typed line, `exit` (or Ctrl-D, or a v5 stdin
//! close) ending the session with its status. Tests can script the shell (`ShellScript`) and
//! read what the client sent (`FakeApi::exec_sessions`).

use std::sync::Arc;

use axum::extract::ws::WebSocket;

use super::exec::{ExecCall, ExecReply, Incoming, Session, crlf, frame};

/// Answers one typed line of an interactive session.
pub type LineHandler = Arc<dyn Fn(&ExecCall, &str) -> ExecReply + Send + Sync>;

/// How the interactive shell behaves.
#[derive(Clone)]
pub struct ShellScript {
    /// Written once when the session starts.
    pub banner: String,
    /// Written after the banner, after each command and (after `\r`) on each resize.
    pub prompt: String,
    /// Written after each prompt (busybox ash asks for the cursor position: `ESC[6n`).
    pub after_prompt: String,
    /// Answers a typed line; `None` runs it as `sh -c LINE` through the exec handler or the
    /// default interpreter.
    pub on_line: Option<LineHandler>,
}

impl Default for ShellScript {
    /// busybox ash of the `busybox:1.36` image on realkube's node (recording 117).
    fn default() -> ShellScript {
        ShellScript {
            banner: "\r\n\r\nBusyBox v1.35.0 (Debian 1:1.35.0-4+deb12u1+b1) built-in shell (ash)\r\nEnter 'help' for a list of built-in commands.\r\n\r\n".into(),
            prompt: "/ # ".into(),
            after_prompt: "\u{1b}[6n".into(),
            on_line: None,
        }
    }
}

impl std::fmt::Debug for ShellScript {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShellScript")
            .field("banner", &self.banner)
            .field("prompt", &self.prompt)
            .field("on_line", &self.on_line.is_some())
            .finish()
    }
}

/// Whether the command starts an interactive shell: a shell without `-c`, or a `sh -c` script
/// that `exec`s one (kubelab's toolbox starts `bash -l`, or `sh -l` where there is no bash).
pub fn is_shell(call: &ExecCall) -> bool {
    match call.command.as_slice() {
        [program, rest @ ..] if is_shell_name(program) => match rest {
            [flag, script, ..] if flag == "-c" => script.split([';', '\n']).any(execs_a_shell),
            _ => !rest.iter().any(|a| a == "-c"),
        },
        _ => false,
    }
}

fn is_shell_name(program: &str) -> bool {
    matches!(
        program.rsplit('/').next().unwrap_or(program),
        "sh" | "bash" | "ash"
    )
}

/// `... exec bash -l` (no `-c` after the shell).
fn execs_a_shell(part: &str) -> bool {
    let words: Vec<&str> = part.split_whitespace().collect();
    words
        .windows(2)
        .enumerate()
        .any(|(i, w)| w[0] == "exec" && is_shell_name(w[1]) && !words[i + 2..].contains(&"-c"))
}

/// Runs an interactive shell session until `exit`, Ctrl-D, a stdin close or the client leaves.
pub async fn serve(mut socket: WebSocket, session: Session) {
    let script = session
        .shared
        .shell_script
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    if !session.ready(&mut socket).await {
        return;
    }
    let prompt = format!("{}{}", script.prompt, script.after_prompt);
    if !send(&mut socket, &format!("{}{prompt}", script.banner)).await {
        return;
    }
    let mut line = String::new();
    let mut escape = Escape::None;
    loop {
        let data = match session.receive(&mut socket).await {
            Incoming::Stdin(data) => data,
            Incoming::Resize => {
                let redraw = format!("\r{}{line}\u{1b}[J", script.prompt);
                if !send(&mut socket, &redraw).await {
                    return;
                }
                continue;
            }
            Incoming::StdinClosed => {
                session.finish(&mut socket, &ExecReply::ok("")).await;
                return;
            }
            Incoming::Gone => {
                session.record(|s| s.ended = true);
                return;
            }
            Incoming::Other => continue,
        };
        let mut echo = String::new();
        let mut done = Vec::new();
        for c in String::from_utf8_lossy(&data).chars() {
            if escape.swallows(c) {
                continue;
            }
            match c {
                '\r' | '\n' => {
                    echo.push_str("\r\n");
                    done.push(std::mem::take(&mut line));
                }
                '\u{7f}' | '\u{8}' => {
                    if line.pop().is_some() {
                        echo.push_str("\u{8}\u{1b}[K");
                    }
                }
                '\u{3}' => {
                    echo.push_str("^C\r\n");
                    line.clear();
                    done.push(String::new());
                }
                '\u{4}' if line.is_empty() => {
                    let _ = send(&mut socket, &echo).await;
                    session.finish(&mut socket, &ExecReply::ok("")).await;
                    return;
                }
                c => {
                    echo.push(c);
                    line.push(c);
                }
            }
        }
        if !echo.is_empty() && !send(&mut socket, &echo).await {
            return;
        }
        for typed in done {
            let words: Vec<&str> = typed.split_whitespace().collect();
            if words.first() == Some(&"exit") {
                let code = words.get(1).and_then(|c| c.parse().ok()).unwrap_or(0);
                session
                    .finish(&mut socket, &ExecReply::fail("", code))
                    .await;
                return;
            }
            let mut out = String::new();
            if !words.is_empty() {
                let reply = run_line(&session, &script, &typed);
                out = crlf(&format!("{}{}", reply.stdout, reply.stderr));
            }
            if !send(&mut socket, &format!("{out}{prompt}")).await {
                return;
            }
        }
    }
}

/// Where the input is in an escape sequence. ash's line editor consumes them: the terminal's
/// answer to the prompt's cursor position query (`ESC [ row ; col R`), arrow keys; none of
/// them is part of the typed line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    /// Not in a sequence.
    None,
    /// After ESC.
    Start,
    /// After ESC `[` (or ESC `O`), until the final byte.
    Control,
}

impl Escape {
    /// Whether `c` belongs to an escape sequence (and moves through it).
    fn swallows(&mut self, c: char) -> bool {
        *self = match (*self, c) {
            (Escape::None, '\u{1b}') => Escape::Start,
            (Escape::None, _) => return false,
            (Escape::Start, '[' | 'O') => Escape::Control,
            (Escape::Control, '\u{40}'..='\u{7e}') | (Escape::Start, _) => Escape::None,
            (Escape::Control, _) => Escape::Control,
        };
        true
    }
}

fn run_line(session: &Session, script: &ShellScript, typed: &str) -> ExecReply {
    if let Some(on_line) = &script.on_line {
        return on_line(&session.call, typed);
    }
    let call = ExecCall {
        command: vec!["sh".into(), "-c".into(), typed.to_string()],
        ..session.call.clone()
    };
    session.reply(&call)
}

async fn send(socket: &mut WebSocket, text: &str) -> bool {
    socket.send(frame(1, text.as_bytes())).await.is_ok()
}
