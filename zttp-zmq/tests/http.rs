//! HTTP through the shared drive loop on a STREAM socket, checked with curl and raw TCP.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http_body_util::BodyExt;
use zttp_service::{Body, Request, ServerConfig, Shutdown};
use zttp_zmq::Server;

const LIMIT: Duration = Duration::from_secs(30);

/// Starts a server with a handler that answers `/hello`, echoes POST bodies and serves
/// `/download/N` as N bytes streamed in chunks; returns `host:port` and its shutdown.
fn start(config: ServerConfig) -> (String, Shutdown) {
    let shutdown = Shutdown::new();
    let server = Server::bind("tcp://127.0.0.1:0")
        .unwrap()
        .config(config)
        .shutdown(shutdown.clone());
    let addr = server
        .local_endpoint()
        .trim_start_matches("tcp://")
        .to_string();
    tokio::spawn(server.serve(|req: Request| async move {
        let path = req.uri().path().to_string();
        if let Some(n) = path.strip_prefix("/download/") {
            let total: usize = n.parse().unwrap();
            let chunks = futures::stream::iter((0..total).step_by(64 << 10).map(move |start| {
                let len = (64 << 10).min(total - start);
                Ok::<_, std::io::Error>(Bytes::from(vec![b'd'; len]))
            }));
            return http::Response::new(Body::from_stream(chunks));
        }
        if req.method() == http::Method::POST {
            let body = req
                .into_body()
                .collect()
                .await
                .map(|c| c.to_bytes())
                .unwrap_or_default();
            return http::Response::new(Body::from(body));
        }
        http::Response::new(Body::from("Hello World!"))
    }));
    (addr, shutdown)
}

/// Runs curl; a missing curl fails the test, naming its package (`zttp_peers`).
fn curl(args: &[&str]) -> std::process::Output {
    let out = zttp_peers::command(zttp_peers::Peer::Curl)
        .args(["-sS", "--max-time", "30", "--noproxy", "*"])
        .args(args)
        .output()
        .expect("curl runs");
    assert!(
        out.status.success(),
        "curl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> impl std::future::Future<Output = T> {
    let task = tokio::task::spawn_blocking(f);
    async move {
        tokio::time::timeout(LIMIT, task)
            .await
            .expect("bounded")
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(zttp_skip_peer = "curl", ignore = "ZTTP_SKIP_PEERS opts out of curl")]
async fn curl_gets_hello() {
    zttp_peers::require(zttp_peers::Peer::Curl);
    let (addr, shutdown) = start(ServerConfig::default());
    let out = blocking(move || curl(&["-i", &format!("http://{addr}/hello")])).await;
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nHello World!"), "{text}");
    shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(zttp_skip_peer = "curl", ignore = "ZTTP_SKIP_PEERS opts out of curl")]
async fn curl_uploads_and_downloads_ten_megabytes() {
    zttp_peers::require(zttp_peers::Peer::Curl);
    let (addr, shutdown) = start(ServerConfig::default().max_body_size(None));
    let dir = std::env::temp_dir().join(format!("zttp-zmq-http-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let upload = dir.join("upload.bin");
    let data: Vec<u8> = (0..10 << 20).map(|i: u32| (i % 251) as u8).collect();
    std::fs::write(&upload, &data).unwrap();
    let a = addr.clone();
    let up = upload.clone();
    let echoed = blocking(move || {
        curl(&[
            "--data-binary",
            &format!("@{}", up.display()),
            &format!("http://{a}/echo"),
        ])
        .stdout
    })
    .await;
    assert_eq!(echoed.len(), data.len());
    assert!(echoed == data, "upload came back different");
    let a = addr.clone();
    let downloaded =
        blocking(move || curl(&[&format!("http://{a}/download/{}", 10 << 20)]).stdout).await;
    assert_eq!(downloaded.len(), 10 << 20);
    assert!(downloaded.iter().all(|&b| b == b'd'));
    std::fs::remove_dir_all(&dir).unwrap();
    shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expect_continue_gets_100_then_the_answer() {
    let (addr, shutdown) = start(ServerConfig::default());
    let text = blocking(move || {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(LIMIT)).unwrap();
        s.write_all(
            b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
        )
        .unwrap();
        let mut buf = [0u8; 256];
        let n = s.read(&mut buf).unwrap();
        let interim = String::from_utf8_lossy(&buf[..n]).into_owned();
        assert!(
            interim.starts_with("HTTP/1.1 100 Continue\r\n\r\n"),
            "{interim}"
        );
        s.write_all(b"apple").unwrap();
        let mut rest = interim
            .trim_start_matches("HTTP/1.1 100 Continue\r\n\r\n")
            .to_string();
        while !rest.ends_with("apple") {
            let n = s.read(&mut buf).unwrap();
            assert!(n > 0, "closed early: {rest}");
            rest.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        rest
    })
    .await;
    assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text}");
    shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(zttp_skip_peer = "curl", ignore = "ZTTP_SKIP_PEERS opts out of curl")]
async fn curl_expect_continue_upload() {
    zttp_peers::require(zttp_peers::Peer::Curl);
    let (addr, shutdown) = start(ServerConfig::default());
    let out = blocking(move || {
        curl(&[
            "-v",
            "-H",
            "Expect: 100-continue",
            "--data-binary",
            "Apples to Oranges!",
            &format!("http://{addr}/post"),
        ])
    })
    .await;
    assert_eq!(out.stdout, b"Apples to Oranges!");
    assert!(String::from_utf8_lossy(&out.stderr).contains("HTTP/1.1 100 Continue"));
    shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keep_alive_and_pipelining_on_one_connection() {
    let (addr, shutdown) = start(ServerConfig::default());
    let text = blocking(move || {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(LIMIT)).unwrap();
        // Three pipelined requests in one write, the last one closing.
        s.write_all(
            b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        let mut all = Vec::new();
        s.read_to_end(&mut all).unwrap();
        String::from_utf8(all).unwrap()
    })
    .await;
    assert_eq!(text.matches("HTTP/1.1 200 OK\r\n").count(), 3, "{text}");
    let hello = text.find("Hello World!").unwrap();
    let abc = text.find("\r\n\r\nabc").unwrap();
    assert!(hello < abc, "{text}");
    assert!(text.ends_with("Hello World!"), "{text}");
    shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(zttp_skip_peer = "curl", ignore = "ZTTP_SKIP_PEERS opts out of curl")]
async fn curl_reuses_the_connection() {
    zttp_peers::require(zttp_peers::Peer::Curl);
    let (addr, shutdown) = start(ServerConfig::default());
    let out = blocking(move || {
        curl(&[
            "-v",
            &format!("http://{addr}/1"),
            &format!("http://{addr}/2"),
        ])
    })
    .await;
    assert_eq!(out.stdout, b"Hello World!Hello World!");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains("Re-using existing connection") || log.contains("Reusing existing"),
        "{log}"
    );
    shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_request_gets_400_like_on_tcp() {
    let (addr, shutdown) = start(ServerConfig::default());
    let text = blocking(move || {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(LIMIT)).unwrap();
        s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n")
            .unwrap();
        let mut all = Vec::new();
        let _ = s.read_to_end(&mut all);
        String::from_utf8_lossy(&all).into_owned()
    })
    .await;
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(zttp_skip_peer = "curl", ignore = "ZTTP_SKIP_PEERS opts out of curl")]
async fn graceful_shutdown_returns_from_serve() {
    zttp_peers::require(zttp_peers::Peer::Curl);
    let shutdown = Shutdown::new();
    let server = Server::bind("tcp://127.0.0.1:0")
        .unwrap()
        .shutdown(shutdown.clone());
    let addr = server
        .local_endpoint()
        .trim_start_matches("tcp://")
        .to_string();
    let serving = tokio::spawn(server.serve(|_req: Request| async { "ok" }));
    let out = blocking(move || curl(&[&format!("http://{addr}/")])).await;
    assert_eq!(out.stdout, b"ok");
    shutdown.trigger();
    tokio::time::timeout(LIMIT, serving)
        .await
        .expect("serve returns")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_keep_alive_clients() {
    let (addr, shutdown) = start(ServerConfig::default());
    let results = futures::stream::iter(0..32)
        .map(|i| {
            let addr = addr.clone();
            blocking(move || {
                let mut s = TcpStream::connect(&addr).unwrap();
                s.set_read_timeout(Some(LIMIT)).unwrap();
                let mut ok = 0;
                for j in 0..20 {
                    let body = format!("client {i} request {j}");
                    let req = format!(
                        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    s.write_all(req.as_bytes()).unwrap();
                    let mut got = Vec::new();
                    let mut buf = [0u8; 512];
                    while !got.ends_with(body.as_bytes()) {
                        let n = s.read(&mut buf).unwrap();
                        assert!(n > 0);
                        got.extend_from_slice(&buf[..n]);
                    }
                    ok += 1;
                }
                ok
            })
        })
        .buffer_unordered(32)
        .collect::<Vec<_>>()
        .await;
    assert!(results.iter().all(|&n| n == 20));
    shutdown.trigger();
}
