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
//!   (`GET /` only, no bodies) with the same response as prepared bytes;
//! - `floor`: the least any server pays to hand handlers an `http::Request`:
//!   a tokio loop that parses each head with httparse (hyper's parser), builds
//!   the `http::Request` (method, URI, `HeaderMap`, the `PeerAddr` extension
//!   zttp gives every request), collects a Content-Length body, awaits the
//!   same handler and writes its `http::Response` with a cached `Date`, a
//!   batch of pipelined answers per write (no chunked bodies, no keep-alive
//!   rules, timeouts or limits).
//!
//! `cargo run --release -p zttp-examples --features hyper --bin bench_server -- --server NAME [--addr 127.0.0.1:8080]`

use std::convert::Infallible;
use std::io;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const HELLO: &[u8] = b"Hello, World!";
const SERVERS: &str = "zttp, hyper, hyper-auto, axum, axum-zttp, canned or floor";

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
        "hyper" | "hyper-auto" | "axum" | "canned" | "floor" => {}
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
                let (stream, peer) = listener.accept().await?;
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
                        "floor" => {
                            let _ = floor(io.into_inner(), peer).await;
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

/// The `floor` server's handler: what `zttp_handler` answers, the body's
/// pieces already collected.
async fn floor_handler(req: http::Request<Vec<Bytes>>) -> http::Response<Bytes> {
    let received =
        (req.method() == http::Method::POST).then(|| req.body().iter().map(Bytes::len).sum());
    let (content_type, bytes) = answer(req.method(), req.uri().path(), received);
    response(content_type, bytes)
}

/// Parses each request head with httparse, hands the handler an
/// `http::Request` built from it with its body (by Content-Length) collected,
/// and writes the handler's response, a batch of pipelined answers in one
/// write: what item-for-item the request path costs without a protocol
/// engine around it. A head httparse refuses, or a chunked body, closes the
/// connection.
async fn floor(mut stream: tokio::net::TcpStream, peer: std::net::SocketAddr) -> io::Result<()> {
    let mut buf = bytes::BytesMut::with_capacity(16 * 1024);
    let mut out = Vec::with_capacity(4096);
    // A request whose head is read and whose body is still arriving.
    let mut waiting: Option<Pending> = None;
    loop {
        // Room for a head, or for the rest of the body in one read.
        let want = waiting.as_ref().map_or(1024, |w| w.remaining);
        if buf.capacity() - buf.len() < want {
            buf.reserve(want.clamp(16 * 1024, 1 << 20));
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
        loop {
            let mut pending = match waiting.take() {
                Some(pending) => pending,
                None => match floor_head(&mut buf, peer) {
                    Ok(Some(pending)) => pending,
                    Ok(None) => break,
                    Err(()) => return Ok(()),
                },
            };
            if pending.remaining > 0 {
                // Each read's bytes become a piece of the body, not copied.
                let n = pending.remaining.min(buf.len());
                if n > 0 {
                    pending.pieces.push(buf.split_to(n).freeze());
                    pending.remaining -= n;
                }
                if pending.remaining > 0 {
                    waiting = Some(pending);
                    break;
                }
            }
            let response = floor_handler(pending.request.map(|()| pending.pieces)).await;
            write_response(&mut out, response);
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
            out.clear();
        }
    }
}

/// A `floor` request whose head is read: its body's pieces so far and how
/// many bytes of it are still to come.
struct Pending {
    request: http::Request<()>,
    pieces: Vec<Bytes>,
    remaining: usize,
}

/// The next request head in `buf` (taken out of it) as an `http::Request`
/// carrying the `PeerAddr` extension, its body (by Content-Length) still to
/// come; `None` while the head is incomplete, `Err` for a head to close on.
fn floor_head(
    buf: &mut bytes::BytesMut,
    peer: std::net::SocketAddr,
) -> Result<Option<Pending>, ()> {
    let mut fields = [httparse::EMPTY_HEADER; 32];
    let mut head = httparse::Request::new(&mut fields);
    let len = match head.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(()),
    };
    let method = http::Method::from_bytes(head.method.unwrap_or("").as_bytes()).map_err(drop)?;
    let target = offset(buf, head.path.unwrap_or("").as_bytes());
    let mut ranges = [((0, 0), (0, 0)); 32];
    let n = head.headers.len();
    for (range, field) in ranges.iter_mut().zip(head.headers.iter()) {
        *range = (offset(buf, field.name.as_bytes()), offset(buf, field.value));
    }
    let raw = buf.split_to(len).freeze();
    let mut headers = http::HeaderMap::with_capacity(n);
    let mut length = None;
    for (name, value) in &ranges[..n] {
        let name = http::HeaderName::from_bytes(&raw[name.0..name.1]).map_err(drop)?;
        // httparse checked these bytes already; checking them again costs
        // about a compare per byte and needs no `unsafe`.
        let value =
            http::HeaderValue::from_maybe_shared(raw.slice(value.0..value.1)).map_err(drop)?;
        if name == http::header::TRANSFER_ENCODING {
            return Err(());
        }
        if name == http::header::CONTENT_LENGTH {
            let n = value.to_str().ok().and_then(|v| v.parse().ok());
            if length.is_some() || n.is_none() {
                return Err(());
            }
            length = n;
        }
        headers.append(name, value);
    }
    let uri = http::Uri::from_maybe_shared(raw.slice(target.0..target.1)).map_err(drop)?;
    let mut request = http::Request::new(());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = headers;
    request
        .extensions_mut()
        .insert(zttp_service::PeerAddr(peer));
    Ok(Some(Pending {
        request,
        pieces: Vec::new(),
        remaining: length.unwrap_or(0),
    }))
}

/// Where `part` (a slice of `buf`) starts and ends in `buf`.
fn offset(buf: &[u8], part: &[u8]) -> (usize, usize) {
    let start = part.as_ptr() as usize - buf.as_ptr() as usize;
    (start, start + part.len())
}

/// Appends `response` to `out` as an HTTP/1.1 response with a `Date` (cached
/// per second) and its body's length.
fn write_response(out: &mut Vec<u8>, response: http::Response<Bytes>) {
    let (parts, body) = response.into_parts();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(parts.status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(parts.status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    for (name, value) in &parts.headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"content-length: ");
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    let mut n = body.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&digits[at..]);
    out.extend_from_slice(b"\r\ndate: ");
    DATE.with(|date| {
        let mut date = date.borrow_mut();
        let now = std::time::SystemTime::now();
        let second = now
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        if date.0 != second {
            *date = (second, httpdate::fmt_http_date(now));
        }
        out.extend_from_slice(date.1.as_bytes());
    });
    out.extend_from_slice(b"\r\n\r\n");
    out.extend_from_slice(&body);
}

thread_local! {
    /// The `floor` server's `Date` value and the second it names.
    static DATE: std::cell::RefCell<(u64, String)> = const { std::cell::RefCell::new((0, String::new())) };
}
