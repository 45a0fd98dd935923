//! State shared by an async task and an IO thread for one request/response exchange, and the
//! command queue from tasks to the IO thread.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::StatusCode;

use super::protocol::{ResponseHead, WINDOW};
use crate::wake::WakePipe;

/// A map keyed by exchange id. Ids are chosen by the gateway (a counter; a worker trusts
/// its gateway), never by a client, so a multiplicative hash suffices where SipHash would
/// cost more than the rest of the look-up.
pub(crate) type IdMap<V> = HashMap<u64, V, BuildHasherDefault<IdHasher>>;

/// The hasher of [`IdMap`]: Fibonacci hashing of the id.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, id: u64) {
        self.0 = id.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Commands from tasks to an IO thread, with the wake-up that announces them.
pub(crate) struct Outbox<C> {
    queue: Mutex<Vec<C>>,
    pub(crate) wake: WakePipe,
    stopping: AtomicBool,
}

impl<C> Outbox<C> {
    pub(crate) fn new() -> io::Result<Self> {
        Ok(Outbox {
            queue: Mutex::new(Vec::new()),
            wake: WakePipe::new()?,
            stopping: AtomicBool::new(false),
        })
    }

    pub(crate) fn push(&self, command: C) {
        let was_empty = {
            let mut q = lock(&self.queue);
            q.push(command);
            q.len() == 1
        };
        if was_empty {
            self.wake.signal();
        }
    }

    /// Moves the queued commands into `into` (which keeps its allocation across turns).
    pub(crate) fn take_into(&self, into: &mut Vec<C>) {
        std::mem::swap(&mut *lock(&self.queue), into);
    }

    /// IO thread, at the start of a turn: reads away wake-up bytes; until
    /// [`prepare_sleep`](Self::prepare_sleep), pushes make no system call (this turn looks at
    /// the queue anyway).
    /// `signalled`: the last wait saw the wake-up readable (only then is there anything to
    /// read, which saves a system call per turn).
    pub(crate) fn begin_turn(&self, signalled: bool) {
        self.wake.set_awake();
        if signalled {
            self.wake.drain_bytes();
        }
    }

    /// IO thread, before sleeping: re-arms the wake-up; true if commands arrived meanwhile
    /// (then the thread must not sleep but take them). A [`stop`](Self::stop) during the
    /// turn is not reported here: check [`is_stopping`](Self::is_stopping) after this call.
    pub(crate) fn prepare_sleep(&self) -> bool {
        self.wake.prepare_sleep();
        !lock(&self.queue).is_empty()
    }

    /// Commands are queued.
    pub(crate) fn has_work(&self) -> bool {
        !lock(&self.queue).is_empty()
    }

    pub(crate) fn stop(&self) {
        self.stopping.store(true, Ordering::Release);
        self.wake.signal();
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }
}

/// How an exchange's incoming body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    Complete,
    Aborted,
}

#[derive(Default)]
struct State {
    head: Option<Result<ResponseHead, StatusCode>>,
    /// The body that came whole with its head (a `RESPONSE`), kept out of `chunks`, whose
    /// queue would allocate for it on every such response.
    whole: Option<Bytes>,
    chunks: VecDeque<Bytes>,
    end: Option<End>,
    /// Bytes of our outgoing body the other side still accepts (may go below 0 by one chunk).
    credit: i64,
    recv_waker: Option<Waker>,
    credit_waker: Option<Waker>,
}

/// One exchange as seen by both its task and its IO thread.
pub(crate) struct Exchange {
    pub(crate) id: u64,
    state: Mutex<State>,
}

impl Exchange {
    /// A new exchange; with `window_open` false, no body may be sent before
    /// [`open_window`](Self::open_window) (a `100-continue` request).
    pub(crate) fn new(id: u64, window_open: bool) -> Self {
        Exchange {
            id,
            state: Mutex::new(State {
                credit: if window_open { WINDOW as i64 } else { 0 },
                ..State::default()
            }),
        }
    }

    fn update(&self, f: impl FnOnce(&mut State)) {
        let mut st = lock(&self.state);
        f(&mut st);
        let wakers = [st.recv_waker.take(), st.credit_waker.take()];
        drop(st);
        wakers.into_iter().flatten().for_each(Waker::wake);
    }

    /// IO thread: the response head arrived.
    pub(crate) fn set_head(&self, head: ResponseHead) {
        self.update(|st| {
            if st.head.is_none() {
                st.head = Some(Ok(head));
            }
        });
    }

    /// IO thread: a whole response (head, body, end) arrived at once.
    pub(crate) fn complete(&self, head: ResponseHead, body: Bytes) {
        self.update(|st| {
            if st.head.is_none() {
                st.head = Some(Ok(head));
                if !body.is_empty() {
                    st.whole = Some(body);
                }
                st.end = Some(End::Complete);
            }
        });
    }

    pub(crate) fn push_chunk(&self, chunk: Bytes) {
        self.update(|st| st.chunks.push_back(chunk));
    }

    /// IO thread: the incoming body ended (or the exchange was aborted).
    pub(crate) fn end(&self, end: End) {
        self.update(|st| {
            if st.end.is_none() {
                st.end = Some(end);
            }
        });
    }

    /// IO thread: fails the exchange: no head yet → `status`; else the body breaks off.
    pub(crate) fn fail(&self, status: StatusCode) {
        self.update(|st| {
            if st.head.is_none() {
                st.head = Some(Err(status));
            }
            if st.end.is_none() {
                st.end = Some(End::Aborted);
            }
        });
    }

    pub(crate) fn add_credit(&self, n: u64) {
        self.update(|st| st.credit = st.credit.saturating_add(n as i64));
    }

    /// The other side wants the body now (`CONTINUE`): opens the initial window.
    pub(crate) fn open_window(&self) {
        self.add_credit(WINDOW);
    }

    /// The whole incoming body when it has completely arrived in at most one chunk (a
    /// `RESPONSE`), taking it; `None` while it still streams.
    pub(crate) fn take_whole_body(&self) -> Option<Bytes> {
        let mut st = lock(&self.state);
        if st.end != Some(End::Complete) {
            return None;
        }
        // `whole` (a `RESPONSE`) and `chunks` (`HEAD`, `BODY`…) never both hold bytes.
        match st.chunks.len() {
            0 => Some(st.whole.take().unwrap_or_default()),
            1 => st.chunks.pop_front(),
            _ => None,
        }
    }

    pub(crate) fn is_ended(&self) -> bool {
        lock(&self.state).end.is_some()
    }

    pub(crate) fn poll_head(&self, cx: &mut Context<'_>) -> Poll<Result<ResponseHead, StatusCode>> {
        let mut st = lock(&self.state);
        match st.head.take() {
            Some(head) => {
                // Leave a marker so a late failure does not replace a head already used.
                st.head = Some(Err(StatusCode::OK));
                Poll::Ready(head)
            }
            None => {
                st.recv_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// Next incoming body chunk; `None` at the end; `Some(Err)` when aborted.
    pub(crate) fn poll_chunk(&self, cx: &mut Context<'_>) -> Poll<Option<Result<Bytes, ()>>> {
        let mut st = lock(&self.state);
        if let Some(chunk) = st.whole.take().or_else(|| st.chunks.pop_front()) {
            return Poll::Ready(Some(Ok(chunk)));
        }
        match st.end {
            Some(End::Complete) => Poll::Ready(None),
            Some(End::Aborted) => Poll::Ready(Some(Err(()))),
            None => {
                st.recv_waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }

    /// Ready(true) once the window is open (body may be sent), Ready(false) when the exchange
    /// was aborted.
    pub(crate) fn poll_window(&self, cx: &mut Context<'_>) -> Poll<bool> {
        let mut st = lock(&self.state);
        if st.end == Some(End::Aborted) {
            return Poll::Ready(false);
        }
        if st.credit > 0 {
            return Poll::Ready(true);
        }
        st.credit_waker = Some(cx.waker().clone());
        Poll::Pending
    }

    /// Takes `n` bytes about to be sent from the window.
    pub(crate) fn take_credit(&self, n: usize) {
        lock(&self.state).credit -= n as i64;
    }

    /// Ready once the exchange is aborted (for racing a handler against cancellation).
    pub(crate) fn poll_aborted(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = lock(&self.state);
        if st.end == Some(End::Aborted) {
            return Poll::Ready(());
        }
        st.credit_waker = Some(cx.waker().clone());
        Poll::Pending
    }
}
