//! The connection drive loop: one loop for every adapter and protocol.
//!
//! It is split by concern:
//!
//! ```text
//!   pump.rs        the IO pump: read, one vectored write, one timer, lingering close,
//!                  the lifecycle; at most MAX_TURNS turns per poll, then it yields
//!     │ drives one of
//!     ├─ serial.rs     HTTP/1.1: one exchange at a time, the handler polled inline,
//!     │                pipelining order, 100-continue, drain of unread bodies
//!     └─ multiplex.rs  HTTP/2: concurrent handlers, flow-control credit, resets, GOAWAY
//!   arena.rs       the memory reads go into, shared per thread, reused once freed
//!   exchange.rs    one request/response pair and its response body
//!   head.rs        response heads: the fields the loop adds, sent through the core
//! ```
//!
//! Each turn of the pump lets the dispatcher work until nothing moves
//! (events → handlers → response bodies → credit → ended exchanges), then
//! writes everything queued in one vectored write, then reads when the
//! dispatcher wants more bytes (HTTP/1.1 reads only while the request body has
//! room: backpressure; HTTP/2 is paced by flow control).
//!
//! An *exchange* is one request/response pair, keyed by stream id. HTTP/1.1
//! is the special case "one exchange at a time, in order" (stream 0): the core
//! pauses pipelined requests until the exchange ends, so responses leave in
//! order while the read-ahead waits in the core's buffer. Its handler future is
//! polled inline in the connection task: no spawn, no allocation per request.
//!
//! HTTP/2 runs many exchanges at once. Each stream's handler runs in a task
//! of its own on the runtime, so a handler that burns CPU does not delay PING
//! acks or the other streams; outcomes come back over a channel. Credit goes back to the peer only as handlers consume request
//! bodies, and response bodies are sent no faster than the peer's windows
//! allow. A reset stream drops its handler and body; a panic answers `500` on
//! that stream only; graceful shutdown sends GOAWAY and finishes the open streams.
//!
//! One timer per connection watches the earliest deadline: the next request
//! head (header-read or keep-alive timeout), queued output that stopped
//! moving (write timeout: the connection is dropped), the core's protocol
//! timers (HTTP/2's SETTINGS ACK and keep-alive PING: `poll_timeout` /
//! `handle_timeout`), or the end of a lingering close. Closing after an error answer or an unread body shuts
//! our write side first and discards what the peer still sends for a bounded
//! time, so its data does not make the kernel reset the answer away.

mod arena;
mod convert;
mod exchange;
mod head;
mod multiplex;
mod pump;
mod received;
mod serial;
mod write;

use std::cell::Cell;
use std::future::poll_fn;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

use futures::channel::oneshot;
use futures_io::{AsyncRead, AsyncWrite};
use http::StatusCode;
use tracing::debug;
use zttp_core::{Connection, EndOfMessage, RemoteErrorKind, RemoteProtocolError, Role};

use crate::body::{Body, BodyError};
use crate::date::http_date;
use crate::limits::Around;
use crate::upgrade::Upgraded;
use crate::{Handler, Runtime, ServerConfig, Shutdown};
use pump::{Exit, Pump};

static CONNECTION_IDS: AtomicU64 = AtomicU64::new(0);

/// Serves HTTP on one connection until it closes, then returns.
///
/// `io` is any futures-io stream (adapters wrap their sockets). Speaks
/// HTTP/1.1 and, with `config.core.protocol = Auto` (the default), h2c with
/// prior knowledge, detected by its preface. Answers every request with
/// `handler` (HTTP/2 streams concurrently), and keeps the connection alive
/// until the peer closes it, a timeout fires, or `shutdown` triggers.
/// After an accepted HTTP/1.1 upgrade the IO is handed to the handler (see
/// [`upgrade::on`](crate::upgrade::on)) and this returns `Ok(())`.
pub async fn serve_connection<IO, R, H>(
    io: IO,
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
    serve_connection_around(io, runtime, handler, config, shutdown, Around::default()).await
}

/// [`serve_connection`], with what each request gets besides the handler.
pub(crate) async fn serve_connection_around<IO, R, H>(
    io: IO,
    runtime: R,
    handler: H,
    config: Arc<ServerConfig>,
    shutdown: Shutdown,
    around: Around,
) -> io::Result<()>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    R: Runtime,
    H: Handler,
{
    let span = tracing::debug_span!(
        "connection",
        id = CONNECTION_IDS.fetch_add(1, Ordering::Relaxed)
    );
    let mut pump = Pump::new(io, Conn::new(runtime, config, around), handler, &shutdown);
    let exit = poll_fn(|cx| {
        let _entered = span.enter();
        pump.poll(cx)
    })
    .await;
    match exit {
        Ok(Exit::Closed) => Ok(()),
        Ok(Exit::Upgrade(tx)) => {
            let (io, mut conn) = pump.into_parts();
            // A copy: the received bytes may be a view of a larger shared read buffer.
            let read_buf = bytes::Bytes::copy_from_slice(&conn.core.take_trailing_data());
            let _ = tx.send(Upgraded::new(Box::new(io), read_buf));
            Ok(())
        }
        Err(e) => {
            debug!(parent: &span, error = %e, "connection failed");
            Err(e)
        }
    }
}

/// Where a connection is in its life. It only moves down this list
/// (an upgrade may come from serving or draining).
pub(super) enum Lifecycle {
    /// Taking requests.
    Serving,
    /// Taking no new request (shutdown, the peer closed, or it must close):
    /// closes once the exchanges in progress end.
    Draining {
        /// The peer may still be sending when we close: linger.
        linger: bool,
    },
    /// Writing what is queued, then closing our write side.
    Flushing {
        /// Then discard what the peer still sends, so a reset does not
        /// destroy our answer (we answered an error or left a body unread).
        linger: bool,
    },
    /// Our write side is closed; reading and discarding until the peer closes,
    /// for at most `LINGER_TIMEOUT` and `LINGER_MAX_BYTES`.
    Lingering {
        /// When lingering began.
        since: Instant,
        /// Bytes thrown away so far.
        discarded: u64,
    },
    /// Writing what is queued, then handing the IO over to the handler.
    Upgrading(oneshot::Sender<Upgraded>),
}

/// The state both dispatchers and the pump share: the core, the
/// configuration, the clock and the lifecycle.
pub(super) struct Conn<R> {
    pub(super) core: Connection,
    pub(super) runtime: R,
    pub(super) config: Arc<ServerConfig>,
    pub(super) lifecycle: Lifecycle,
    /// The peer closed its write side.
    pub(super) read_closed: bool,
    /// The core returned `NeedData`: only a read can produce events.
    pub(super) need_data: bool,
    /// Requests started on this connection.
    pub(super) requests: u64,
    /// Waiting for a request head since then (idle between requests).
    pub(super) idle_since: Option<Instant>,
    /// What each request gets besides the handler.
    pub(super) around: Around,
    /// The clock as last read, until time may have passed (see [`Conn::now`]).
    clock: Cell<Option<Instant>>,
}

impl<R: Runtime> Conn<R> {
    fn new(runtime: R, config: Arc<ServerConfig>, around: Around) -> Self {
        let core = Connection::with_config(Role::Server, config.connection_config());
        let now = runtime.now();
        Conn {
            core,
            runtime,
            config,
            lifecycle: Lifecycle::Serving,
            read_closed: false,
            need_data: true,
            requests: 0,
            idle_since: Some(now),
            around,
            clock: Cell::new(None),
        }
    }

    /// The time, for the loop's own stamps and deadlines. The runtime's clock
    /// is read at most once between two [`tick`](Self::tick)s: the stamps of
    /// one stretch of the loop's own work (no handler polled in between)
    /// share one reading, e.g. a response's `Date` and the idle time that
    /// follows it.
    pub(super) fn now(&self) -> Instant {
        match self.clock.get() {
            Some(now) => now,
            None => {
                let now = self.runtime.now();
                self.clock.set(Some(now));
                now
            }
        }
    }

    /// Answers a peer's protocol error (or a slow head) with an empty
    /// `status` response, then closes. The core frames it (with
    /// `Connection: close`), or refuses when the peer is not owed an answer;
    /// either way the connection ends.
    pub(super) fn answer_error(&mut self, status: u16) {
        let response = zttp_core::Response::new(status)
            .with_header("date", http_date(self.now()).to_vec())
            .with_header("content-length", "0");
        let sent = self
            .core
            .send(response)
            .and_then(|()| self.core.send(EndOfMessage::default()));
        match sent {
            // Keep the peer's further bytes from resetting the answer away.
            Ok(()) => self.finish(true),
            Err(e) => {
                debug!(error = %e, "protocol error not answered");
                self.finish(false);
            }
        }
    }
}

impl<R> Conn<R> {
    /// Time may have passed (a new poll of the task, a handler ran): the next
    /// [`now`](Self::now) reads the clock.
    pub(super) fn tick(&self) {
        self.clock.set(None);
    }

    /// Taking new requests.
    pub(super) fn serving(&self) -> bool {
        matches!(self.lifecycle, Lifecycle::Serving)
    }

    /// Only writing (then closing or handing over) remains: no more protocol work.
    pub(super) fn winding_up(&self) -> bool {
        matches!(
            self.lifecycle,
            Lifecycle::Flushing { .. } | Lifecycle::Lingering { .. } | Lifecycle::Upgrading(_)
        )
    }

    /// Takes no new request; `linger` when the peer may still be sending at the close.
    pub(super) fn drain(&mut self, linger: bool) {
        match &mut self.lifecycle {
            Lifecycle::Serving => self.lifecycle = Lifecycle::Draining { linger },
            Lifecycle::Draining { linger: l } | Lifecycle::Flushing { linger: l } => *l |= linger,
            Lifecycle::Lingering { .. } | Lifecycle::Upgrading(_) => {}
        }
    }

    /// Closes as soon as the queued output is written.
    pub(super) fn finish(&mut self, linger: bool) {
        let linger = match self.lifecycle {
            Lifecycle::Serving => linger,
            Lifecycle::Draining { linger: l } | Lifecycle::Flushing { linger: l } => l || linger,
            Lifecycle::Lingering { .. } | Lifecycle::Upgrading(_) => return,
        };
        self.lifecycle = Lifecycle::Flushing { linger };
    }

    /// The peer broke the protocol: the core refuses all further events.
    pub(super) fn remote_error(&self) -> Option<RemoteProtocolError> {
        self.core.remote_error()
    }
}

/// The error a request body larger than `max_body_size` fails with (`413`).
fn body_too_large() -> BodyError {
    BodyError::remote(RemoteProtocolError::new(RemoteErrorKind::BodyTooLarge))
}

/// Errors that only mean the peer went away.
fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::NotConnected
    )
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic)")
}

/// An empty-bodied response with a status, as the loop's own answers.
fn status_response(status: StatusCode) -> http::Response<Body> {
    crate::IntoResponse::into_response(status)
}

#[cfg(test)]
mod tests;
