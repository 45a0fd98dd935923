//! `Server::serve_on_io_thread`: connection loops and handlers on the socket's IO thread.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use http_body_util::BodyExt;
use zttp_service::{Body, PeerAddr, Request, Shutdown};
use zttp_zmq::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_keep_alive_uploads_and_tokio_timers_on_the_io_thread_then_stops() {
    let shutdown = Shutdown::new();
    let server = Server::bind("tcp://127.0.0.1:0")
        .unwrap()
        .shutdown(shutdown.clone());
    let addr = server
        .local_endpoint()
        .trim_start_matches("tcp://")
        .to_string();
    let served = tokio::spawn(server.serve_on_io_thread(|req: Request| async move {
        let on_io_thread = std::thread::current().name() == Some("zttp-zmq-io");
        let peer = req.extensions().get::<PeerAddr>().is_some();
        if req.uri().path() == "/sleep" {
            // A tokio timer works: the IO thread polls inside the server's tokio context.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let len = req.into_body().collect().await.unwrap().to_bytes().len();
        http::Response::new(Body::from(format!("{on_io_thread} {peer} {len}")))
    }));
    let out = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut requests = Vec::new();
        for _ in 0..50 {
            requests.extend_from_slice(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        }
        requests.extend_from_slice(b"GET /sleep HTTP/1.1\r\nHost: t\r\n\r\n");
        requests.extend_from_slice(
            b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 300000\r\nConnection: close\r\n\r\n",
        );
        requests.resize(requests.len() + 300_000, b'u');
        s.write_all(&requests).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    })
    .await
    .unwrap();
    assert_eq!(out.matches("HTTP/1.1 200 OK\r\n").count(), 52, "{out}");
    assert_eq!(out.matches("\r\n\r\ntrue true 0").count(), 51, "{out}");
    assert!(out.ends_with("\r\n\r\ntrue true 300000"), "{out}");
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(10), served)
        .await
        .expect("server stops")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_task_on_the_io_thread_ends_alone() {
    use zttp_zmq::Runtime;
    let shutdown = Shutdown::new();
    let listener = zttp_zmq::PeerListener::bind("tcp://127.0.0.1:0").unwrap();
    let addr = listener
        .local_endpoint()
        .trim_start_matches("tcp://")
        .to_string();
    // A task that panics when the IO thread polls it, as a stray `spawn` in an app might.
    listener
        .io_thread_runtime()
        .spawn(Box::pin(async { panic!("a task panics on purpose") }));
    let server = Server::from_listener(listener).shutdown(shutdown.clone());
    let served = tokio::spawn(
        server.serve_on_io_thread(|_req: Request| async { http::Response::new(Body::from("ok")) }),
    );
    // The IO thread survived it: connections are served.
    for _ in 0..3 {
        let addr = addr.clone();
        let ok = tokio::task::spawn_blocking(move || {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out);
            String::from_utf8_lossy(&out).into_owned()
        })
        .await
        .unwrap();
        assert!(
            ok.starts_with("HTTP/1.1 200") && ok.ends_with("ok"),
            "{ok:?}"
        );
    }
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(10), served)
        .await
        .expect("stops")
        .unwrap()
        .unwrap();
}
