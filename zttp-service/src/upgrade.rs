//! Protocol upgrades (`Upgrade` / `101`, and `CONNECT` tunnels): the handler gets the raw IO.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use futures::channel::oneshot;
use futures_io::{AsyncRead, AsyncWrite};

use crate::Request;

/// The IO an upgraded connection runs on, type-erased.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Io for T {}

/// The `:protocol` of an HTTP/2 extended CONNECT request (RFC 8441), e.g.
/// `websocket`: a request extension. Such a stream is a tunnel: the request
/// body carries the new protocol's bytes from the client (no body size limit
/// applies) and a `2xx` answer's body carries them back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Protocol(pub Bytes);

impl Protocol {
    /// The protocol name as text (empty if it is not UTF-8).
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or("")
    }
}

/// A connection handed over after a successful upgrade: the raw IO, and the
/// bytes the server had already read past the request head (read first).
pub struct Upgraded {
    io: Box<dyn Io>,
    read_buf: Bytes,
}

impl Upgraded {
    pub(crate) fn new(io: Box<dyn Io>, read_buf: Bytes) -> Self {
        Upgraded { io, read_buf }
    }

    /// The IO and the bytes already read from it, which belong to the new protocol.
    pub fn into_parts(self) -> (Box<dyn Io>, Bytes) {
        (self.io, self.read_buf)
    }
}

impl fmt::Debug for Upgraded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Upgraded")
            .field("read_buf", &self.read_buf.len())
            .finish_non_exhaustive()
    }
}

impl AsyncRead for Upgraded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if !self.read_buf.is_empty() {
            let n = buf.len().min(self.read_buf.len());
            buf[..n].copy_from_slice(&self.read_buf[..n]);
            self.read_buf.advance(n);
            return Poll::Ready(Ok(n));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl AsyncWrite for Upgraded {
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

/// Why no [`Upgraded`] connection came.
#[derive(Debug)]
pub struct UpgradeError(UpgradeErrorKind);

#[derive(Debug)]
enum UpgradeErrorKind {
    /// The request asked for no upgrade (no `Connection: upgrade` + `Upgrade`, not CONNECT).
    NotRequested,
    /// The connection ended, or the response did not accept the upgrade (not `101`,
    /// nor a `2xx` to CONNECT).
    NotAccepted,
}

impl fmt::Display for UpgradeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            UpgradeErrorKind::NotRequested => f.write_str("the request asked for no upgrade"),
            UpgradeErrorKind::NotAccepted => {
                f.write_str("the upgrade was not accepted or the connection ended")
            }
        }
    }
}

impl std::error::Error for UpgradeError {}

/// Resolves to the [`Upgraded`] connection once the handler's `101 Switching
/// Protocols` (or `2xx` to CONNECT) has been written. Get it with [`on`].
///
/// Clones share one connection: the first to poll it after the hand-off gets it.
#[derive(Clone)]
pub struct OnUpgrade {
    rx: Option<Arc<Mutex<oneshot::Receiver<Upgraded>>>>,
}

impl fmt::Debug for OnUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OnUpgrade").finish_non_exhaustive()
    }
}

impl OnUpgrade {
    pub(crate) fn pair() -> (OnUpgrade, oneshot::Sender<Upgraded>) {
        let (tx, rx) = oneshot::channel();
        (
            OnUpgrade {
                rx: Some(Arc::new(Mutex::new(rx))),
            },
            tx,
        )
    }

    /// Whether the request asked for an upgrade the connection can hand over.
    #[cfg_attr(not(feature = "websocket"), allow(dead_code))]
    pub(crate) fn is_requested(&self) -> bool {
        self.rx.is_some()
    }
}

impl Future for OnUpgrade {
    type Output = Result<Upgraded, UpgradeError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(rx) = &mut self.rx else {
            return Poll::Ready(Err(UpgradeError(UpgradeErrorKind::NotRequested)));
        };
        let mut rx = rx.lock().unwrap_or_else(|e| e.into_inner());
        Pin::new(&mut *rx)
            .poll(cx)
            .map(|r| r.map_err(|_| UpgradeError(UpgradeErrorKind::NotAccepted)))
    }
}

/// Takes the upgrade handle out of a request that asked for one.
///
/// An HTTP/1.1 request that carries content (a `Content-Length` above zero or
/// a `Transfer-Encoding`) cannot be upgraded: the handle it gets says it was
/// not requested, so such a request is answered as plain HTTP.
///
/// The handler answers `101 Switching Protocols` (or `2xx` to CONNECT) and, in
/// a task of its own, awaits the returned future for the raw connection:
///
/// ```no_run
/// # use zttp_service::{Request, Body, upgrade};
/// async fn handler(mut req: Request) -> http::Response<Body> {
///     let on_upgrade = upgrade::on(&mut req);
///     // spawn(async move { let io = on_upgrade.await.unwrap(); /* speak the new protocol */ });
///     # drop(on_upgrade);
///     http::Response::builder()
///         .status(101)
///         .header("connection", "upgrade")
///         .header("upgrade", "websocket")
///         .body(Body::empty())
///         .unwrap()
/// }
/// ```
pub fn on(request: &mut Request) -> OnUpgrade {
    request
        .extensions_mut()
        .remove::<OnUpgrade>()
        .unwrap_or(OnUpgrade { rx: None })
}
