//! Every request served on a STREAM socket carries the client's address as `PeerAddr`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use zttp_service::{PeerAddr, Request, Shutdown};
use zttp_zmq::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_request_carries_the_clients_ip_and_port() {
    let shutdown = Shutdown::new();
    let server = Server::bind("tcp://127.0.0.1:0")
        .unwrap()
        .shutdown(shutdown.clone());
    let addr = server
        .local_endpoint()
        .trim_start_matches("tcp://")
        .to_string();
    let served = tokio::spawn(server.serve(|req: Request| async move {
        match req.extensions().get::<PeerAddr>() {
            Some(peer) => peer.to_string(),
            None => "unknown".to_owned(),
        }
    }));
    let (local, bodies) = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let local = s.local_addr().unwrap();
        // Two requests on one connection: both carry the same address.
        s.write_all(b"GET /1 HTTP/1.1\r\nHost: t\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let bodies: Vec<String> = out
            .split("HTTP/1.1 200 OK\r\n")
            .skip(1)
            .map(|r| r.split("\r\n\r\n").nth(1).unwrap_or("").to_owned())
            .collect();
        (local, bodies)
    })
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
