//! The connection drive loop: one loop for every adapter and protocol.
//!
//! Each turn of [`Driver::poll`] runs the stages below until none can make
//! progress, then writes everything queued in one vectored write, then reads:
//!
//! ```text
//!   core.next_event ─▶ exchanges (request → handler, body → Body channel)
//!   handler future  ─▶ response head ─▶ response body frames ─▶ core.send
//!   core.poll_transmit ─▶ WriteQueue ─▶ one vectored write
//!   socket read ─▶ core.receive_data            (only when the core needs data
//!                                                 and the request body has room)
//! ```
//!
//! An *exchange* is one request/response pair, keyed by stream id. HTTP/1.1
//! has one at a time (stream 0); the core pauses pipelined requests until the
//! exchange ends, so responses leave in order while the read-ahead waits in the
//! core's buffer. The handler future of an HTTP/1.1 exchange is polled inline
//! in the connection task: no spawn, no allocation per request.

mod convert;
mod write;

use std::future::{poll_fn, Future};
use std::io;
use std::panic::AssertUnwindSafe;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use futures::channel::oneshot;
use futures::future::CatchUnwind;
use futures::FutureExt;
use futures_io::{AsyncRead, AsyncWrite};
use http::{header, StatusCode};
use http_body::Body as _;
use tracing::{debug, error, trace, warn, Span};
use zttp_core::{Connection, Data, EndOfMessage, Error, Event, RemoteProtocolError, Role};

use crate::body::{self, Body, BodyError, BodySender};
use crate::date::http_date;
use crate::shutdown::{Listener, Phase};
use crate::upgrade::{OnUpgrade, Upgraded};
use crate::{Handler, Runtime, ServerConfig, Shutdown};
use write::WriteQueue;

/// Bytes read from the socket per read call (the buffer is reused).
const READ_SIZE: usize = 16 * 1024;
/// Queued output beyond which response bodies are not polled until it drains.
const WRITE_HIGH_WATER: usize = 64 * 1024;

static CONNECTION_IDS: AtomicU64 = AtomicU64::new(0);

/// Serves HTTP on one connection until it closes, then returns.
///
/// `io` is any futures-io stream (adapters wrap their sockets). Speaks
/// HTTP/1.1 (and, with `config.core.protocol = Auto`, detects h2c by its
/// preface), answers every request with `handler`, and keeps the connection
/// alive until the peer closes it, a timeout fires, or `shutdown` triggers.
/// After an accepted upgrade the IO is handed to the handler (see
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

type HandlerFuture<F> = CatchUnwind<AssertUnwindSafe<F>>;
type Sleep = Pin<Box<dyn Future<Output = ()> + Send>>;

/// How the loop ended.
enum Exit {
    Closed,
    Upgrade(oneshot::Sender<Upgraded>),
}

/// Where an exchange's response is.
enum ResponseState {
    /// The handler is still working.
    Waiting,
    /// The head is sent; body frames are being sent.
    Streaming(Body),
    /// The response is complete.
    Done,
}

/// One request/response pair (one HTTP/2 stream; the one HTTP/1.1 cycle).
struct Exchange {
    stream_id: u32,
    span: Span,
    head_request: bool,
    connect: bool,
    /// Feeds the handler's request body; `None` once the body ended or when there is none.
    body: Option<BodySender>,
    request_done: bool,
    expect_continue: bool,
    continue_sent: bool,
    /// The request asked to switch protocols; the handler may hold the receiving end.
    upgrade: Option<oneshot::Sender<Upgraded>>,
    response: ResponseState,
    /// Body bytes read and thrown away because no one reads them.
    discarded: u64,
}

struct Driver<IO, R, H> {
    io: IO,
    runtime: R,
    handler: H,
    config: Arc<ServerConfig>,
    shutdown: Listener,
    core: Connection,
    read_buf: Box<[u8]>,
    out: WriteQueue,
    exchange: Option<Exchange>,
    /// The core returned `NeedData`: only a read can produce events.
    need_data: bool,
    read_closed: bool,
    /// The peer broke the protocol; the core refuses all further events.
    errored: Option<RemoteProtocolError>,
    /// Take no new request: close once the exchange in progress ends.
    closing: bool,
    /// Close as soon as the queued output is written.
    done: bool,
    /// Hand the IO over once the queued output is written.
    upgrade_to: Option<oneshot::Sender<Upgraded>>,
    requests: u64,
    /// Waiting for a request head since then (idle between requests).
    idle_since: Option<Instant>,
    /// The first bytes of the next request head arrived then.
    head_since: Option<Instant>,
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
            exchange: None,
            need_data: true,
            read_closed: false,
            errored: None,
            closing: false,
            done: false,
            upgrade_to: None,
            requests: 0,
            idle_since: Some(now),
            head_since: None,
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

            while !self.done && self.upgrade_to.is_none() {
                let mut progress = self.process_events(cx, in_flight.as_mut());
                progress |= self.poll_handler(cx, in_flight.as_mut());
                progress |= self.poll_response_body(cx);
                progress |= self.end_exchange();
                if !progress {
                    break;
                }
            }

            self.out.take_from(&mut self.core);
            let wrote = match self.out.poll_write(&mut self.io, cx) {
                Poll::Ready(Ok(wrote)) => wrote,
                Poll::Ready(Err(e)) if is_disconnect(&e) => return Poll::Ready(Ok(Exit::Closed)),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            if let Some(tx) = self.upgrade_to.take() {
                return Poll::Ready(Ok(Exit::Upgrade(tx)));
            }
            if self.done {
                return self.poll_close(cx);
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
            if self.poll_timeout(cx) {
                continue;
            }
            return Poll::Pending;
        }
    }

    // ---- reading ----

    fn wants_read(&mut self, cx: &mut Context<'_>) -> bool {
        if self.read_closed || !self.need_data || self.errored.is_some() {
            return false;
        }
        let limit = self.config.body_buffer;
        match &self.exchange {
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
        } else if self.exchange.is_none() && self.head_since.is_none() {
            self.head_since = Some(self.runtime.now());
        }
        self.core.receive_data(&self.read_buf[..n]);
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
        while self.errored.is_none() && !self.done {
            if let Some(ex) = &self.exchange {
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
            match self.core.next_event() {
                Ok(Event::Request(request)) => self.start_exchange(request, in_flight.as_mut()),
                Ok(Event::Data(data)) => self.on_data(data),
                Ok(Event::EndOfMessage(end)) => self.on_end_of_message(end),
                Ok(Event::NeedData) => {
                    self.need_data = true;
                    if self.read_closed {
                        // The core saw EOF and has nothing more to say.
                        self.closing = true;
                        if self.exchange.is_none() {
                            self.done = true;
                        }
                    }
                    break;
                }
                Ok(Event::Paused) => break,
                Ok(Event::ConnectionClosed) => {
                    self.read_closed = true;
                    self.closing = true;
                    if self.exchange.is_none() {
                        self.done = true;
                    }
                    break;
                }
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

    fn start_exchange(
        &mut self,
        request: zttp_core::Request,
        mut in_flight: Pin<&mut Option<HandlerFuture<H::Future>>>,
    ) {
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
        let (body, sender) = if has_body {
            let (incoming, sender) = body::channel(convert::content_length(&request));
            (Body::incoming(incoming), Some(sender))
        } else {
            (Body::empty(), None)
        };
        let connect = &request.method[..] == b"CONNECT";
        let wants_upgrade = connect || self.core.upgrade().is_some();
        let mut exchange = Exchange {
            stream_id: request.stream_id,
            span,
            head_request: &request.method[..] == b"HEAD",
            connect,
            body: sender,
            request_done: false,
            expect_continue: request.expect_continue && has_body,
            continue_sent: false,
            upgrade: None,
            response: ResponseState::Waiting,
            discarded: 0,
        };
        let _entered = exchange.span.clone().entered();
        match convert::request(request, body) {
            Ok(mut request) => {
                if wants_upgrade {
                    let (on_upgrade, tx) = OnUpgrade::pair();
                    request.extensions_mut().insert(on_upgrade);
                    exchange.upgrade = Some(tx);
                }
                debug!("request");
                in_flight.set(Some(
                    AssertUnwindSafe(self.handler.call(request)).catch_unwind(),
                ));
                self.exchange = Some(exchange);
            }
            Err(_) => {
                debug!("request head cannot be represented; answering 400");
                self.exchange = Some(exchange);
                self.closing = true;
                self.begin_response(StatusCode::BAD_REQUEST.into_response_body());
            }
        }
    }

    fn on_data(&mut self, data: Data) {
        let Some(ex) = self
            .exchange
            .as_mut()
            .filter(|ex| ex.stream_id == data.stream_id)
        else {
            return;
        };
        let delivered = match (&ex.body, &ex.response) {
            (Some(body), ResponseState::Waiting | ResponseState::Streaming(_)) => {
                body.push(data.data.clone())
            }
            _ => false,
        };
        if !delivered {
            ex.discarded += data.data.len() as u64;
            if ex.discarded > self.config.max_drain {
                debug!("unread request body exceeds the drain limit; closing");
                self.closing = true;
                ex.body = None;
                if matches!(ex.response, ResponseState::Done) {
                    self.done = true;
                }
            }
        }
    }

    fn on_end_of_message(&mut self, end: EndOfMessage) {
        let Some(ex) = self
            .exchange
            .as_mut()
            .filter(|ex| ex.stream_id == end.stream_id)
        else {
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
        match &mut self.exchange {
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

    /// Writes a minimal `status` answer past the core (it refuses to send after a
    /// peer error) and closes.
    fn answer_error(&mut self, status: u16) {
        let date = http_date(self.runtime.now());
        self.out.push(convert::error_response(status, &date));
        self.done = true;
    }

    // ---- the handler ----

    fn poll_handler(
        &mut self,
        cx: &mut Context<'_>,
        mut in_flight: Pin<&mut Option<HandlerFuture<H::Future>>>,
    ) -> bool {
        let Some(future) = in_flight.as_mut().as_pin_mut() else {
            return false;
        };
        let Some(ex) = self.exchange.as_mut() else {
            in_flight.set(None);
            return false;
        };
        let polled = {
            let _entered = ex.span.enter();
            future.poll(cx)
        };
        let response = match polled {
            Poll::Pending => return self.send_continue_if_wanted(cx),
            Poll::Ready(Ok(response)) => response,
            Poll::Ready(Err(panic)) => {
                let message = panic_message(&panic);
                error!(parent: &ex.span, panic = message, "handler panicked; answering 500");
                StatusCode::INTERNAL_SERVER_ERROR.into_response_body()
            }
        };
        in_flight.set(None);
        self.begin_response(response);
        true
    }

    /// `Expect: 100-continue`: the `100` goes out when the handler first polls the body.
    fn send_continue_if_wanted(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(ex) = self.exchange.as_mut() else {
            return false;
        };
        if !ex.expect_continue || ex.continue_sent || self.errored.is_some() {
            return false;
        }
        if !ex.body.as_ref().is_some_and(|b| b.poll_wanted(cx)) {
            return false;
        }
        ex.continue_sent = true;
        if let Err(e) = self.core.send_informational(100) {
            debug!(error = %e, "could not send 100 Continue");
        }
        true
    }

    /// Sends the response head, and the whole response when it has no body.
    fn begin_response(&mut self, response: http::Response<Body>) {
        let http2 = self.is_http2();
        let Some(ex) = self.exchange.as_mut() else {
            return;
        };
        let _entered = ex.span.clone().entered();
        let (parts, body) = response.into_parts();
        let status = parts.status.as_u16();
        debug!(status, "response");
        if let Some(e) = self.errored {
            // The core is in an error state and will not send: answer for the handler.
            let status = if (400..600).contains(&status) {
                status
            } else {
                e.status()
            };
            ex.response = ResponseState::Done;
            self.answer_error(status);
            return;
        }
        let upgrading =
            ex.upgrade.is_some() && (status == 101 || ex.connect && (200..300).contains(&status));
        let bodyless = ex.head_request || upgrading || matches!(status, 100..=199 | 204 | 304);
        let content_length = match body.size_hint().exact() {
            _ if convert::has_framing(&parts.headers) => None,
            _ if upgrading || matches!(status, 100..=199 | 204 | 304) => None,
            Some(0) if ex.head_request => None,
            n => n,
        };
        // Close when shutting down, or when an expected body will never be read.
        let unwanted_body = ex.expect_continue && !ex.continue_sent && !ex.request_done;
        let close = (self.closing || unwanted_body)
            && !http2
            && !parts.headers.contains_key(header::CONNECTION);
        let date =
            (!parts.headers.contains_key(header::DATE)).then(|| http_date(self.runtime.now()));
        let mut head = zttp_core::Response::new(status);
        head.stream_id = ex.stream_id;
        head.headers = convert::fields(
            &parts.headers,
            convert::Additions {
                date,
                content_length,
                close,
            },
        );
        if let Err(e) = self.core.send(head) {
            error!(error = %e, status, "response head refused; answering 500");
            ex.response = ResponseState::Done;
            self.answer_error(500);
            return;
        }
        if upgrading {
            ex.response = ResponseState::Done;
            self.upgrade_to = ex.upgrade.take();
            return;
        }
        ex.upgrade = None;
        if bodyless || body.is_end_stream() {
            ex.response = ResponseState::Done;
            let end = EndOfMessage {
                stream_id: ex.stream_id,
                ..EndOfMessage::default()
            };
            if let Err(e) = self.core.send(end) {
                error!(error = %e, "end of response refused");
                self.done = true;
            }
        } else {
            ex.response = ResponseState::Streaming(body);
        }
    }

    // ---- the response body ----

    fn poll_response_body(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(ex) = self.exchange.as_mut() else {
            return false;
        };
        let ResponseState::Streaming(body) = &mut ex.response else {
            return false;
        };
        let stream_id = ex.stream_id;
        let mut progress = false;
        while self.core.pending_send_len() + self.out.len() < WRITE_HIGH_WATER {
            let polled =
                std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(&mut *body).poll_frame(cx)));
            let frame = match polled {
                Ok(Poll::Pending) => break,
                Ok(Poll::Ready(Some(Ok(frame)))) => frame,
                Ok(Poll::Ready(None)) => {
                    progress = true;
                    self.end_response(EndOfMessage {
                        stream_id,
                        ..EndOfMessage::default()
                    });
                    break;
                }
                Ok(Poll::Ready(Some(Err(e)))) => {
                    warn!(parent: &ex.span, error = %e, "response body failed; closing");
                    self.done = true;
                    return true;
                }
                Err(panic) => {
                    error!(parent: &ex.span, panic = panic_message(&panic), "response body panicked; closing");
                    self.done = true;
                    return true;
                }
            };
            progress = true;
            match frame.into_data() {
                Ok(data) if data.is_empty() => {}
                Ok(data) => {
                    if let Err(e) = self.core.send(Data { stream_id, data }) {
                        warn!(parent: &ex.span, error = %e, "response body refused; closing");
                        self.done = true;
                        return true;
                    }
                }
                Err(frame) => {
                    let trailers = frame.into_trailers().unwrap_or_default();
                    let fields = convert::fields(
                        &trailers,
                        convert::Additions {
                            date: None,
                            content_length: None,
                            close: false,
                        },
                    );
                    self.end_response(EndOfMessage {
                        stream_id,
                        trailers: fields,
                    });
                    break;
                }
            }
        }
        progress
    }

    fn end_response(&mut self, end: EndOfMessage) {
        if let Some(ex) = self.exchange.as_mut() {
            ex.response = ResponseState::Done;
        }
        let stream_id = end.stream_id;
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
            warn!(error = %e, "end of response refused; closing");
            self.done = true;
        }
    }

    // ---- ending an exchange ----

    /// When both the request and the response are complete, starts the next
    /// cycle (or decides to close).
    fn end_exchange(&mut self) -> bool {
        let Some(ex) = self.exchange.as_mut() else {
            return false;
        };
        if !matches!(ex.response, ResponseState::Done) || self.done {
            return false;
        }
        if !ex.request_done {
            if ex.expect_continue && !ex.continue_sent {
                // The client waits for our go-ahead that never comes: do not read
                // a body no one wanted, close instead.
                debug!("answered without reading an expected body; closing");
                self.done = true;
                return true;
            }
            if self.errored.is_some() {
                self.done = true;
                return true;
            }
            // Drain the unread body (bounded by max_drain in on_data).
            if ex.body.take().is_some() {
                return true;
            }
            return false;
        }
        self.exchange = None;
        if self.is_http2() && !self.core.should_close() {
            // Streams need no cycle reset. They are served one after another for
            // now; running them concurrently is the HTTP/2 serving work.
            self.idle_since = Some(self.runtime.now());
            self.need_data = false;
            return true;
        }
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

    // ---- shutdown and timeouts ----

    fn begin_graceful_close(&mut self) {
        if self.closing && self.exchange.is_some() {
            return;
        }
        self.closing = true;
        if self.is_http2() {
            let _ = self.core.goaway(zttp_core::ErrorCode::NO_ERROR, b"");
        }
        if self.exchange.is_none() {
            self.done = true;
        }
    }

    fn is_http2(&self) -> bool {
        self.core.protocol() == zttp_core::Protocol::Http2
    }

    /// The deadline for the next request head: the header-read timeout once its
    /// first bytes arrived (and for a new connection), the keep-alive timeout while idle.
    fn head_deadline(&self) -> Option<Instant> {
        if self.exchange.is_some() || self.done {
            return None;
        }
        match (self.head_since, self.idle_since) {
            (Some(t), _) => Some(t + self.config.header_read_timeout?),
            (None, Some(t)) if self.requests == 0 => Some(t + self.config.header_read_timeout?),
            (None, Some(t)) => Some(t + self.config.keep_alive_timeout?),
            (None, None) => None,
        }
    }

    /// Polls the connection timer; true when a timeout fired (and was acted on).
    ///
    /// The timer is armed lazily: when it fires early because the deadline
    /// moved (every request moves it), it is re-armed for the rest, so a busy
    /// connection creates about one timer per timeout period, not one per request.
    fn poll_timeout(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(deadline) = self.head_deadline() else {
            return false;
        };
        loop {
            if let Some((at, sleep)) = &mut self.timer {
                if *at <= deadline {
                    if sleep.as_mut().poll(cx).is_pending() {
                        return false;
                    }
                    self.timer = None;
                }
            }
            let now = self.runtime.now();
            if now >= deadline {
                self.timer = None;
                if self.head_since.is_some() {
                    debug!("request head too slow; answering 408");
                    self.answer_error(408);
                } else {
                    debug!("idle connection timed out");
                    self.done = true;
                }
                return true;
            }
            if self.timer.is_none() || self.timer.as_ref().is_some_and(|(at, _)| *at > deadline) {
                self.timer = Some((deadline, self.runtime.sleep(deadline - now)));
            }
        }
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Exit>> {
        match Pin::new(&mut self.io).poll_close(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Ok(())) => Poll::Ready(Ok(Exit::Closed)),
            Poll::Ready(Err(e)) if is_disconnect(&e) => Poll::Ready(Ok(Exit::Closed)),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        }
    }
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
