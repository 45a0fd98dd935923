//! The connection drive loop: one loop for every adapter and protocol.
//!
//! Each turn of [`Driver::poll`] runs the stages below until none can make
//! progress, then writes everything queued in one vectored write, then reads:
//!
//! ```text
//!   core.next_event ─▶ exchanges (request → handler, body → Body channel)
//!   handler futures ─▶ response heads ─▶ response body pieces ─▶ core.send
//!   body consumed   ─▶ core.acknowledge_received_data          (HTTP/2 credit)
//!   core.poll_transmit ─▶ WriteQueue ─▶ one vectored write
//!   socket read ─▶ core.receive_data
//! ```
//!
//! An *exchange* is one request/response pair, keyed by stream id. HTTP/1.1
//! is the special case "one exchange at a time, in order" (stream 0): the core
//! pauses pipelined requests until the exchange ends, so responses leave in
//! order while the read-ahead waits in the core's buffer; the socket is read
//! only while the request body has room (backpressure). Its handler future is
//! polled inline in the connection task: no spawn, no allocation per request.
//!
//! HTTP/2 runs many exchanges at once. Their handler futures live in a
//! `FuturesUnordered` polled by the connection task (only woken ones are
//! polled), so the handlers of one connection run concurrently. The loop keeps
//! calling `next_event` while streams are open; backpressure is HTTP/2 flow
//! control: credit goes back to the peer only as handlers consume request
//! bodies, and response bodies are sent no faster than the peer's windows
//! allow (blocked streams are retried after every `WindowUpdated` or
//! `SettingsChanged`). A reset stream drops its handler and body; a panic
//! answers `500` on that stream only; graceful shutdown sends GOAWAY and
//! finishes the open streams.
//!
//! One timer per connection watches the earliest deadline: the next request
//! head (header-read or keep-alive timeout), queued output that stopped
//! moving (write timeout: the connection is dropped), or the end of a
//! lingering close. Closing after an error answer or an unread body shuts
//! our write side first and discards what the peer still sends for a bounded
//! time, so its data does not make the kernel reset the answer away.

mod convert;
mod exchange;
mod write;

use std::collections::HashMap;
use std::future::{poll_fn, Future};
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::panic::AssertUnwindSafe;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::channel::oneshot;
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use futures_io::{AsyncRead, AsyncWrite};
use http::StatusCode;
use http_body::Body as _;
use tracing::{debug, error, trace, warn};
use zttp_core::{
    Connection, Data, EndOfMessage, Error, ErrorCode, Event, Protocol, RemoteErrorKind,
    RemoteProtocolError, Role,
};

use crate::body::{self, Body, BodyError};
use crate::date::http_date;
use crate::shutdown::{Listener, Phase};
use crate::upgrade::{OnUpgrade, Upgraded};
use crate::{Handler, Runtime, ServerConfig, Shutdown};
use exchange::{next_body_step, BodyStep, Exchange, HandlerFuture, ResponseState, StreamHandler};
use write::WriteQueue;

/// Bytes read from the socket per read call (the buffer is reused).
const READ_SIZE: usize = 16 * 1024;
/// Queued output beyond which response bodies are not polled until it drains.
const WRITE_HIGH_WATER: usize = 64 * 1024;
/// HTTP/2: most response body bytes one stream sends per round, so streams
/// sharing the connection take turns.
const H2_PIECE: usize = 16 * 1024;
/// Lingering close: longest time spent reading and discarding what the peer
/// still sends after our final answer, and most bytes thrown away meanwhile.
const LINGER_TIMEOUT: Duration = Duration::from_secs(2);
const LINGER_MAX_BYTES: u64 = 1024 * 1024;

static CONNECTION_IDS: AtomicU64 = AtomicU64::new(0);

/// Exchanges by stream id.
type Exchanges = HashMap<u32, Exchange, BuildHasherDefault<StreamIdHasher>>;

/// Hashes a stream id with one multiplication: ids come from the peer, but a
/// connection holds at most the announced concurrent-stream limit of them.
#[derive(Default)]
struct StreamIdHasher(u64);

impl Hasher for StreamIdHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 << 8 | u64::from(b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }

    fn write_u32(&mut self, id: u32) {
        self.0 = u64::from(id).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Serves HTTP on one connection until it closes, then returns.
///
/// `io` is any futures-io stream (adapters wrap their sockets). Speaks
/// HTTP/1.1 and, with `config.core.protocol = Auto` (the default), h2c with
/// prior knowledge, detected by its preface. Answers every request with
/// `handler` (HTTP/2 streams concurrently), and keeps the connection alive
/// until the peer closes it, a timeout fires, or `shutdown` triggers.
/// After an accepted HTTP/1.1 upgrade the IO is handed to the handler (see
/// [`upgrade::on`](crate::upgrade::on)) and this returns `Ok(())`.
pub async fn serve_connection<IO, R, H>(
    io: IO,
    runtime: R,
    handler: H,
    config: Arc<ServerConfig>,
    shutdown: Shutdown,
) -> io::Result<()>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    R: Runtime,
    H: Handler,
{
    let span = tracing::debug_span!(
        "connection",
        id = CONNECTION_IDS.fetch_add(1, Ordering::Relaxed)
    );
    let mut driver = Driver::new(io, runtime, handler, config, &shutdown);
    let mut in_flight = pin!(None::<HandlerFuture<H::Future>>);
    let exit = poll_fn(|cx| {
        let _entered = span.enter();
        driver.poll(cx, in_flight.as_mut())
    })
    .await;
    in_flight.set(None);
    match exit {
        Ok(Exit::Closed) => Ok(()),
        Ok(Exit::Upgrade(tx)) => {
            let read_buf = driver.core.take_trailing_data();
            let _ = tx.send(Upgraded::new(Box::new(driver.io), read_buf));
            Ok(())
        }
        Err(e) => {
            debug!(parent: &span, error = %e, "connection failed");
            Err(e)
        }
    }
}

type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// How the loop ended.
enum Exit {
    Closed,
    Upgrade(oneshot::Sender<Upgraded>),
}

/// What the connection timer is set for.
#[derive(Clone, Copy)]
enum Deadline {
    /// The next request head ([`Driver::head_deadline`]).
    Head,
    /// Queued output made no progress for `write_timeout`.
    WriteStalled,
    /// The lingering close has lasted long enough.
    Linger,
}

/// What the loop does after the connection timer fired.
enum Expired {
    /// The timeout was acted on (an answer queued, or `done` set): run the loop again.
    Continue,
    /// End the connection now, without writing anything more.
    Close,
}

struct Driver<IO, R, H: Handler> {
    io: IO,
    runtime: R,
    handler: H,
    config: Arc<ServerConfig>,
    shutdown: Listener,
    core: Connection,
    read_buf: Box<[u8]>,
    out: WriteQueue,
    /// Exchanges in progress by stream id (HTTP/1.1: at most one, stream 0).
    exchanges: Exchanges,
    /// HTTP/2: the handlers of the open streams.
    streams: FuturesUnordered<StreamHandler<H::Future>>,
    /// The core returned `NeedData`: only a read can produce events.
    need_data: bool,
    read_closed: bool,
    /// The peer broke the protocol; the core refuses all further events.
    errored: Option<RemoteProtocolError>,
    /// Take no new request: close once the exchanges in progress end.
    closing: bool,
    /// HTTP/2: our GOAWAY went out.
    goaway_sent: bool,
    /// Close as soon as the queued output is written.
    done: bool,
    /// Hand the IO over once the queued output is written.
    upgrade_to: Option<oneshot::Sender<Upgraded>>,
    /// Scratch lists, kept to reuse their allocation.
    ended: Vec<(u32, Option<http::HeaderMap>)>,
    stream_ids: Vec<u32>,
    requests: u64,
    /// Waiting for a request head since then (idle between requests).
    idle_since: Option<Instant>,
    /// HTTP/1.1: the first bytes of the next request head arrived then.
    head_since: Option<Instant>,
    /// Queued output has made no progress since then (the peer is not reading).
    write_stalled_since: Option<Instant>,
    /// The peer may still be sending when we close (we answered an error or
    /// left a body unread): linger, so a reset does not destroy our answer.
    linger: bool,
    /// Our write side is closed (`poll_close` completed).
    write_closed: bool,
    /// The lingering close started then; bytes discarded since.
    linger_since: Option<Instant>,
    lingered: u64,
    /// The one connection timer, for the earliest deadline.
    timer: Option<(Instant, Sleep)>,
}

impl<IO, R, H> Driver<IO, R, H>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    R: Runtime,
    H: Handler,
{
    fn new(io: IO, runtime: R, handler: H, config: Arc<ServerConfig>, shutdown: &Shutdown) -> Self {
        let core = Connection::with_config(Role::Server, config.connection_config());
        let now = runtime.now();
        Driver {
            io,
            runtime,
            handler,
            config,
            shutdown: shutdown.listener(),
            core,
            read_buf: vec![0; READ_SIZE].into_boxed_slice(),
            out: WriteQueue::default(),
            exchanges: Exchanges::default(),
            streams: FuturesUnordered::new(),
            need_data: true,
            read_closed: false,
            errored: None,
            closing: false,
            goaway_sent: false,
            done: false,
            upgrade_to: None,
            ended: Vec::new(),
            stream_ids: Vec::new(),
            requests: 0,
            idle_since: Some(now),
            head_since: None,
            write_stalled_since: None,
            linger: false,
            write_closed: false,
            linger_since: None,
            lingered: 0,
            timer: None,
        }
    }

    fn poll(
        &mut self,
        cx: &mut Context<'_>,
        mut in_flight: Pin<&mut Option<HandlerFuture<H::Future>>>,
    ) -> Poll<io::Result<Exit>> {
        loop {
            match self.shutdown.poll_phase(cx) {
                Phase::Running => {}
                Phase::Graceful => self.begin_graceful_close(),
                Phase::Forced => return Poll::Ready(Ok(Exit::Closed)),
            }
            if self.write_closed {
                return self.poll_finish(cx);
            }

            while !self.done && self.upgrade_to.is_none() {
                let mut progress = self.process_events(cx, in_flight.as_mut());
                progress |= self.poll_handlers(cx, in_flight.as_mut());
                progress |= self.poll_response_bodies(cx);
                self.acknowledge_consumed(cx);
                progress |= self.end_exchanges();
                if !progress {
                    break;
                }
            }

            self.out.take_from(&mut self.core);
            let queued = self.out.len();
            let wrote = match self.out.poll_write(&mut self.io, cx) {
                Poll::Ready(Ok(wrote)) => {
                    self.write_stalled_since = None;
                    wrote
                }
                Poll::Ready(Err(e)) if is_disconnect(&e) => return Poll::Ready(Ok(Exit::Closed)),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    self.write_pending(self.out.len() < queued);
                    match self.poll_timeout(cx) {
                        Poll::Ready(Expired::Continue) => continue,
                        Poll::Ready(Expired::Close) => return Poll::Ready(Ok(Exit::Closed)),
                        Poll::Pending => return Poll::Pending,
                    }
                }
            };
            if let Some(tx) = self.upgrade_to.take() {
                return Poll::Ready(Ok(Exit::Upgrade(tx)));
            }
            if self.done {
                return self.poll_finish(cx);
            }
            if wrote {
                continue;
            }
            if self.wants_read(cx) {
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
    }

    fn is_http2(&self) -> bool {
        self.core.protocol() == Protocol::Http2
    }

    // ---- reading ----

    fn wants_read(&mut self, cx: &mut Context<'_>) -> bool {
        if self.read_closed || !self.need_data || self.errored.is_some() {
            return false;
        }
        if self.is_http2() {
            // Flow control bounds what the peer may send; control frames must flow.
            return true;
        }
        let limit = self.config.body_buffer;
        match self.exchanges.get(&0) {
            None => !self.closing,
            Some(ex) if ex.request_done => false,
            Some(ex) if matches!(ex.response, ResponseState::Done) => true,
            Some(ex) if ex.expect_continue && !ex.continue_sent => false,
            Some(ex) => ex.body.as_ref().map_or(true, |b| b.poll_room(limit, cx)),
        }
    }

    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let n = match Pin::new(&mut self.io).poll_read(cx, &mut self.read_buf) {
            Poll::Ready(Ok(n)) => n,
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {
                return Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) if is_disconnect(&e) => 0,
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        };
        trace!(bytes = n, "read");
        if n == 0 {
            self.read_closed = true;
        }
        self.core.receive_data(&self.read_buf[..n]);
        if n > 0 && self.exchanges.is_empty() && self.head_since.is_none() && !self.is_http2() {
            self.head_since = Some(self.runtime.now());
        }
        self.need_data = false;
        Poll::Ready(Ok(()))
    }

    // ---- events ----

    fn process_events(
        &mut self,
        cx: &mut Context<'_>,
        mut in_flight: Pin<&mut Option<HandlerFuture<H::Future>>>,
    ) -> bool {
        let mut progress = false;
        let http2 = self.is_http2();
        while self.errored.is_none() && !self.done {
            if !http2 {
                if let Some(ex) = self.exchanges.get(&0) {
                    if ex.request_done {
                        break;
                    }
                    let has_room = match &ex.body {
                        Some(b) if !matches!(ex.response, ResponseState::Done) => {
                            b.poll_room(self.config.body_buffer, cx)
                        }
                        _ => true,
                    };
                    if !has_room {
                        break;
                    }
                }
            }
            match self.core.next_event() {
                Ok(Event::Request(request)) => self.start_exchange(request, in_flight.as_mut()),
                Ok(Event::Data(data)) => self.on_data(data),
                Ok(Event::EndOfMessage(end)) => self.on_end_of_message(end),
                Ok(Event::NeedData) => {
                    self.need_data = true;
                    if self.read_closed {
                        // The core saw EOF and has nothing more to say.
                        self.on_peer_closed();
                    }
                    break;
                }
                Ok(Event::Paused) => break,
                Ok(Event::ConnectionClosed) => {
                    self.read_closed = true;
                    self.on_peer_closed();
                    break;
                }
                Ok(Event::StreamReset {
                    stream_id,
                    error_code,
                    remote,
                }) => {
                    debug!(stream_id, ?error_code, remote, "stream reset");
                    self.drop_exchange(stream_id);
                }
                Ok(Event::GoAway { error_code, .. }) => {
                    debug!(?error_code, "peer sent GOAWAY");
                }
                // Blocked response bodies are retried every round; nothing else to do.
                Ok(other) => trace!(?other, "connection event"),
                Err(Error::Remote(e)) => {
                    self.on_remote_error(e);
                    progress = true;
                    break;
                }
                Err(Error::Local(e)) => {
                    warn!(error = %e, "core refused to continue");
                    self.done = true;
                    break;
                }
            }
            progress = true;
        }
        progress
    }

    fn on_peer_closed(&mut self) {
        self.closing = true;
        if self.exchanges.is_empty() {
            self.done = true;
        }
    }

    fn start_exchange(
        &mut self,
        request: zttp_core::Request,
        mut in_flight: Pin<&mut Option<HandlerFuture<H::Future>>>,
    ) {
        let http2 = self.is_http2();
        self.requests += 1;
        self.idle_since = None;
        self.head_since = None;
        let span = tracing::debug_span!(
            "request",
            stream = request.stream_id,
            method = tracing::field::Empty,
            target = tracing::field::Empty
        );
        if !span.is_disabled() {
            span.record("method", String::from_utf8_lossy(&request.method).as_ref());
            span.record("target", String::from_utf8_lossy(&request.target).as_ref());
        }
        let has_body = convert::announces_body(&request);
        let content_length = convert::content_length(&request);
        let (body, sender) = if has_body {
            let (incoming, sender) = body::channel(content_length);
            (Body::incoming(incoming), Some(sender))
        } else {
            (Body::empty(), None)
        };
        // HTTP/1.1 bodies are limited by the core; an HTTP/2 body declared too
        // large fails before any of it arrives.
        let over_limit = http2 && self.body_over_limit(content_length.unwrap_or(0));
        if over_limit {
            if let Some(sender) = &sender {
                sender.fail(body_too_large());
            }
        }
        let connect = !http2 && &request.method[..] == b"CONNECT";
        let wants_upgrade = connect || self.core.upgrade().is_some();
        let stream_id = request.stream_id;
        let mut exchange = Exchange {
            stream_id,
            span,
            head_request: &request.method[..] == b"HEAD",
            connect,
            consumption: sender.as_ref().filter(|_| http2).map(|s| s.consumption()),
            body: sender.filter(|_| !over_limit),
            unacknowledged: 0,
            received: 0,
            over_limit,
            request_done: false,
            expect_continue: request.expect_continue && has_body,
            continue_sent: false,
            upgrade: None,
            response: ResponseState::Waiting,
            unsent: bytes::Bytes::new(),
            discarded: 0,
            abort: None,
        };
        let _entered = exchange.span.clone().entered();
        match convert::request(request, body, self.config.raw_request) {
            Ok(mut request) => {
                if wants_upgrade {
                    let (on_upgrade, tx) = OnUpgrade::pair();
                    request.extensions_mut().insert(on_upgrade);
                    exchange.upgrade = Some(tx);
                }
                debug!("request");
                let future = AssertUnwindSafe(self.handler.call(request)).catch_unwind();
                if http2 {
                    let (handler, abort) = StreamHandler::new(stream_id, future);
                    exchange.abort = Some(abort);
                    self.streams.push(handler);
                } else {
                    in_flight.set(Some(future));
                }
                self.exchanges.insert(stream_id, exchange);
            }
            Err(_) => {
                debug!("request head cannot be represented; answering 400");
                self.exchanges.insert(stream_id, exchange);
                if !http2 {
                    self.closing = true;
                }
                self.begin_response(stream_id, StatusCode::BAD_REQUEST.into_response_body());
            }
        }
    }

    fn on_data(&mut self, data: Data) {
        let http2 = self.is_http2();
        let len = data.data.len();
        let Some(ex) = self.exchanges.get_mut(&data.stream_id) else {
            if http2 {
                // A stream we dropped: its bytes still count against the connection window.
                let _ = self.core.acknowledge_received_data(data.stream_id, len);
            }
            return;
        };
        if http2 {
            ex.received += len as u64;
            let max = self.config.max_body_size;
            if !ex.over_limit && max.is_some_and(|max| ex.received > max) {
                ex.over_limit = true;
                if let Some(body) = ex.body.take() {
                    body.fail(body_too_large());
                }
            }
            if ex.over_limit {
                // Connection credit only: the stream stays throttled until it ends.
                let _ = self.core.acknowledge_received_data(0, len);
                if ex.is_streaming() {
                    // The response head is out: no 413 can follow, reset instead.
                    debug!(parent: &ex.span, "request body over the limit; resetting");
                    let stream_id = ex.stream_id;
                    let _ = self.core.reset_stream(stream_id, ErrorCode::CANCEL);
                    self.drop_exchange(stream_id);
                }
                return;
            }
        }
        let delivered = match (&ex.body, &ex.response) {
            (Some(body), ResponseState::Waiting | ResponseState::Streaming(_)) => {
                body.push(data.data)
            }
            _ => false,
        };
        if http2 {
            if delivered {
                ex.unacknowledged += len as u64;
            } else {
                let _ = self.core.acknowledge_received_data(data.stream_id, len);
            }
            return;
        }
        if !delivered {
            ex.discarded += len as u64;
            if ex.discarded > self.config.max_drain {
                debug!("unread request body exceeds the drain limit; closing");
                self.closing = true;
                self.linger = true;
                ex.body = None;
                if matches!(ex.response, ResponseState::Done) {
                    self.done = true;
                }
            }
        }
    }

    /// HTTP/2: a request body of `len` bytes is larger than `max_body_size`.
    fn body_over_limit(&self, len: u64) -> bool {
        self.config.max_body_size.is_some_and(|max| len > max)
    }

    fn on_end_of_message(&mut self, end: EndOfMessage) {
        let Some(ex) = self.exchanges.get_mut(&end.stream_id) else {
            return;
        };
        ex.request_done = true;
        if let Some(body) = ex.body.take() {
            body.finish(convert::trailers(end.trailers));
        }
    }

    fn on_remote_error(&mut self, e: RemoteProtocolError) {
        debug!(error = %e, "peer protocol error");
        self.errored = Some(e);
        self.closing = true;
        if self.is_http2() {
            // The core queued GOAWAY with the error code: flush it, then close.
            self.linger = true;
            for ex in self.exchanges.values_mut() {
                if let Some(body) = ex.body.take() {
                    body.fail(BodyError::remote(e));
                }
            }
            self.done = true;
            return;
        }
        match self.exchanges.get_mut(&0) {
            Some(ex) => {
                // The handler sees the error in its body and answers (or we do, below).
                if let Some(body) = ex.body.take() {
                    body.fail(BodyError::remote(e));
                }
            }
            None => {
                // A broken head: no handler will answer it.
                if self.read_closed {
                    self.done = true;
                } else {
                    self.answer_error(e.status());
                }
            }
        }
    }

    /// Answers a peer's protocol error with an empty `status` response, then
    /// closes. The core frames it (with `Connection: close`), or refuses when
    /// the peer is not owed an answer; either way the connection ends.
    fn answer_error(&mut self, status: u16) {
        let response = zttp_core::Response::new(status)
            .with_header("date", http_date(self.runtime.now()))
            .with_header("content-length", "0");
        let sent = self
            .core
            .send(response)
            .and_then(|()| self.core.send(EndOfMessage::default()));
        match sent {
            // Keep the peer's further bytes from resetting the answer away.
            Ok(()) => self.linger = true,
            Err(e) => debug!(error = %e, "protocol error not answered"),
        }
        self.done = true;
    }

    /// HTTP/2: forgets a stream that ended early (reset, or abandoned): stops its
    /// handler, fails its body, and grants back the credit its bytes held.
    fn drop_exchange(&mut self, stream_id: u32) {
        let Some(mut ex) = self.exchanges.remove(&stream_id) else {
            return;
        };
        if let Some(abort) = ex.abort.take() {
            abort.abort();
        }
        if let Some(body) = ex.body.take() {
            body.fail(BodyError::incomplete());
        }
        self.release_exchange_credit(&ex);
        self.exchange_removed();
    }

    fn release_exchange_credit(&mut self, ex: &Exchange) {
        if ex.unacknowledged > 0 {
            let n = usize::try_from(ex.unacknowledged).unwrap_or(usize::MAX);
            let _ = self.core.acknowledge_received_data(ex.stream_id, n);
        }
    }

    fn exchange_removed(&mut self) {
        if self.exchanges.is_empty() {
            self.idle_since = Some(self.runtime.now());
            if self.closing {
                self.done = true;
            }
        }
    }

    // ---- handlers ----

    fn poll_handlers(
        &mut self,
        cx: &mut Context<'_>,
        in_flight: Pin<&mut Option<HandlerFuture<H::Future>>>,
    ) -> bool {
        if !self.is_http2() {
            return self.poll_inline_handler(cx, in_flight);
        }
        let mut progress = false;
        while let Poll::Ready(Some((stream_id, outcome))) = self.streams.poll_next_unpin(cx) {
            let Ok(outcome) = outcome else {
                continue; // reset: the exchange is gone already
            };
            progress = true;
            let response = self.outcome_response(stream_id, outcome);
            if let Some(ex) = self.exchanges.get_mut(&stream_id) {
                ex.abort = None;
                self.begin_response(stream_id, response);
            }
        }
        let waiting: Vec<u32> = self
            .exchanges
            .values()
            .filter(|ex| ex.expect_continue && !ex.continue_sent)
            .map(|ex| ex.stream_id)
            .collect();
        for stream_id in waiting {
            progress |= self.send_continue_if_wanted(stream_id, cx);
        }
        progress
    }

    fn poll_inline_handler(
        &mut self,
        cx: &mut Context<'_>,
        mut in_flight: Pin<&mut Option<HandlerFuture<H::Future>>>,
    ) -> bool {
        let Some(future) = in_flight.as_mut().as_pin_mut() else {
            return false;
        };
        let Some(ex) = self.exchanges.get(&0) else {
            in_flight.set(None);
            return false;
        };
        let polled = {
            let _entered = ex.span.enter();
            future.poll(cx)
        };
        let Poll::Ready(outcome) = polled else {
            return self.send_continue_if_wanted(0, cx);
        };
        in_flight.set(None);
        let response = self.outcome_response(0, outcome);
        self.begin_response(0, response);
        true
    }

    /// The response to send for a handler's outcome: a panic becomes `500`.
    fn outcome_response(&self, stream_id: u32, outcome: exchange::Outcome) -> http::Response<Body> {
        match outcome {
            Ok(response) => response,
            Err(panic) => {
                let message = panic_message(&panic);
                match self.exchanges.get(&stream_id) {
                    Some(ex) => {
                        error!(parent: &ex.span, panic = message, "handler panicked; answering 500")
                    }
                    None => error!(panic = message, "handler panicked"),
                }
                StatusCode::INTERNAL_SERVER_ERROR.into_response_body()
            }
        }
    }

    /// `Expect: 100-continue`: the `100` goes out when the handler first polls the body.
    fn send_continue_if_wanted(&mut self, stream_id: u32, cx: &mut Context<'_>) -> bool {
        let http2 = self.is_http2();
        let Some(ex) = self.exchanges.get_mut(&stream_id) else {
            return false;
        };
        if !ex.expect_continue || ex.continue_sent || self.errored.is_some() {
            return false;
        }
        if !matches!(ex.response, ResponseState::Waiting) {
            return false;
        }
        if !ex.body.as_ref().is_some_and(|b| b.poll_wanted(cx)) {
            return false;
        }
        ex.continue_sent = true;
        let sent = if http2 {
            let mut interim = zttp_core::Response::new(100);
            interim.stream_id = stream_id;
            self.core.send(interim)
        } else {
            self.core.send_informational(100)
        };
        if let Err(e) = sent {
            debug!(error = %e, "could not send 100 Continue");
        }
        true
    }

    /// Sends the response head, and the whole response when it has no body.
    fn begin_response(&mut self, stream_id: u32, response: http::Response<Body>) {
        let http2 = self.is_http2();
        let Some(ex) = self.exchanges.get_mut(&stream_id) else {
            return;
        };
        let _entered = ex.span.clone().entered();
        let (parts, body) = response.into_parts();
        let status = parts.status.as_u16();
        debug!(status, "response");
        if let Some(e) = self.errored {
            // HTTP/2: the connection failed; nothing more goes out. HTTP/1.1: the
            // core lets a server answer the peer's error once, then close; a
            // handler's error answer goes out as written, anything else
            // becomes the error's own status.
            if http2 || !(400..600).contains(&status) {
                ex.response = ResponseState::Done;
                if !http2 {
                    self.answer_error(e.status());
                }
                return;
            }
        }
        let upgrading = !http2
            && ex.upgrade.is_some()
            && (status == 101 || ex.connect && (200..300).contains(&status));
        let bodyless = ex.head_request || upgrading || matches!(status, 100..=199 | 204 | 304);
        let present = convert::PresentFields::of(&parts.headers);
        let content_length = match body.size_hint().exact() {
            _ if present.framing => None,
            _ if upgrading || matches!(status, 100..=199 | 204 | 304) => None,
            Some(0) if ex.head_request => None,
            n => n,
        };
        // Close when shutting down, or when an expected body will never be read.
        let unwanted_body = ex.expect_continue && !ex.continue_sent && !ex.request_done;
        let close = (self.closing || unwanted_body) && !http2 && !present.connection;
        let date = (!present.date).then(|| http_date(self.runtime.now()));
        let mut digits = convert::Decimal::default();
        let content_length = content_length.map(|n| digits.format(n));
        let fields = parts
            .headers
            .iter()
            .map(|(name, value)| (name.as_str().as_bytes(), value.as_bytes()))
            .chain(date.as_deref().map(|date| (&b"date"[..], date)))
            .chain(content_length.map(|n| (&b"content-length"[..], n)))
            .chain(close.then_some((&b"connection"[..], &b"close"[..])));
        let sent = self.core.send_response_head(stream_id, status, fields);
        if let Err(e) = sent {
            ex.response = ResponseState::Done;
            if http2 {
                error!(error = %e, status, "response head refused; resetting the stream");
                let _ = self.core.reset_stream(stream_id, ErrorCode::INTERNAL_ERROR);
                self.drop_exchange(stream_id);
            } else {
                error!(error = %e, status, "response head refused; answering 500");
                self.answer_error(500);
            }
            return;
        }
        if upgrading {
            ex.response = ResponseState::Done;
            self.upgrade_to = ex.upgrade.take();
            return;
        }
        ex.upgrade = None;
        if bodyless || body.is_end_stream() {
            self.end_response(EndOfMessage {
                stream_id,
                ..EndOfMessage::default()
            });
        } else {
            ex.response = ResponseState::Streaming(body);
        }
    }

    // ---- response bodies ----

    /// Sends response body pieces of every streaming exchange, within the
    /// peer's flow-control windows and the output high-water mark; HTTP/2
    /// streams take turns, one piece each per round.
    fn poll_response_bodies(&mut self, cx: &mut Context<'_>) -> bool {
        let http2 = self.is_http2();
        let max = if http2 { H2_PIECE } else { usize::MAX };
        let mut progress = false;
        // Reused lists: no allocation per response.
        let mut ended = std::mem::take(&mut self.ended);
        let mut failed = std::mem::take(&mut self.stream_ids);
        loop {
            let mut moved = false;
            for ex in self.exchanges.values_mut() {
                if !ex.is_streaming() {
                    continue;
                }
                if self.core.pending_send_len() + self.out.len() >= WRITE_HIGH_WATER {
                    break;
                }
                let window = self.core.send_window(ex.stream_id);
                match next_body_step(ex, window, max, cx) {
                    BodyStep::Blocked => {}
                    BodyStep::Data(data) if data.is_empty() => moved = true,
                    BodyStep::Data(data) => {
                        moved = true;
                        let stream_id = ex.stream_id;
                        if let Err(e) = self.core.send(Data { stream_id, data }) {
                            warn!(parent: &ex.span, error = %e, "response body refused");
                            failed.push(stream_id);
                        }
                    }
                    BodyStep::End(trailers) => {
                        moved = true;
                        ex.response = ResponseState::Done;
                        ended.push((ex.stream_id, trailers));
                    }
                    BodyStep::Failed => {
                        moved = true;
                        ex.response = ResponseState::Done;
                        failed.push(ex.stream_id);
                    }
                }
            }
            for (stream_id, trailers) in ended.drain(..) {
                let trailers = trailers.map(|t| convert::fields(&t)).unwrap_or_default();
                self.end_response(EndOfMessage {
                    stream_id,
                    trailers,
                });
            }
            for stream_id in failed.drain(..) {
                if http2 {
                    let _ = self.core.reset_stream(stream_id, ErrorCode::INTERNAL_ERROR);
                    self.drop_exchange(stream_id);
                } else {
                    // The response cannot be completed: the framing is broken, close.
                    self.done = true;
                }
            }
            progress |= moved;
            if !moved || self.done {
                break;
            }
        }
        self.ended = ended;
        self.stream_ids = failed;
        progress
    }

    fn end_response(&mut self, end: EndOfMessage) {
        let stream_id = end.stream_id;
        if let Some(ex) = self.exchanges.get_mut(&stream_id) {
            ex.response = ResponseState::Done;
        }
        let result = match self.core.send(end) {
            Err(zttp_core::LocalProtocolError::TrailersNotAllowed) => {
                self.core.send(EndOfMessage {
                    stream_id,
                    ..EndOfMessage::default()
                })
            }
            other => other,
        };
        if let Err(e) = result {
            warn!(error = %e, "end of response refused");
            if self.is_http2() {
                let _ = self.core.reset_stream(stream_id, ErrorCode::INTERNAL_ERROR);
                self.drop_exchange(stream_id);
            } else {
                self.done = true;
            }
        }
    }

    /// HTTP/2: grants the peer credit for the request body bytes handlers consumed.
    fn acknowledge_consumed(&mut self, cx: &mut Context<'_>) {
        if !self.is_http2() || self.errored.is_some() {
            return;
        }
        for ex in self.exchanges.values_mut() {
            let Some(consumption) = &ex.consumption else {
                continue;
            };
            let n = consumption.poll_take(cx);
            if n > 0 {
                ex.unacknowledged = ex.unacknowledged.saturating_sub(n as u64);
                let _ = self.core.acknowledge_received_data(ex.stream_id, n);
            }
        }
    }

    // ---- ending exchanges ----

    /// Removes the exchanges whose request and response are both complete.
    /// HTTP/1.1 then starts the next cycle (or decides to close).
    fn end_exchanges(&mut self) -> bool {
        if self.done {
            return false;
        }
        if self.is_http2() {
            return self.end_streams();
        }
        let Some(ex) = self.exchanges.get_mut(&0) else {
            return false;
        };
        if !matches!(ex.response, ResponseState::Done) {
            return false;
        }
        if !ex.request_done {
            if ex.expect_continue && !ex.continue_sent {
                // The client waits for our go-ahead that never comes: do not read
                // a body no one wanted, close instead.
                debug!("answered without reading an expected body; closing");
                self.done = true;
                self.linger = true;
                return true;
            }
            if self.errored.is_some() {
                self.done = true;
                self.linger = true;
                return true;
            }
            // Drain the unread body (bounded by max_drain in on_data).
            if ex.body.take().is_some() {
                return true;
            }
            return false;
        }
        self.exchanges.remove(&0);
        if self.closing || self.core.should_close() {
            self.done = true;
            return true;
        }
        match self.core.start_next_cycle() {
            Ok(()) => {
                self.idle_since = Some(self.runtime.now());
                self.need_data = false;
            }
            Err(e) => {
                debug!(error = %e, "cannot start the next cycle; closing");
                self.done = true;
            }
        }
        true
    }

    fn end_streams(&mut self) -> bool {
        let mut ended = std::mem::take(&mut self.stream_ids);
        ended.extend(
            self.exchanges
                .values()
                .filter(|ex| {
                    ex.request_done && matches!(ex.response, ResponseState::Done)
                        || ex.request_abandoned()
                })
                .map(|ex| ex.stream_id),
        );
        let progress = !ended.is_empty();
        for stream_id in ended.drain(..) {
            let Some(ex) = self.exchanges.remove(&stream_id) else {
                continue;
            };
            if !ex.request_done {
                // Answered without reading the whole request: tell the peer to
                // stop sending it (RFC 9113 §8.1).
                let _ = self.core.reset_stream(stream_id, ErrorCode::NO_ERROR);
                if let Some(body) = &ex.body {
                    body.fail(BodyError::incomplete());
                }
            }
            self.release_exchange_credit(&ex);
            self.exchange_removed();
        }
        self.stream_ids = ended;
        if self.core.should_close() && (self.exchanges.is_empty() || self.errored.is_some()) {
            self.done = true;
            return true;
        }
        progress
    }

    // ---- shutdown and timeouts ----

    fn begin_graceful_close(&mut self) {
        if self.is_http2() {
            if !self.goaway_sent {
                self.goaway_sent = true;
                let _ = self.core.goaway(ErrorCode::NO_ERROR, b"");
            }
            self.closing = true;
            if self.exchanges.is_empty() {
                self.done = true;
            }
            return;
        }
        if self.closing && !self.exchanges.is_empty() {
            return;
        }
        self.closing = true;
        if self.exchanges.is_empty() {
            self.done = true;
        }
    }

    /// The deadline for the next request head: the header-read timeout once its
    /// first bytes arrived (and for a new connection), the keep-alive timeout while idle.
    fn head_deadline(&self) -> Option<Instant> {
        if !self.exchanges.is_empty() || self.done {
            return None;
        }
        match (self.head_since, self.idle_since) {
            (Some(t), _) => Some(t + self.config.header_read_timeout?),
            (None, Some(t)) if self.requests == 0 => Some(t + self.config.header_read_timeout?),
            (None, Some(t)) => Some(t + self.config.keep_alive_timeout?),
            (None, None) => None,
        }
    }

    /// The earliest deadline the connection timer must watch, and what it is for.
    fn next_deadline(&self) -> Option<(Instant, Deadline)> {
        let head = self.head_deadline().map(|t| (t, Deadline::Head));
        let write = self
            .write_stalled_since
            .zip(self.config.write_timeout)
            .map(|(since, timeout)| (since + timeout, Deadline::WriteStalled));
        let linger = self
            .linger_since
            .map(|since| (since + LINGER_TIMEOUT, Deadline::Linger));
        [head, write, linger]
            .into_iter()
            .flatten()
            .min_by_key(|(at, _)| *at)
    }

    /// Polls the connection timer: `Ready` when a deadline passed, with what to do next.
    ///
    /// One timer serves every deadline, armed lazily: when it fires early
    /// because the deadline moved later (every request, every write that makes
    /// progress moves one), it is re-armed for the rest, so a busy connection
    /// creates about one timer per timeout period, not one per request or write.
    fn poll_timeout(&mut self, cx: &mut Context<'_>) -> Poll<Expired> {
        let Some((deadline, kind)) = self.next_deadline() else {
            return Poll::Pending;
        };
        loop {
            if let Some((at, sleep)) = &mut self.timer {
                if *at <= deadline {
                    if sleep.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    self.timer = None;
                }
            }
            let now = self.runtime.now();
            if now >= deadline {
                self.timer = None;
                return Poll::Ready(self.on_deadline(kind));
            }
            if self.timer.is_none() || self.timer.as_ref().is_some_and(|(at, _)| *at > deadline) {
                self.timer = Some((deadline, self.runtime.sleep(deadline - now)));
            }
        }
    }

    fn on_deadline(&mut self, kind: Deadline) -> Expired {
        match kind {
            Deadline::WriteStalled => {
                debug!(
                    queued = self.out.len(),
                    "peer stopped reading (write timeout); closing"
                );
                return Expired::Close;
            }
            Deadline::Linger => {
                debug!(discarded = self.lingered, "lingering close timed out");
                return Expired::Close;
            }
            Deadline::Head => {}
        }
        if self.is_http2() {
            debug!("idle HTTP/2 connection timed out");
            if !self.goaway_sent {
                self.goaway_sent = true;
                let _ = self.core.goaway(ErrorCode::NO_ERROR, b"");
            }
            self.done = true;
        } else if self.head_since.is_some() {
            debug!("request head too slow; answering 408");
            self.answer_error(408);
        } else {
            debug!("idle connection timed out");
            self.done = true;
        }
        Expired::Continue
    }

    /// Output is waiting on the peer: starts (or, when `progressed`, restarts)
    /// the write-stall clock.
    fn write_pending(&mut self, progressed: bool) {
        if self.config.write_timeout.is_some() && (progressed || self.write_stalled_since.is_none())
        {
            self.write_stalled_since = Some(self.runtime.now());
        }
    }

    /// Ends the connection once everything is written: closes our write side,
    /// then, when the peer may still be sending ([`linger`](Self::linger)),
    /// reads and discards its bytes until it closes too, or for at most
    /// [`LINGER_TIMEOUT`] and [`LINGER_MAX_BYTES`]. Closing a socket with
    /// unread input makes the kernel send a reset, which can destroy the
    /// answer before the peer has read it.
    fn poll_finish(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Exit>> {
        loop {
            if !self.write_closed {
                match Pin::new(&mut self.io).poll_close(cx) {
                    Poll::Ready(Ok(())) => {
                        self.write_closed = true;
                        self.write_stalled_since = None;
                    }
                    Poll::Ready(Err(e)) if is_disconnect(&e) => {
                        return Poll::Ready(Ok(Exit::Closed))
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {
                        // Closing may wait for output to drain: bound it like a write.
                        self.write_pending(false);
                        match self.poll_timeout(cx) {
                            Poll::Ready(Expired::Continue) => continue,
                            Poll::Ready(Expired::Close) => return Poll::Ready(Ok(Exit::Closed)),
                            Poll::Pending => return Poll::Pending,
                        }
                    }
                }
            }
            if !self.linger || self.read_closed {
                return Poll::Ready(Ok(Exit::Closed));
            }
            if self.linger_since.is_none() {
                debug!("lingering: discarding what the peer still sends");
                self.linger_since = Some(self.runtime.now());
            }
            match Pin::new(&mut self.io).poll_read(cx, &mut self.read_buf) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Ok(Exit::Closed)),
                Poll::Ready(Ok(n)) => {
                    self.lingered += n as u64;
                    if self.lingered >= LINGER_MAX_BYTES {
                        debug!(discarded = self.lingered, "lingering close read its limit");
                        return Poll::Ready(Ok(Exit::Closed));
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
}

/// The error a request body larger than `max_body_size` fails with (`413`).
fn body_too_large() -> BodyError {
    BodyError::remote(RemoteProtocolError::new(RemoteErrorKind::BodyTooLarge))
}

/// Errors that only mean the peer went away.
fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::NotConnected
    )
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> &str {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic)")
}

/// An empty-bodied response with a status, as the loop's own answers.
trait StatusResponse {
    fn into_response_body(self) -> http::Response<Body>;
}

impl StatusResponse for StatusCode {
    fn into_response_body(self) -> http::Response<Body> {
        crate::IntoResponse::into_response(self)
    }
}

#[cfg(test)]
mod tests;
