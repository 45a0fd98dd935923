//! Per-request limits around a handler: how long it may take to answer
//! ([`ServerConfig::handler_timeout`]) and how fast a request body it waits
//! for must arrive ([`ServerConfig::min_body_rate`]).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;
use http_body::{Body as _, Frame, SizeHint};

use crate::{Body, BodyError, Handler, Request, Runtime, ServerConfig};

/// The least a request body must deliver while its handler waits for it:
/// `bytes` in every `per` of waiting. Time the handler spends elsewhere (not
/// reading) does not count against the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinBodyRate {
    /// Bytes that must arrive...
    pub bytes: u64,
    /// ...within this much waiting.
    pub per: Duration,
}

type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// A handler under the configured per-request limits.
#[derive(Clone)]
pub(crate) struct Limited<H, R> {
    inner: H,
    runtime: R,
    timeout: Option<Duration>,
    min_rate: Option<MinBodyRate>,
}

impl<H, R> Limited<H, R> {
    pub(crate) fn new(inner: H, runtime: R, config: &ServerConfig) -> Self {
        Limited {
            inner,
            runtime,
            timeout: config.handler_timeout,
            min_rate: config.min_body_rate.filter(|r| r.bytes > 0),
        }
    }
}

impl<H: Handler, R: Runtime> Handler for Limited<H, R> {
    type Future = LimitedFuture<H::Future>;

    fn call(&self, mut request: Request) -> Self::Future {
        if let Some(rate) = self.min_rate {
            request = request.map(|body| {
                if body.is_end_stream() {
                    return body;
                }
                Body::new(RateChecked {
                    inner: body,
                    runtime: self.runtime.clone(),
                    rate,
                    received: 0,
                    waited: Duration::ZERO,
                    waiting_since: None,
                    timer: None,
                })
            });
        }
        LimitedFuture {
            inner: self.inner.call(request),
            deadline: self.timeout.map(|t| self.runtime.sleep(t)),
        }
    }
}

pin_project_lite::pin_project! {
    /// The handler's future, answering `503` if it has not answered in time.
    pub(crate) struct LimitedFuture<F> {
        #[pin]
        inner: F,
        deadline: Option<Sleep>,
    }
}

impl<F: Future<Output = http::Response<Body>>> Future for LimitedFuture<F> {
    type Output = http::Response<Body>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(response) = this.inner.poll(cx) {
            return Poll::Ready(response);
        }
        let Some(deadline) = this.deadline else {
            return Poll::Pending;
        };
        if deadline.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        tracing::debug!("handler did not answer within the handler timeout; 503");
        let mut response = http::Response::new(Body::from("handler timed out\n"));
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        Poll::Ready(response)
    }
}

/// A request body that fails with [`BodyError`] status `408` when the client
/// sends less than the minimum rate while the handler waits.
struct RateChecked<R> {
    inner: Body,
    runtime: R,
    rate: MinBodyRate,
    /// Bytes received in the current window.
    received: u64,
    /// Waiting time in the current window, before `waiting_since`.
    waited: Duration,
    /// The handler has been waiting since then.
    waiting_since: Option<Instant>,
    timer: Option<(Instant, Sleep)>,
}

impl<R: Runtime> RateChecked<R> {
    /// The handler stops waiting (data or the end arrived).
    fn stop_waiting(&mut self) {
        if let Some(since) = self.waiting_since.take() {
            self.waited += self.runtime.now().saturating_duration_since(since);
        }
        self.timer = None;
    }
}

// No field is pinned structurally: the runtime is only cloned from and called.
impl<R> Unpin for RateChecked<R> {}

impl<R: Runtime> http_body::Body for RateChecked<R> {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        loop {
            if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
                this.stop_waiting();
                if let Some(Ok(data)) = frame.as_ref().map(|f| f.as_ref().map(Frame::data_ref)) {
                    this.received += data.map_or(0, |d| d.len() as u64);
                    if this.received >= this.rate.bytes {
                        // This window's quota is met: a new window starts.
                        this.received = 0;
                        this.waited = Duration::ZERO;
                    }
                }
                return Poll::Ready(frame);
            }
            let now = this.runtime.now();
            let since = *this.waiting_since.get_or_insert(now);
            let waited = this.waited + now.saturating_duration_since(since);
            if waited >= this.rate.per {
                tracing::debug!(
                    received = this.received,
                    ?waited,
                    "request body slower than the minimum rate; 408"
                );
                this.waiting_since = None;
                this.timer = None;
                return Poll::Ready(Some(Err(BodyError::too_slow())));
            }
            let at = now + (this.rate.per - waited);
            if this.timer.as_ref().is_none_or(|(t, _)| *t != at) {
                this.timer = Some((at, this.runtime.sleep(at - now)));
            }
            let (_, timer) = this.timer.as_mut().expect("armed above");
            if timer.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            this.timer = None;
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
