//! Every request served by `zttp_async_std::Server` carries the client's address as `PeerAddr`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use zttp_async_std::{PeerAddr, Request, Server, Shutdown};

#[async_std::test]
async fn each_request_carries_the_clients_ip_and_port() {
    let listener = async_std::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let served = async_std::task::spawn(Server::new(listener).shutdown(shutdown.clone()).serve(
        |req: Request| async move {
            match req.extensions().get::<PeerAddr>() {
                Some(peer) => peer.to_string(),
                None => "unknown".to_owned(),
            }
        },
    ));
    let (local, bodies) = async_std::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let local = s.local_addr().unwrap();
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
    .await;
    assert_eq!(bodies, vec![local.to_string(), local.to_string()]);
    shutdown.trigger();
    async_std::future::timeout(Duration::from_secs(10), served)
        .await
        .expect("server stops")
        .unwrap();
}
