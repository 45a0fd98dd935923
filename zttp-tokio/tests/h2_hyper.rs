//! A hyper 1.x HTTP/2 client (prior knowledge) against zttp-tokio: concurrent
//! streams on one connection, bodies both ways.

use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use zttp_service::Runtime;
use zttp_service::{Body, Request};
use zttp_tokio::{Server, Shutdown, TokioRuntime};

async fn app(req: Request) -> http::Response<Body> {
    let path = req.uri().path().to_owned();
    let version = format!("{:?}", req.version());
    if let Some(ms) = path.strip_prefix("/sleep/") {
        let ms = ms.parse().unwrap_or(0);
        TokioRuntime.sleep(Duration::from_millis(ms)).await;
        return http::Response::new(Body::from(version));
    }
    let body = req.into_body().to_bytes().await.unwrap_or_default();
    http::Response::new(Body::from(format!("{version} {path} {}", body.len())))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hyper_http2_client_runs_concurrent_requests_on_one_connection() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = Shutdown::new();
    // Uploads of up to 4.9 MB: over the default body limit.
    let config = zttp_tokio::ServerConfig::default().max_body_size(Some(8 << 20));
    let server = tokio::spawn(
        Server::new(listener)
            .config(config)
            .shutdown(shutdown.clone())
            .serve(app),
    );

    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);

    // 25 requests that each wait 1 s (and 25 uploads): served one after another
    // they would take over 25 s.
    let began = Instant::now();
    let requests: Vec<_> = (0..50)
        .map(|i| {
            let mut sender = sender.clone();
            tokio::spawn(async move {
                let body = if i % 2 == 0 {
                    Full::new(Bytes::new())
                } else {
                    Full::new(Bytes::from(vec![b'z'; 100_000 * i]))
                };
                let uri = if i % 2 == 0 {
                    "http://t/sleep/1000".to_owned()
                } else {
                    format!("http://t/upload/{i}")
                };
                let method = if i % 2 == 0 { "GET" } else { "POST" };
                let req = http::Request::builder()
                    .method(method)
                    .uri(uri)
                    .body(body)
                    .unwrap();
                let resp = sender.send_request(req).await.unwrap();
                assert_eq!(resp.status(), 200);
                assert_eq!(resp.version(), http::Version::HTTP_2);
                let text = resp.into_body().collect().await.unwrap().to_bytes();
                (i, String::from_utf8(text.to_vec()).unwrap())
            })
        })
        .collect();
    for r in requests {
        let (i, text) = tokio::time::timeout(Duration::from_secs(20), r)
            .await
            .expect("answered in time")
            .unwrap();
        if i % 2 == 0 {
            assert_eq!(text, "HTTP/2.0");
        } else {
            assert_eq!(text, format!("HTTP/2.0 /upload/{i} {}", 100_000 * i));
        }
    }
    assert!(
        began.elapsed() < Duration::from_secs(12),
        "streams run concurrently ({:?})",
        began.elapsed()
    );
    drop(sender);
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server stops")
        .unwrap()
        .unwrap();
    let _ = tokio::time::timeout(Duration::from_secs(5), conn).await;
}

/// A core config built from `zttp_core::Config::default()` and handed to the
/// service keeps h2c: an HTTP/2 client gets its answer, not an empty reply.
#[tokio::test]
async fn a_default_core_config_set_through_the_service_keeps_h2c() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let mut core = zttp_core::Config::default();
    core.limits.max_headers = 50;
    let config = zttp_tokio::ServerConfig::default().core(core);
    let server = tokio::spawn(
        Server::new(listener)
            .config(config)
            .shutdown(shutdown.clone())
            .serve(app),
    );

    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .unwrap();
    let conn = tokio::spawn(conn);
    let req = http::Request::get("http://t/h2")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let resp = tokio::time::timeout(Duration::from_secs(10), sender.send_request(req))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, Bytes::from("HTTP/2.0 /h2 0"));
    drop(sender);
    let _ = conn.await;

    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
}
