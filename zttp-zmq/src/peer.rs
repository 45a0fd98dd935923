//! One STREAM peer seen as a duplex byte stream (`futures_io::AsyncRead + AsyncWrite`).
//!
//! The IO thread owns the socket; a [`PeerStream`] and the IO thread share one [`Peer`]:
//! an inbound queue of the frames libzmq received, which the stream reads from in place, and
//! an outbound queue of frames the stream builds from the drive loop's buffers (its one copy)
//! and the IO thread hands to libzmq as they are. Each direction has its own short lock and
//! no lock is held while bytes are copied in bulk.

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

use std::collections::VecDeque;

use bytes::Bytes;

use crate::wake::WakePipe;

/// What a queued inbound frame counts against [`PeerLimits::inbound`] at least: libzmq hands a
/// received frame over without copying it, so an unread frame keeps libzmq's whole receive
/// buffer (`ZMQ_IN_BATCH_SIZE`, 8 KiB) alive, however few bytes it holds.
pub(crate) const INBOUND_FRAME_CHARGE: usize = 8192;

/// Writes up to this size are copied into their frame under the outbound lock; larger ones
/// are copied first, so the IO thread never waits behind a long copy.
const COPY_UNDER_LOCK: usize = 4096;

/// What an inbound frame of `len` bytes counts against the inbound budgets.
fn charge(len: usize) -> usize {
    len.max(INBOUND_FRAME_CHARGE)
}

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
    /// Bytes received from one peer and not yet read by its connection (each queued frame
    /// counting at least 8 KiB, the libzmq receive buffer it keeps alive). A STREAM socket
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
    /// Set after a peer was sent on [`ready`](Self::ready): the IO thread looks at the
    /// channel only then (its peers are mostly queued by its own tasks, without it).
    pub(crate) remote_ready: AtomicBool,
    /// Set when the accepting side is gone: finish the remaining peers, then exit.
    pub(crate) stopping: AtomicBool,
    pub(crate) limits: PeerLimits,
    /// Received bytes not yet read, all peers together (as charged, see [`charge`]).
    pub(crate) inbound_total: AtomicUsize,
    /// The IO thread stopped receiving until some handler reads: reads wake it.
    pub(crate) receive_paused: AtomicBool,
    /// Tasks and timers of [`IoThreadRuntime`](crate::IoThreadRuntime).
    pub(crate) executor: crate::runtime::Executor,
    /// The tokio runtime the server started in, entered while the IO thread polls tasks.
    pub(crate) tokio: std::sync::OnceLock<tokio::runtime::Handle>,
    /// Tasks spawned on the IO thread and not finished.
    pub(crate) live_tasks: AtomicUsize,
    /// Other sockets handed to the IO thread ([`IoShared::attach`]).
    pub(crate) attachments: Mutex<Attachments>,
    /// [`Attachments::pending`] is not empty: the IO thread takes it without locking first.
    pub(crate) attach_pending: AtomicBool,
    /// Tasks run on the IO thread ([`IoThreadRuntime`](crate::IoThreadRuntime)): its loop
    /// may sleep inside libzmq's receive, woken through the wake link ([`crate::wake`]).
    pub(crate) receive_sleep: AtomicBool,
}

/// Sockets waiting for the IO thread to drive them, and whether it still can.
#[derive(Default)]
pub(crate) struct Attachments {
    pub(crate) pending: Vec<Box<dyn crate::io_thread::Attached>>,
    /// The IO thread has ended: nothing is taken any more.
    pub(crate) closed: bool,
}

impl fmt::Debug for Attachments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attachments")
            .field("pending", &self.pending.len())
            .field("closed", &self.closed)
            .finish()
    }
}

impl IoShared {
    /// Queues `peer` for the IO thread (flush or close), unless it is queued already, and
    /// wakes it (no system call while the IO thread is awake). A task running on the IO
    /// thread itself queues it on a plain thread-local list instead, which the thread drains
    /// before it sleeps.
    pub(crate) fn schedule(&self, peer: &Arc<Peer>) {
        if peer.scheduled.swap(true, Ordering::SeqCst) {
            return;
        }
        if IO_THREAD_OF.get() == self.address() {
            LOCAL_READY.with_borrow_mut(|ready| ready.push(peer.clone()));
            return;
        }
        // The receiver lives as long as the IO thread, which finishes every peer on exit.
        let _ = self.ready.send(peer.clone());
        self.remote_ready.store(true, Ordering::SeqCst);
        self.wake.signal();
    }

    /// Hands another socket to the IO thread, which then drives it beside its own until
    /// `socket`'s turn says it is done, or [`Attached::detach`]es it when the thread ends.
    /// Gives `socket` back if the IO thread has ended already.
    ///
    /// [`Attached::detach`]: crate::io_thread::Attached::detach
    pub(crate) fn attach<A: crate::io_thread::Attached + 'static>(
        &self,
        socket: A,
    ) -> Result<(), A> {
        let mut attachments = lock(&self.attachments);
        if attachments.closed {
            return Err(socket);
        }
        attachments.pending.push(Box::new(socket));
        self.attach_pending.store(true, Ordering::Release);
        drop(attachments);
        self.wake.signal();
        Ok(())
    }

    fn address(&self) -> usize {
        self as *const IoShared as usize
    }

    /// IO thread: marks the calling thread as this socket's IO thread (`false`: no more).
    pub(crate) fn set_io_thread(&self, on: bool) {
        IO_THREAD_OF.set(if on { self.address() } else { 0 });
    }

    /// IO thread: whether its own tasks queued peers.
    pub(crate) fn has_local_ready(&self) -> bool {
        LOCAL_READY.with_borrow(|ready| !ready.is_empty())
    }

    /// IO thread: moves the peers its own tasks queued into `out`.
    pub(crate) fn take_local_ready(&self, out: &mut Vec<Arc<Peer>>) {
        LOCAL_READY.with_borrow_mut(|ready| {
            if !ready.is_empty() {
                mem::swap(ready, out);
            }
        });
    }
}

thread_local! {
    /// On a socket's IO thread, the address of its [`IoShared`]; 0 elsewhere.
    static IO_THREAD_OF: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// Peers that tasks on this IO thread queued ([`IoShared::schedule`]).
    static LOCAL_READY: std::cell::RefCell<Vec<Arc<Peer>>> = const { std::cell::RefCell::new(Vec::new()) };
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

/// The receiving half: frames the IO thread queued and the stream reads.
#[derive(Debug, Default)]
pub(crate) struct Inbound {
    /// Frames as libzmq received them (never copied before the stream's read).
    frames: VecDeque<zmq::Message>,
    /// Bytes of the front frame already read.
    offset: usize,
    /// Sum of [`charge`] over `frames`.
    charged: usize,
    end: Option<ReadEnd>,
    waker: Option<Waker>,
    /// The stream was dropped: received bytes are discarded.
    reader_gone: bool,
}

impl Inbound {
    /// How far the peer is ahead of its reader, against the budgets; it drops as the
    /// reader makes any progress, also within a frame.
    fn level(&self) -> usize {
        self.charged - self.offset
    }

    /// Drops every queued frame; returns their charge.
    fn discard(&mut self) -> usize {
        self.frames.clear();
        self.offset = 0;
        mem::take(&mut self.charged)
    }
}

/// The sending half: frames the stream queued and the IO thread sends.
#[derive(Debug, Default)]
pub(crate) struct Outbound {
    /// Frames of at most [`PeerLimits::frame`] bytes, in order, with their lengths (asking
    /// libzmq a message's length is a call into it).
    frames: VecDeque<(zmq::Message, usize)>,
    /// Bytes in `frames`.
    len: usize,
    waker: Option<Waker>,
    /// The stream asked for `[id, ""]` once `frames` are sent (close or drop).
    pub(crate) close_requested: bool,
    /// The IO thread is done with this peer: close frame sent, or peer gone.
    finished: bool,
    /// Set when the peer went away: writes fail with this kind.
    write_error: Option<io::ErrorKind>,
    close_waker: Option<Waker>,
}

/// What the IO thread takes from a peer's outbound queue in one step.
pub(crate) enum Outgoing {
    /// A data frame to send, its length, and whether more is queued after it (or a close).
    Frame(zmq::Message, usize, bool),
    /// Nothing is queued and the stream asked to close: send `[id, ""]`.
    Close,
    /// Nothing to do.
    Idle,
}

/// State shared by a [`PeerStream`] and the IO thread.
pub(crate) struct Peer {
    pub(crate) id: RoutingId,
    /// The TCP peer's address, from the connect notification's metadata.
    pub(crate) addr: Option<SocketAddr>,
    /// libzmq's descriptor of the connection (to abort a stalled one), from the same metadata.
    pub(crate) fd: Option<RawFd>,
    inbound: Mutex<Inbound>,
    outbound: Mutex<Outbound>,
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
            inbound: Mutex::default(),
            outbound: Mutex::default(),
            scheduled: AtomicBool::new(false),
            io,
        })
    }

    /// IO thread: the peer sent `frame` (not empty, `len` bytes). Returns how far the peer
    /// now is ahead of its reader (0 when the stream is gone and the frame was discarded),
    /// and whether a reader waiting for bytes was woken.
    pub(crate) fn push_inbound(&self, frame: zmq::Message, len: usize) -> (usize, bool) {
        let charged = charge(len);
        let mut st = lock(&self.inbound);
        if st.reader_gone || st.end.is_some() {
            drop(st);
            return (0, false);
        }
        st.frames.push_back(frame);
        st.charged += charged;
        let level = st.level();
        let waker = st.waker.take();
        drop(st);
        self.io.inbound_total.fetch_add(charged, Ordering::Relaxed);
        let woke = waker.is_some();
        if let Some(w) = waker {
            w.wake();
        }
        (level, woke)
    }

    /// How far the peer is ahead of its reader (bytes as charged against the budgets).
    pub(crate) fn inbound_len(&self) -> usize {
        lock(&self.inbound).level()
    }

    /// Whether nobody will read this peer's bytes any more.
    pub(crate) fn reader_gone(&self) -> bool {
        lock(&self.inbound).reader_gone
    }

    /// Whether the stream asked to be closed.
    pub(crate) fn close_requested(&self) -> bool {
        lock(&self.outbound).close_requested
    }

    /// IO thread: the next thing to send for this peer. A frame is taken off the queue (see
    /// [`unsend`](Self::unsend) if libzmq refuses it) and the writer woken, as there is room;
    /// `Frame(_, true)` says more is queued or a close is asked for.
    pub(crate) fn next_outgoing(&self) -> Outgoing {
        let mut st = lock(&self.outbound);
        match st.frames.pop_front() {
            Some((frame, len)) => {
                st.len -= len;
                let more = !st.frames.is_empty() || st.close_requested;
                let waker = st.waker.take();
                drop(st);
                if let Some(w) = waker {
                    w.wake();
                }
                Outgoing::Frame(frame, len, more)
            }
            None if st.close_requested => Outgoing::Close,
            None => Outgoing::Idle,
        }
    }

    /// IO thread: libzmq refused `frame` (its pipe to the peer is full); it goes first again.
    pub(crate) fn unsend(&self, frame: zmq::Message, len: usize) {
        let mut st = lock(&self.outbound);
        if !st.finished {
            st.len += len;
            st.frames.push_front((frame, len));
        }
    }

    /// IO thread: this peer is over (disconnected, closed by us, overflowed, or socket failure).
    pub(crate) fn finish(&self, read_end: ReadEnd, write_error: Option<io::ErrorKind>) {
        let mut out = lock(&self.outbound);
        out.finished = true;
        if out.write_error.is_none() {
            out.write_error = write_error;
        }
        let unsent = mem::take(&mut out.frames);
        out.len = 0;
        let wakers = [out.waker.take(), out.close_waker.take()];
        drop(out);
        drop(unsent);
        let mut inb = lock(&self.inbound);
        if inb.end.is_none() {
            inb.end = Some(read_end);
        }
        let dropped = if read_end != ReadEnd::Eof {
            // Nobody gets these bytes; free them now.
            inb.discard()
        } else {
            0
        };
        let read_waker = inb.waker.take();
        drop(inb);
        self.io.inbound_total.fetch_sub(dropped, Ordering::Relaxed);
        wakers
            .into_iter()
            .chain([read_waker])
            .flatten()
            .for_each(Waker::wake);
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

/// Copies bytes `start..start + len` of `bufs` (taken as one sequence) into a new frame.
fn frame_from(bufs: &[io::IoSlice<'_>], mut start: usize, len: usize) -> zmq::Message {
    let mut bufs = bufs.iter().map(|b| &b[..]);
    let mut first = bufs.next().unwrap_or_default();
    while start >= first.len() && start > 0 {
        start -= first.len();
        first = bufs.next().unwrap_or_default();
    }
    let first = &first[start..];
    if first.len() >= len {
        return zmq::Message::from(&first[..len]);
    }
    let mut frame = zmq::Message::with_size(len);
    frame[..first.len()].copy_from_slice(first);
    let mut at = first.len();
    for buf in bufs {
        let n = buf.len().min(len - at);
        frame[at..at + n].copy_from_slice(&buf[..n]);
        at += n;
        if at == len {
            break;
        }
    }
    frame
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

    /// Whether a write may go ahead: the error to report, or `Ok(room)`.
    fn writable(st: &Outbound, limit: usize) -> Result<usize, io::Error> {
        if let Some(kind) = st.write_error {
            return Err(io::Error::new(kind, "zmq peer disconnected"));
        }
        if st.close_requested || st.finished {
            return Err(io::Error::new(io::ErrorKind::BrokenPipe, "zmq peer closed"));
        }
        Ok(limit.saturating_sub(st.len))
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
        let limits = &self.peer.io.limits;
        let mut st = lock(&self.peer.outbound);
        let room = match Self::writable(&st, limits.outbound) {
            Err(e) => return Poll::Ready(Err(e)),
            Ok(0) => {
                st.waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            Ok(room) => room,
        };
        let written = room.min(total);
        if written <= COPY_UNDER_LOCK.min(limits.frame) {
            st.frames.push_back((frame_from(bufs, 0, written), written));
            st.len += written;
        } else {
            // Copy outside the lock; only this stream adds frames, so the room stays.
            drop(st);
            let frames: Vec<_> = (0..written)
                .step_by(limits.frame)
                .map(|at| {
                    let len = (written - at).min(limits.frame);
                    (frame_from(bufs, at, len), len)
                })
                .collect();
            st = lock(&self.peer.outbound);
            if let Err(e) = Self::writable(&st, limits.outbound) {
                return Poll::Ready(Err(e));
            }
            st.frames.extend(frames);
            st.len += written;
        }
        drop(st);
        self.peer.io.schedule(&self.peer);
        Poll::Ready(Ok(written))
    }

    fn request_close(&self, cx: Option<&mut Context<'_>>) -> Poll<()> {
        let mut st = lock(&self.peer.outbound);
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
        let mut st = lock(&self.peer.inbound);
        if !st.frames.is_empty() {
            let level = st.level();
            let mut n = 0;
            let mut freed = 0;
            while n < buf.len() {
                let offset = st.offset;
                let Some(front) = st.frames.front() else {
                    break;
                };
                let data: &[u8] = front;
                let left = &data[offset..];
                let k = left.len().min(buf.len() - n);
                buf[n..n + k].copy_from_slice(&left[..k]);
                n += k;
                if k == left.len() {
                    freed += charge(data.len());
                    st.frames.pop_front();
                    st.offset = 0;
                } else {
                    st.offset += k;
                }
            }
            st.charged -= freed;
            let progressed = level - st.level();
            drop(st);
            let io = &self.peer.io;
            io.inbound_total.fetch_sub(freed, Ordering::Relaxed);
            if progressed > 0 && io.receive_paused.load(Ordering::Relaxed) {
                // The IO thread waits for room; it checks whether this read made enough.
                io.wake.signal();
            }
            return Poll::Ready(Ok(n));
        }
        match st.end {
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
                st.waker = Some(cx.waker().clone());
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
        let mut st = lock(&self.peer.inbound);
        st.reader_gone = true;
        let dropped = st.discard();
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
