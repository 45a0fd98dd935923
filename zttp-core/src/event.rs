//! The events a [`Connection`](crate::Connection) yields and accepts.

use bytes::Bytes;

use crate::{ErrorCode, Framing, Headers, StreamId};

/// HTTP version of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// HTTP/1.0
    Http10,
    /// HTTP/1.1
    Http11,
    /// HTTP/2
    Http2,
}

impl Version {
    /// The version as written on the wire, e.g. `"HTTP/1.1"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
            Version::Http2 => "HTTP/2",
        }
    }
}

/// A request head: the request line (or HTTP/2 pseudo-headers) and header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The stream this request is on (0 on HTTP/1.1).
    pub stream_id: StreamId,
    /// The method token, e.g. `GET`.
    pub method: Bytes,
    /// The raw request-target as sent (`:path` on HTTP/2, or the authority for CONNECT).
    pub target: Bytes,
    /// HTTP version.
    pub http_version: Version,
    /// Header fields in wire order; on HTTP/2 without pseudo-headers.
    pub headers: Headers,
    /// `:scheme` on HTTP/2; `None` on HTTP/1.1.
    pub scheme: Option<Bytes>,
    /// `:authority` on HTTP/2; `None` on HTTP/1.1 (where it is the Host field).
    pub authority: Option<Bytes>,
    /// `:protocol` of an HTTP/2 extended CONNECT (RFC 8441).
    pub protocol: Option<Bytes>,
    /// True when the client sent `Expect: 100-continue`.
    pub expect_continue: bool,
    /// How the request body is delimited, as the connection read the head
    /// ([`Framing::Empty`] on a request built for sending: its fields decide).
    pub framing: Framing,
}

impl Request {
    /// A request with no headers, for sending. Version defaults to HTTP/1.1.
    pub fn new(method: impl Into<Bytes>, target: impl Into<Bytes>) -> Self {
        Request {
            stream_id: StreamId::ZERO,
            method: method.into(),
            target: target.into(),
            http_version: Version::Http11,
            headers: Headers::new(),
            scheme: None,
            authority: None,
            protocol: None,
            expect_continue: false,
            framing: Framing::Empty,
        }
    }

    /// Adds a header field and returns the request, for building literals.
    pub fn with_header(mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        self.headers.push(name, value);
        self
    }

    /// The target up to the first `?`, verbatim (no percent-decoding).
    pub fn path(&self) -> &[u8] {
        match memchr(b'?', &self.target) {
            Some(i) => &self.target[..i],
            None => &self.target,
        }
    }

    /// The target after the first `?`, verbatim; `None` when there is no `?`.
    pub fn query(&self) -> Option<&[u8]> {
        memchr(b'?', &self.target).map(|i| &self.target[i + 1..])
    }
}

fn memchr(needle: u8, haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == needle)
}

/// A response head: status line (or `:status`) and header fields. Also used
/// for informational (1xx) responses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The stream this response is on (0 on HTTP/1.1).
    pub stream_id: StreamId,
    /// Status code, 100..=999.
    pub status_code: u16,
    /// Reason phrase as sent (empty on HTTP/2).
    pub reason: Bytes,
    /// HTTP version.
    pub http_version: Version,
    /// Header fields in wire order.
    pub headers: Headers,
    /// How the response body is delimited, as the connection read the head,
    /// with the request's rules applied (HEAD, CONNECT) ([`Framing::Empty`]
    /// on a response built for sending: its fields decide).
    pub framing: Framing,
}

impl Response {
    /// A response with no headers and the standard reason phrase, for sending.
    pub fn new(status_code: u16) -> Self {
        Response {
            stream_id: StreamId::ZERO,
            status_code,
            reason: Bytes::from_static(reason_phrase(status_code).as_bytes()),
            http_version: Version::Http11,
            headers: Headers::new(),
            framing: Framing::Empty,
        }
    }

    /// Adds a header field and returns the response, for building literals.
    pub fn with_header(mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) -> Self {
        self.headers.push(name, value);
        self
    }
}

/// A piece of a message body, a zero-copy view of the received bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Data {
    /// The stream this data is on (0 on HTTP/1.1).
    pub stream_id: StreamId,
    /// The body bytes.
    pub data: Bytes,
}

/// The end of a message, with its trailer fields (empty when there were none).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndOfMessage {
    /// The stream this message was on (0 on HTTP/1.1).
    pub stream_id: StreamId,
    /// Trailer fields, in wire order.
    pub trailers: Headers,
}

/// What happened on the connection, in the order it happened.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A complete request head.
    Request(Request),
    /// A complete final response head.
    Response(Response),
    /// A 1xx response head; the final response still follows.
    InformationalResponse(Response),
    /// A piece of body.
    Data(Data),
    /// The message ended.
    EndOfMessage(EndOfMessage),
    /// No complete event yet: feed more bytes with `receive_data`.
    NeedData,
    /// HTTP/1.1: a message finished and the next one waits for `start_next_cycle`
    /// (or the connection switched protocols, see `upgrade`).
    Paused,
    /// The peer closed its side cleanly, between messages.
    ConnectionClosed,
    /// HTTP/2: the peer reset a stream (or we did, answering its error).
    StreamReset {
        /// The stream that ended.
        stream_id: StreamId,
        /// Why.
        error_code: ErrorCode,
        /// True when the peer sent the RST_STREAM; false when we reset it.
        remote: bool,
    },
    /// HTTP/2: the peer's SETTINGS were applied (and acknowledged).
    SettingsChanged(crate::Settings),
    /// HTTP/2: the peer acknowledged our SETTINGS.
    SettingsAcknowledged,
    /// HTTP/2: the peer answered our PING.
    PingAcknowledged(
        /// The opaque data we sent.
        [u8; 8],
    ),
    /// HTTP/2: the peer opened the send window; stream 0 means the connection window.
    WindowUpdated {
        /// The stream whose window grew (0: the connection).
        stream_id: StreamId,
        /// By how much.
        increment: u32,
    },
    /// HTTP/2: the peer is going away; streams above `last_stream_id` were not processed.
    GoAway {
        /// The highest stream id the peer processed or may process.
        last_stream_id: StreamId,
        /// Why.
        error_code: ErrorCode,
        /// Optional debug data.
        debug_data: Bytes,
    },
}

impl Event {
    /// The stream this event belongs to ([`StreamId::ZERO`] for HTTP/1.1 and
    /// connection-level events).
    pub fn stream_id(&self) -> StreamId {
        match self {
            Event::Request(r) => r.stream_id,
            Event::Response(r) | Event::InformationalResponse(r) => r.stream_id,
            Event::Data(d) => d.stream_id,
            Event::EndOfMessage(e) => e.stream_id,
            Event::StreamReset { stream_id, .. } | Event::WindowUpdated { stream_id, .. } => {
                *stream_id
            }
            _ => StreamId::ZERO,
        }
    }
}

impl From<Request> for Event {
    fn from(r: Request) -> Self {
        Event::Request(r)
    }
}

impl From<Response> for Event {
    fn from(r: Response) -> Self {
        if (100..200).contains(&r.status_code) {
            Event::InformationalResponse(r)
        } else {
            Event::Response(r)
        }
    }
}

impl From<Data> for Event {
    fn from(d: Data) -> Self {
        Event::Data(d)
    }
}

impl From<EndOfMessage> for Event {
    fn from(e: EndOfMessage) -> Self {
        Event::EndOfMessage(e)
    }
}

/// The standard reason phrase for a status code ("" when unknown).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        102 => "Processing",
        103 => "Early Hints",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        203 => "Non-Authoritative Information",
        204 => "No Content",
        205 => "Reset Content",
        206 => "Partial Content",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        411 => "Length Required",
        412 => "Precondition Failed",
        413 => "Content Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Range Not Satisfiable",
        417 => "Expectation Failed",
        421 => "Misdirected Request",
        422 => "Unprocessable Content",
        426 => "Upgrade Required",
        428 => "Precondition Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "",
    }
}
