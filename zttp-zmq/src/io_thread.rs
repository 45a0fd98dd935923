//! The IO thread: the only code that touches the STREAM socket.
//!
//! One loop, in this order: run the tasks of the IO-thread executor that were woken, send for
//! the peers tasks queued (new frames or a close), receive a batch of `[id, frame]` messages
//! and route them, then retry peers whose last send met `EAGAIN`. A batch ends early when a
//! request woke its task, so that the answer is sent before the next receive and one
//! receive per turn meets `EAGAIN` (each costs libzmq a command check: two system calls),
//! not one before the tasks run and another after their sends. The receive that meets
//! `EAGAIN` (or, after retries or an interrupted receive, `ZMQ_EVENTS`) is the last socket
//! call before sleeping (libzmq's `ZMQ_FD` is edge-triggered: any socket call may consume
//! the edge, so the last call must be the check). Sleep in `poll(2)` on `ZMQ_FD` and the wake
//! pipe; or, when tasks run on this thread and nothing but the socket needs watching (no
//! attached socket, no blocked peer, receiving not paused), inside libzmq's blocking receive
//! itself, as a bare STREAM loop does: the receive is then both the last check and the sleep,
//! which saves a `poll(2)` and libzmq's repeated command check (`getpid` + `poll`) per
//! wake-up. Signals from other threads reach that sleep through the wake link
//! ([`crate::wake`]), a loopback connection of the socket's own, and `ZMQ_RCVTIMEO` is the
//! next timer's deadline.
//!
//! A peer blocked by `EAGAIN` is retried after the receive that follows the socket fd firing
//! (libzmq signals it when that peer's pipe drains, and the receive processes that signal).
//! Because one of our own sends can process such a signal after the peer's retry, a safety
//! net also wakes the loop while peers are blocked: after 10 ms, backing off to 160 ms while
//! it finds nothing to do. A closed peer whose queue made no progress for
//! [`PeerLimits::close_stalled`] is aborted (see [`crate::sys::abort_connection`]).
//!
//! Inbound backpressure: when a peer is [`PeerLimits::inbound`] bytes ahead of its handler
//! (or all peers together [`PeerLimits::inbound_total`]), the loop stops receiving. libzmq's
//! per-peer receive queues then fill up to `ZMQ_RCVHWM`, libzmq stops reading those TCP
//! sockets, and the senders are slowed by TCP flow control. Reads by handlers wake the loop;
//! it resumes as soon as there is room. If the handler makes no room for
//! [`PeerLimits::inbound_stall`], that peer is dropped (logged) so the others go on.
//!
//! [`PeerLimits::close_stalled`]: crate::PeerLimits::close_stalled
//! [`PeerLimits::inbound`]: crate::PeerLimits::inbound
//! [`PeerLimits::inbound_total`]: crate::PeerLimits::inbound_total
//! [`PeerLimits::inbound_stall`]: crate::PeerLimits::inbound_stall

use std::collections::{HashMap, HashSet, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::mem;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::io::RawFd;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::channel::mpsc::UnboundedSender;
use futures::channel::oneshot;
use tracing::{debug, warn};

use crate::peer::{IoShared, Outgoing, Peer, PeerStream, ReadEnd, RoutingId, INBOUND_FRAME_CHARGE};
use crate::wake::WAKE_LINK_ID;

/// Messages received per loop turn before sends get another chance.
const RECV_BATCH: usize = 256;
/// Routing ids we closed or saw vanish, remembered so that a late `[id, ""]` is not taken
/// for a new connection.
const CLOSED_MEMORY: usize = 4096;
/// While a peer is blocked, the loop also wakes after this long (doubling up to
/// [`BLOCKED_SAFETY_NET_MAX`] while such wake-ups find nothing to do). libzmq reports a
/// reopened pipe only by a command that makes `ZMQ_FD` fire, and a `send` of ours can process
/// that command itself (libzmq does so at most once a millisecond) after the peer's retry in
/// the same turn: then no event is left to wake the loop for that peer.
const BLOCKED_SAFETY_NET_MIN: Duration = Duration::from_millis(10);
const BLOCKED_SAFETY_NET_MAX: Duration = Duration::from_millis(160);
/// How long after the last aborted peer freed memory is returned to the OS.
const TRIM_DELAY: Duration = Duration::from_millis(500);

/// The shorter of a `poll(2)` timeout in ms (-1: none) and `left`, at least 1 ms.
fn earliest(timeout_ms: i32, left: Duration) -> i32 {
    let left_ms = i32::try_from(left.as_millis()).unwrap_or(i32::MAX).max(1);
    if timeout_ms < 0 {
        left_ms
    } else {
        timeout_ms.min(left_ms)
    }
}

/// The `ZMQ_RCVTIMEO` to set for a receive that may wait `wanted` ms (-1: no limit) while
/// `current` is set, or `None` to keep `current`. The deadline comes nearer with every
/// receive, so setting it exactly would cost a `zmq_setsockopt` per receive: a limit is set
/// 1/8 short of the wait and kept while it is at most the wait and no more than 1/4 short of
/// it (an early wake-up only takes a turn and sets the rest).
fn rcvtimeo_update(current: i32, wanted: i32) -> Option<i32> {
    if wanted < 0 {
        return (current >= 0).then_some(-1);
    }
    let keep = current > 0 && current <= wanted && current >= wanted - wanted / 4;
    (!keep).then(|| (wanted - wanted / 8).max(1))
}

/// Another ZeroMQ socket driven by the IO thread beside its STREAM socket (e.g. a gateway's
/// ROUTER socket, [`IoShared::attach`]): tasks on the IO thread then reach it, and it wakes
/// them, with no cross-thread wake-up.
///
/// The IO thread sleeps on the socket's `ZMQ_FD` and the driver's own wake-up descriptor,
/// and takes a turn when either fired, work is queued ([`has_work`](Self::has_work)) or the
/// deadline of the last turn passed.
pub(crate) trait Attached: Send {
    /// libzmq's `ZMQ_FD` of the socket and the driver's own wake-up descriptor.
    fn fds(&self) -> [RawFd; 2];
    /// Receives, sends and handles what is due. `woken`: the wake-up descriptor fired (read
    /// it away). `ZMQ_FD` is edge-triggered, so a turn MUST end with a call that checks the
    /// socket's events (a receive meeting `EAGAIN`, or `ZMQ_EVENTS`).
    fn turn(&mut self, woken: bool) -> Next;
    /// Work is queued for a turn (commands from tasks).
    fn has_work(&self) -> bool;
    /// The IO thread is about to sleep: re-arm the wake-up; true when work arrived meanwhile.
    fn prepare_sleep(&mut self) -> bool;
    /// The IO thread is ending while the socket is still in use: go on elsewhere (e.g. on a
    /// thread of its own).
    fn detach(self: Box<Self>);
}

/// When an [`Attached`] socket wants its next turn.
pub(crate) enum Next {
    /// At this time, or earlier when its descriptors fire or work is queued.
    At(Instant),
    /// At once (more is waiting).
    Now,
    /// Never: it is finished; the IO thread drops it.
    Done,
}

/// An [`Attached`] socket as the IO thread keeps it.
struct AttachedSocket {
    driver: Box<dyn Attached>,
    fds: [RawFd; 2],
    /// The deadline its last turn asked for.
    next: Option<Instant>,
    /// Its `ZMQ_FD` or wake-up fired in the last sleep.
    fired: bool,
    woken: bool,
}

/// Hashes routing ids. On a STREAM socket libzmq makes them itself (a counter), so no peer
/// can choose one to collide; the gateway's ROUTER keys its workers by them, and a worker
/// may choose its own, but that map holds one entry per connected worker, so collisions
/// cost at most a scan of the workers. A multiply-and-mix hash is enough, at a fraction of
/// SipHash's cost per message.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(word))
                .wrapping_mul(0x517c_c1b7_2722_0a95);
        }
    }

    fn finish(&self) -> u64 {
        // murmur3's finaliser: every input bit reaches the low bits that pick the bucket.
        let mut h = self.0;
        h ^= h >> 33;
        h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
        h ^= h >> 33;
        h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
        h ^ (h >> 33)
    }
}

/// Builds [`IdHasher`]s: maps keyed by routing ids.
pub(crate) type IdBuild = BuildHasherDefault<IdHasher>;

struct Entry {
    peer: Arc<Peer>,
    blocked: bool,
    /// The last time a frame for this peer was handed to libzmq (or it connected).
    last_sent: Instant,
}

/// Receiving is paused until there is room.
struct Pause {
    /// The peer whose handler is behind; `None` when the whole-socket budget is spent.
    peer: Option<Arc<Peer>>,
    /// The level (peer's or total inbound bytes) when last looked at, and since when.
    level: usize,
    since: Instant,
}

/// How a receive batch ended.
enum Received {
    /// `recv` met `EAGAIN`: no message is waiting and `ZMQ_FD` is armed for the next one.
    Drained,
    /// `recv` was interrupted: whether more is waiting is unknown.
    Interrupted,
    /// The batch ended before `EAGAIN` ([`RECV_BATCH`] messages taken, or a request woke its
    /// task, see [`Routed::Woke`]); more may be waiting.
    Unfinished,
    /// A peer's (or the socket's) inbound budget is spent: receiving paused.
    Paused,
}

/// What routing one received message asks of the receive batch.
enum Routed {
    /// Go on receiving.
    More,
    /// A frame shorter than one libzmq read (a request, not the middle of an upload) woke
    /// its reader: end the batch, so that the task answers and the answer is sent before
    /// the next receive. That receive is then the only one of the turn that meets `EAGAIN`
    /// (each such receive costs libzmq's command check, two system calls), instead of one
    /// before the tasks run and one after their sends.
    Woke,
    /// A peer (or the socket) is over its inbound budget: pause receiving.
    Pause,
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
    peers: HashMap<RoutingId, Entry, IdBuild>,
    /// Peers a task queued for sending or closing ([`IoShared::schedule`]).
    ready: Receiver<Arc<Peer>>,
    /// Scratch space for the peers tasks on this thread queued.
    local_ready: Vec<Arc<Peer>>,
    blocked: Vec<Arc<Peer>>,
    closed_set: HashSet<RoutingId, IdBuild>,
    closed_order: VecDeque<RoutingId>,
    paused: Option<Pause>,
    /// Peers were aborted or dropped: give freed memory back to the OS then.
    trim_at: Option<Instant>,
    id_msg: zmq::Message,
    data_msg: zmq::Message,
    /// Other sockets this thread drives ([`Attached`]).
    attached: Vec<AttachedSocket>,
    poll_set: crate::sys::PollSet,
    /// When the current loop turn started: the time a send in it is recorded at (for
    /// [`PeerLimits::close_stalled`](crate::PeerLimits::close_stalled), in seconds), one
    /// clock read per turn rather than per send.
    turn_started: Instant,
    /// The next timer's deadline, as last read from the executor.
    next_timer: Option<Instant>,
    /// The loop's own connection for waking it while it sleeps in a receive.
    wake_link: WakeLink,
    /// The `ZMQ_RCVTIMEO` last set (-1: none).
    receive_timeout_ms: i32,
}

/// The wake link ([`crate::wake`]): the STREAM socket's connection to a loopback listener of
/// the IO thread, whose other end signals wake the loop through while it sleeps in a
/// receive.
enum WakeLink {
    /// Not wanted yet: tasks do not run on the IO thread, so most signals come from other
    /// threads, and one through the link costs more than one through the pipe.
    Unused,
    /// The socket is connecting to this listener.
    Connecting(TcpListener),
    /// Receives may sleep inside libzmq.
    Up,
    /// No link (it failed or closed): the loop sleeps in `poll(2)` only.
    Off,
}

impl StreamIo {
    pub(crate) fn new(
        socket: zmq::Socket,
        io: Arc<IoShared>,
        ready: Receiver<Arc<Peer>>,
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
            peers: HashMap::default(),
            ready,
            local_ready: Vec::new(),
            blocked: Vec::new(),
            closed_set: HashSet::default(),
            closed_order: VecDeque::new(),
            paused: None,
            trim_at: None,
            id_msg: zmq::Message::new(),
            data_msg: zmq::Message::new(),
            attached: Vec::new(),
            poll_set: crate::sys::PollSet::default(),
            turn_started: Instant::now(),
            next_timer: None,
            wake_link: WakeLink::Unused,
            receive_timeout_ms: -1,
        }
    }

    /// Runs until the listener is dropped and every peer is finished, or the socket fails.
    pub(crate) fn run(mut self) {
        self.io.set_io_thread(true);
        // A socket failure has nobody to report to but the peers, which learn of it below.
        let _ = self.run_loop();
        self.io.executor.clear();
        let mut local = Vec::new();
        self.io.take_local_ready(&mut local);
        self.io.set_io_thread(false);
        for peer in local {
            peer.finish(ReadEnd::Failed, Some(io::ErrorKind::ConnectionAborted));
        }
        for (_, entry) in self.peers.drain() {
            entry
                .peer
                .finish(ReadEnd::Failed, Some(io::ErrorKind::ConnectionAborted));
        }
        while let Ok(peer) = self.ready.try_recv() {
            peer.finish(ReadEnd::Failed, Some(io::ErrorKind::ConnectionAborted));
        }
        // Attached sockets outlive this thread: each goes on elsewhere.
        let pending = {
            let mut attachments = crate::peer::lock(&self.io.attachments);
            attachments.closed = true;
            mem::take(&mut attachments.pending)
        };
        for driver in self.attached.drain(..).map(|a| a.driver).chain(pending) {
            driver.detach();
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

    /// The listener is gone and every peer and task is done. (A peer still queued in `ready`
    /// is one the loop already let go: nothing is left to send for it.)
    fn finished(&self) -> bool {
        self.io_stopping()
            && self.peers.is_empty()
            && self.io.live_tasks.load(Ordering::Acquire) == 0
    }

    /// Sends for every peer tasks queued; true when there was one.
    fn flush_ready(&mut self) -> bool {
        let mut any = false;
        // Empty between calls: taking the thread-local list swaps the two vectors.
        let mut local = mem::take(&mut self.local_ready);
        loop {
            self.io.take_local_ready(&mut local);
            if local.is_empty() {
                break;
            }
            any = true;
            for peer in local.drain(..) {
                self.flush_peer(&peer);
            }
        }
        self.local_ready = local;
        if self.io.remote_ready.swap(false, Ordering::SeqCst) {
            while let Ok(peer) = self.ready.try_recv() {
                any = true;
                self.flush_peer(&peer);
            }
        }
        any
    }

    /// Sends for a peer taken off a ready queue.
    fn flush_peer(&mut self, peer: &Arc<Peer>) {
        // Before looking at its buffers: a write from now on queues the peer again.
        peer.scheduled.store(false, Ordering::SeqCst);
        self.flush_and_settle(peer);
    }

    fn run_loop(&mut self) -> io::Result<()> {
        let zmq_fd = self.socket.get_fd()?;
        let mut safety_net = BLOCKED_SAFETY_NET_MIN;
        let mut timed_out = false;
        let mut woken = Vec::new();
        // Tasks are polled in the server's tokio context, entered once it is known (the
        // server sets it after this thread started) and for the rest of the thread's life.
        let io = self.io.clone();
        let mut entered = None;
        self.io.wake.set_awake();
        loop {
            self.turn_started = Instant::now();
            self.next_timer = self.io.executor.fire_timers(self.turn_started);
            if entered.is_none() {
                entered = io.tokio.get().map(|h| h.enter());
            }
            self.io.executor.run_woken(&mut woken);
            self.flush_ready();
            let mut received = if self.still_paused() {
                Received::Paused
            } else {
                self.receive_batch()?
            };
            let attached_again = self.drive_attached();
            if !self.blocked.is_empty() && !matches!(received, Received::Unfinished) {
                // The commands the receive processed may have reopened blocked peers' pipes
                // (libzmq's `activate_write`, which also made `ZMQ_FD` fire).
                let progressed = self.retry_blocked();
                if timed_out {
                    // Woken by the safety net: if it found work, an activation was missed.
                    safety_net = if progressed {
                        BLOCKED_SAFETY_NET_MIN
                    } else {
                        (safety_net * 2).min(BLOCKED_SAFETY_NET_MAX)
                    };
                }
                // The retries' sends may have processed commands too: end on a full check,
                // so that `ZMQ_FD` is armed for whatever comes next.
                let readable = self.socket.get_events()?.contains(zmq::POLLIN);
                if readable && !matches!(received, Received::Paused) {
                    continue;
                }
                if !matches!(received, Received::Paused) {
                    received = Received::Drained;
                }
            }
            timed_out = false;
            if self.finished() {
                return Ok(());
            }
            if self.io.executor.has_woken() || attached_again {
                // Tasks the received bytes (or the sends) woke: run them before sleeping.
                continue;
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
                Received::Unfinished => continue,
                // Messages wait in libzmq; `ZMQ_FD` will not fire for them, so wake up on
                // reads (the wake pipe) or when the stall limit is due.
                Received::Paused => {}
            }
            // While awake, tasks queue work without a system call; re-arm, then look again.
            self.io.wake.prepare_sleep();
            let next_timer = self.io.executor.fire_timers(Instant::now());
            let mut attached_work = false;
            for a in &mut self.attached {
                attached_work |= a.driver.prepare_sleep();
            }
            if attached_work
                || self.flush_ready()
                || self.io.executor.has_woken()
                || self.finished()
                || (self.paused.is_some() && !self.still_paused())
            {
                self.io.wake.set_awake();
                continue;
            }
            let mut timeout = if self.blocked.is_empty() {
                -1
            } else {
                safety_net.as_millis() as i32
            };
            if let Some(pause) = &self.paused {
                let left = self
                    .io
                    .limits
                    .inbound_stall
                    .saturating_sub(pause.since.elapsed());
                timeout = earliest(timeout, left);
            }
            for at in next_timer
                .iter()
                .chain(self.attached.iter().filter_map(|a| a.next.as_ref()))
            {
                timeout = earliest(timeout, at.saturating_duration_since(Instant::now()));
            }
            if let Some(at) = self.trim_at {
                let left = at.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    self.trim_at = None;
                    crate::sys::release_free_memory();
                    continue;
                }
                timeout = earliest(timeout, left);
            }
            let attached_fds = self.attached.iter().flat_map(|a| a.fds);
            self.poll_set
                .watch([zmq_fd, self.io.wake.fd()].into_iter().chain(attached_fds));
            self.poll_set.wait(timeout)?;
            let socket = self.poll_set.readable(0);
            let woken = self.poll_set.readable(1);
            let mut attached_fired = false;
            for (i, a) in self.attached.iter_mut().enumerate() {
                a.fired = self.poll_set.readable(2 + 2 * i);
                a.woken = self.poll_set.readable(3 + 2 * i);
                attached_fired |= a.fired || a.woken;
            }
            timed_out = !socket && !woken && !attached_fired;
            self.io.wake.set_awake();
            if woken {
                self.io.wake.drain_bytes();
            }
        }
    }

    /// Takes a turn for each attached socket that is due; true when one wants another at once.
    fn drive_attached(&mut self) -> bool {
        if self.io.attach_pending.swap(false, Ordering::AcqRel) {
            let pending = mem::take(&mut crate::peer::lock(&self.io.attachments).pending);
            self.attached
                .extend(pending.into_iter().map(|driver| AttachedSocket {
                    fds: driver.fds(),
                    driver,
                    next: None,
                    fired: true,
                    woken: true,
                }));
        }
        if self.attached.is_empty() {
            return false;
        }
        let now = Instant::now();
        let mut again = false;
        let mut i = 0;
        while i < self.attached.len() {
            let a = &mut self.attached[i];
            let due = a.fired || a.woken || a.next.is_some_and(|t| t <= now) || a.driver.has_work();
            if !due {
                i += 1;
                continue;
            }
            a.fired = false;
            let woken = mem::take(&mut a.woken);
            match a.driver.turn(woken) {
                Next::At(t) => a.next = Some(t),
                Next::Now => {
                    a.next = Some(now);
                    again = true;
                }
                Next::Done => {
                    self.attached.swap_remove(i);
                    continue;
                }
            }
            i += 1;
        }
        again
    }

    /// Whether receiving must stay paused; resumes it when there is room, and drops the
    /// peer that made no room for the stall limit.
    fn still_paused(&mut self) -> bool {
        let Some(pause) = &mut self.paused else {
            return false;
        };
        let limits = self.io.limits;
        let total = self.io.inbound_total.load(Ordering::Relaxed);
        let level = match &pause.peer {
            Some(peer) if self.peers.contains_key(&peer.id) && !peer.reader_gone() => {
                let level = peer.inbound_len();
                if level < limits.inbound && total < limits.inbound_total {
                    None
                } else {
                    Some(level)
                }
            }
            Some(_) => (total >= limits.inbound_total).then_some(total),
            None => (total >= limits.inbound_total).then_some(total),
        };
        let Some(level) = level else {
            self.end_pause();
            return false;
        };
        if level < pause.level {
            // The handler read something: it is slow, not stuck.
            pause.since = Instant::now();
        }
        pause.level = level;
        if pause.since.elapsed() < limits.inbound_stall {
            return true;
        }
        let victim = match pause.peer.clone() {
            Some(peer) => Some(peer),
            None => self
                .peers
                .values()
                .map(|e| (e.peer.inbound_len(), &e.peer))
                .max_by_key(|(len, _)| *len)
                .map(|(_, p)| p.clone()),
        };
        if let Some(peer) = victim {
            warn!(
                peer = ?peer.addr,
                buffered = peer.inbound_len(),
                stall = ?limits.inbound_stall,
                "dropping zmq peer: its handler read nothing while its inbound buffer was full"
            );
            self.send_close(&peer.id);
            self.forget(&peer.id);
            peer.finish(ReadEnd::Overflow, Some(io::ErrorKind::ConnectionAborted));
            self.trim_later();
        }
        self.end_pause();
        false
    }

    /// Aborted peers free their queues (here and in libzmq's thread) in a burst; once it is
    /// over, hand the freed memory back instead of keeping it in the allocator's arenas.
    fn trim_later(&mut self) {
        self.trim_at = Some(Instant::now() + TRIM_DELAY);
    }

    fn start_pause(&mut self, peer: Option<Arc<Peer>>, level: usize) {
        debug!(
            peer = ?peer.as_ref().and_then(|p| p.addr),
            buffered = level,
            total = self.io.inbound_total.load(Ordering::Relaxed),
            "zmq receive paused: a handler is behind its peer"
        );
        self.io.receive_paused.store(true, Ordering::SeqCst);
        self.paused = Some(Pause {
            peer,
            level,
            since: Instant::now(),
        });
    }

    fn end_pause(&mut self) {
        if let Some(pause) = self.paused.take() {
            debug!(
                paused_for = ?pause.since.elapsed(),
                "zmq receive resumed"
            );
        }
        self.io.receive_paused.store(false, Ordering::SeqCst);
        // While messages keep coming, `recv` processes libzmq's commands only every 100th
        // call, so the other peers' queues, re-activated meanwhile, would wait behind the
        // throttled one: asking `ZMQ_EVENTS` processes them now.
        let _ = self.socket.get_events();
    }

    /// When the next receive may sleep inside libzmq (as a bare STREAM loop does): its
    /// timeout in ms (-1: none), or `None` to receive without waiting. Only with the wake
    /// link up (signals must reach a thread asleep in libzmq) and nothing else to watch or
    /// do: no attached socket, no blocked peer, receiving not paused, no task woken, no
    /// peer queued. Arms the wake link's signals before the last look for work.
    fn receive_timeout(&mut self) -> Option<i32> {
        match self.wake_link {
            WakeLink::Up => {}
            WakeLink::Unused if self.io.receive_sleep.load(Ordering::Relaxed) => {
                self.start_wake_link();
                return None;
            }
            _ => return None,
        }
        if !self.attached.is_empty()
            || self.paused.is_some()
            || !self.blocked.is_empty()
            || self.trim_at.is_some()
        {
            return None;
        }
        self.io.wake.prepare_receive();
        let mut now = None;
        let mut next_timer = self.next_timer;
        if self.io.executor.timers_changed()
            || next_timer.is_some_and(|at| at <= *now.insert(Instant::now()))
        {
            // A task armed a sleep since the turn began, or one is due: fire and look again.
            let at = *now.get_or_insert_with(Instant::now);
            next_timer = self.io.executor.fire_timers(at);
            self.next_timer = next_timer;
        }
        if self.io.executor.has_woken()
            || self.io.has_local_ready()
            || self.io.remote_ready.load(Ordering::SeqCst)
            || self.io.attach_pending.load(Ordering::SeqCst)
            || self.finished()
        {
            self.io.wake.set_awake();
            return None;
        }
        Some(next_timer.map_or(-1, |at| {
            let now = now.unwrap_or_else(Instant::now);
            earliest(-1, at.saturating_duration_since(now))
        }))
    }

    /// Connects the STREAM socket to a loopback listener of ours, the wake link's other end,
    /// which [`route`](Self::route) picks up from the connect notification. Without it (no
    /// loopback, say) the loop sleeps in `poll(2)` only.
    fn start_wake_link(&mut self) {
        let started = (|| -> io::Result<TcpListener> {
            let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
            listener.set_nonblocking(true)?;
            let addr = listener.local_addr()?;
            crate::sys::set_connect_routing_id(&mut self.socket, WAKE_LINK_ID)?;
            self.socket.connect(&format!("tcp://{addr}"))?;
            Ok(listener)
        })();
        self.wake_link = match started {
            Ok(listener) => WakeLink::Connecting(listener),
            Err(e) => {
                debug!(error = %e, "zmq wake link not set up; the IO thread sleeps in poll(2)");
                WakeLink::Off
            }
        };
    }

    /// A message of the wake link's connection: its connect notification (take our end
    /// from the listener), a wake-up byte (nothing to do), or its disconnect (no more
    /// sleeping in a receive).
    fn wake_link_message(&mut self, len: usize) {
        if len > 0 {
            return;
        }
        self.wake_link = match mem::replace(&mut self.wake_link, WakeLink::Off) {
            WakeLink::Connecting(listener) => {
                // Our end is the accepted connection whose peer is libzmq's end.
                let theirs = self
                    .data_msg
                    .gets("__fd")
                    .and_then(|fd| fd.parse().ok())
                    .and_then(crate::sys::local_name);
                let mut ours = None;
                while let Ok((stream, from)) = listener.accept() {
                    if theirs == Some(from) {
                        ours = Some(stream);
                    }
                }
                match ours.map(|s| self.io.wake.set_link(s)) {
                    Some(Ok(())) => WakeLink::Up,
                    _ => {
                        debug!("zmq wake link not found; the IO thread sleeps in poll(2)");
                        WakeLink::Off
                    }
                }
            }
            _ => {
                debug!("zmq wake link closed; the IO thread sleeps in poll(2)");
                WakeLink::Off
            }
        };
    }

    fn receive_batch(&mut self) -> io::Result<Received> {
        for _ in 0..RECV_BATCH {
            let received = match self.receive_timeout() {
                None => self.socket.recv(&mut self.id_msg, zmq::DONTWAIT),
                Some(ms) => {
                    if let Some(set) = rcvtimeo_update(self.receive_timeout_ms, ms) {
                        self.socket.set_rcvtimeo(set)?;
                        self.receive_timeout_ms = set;
                    }
                    let received = self.socket.recv(&mut self.id_msg, 0);
                    self.io.wake.set_awake();
                    if let Err(zmq::Error::EAGAIN) = received {
                        // Timed out: a timer is due. Take a turn.
                        return Ok(Received::Unfinished);
                    }
                    received
                }
            };
            match received {
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
            match self.route() {
                Routed::More => {}
                Routed::Woke => return Ok(Received::Unfinished),
                Routed::Pause => return Ok(Received::Paused),
            }
        }
        Ok(Received::Unfinished)
    }

    /// Handles one received `[id, frame]`.
    fn route(&mut self) -> Routed {
        let id: &[u8] = &self.id_msg;
        let len = self.data_msg.len();
        if id == WAKE_LINK_ID {
            self.wake_link_message(len);
            return Routed::More;
        }
        if let Some(entry) = self.peers.get(id) {
            let peer = entry.peer.clone();
            if len == 0 {
                // Disconnect notification (also mid-request).
                debug!(peer = ?peer.addr, "zmq peer disconnected");
                self.forget(&peer.id);
                peer.finish(ReadEnd::Eof, Some(io::ErrorKind::ConnectionReset));
                return Routed::More;
            }
            // The frame goes to the stream as libzmq received it; a fresh message takes its place.
            let frame = mem::replace(&mut self.data_msg, zmq::Message::new());
            let (waiting, woke) = peer.push_inbound(frame, len);
            if self.over_budget(Some(peer), waiting) {
                return Routed::Pause;
            }
            // With an attached socket (a gateway), a woken task does not answer inline: it
            // hands the request to that socket, and the answer comes on a later turn. Ending
            // the batch then only adds a command check on both sockets per request.
            return if woke && len < INBOUND_FRAME_CHARGE && self.attached.is_empty() {
                Routed::Woke
            } else {
                Routed::More
            };
        }
        if self.closed_set.contains(id) {
            // Data or a disconnect for a peer we already let go: nobody wants it.
            return Routed::More;
        }
        // Connect notification `[id, ""]`, or data from a peer whose notification we never saw.
        let id = Bytes::copy_from_slice(id);
        let (addr, fd) = peer_address(&mut self.data_msg);
        let peer = Peer::new(id, addr, fd, self.io.clone());
        debug!(peer = ?addr, "zmq peer connected");
        let waiting = if len == 0 {
            0
        } else {
            peer.push_inbound(mem::replace(&mut self.data_msg, zmq::Message::new()), len)
                .0
        };
        self.peers.insert(
            peer.id.clone(),
            Entry {
                peer: peer.clone(),
                blocked: false,
                last_sent: Instant::now(),
            },
        );
        // If nobody accepts any more, the returned stream is dropped, which schedules its close.
        let _ = self.incoming.unbounded_send(PeerStream::new(peer.clone()));
        if self.over_budget(Some(peer), waiting) {
            Routed::Pause
        } else {
            Routed::More
        }
    }

    /// Pauses receiving if `peer` (with `waiting` unread bytes) or the socket is over budget.
    fn over_budget(&mut self, peer: Option<Arc<Peer>>, waiting: usize) -> bool {
        let limits = self.io.limits;
        if waiting >= limits.inbound {
            self.start_pause(peer, waiting);
            return true;
        }
        let total = self.io.inbound_total.load(Ordering::Relaxed);
        if total >= limits.inbound_total {
            self.start_pause(None, total);
            return true;
        }
        false
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

    fn send_close(&mut self, id: &[u8]) {
        if crate::sys::send_bytes(&mut self.socket, id, zmq::SNDMORE | zmq::DONTWAIT).is_ok() {
            let _ = self.socket.send(&[][..], zmq::DONTWAIT);
        }
    }

    /// Flushes a peer and records the outcome; true unless it stays blocked.
    fn flush_and_settle(&mut self, peer: &Arc<Peer>) -> bool {
        let Some(entry) = self.peers.get_mut(&peer.id) else {
            return false;
        };
        let (outcome, sent) = flush(&mut self.socket, peer);
        if sent {
            entry.last_sent = self.turn_started;
        }
        let (read_end, write_error) = match outcome {
            Flush::Idle => {
                entry.blocked = false;
                return true;
            }
            Flush::Blocked => {
                let stalled = entry.last_sent.elapsed();
                if stalled < self.io.limits.close_stalled || !peer.close_requested() {
                    if !entry.blocked {
                        entry.blocked = true;
                        self.blocked.push(peer.clone());
                    }
                    return false;
                }
                // The peer stopped reading and its stream is closed: libzmq cannot take the
                // close frame, so abort the connection to free its queues.
                warn!(
                    peer = ?peer.addr,
                    ?stalled,
                    "aborting zmq peer: it stopped reading and its connection was closed"
                );
                if let Some(fd) = peer.fd {
                    crate::sys::abort_connection(fd, peer.addr);
                }
                self.trim_later();
                (ReadEnd::Eof, io::ErrorKind::TimedOut)
            }
            Flush::Closed => (ReadEnd::Eof, io::ErrorKind::BrokenPipe),
            Flush::Gone => (ReadEnd::Eof, io::ErrorKind::ConnectionReset),
        };
        self.forget(&peer.id);
        peer.finish(read_end, Some(write_error));
        true
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
}

/// Sends the peer's queued frames as they are (and its close, when asked), never blocking;
/// also says whether any data frame went out.
fn flush(socket: &mut zmq::Socket, peer: &Peer) -> (Flush, bool) {
    let mut sent = false;
    loop {
        let outgoing = peer.next_outgoing();
        if let Outgoing::Idle = outgoing {
            return (Flush::Idle, sent);
        }
        // EAGAIN (peer's pipe full, or just closed) and EHOSTUNREACH (unknown id) both
        // surface on the id frame, before anything is committed.
        match crate::sys::send_bytes(socket, &peer.id, zmq::SNDMORE | zmq::DONTWAIT) {
            Ok(()) => {}
            Err(zmq::Error::EAGAIN) | Err(zmq::Error::EINTR) => {
                if let Outgoing::Frame(frame, len, _) = outgoing {
                    peer.unsend(frame, len);
                }
                return (Flush::Blocked, sent);
            }
            Err(_) => return (Flush::Gone, sent),
        }
        let Outgoing::Frame(frame, _, more) = outgoing else {
            let _ = socket.send(&[][..], zmq::DONTWAIT);
            return (Flush::Closed, sent);
        };
        if socket.send(frame, zmq::DONTWAIT).is_err() {
            return (Flush::Gone, sent);
        }
        sent = true;
        if !more {
            // A write queued meanwhile schedules the peer again.
            return (Flush::Idle, sent);
        }
    }
}

/// The TCP peer's address and libzmq's descriptor of its connection, from a received
/// message's metadata: libzmq gives the IP as `Peer-Address` and the descriptor as the private
/// `__fd` property (what `ZMQ_SRCFD` reads), whose `getpeername` adds the port. The IPs must
/// agree: if the descriptor was closed and reused since, both are reported unknown.
fn peer_address(msg: &mut zmq::Message) -> (Option<SocketAddr>, Option<RawFd>) {
    let found = (|| {
        let ip: IpAddr = msg.gets("Peer-Address")?.parse().ok()?;
        let fd: RawFd = msg.gets("__fd")?.parse().ok()?;
        let addr = crate::sys::peer_name(fd)?;
        (addr.ip() == ip).then_some((addr, fd))
    })();
    match found {
        Some((addr, fd)) => (Some(addr), Some(fd)),
        None => (None, None),
    }
}

#[cfg(test)]
mod tests {
    use super::rcvtimeo_update;

    #[test]
    fn receive_timeout_is_set_short_and_kept_while_it_never_oversleeps() {
        assert_eq!(rcvtimeo_update(-1, -1), None);
        assert_eq!(rcvtimeo_update(500, -1), Some(-1));
        assert_eq!(rcvtimeo_update(-1, 800), Some(700));
        // Kept while the deadline comes nearer, until it would oversleep.
        assert_eq!(rcvtimeo_update(700, 790), None);
        assert_eq!(rcvtimeo_update(700, 700), None);
        assert_eq!(rcvtimeo_update(700, 699), Some(612));
        // A later deadline (the near timer fired) is not slept in small steps.
        assert_eq!(rcvtimeo_update(700, 30_000), Some(26_250));
        // Short waits are exact; at least 1 ms.
        assert_eq!(rcvtimeo_update(-1, 3), Some(3));
        assert_eq!(rcvtimeo_update(3, 2), Some(2));
        assert_eq!(rcvtimeo_update(-1, 1), Some(1));
        for current in [-1, 1, 5, 700, 26_250] {
            for wanted in [1, 2, 7, 8, 100, 699, 700, 30_000] {
                let set = rcvtimeo_update(current, wanted).unwrap_or(current);
                assert!(set >= 1 && set <= wanted, "{current} {wanted} -> {set}");
                assert!(set >= wanted - wanted / 4, "{current} {wanted} -> {set}");
            }
        }
    }
}
