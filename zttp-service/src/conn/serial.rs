//! The HTTP/1.1 dispatcher: one exchange at a time, in order.
//!
//! The core pauses pipelined requests until the exchange ends, so answers
//! leave in request order while the read-ahead waits in the core's buffer.
//! The handler future is polled inline in the connection task, in a slot
//! allocated once per connection. A request body is read only while it has
//! room (backpressure); `100 Continue` goes out when the handler first reads
//! the body; a body the handler left unread is drained (up to `max_drain`)
//! so the connection can be reused, or the connection closes.

use std::cell::Cell;
use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use bytes::Bytes;
use http::StatusCode;
use http_body::Body as _;
use tracing::{debug, error, trace, warn};
use zttp_core::{Data, Event, RemoteProtocolError, StreamId};

use super::convert::Unrepresentable;
use super::exchange::{next_body_step, BodyStep, Exchange, ResponseState};
use super::head::{self, AfterHead};
use super::{status_response, Conn, Lifecycle};
use crate::body::{Body, BodyError};
use crate::informational::Interim;
use crate::limits::Watch;
use crate::{Handler, Runtime};

/// Queued output beyond which response bodies are not polled until it drains.
pub(super) const WRITE_HIGH_WATER: usize = 64 * 1024;

pub(super) struct Serial<H: Handler> {
    pub(super) handler: H,
    /// The exchange in progress (stream 0).
    exchange: Option<Exchange>,
    /// Its handler future, polled inline; the slot is reused by every request
    /// and the future is built in it (a handler's future can be large).
    future: Pin<Box<Option<H::Future>>>,
    /// The handler call's deadline and access-log entry.
    watch: Watch,
    /// The first bytes of the next request head arrived then.
    head_since: Option<Instant>,
    /// The first bytes of the next request head arrived, not stamped yet:
    /// most heads are whole by the end of the poll that read them, and need
    /// no clock reading (see `head_deadline`).
    head_unstamped: bool,
    /// Informational responses handlers queued.
    interim: Interim,
    /// Poll the handler: it is new, its request body moved, or the task was
    /// woken (perhaps for the handler). Otherwise it is not polled: nothing
    /// it waits on happened.
    handler_due: bool,
    /// The request body was found full: a handler polled since may have
    /// made room (it does not wake its own task for that), so the loop
    /// looks again.
    body_full: Cell<bool>,
    /// The last request's body size (`u64::MAX` when not known in advance):
    /// a large one makes the next head read large too (see `read_size`).
    last_body: u64,
    /// Output bytes waiting in the pump, as of this pass of `poll_work`.
    queued: usize,
}

impl<H: Handler> Serial<H> {
    pub(super) fn new(handler: H) -> Self {
        Serial {
            handler,
            exchange: None,
            future: Box::pin(None),
            watch: Watch::default(),
            head_since: None,
            head_unstamped: false,
            interim: Interim::default(),
            handler_due: false,
            body_full: Cell::new(false),
            last_body: 0,
            queued: 0,
        }
    }

    /// The task was polled: whatever woke it may have been for the handler.
    pub(super) fn on_poll(&mut self) {
        self.handler_due = true;
    }

    /// True when work cannot move: no exchange, no handler, and the core
    /// needs bytes (a read must come first).
    pub(super) fn is_waiting_for_bytes<R>(&self, conn: &Conn<R>) -> bool {
        conn.need_data && self.exchange.is_none() && self.future.is_none()
    }

    /// True while a response body is being sent.
    pub(super) fn is_streaming(&self) -> bool {
        self.exchange.as_ref().is_some_and(Exchange::is_streaming)
    }

    /// True while no exchange is in progress (the protocol may still change).
    pub(super) fn is_idle(&self) -> bool {
        self.exchange.is_none()
    }

    /// Works until nothing moves: events, the handler, the response body, the end
    /// of the exchange. `queued`: output bytes waiting in the pump.
    pub(super) fn poll_work<R: Runtime>(
        &mut self,
        conn: &mut Conn<R>,
        queued: usize,
        cx: &mut Context<'_>,
    ) -> bool {
        self.queued = queued;
        let mut progress = self.process_events(conn, cx);
        progress |= self.poll_handler(conn, cx);
        progress |= self.poll_body(conn, queued, cx);
        progress |= self.end_exchange(conn);
        progress
    }

    /// True when reading the socket is useful now: waiting for a head, or the
    /// request body has room and the handler wants it.
    pub(super) fn wants_read<R>(&self, conn: &Conn<R>, cx: &mut Context<'_>) -> bool {
        if conn.read_closed || !conn.need_data || conn.core.remote_error().is_some() {
            return false;
        }
        match &self.exchange {
            None => conn.serving(),
            Some(ex) if ex.request_done => false,
            Some(ex) if matches!(ex.response, ResponseState::Done) => true,
            Some(ex) if ex.expect_continue && !ex.continue_sent => false,
            Some(ex) => ex.body.as_ref().is_none_or(|b| {
                let room = b.poll_room(conn.config.body_buffer, cx);
                self.body_full.set(!room);
                room
            }),
        }
    }

    /// Most bytes the next read should take: up to `body_read` while a request
    /// body streams in and its buffer has that much room (fewer reads, events
    /// and body pieces per request), else `read`. A head is read with room
    /// for a body as large as the last one (up to `body_read`) when that was
    /// more than half of `read`: on a connection that uploads, head and body
    /// then come in one read and reach the handler as one piece. Such a head
    /// goes to a large arena; a connection without large bodies keeps its
    /// heads in small ones.
    pub(super) fn read_size<R>(&self, conn: &Conn<R>, read: usize, body_read: usize) -> usize {
        match &self.exchange {
            Some(ex) if !ex.request_done => match &ex.body {
                Some(body) => body.room(conn.config.body_buffer).clamp(read, body_read),
                None => body_read,
            },
            _ if self.last_body > read as u64 / 2 => {
                read + self.last_body.min(body_read as u64) as usize
            }
            _ => read,
        }
    }

    /// `n` bytes were read: a new head's header-read clock starts with its first
    /// byte (stamped when its deadline is first needed, see `head_deadline`).
    pub(super) fn on_read(&mut self, n: usize) {
        if n > 0 && self.exchange.is_none() && self.head_since.is_none() {
            self.head_unstamped = true;
        }
    }

    /// The deadline for the next request head: the header-read timeout once its
    /// first bytes arrived (and for a new connection), the keep-alive timeout while idle.
    /// A head still incomplete when the loop settles is stamped then: no
    /// handler ran since its bytes were read, so that is when they arrived.
    pub(super) fn head_deadline<R: Runtime>(&mut self, conn: &Conn<R>) -> Option<Instant> {
        if self.exchange.is_some() || conn.winding_up() {
            return None;
        }
        if std::mem::take(&mut self.head_unstamped) && self.head_since.is_none() {
            self.head_since = Some(conn.now());
        }
        let config = &conn.config;
        match (self.head_since, conn.idle_since) {
            (Some(t), _) => Some(t + config.header_read_timeout?),
            (None, Some(t)) if conn.requests == 0 => Some(t + config.header_read_timeout?),
            (None, Some(t)) => Some(t + config.keep_alive_timeout?),
            (None, None) => None,
        }
    }

    /// The head deadline passed: `408` for a head in progress, else a silent close.
    pub(super) fn on_head_timeout<R: Runtime>(&mut self, conn: &mut Conn<R>) {
        if self.head_since.is_some() || self.head_unstamped {
            debug!("request head too slow; answering 408");
            conn.answer_error(408);
        } else {
            debug!("idle connection timed out");
            conn.finish(false);
        }
    }

    /// Graceful shutdown: finish the exchange in progress, take no other.
    pub(super) fn drain<R>(&mut self, conn: &mut Conn<R>) {
        conn.drain(false);
        if self.exchange.is_none() {
            conn.finish(false);
        }
    }

    // ---- events ----

    fn process_events<R: Runtime>(&mut self, conn: &mut Conn<R>, cx: &mut Context<'_>) -> bool {
        if conn.need_data {
            // The core said it needs bytes and none came since: no event to take.
            return false;
        }
        let mut progress = false;
        while conn.core.remote_error().is_none() && !conn.winding_up() {
            if let Some(ex) = &self.exchange {
                if ex.request_done {
                    break;
                }
                let has_room = match &ex.body {
                    Some(b) if !matches!(ex.response, ResponseState::Done) => {
                        b.poll_room(conn.config.body_buffer, cx)
                    }
                    _ => true,
                };
                if !has_room {
                    self.body_full.set(true);
                    break;
                }
            }
            match conn.core.next_event() {
                Ok(Event::Request(request)) => {
                    // A body that came whole with its head (the core hands
                    // out all it holds in one piece) and fits the body
                    // buffer, as it would have been pushed into the channel
                    // at once, goes to the handler whole, with no channel;
                    // its end, the next event, finds no sender.
                    let fits = conn.config.body_buffer as u64;
                    let mut first = FirstBody::Later;
                    let whole = match request.framing.len() {
                        Some(n) if n > 0 && n <= fits && !request.expect_continue => {
                            match first_body_event(&mut conn.core, n) {
                                FirstBody::Whole(bytes) => Some(bytes),
                                other => {
                                    first = other;
                                    None
                                }
                            }
                        }
                        _ => None,
                    };
                    self.start(conn, request, whole);
                    match first {
                        FirstBody::Piece(data) => self.on_data(conn, data, cx.waker()),
                        FirstBody::Failed(e) => {
                            self.on_remote_error(conn, e);
                            progress = true;
                            break;
                        }
                        FirstBody::Whole(_) | FirstBody::Later => {}
                    }
                }
                Ok(Event::Data(data)) => self.on_data(conn, data, cx.waker()),
                Ok(Event::EndOfMessage(end)) => {
                    if let Some(ex) = &mut self.exchange {
                        ex.request_ended(end.trailers, cx.waker());
                        self.handler_due = true;
                    }
                }
                Ok(Event::NeedData) => {
                    conn.need_data = true;
                    if conn.read_closed {
                        // The core saw EOF and has nothing more to say.
                        self.on_peer_closed(conn);
                    }
                    break;
                }
                Ok(Event::Paused) => break,
                Ok(Event::ConnectionClosed) => {
                    conn.read_closed = true;
                    self.on_peer_closed(conn);
                    break;
                }
                Ok(other) => trace!(?other, "connection event"),
                Err(e) => {
                    self.on_remote_error(conn, e);
                    progress = true;
                    break;
                }
            }
            progress = true;
        }
        progress
    }

    fn on_peer_closed<R>(&mut self, conn: &mut Conn<R>) {
        conn.drain(false);
        if self.exchange.is_none() {
            conn.finish(false);
        }
    }

    /// Opens the exchange for `request` and calls the handler; `whole`: its
    /// entire body, when it came with the head.
    fn start<R: Runtime>(
        &mut self,
        conn: &mut Conn<R>,
        request: zttp_core::Request,
        whole: Option<Bytes>,
    ) {
        conn.requests += 1;
        conn.idle_since = None;
        self.head_since = None;
        self.head_unstamped = false;
        self.last_body = request.framing.len().unwrap_or(u64::MAX);
        // The request stays where it was built until the handler takes it
        // (it is large: every move is a copy).
        let mut request = Exchange::open(
            &mut self.exchange,
            request,
            whole,
            &mut conn.core,
            &conn.config,
        );
        let _entered = self.exchange.as_ref().map(|ex| ex.span.clone().entered());
        let Ok(built) = &mut request else {
            debug!("request head cannot be represented; answering 400");
            conn.drain(false);
            self.respond(conn, &mut status_response(StatusCode::BAD_REQUEST));
            return;
        };
        debug!("request");
        if conn.config.informational_responses {
            let interim = self.interim.handle(conn.requests, built.version());
            built.extensions_mut().insert(interim);
        }
        self.watch = conn.around.begin(built, &conn.runtime, &conn.config);
        let (handler, slot) = (&self.handler, &mut self.future);
        let called = catch_unwind(AssertUnwindSafe(|| {
            if let Ok(request) = std::mem::replace(&mut request, Err(Unrepresentable)) {
                slot.set(Some(handler.call(request)));
            }
        }));
        if let Err(panic) = called {
            self.watch = Watch::default();
            if let Some(ex) = &self.exchange {
                let mut response = ex.panic_response(&panic);
                self.respond(conn, &mut response);
            }
            return;
        }
        self.handler_due = true;
    }

    fn on_data<R>(&mut self, conn: &mut Conn<R>, data: Data, task: &Waker) {
        let Some(ex) = &mut self.exchange else {
            return;
        };
        let len = data.data.len();
        let delivered = match (&ex.body, &ex.response) {
            (Some(body), ResponseState::Waiting | ResponseState::Streaming(_)) => {
                body.push(data.data, task)
            }
            _ => false,
        };
        self.handler_due |= delivered;
        if !delivered {
            ex.discarded += len as u64;
            if ex.discarded > conn.config.max_drain {
                debug!("unread request body exceeds the drain limit; closing");
                conn.drain(true);
                ex.body = None;
                if matches!(ex.response, ResponseState::Done) {
                    conn.finish(true);
                }
            }
        }
    }

    fn on_remote_error<R: Runtime>(&mut self, conn: &mut Conn<R>, e: RemoteProtocolError) {
        debug!(error = %e, "peer protocol error");
        conn.drain(false);
        match &mut self.exchange {
            Some(ex) => {
                // The handler sees the error in its body and answers (or we do).
                if let Some(body) = ex.body.take() {
                    body.fail(BodyError::remote(e));
                    self.handler_due = true;
                }
            }
            // A broken head: no handler will answer it.
            None if conn.read_closed => conn.finish(false),
            None => conn.answer_error(e.status()),
        }
    }

    // ---- the handler and its response ----

    fn poll_handler<R: Runtime>(&mut self, conn: &mut Conn<R>, cx: &mut Context<'_>) -> bool {
        let due = std::mem::take(&mut self.handler_due);
        let Some(future) = self.future.as_mut().as_pin_mut() else {
            return false;
        };
        let Some(ex) = &mut self.exchange else {
            self.future.set(None);
            self.watch = Watch::default();
            return false;
        };
        // The outcome stays where the poll wrote it: the response is large,
        // and it is answered by reference.
        let mut polled = match due {
            true => {
                let _entered = ex.span.enter();
                let polled = catch_unwind(AssertUnwindSafe(|| future.poll(cx)));
                // The handler ran: time may have passed.
                conn.tick();
                polled
            }
            false => Ok(Poll::Pending),
        };
        if let Ok(Poll::Pending) = polled {
            if due {
                polled = Ok(self.watch.poll_expired(cx));
            }
        }
        // What the handler queued goes out before its final response. A
        // handler that answered sends no more (what it might is dropped), so
        // the task need not be woken for it.
        // Without the setting no handler holds a handle: nothing to flush.
        let interim_sent = conn.config.informational_responses && {
            let (current, waiting) = (conn.requests, matches!(ex.response, ResponseState::Waiting));
            let pending = matches!(polled, Ok(Poll::Pending));
            self.interim
                .flush(&mut conn.core, pending.then_some(&mut *cx), |key| {
                    (key == current && waiting).then_some(StreamId::ZERO)
                })
        };
        let mut panicked;
        let response = match &mut polled {
            Ok(Poll::Pending) => {
                let room_made = due && self.body_full.take();
                return ex.send_continue_if_wanted(&mut conn.core, cx) | interim_sent | room_made;
            }
            Ok(Poll::Ready(response)) => {
                self.watch.answered(response);
                response
            }
            Err(panic) => {
                self.watch = Watch::default();
                panicked = ex.panic_response(panic);
                &mut panicked
            }
        };
        // The watch is spent (`answered` and `poll_expired` clear it).
        self.future.set(None);
        self.respond(conn, response);
        true
    }

    /// Sends the response head, and the whole response when it has no body
    /// (else its body moves out, to be streamed).
    fn respond<R: Runtime>(&mut self, conn: &mut Conn<R>, response: &mut http::Response<Body>) {
        let Some(ex) = &mut self.exchange else {
            return;
        };
        let _entered = ex.span.clone().entered();
        let status = response.status().as_u16();
        debug!(status, "response");
        if let Some(e) = conn.remote_error() {
            // The core lets a server answer the peer's error once, then close:
            // a handler's error answer goes out as written, anything else
            // becomes the error's own status.
            if !(400..600).contains(&status) {
                ex.response = ResponseState::Done;
                conn.answer_error(e.status());
                return;
            }
        }
        let closing = !conn.serving();
        let now = conn.now();
        match head::send_response(&mut conn.core, now, ex, response, closing) {
            Err(e) => {
                ex.response = ResponseState::Done;
                error!(error = %e, status, "response head refused; answering 500");
                conn.answer_error(500);
            }
            Ok(AfterHead::Upgrade) => {
                ex.response = ResponseState::Done;
                if let Some(tx) = ex.upgrade.take() {
                    conn.lifecycle = Lifecycle::Upgrading(tx);
                }
            }
            Ok(AfterHead::Complete) => {
                ex.upgrade = None;
                self.end_response(conn, None);
            }
            Ok(AfterHead::Body) => {
                ex.upgrade = None;
                // A body built whole (`Body::full`) is its own last piece: it
                // goes out with the head, as `poll_body` would send it next,
                // while the output is below its high-water mark.
                let room = conn.core.pending_send_len() + self.queued < WRITE_HIGH_WATER;
                let whole = match room {
                    true => response.body_mut().take_full(),
                    false => None,
                };
                match whole {
                    Some(data) => {
                        ex.response = ResponseState::Done;
                        if let Err(e) = conn.core.send_last_data(StreamId::ZERO, data) {
                            warn!(error = %e, "response body refused");
                            conn.finish(false);
                        }
                    }
                    None => {
                        ex.response = ResponseState::Streaming(std::mem::take(response.body_mut()))
                    }
                }
            }
        }
    }

    fn end_response<R>(&mut self, conn: &mut Conn<R>, trailers: Option<http::HeaderMap>) {
        if let Some(ex) = &mut self.exchange {
            ex.response = ResponseState::Done;
        }
        if let Err(e) = head::end(&mut conn.core, StreamId::ZERO, trailers) {
            warn!(error = %e, "end of response refused");
            conn.finish(false);
        }
    }

    /// Sends response body pieces while the body has them and the output is
    /// below its high-water mark.
    fn poll_body<R>(&mut self, conn: &mut Conn<R>, queued: usize, cx: &mut Context<'_>) -> bool {
        let Some(ex) = &mut self.exchange else {
            return false;
        };
        let mut progress = false;
        while ex.is_streaming() && conn.core.pending_send_len() + queued < WRITE_HIGH_WATER {
            // A body built whole (`Body::full`) is its own last piece: sent at
            // once, without polling it (nothing follows it, not even trailers).
            let whole = match &mut ex.response {
                ResponseState::Streaming(body) if ex.unsent.is_empty() => body.take_full(),
                _ => None,
            };
            let (data, last) = match whole {
                Some(data) => (data, true),
                None => match next_body_step(ex, usize::MAX, usize::MAX, cx) {
                    BodyStep::Blocked => break,
                    BodyStep::Data(data) if data.is_empty() => {
                        progress = true;
                        continue;
                    }
                    // Nothing follows, not even trailers: the piece ends the
                    // response, and the body is not polled again.
                    BodyStep::Data(data) => {
                        let last = ex.unsent.is_empty()
                            && matches!(&ex.response, ResponseState::Streaming(body) if body.is_end_stream());
                        (data, last)
                    }
                    BodyStep::End(trailers) => {
                        self.end_response(conn, trailers);
                        return true;
                    }
                    BodyStep::Failed => {
                        ex.response = ResponseState::Done;
                        conn.finish(false);
                        return true;
                    }
                },
            };
            progress = true;
            let sent = match last {
                true => conn.core.send_last_data(StreamId::ZERO, data),
                false => conn.core.send(Data {
                    stream_id: StreamId::ZERO,
                    data,
                }),
            };
            if let Err(e) = sent {
                warn!(parent: &ex.span, error = %e, "response body refused");
                // The response cannot be completed: the framing is broken, close.
                conn.finish(false);
                break;
            }
            if last {
                ex.response = ResponseState::Done;
                return true;
            }
        }
        progress
    }

    /// Ends the exchange once both sides are complete and starts the next
    /// cycle (or decides to close).
    fn end_exchange<R: Runtime>(&mut self, conn: &mut Conn<R>) -> bool {
        if conn.winding_up() {
            return false;
        }
        let Some(ex) = &mut self.exchange else {
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
                conn.finish(true);
                return true;
            }
            if conn.core.remote_error().is_some() {
                conn.finish(true);
                return true;
            }
            // Drain the unread body (bounded by max_drain in on_data).
            return ex.body.take().is_some();
        }
        self.exchange = None;
        if !conn.serving() || conn.core.should_close() {
            conn.finish(false);
            return true;
        }
        match conn.core.start_next_cycle() {
            Ok(()) => {
                conn.idle_since = Some(conn.now());
                // Nothing received beyond this exchange (no pipelined
                // request): the core would only say `NeedData`, so the loop
                // goes straight to the read, without another pass.
                conn.need_data = conn.core.waits_for_bytes();
            }
            Err(e) => {
                debug!(error = %e, "cannot start the next cycle; closing");
                conn.finish(false);
            }
        }
        true
    }
}

/// The first event after the head of a request announcing `len` body bytes.
enum FirstBody {
    /// The whole body: the core held all of it (its end is the next event).
    Whole(Bytes),
    /// A piece of it.
    Piece(Data),
    /// The peer broke the protocol.
    Failed(RemoteProtocolError),
    /// Nothing yet (`NeedData` comes again when asked again).
    Later,
}

/// Takes the first body event of a request announcing `len` bytes: the
/// core hands out all the body bytes it holds in one piece.
fn first_body_event(core: &mut zttp_core::Connection, len: u64) -> FirstBody {
    match core.next_event() {
        Ok(Event::Data(data)) if data.data.len() as u64 == len => FirstBody::Whole(data.data),
        Ok(Event::Data(data)) => FirstBody::Piece(data),
        Err(e) => FirstBody::Failed(e),
        Ok(other) => {
            // Inside a body the core says only `Data`, `NeedData` or an error.
            debug_assert!(matches!(other, Event::NeedData), "{other:?} after a head");
            FirstBody::Later
        }
    }
}
