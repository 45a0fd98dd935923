//! [`PeerAddr`]: the address of the client at the other end of a connection,
//! as a request extension, and [`ConnectionInfo`]: how adapters provide it.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use futures_io::{AsyncRead, AsyncWrite};
use tracing::Instrument;

use crate::{Handler, Request, Runtime, ServerConfig, Shutdown};

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

/// A handler that inserts the connection's [`PeerAddr`] into every request
/// before calling `inner`.
#[derive(Clone)]
pub(crate) struct WithPeer<H> {
    pub(crate) inner: H,
    pub(crate) peer: Option<PeerAddr>,
}

impl<H: Handler> Handler for WithPeer<H> {
    type Future = H::Future;

    fn call(&self, mut request: Request) -> Self::Future {
        if let Some(peer) = self.peer {
            request.extensions_mut().insert(peer);
        }
        self.inner.call(request)
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
    let handler = WithPeer {
        inner: handler,
        peer: Some(peer),
    };
    crate::serve_connection(io, runtime, handler, config, shutdown)
        .instrument(tracing::debug_span!("peer", addr = %peer))
        .await
}
