//! What the targets that run `zttp-service`'s drive loop share: client bytes
//! cut into fragments, an in-memory connection that hands them out (then the
//! client's close) and keeps what the server writes, and a single-threaded
//! executor on a virtual clock.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};
use zttp_service::Runtime;

/// Polls after which a connection that has all its input must have ended.
pub const MAX_POLLS: usize = 100_000;

/// `input` cut into pieces of 1..=max bytes (`max` from `size`; one piece when 0).
pub fn fragments(input: &[u8], size: u8, seed: u8) -> Vec<Vec<u8>> {
    const MAX: [usize; 8] = [0, 1, 2, 3, 7, 16, 100, 4096];
    let max = MAX[usize::from(size % 8)];
    if max == 0 {
        return vec![input.to_vec()];
    }
    let mut state = u32::from(seed) | 1;
    let mut out = Vec::new();
    let mut rest = input;
    while !rest.is_empty() {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let n = (1 + state as usize % max).min(rest.len());
        out.push(rest[..n].to_vec());
        rest = &rest[n..];
    }
    out
}

/// The server's side of the connection: reads hand out the fragments, then
/// the end of stream; writes are taken whole and kept in `written`.
pub struct MemoryIo {
    fragments: Vec<Vec<u8>>,
    next: usize,
    /// Everything the server wrote.
    pub written: Arc<Mutex<Vec<u8>>>,
}

impl MemoryIo {
    /// A connection whose client sends `fragments`, then closes.
    pub fn new(fragments: Vec<Vec<u8>>) -> MemoryIo {
        MemoryIo {
            fragments,
            next: 0,
            written: Arc::default(),
        }
    }
}

impl AsyncRead for MemoryIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let Some(fragment) = this.fragments.get_mut(this.next) else {
            return Poll::Ready(Ok(0));
        };
        let n = fragment.len().min(buf.len());
        buf[..n].copy_from_slice(&fragment[..n]);
        fragment.drain(..n);
        if fragment.is_empty() {
            this.next += 1;
        }
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for MemoryIo {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.written.lock().unwrap().extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// A single-threaded executor whose every task is polled each turn (wake-ups
/// are not tracked), on a virtual clock: after a turn in which sleeps waited,
/// the clock moves to the earliest of their deadlines, so that sleep ends at
/// its next poll (a sleep never ends before the clock reaches its deadline).
#[derive(Clone)]
pub struct Executor {
    tasks: Arc<Mutex<Vec<Task>>>,
    clock: Arc<Mutex<Instant>>,
    /// The earliest deadline a sleep waited for this turn.
    next_timer: Arc<Mutex<Option<Instant>>>,
}

impl Default for Executor {
    fn default() -> Self {
        Executor {
            tasks: Arc::default(),
            clock: Arc::new(Mutex::new(Instant::now())),
            next_timer: Arc::default(),
        }
    }
}

impl Executor {
    /// Polls every task once; returns how many are still running.
    pub fn run_once(&self) -> usize {
        let mut tasks = std::mem::take(&mut *self.tasks.lock().unwrap());
        let waker = Waker::from(Arc::new(Noop));
        let mut cx = Context::from_waker(&waker);
        tasks.retain_mut(|task| task.as_mut().poll(&mut cx).is_pending());
        if let Some(at) = self.next_timer.lock().unwrap().take() {
            let mut now = self.clock.lock().unwrap();
            *now = (*now).max(at);
        }
        let mut queue = self.tasks.lock().unwrap();
        tasks.append(&mut queue);
        *queue = tasks;
        queue.len()
    }
}

impl Runtime for Executor {
    fn spawn(&self, future: Pin<Box<dyn Future<Output = ()> + Send + 'static>>) {
        self.tasks.lock().unwrap().push(future);
    }

    fn sleep(&self, duration: Duration) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        let (clock, next_timer) = (self.clock.clone(), self.next_timer.clone());
        let at = self.now() + duration;
        Box::pin(std::future::poll_fn(move |_| {
            if *clock.lock().unwrap() >= at {
                return Poll::Ready(());
            }
            let mut next = next_timer.lock().unwrap();
            *next = Some(next.map_or(at, |t| t.min(at)));
            Poll::Pending
        }))
    }

    fn now(&self) -> Instant {
        *self.clock.lock().unwrap()
    }
}

struct Noop;

impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}
