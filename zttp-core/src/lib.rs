//! # zttp-core: a sans-IO HTTP/1.1 and HTTP/2 protocol engine
//!
//! This crate does no IO. It reads no clock, opens no socket, spawns no task
//! and never blocks: you hand it the bytes you received, it hands you events
//! and the bytes to write. The same engine therefore runs under tokio,
//! async-std, a ZeroMQ STREAM socket or a unit test, and given the same
//! inputs it always produces the same outputs.
//!
//! One [`Connection`] holds the protocol state of one connection. Its methods
//! fall into three groups:
//!
//! - **getters** — [`role`](Connection::role), [`protocol`](Connection::protocol),
//!   [`should_close`](Connection::should_close), [`upgrade`](Connection::upgrade);
//! - **inputs** — [`receive_data`](Connection::receive_data) (bytes off the wire;
//!   an empty slice means the peer closed), [`send`](Connection::send) (an event
//!   to serialise), [`start_next_cycle`](Connection::start_next_cycle),
//!   [`handle_timeout`](Connection::handle_timeout) (the time, which this
//!   crate never reads itself);
//! - **outputs**, to poll after every input — [`next_event`](Connection::next_event)
//!   until it says [`Event::NeedData`] (or [`Event::Paused`]), then
//!   [`poll_transmit`](Connection::poll_transmit) until it returns `None`,
//!   writing each chunk in order, and [`poll_timeout`](Connection::poll_timeout)
//!   for the instant to call `handle_timeout` at.
//!
//! Errors are values: a [`RemoteProtocolError`] carries the status a server
//! should answer (400, 413, 414, 431, 501, 505) or the HTTP/2 error code;
//! a [`LocalProtocolError`] means you tried something illegal and nothing was sent.
//! After a remote error the connection stays in an error state.
//!
//! ## A full request/response cycle
//!
//! ```
//! use zttp_core::{Connection, Role, Event, Framing, Request, Response, Data, EndOfMessage, StreamId};
//!
//! let mut client = Connection::new(Role::Client);
//! let mut server = Connection::new(Role::Server);
//!
//! // The client serialises a request; the bytes go over "the wire".
//! client.send(Request::new("POST", "/submit?x=1").with_header("Host", "example.com")
//!     .with_header("Content-Length", "5")).unwrap();
//! client.send(Data { stream_id: StreamId::ZERO, data: "hello".into() }).unwrap();
//! client.send(EndOfMessage::default()).unwrap();
//! let wire = client.data_to_send();
//! assert_eq!(&wire[..], &b"POST /submit?x=1 HTTP/1.1\r\nHost: example.com\r\n\
//!     Content-Length: 5\r\n\r\nhello"[..]);
//!
//! // The server may receive it in any fragments.
//! server.receive_data(&wire[..7]);
//! assert_eq!(server.next_event().unwrap(), Event::NeedData);
//! server.receive_data(&wire[7..]);
//! let Event::Request(req) = server.next_event().unwrap() else { panic!() };
//! assert_eq!((&req.method[..], req.path(), req.query()), (&b"POST"[..], &b"/submit"[..], Some(&b"x=1"[..])));
//! // The connection read the framing fields: read `framing`, not the headers.
//! assert_eq!(req.framing, Framing::Length(5));
//! let Event::Data(body) = server.next_event().unwrap() else { panic!() };
//! assert_eq!(body.data, "hello");
//! assert!(matches!(server.next_event().unwrap(), Event::EndOfMessage(_)));
//! assert_eq!(server.next_event().unwrap(), Event::Paused);
//!
//! // The server answers; with no Content-Length it picks chunked for HTTP/1.1.
//! server.send(Response::new(200).with_header("Content-Type", "text/plain")).unwrap();
//! server.send(Data { stream_id: StreamId::ZERO, data: "ok".into() }).unwrap();
//! server.send(EndOfMessage::default()).unwrap();
//! client.receive_data(&server.data_to_send());
//! let Event::Response(resp) = client.next_event().unwrap() else { panic!() };
//! assert_eq!(resp.status_code, 200);
//! assert_eq!(resp.framing, Framing::Chunked);
//! let Event::Data(body) = client.next_event().unwrap() else { panic!() };
//! assert_eq!(body.data, "ok");
//! assert!(matches!(client.next_event().unwrap(), Event::EndOfMessage(_)));
//!
//! // Both sides agree the connection can be reused.
//! assert!(!server.should_close() && !client.should_close());
//! server.start_next_cycle().unwrap();
//! client.start_next_cycle().unwrap();
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod config;
mod error;
mod event;
mod framing;
mod h1;
mod h2;
mod headers;
pub mod hpack;
mod outbound;
mod received;
mod stream_id;
mod uri;

use bytes::Bytes;

pub use config::{Config, Http2Config, Leniency, Limits, Protocol, Role, Settings};
pub use error::{Error, ErrorCode, LocalProtocolError, RemoteErrorKind, RemoteProtocolError};
pub use event::{reason_phrase, Data, EndOfMessage, Event, Request, Response, Version};
pub use framing::Framing;
pub use headers::{split_list, trim_ows, Headers};
pub use stream_id::StreamId;

/// Internals the crate's benchmarks measure on their own; not API.
#[doc(hidden)]
pub mod __bench {
    pub use crate::h1::RequestHeadParser;
}

use outbound::Outbound;

/// A response head for sending, with the standard reason phrase and the
/// borrowed fields copied.
fn response_of<'a>(
    stream_id: StreamId,
    status: u16,
    fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
) -> Response {
    let mut response = Response::new(status);
    response.stream_id = stream_id;
    response.headers = fields
        .into_iter()
        .map(|(n, v)| (Bytes::copy_from_slice(n), Bytes::copy_from_slice(v)))
        .collect();
    response
}

/// The HTTP/2 client connection preface (RFC 9113 §3.4).
pub const H2_PREFACE: &[u8; 24] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The protocol state of one HTTP connection, in one role. See the crate docs.
#[derive(Debug)]
pub struct Connection {
    role: Role,
    config: Config,
    inner: Inner,
}

// HTTP/1.1 is the common case: kept inline rather than boxed, so a connection
// costs one allocation less.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Inner {
    /// `Protocol::Auto` before enough bytes arrived to tell HTTP/2's preface from HTTP/1.1.
    Detecting(Vec<u8>),
    H1(h1::H1Connection),
    H2(Box<h2::H2Connection>),
}

impl Connection {
    /// A connection with the default configuration: strict, default limits,
    /// [`Protocol::Auto`] (a server also takes h2c with prior knowledge; a
    /// client speaks HTTP/1.1).
    pub fn new(role: Role) -> Self {
        Self::with_config(role, Config::default())
    }

    /// A connection with the given configuration.
    pub fn with_config(role: Role, config: Config) -> Self {
        let inner = match config.protocol {
            Protocol::Http1 => Inner::H1(h1::H1Connection::new(role, &config)),
            Protocol::Http2 => Inner::H2(Box::new(h2::H2Connection::new(role, &config))),
            Protocol::Auto if role == Role::Server => Inner::Detecting(Vec::new()),
            Protocol::Auto => Inner::H1(h1::H1Connection::new(role, &config)),
        };
        Connection {
            role,
            config,
            inner,
        }
    }

    // ---- getters ----

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The protocol in use (`Auto` until the first bytes decide it).
    pub fn protocol(&self) -> Protocol {
        match self.inner {
            Inner::Detecting(_) => Protocol::Auto,
            Inner::H1(_) => Protocol::Http1,
            Inner::H2(_) => Protocol::Http2,
        }
    }

    /// The configuration this connection was made with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// True when the connection must be closed once the outgoing bytes are
    /// written: the peer asked (`Connection: close`, HTTP/1.0 without keep-alive),
    /// framing requires it, an error happened, or HTTP/2 finished its GOAWAY.
    #[inline]
    pub fn should_close(&self) -> bool {
        match &self.inner {
            Inner::Detecting(_) => false,
            Inner::H1(c) => c.should_close(),
            Inner::H2(c) => c.should_close(),
        }
    }

    /// HTTP/1.1: the protocol the peer asked to switch to (`Upgrade` value, when
    /// `Connection` lists `upgrade`), or `CONNECT`'s tunnel. `None` otherwise.
    pub fn upgrade(&self) -> Option<&[u8]> {
        match &self.inner {
            Inner::H1(c) => c.upgrade(),
            _ => None,
        }
    }

    /// HTTP/1.1: true once a `101 Switching Protocols` or a 2xx answer to
    /// `CONNECT` went through; the bytes that follow are no longer HTTP (see
    /// [`take_trailing_data`](Self::take_trailing_data)).
    pub fn switched_protocol(&self) -> bool {
        match &self.inner {
            Inner::H1(c) => c.switched_protocol(),
            _ => false,
        }
    }

    /// True when [`next_event`](Self::next_event) can only return
    /// [`Event::NeedData`] until more bytes are received: HTTP/1.1 between
    /// messages (after [`start_next_cycle`](Self::start_next_cycle)) with no
    /// unread byte and no end of input. A drive loop asks this instead of
    /// taking that event. `false` when it cannot tell (HTTP/2, or before the
    /// protocol is known): then ask `next_event`.
    ///
    /// ```
    /// use zttp_core::{Connection, EndOfMessage, Event, Role, StreamId};
    ///
    /// let mut conn = Connection::new(Role::Server);
    /// conn.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    /// assert!(!conn.waits_for_bytes());
    /// assert!(matches!(conn.next_event(), Ok(Event::Request(_))));
    /// assert!(matches!(conn.next_event(), Ok(Event::EndOfMessage(_))));
    /// conn.send_response_head(StreamId::ZERO, 204, []).unwrap();
    /// conn.send(EndOfMessage::default()).unwrap();
    /// conn.start_next_cycle().unwrap();
    /// assert!(conn.waits_for_bytes());
    /// assert!(matches!(conn.next_event(), Ok(Event::NeedData)));
    /// conn.receive_data(b"GET");
    /// assert!(!conn.waits_for_bytes());
    /// ```
    #[inline]
    pub fn waits_for_bytes(&self) -> bool {
        match &self.inner {
            Inner::H1(c) => c.waits_for_bytes(),
            Inner::Detecting(_) | Inner::H2(_) => false,
        }
    }

    /// The peer error this connection is stuck in, if any.
    #[inline]
    pub fn remote_error(&self) -> Option<RemoteProtocolError> {
        match &self.inner {
            Inner::Detecting(_) => None,
            Inner::H1(c) => c.remote_error(),
            Inner::H2(c) => c.remote_error(),
        }
    }

    // ---- inputs ----

    /// Feeds bytes received from the peer. An empty slice means the peer closed
    /// its sending side. Call [`next_event`](Self::next_event) afterwards.
    pub fn receive_data(&mut self, data: &[u8]) {
        match &mut self.inner {
            Inner::H1(c) => c.receive_data(data),
            Inner::H2(c) => c.receive_data(data),
            Inner::Detecting(buf) => {
                buf.extend_from_slice(data);
                let n = buf.len().min(H2_PREFACE.len());
                let is_h2 = buf[..n] == H2_PREFACE[..n];
                if is_h2 && n < H2_PREFACE.len() && !data.is_empty() {
                    return;
                }
                let protocol = if is_h2 && n == H2_PREFACE.len() {
                    Protocol::Http2
                } else {
                    Protocol::Http1
                };
                self.settle(protocol);
                if data.is_empty() {
                    self.receive_data(&[]);
                }
            }
        }
    }

    /// Feeds bytes received from the peer, as [`receive_data`](Self::receive_data),
    /// taking the buffer they were read into. On HTTP/1.1 and HTTP/2 they
    /// become the connection's receive buffer without a copy when nothing is
    /// buffered (a read buffer the caller splits off a larger one it reuses:
    /// the heads, frames and bodies handed out are then slices of it), and
    /// are appended in place when they continue the buffered bytes in memory.
    ///
    /// Bytes still buffered keep `data`'s allocation alive: call
    /// [`shrink_receive_buffer`](Self::shrink_receive_buffer) before waiting
    /// for the peer.
    pub fn receive_bytes(&mut self, data: bytes::BytesMut) {
        match &mut self.inner {
            Inner::H1(c) => c.receive_bytes(data),
            Inner::H2(c) => c.receive_bytes(data),
            Inner::Detecting(_) => self.receive_data(&data),
        }
    }

    /// Lets go of buffers the connection does not need while it waits for
    /// the peer: with nothing buffered the receive buffer is released; bytes
    /// still buffered (a partial head, pipelined requests) move into an
    /// allocation of their own size when they are a view of a buffer handed
    /// over with [`receive_bytes`](Self::receive_bytes). Cheap to call when
    /// there is nothing to do.
    pub fn shrink_receive_buffer(&mut self) {
        match &mut self.inner {
            Inner::H1(c) => c.shrink_receive_buffer(),
            Inner::H2(c) => c.shrink_receive_buffer(),
            Inner::Detecting(_) => {}
        }
    }

    /// Ends `Protocol::Auto` detection: becomes an HTTP/1.1 or HTTP/2
    /// connection and feeds it the bytes received so far.
    fn settle(&mut self, protocol: Protocol) {
        let Inner::Detecting(buf) = &mut self.inner else {
            return;
        };
        let buf = std::mem::take(buf);
        let mut config = self.config.clone();
        config.protocol = protocol;
        *self = Connection::with_config(self.role, config);
        if !buf.is_empty() {
            self.receive_data(&buf);
        }
    }

    /// The next event, [`Event::NeedData`] when more bytes are needed, or
    /// [`Event::Paused`] when HTTP/1.1 waits for [`start_next_cycle`](Self::start_next_cycle).
    ///
    /// Only the peer can make reading fail: the error is the rule it broke
    /// (with the status to answer, or the HTTP/2 code already sent in
    /// GOAWAY), and every later call returns it again.
    #[inline]
    pub fn next_event(&mut self) -> Result<Event, RemoteProtocolError> {
        match &mut self.inner {
            Inner::Detecting(_) => Ok(Event::NeedData),
            Inner::H1(c) => c.next_event(),
            Inner::H2(c) => c.next_event(),
        }
    }

    /// Serialises an event (a `Request`, `Response`, `InformationalResponse`,
    /// `Data` or `EndOfMessage`) into the outgoing bytes, or refuses it with
    /// a [`LocalProtocolError`] and queues nothing.
    ///
    /// After a peer's protocol error, an HTTP/1.1 server may still send one
    /// response (typically [`RemoteProtocolError::status`]); it is framed with
    /// `Connection: close` and nothing more can be sent after it.
    pub fn send(&mut self, event: impl Into<Event>) -> Result<(), LocalProtocolError> {
        match &mut self.inner {
            // Only a server detects. It may not send requests; before the
            // peer's first bytes tell the protocol, the one answer it may give
            // is an error status to a stalled or idle peer, in HTTP/1.1.
            Inner::Detecting(_) => match event.into() {
                Event::Request(_) => Err(LocalProtocolError::WrongRole),
                Event::Response(r) if r.status_code >= 400 => {
                    self.settle(Protocol::Http1);
                    self.send(Event::Response(r))
                }
                _ => Err(LocalProtocolError::UnexpectedEvent),
            },
            Inner::H1(c) => c.send(event.into()),
            Inner::H2(c) => c.send(event.into()),
        }
    }

    /// Sends `data` as the last piece of the message body on `stream_id`
    /// and ends the message without trailers: what
    /// `send(Data { stream_id, data })` then `send(EndOfMessage::default())`
    /// (on `stream_id`) do, in one call. Either step may refuse as it would
    /// on its own; when the end is refused (`TooLittleData`: the body is
    /// shorter than its declared length) the data stays queued, as after
    /// the two calls. On HTTP/2 the data and the end of the stream may go
    /// out in one DATA frame.
    ///
    /// ```
    /// # use zttp_core::{Connection, Role, StreamId};
    /// # let mut server = Connection::new(Role::Server);
    /// # server.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    /// # server.next_event().unwrap();
    /// # server.next_event().unwrap();
    /// let fields = [(&b"content-length"[..], &b"2"[..])];
    /// server.send_response_head(StreamId::ZERO, 200, fields).unwrap();
    /// server.send_last_data(StreamId::ZERO, "hi".into()).unwrap();
    /// assert!(server.data_to_send().ends_with(b"\r\n\r\nhi"));
    /// server.start_next_cycle().unwrap();
    /// ```
    pub fn send_last_data(
        &mut self,
        stream_id: StreamId,
        data: Bytes,
    ) -> Result<(), LocalProtocolError> {
        match &mut self.inner {
            Inner::H1(c) => c.send_last_data(data),
            Inner::H2(c) => c.send_last_data(stream_id.0, data),
            Inner::Detecting(_) => Err(LocalProtocolError::UnexpectedEvent),
        }
    }

    /// Server: sends a response head with the standard reason phrase, as
    /// `send(Response)` does, from borrowed fields: for a final HTTP/1.1
    /// response they are checked and written in one pass, on HTTP/2 checked
    /// then encoded, with no [`Headers`] list built either way (the fields
    /// are walked twice on HTTP/2, hence `Clone`: pass an array, a slice or a
    /// small view type). On HTTP/2, `stream_id`
    /// names the stream.
    ///
    /// ```
    /// # use zttp_core::{Connection, Role, EndOfMessage, StreamId};
    /// # let mut server = Connection::new(Role::Server);
    /// # server.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    /// # server.next_event().unwrap();
    /// let fields = [(&b"content-length"[..], &b"0"[..])];
    /// server.send_response_head(StreamId::ZERO, 204, fields).unwrap();
    /// server.send(EndOfMessage::default()).unwrap();
    /// assert!(server.data_to_send().starts_with(b"HTTP/1.1 204 No Content\r\n"));
    /// ```
    pub fn send_response_head<'a, I>(
        &mut self,
        stream_id: StreamId,
        status: u16,
        fields: I,
    ) -> Result<(), LocalProtocolError>
    where
        I: IntoIterator<Item = (&'a [u8], &'a [u8])> + Clone,
    {
        self.send_response_head_with(stream_id, status, None, fields, false, None)
    }

    /// [`send_response_head`](Self::send_response_head) for fields whose
    /// bytes the caller has already checked, so a final HTTP/1.1 head is
    /// written without checking them again (its framing fields are still
    /// read). The caller promises that every name is a token (RFC 9110
    /// §5.6.2) and every value holds only field-value bytes: VCHAR,
    /// obs-text, SP and HTAB, so no CR, LF, NUL or other control (§5.5).
    /// The `http` crate's `HeaderName` and `HeaderValue` guarantee exactly
    /// that (a `HeaderValue` may, like a value the checked path accepts,
    /// begin or end with whitespace).
    ///
    /// A broken promise is not memory-unsafe, but in a release build the
    /// bytes go out as given (a CR LF in a value would split the head);
    /// debug builds check anyway and refuse such a field with
    /// [`LocalProtocolError::InvalidHeader`]. Informational heads are
    /// checked as before. On HTTP/2 only what the protocol drops, trims or
    /// never indexes is read; names must still be lowercase, or they take
    /// the checked path.
    pub fn send_response_head_prechecked<'a, I>(
        &mut self,
        stream_id: StreamId,
        status: u16,
        fields: I,
    ) -> Result<(), LocalProtocolError>
    where
        I: IntoIterator<Item = (&'a [u8], &'a [u8])> + Clone,
    {
        self.send_response_head_with(stream_id, status, None, fields, true, None)
    }

    /// [`send_response_head_prechecked`](Self::send_response_head_prechecked)
    /// with the head's `Date` and the body's length given apart from the
    /// fields.
    ///
    /// - `date`: `Some(date)` is the IMF-fixdate the caller's clock reads,
    ///   e.g. `Sun, 06 Nov 1994 08:49:37 GMT` (RFC 9110 §6.6.1: a server
    ///   with a clock sends one), sent as the head's first field,
    ///   `date: <date>` (the connection reads no clock). On HTTP/1.1 it goes
    ///   out in one piece with the status line, without a pass of its own
    ///   through the fields. The caller vouches for its bytes as for the
    ///   fields' (debug builds check them). `None` sends no `Date`.
    /// - `content_length`: with `Some(n)` the connection adds
    ///   `content-length: n` after `fields` itself, as their last field, so
    ///   the caller need not format the number nor the connection read it
    ///   back. The fields then may hold no other Content-Length value
    ///   (refused with [`LocalProtocolError::InvalidHeader`], as two
    ///   disagreeing fields are). `None` adds nothing.
    ///
    /// ```
    /// # use zttp_core::{Connection, Role, StreamId};
    /// # let mut server = Connection::new(Role::Server);
    /// # server.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    /// # server.next_event().unwrap();
    /// let date = b"Sun, 06 Nov 1994 08:49:37 GMT";
    /// let fields = [(&b"content-type"[..], &b"text/plain"[..])];
    /// server
    ///     .send_response_head_prechecked_dated(StreamId::ZERO, 200, Some(date), fields, Some(2))
    ///     .unwrap();
    /// server.send_last_data(StreamId::ZERO, "hi".into()).unwrap();
    /// assert_eq!(
    ///     &server.data_to_send()[..],
    ///     b"HTTP/1.1 200 OK\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
    ///       content-type: text/plain\r\ncontent-length: 2\r\n\r\nhi"
    /// );
    /// ```
    pub fn send_response_head_prechecked_dated<'a, I>(
        &mut self,
        stream_id: StreamId,
        status: u16,
        date: Option<&[u8; 29]>,
        fields: I,
        content_length: Option<u64>,
    ) -> Result<(), LocalProtocolError>
    where
        I: IntoIterator<Item = (&'a [u8], &'a [u8])> + Clone,
    {
        self.send_response_head_with(stream_id, status, date, fields, true, content_length)
    }

    fn send_response_head_with<'a, I>(
        &mut self,
        stream_id: StreamId,
        status: u16,
        date: Option<&[u8; 29]>,
        fields: I,
        prechecked: bool,
        length: Option<u64>,
    ) -> Result<(), LocalProtocolError>
    where
        I: IntoIterator<Item = (&'a [u8], &'a [u8])> + Clone,
    {
        if let Inner::H1(c) = &mut self.inner {
            if status >= 200 {
                // The standard reason phrase needs no check.
                let vouched = h1::Vouched {
                    reason: true,
                    fields: prechecked,
                };
                let reason = reason_phrase(status).as_bytes();
                let head = h1::FinalHead {
                    status,
                    reason,
                    date,
                    length,
                };
                return c.send_response_head(head, fields.into_iter(), vouched);
            }
        }
        match date {
            // Elsewhere the date is the first field.
            Some(date) if cfg!(debug_assertions) && !h1::is_field_value(date) => {
                Err(LocalProtocolError::InvalidHeader)
            }
            Some(date) => {
                let fields = WithDate {
                    date,
                    fields,
                    borrowed: std::marker::PhantomData,
                };
                self.send_undated_head(stream_id, status, fields, prechecked, length)
            }
            None => self.send_undated_head(stream_id, status, fields, prechecked, length),
        }
    }

    /// [`send_response_head_with`](Self::send_response_head_with) but for a
    /// final HTTP/1.1 head, with any date among the fields.
    fn send_undated_head<'a, I>(
        &mut self,
        stream_id: StreamId,
        status: u16,
        fields: I,
        prechecked: bool,
        length: Option<u64>,
    ) -> Result<(), LocalProtocolError>
    where
        I: IntoIterator<Item = (&'a [u8], &'a [u8])> + Clone,
    {
        let Some(length) = length else {
            return match &mut self.inner {
                Inner::H2(c) => c.send_response_head(stream_id.0, status, fields, prechecked),
                _ => self.send(response_of(stream_id, status, fields)),
            };
        };
        // Elsewhere the length is one more field.
        let mut digits = [0u8; 20];
        let fields = WithLength {
            fields,
            length: Some((&b"content-length"[..], decimal(length, &mut digits))),
            borrowed: std::marker::PhantomData,
        };
        match &mut self.inner {
            Inner::H2(c) => c.send_response_head(stream_id.0, status, fields, prechecked),
            _ => self.send(response_of(stream_id, status, fields)),
        }
    }

    /// Server: sends an informational (1xx) response on `stream_id` before
    /// the final one, e.g. `103 Early Hints` with `link` fields, or `100
    /// Continue` (on HTTP/1.1 the stream is [`StreamId::ZERO`]). Refused with
    /// [`LocalProtocolError::InformationalNotAllowed`] where the peer cannot
    /// take one (an HTTP/1.0 client), and with `InvalidStatus` outside 100..=199.
    ///
    /// ```
    /// # use zttp_core::{Connection, Role, StreamId};
    /// # let mut server = Connection::new(Role::Server);
    /// # server.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    /// # server.next_event().unwrap();
    /// let link = [(&b"link"[..], &b"</style.css>; rel=preload"[..])];
    /// server.send_informational(StreamId::ZERO, 103, link).unwrap();
    /// assert!(server.data_to_send().starts_with(b"HTTP/1.1 103 Early Hints\r\nlink: "));
    /// ```
    pub fn send_informational<'a, I>(
        &mut self,
        stream_id: StreamId,
        status: u16,
        fields: I,
    ) -> Result<(), LocalProtocolError>
    where
        I: IntoIterator<Item = (&'a [u8], &'a [u8])>,
    {
        if !(100..200).contains(&status) {
            return Err(LocalProtocolError::InvalidStatus);
        }
        self.send(Event::InformationalResponse(response_of(
            stream_id, status, fields,
        )))
    }

    /// HTTP/1.1: after `EndOfMessage` both ways, resets for the next request on
    /// this connection. Fails if a message is still in progress.
    pub fn start_next_cycle(&mut self) -> Result<(), LocalProtocolError> {
        match &mut self.inner {
            Inner::H1(c) => c.start_next_cycle(),
            _ => Err(LocalProtocolError::WrongProtocol),
        }
    }

    /// Hands back a field list taken from an event this connection yielded
    /// (best emptied with [`Headers::drain`]), so that the next request
    /// head read fills it instead of allocating a list of its own. Optional:
    /// a list not handed back is simply dropped. Fields still in it are
    /// dropped; a list with room for many fields is not kept.
    pub fn recycle_headers(&mut self, headers: Headers) {
        if let Inner::H1(c) = &mut self.inner {
            c.recycle_headers(headers);
        }
    }

    /// HTTP/1.1, after an upgrade or CONNECT was accepted: the bytes received
    /// after the head, which belong to the new protocol. The connection is
    /// done with HTTP from here on.
    pub fn take_trailing_data(&mut self) -> Bytes {
        match &mut self.inner {
            Inner::Detecting(buf) => Bytes::from(std::mem::take(buf)),
            Inner::H1(c) => c.take_trailing_data(),
            Inner::H2(_) => Bytes::new(),
        }
    }

    /// Tells the connection the time: the protocol timers started since the
    /// last call (HTTP/2: our SETTINGS awaiting their ACK, the keep-alive
    /// silence) are measured from `now`, and those due at `now` act — a
    /// keep-alive PING is queued, or the connection fails (GOAWAY queued,
    /// the error returned by [`next_event`](Self::next_event)).
    ///
    /// The connection reads no clock: `now` is the caller's (a runtime's
    /// clock, or a virtual one in tests). Call it once the connection speaks
    /// HTTP/2 (for [`Protocol::Auto`], after the `receive_data` that
    /// completed the preface) so its timers have a start, then whenever
    /// [`poll_timeout`](Self::poll_timeout)'s deadline passes; more calls do
    /// no harm. HTTP/1.1 has no protocol timers: nothing happens.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use zttp_core::{Config, Connection, Event, Http2Config, Protocol, Role};
    ///
    /// let h2 = Http2Config::default().settings_timeout(Some(Duration::from_secs(5)));
    /// let mut server = Connection::with_config(Role::Server, Config::default().protocol(Protocol::Http2).http2(h2));
    /// let start = Instant::now(); // any instant: the connection only compares them
    /// server.handle_timeout(start);
    /// assert_eq!(server.poll_timeout(), Some(start + Duration::from_secs(5)));
    /// let _ = server.data_to_send(); // our SETTINGS, which the peer never acknowledges
    /// server.handle_timeout(start + Duration::from_secs(5));
    /// assert!(server.next_event().is_err()); // GOAWAY(SETTINGS_TIMEOUT) is queued
    /// assert!(server.should_close());
    /// ```
    pub fn handle_timeout(&mut self, now: std::time::Instant) {
        if let Inner::H2(c) = &mut self.inner {
            c.handle_timeout(now);
        }
    }

    // ---- outputs ----

    /// The instant at which [`handle_timeout`](Self::handle_timeout) must be
    /// called next, or `None` when no protocol timer runs (HTTP/1.1, timers
    /// off, not started yet, or the connection failed). Poll it after every
    /// input, as the deadline moves.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<std::time::Instant> {
        match &self.inner {
            Inner::H2(c) => c.poll_timeout(),
            _ => None,
        }
    }

    /// The next chunk of bytes to write to the peer, in order; `None` when
    /// nothing is waiting. Large body chunks come out as the very `Bytes` sent.
    #[must_use]
    pub fn poll_transmit(&mut self) -> Option<Bytes> {
        self.outbound().and_then(Outbound::pop)
    }

    /// The next bytes to write to the peer, borrowed, in order (empty when
    /// nothing is waiting): a way to write without taking the bytes out.
    /// After writing `n` of them, call
    /// [`advance_transmit(n)`](Self::advance_transmit); the rest, and
    /// anything queued meanwhile, comes next. The same bytes as
    /// [`poll_transmit`](Self::poll_transmit) yields; use one or the other.
    /// Like `poll_transmit`, it ends in-place edits of what was queued (an
    /// HTTP/2 frame's END_STREAM flag is no longer set after the fact).
    #[must_use]
    #[inline]
    pub fn peek_transmit(&mut self) -> &[u8] {
        match self.outbound() {
            Some(out) => out.front(),
            None => &[],
        }
    }

    /// Drops the first `n` bytes of [`peek_transmit`](Self::peek_transmit)
    /// (at most all of them): they were written.
    pub fn advance_transmit(&mut self, n: usize) {
        if let Some(out) = self.outbound() {
            out.advance(n);
        }
    }

    /// Everything waiting to be written, as one buffer (empty when nothing is).
    #[must_use]
    pub fn data_to_send(&mut self) -> Bytes {
        self.outbound().map(Outbound::take_all).unwrap_or_default()
    }

    /// Number of bytes waiting to be written.
    #[inline]
    pub fn pending_send_len(&self) -> usize {
        match &self.inner {
            Inner::Detecting(_) => 0,
            Inner::H1(c) => c.outbound_ref().len(),
            Inner::H2(c) => c.outbound_ref().len(),
        }
    }

    #[inline]
    fn outbound(&mut self) -> Option<&mut Outbound> {
        match &mut self.inner {
            Inner::Detecting(_) => None,
            Inner::H1(c) => Some(c.outbound()),
            Inner::H2(c) => Some(c.outbound()),
        }
    }

    // ---- HTTP/2 ----

    fn h2(&mut self) -> Result<&mut h2::H2Connection, LocalProtocolError> {
        match &mut self.inner {
            Inner::H2(c) => Ok(c),
            _ => Err(LocalProtocolError::WrongProtocol),
        }
    }

    /// HTTP/2 client: the id to put on the next request.
    pub fn next_stream_id(&mut self) -> Result<StreamId, LocalProtocolError> {
        Ok(StreamId(self.h2()?.next_stream_id()))
    }

    /// HTTP/2: resets a stream with RST_STREAM.
    pub fn reset_stream(
        &mut self,
        stream_id: StreamId,
        code: ErrorCode,
    ) -> Result<(), LocalProtocolError> {
        self.h2()?.reset_stream(stream_id.0, code)
    }

    /// HTTP/2: sends a PING; the answer comes back as [`Event::PingAcknowledged`].
    pub fn ping(&mut self, data: [u8; 8]) -> Result<(), LocalProtocolError> {
        self.h2()?.ping(data);
        Ok(())
    }

    /// HTTP/2: sends GOAWAY. With `NO_ERROR` this is graceful: open streams finish,
    /// new ones are refused, and [`should_close`](Self::should_close) turns true when all are done.
    pub fn goaway(&mut self, code: ErrorCode, debug_data: &[u8]) -> Result<(), LocalProtocolError> {
        self.h2()?.goaway(code, debug_data);
        Ok(())
    }

    /// HTTP/2 with `auto_acknowledge` off: `n` bytes of DATA on `stream_id` were
    /// consumed, so the peer may send that much more (WINDOW_UPDATE). Stream 0
    /// grants connection credit only: for bytes dropped on a stream that must
    /// stay throttled.
    pub fn acknowledge_received_data(
        &mut self,
        stream_id: StreamId,
        n: usize,
    ) -> Result<(), LocalProtocolError> {
        self.h2()?.acknowledge_received_data(stream_id.0, n);
        Ok(())
    }

    /// HTTP/2: how many body bytes may be sent on `stream_id` right now (the
    /// smaller of the stream and connection windows). HTTP/1.1: unbounded.
    pub fn send_window(&self, stream_id: StreamId) -> usize {
        match &self.inner {
            Inner::H2(c) => c.send_window(stream_id.0),
            _ => usize::MAX,
        }
    }

    /// HTTP/2: streams currently open (either direction). HTTP/1.1: 0 or 1.
    pub fn open_streams(&self) -> usize {
        match &self.inner {
            Inner::H2(c) => c.open_streams(),
            Inner::H1(c) => c.in_message() as usize,
            Inner::Detecting(_) => 0,
        }
    }
}

/// Fields (borrowed for `'a`) followed by a `content-length` field
/// (borrowed for the shorter `'b`), when there is one.
#[derive(Clone)]
struct WithLength<'a, 'b, I> {
    fields: I,
    length: Option<(&'b [u8], &'b [u8])>,
    borrowed: std::marker::PhantomData<&'a ()>,
}

type Field<'a> = (&'a [u8], &'a [u8]);

/// Fields after a `date` field, the date borrowed for `'b`.
#[derive(Clone)]
struct WithDate<'a, 'b, I> {
    date: &'b [u8; 29],
    fields: I,
    borrowed: std::marker::PhantomData<&'a ()>,
}

impl<'a: 'b, 'b, I: IntoIterator<Item = Field<'a>>> IntoIterator for WithDate<'a, 'b, I> {
    type Item = Field<'b>;
    type IntoIter = std::iter::Chain<
        std::iter::Once<Field<'b>>,
        std::iter::Map<I::IntoIter, fn(Field<'a>) -> Field<'b>>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        let shorten: fn(Field<'a>) -> Field<'b> = |field| field;
        let date: Field<'b> = (b"date", self.date);
        std::iter::once(date).chain(self.fields.into_iter().map(shorten))
    }
}

impl<'a: 'b, 'b, I: IntoIterator<Item = Field<'a>>> IntoIterator for WithLength<'a, 'b, I> {
    type Item = Field<'b>;
    type IntoIter = std::iter::Chain<
        std::iter::Map<I::IntoIter, fn(Field<'a>) -> Field<'b>>,
        std::option::IntoIter<Field<'b>>,
    >;

    fn into_iter(self) -> Self::IntoIter {
        let shorten: fn(Field<'a>) -> Field<'b> = |field| field;
        self.fields.into_iter().map(shorten).chain(self.length)
    }
}

/// `n` in decimal, written at the end of `digits`.
fn decimal(mut n: u64, digits: &mut [u8; 20]) -> &[u8] {
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &digits[i..];
        }
    }
}
