//! [`Body`]: request bodies streamed from the connection, and response bodies.

use std::cell::Cell;
use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use futures_core::Stream;
use http::HeaderMap;
use http_body::{Frame, SizeHint};
use zttp_core::RemoteProtocolError;

/// A boxed error, as `http-body` and tower use.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// An HTTP message body: the request body a handler receives, or a response body.
///
/// A request body streams from the connection with backpressure: the connection
/// reads the socket only while the body has room, and on `Expect: 100-continue`
/// the `100 Continue` goes out when the handler first polls the body.
/// As a response body it holds full bytes, nothing, or any [`http_body::Body`] /
/// [`Stream`] of [`Bytes`].
pub struct Body {
    kind: Kind,
}

enum Kind {
    Empty,
    Full(Bytes),
    Incoming(Incoming),
    Boxed(Pin<Box<dyn http_body::Body<Data = Bytes, Error = BoxError> + Send + 'static>>),
    /// An axum body (a box already), kept as it is rather than boxed again.
    #[cfg(feature = "axum")]
    Axum(axum_core::body::Body),
}

impl Body {
    /// A body with no bytes.
    pub const fn empty() -> Self {
        Body { kind: Kind::Empty }
    }

    /// A body of these bytes (sent with `Content-Length`).
    pub fn full(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        if bytes.is_empty() {
            return Body::empty();
        }
        Body {
            kind: Kind::Full(bytes),
        }
    }

    /// Wraps any `http_body::Body` of [`Bytes`].
    pub fn new<B>(body: B) -> Self
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        // A `Body` passed back in is used as it is, not boxed again.
        let mut slot = Some(body);
        if let Some(same) = (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<Body>>() {
            return same.take().expect("slot is full");
        }
        #[cfg(feature = "axum")]
        if let Some(axum) =
            (&mut slot as &mut dyn std::any::Any).downcast_mut::<Option<axum_core::body::Body>>()
        {
            return Body {
                kind: Kind::Axum(axum.take().expect("slot is full")),
            };
        }
        let body = slot.expect("slot is full");
        Body {
            kind: Kind::Boxed(Box::pin(MapErr { inner: body })),
        }
    }

    /// A body of the items of `stream`, sent as they come (chunked on HTTP/1.1
    /// unless the response sets `Content-Length`).
    pub fn from_stream<S, E>(stream: S) -> Self
    where
        S: Stream<Item = Result<Bytes, E>> + Send + 'static,
        E: Into<BoxError>,
    {
        Body {
            kind: Kind::Boxed(Box::pin(StreamBody { stream })),
        }
    }

    pub(crate) fn incoming(incoming: Incoming) -> Self {
        Body {
            kind: Kind::Incoming(incoming),
        }
    }

    /// The bytes of a body built whole ([`Body::full`]), taken out (the body
    /// is left empty); `None`, and the body untouched, for any other body.
    pub(crate) fn take_full(&mut self) -> Option<Bytes> {
        let Kind::Full(bytes) = &mut self.kind else {
            return None;
        };
        let bytes = std::mem::take(bytes);
        self.kind = Kind::Empty;
        Some(bytes)
    }

    /// Reads the whole body into one buffer (trailers are dropped).
    pub async fn to_bytes(mut self) -> Result<Bytes, BodyError> {
        use std::future::poll_fn;
        let mut first: Option<Bytes> = None;
        let mut rest: Vec<u8> = Vec::new();
        while let Some(frame) = poll_fn(|cx| Pin::new(&mut self).poll_frame_inner(cx)).await {
            let Ok(data) = frame?.into_data() else {
                continue;
            };
            match &first {
                None => first = Some(data),
                Some(f) => {
                    if rest.is_empty() {
                        rest.extend_from_slice(f);
                    }
                    rest.extend_from_slice(&data);
                }
            }
        }
        Ok(if rest.is_empty() {
            first.unwrap_or_default()
        } else {
            rest.into()
        })
    }

    fn poll_frame_inner(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        match &mut self.kind {
            Kind::Empty => Poll::Ready(None),
            Kind::Full(_) => {
                let Kind::Full(bytes) = std::mem::replace(&mut self.kind, Kind::Empty) else {
                    unreachable!()
                };
                Poll::Ready(Some(Ok(Frame::data(bytes))))
            }
            Kind::Incoming(incoming) => incoming.poll_frame(cx),
            Kind::Boxed(body) => body
                .as_mut()
                .poll_frame(cx)
                .map(|f| f.map(|r| r.map_err(BodyError::stream))),
            #[cfg(feature = "axum")]
            Kind::Axum(body) => http_body::Body::poll_frame(Pin::new(body), cx)
                .map(|f| f.map(|r| r.map_err(|e| BodyError::stream(e.into())))),
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Body::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match &self.kind {
            Kind::Empty => "empty",
            Kind::Full(_) => "full",
            Kind::Incoming(_) => "incoming",
            Kind::Boxed(_) => "boxed",
            #[cfg(feature = "axum")]
            Kind::Axum(_) => "axum",
        };
        f.debug_tuple("Body").field(&kind).finish()
    }
}

impl http_body::Body for Body {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        self.get_mut().poll_frame_inner(cx)
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Empty => true,
            Kind::Full(_) => false,
            Kind::Incoming(i) => i.is_end_stream(),
            Kind::Boxed(b) => b.is_end_stream(),
            #[cfg(feature = "axum")]
            Kind::Axum(b) => b.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Empty => SizeHint::with_exact(0),
            Kind::Full(b) => SizeHint::with_exact(b.len() as u64),
            Kind::Incoming(i) => i.size_hint(),
            Kind::Boxed(b) => b.size_hint(),
            #[cfg(feature = "axum")]
            Kind::Axum(b) => b.size_hint(),
        }
    }
}

macro_rules! full_from {
    ($($t:ty),*) => {$(
        impl From<$t> for Body {
            fn from(value: $t) -> Self {
                Body::full(value)
            }
        }
    )*};
}
full_from!(Bytes, Vec<u8>, String, &'static str, &'static [u8]);

impl From<()> for Body {
    fn from(_: ()) -> Self {
        Body::empty()
    }
}

// ---- errors ----

/// Why a body could not be read (or produced).
pub struct BodyError {
    inner: ErrorInner,
}

enum ErrorInner {
    /// The peer broke the protocol mid-body (bad chunk, too large, ...).
    Remote(RemoteProtocolError),
    /// The connection ended before the body did.
    Incomplete,
    /// A response body stream failed.
    Stream(BoxError),
    /// The request body arrived slower than the server's minimum rate.
    TooSlow,
}

impl BodyError {
    pub(crate) fn remote(e: RemoteProtocolError) -> Self {
        BodyError {
            inner: ErrorInner::Remote(e),
        }
    }

    pub(crate) fn incomplete() -> Self {
        BodyError {
            inner: ErrorInner::Incomplete,
        }
    }

    pub(crate) fn too_slow() -> Self {
        BodyError {
            inner: ErrorInner::TooSlow,
        }
    }

    fn stream(e: BoxError) -> Self {
        match e.downcast::<BodyError>() {
            Ok(e) => *e,
            Err(e) => BodyError {
                inner: ErrorInner::Stream(e),
            },
        }
    }

    /// The status a server should answer for this error: 413 when the body was
    /// larger than allowed, 408 when it arrived slower than the server's
    /// [minimum rate](crate::ServerConfig::min_body_rate), 400 for other peer
    /// errors, `None` otherwise.
    pub fn status(&self) -> Option<u16> {
        match &self.inner {
            ErrorInner::Remote(e) => Some(e.status()),
            ErrorInner::Incomplete => Some(400),
            ErrorInner::TooSlow => Some(408),
            ErrorInner::Stream(_) => None,
        }
    }

    /// True when the body exceeded the configured maximum size.
    pub fn is_too_large(&self) -> bool {
        self.status() == Some(413)
    }

    /// The peer's protocol error, if that is what ended the body.
    pub fn remote_error(&self) -> Option<RemoteProtocolError> {
        match &self.inner {
            ErrorInner::Remote(e) => Some(*e),
            _ => None,
        }
    }
}

impl fmt::Debug for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            ErrorInner::Remote(e) => f.debug_tuple("BodyError::Remote").field(e).finish(),
            ErrorInner::Incomplete => f.write_str("BodyError::Incomplete"),
            ErrorInner::TooSlow => f.write_str("BodyError::TooSlow"),
            ErrorInner::Stream(e) => f.debug_tuple("BodyError::Stream").field(e).finish(),
        }
    }
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            ErrorInner::Remote(e) => write!(f, "request body: {e}"),
            ErrorInner::Incomplete => f.write_str("connection closed before the body ended"),
            ErrorInner::TooSlow => f.write_str("request body arrived slower than the minimum rate"),
            ErrorInner::Stream(e) => write!(f, "body stream failed: {e}"),
        }
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.inner {
            ErrorInner::Remote(e) => Some(e),
            ErrorInner::Incomplete | ErrorInner::TooSlow => None,
            ErrorInner::Stream(e) => Some(&**e),
        }
    }
}

// ---- adapters for boxed bodies ----

pin_project_lite::pin_project! {
    struct MapErr<B> {
        #[pin]
        inner: B,
    }
}

impl<B> http_body::Body for MapErr<B>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.project()
            .inner
            .poll_frame(cx)
            .map(|f| f.map(|r| r.map_err(Into::into)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

pin_project_lite::pin_project! {
    struct StreamBody<S> {
        #[pin]
        stream: S,
    }
}

impl<S, E> http_body::Body for StreamBody<S>
where
    S: Stream<Item = Result<Bytes, E>>,
    E: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.project()
            .stream
            .poll_next(cx)
            .map(|item| item.map(|r| r.map(Frame::data).map_err(Into::into)))
    }
}

// ---- the request body channel ----

/// The receiving half of a request body: what the handler reads.
pub(crate) struct Incoming {
    shared: Arc<Channel>,
    /// Bytes still expected when the request declared `Content-Length`.
    remaining: Option<u64>,
    done: bool,
}

/// The sending half, held by the connection.
pub(crate) struct BodySender {
    shared: Arc<Channel>,
    /// [`finish`](Self::finish) ended the body: dropping the sender has
    /// nothing to tell the reader.
    finished: bool,
    /// Body bytes still to come (`u64::MAX` when the length is not known):
    /// once none are, nothing more can be buffered.
    unsent: Cell<u64>,
}

/// What both halves share.
#[derive(Default)]
struct Channel {
    state: Mutex<Shared>,
    /// `Shared::buffered`, written under the lock, read without it by the
    /// connection: only the connection adds bytes, so a stale value is never
    /// below the true one and "there is room" needs no lock.
    unread: AtomicUsize,
}

/// Pieces of body waiting for the reader, in order. Most bodies have at most
/// one waiting at a time: it is held inline, and the queue behind it exists
/// only once a second one waits.
#[derive(Default)]
struct Chunks {
    first: Option<Bytes>,
    rest: Option<VecDeque<Bytes>>,
}

impl Chunks {
    fn push_back(&mut self, chunk: Bytes) {
        if self.first.is_none() {
            self.first = Some(chunk);
        } else {
            self.rest.get_or_insert_default().push_back(chunk);
        }
    }

    fn pop_front(&mut self) -> Option<Bytes> {
        let chunk = self.first.take()?;
        self.first = self.rest.as_mut().and_then(VecDeque::pop_front);
        Some(chunk)
    }

    fn is_empty(&self) -> bool {
        self.first.is_none()
    }

    fn clear(&mut self) {
        self.first = None;
        self.rest = None;
    }
}

#[derive(Default)]
struct Shared {
    chunks: Chunks,
    buffered: usize,
    end: End,
    /// The handler polled the body at least once (it wants it: send `100 Continue`).
    wanted: bool,
    /// The handler dropped the body.
    dropped: bool,
    /// The task reading the body, to wake when data arrives.
    reader: Option<Waker>,
    /// The connection task, to wake when the reader wants more or drops the body.
    connection: Option<Waker>,
    /// Bytes the reader took (or dropped unread) since the connection last asked:
    /// HTTP/2 grants that much flow-control credit back to the peer.
    consumed: usize,
}

#[derive(Default)]
enum End {
    #[default]
    Open,
    /// Boxed: trailers are rare, and the channel is built for every body.
    Finished(Option<Box<HeaderMap>>),
    Failed(Option<BodyError>),
}

impl Shared {
    /// Wakes the connection task, unless `reader` (the task reading the
    /// body) is the connection task itself: a handler polled inline, or a
    /// request body streamed back as the response. That task is running
    /// now and looks at the body again before it waits (registering anew
    /// what it still waits for); waking it would only schedule it once more
    /// (or wake itself forever), and so would a later wake from the same
    /// registration, such as the reader dropping the body in that poll.
    fn wake_connection(&mut self, reader: &Waker) {
        if let Some(w) = self.connection.take() {
            if !w.will_wake(reader) {
                w.wake();
            }
        }
    }

    /// Wakes the reader, unless it waits in `task`: the caller's own task,
    /// which polls it next.
    fn wake_reader(&mut self, task: &Waker) {
        if let Some(w) = self.reader.take() {
            if w.will_wake(task) {
                self.reader = Some(w);
            } else {
                w.wake();
            }
        }
    }
}

fn lock(shared: &Channel) -> MutexGuard<'_, Shared> {
    shared.state.lock().unwrap_or_else(|e| e.into_inner())
}

/// A connected pair: the handler's [`Body`] side and the connection's sender.
pub(crate) fn channel(content_length: Option<u64>) -> (Incoming, BodySender) {
    let shared = Arc::new(Channel::default());
    (
        Incoming {
            shared: shared.clone(),
            remaining: content_length,
            done: false,
        },
        BodySender {
            shared,
            finished: false,
            unsent: Cell::new(content_length.unwrap_or(u64::MAX)),
        },
    )
}

impl Incoming {
    fn poll_frame(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        if self.done {
            return Poll::Ready(None);
        }
        let mut s = lock(&self.shared);
        if !s.wanted {
            s.wanted = true;
            s.wake_connection(cx.waker());
        }
        if let Some(chunk) = s.chunks.pop_front() {
            s.buffered -= chunk.len();
            self.shared.unread.store(s.buffered, Ordering::Relaxed);
            s.consumed += chunk.len();
            s.wake_connection(cx.waker());
            if let Some(r) = &mut self.remaining {
                *r = r.saturating_sub(chunk.len() as u64);
            }
            // The last piece of a body whose end already came: the next
            // poll ends it without looking at the channel again.
            self.done = s.chunks.is_empty() && matches!(s.end, End::Finished(None));
            return Poll::Ready(Some(Ok(Frame::data(chunk))));
        }
        match &mut s.end {
            End::Open => {
                match &s.reader {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => s.reader = Some(cx.waker().clone()),
                }
                // Nudge the connection to read on.
                s.wake_connection(cx.waker());
                Poll::Pending
            }
            End::Finished(trailers) => {
                let trailers = trailers.take();
                drop(s);
                self.done = true;
                Poll::Ready(trailers.map(|t| Ok(Frame::trailers(*t))))
            }
            End::Failed(e) => {
                let e = e.take();
                drop(s);
                self.done = true;
                Poll::Ready(e.map(Err))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.done
            || self.remaining == Some(0) && {
                let s = lock(&self.shared);
                s.chunks.is_empty() && matches!(s.end, End::Finished(None))
            }
    }

    fn size_hint(&self) -> SizeHint {
        match self.remaining {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        if self.done {
            // The body was read to its end: the sender is gone, nothing is
            // buffered, and no one waits on what the reader does.
            return;
        }
        let mut s = lock(&self.shared);
        s.dropped = true;
        s.chunks.clear();
        s.consumed += s.buffered;
        s.buffered = 0;
        self.shared.unread.store(0, Ordering::Relaxed);
        if let Some(w) = s.connection.take() {
            w.wake();
        }
    }
}

impl BodySender {
    /// Hands a piece of body to the reader. Returns false (and drops the bytes)
    /// when the reader is gone. A reader waiting in `task` (the caller's own
    /// task, which polls it next) is not woken.
    pub(crate) fn push(&self, data: Bytes, task: &Waker) -> bool {
        let mut s = lock(&self.shared);
        if s.dropped {
            return false;
        }
        s.buffered += data.len();
        self.shared.unread.store(s.buffered, Ordering::Relaxed);
        self.unsent
            .set(self.unsent.get().saturating_sub(data.len() as u64));
        s.chunks.push_back(data);
        s.wake_reader(task);
        true
    }

    /// The body ended, with these trailers; a reader waiting in `task` is
    /// not woken (as for [`push`](Self::push)).
    pub(crate) fn finish(mut self, trailers: Option<HeaderMap>, task: &Waker) {
        self.end(End::Finished(trailers.map(Box::new)), task);
        self.finished = true;
    }

    /// The body cannot complete.
    pub(crate) fn fail(&self, error: BodyError) {
        self.end(End::Failed(Some(error)), Waker::noop());
    }

    fn end(&self, end: End, task: &Waker) {
        let mut s = lock(&self.shared);
        if matches!(s.end, End::Open) {
            s.end = end;
            s.wake_reader(task);
        }
    }

    /// True while fewer than `limit` bytes wait unread, or when every byte of
    /// the body was handed over (what follows, its end, adds none); otherwise
    /// registers the connection task to be woken when the reader takes some
    /// (or drops the body).
    #[inline]
    pub(crate) fn poll_room(&self, limit: usize, cx: &mut Context<'_>) -> bool {
        // A dropped body counts nothing unread.
        self.shared.unread.load(Ordering::Relaxed) < limit
            || self.unsent.get() == 0
            || self.poll_room_locked(limit, cx)
    }

    /// [`poll_room`](Self::poll_room) when the unlocked count says the body is full.
    #[inline(never)]
    fn poll_room_locked(&self, limit: usize, cx: &mut Context<'_>) -> bool {
        let mut s = lock(&self.shared);
        if s.dropped || s.buffered < limit {
            return true;
        }
        s.connection = Some(cx.waker().clone());
        false
    }

    /// Bytes the reader may still be handed before `limit` unread bytes wait.
    pub(crate) fn room(&self, limit: usize) -> usize {
        limit.saturating_sub(self.shared.unread.load(Ordering::Relaxed))
    }

    /// True once the reader polled the body; otherwise registers the connection
    /// task to be woken when it does.
    pub(crate) fn poll_wanted(&self, cx: &mut Context<'_>) -> bool {
        let mut s = lock(&self.shared);
        if s.wanted || s.dropped {
            return s.wanted;
        }
        s.connection = Some(cx.waker().clone());
        false
    }

    /// True once the reader dropped the body.
    pub(crate) fn is_dropped(&self) -> bool {
        lock(&self.shared).dropped
    }

    /// A handle on the consumption count that outlives this sender.
    pub(crate) fn consumption(&self) -> Consumption {
        Consumption {
            shared: self.shared.clone(),
        }
    }
}

/// How much of a request body its reader has consumed; kept by the connection
/// after the body ended, until the reader is done with the buffered bytes.
pub(crate) struct Consumption {
    shared: Arc<Channel>,
}

impl Consumption {
    /// Bytes consumed (taken or dropped unread) since the last call; registers
    /// the connection task to be woken when more are (the reader may run on
    /// another task, so every call re-registers: no consumption goes unseen).
    pub(crate) fn poll_take(&self, cx: &mut Context<'_>) -> usize {
        let mut s = lock(&self.shared);
        let n = std::mem::take(&mut s.consumed);
        if !s.dropped {
            match &s.connection {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => s.connection = Some(cx.waker().clone()),
            }
        }
        n
    }
}

impl Drop for BodySender {
    fn drop(&mut self) {
        // A sender dropped before the end means the connection went away.
        if !self.finished {
            self.end(End::Failed(Some(BodyError::incomplete())), Waker::noop());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use http_body::Body as _;
    use http_body_util::BodyExt;

    #[test]
    fn only_a_body_built_whole_gives_up_its_bytes() {
        let mut whole = Body::from("hello");
        assert_eq!(whole.take_full().unwrap(), "hello");
        assert!(whole.is_end_stream());
        assert_eq!(whole.take_full(), None);
        let mut streamed = Body::from_stream(futures::stream::iter([Ok::<_, BodyError>(
            Bytes::from_static(b"x"),
        )]));
        assert_eq!(streamed.take_full(), None);
        assert_eq!(block_on(streamed.to_bytes()).unwrap(), "x");
        let (incoming, _tx) = channel(Some(1));
        assert_eq!(Body::incoming(incoming).take_full(), None);
    }

    #[test]
    fn incoming_body_yields_data_then_trailers() {
        let (incoming, tx) = channel(None);
        let body = Body::incoming(incoming);
        assert!(tx.push(Bytes::from_static(b"hel"), Waker::noop()));
        assert!(tx.push(Bytes::from_static(b"lo"), Waker::noop()));
        let mut trailers = HeaderMap::new();
        trailers.insert("x-sum", "1".parse().unwrap());
        tx.finish(Some(trailers), Waker::noop());
        let collected = block_on(body.collect()).unwrap();
        assert_eq!(collected.trailers().unwrap()["x-sum"], "1");
        assert_eq!(collected.to_bytes(), "hello");
    }

    #[test]
    fn sender_sees_room_wanted_and_drop() {
        let (incoming, tx) = channel(Some(6));
        let mut body = Body::incoming(incoming);
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(!tx.poll_wanted(&mut cx));
        assert!(tx.push(Bytes::from_static(b"abcd"), Waker::noop()));
        assert!(!tx.poll_room(4, &mut cx));
        assert!(matches!(
            Pin::new(&mut body).poll_frame(&mut cx),
            Poll::Ready(Some(Ok(_)))
        ));
        assert!(tx.poll_wanted(&mut cx));
        assert!(tx.poll_room(4, &mut cx));
        drop(body);
        assert!(tx.is_dropped());
        assert!(!tx.push(Bytes::from_static(b"x"), Waker::noop()));
    }

    #[test]
    fn a_body_handed_over_whole_leaves_room_for_its_end() {
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let (incoming, tx) = channel(Some(4));
        assert!(tx.push(Bytes::from_static(b"abcd"), Waker::noop()));
        assert!(tx.poll_room(4, &mut cx), "no byte is left to come");
        assert_eq!(tx.room(4), 0);
        tx.finish(None, Waker::noop());
        let mut body = Body::incoming(incoming);
        let Poll::Ready(Some(Ok(frame))) = Pin::new(&mut body).poll_frame(&mut cx) else {
            panic!("expected the body");
        };
        assert_eq!(frame.into_data().unwrap(), "abcd");
        assert!(body.is_end_stream(), "its last piece ends it");
        assert!(matches!(
            Pin::new(&mut body).poll_frame(&mut cx),
            Poll::Ready(None)
        ));
        // A body of unknown length can always grow.
        let (_incoming, tx) = channel(None);
        assert!(tx.push(Bytes::from_static(b"abcd"), Waker::noop()));
        assert!(!tx.poll_room(4, &mut cx));
    }

    #[derive(Default)]
    struct CountWakes(std::sync::atomic::AtomicUsize);

    impl futures::task::ArcWake for CountWakes {
        fn wake_by_ref(arc_self: &Arc<Self>) {
            arc_self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_reader_in_the_connection_task_never_wakes_it() {
        let wakes = Arc::new(CountWakes::default());
        let waker = futures::task::waker(wakes.clone());
        let mut cx = Context::from_waker(&waker);
        let (incoming, tx) = channel(None);
        let mut body = Body::incoming(incoming);
        assert!(tx.push(Bytes::from_static(b"abcd"), Waker::noop()));
        assert!(!tx.poll_room(4, &mut cx), "full: the connection waits");
        // The handler runs in the connection's task, which looks again
        // after polling it: neither the read nor the drop wakes it.
        assert!(matches!(
            Pin::new(&mut body).poll_frame(&mut cx),
            Poll::Ready(Some(Ok(_)))
        ));
        drop(body);
        assert_eq!(wakes.0.load(Ordering::Relaxed), 0);
        // A reader in another task wakes the waiting connection.
        let (incoming, tx) = channel(None);
        let mut body = Body::incoming(incoming);
        assert!(tx.push(Bytes::from_static(b"abcd"), Waker::noop()));
        assert!(!tx.poll_room(4, &mut cx));
        let other = futures::task::noop_waker();
        assert!(matches!(
            Pin::new(&mut body).poll_frame(&mut Context::from_waker(&other)),
            Poll::Ready(Some(Ok(_)))
        ));
        assert_eq!(wakes.0.load(Ordering::Relaxed), 1);
        // So does a drop there, once the connection waits again.
        assert!(tx.push(Bytes::from_static(b"abcd"), Waker::noop()));
        assert!(!tx.poll_room(4, &mut cx));
        drop(body);
        assert_eq!(wakes.0.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn pieces_queued_before_the_reader_comes_are_read_in_order_and_free_room() {
        let (incoming, tx) = channel(None);
        let mut body = Body::incoming(incoming);
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        for piece in ["ab", "cde", "f", "ghij"] {
            assert!(tx.push(Bytes::from_static(piece.as_bytes()), Waker::noop()));
        }
        assert_eq!(tx.room(16), 6);
        assert!(!tx.poll_room(10, &mut cx));
        let mut read = Vec::new();
        for (piece, room) in [("ab", 8), ("cde", 11), ("f", 12)] {
            let Poll::Ready(Some(Ok(frame))) = Pin::new(&mut body).poll_frame(&mut cx) else {
                panic!("expected {piece}");
            };
            assert_eq!(frame.into_data().unwrap(), piece);
            assert_eq!(tx.room(16), room);
            read.push(piece);
        }
        assert!(tx.poll_room(10, &mut cx));
        assert!(tx.push(Bytes::from_static(b"k"), Waker::noop()));
        tx.finish(None, Waker::noop());
        let rest = block_on(body.collect()).unwrap().to_bytes();
        assert_eq!(rest, "ghijk");
        // Once the reader is gone nothing counts as unread.
        let (incoming, tx) = channel(None);
        assert!(tx.push(Bytes::from(vec![0; 100]), Waker::noop()));
        assert_eq!(tx.room(64), 0);
        drop(Body::incoming(incoming));
        assert_eq!(tx.room(64), 64);
        assert!(tx.poll_room(64, &mut cx));
    }

    #[test]
    fn consumption_counts_taken_and_dropped_bytes() {
        let (incoming, tx) = channel(None);
        let consumption = tx.consumption();
        let mut body = Body::incoming(incoming);
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(tx.push(Bytes::from_static(b"abc"), Waker::noop()));
        assert!(tx.push(Bytes::from_static(b"defgh"), Waker::noop()));
        assert_eq!(consumption.poll_take(&mut cx), 0);
        assert!(matches!(
            Pin::new(&mut body).poll_frame(&mut cx),
            Poll::Ready(Some(Ok(_)))
        ));
        assert_eq!(consumption.poll_take(&mut cx), 3);
        drop(body);
        assert_eq!(
            consumption.poll_take(&mut cx),
            5,
            "unread bytes count once dropped"
        );
        assert_eq!(consumption.poll_take(&mut cx), 0);
    }

    #[test]
    fn dropped_sender_fails_the_body() {
        let (incoming, tx) = channel(None);
        drop(tx);
        let err = block_on(Body::incoming(incoming).to_bytes()).unwrap_err();
        assert_eq!(err.status(), Some(400));
    }

    #[test]
    fn full_body_has_exact_size_and_body_is_not_reboxed() {
        let body = Body::new(Body::from("abc"));
        assert!(matches!(body.kind, Kind::Full(_)));
        assert_eq!(http_body::Body::size_hint(&body).exact(), Some(3));
        assert_eq!(block_on(body.to_bytes()).unwrap(), "abc");
    }

    #[test]
    fn stream_body_yields_items() {
        let s = futures::stream::iter([
            Ok::<_, std::io::Error>(Bytes::from("a")),
            Ok(Bytes::from("b")),
        ]);
        assert_eq!(block_on(Body::from_stream(s).to_bytes()).unwrap(), "ab");
    }
}
