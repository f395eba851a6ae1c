//! The local terminal: a shell on the learner's own machine behind a pseudo-terminal (only
//! offered when kubelab listens on loopback, see `startup`).

use pty_process::Size;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::cluster::{Shell, ShellInput};

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
    let (mut reader, mut writer) = pty.into_split();
    let (input_tx, mut input_rx) = mpsc::channel::<ShellInput>(64);
    let (output_tx, output_rx) = mpsc::channel::<Vec<u8>>(64);
    tokio::spawn(async move {
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            tokio::select! {
                read = reader.read(&mut buf) => match read {
                    // Linux answers EIO once the shell and its children closed the pty.
                    Ok(0) | Err(_) => break,
                    Ok(n) => if output_tx.send(buf[..n].to_vec()).await.is_err() { break },
                },
                input = input_rx.recv() => match input {
                    None => break,
                    Some(ShellInput::Bytes(b)) => if writer.write_all(&b).await.is_err() { break },
                    Some(ShellInput::Resize { cols, rows }) => {
                        let _ = writer.resize(Size::new(rows.max(1), cols.max(1)));
                    }
                },
            }
        }
        let _ = child.start_kill();
        let _ = child.wait().await;
    });
    Ok(Shell {
        input: input_tx,
        output: output_rx,
    })
}
