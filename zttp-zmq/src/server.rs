//! [`Server`] and [`serve`]: HTTP on a STREAM socket through the shared drive loop.

use std::io;

use zttp_service::{Handler, Runtime, ServerConfig, Shutdown};

use futures::channel::oneshot;

use crate::{PeerLimits, PeerListener};

/// Serves `handler` on a STREAM socket bound to `endpoint` until the process ends.
///
/// Connection loops and handlers run on the socket's IO thread (see [`Server::serve`]);
/// called inside a tokio runtime, handlers may use tokio's timers and `tokio::spawn`. For a
/// shutdown signal, limits, or handlers on a tokio runtime, use [`Server`].
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// zttp_zmq::serve("tcp://127.0.0.1:8080", |_req: zttp_service::Request| async {
///     "Hello World!"
/// })
/// .await
/// # }
/// ```
pub async fn serve<H: Handler>(endpoint: &str, handler: H) -> io::Result<()> {
    Server::bind(endpoint)?.serve(handler).await
}

/// An HTTP server on a ZeroMQ STREAM socket: bind, configure, then serve.
///
/// ```no_run
/// # async fn run() -> std::io::Result<()> {
/// use zttp_service::{Request, ServerConfig, Shutdown};
/// let shutdown = Shutdown::new();
/// let server = zttp_zmq::Server::bind("tcp://127.0.0.1:0")?
///     .config(ServerConfig::default())
///     .shutdown(shutdown.clone());
/// println!("listening on {}", server.local_endpoint());
/// server.serve(|req: Request| async move { format!("{} {}", req.method(), req.uri()) }).await
/// # }
/// ```
#[derive(Debug)]
pub struct Server {
    listener: PeerListener,
    config: ServerConfig,
    shutdown: Shutdown,
}

impl Server {
    /// Binds a STREAM socket on `endpoint` (`tcp://HOST:PORT`; port 0 picks a free one).
    pub fn bind(endpoint: &str) -> io::Result<Self> {
        Ok(Self::from_listener(PeerListener::bind(endpoint)?))
    }

    /// Binds in a given ZeroMQ context with given per-peer queue limits.
    pub fn bind_with(
        context: &zmq::Context,
        endpoint: &str,
        limits: PeerLimits,
    ) -> io::Result<Self> {
        Ok(Self::from_listener(PeerListener::bind_with(
            context, endpoint, limits,
        )?))
    }

    /// Serves the peers of an existing listener.
    pub fn from_listener(listener: PeerListener) -> Self {
        Server {
            listener,
            config: ServerConfig::default(),
            shutdown: Shutdown::new(),
        }
    }

    /// The endpoint actually bound, e.g. `tcp://127.0.0.1:40123`.
    pub fn local_endpoint(&self) -> &str {
        self.listener.local_endpoint()
    }

    /// What the STREAM socket's IO thread shares with tasks.
    pub(crate) fn io_shared(&self) -> &std::sync::Arc<crate::peer::IoShared> {
        self.listener.io_shared()
    }

    /// Sets limits, timeouts and protocol settings (the same [`ServerConfig`] as every adapter).
    pub fn config(mut self, config: ServerConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the signal that stops the server gracefully.
    pub fn shutdown(mut self, shutdown: Shutdown) -> Self {
        self.shutdown = shutdown;
        self
    }

    /// Serves until shutdown, running connection loops and handlers on the socket's IO
    /// thread ([`IoThreadRuntime`](crate::IoThreadRuntime)), the same as
    /// [`serve_on_io_thread`](Self::serve_on_io_thread): a request costs no cross-thread
    /// wake-up. Everything runs on that one thread, so handlers must not block or compute
    /// for long; for such handlers use [`serve_on_tokio`](Self::serve_on_tokio). May be
    /// awaited on any executor; inside a tokio runtime, handlers may use tokio's timers and
    /// `tokio::spawn`.
    pub async fn serve<H: Handler>(self, handler: H) -> io::Result<()> {
        self.serve_on_io_thread(handler).await
    }

    /// Serves until shutdown with connection loops and handlers spawned on the ambient tokio
    /// runtime ([`TokioRuntime`](crate::TokioRuntime)): for handlers that block or compute
    /// for long, at the price of two cross-thread wake-ups per request (measured on `hello`:
    /// 0.75–0.9× the requests per CPU-second of [`serve`](Self::serve)).
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub async fn serve_on_tokio<H: Handler>(self, handler: H) -> io::Result<()> {
        self.serve_with(crate::TokioRuntime::current(), handler)
            .await
    }

    /// Serves until shutdown, running connection loops and handlers on the socket's IO
    /// thread ([`IoThreadRuntime`](crate::IoThreadRuntime)); what [`serve`](Self::serve) does.
    pub async fn serve_on_io_thread<H: Handler>(self, handler: H) -> io::Result<()> {
        let mut listener = self.listener;
        let runtime = listener.io_thread_runtime();
        let unbound = listener.unbound();
        let served = zttp_service::serve(
            listener,
            runtime.clone(),
            handler,
            self.config,
            self.shutdown,
        );
        let (tx, rx) = oneshot::channel();
        runtime.spawn(Box::pin(async move {
            let _ = tx.send(served.await);
        }));
        let result = rx.await.unwrap_or_else(|_| {
            Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the zmq IO thread stopped",
            ))
        });
        // Return only once the socket is closed, as a TCP server's listener is.
        unbound.await;
        result
    }

    /// Serves with connection loops and handlers spawned on `runtime`, until shutdown.
    pub async fn serve_with<R: Runtime, H: Handler>(
        self,
        runtime: R,
        handler: H,
    ) -> io::Result<()> {
        let mut listener = self.listener;
        let unbound = listener.unbound();
        let served =
            zttp_service::serve(listener, runtime, handler, self.config, self.shutdown).await;
        // Return only once the socket is closed, as a TCP server's listener is.
        unbound.await;
        served
    }
}
