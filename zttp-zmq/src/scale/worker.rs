//! The worker: runs the same [`Handler`] closures remotely, fed by a [`Gateway`](crate::Gateway).

use std::collections::{HashMap, VecDeque};
use std::future::poll_fn;
use std::io;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::{FutureExt, Stream};
use zttp_service::{Body, Handler, Runtime, Shutdown};

use super::exchange::{End, Exchange, Outbox};
use super::gateway::{recv_message, send_frames};
use super::protocol::{self as proto, Frames};
use crate::TokioRuntime;

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
pub struct Worker {
    socket: zmq::Socket,
    capacity: u32,
    heartbeat_interval: Duration,
    heartbeat_timeout: Duration,
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
    /// yet; ZeroMQ reconnects on its own, and the worker re-announces itself.
    pub fn connect(endpoint: &str) -> io::Result<Self> {
        Self::connect_with(&zmq::Context::new(), endpoint)
    }

    /// Connects in a given ZeroMQ context.
    pub fn connect_with(context: &zmq::Context, endpoint: &str) -> io::Result<Self> {
        let socket = context.socket(zmq::DEALER)?;
        socket.set_linger(1000)?;
        socket.set_reconnect_ivl(100)?;
        socket.set_reconnect_ivl_max(1000)?;
        socket.connect(endpoint)?;
        Ok(Worker {
            socket,
            capacity: 64,
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(3),
            shutdown: Shutdown::new(),
        })
    }

    /// Most requests handled at once (default 64): the gateway never sends more.
    pub fn capacity(mut self, capacity: u32) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// Heartbeat interval, and the silence after which the gateway is presumed gone (its
    /// requests are dropped and the worker announces itself again). Defaults 1 s and 3 s.
    pub fn heartbeat(mut self, interval: Duration, timeout: Duration) -> Self {
        self.heartbeat_interval = interval;
        self.heartbeat_timeout = timeout;
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

    /// Serves with handlers spawned on `runtime`.
    pub async fn serve_with<R: Runtime, H: Handler>(
        self,
        runtime: R,
        handler: H,
    ) -> io::Result<()> {
        let shared = Arc::new(Outbox::<Reply>::new()?);
        let (done_tx, done_rx) = futures::channel::oneshot::channel();
        let io = WorkerIo {
            socket: self.socket,
            shared: shared.clone(),
            runtime,
            handler,
            capacity: self.capacity,
            interval: self.heartbeat_interval,
            timeout: self.heartbeat_timeout,
            exchanges: HashMap::new(),
            backlog: VecDeque::new(),
        };
        std::thread::Builder::new()
            .name("zttp-zmq-worker".into())
            .spawn(move || {
                let result = io.run();
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
    /// The task is done with this exchange.
    Done(u64),
}

struct WorkerIo<R, H> {
    socket: zmq::Socket,
    shared: Arc<Outbox<Reply>>,
    runtime: R,
    handler: H,
    capacity: u32,
    interval: Duration,
    timeout: Duration,
    exchanges: HashMap<u64, Arc<Exchange>>,
    /// Replies that met `EAGAIN` (gateway slow or reconnecting), sent in order first.
    backlog: VecDeque<Frames>,
}

impl<R: Runtime, H: Handler> WorkerIo<R, H> {
    fn run(mut self) -> io::Result<()> {
        let result = self.run_loop();
        for (_, exchange) in self.exchanges.drain() {
            exchange.end(End::Aborted);
        }
        result
    }

    fn send(&mut self, frames: Frames) -> io::Result<()> {
        if self.backlog.is_empty() && send_frames(&self.socket, &frames)? {
            return Ok(());
        }
        self.backlog.push_back(frames);
        Ok(())
    }

    fn flush_backlog(&mut self) -> io::Result<()> {
        while let Some(frames) = self.backlog.front() {
            if !send_frames(&self.socket, frames)? {
                break;
            }
            self.backlog.pop_front();
        }
        Ok(())
    }

    fn ready(&self) -> io::Result<()> {
        let free = if self.shared.is_stopping() {
            0
        } else {
            self.capacity as u64
        };
        send_frames(&self.socket, &proto::simple(proto::READY, free)).map(|_| ())
    }

    fn run_loop(&mut self) -> io::Result<()> {
        self.ready()?;
        let mut next_beat = Instant::now() + self.interval;
        let mut last_heard = Instant::now();
        let mut announced_stop = false;
        loop {
            self.shared.wake.drain();
            for reply in self.shared.take() {
                match reply {
                    Reply::Send(frames) => self.send(frames)?,
                    Reply::Done(id) => {
                        self.exchanges.remove(&id);
                    }
                }
            }
            if self.shared.is_stopping() {
                if !announced_stop {
                    announced_stop = true;
                    self.ready()?;
                }
                if self.exchanges.is_empty() {
                    return Ok(());
                }
            }
            while let Some(frames) = recv_message(&self.socket)? {
                last_heard = Instant::now();
                self.message(frames);
            }
            let now = Instant::now();
            if now >= next_beat {
                next_beat = now + self.interval;
                self.ready()?;
                if now.duration_since(last_heard) > self.timeout && !self.exchanges.is_empty() {
                    // The gateway is gone: its requests will never be read.
                    for (_, exchange) in self.exchanges.drain() {
                        exchange.end(End::Aborted);
                    }
                    self.backlog.clear();
                }
            }
            self.flush_backlog()?;
            let mut timeout = next_beat.saturating_duration_since(Instant::now());
            if !self.backlog.is_empty() {
                timeout = timeout.min(Duration::from_millis(1));
            }
            let mut items = [
                self.socket.as_poll_item(zmq::POLLIN),
                zmq::PollItem::from_fd(self.shared.wake.fd(), zmq::POLLIN),
            ];
            match zmq::poll(&mut items, timeout.as_millis() as i64 + 1) {
                Ok(_) | Err(zmq::Error::EINTR) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn message(&mut self, frames: Vec<Bytes>) {
        let Some((kind, id)) = frames.first().and_then(|f| proto::parse_control(f)) else {
            return;
        };
        match kind {
            proto::HEAD => {
                let Some(parts) = proto::parse_request_head(&frames[1..]) else {
                    let _ = send_frames(&self.socket, &proto::simple(proto::ABORT, id));
                    return;
                };
                let exchange = Arc::new(Exchange::new(id));
                self.exchanges.insert(id, exchange.clone());
                let body = Body::from_stream(RequestBody {
                    exchange: exchange.clone(),
                    shared: self.shared.clone(),
                    unacked: 0,
                });
                let request = http::Request::from_parts(parts, body);
                let task = answer(self.handler.clone(), request, exchange, self.shared.clone());
                self.runtime.spawn(Box::pin(task));
            }
            proto::BODY => {
                if let (Some(e), Some(chunk)) = (self.exchanges.get(&id), frames.get(1)) {
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
                    frames.get(1).and_then(|f| proto::parse_u64(f)),
                ) {
                    e.add_credit(n);
                }
            }
            _ => {}
        }
    }
}

/// Runs the handler for one exchange and streams its response back.
async fn answer<H: Handler>(
    handler: H,
    request: zttp_service::Request,
    exchange: Arc<Exchange>,
    shared: Arc<Outbox<Reply>>,
) {
    use http_body::Body as _;
    let id = exchange.id;
    let call = AssertUnwindSafe(handler.call(request)).catch_unwind();
    let aborted = poll_fn(|cx| exchange.poll_aborted(cx));
    futures::pin_mut!(call, aborted);
    let response = match futures::future::select(call, aborted).await {
        futures::future::Either::Left((Ok(response), _)) => response,
        futures::future::Either::Left((Err(_panic), _)) => {
            shared.push(Reply::Send(proto::simple(proto::ABORT, id)));
            shared.push(Reply::Done(id));
            return;
        }
        futures::future::Either::Right(_) => {
            shared.push(Reply::Done(id));
            return;
        }
    };
    let (parts, mut body) = response.into_parts();
    let hint = body.size_hint();
    shared.push(Reply::Send(proto::response_head(id, &parts, hint.exact())));
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
                    shared.push(Reply::Done(id));
                    return;
                }
                shared.push(Reply::Send(proto::body(id, chunk)));
            }
            Some(Err(_)) => {
                shared.push(Reply::Send(proto::simple(proto::ABORT, id)));
                shared.push(Reply::Done(id));
                return;
            }
        }
    }
    shared.push(Reply::Send(proto::simple(proto::END, id)));
    shared.push(Reply::Done(id));
}

/// A request body fed by the gateway's chunks, acknowledged as the handler reads them.
struct RequestBody {
    exchange: Arc<Exchange>,
    shared: Arc<Outbox<Reply>>,
    unacked: u64,
}

impl Stream for RequestBody {
    type Item = Result<Bytes, io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        match this.exchange.poll_chunk(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.unacked += chunk.len() as u64;
                if this.unacked >= proto::ACK_EVERY {
                    let id = this.exchange.id;
                    this.shared.push(Reply::Send(proto::ack(id, this.unacked)));
                    this.unacked = 0;
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(()))) => Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the request was cancelled at the gateway",
            )))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}
