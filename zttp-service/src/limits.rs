//! What the drive loop does around every handler call ([`Around`]): the
//! connection's [`PeerAddr`] into the request, the per-request limits (how
//! long the handler may take to answer, [`ServerConfig::handler_timeout`], and
//! how fast a request body it waits for must arrive,
//! [`ServerConfig::min_body_rate`]), and the access log.
//!
//! The HTTP/1.1 dispatcher applies them inline around its one handler slot
//! (no wrapper future to move per request); HTTP/2 streams wrap their
//! handler futures in [`Watched`].

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::StatusCode;
use http_body::{Body as _, Frame, SizeHint};

use crate::access::{self, Entry};
use crate::peer::PeerAddr;
use crate::{Body, BodyError, Request, Runtime, ServerConfig};

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

/// What every request of one connection gets besides its handler.
#[derive(Debug, Clone, Default)]
pub(crate) struct Around {
    /// The peer's address, inserted into each request's extensions.
    pub(crate) peer: Option<PeerAddr>,
    /// Log each answered request (target `zttp::access`): [`serve`](crate::serve) does.
    pub(crate) access_log: bool,
    /// Extensions holding only the peer's address, cloned into each request
    /// that has none yet: a copy of a built map, with no hashing or growing.
    peer_extensions: http::Extensions,
}

impl Around {
    /// Around the requests of a connection with this peer.
    pub(crate) fn new(peer: Option<PeerAddr>, access_log: bool) -> Around {
        let mut peer_extensions = http::Extensions::new();
        if let Some(peer) = peer {
            peer_extensions.insert(peer);
        }
        Around {
            peer,
            access_log,
            peer_extensions,
        }
    }

    /// Readies `request` for its handler (its peer address; a body checked
    /// against the minimum rate) and starts watching the call.
    pub(crate) fn begin<R: Runtime>(
        &self,
        request: &mut Request,
        runtime: &R,
        config: &ServerConfig,
    ) -> Watch {
        if let Some(peer) = self.peer {
            let extensions = request.extensions_mut();
            match extensions.is_empty() {
                true => *extensions = self.peer_extensions.clone(),
                false => _ = extensions.insert(peer),
            }
        }
        if let Some(rate) = config.min_body_rate.filter(|r| r.bytes > 0) {
            if !request.body().is_end_stream() {
                let body = std::mem::take(request.body_mut());
                *request.body_mut() = Body::new(RateChecked {
                    inner: body,
                    runtime: runtime.clone(),
                    rate,
                    received: 0,
                    waited: Duration::ZERO,
                    waiting_since: None,
                    timer: None,
                });
            }
        }
        Watch {
            entry: self
                .access_log
                .then(|| Entry::capture(request, self.peer).map(Box::new))
                .flatten(),
            deadline: config.handler_timeout.map(|t| runtime.sleep(t)),
        }
    }
}

/// One handler call under watch: its deadline and its access-log entry.
#[derive(Default)]
pub(crate) struct Watch {
    deadline: Option<Sleep>,
    /// Boxed: the access log is off for most requests, and the slot stays small.
    entry: Option<Box<Entry>>,
}

impl Watch {
    /// The handler has not answered yet: `503` once the handler timeout passed.
    pub(crate) fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<http::Response<Body>> {
        let Some(deadline) = &mut self.deadline else {
            return Poll::Pending;
        };
        if deadline.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.deadline = None;
        self.entry = None;
        tracing::debug!("handler did not answer within the handler timeout; 503");
        let mut response = http::Response::new(Body::from("handler timed out\n"));
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        Poll::Ready(response)
    }

    /// The handler answered `response`: it is logged once its body ends (with
    /// the access log on).
    pub(crate) fn answered(&mut self, response: &mut http::Response<Body>) {
        self.deadline = None;
        if let Some(entry) = self.entry.take() {
            *response = access::logged(std::mem::take(response), *entry);
        }
    }
}

pin_project_lite::pin_project! {
    /// A handler future under its [`Watch`]: `503` if it has not answered in
    /// time, the access log once it has.
    pub(crate) struct Watched<F> {
        #[pin]
        inner: F,
        watch: Watch,
    }
}

impl<F> Watched<F> {
    pub(crate) fn new(inner: F, watch: Watch) -> Self {
        Watched { inner, watch }
    }
}

impl<F: Future<Output = http::Response<Body>>> Future for Watched<F> {
    type Output = http::Response<Body>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match this.inner.poll(cx) {
            Poll::Ready(mut response) => {
                this.watch.answered(&mut response);
                Poll::Ready(response)
            }
            Poll::Pending => this.watch.poll_expired(cx),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;

    /// A runtime the tests below never need to run anything on.
    #[derive(Clone)]
    struct Unused;

    impl Runtime for Unused {
        fn spawn(&self, _: Pin<Box<dyn Future<Output = ()> + Send + 'static>>) {
            unreachable!("nothing is spawned")
        }
        fn sleep(&self, _: Duration) -> Sleep {
            unreachable!("no limit is set")
        }
        fn now(&self) -> Instant {
            Instant::now()
        }
    }

    #[derive(Clone, Debug, PartialEq)]
    struct Other(u8);

    #[test]
    fn every_request_gets_the_peer_address_whatever_extensions_it_has() {
        let addr: SocketAddr = "192.0.2.7:4321".parse().unwrap();
        let around = Around::new(Some(PeerAddr(addr)), false);
        let config = ServerConfig::default();
        for _ in 0..2 {
            let mut plain = Request::new(Body::empty());
            around.begin(&mut plain, &Unused, &config);
            assert_eq!(plain.extensions().get::<PeerAddr>(), Some(&PeerAddr(addr)));
            assert_eq!(plain.extensions().len(), 1);

            let mut extended = Request::new(Body::empty());
            extended.extensions_mut().insert(Other(3));
            around.begin(&mut extended, &Unused, &config);
            assert_eq!(
                extended.extensions().get::<PeerAddr>(),
                Some(&PeerAddr(addr))
            );
            assert_eq!(extended.extensions().get::<Other>(), Some(&Other(3)));
        }
    }

    #[test]
    fn without_a_peer_no_address_is_added() {
        let around = Around::new(None, false);
        let mut request = Request::new(Body::empty());
        around.begin(&mut request, &Unused, &ServerConfig::default());
        assert!(request.extensions().is_empty());
    }
}
