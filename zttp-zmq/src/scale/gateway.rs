//! The gateway: a [`Handler`] that forwards each request to ZeroMQ workers.

use std::collections::{HashMap, VecDeque};
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::Stream;
use http::{header, HeaderValue, StatusCode};
use zttp_service::{Body, Handler, Request, Response};

use super::exchange::{End, Exchange, Outbox};
use super::protocol::{self as proto, Frames};

/// Timing of the gateway ⇄ worker protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayConfig {
    /// How often the gateway pings each worker. Workers should use the same interval.
    pub heartbeat_interval: Duration,
    /// A worker silent for this long is dead: its in-flight requests are answered `503`.
    pub heartbeat_timeout: Duration,
    /// Longest a request waits for a worker with free capacity before it is answered `503`.
    pub queue_timeout: Duration,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(3),
            queue_timeout: Duration::from_secs(10),
        }
    }
}

enum Command {
    Start(Arc<Exchange>, Frames),
    /// A message for the worker that serves this exchange.
    Forward(u64, Frames),
    /// The client side is gone or done: forget the exchange (and tell its worker).
    Cancel(u64),
}

struct Shared {
    outbox: Outbox<Command>,
    next_id: AtomicU64,
    ready_workers: AtomicUsize,
}

/// Stops the IO thread when the last [`Gateway`] or [`GatewayHandler`] is dropped.
struct Owner(Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.outbox.stop();
    }
}

/// Forwards HTTP requests to worker processes over a ZeroMQ ROUTER socket.
///
/// Workers ([`Worker`](crate::Worker)) connect with DEALER sockets, announce their free
/// capacity, and heartbeat. Each request goes to the worker with the most free capacity;
/// with none free it waits up to [`GatewayConfig::queue_timeout`]. Bodies stream both ways
/// under a flow-control window. A worker that disconnects or stops heartbeating turns its
/// requests that have no response head yet into `503 Service Unavailable`; a response whose
/// body was streaming breaks off (the connection is closed, as with any failed body).
///
/// [`handler`](Self::handler) is an ordinary [`Handler`]: serve it on a STREAM socket with
/// [`Server`](crate::Server), or on any other zttp adapter.
pub struct Gateway {
    owner: Arc<Owner>,
    endpoint: String,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// Binds the ROUTER socket workers connect to (e.g. `tcp://127.0.0.1:5556`).
    pub fn bind(endpoint: &str) -> io::Result<Self> {
        Self::bind_with(&zmq::Context::new(), endpoint, GatewayConfig::default())
    }

    /// Binds in a given context with given timing.
    pub fn bind_with(
        context: &zmq::Context,
        endpoint: &str,
        config: GatewayConfig,
    ) -> io::Result<Self> {
        let socket = context.socket(zmq::ROUTER)?;
        // Report sends to vanished workers (EHOSTUNREACH) instead of dropping them silently.
        socket.set_router_mandatory(true)?;
        socket.set_linger(0)?;
        socket.bind(endpoint)?;
        let endpoint = match socket.get_last_endpoint()? {
            Ok(s) => s,
            Err(raw) => String::from_utf8_lossy(&raw).into_owned(),
        };
        let shared = Arc::new(Shared {
            outbox: Outbox::new()?,
            next_id: AtomicU64::new(1),
            ready_workers: AtomicUsize::new(0),
        });
        let io = GatewayIo {
            socket,
            shared: shared.clone(),
            config,
            workers: HashMap::new(),
            exchanges: HashMap::new(),
            pending: VecDeque::new(),
            tick: 0,
        };
        std::thread::Builder::new()
            .name("zttp-zmq-gateway".into())
            .spawn(move || io.run())?;
        Ok(Gateway {
            owner: Arc::new(Owner(shared)),
            endpoint,
        })
    }

    /// The endpoint actually bound (port 0 reports the chosen port).
    pub fn local_endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Workers currently connected and alive.
    pub fn workers(&self) -> usize {
        self.owner.0.ready_workers.load(Ordering::Relaxed)
    }

    /// The [`Handler`] that forwards each request to a worker.
    pub fn handler(&self) -> GatewayHandler {
        GatewayHandler {
            owner: self.owner.clone(),
        }
    }
}

/// A [`Handler`] forwarding to the workers of a [`Gateway`]. Cheap to clone.
#[derive(Clone)]
pub struct GatewayHandler {
    owner: Arc<Owner>,
}

impl std::fmt::Debug for GatewayHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayHandler").finish_non_exhaustive()
    }
}

impl Handler for GatewayHandler {
    type Future = Pin<Box<dyn Future<Output = Response> + Send + 'static>>;

    fn call(&self, request: Request) -> Self::Future {
        Box::pin(forward(self.owner.clone(), request))
    }
}

/// Tells the IO thread to forget an exchange unless it already ended on its own.
struct CancelOnDrop {
    owner: Arc<Owner>,
    exchange: Arc<Exchange>,
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.exchange.is_ended() {
            self.owner.0.outbox.push(Command::Cancel(self.exchange.id));
        }
    }
}

type Forwarding = Pin<Box<dyn Future<Output = ()> + Send>>;

async fn forward(owner: Arc<Owner>, request: Request) -> Response {
    let shared = owner.0.clone();
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let exchange = Arc::new(Exchange::new(id));
    let (parts, body) = request.into_parts();
    shared.outbox.push(Command::Start(
        exchange.clone(),
        proto::request_head(id, &parts),
    ));
    let guard = CancelOnDrop {
        owner,
        exchange: exchange.clone(),
    };
    let mut sending: Option<Forwarding> =
        Some(Box::pin(send_body(shared.clone(), exchange.clone(), body)));
    let head = poll_fn(|cx| {
        poll_forwarding(&mut sending, cx);
        exchange.poll_head(cx)
    })
    .await;
    let head = match head {
        Ok(head) => head,
        Err(status) => return error_response(status),
    };
    let mut response = http::Response::new(Body::empty());
    *response.status_mut() = head.status;
    *response.headers_mut() = head.headers;
    if let Some(len) = head.body_len {
        if !response.headers().contains_key(header::CONTENT_LENGTH)
            && !response.headers().contains_key(header::TRANSFER_ENCODING)
        {
            response
                .headers_mut()
                .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
        }
    }
    *response.body_mut() = Body::from_stream(ResponseBody {
        guard,
        sending,
        unacked: 0,
    });
    response
}

fn poll_forwarding(sending: &mut Option<Forwarding>, cx: &mut Context<'_>) {
    if let Some(f) = sending {
        if f.as_mut().poll(cx).is_ready() {
            *sending = None;
        }
    }
}

fn error_response(status: StatusCode) -> Response {
    let text = match status {
        StatusCode::SERVICE_UNAVAILABLE => "no worker answered\n",
        StatusCode::BAD_GATEWAY => "the worker failed\n",
        _ => "",
    };
    let mut response = http::Response::new(Body::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Streams the request body to the worker under its flow-control window.
async fn send_body(shared: Arc<Shared>, exchange: Arc<Exchange>, mut body: Body) {
    use http_body::Body as _;
    let id = exchange.id;
    loop {
        let frame = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        match frame {
            None => break,
            Some(Ok(frame)) => {
                let Ok(chunk) = frame.into_data() else {
                    continue;
                };
                if chunk.is_empty() {
                    continue;
                }
                if !poll_fn(|cx| exchange.poll_credit(cx, chunk.len())).await {
                    return;
                }
                shared
                    .outbox
                    .push(Command::Forward(id, proto::body(id, chunk)));
            }
            Some(Err(e)) => {
                // The client's body failed (disconnect, size limit): answer with its status.
                let status = e
                    .status()
                    .and_then(|s| StatusCode::from_u16(s).ok())
                    .unwrap_or(StatusCode::BAD_REQUEST);
                exchange.fail(status);
                shared.outbox.push(Command::Cancel(id));
                return;
            }
        }
    }
    shared
        .outbox
        .push(Command::Forward(id, proto::simple(proto::END, id)));
}

/// The response body: chunks from the worker, acknowledged as the connection takes them.
/// Also keeps sending the request body when the worker answered before reading all of it.
struct ResponseBody {
    guard: CancelOnDrop,
    sending: Option<Forwarding>,
    unacked: u64,
}

impl Stream for ResponseBody {
    type Item = Result<Bytes, io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        poll_forwarding(&mut this.sending, cx);
        let exchange = &this.guard.exchange;
        match exchange.poll_chunk(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.unacked += chunk.len() as u64;
                if this.unacked >= proto::ACK_EVERY {
                    let id = exchange.id;
                    this.guard
                        .owner
                        .0
                        .outbox
                        .push(Command::Forward(id, proto::ack(id, this.unacked)));
                    this.unacked = 0;
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(()))) => Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the worker went away while sending the response body",
            )))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}

struct WorkerState {
    capacity: u64,
    in_flight: Vec<u64>,
    last_seen: Instant,
    last_assigned: u64,
    /// Messages that met `EAGAIN`, sent in order before anything new.
    backlog: VecDeque<Frames>,
}

struct ExchangeEntry {
    exchange: Arc<Exchange>,
    worker: Option<Bytes>,
    head: Option<Frames>,
    /// Messages for the worker sent before one was chosen.
    early: Vec<Frames>,
    queued_at: Instant,
}

struct GatewayIo {
    socket: zmq::Socket,
    shared: Arc<Shared>,
    config: GatewayConfig,
    workers: HashMap<Bytes, WorkerState>,
    exchanges: HashMap<u64, ExchangeEntry>,
    pending: VecDeque<u64>,
    tick: u64,
}

impl GatewayIo {
    fn run(mut self) {
        let _ = self.run_loop();
        for (_, entry) in self.exchanges.drain() {
            entry.exchange.fail(StatusCode::SERVICE_UNAVAILABLE);
        }
        for command in self.shared.outbox.take() {
            if let Command::Start(exchange, _) = command {
                exchange.fail(StatusCode::SERVICE_UNAVAILABLE);
            }
        }
    }

    fn run_loop(&mut self) -> io::Result<()> {
        let mut next_ping = Instant::now();
        loop {
            self.shared.outbox.wake.drain();
            if self.shared.outbox.is_stopping() {
                return Ok(());
            }
            for command in self.shared.outbox.take() {
                self.command(command);
            }
            while let Some(frames) = recv_message(&self.socket)? {
                self.message(frames);
            }
            let now = Instant::now();
            if now >= next_ping {
                next_ping = now + self.config.heartbeat_interval;
                let ids: Vec<Bytes> = self.workers.keys().cloned().collect();
                for w in ids {
                    self.send(&w, proto::simple(proto::PING, 0));
                }
                self.expire(now);
            }
            self.dispatch();
            let blocked = self.flush_backlogs();
            let mut timeout = next_ping.saturating_duration_since(Instant::now());
            if let Some(first) = self.pending.front().and_then(|id| self.exchanges.get(id)) {
                let deadline = first.queued_at + self.config.queue_timeout;
                timeout = timeout.min(deadline.saturating_duration_since(Instant::now()));
            }
            if blocked {
                timeout = timeout.min(Duration::from_millis(1));
            }
            let mut items = [
                self.socket.as_poll_item(zmq::POLLIN),
                zmq::PollItem::from_fd(self.shared.outbox.wake.fd(), zmq::POLLIN),
            ];
            match zmq::poll(&mut items, timeout.as_millis() as i64) {
                Ok(_) | Err(zmq::Error::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn command(&mut self, command: Command) {
        match command {
            Command::Start(exchange, head) => {
                let id = exchange.id;
                self.exchanges.insert(
                    id,
                    ExchangeEntry {
                        exchange,
                        worker: None,
                        head: Some(head),
                        early: Vec::new(),
                        queued_at: Instant::now(),
                    },
                );
                self.pending.push_back(id);
            }
            Command::Forward(id, frames) => {
                let Some(entry) = self.exchanges.get_mut(&id) else {
                    return;
                };
                match entry.worker.clone() {
                    Some(w) => self.send(&w, frames),
                    None => entry.early.push(frames),
                }
            }
            Command::Cancel(id) => {
                if let Some(entry) = self.exchanges.remove(&id) {
                    entry.exchange.fail(StatusCode::SERVICE_UNAVAILABLE);
                    if let Some(w) = entry.worker {
                        self.release(&w, id);
                        self.send(&w, proto::simple(proto::ABORT, id));
                    }
                }
            }
        }
    }

    fn message(&mut self, mut frames: Vec<Bytes>) {
        if frames.len() < 2 {
            return;
        }
        let identity = frames.remove(0);
        let Some((kind, id)) = proto::parse_control(&frames[0]) else {
            return;
        };
        let now = Instant::now();
        if kind == proto::READY {
            let known = self.workers.contains_key(&identity);
            let w = self.workers.entry(identity).or_insert_with(|| WorkerState {
                capacity: 0,
                in_flight: Vec::new(),
                last_seen: now,
                last_assigned: 0,
                backlog: VecDeque::new(),
            });
            w.capacity = id;
            w.last_seen = now;
            if !known {
                self.shared
                    .ready_workers
                    .store(self.workers.len(), Ordering::Relaxed);
            }
            return;
        }
        let Some(w) = self.workers.get_mut(&identity) else {
            // Not registered (e.g. we restarted): its READY heartbeat will register it.
            return;
        };
        w.last_seen = now;
        let owned = self
            .exchanges
            .get(&id)
            .is_some_and(|e| e.worker.as_ref() == Some(&identity));
        if !owned {
            return;
        }
        let exchange = self.exchanges[&id].exchange.clone();
        match kind {
            proto::HEAD => match proto::parse_response_head(&frames[1..]) {
                Some(head) => exchange.set_head(Ok(head)),
                None => {
                    self.finish(&identity, id);
                    exchange.fail(StatusCode::BAD_GATEWAY);
                    self.send(&identity, proto::simple(proto::ABORT, id));
                }
            },
            proto::BODY => {
                if let Some(chunk) = frames.get(1) {
                    exchange.push_chunk(chunk.clone());
                }
            }
            proto::END => {
                self.finish(&identity, id);
                exchange.end(End::Complete);
            }
            proto::ABORT => {
                self.finish(&identity, id);
                exchange.fail(StatusCode::BAD_GATEWAY);
            }
            proto::ACK => {
                if let Some(n) = frames.get(1).and_then(|f| proto::parse_u64(f)) {
                    exchange.add_credit(n);
                }
            }
            _ => {}
        }
    }

    fn finish(&mut self, worker: &Bytes, id: u64) {
        self.exchanges.remove(&id);
        self.release(worker, id);
    }

    fn release(&mut self, worker: &Bytes, id: u64) {
        if let Some(w) = self.workers.get_mut(worker) {
            w.in_flight.retain(|&x| x != id);
        }
    }

    /// Declares dead the workers silent past the timeout, and times out queued requests.
    fn expire(&mut self, now: Instant) {
        let dead: Vec<Bytes> = self
            .workers
            .iter()
            .filter(|(_, w)| now.duration_since(w.last_seen) > self.config.heartbeat_timeout)
            .map(|(id, _)| id.clone())
            .collect();
        for w in dead {
            self.worker_lost(&w);
        }
        while let Some(&id) = self.pending.front() {
            match self.exchanges.get(&id) {
                None => {
                    self.pending.pop_front();
                }
                Some(e) if e.worker.is_some() => {
                    self.pending.pop_front();
                }
                Some(e) if now.duration_since(e.queued_at) >= self.config.queue_timeout => {
                    e.exchange.fail(StatusCode::SERVICE_UNAVAILABLE);
                    self.exchanges.remove(&id);
                    self.pending.pop_front();
                }
                Some(_) => break,
            }
        }
    }

    fn worker_lost(&mut self, worker: &Bytes) {
        if let Some(w) = self.workers.remove(worker) {
            for id in w.in_flight {
                if let Some(entry) = self.exchanges.remove(&id) {
                    entry.exchange.fail(StatusCode::SERVICE_UNAVAILABLE);
                }
            }
        }
        self.shared
            .ready_workers
            .store(self.workers.len(), Ordering::Relaxed);
    }

    /// Hands queued requests to the workers with the most free capacity.
    fn dispatch(&mut self) {
        while let Some(&id) = self.pending.front() {
            let Some(entry) = self.exchanges.get(&id) else {
                self.pending.pop_front();
                continue;
            };
            if entry.worker.is_some() {
                self.pending.pop_front();
                continue;
            }
            let best = self
                .workers
                .iter()
                .filter(|(_, w)| (w.in_flight.len() as u64) < w.capacity)
                .max_by_key(|(_, w)| {
                    (
                        w.capacity - w.in_flight.len() as u64,
                        std::cmp::Reverse(w.last_assigned),
                    )
                })
                .map(|(k, _)| k.clone());
            let Some(worker) = best else { break };
            self.pending.pop_front();
            self.tick += 1;
            let w = self.workers.get_mut(&worker).expect("chosen worker exists");
            w.in_flight.push(id);
            w.last_assigned = self.tick;
            let entry = self
                .exchanges
                .get_mut(&id)
                .expect("pending exchange exists");
            entry.worker = Some(worker.clone());
            let head = entry.head.take().unwrap_or_default();
            let early = std::mem::take(&mut entry.early);
            self.send(&worker, head);
            for frames in early {
                self.send(&worker, frames);
            }
        }
    }

    /// Sends (or queues behind earlier blocked messages) one message to a worker.
    fn send(&mut self, worker: &Bytes, frames: Frames) {
        let Some(w) = self.workers.get_mut(worker) else {
            return;
        };
        if !w.backlog.is_empty() {
            w.backlog.push_back(frames);
            return;
        }
        match send_message(&self.socket, worker, &frames) {
            Ok(true) => {}
            Ok(false) => w.backlog.push_back(frames),
            Err(_) => self.worker_lost(worker),
        }
    }

    /// Retries blocked messages; true if some remain blocked.
    fn flush_backlogs(&mut self) -> bool {
        let mut lost = Vec::new();
        let mut blocked = false;
        for (id, w) in self.workers.iter_mut() {
            while let Some(frames) = w.backlog.front() {
                match send_message(&self.socket, id, frames) {
                    Ok(true) => {
                        w.backlog.pop_front();
                    }
                    Ok(false) => {
                        blocked = true;
                        break;
                    }
                    Err(_) => {
                        lost.push(id.clone());
                        break;
                    }
                }
            }
        }
        for w in lost {
            self.worker_lost(&w);
        }
        blocked
    }
}

/// Sends `[identity, frames...]` without blocking: Ok(false) on `EAGAIN`, Err when the
/// worker is unreachable.
pub(crate) fn send_message(
    socket: &zmq::Socket,
    identity: &[u8],
    frames: &[Bytes],
) -> io::Result<bool> {
    match socket.send(identity, zmq::SNDMORE | zmq::DONTWAIT) {
        Ok(()) => {}
        Err(zmq::Error::EAGAIN) => return Ok(false),
        Err(e) => return Err(e.into()),
    }
    send_frames(socket, frames)
}

/// Sends a multipart message; the first frame decides (`EAGAIN` → Ok(false)), the rest follow.
pub(crate) fn send_frames(socket: &zmq::Socket, frames: &[Bytes]) -> io::Result<bool> {
    let last = frames.len().saturating_sub(1);
    for (i, frame) in frames.iter().enumerate() {
        let more = if i < last { zmq::SNDMORE } else { 0 };
        match socket.send(&frame[..], more | zmq::DONTWAIT) {
            Ok(()) => {}
            Err(zmq::Error::EAGAIN) if i == 0 => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}

/// Receives one whole multipart message without blocking.
pub(crate) fn recv_message(socket: &zmq::Socket) -> io::Result<Option<Vec<Bytes>>> {
    let mut frames = Vec::new();
    loop {
        let mut msg = zmq::Message::new();
        let flags = if frames.is_empty() { zmq::DONTWAIT } else { 0 };
        match socket.recv(&mut msg, flags) {
            Ok(()) => {}
            Err(zmq::Error::EAGAIN) | Err(zmq::Error::EINTR) if frames.is_empty() => {
                return Ok(None)
            }
            Err(e) => return Err(e.into()),
        }
        let more = msg.get_more();
        frames.push(Bytes::copy_from_slice(&msg));
        if !more {
            return Ok(Some(frames));
        }
    }
}
