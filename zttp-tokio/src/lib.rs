//! # zttp-tokio: serve zttp handlers on tokio
//!
//! A thin adapter: tokio sockets, spawning and timers under the runtime-agnostic
//! drive loop of [`zttp_service`]. No HTTP logic lives here.
//!
//! ```no_run
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     zttp_tokio::serve(listener, |_req: zttp_tokio::Request| async { "Hello, World!" }).await
//! }
//! ```
//!
//! With a configuration and a shutdown signal:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! use zttp_tokio::{Server, ServerConfig, Shutdown};
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//! let shutdown = Shutdown::new();
//! let server = Server::new(listener)
//!     .config(ServerConfig::default().max_body_size(Some(1 << 20)))
//!     .shutdown(shutdown.clone());
//! shutdown.trigger(); // e.g. on ctrl-c
//! server.serve(|_req: zttp_tokio::Request| async { "bye" }).await
//! # }
//! ```
//!
//! ## An axum `Router` (or any tower service) on zttp — feature `tower`
//!
//! [`TowerHandler`] serves any `tower::Service<http::Request<Body>>` unchanged:
//! an axum `Router` with its extractors, a tower-http stack. zttp runs the
//! connection (HTTP/1.1 and h2c, limits, timeouts, graceful shutdown); the
//! service answers the requests.
//!
//! ```toml
//! [dependencies]
//! zttp-tokio = { version = "0.1", features = ["tower"] }
//! axum = "0.8"
//! tokio = { version = "1", features = ["full"] }
//! ```
//!
//! ```no_run
//! use axum::{extract::Path, routing::get, Router};
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let app = Router::new()
//!         .route("/", get(|| async { "Hello from axum on zttp" }))
//!         .route("/users/{id}", get(|Path(id): Path<u32>| async move { format!("user {id}") }));
//!     let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//!     zttp_tokio::serve(listener, zttp_tokio::TowerHandler(app)).await
//! }
//! ```
//!
//! ## Features
//!
//! - `tower`: [`TowerHandler`], the tower/axum bridge.
//! - `json`: [`Json`], serde-serialised responses and JSON request bodies.
//! - `tls`: `Server::tls` serves HTTPS (rustls; ALPN picks HTTP/2 or HTTP/1.1),
//!   `TlsAcceptor` and `serve_tls_connection` serve connections of your own loop.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "tls")]
mod tls;
#[cfg(feature = "tls")]
pub use tls::{serve_tls_connection, TlsAcceptor};
#[cfg(feature = "tls")]
pub use tokio_rustls::{self, rustls};
#[cfg(feature = "tls")]
pub use zttp_service::tls::TlsInfo;

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_core::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

#[cfg(feature = "tower")]
pub use zttp_service::TowerHandler;
pub use zttp_service::{
    handler_fn, upgrade, Body, Handler, Informational, InformationalError, IntoResponse, PeerAddr,
    RawRequest, Request, Response, ResponseHeaders, Runtime, ServerConfig, Shutdown, Upgraded,
};
#[cfg(feature = "json")]
pub use zttp_service::{Json, JsonError};

/// [`Runtime`] on tokio: `tokio::spawn`, `tokio::time::sleep`, tokio's clock.
///
/// Use it inside a tokio runtime (it spawns onto the current one).
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioRuntime;

impl Runtime for TokioRuntime {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send + 'static>>) {
        tokio::spawn(future);
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(tokio::time::sleep(duration))
    }

    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

/// Serves `handler` on every connection `listener` accepts, until the process ends.
pub async fn serve<H: Handler>(listener: TcpListener, handler: H) -> io::Result<()> {
    Server::new(listener).serve(handler).await
}

/// A server: where its connections come from (a tokio [`TcpListener`], or any
/// stream of accepted connections), a configuration, a shutdown signal and,
/// with the `tls` feature, HTTPS.
#[derive(Debug)]
pub struct Server<I = TcpIncoming> {
    incoming: I,
    config: ServerConfig,
    shutdown: Shutdown,
    #[cfg(feature = "tls")]
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl Server {
    /// A server on `listener` with the default configuration. Requests carry
    /// the client's address as a [`PeerAddr`] extension.
    pub fn new(listener: TcpListener) -> Self {
        Server::from_accept(TcpIncoming { listener })
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.incoming.listener.local_addr()
    }
}

impl<S, IO> Server<FromIncoming<S>>
where
    S: Stream<Item = io::Result<IO>> + Unpin + Send,
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    /// A server on every connection `incoming` yields — a Unix socket
    /// listener, a listener of your own — with the same limits, connection
    /// cap, graceful shutdown and (with [`tls`](Server::tls)) HTTPS as a TCP
    /// server. Its requests carry no [`PeerAddr`]: these streams have no IP
    /// peer to tell. The server ends when `incoming` does (after the open
    /// connections) or at shutdown.
    ///
    /// ```no_run
    /// # #[cfg(unix)]
    /// # async fn demo() -> std::io::Result<()> {
    /// let listener = tokio::net::UnixListener::bind("/tmp/app.sock")?;
    /// let incoming = futures::stream::poll_fn(move |cx| {
    ///     listener.poll_accept(cx).map(|accepted| Some(accepted.map(|(stream, _)| stream)))
    /// });
    /// zttp_tokio::Server::from_incoming(incoming)
    ///     .serve(|_req: zttp_tokio::Request| async { "hello over a Unix socket" })
    ///     .await
    /// # }
    /// ```
    pub fn from_incoming(incoming: S) -> Self {
        Server::from_accept(FromIncoming(incoming))
    }
}

impl<I: Accept> Server<I> {
    fn from_accept(incoming: I) -> Self {
        Server {
            incoming,
            config: ServerConfig::default(),
            shutdown: Shutdown::new(),
            #[cfg(feature = "tls")]
            tls: None,
        }
    }

    /// Replaces the configuration.
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// Uses this signal; [`Shutdown::trigger`] stops the server gracefully.
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Serves HTTPS with this rustls configuration: every accepted connection
    /// first completes a TLS handshake (within
    /// [`ServerConfig::tls_handshake_timeout`]), then speaks the protocol ALPN
    /// chose, `h2` or `http/1.1`; handlers find the SNI name and the ALPN
    /// protocol in the [`TlsInfo`] request extension.
    ///
    /// When `config.alpn_protocols` is empty, the server announces `h2` and
    /// `http/1.1` (only one of them if [`ServerConfig::core`] pins the
    /// protocol); a non-empty list is kept as given. A client that offers no
    /// ALPN gets HTTP/1.1. Failed handshakes are logged at debug level.
    #[cfg(feature = "tls")]
    pub fn tls(mut self, config: Arc<rustls::ServerConfig>) -> Self {
        self.tls = Some(config);
        self
    }

    /// Serves until the shutdown signal triggers and the connections finished
    /// (see [`zttp_service::serve`]).
    pub async fn serve<H: Handler>(self, handler: H) -> io::Result<()> {
        let incoming = Accepted(self.incoming);
        #[cfg(feature = "tls")]
        if let Some(tls) = self.tls {
            return tls::serve(incoming, tls, handler, self.config, self.shutdown).await;
        }
        zttp_service::serve(incoming, TokioRuntime, handler, self.config, self.shutdown).await
    }
}

/// Where a [`Server`]'s connections come from: [`TcpIncoming`] ([`Server::new`])
/// or [`FromIncoming`] ([`Server::from_incoming`]).
pub trait Accept: Stream<Item = io::Result<Self::Io>> + Unpin + Send + sealed::Sealed {
    /// An accepted connection.
    type Io: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// The client's address of an accepted connection, when it has one.
    fn peer_addr(io: &Self::Io) -> Option<std::net::SocketAddr>;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for super::TcpIncoming {}
    impl<S> Sealed for super::FromIncoming<S> {}
}

/// The connections a [`TcpListener`] accepts, with `TCP_NODELAY` set.
#[derive(Debug)]
pub struct TcpIncoming {
    listener: TcpListener,
}

impl Stream for TcpIncoming {
    type Item = io::Result<TcpStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.listener.poll_accept(cx).map(|accepted| {
            Some(accepted.map(|(stream, _peer)| {
                let _ = stream.set_nodelay(true);
                stream
            }))
        })
    }
}

impl Accept for TcpIncoming {
    type Io = TcpStream;

    fn peer_addr(io: &TcpStream) -> Option<std::net::SocketAddr> {
        io.peer_addr().ok()
    }
}

/// The connections of a stream of your own ([`Server::from_incoming`]).
#[derive(Debug)]
pub struct FromIncoming<S>(S);

impl<S, IO> Stream for FromIncoming<S>
where
    S: Stream<Item = io::Result<IO>> + Unpin,
{
    type Item = io::Result<IO>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.0).poll_next(cx)
    }
}

impl<S, IO> Accept for FromIncoming<S>
where
    S: Stream<Item = io::Result<IO>> + Unpin + Send,
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Io = IO;

    fn peer_addr(_: &IO) -> Option<std::net::SocketAddr> {
        None
    }
}

/// The connections of an [`Accept`] as futures-io streams that tell their peer.
struct Accepted<I>(I);

impl<I: Accept> Stream for Accepted<I> {
    type Item = io::Result<zttp_service::Addressed<TokioIo<I::Io>>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.0).poll_next(cx).map(|next| {
            next.map(|accepted| {
                accepted.map(|io| zttp_service::Addressed {
                    peer: I::peer_addr(&io),
                    io: TokioIo(io),
                })
            })
        })
    }
}

/// Serves one already-accepted connection (TCP, TLS, Unix socket, ...) with the
/// default configuration, until it closes.
pub async fn serve_connection<IO, H>(io: IO, handler: H) -> io::Result<()>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
{
    serve_connection_with(
        io,
        handler,
        Arc::new(ServerConfig::default()),
        Shutdown::new(),
    )
    .await
}

/// [`serve_connection`] with a configuration and a shutdown signal.
pub async fn serve_connection_with<IO, H>(
    io: IO,
    handler: H,
    config: Arc<ServerConfig>,
    shutdown: Shutdown,
) -> io::Result<()>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
{
    zttp_service::serve_connection(TokioIo(io), TokioRuntime, handler, config, shutdown).await
}

/// Serves every connection `incoming` yields with the same limits,
/// connection cap and graceful shutdown as a TCP server, until `shutdown`
/// triggers or `incoming` ends: [`Server::from_incoming`] with this
/// configuration and signal.
pub async fn serve_incoming<S, IO, H>(
    incoming: S,
    handler: H,
    config: ServerConfig,
    shutdown: Shutdown,
) -> io::Result<()>
where
    S: Stream<Item = io::Result<IO>> + Unpin + Send,
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
{
    Server::from_incoming(incoming)
        .config(config)
        .shutdown(shutdown)
        .serve(handler)
        .await
}

/// A tokio `AsyncRead + AsyncWrite` seen as futures-io, vectored writes included.
#[derive(Debug)]
pub struct TokioIo<T>(pub T);

/// An accepted TCP connection tells its peer's address ([`PeerAddr`] on every request).
impl zttp_service::ConnectionInfo for TokioIo<TcpStream> {
    fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        self.0.peer_addr().ok()
    }
}

impl<T: AsyncRead + Unpin> futures_io::AsyncRead for TokioIo<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut buf = ReadBuf::new(buf);
        match Pin::new(&mut self.0).poll_read(cx, &mut buf) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.filled().len())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: AsyncWrite + Unpin> futures_io::AsyncWrite for TokioIo<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
