//! One STREAM peer seen as a duplex byte stream (`futures_io::AsyncRead + AsyncWrite`).
//!
//! The IO thread owns the socket; a [`PeerStream`] and the IO thread share one [`Peer`]:
//! an inbound queue the IO thread fills and the stream drains, an outbound buffer the stream
//! fills and the IO thread drains, and the wakers of both sides.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::{Buf, Bytes, BytesMut};

use crate::wake::WakePipe;

/// Capacity an emptied inbound buffer keeps for the next request.
const INBOUND_KEPT: usize = 64 << 10;

/// A STREAM socket routing id (5 bytes with libzmq 4.3, unique for the socket's lifetime).
pub type RoutingId = Bytes;

/// Byte limits of the per-peer queues between the IO thread and a peer's handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerLimits {
    /// Bytes received from a peer and not yet read by its connection. A STREAM socket cannot
    /// pause one peer without pausing all, so a peer that gets this far ahead of its handler
    /// is disconnected (its stream reads an `OutOfMemory` error) instead of stalling the others.
    pub inbound: usize,
    /// Bytes written to a peer and not yet handed to libzmq. When full, `poll_write` returns
    /// `Pending`: a slow reader slows its own handler and nobody else.
    pub outbound: usize,
    /// Largest data frame handed to libzmq in one message.
    pub frame: usize,
}

impl Default for PeerLimits {
    fn default() -> Self {
        PeerLimits {
            inbound: 8 << 20,
            outbound: 256 << 10,
            frame: 64 << 10,
        }
    }
}

/// What the IO thread shares with every task: its wake-up and the peers that have work.
#[derive(Debug)]
pub(crate) struct IoShared {
    pub(crate) wake: WakePipe,
    pub(crate) ready: Mutex<Vec<Arc<Peer>>>,
    /// Set when the accepting side is gone: finish the remaining peers, then exit.
    pub(crate) stopping: AtomicBool,
    pub(crate) limits: PeerLimits,
}

impl IoShared {
    /// Queues `peer` for the IO thread (flush or close) and wakes it.
    pub(crate) fn schedule(&self, peer: Arc<Peer>) {
        let was_empty = {
            let mut ready = lock(&self.ready);
            let was_empty = ready.is_empty();
            ready.push(peer);
            was_empty
        };
        if was_empty {
            self.wake.signal();
        }
    }
}

/// Why a peer's read side ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadEnd {
    /// The peer closed its connection, or we did: reads return 0.
    Eof,
    /// The peer sent more than [`PeerLimits::inbound`] ahead of its reader.
    Overflow,
    /// The IO thread stopped (socket or context error).
    Failed,
}

#[derive(Debug, Default)]
pub(crate) struct PeerState {
    /// Received bytes not yet read: one buffer whose space is reused once read, so a
    /// request costs no allocation of its own.
    pub(crate) inbound: BytesMut,
    pub(crate) read_end: Option<ReadEnd>,
    pub(crate) read_waker: Option<Waker>,
    pub(crate) outbound: BytesMut,
    pub(crate) write_waker: Option<Waker>,
    /// The stream asked for `[id, ""]` once `outbound` is sent (close or drop).
    pub(crate) close_requested: bool,
    /// The IO thread is done with this peer: close frame sent, or peer gone.
    pub(crate) finished: bool,
    /// Set when the peer went away: writes fail with this kind.
    pub(crate) write_error: Option<io::ErrorKind>,
    pub(crate) close_waker: Option<Waker>,
    /// Already in `IoShared::ready`.
    pub(crate) scheduled: bool,
}

/// State shared by a [`PeerStream`] and the IO thread.
pub(crate) struct Peer {
    pub(crate) id: RoutingId,
    /// The TCP peer's address, from the connect notification's metadata.
    pub(crate) addr: Option<SocketAddr>,
    pub(crate) state: Mutex<PeerState>,
    pub(crate) io: Arc<IoShared>,
}

impl fmt::Debug for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Peer")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Peer {
    pub(crate) fn new(id: RoutingId, addr: Option<SocketAddr>, io: Arc<IoShared>) -> Arc<Peer> {
        Arc::new(Peer {
            id,
            addr,
            state: Mutex::new(PeerState::default()),
            io,
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, PeerState> {
        lock(&self.state)
    }

    /// IO thread: the peer sent `chunk`. Returns false when it overflowed its inbound limit.
    pub(crate) fn push_inbound(&self, chunk: &[u8]) -> bool {
        let mut st = self.lock();
        if st.inbound.len() + chunk.len() > self.io.limits.inbound {
            return false;
        }
        st.inbound.extend_from_slice(chunk);
        let waker = st.read_waker.take();
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        true
    }

    /// IO thread: this peer is over (disconnected, closed by us, overflowed, or socket failure).
    pub(crate) fn finish(&self, read_end: ReadEnd, write_error: Option<io::ErrorKind>) {
        let mut st = self.lock();
        st.finished = true;
        if st.read_end.is_none() {
            st.read_end = Some(read_end);
        }
        if st.write_error.is_none() {
            st.write_error = write_error;
        }
        st.outbound = BytesMut::new();
        let wakers = [
            st.read_waker.take(),
            st.write_waker.take(),
            st.close_waker.take(),
        ];
        drop(st);
        wakers.into_iter().flatten().for_each(Waker::wake);
    }

    fn schedule_locked(self: &Arc<Self>, st: &mut PeerState) -> bool {
        if st.scheduled || st.finished {
            false
        } else {
            st.scheduled = true;
            true
        }
    }
}

/// One connected STREAM peer as a duplex byte stream.
///
/// Reads return what the peer sent, in order, whatever the frame boundaries were, and `Ok(0)`
/// once the peer disconnected. Writes queue bytes for the IO thread (backpressure at
/// [`PeerLimits::outbound`]); they fail with `BrokenPipe` once the peer is gone. `poll_close`
/// (or dropping the stream) sends the queued bytes, then closes the TCP connection by sending
/// `[id, ""]`.
pub struct PeerStream {
    peer: Arc<Peer>,
}

impl fmt::Debug for PeerStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerStream")
            .field("routing_id", &self.peer.id)
            .field("peer_addr", &self.peer.addr)
            .finish()
    }
}

impl PeerStream {
    pub(crate) fn new(peer: Arc<Peer>) -> Self {
        PeerStream { peer }
    }

    /// The libzmq routing id of this peer.
    pub fn routing_id(&self) -> &RoutingId {
        &self.peer.id
    }

    /// The TCP peer's address (libzmq's `Peer-Address` property with the port of the
    /// connection), if libzmq reported it.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer.addr
    }

    fn write_bufs(
        &self,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Poll::Ready(Ok(0));
        }
        let limit = self.peer.io.limits.outbound;
        let mut st = self.peer.lock();
        if let Some(kind) = st.write_error {
            return Poll::Ready(Err(io::Error::new(kind, "zmq peer disconnected")));
        }
        if st.close_requested || st.finished {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "zmq peer closed",
            )));
        }
        let room = limit.saturating_sub(st.outbound.len());
        if room == 0 {
            st.write_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let mut left = room.min(total);
        let written = left;
        for buf in bufs {
            let n = buf.len().min(left);
            st.outbound.extend_from_slice(&buf[..n]);
            left -= n;
            if left == 0 {
                break;
            }
        }
        let schedule = self.peer.schedule_locked(&mut st);
        drop(st);
        if schedule {
            self.peer.io.schedule(self.peer.clone());
        }
        Poll::Ready(Ok(written))
    }

    fn request_close(&self, cx: Option<&mut Context<'_>>) -> Poll<()> {
        let mut st = self.peer.lock();
        if st.finished {
            return Poll::Ready(());
        }
        st.close_requested = true;
        if let Some(cx) = cx {
            st.close_waker = Some(cx.waker().clone());
        }
        let schedule = self.peer.schedule_locked(&mut st);
        drop(st);
        if schedule {
            self.peer.io.schedule(self.peer.clone());
        }
        Poll::Pending
    }
}

impl futures_io::AsyncRead for PeerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let mut st = self.peer.lock();
        let n = st.inbound.len().min(buf.len());
        if n > 0 {
            buf[..n].copy_from_slice(&st.inbound[..n]);
            st.inbound.advance(n);
            if st.inbound.is_empty() && st.inbound.capacity() > INBOUND_KEPT {
                // A large body went through: do not keep its buffer for the idle connection.
                st.inbound = BytesMut::new();
            }
            return Poll::Ready(Ok(n));
        }
        match st.read_end {
            Some(ReadEnd::Eof) => Poll::Ready(Ok(0)),
            Some(ReadEnd::Overflow) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                "zmq peer sent more than the inbound limit ahead of its reader",
            ))),
            Some(ReadEnd::Failed) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "zmq IO thread stopped",
            ))),
            None => {
                st.read_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl futures_io::AsyncWrite for PeerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_bufs(cx, &[io::IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.write_bufs(cx, bufs)
    }

    /// Ready at once: queued bytes belong to the IO thread, which sends them in order (or
    /// drops them if the peer disconnects, which the next write reports).
    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    /// Sends what is queued, then `[id, ""]`; ready once the IO thread has done so.
    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.request_close(Some(cx)).map(Ok)
    }
}

/// Each request served on this stream carries [`zttp_service::PeerAddr`].
impl zttp_service::ConnectionInfo for PeerStream {
    fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer.addr
    }
}

impl Drop for PeerStream {
    fn drop(&mut self) {
        let _ = self.request_close(None);
    }
}

/// Marks `peer` as no longer queued; called by the IO thread before it looks at the peer.
pub(crate) fn unschedule(peer: &Peer) {
    peer.lock().scheduled = false;
}

pub(crate) fn is_stopping(io: &IoShared) -> bool {
    io.stopping.load(Ordering::Acquire)
}
