//! The gateway's IO thread: owns the ROUTER socket, moves messages between workers and
//! exchanges, and carries out what the [`WorkerPool`] decides.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;

use super::exchange::{End, Exchange, IdMap};
use super::forward::Command;
use super::gateway::{GatewayConfig, Shared, StatsCells};
use super::pool::{Expired, PoolConfig, Rejected, WorkerPool};
use super::protocol::{self as proto, Frames};
use super::wire;
use crate::io_thread::{Attached, IdBuild, Next};
use crate::peer::IoShared;

/// Request-body bytes the gateway keeps to replay on another worker if the first one dies.
const REPLAY_BUDGET: usize = 64 << 10;
/// Dispatches per request at most (the first one and two re-dispatches).
const MAX_ATTEMPTS: u32 = 3;
/// Messages received per turn before commands get another chance.
const RECV_BATCH: usize = 256;

type WorkerId = Bytes;

/// The IO thread's view of one exchange.
struct Entry {
    exchange: Arc<Exchange>,
    /// The request's `HEAD` message, kept until answered in case it must be re-dispatched.
    head: Vec<u8>,
    answered: bool,
    /// Request-body chunks not yet sent (no worker yet), or all sent so far (for a replay).
    held: Vec<Bytes>,
    held_bytes: usize,
    /// `held` has every chunk sent so far, and the worker acknowledged none: a replay is safe.
    replayable: bool,
    /// The request body's `END` was seen (for a body that is held, it is replayed too).
    body_ended: bool,
    /// The request has no body at all (flag `2`).
    no_body: bool,
    /// The worker's `CONTINUE` was passed on (only the first one opens the window).
    continued: bool,
}

pub(crate) struct GatewayIo {
    socket: zmq::Socket,
    shared: Arc<Shared>,
    config: GatewayConfig,
    pool: WorkerPool<WorkerId>,
    exchanges: IdMap<Entry>,
    /// Per worker: messages that met `EAGAIN`, sent in order before anything new.
    backlogs: HashMap<WorkerId, VecDeque<Frames>, IdBuild>,
    commands: Vec<Command>,
    receiver: wire::Receiver,
    expired: Vec<Expired<WorkerId>>,
    /// Field names of earlier response heads.
    names: proto::NameCache,
    /// A STREAM IO thread asked to drive this socket.
    move_to: Option<Arc<IoShared>>,
}

/// What a [`GatewayIo::turn`] leaves to do.
enum Turn {
    Sleep(Instant),
    Again,
    Stop,
    Move(Arc<IoShared>),
}

impl GatewayIo {
    pub(crate) fn new(socket: zmq::Socket, shared: Arc<Shared>, config: GatewayConfig) -> Self {
        let pool_config = PoolConfig {
            heartbeat_interval: config.heartbeat_interval,
            heartbeat_timeout: config.heartbeat_timeout,
            queue_timeout: config.queue_timeout,
            no_worker_timeout: config.no_worker_timeout,
            request_timeout: config.request_timeout,
            body_stall_timeout: config.body_stall_timeout,
            max_queued: config.max_queued,
            max_attempts: MAX_ATTEMPTS,
        };
        GatewayIo {
            socket,
            shared,
            config,
            pool: WorkerPool::new(pool_config, Instant::now()),
            exchanges: IdMap::default(),
            backlogs: HashMap::default(),
            commands: Vec::new(),
            receiver: wire::Receiver::new(),
            expired: Vec::new(),
            names: proto::NameCache::default(),
            move_to: None,
        }
    }

    /// Runs on a thread of its own until the gateway is dropped (or its socket fails), or
    /// until it moves onto a STREAM IO thread ([`Command::MoveTo`]).
    pub(crate) fn run(mut self) {
        loop {
            match self.run_loop() {
                Ok(Some(io)) => match io.attach(self) {
                    Ok(()) => return,
                    // That IO thread has ended: stay here.
                    Err(back) => self = back,
                },
                Ok(None) => break,
                Err(e) => {
                    tracing::error!(error = %e, "zttp-zmq gateway: IO thread failed");
                    break;
                }
            }
        }
        self.fail_all();
    }

    /// Fails every exchange (the gateway stops).
    fn fail_all(&mut self) {
        for (_, entry) in self.exchanges.drain() {
            entry.exchange.fail(StatusCode::SERVICE_UNAVAILABLE);
        }
        self.shared.outbox.take_into(&mut self.commands);
        for command in self.commands.drain(..) {
            if let Command::Start(exchange, _) = command {
                exchange.fail(StatusCode::SERVICE_UNAVAILABLE);
            }
        }
    }

    /// The loop of a thread of its own; `Some` when the socket is to move to that IO thread.
    fn run_loop(&mut self) -> io::Result<Option<Arc<IoShared>>> {
        let mut signalled = true;
        loop {
            self.shared.outbox.begin_turn(signalled);
            signalled = false;
            let deadline = match self.turn()? {
                Turn::Stop => return Ok(None),
                Turn::Move(io) => return Ok(Some(io)),
                Turn::Again => continue,
                Turn::Sleep(deadline) => deadline,
            };
            if self.shared.outbox.prepare_sleep() || self.shared.outbox.is_stopping() {
                continue;
            }
            signalled = wire::wait(&self.socket, self.shared.outbox.wake.fd(), deadline)?;
        }
    }

    /// One turn: commands from tasks, what is due, dispatch, then receive until `EAGAIN`
    /// (the last socket call, as an [`Attached`] turn must end).
    fn turn(&mut self) -> io::Result<Turn> {
        if self.shared.outbox.is_stopping() {
            return Ok(Turn::Stop);
        }
        let now = Instant::now();
        self.shared.outbox.take_into(&mut self.commands);
        let mut commands = std::mem::take(&mut self.commands);
        for command in commands.drain(..) {
            self.command(command, now);
        }
        self.commands = commands;
        if let Some(io) = self.move_to.take() {
            return Ok(Turn::Move(io));
        }
        // Every turn, not only on heartbeats: whatever is due is handled now, so the next
        // timeout is in the future and the thread sleeps.
        if now >= self.pool.poll_timeout() {
            self.expire(now);
        }
        self.dispatch(now);
        let blocked = self.flush_backlogs();
        let mut received = 0;
        loop {
            while self.receiver.recv(&self.socket)? {
                let frames = std::mem::take(&mut self.receiver.frames);
                self.message(&frames, now);
                self.receiver.frames = frames;
                received += 1;
                if received == RECV_BATCH {
                    self.dispatch(now);
                    self.publish_stats();
                    return Ok(Turn::Again);
                }
            }
            // Answers freed capacity: hand out queued requests, then receive again so the
            // turn ends on a receive.
            if !self.dispatch(now) {
                break;
            }
        }
        self.publish_stats();
        let mut deadline = self.pool.poll_timeout();
        if blocked {
            deadline = deadline.min(Instant::now() + Duration::from_millis(1));
        }
        Ok(Turn::Sleep(deadline))
    }

    fn publish_stats(&self) {
        let s = &self.shared.stats;
        s.workers.store(self.pool.worker_count(), Ordering::Relaxed);
        s.in_flight.store(self.pool.in_flight(), Ordering::Relaxed);
        s.queued.store(self.pool.queued(), Ordering::Relaxed);
    }

    fn command(&mut self, command: Command, now: Instant) {
        match command {
            Command::Start(exchange, head) => {
                let id = exchange.id;
                let mut submitted = self.pool.job_submit(id, now);
                if submitted.is_err() {
                    // Commands come in batches: free capacity may not be handed out yet.
                    self.dispatch(now);
                    submitted = self.pool.job_submit(id, now);
                }
                if let Err(Rejected::QueueFull) = submitted {
                    StatsCells::count(&self.shared.stats.unavailable);
                    tracing::debug!(id, "zttp-zmq gateway: queue full, answering 503");
                    exchange.fail(StatusCode::SERVICE_UNAVAILABLE);
                    return;
                }
                let no_body = proto::request_flags(&head) & proto::FLAG_NO_BODY != 0;
                self.exchanges.insert(
                    id,
                    Entry {
                        exchange,
                        head,
                        answered: false,
                        held: Vec::new(),
                        held_bytes: 0,
                        replayable: true,
                        body_ended: no_body,
                        no_body,
                        continued: false,
                    },
                );
            }
            Command::Body(id, chunk) => self.request_body(id, Some(chunk), now),
            Command::End(id) => self.request_body(id, None, now),
            Command::Ack(id, n) => {
                if let Some(w) = self.pool.job_worker(id).cloned() {
                    self.send(&w, proto::ack(id, n));
                }
            }
            Command::MoveTo(io) => self.move_to = Some(io),
            Command::Cancel(id) => {
                if let Some(entry) = self.exchanges.remove(&id) {
                    entry.exchange.fail(StatusCode::SERVICE_UNAVAILABLE);
                    let worker = self.pool.job_worker(id).cloned();
                    self.pool.job_done(id);
                    if let Some(w) = worker {
                        self.send(&w, proto::simple(proto::ABORT, id));
                    }
                }
            }
        }
    }

    /// A request-body chunk (or its end, `None`) from the client side.
    fn request_body(&mut self, id: u64, chunk: Option<Bytes>, now: Instant) {
        let worker = self.pool.job_worker(id).cloned();
        let Some(entry) = self.exchanges.get_mut(&id) else {
            return;
        };
        let len = chunk.as_ref().map_or(0, Bytes::len);
        if chunk.is_none() {
            entry.body_ended = true;
        }
        let Some(w) = worker else {
            // Not dispatched yet: hold it (bounded by the window the task respects).
            if let Some(chunk) = chunk {
                entry.held_bytes += len;
                entry.held.push(chunk);
                if entry.held_bytes > REPLAY_BUDGET {
                    entry.replayable = false;
                }
            }
            return;
        };
        if entry.replayable {
            if entry.held_bytes + len <= REPLAY_BUDGET {
                if let Some(chunk) = &chunk {
                    entry.held_bytes += len;
                    entry.held.push(chunk.clone());
                }
            } else {
                entry.replayable = false;
                entry.held = Vec::new();
            }
        }
        let message = match chunk {
            Some(chunk) => proto::body(id, chunk),
            None => proto::simple(proto::END, id),
        };
        self.pool.job_body_sent(id, len as u64, now);
        self.send(&w, message);
    }

    fn message(&mut self, frames: &[Bytes], now: Instant) {
        let [identity, first, rest @ ..] = frames else {
            return;
        };
        let Some((kind, id)) = proto::parse_control(first) else {
            return;
        };
        if kind == proto::HELLO {
            self.hello(identity, rest, now);
            return;
        }
        if !self.pool.worker_heard(identity, now) {
            // It restarted us, or we declared it dead: it must join again.
            let _ = wire::send(
                &mut self.socket,
                Some(identity),
                &proto::simple(proto::UNKNOWN, 0),
            );
            return;
        }
        match kind {
            proto::READY => {
                self.pool.worker_capacity(identity, capacity_of(id));
                return;
            }
            proto::HEAD
            | proto::RESPONSE
            | proto::BODY
            | proto::END
            | proto::ABORT
            | proto::ACK
            | proto::CONTINUE => {}
            _ => return,
        }
        if self.pool.job_worker(id) != Some(identity) {
            return; // a late message for a cancelled, timed-out or re-dispatched exchange
        }
        let Some(entry) = self.exchanges.get_mut(&id) else {
            return;
        };
        match kind {
            proto::HEAD => {
                match proto::parse_response_head(&proto::payload(first), &mut self.names) {
                    Some(head) => {
                        let complete = head.body_len == Some(0);
                        entry.answered = true;
                        entry.held = Vec::new();
                        entry.head = Vec::new();
                        if complete {
                            entry.exchange.complete(head, Bytes::new());
                            self.finish(id);
                        } else {
                            entry.exchange.set_head(head);
                            self.pool.job_answered(id);
                        }
                    }
                    None => self.malformed(identity, id),
                }
            }
            proto::RESPONSE => {
                match proto::parse_full_response(&proto::payload(first), &mut self.names) {
                    Some((head, body)) => {
                        entry.exchange.complete(head, body);
                        self.finish(id);
                    }
                    None => self.malformed(identity, id),
                }
            }
            proto::BODY => {
                if let Some(chunk) = rest.first() {
                    entry.exchange.push_chunk(chunk.clone());
                }
            }
            proto::END => {
                entry.exchange.end(End::Complete);
                self.finish(id);
            }
            proto::ABORT => {
                StatsCells::count(&self.shared.stats.failed);
                entry.exchange.fail(StatusCode::BAD_GATEWAY);
                self.finish(id);
            }
            proto::ACK => {
                if let Some(n) = rest.first().and_then(|f| proto::parse_u64(f)) {
                    if n > 0 {
                        entry.replayable = false;
                        entry.held = Vec::new();
                        entry.exchange.add_credit(n);
                        self.pool.job_body_acked(id, n, now);
                    }
                }
            }
            proto::CONTINUE if !entry.continued => {
                entry.continued = true;
                entry.exchange.open_window();
            }
            _ => {}
        }
    }

    fn hello(&mut self, identity: &Bytes, rest: &[Bytes], now: Instant) {
        let (version, capacity) = proto::parse_hello(rest);
        let reply = match (version, capacity) {
            (Some(proto::VERSION), Some(capacity)) => {
                if self.pool.worker_joined(identity.clone(), capacity, now) {
                    StatsCells::count(&self.shared.stats.joined);
                    tracing::info!(capacity, "zttp-zmq gateway: worker joined");
                }
                let ms = |d: Duration| d.as_millis().min(u32::MAX as u128) as u32;
                proto::welcome(
                    ms(self.config.heartbeat_interval),
                    ms(self.config.heartbeat_timeout),
                )
            }
            (version, _) => {
                StatsCells::count(&self.shared.stats.refused);
                let reason = match version {
                    Some(v) => format!(
                        "protocol version {v} is not supported; this gateway speaks version {}",
                        proto::VERSION
                    ),
                    None => "malformed HELLO".to_string(),
                };
                tracing::warn!(%reason, "zttp-zmq gateway: worker refused");
                proto::refuse(&reason)
            }
        };
        let _ = wire::send(&mut self.socket, Some(identity), &reply);
    }

    /// The worker sent a malformed response: `502`, and the exchange is cancelled there.
    fn malformed(&mut self, worker: &WorkerId, id: u64) {
        if let Some(entry) = self.exchanges.get(&id) {
            StatsCells::count(&self.shared.stats.failed);
            entry.exchange.fail(StatusCode::BAD_GATEWAY);
        }
        self.finish(id);
        let worker = worker.clone();
        self.send(&worker, proto::simple(proto::ABORT, id));
    }

    /// The exchange is over: forget it and free its worker's capacity.
    fn finish(&mut self, id: u64) {
        self.exchanges.remove(&id);
        self.pool.job_done(id);
    }

    fn expire(&mut self, now: Instant) {
        let mut expired = std::mem::take(&mut self.expired);
        self.pool.handle_timeout(now, &mut expired);
        for event in expired.drain(..) {
            match event {
                Expired::Heartbeat => {
                    let workers: Vec<WorkerId> = self.pool.workers().cloned().collect();
                    for w in workers {
                        self.send(&w, proto::simple(proto::PING, 0));
                    }
                }
                Expired::WorkerDead(w, orphans) => {
                    tracing::warn!(
                        in_flight = orphans.len(),
                        "zttp-zmq gateway: worker silent past the heartbeat timeout"
                    );
                    self.orphaned(&w, orphans, now);
                }
                Expired::Queued(id) => {
                    if let Some(entry) = self.exchanges.remove(&id) {
                        StatsCells::count(&self.shared.stats.unavailable);
                        entry.exchange.fail(StatusCode::SERVICE_UNAVAILABLE);
                    }
                }
                Expired::TimedOut(id, w) => {
                    if let Some(entry) = self.exchanges.remove(&id) {
                        StatsCells::count(&self.shared.stats.timed_out);
                        tracing::debug!(id, "zttp-zmq gateway: request timed out, answering 504");
                        entry.exchange.fail(StatusCode::GATEWAY_TIMEOUT);
                    }
                    self.send(&w, proto::simple(proto::ABORT, id));
                }
            }
        }
        self.expired = expired;
    }

    /// A worker is gone: re-dispatch what can be replayed, fail the rest.
    fn worker_lost(&mut self, w: &WorkerId, now: Instant) {
        let orphans = self.pool.worker_lost(w);
        self.orphaned(w, orphans, now);
    }

    fn orphaned(&mut self, w: &WorkerId, orphans: Vec<u64>, now: Instant) {
        StatsCells::count(&self.shared.stats.lost);
        self.backlogs.remove(w);
        for id in orphans {
            let Some(entry) = self.exchanges.get_mut(&id) else {
                self.pool.job_done(id);
                continue;
            };
            if !entry.answered && entry.replayable && self.pool.job_retry(id, now) {
                StatsCells::count(&self.shared.stats.retried);
                if entry.continued {
                    // The body is flowing already: the next worker gets it without asking.
                    proto::clear_request_flag(&mut entry.head, proto::FLAG_CONTINUE);
                }
                continue;
            }
            if !entry.answered {
                StatsCells::count(&self.shared.stats.failed);
            }
            entry.exchange.fail(StatusCode::BAD_GATEWAY);
            self.exchanges.remove(&id);
            self.pool.job_done(id);
        }
    }

    /// Hands queued requests to workers: the head, then the body held so far. True when it
    /// handed out any.
    fn dispatch(&mut self, now: Instant) -> bool {
        let mut any = false;
        while let Some((id, w)) = self.pool.poll_dispatch(now) {
            any = true;
            let Some(entry) = self.exchanges.get_mut(&id) else {
                self.pool.job_done(id);
                continue;
            };
            let held = if entry.replayable {
                entry.held.clone()
            } else {
                std::mem::take(&mut entry.held)
            };
            let end = entry.body_ended && !entry.no_body;
            let sent: usize = held.iter().map(Bytes::len).sum();
            self.pool.job_body_sent(id, sent as u64, now);
            // The head goes out straight from the entry (which keeps it for a re-dispatch);
            // without body the request is this one frame.
            let mut reached = deliver(&mut self.socket, &mut self.backlogs, &w, &[&entry.head]);
            for chunk in held {
                let control = proto::control_bytes(proto::BODY, id);
                reached = reached.and_then(|()| {
                    deliver(
                        &mut self.socket,
                        &mut self.backlogs,
                        &w,
                        &[&control[..], &chunk],
                    )
                });
            }
            if end {
                let control = proto::control_bytes(proto::END, id);
                reached = reached
                    .and_then(|()| deliver(&mut self.socket, &mut self.backlogs, &w, &[&control]));
            }
            if reached.is_err() {
                self.unreachable(&w);
            }
        }
        any
    }

    /// Sends (or queues behind earlier blocked messages) one message to a worker.
    fn send(&mut self, worker: &WorkerId, frames: Frames) {
        self.send_parts(worker, &frames);
    }

    /// [`send`](Self::send) of borrowed frames, copied only if the message must wait.
    fn send_parts<F: AsRef<[u8]>>(&mut self, worker: &WorkerId, frames: &[F]) {
        if deliver(&mut self.socket, &mut self.backlogs, worker, frames).is_err() {
            self.unreachable(worker);
        }
    }

    /// A send found the worker unreachable.
    fn unreachable(&mut self, worker: &WorkerId) {
        tracing::warn!("zttp-zmq gateway: worker unreachable");
        self.worker_lost(worker, Instant::now());
    }

    /// Retries blocked messages; true if some remain blocked.
    fn flush_backlogs(&mut self) -> bool {
        if self.backlogs.is_empty() {
            return false;
        }
        let mut lost = Vec::new();
        for (w, backlog) in self.backlogs.iter_mut() {
            while let Some(frames) = backlog.front() {
                match wire::send(&mut self.socket, Some(w), frames) {
                    Ok(true) => {
                        backlog.pop_front();
                    }
                    Ok(false) => break,
                    Err(_) => {
                        lost.push(w.clone());
                        break;
                    }
                }
            }
        }
        self.backlogs.retain(|_, b| !b.is_empty());
        for w in lost {
            self.worker_lost(&w, Instant::now());
        }
        !self.backlogs.is_empty()
    }
}

/// Driven by a STREAM IO thread ([`Gateway::share_io_thread`](super::Gateway::share_io_thread)):
/// the front's tasks and this socket share one thread.
impl Attached for GatewayIo {
    fn fds(&self) -> [std::os::unix::io::RawFd; 2] {
        // `ZMQ_FD` of a live socket does not fail; -1 is ignored by poll(2).
        [
            self.socket.get_fd().unwrap_or(-1),
            self.shared.outbox.wake.fd(),
        ]
    }

    fn turn(&mut self, woken: bool) -> Next {
        self.shared.outbox.begin_turn(woken);
        match self.turn() {
            Ok(Turn::Sleep(deadline)) => Next::At(deadline),
            // Already on an IO thread: a second move is ignored.
            Ok(Turn::Again | Turn::Move(_)) => Next::Now,
            Ok(Turn::Stop) => {
                self.fail_all();
                Next::Done
            }
            Err(e) => {
                tracing::error!(error = %e, "zttp-zmq gateway: socket failed");
                self.fail_all();
                Next::Done
            }
        }
    }

    fn has_work(&self) -> bool {
        self.shared.outbox.has_work()
    }

    fn prepare_sleep(&mut self) -> bool {
        self.shared.outbox.prepare_sleep() || self.shared.outbox.is_stopping()
    }

    fn detach(self: Box<Self>) {
        let io = *self;
        let spawned = std::thread::Builder::new()
            .name("zttp-gateway".into())
            .spawn(move || io.run());
        if let Err(e) = spawned {
            tracing::error!(error = %e, "zttp-zmq gateway: no thread to go on with");
        }
    }
}

/// Sends one message to a worker, or queues it (copied) behind the worker's earlier blocked
/// messages; `Err` when the worker is unreachable.
fn deliver<F: AsRef<[u8]>>(
    socket: &mut zmq::Socket,
    backlogs: &mut HashMap<WorkerId, VecDeque<Frames>, IdBuild>,
    worker: &WorkerId,
    frames: &[F],
) -> Result<(), ()> {
    let owned = || -> Frames {
        let copy = |f: &F| Bytes::copy_from_slice(f.as_ref());
        frames.iter().map(copy).collect()
    };
    if let Some(backlog) = backlogs.get_mut(worker) {
        backlog.push_back(owned());
        return Ok(());
    }
    match wire::send(socket, Some(worker), frames) {
        Ok(true) => Ok(()),
        Ok(false) => {
            backlogs
                .entry(worker.clone())
                .or_default()
                .push_back(owned());
            Ok(())
        }
        Err(_) => Err(()),
    }
}

fn capacity_of(id: u64) -> u32 {
    id.min(u32::MAX as u64) as u32
}
