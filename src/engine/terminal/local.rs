//! The local terminal: a shell on the learner's own machine behind a pseudo-terminal (only
//! offered when kubelab listens on loopback, see `startup`).

use crate::cluster::Shell;
use pty_process::Size;

/// Starts `command` (the learner's `$SHELL`) on a new pty of `cols` × `rows`.
pub fn spawn(command: &[String], cols: u16, rows: u16) -> std::io::Result<Shell> {
    let Some((program, args)) = command.split_first() else {
        return Err(std::io::Error::other("no shell to start"));
    };
    let (pty, pts) = pty_process::open().map_err(std::io::Error::other)?;
    pty.resize(Size::new(rows.max(1), cols.max(1)))
        .map_err(std::io::Error::other)?;
    let mut child = pty_process::Command::new(program)
        .args(args)
        .env("TERM", "xterm-256color")
        .env("KUBELAB_TERMINAL", "1")
        .kill_on_drop(true)
        .spawn(pts)
        .map_err(std::io::Error::other)?;
    let (reader, writer) = pty.into_split();
    let resize = |writer: &mut pty_process::OwnedWritePty, cols: u16, rows: u16| {
        let _ = writer.resize(Size::new(rows.max(1), cols.max(1)));
    };
    let end = async move {
        let _ = child.start_kill();
        let _ = child.wait().await;
    };
    Ok(Shell::pump(reader, writer, resize, end))
}
