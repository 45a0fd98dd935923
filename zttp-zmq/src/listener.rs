//! Binding a STREAM socket and accepting its peers as duplex byte streams.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

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
        let socket = context
            .socket(zmq::STREAM)
            .map_err(|e| named(e.into(), "create a STREAM socket for", endpoint))?;
        Self::bind_socket(socket, endpoint, limits)
    }

    /// Binds a STREAM socket the caller created and configured (TCP keepalive, `ZMQ_TOS`,
    /// `ZMQ_MAXMSGSIZE`, [`set_tcp_max_retransmit`](crate::set_tcp_max_retransmit), CURVE is
    /// not for STREAM…). This sets `ZMQ_STREAM_NOTIFY`, a linger of 1 s, and `ZMQ_SNDHWM` /
    /// `ZMQ_RCVHWM` from `limits`, then binds; options must be set before binding, as libzmq
    /// copies them into each connection.
    ///
    /// ```no_run
    /// # fn run() -> std::io::Result<()> {
    /// let context = zmq::Context::new();
    /// let socket = context.socket(zmq::STREAM)?;
    /// socket.set_tcp_keepalive(1)?;
    /// socket.set_tcp_keepalive_idle(60)?;
    /// let listener = zttp_zmq::PeerListener::bind_socket(
    ///     socket,
    ///     "tcp://0.0.0.0:8080",
    ///     zttp_zmq::PeerLimits::default(),
    /// )?;
    /// # Ok(()) }
    /// ```
    pub fn bind_socket(
        mut socket: zmq::Socket,
        endpoint: &str,
        limits: PeerLimits,
    ) -> io::Result<Self> {
        if limits.inbound == 0
            || limits.inbound_total == 0
            || limits.outbound == 0
            || limits.frame == 0
            || limits.send_hwm <= 0
            || limits.receive_hwm <= 0
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "zero peer limit",
            ));
        }
        if socket.get_socket_type()? != zmq::STREAM {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("binding {endpoint}: the socket is not a ZMQ_STREAM socket"),
            ));
        }
        let configure = |socket: &mut zmq::Socket| -> io::Result<()> {
            crate::sys::set_stream_notify(socket, true)?;
            // Peers that vanish must not keep their queued bytes alive for long at shutdown.
            socket.set_linger(1000)?;
            socket.set_sndhwm(limits.send_hwm)?;
            socket.set_rcvhwm(limits.receive_hwm)?;
            Ok(())
        };
        configure(&mut socket)
            .map_err(|e| named(e, "configure the STREAM socket for", endpoint))?;
        socket
            .bind(endpoint)
            .map_err(|e| named(e.into(), "bind", endpoint))?;
        let endpoint = match socket.get_last_endpoint()? {
            Ok(s) => s,
            Err(raw) => String::from_utf8_lossy(&raw).into_owned(),
        };
        let (ready_tx, ready) = std::sync::mpsc::channel();
        let io = Arc::new(IoShared {
            wake: WakePipe::new()?,
            ready: ready_tx,
            remote_ready: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            limits,
            inbound_total: AtomicUsize::new(0),
            receive_paused: AtomicBool::new(false),
            executor: Default::default(),
            tokio: std::sync::OnceLock::new(),
            live_tasks: AtomicUsize::new(0),
            attachments: Default::default(),
            attach_pending: AtomicBool::new(false),
            receive_sleep: AtomicBool::new(false),
        });
        let (tx, incoming) = mpsc::unbounded();
        let (unbound_tx, unbound) = oneshot::channel();
        let driver = StreamIo::new(socket, io.clone(), ready, tx, endpoint.clone(), unbound_tx);
        std::thread::Builder::new()
            .name("zttp-zmq-io".into())
            .spawn(move || driver.run())?;
        tracing::debug!(%endpoint, "zmq STREAM socket bound");
        Ok(PeerListener {
            incoming,
            io,
            endpoint,
            unbound: Some(unbound),
        })
    }

    /// A [`Runtime`](zttp_service::Runtime) that runs tasks on this listener's IO thread.
    /// Called inside a tokio runtime, the IO thread polls its tasks in that runtime's
    /// context (tokio timers and `tokio::spawn` work in handlers).
    pub fn io_thread_runtime(&self) -> crate::IoThreadRuntime {
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let _ = self.io.tokio.set(handle);
        }
        self.io.receive_sleep.store(true, Ordering::Relaxed);
        self.io.wake.signal();
        crate::IoThreadRuntime::new(self.io.clone())
    }

    /// The endpoint actually bound (`tcp://127.0.0.1:0` reports the chosen port).
    pub fn local_endpoint(&self) -> &str {
        &self.endpoint
    }

    /// What this listener's IO thread shares with tasks.
    pub(crate) fn io_shared(&self) -> &Arc<IoShared> {
        &self.io
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

/// `e` with the action and endpoint it concerns, keeping its kind
/// (e.g. "cannot bind tcp://127.0.0.1:80: Address already in use").
fn named(e: io::Error, action: &str, endpoint: &str) -> io::Error {
    io::Error::new(e.kind(), format!("cannot {action} {endpoint}: {e}"))
}

/// Sets `ZMQ_TCP_MAXRT` on a socket before it binds: Linux `TCP_USER_TIMEOUT`, the longest
/// time sent data may stay unacknowledged before the kernel aborts the connection, including
/// while the peer advertises a zero window (it stopped reading). libzmq then reports the
/// peer as disconnected and frees its queues. The `zmq` crate does not wrap this option.
pub fn set_tcp_max_retransmit(socket: &mut zmq::Socket, timeout: Duration) -> io::Result<()> {
    let ms = i32::try_from(timeout.as_millis()).unwrap_or(i32::MAX);
    crate::sys::set_tcp_maxrt(socket, ms)
}
