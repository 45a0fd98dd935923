//! The application every behaviour test talks to, runtime-agnostic.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use futures::{AsyncReadExt, AsyncWriteExt};
use http::{header, HeaderValue, StatusCode};
use http_body_util::BodyExt;
use zttp_service::{upgrade, Body, Handler, IntoResponse, RawRequest, Request, Response, Runtime};

/// How many `/sleep` requests each key has started (for the shutdown test).
pub fn started(key: &str) -> usize {
    started_map().lock().unwrap().get(key).copied().unwrap_or(0)
}

fn started_map() -> &'static Mutex<HashMap<String, usize>> {
    static STARTED: OnceLock<Mutex<HashMap<String, usize>>> = OnceLock::new();
    STARTED.get_or_init(Default::default)
}

/// How many `/endless` response bodies of each key the server dropped (their
/// connection ended).
pub fn dropped(key: &str) -> usize {
    dropped_map().lock().unwrap().get(key).copied().unwrap_or(0)
}

fn dropped_map() -> &'static Mutex<HashMap<String, usize>> {
    static DROPPED: OnceLock<Mutex<HashMap<String, usize>>> = OnceLock::new();
    DROPPED.get_or_init(Default::default)
}

/// Counts `key` in [`dropped`] when the body holding it is dropped.
struct DropCounter(String);

impl Drop for DropCounter {
    fn drop(&mut self) {
        *dropped_map()
            .lock()
            .unwrap()
            .entry(std::mem::take(&mut self.0))
            .or_default() += 1;
    }
}

/// Counts one start of `key` in [`started`].
fn count_start(key: &str) {
    *started_map()
        .lock()
        .unwrap()
        .entry(key.to_owned())
        .or_default() += 1;
}

/// The test application; `runtime` serves `/sleep` and the WebSocket task.
/// `/panic` panics in the handler's future, `/panic-now` in the call that
/// makes it.
pub fn app<R: Runtime>(runtime: R) -> impl Handler {
    move |req: Request| {
        assert!(
            req.uri().path() != "/panic-now",
            "the handler panicked before its future on purpose"
        );
        route(runtime.clone(), req)
    }
}

async fn route<R: Runtime>(runtime: R, mut req: Request) -> Response {
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or("").to_owned();
    match path.as_str() {
        "/" => "hello".into_response(),
        "/echo" => match req.into_body().to_bytes().await {
            Ok(bytes) => bytes.into_response(),
            Err(e) => StatusCode::from_u16(e.status().unwrap_or(400))
                .unwrap()
                .into_response(),
        },
        "/ignore-body" => "ignored".into_response(),
        "/info" => {
            // The version, and the body's length and FNV-1a digest, read piece by piece.
            let version = format!("{:?}", req.version());
            let mut body = req.into_body();
            let (mut len, mut digest) = (0u64, 0xcbf2_9ce4_8422_2325u64);
            while let Some(frame) = body.frame().await {
                let Ok(frame) = frame else {
                    return StatusCode::BAD_REQUEST.into_response();
                };
                if let Ok(data) = frame.into_data() {
                    len += data.len() as u64;
                    for &b in data.iter() {
                        digest = (digest ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
                    }
                }
            }
            format!("{version} len={len} fnv={digest:016x}").into_response()
        }
        "/panic" => panic!("the handler panicked on purpose"),
        "/ws" => websocket(runtime, &mut req),
        "/trailers" => {
            let collected = match req.into_body().collect().await {
                Ok(c) => c,
                Err(_) => return StatusCode::BAD_REQUEST.into_response(),
            };
            let trailers = collected.trailers().cloned().unwrap_or_default();
            let mut out: Vec<String> = trailers
                .iter()
                .map(|(n, v)| format!("{}={}", n, v.to_str().unwrap_or("?")))
                .collect();
            out.push(format!("len={}", collected.to_bytes().len()));
            out.join(";").into_response()
        }
        "/raw" => {
            let raw = req.extensions().get::<RawRequest>().unwrap();
            let names: Vec<String> = raw
                .headers
                .iter()
                .map(|(n, _)| String::from_utf8_lossy(n).into_owned())
                .collect();
            format!(
                "{} {}",
                String::from_utf8_lossy(&raw.target),
                names.join(",")
            )
            .into_response()
        }
        p if p.starts_with("/path/") => p.to_owned().into_response(),
        p if p.starts_with("/sleep/") => {
            let ms: u64 = p["/sleep/".len()..].parse().unwrap_or(0);
            if let Some(key) = query.strip_prefix("key=") {
                count_start(key.split('&').next().unwrap_or(key));
            }
            runtime.sleep(Duration::from_millis(ms)).await;
            "slept".into_response()
        }
        p if p.starts_with("/stream/") => {
            let n: usize = p["/stream/".len()..].parse().unwrap_or(0);
            let chunk = Bytes::from(vec![b'x'; 10_000]);
            let stream = futures::stream::unfold(n, move |left| {
                let chunk = chunk.clone();
                async move {
                    let take = left.min(chunk.len());
                    (take > 0).then(|| (Ok::<_, Infallible>(chunk.slice(..take)), left - take))
                }
            });
            Body::from_stream(stream).into_response()
        }
        "/endless" => {
            // A body that never ends; `?key=K` counts its start and its drop.
            let key = query.strip_prefix("key=").unwrap_or("").to_owned();
            count_start(&key);
            let chunk = Bytes::from(vec![b'e'; 16_384]);
            let stream = futures::stream::unfold(DropCounter(key), move |guard| {
                let chunk = chunk.clone();
                async move { Some((Ok::<_, Infallible>(chunk), guard)) }
            });
            Body::from_stream(stream).into_response()
        }
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Accepts a WebSocket handshake and echoes frames on the upgraded connection.
fn websocket<R: Runtime>(runtime: R, req: &mut Request) -> Response {
    let Some(key) = req.headers().get("sec-websocket-key") else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    let accept = tokio_tungstenite::tungstenite::handshake::derive_accept_key(key.as_bytes());
    let on_upgrade = upgrade::on(req);
    runtime.spawn(Box::pin(async move {
        if let Ok(io) = on_upgrade.await {
            let _ = echo_frames(io).await;
        }
    }));
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(
        "sec-websocket-accept",
        HeaderValue::from_str(&accept).unwrap(),
    );
    response
}

/// A minimal RFC 6455 echo: every client frame goes back unmasked; close ends it.
async fn echo_frames(mut io: zttp_service::Upgraded) -> std::io::Result<()> {
    loop {
        let mut head = [0u8; 2];
        io.read_exact(&mut head).await?;
        let opcode = head[0] & 0x0f;
        let mut len = u64::from(head[1] & 0x7f);
        if len == 126 {
            let mut ext = [0u8; 2];
            io.read_exact(&mut ext).await?;
            len = u64::from(u16::from_be_bytes(ext));
        } else if len == 127 {
            let mut ext = [0u8; 8];
            io.read_exact(&mut ext).await?;
            len = u64::from_be_bytes(ext);
        }
        let mut mask = [0u8; 4];
        if head[1] & 0x80 != 0 {
            io.read_exact(&mut mask).await?;
        }
        let mut payload = vec![0u8; len as usize];
        io.read_exact(&mut payload).await?;
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= mask[i % 4];
        }
        let mut frame = vec![0x80 | opcode];
        if payload.len() < 126 {
            frame.push(payload.len() as u8);
        } else {
            frame.push(126);
            frame.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        frame.extend_from_slice(&payload);
        io.write_all(&frame).await?;
        io.flush().await?;
        if opcode == 0x8 {
            return io.close().await;
        }
    }
}
