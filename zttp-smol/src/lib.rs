//! # zttp-smol: serve zttp handlers on smol
//!
//! A thin adapter: smol's sockets (`async-io`), its executor and timers under
//! the runtime-agnostic drive loop of [`zttp_service`]. No HTTP logic lives here.
//!
//! ```no_run
//! fn main() -> std::io::Result<()> {
//!     smol::block_on(async {
//!         let listener = smol::net::TcpListener::bind("127.0.0.1:8080").await?;
//!         zttp_smol::serve(listener, |_req: zttp_smol::Request| async { "Hello, World!" }).await
//!     })
//! }
//! ```
//!
//! Connection tasks go to smol's global executor (`smol::spawn`, which runs
//! its own threads) unless you hand the server your own executor:
//!
//! ```
//! use std::sync::Arc;
//! use zttp_smol::{Server, Shutdown, SmolRuntime};
//!
//! let executor = Arc::new(smol::Executor::new());
//! let shutdown = Shutdown::new();
//! smol::block_on(executor.run(async {
//!     let listener = smol::net::TcpListener::bind("127.0.0.1:0").await?;
//!     let server = Server::new(listener)?
//!         .runtime(SmolRuntime::with_executor(executor.clone()))
//!         .shutdown(shutdown.clone());
//!     shutdown.trigger(); // e.g. on ctrl-c
//!     server.serve(|_req: zttp_smol::Request| async { "bye" }).await
//! }))?;
//! # Ok::<(), std::io::Error>(())
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::future::Future;
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_core::Stream;
use futures_io::{AsyncRead, AsyncWrite};
use smol::{Async, Executor};

#[cfg(feature = "tower")]
pub use zttp_service::TowerHandler;
pub use zttp_service::{
    handler_fn, upgrade, Body, Handler, IntoResponse, PeerAddr, RawRequest, Request, Response,
    ResponseHeaders, Runtime, ServerConfig, Shutdown, Upgraded,
};
#[cfg(feature = "json")]
pub use zttp_service::{Json, JsonError};

/// [`Runtime`] on smol: tasks on smol's global executor or on one you own,
/// `async-io` timers, the monotonic clock.
#[derive(Clone, Default)]
pub struct SmolRuntime {
    executor: Option<Arc<Executor<'static>>>,
}

impl SmolRuntime {
    /// Spawns onto smol's global executor (`smol::spawn`).
    pub fn new() -> Self {
        SmolRuntime::default()
    }

    /// Spawns onto `executor`; whoever owns it must keep running it
    /// (`executor.run(..)`), or connections make no progress.
    pub fn with_executor(executor: Arc<Executor<'static>>) -> Self {
        SmolRuntime {
            executor: Some(executor),
        }
    }
}

impl std::fmt::Debug for SmolRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let executor = if self.executor.is_some() {
            "own"
        } else {
            "global"
        };
        f.debug_struct("SmolRuntime")
            .field("executor", &executor)
            .finish()
    }
}

impl Runtime for SmolRuntime {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send + 'static>>) {
        match &self.executor {
            Some(executor) => executor.spawn(future).detach(),
            None => smol::spawn(future).detach(),
        }
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        let timer = smol::Timer::after(duration);
        Box::pin(async move {
            timer.await;
        })
    }

    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// Serves `handler` on every connection `listener` accepts, until the process ends.
pub async fn serve<H: Handler>(listener: smol::net::TcpListener, handler: H) -> io::Result<()> {
    Server::new(listener)?.serve(handler).await
}

/// A server on a smol listener, with a configuration, a runtime and a shutdown signal.
#[derive(Debug)]
pub struct Server {
    listener: Arc<Async<TcpListener>>,
    config: ServerConfig,
    runtime: SmolRuntime,
    shutdown: Shutdown,
}

impl Server {
    /// A server on `listener` (a `smol::net::TcpListener`, or an
    /// `Async<std::net::TcpListener>`) with the default configuration, on
    /// smol's global executor.
    pub fn new(listener: impl Into<Arc<Async<TcpListener>>>) -> io::Result<Self> {
        Ok(Server {
            listener: listener.into(),
            config: ServerConfig::default(),
            runtime: SmolRuntime::new(),
            shutdown: Shutdown::new(),
        })
    }

    /// Replaces the configuration.
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// Runs connection tasks on this runtime (e.g. your own executor).
    pub fn runtime(mut self, runtime: SmolRuntime) -> Self {
        self.runtime = runtime;
        self
    }

    /// Uses this signal; [`Shutdown::trigger`] stops the server gracefully.
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.get_ref().local_addr()
    }

    /// Serves until the shutdown signal triggers and the connections finished
    /// (see [`zttp_service::serve`]).
    pub async fn serve<H: Handler>(self, handler: H) -> io::Result<()> {
        let incoming = Incoming {
            listener: self.listener,
        };
        zttp_service::serve(incoming, self.runtime, handler, self.config, self.shutdown).await
    }
}

/// Accepted connections, non-blocking and with `TCP_NODELAY` set.
struct Incoming {
    listener: Arc<Async<TcpListener>>,
}

impl Stream for Incoming {
    type Item = io::Result<Connection>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            match self.listener.get_ref().accept() {
                Ok((stream, peer)) => {
                    let _ = stream.set_nodelay(true);
                    return Poll::Ready(Some(
                        Async::new(stream).map(|stream| Connection { stream, peer }),
                    ));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    match self.listener.poll_readable(cx) {
                        Poll::Ready(Ok(())) => continue,
                        Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(e))),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
    }
}

/// An accepted socket and the peer's address. `poll_close` shuts the write
/// side down (a `Connection: close` answer ends with a FIN), which
/// `Async<TcpStream>`'s own `poll_close` does not do: it only flushes.
struct Connection {
    stream: Async<TcpStream>,
    peer: SocketAddr,
}

impl zttp_service::ConnectionInfo for Connection {
    fn peer_addr(&self) -> Option<SocketAddr> {
        Some(self.peer)
    }
}

impl AsyncRead for Connection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Connection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(Pin::new(&mut self.stream).poll_flush(cx))?;
        match self.stream.get_ref().shutdown(std::net::Shutdown::Write) {
            // The peer may have gone already: nothing is left to close.
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Poll::Ready(Ok(())),
            done => Poll::Ready(done),
        }
    }
}

/// Serves one already-accepted connection (any futures-io stream: smol's
/// `Async<TcpStream>`, a Unix socket, a TLS stream...) with the default
/// configuration, until it closes. Its requests carry no
/// [`PeerAddr`](zttp_service::PeerAddr); for that use
/// [`zttp_service::serve_connection_with_peer`] with a [`SmolRuntime`].
pub async fn serve_connection<IO, H>(io: IO, handler: H) -> io::Result<()>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
{
    serve_connection_with(
        io,
        handler,
        SmolRuntime::new(),
        Arc::new(ServerConfig::default()),
        Shutdown::new(),
    )
    .await
}

/// [`serve_connection`] with a runtime, a configuration and a shutdown signal.
pub async fn serve_connection_with<IO, H>(
    io: IO,
    handler: H,
    runtime: SmolRuntime,
    config: Arc<ServerConfig>,
    shutdown: Shutdown,
) -> io::Result<()>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
{
    zttp_service::serve_connection(io, runtime, handler, config, shutdown).await
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
    zttp_service::serve_incoming(incoming, SmolRuntime::new(), handler, config, shutdown).await
}
