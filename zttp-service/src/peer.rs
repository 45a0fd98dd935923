//! [`PeerAddr`]: the address of the client at the other end of a connection,
//! as a request extension, and [`ConnectionInfo`]: how adapters provide it.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use tracing::Instrument;

use crate::limits::Around;
use crate::{Handler, Runtime, ServerConfig, Shutdown};

/// The remote address of the connection a request arrived on.
///
/// Every adapter that knows it (zttp-tokio and zttp-async-std from the accepted
/// socket, zttp-zmq from the STREAM peer) inserts it into each request's
/// extensions; it is absent when the transport has no address (a Unix socket,
/// an in-memory stream).
///
/// ```
/// use zttp_service::{PeerAddr, Request};
/// let handler = |req: Request| async move {
///     match req.extensions().get::<PeerAddr>() {
///         Some(PeerAddr(addr)) => format!("hello, {}", addr.ip()),
///         None => "hello, stranger".to_owned(),
///     }
/// };
/// # fn assert_handler(_: impl zttp_service::Handler) {}
/// # assert_handler(handler);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerAddr(pub SocketAddr);

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What an adapter knows about an accepted connection, asked once by
/// [`serve`](crate::serve) when the connection is admitted.
///
/// Every method has a default ("unknown"), so a stream with nothing to tell
/// implements it with an empty `impl` block.
pub trait ConnectionInfo {
    /// The peer's address: each request of the connection carries it as a
    /// [`PeerAddr`] extension, and the connection's tracing span records it.
    fn peer_addr(&self) -> Option<SocketAddr> {
        None
    }
}

/// A futures-io stream and the peer address it tells [`serve`](crate::serve)
/// (`None`: no IP peer, e.g. a Unix socket). Reads and writes go straight to
/// `io`. Adapters wrap their accepted streams in it; so can a listener of
/// your own whose connections know their peer.
#[derive(Debug)]
pub struct Addressed<IO> {
    /// The connection.
    pub io: IO,
    /// Its peer's address, if it has one.
    pub peer: Option<SocketAddr>,
}

impl<IO> ConnectionInfo for Addressed<IO> {
    fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Addressed<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Addressed<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_close(cx)
    }
}

/// [`serve_connection`](crate::serve_connection) for a connection whose peer
/// address is known (e.g. an accepted TCP stream served on its own): every
/// request carries `peer` as a [`PeerAddr`] extension.
pub async fn serve_connection_with_peer<IO, R, H>(
    io: IO,
    peer: SocketAddr,
    runtime: R,
    handler: H,
    config: Arc<ServerConfig>,
    shutdown: Shutdown,
) -> io::Result<()>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    R: Runtime,
    H: Handler,
{
    let peer = PeerAddr(peer);
    let around = Around::new(Some(peer), false);
    crate::conn::serve_connection_around(io, runtime, handler, config, shutdown, around)
        .instrument(tracing::debug_span!("peer", addr = %peer))
        .await
}
