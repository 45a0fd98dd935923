//! The gateway's public face: [`Gateway`], its [`GatewayConfig`], [`GatewayHandler`] and
//! [`GatewayStats`].

use std::io;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use zttp_service::{Handler, Request};

use super::curve::GatewayCurve;
use super::exchange::Outbox;
use super::forward::{forward, Command, Forward};
use super::io_loop::GatewayIo;

/// Timing and limits of a [`Gateway`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GatewayConfig {
    /// How often the gateway pings each worker; announced to workers in `WELCOME`, and they
    /// heartbeat at the same interval. Default 1 s.
    pub heartbeat_interval: Duration,
    /// A worker silent for this long is dead (announced to workers too). Default 3 s.
    pub heartbeat_timeout: Duration,
    /// Longest a request waits for a worker with free capacity before it is answered `503`.
    /// Default 5 s.
    pub queue_timeout: Duration,
    /// Longest a request waits while no worker is connected at all (e.g. at start-up) before
    /// it is answered `503`. Default 1 s.
    pub no_worker_timeout: Duration,
    /// Requests waiting for a worker at most; one more is answered `503` with `retry-after`
    /// at once. Default 1024.
    pub max_queued: usize,
    /// Longest a worker may take to send the response head, counted from when it got the
    /// request and restarted by each request-body acknowledgement; then the client gets
    /// `504` and the worker `ABORT`. Default 30 s.
    pub request_timeout: Duration,
    /// Longest a request body may stay stuck for lack of acknowledgements from the worker;
    /// then the exchange is cancelled (`504` if no head was answered yet). Default 10 s.
    pub body_stall_timeout: Duration,
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            heartbeat_interval: Duration::from_secs(1),
            heartbeat_timeout: Duration::from_secs(3),
            queue_timeout: Duration::from_secs(5),
            no_worker_timeout: Duration::from_secs(1),
            max_queued: 1024,
            request_timeout: Duration::from_secs(30),
            body_stall_timeout: Duration::from_secs(10),
        }
    }
}

/// A snapshot of a [`Gateway`]'s state and counters since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GatewayStats {
    /// Workers connected and alive.
    pub workers: usize,
    /// Requests held by workers.
    pub in_flight: usize,
    /// Requests waiting for a worker.
    pub queued: usize,
    /// Requests answered `503` (queue full, or no worker in time).
    pub unavailable: u64,
    /// Requests answered `504` (no response head in time, or a stuck request body).
    pub timed_out: u64,
    /// Requests answered `502` (the worker failed or died mid-request).
    pub failed: u64,
    /// Requests re-dispatched after their worker died.
    pub retried: u64,
    /// Workers that joined.
    pub joined: u64,
    /// Workers lost (unreachable or silent).
    pub lost: u64,
    /// Workers refused (protocol version mismatch).
    pub refused: u64,
    /// CURVE handshakes denied (a worker key not on the allow-list).
    pub denied: u64,
}

/// The counters behind [`GatewayStats`], written by the IO thread.
#[derive(Default)]
pub(crate) struct StatsCells {
    pub(crate) workers: AtomicUsize,
    pub(crate) in_flight: AtomicUsize,
    pub(crate) queued: AtomicUsize,
    pub(crate) unavailable: AtomicU64,
    pub(crate) timed_out: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) retried: AtomicU64,
    pub(crate) joined: AtomicU64,
    pub(crate) lost: AtomicU64,
    pub(crate) refused: AtomicU64,
    pub(crate) denied: AtomicU64,
}

impl StatsCells {
    pub(crate) fn count(cell: &AtomicU64) {
        cell.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> GatewayStats {
        let n = |c: &AtomicU64| c.load(Ordering::Relaxed);
        GatewayStats {
            workers: self.workers.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
            queued: self.queued.load(Ordering::Relaxed),
            unavailable: n(&self.unavailable),
            timed_out: n(&self.timed_out),
            failed: n(&self.failed),
            retried: n(&self.retried),
            joined: n(&self.joined),
            lost: n(&self.lost),
            refused: n(&self.refused),
            denied: n(&self.denied),
        }
    }
}

/// What the handler side and the IO thread share.
pub(crate) struct Shared {
    pub(crate) outbox: Outbox<Command>,
    pub(crate) next_id: AtomicU64,
    pub(crate) stats: StatsCells,
}

/// Stops the IO thread when the last [`Gateway`] or [`GatewayHandler`] is dropped.
pub(crate) struct Owner(pub(crate) Arc<Shared>);

impl Drop for Owner {
    fn drop(&mut self) {
        self.0.outbox.stop();
    }
}

/// Forwards HTTP requests to worker processes over a ZeroMQ ROUTER socket.
///
/// Workers ([`Worker`](crate::Worker), or any program speaking the
/// [protocol](crate::protocol)) connect with DEALER sockets and announce their capacity. Each
/// request goes to the worker with the most free capacity; with none free it waits in a
/// bounded queue. Bodies stream both ways under a flow-control window, `100-continue` is
/// answered only when the worker's handler reads the body, and heartbeats detect dead
/// workers, whose unanswered requests are re-dispatched when that is safe. What the gateway
/// answers itself (`503`, `504`, `502`) is listed in the [protocol](crate::protocol).
///
/// [`handler`](Self::handler) is an ordinary [`Handler`]: serve it on a STREAM socket with
/// [`Server`](crate::Server), or on any other zttp adapter.
pub struct Gateway {
    owner: Arc<Owner>,
    endpoint: String,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// Binds the ROUTER socket workers connect to (e.g. `tcp://127.0.0.1:5556`).
    pub fn bind(endpoint: &str) -> io::Result<Self> {
        Self::bind_with(&zmq::Context::new(), endpoint, GatewayConfig::default())
    }

    /// Binds in a given context with given timing and limits.
    ///
    /// Without CURVE anyone who can reach `endpoint` can join as a worker and receive
    /// requests: bind it to loopback or a private network, or use
    /// [`bind_curve`](Self::bind_curve).
    pub fn bind_with(
        context: &zmq::Context,
        endpoint: &str,
        config: GatewayConfig,
    ) -> io::Result<Self> {
        Self::bind_inner(context, endpoint, config, None)
    }

    /// Binds with CURVE: the link is encrypted, and only workers whose public keys `curve`
    /// allows can join (others are dropped in the ZeroMQ handshake). Installs the ZAP
    /// handler of `context`, so the context must not have one yet. Fails with
    /// [`io::ErrorKind::Unsupported`] if the linked libzmq lacks CURVE.
    pub fn bind_curve(
        context: &zmq::Context,
        endpoint: &str,
        config: GatewayConfig,
        curve: &GatewayCurve,
    ) -> io::Result<Self> {
        Self::bind_inner(context, endpoint, config, Some(curve))
    }

    fn bind_inner(
        context: &zmq::Context,
        endpoint: &str,
        config: GatewayConfig,
        curve: Option<&GatewayCurve>,
    ) -> io::Result<Self> {
        let shared = Arc::new(Shared {
            outbox: Outbox::new()?,
            next_id: AtomicU64::new(1),
            stats: StatsCells::default(),
        });
        // Stops the ZAP thread too if anything below fails.
        let owner = Arc::new(Owner(shared.clone()));
        let socket = context.socket(zmq::ROUTER)?;
        // Report sends to vanished workers (EHOSTUNREACH) instead of dropping them silently.
        socket.set_router_mandatory(true)?;
        socket.set_linger(0)?;
        if let Some(curve) = curve {
            curve.apply(context, &socket, shared.clone())?;
        }
        socket.bind(endpoint)?;
        let endpoint = match socket.get_last_endpoint()? {
            Ok(s) => s,
            Err(raw) => String::from_utf8_lossy(&raw).into_owned(),
        };
        let io = GatewayIo::new(socket, shared.clone(), config);
        std::thread::Builder::new()
            .name("zttp-gateway".into())
            .spawn(move || io.run())?;
        Ok(Gateway { owner, endpoint })
    }

    /// The endpoint actually bound (port 0 reports the chosen port).
    pub fn local_endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Workers currently connected and alive.
    pub fn workers(&self) -> usize {
        self.owner.0.stats.workers.load(Ordering::Relaxed)
    }

    /// A snapshot of the gateway's state and counters.
    pub fn stats(&self) -> GatewayStats {
        self.owner.0.stats.snapshot()
    }

    /// Moves the gateway's ROUTER socket onto the IO thread of `server`, the STREAM server
    /// that serves [`handler`](Self::handler): that thread then drives both sockets, so a
    /// forwarded request and its answer wake no other thread in this process. Use it when
    /// `server` runs its handlers on its IO thread ([`Server::serve`](crate::Server::serve),
    /// the default). When that thread ends (the server stopped) while the gateway is still
    /// in use, the gateway goes back to a thread of its own.
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// let gateway = zttp_zmq::Gateway::bind("tcp://127.0.0.1:5556")?;
    /// let server = zttp_zmq::Server::bind("tcp://127.0.0.1:8080")?;
    /// gateway.share_io_thread(&server);
    /// server.serve(gateway.handler()).await
    /// # }
    /// ```
    pub fn share_io_thread(&self, server: &crate::Server) {
        let io = server.io_shared().clone();
        self.owner.0.outbox.push(Command::MoveTo(io));
    }

    /// The [`Handler`] that forwards each request to a worker.
    pub fn handler(&self) -> GatewayHandler {
        GatewayHandler {
            owner: self.owner.clone(),
        }
    }
}

/// A [`Handler`] forwarding to the workers of a [`Gateway`]. Cheap to clone.
#[derive(Clone)]
pub struct GatewayHandler {
    owner: Arc<Owner>,
}

impl std::fmt::Debug for GatewayHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayHandler").finish_non_exhaustive()
    }
}

impl Handler for GatewayHandler {
    type Future = Forward;

    fn call(&self, request: Request) -> Self::Future {
        forward(self.owner.clone(), request)
    }
}
