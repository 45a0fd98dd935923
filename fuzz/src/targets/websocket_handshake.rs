//! The WebSocket opening handshake through `zttp-service`'s drive loop: client
//! bytes (an HTTP/1.1 `Upgrade: websocket` request, or h2c with an extended
//! CONNECT, then WebSocket frames) in fragments, then the client's close. The
//! handler answers with `websocket::WebSocketUpgrade` and echoes messages.
//!
//! Input: `[config, fragment size, fragment seed, bytes…]`. Bits of
//! `config`: 0 HTTP/1.1 only, 1 the server prefers subprotocols `superchat`
//! then `chat`, 2 raw requests.
//!
//! Checks: no panic; the loop and the WebSocket task end by themselves once the
//! client is done; the handshake's verdict agrees with RFC 6455 §4.2.1 (HTTP/1.1)
//! and RFC 8441 §4–5 (HTTP/2) as re-derived here from the request the handler
//! saw: accepted exactly when valid, `426` exactly for a bad version, the
//! subprotocol chosen from those offered; and on HTTP/1.1 the answer on the
//! wire carries the verdict's status and, for `101`, the accept key of the
//! request's `Sec-WebSocket-Key`.
//!
//! Self-contained (it is not part of `zttp_fuzz`'s library): the libFuzzer
//! entry point and `zttp-service/tests/fuzz_corpus.rs` include this file.

use std::sync::{Arc, Mutex};

#[path = "service_support.rs"]
mod support;

use futures::StreamExt;
use http::{header, HeaderMap, Method, Version};
use support::{fragments, Executor, MemoryIo, MAX_POLLS};
use zttp_service::websocket::tungstenite::handshake::derive_accept_key;
use zttp_service::websocket::{Message, WebSocketUpgrade};
use zttp_service::{
    serve_connection, IntoResponse, Request, Response, Runtime, ServerConfig, Shutdown,
};

/// What the handler saw and decided, for the oracle.
struct Seen {
    method: Method,
    version: Version,
    has_authority: bool,
    headers: HeaderMap,
    protocol: Option<String>,
    /// `Ok(selected subprotocol)` or the refusal's status.
    verdict: Result<Option<String>, u16>,
}

/// The server's subprotocols, in its order of preference.
const SUBPROTOCOLS: [&str; 2] = ["superchat", "chat"];

/// Runs one input (the fuzz target's body).
pub fn run(data: &[u8]) {
    let [cfg, size, seed, ref input @ ..] = *data else {
        return;
    };
    let mut config = ServerConfig::default().raw_request(cfg & 4 != 0);
    if cfg & 1 != 0 {
        config = config.core(zttp_core::Config::default().protocol(zttp_core::Protocol::Http1));
    }
    let prefer = cfg & 2 != 0;
    let runtime = Executor::default();
    let io = MemoryIo::new(fragments(input, size, seed));
    let written = io.written.clone();
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let handler = {
        let (runtime, seen) = (runtime.clone(), seen.clone());
        move |req: Request| {
            let (runtime, seen) = (runtime.clone(), seen.clone());
            async move { handshake(req, &runtime, prefer, &seen) }
        }
    };
    let connection = serve_connection(
        io,
        runtime.clone(),
        handler,
        Arc::new(config),
        Shutdown::new(),
    );
    runtime.spawn(Box::pin(async move {
        let _ = connection.await;
    }));
    let mut ended = false;
    for _ in 0..MAX_POLLS {
        if runtime.run_once() == 0 {
            ended = true;
            break;
        }
    }
    assert!(
        ended,
        "the connection or its WebSocket did not end after the client's close"
    );
    let written = written.lock().unwrap();
    for seen in seen.lock().unwrap().iter() {
        check(seen, prefer, &written);
    }
}

/// The handler: the handshake's verdict, then an echo session or the refusal.
fn handshake<R: Runtime>(
    mut req: Request,
    runtime: &R,
    prefer: bool,
    seen: &Mutex<Vec<Seen>>,
) -> Response {
    let mut record = Seen {
        method: req.method().clone(),
        version: req.version(),
        has_authority: req.uri().authority().is_some(),
        headers: req.headers().clone(),
        protocol: req
            .extensions()
            .get::<zttp_service::upgrade::Protocol>()
            .map(|p| p.as_str().to_owned()),
        verdict: Err(0),
    };
    let response = match WebSocketUpgrade::from_request(&mut req) {
        Ok(upgrade) => {
            let upgrade = if prefer {
                upgrade.protocols(SUBPROTOCOLS)
            } else {
                upgrade
            };
            record.verdict = Ok(upgrade.selected_protocol().map(str::to_owned));
            upgrade
                .max_message_size(Some(4096))
                .on_upgrade(runtime, |mut ws| async move {
                    while let Some(Ok(message)) = ws.next().await {
                        if let Message::Text(_) | Message::Binary(_) = message {
                            if ws.send(message).await.is_err() {
                                break;
                            }
                        }
                    }
                })
        }
        Err(refused) => {
            record.verdict = Err(refused.status().as_u16());
            refused.into_response()
        }
    };
    seen.lock().unwrap().push(record);
    response
}

/// The verdict RFC 6455 §4.2.1 / RFC 8441 give for what the handler saw:
/// `Ok(())`, or the status to refuse with.
fn expected(seen: &Seen) -> Result<(), u16> {
    let headers = &seen.headers;
    if seen.version == Version::HTTP_2 {
        let websocket = seen
            .protocol
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case("websocket"));
        if seen.method != Method::CONNECT || !websocket {
            return Err(400);
        }
        return version_13(headers);
    }
    if seen.method != Method::GET || seen.version != Version::HTTP_11 {
        return Err(400);
    }
    if !headers.contains_key(header::HOST) && !seen.has_authority {
        return Err(400);
    }
    if !lists(headers, header::UPGRADE, "websocket")
        || !lists(headers, header::CONNECTION, "upgrade")
    {
        return Err(400);
    }
    let keys: Vec<_> = headers.get_all(header::SEC_WEBSOCKET_KEY).iter().collect();
    if keys.len() != 1 || base64_len(keys[0].as_bytes().trim_ascii()) != Some(16) {
        return Err(400);
    }
    version_13(headers)?;
    // A request with content cannot be upgraded (it must be read whole before
    // a switch, and the handshake gives it no meaning): refused with 400.
    let content = headers.contains_key(header::TRANSFER_ENCODING)
        || headers
            .get_all(header::CONTENT_LENGTH)
            .iter()
            .any(|v| v.as_bytes().iter().any(|&b| (b'1'..=b'9').contains(&b)));
    match content {
        true => Err(400),
        false => Ok(()),
    }
}

/// `Sec-WebSocket-Version: 13`, exactly one field; else `426`.
fn version_13(headers: &HeaderMap) -> Result<(), u16> {
    let versions: Vec<_> = headers
        .get_all(header::SEC_WEBSOCKET_VERSION)
        .iter()
        .collect();
    match versions[..] {
        [v] if v.as_bytes().trim_ascii() == b"13" => Ok(()),
        _ => Err(426),
    }
}

/// Whether a comma-separated field lists `token` (any case) in any of its lines.
fn lists(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|v| {
        v.as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

/// The decoded length of padded base64 text, if it is base64 at all.
fn base64_len(text: &[u8]) -> Option<usize> {
    if text.is_empty() || text.len() % 4 != 0 {
        return None;
    }
    let pad = text.iter().rev().take_while(|&&b| b == b'=').count();
    let body = &text[..text.len() - pad];
    let alphabet = |b: &u8| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/';
    (pad <= 2 && body.iter().all(alphabet)).then_some(text.len() / 4 * 3 - pad)
}

/// The subprotocols offered, in order.
fn offered(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Checks one handshake against the rules and, on HTTP/1.1, against the wire.
fn check(seen: &Seen, prefer: bool, written: &[u8]) {
    let want = expected(seen);
    match (&seen.verdict, want) {
        (Ok(selected), Ok(())) => {
            let offered = offered(&seen.headers);
            let choice = SUBPROTOCOLS
                .iter()
                .find(|p| prefer && offered.iter().any(|o| o == *p))
                .map(|p| p.to_string());
            assert_eq!(*selected, choice, "subprotocol chosen");
        }
        (Err(got), Err(want)) => assert_eq!(*got, want, "refusal status"),
        (got, want) => panic!(
            "handshake verdict {got:?}, the RFC says {want:?}: {} {:?} {:?}",
            seen.method, seen.version, seen.headers
        ),
    }
    if seen.version == Version::HTTP_2 {
        return; // the answer is HPACK-encoded
    }
    match want {
        Ok(()) => {
            let key = seen.headers.get(header::SEC_WEBSOCKET_KEY).unwrap();
            let accept = derive_accept_key(key.as_bytes().trim_ascii());
            let field = format!("sec-websocket-accept: {accept}\r\n");
            assert!(
                contains(written, b"HTTP/1.1 101 Switching Protocols\r\n")
                    && contains(written, field.as_bytes()),
                "no 101 with {field:?} in {:?}",
                String::from_utf8_lossy(written)
            );
        }
        Err(status) => {
            let line = format!("HTTP/1.1 {status} ");
            assert!(
                contains(written, line.as_bytes()),
                "no {line:?} in {:?}",
                String::from_utf8_lossy(written)
            );
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
