//! One request/response pair: opening it, its handler's outcome, 100-continue
//! and its response body.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use futures::channel::oneshot;
use futures::future::{AbortHandle, Abortable, Aborted, CatchUnwind};
use http::StatusCode;
use http_body::Body as _;
use tracing::{debug, error, Span};
use zttp_core::{Connection, StreamId, Version};

use super::convert::{self, Unrepresentable};
use crate::body::{self, Body, BodySender, Consumption};
use crate::upgrade::{OnUpgrade, Upgraded};
use crate::ServerConfig;

/// A handler future that turns a panic into an error value.
pub(super) type HandlerFuture<F> = CatchUnwind<AssertUnwindSafe<F>>;

/// Where an exchange's response is.
pub(super) enum ResponseState {
    /// The handler is still working.
    Waiting,
    /// The head is sent; body frames are being sent.
    Streaming(Body),
    /// The response is complete.
    Done,
}

/// One request/response pair (one HTTP/2 stream; the one HTTP/1.1 cycle).
pub(super) struct Exchange {
    pub(super) stream_id: StreamId,
    pub(super) span: Span,
    pub(super) head_request: bool,
    pub(super) connect: bool,
    /// HTTP/2 extended CONNECT (RFC 8441): the stream is a tunnel whose bytes
    /// are not a request body, so `max_body_size` does not apply.
    pub(super) tunnel: bool,
    /// Feeds the handler's request body; `None` once the body ended or when there is none.
    pub(super) body: Option<BodySender>,
    /// HTTP/2: what the handler consumed of the request body, to grant back as credit.
    pub(super) consumption: Option<Consumption>,
    /// HTTP/2: request body bytes received and not yet granted back to the peer.
    pub(super) unacknowledged: u64,
    /// HTTP/2: request body bytes received in total.
    pub(super) received: u64,
    /// HTTP/2: the request body exceeded `max_body_size`; the handler's body
    /// failed with `413` and further DATA is dropped without stream credit.
    pub(super) over_limit: bool,
    pub(super) request_done: bool,
    pub(super) expect_continue: bool,
    pub(super) continue_sent: bool,
    /// The request asked to switch protocols; the handler may hold the receiving end.
    pub(super) upgrade: Option<oneshot::Sender<Upgraded>>,
    pub(super) response: ResponseState,
    /// Response body bytes taken from the body but not sent yet (no flow-control credit).
    pub(super) unsent: Bytes,
    /// Body bytes read and thrown away because no one reads them.
    pub(super) discarded: u64,
    /// HTTP/2: stops the handler when the stream is reset.
    pub(super) abort: Option<AbortHandle>,
}

impl Exchange {
    /// Starts the exchange for a request the core handed out, in `slot` (built
    /// in place: an exchange and a request are large), and builds the
    /// handler's request (or says why it cannot be represented). `whole`:
    /// the request's entire body, already taken from the core (HTTP/1.1): the
    /// handler gets it as a whole body, and no channel is made.
    pub(super) fn open(
        slot: &mut Option<Exchange>,
        request: zttp_core::Request,
        whole: Option<Bytes>,
        core: &mut Connection,
        config: &ServerConfig,
    ) -> Result<http::Request<Body>, Unrepresentable> {
        let http2 = request.http_version == Version::Http2;
        let span = tracing::debug_span!(
            "request",
            stream = request.stream_id.get(),
            method = tracing::field::Empty,
            target = tracing::field::Empty
        );
        if !span.is_disabled() {
            span.record("method", String::from_utf8_lossy(&request.method).as_ref());
            span.record("target", String::from_utf8_lossy(&request.target).as_ref());
        }
        // The core decided the framing: a bodiless request (HTTP/2 HEADERS
        // with END_STREAM included) gets no body channel.
        let framing = request.framing;
        let has_body = !framing.is_empty();
        let content_length = framing.len();
        let (body, sender) = match whole {
            Some(bytes) => (Body::full(bytes), None),
            None if has_body => {
                let (incoming, sender) = body::channel(content_length);
                (Body::incoming(incoming), Some(sender))
            }
            None => (Body::empty(), None),
        };
        // HTTP/1.1 bodies are limited by the core; an HTTP/2 body declared too
        // large fails before any of it arrives.
        let tunnel = request.protocol.is_some();
        let over_limit = http2
            && !tunnel
            && config
                .max_body_size
                .is_some_and(|max| content_length.unwrap_or(0) > max);
        if over_limit {
            if let Some(sender) = &sender {
                sender.fail(super::body_too_large());
            }
        }
        let connect = !http2 && &request.method[..] == b"CONNECT";
        // A request with content is not upgraded: its content must be read
        // whole before the switch (the core refuses `101` until then), and
        // no upgrade protocol gives it a meaning; the handler sees a request
        // that cannot be upgraded and answers it as HTTP.
        let wants_upgrade = connect || (core.upgrade().is_some() && !has_body);
        let exchange = slot.insert(Exchange {
            stream_id: request.stream_id,
            span,
            head_request: &request.method[..] == b"HEAD",
            connect,
            tunnel,
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
            unsent: Bytes::new(),
            discarded: 0,
            abort: None,
        });
        if !wants_upgrade {
            // Built straight into the caller's place.
            return convert::request(request, body, config.raw_request, core);
        }
        let mut request = convert::request(request, body, config.raw_request, core);
        if let Ok(request) = &mut request {
            let (on_upgrade, tx) = OnUpgrade::pair();
            request.extensions_mut().insert(on_upgrade);
            exchange.upgrade = Some(tx);
        }
        request
    }

    /// The response to send for a handler's outcome: a panic becomes `500`.
    pub(super) fn outcome_response(&self, outcome: Outcome) -> http::Response<Body> {
        match outcome {
            Ok(response) => response,
            Err(panic) => self.panic_response(&panic),
        }
    }

    /// The `500` that answers a handler's panic (logged here).
    pub(super) fn panic_response(&self, panic: &Panic) -> http::Response<Body> {
        let message = super::panic_message(panic);
        error!(parent: &self.span, panic = message, "handler panicked; answering 500");
        super::status_response(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// `Expect: 100-continue`: the `100` goes out when the handler first
    /// polls the body (and no response was given yet).
    pub(super) fn send_continue_if_wanted(
        &mut self,
        core: &mut Connection,
        cx: &mut Context<'_>,
    ) -> bool {
        if !self.expect_continue || self.continue_sent || core.remote_error().is_some() {
            return false;
        }
        if !matches!(self.response, ResponseState::Waiting) {
            return false;
        }
        if !self.body.as_ref().is_some_and(|b| b.poll_wanted(cx)) {
            return false;
        }
        self.continue_sent = true;
        let sent = core.send_informational(self.stream_id, 100, []);
        if let Err(e) = sent {
            debug!(parent: &self.span, error = %e, "could not send 100 Continue");
        }
        true
    }

    /// Ends the request side: the body gets its end and trailers (a reader
    /// waiting in `task`, the caller's own, is not woken: it is polled next).
    pub(super) fn request_ended(&mut self, trailers: zttp_core::Headers, task: &Waker) {
        self.request_done = true;
        if let Some(body) = self.body.take() {
            body.finish(convert::trailers(trailers), task);
        }
    }

    /// True while the response body has bytes or frames still to send.
    pub(super) fn is_streaming(&self) -> bool {
        matches!(self.response, ResponseState::Streaming(_))
    }

    /// True when the handler's response is complete but the request is not,
    /// and no one will read the rest of the request body.
    pub(super) fn request_abandoned(&self) -> bool {
        matches!(self.response, ResponseState::Done)
            && !self.request_done
            && self.body.as_ref().is_none_or(BodySender::is_dropped)
    }
}

/// What one step of sending a response body did.
pub(super) enum BodyStep {
    /// Bytes to send now (within the flow-control window).
    Data(Bytes),
    /// The body ended, with these trailers.
    End(Option<http::HeaderMap>),
    /// Nothing can be sent until the body or the window moves.
    Blocked,
    /// The body failed or panicked (already logged).
    Failed,
}

/// Takes the next piece of `ex`'s response body, at most `max` bytes and no more
/// than `window` allows. `window == 0` only checks for a body end.
pub(super) fn next_body_step(
    ex: &mut Exchange,
    window: usize,
    max: usize,
    cx: &mut Context<'_>,
) -> BodyStep {
    if ex.unsent.is_empty() {
        let ResponseState::Streaming(body) = &mut ex.response else {
            return BodyStep::Blocked;
        };
        let polled =
            std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(&mut *body).poll_frame(cx)));
        match polled {
            Ok(Poll::Pending) => return BodyStep::Blocked,
            Ok(Poll::Ready(None)) => return BodyStep::End(None),
            Ok(Poll::Ready(Some(Ok(frame)))) => match frame.into_data() {
                Ok(data) => ex.unsent = data,
                Err(frame) => {
                    return BodyStep::End(Some(frame.into_trailers().unwrap_or_default()))
                }
            },
            Ok(Poll::Ready(Some(Err(e)))) => {
                tracing::warn!(parent: &ex.span, error = %e, "response body failed");
                return BodyStep::Failed;
            }
            Err(panic) => {
                tracing::error!(parent: &ex.span, panic = super::panic_message(&panic), "response body panicked");
                return BodyStep::Failed;
            }
        }
        if ex.unsent.is_empty() {
            // An empty frame: try again at once.
            return BodyStep::Data(Bytes::new());
        }
    }
    let n = ex.unsent.len().min(window).min(max);
    if n == 0 {
        return BodyStep::Blocked;
    }
    if n == ex.unsent.len() {
        BodyStep::Data(std::mem::take(&mut ex.unsent))
    } else {
        BodyStep::Data(ex.unsent.split_to(n))
    }
}

/// A handler's outcome: the response, or the panic it raised.
pub(super) type Outcome = std::thread::Result<http::Response<Body>>;
/// What a panic carries.
pub(super) type Panic = Box<dyn std::any::Any + Send>;
pin_project_lite::pin_project! {
    /// An HTTP/2 stream's handler: yields its stream id with the outcome, and
    /// ends early (with `Aborted`) when the stream is reset.
    pub(super) struct StreamHandler<F> {
        stream_id: StreamId,
        #[pin]
        inner: Abortable<HandlerFuture<F>>,
    }
}

impl<F> StreamHandler<F> {
    pub(super) fn new(stream_id: StreamId, future: HandlerFuture<F>) -> (Self, AbortHandle) {
        let (handle, registration) = AbortHandle::new_pair();
        let inner = Abortable::new(future, registration);
        (StreamHandler { stream_id, inner }, handle)
    }
}

impl<F: Future<Output = http::Response<Body>>> Future for StreamHandler<F> {
    type Output = (StreamId, Result<Outcome, Aborted>);

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        this.inner.poll(cx).map(|r| (*this.stream_id, r))
    }
}
