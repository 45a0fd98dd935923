//! [`serve`]: the accept loop every adapter feeds with its accepted connections.

use std::future::{poll_fn, Future};
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use futures::task::AtomicWaker;
use futures::StreamExt;
use futures_core::Stream;
use futures_io::{AsyncRead, AsyncWrite};
use tracing::{debug, info, warn, Instrument};

use crate::conn::serve_connection_around;
use crate::limits::Around;
use crate::peer::{Addressed, ConnectionInfo, PeerAddr};
use crate::shutdown::Phase;
use crate::{Handler, Runtime, ServerConfig, Shutdown};

/// Counts live connections and wakes the accept loop when one ends.
#[derive(Default)]
struct Tracker {
    active: AtomicUsize,
    waker: AtomicWaker,
}

/// Decrements the count when a connection task ends (also by panic or cancellation).
struct Admitted(Arc<Tracker>);

impl Drop for Admitted {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
        self.0.waker.wake();
    }
}

/// Serves every connection `incoming` yields until `shutdown` triggers, then
/// shuts down gracefully.
///
/// Each connection runs [`serve_connection`](crate::serve_connection) in a task of its own (spawned on
/// `runtime`). At most [`ServerConfig::max_connections`] run at once; beyond
/// that the loop stops taking connections from `incoming` (they wait in the
/// listen backlog). On shutdown it stops accepting (drops `incoming`), lets
/// requests in flight finish while idle connections close, and after
/// [`ServerConfig::shutdown_grace`] forces the rest closed; then it returns.
/// If `incoming` ends first, it waits for the open connections the same way.
///
/// What each connection tells through [`ConnectionInfo`] reaches its requests:
/// the peer's address as a [`PeerAddr`] extension, also recorded on the
/// connection's tracing span.
pub async fn serve<S, IO, R, H>(
    incoming: S,
    runtime: R,
    handler: H,
    config: ServerConfig,
    shutdown: Shutdown,
) -> io::Result<()>
where
    S: Stream<Item = io::Result<IO>> + Unpin + Send,
    IO: AsyncRead + AsyncWrite + ConnectionInfo + Unpin + Send + 'static,
    R: Runtime,
    H: Handler,
{
    let config = Arc::new(config);
    let start = {
        let (runtime, config, shutdown) = (runtime.clone(), config.clone(), shutdown.clone());
        move |io, peer| {
            let around = Around::new(peer, true);
            serve_connection_around(
                io,
                runtime.clone(),
                handler.clone(),
                config.clone(),
                shutdown.clone(),
                around,
            )
        }
    };
    serve_with(incoming, runtime, &config, shutdown, start).await
}

/// [`serve`] for connections that have no IP peer to tell: a Unix socket
/// listener, a listener of your own, streams a TLS layer already accepted.
/// Same limits, connection cap and graceful shutdown; requests carry no
/// [`PeerAddr`]. The adapters' `serve_incoming` functions are this with their
/// runtime filled in.
pub async fn serve_incoming<S, IO, R, H>(
    incoming: S,
    runtime: R,
    handler: H,
    config: ServerConfig,
    shutdown: Shutdown,
) -> io::Result<()>
where
    S: Stream<Item = io::Result<IO>> + Unpin + Send,
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    R: Runtime,
    H: Handler,
{
    let incoming = incoming.map(|accepted| accepted.map(|io| Addressed { io, peer: None }));
    serve(incoming, runtime, handler, config, shutdown).await
}

/// The accept loop of [`serve`] with the per-connection work left to the
/// caller: each connection `incoming` yields runs `connection(io, peer)` in a
/// task of its own (its tracing span records the peer's address), with the
/// same limit on concurrent connections and the same graceful shutdown.
/// Adapters use it to put a step before [`serve_connection`](crate::serve_connection), such as a TLS
/// handshake ([`tls::serve_handshake`](crate::tls::serve_handshake)).
pub async fn serve_with<S, IO, R, C, F>(
    mut incoming: S,
    runtime: R,
    config: &ServerConfig,
    shutdown: Shutdown,
    mut connection: C,
) -> io::Result<()>
where
    S: Stream<Item = io::Result<IO>> + Unpin + Send,
    IO: ConnectionInfo,
    R: Runtime,
    C: FnMut(IO, Option<PeerAddr>) -> F,
    F: Future<Output = io::Result<()>> + Send + 'static,
{
    let tracker = Arc::new(Tracker::default());
    let listener = shutdown.listener();
    let max = config.max_connections.max(1);
    loop {
        let next = poll_fn(|cx| {
            if listener.poll_phase(cx) != Phase::Running {
                return Poll::Ready(None);
            }
            if tracker.active.load(Ordering::Acquire) >= max {
                tracker.waker.register(cx.waker());
                if tracker.active.load(Ordering::Acquire) >= max {
                    return Poll::Pending;
                }
            }
            incoming.poll_next_unpin(cx).map(Some)
        })
        .await;
        match next {
            None => break,
            Some(None) => {
                debug!("incoming connections ended");
                break;
            }
            Some(Some(Ok(io))) => {
                tracker.active.fetch_add(1, Ordering::AcqRel);
                let admitted = Admitted(tracker.clone());
                let peer = io.peer_addr().map(PeerAddr);
                let span = match peer {
                    Some(addr) => tracing::debug_span!("peer", addr = %addr),
                    None => tracing::Span::none(),
                };
                let connection = connection(io, peer);
                let opened = runtime.now();
                let clock = runtime.clone();
                runtime.spawn(Box::pin(
                    async move {
                        let _admitted = admitted;
                        debug!(
                            peer = peer.map(tracing::field::display),
                            "connection opened"
                        );
                        let result = connection.await;
                        let lasted = clock.now().saturating_duration_since(opened);
                        match result {
                            Ok(()) => debug!(?lasted, "connection closed"),
                            Err(e) => debug!(?lasted, error = %e, "connection closed"),
                        }
                    }
                    .instrument(span),
                ));
            }
            Some(Some(Err(e))) => {
                if is_per_connection(&e) {
                    debug!(error = %e, "accept failed for one connection");
                } else {
                    // Out of file descriptors and the like: back off instead of spinning.
                    warn!(error = %e, "accept failed; retrying shortly");
                    runtime.sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
    drop(incoming);
    let triggered = listener.phase() != Phase::Running;
    info!(
        connections = tracker.active.load(Ordering::Acquire),
        "no longer accepting; waiting for connections"
    );
    if !triggered {
        wait_for_connections(&tracker).await;
        return Ok(());
    }
    let mut grace = runtime.sleep(config.shutdown_grace);
    let drained = poll_fn(|cx| {
        if tracker.active.load(Ordering::Acquire) == 0 {
            return Poll::Ready(true);
        }
        tracker.waker.register(cx.waker());
        if tracker.active.load(Ordering::Acquire) == 0 {
            return Poll::Ready(true);
        }
        grace.as_mut().poll(cx).map(|()| false)
    })
    .await;
    if !drained {
        warn!(
            connections = tracker.active.load(Ordering::Acquire),
            "shutdown grace elapsed; closing the remaining connections"
        );
        shutdown.force();
        let mut cap = runtime.sleep(Duration::from_secs(1));
        poll_fn(|cx| {
            if tracker.active.load(Ordering::Acquire) == 0 {
                return Poll::Ready(());
            }
            tracker.waker.register(cx.waker());
            if tracker.active.load(Ordering::Acquire) == 0 {
                return Poll::Ready(());
            }
            cap.as_mut().poll(cx)
        })
        .await;
    }
    Ok(())
}

async fn wait_for_connections(tracker: &Tracker) {
    poll_fn(|cx| {
        tracker.waker.register(cx.waker());
        if tracker.active.load(Ordering::Acquire) == 0 {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Accept errors that concern one connection only (the next accept may succeed at once).
fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
    )
}
