//! The drive loop of `zttp-service` over an in-memory connection: arbitrary
//! client bytes (HTTP/1.1, or h2c when they start with the preface), cut into
//! fragments, then the client's end of stream. The handler reads or ignores
//! the request body and answers with a full, streamed or empty body.
//!
//! Input: `[config, policy, fragment size, fragment seed, bytes…]`. Bits of
//! `config`: 0 raw requests, 1 a 64-byte body limit, 2 HTTP/1.1 only,
//! 3 HTTP/2 handlers spawned. Bits of `policy` choose what the handler does.
//!
//! Checks: no panic, and the loop ends by itself once the client has sent
//! everything and closed (bounded polls; its timers fire after one poll), so
//! no input can wedge a connection open.
//!
//! Self-contained (it is not part of `zttp_fuzz`'s library): the libFuzzer
//! entry point and `zttp-service/tests/fuzz_corpus.rs` include this file.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use futures_io::{AsyncRead, AsyncWrite};
use zttp_service::{serve_connection, Body, Handler, Request, Runtime, ServerConfig, Shutdown};

/// Polls after which a connection that has all its input must have ended.
const MAX_POLLS: usize = 100_000;

/// Runs one input (the fuzz target's body).
pub fn run(data: &[u8]) {
    let [cfg, policy, size, seed, ref input @ ..] = *data else {
        return;
    };
    let mut config = ServerConfig::default()
        .raw_request(cfg & 1 != 0)
        .spawn_http2_handlers(cfg & 8 != 0);
    if cfg & 2 != 0 {
        config = config.max_body_size(Some(64));
    }
    if cfg & 4 != 0 {
        config = config.core(zttp_core::Config::default().protocol(zttp_core::Protocol::Http1));
    }
    let runtime = Executor::default();
    let io = MemoryIo {
        fragments: fragments(input, size, seed),
        next: 0,
    };
    let connection = serve_connection(
        io,
        runtime.clone(),
        answer(policy),
        Arc::new(config),
        Shutdown::new(),
    );
    runtime.spawn(Box::pin(async move {
        let _ = connection.await;
    }));
    for _ in 0..MAX_POLLS {
        if runtime.run_once() == 0 {
            return;
        }
    }
    panic!("the connection did not end after its input and the client's close");
}

/// The handler `policy` describes.
fn answer(policy: u8) -> impl Handler {
    move |req: Request| async move {
        let read = policy & 1 != 0;
        let len = if read {
            match req.into_body().to_bytes().await {
                Ok(body) => body.len(),
                Err(e) => return http::Response::new(Body::from(e.to_string())),
            }
        } else {
            0
        };
        match (policy >> 1) & 3 {
            0 => http::Response::new(Body::from(format!("{len}"))),
            1 => http::Response::new(Body::empty()),
            2 => {
                let chunks = ["a", "bc", "def"].map(|c| Ok::<_, io::Error>(bytes::Bytes::from(c)));
                http::Response::new(Body::from_stream(futures::stream::iter(chunks)))
            }
            _ => {
                let mut response = http::Response::new(Body::from("no"));
                *response.status_mut() = http::StatusCode::from_u16(400 + u16::from(policy >> 3))
                    .unwrap_or(http::StatusCode::BAD_REQUEST);
                response
            }
        }
    }
}

/// `input` cut into pieces of 1..=max bytes (`max` from `size`; one piece when 0).
fn fragments(input: &[u8], size: u8, seed: u8) -> Vec<Vec<u8>> {
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
/// the end of stream; writes are taken whole and dropped.
struct MemoryIo {
    fragments: Vec<Vec<u8>>,
    next: usize,
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
/// are not tracked), on a virtual clock: a sleep ends at its second poll and
/// moves the clock to its deadline.
#[derive(Clone)]
struct Executor {
    tasks: Arc<Mutex<Vec<Task>>>,
    clock: Arc<Mutex<Instant>>,
}

impl Default for Executor {
    fn default() -> Self {
        Executor {
            tasks: Arc::default(),
            clock: Arc::new(Mutex::new(Instant::now())),
        }
    }
}

impl Executor {
    /// Polls every task once; returns how many are still running.
    fn run_once(&self) -> usize {
        let mut tasks = std::mem::take(&mut *self.tasks.lock().unwrap());
        let waker = Waker::from(Arc::new(Noop));
        let mut cx = Context::from_waker(&waker);
        tasks.retain_mut(|task| task.as_mut().poll(&mut cx).is_pending());
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
        let clock = self.clock.clone();
        let at = self.now() + duration;
        let mut polled = false;
        Box::pin(std::future::poll_fn(move |_| {
            if !polled {
                polled = true;
                return Poll::Pending;
            }
            let mut now = clock.lock().unwrap();
            *now = (*now).max(at);
            Poll::Ready(())
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
