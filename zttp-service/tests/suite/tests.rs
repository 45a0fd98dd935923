//! The behaviours, each a function of the adapter's `start`.

use std::io::Write;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use zttp_service::ServerConfig;

use super::app::{dropped, started};
use super::client::{curl, small_window_stream, RawConn};
use super::TestServer;

type Start = fn(ServerConfig) -> TestServer;

fn tokio_client() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

pub fn keep_alive_serves_sequential_requests_on_one_connection(start: Start) {
    let server = start(ServerConfig::default());
    let mut conn = RawConn::connect(server.addr);
    for i in 0..3 {
        let resp = conn.get(&format!("/path/{i}"));
        assert_eq!(resp.status, 200);
        assert_eq!(resp.text(), format!("/path/{i}"));
        assert_eq!(resp.header("date").map(str::len), Some(29), "a Date header");
        assert_eq!(resp.header("connection"), None);
    }
    server.stop().unwrap();
}

pub fn pipelined_requests_are_answered_in_order(start: Start) {
    let server = start(ServerConfig::default());
    let mut conn = RawConn::connect(server.addr);
    conn.send(
        b"GET /sleep/50 HTTP/1.1\r\nHost: t\r\n\r\n\
          GET /path/second HTTP/1.1\r\nHost: t\r\n\r\n\
          POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nthird\
          GET /path/fourth HTTP/1.1\r\nHost: t\r\n\r\n",
    );
    let bodies: Vec<String> = (0..4).map(|_| conn.response().text()).collect();
    assert_eq!(bodies, ["slept", "/path/second", "third", "/path/fourth"]);
    server.stop().unwrap();
}

pub fn expect_continue_sends_100_only_when_the_body_is_read(start: Start) {
    let server = start(ServerConfig::default());
    let mut conn = RawConn::connect(server.addr);
    conn.send(
        b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
    );
    let interim = conn.response();
    assert_eq!(
        interim.status, 100,
        "the handler reads the body, so 100 comes"
    );
    conn.send(b"hello");
    let resp = conn.response();
    assert_eq!((resp.status, resp.text().as_str()), (200, "hello"));
    assert_eq!(conn.get("/").status, 200, "the connection stays usable");
    server.stop().unwrap();
}

pub fn answering_without_reading_an_expected_body_closes_without_100(start: Start) {
    let server = start(ServerConfig::default());
    let mut conn = RawConn::connect(server.addr);
    conn.send(b"POST /ignore-body HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
    let resp = conn.response();
    assert_eq!(resp.status, 200, "no 100 before the final answer");
    assert_eq!(resp.header("connection"), Some("close"));
    assert!(
        conn.is_closed(),
        "the unwanted body is never read: the server closes"
    );
    server.stop().unwrap();
}

pub fn curl_uploads_with_expect_continue(start: Start) {
    let server = start(ServerConfig::default());
    let body: Vec<u8> = (0..300_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let path = std::env::temp_dir().join(format!(
        "zttp-upload-{}-{}",
        std::process::id(),
        server.addr.port()
    ));
    std::fs::write(&path, &body).unwrap();
    let url = format!("http://{}/echo", server.addr);
    let data = format!("@{}", path.display());
    let out = curl(&[
        "-sS",
        "-v",
        "--max-time",
        "20",
        "-H",
        "Expect: 100-continue",
        "--data-binary",
        &data,
        &url,
    ]);
    std::fs::remove_file(&path).ok();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "curl failed: {stderr}");
    assert!(
        stderr.contains("HTTP/1.1 100 Continue"),
        "curl saw 100 Continue: {stderr}"
    );
    assert_eq!(out.stdout, body);
    server.stop().unwrap();
}

pub fn websocket_upgrade_hands_the_connection_to_the_handler(start: Start) {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let server = start(ServerConfig::default());
    let url = format!("ws://{}/ws", server.addr);
    tokio_client().block_on(async {
        let (mut ws, resp) = tokio_tungstenite::connect_async(url)
            .await
            .expect("handshake");
        assert_eq!(resp.status(), 101);
        ws.send(Message::text("hi there")).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::text("hi there"));
        let big = vec![7u8; 1000];
        ws.send(Message::binary(big.clone())).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), Message::binary(big));
        ws.close(None).await.unwrap();
    });
    server.stop().unwrap();
}

pub fn handler_panic_answers_500_and_the_connection_keeps_serving(start: Start) {
    let server = start(ServerConfig::default());
    let mut conn = RawConn::connect(server.addr);
    assert_eq!(conn.get("/panic").status, 500);
    assert_eq!(conn.get("/").text(), "hello");
    assert_eq!(conn.get("/panic-now").status, 500);
    assert_eq!(conn.get("/").text(), "hello");
    assert_eq!(RawConn::connect(server.addr).get("/").status, 200);
    server.stop().unwrap();
}

pub fn slowloris_head_gets_408_after_the_header_read_timeout(start: Start) {
    let server =
        start(ServerConfig::default().header_read_timeout(Some(Duration::from_millis(300))));
    let mut conn = RawConn::connect(server.addr);
    conn.send(b"GET / HTTP/1.1\r\n");
    let started = Instant::now();
    // Trickle header bytes; the server cuts us off however often we send.
    let mut cut_off = false;
    while started.elapsed() < Duration::from_secs(10) {
        if conn.try_send(b"X-Slow: 1\r\n").is_err() {
            cut_off = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        if started.elapsed() > Duration::from_millis(600) {
            break;
        }
    }
    let resp = conn.read_response(false);
    match resp {
        Ok(resp) => assert_eq!(resp.status, 408),
        Err(e) => assert!(cut_off, "neither 408 nor a reset: {e:?}"),
    }
    server.stop().unwrap();
}

pub fn idle_keep_alive_connection_is_closed(start: Start) {
    let server =
        start(ServerConfig::default().keep_alive_timeout(Some(Duration::from_millis(200))));
    let mut conn = RawConn::connect(server.addr);
    assert_eq!(conn.get("/").status, 200);
    assert!(
        conn.is_closed(),
        "the idle connection is closed by the server"
    );
    server.stop().unwrap();
}

pub fn graceful_shutdown_finishes_requests_in_flight(start: Start) {
    const N: usize = 20;
    let server = start(ServerConfig::default());
    let key = format!("shutdown-{}", server.addr.port());
    let clients: Vec<_> = (0..N)
        .map(|_| {
            let addr = server.addr;
            let key = key.clone();
            std::thread::spawn(move || {
                let mut conn = RawConn::connect(addr);
                let resp = conn.get(&format!("/sleep/400?key={key}"));
                (
                    resp.status,
                    resp.text(),
                    resp.header("connection").map(str::to_owned),
                )
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(10);
    while started(&key) < N {
        assert!(Instant::now() < deadline, "requests started");
        std::thread::sleep(Duration::from_millis(5));
    }
    let addr = server.addr;
    server.stop().unwrap();
    for client in clients {
        let (status, text, connection) = client.join().unwrap();
        assert_eq!(
            (status, text.as_str()),
            (200, "slept"),
            "no request in flight is lost"
        );
        assert_eq!(connection.as_deref(), Some("close"));
    }
    assert_listener_closed(addr);
}

/// Graceful shutdown under load: 16 clients download 200 kB streamed
/// (chunked) bodies back to back on keep-alive connections while the server
/// stops. Every response whose status line arrived arrives whole; after the
/// stop, connections end cleanly between responses and new ones are refused.
pub fn graceful_shutdown_under_load_completes_every_started_response(start: Start) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    const CLIENTS: usize = 16;
    const BODY: usize = 200_000;
    let server = start(ServerConfig::default());
    let completed = Arc::new(AtomicUsize::new(0));
    let addr = server.addr;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let completed = completed.clone();
            std::thread::spawn(move || {
                let give_up = Instant::now() + Duration::from_secs(30);
                let mut mine = 0;
                while Instant::now() < give_up {
                    let Ok(mut conn) = RawConn::try_connect(addr) else {
                        return mine; // the server stopped accepting
                    };
                    loop {
                        let request = format!("GET /stream/{BODY} HTTP/1.1\r\nHost: t\r\n\r\n");
                        if conn.try_send(request.as_bytes()).is_err() {
                            break; // closed between responses
                        }
                        let Ok(status) = conn.read_status() else {
                            break; // closed before answering this one: not started
                        };
                        let resp = conn
                            .read_rest(status, false)
                            .expect("a response that started arrives whole");
                        assert_eq!(resp.status, 200);
                        assert_eq!(resp.body.len(), BODY, "whole body");
                        assert!(resp.body.iter().all(|&b| b == b'x'));
                        mine += 1;
                        completed.fetch_add(1, Ordering::Relaxed);
                        if resp.header("connection") == Some("close") {
                            break;
                        }
                    }
                }
                panic!("server still serving after 30 s");
            })
        })
        .collect();
    let deadline = Instant::now() + Duration::from_secs(20);
    while completed.load(Ordering::Relaxed) < 4 * CLIENTS {
        assert!(Instant::now() < deadline, "load started");
        std::thread::sleep(Duration::from_millis(5));
    }
    server.stop().unwrap();
    let served: usize = clients.into_iter().map(|c| c.join().unwrap()).sum();
    assert!(served >= 4 * CLIENTS);
    assert_listener_closed(addr);
}

pub fn thousand_concurrent_keep_alive_connections(start: Start) {
    const N: usize = 1000;
    let server = start(ServerConfig::default());
    let addr = server.addr;
    let ok = tokio_client().block_on(async move {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
        let barrier = Arc::new(tokio::sync::Barrier::new(N));
        let mut tasks = Vec::new();
        for i in 0..N {
            let barrier = barrier.clone();
            tasks.push(tokio::spawn(async move {
                let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                let mut stream = tokio::io::BufReader::new(stream);
                let mut ok = 0;
                for round in 0..2 {
                    if round == 1 {
                        // Every connection is open and idle at once here.
                        barrier.wait().await;
                    }
                    let path = format!("/path/{i}-{round}");
                    stream
                        .get_mut()
                        .write_all(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
                        .await
                        .unwrap();
                    let mut len = 0;
                    loop {
                        let mut line = String::new();
                        let read = stream.read_line(&mut line).await.unwrap();
                        assert!(read > 0, "connection {i} closed in round {round}");
                        if line == "\r\n" {
                            break;
                        }
                        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            len = v.trim().parse().unwrap();
                        }
                    }
                    let mut body = vec![0; len];
                    stream.read_exact(&mut body).await.unwrap();
                    ok += usize::from(body == path.as_bytes());
                }
                ok
            }));
        }
        // One bound for the whole exchange, generous for a loaded machine (it
        // takes seconds when the machine is free).
        let all = futures::future::join_all(tasks);
        let results = tokio::time::timeout(Duration::from_secs(180), all)
            .await
            .expect("1000 connections answered twice within 180 s");
        results.into_iter().map(Result::unwrap).sum::<usize>()
    });
    assert_eq!(ok, 2 * N);
    server.stop().unwrap();
}

pub fn protocol_errors_are_answered_then_the_connection_closes(start: Start) {
    let server = start(ServerConfig::default());
    let big_header = format!(
        "GET / HTTP/1.1\r\nHost: t\r\nX-Big: {}\r\n\r\n",
        "a".repeat(70_000)
    );
    let long_target = format!("GET /{} HTTP/1.1\r\nHost: t\r\n\r\n", "a".repeat(9000));
    let cases: Vec<(&[u8], u16)> = vec![
        (b"GET / HTTP/1.1\r\nHost: t\r\nbad header line\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        (big_header.as_bytes(), 431),
        (long_target.as_bytes(), 414),
        (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"GET / HTTP/3.0\r\nHost: t\r\n\r\n", 505),
        // RFC 9112 §3: a malformed request line from an HTTP/1 peer; a method
        // longer than any implemented; RFC 3986: a fragment, a bad Host.
        (b"GET /a b HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        (b"ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG / HTTP/1.1\r\nHost: t\r\n\r\n", 501),
        (b"GET /a#b HTTP/1.1\r\nHost: t\r\n\r\n", 400),
        (b"GET / HTTP/1.1\r\nHost: a:b:c\r\n\r\n", 400),
    ];
    for (request, status) in cases {
        let mut conn = RawConn::connect(server.addr);
        let _ = conn.try_send(request);
        let resp = conn.response();
        assert_eq!(
            resp.status,
            status,
            "for {:?}",
            String::from_utf8_lossy(&request[..40.min(request.len())])
        );
        assert_eq!(resp.header("connection"), Some("close"));
        assert!(conn.is_closed());
    }
    server.stop().unwrap();
}

/// After an error answer the server shuts its side down at once (the client
/// reads EOF) while it lingers, reading what the client may still send; the
/// client does not wait for the linger timeout (2 s) to see the end.
pub fn error_answer_is_followed_by_the_servers_fin_at_once(start: Start) {
    let server = start(ServerConfig::default());
    let mut conn = RawConn::connect(server.addr);
    conn.send(b"GET / HTTP/1.1\r\n\r\n");
    let resp = conn.response();
    assert_eq!(resp.status, 400);
    assert_eq!(resp.header("connection"), Some("close"));
    conn.set_read_timeout(Duration::from_secs(1));
    assert!(conn.is_closed(), "no FIN within 1 s of the answer");
    server.stop().unwrap();
}

/// Bytes that are not HTTP/1 at all (RFC 9112 §3; RFC 9113 §3.4 for a broken
/// HTTP/2 preface, h2spec 3.5/2) get no HTTP/1.1 answer: the connection closes.
pub fn bytes_that_are_not_http_are_closed_without_an_answer(start: Start) {
    let server = start(ServerConfig::default());
    let cases: [&[u8]; 4] = [
        b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", // a TLS ClientHello
        b"INVALID CONNECTION PREFACE\r\n\r\n",
        b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n",
        b"GET /index.html\r\n", // HTTP/0.9
    ];
    for bytes in cases {
        let mut conn = RawConn::connect(server.addr);
        let _ = conn.try_send(bytes);
        assert!(
            conn.is_closed(),
            "{:?} is closed without an answer",
            String::from_utf8_lossy(bytes)
        );
    }
    server.stop().unwrap();
}

pub fn body_over_the_limit_gets_413(start: Start) {
    let server = start(ServerConfig::default().max_body_size(Some(1000)));
    let mut conn = RawConn::connect(server.addr);
    conn.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5000\r\n\r\n");
    let _ = conn.try_send(&[b'x'; 5000]);
    assert_eq!(conn.response().status, 413);
    assert!(conn.is_closed());

    let mut conn = RawConn::connect(server.addr);
    conn.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    let _ = conn.try_send(format!("7d0\r\n{}\r\n0\r\n\r\n", "y".repeat(2000)).as_bytes());
    assert_eq!(conn.response().status, 413);
    assert!(conn.is_closed());

    let mut conn = RawConn::connect(server.addr);
    conn.send(b"POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n");
    conn.send(&[b'z'; 1000]);
    assert_eq!(conn.response().body.len(), 1000, "at the limit is fine");
    server.stop().unwrap();
}

pub fn default_body_limit_is_2_mib(start: Start) {
    let limit = ServerConfig::DEFAULT_MAX_BODY_SIZE as usize;
    assert_eq!(limit, 2 * 1024 * 1024);
    let server = start(ServerConfig::default());
    let mut conn = RawConn::connect(server.addr);
    let head = format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        limit + 1
    );
    conn.send(head.as_bytes());
    let _ = conn.try_send(&vec![b'x'; limit + 1]);
    assert_eq!(conn.response().status, 413);

    let mut conn = RawConn::connect(server.addr);
    let head = format!("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {limit}\r\n\r\n");
    conn.send(head.as_bytes());
    conn.send(&vec![b'z'; limit]);
    assert_eq!(conn.response().body.len(), limit, "at the limit is fine");

    let server_unlimited = start(ServerConfig::default().max_body_size(None));
    let mut conn = RawConn::connect(server_unlimited.addr);
    let head = format!(
        "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        limit + 1
    );
    conn.send(head.as_bytes());
    conn.send(&vec![b'u'; limit + 1]);
    assert_eq!(
        conn.response().body.len(),
        limit + 1,
        "None disables the limit"
    );
    server_unlimited.stop().unwrap();
    server.stop().unwrap();
}

pub fn unread_body_is_drained_and_the_connection_reused(start: Start) {
    let server = start(ServerConfig::default());
    let mut conn = RawConn::connect(server.addr);
    conn.send(b"POST /ignore-body HTTP/1.1\r\nHost: t\r\nContent-Length: 10000\r\n\r\n");
    conn.send(&[b'q'; 10000]);
    assert_eq!(conn.response().text(), "ignored");
    assert_eq!(conn.get("/").text(), "hello", "the unread body was drained");
    server.stop().unwrap();
}

pub fn unread_body_over_the_drain_limit_closes_the_connection(start: Start) {
    let server = start(ServerConfig::default().max_drain(1000));
    let mut conn = RawConn::connect(server.addr);
    conn.send(b"POST /ignore-body HTTP/1.1\r\nHost: t\r\nContent-Length: 1000000\r\n\r\n");
    let writer = {
        let mut w = conn_writer(&conn);
        std::thread::spawn(move || {
            let _ = w.write_all(&vec![b'q'; 1_000_000]);
        })
    };
    assert_eq!(conn.response().text(), "ignored");
    assert!(conn.is_closed());
    writer.join().unwrap();
    server.stop().unwrap();
}

fn conn_writer(conn: &RawConn) -> std::net::TcpStream {
    conn.writer_clone()
}

pub fn head_response_has_headers_but_no_body(start: Start) {
    let server = start(ServerConfig::default());
    let mut conn = RawConn::connect(server.addr);
    conn.send(b"HEAD / HTTP/1.1\r\nHost: t\r\n\r\n");
    let resp = conn.head_response();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-length"), Some("5"));
    assert_eq!(
        conn.get("/path/after-head").text(),
        "/path/after-head",
        "no stray body bytes"
    );
    server.stop().unwrap();
}

pub fn streamed_response_body_arrives_whole(start: Start) {
    let server = start(ServerConfig::default());
    let mut conn = RawConn::connect(server.addr);
    let resp = conn.get("/stream/1000000");
    assert_eq!(resp.header("transfer-encoding"), Some("chunked"));
    assert_eq!(resp.body.len(), 1_000_000);
    assert!(resp.body.iter().all(|&b| b == b'x'));
    assert_eq!(conn.get("/").text(), "hello");
    server.stop().unwrap();
}

pub fn request_trailers_reach_the_handler(start: Start) {
    let server = start(ServerConfig::default());
    let mut conn = RawConn::connect(server.addr);
    conn.send(b"POST /trailers HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n\
        5\r\nhello\r\n0\r\nX-Sum: 42\r\n\r\n");
    assert_eq!(conn.response().text(), "x-sum=42;len=5");
    server.stop().unwrap();
}

pub fn raw_request_keeps_header_case_order_and_target(start: Start) {
    let server = start(ServerConfig::default().raw_request(true));
    let mut conn = RawConn::connect(server.addr);
    conn.send(
        b"GET /raw?a=%41&b HTTP/1.1\r\nHost: t\r\nX-CaSe: 1\r\nx-case: 2\r\nACCEPT: */*\r\n\r\n",
    );
    assert_eq!(
        conn.response().text(),
        "/raw?a=%41&b Host,X-CaSe,x-case,ACCEPT"
    );
    server.stop().unwrap();
}

pub fn hyper_client_round_trips(start: Start) {
    let server = start(ServerConfig::default());
    let addr = server.addr;
    tokio_client().block_on(async move {
        let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .unwrap();
        tokio::spawn(conn);
        for i in 0..3 {
            let req = http::Request::post("/echo")
                .header("host", "t")
                .body(Full::new(Bytes::from(format!("body {i}"))))
                .unwrap();
            sender.ready().await.unwrap();
            let resp = sender.send_request(req).await.unwrap();
            assert_eq!(resp.status(), 200);
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(body, format!("body {i}"));
        }
        let req = http::Request::get("/stream/300000")
            .header("host", "t")
            .body(Full::new(Bytes::new()))
            .unwrap();
        sender.ready().await.unwrap();
        let resp = sender.send_request(req).await.unwrap();
        assert_eq!(
            resp.into_body().collect().await.unwrap().to_bytes().len(),
            300_000
        );
    });
    server.stop().unwrap();
}

pub fn curl_round_trips(start: Start) {
    let server = start(ServerConfig::default());
    let base = format!("http://{}", server.addr);
    let out = curl(&[
        "-sS",
        "--max-time",
        "10",
        &format!("{base}/"),
        &format!("{base}/path/x"),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "hello/path/x");
    let out = curl(&[
        "-sS",
        "--max-time",
        "10",
        "-H",
        "Transfer-Encoding: chunked",
        "--data-binary",
        "chunked upload",
        &format!("{base}/echo"),
    ]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "chunked upload");
    server.stop().unwrap();
}

pub fn python_h11_client_round_trips(start: Start) {
    let server = start(ServerConfig::default());
    let script = r#"
import socket, sys
import h11
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=10)
c = h11.Connection(h11.CLIENT)
out = []
for body in (b"first", b"second"):
    s.sendall(c.send(h11.Request(method="POST", target="/echo",
        headers=[("Host", "t"), ("Content-Length", str(len(body)))])))
    s.sendall(c.send(h11.Data(data=body)))
    s.sendall(c.send(h11.EndOfMessage()))
    got = b""
    while True:
        e = c.next_event()
        if e is h11.NEED_DATA:
            c.receive_data(s.recv(65536)); continue
        if isinstance(e, h11.Response): assert e.status_code == 200, e
        if isinstance(e, h11.Data): got += e.data
        if isinstance(e, h11.EndOfMessage): break
    out.append(got.decode())
    c.start_next_cycle()
print(",".join(out))
"#;
    let out = zttp_peers::python_command(&[zttp_peers::Peer::PyH11])
        .arg("-c")
        .arg(script)
        .arg(server.addr.port().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "python h11 client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(stdout.trim(), "first,second");
    server.stop().unwrap();
}

pub fn http10_request_gets_a_close_delimited_or_sized_answer(start: Start) {
    let server = start(ServerConfig::default());
    let mut conn = RawConn::connect(server.addr);
    conn.send(b"GET /stream/20000 HTTP/1.0\r\n\r\n");
    let resp = conn.response();
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body.len(), 20_000);
    server.stop().unwrap();
}

pub fn write_timeout_closes_a_connection_whose_peer_stopped_reading(start: Start) {
    let server = start(ServerConfig::default().write_timeout(Some(Duration::from_millis(300))));
    let key = format!("stalled-{}", server.addr.port());
    let mut stalled = small_window_stream(server.addr);
    stalled
        .write_all(format!("GET /endless?key={key} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes())
        .unwrap();
    // Never read: the server's writes block once the buffers are full.
    let deadline = Instant::now() + Duration::from_secs(10);
    while started(&key) < 1 {
        assert!(Instant::now() < deadline, "the endless response started");
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut other = RawConn::connect(server.addr);
    assert_eq!(
        other.get("/").text(),
        "hello",
        "other connections are served"
    );
    while dropped(&key) < 1 {
        assert!(
            Instant::now() < deadline,
            "the stalled connection and its response body were dropped"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(other.get("/path/after").text(), "/path/after");
    // Closed before the stop: the zmq transport keeps a closed peer until its
    // queued output is sent or the peer goes away.
    drop(stalled);
    server.stop().unwrap();
}

pub fn slow_reader_is_not_cut_off_by_the_write_timeout(start: Start) {
    use std::io::Read;
    const LEN: usize = 200_000;
    let server = start(ServerConfig::default().write_timeout(Some(Duration::from_millis(300))));
    let mut conn = small_window_stream(server.addr);
    conn.write_all(
        format!("GET /stream/{LEN} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .unwrap();
    // Reads a little at a time, pausing well under the timeout between reads:
    // the writes keep moving, so the whole response arrives.
    let mut received = Vec::new();
    let mut buf = [0u8; 4096];
    let started = Instant::now();
    loop {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) => panic!("read failed after {} bytes: {e}", received.len()),
        }
        assert!(started.elapsed() < Duration::from_secs(30), "bounded");
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = String::from_utf8_lossy(&received);
    assert!(
        text.starts_with("HTTP/1.1 200 OK\r\n"),
        "{}",
        &text[..80.min(text.len())]
    );
    assert!(text.ends_with("\r\n0\r\n\r\n"), "the chunked body ended");
    let body = text.split_once("\r\n\r\n").unwrap().1;
    assert_eq!(body.matches('x').count(), LEN);
    server.stop().unwrap();
}

pub fn error_answer_reaches_a_client_still_sending_its_body(start: Start) {
    const LEN: usize = 50_000_000;
    let server = start(ServerConfig::default().max_body_size(Some(1000)));
    let mut conn = RawConn::connect(server.addr);
    conn.send(
        format!("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {LEN}\r\n\r\n").as_bytes(),
    );
    // Keep sending the body while the answer comes; the server stops reading it.
    let writer = {
        let mut w = conn.writer_clone();
        std::thread::spawn(move || {
            let chunk = vec![b'b'; 64 * 1024];
            let mut sent = 0;
            while sent < LEN {
                if w.write_all(&chunk).is_err() {
                    break;
                }
                sent += chunk.len();
            }
        })
    };
    let resp = conn.read_response(false).expect("the answer survives");
    assert_eq!(resp.status, 413);
    assert_eq!(resp.header("connection"), Some("close"));
    writer.join().unwrap();
    server.stop().unwrap();
}

/// Asserts that nothing accepts connections on `addr` any more. Transports
/// may close their listener asynchronously (libzmq does), so allow a moment.
pub fn assert_listener_closed(addr: std::net::SocketAddr) {
    let closed = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(20));
        std::net::TcpStream::connect(addr).is_err()
    });
    assert!(closed, "the listener is closed after shutdown");
}
