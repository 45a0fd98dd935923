//! # zttp-async-std: serve zttp handlers on async-std
//!
//! A thin adapter: async-std sockets, spawning and timers under the
//! runtime-agnostic drive loop of [`zttp_service`]. Because async-std speaks
//! futures-io, [`serve_connection`] also serves any futures-io stream.
//!
//! async-std is discontinued upstream; for new code on smol (or bare
//! `async-io`) use the `zttp-smol` crate and its `SmolRuntime` instead.
//!
//! ```no_run
//! fn main() -> std::io::Result<()> {
//!     async_std::task::block_on(async {
//!         let listener = async_std::net::TcpListener::bind("127.0.0.1:8080").await?;
//!         zttp_async_std::serve(listener, |_req: zttp_async_std::Request| async { "Hello, World!" }).await
//!     })
//! }
//! ```
//!
//! With the `tls` feature, `Server::tls` serves HTTPS (rustls through
//! futures-rustls; ALPN picks HTTP/2 or HTTP/1.1) and `TlsAcceptor` /
//! `serve_tls_connection` serve connections of your own loop.
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "tls")]
mod tls;
#[cfg(feature = "tls")]
pub use futures_rustls::{self, rustls};
#[cfg(feature = "tls")]
pub use tls::{serve_tls_connection, TlsAcceptor};
#[cfg(feature = "tls")]
pub use zttp_service::tls::TlsInfo;

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_std::net::{TcpListener, TcpStream};
use futures_core::Stream;
use futures_io::{AsyncRead, AsyncWrite};

#[cfg(feature = "tower")]
pub use zttp_service::TowerHandler;
pub use zttp_service::{
    handler_fn, upgrade, Body, Handler, Informational, InformationalError, IntoResponse, PeerAddr,
    RawRequest, Request, Response, ResponseHeaders, Runtime, ServerConfig, Shutdown, Upgraded,
};
#[cfg(feature = "json")]
pub use zttp_service::{Json, JsonError};

/// [`Runtime`] on async-std: `task::spawn`, `task::sleep`, the monotonic clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStdRuntime;

impl Runtime for AsyncStdRuntime {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send + 'static>>) {
        async_std::task::spawn(future);
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(async_std::task::sleep(duration))
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// Serves `handler` on every connection `listener` accepts, until the process ends.
pub async fn serve<H: Handler>(listener: TcpListener, handler: H) -> io::Result<()> {
    Server::new(listener).serve(handler).await
}

/// A server on an async-std listener, with a configuration and a shutdown signal.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    config: ServerConfig,
    shutdown: Shutdown,
    #[cfg(feature = "tls")]
    tls: Option<Arc<rustls::ServerConfig>>,
}

impl Server {
    /// A server on `listener` with the default configuration.
    pub fn new(listener: TcpListener) -> Self {
        Server {
            listener,
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

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<std::net::SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves until the shutdown signal triggers and the connections finished
    /// (see [`zttp_service::serve`]).
    pub async fn serve<H: Handler>(self, handler: H) -> io::Result<()> {
        #[cfg(feature = "tls")]
        if let Some(tls) = self.tls {
            let incoming = incoming(self.listener);
            return tls::serve(incoming, tls, handler, self.config, self.shutdown).await;
        }
        zttp_service::serve(
            incoming(self.listener),
            AsyncStdRuntime,
            handler,
            self.config,
            self.shutdown,
        )
        .await
    }
}

type Accepting =
    Pin<Box<dyn Future<Output = (TcpListener, io::Result<(TcpStream, SocketAddr)>)> + Send>>;

/// Accepted connections, with `TCP_NODELAY` set.
pub(crate) struct Incoming {
    accepting: Accepting,
}

fn accept(listener: TcpListener) -> Accepting {
    Box::pin(async move {
        let accepted = listener.accept().await;
        (listener, accepted)
    })
}

fn incoming(listener: TcpListener) -> Incoming {
    Incoming {
        accepting: accept(listener),
    }
}

impl Stream for Incoming {
    type Item = io::Result<Connection>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let (listener, accepted) = match self.accepting.as_mut().poll(cx) {
            Poll::Ready(done) => done,
            Poll::Pending => return Poll::Pending,
        };
        self.accepting = accept(listener);
        Poll::Ready(Some(accepted.map(|(stream, peer)| {
            let _ = stream.set_nodelay(true);
            Connection(stream, Some(peer))
        })))
    }
}

/// An accepted socket whose `poll_close` also shuts down the write side:
/// async-std's only flushes, so a client waiting for the end of a
/// `Connection: close` answer would not see it until the socket is dropped.
pub(crate) struct Connection(TcpStream, Option<SocketAddr>);

impl zttp_service::ConnectionInfo for Connection {
    fn peer_addr(&self) -> Option<std::net::SocketAddr> {
        self.1
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Connection {
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
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match Pin::new(&mut self.0).poll_flush(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other,
        }
        match self.0.shutdown(std::net::Shutdown::Write) {
            Err(e) if e.kind() != io::ErrorKind::NotConnected => Poll::Ready(Err(e)),
            _ => Poll::Ready(Ok(())),
        }
    }
}

/// Serves one already-accepted connection (any futures-io stream: async-std,
/// smol/async-io, ...) with the default configuration, until it closes.
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
    zttp_service::serve_connection(io, AsyncStdRuntime, handler, config, shutdown).await
}

/// Serves every connection `incoming` yields — a Unix socket listener, a
/// listener of your own, streams a TLS layer already accepted — with the
/// same limits, connection cap and graceful shutdown as [`Server`], until
/// `shutdown` triggers or `incoming` ends. Requests carry no
/// [`PeerAddr`](zttp_service::PeerAddr): these streams have no IP peer.
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
    zttp_service::serve_incoming(incoming, AsyncStdRuntime, handler, config, shutdown).await
}
