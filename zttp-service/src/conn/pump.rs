//! The IO pump: reads, one vectored write per turn, one connection timer and
//! the lingering close, driving the dispatcher the protocol needs.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use futures::channel::oneshot;
use futures_io::{AsyncRead, AsyncWrite};
use tracing::{debug, trace};
use zttp_core::Protocol;

use super::arena;
use super::multiplex::Multiplex;
use super::serial::Serial;
use super::write::WriteQueue;
use super::{is_disconnect, Conn, Lifecycle};
use crate::shutdown::{Listener, Phase};
use crate::upgrade::Upgraded;
use crate::{Handler, Runtime, Shutdown};

/// Most bytes read from the socket per read call (into a small arena: what
/// a request in progress pins, see `arena`).
const READ_SIZE: usize = arena::SMALL_READ;
/// Most bytes read per call while a request body streams in.
const BODY_READ_SIZE: usize = 64 * 1024;
/// Lingering close: longest time spent reading and discarding what the peer
/// still sends after our final answer, and most bytes thrown away meanwhile.
const LINGER_TIMEOUT: Duration = Duration::from_secs(2);
const LINGER_MAX_BYTES: u64 = 1024 * 1024;
/// Turns of the loop in one poll before it yields to the other tasks of its
/// thread: runtimes without a cooperative budget (async-std, smol, zmq) would
/// otherwise let one busy peer starve them.
pub(super) const MAX_TURNS: usize = 16;

type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// How the loop ended.
pub(super) enum Exit {
    Closed,
    Upgrade(oneshot::Sender<Upgraded>),
}

/// The protocol work the pump drives: one of two dispatchers.
enum Dispatcher<H: Handler> {
    /// HTTP/1.1 (and a connection whose protocol is not known yet).
    Serial(Serial<H>),
    /// HTTP/2.
    Multiplex(Multiplex<H>),
}

impl<H: Handler> Dispatcher<H> {
    fn poll_work<R: Runtime>(
        &mut self,
        conn: &mut Conn<R>,
        queued: usize,
        cx: &mut Context<'_>,
    ) -> bool {
        match self {
            Dispatcher::Serial(d) => d.poll_work(conn, queued, cx),
            Dispatcher::Multiplex(d) => {
                let progress = d.poll_work(conn, queued, cx);
                // Its inline handlers may have run.
                conn.tick();
                progress
            }
        }
    }

    /// True when written output may let it move on (a response body held
    /// back by the high-water mark; HTTP/2's windows and queues).
    fn waits_for_output(&self) -> bool {
        match self {
            Dispatcher::Serial(d) => d.is_streaming(),
            Dispatcher::Multiplex(_) => true,
        }
    }

    /// True when `poll_work` would find nothing to do (HTTP/1.1 between
    /// requests, before the next bytes arrive).
    fn is_waiting_for_bytes<R>(&self, conn: &Conn<R>) -> bool {
        match self {
            Dispatcher::Serial(d) => d.is_waiting_for_bytes(conn),
            Dispatcher::Multiplex(_) => false,
        }
    }

    /// The task was polled (woken).
    fn on_poll(&mut self) {
        if let Dispatcher::Serial(d) = self {
            d.on_poll();
        }
    }

    fn wants_read<R>(&self, conn: &Conn<R>, cx: &mut Context<'_>) -> bool {
        match self {
            Dispatcher::Serial(d) => d.wants_read(conn, cx),
            Dispatcher::Multiplex(d) => d.wants_read(conn),
        }
    }

    /// `n` bytes were read: the core may have recognised HTTP/2's preface.
    fn on_read<R: Runtime>(&mut self, conn: &Conn<R>, n: usize) {
        if let Dispatcher::Serial(d) = self {
            if conn.core.protocol() == Protocol::Http2 && d.is_idle() {
                *self = Dispatcher::Multiplex(Multiplex::new(d.handler.clone()));
            } else {
                d.on_read(n);
            }
        }
    }

    fn head_deadline<R: Runtime>(&mut self, conn: &Conn<R>) -> Option<Instant> {
        match self {
            Dispatcher::Serial(d) => d.head_deadline(conn),
            Dispatcher::Multiplex(d) => d.head_deadline(conn),
        }
    }

    fn on_head_timeout<R: Runtime>(&mut self, conn: &mut Conn<R>) {
        match self {
            Dispatcher::Serial(d) => d.on_head_timeout(conn),
            Dispatcher::Multiplex(d) => d.on_head_timeout(conn),
        }
    }

    /// Most bytes the next read should take.
    fn read_size<R>(&self, conn: &Conn<R>) -> usize {
        match self {
            Dispatcher::Serial(d) => d.read_size(conn, READ_SIZE, BODY_READ_SIZE),
            Dispatcher::Multiplex(_) => READ_SIZE,
        }
    }

    fn drain<R>(&mut self, conn: &mut Conn<R>) {
        match self {
            Dispatcher::Serial(d) => d.drain(conn),
            Dispatcher::Multiplex(d) => d.drain(conn),
        }
    }
}

/// What the connection timer is set for.
#[derive(Clone, Copy)]
enum Deadline {
    /// The next request head (the dispatcher's head deadline).
    Head,
    /// Queued output made no progress for `write_timeout`.
    WriteStalled,
    /// The lingering close has lasted long enough.
    Linger,
    /// A protocol timer of the core (HTTP/2: SETTINGS ACK, keep-alive PING).
    Protocol,
}

/// What the loop does after the connection timer fired.
enum Expired {
    /// The timeout was acted on (an answer queued, or the connection is
    /// winding up): run the loop again.
    Continue,
    /// End the connection now, without writing anything more.
    Close,
}

pub(super) struct Pump<IO, R, H: Handler> {
    io: IO,
    conn: Conn<R>,
    dispatcher: Dispatcher<H>,
    shutdown: Listener,
    out: WriteQueue,
    /// Queued output has made no progress since then (the peer is not reading).
    write_stalled_since: Option<Instant>,
    /// The one connection timer, for the earliest deadline.
    timer: Option<(Instant, Sleep)>,
    /// The waker the timer last returned `Pending` to.
    timer_waker: Option<Waker>,
    /// The waker registered with the shutdown signal while it was running.
    shutdown_waker: Option<Waker>,
}

impl<IO, R, H> Pump<IO, R, H>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    R: Runtime,
    H: Handler,
{
    pub(super) fn new(io: IO, conn: Conn<R>, handler: H, shutdown: &Shutdown) -> Self {
        let dispatcher = match conn.core.protocol() {
            Protocol::Http2 => Dispatcher::Multiplex(Multiplex::new(handler)),
            _ => Dispatcher::Serial(Serial::new(handler)),
        };
        Pump {
            io,
            conn,
            dispatcher,
            shutdown: shutdown.listener(),
            out: WriteQueue::default(),
            write_stalled_since: None,
            timer: None,
            timer_waker: None,
            shutdown_waker: None,
        }
    }

    /// The IO and the connection state, after an upgrade.
    pub(super) fn into_parts(self) -> (IO, Conn<R>) {
        (self.io, self.conn)
    }

    /// Runs the connection until it must wait, for at most [`MAX_TURNS`] turns.
    /// A turn: let the dispatcher work, write what it queued, then read (or
    /// wait for the timer). Every `continue` below is a new turn.
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Exit>> {
        self.conn.tick();
        self.dispatcher.on_poll();
        for turn in 0..MAX_TURNS {
            // The task's waker is registered once per poll: it does not change within one.
            let phase = match turn {
                0 => self.poll_shutdown(cx),
                _ => self.shutdown.phase(),
            };
            match phase {
                Phase::Running => {}
                Phase::Graceful => self.dispatcher.drain(&mut self.conn),
                Phase::Forced => return Poll::Ready(Ok(Exit::Closed)),
            }
            if matches!(self.conn.lifecycle, Lifecycle::Lingering { .. }) {
                return self.poll_linger(cx);
            }
            // A connection woken for its next request, or one that just
            // ended an exchange with nothing more received, goes straight to
            // the write and the read.
            while !self.conn.winding_up() && !self.dispatcher.is_waiting_for_bytes(&self.conn) {
                if !self
                    .dispatcher
                    .poll_work(&mut self.conn, self.out.len(), cx)
                {
                    break;
                }
            }

            let queued = self.out.queued(&self.conn.core);
            let written = match queued == 0 && self.out.is_flushed() {
                true => Poll::Ready(Ok(false)),
                false => self.out.poll_write(&mut self.io, &mut self.conn.core, cx),
            };
            let wrote = match written {
                Poll::Ready(Ok(wrote)) => {
                    self.write_stalled_since = None;
                    wrote
                }
                Poll::Ready(Err(e)) if is_disconnect(&e) => return Poll::Ready(Ok(Exit::Closed)),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    self.write_pending(self.out.queued(&self.conn.core) < queued);
                    match self.poll_timeout(cx) {
                        Poll::Ready(Expired::Continue) => continue,
                        Poll::Ready(Expired::Close) => return Poll::Ready(Ok(Exit::Closed)),
                        Poll::Pending => return Poll::Pending,
                    }
                }
            };
            match &self.conn.lifecycle {
                Lifecycle::Upgrading(_) => {
                    let Lifecycle::Upgrading(tx) =
                        std::mem::replace(&mut self.conn.lifecycle, Lifecycle::Serving)
                    else {
                        unreachable!()
                    };
                    return Poll::Ready(Ok(Exit::Upgrade(tx)));
                }
                Lifecycle::Flushing { linger } => {
                    let linger = *linger;
                    match self.poll_close(linger, cx) {
                        Poll::Ready(Ok(None)) => continue,
                        Poll::Ready(Ok(Some(exit))) => return Poll::Ready(Ok(exit)),
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => return Poll::Pending,
                    }
                }
                _ => {}
            }
            // The dispatcher settled before the write: only a response body
            // it held back for the output can move now. Otherwise the next
            // thing that can happen is a read (or a wake, or the timer).
            if wrote && self.dispatcher.waits_for_output() {
                continue;
            }
            if self.dispatcher.wants_read(&self.conn, cx) {
                match self.poll_read(cx) {
                    Poll::Ready(Ok(())) => continue,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {}
                }
            }
            match self.poll_timeout(cx) {
                Poll::Ready(Expired::Continue) => continue,
                Poll::Ready(Expired::Close) => return Poll::Ready(Ok(Exit::Closed)),
                Poll::Pending => return Poll::Pending,
            }
        }
        // The turn cap: let the other tasks of this thread run, then come back.
        trace!("yielding after {MAX_TURNS} turns");
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// The shutdown phase, with the task registered to be woken when it
    /// changes. The signal wakes only on a change of phase: while it still
    /// runs, a waker registered before is still there, and is not registered
    /// again when it is the same.
    fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Phase {
        if let Some(waker) = &self.shutdown_waker {
            if waker.will_wake(cx.waker()) {
                let phase = self.shutdown.phase();
                if phase == Phase::Running {
                    return phase;
                }
            }
        }
        let phase = self.shutdown.poll_phase(cx);
        self.shutdown_waker = (phase == Phase::Running).then(|| cx.waker().clone());
        phase
    }

    /// Reads into this thread's arena and hands what arrived to the core
    /// without copying it. Before waiting for the peer, the core lets go of
    /// the arena (a connection that waits holds no read buffer).
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let want = self.dispatcher.read_size(&self.conn);
        let io = Pin::new(&mut self.io);
        let read = match arena::read(want, |room| io.poll_read(cx, room)) {
            Poll::Ready(Ok(read)) => read,
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {
                return Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) if is_disconnect(&e) => BytesMut::new(),
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => {
                self.conn.core.shrink_receive_buffer();
                return Poll::Pending;
            }
        };
        let n = read.len();
        trace!(bytes = n, "read");
        if n == 0 {
            self.conn.read_closed = true;
        }
        self.conn.core.receive_bytes(read);
        self.conn.need_data = false;
        self.dispatcher.on_read(&self.conn, n);
        Poll::Ready(Ok(()))
    }

    // ---- closing ----

    /// Closes our write side once everything is written; then either the
    /// connection is over (`Some(Closed)`), or, when the peer may still be
    /// sending, lingering begins. `Ok(None)`: run the loop again.
    fn poll_close(&mut self, linger: bool, cx: &mut Context<'_>) -> Poll<io::Result<Option<Exit>>> {
        match Pin::new(&mut self.io).poll_close(cx) {
            Poll::Ready(Ok(())) => {
                self.write_stalled_since = None;
                if !linger || self.conn.read_closed {
                    return Poll::Ready(Ok(Some(Exit::Closed)));
                }
                debug!("lingering: discarding what the peer still sends");
                self.conn.lifecycle = Lifecycle::Lingering {
                    since: self.conn.now(),
                    discarded: 0,
                };
                Poll::Ready(Ok(None))
            }
            Poll::Ready(Err(e)) if is_disconnect(&e) => Poll::Ready(Ok(Some(Exit::Closed))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => {
                // Closing may wait for output to drain: bound it like a write.
                self.write_pending(false);
                match self.poll_timeout(cx) {
                    Poll::Ready(Expired::Continue) => Poll::Ready(Ok(None)),
                    Poll::Ready(Expired::Close) => Poll::Ready(Ok(Some(Exit::Closed))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    /// Reads and discards what the peer still sends until it closes too, or
    /// for at most [`LINGER_TIMEOUT`] and [`LINGER_MAX_BYTES`]. Closing a
    /// socket with unread input makes the kernel send a reset, which can
    /// destroy the answer before the peer has read it.
    fn poll_linger(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Exit>> {
        loop {
            let io = Pin::new(&mut self.io);
            match arena::discard(READ_SIZE, |room| io.poll_read(cx, room)) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Ok(Exit::Closed)),
                Poll::Ready(Ok(n)) => {
                    if let Lifecycle::Lingering { discarded, .. } = &mut self.conn.lifecycle {
                        *discarded += n as u64;
                        if *discarded >= LINGER_MAX_BYTES {
                            debug!(discarded, "lingering close read its limit");
                            return Poll::Ready(Ok(Exit::Closed));
                        }
                    }
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(_)) => return Poll::Ready(Ok(Exit::Closed)),
                Poll::Pending => {
                    return match self.poll_timeout(cx) {
                        Poll::Ready(_) => Poll::Ready(Ok(Exit::Closed)),
                        Poll::Pending => Poll::Pending,
                    }
                }
            }
        }
    }

    // ---- the connection timer ----

    /// The earliest deadline the connection timer must watch, and what it is for
    /// (the first of equal ones).
    fn next_deadline(&mut self) -> Option<(Instant, Deadline)> {
        fn earlier(
            a: Option<(Instant, Deadline)>,
            b: Option<(Instant, Deadline)>,
        ) -> Option<(Instant, Deadline)> {
            match (a, b) {
                (Some(a), Some(b)) if b.0 < a.0 => Some(b),
                (None, b) => b,
                (a, _) => a,
            }
        }
        let head = self
            .dispatcher
            .head_deadline(&self.conn)
            .map(|t| (t, Deadline::Head));
        let write = self
            .write_stalled_since
            .zip(self.conn.config.write_timeout)
            .map(|(since, timeout)| (since + timeout, Deadline::WriteStalled));
        let mut next = earlier(head, write);
        match self.conn.lifecycle {
            Lifecycle::Lingering { since, .. } => {
                next = earlier(next, Some((since + LINGER_TIMEOUT, Deadline::Linger)));
            }
            _ if !self.conn.winding_up() => {
                let protocol = self.conn.core.poll_timeout();
                next = earlier(next, protocol.map(|t| (t, Deadline::Protocol)));
            }
            _ => {}
        }
        next
    }

    /// Polls the connection timer: `Ready` when a deadline passed, with what to do next.
    ///
    /// One timer serves every deadline, armed lazily: when it fires early
    /// because the deadline moved later (every request, every write that makes
    /// progress moves one), it is re-armed for the rest, so a busy connection
    /// creates about one timer per timeout period, not one per request or write.
    /// A timer already registered with this task's waker is not polled again
    /// before its instant (a sleep does not end early, see [`Runtime::sleep`]):
    /// the clock is cheaper to read than a timer is to poll.
    fn poll_timeout(&mut self, cx: &mut Context<'_>) -> Poll<Expired> {
        let Some((deadline, kind)) = self.next_deadline() else {
            return Poll::Pending;
        };
        loop {
            if let Some((at, sleep)) = &mut self.timer {
                if *at <= deadline {
                    let registered = self
                        .timer_waker
                        .as_ref()
                        .is_some_and(|w| w.will_wake(cx.waker()));
                    if registered && self.conn.now() < *at {
                        return Poll::Pending;
                    }
                    if sleep.as_mut().poll(cx).is_pending() {
                        if !registered {
                            self.timer_waker = Some(cx.waker().clone());
                        }
                        return Poll::Pending;
                    }
                    self.timer = None;
                }
            }
            let now = self.conn.now();
            if now >= deadline {
                self.timer = None;
                return Poll::Ready(self.on_deadline(kind, now));
            }
            if self.timer.as_ref().is_none_or(|(at, _)| *at > deadline) {
                self.timer = Some((deadline, self.conn.runtime.sleep(deadline - now)));
                self.timer_waker = None;
            }
        }
    }

    fn on_deadline(&mut self, kind: Deadline, now: Instant) -> Expired {
        match kind {
            Deadline::WriteStalled => {
                debug!(
                    queued = self.out.queued(&self.conn.core),
                    "peer stopped reading (write timeout); closing"
                );
                Expired::Close
            }
            Deadline::Linger => {
                debug!("lingering close timed out");
                Expired::Close
            }
            Deadline::Head => {
                self.dispatcher.on_head_timeout(&mut self.conn);
                Expired::Continue
            }
            Deadline::Protocol => {
                // A PING queued, or an error the dispatcher reads next turn.
                self.conn.core.handle_timeout(now);
                Expired::Continue
            }
        }
    }

    /// Output is waiting on the peer: starts (or, when `progressed`, restarts)
    /// the write-stall clock.
    fn write_pending(&mut self, progressed: bool) {
        if self.conn.config.write_timeout.is_some()
            && (progressed || self.write_stalled_since.is_none())
        {
            self.write_stalled_since = Some(self.conn.now());
        }
    }
}
