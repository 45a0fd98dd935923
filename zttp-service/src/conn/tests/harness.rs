//! A virtual clock, an in-memory socket and a tiny executor: the drive loop
//! tested without sockets, threads or sleeps.
//!
//! [`VirtualRuntime`] implements [`Runtime`]: `now()` only moves when a test
//! calls [`Harness::advance`], and its sleeps complete then. [`Pipe`] is both
//! ends of one connection: the loop gets a [`ServerIo`], the test writes the
//! client's bytes and reads the server's. [`Harness`] polls the connection
//! (and whatever it spawned) until nothing more can happen.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures::task::{waker, ArcWake};
use futures_io::{AsyncRead, AsyncWrite};

use crate::Runtime;

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A [`Runtime`] on a clock that only the test moves.
#[derive(Clone)]
pub(crate) struct VirtualRuntime(Arc<Clock>);

struct Clock {
    state: Mutex<ClockState>,
    /// Sleeps created so far (the loop should re-arm one timer, not allocate many).
    sleeps: AtomicUsize,
}

struct ClockState {
    now: Instant,
    /// Sleeps waiting for their deadline.
    waiting: Vec<(Instant, Waker)>,
    /// Futures handed to `spawn`, not yet taken by the harness.
    spawned: Vec<Task>,
}

impl VirtualRuntime {
    pub(crate) fn new() -> Self {
        VirtualRuntime(Arc::new(Clock {
            state: Mutex::new(ClockState {
                now: Instant::now(),
                waiting: Vec::new(),
                spawned: Vec::new(),
            }),
            sleeps: AtomicUsize::new(0),
        }))
    }

    /// Moves the clock by `by` and wakes every sleep whose deadline passed.
    fn advance(&self, by: Duration) {
        let mut state = self.0.state.lock().unwrap();
        state.now += by;
        let now = state.now;
        let (due, waiting): (Vec<_>, Vec<_>) =
            state.waiting.drain(..).partition(|(at, _)| *at <= now);
        state.waiting = waiting;
        drop(state);
        for (_, waker) in due {
            waker.wake();
        }
    }

    /// The earliest deadline a sleep waits for.
    fn next_deadline(&self) -> Option<Instant> {
        let state = self.0.state.lock().unwrap();
        state.waiting.iter().map(|(at, _)| *at).min()
    }

    fn take_spawned(&self) -> Vec<Task> {
        std::mem::take(&mut self.0.state.lock().unwrap().spawned)
    }

    /// Sleeps created since the runtime was made.
    pub(crate) fn sleeps_created(&self) -> usize {
        self.0.sleeps.load(Ordering::Relaxed)
    }
}

impl Runtime for VirtualRuntime {
    fn spawn(&self, future: Task) {
        self.0.state.lock().unwrap().spawned.push(future);
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        self.0.sleeps.fetch_add(1, Ordering::Relaxed);
        let at = self.now() + duration;
        let clock = self.0.clone();
        Box::pin(std::future::poll_fn(move |cx| {
            let mut state = clock.state.lock().unwrap();
            if state.now >= at {
                return Poll::Ready(());
            }
            state.waiting.push((at, cx.waker().clone()));
            Poll::Pending
        }))
    }

    fn now(&self) -> Instant {
        self.0.state.lock().unwrap().now
    }
}

/// Both directions of one in-memory connection.
#[derive(Default)]
struct PipeState {
    /// Client → server bytes not yet read by the server.
    to_server: VecDeque<u8>,
    /// The client closed its write side (the server reads EOF once drained).
    client_closed: bool,
    /// Server → client bytes not yet taken by the test.
    to_client: Vec<u8>,
    /// The server closed its write side.
    server_closed: bool,
    /// Most unread bytes `to_client` holds before server writes wait (`None`: no limit).
    room: Option<usize>,
    /// Bytes the server read, in total.
    read_total: usize,
    /// Reads that returned bytes.
    reads: usize,
    read_waker: Option<Waker>,
    write_waker: Option<Waker>,
}

/// The test's end of an in-memory connection.
#[derive(Clone, Default)]
pub(crate) struct Pipe(Arc<Mutex<PipeState>>);

impl Pipe {
    /// The server's end, to hand to the drive loop.
    pub(crate) fn server_io(&self) -> ServerIo {
        ServerIo(self.0.clone())
    }

    fn with<T>(&self, f: impl FnOnce(&mut PipeState) -> T) -> T {
        f(&mut self.0.lock().unwrap())
    }

    /// The client sends `bytes`.
    pub(crate) fn write(&self, bytes: &[u8]) {
        let waker = self.with(|p| {
            assert!(!p.client_closed, "the client already closed its side");
            p.to_server.extend(bytes);
            p.read_waker.take()
        });
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The client closes its write side.
    pub(crate) fn close(&self) {
        let waker = self.with(|p| {
            p.client_closed = true;
            p.read_waker.take()
        });
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Takes everything the server wrote so far (making room for more).
    pub(crate) fn read(&self) -> Vec<u8> {
        let (out, waker) = self.with(|p| (std::mem::take(&mut p.to_client), p.write_waker.take()));
        if let Some(waker) = waker {
            waker.wake();
        }
        out
    }

    /// [`read`](Self::read) as text.
    pub(crate) fn read_string(&self) -> String {
        String::from_utf8(self.read()).expect("the server wrote UTF-8")
    }

    /// Limits how many unread bytes the server may write before its writes wait.
    pub(crate) fn set_room(&self, room: Option<usize>) {
        let waker = self.with(|p| {
            p.room = room;
            p.write_waker.take()
        });
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// The server closed its write side.
    pub(crate) fn server_closed(&self) -> bool {
        self.with(|p| p.server_closed)
    }

    /// Client bytes the server has not read yet.
    pub(crate) fn unread(&self) -> usize {
        self.with(|p| p.to_server.len())
    }

    /// Bytes the server has read in total.
    pub(crate) fn read_total(&self) -> usize {
        self.with(|p| p.read_total)
    }

    /// Reads of the server that returned bytes.
    pub(crate) fn reads(&self) -> usize {
        self.with(|p| p.reads)
    }
}

/// The server's end of a [`Pipe`].
pub(crate) struct ServerIo(Arc<Mutex<PipeState>>);

/// An in-memory pipe has no peer address.
impl crate::ConnectionInfo for ServerIo {}

impl AsyncRead for ServerIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut p = self.0.lock().unwrap();
        if p.to_server.is_empty() {
            if p.client_closed {
                return Poll::Ready(Ok(0));
            }
            p.read_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let n = buf.len().min(p.to_server.len());
        for (slot, byte) in buf.iter_mut().zip(p.to_server.drain(..n)) {
            *slot = byte;
        }
        p.read_total += n;
        p.reads += 1;
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for ServerIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut p = self.0.lock().unwrap();
        if p.server_closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let room = p
            .room
            .map_or(usize::MAX, |room| room.saturating_sub(p.to_client.len()));
        let n = buf.len().min(room);
        if n == 0 && !buf.is_empty() {
            p.write_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        p.to_client.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.lock().unwrap().server_closed = true;
        Poll::Ready(Ok(()))
    }
}

/// Set when any task is woken: the executor runs until no one was.
#[derive(Default)]
struct Woken(AtomicBool);

impl ArcWake for Woken {
    fn wake_by_ref(arc_self: &Arc<Self>) {
        arc_self.0.store(true, Ordering::SeqCst);
    }
}

/// Polls at most this many rounds without the system settling: a busy loop.
const MAX_ROUNDS: usize = 100_000;

/// Runs one future (a connection, or `serve`) and the tasks it spawns on a
/// [`VirtualRuntime`], one step at a time.
pub(crate) struct Harness<T> {
    pub(crate) runtime: VirtualRuntime,
    main: Option<Pin<Box<dyn Future<Output = T> + Send>>>,
    output: Option<T>,
    tasks: Vec<Task>,
    woken: Arc<Woken>,
    /// Times the main future was polled.
    pub(crate) polls: usize,
}

impl<T> Harness<T> {
    pub(crate) fn new(
        runtime: VirtualRuntime,
        main: impl Future<Output = T> + Send + 'static,
    ) -> Self {
        let mut harness = Harness {
            runtime,
            main: Some(Box::pin(main)),
            output: None,
            tasks: Vec::new(),
            woken: Arc::new(Woken(AtomicBool::new(true))),
            polls: 0,
        };
        harness.run();
        harness
    }

    /// Polls everything until no task is woken any more.
    pub(crate) fn run(&mut self) {
        let waker = waker(self.woken.clone());
        let mut cx = Context::from_waker(&waker);
        for _ in 0..MAX_ROUNDS {
            if !self.woken.0.swap(false, Ordering::SeqCst) {
                return;
            }
            if let Some(main) = &mut self.main {
                self.polls += 1;
                if let Poll::Ready(output) = main.as_mut().poll(&mut cx) {
                    self.main = None;
                    self.output = Some(output);
                }
            }
            self.tasks.extend(self.runtime.take_spawned());
            self.tasks
                .retain_mut(|task| task.as_mut().poll(&mut cx).is_pending());
            if !self.runtime.0.state.lock().unwrap().spawned.is_empty() {
                self.woken.0.store(true, Ordering::SeqCst);
            }
        }
        panic!("the loop did not settle within {MAX_ROUNDS} rounds (busy loop)");
    }

    /// Moves the virtual clock by `by`, in steps to each deadline on the
    /// way, running everything that becomes ready at each.
    pub(crate) fn advance(&mut self, by: Duration) {
        let end = self.runtime.now() + by;
        loop {
            self.run();
            let now = self.runtime.now();
            let step = match self.runtime.next_deadline() {
                Some(at) if at <= end => at.saturating_duration_since(now),
                _ => end - now,
            };
            self.runtime.advance(step);
            self.run();
            if self.runtime.now() >= end {
                return;
            }
        }
    }

    /// True once the main future returned.
    pub(crate) fn finished(&self) -> bool {
        self.main.is_none()
    }

    /// The main future's output; panics if it has not returned.
    pub(crate) fn output(&mut self) -> T {
        self.output
            .take()
            .expect("the main future has not returned")
    }

    /// Tasks spawned on the runtime that are still running.
    pub(crate) fn live_tasks(&self) -> usize {
        self.tasks.len()
    }

    /// Wakes the executor after the test changed something the loop waits on.
    pub(crate) fn poke(&mut self) {
        self.woken.0.store(true, Ordering::SeqCst);
        self.run();
    }
}
