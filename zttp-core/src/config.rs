//! Connection settings: protocol, limits and the (off by default) leniencies.

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

/// Limits that hold however the bytes arrive, one call or one byte at a time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest request line, CRLF excluded (414 beyond it). Default 8 KiB.
    pub max_request_line: usize,
    /// Longest method: a server answers 501 to a longer one (RFC 9112 §3: "a
    /// method longer than any that it implements"). Default 32; the longest
    /// registered method, `UPDATEREDIRECTREF`, has 17 bytes.
    pub max_method_len: usize,
    /// Longest head: start line plus header section (431 beyond it). Default 64 KiB.
    pub max_head_size: usize,
    /// Most header fields in one head (431 beyond it). Default 100.
    pub max_headers: usize,
    /// Longest run of chunk extensions on one chunk-size line. Default 1 KiB.
    pub max_chunk_extensions: usize,
    /// Longest trailer section. Default 16 KiB.
    pub max_trailer_size: usize,
    /// Largest message body; `None` for no limit (413 beyond it). Default `None`.
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

/// Opt-in tolerances for non-conforming peers. All default to off (strict).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

/// HTTP/2 SETTINGS values (RFC 9113 §6.5.2); `None` means "not sent / default".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
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

/// HTTP/2 behaviour and its defences against abusive peers, each on by default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Http2Config {
    /// The SETTINGS we announce in our preface.
    pub local_settings: Settings,
    /// Acknowledge received DATA (WINDOW_UPDATE) as soon as `next_event` hands it out.
    /// Off: call `acknowledge_received_data` yourself (for backpressure).
    pub auto_acknowledge: bool,
    /// Connection receive window we open to at start (≥ 65 535).
    pub connection_window: u32,
    /// Streams the peer may reset (RST_STREAM) per `reset_budget_interval` events before we
    /// answer GOAWAY(ENHANCE_YOUR_CALM): the rapid-reset defence (CVE-2023-44487).
    pub max_remote_resets: u32,
    /// Stream errors we may send (locally provoked resets, "MadeYouReset") before GOAWAY.
    pub max_local_resets: u32,
    /// Largest decoded header list, however split over CONTINUATION frames or
    /// inflated by HPACK (431-equivalent: the stream or connection is refused).
    pub max_header_list_size: u32,
    /// Most CONTINUATION frames after one HEADERS.
    pub max_continuation_frames: u32,
    /// Control frames (SETTINGS, PING, empty DATA, zero-increment WINDOW_UPDATE,
    /// PRIORITY) tolerated per window before GOAWAY(ENHANCE_YOUR_CALM).
    pub max_control_frames: u32,
    /// Accept PUSH_PROMISE as a client (off: it is a connection error).
    pub accept_push: bool,
}

impl Default for Http2Config {
    fn default() -> Self {
        Http2Config {
            local_settings: Settings {
                max_concurrent_streams: Some(100),
                initial_window_size: Some(1 << 20),
                max_header_list_size: Some(64 * 1024),
                enable_push: Some(false),
                ..Settings::default()
            },
            auto_acknowledge: true,
            connection_window: 4 << 20,
            max_remote_resets: 200,
            max_local_resets: 200,
            max_header_list_size: 64 * 1024,
            max_continuation_frames: 64,
            max_control_frames: 1000,
            accept_push: false,
        }
    }
}

/// Everything a [`Connection`](crate::Connection) can be configured with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Config {
    /// HTTP/1.1 (default) or HTTP/2.
    pub protocol: Protocol,
    /// Size and count limits.
    pub limits: Limits,
    /// Opt-in leniencies for HTTP/1.1 parsing.
    pub leniency: Leniency,
    /// HTTP/2 settings and defences.
    pub http2: Http2Config,
}

impl Config {
    /// Selects the protocol.
    pub fn protocol(mut self, protocol: Protocol) -> Self {
        self.protocol = protocol;
        self
    }

    /// Replaces the limits.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Replaces the leniencies.
    pub fn leniency(mut self, leniency: Leniency) -> Self {
        self.leniency = leniency;
        self
    }
}
