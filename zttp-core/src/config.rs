//! Connection settings: protocol, limits and the (off by default) leniencies.

use std::time::Duration;

/// Which side of the connection we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// We send requests and receive responses.
    Client,
    /// We receive requests and send responses.
    Server,
}

/// Which protocol the connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Protocol {
    /// HTTP/1.0 and HTTP/1.1 (RFC 9112) only.
    Http1,
    /// HTTP/2 (RFC 9113), with prior knowledge (no upgrade dance).
    Http2,
    /// The default. A server speaks HTTP/2 if the client opens with the
    /// HTTP/2 connection preface, else HTTP/1.1 — h2c with prior knowledge and
    /// HTTP/1.1 on one port. A client speaks HTTP/1.1.
    #[default]
    Auto,
}

/// Builder methods named after the fields they set, for `#[non_exhaustive]`
/// structs that cannot be built with literals outside this crate.
macro_rules! setters {
    ($($(#[$doc:meta])* $name:ident: $t:ty;)*) => {$(
        $(#[$doc])*
        #[must_use]
        pub fn $name(mut self, value: $t) -> Self {
            self.$name = value;
            self
        }
    )*};
}

/// Limits that hold however the bytes arrive, one call or one byte at a time.
/// Each limit is set here once and applies to every protocol it concerns.
///
/// ```
/// let limits = zttp_core::Limits::default().max_head_size(16 * 1024).max_body_size(Some(1 << 20));
/// assert_eq!(limits.max_headers, 100);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Longest request line, CRLF excluded (414 beyond it). Default 8 KiB.
    pub max_request_line: usize,
    /// Longest method: a server answers 501 to a longer one (RFC 9112 §3: "a
    /// method longer than any that it implements"). Default 32; the longest
    /// registered method, `UPDATEREDIRECTREF`, has 17 bytes.
    pub max_method_len: usize,
    /// Largest message head. HTTP/1.1: start line plus header section, in
    /// bytes (431 beyond it). HTTP/2: the decoded header list (RFC 9113 §6.5.2
    /// counts each field as name + value + 32), announced to the peer as
    /// SETTINGS_MAX_HEADER_LIST_SIZE; a larger request is answered 431, a
    /// larger response resets its stream. Default 64 KiB.
    pub max_head_size: usize,
    /// Most header fields in one HTTP/1.1 head (431 beyond it). Default 100.
    pub max_headers: usize,
    /// Longest run of chunk extensions on one chunk-size line. Default 1 KiB.
    pub max_chunk_extensions: usize,
    /// Longest trailer section. Default 16 KiB.
    pub max_trailer_size: usize,
    /// Largest HTTP/1.1 message body; `None` for no limit (413 beyond it).
    /// Default `None`. (`zttp-service` sets it from its own
    /// `ServerConfig::max_body_size`, which also holds on HTTP/2.)
    pub max_body_size: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_request_line: 8 * 1024,
            max_method_len: 32,
            max_head_size: 64 * 1024,
            max_headers: 100,
            max_chunk_extensions: 1024,
            max_trailer_size: 16 * 1024,
            max_body_size: None,
        }
    }
}

impl Limits {
    setters! {
        /// Sets [`max_request_line`](Self::max_request_line).
        max_request_line: usize;
        /// Sets [`max_method_len`](Self::max_method_len).
        max_method_len: usize;
        /// Sets [`max_head_size`](Self::max_head_size).
        max_head_size: usize;
        /// Sets [`max_headers`](Self::max_headers).
        max_headers: usize;
        /// Sets [`max_chunk_extensions`](Self::max_chunk_extensions).
        max_chunk_extensions: usize;
        /// Sets [`max_trailer_size`](Self::max_trailer_size).
        max_trailer_size: usize;
        /// Sets [`max_body_size`](Self::max_body_size).
        max_body_size: Option<u64>;
    }
}

/// Opt-in tolerances for non-conforming peers. All default to off (strict).
///
/// ```
/// let lenient = zttp_core::Leniency::default().bare_lf(true);
/// assert!(lenient.bare_lf && !lenient.obs_fold);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Leniency {
    /// Accept lines ending in a bare LF (RFC 9112 §2.2 allows a recipient to).
    pub bare_lf: bool,
    /// Accept obs-fold continuation lines, replacing the fold with a space (RFC 9112 §5.2).
    pub obs_fold: bool,
    /// Accept a message with both Transfer-Encoding and Content-Length: chunked wins
    /// and the connection closes after it (RFC 9112 §6.3 rule 3). Off: reject with 400.
    pub transfer_encoding_with_content_length: bool,
    /// Accept HTTP/1.1 requests without a Host field (RFC 9112 §3.2 says answer 400;
    /// some health checkers and embedded clients omit it). Several Host fields stay an error.
    pub missing_host: bool,
    /// Accept in a request-target the bytes RFC 3986 excludes but browsers send
    /// unescaped and the `http` crate's `Uri` accepts: `"` `[` `\` `]` `^` `{` `|` `}`
    /// in the path, `[` `\` `]` `^` `` ` `` `{` `|` `}` in the query, and a `%` not
    /// followed by two hex digits. A `#` (fragment), `<`, `>`, whitespace and
    /// controls stay errors (RFC 9112 §3.2).
    pub unescaped_target_chars: bool,
}

impl Leniency {
    setters! {
        /// Sets [`bare_lf`](Self::bare_lf).
        bare_lf: bool;
        /// Sets [`obs_fold`](Self::obs_fold).
        obs_fold: bool;
        /// Sets [`transfer_encoding_with_content_length`](Self::transfer_encoding_with_content_length).
        transfer_encoding_with_content_length: bool;
        /// Sets [`missing_host`](Self::missing_host).
        missing_host: bool;
        /// Sets [`unescaped_target_chars`](Self::unescaped_target_chars).
        unescaped_target_chars: bool;
    }
}

/// HTTP/2 SETTINGS values (RFC 9113 §6.5.2), as a peer sent them
/// ([`Event::SettingsChanged`](crate::Event::SettingsChanged)); `None` means
/// "not sent". What we announce follows from [`Http2Config`] and [`Limits`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Settings {
    /// SETTINGS_HEADER_TABLE_SIZE
    pub header_table_size: Option<u32>,
    /// SETTINGS_ENABLE_PUSH
    pub enable_push: Option<bool>,
    /// SETTINGS_MAX_CONCURRENT_STREAMS
    pub max_concurrent_streams: Option<u32>,
    /// SETTINGS_INITIAL_WINDOW_SIZE
    pub initial_window_size: Option<u32>,
    /// SETTINGS_MAX_FRAME_SIZE
    pub max_frame_size: Option<u32>,
    /// SETTINGS_MAX_HEADER_LIST_SIZE
    pub max_header_list_size: Option<u32>,
    /// SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441)
    pub enable_connect_protocol: Option<bool>,
}

/// HTTP/2 behaviour, the SETTINGS we announce, and the defences against
/// abusive peers, each on by default. The header-list limit is
/// [`Limits::max_head_size`], shared with HTTP/1.1.
///
/// ```
/// let h2 = zttp_core::Http2Config::default().max_concurrent_streams(10);
/// let config = zttp_core::Config::default().http2(h2);
/// assert_eq!(config.http2.max_concurrent_streams, 10);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Http2Config {
    /// Streams the peer may have open at once (SETTINGS_MAX_CONCURRENT_STREAMS);
    /// more are refused with RST_STREAM(REFUSED_STREAM). Default 100.
    pub max_concurrent_streams: u32,
    /// The receive window of each stream (SETTINGS_INITIAL_WINDOW_SIZE). Default 1 MiB.
    pub initial_window_size: u32,
    /// Connection receive window we open to at start (≥ 65 535). Default 4 MiB.
    pub connection_window: u32,
    /// Largest frame payload we accept (SETTINGS_MAX_FRAME_SIZE, 16 KiB..16 MiB).
    /// Default 16 KiB.
    pub max_frame_size: u32,
    /// Size of the HPACK table the peer may use for what it sends us
    /// (SETTINGS_HEADER_TABLE_SIZE). Default 4 KiB.
    pub header_table_size: u32,
    /// Announce extended CONNECT (SETTINGS_ENABLE_CONNECT_PROTOCOL, RFC 8441),
    /// e.g. for WebSockets over HTTP/2. Default off.
    pub enable_connect_protocol: bool,
    /// Client: accept PUSH_PROMISE (each promise is then declined with
    /// RST_STREAM(CANCEL)); announced as SETTINGS_ENABLE_PUSH. Off: a
    /// PUSH_PROMISE is a connection error. Default off.
    pub accept_push: bool,
    /// Acknowledge received DATA (WINDOW_UPDATE) as soon as `next_event` hands it out.
    /// Off: call `acknowledge_received_data` yourself (for backpressure). Default on.
    pub auto_acknowledge: bool,
    /// Streams the peer may reset (RST_STREAM) before we answer
    /// GOAWAY(ENHANCE_YOUR_CALM), less one for each stream that completes
    /// normally: the rapid-reset defence (CVE-2023-44487). Default 200.
    pub max_remote_resets: u32,
    /// Stream errors we may send (locally provoked resets, "MadeYouReset")
    /// before GOAWAY, counted the same way. Default 200.
    pub max_local_resets: u32,
    /// Most CONTINUATION frames after one HEADERS. Default 64.
    pub max_continuation_frames: u32,
    /// Control frames (SETTINGS, PING, empty DATA, zero-increment WINDOW_UPDATE,
    /// PRIORITY) tolerated per window before GOAWAY(ENHANCE_YOUR_CALM). Default 1000.
    pub max_control_frames: u32,
    /// How long the peer has to acknowledge our SETTINGS before the
    /// connection fails with GOAWAY(SETTINGS_TIMEOUT) (RFC 9113 §6.5.3);
    /// `None` waits for ever. Measured from the first
    /// [`handle_timeout`](crate::Connection::handle_timeout) after the
    /// connection starts speaking HTTP/2. Default 10 s: every conforming peer
    /// acknowledges at once, and one that never does holds our limits unknown.
    pub settings_timeout: Option<Duration>,
    /// Keep-alive: after this long without a byte from the peer, send a PING;
    /// `None` (the default) sends none. Silence is measured between
    /// [`handle_timeout`](crate::Connection::handle_timeout) calls, so the
    /// PING goes out after one to two intervals of silence. Off by default: a
    /// server already closes idle connections (its idle timeout), and an
    /// idle connection costs no wake-ups; turn it on where long-lived streams
    /// (server-sent events, tunnels) must notice a vanished peer.
    pub keep_alive_interval: Option<Duration>,
    /// Keep-alive: how long the peer has to send anything (the PING's ACK, or
    /// any frame) after our PING before the connection fails with
    /// [`RemoteErrorKind::PeerUnresponsive`](crate::RemoteErrorKind::PeerUnresponsive)
    /// and a GOAWAY(NO_ERROR). Default 20 s; used only with `keep_alive_interval`.
    pub keep_alive_timeout: Duration,
}

impl Default for Http2Config {
    fn default() -> Self {
        Http2Config {
            max_concurrent_streams: 100,
            initial_window_size: 1 << 20,
            connection_window: 4 << 20,
            max_frame_size: 16_384,
            header_table_size: 4096,
            enable_connect_protocol: false,
            accept_push: false,
            auto_acknowledge: true,
            max_remote_resets: 200,
            max_local_resets: 200,
            max_continuation_frames: 64,
            max_control_frames: 1000,
            settings_timeout: Some(Duration::from_secs(10)),
            keep_alive_interval: None,
            keep_alive_timeout: Duration::from_secs(20),
        }
    }
}

impl Http2Config {
    setters! {
        /// Sets [`max_concurrent_streams`](Self::max_concurrent_streams).
        max_concurrent_streams: u32;
        /// Sets [`initial_window_size`](Self::initial_window_size).
        initial_window_size: u32;
        /// Sets [`connection_window`](Self::connection_window).
        connection_window: u32;
        /// Sets [`max_frame_size`](Self::max_frame_size).
        max_frame_size: u32;
        /// Sets [`header_table_size`](Self::header_table_size).
        header_table_size: u32;
        /// Sets [`enable_connect_protocol`](Self::enable_connect_protocol).
        enable_connect_protocol: bool;
        /// Sets [`accept_push`](Self::accept_push).
        accept_push: bool;
        /// Sets [`auto_acknowledge`](Self::auto_acknowledge).
        auto_acknowledge: bool;
        /// Sets [`max_remote_resets`](Self::max_remote_resets).
        max_remote_resets: u32;
        /// Sets [`max_local_resets`](Self::max_local_resets).
        max_local_resets: u32;
        /// Sets [`max_continuation_frames`](Self::max_continuation_frames).
        max_continuation_frames: u32;
        /// Sets [`max_control_frames`](Self::max_control_frames).
        max_control_frames: u32;
        /// Sets [`settings_timeout`](Self::settings_timeout).
        settings_timeout: Option<Duration>;
        /// Sets [`keep_alive_interval`](Self::keep_alive_interval).
        keep_alive_interval: Option<Duration>;
        /// Sets [`keep_alive_timeout`](Self::keep_alive_timeout).
        keep_alive_timeout: Duration;
    }

    /// Turns the keep-alive PING on: a PING after `interval` of silence, and
    /// the connection fails if nothing arrives within `timeout` of it.
    ///
    /// ```
    /// use std::time::Duration;
    /// let h2 = zttp_core::Http2Config::default()
    ///     .keep_alive(Duration::from_secs(30), Duration::from_secs(10));
    /// assert_eq!(h2.keep_alive_interval, Some(Duration::from_secs(30)));
    /// ```
    #[must_use]
    pub fn keep_alive(self, interval: Duration, timeout: Duration) -> Self {
        self.keep_alive_interval(Some(interval))
            .keep_alive_timeout(timeout)
    }

    /// The SETTINGS we announce in our preface: every value that differs
    /// from the protocol's default, plus the ones a peer must not assume.
    pub(crate) fn announced(&self, role: Role, limits: &Limits) -> Settings {
        let differs = |value: u32, default: u32| (value != default).then_some(value);
        Settings {
            header_table_size: differs(self.header_table_size, 4096),
            enable_push: Some(role == Role::Client && self.accept_push),
            max_concurrent_streams: Some(self.max_concurrent_streams),
            initial_window_size: differs(self.initial_window_size, 65_535),
            max_frame_size: differs(self.max_frame_size, 16_384),
            max_header_list_size: Some(limits.max_head_size.min(u32::MAX as usize) as u32),
            enable_connect_protocol: self.enable_connect_protocol.then_some(true),
        }
    }
}

/// Everything a [`Connection`](crate::Connection) can be configured with.
///
/// ```
/// use zttp_core::{Config, Limits, Protocol};
/// let config = Config::default()
///     .protocol(Protocol::Http1)
///     .limits(Limits::default().max_headers(50));
/// assert_eq!(config.limits.max_headers, 50);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// HTTP/1.1, HTTP/2, or either on one port (the default).
    pub protocol: Protocol,
    /// Size and count limits, for every protocol.
    pub limits: Limits,
    /// Opt-in leniencies for HTTP/1.1 parsing.
    pub leniency: Leniency,
    /// HTTP/2 settings and defences.
    pub http2: Http2Config,
}

impl Config {
    setters! {
        /// Selects the protocol.
        protocol: Protocol;
        /// Replaces the limits.
        limits: Limits;
        /// Replaces the leniencies.
        leniency: Leniency;
        /// Replaces the HTTP/2 settings.
        http2: Http2Config;
    }
}
