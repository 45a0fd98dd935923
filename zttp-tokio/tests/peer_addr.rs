//! Every request served by `zttp_tokio::Server` carries the client's address as `PeerAddr`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use zttp_tokio::{PeerAddr, Request, Server, Shutdown};

fn exchange(addr: std::net::SocketAddr) -> (std::net::SocketAddr, Vec<String>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let local = s.local_addr().unwrap();
    s.write_all(b"GET /1 HTTP/1.1\r\nHost: t\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let bodies = out
        .split("HTTP/1.1 200 OK\r\n")
        .skip(1)
        .map(|r| r.split("\r\n\r\n").nth(1).unwrap_or("").to_owned())
        .collect();
    (local, bodies)
}

async fn peer_of(req: Request) -> String {
    match req.extensions().get::<PeerAddr>() {
        Some(peer) => peer.to_string(),
        None => "unknown".to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_carries_the_clients_ip_and_port() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let served = tokio::spawn(
        Server::new(listener)
            .shutdown(shutdown.clone())
            .serve(peer_of),
    );
    let (local, bodies) = tokio::task::spawn_blocking(move || exchange(addr))
        .await
        .unwrap();
    assert_eq!(bodies, vec![local.to_string(), local.to_string()]);
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(10), served)
        .await
        .expect("server stops")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_served_connection_carries_the_address_it_is_given() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let client = tokio::task::spawn_blocking(move || exchange(addr));
    let (stream, peer) = listener.accept().await.unwrap();
    zttp_service::serve_connection_with_peer(
        zttp_tokio::TokioIo(stream),
        peer,
        zttp_tokio::TokioRuntime,
        peer_of,
        Default::default(),
        Shutdown::new(),
    )
    .await
    .unwrap();
    let (local, bodies) = client.await.unwrap();
    assert_eq!(bodies, vec![local.to_string(), local.to_string()]);
}
