//! Typed protocol errors: who broke the protocol, what rule, and what to answer.

use std::fmt;

/// Either side's protocol violation, as returned by [`Connection`](crate::Connection).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The peer sent something the protocol forbids.
    Remote(RemoteProtocolError),
    /// Our own user asked for something the protocol forbids; nothing was sent.
    Local(LocalProtocolError),
}

impl From<RemoteProtocolError> for Error {
    fn from(e: RemoteProtocolError) -> Self {
        Error::Remote(e)
    }
}

impl From<LocalProtocolError> for Error {
    fn from(e: LocalProtocolError) -> Self {
        Error::Local(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Remote(e) => e.fmt(f),
            Error::Local(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

/// The rule a peer broke. Each kind maps to the HTTP status a server should
/// answer with ([`RemoteProtocolError::status`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RemoteErrorKind {
    /// The request line is not `method SP target SP version CRLF` (RFC 9112 §3).
    InvalidRequestLine,
    /// The status line is not `version SP 3DIGIT SP reason CRLF` (RFC 9112 §4).
    InvalidStatusLine,
    /// The method is not a token (RFC 9110 §9.1).
    InvalidMethod,
    /// The method is longer than [`Limits::max_method_len`](crate::Limits::max_method_len):
    /// longer than any the server implements (answer 501, RFC 9112 §3).
    MethodTooLong,
    /// The bytes are not an HTTP/1 request line at all — no token method
    /// followed by a space, or a line whose last word is not an `HTTP/`
    /// version (a TLS ClientHello, an HTTP/2 preface, HTTP/0.9). A server
    /// closes without answering: the peer would not understand an HTTP/1.1
    /// response. [`status`](RemoteProtocolError::status) still says 400.
    NotHttp,
    /// The request-target is not in a form allowed for this method (RFC 9112 §3.2).
    InvalidTarget,
    /// The HTTP version of an HTTP/1 message is malformed (`HTTP/1.1x`).
    InvalidVersion,
    /// The HTTP version is well formed but its major version is not 1 (answer 505).
    UnsupportedVersion,
    /// A field name is not a token (RFC 9110 §5.1).
    InvalidHeaderName,
    /// A field value contains CTLs, NUL or a bare CR (RFC 9110 §5.5).
    InvalidHeaderValue,
    /// A field line has no colon.
    MissingColon,
    /// Whitespace between a field name and its colon (RFC 9112 §5.1).
    WhitespaceBeforeColon,
    /// A field line folded onto the next line (obs-fold, RFC 9112 §5.2).
    ObsFold,
    /// A line ended in LF without CR (RFC 9112 §2.2).
    BareLf,
    /// A CR not followed by LF where a line ending belongs.
    BareCr,
    /// An HTTP/1.1 request with no Host field (RFC 9112 §3.2).
    MissingHost,
    /// More than one Host field, or Host disagreeing with an absolute target.
    InvalidHost,
    /// Content-Length is not one decimal number (RFC 9112 §6.3).
    InvalidContentLength,
    /// Several Content-Length fields with different values.
    ConflictingContentLength,
    /// A Transfer-Encoding this engine does not implement (answer 501).
    UnsupportedTransferEncoding,
    /// Transfer-Encoding without chunked last, or malformed (RFC 9112 §6.3).
    InvalidTransferEncoding,
    /// Both Transfer-Encoding and Content-Length (a request smuggling vector).
    ContentLengthWithTransferEncoding,
    /// Transfer-Encoding in an HTTP/1.0 message (RFC 9112 §6.1).
    TransferEncodingInHttp10,
    /// A chunk-size line is not hex digits, or overflows.
    InvalidChunkSize,
    /// A chunk extension is not `;name[=value]`.
    InvalidChunkExtension,
    /// Chunk data not followed by CRLF.
    InvalidChunkTerminator,
    /// Chunk extensions longer than the configured limit.
    ChunkExtensionTooLarge,
    /// Trailer section longer than the configured limit.
    TrailersTooLarge,
    /// Header section longer than the configured limit (answer 431).
    HeadTooLarge,
    /// Request line longer than the configured limit (answer 414).
    RequestLineTooLong,
    /// More header fields than the configured limit (answer 431).
    TooManyHeaders,
    /// A body longer than the configured limit (answer 413).
    BodyTooLarge,
    /// The peer closed the connection in the middle of a message.
    IncompleteMessage,
    /// Bytes arrived where the protocol allows none (e.g. after `Connection: close`).
    UnexpectedData,
    /// A 1xx status where none is allowed, or a final status that is out of range.
    InvalidStatus,
    /// The peer broke an HTTP/2 rule; the error code says which.
    Http2(crate::ErrorCode),
    /// HTTP/2 keep-alive: nothing arrived within
    /// [`keep_alive_timeout`](crate::Http2Config::keep_alive_timeout) of our
    /// PING. The peer is presumed gone; GOAWAY(NO_ERROR) was queued.
    PeerUnresponsive,
}

/// A protocol violation by the peer. After one, the connection stays in an
/// error state: every later [`next_event`](crate::Connection::next_event) returns it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RemoteProtocolError {
    kind: RemoteErrorKind,
}

impl RemoteProtocolError {
    /// An error of this kind.
    pub const fn new(kind: RemoteErrorKind) -> Self {
        RemoteProtocolError { kind }
    }

    /// The rule that was broken.
    pub fn kind(&self) -> RemoteErrorKind {
        self.kind
    }

    /// The status a server should answer before closing (400, 408, 413, 414, 431, 501 or 505).
    pub fn status(&self) -> u16 {
        use RemoteErrorKind::*;
        match self.kind {
            RequestLineTooLong => 414,
            HeadTooLarge | TooManyHeaders => 431,
            BodyTooLarge => 413,
            UnsupportedTransferEncoding | MethodTooLong => 501,
            UnsupportedVersion => 505,
            PeerUnresponsive => 408,
            _ => 400,
        }
    }

    /// The HTTP/2 error code to send in GOAWAY or RST_STREAM, if this is an HTTP/2 error.
    pub fn h2_code(&self) -> Option<crate::ErrorCode> {
        match self.kind {
            RemoteErrorKind::Http2(code) => Some(code),
            _ => None,
        }
    }
}

impl From<RemoteErrorKind> for RemoteProtocolError {
    fn from(kind: RemoteErrorKind) -> Self {
        RemoteProtocolError::new(kind)
    }
}

impl fmt::Display for RemoteProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "peer protocol error: {:?} (status {})",
            self.kind,
            self.status()
        )
    }
}

impl std::error::Error for RemoteProtocolError {}

/// Something our own user tried that the protocol forbids. The connection is
/// unchanged and nothing was queued for sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LocalProtocolError {
    /// This event cannot be sent in the connection's current state.
    UnexpectedEvent,
    /// A server cannot send a request, nor a client a response.
    WrongRole,
    /// More body bytes than the declared Content-Length.
    TooMuchData,
    /// End of message before the declared Content-Length was reached.
    TooLittleData,
    /// A body on a response to HEAD, or on a 1xx, 204 or 304 response.
    BodyNotAllowed,
    /// A header name or value that would corrupt the message framing.
    InvalidHeader,
    /// A status code outside 100..=999, or a 1xx sent as a final response.
    InvalidStatus,
    /// Informational responses only go to HTTP/1.1 clients mid-request.
    InformationalNotAllowed,
    /// Trailers on a message that is not chunked (HTTP/1.1).
    TrailersNotAllowed,
    /// The connection is closed or in an error state.
    ConnectionClosed,
    /// More data than the HTTP/2 flow-control window allows.
    FlowControlWindowExceeded,
    /// The HTTP/2 stream does not exist or cannot send now.
    InvalidStream,
    /// Opening another stream would exceed the peer's SETTINGS_MAX_CONCURRENT_STREAMS.
    TooManyStreams,
    /// This call does not apply to the connection's protocol.
    WrongProtocol,
}

impl fmt::Display for LocalProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "local protocol error: {self:?}")
    }
}

impl std::error::Error for LocalProtocolError {}

/// An HTTP/2 error code (RFC 9113 §7). Unknown codes survive a round trip.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    /// Graceful shutdown or no error.
    pub const NO_ERROR: ErrorCode = ErrorCode(0x0);
    /// An unspecific protocol error.
    pub const PROTOCOL_ERROR: ErrorCode = ErrorCode(0x1);
    /// An unexpected internal error.
    pub const INTERNAL_ERROR: ErrorCode = ErrorCode(0x2);
    /// The peer violated flow control.
    pub const FLOW_CONTROL_ERROR: ErrorCode = ErrorCode(0x3);
    /// SETTINGS were not acknowledged in time.
    pub const SETTINGS_TIMEOUT: ErrorCode = ErrorCode(0x4);
    /// A frame arrived on a half-closed stream.
    pub const STREAM_CLOSED: ErrorCode = ErrorCode(0x5);
    /// A frame had an invalid size.
    pub const FRAME_SIZE_ERROR: ErrorCode = ErrorCode(0x6);
    /// The stream was refused before any processing.
    pub const REFUSED_STREAM: ErrorCode = ErrorCode(0x7);
    /// The stream is no longer needed.
    pub const CANCEL: ErrorCode = ErrorCode(0x8);
    /// The HPACK compression context could not be maintained.
    pub const COMPRESSION_ERROR: ErrorCode = ErrorCode(0x9);
    /// A CONNECT tunnel failed.
    pub const CONNECT_ERROR: ErrorCode = ErrorCode(0xa);
    /// The peer is generating excessive load.
    pub const ENHANCE_YOUR_CALM: ErrorCode = ErrorCode(0xb);
    /// Transport security is inadequate.
    pub const INADEQUATE_SECURITY: ErrorCode = ErrorCode(0xc);
    /// HTTP/1.1 is required for this request.
    pub const HTTP_1_1_REQUIRED: ErrorCode = ErrorCode(0xd);
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [&str; 14] = [
            "NO_ERROR",
            "PROTOCOL_ERROR",
            "INTERNAL_ERROR",
            "FLOW_CONTROL_ERROR",
            "SETTINGS_TIMEOUT",
            "STREAM_CLOSED",
            "FRAME_SIZE_ERROR",
            "REFUSED_STREAM",
            "CANCEL",
            "COMPRESSION_ERROR",
            "CONNECT_ERROR",
            "ENHANCE_YOUR_CALM",
            "INADEQUATE_SECURITY",
            "HTTP_1_1_REQUIRED",
        ];
        match NAMES.get(self.0 as usize) {
            Some(name) => f.write_str(name),
            None => write!(f, "ErrorCode({:#x})", self.0),
        }
    }
}
