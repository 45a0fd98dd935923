//! [`ServerConfig`]: limits, timeouts and the core's protocol settings.

use std::time::Duration;

/// How a server treats its connections. `Default` plus builder-style setters:
///
/// ```
/// use std::time::Duration;
/// let config = zttp_service::ServerConfig::default()
///     .header_read_timeout(Some(Duration::from_secs(5)))
///     .max_body_size(Some(1 << 20));
/// assert_eq!(config.max_body_size, Some(1 << 20));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Longest time from the first byte of a request head to its end; a slower
    /// head (slowloris) gets `408` and the connection closes. Default 30 s.
    pub header_read_timeout: Option<Duration>,
    /// Longest idle time between requests on a kept-alive connection. Default 60 s.
    pub keep_alive_timeout: Option<Duration>,
    /// Longest time queued output may make no progress (the peer stopped
    /// reading); then the connection closes and its handlers are dropped.
    /// A slow reader is not stalled: each write that moves restarts the clock.
    /// Default 30 s.
    pub write_timeout: Option<Duration>,
    /// Largest request body, on HTTP/1.1 and HTTP/2 alike; beyond it the
    /// body fails and the answer is `413`. Default 2 MiB
    /// ([`DEFAULT_MAX_BODY_SIZE`](Self::DEFAULT_MAX_BODY_SIZE), as axum);
    /// raise it for uploads, or set `None` for no limit (a handler streaming
    /// the body then bounds it itself).
    pub max_body_size: Option<u64>,
    /// Most connections [`serve`](crate::serve) runs at once; further ones wait
    /// in the listen backlog. Default 10 000.
    pub max_connections: usize,
    /// How long a graceful shutdown waits for in-flight requests before closing
    /// their connections anyway. Default 30 s.
    pub shutdown_grace: Duration,
    /// Most unread request-body bytes read and thrown away so a connection can
    /// be reused after a handler answered without reading the body; beyond it
    /// the connection closes. Default 256 KiB.
    pub max_drain: u64,
    /// Unread request-body bytes buffered before the connection stops reading
    /// the socket (backpressure). Default 64 KiB.
    pub body_buffer: usize,
    /// HTTP/2: run each stream's handler in a task of its own, spawned on the
    /// runtime, instead of in the connection's task. Turn it on when handlers
    /// may compute for long without awaiting: in the connection's task such a
    /// handler delays the connection's PING acks and every other stream (by the
    /// whole computation), spawned it does not. Costs a task per request (about
    /// a fifth more instructions per request for a trivial handler). Default off.
    pub spawn_http2_handlers: bool,
    /// Protocol settings for each connection's `zttp_core::Connection`.
    /// Default: `zttp_core::Config::default()` with extended CONNECT
    /// announced (`http2.enable_connect_protocol`, RFC 8441: WebSockets over
    /// HTTP/2, see [`websocket`](crate::websocket)), whose protocol is
    /// `Protocol::Auto` (HTTP/1.1, or h2c with prior knowledge), so a core
    /// config built from its default keeps h2c; set `Protocol::Http1` to
    /// refuse HTTP/2. Its `limits.max_body_size` is replaced by
    /// [`max_body_size`](Self::max_body_size), the one body limit, and its
    /// `http2.auto_acknowledge` is turned off (the drive loop grants credit
    /// as handlers read). HTTP/2's protocol timers are set here and driven by
    /// the connection's one timer: `http2.settings_timeout` (the peer's ACK
    /// of our SETTINGS, default 10 s, GOAWAY(SETTINGS_TIMEOUT) when late) and
    /// the keep-alive PING, off by default (`http2.keep_alive(interval,
    /// timeout)`: a PING after `interval` of silence, the connection closed
    /// when nothing arrives within `timeout` of it).
    pub core: zttp_core::Config,
    /// Give each request a [`RawRequest`](crate::RawRequest) extension: the
    /// head exactly as received (header name case, order, the raw target).
    /// Default off: the extension costs allocations on every request, and
    /// `http::Request` already carries everything else.
    pub raw_request: bool,
    /// Longest time a TLS handshake may take (adapters' `tls` feature); a
    /// client still handshaking then is dropped. Default 10 s.
    pub tls_handshake_timeout: Option<Duration>,
    /// Longest time a handler may take to answer a request (to return its
    /// response; the body then streams under [`write_timeout`](Self::write_timeout)).
    /// Beyond it the handler is dropped and the answer is `503 Service
    /// Unavailable`. Default `None`: handlers take as long as they take.
    pub handler_timeout: Option<Duration>,
    /// The slowest a request body may arrive while its handler waits for it,
    /// on HTTP/1.1 and HTTP/2 alike (a slow-POST attack holds a handler and
    /// its buffers for as long as the server lets it). Below it the body
    /// fails with a [`BodyError`](crate::BodyError) whose status is `408`,
    /// which a handler answers as it answers any body error. Time the handler
    /// spends not reading does not count. Default `None`.
    pub min_body_rate: Option<crate::MinBodyRate>,
    /// Give each request an [`Informational`](crate::Informational)
    /// extension, through which its handler sends `1xx` responses (e.g. `103
    /// Early Hints`) before the final one, on HTTP/1.1 and HTTP/2 alike.
    /// Default off: the handle costs an allocation and a shared reference
    /// count on every request, and most handlers never send one. Turn it on
    /// when a handler sends informational responses; without it
    /// `extensions().get::<Informational>()` is `None`.
    pub informational_responses: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            header_read_timeout: Some(Duration::from_secs(30)),
            keep_alive_timeout: Some(Duration::from_secs(60)),
            write_timeout: Some(Duration::from_secs(30)),
            max_body_size: Some(Self::DEFAULT_MAX_BODY_SIZE),
            max_connections: 10_000,
            shutdown_grace: Duration::from_secs(30),
            max_drain: 256 * 1024,
            body_buffer: 64 * 1024,
            spawn_http2_handlers: false,
            core: {
                let mut core = zttp_core::Config::default();
                core.http2.enable_connect_protocol = true;
                core
            },
            raw_request: false,
            tls_handshake_timeout: Some(Duration::from_secs(10)),
            handler_timeout: None,
            min_body_rate: None,
            informational_responses: false,
        }
    }
}

macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $t:ty;)*) => {$(
        $(#[$doc])*
        pub fn $name(mut self, value: $t) -> Self {
            self.$name = value;
            self
        }
    )*};
}

impl ServerConfig {
    /// The default [`max_body_size`](Self::max_body_size): 2 MiB.
    pub const DEFAULT_MAX_BODY_SIZE: u64 = 2 * 1024 * 1024;

    setters! {
        /// Sets [`header_read_timeout`](Self::header_read_timeout).
        header_read_timeout: Option<Duration>;
        /// Sets [`keep_alive_timeout`](Self::keep_alive_timeout).
        keep_alive_timeout: Option<Duration>;
        /// Sets [`write_timeout`](Self::write_timeout).
        write_timeout: Option<Duration>;
        /// Sets [`max_body_size`](Self::max_body_size).
        max_body_size: Option<u64>;
        /// Sets [`max_connections`](Self::max_connections).
        max_connections: usize;
        /// Sets [`shutdown_grace`](Self::shutdown_grace).
        shutdown_grace: Duration;
        /// Sets [`max_drain`](Self::max_drain).
        max_drain: u64;
        /// Sets [`body_buffer`](Self::body_buffer).
        body_buffer: usize;
        /// Sets [`spawn_http2_handlers`](Self::spawn_http2_handlers).
        spawn_http2_handlers: bool;
        /// Sets [`core`](Self::core).
        core: zttp_core::Config;
        /// Sets [`raw_request`](Self::raw_request).
        raw_request: bool;
        /// Sets [`tls_handshake_timeout`](Self::tls_handshake_timeout).
        tls_handshake_timeout: Option<Duration>;
        /// Sets [`handler_timeout`](Self::handler_timeout).
        handler_timeout: Option<Duration>;
        /// Sets [`min_body_rate`](Self::min_body_rate).
        min_body_rate: Option<crate::MinBodyRate>;
        /// Sets [`informational_responses`](Self::informational_responses).
        informational_responses: bool;
    }

    /// The core configuration a new connection gets (with `max_body_size` applied).
    /// HTTP/2 flow-control credit is granted by the drive loop as handlers
    /// consume request bodies (backpressure), so automatic acknowledgement is off.
    pub(crate) fn connection_config(&self) -> zttp_core::Config {
        let mut config = self.core.clone();
        config.http2.auto_acknowledge = false;
        config.limits.max_body_size = self.max_body_size;
        config
    }
}
