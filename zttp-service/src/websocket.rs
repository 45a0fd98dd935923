//! WebSockets (RFC 6455) from a handler, on any runtime.
//!
//! [`WebSocketUpgrade::from_request`] checks the opening handshake (RFC 6455
//! §4.2.1), [`WebSocketUpgrade::on_upgrade`] answers `101 Switching Protocols`
//! with the accept key (and a subprotocol, if one was chosen) and, once that
//! answer is written, runs your closure with the [`WebSocket`] in a task of
//! its own. Frames are read and written by
//! [`async-tungstenite`](async_tungstenite) over the upgraded futures-io
//! stream, so the same code runs on tokio, async-std/smol and zmq. Pings are
//! answered and close handshakes completed while you read the stream.
//!
//! A request that is not a valid opening handshake gets `400 Bad Request`,
//! or `426 Upgrade Required` with `Sec-WebSocket-Version: 13` when it asks
//! for a protocol version other than 13 ([`HandshakeError`]).
//!
//! An echo server's handler (any [`Runtime`] spawns the WebSocket task):
//!
//! ```
//! use futures::{SinkExt, StreamExt};
//! use zttp_service::websocket::{self, Message};
//! use zttp_service::{Request, Response, Runtime};
//!
//! async fn echo<R: Runtime>(runtime: R, mut req: Request) -> Response {
//!     websocket::upgrade(&mut req, &runtime, |mut ws| async move {
//!         while let Some(Ok(message)) = ws.next().await {
//!             if let Message::Text(_) | Message::Binary(_) = message {
//!                 if ws.send(message).await.is_err() {
//!                     break;
//!                 }
//!             }
//!         }
//!     })
//! }
//! ```
//!
//! Served with e.g. `zttp_tokio::serve(listener, move |req| echo(TokioRuntime, req))`.
//!
//! Over HTTP/2 the same handler serves WebSockets opened by an extended
//! `CONNECT` (RFC 8441, `:protocol = websocket`; the server announces
//! `SETTINGS_ENABLE_CONNECT_PROTOCOL` by default): the answer is `200`, and
//! the WebSocket bytes travel in the stream's DATA frames, under its flow
//! control, while other streams go on. A reset of the stream ends it.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use async_tungstenite::tungstenite::handshake::derive_accept_key;
use async_tungstenite::tungstenite::protocol::Role;
use async_tungstenite::WebSocketStream;
use bytes::{Buf, Bytes};
use futures::channel::mpsc;
use futures::StreamExt;
use futures_io::{AsyncRead, AsyncWrite};
use http::{header, HeaderMap, HeaderValue, Method, StatusCode, Version};
use http_body::Body as _;

use crate::upgrade::{self, OnUpgrade, Protocol, Upgraded};
use crate::{Body, IntoResponse, Request, Response, Runtime};

pub use async_tungstenite::tungstenite;
pub use async_tungstenite::tungstenite::protocol::WebSocketConfig;
pub use async_tungstenite::tungstenite::Message;

/// The one protocol version this side speaks (RFC 6455 §4.1).
const VERSION: &str = "13";

/// An accepted WebSocket: a [`Stream`](futures::Stream) of incoming
/// [`Message`]s and a [`Sink`](futures::Sink) of outgoing ones.
pub type WebSocket = WebSocketStream<Upgraded>;

/// A checked opening handshake, waiting to be answered with
/// [`on_upgrade`](WebSocketUpgrade::on_upgrade).
pub struct WebSocketUpgrade {
    opening: Opening,
    offered: Vec<String>,
    protocol: Option<HeaderValue>,
    config: WebSocketConfig,
}

/// How the WebSocket was asked for.
enum Opening {
    /// HTTP/1.1 `Upgrade: websocket`: answered `101` with the accept key.
    Upgrade {
        on_upgrade: OnUpgrade,
        accept: HeaderValue,
    },
    /// HTTP/2 extended CONNECT: answered `200`; the request body is the
    /// client's side of the stream.
    Connect { body: Body },
}

impl fmt::Debug for WebSocketUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("offered", &self.offered)
            .field("protocol", &self.protocol)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl WebSocketUpgrade {
    /// Checks that `request` opens a WebSocket and takes what it needs from
    /// it (the upgrade handle; on HTTP/2 the request body).
    ///
    /// On HTTP/1.1 (RFC 6455 §4.2.1): `GET`, a `Host`, `Upgrade: websocket`,
    /// `Connection: upgrade` (tokens, any case, among others), one
    /// `Sec-WebSocket-Key` that is 16 bytes in base64, and
    /// `Sec-WebSocket-Version: 13`. On HTTP/2 (RFC 8441 §4, §5): `CONNECT`
    /// with `:protocol` `websocket` and `Sec-WebSocket-Version: 13`. The error
    /// answers with the right status.
    pub fn from_request(request: &mut Request) -> Result<Self, HandshakeError> {
        let opening = if request.version() == Version::HTTP_2 {
            check_connect(request)?;
            Opening::Connect {
                body: std::mem::take(request.body_mut()),
            }
        } else {
            let key = check(request)?;
            let on_upgrade = upgrade::on(request);
            if !on_upgrade.is_requested() {
                return Err(HandshakeError(Refusal::NotUpgradable));
            }
            let accept = HeaderValue::from_str(&derive_accept_key(key.as_bytes()))
                .expect("base64 is a valid header value");
            Opening::Upgrade { on_upgrade, accept }
        };
        let offered = request
            .headers()
            .get_all(header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|name| !name.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(WebSocketUpgrade {
            opening,
            offered,
            protocol: None,
            config: WebSocketConfig::default(),
        })
    }

    /// The subprotocols the client offered (`Sec-WebSocket-Protocol`), in its order.
    pub fn offered_protocols(&self) -> impl Iterator<Item = &str> {
        self.offered.iter().map(String::as_str)
    }

    /// Chooses the first of `supported` (in the server's order of preference)
    /// that the client offered; it is named in the `101` answer. If the client
    /// offered none of them, no subprotocol is named (the client decides whether
    /// to go on).
    pub fn protocols<I, S>(mut self, supported: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.protocol = supported
            .into_iter()
            .find(|name| self.offered.iter().any(|o| o == name.as_ref()))
            .and_then(|name| HeaderValue::from_str(name.as_ref()).ok());
        self
    }

    /// The subprotocol the `101` answer will name, if any.
    pub fn selected_protocol(&self) -> Option<&str> {
        self.protocol.as_ref().and_then(|p| p.to_str().ok())
    }

    /// The largest message accepted (`None`: no limit). A bigger one ends the
    /// connection with close code 1009. Default: tungstenite's, 64 MiB.
    pub fn max_message_size(mut self, limit: Option<usize>) -> Self {
        self.config.max_message_size = limit;
        self
    }

    /// The largest frame payload accepted (`None`: no limit). Default:
    /// tungstenite's, 16 MiB.
    pub fn max_frame_size(mut self, limit: Option<usize>) -> Self {
        self.config.max_frame_size = limit;
        self
    }

    /// Replaces the whole tungstenite configuration (buffers and limits).
    pub fn config(mut self, config: WebSocketConfig) -> Self {
        self.config = config;
        self
    }

    /// The answer (`101 Switching Protocols`, or `200` on HTTP/2); once it is
    /// written, `callback` runs with the [`WebSocket`] in a task spawned on
    /// `runtime`. If the connection ends first, `callback` never runs.
    pub fn on_upgrade<R, F, Fut>(self, runtime: &R, callback: F) -> Response
    where
        R: Runtime,
        F: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (response, session) = self.into_parts(callback);
        runtime.spawn(Box::pin(session));
        response
    }

    /// Like [`on_upgrade`](Self::on_upgrade), but hands back the session future
    /// for the caller to run where it likes (it waits for the answer to be
    /// written, then runs `callback`).
    pub fn into_parts<F, Fut>(
        self,
        callback: F,
    ) -> (Response, impl Future<Output = ()> + Send + 'static)
    where
        F: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (mut response, io) = match self.opening {
            Opening::Upgrade { on_upgrade, accept } => {
                let mut response = http::Response::new(Body::empty());
                *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
                let headers = response.headers_mut();
                headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
                headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
                headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept);
                (response, futures::future::Either::Left(on_upgrade))
            }
            Opening::Connect { body } => {
                // The answer's body carries what the server writes; the
                // request body what the client sends (RFC 8441 §5).
                let (tx, rx) = mpsc::channel(TUNNEL_QUEUE);
                let response = http::Response::new(Body::from_stream(
                    rx.map(Ok::<_, std::convert::Infallible>),
                ));
                let tunnel = Tunnel {
                    body,
                    unread: Bytes::new(),
                    tx,
                };
                let io = Upgraded::new(Box::new(tunnel), Bytes::new());
                (
                    response,
                    futures::future::Either::Right(async move { Ok(io) }),
                )
            }
        };
        if let Some(protocol) = self.protocol {
            response
                .headers_mut()
                .insert(header::SEC_WEBSOCKET_PROTOCOL, protocol);
        }
        let config = self.config;
        let session = async move {
            match io.await {
                Ok(io) => {
                    let ws = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
                    callback(ws).await;
                }
                Err(e) => tracing::debug!(error = %e, "websocket upgrade did not happen"),
            }
        };
        (response, session)
    }
}

/// Writes an HTTP/2 WebSocket may queue before it waits for the stream.
const TUNNEL_QUEUE: usize = 8;

/// An HTTP/2 extended CONNECT stream as a byte stream: reads from the request
/// body, writes into the answer's body.
struct Tunnel {
    body: Body,
    unread: Bytes,
    tx: mpsc::Sender<Bytes>,
}

impl AsyncRead for Tunnel {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        while self.unread.is_empty() {
            match ready!(Pin::new(&mut self.body).poll_frame(cx)) {
                None => return Poll::Ready(Ok(0)),
                Some(Err(e)) => {
                    return Poll::Ready(Err(io::Error::new(io::ErrorKind::ConnectionReset, e)))
                }
                Some(Ok(frame)) => {
                    if let Ok(data) = frame.into_data() {
                        self.unread = data;
                    }
                }
            }
        }
        let n = buf.len().min(self.unread.len());
        buf[..n].copy_from_slice(&self.unread[..n]);
        self.unread.advance(n);
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for Tunnel {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let gone = |_| io::Error::from(io::ErrorKind::BrokenPipe);
        ready!(self.tx.poll_ready(cx)).map_err(gone)?;
        self.tx
            .start_send(Bytes::copy_from_slice(buf))
            .map_err(gone)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.tx.close_channel();
        Poll::Ready(Ok(()))
    }
}

/// Answers a WebSocket opening handshake and runs `callback` with the
/// connection on `runtime`; a request that is not one gets its error answer.
///
/// Shorthand for [`WebSocketUpgrade::from_request`] then
/// [`on_upgrade`](WebSocketUpgrade::on_upgrade) with default limits.
pub fn upgrade<R, F, Fut>(request: &mut Request, runtime: &R, callback: F) -> Response
where
    R: Runtime,
    F: FnOnce(WebSocket) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    match WebSocketUpgrade::from_request(request) {
        Ok(upgrade) => upgrade.on_upgrade(runtime, callback),
        Err(refused) => refused.into_response(),
    }
}

/// Why a request is not a WebSocket opening handshake. Answer it with
/// [`IntoResponse`]: `400`, or `426` naming the version this server speaks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeError(Refusal);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Refusal {
    NotGet,
    NotExtendedConnect,
    OldHttp,
    NoHost,
    NoUpgradeWebsocket,
    NoConnectionUpgrade,
    BadKey,
    UnsupportedVersion,
    NotUpgradable,
}

impl HandshakeError {
    /// The status to answer: `426 Upgrade Required` for a missing or other
    /// `Sec-WebSocket-Version`, else `400 Bad Request`.
    pub fn status(&self) -> StatusCode {
        match self.0 {
            Refusal::UnsupportedVersion => StatusCode::UPGRADE_REQUIRED,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Refusal::NotGet => "a WebSocket handshake must be a GET request",
            Refusal::NotExtendedConnect => {
                "over HTTP/2 a WebSocket opens with CONNECT and :protocol websocket (RFC 8441)"
            }
            Refusal::OldHttp => "a WebSocket handshake needs HTTP/1.1",
            Refusal::NoHost => "the WebSocket handshake has no Host",
            Refusal::NoUpgradeWebsocket => "the request has no `Upgrade: websocket`",
            Refusal::NoConnectionUpgrade => "the request has no `Connection: upgrade`",
            Refusal::BadKey => "Sec-WebSocket-Key is missing, repeated or not 16 bytes in base64",
            Refusal::UnsupportedVersion => "only WebSocket version 13 is supported",
            Refusal::NotUpgradable => "this connection cannot be upgraded",
        })
    }
}

impl std::error::Error for HandshakeError {}

impl IntoResponse for HandshakeError {
    fn into_response(self) -> Response {
        let mut response = http::Response::new(Body::from(format!("{self}\n")));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if self.0 == Refusal::UnsupportedVersion {
            headers.insert(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static(VERSION),
            );
        }
        response
    }
}

/// The §4.2.1 checks; the key on success.
fn check(request: &Request) -> Result<HeaderValue, HandshakeError> {
    let refuse = |why| Err(HandshakeError(why));
    if request.method() != Method::GET {
        return refuse(Refusal::NotGet);
    }
    if request.version() != Version::HTTP_11 {
        // HTTP/1.0 has no upgrade (HTTP/2 goes through `check_connect`).
        return refuse(Refusal::OldHttp);
    }
    let headers = request.headers();
    if !headers.contains_key(header::HOST) && request.uri().authority().is_none() {
        return refuse(Refusal::NoHost);
    }
    if !has_token(headers, header::UPGRADE, "websocket") {
        return refuse(Refusal::NoUpgradeWebsocket);
    }
    if !has_token(headers, header::CONNECTION, "upgrade") {
        return refuse(Refusal::NoConnectionUpgrade);
    }
    let mut keys = headers.get_all(header::SEC_WEBSOCKET_KEY).iter();
    let key = match (keys.next(), keys.next()) {
        (Some(key), None) if is_nonce(key.as_bytes()) => key.clone(),
        _ => return refuse(Refusal::BadKey),
    };
    check_version(headers).map(|()| key)
}

/// The RFC 8441 checks of an HTTP/2 extended CONNECT.
fn check_connect(request: &Request) -> Result<(), HandshakeError> {
    let refuse = |why| Err(HandshakeError(why));
    let protocol = request.extensions().get::<Protocol>();
    if request.method() != Method::CONNECT
        || !protocol.is_some_and(|p| p.as_str().eq_ignore_ascii_case("websocket"))
    {
        return refuse(Refusal::NotExtendedConnect);
    }
    check_version(request.headers())
}

/// `Sec-WebSocket-Version: 13`, once.
fn check_version(headers: &HeaderMap) -> Result<(), HandshakeError> {
    let mut versions = headers.get_all(header::SEC_WEBSOCKET_VERSION).iter();
    match (versions.next(), versions.next()) {
        (Some(v), None) if v.as_bytes().trim_ascii() == VERSION.as_bytes() => Ok(()),
        _ => Err(HandshakeError(Refusal::UnsupportedVersion)),
    }
}

/// Whether a comma-separated header (all its lines) holds `token`, any case.
fn has_token(headers: &HeaderMap, name: header::HeaderName, token: &str) -> bool {
    headers.get_all(name).iter().any(|value| {
        value
            .as_bytes()
            .split(|&b| b == b',')
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    })
}

/// Whether `key` is 16 bytes in base64: 22 alphabet characters, then `==`.
fn is_nonce(key: &[u8]) -> bool {
    let key = key.trim_ascii();
    let alphabet = |b: &u8| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/';
    key.len() == 24 && key[..22].iter().all(alphabet) && &key[22..] == b"=="
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request as the drive loop hands it over: with an upgrade handle.
    fn handshake(edit: impl FnOnce(&mut Request)) -> Request {
        let mut request = http::Request::builder()
            .uri("/ws")
            .header("host", "example.com")
            .header("upgrade", "websocket")
            .header("connection", "keep-alive, Upgrade")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-version", "13")
            .body(Body::empty())
            .unwrap();
        let (on_upgrade, _tx) = OnUpgrade::pair();
        request.extensions_mut().insert(on_upgrade);
        edit(&mut request);
        request
    }

    fn refusal(mut request: Request) -> (StatusCode, HeaderMap) {
        let response = WebSocketUpgrade::from_request(&mut request)
            .unwrap_err()
            .into_response();
        (response.status(), response.headers().clone())
    }

    fn without(name: &'static str) -> impl FnOnce(&mut Request) {
        move |b| {
            b.headers_mut().remove(name);
        }
    }

    fn replaced(name: &'static str, value: &'static str) -> impl FnOnce(&mut Request) {
        move |b| {
            b.headers_mut()
                .insert(name, HeaderValue::from_static(value));
        }
    }

    #[test]
    fn answers_the_rfc_sample_key_with_its_accept_value() {
        let mut request = handshake(|_| {});
        let (response, _session) = WebSocketUpgrade::from_request(&mut request)
            .unwrap()
            .into_parts(|_ws| async {});
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        let h = response.headers();
        assert_eq!(h["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(h["upgrade"], "websocket");
        assert_eq!(h["connection"], "upgrade");
        assert!(!h.contains_key("sec-websocket-protocol"));
    }

    #[test]
    fn chooses_the_servers_preferred_offered_subprotocol() {
        let mut request = handshake(|b| {
            b.headers_mut().append(
                "sec-websocket-protocol",
                HeaderValue::from_static("chat, v2"),
            );
        });
        let upgrade = WebSocketUpgrade::from_request(&mut request).unwrap();
        assert_eq!(
            upgrade.offered_protocols().collect::<Vec<_>>(),
            ["chat", "v2"]
        );
        let upgrade = upgrade.protocols(["v2", "chat"]);
        assert_eq!(upgrade.selected_protocol(), Some("v2"));
        let (response, _) = upgrade.into_parts(|_ws| async {});
        assert_eq!(response.headers()["sec-websocket-protocol"], "v2");

        let mut request = handshake(replaced("sec-websocket-protocol", "chat"));
        let upgrade = WebSocketUpgrade::from_request(&mut request)
            .unwrap()
            .protocols(["mqtt"]);
        assert_eq!(upgrade.selected_protocol(), None);
    }

    #[test]
    fn other_or_missing_version_gets_426_naming_13() {
        for request in [
            handshake(replaced("sec-websocket-version", "8")),
            handshake(without("sec-websocket-version")),
        ] {
            let (status, headers) = refusal(request);
            assert_eq!(status, StatusCode::UPGRADE_REQUIRED);
            assert_eq!(headers["sec-websocket-version"], "13");
        }
    }

    #[test]
    fn malformed_handshakes_get_400() {
        let cases: Vec<Request> = vec![
            handshake(without("sec-websocket-key")),
            handshake(replaced("sec-websocket-key", "short==")),
            handshake(replaced("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ")),
            handshake(|b| {
                b.headers_mut().append(
                    "sec-websocket-key",
                    HeaderValue::from_static("AAAAAAAAAAAAAAAAAAAAAA=="),
                );
            }),
            handshake(without("upgrade")),
            handshake(replaced("upgrade", "h2c")),
            handshake(replaced("connection", "keep-alive")),
            handshake(without("host")),
            handshake(|b| *b.method_mut() = Method::POST),
            handshake(|b| *b.version_mut() = Version::HTTP_10),
        ];
        for request in cases {
            let (status, headers) = refusal(request);
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert!(!headers.contains_key("sec-websocket-version"));
        }
    }

    #[test]
    fn tokens_match_in_any_case_across_lines() {
        let mut request = handshake(|b| {
            let h = b.headers_mut();
            h.insert("upgrade", HeaderValue::from_static("WebSocket"));
            h.insert("connection", HeaderValue::from_static("keep-alive"));
            h.append("connection", HeaderValue::from_static("UPGRADE"));
        });
        assert!(WebSocketUpgrade::from_request(&mut request).is_ok());
    }

    #[test]
    fn a_request_without_an_upgrade_handle_gets_400() {
        let mut request = handshake(|_| {});
        request.extensions_mut().clear();
        let (status, _) = refusal(request);
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
}
