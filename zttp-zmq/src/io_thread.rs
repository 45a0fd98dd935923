//! The IO thread: the only code that touches the STREAM socket.
//!
//! One loop, in this order: take the peers tasks scheduled (new bytes or a close) and send for
//! them, retry peers whose last send met `EAGAIN`, receive a batch of `[id, frame]` messages and
//! route them; the receive that meets `EAGAIN` (or, after an interrupted one, `ZMQ_EVENTS`) is
//! the last call before sleeping (libzmq's `ZMQ_FD` is edge-triggered: any socket call may
//! consume the edge, so the last call must be the check). Sleep in `poll(2)` on `ZMQ_FD` and
//! the wake pipe.
//!
//! A peer blocked by `EAGAIN` is retried when the socket fd fires (libzmq signals it when that
//! peer's pipe drains) and, since `ZMQ_EVENTS` may have consumed that signal, also on a short
//! timer (1 ms doubling to 8 ms) while any peer is blocked.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io;
use std::mem;
use std::net::{IpAddr, SocketAddr};
use std::os::unix::io::RawFd;
use std::sync::Arc;

use bytes::{Buf, Bytes};
use futures::channel::mpsc::UnboundedSender;
use futures::channel::oneshot;

use crate::peer::{lock, unschedule, IoShared, Peer, PeerStream, ReadEnd, RoutingId};

/// Messages received per loop turn before sends get another chance.
const RECV_BATCH: usize = 256;
/// Routing ids we closed or saw vanish, remembered so that a late `[id, ""]` is not taken
/// for a new connection.
const CLOSED_MEMORY: usize = 4096;
const MAX_BLOCKED_BACKOFF_MS: i32 = 8;

struct Entry {
    peer: Arc<Peer>,
    blocked: bool,
}

/// How a receive batch ended.
enum Received {
    /// `recv` met `EAGAIN`: no message is waiting and `ZMQ_FD` is armed for the next one.
    Drained,
    /// `recv` was interrupted: whether more is waiting is unknown.
    Interrupted,
    /// [`RECV_BATCH`] messages were taken; more may be waiting.
    Full,
}

enum Flush {
    Idle,
    Blocked,
    Closed,
    Gone,
}

pub(crate) struct StreamIo {
    pub(crate) socket: zmq::Socket,
    pub(crate) io: Arc<IoShared>,
    pub(crate) incoming: UnboundedSender<PeerStream>,
    /// The bound endpoint, unbound when the thread ends, and who waits for that.
    endpoint: String,
    unbound: Option<oneshot::Sender<()>>,
    peers: HashMap<RoutingId, Entry>,
    blocked: Vec<Arc<Peer>>,
    closed_set: HashSet<RoutingId>,
    closed_order: VecDeque<RoutingId>,
    id_msg: zmq::Message,
    data_msg: zmq::Message,
}

impl StreamIo {
    pub(crate) fn new(
        socket: zmq::Socket,
        io: Arc<IoShared>,
        incoming: UnboundedSender<PeerStream>,
        endpoint: String,
        unbound: oneshot::Sender<()>,
    ) -> Self {
        StreamIo {
            socket,
            io,
            incoming,
            endpoint,
            unbound: Some(unbound),
            peers: HashMap::new(),
            blocked: Vec::new(),
            closed_set: HashSet::new(),
            closed_order: VecDeque::new(),
            id_msg: zmq::Message::new(),
            data_msg: zmq::Message::new(),
        }
    }

    /// Runs until the listener is dropped and every peer is finished, or the socket fails.
    pub(crate) fn run(mut self) {
        // A socket failure has nobody to report to but the peers, which learn of it below.
        let _ = self.run_loop();
        for (_, entry) in self.peers.drain() {
            entry
                .peer
                .finish(ReadEnd::Failed, Some(io::ErrorKind::ConnectionAborted));
        }
        for peer in mem::take(&mut *lock(&self.io.ready)) {
            peer.finish(ReadEnd::Failed, Some(io::ErrorKind::ConnectionAborted));
        }
        let _ = self.socket.set_linger(1000);
        let _ = self.socket.unbind(&self.endpoint);
        let StreamIo {
            socket, unbound, ..
        } = self;
        drop(socket);
        if let Some(tx) = unbound {
            let _ = tx.send(());
        }
    }

    fn io_stopping(&self) -> bool {
        crate::peer::is_stopping(&self.io)
    }

    fn run_loop(&mut self) -> io::Result<()> {
        let zmq_fd = self.socket.get_fd()?;
        let mut backoff_ms = 1;
        self.io.wake.set_awake();
        loop {
            let ready = mem::take(&mut *lock(&self.io.ready));
            for peer in ready {
                unschedule(&peer);
                self.flush_and_settle(&peer);
            }
            if self.retry_blocked() {
                backoff_ms = 1;
            }
            let received = self.receive_batch()?;
            if self.io_stopping() && self.peers.is_empty() && lock(&self.io.ready).is_empty() {
                return Ok(());
            }
            match received {
                // A non-blocking `recv` that met `EAGAIN` has just drained the socket's command
                // mailbox, so it is the last-call check itself: the next command re-arms
                // `ZMQ_FD`. Asking `ZMQ_EVENTS` again would cost one more system call.
                Received::Drained => {}
                Received::Interrupted => {
                    if self.socket.get_events()?.contains(zmq::POLLIN) {
                        continue;
                    }
                }
                Received::Full => continue,
            }
            // While awake, tasks queue work without a system call; re-arm, then look again.
            self.io.wake.prepare_sleep();
            if !lock(&self.io.ready).is_empty() || (self.io_stopping() && self.peers.is_empty()) {
                self.io.wake.set_awake();
                continue;
            }
            let timeout = if self.blocked.is_empty() {
                -1
            } else {
                let t = backoff_ms;
                backoff_ms = (backoff_ms * 2).min(MAX_BLOCKED_BACKOFF_MS);
                t
            };
            let [_, woken] = crate::sys::poll_readable([zmq_fd, self.io.wake.fd()], timeout)?;
            self.io.wake.set_awake();
            if woken {
                self.io.wake.drain_bytes();
            }
        }
    }

    fn receive_batch(&mut self) -> io::Result<Received> {
        for _ in 0..RECV_BATCH {
            match self.socket.recv(&mut self.id_msg, zmq::DONTWAIT) {
                Ok(()) => {}
                Err(zmq::Error::EAGAIN) => return Ok(Received::Drained),
                Err(zmq::Error::EINTR) => return Ok(Received::Interrupted),
                Err(e) => return Err(e.into()),
            }
            if !self.id_msg.get_more() {
                continue;
            }
            self.socket.recv(&mut self.data_msg, 0)?;
            while self.data_msg.get_more() {
                // STREAM messages are exactly [id, frame]; skip anything longer.
                self.socket.recv(&mut self.data_msg, 0)?;
            }
            self.route();
        }
        Ok(Received::Full)
    }

    /// Handles one received `[id, frame]`.
    fn route(&mut self) {
        let id: &[u8] = &self.id_msg;
        let frame: &[u8] = &self.data_msg;
        if let Some(entry) = self.peers.get(id) {
            if frame.is_empty() {
                // Disconnect notification (also mid-request).
                let peer = entry.peer.clone();
                self.forget(&peer.id);
                peer.finish(ReadEnd::Eof, Some(io::ErrorKind::ConnectionReset));
            } else if !entry.peer.push_inbound(frame) {
                let peer = entry.peer.clone();
                self.send_close(&peer.id);
                self.forget(&peer.id);
                peer.finish(ReadEnd::Overflow, Some(io::ErrorKind::ConnectionAborted));
            }
            return;
        }
        if self.closed_set.contains(id) {
            // Data or a disconnect for a peer we already let go: nobody wants it.
            return;
        }
        // Connect notification `[id, ""]`, or data from a peer whose notification we never saw.
        let id = Bytes::copy_from_slice(id);
        let addr = peer_address(&mut self.data_msg);
        let frame: &[u8] = &self.data_msg;
        let peer = Peer::new(id, addr, self.io.clone());
        if !frame.is_empty() {
            peer.push_inbound(frame);
        }
        self.peers.insert(
            peer.id.clone(),
            Entry {
                peer: peer.clone(),
                blocked: false,
            },
        );
        // If nobody accepts any more, the returned stream is dropped, which schedules its close.
        let _ = self.incoming.unbounded_send(PeerStream::new(peer));
    }

    fn forget(&mut self, id: &RoutingId) {
        if let Some(entry) = self.peers.remove(id) {
            if entry.blocked {
                self.blocked.retain(|p| !Arc::ptr_eq(p, &entry.peer));
            }
        }
        if self.closed_set.insert(id.clone()) {
            self.closed_order.push_back(id.clone());
            if self.closed_order.len() > CLOSED_MEMORY {
                if let Some(old) = self.closed_order.pop_front() {
                    self.closed_set.remove(&old);
                }
            }
        }
    }

    fn send_close(&self, id: &[u8]) {
        if self.socket.send(id, zmq::SNDMORE | zmq::DONTWAIT).is_ok() {
            let _ = self.socket.send(&[][..], zmq::DONTWAIT);
        }
    }

    /// Flushes a peer and records the outcome.
    fn flush_and_settle(&mut self, peer: &Arc<Peer>) -> bool {
        if !self.peers.contains_key(&peer.id) {
            return false;
        }
        match self.flush(peer) {
            Flush::Idle => {
                if let Some(e) = self.peers.get_mut(&peer.id) {
                    e.blocked = false;
                }
                true
            }
            Flush::Blocked => {
                if let Some(e) = self.peers.get_mut(&peer.id) {
                    if !e.blocked {
                        e.blocked = true;
                        self.blocked.push(peer.clone());
                    }
                }
                false
            }
            Flush::Closed => {
                self.forget(&peer.id);
                peer.finish(ReadEnd::Eof, Some(io::ErrorKind::BrokenPipe));
                true
            }
            Flush::Gone => {
                self.forget(&peer.id);
                peer.finish(ReadEnd::Eof, Some(io::ErrorKind::ConnectionReset));
                true
            }
        }
    }

    /// Retries peers that met `EAGAIN`; true when any made progress.
    fn retry_blocked(&mut self) -> bool {
        if self.blocked.is_empty() {
            return false;
        }
        let mut progressed = false;
        for peer in mem::take(&mut self.blocked) {
            if let Some(e) = self.peers.get_mut(&peer.id) {
                e.blocked = false;
            }
            progressed |= self.flush_and_settle(&peer);
        }
        progressed
    }

    /// Sends the peer's queued bytes (and its close, when asked), never blocking.
    fn flush(&self, peer: &Peer) -> Flush {
        let frame_limit = self.io.limits.frame;
        loop {
            let (has_data, close) = {
                let st = peer.lock();
                (!st.outbound.is_empty(), st.close_requested)
            };
            if !has_data && !close {
                return Flush::Idle;
            }
            // EAGAIN (peer's pipe full, or just closed) and EHOSTUNREACH (unknown id) both
            // surface on the id frame, before anything is committed.
            match self.socket.send(&peer.id[..], zmq::SNDMORE | zmq::DONTWAIT) {
                Ok(()) => {}
                Err(zmq::Error::EAGAIN) | Err(zmq::Error::EINTR) => return Flush::Blocked,
                Err(_) => return Flush::Gone,
            }
            if !has_data {
                let _ = self.socket.send(&[][..], zmq::DONTWAIT);
                return Flush::Closed;
            }
            let (msg, waker) = {
                let mut st = peer.lock();
                let n = st.outbound.len().min(frame_limit);
                let msg = zmq::Message::from(&st.outbound[..n]);
                st.outbound.advance(n);
                (msg, st.write_waker.take())
            };
            if let Some(w) = waker {
                w.wake();
            }
            if self.socket.send(msg, zmq::DONTWAIT).is_err() {
                return Flush::Gone;
            }
        }
    }
}

/// The TCP peer's address from a received message's metadata: libzmq gives the IP as
/// `Peer-Address` and the connection's descriptor as the private `__fd` property (what
/// `ZMQ_SRCFD` reads), whose `getpeername` adds the port. The IPs must agree: if the
/// descriptor was closed and reused since, the address is reported unknown.
fn peer_address(msg: &mut zmq::Message) -> Option<SocketAddr> {
    let ip: IpAddr = msg.gets("Peer-Address")?.parse().ok()?;
    let fd: RawFd = msg.gets("__fd")?.parse().ok()?;
    let addr = crate::sys::peer_name(fd)?;
    (addr.ip() == ip).then_some(addr)
}
