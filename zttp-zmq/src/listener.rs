//! Binding a STREAM socket and accepting its peers as duplex byte streams.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::channel::mpsc::{self, UnboundedReceiver};
use futures::channel::oneshot;
use futures::Stream;

use crate::io_thread::StreamIo;
use crate::peer::{IoShared, PeerLimits, PeerStream};
use crate::wake::WakePipe;

/// A bound ZeroMQ STREAM socket, yielding one [`PeerStream`] per TCP connection.
///
/// Its IO thread starts at [`bind`](Self::bind). Dropping the listener stops accepting: later
/// connections are closed at once, and the thread exits when every accepted stream is done.
pub struct PeerListener {
    incoming: UnboundedReceiver<PeerStream>,
    io: Arc<IoShared>,
    endpoint: String,
    unbound: Option<oneshot::Receiver<()>>,
}

impl fmt::Debug for PeerListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PeerListener")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl PeerListener {
    /// Binds a STREAM socket on `endpoint` (e.g. `tcp://127.0.0.1:0`) in a new ZeroMQ context.
    pub fn bind(endpoint: &str) -> io::Result<Self> {
        Self::bind_with(&zmq::Context::new(), endpoint, PeerLimits::default())
    }

    /// Binds a STREAM socket in `context`, with the given per-peer queue limits.
    pub fn bind_with(
        context: &zmq::Context,
        endpoint: &str,
        limits: PeerLimits,
    ) -> io::Result<Self> {
        if limits.inbound == 0 || limits.outbound == 0 || limits.frame == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "zero peer limit",
            ));
        }
        let mut socket = context.socket(zmq::STREAM)?;
        crate::sys::set_stream_notify(&mut socket, true)?;
        // Peers that vanish must not keep their queued bytes alive for long at shutdown.
        socket.set_linger(1000)?;
        socket.bind(endpoint)?;
        let endpoint = match socket.get_last_endpoint()? {
            Ok(s) => s,
            Err(raw) => String::from_utf8_lossy(&raw).into_owned(),
        };
        let io = Arc::new(IoShared {
            wake: WakePipe::new()?,
            ready: Mutex::new(Vec::new()),
            stopping: AtomicBool::new(false),
            limits,
        });
        let (tx, incoming) = mpsc::unbounded();
        let (unbound_tx, unbound) = oneshot::channel();
        let driver = StreamIo::new(socket, io.clone(), tx, endpoint.clone(), unbound_tx);
        std::thread::Builder::new()
            .name("zttp-zmq-io".into())
            .spawn(move || driver.run())?;
        Ok(PeerListener {
            incoming,
            io,
            endpoint,
            unbound: Some(unbound),
        })
    }

    /// The endpoint actually bound (`tcp://127.0.0.1:0` reports the chosen port).
    pub fn local_endpoint(&self) -> &str {
        &self.endpoint
    }

    /// A future that resolves once this listener was dropped, every accepted
    /// peer finished, and the socket was closed. Only the first call gets a
    /// waiting future; later ones resolve at once.
    pub fn unbound(&mut self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let rx = self.unbound.take();
        async move {
            if let Some(rx) = rx {
                let _ = rx.await;
            }
        }
    }
}

impl Stream for PeerListener {
    type Item = io::Result<PeerStream>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        Pin::new(&mut self.incoming)
            .poll_next(cx)
            .map(|s| s.map(Ok))
    }
}

impl Drop for PeerListener {
    fn drop(&mut self) {
        self.io.stopping.store(true, Ordering::Release);
        self.incoming.close();
        self.io.wake.signal();
    }
}
