//! The HTTP/2 dispatcher: many exchanges at once.
//!
//! Handlers run in one of two ways ([`ServerConfig::spawn_http2_handlers`]):
//! by default in a `FuturesUnordered` polled by the connection task (only
//! woken ones are polled: the cheapest, but a handler that burns CPU stalls
//! the connection's PING acks and other streams), or each in a task of its
//! own spawned on the runtime (hyper's way), its outcome sent back over a
//! channel. Either way a reset stream (or the connection ending) drops or
//! aborts its handler, and response bodies are polled by the connection task. Credit goes back to the peer only as handlers
//! consume request bodies; response bodies are sent no faster than the peer's
//! windows allow, one piece per stream per round so streams take turns. A
//! reset stream drops its handler and body; graceful shutdown sends GOAWAY and
//! finishes the open streams; a body over `max_body_size` fails with `413`
//! (the stream is reset if the response head is already out).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use futures::channel::mpsc;
use futures::future::{AbortHandle, Abortable};
use futures::stream::FuturesUnordered;
use futures::{FutureExt, StreamExt};
use http::StatusCode;
use tracing::{debug, error, trace, warn};
use zttp_core::{Connection, Data, ErrorCode, Event, RemoteProtocolError, StreamId};

use super::exchange::{next_body_step, BodyStep, Exchange, Outcome, ResponseState, StreamHandler};
use super::head::{self, AfterHead};
use super::serial::WRITE_HIGH_WATER;
use super::{body_too_large, status_response, Conn};
use crate::body::{Body, BodyError};
use crate::informational::Interim;
use crate::limits::Watched;
use crate::{Handler, Runtime};

/// Most response body bytes one stream sends per round, so streams sharing
/// the connection take turns.
const H2_PIECE: usize = 16 * 1024;

/// Exchanges by stream id.
type Exchanges = HashMap<StreamId, Exchange, BuildHasherDefault<StreamIdHasher>>;

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

pub(super) struct Multiplex<H: Handler> {
    handler: H,
    /// Exchanges in progress by stream id.
    exchanges: Exchanges,
    /// The handlers run in the connection task.
    streams: FuturesUnordered<StreamHandler<Watched<H::Future>>>,
    /// Where spawned handlers send their outcome, and where it arrives.
    outcomes_tx: mpsc::UnboundedSender<(StreamId, Outcome)>,
    outcomes: mpsc::UnboundedReceiver<(StreamId, Outcome)>,
    /// Our GOAWAY went out.
    goaway_sent: bool,
    /// Scratch lists, kept to reuse their allocation.
    ended: Vec<(StreamId, Option<http::HeaderMap>)>,
    stream_ids: Vec<StreamId>,
    /// Informational responses handlers queued.
    interim: Interim,
    /// The core's protocol timers have their start (see `poll_work`).
    clock_started: bool,
}

impl<H: Handler> Multiplex<H> {
    pub(super) fn new(handler: H) -> Self {
        let (outcomes_tx, outcomes) = mpsc::unbounded();
        Multiplex {
            handler,
            exchanges: Exchanges::default(),
            streams: FuturesUnordered::new(),
            outcomes_tx,
            outcomes,
            goaway_sent: false,
            ended: Vec::new(),
            stream_ids: Vec::new(),
            interim: Interim::default(),
            clock_started: false,
        }
    }

    /// Works until nothing moves: events, handlers, response bodies, credit,
    /// ended streams. `queued`: output bytes waiting in the pump.
    pub(super) fn poll_work<R: Runtime>(
        &mut self,
        conn: &mut Conn<R>,
        queued: usize,
        cx: &mut Context<'_>,
    ) -> bool {
        if !self.clock_started {
            // The core's timers (SETTINGS ACK, keep-alive) start now; the
            // pump's timer watches their deadline from here on.
            self.clock_started = true;
            conn.core.handle_timeout(conn.runtime.now());
        }
        let mut progress = self.process_events(conn);
        progress |= self.poll_handlers(conn, queued, cx);
        progress |= self.poll_bodies(conn, queued, cx);
        self.acknowledge_consumed(conn, cx);
        progress |= self.end_streams(conn);
        progress
    }

    /// Flow control bounds what the peer may send and control frames must
    /// flow: read whenever the core needs bytes.
    pub(super) fn wants_read<R>(&self, conn: &Conn<R>) -> bool {
        !conn.read_closed && conn.need_data && conn.core.remote_error().is_none()
    }

    /// The idle deadline: while no stream is open, the header-read timeout on a
    /// new connection and the keep-alive timeout after a request.
    pub(super) fn head_deadline<R>(&self, conn: &Conn<R>) -> Option<Instant> {
        if !self.exchanges.is_empty() || conn.winding_up() {
            return None;
        }
        let since = conn.idle_since?;
        match conn.requests {
            0 => Some(since + conn.config.header_read_timeout?),
            _ => Some(since + conn.config.keep_alive_timeout?),
        }
    }

    /// The idle deadline passed: GOAWAY, then close.
    pub(super) fn on_head_timeout<R>(&mut self, conn: &mut Conn<R>) {
        debug!("idle HTTP/2 connection timed out");
        self.send_goaway(conn);
        conn.finish(false);
    }

    /// Graceful shutdown: GOAWAY, finish the open streams, then close.
    pub(super) fn drain<R>(&mut self, conn: &mut Conn<R>) {
        self.send_goaway(conn);
        conn.drain(false);
        if self.exchanges.is_empty() {
            conn.finish(false);
        }
    }

    fn send_goaway<R>(&mut self, conn: &mut Conn<R>) {
        if !self.goaway_sent {
            self.goaway_sent = true;
            let _ = conn.core.goaway(ErrorCode::NO_ERROR, b"");
        }
    }

    // ---- events ----

    fn process_events<R: Runtime>(&mut self, conn: &mut Conn<R>) -> bool {
        let mut progress = false;
        while conn.core.remote_error().is_none() && !conn.winding_up() {
            match conn.core.next_event() {
                Ok(Event::Request(request)) => self.start(conn, request),
                Ok(Event::Data(data)) => self.on_data(conn, data),
                Ok(Event::EndOfMessage(end)) => {
                    if let Some(ex) = self.exchanges.get_mut(&end.stream_id) {
                        ex.request_ended(end.trailers, Waker::noop());
                    }
                }
                Ok(Event::NeedData) => {
                    conn.need_data = true;
                    if conn.read_closed {
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
                Ok(Event::StreamReset {
                    stream_id,
                    error_code,
                    remote,
                }) => {
                    debug!(
                        stream_id = stream_id.get(),
                        ?error_code,
                        remote,
                        "stream reset"
                    );
                    self.drop_exchange(conn, stream_id);
                }
                Ok(Event::GoAway { error_code, .. }) => {
                    debug!(?error_code, "peer sent GOAWAY");
                }
                // Blocked response bodies are retried every round; nothing else to do.
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
        // Request bodies still open can never end now: their handlers read an
        // error instead of waiting for ever (and holding the connection open).
        for ex in self.exchanges.values_mut() {
            if let Some(body) = ex.body.take() {
                body.fail(BodyError::incomplete());
            }
        }
        if self.exchanges.is_empty() {
            conn.finish(false);
        }
    }

    fn start<R: Runtime>(&mut self, conn: &mut Conn<R>, request: zttp_core::Request) {
        conn.requests += 1;
        conn.idle_since = None;
        let stream_id = request.stream_id;
        let mut opened = None;
        let request = Exchange::open(&mut opened, request, None, &mut conn.core, &conn.config);
        let Some(mut exchange) = opened else {
            return;
        };
        let _entered = exchange.span.clone().entered();
        match request {
            Ok(mut request) => {
                debug!("request");
                if conn.config.informational_responses {
                    let interim = self.interim.handle(u64::from(stream_id), request.version());
                    request.extensions_mut().insert(interim);
                }
                let watch = conn.around.begin(&mut request, &conn.runtime, &conn.config);
                // A panic in the call itself (before its future exists) is the
                // stream's 500, like a panic in the future.
                let handler = &self.handler;
                let inner = match catch_unwind(AssertUnwindSafe(|| handler.call(request))) {
                    Ok(inner) => inner,
                    Err(panic) => {
                        let response = exchange.outcome_response(Err(panic));
                        self.exchanges.insert(stream_id, exchange);
                        self.respond(conn, stream_id, response);
                        return;
                    }
                };
                let future = AssertUnwindSafe(Watched::new(inner, watch)).catch_unwind();
                if !conn.config.spawn_http2_handlers {
                    let (handler, abort) = StreamHandler::new(stream_id, future);
                    exchange.abort = Some(abort);
                    self.streams.push(handler);
                    self.exchanges.insert(stream_id, exchange);
                    return;
                }
                let (abort, registration) = AbortHandle::new_pair();
                let future = Abortable::new(future, registration);
                let outcomes = self.outcomes_tx.clone();
                conn.runtime.spawn(Box::pin(async move {
                    // Yield once first: a scheduler that would run the new
                    // task in place of the connection on this thread (tokio's
                    // LIFO slot) puts it in its run queue instead, where an
                    // idle thread can take it (or the connection).
                    yield_once().await;
                    if let Ok(outcome) = future.await {
                        let _ = outcomes.unbounded_send((stream_id, outcome));
                    }
                }));
                exchange.abort = Some(abort);
                self.exchanges.insert(stream_id, exchange);
            }
            Err(_) => {
                debug!("request head cannot be represented; answering 400");
                self.exchanges.insert(stream_id, exchange);
                self.respond(conn, stream_id, status_response(StatusCode::BAD_REQUEST));
            }
        }
    }

    fn on_data<R: Runtime>(&mut self, conn: &mut Conn<R>, data: Data) {
        let len = data.data.len();
        let Some(ex) = self.exchanges.get_mut(&data.stream_id) else {
            // A stream we dropped: its bytes still count against the connection window.
            let _ = conn.core.acknowledge_received_data(data.stream_id, len);
            return;
        };
        ex.received += len as u64;
        let max = conn.config.max_body_size;
        if !ex.over_limit && !ex.tunnel && max.is_some_and(|max| ex.received > max) {
            ex.over_limit = true;
            if let Some(body) = ex.body.take() {
                body.fail(body_too_large());
            }
        }
        if ex.over_limit {
            // Connection credit only: the stream stays throttled until it ends.
            let _ = conn.core.acknowledge_received_data(StreamId::ZERO, len);
            if ex.is_streaming() {
                // The response head is out: no 413 can follow, reset instead.
                debug!(parent: &ex.span, "request body over the limit; resetting");
                let stream_id = ex.stream_id;
                let _ = conn.core.reset_stream(stream_id, ErrorCode::CANCEL);
                self.drop_exchange(conn, stream_id);
            }
            return;
        }
        let delivered = match (&ex.body, &ex.response) {
            (Some(body), ResponseState::Waiting | ResponseState::Streaming(_)) => {
                body.push(data.data, Waker::noop())
            }
            _ => false,
        };
        if delivered {
            ex.unacknowledged += len as u64;
        } else {
            let _ = conn.core.acknowledge_received_data(data.stream_id, len);
        }
    }

    fn on_remote_error<R>(&mut self, conn: &mut Conn<R>, e: RemoteProtocolError) {
        debug!(error = %e, "peer protocol error");
        // The core queued GOAWAY with the error code: flush it, then close.
        for ex in self.exchanges.values_mut() {
            if let Some(body) = ex.body.take() {
                body.fail(BodyError::remote(e));
            }
        }
        conn.finish(true);
    }

    /// Forgets a stream that ended early (reset, or abandoned): stops its
    /// handler, fails its body, and grants back the credit its bytes held.
    fn drop_exchange<R: Runtime>(&mut self, conn: &mut Conn<R>, stream_id: StreamId) {
        let Some(mut ex) = self.exchanges.remove(&stream_id) else {
            return;
        };
        if let Some(abort) = ex.abort.take() {
            abort.abort();
        }
        if let Some(body) = ex.body.take() {
            body.fail(BodyError::incomplete());
        }
        release_credit(conn, &ex);
        self.exchange_removed(conn);
    }

    fn exchange_removed<R: Runtime>(&mut self, conn: &mut Conn<R>) {
        if self.exchanges.is_empty() {
            conn.idle_since = Some(conn.runtime.now());
            if !conn.serving() {
                conn.finish(false);
            }
        }
    }

    // ---- handlers and responses ----

    fn poll_handlers<R: Runtime>(
        &mut self,
        conn: &mut Conn<R>,
        queued: usize,
        cx: &mut Context<'_>,
    ) -> bool {
        let mut progress = false;
        while let Poll::Ready(Some((stream_id, outcome))) = self.streams.poll_next_unpin(cx) {
            let Ok(outcome) = outcome else {
                continue; // reset: the exchange is gone already
            };
            progress = true;
            // What handlers queued goes out before their final responses.
            self.flush_interim(conn, cx);
            if let Some(ex) = self.exchanges.get_mut(&stream_id) {
                ex.abort = None;
                let response = ex.outcome_response(outcome);
                self.respond(conn, stream_id, response);
                self.send_first_piece(conn, stream_id, queued, cx);
            }
        }
        while let Poll::Ready(Some((stream_id, outcome))) = self.outcomes.poll_next_unpin(cx) {
            progress = true;
            self.flush_interim(conn, cx);
            // A stream reset meanwhile is gone already.
            if let Some(ex) = self.exchanges.get_mut(&stream_id) {
                ex.abort = None;
                let response = ex.outcome_response(outcome);
                self.respond(conn, stream_id, response);
                self.send_first_piece(conn, stream_id, queued, cx);
            }
        }
        progress |= self.flush_interim(conn, cx);
        for ex in self.exchanges.values_mut() {
            progress |= ex.send_continue_if_wanted(&mut conn.core, cx);
        }
        progress
    }

    /// Sends the informational responses handlers queued, to the streams
    /// still waiting for their final response.
    fn flush_interim<R: Runtime>(&mut self, conn: &mut Conn<R>, cx: &mut Context<'_>) -> bool {
        let exchanges = &self.exchanges;
        self.interim.flush(&mut conn.core, Some(cx), |key| {
            let stream_id = StreamId::new(u32::try_from(key).ok()?);
            exchanges
                .get(&stream_id)
                .filter(|ex| matches!(ex.response, ResponseState::Waiting))
                .map(|_| stream_id)
        })
    }

    /// Sends the response head, and the whole response when it has no body.
    fn respond<R: Runtime>(
        &mut self,
        conn: &mut Conn<R>,
        stream_id: StreamId,
        response: http::Response<Body>,
    ) {
        let Some(ex) = self.exchanges.get_mut(&stream_id) else {
            return;
        };
        let _entered = ex.span.clone().entered();
        let (parts, body) = response.into_parts();
        let status = parts.status.as_u16();
        debug!(status, "response");
        if conn.remote_error().is_some() {
            // The connection failed; nothing more goes out.
            ex.response = ResponseState::Done;
            return;
        }
        match head::send(&mut conn.core, conn.runtime.now(), ex, &parts, &body, false) {
            Err(e) => {
                ex.response = ResponseState::Done;
                error!(error = %e, status, "response head refused; resetting the stream");
                let _ = conn.core.reset_stream(stream_id, ErrorCode::INTERNAL_ERROR);
                self.drop_exchange(conn, stream_id);
            }
            Ok(AfterHead::Complete | AfterHead::Upgrade) => {
                ex.upgrade = None;
                self.end_response(conn, stream_id, None);
            }
            Ok(AfterHead::Body) => {
                ex.upgrade = None;
                ex.response = ResponseState::Streaming(body);
            }
        }
    }

    fn end_response<R: Runtime>(
        &mut self,
        conn: &mut Conn<R>,
        stream_id: StreamId,
        trailers: Option<http::HeaderMap>,
    ) {
        if let Some(ex) = self.exchanges.get_mut(&stream_id) {
            ex.response = ResponseState::Done;
        }
        if let Err(e) = head::end(&mut conn.core, stream_id, trailers) {
            warn!(error = %e, "end of response refused");
            let _ = conn.core.reset_stream(stream_id, ErrorCode::INTERNAL_ERROR);
            self.drop_exchange(conn, stream_id);
        }
    }

    /// Sends the first piece of a response body that is ready at once (a
    /// full body, typically), and its end when that follows at once: most
    /// responses are then complete when their handler returns, without
    /// waiting for the next round of [`poll_bodies`](Self::poll_bodies).
    /// One piece only, as each stream gets per round.
    fn send_first_piece<R: Runtime>(
        &mut self,
        conn: &mut Conn<R>,
        stream_id: StreamId,
        queued: usize,
        cx: &mut Context<'_>,
    ) {
        let Some(ex) = self.exchanges.get_mut(&stream_id) else {
            return;
        };
        if !ex.is_streaming() || conn.core.pending_send_len() + queued >= WRITE_HIGH_WATER {
            return;
        }
        let window = conn.core.send_window(stream_id);
        let mut sent = send_piece(ex, &mut conn.core, window, cx);
        if let Sent::Piece = sent {
            // Only the end may follow in this step.
            sent = send_piece(ex, &mut conn.core, 0, cx);
        }
        match sent {
            Sent::End(trailers) => self.end_response(conn, stream_id, trailers),
            Sent::Failed => {
                let _ = conn.core.reset_stream(stream_id, ErrorCode::INTERNAL_ERROR);
                self.drop_exchange(conn, stream_id);
            }
            // The rest goes out in the rounds of `poll_bodies`.
            Sent::Piece | Sent::Nothing => {}
        }
    }

    /// Sends response body pieces of every streaming exchange, within the
    /// peer's flow-control windows and the output high-water mark; streams
    /// take turns, one piece each per round.
    fn poll_bodies<R: Runtime>(
        &mut self,
        conn: &mut Conn<R>,
        queued: usize,
        cx: &mut Context<'_>,
    ) -> bool {
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
                if conn.core.pending_send_len() + queued >= WRITE_HIGH_WATER {
                    break;
                }
                let window = conn.core.send_window(ex.stream_id);
                match send_piece(ex, &mut conn.core, window, cx) {
                    Sent::Nothing => {}
                    Sent::Piece => moved = true,
                    Sent::End(trailers) => {
                        moved = true;
                        ended.push((ex.stream_id, trailers));
                    }
                    Sent::Failed => {
                        moved = true;
                        failed.push(ex.stream_id);
                    }
                }
            }
            for (stream_id, trailers) in ended.drain(..) {
                self.end_response(conn, stream_id, trailers);
            }
            for stream_id in failed.drain(..) {
                let _ = conn.core.reset_stream(stream_id, ErrorCode::INTERNAL_ERROR);
                self.drop_exchange(conn, stream_id);
            }
            progress |= moved;
            if !moved || conn.winding_up() {
                break;
            }
        }
        self.ended = ended;
        self.stream_ids = failed;
        progress
    }

    /// Grants the peer credit for the request body bytes handlers consumed.
    fn acknowledge_consumed<R>(&mut self, conn: &mut Conn<R>, cx: &mut Context<'_>) {
        if conn.core.remote_error().is_some() {
            return;
        }
        for ex in self.exchanges.values_mut() {
            let Some(consumption) = &ex.consumption else {
                continue;
            };
            let n = consumption.poll_take(cx);
            if n > 0 {
                ex.unacknowledged = ex.unacknowledged.saturating_sub(n as u64);
                let _ = conn.core.acknowledge_received_data(ex.stream_id, n);
            }
        }
    }

    /// Removes the exchanges whose request and response are both complete, or
    /// whose response is complete and whose request no one reads.
    fn end_streams<R: Runtime>(&mut self, conn: &mut Conn<R>) -> bool {
        if conn.winding_up() {
            return false;
        }
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
                let _ = conn.core.reset_stream(stream_id, ErrorCode::NO_ERROR);
                if let Some(body) = &ex.body {
                    body.fail(BodyError::incomplete());
                }
            }
            release_credit(conn, &ex);
            self.exchange_removed(conn);
        }
        self.stream_ids = ended;
        if conn.core.should_close()
            && (self.exchanges.is_empty() || conn.core.remote_error().is_some())
        {
            conn.finish(false);
            return true;
        }
        progress
    }
}

impl<H: Handler> Drop for Multiplex<H> {
    /// The connection ended: the handlers still running are of no use.
    fn drop(&mut self) {
        for ex in self.exchanges.values_mut() {
            if let Some(abort) = ex.abort.take() {
                abort.abort();
            }
        }
    }
}

/// Returns `Pending` once, waking itself: the task goes back to its
/// scheduler's queue before doing any work.
async fn yield_once() {
    let mut yielded = false;
    std::future::poll_fn(|cx| {
        if yielded {
            return Poll::Ready(());
        }
        yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    })
    .await
}

/// Grants back the credit an ended stream's unread bytes held.
fn release_credit<R>(conn: &mut Conn<R>, ex: &Exchange) {
    if ex.unacknowledged > 0 {
        let n = usize::try_from(ex.unacknowledged).unwrap_or(usize::MAX);
        let _ = conn.core.acknowledge_received_data(ex.stream_id, n);
    }
}

/// What sending the next piece of a stream's response body did.
enum Sent {
    /// Nothing was ready (or no window).
    Nothing,
    /// A piece went out (perhaps an empty one).
    Piece,
    /// The body ended (with these trailers); the response is done.
    End(Option<http::HeaderMap>),
    /// The body failed, or the core refused its piece: the stream is reset.
    Failed,
}

/// Sends the next piece of `ex`'s response body, within `window`.
// Inlined: as a call, it cost h2c hello ~110 instructions per request (callgrind).
#[inline(always)]
fn send_piece(
    ex: &mut Exchange,
    core: &mut Connection,
    window: usize,
    cx: &mut Context<'_>,
) -> Sent {
    match next_body_step(ex, window, H2_PIECE, cx) {
        BodyStep::Blocked => Sent::Nothing,
        BodyStep::Data(data) if data.is_empty() => Sent::Piece,
        BodyStep::Data(data) => match core.send(Data {
            stream_id: ex.stream_id,
            data,
        }) {
            Ok(_) => Sent::Piece,
            Err(e) => {
                warn!(parent: &ex.span, error = %e, "response body refused");
                Sent::Failed
            }
        },
        BodyStep::End(trailers) => {
            ex.response = ResponseState::Done;
            Sent::End(trailers)
        }
        BodyStep::Failed => {
            ex.response = ResponseState::Done;
            Sent::Failed
        }
    }
}
