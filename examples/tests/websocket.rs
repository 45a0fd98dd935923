//! `zttp_service::websocket` against a real client (tokio-tungstenite), served
//! by each adapter: tokio, async-std and zmq. Loopback only, every wait bounded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::mpsc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use http::StatusCode;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message as ClientMessage;
use zttp_service::websocket::{tungstenite, Message, WebSocket, WebSocketUpgrade};
use zttp_service::{Handler, IntoResponse, Request, Runtime, Shutdown};

/// The largest message the test server accepts.
const LIMIT: usize = 1024;

/// Echoes text and binary messages; a message over [`LIMIT`] closes with 1009.
async fn echo(mut ws: WebSocket) {
    while let Some(message) = ws.next().await {
        match message {
            Ok(message @ (Message::Text(_) | Message::Binary(_))) => {
                if ws.send(message).await.is_err() {
                    return;
                }
            }
            Ok(_) => {}
            Err(tungstenite::Error::Capacity(e)) => {
                let frame = tungstenite::protocol::CloseFrame {
                    code: tungstenite::protocol::frame::coding::CloseCode::Size,
                    reason: e.to_string().into(),
                };
                let _ = ws.close(Some(frame)).await;
                return;
            }
            Err(_) => return,
        }
    }
}

fn app<R: Runtime>(runtime: R) -> impl Handler {
    move |mut req: Request| {
        let runtime = runtime.clone();
        async move {
            if req.uri().path() != "/echo" {
                return StatusCode::NOT_FOUND.into_response();
            }
            match WebSocketUpgrade::from_request(&mut req) {
                Ok(upgrade) => upgrade
                    .protocols(["chat"])
                    .max_message_size(Some(LIMIT))
                    .max_frame_size(Some(LIMIT))
                    .on_upgrade(&runtime, echo),
                Err(refused) => refused.into_response(),
            }
        }
    }
}

/// A server on its own thread and runtime; stopped by [`Running::stop`].
struct Running {
    addr: SocketAddr,
    shutdown: Shutdown,
    finished: mpsc::Receiver<std::io::Result<()>>,
}

impl Running {
    fn stop(self) {
        self.shutdown.trigger();
        self.finished
            .recv_timeout(Duration::from_secs(20))
            .expect("server stops within 20 s")
            .expect("server ends without error");
    }
}

fn start(adapter: &'static str) -> Running {
    let shutdown = Shutdown::new();
    let signal = shutdown.clone();
    let (addr_tx, addr_rx) = mpsc::channel();
    let (done_tx, finished) = mpsc::channel();
    std::thread::spawn(move || {
        let result = match adapter {
            "tokio" => tokio_runtime().block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
                addr_tx.send(listener.local_addr()?).unwrap();
                zttp_tokio::Server::new(listener)
                    .shutdown(signal)
                    .serve(app(zttp_tokio::TokioRuntime))
                    .await
            }),
            "async-std" => async_std::task::block_on(async move {
                let listener = async_std::net::TcpListener::bind("127.0.0.1:0").await?;
                addr_tx.send(listener.local_addr()?).unwrap();
                zttp_async_std::Server::new(listener)
                    .shutdown(signal)
                    .serve(app(zttp_async_std::AsyncStdRuntime))
                    .await
            }),
            "zmq" => tokio_runtime().block_on(async move {
                let server = zttp_zmq::Server::bind("tcp://127.0.0.1:0")?.shutdown(signal);
                let addr = server.local_endpoint().trim_start_matches("tcp://");
                addr_tx.send(addr.parse().unwrap()).unwrap();
                server.serve(app(zttp_zmq::TokioRuntime::current())).await
            }),
            other => unreachable!("no adapter {other}"),
        };
        let _ = done_tx.send(result);
    });
    Running {
        addr: addr_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("server binds"),
        shutdown,
        finished,
    }
}

fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// Runs a client future on a fresh runtime, bounded to 20 s.
fn client<F: std::future::Future>(future: F) -> F::Output {
    tokio_runtime()
        .block_on(async { tokio::time::timeout(Duration::from_secs(20), future).await })
        .expect("client finishes within 20 s")
}

/// Sends a raw request head and returns the whole answer head.
fn raw_head(addr: SocketAddr, head: &str) -> String {
    let mut conn = TcpStream::connect(addr).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(head.as_bytes()).unwrap();
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut buf).unwrap();
        assert!(n > 0, "connection closed before an answer head");
        answer.extend_from_slice(&buf[..n]);
    }
    String::from_utf8_lossy(&answer).to_lowercase()
}

fn echoes_text_binary_and_ping_then_closes_cleanly(adapter: &'static str) {
    let server = start(adapter);
    let url = format!("ws://{}/echo", server.addr);
    client(async {
        let mut request = url.as_str().into_client_request().unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", "superchat, chat".parse().unwrap());
        let (mut ws, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(response.status(), 101);
        assert_eq!(response.headers()["sec-websocket-protocol"], "chat");

        ws.send(ClientMessage::text("héllo")).await.unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            ClientMessage::text("héllo")
        );
        ws.send(ClientMessage::binary(vec![0u8, 1, 2, 255]))
            .await
            .unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            ClientMessage::binary(vec![0u8, 1, 2, 255])
        );
        ws.send(ClientMessage::Ping(b"are you there".to_vec().into()))
            .await
            .unwrap();
        assert_eq!(
            ws.next().await.unwrap().unwrap(),
            ClientMessage::Pong(b"are you there".to_vec().into())
        );
        // A message of exactly the limit still passes.
        let full = "x".repeat(LIMIT);
        ws.send(ClientMessage::text(full.clone())).await.unwrap();
        assert_eq!(ws.next().await.unwrap().unwrap(), ClientMessage::text(full));

        ws.close(None).await.unwrap();
        match ws.next().await {
            Some(Ok(ClientMessage::Close(_))) | None => {}
            other => panic!("expected the close answer, got {other:?}"),
        }
    });
    server.stop();
}

fn message_over_the_limit_is_refused_with_1009(adapter: &'static str) {
    let server = start(adapter);
    let url = format!("ws://{}/echo", server.addr);
    client(async {
        let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
        ws.send(ClientMessage::text("y".repeat(LIMIT + 1)))
            .await
            .unwrap();
        match ws.next().await {
            Some(Ok(ClientMessage::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Size),
            other => panic!("expected close 1009, got {other:?}"),
        }
    });
    server.stop();
}

fn handshake_errors_get_426_or_400(adapter: &'static str) {
    let server = start(adapter);
    let head = |version: &str, key: &str| {
        format!(
            "GET /echo HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             {key}Sec-WebSocket-Version: {version}\r\n\r\n"
        )
    };
    let key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    let answer = raw_head(server.addr, &head("8", key));
    assert!(answer.starts_with("http/1.1 426 "), "{answer}");
    assert!(
        answer.contains("\r\nsec-websocket-version: 13\r\n"),
        "{answer}"
    );

    let answer = raw_head(server.addr, &head("13", ""));
    assert!(answer.starts_with("http/1.1 400 "), "{answer}");
    assert!(!answer.contains("sec-websocket-accept"), "{answer}");

    // A plain GET to the endpoint (no upgrade asked) is refused too, and the
    // connection stays usable HTTP.
    let answer = raw_head(server.addr, "GET /echo HTTP/1.1\r\nHost: x\r\n\r\n");
    assert!(answer.starts_with("http/1.1 400 "), "{answer}");

    // The handshake itself, by the RFC's sample key.
    let answer = raw_head(server.addr, &head("13", key));
    assert!(answer.starts_with("http/1.1 101 "), "{answer}");
    assert!(answer.contains("\r\nsec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=\r\n"));
    server.stop();
}

fn many_clients_each_get_their_own_echoes(adapter: &'static str) {
    let server = start(adapter);
    let url = format!("ws://{}/echo", server.addr);
    client(async {
        let clients = (0..40).map(|c| {
            let url = url.clone();
            tokio::spawn(async move {
                let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
                for i in 0..25 {
                    let text = format!("client {c} message {i}");
                    ws.send(ClientMessage::text(text.clone())).await.unwrap();
                    assert_eq!(ws.next().await.unwrap().unwrap(), ClientMessage::text(text));
                }
                ws.close(None).await.unwrap();
            })
        });
        for joined in futures::future::join_all(clients).await {
            joined.unwrap();
        }
    });
    server.stop();
}

/// RFC 8441: a python h2 client opens the WebSocket with an extended CONNECT
/// over h2c (after the server's SETTINGS_ENABLE_CONNECT_PROTOCOL), gets `200`
/// with the chosen subprotocol, its text frame echoed in DATA frames while a
/// GET on another stream is answered, and a clean 1000 close that ends the
/// stream.
fn websocket_over_http2_extended_connect(adapter: &'static str) {
    let server = start(adapter);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/ws_h2_client.py");
    let out = zttp_peers::python_command(&[zttp_peers::Peer::PyH2])
        .arg(script)
        .arg(server.addr.ip().to_string())
        .arg(server.addr.port().to_string())
        .output()
        .expect("run the python h2 client");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{adapter}: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: serde_json::Value = serde_json::from_str(stdout.trim()).expect("JSON");
    assert_eq!(seen["enable_connect_protocol"], 1, "{adapter}: {seen}");
    assert_eq!(seen["status"], 200, "{adapter}: {seen}");
    assert_eq!(seen["protocol"], "chat", "{adapter}: {seen}");
    assert_eq!(seen["echo"], "hello over h2", "{adapter}: {seen}");
    assert_eq!(seen["other_status"], 404, "{adapter}: {seen}");
    assert_eq!(seen["close_code"], 1000, "{adapter}: {seen}");
    assert_eq!(seen["ended"], true, "{adapter}: {seen}");
    server.stop();
}

macro_rules! on_every_adapter {
    ($($test:ident),* $(,)?) => {
        mod tokio_adapter { $( #[test] fn $test() { super::$test("tokio") } )* }
        mod async_std_adapter { $( #[test] fn $test() { super::$test("async-std") } )* }
        mod zmq_adapter { $( #[test] fn $test() { super::$test("zmq") } )* }
    };
}

on_every_adapter!(
    echoes_text_binary_and_ping_then_closes_cleanly,
    message_over_the_limit_is_refused_with_1009,
    handshake_errors_get_426_or_400,
    many_clients_each_get_their_own_echoes,
    websocket_over_http2_extended_connect,
);
