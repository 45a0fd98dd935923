//! One busy connection must not starve the other futures of its task or
//! thread: async-std has no cooperative budget, so the drive loop yields
//! after a bounded number of turns on its own.

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::io::{AsyncRead, AsyncWrite};
use futures::StreamExt;

/// Most requests the flooding peer sends before it gives up and closes.
const FLOOD_LIMIT: u64 = 500_000;

/// A peer that is always ready: every read returns more pipelined requests
/// and every write is taken at once, until `stop` is set (or the limit).
struct Flood {
    stop: Arc<AtomicBool>,
    sent: Arc<AtomicU64>,
    pending: &'static [u8],
}

const REQUEST: &[u8] = b"GET /flood HTTP/1.1\r\nHost: t\r\n\r\n";

impl AsyncRead for Flood {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if self.stop.load(Ordering::SeqCst) || self.sent.load(Ordering::SeqCst) >= FLOOD_LIMIT {
            return Poll::Ready(Ok(0));
        }
        let mut n = 0;
        while n < buf.len() {
            if self.pending.is_empty() {
                self.pending = REQUEST;
                self.sent.fetch_add(1, Ordering::SeqCst);
            }
            let take = self.pending.len().min(buf.len() - n);
            buf[n..n + take].copy_from_slice(&self.pending[..take]);
            self.pending = &self.pending[take..];
            n += take;
        }
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for Flood {
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

#[test]
fn a_flooding_peer_does_not_starve_another_connection_of_the_same_task() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicU64::new(0));

    // The probe: one request on a real socket once the flood is under way.
    let probe = {
        let (stop, sent) = (stop.clone(), sent.clone());
        std::thread::spawn(move || {
            let mut s = std::net::TcpStream::connect(addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
            let began = Instant::now();
            while sent.load(Ordering::SeqCst) < 10_000 {
                assert!(
                    began.elapsed() < Duration::from_secs(20),
                    "the flood never got going"
                );
                std::thread::sleep(Duration::from_millis(1));
            }
            s.write_all(b"GET /probe HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            // The flood is still going when the probe has its answer.
            let flood_still_running = sent.load(Ordering::SeqCst) < FLOOD_LIMIT;
            stop.store(true, Ordering::SeqCst);
            (out, flood_still_running)
        })
    };

    async_std::task::block_on(async {
        let listener = async_std::net::TcpListener::from(listener);
        let probe = listener.incoming().next().await.unwrap().unwrap();
        let flood = Flood {
            stop: stop.clone(),
            sent: sent.clone(),
            pending: b"",
        };
        let handler = |req: zttp_async_std::Request| async move { req.uri().path().to_owned() };
        // Both connections are served by this one task: only the loop's own
        // yielding lets the probe run while the flood always has input ready.
        let (flooded, probed) = futures::join!(
            zttp_async_std::serve_connection(flood, handler),
            zttp_async_std::serve_connection(probe, handler),
        );
        flooded.unwrap();
        probed.unwrap();
    });

    let (out, flood_still_running) = probe.join().unwrap();
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\n/probe"), "{out}");
    assert!(
        flood_still_running,
        "the probe was answered only after the flood ended"
    );
}
