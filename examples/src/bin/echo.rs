//! Echoes each request back as JSON, plus a few test routes.
//!
//! `cargo run --release -p zttp-examples --bin echo -- [--runtime tokio|async-std] [--addr ADDR] [--tls | --cert FILE --key FILE] [--max-body BYTES]`
//!
//! `--tls` serves HTTPS with a self-signed certificate for `localhost` and
//! `127.0.0.1` made at start (`curl -k`), `--cert FILE --key FILE` with PEM
//! files; ALPN picks HTTP/2 (`"version": "HTTP/2"`) or HTTP/1.1.
//!
//! `--max-body BYTES` sets the server's request body limit
//! ([`ServerConfig::max_body_size`]); a larger body gets `413`. Default: the
//! server default, 2 MiB.
//!
//! - any path: reads the whole body and answers `200 application/json`
//!   `{"method", "target", "version", "headers", "body_len", "body_sha256", "trailers", "peer"}`
//!   with the head exactly as received (header order, duplicates and name case;
//!   bytes ≥ 0x80 as Latin-1 characters); `peer` is the client's `"IP:PORT"` on every
//!   runtime (`null` if unknown). A body that fails to read gets a 4xx and
//!   the connection closes.
//! - `/bytes/N`: N bytes of `0123456789…` with Content-Length, streamed in pieces.
//! - `/chunked/N`: the same bytes, chunked on HTTP/1.1.
//! - `/status/CODE`: that status, empty body.
//! - `/sleep/MS`: waits, then `200` `slept`.
//! - `/hints`: a `103 Early Hints` with `Link: </style.css>; rel=preload; as=style`
//!   (not to HTTP/1.0 clients), then the JSON answer.
//! - `/ws`: a WebSocket (HTTP/1.1 upgrade, or RFC 8441 extended CONNECT over
//!   HTTP/2) that first sends `{"method": …, "version": …}` of the request
//!   that opened it, then echoes text and binary messages.

use std::convert::Infallible;
use std::sync::OnceLock;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use http::{header, HeaderValue, StatusCode};
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use zttp_service::websocket::{Message, WebSocketUpgrade};
use zttp_service::{
    Body, Informational, IntoResponse, PeerAddr, RawRequest, Request, Response, ServerConfig,
};

/// Bytes per streamed piece; a multiple of 10 so every piece starts at `0`.
const PIECE: usize = 16_000;

async fn echo(req: Request) -> Response {
    if req.uri().path() == "/ws" {
        return websocket(req);
    }
    let path = req.uri().path();
    let number = |prefix: &str| {
        path.strip_prefix(prefix)
            .and_then(|n| n.parse::<u64>().ok())
    };
    if let Some(n) = number("/bytes/") {
        let mut response = http::Response::new(digits(n));
        response
            .headers_mut()
            .insert(header::CONTENT_LENGTH, HeaderValue::from(n));
        return response;
    }
    if let Some(n) = number("/chunked/") {
        return http::Response::new(digits(n));
    }
    if let Some(code) = number("/status/") {
        return match u16::try_from(code)
            .ok()
            .and_then(|c| StatusCode::from_u16(c).ok())
        {
            Some(status) => status.into_response(),
            None => StatusCode::BAD_REQUEST.into_response(),
        };
    }
    if let Some(ms) = number("/sleep/") {
        async_io::Timer::after(Duration::from_millis(ms)).await;
        return "slept".into_response();
    }
    if path == "/hints" {
        if let Some(interim) = req.extensions().get::<Informational>() {
            let mut hints = http::HeaderMap::new();
            hints.insert(
                header::LINK,
                HeaderValue::from_static("</style.css>; rel=preload; as=style"),
            );
            // An HTTP/1.0 client gets no 1xx: only the final answer.
            let _ = interim.send(StatusCode::EARLY_HINTS, hints);
        }
    }
    describe(req).await
}

/// `/ws`: says how it was opened, then echoes.
fn websocket(mut req: Request) -> Response {
    let opened = format!(
        r#"{{"method":"{}","version":"{:?}"}}"#,
        req.method(),
        req.version()
    );
    match WebSocketUpgrade::from_request(&mut req) {
        Ok(upgrade) => {
            let (response, session) = upgrade.into_parts(move |mut ws| async move {
                if ws.send(Message::text(opened)).await.is_err() {
                    return;
                }
                while let Some(Ok(message)) = ws.next().await {
                    if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err()
                    {
                        return;
                    }
                }
            });
            // echo runs on every runtime: the WebSocket gets a thread of its own.
            std::thread::spawn(move || futures::executor::block_on(session));
            response
        }
        Err(refused) => refused.into_response(),
    }
}

/// `n` bytes of repeating digits, produced piece by piece.
fn digits(n: u64) -> Body {
    static DIGITS: OnceLock<Bytes> = OnceLock::new();
    let digits = DIGITS
        .get_or_init(|| {
            (0..PIECE)
                .map(|i| b'0' + (i % 10) as u8)
                .collect::<Vec<u8>>()
                .into()
        })
        .clone();
    Body::from_stream(futures::stream::unfold(n, move |left| {
        let digits = digits.clone();
        async move {
            let take = left.min(PIECE as u64);
            (take > 0).then(|| {
                (
                    Ok::<_, Infallible>(digits.slice(..take as usize)),
                    left - take,
                )
            })
        }
    }))
}

/// The request as JSON, after reading its whole body.
async fn describe(req: Request) -> Response {
    let raw = req.extensions().get::<RawRequest>().cloned();
    let peer = req.extensions().get::<PeerAddr>().map(|p| p.to_string());
    let mut body = req.into_body();
    let mut hasher = Sha256::new();
    let mut body_len = 0u64;
    let mut trailers = Vec::new();
    while let Some(frame) = body.frame().await {
        let frame = match frame {
            Ok(frame) => frame,
            Err(e) => {
                let status = e.status().filter(|s| (400..500).contains(s)).unwrap_or(400);
                let mut response = StatusCode::from_u16(status)
                    .unwrap_or(StatusCode::BAD_REQUEST)
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                return response;
            }
        };
        match frame.into_data() {
            Ok(data) => {
                body_len += data.len() as u64;
                hasher.update(&data);
            }
            Err(frame) => {
                if let Ok(fields) = frame.into_trailers() {
                    for (name, value) in &fields {
                        trailers.push([name.as_str().to_owned(), latin1(value.as_bytes())]);
                    }
                }
            }
        }
    }
    let Some(raw) = raw else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let headers: Vec<[String; 2]> = raw
        .headers
        .iter()
        .map(|(name, value)| [latin1(name), latin1(value)])
        .collect();
    let digest = hasher.finalize();
    let json = serde_json::json!({
        "method": latin1(&raw.method),
        "target": latin1(&raw.target),
        "version": raw.version.as_str(),
        "headers": headers,
        "body_len": body_len,
        "body_sha256": digest.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        "trailers": trailers,
        "peer": peer,
    });
    let mut response = http::Response::new(Body::from(json.to_string()));
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// Bytes as Latin-1 characters: every byte is one character, none is lost.
fn latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| b as char).collect()
}

fn main() {
    let (args, extra) = zttp_examples::Args::parse_with(&["--max-body"]);
    // The raw head keeps header name case and order, and the target as sent;
    // `/hints` sends informational responses.
    let mut config = ServerConfig::default()
        .raw_request(true)
        .informational_responses(true);
    for (_, bytes) in extra {
        match bytes.parse::<u64>() {
            Ok(max) => config = config.max_body_size(Some(max)),
            Err(_) => {
                zttp_examples::usage(&format!("--max-body takes a byte count, not {bytes:?}"))
            }
        }
    }
    zttp_examples::run_or_exit(&args, config, echo);
}
