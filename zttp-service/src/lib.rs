//! # zttp-service: serve HTTP with async handlers, on any runtime
//!
//! Runtime-agnostic serving on top of the sans-IO [`zttp_core`] engine. A
//! [`Handler`] is any async closure `Fn(Request) -> impl Future<Output = impl
//! IntoResponse>`; requests and responses are the ecosystem's own
//! `http::Request<Body>` / `http::Response<B>`.
//!
//! [`serve_connection`] is **the one drive loop**: it feeds bytes to the core,
//! runs the handler, writes responses, and does keep-alive, pipelining (answers
//! in order), `Expect: 100-continue` (sent when the handler first reads the
//! body), HEAD, upgrades (the handler gets the raw IO: [`upgrade::on`]), the
//! `Date` header, protocol errors (answered with the core's status, then
//! close), handler panics (`500`, the connection goes on), unread bodies
//! (drained or closed), header-read, keep-alive and write timeouts (a peer
//! that stops reading is dropped), body size limits, a lingering close after
//! an error answer (so the peer's unread upload does not reset the answer
//! away) and graceful shutdown. The same loop serves h2c (HTTP/2 with prior
//! knowledge, detected on the same port): streams run their handlers
//! concurrently, request bodies are paced by HTTP/2 flow control (credit goes
//! back as the handler reads), and graceful shutdown sends GOAWAY and
//! finishes the open streams. [`serve`] is the accept loop around it.
//!
//! ## What a handler is
//!
//! - an async closure or `async fn` taking a [`Request`] and returning anything
//!   [`IntoResponse`]: a `String`, a [`StatusCode`](http::StatusCode),
//!   `(StatusCode, [(name, value)], body)`, an `http::Response`, a `Result` of
//!   those, a `Json(value)` (feature `json`). A closure without a type
//!   annotation (`|req| async move { .. }`) needs [`handler_fn`]; see
//!   [`Handler`] for why;
//! - `TowerHandler(service)` (feature `tower`): any `tower::Service`, such as an
//!   axum `Router`, served unchanged — extractors, layers and all;
//! - your own type implementing [`Handler`].
//!
//! ## Features
//!
//! - `tower`: `TowerHandler`, the tower/axum bridge.
//! - `json`: `Json` and `JsonError` (serde + serde_json).
//!
//! ## Serving a stream yourself
//!
//! Adapters (`zttp-tokio`, `zttp-async-std`, `zttp-zmq`) only bring sockets and a
//! [`Runtime`] (spawn, sleep, now). Any futures-io stream can be served:
//!
//! ```
//! use std::sync::Arc;
//! use std::time::{Duration, Instant};
//! use std::{future::Future, pin::Pin};
//! use zttp_service::{serve_connection, Request, Runtime, ServerConfig, Shutdown};
//!
//! /// A runtime for a single-threaded test: no spawning, no timers needed here.
//! #[derive(Clone)]
//! struct Inline;
//! impl Runtime for Inline {
//!     fn spawn(&self, _: Pin<Box<dyn Future<Output = ()> + Send>>) {}
//!     fn sleep(&self, _: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
//!         Box::pin(std::future::pending())
//!     }
//!     fn now(&self) -> Instant { Instant::now() }
//! }
//!
//! // An in-memory "socket": the request is read from it, the response written into it.
//! # #[derive(Default)] struct Duplex { input: std::io::Cursor<Vec<u8>>, output: Vec<u8> }
//! # impl futures_io::AsyncRead for Duplex {
//! #     fn poll_read(mut self: Pin<&mut Self>, _: &mut std::task::Context<'_>, buf: &mut [u8]) -> std::task::Poll<std::io::Result<usize>> {
//! #         std::task::Poll::Ready(std::io::Read::read(&mut self.input, buf))
//! #     }
//! # }
//! # impl futures_io::AsyncWrite for Duplex {
//! #     fn poll_write(mut self: Pin<&mut Self>, _: &mut std::task::Context<'_>, buf: &[u8]) -> std::task::Poll<std::io::Result<usize>> {
//! #         self.output.extend_from_slice(buf); std::task::Poll::Ready(Ok(buf.len()))
//! #     }
//! #     fn poll_flush(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> { std::task::Poll::Ready(Ok(())) }
//! #     fn poll_close(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> { std::task::Poll::Ready(Ok(())) }
//! # }
//! # struct Shared(Arc<std::sync::Mutex<Duplex>>);
//! # impl futures_io::AsyncRead for Shared {
//! #     fn poll_read(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>, buf: &mut [u8]) -> std::task::Poll<std::io::Result<usize>> {
//! #         Pin::new(&mut *self.0.lock().unwrap()).poll_read(cx, buf)
//! #     }
//! # }
//! # impl futures_io::AsyncWrite for Shared {
//! #     fn poll_write(self: Pin<&mut Self>, cx: &mut std::task::Context<'_>, buf: &[u8]) -> std::task::Poll<std::io::Result<usize>> {
//! #         Pin::new(&mut *self.0.lock().unwrap()).poll_write(cx, buf)
//! #     }
//! #     fn poll_flush(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> { std::task::Poll::Ready(Ok(())) }
//! #     fn poll_close(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> { std::task::Poll::Ready(Ok(())) }
//! # }
//! let socket = Arc::new(std::sync::Mutex::new(Duplex::default()));
//! socket.lock().unwrap().input.get_mut().extend_from_slice(b"GET /hi HTTP/1.1\r\nHost: x\r\n\r\n");
//!
//! let handler = |req: Request| async move { format!("hello from {}", req.uri().path()) };
//! futures::executor::block_on(serve_connection(
//!     Shared(socket.clone()), Inline, handler, Arc::new(ServerConfig::default()), Shutdown::new(),
//! )).unwrap();
//!
//! let output = String::from_utf8(socket.lock().unwrap().output.clone()).unwrap();
//! assert!(output.starts_with("HTTP/1.1 200 OK\r\n"));
//! assert!(output.ends_with("\r\n\r\nhello from /hi"));
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
// `unsafe` is denied everywhere but two fenced modules, `conn::received`
// and `conn::arena`.
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod access;
mod body;
mod config;
mod conn;
mod date;
mod handler;
mod informational;
#[cfg(feature = "json")]
mod json;
mod limits;
mod peer;
mod raw;
mod response;
mod runtime;
mod server;
mod shutdown;
pub mod tls;
#[cfg(feature = "tower")]
mod tower;
pub mod upgrade;
#[cfg(feature = "websocket")]
pub mod websocket;

pub use body::{Body, BodyError, BoxError};
pub use config::ServerConfig;
pub use conn::serve_connection;
pub use handler::{handler_fn, Handler, IntoResponseFuture};
pub use informational::{Informational, InformationalError};
#[cfg(feature = "json")]
pub use json::{Json, JsonError};
pub use limits::MinBodyRate;
pub use peer::{serve_connection_with_peer, Addressed, ConnectionInfo, PeerAddr};
pub use raw::RawRequest;
pub use response::{IntoResponse, InvalidHeader, ResponseHeaders};
pub use runtime::Runtime;
pub use server::{serve, serve_incoming, serve_with};
pub use shutdown::{Shutdown, Triggered};
#[cfg(feature = "tower")]
pub use tower::{TowerFuture, TowerHandler};
pub use upgrade::Upgraded;

/// A request as handlers receive it: the `http` crate's request with a streaming [`Body`].
pub type Request = http::Request<Body>;

/// A response as the server sends it.
pub type Response = http::Response<Body>;
