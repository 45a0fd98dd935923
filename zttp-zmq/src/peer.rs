//! One STREAM peer seen as a duplex byte stream (`futures_io::AsyncRead + AsyncWrite`).
//!
//! The IO thread owns the socket; a [`PeerStream`] and the IO thread share one [`Peer`]:
//! an inbound queue the IO thread fills and the stream drains, an outbound buffer the stream
//! fills and the IO thread drains, and the wakers of both sides.

use std::fmt;
use std::io;
use std::mem;
use std::net::SocketAddr;
use std::os::unix::io::RawFd;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};

use crate::wake::WakePipe;

/// Capacity an emptied inbound buffer keeps for the next request.
const INBOUND_KEPT: usize = 64 << 10;

/// A STREAM socket routing id (5 bytes with libzmq 4.3, unique for the socket's lifetime).
pub type RoutingId = Bytes;

/// Limits of the per-peer queues between the TCP peers, libzmq and the handlers.
///
/// Memory per peer is bounded by `inbound + outbound` in this crate plus, inside libzmq,
/// `receive_hwm` messages of at most 8 KiB received and `send_hwm` messages of at most
/// `frame` bytes to send. [`inbound_total`](Self::inbound_total) bounds the inbound side for
/// the whole socket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerLimits {
    /// Bytes received from one peer and not yet read by its connection. A STREAM socket
    /// cannot pause one peer, so when a peer gets this far ahead of its handler the IO
    /// thread stops receiving from the socket (libzmq's receive queues, then TCP, then the
    /// senders, are paused) until that handler reads. Default 1 MiB.
    pub inbound: usize,
    /// Bytes received and not yet read, all peers together; beyond it receiving pauses the
    /// same way. Default 64 MiB.
    pub inbound_total: usize,
    /// How long receiving may stay paused for one peer whose handler reads nothing: then
    /// that peer is disconnected (logged; its stream reads an `OutOfMemory` error) so the
    /// others go on. Any read by the handler restarts the clock. Default 2 s.
    pub inbound_stall: Duration,
    /// Bytes written to a peer and not yet handed to libzmq. When full, `poll_write` returns
    /// `Pending`: a slow reader slows its own handler and nobody else. Default 256 KiB.
    pub outbound: usize,
    /// Largest data frame handed to libzmq in one message. Default 64 KiB.
    pub frame: usize,
    /// libzmq's `ZMQ_SNDHWM`: messages (each at most `frame` bytes) libzmq queues per peer
    /// for sending. Default 16 (1 MiB with the default frame).
    pub send_hwm: i32,
    /// libzmq's `ZMQ_RCVHWM`: messages (each at most 8 KiB, libzmq's read size) libzmq
    /// queues per peer before it stops reading that peer's TCP socket. Default 32 (256 KiB).
    pub receive_hwm: i32,
    /// A closed stream whose queued bytes made no progress for this long (the peer stopped
    /// reading and its TCP window is zero) has its connection aborted, so libzmq frees its
    /// queue. Default 5 s; with the drive loop's `write_timeout` a stalled reader is thus
    /// closed after `write_timeout` plus at most this.
    pub close_stalled: Duration,
}

impl Default for PeerLimits {
    fn default() -> Self {
        PeerLimits {
            inbound: 1 << 20,
            inbound_total: 64 << 20,
            inbound_stall: Duration::from_secs(2),
            outbound: 256 << 10,
            frame: 64 << 10,
            send_hwm: 16,
            receive_hwm: 32,
            close_stalled: Duration::from_secs(5),
        }
    }
}

/// What the IO thread shares with every task: its wake-up and the peers that have work.
#[derive(Debug)]
pub(crate) struct IoShared {
    pub(crate) wake: WakePipe,
    /// Peers with something to send or close, for the IO thread (each queued at most once,
    /// see [`Peer::scheduled`]).
    pub(crate) ready: Sender<Arc<Peer>>,
    /// Set when the accepting side is gone: finish the remaining peers, then exit.
    pub(crate) stopping: AtomicBool,
    pub(crate) limits: PeerLimits,
    /// Received bytes not yet read, all peers together.
    pub(crate) inbound_total: AtomicUsize,
    /// The IO thread stopped receiving until some handler reads: reads wake it.
    pub(crate) receive_paused: AtomicBool,
    /// Tasks and timers of [`IoThreadRuntime`](crate::IoThreadRuntime).
    pub(crate) executor: crate::runtime::Executor,
    /// The tokio runtime the server started in, entered while the IO thread polls tasks.
    pub(crate) tokio: std::sync::OnceLock<tokio::runtime::Handle>,
    /// Tasks spawned on the IO thread and not finished.
    pub(crate) live_tasks: AtomicUsize,
}

impl IoShared {
    /// Queues `peer` for the IO thread (flush or close), unless it is queued already, and
    /// wakes it (no system call while the IO thread is awake).
    pub(crate) fn schedule(&self, peer: &Arc<Peer>) {
        if peer.scheduled.swap(true, Ordering::SeqCst) {
            return;
        }
        // The receiver lives as long as the IO thread, which finishes every peer on exit.
        let _ = self.ready.send(peer.clone());
        self.wake.signal();
    }
}

/// Why a peer's read side ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReadEnd {
    /// The peer closed its connection, or we did: reads return 0.
    Eof,
    /// The peer's inbound buffer stayed full for [`PeerLimits::inbound_stall`].
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
    /// The stream was dropped: received bytes are discarded.
    pub(crate) reader_gone: bool,
    /// Set when the peer went away: writes fail with this kind.
    pub(crate) write_error: Option<io::ErrorKind>,
    pub(crate) close_waker: Option<Waker>,
}

/// State shared by a [`PeerStream`] and the IO thread.
pub(crate) struct Peer {
    pub(crate) id: RoutingId,
    /// The TCP peer's address, from the connect notification's metadata.
    pub(crate) addr: Option<SocketAddr>,
    /// libzmq's descriptor of the connection (to abort a stalled one), from the same metadata.
    pub(crate) fd: Option<RawFd>,
    pub(crate) state: Mutex<PeerState>,
    /// Already in [`IoShared::ready`]; the IO thread clears it before it sends.
    pub(crate) scheduled: AtomicBool,
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
    pub(crate) fn new(
        id: RoutingId,
        addr: Option<SocketAddr>,
        fd: Option<RawFd>,
        io: Arc<IoShared>,
    ) -> Arc<Peer> {
        Arc::new(Peer {
            id,
            addr,
            fd,
            state: Mutex::new(PeerState::default()),
            scheduled: AtomicBool::new(false),
            io,
        })
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, PeerState> {
        lock(&self.state)
    }

    /// IO thread: the peer sent `chunk`. Returns the bytes now waiting to be read (0 when
    /// the stream is gone and the chunk was discarded).
    pub(crate) fn push_inbound(&self, chunk: &[u8]) -> usize {
        let mut st = self.lock();
        if st.reader_gone || st.read_end.is_some() {
            return 0;
        }
        st.inbound.extend_from_slice(chunk);
        self.io
            .inbound_total
            .fetch_add(chunk.len(), Ordering::Relaxed);
        let waiting = st.inbound.len();
        let waker = st.read_waker.take();
        drop(st);
        if let Some(w) = waker {
            w.wake();
        }
        waiting
    }

    /// Bytes received and not yet read.
    pub(crate) fn inbound_len(&self) -> usize {
        self.lock().inbound.len()
    }

    /// Whether nobody will read this peer's bytes any more.
    pub(crate) fn reader_gone(&self) -> bool {
        self.lock().reader_gone
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
        if read_end != ReadEnd::Eof {
            // Nobody gets these bytes; free them now.
            let dropped = mem::take(&mut st.inbound).len();
            self.io.inbound_total.fetch_sub(dropped, Ordering::Relaxed);
        }
        let wakers = [
            st.read_waker.take(),
            st.write_waker.take(),
            st.close_waker.take(),
        ];
        drop(st);
        wakers.into_iter().flatten().for_each(Waker::wake);
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
        drop(st);
        self.peer.io.schedule(&self.peer);
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
        drop(st);
        self.peer.io.schedule(&self.peer);
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
            drop(st);
            let io = &self.peer.io;
            io.inbound_total.fetch_sub(n, Ordering::Relaxed);
            if io.receive_paused.load(Ordering::Relaxed) {
                // The IO thread waits for room; it checks whether this read made enough.
                io.wake.signal();
            }
            return Poll::Ready(Ok(n));
        }
        match st.read_end {
            Some(ReadEnd::Eof) => Poll::Ready(Ok(0)),
            Some(ReadEnd::Overflow) => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                "zmq peer dropped: its inbound buffer stayed full for the stall limit",
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
        let mut st = self.peer.lock();
        st.reader_gone = true;
        let dropped = mem::take(&mut st.inbound).len();
        drop(st);
        let io = &self.peer.io;
        io.inbound_total.fetch_sub(dropped, Ordering::Relaxed);
        if dropped > 0 && io.receive_paused.load(Ordering::Relaxed) {
            io.wake.signal();
        }
        let _ = self.request_close(None);
    }
}

pub(crate) fn is_stopping(io: &IoShared) -> bool {
    io.stopping.load(Ordering::Acquire)
}
