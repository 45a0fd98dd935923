//! The servers `bench/run` compares, one binary with the same routes on each:
//!
//! - `GET /` → `200 text/plain` `Hello, World!`
//! - `GET /1m` → 1 MiB of `application/octet-stream` (one shared buffer)
//! - `POST` (any path) → reads the whole body, answers its length in bytes
//!
//! `--server` picks who serves them:
//!
//! - `zttp`: a plain zttp handler (`--runtime` as in every example);
//! - `hyper`: hyper 1.x, `server::conn::http1::Builder` (HTTP/1.1 only);
//! - `hyper-auto`: hyper-util's `server::conn::auto::Builder` (HTTP/1.1 and h2c);
//! - `axum`: an axum `Router` under `axum::serve` (on hyper);
//! - `axum-zttp`: the same `Router` through zttp's `TowerHandler`;
//! - `canned`: the ceiling: a tokio loop that answers each request head
//!   (`GET /` only, no bodies) with the same response as prepared bytes.
//!
//! `cargo run --release -p zttp-examples --features hyper --bin bench_server -- --server NAME [--addr 127.0.0.1:8080]`

use std::convert::Infallible;
use std::io;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HELLO: &[u8] = b"Hello, World!";
const SERVERS: &str = "zttp, hyper, hyper-auto, axum, axum-zttp or canned";

/// The 1 MiB body `/1m` serves, shared by every response.
fn megabyte() -> Bytes {
    static BODY: std::sync::OnceLock<Bytes> = std::sync::OnceLock::new();
    BODY.get_or_init(|| Bytes::from(vec![b'z'; 1 << 20]))
        .clone()
}

/// What a request gets, whoever serves it: the content type and body.
fn answer(method: &http::Method, path: &str, received: Option<usize>) -> (&'static str, Bytes) {
    match (method, path, received) {
        (&http::Method::POST, _, Some(n)) => ("text/plain", Bytes::from(n.to_string())),
        (_, "/1m", _) => ("application/octet-stream", megabyte()),
        _ => ("text/plain", Bytes::from_static(HELLO)),
    }
}

fn response<B>(content_type: &'static str, body: B) -> http::Response<B> {
    let mut response = http::Response::new(body);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    response
}

/// The body's length, read to its end (an error reads as what arrived).
async fn body_len<B: http_body::Body>(body: B) -> usize
where
    B::Data: bytes::Buf,
{
    use bytes::Buf;
    let mut body = std::pin::pin!(body);
    let mut n = 0;
    while let Some(Ok(frame)) = body.frame().await {
        if let Some(data) = frame.data_ref() {
            n += data.remaining();
        }
    }
    n
}

async fn zttp_handler(req: zttp_service::Request) -> http::Response<zttp_service::Body> {
    let (parts, body) = req.into_parts();
    let received = match parts.method {
        http::Method::POST => Some(body_len(body).await),
        _ => None,
    };
    let (content_type, bytes) = answer(&parts.method, parts.uri.path(), received);
    response(content_type, zttp_service::Body::from(bytes))
}

async fn hyper_handler(
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let received = match parts.method {
        http::Method::POST => Some(body_len(body).await),
        _ => None,
    };
    let (content_type, bytes) = answer(&parts.method, parts.uri.path(), received);
    Ok(response(content_type, Full::new(bytes)))
}

fn router() -> axum::Router {
    use axum::routing::get;
    async fn hello() -> http::Response<axum::body::Body> {
        let (content_type, bytes) = answer(&http::Method::GET, "/", None);
        response(content_type, axum::body::Body::from(bytes))
    }
    async fn megabyte() -> http::Response<axum::body::Body> {
        let (content_type, bytes) = answer(&http::Method::GET, "/1m", None);
        response(content_type, axum::body::Body::from(bytes))
    }
    async fn upload(body: axum::body::Body) -> http::Response<axum::body::Body> {
        let n = body_len(body).await;
        let (content_type, bytes) = answer(&http::Method::POST, "", Some(n));
        response(content_type, axum::body::Body::from(bytes))
    }
    axum::Router::new()
        .route("/", get(hello).post(upload))
        .route("/1m", get(megabyte).post(upload))
        .fallback(upload)
}

fn main() -> io::Result<()> {
    let (args, extra) = zttp_examples::Args::parse_with(&["--server"]);
    let server = match extra.first() {
        Some((_, name)) => name.clone(),
        None => zttp_examples::usage(&format!("--server NAME is required: {SERVERS}")),
    };
    match server.as_str() {
        "zttp" => {
            zttp_examples::run_or_exit(&args, Default::default(), zttp_handler);
            return Ok(());
        }
        "axum-zttp" => {
            let handler = zttp_service::TowerHandler(router());
            zttp_examples::run_or_exit(&args, Default::default(), handler);
            return Ok(());
        }
        "hyper" | "hyper-auto" | "axum" | "canned" => {}
        other => zttp_examples::usage(&format!("unknown server {other}: {SERVERS}")),
    }
    if args.runtime != "tokio" || args.tls.is_some() {
        zttp_examples::usage(&format!("--server {server} runs on tokio, without TLS"));
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let listener = tokio::net::TcpListener::bind(&args.addr).await?;
            zttp_examples::announce(listener.local_addr()?);
            if server == "axum" {
                return axum::serve(listener, router()).await;
            }
            loop {
                let (stream, _) = listener.accept().await?;
                let _ = stream.set_nodelay(true);
                let server = server.clone();
                tokio::spawn(async move {
                    let io = hyper_util::rt::TokioIo::new(stream);
                    let service = hyper::service::service_fn(hyper_handler);
                    match server.as_str() {
                        "hyper" => {
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(io, service)
                                .await;
                        }
                        "hyper-auto" => {
                            let executor = hyper_util::rt::TokioExecutor::new();
                            let _ = hyper_util::server::conn::auto::Builder::new(executor)
                                .serve_connection(io, service)
                                .await;
                        }
                        _ => {
                            let _ = canned(io.into_inner()).await;
                        }
                    }
                });
            }
        })
}

/// Answers every request head in what arrives with the same prepared bytes,
/// a batch of pipelined heads in one write: what a server costs with no
/// parsing, no routing and no protocol state.
async fn canned(mut stream: tokio::net::TcpStream) -> io::Result<()> {
    const RESPONSE: &[u8] =
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 13\r\n\r\nHello, World!";
    let mut buf = vec![0u8; 16 * 1024];
    let mut out = Vec::with_capacity(RESPONSE.len() * 16);
    let mut pending = 0;
    loop {
        let n = stream.read(&mut buf[pending..]).await?;
        if n == 0 {
            return Ok(());
        }
        let end = pending + n;
        let mut start = 0;
        while let Some(at) = buf[start..end].windows(4).position(|w| w == b"\r\n\r\n") {
            out.extend_from_slice(RESPONSE);
            start += at + 4;
        }
        buf.copy_within(start..end, 0);
        pending = end - start;
        if pending == buf.len() {
            return Ok(());
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
    }
}
