//! The worker: runs the same [`Handler`] closures remotely, fed by a [`Gateway`](crate::Gateway).

use std::collections::VecDeque;
use std::future::{poll_fn, Future};
use std::io;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::stream::FuturesUnordered;
use futures::task::{waker_ref, ArcWake};
use futures::{FutureExt, Stream, StreamExt};
use zttp_service::{Body, Handler, Runtime, Shutdown};

use super::curve::WorkerCurve;
use super::exchange::{End, Exchange, IdMap, Outbox};
use super::protocol::{self as proto, Frames, ACK_EVERY, WINDOW};
use super::wire;
use crate::TokioRuntime;

/// How often a worker says `HELLO` while it has no `WELCOME`.
const HELLO_EVERY: Duration = Duration::from_secs(1);

/// Connects to a gateway at `endpoint` and answers its requests with `handler` until the
/// process ends. Runs inside a tokio runtime (handlers are spawned on it).
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// zttp_zmq::worker("tcp://127.0.0.1:5556", |_req: zttp_service::Request| async {
///     "Hello World!"
/// })
/// .await
/// # }
/// ```
pub async fn worker<H: Handler>(endpoint: &str, handler: H) -> io::Result<()> {
    Worker::connect(endpoint)?.serve(handler).await
}

/// A worker process's connection to a gateway: connect, configure, then serve.
///
/// It speaks the [protocol](crate::protocol): joins with `HELLO`, heartbeats at the interval
/// the gateway announces, and joins again when the gateway restarts.
pub struct Worker {
    socket: zmq::Socket,
    capacity: u32,
    raw_request: bool,
    shutdown: Shutdown,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// Connects a DEALER socket to the gateway's worker endpoint. The gateway need not be up
    /// yet; ZeroMQ reconnects on its own, and the worker joins again.
    pub fn connect(endpoint: &str) -> io::Result<Self> {
        Self::connect_with(&zmq::Context::new(), endpoint)
    }

    /// Connects in a given ZeroMQ context.
    pub fn connect_with(context: &zmq::Context, endpoint: &str) -> io::Result<Self> {
        Self::connect_inner(context, endpoint, None)
    }

    /// Connects with CURVE to a gateway bound with
    /// [`Gateway::bind_curve`](crate::Gateway::bind_curve). A gateway that does not allow
    /// this worker's key drops the connection in the handshake; ZeroMQ keeps retrying.
    pub fn connect_curve(
        context: &zmq::Context,
        endpoint: &str,
        curve: &WorkerCurve,
    ) -> io::Result<Self> {
        Self::connect_inner(context, endpoint, Some(curve))
    }

    fn connect_inner(
        context: &zmq::Context,
        endpoint: &str,
        curve: Option<&WorkerCurve>,
    ) -> io::Result<Self> {
        let socket = context.socket(zmq::DEALER)?;
        if let Some(curve) = curve {
            curve.apply(&socket)?;
        }
        socket.set_linger(1000)?;
        socket.set_reconnect_ivl(100)?;
        socket.set_reconnect_ivl_max(1000)?;
        socket.connect(endpoint)?;
        Ok(Worker {
            socket,
            capacity: 64,
            raw_request: false,
            shutdown: Shutdown::new(),
        })
    }

    /// Most requests handled at once (default 64): the gateway never sends more.
    pub fn capacity(mut self, capacity: u32) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// Gives each request a [`RawRequest`](zttp_service::RawRequest) extension: the head as
    /// the gateway forwarded it, header names in the client's case (when the gateway's front
    /// keeps them: its `ServerConfig::raw_request`). Default off, as on a server: it costs an
    /// allocation or two per request.
    pub fn raw_request(mut self, on: bool) -> Self {
        self.raw_request = on;
        self
    }

    /// Sets the signal that stops the worker: it takes no new requests, finishes the ones in
    /// flight, then [`serve`](Self::serve) returns.
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Serves on the ambient tokio runtime.
    pub async fn serve<H: Handler>(self, handler: H) -> io::Result<()> {
        self.serve_with(TokioRuntime::current(), handler).await
    }

    /// Serves with handlers spawned on `runtime`. Returns an error if the gateway refuses
    /// this worker (the error names the gateway's reason).
    pub async fn serve_with<R: Runtime, H: Handler>(
        self,
        runtime: R,
        handler: H,
    ) -> io::Result<()> {
        let spawn = Box::new(move |task: BoxFuture| runtime.spawn(task));
        self.run(handler, |_| Tasks::Spawned(spawn), None).await
    }

    /// Serves with handlers run on the worker's own IO thread, the thread that owns its
    /// socket: a request costs no wake-up of another thread, in either direction (the
    /// cheapest mode; measured by `bench/zmq_compare.sh`). Like
    /// [`Server::serve_on_io_thread`](crate::Server::serve_on_io_thread) it needs handlers
    /// that do not block or compute for long; use [`serve`](Self::serve) for those. Inside a
    /// tokio runtime, handlers are polled in its context (tokio timers and `tokio::spawn`
    /// work).
    pub async fn serve_on_io_thread<H: Handler>(self, handler: H) -> io::Result<()> {
        let tokio = tokio::runtime::Handle::try_current().ok();
        let local = |shared: &Arc<Outbox<Reply>>| {
            Tasks::Local(LocalTasks {
                tasks: FuturesUnordered::new(),
                wake: Arc::new(LocalWake {
                    shared: shared.clone(),
                    woken: AtomicBool::new(false),
                }),
            })
        };
        self.run(handler, local, tokio).await
    }

    async fn run<H: Handler>(
        self,
        handler: H,
        tasks: impl FnOnce(&Arc<Outbox<Reply>>) -> Tasks,
        tokio: Option<tokio::runtime::Handle>,
    ) -> io::Result<()> {
        let shared = Arc::new(Outbox::<Reply>::new()?);
        let (done_tx, done_rx) = futures::channel::oneshot::channel();
        let io = WorkerIo {
            socket: self.socket,
            tasks: tasks(&shared),
            tokio,
            shared: shared.clone(),
            handler,
            capacity: self.capacity,
            raw_request: self.raw_request,
            heartbeat: None,
            next_beat: Instant::now(),
            exchanges: IdMap::default(),
            backlog: VecDeque::new(),
            receiver: wire::Receiver::new(),
            replies: Vec::new(),
            names: proto::NameCache::default(),
        };
        std::thread::Builder::new()
            .name("zttp-worker".into())
            .spawn(move || {
                let result = io.run_thread();
                let _ = done_tx.send(result);
            })?;
        let stop = shared.clone();
        let shutdown = self.shutdown.clone();
        let mut done = done_rx;
        futures::select! {
            result = done => return result.unwrap_or(Ok(())),
            _ = shutdown.triggered().fuse() => stop.stop(),
        }
        done.await.unwrap_or(Ok(()))
    }
}

enum Reply {
    Send(Frames),
    /// The task is done with this exchange, after this last message if any.
    Done(u64, Option<Message>),
}

/// A message for the gateway: most responses are one frame, which needs no `Vec`.
enum Message {
    One(Bytes),
    Frames(Frames),
}

impl Message {
    fn frames(&self) -> &[Bytes] {
        match self {
            Message::One(frame) => std::slice::from_ref(frame),
            Message::Frames(frames) => frames,
        }
    }
}

/// The heartbeat the gateway announced in `WELCOME`.
#[derive(Clone, Copy)]
struct Heartbeat {
    interval: Duration,
    timeout: Duration,
}

type BoxFuture = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Where a worker's handler tasks run.
enum Tasks {
    /// Spawned on a runtime.
    Spawned(Box<dyn Fn(BoxFuture) + Send>),
    /// Polled by the worker's IO thread itself.
    Local(LocalTasks),
}

/// Handler tasks polled by the IO thread: those woken are polled each turn.
struct LocalTasks {
    tasks: FuturesUnordered<BoxFuture>,
    wake: Arc<LocalWake>,
}

/// The waker of the IO thread's own tasks: notes the wake-up and rouses the thread.
struct LocalWake {
    shared: Arc<Outbox<Reply>>,
    woken: AtomicBool,
}

impl ArcWake for LocalWake {
    fn wake_by_ref(arc: &Arc<Self>) {
        arc.woken.store(true, Ordering::Release);
        arc.shared.wake.signal();
    }
}

impl LocalTasks {
    /// Polls the woken tasks until none is ready.
    fn poll(&mut self) {
        if self.tasks.is_empty() {
            return;
        }
        self.wake.woken.store(false, Ordering::Release);
        let waker = waker_ref(&self.wake);
        let mut cx = Context::from_waker(&waker);
        while let Poll::Ready(Some(())) = self.tasks.poll_next_unpin(&mut cx) {}
    }

    /// Starts a task: polls it once at once, and keeps it only if it is not done. A handler
    /// that answers without waiting (most do) then costs no task slot in the set, and its
    /// response is sent in this turn. True when the task is kept (not done yet).
    fn start(&mut self, mut task: BoxFuture) -> bool {
        let waker = waker_ref(&self.wake);
        let mut cx = Context::from_waker(&waker);
        if task.as_mut().poll(&mut cx).is_ready() {
            return false;
        }
        self.tasks.push(task);
        true
    }

    /// Woken since the last [`poll`](Self::poll): the thread must not sleep.
    fn woken(&self) -> bool {
        self.wake.woken.load(Ordering::Acquire)
    }
}

struct WorkerIo<H> {
    socket: zmq::Socket,
    shared: Arc<Outbox<Reply>>,
    tasks: Tasks,
    /// The tokio runtime the worker was started in, entered by the IO thread for local tasks.
    tokio: Option<tokio::runtime::Handle>,
    handler: H,
    capacity: u32,
    /// Give requests a `RawRequest` extension (see [`Worker::raw_request`]).
    raw_request: bool,
    /// `None` until welcomed (and again after the gateway is presumed gone).
    heartbeat: Option<Heartbeat>,
    /// When the next `READY` (or, not welcomed, `HELLO`) is due.
    next_beat: Instant,
    exchanges: IdMap<Arc<Exchange>>,
    /// Replies that met `EAGAIN` (gateway slow or reconnecting), sent in order first.
    backlog: VecDeque<Message>,
    receiver: wire::Receiver,
    replies: Vec<Reply>,
    /// Field names of earlier request heads.
    names: proto::NameCache,
}

impl<H: Handler> WorkerIo<H> {
    fn run_thread(mut self) -> io::Result<()> {
        let tokio = self.tokio.take();
        let _context = tokio.as_ref().map(|t| t.enter());
        let result = self.run_loop();
        self.abort_all();
        result
    }

    fn abort_all(&mut self) {
        for (_, exchange) in self.exchanges.drain() {
            exchange.end(End::Aborted);
        }
        self.backlog.clear();
    }

    fn send(&mut self, frames: Frames) -> io::Result<()> {
        self.send_message(Message::Frames(frames))
    }

    fn send_message(&mut self, message: Message) -> io::Result<()> {
        if self.backlog.is_empty() && wire::send(&mut self.socket, None, message.frames())? {
            return Ok(());
        }
        self.backlog.push_back(message);
        Ok(())
    }

    fn flush_backlog(&mut self) -> io::Result<()> {
        while let Some(message) = self.backlog.front() {
            if !wire::send(&mut self.socket, None, message.frames())? {
                break;
            }
            self.backlog.pop_front();
        }
        Ok(())
    }

    /// Sends what the handler tasks queued.
    fn take_replies(&mut self) -> io::Result<()> {
        let mut replies = std::mem::take(&mut self.replies);
        self.shared.take_into(&mut replies);
        let mut result = Ok(());
        for reply in replies.drain(..) {
            match reply {
                Reply::Send(frames) => {
                    if self.heartbeat.is_some() && result.is_ok() {
                        result = self.send(frames);
                    }
                }
                Reply::Done(id, last) => {
                    self.exchanges.remove(&id);
                    if let Some(last) = last {
                        if self.heartbeat.is_some() && result.is_ok() {
                            result = self.send_message(last);
                        }
                    }
                }
            }
        }
        self.replies = replies;
        result
    }

    fn capacity_now(&self) -> u32 {
        if self.shared.is_stopping() {
            0
        } else {
            self.capacity
        }
    }

    fn hello(&mut self) -> io::Result<()> {
        self.heartbeat = None;
        self.next_beat = Instant::now() + HELLO_EVERY;
        let hello = proto::hello(proto::VERSION, self.capacity_now());
        wire::send(&mut self.socket, None, &hello).map(|_| ())
    }

    fn ready(&mut self) -> io::Result<()> {
        let ready = proto::simple(proto::READY, self.capacity_now() as u64);
        self.send(ready)
    }

    fn run_loop(&mut self) -> io::Result<()> {
        self.hello()?;
        let mut last_heard = Instant::now();
        let mut announced_stop = false;
        let mut signalled = true;
        loop {
            self.shared.begin_turn(signalled);
            self.take_replies()?;
            if self.shared.is_stopping() {
                if !announced_stop && self.heartbeat.is_some() {
                    announced_stop = true;
                    self.ready()?;
                }
                if self.exchanges.is_empty() || self.heartbeat.is_none() {
                    self.flush_backlog()?;
                    return Ok(());
                }
            }
            let mut heard = false;
            while self.receiver.recv(&self.socket)? {
                heard = true;
                let frames = std::mem::take(&mut self.receiver.frames);
                let handled = self.message(&frames);
                self.receiver.frames = frames;
                handled?;
            }
            if let Tasks::Local(local) = &mut self.tasks {
                local.poll();
                self.take_replies()?;
            }
            if heard {
                last_heard = Instant::now();
            }
            let now = Instant::now();
            match self.heartbeat {
                None if now >= self.next_beat => self.hello()?,
                Some(hb) if now >= last_heard + hb.timeout => {
                    // The gateway is gone: its requests will never be read. Join again.
                    tracing::warn!("zttp-zmq worker: gateway silent, joining again");
                    self.abort_all();
                    last_heard = now;
                    self.hello()?;
                }
                Some(hb) if now >= self.next_beat => {
                    self.next_beat = now + hb.interval;
                    self.ready()?;
                }
                _ => {}
            }
            self.flush_backlog()?;
            let mut deadline = self.next_beat;
            if let Some(hb) = self.heartbeat {
                deadline = deadline.min(last_heard + hb.timeout);
            }
            if !self.backlog.is_empty() {
                deadline = deadline.min(Instant::now() + Duration::from_millis(1));
            }
            let woken = matches!(&self.tasks, Tasks::Local(local) if local.woken());
            let stop_unseen = self.shared.is_stopping() && !announced_stop;
            if self.shared.prepare_sleep() || woken || stop_unseen {
                continue;
            }
            signalled = wire::wait(&self.socket, self.shared.wake.fd(), deadline)?;
        }
    }

    fn message(&mut self, frames: &[Bytes]) -> io::Result<()> {
        let Some(first) = frames.first() else {
            return Ok(());
        };
        let Some((kind, id)) = proto::parse_control(first) else {
            return Ok(());
        };
        let rest = &frames[1..];
        match kind {
            proto::WELCOME => {
                if let Some((_version, interval, timeout)) = proto::parse_welcome(rest) {
                    let hb = Heartbeat {
                        interval: Duration::from_millis(interval.max(1) as u64),
                        timeout: Duration::from_millis(timeout.max(1) as u64),
                    };
                    self.heartbeat = Some(hb);
                    self.next_beat = Instant::now() + hb.interval;
                }
            }
            proto::REFUSE => {
                let reason = rest
                    .first()
                    .map(|r| String::from_utf8_lossy(r).into_owned())
                    .unwrap_or_default();
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionRefused,
                    format!("the gateway refused this worker: {reason}"),
                ));
            }
            proto::UNKNOWN => {
                self.abort_all();
                self.hello()?;
            }
            proto::HEAD => {
                let head = proto::parse_request_head(
                    &proto::payload(first),
                    self.raw_request,
                    &mut self.names,
                );
                let Some(head) = head else {
                    self.send(proto::simple(proto::ABORT, id))?;
                    return Ok(());
                };
                let exchange = Arc::new(Exchange::new(id, true));
                let body = if head.flags & proto::FLAG_NO_BODY != 0 {
                    Body::empty()
                } else {
                    Body::from_stream(RequestBody {
                        exchange: exchange.clone(),
                        shared: self.shared.clone(),
                        unacked: 0,
                        owes_continue: head.flags & proto::FLAG_CONTINUE != 0,
                    })
                };
                let request = http::Request::from_parts(head.parts, body);
                let task = answer(
                    self.handler.clone(),
                    request,
                    exchange.clone(),
                    self.shared.clone(),
                );
                match &mut self.tasks {
                    Tasks::Spawned(spawn) => {
                        // Known before the task runs (on another thread, at once perhaps).
                        self.exchanges.insert(id, exchange);
                        spawn(Box::pin(task));
                    }
                    // A panic (say, in a response body) must not take the IO thread down;
                    // `answer` already turns a panicking handler into `ABORT`.
                    Tasks::Local(local) => {
                        let task = Box::pin(AssertUnwindSafe(task).catch_unwind().map(|_| ()));
                        // A task that answered at once has nothing left to route to it.
                        if local.start(task) {
                            self.exchanges.insert(id, exchange);
                        }
                    }
                }
            }
            proto::BODY => {
                if let (Some(e), Some(chunk)) = (self.exchanges.get(&id), rest.first()) {
                    e.push_chunk(chunk.clone());
                }
            }
            proto::END => {
                if let Some(e) = self.exchanges.get(&id) {
                    e.end(End::Complete);
                }
            }
            proto::ABORT => {
                if let Some(e) = self.exchanges.remove(&id) {
                    e.end(End::Aborted);
                }
            }
            proto::ACK => {
                if let (Some(e), Some(n)) = (
                    self.exchanges.get(&id),
                    rest.first().and_then(|f| proto::parse_u64(f)),
                ) {
                    e.add_credit(n);
                }
            }
            _ => {}
        }
        Ok(())
    }
}

/// Runs the handler for one exchange and streams its response back.
async fn answer<H: Handler>(
    handler: H,
    request: zttp_service::Request,
    exchange: Arc<Exchange>,
    shared: Arc<Outbox<Reply>>,
) {
    let id = exchange.id;
    let panicked = || {
        let abort = Message::Frames(proto::simple(proto::ABORT, id));
        shared.push(Reply::Done(id, Some(abort)));
    };
    // A handler may panic in `call` itself (a `TowerHandler` routes there), not only in
    // its future: both become `ABORT`, and the gateway answers 502 at once.
    let Ok(call) = catch_unwind(AssertUnwindSafe(|| handler.call(request))) else {
        return panicked();
    };
    let call = AssertUnwindSafe(call).catch_unwind();
    let aborted = poll_fn(|cx| exchange.poll_aborted(cx));
    futures::pin_mut!(call, aborted);
    let response = match futures::future::select(call, aborted).await {
        futures::future::Either::Left((Ok(response), _)) => response,
        futures::future::Either::Left((Err(_panic), _)) => return panicked(),
        futures::future::Either::Right(_) => {
            shared.push(Reply::Done(id, None));
            return;
        }
    };
    let last = send_response(response, &exchange, &shared).await;
    shared.push(Reply::Done(id, last));
}

/// Sends a response; returns its last message (sent together with `Done`).
async fn send_response(
    response: zttp_service::Response,
    exchange: &Exchange,
    shared: &Outbox<Reply>,
) -> Option<Message> {
    use http_body::Body as _;
    let id = exchange.id;
    let (parts, mut body) = response.into_parts();
    let hint = body.size_hint().exact();
    if let Some(len) = hint.filter(|&n| n <= WINDOW) {
        // Small and of known length: collected right into one `RESPONSE` frame.
        let mut message = proto::full_response_head(id, &parts, len as usize);
        loop {
            match poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
                None => break,
                Some(Ok(frame)) => {
                    if let Ok(chunk) = frame.into_data() {
                        message.extend_from_slice(&chunk);
                    }
                }
                Some(Err(_)) => return Some(Message::Frames(proto::simple(proto::ABORT, id))),
            }
        }
        return Some(Message::One(message.freeze()));
    }
    shared.push(Reply::Send(vec![proto::response_head(id, &parts, hint)]));
    loop {
        let frame = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        match frame {
            None => return Some(Message::Frames(proto::simple(proto::END, id))),
            Some(Ok(frame)) => {
                let Ok(mut chunk) = frame.into_data() else {
                    continue;
                };
                while !chunk.is_empty() {
                    if !poll_fn(|cx| exchange.poll_window(cx)).await {
                        return None;
                    }
                    let part = chunk.split_to(chunk.len().min(ACK_EVERY as usize));
                    exchange.take_credit(part.len());
                    shared.push(Reply::Send(proto::body(id, part)));
                }
            }
            Some(Err(_)) => return Some(Message::Frames(proto::simple(proto::ABORT, id))),
        }
    }
}

/// A request body fed by the gateway's chunks, acknowledged as the handler reads them.
struct RequestBody {
    exchange: Arc<Exchange>,
    shared: Arc<Outbox<Reply>>,
    unacked: u64,
    /// The request expects `100 Continue`: the first read sends `CONTINUE`.
    owes_continue: bool,
}

impl Stream for RequestBody {
    type Item = Result<Bytes, io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        let id = this.exchange.id;
        if std::mem::take(&mut this.owes_continue) {
            this.shared
                .push(Reply::Send(proto::simple(proto::CONTINUE, id)));
        }
        match this.exchange.poll_chunk(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.unacked += chunk.len() as u64;
                if this.unacked >= ACK_EVERY {
                    this.shared.push(Reply::Send(proto::ack(id, this.unacked)));
                    this.unacked = 0;
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(()))) => Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the request was cancelled at the gateway",
            )))),
            Poll::Ready(None) => {
                if this.unacked > 0 {
                    this.shared.push(Reply::Send(proto::ack(id, this.unacked)));
                    this.unacked = 0;
                }
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}
