//! Clients that stall: half a request, a connection that sends nothing and an idle kept-alive
//! one are dropped after the header deadline, and stopping kubelab does not wait on them.

use std::time::{Duration, Instant};

use kubelab::web::serve::{HEADER_READ_TIMEOUT, SHUTDOWN_GRACE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::app::spawn_app;

/// Reads until the server closes the connection (or `within` passes); true when it closed.
async fn closed_by_server(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    let read_to_end = async {
        loop {
            match stream.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::time::timeout(within, read_to_end).await.is_ok()
}

#[tokio::test]
async fn stalled_and_idle_connections_are_dropped_while_others_are_served() {
    let app = spawn_app().await;
    let addr = app.url.trim_start_matches("http://").to_owned();
    let mut half = TcpStream::connect(&addr).await.expect("connect");
    half.write_all(b"GET /labs HTTP/1.1\r\nHost: kubelab\r\nX-Slow: ")
        .await
        .expect("write");
    let mut idle = TcpStream::connect(&addr).await.expect("connect");
    let mut kept_alive = TcpStream::connect(&addr).await.expect("connect");
    kept_alive
        .write_all(b"GET /static/app.css HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .expect("write");
    let mut answer = [0u8; 64];
    let n = kept_alive.read(&mut answer).await.expect("an answer");
    assert!(answer[..n].starts_with(b"HTTP/1.1 "), "{answer:?}");

    // Meanwhile a browser is served as usual.
    let (status, _) = app.get("/").await;
    assert_eq!(status, 200);

    let patience = HEADER_READ_TIMEOUT + Duration::from_secs(10);
    assert!(
        closed_by_server(&mut half, patience).await,
        "a client that never finishes its request head is disconnected"
    );
    assert!(
        closed_by_server(&mut idle, patience).await,
        "a connection that sends nothing is disconnected"
    );
    assert!(
        closed_by_server(&mut kept_alive, patience).await,
        "a kept-alive connection that sends no next request is disconnected"
    );
    app.stop().await;
}

#[tokio::test]
async fn stopping_does_not_wait_for_stalled_clients() {
    let app = spawn_app().await;
    let addr = app.url.trim_start_matches("http://").to_owned();
    let mut stalled = Vec::new();
    for _ in 0..50 {
        let mut s = TcpStream::connect(&addr).await.expect("connect");
        s.write_all(b"POST /api/labs/configmap/check HTTP/1.1\r\nHost: kubelab\r\n")
            .await
            .expect("write");
        stalled.push(s);
    }
    let (status, _) = app.get("/").await;
    assert_eq!(status, 200, "served while 50 clients stall");
    let started = Instant::now();
    let stopped = tokio::time::timeout(SHUTDOWN_GRACE + Duration::from_secs(10), app.stop()).await;
    assert!(
        stopped.is_ok(),
        "kubelab stops within its grace period despite stalled clients (waited {:?})",
        started.elapsed()
    );
    drop(stalled);
}
