//! HTTP/1.1 (RFC 9112), both roles.
//!
//! Each direction runs its own state machine; a request/response exchange is
//! one *cycle*:
//!
//! ```text
//!  read side                           send side
//!  Idle ──head──▶ Body ──end──▶ Done    Idle ──head──▶ Body ──end──▶ Done
//!    ▲                           │        ▲                           │
//!    └──────── start_next_cycle (both Done, keep-alive) ──────────────┘
//!  101 / 2xx to CONNECT ──▶ Switched (both sides; the bytes are no longer HTTP)
//! ```
//!
//! While the read side is `Done`, `next_event` says `Paused`: a pipelined
//! request stays buffered until `start_next_cycle`.

mod body;
mod encode;
mod parse;

use bytes::{Bytes, BytesMut};

use crate::framing::ContentLength;
use crate::outbound::Outbound;
use crate::received::ReceiveBuffer;
use crate::uri;
use crate::{
    Config, Data, EndOfMessage, Event, Framing, Headers, Leniency, Limits, LocalProtocolError,
    RemoteErrorKind, RemoteProtocolError, Request, Response, Role, StreamId, Version,
};
use body::{BodyDecoder, BodyEvent, ChunkedDecoder};
use encode::{
    unwrite_fields, validate_fields, write_checked_fields, write_content_length, write_fields,
    write_status_line, BodyEncoder,
};
pub(crate) use parse::is_field_value;
pub(crate) use parse::runs;
#[doc(hidden)]
pub use parse::RequestHeadParser;
use parse::{
    request_line_from_layout, section_fields, status_line_from_layout, token_is, HeadScanner,
    Layout, Scan, StartLine,
};

#[derive(Debug)]
enum RecvState {
    /// Waiting for a head.
    Idle,
    /// Reading a body.
    Body(BodyDecoder),
    /// The message is complete; waiting for the next cycle.
    Done,
    /// The peer closed cleanly between messages.
    Closed,
    /// The connection switched protocols.
    Switched,
}

#[derive(Debug)]
enum SendState {
    Idle,
    Body(BodyEncoder),
    Done,
    Switched,
}

/// One HTTP/1.x connection.
#[derive(Debug)]
pub(crate) struct H1Connection {
    role: Role,
    limits: Limits,
    leniency: Leniency,
    buf: ReceiveBuffer,
    recv: RecvState,
    send: SendState,
    scanner: HeadScanner,
    error: Option<RemoteProtocolError>,
    /// False once either side signalled that the connection ends after this cycle.
    keep_alive: bool,
    /// Per cycle: the request we answer (server) or sent (client).
    cycle: Cycle,
    out: Outbound,
    /// An empty field list handed back by the user, filled by the next head.
    spare_fields: Option<Headers>,
}

/// Field lists with room for more fields than this are not kept for reuse:
/// a waiting connection holds at most this many empty slots.
const MAX_SPARE_FIELDS: usize = 32;

/// What one request/response cycle has established so far.
#[derive(Debug, Default)]
struct Cycle {
    /// The request was HEAD: the response has no body.
    head_request: bool,
    /// The request was CONNECT: a 2xx answer opens a tunnel.
    connect_request: bool,
    /// The `Upgrade` value, when the request asked to switch protocols.
    upgrade: Option<Bytes>,
    /// Version of the peer's message head in this cycle.
    peer_version: Option<Version>,
    /// The client asked an HTTP/1.0 keep-alive.
    http10_keep_alive: bool,
    /// Server: a final response was sent. Client: a final response was received.
    final_response: bool,
}

impl H1Connection {
    pub(crate) fn new(role: Role, config: &Config) -> Self {
        H1Connection {
            role,
            limits: config.limits.clone(),
            leniency: config.leniency.clone(),
            buf: ReceiveBuffer::default(),
            recv: RecvState::Idle,
            send: SendState::Idle,
            scanner: match role {
                Role::Server => HeadScanner::for_requests(config.limits.max_method_len),
                Role::Client => HeadScanner::new(StartLine::Status),
            },
            error: None,
            keep_alive: true,
            cycle: Cycle::default(),
            out: Outbound::default(),
            spare_fields: None,
        }
    }

    // ---- getters ----

    #[inline]
    pub(crate) fn should_close(&self) -> bool {
        !self.keep_alive || self.error.is_some() || matches!(self.recv, RecvState::Closed)
    }

    pub(crate) fn upgrade(&self) -> Option<&[u8]> {
        self.cycle.upgrade.as_deref()
    }

    pub(crate) fn switched_protocol(&self) -> bool {
        matches!(self.recv, RecvState::Switched)
    }

    #[inline]
    pub(crate) fn remote_error(&self) -> Option<RemoteProtocolError> {
        self.error
    }

    /// True when `next_event` can only answer `NeedData`: between messages,
    /// no unread byte received, no end of input, no error.
    #[inline]
    pub(crate) fn waits_for_bytes(&self) -> bool {
        self.error.is_none()
            && matches!(self.recv, RecvState::Idle)
            && self.buf.bytes.is_empty()
            && !self.buf.is_eof()
    }

    pub(crate) fn in_message(&self) -> bool {
        !matches!(
            (&self.recv, &self.send),
            (RecvState::Idle | RecvState::Closed, SendState::Idle)
        )
    }

    #[inline]
    pub(crate) fn outbound(&mut self) -> &mut Outbound {
        &mut self.out
    }

    #[inline]
    pub(crate) fn outbound_ref(&self) -> &Outbound {
        &self.out
    }

    // ---- read side ----

    pub(crate) fn receive_data(&mut self, data: &[u8]) {
        self.buf.push_slice(data);
    }

    /// Takes received bytes without copying them when nothing is buffered
    /// (heads and bodies are then slices of `data`); otherwise appends them,
    /// in place when `data` continues the buffered bytes in memory.
    pub(crate) fn receive_bytes(&mut self, data: BytesMut) {
        self.buf.push_bytes(data);
    }

    /// See [`Connection::shrink_receive_buffer`](crate::Connection::shrink_receive_buffer).
    pub(crate) fn shrink_receive_buffer(&mut self) {
        self.buf.shrink();
    }

    /// The answers that need no parsing, inlined into the caller's loop
    /// (two of the three calls a bodiless request takes: its end, and the
    /// `NeedData` once it is answered); the rest in [`read_next`](Self::read_next).
    #[inline]
    pub(crate) fn next_event(&mut self) -> Result<Event, RemoteProtocolError> {
        if self.error.is_none() {
            match &self.recv {
                RecvState::Idle if self.buf.bytes.is_empty() && !self.buf.is_eof() => {
                    return Ok(Event::NeedData)
                }
                RecvState::Body(BodyDecoder::Length(0)) if self.role == Role::Server => {
                    self.recv = RecvState::Done;
                    return Ok(Event::EndOfMessage(EndOfMessage::default()));
                }
                RecvState::Done => return Ok(Event::Paused),
                _ => {}
            }
        }
        self.read_next()
    }

    #[inline(never)]
    fn read_next(&mut self) -> Result<Event, RemoteProtocolError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        // The event is returned as read (no conversion), so it is built in
        // the caller's slot instead of being copied out of a temporary.
        let event = self.read_event();
        if let Err(e) = event {
            self.error = Some(e);
            self.keep_alive = false;
        }
        event
    }

    fn read_event(&mut self) -> Result<Event, RemoteProtocolError> {
        match &mut self.recv {
            RecvState::Idle => self.read_head(),
            RecvState::Body(decoder) => {
                let eof = self.buf.is_eof();
                match decoder.decode(&mut self.buf.bytes, eof, &self.limits, &self.leniency)? {
                    BodyEvent::NeedData => Ok(Event::NeedData),
                    BodyEvent::Data(data) => Ok(Event::Data(Data {
                        stream_id: StreamId::ZERO,
                        data,
                    })),
                    BodyEvent::End(trailers) => {
                        self.recv = RecvState::Done;
                        if self.role == Role::Client {
                            self.switch_if_tunnel();
                        }
                        Ok(Event::EndOfMessage(EndOfMessage {
                            stream_id: StreamId::ZERO,
                            trailers,
                        }))
                    }
                }
            }
            RecvState::Done | RecvState::Switched => Ok(Event::Paused),
            RecvState::Closed => Ok(Event::ConnectionClosed),
        }
    }

    fn read_head(&mut self) -> Result<Event, RemoteProtocolError> {
        if self.buf.bytes.is_empty() {
            // Nothing to scan: the usual call after a cycle ends (or, for a
            // client, with no request in flight).
            return if self.buf.is_eof() {
                self.closed()
            } else {
                Ok(Event::NeedData)
            };
        }
        if self.skip_blank_lines() {
            self.scanner.restart(start_line(self.role));
        }
        let (first_line_limit, first_line_error) = match self.role {
            Role::Server => (
                self.limits.max_request_line,
                RemoteErrorKind::RequestLineTooLong,
            ),
            Role::Client => (self.limits.max_head_size, RemoteErrorKind::HeadTooLarge),
        };
        let scan = self.scanner.scan(
            &self.buf.bytes,
            first_line_limit,
            self.limits.max_head_size,
            first_line_error,
            RemoteErrorKind::HeadTooLarge,
            &self.leniency,
        )?;
        let Scan::Complete(end) = scan else {
            return match (self.buf.bytes.is_empty(), self.buf.is_eof()) {
                (_, false) => Ok(Event::NeedData),
                (true, true) => self.closed(),
                (false, true) => Err(self
                    .scanner
                    .error_at_eof(&self.buf.bytes)
                    .unwrap_or(RemoteErrorKind::IncompleteMessage)
                    .into()),
            };
        };
        let layout = std::mem::take(&mut self.scanner.layout);
        let head = self.buf.take_front(end);
        let parsed = match self.role {
            Role::Server => self.parse_request(&head, &layout),
            Role::Client if matches!(self.send, SendState::Idle) => {
                self.unsolicited_response(&head, &layout)
            }
            Role::Client => self.parse_response(&head, &layout),
        };
        self.scanner.layout = layout;
        self.scanner.restart(start_line(self.role));
        parsed
    }

    /// The field lines of a scanned head, after its start line, in the
    /// spare list when there is one, and what they say.
    fn head_fields(
        &mut self,
        head: &Bytes,
        layout: &Layout,
    ) -> Result<(Headers, HeadFields), RemoteErrorKind> {
        let list = self.spare_fields.take().unwrap_or_default();
        let mut seen = HeadFields::default();
        let headers = section_fields(
            head,
            layout,
            true,
            &self.leniency,
            self.limits.max_headers,
            list,
            Some(&mut seen),
        )?;
        Ok((headers, seen))
    }

    /// See [`Connection::recycle_headers`](crate::Connection::recycle_headers).
    pub(crate) fn recycle_headers(&mut self, mut headers: Headers) {
        if self.spare_fields.is_none() && headers.capacity() <= MAX_SPARE_FIELDS {
            if !headers.is_empty() {
                headers.clear();
            }
            self.spare_fields = Some(headers);
        }
    }

    fn closed(&mut self) -> Result<Event, RemoteProtocolError> {
        self.recv = RecvState::Closed;
        Ok(Event::ConnectionClosed)
    }

    /// RFC 9112 §2.2: ignore empty lines received before a start line.
    /// True when some were skipped.
    fn skip_blank_lines(&mut self) -> bool {
        let mut skipped = false;
        loop {
            let n = match &self.buf.bytes[..] {
                [b'\r', b'\n', ..] => 2,
                [b'\n', ..] if self.leniency.bare_lf => 1,
                _ => return skipped,
            };
            let _ = self.buf.bytes.split_to(n);
            skipped = true;
        }
    }

    fn parse_request(
        &mut self,
        head: &Bytes,
        layout: &Layout,
    ) -> Result<Event, RemoteProtocolError> {
        let line = request_line_from_layout(head, layout, &self.limits)?;
        let (headers, fields) = self.head_fields(head, layout)?;
        let version = line.version;
        validate_target(
            &line.method,
            &line.target,
            self.leniency.unescaped_target_chars,
        )?;
        fields.check_host(version, &self.leniency)?;
        let framing = fields.framing(version, true, &self.leniency)?;
        let decoder = match framing {
            Declared::Chunked | Declared::ChunkedForceClose => {
                BodyDecoder::Chunked(ChunkedDecoder::new())
            }
            // A CONNECT request has no content (RFC 9110 §9.3.6): what follows
            // its head is the tunnel, whatever the framing fields say.
            _ if line.method[..] == *b"CONNECT" => BodyDecoder::Length(0),
            Declared::Length(n) => BodyDecoder::Length(n),
            Declared::None => BodyDecoder::Length(0),
            Declared::UntilClose => unreachable!("requests are never close-delimited"),
        };
        if let (BodyDecoder::Length(n), Some(max)) = (&decoder, self.limits.max_body_size) {
            if *n > max {
                return Err(RemoteErrorKind::BodyTooLarge.into());
            }
        }
        self.note_peer_head(&fields, version, framing);
        let is_method = |m: &[u8]| line.method[..] == *m;
        self.cycle.head_request = is_method(b"HEAD");
        self.cycle.connect_request = is_method(b"CONNECT");
        if fields.connection_upgrade {
            self.cycle.upgrade = fields.upgrade_value(&headers);
        }
        let expect_continue = version == Version::Http11 && fields.expect_continue;
        let framing = decoder.framing();
        self.recv = RecvState::Body(decoder);
        Ok(Event::Request(Request {
            stream_id: StreamId::ZERO,
            method: line.method,
            target: line.target,
            http_version: version,
            headers,
            scheme: None,
            authority: None,
            protocol: None,
            expect_continue,
            framing,
        }))
    }

    /// Client, no request in flight: a response arrived anyway.
    ///
    /// A server that gives up on an idle connection may answer it with a final
    /// error status (408 when the client sent nothing in time, RFC 9110
    /// §15.5.9; 503 when it sheds load) and then closes it (RFC 9112 §9.6).
    /// Such a response answers no request of ours: the connection is read as
    /// closed ([`Event::ConnectionClosed`]), as real clients do ("closed,
    /// retry on a new connection"); what follows it is discarded. Any other
    /// unsolicited response is [`RemoteErrorKind::UnexpectedData`].
    fn unsolicited_response(
        &mut self,
        head: &Bytes,
        layout: &Layout,
    ) -> Result<Event, RemoteProtocolError> {
        let line = status_line_from_layout(head)?;
        self.head_fields(head, layout)?;
        if !(400..600).contains(&line.status) {
            return Err(RemoteErrorKind::UnexpectedData.into());
        }
        self.keep_alive = false;
        self.buf.bytes.clear();
        self.closed()
    }

    fn parse_response(
        &mut self,
        head: &Bytes,
        layout: &Layout,
    ) -> Result<Event, RemoteProtocolError> {
        let line = status_line_from_layout(head)?;
        let (headers, fields) = self.head_fields(head, layout)?;
        let response = |headers, framing| Response {
            stream_id: StreamId::ZERO,
            status_code: line.status,
            reason: line.reason.clone(),
            http_version: line.version,
            headers,
            framing,
        };
        if line.status < 200 {
            if line.status == 101 {
                if self.cycle.upgrade.is_none() {
                    return Err(RemoteErrorKind::InvalidStatus.into());
                }
                self.recv = RecvState::Switched;
                self.send = SendState::Switched;
            }
            return Ok(Event::InformationalResponse(response(
                headers,
                Framing::Empty,
            )));
        }
        let framing = fields.framing(line.version, false, &self.leniency)?;
        let no_body = self.cycle.head_request
            || line.status == 204
            || line.status == 304
            || (self.cycle.connect_request && (200..300).contains(&line.status));
        let decoder = match framing {
            _ if no_body => BodyDecoder::Length(0),
            Declared::Chunked | Declared::ChunkedForceClose => {
                BodyDecoder::Chunked(ChunkedDecoder::new())
            }
            Declared::Length(n) => BodyDecoder::Length(n),
            Declared::None | Declared::UntilClose => BodyDecoder::UntilClose,
        };
        if matches!(decoder, BodyDecoder::UntilClose) {
            self.keep_alive = false;
        }
        self.note_peer_head(&fields, line.version, framing);
        self.cycle.final_response = true;
        self.cycle.peer_version = Some(line.version);
        let framing = decoder.framing();
        self.recv = RecvState::Body(decoder);
        if !(200..300).contains(&line.status) {
            self.cycle.connect_request = false;
        }
        Ok(Event::Response(response(headers, framing)))
    }

    /// Records what a received head says about keep-alive.
    fn note_peer_head(&mut self, fields: &HeadFields, version: Version, framing: Declared) {
        self.cycle.peer_version = Some(version);
        let (close, keep) = (fields.connection_close, fields.connection_keep_alive);
        self.cycle.http10_keep_alive = version == Version::Http10 && keep && !close;
        if close || (version == Version::Http10 && !keep) {
            self.keep_alive = false;
        }
        if framing == Declared::ChunkedForceClose {
            self.keep_alive = false;
        }
    }

    /// Client: after the body of a 2xx answer to CONNECT, the tunnel is open.
    fn switch_if_tunnel(&mut self) {
        if self.cycle.connect_request && self.cycle.final_response {
            self.recv = RecvState::Switched;
            self.send = SendState::Switched;
        }
    }

    // ---- send side ----

    pub(crate) fn send(&mut self, event: Event) -> Result<(), LocalProtocolError> {
        if self.error.is_some() && !self.may_answer_error(&event) {
            return Err(LocalProtocolError::ConnectionClosed);
        }
        // Matched in place: a tuple with the role would move the (large) event.
        let (client, server) = (self.role == Role::Client, self.role == Role::Server);
        match event {
            Event::Request(req) if client => self.send_request(req),
            Event::Response(resp) if server => self.send_response(resp),
            Event::InformationalResponse(resp) if server => self.send_informational(resp),
            Event::Data(d) => match &mut self.send {
                SendState::Body(enc) => enc.data(d.data, &mut self.out),
                _ => Err(LocalProtocolError::UnexpectedEvent),
            },
            Event::EndOfMessage(end) => match &self.send {
                SendState::Body(enc) => {
                    enc.end(&end.trailers, &mut self.out)?;
                    self.send = SendState::Done;
                    Ok(())
                }
                _ => Err(LocalProtocolError::UnexpectedEvent),
            },
            Event::Request(_) | Event::Response(_) | Event::InformationalResponse(_) => {
                Err(LocalProtocolError::WrongRole)
            }
            _ => Err(LocalProtocolError::UnexpectedEvent),
        }
    }

    /// See [`Connection::send_last_data`](crate::Connection::send_last_data).
    pub(crate) fn send_last_data(&mut self, data: Bytes) -> Result<(), LocalProtocolError> {
        let in_body = matches!(self.send, SendState::Body(_));
        if self.error.is_some() && !(in_body && self.answers_errors()) {
            return Err(LocalProtocolError::ConnectionClosed);
        }
        let SendState::Body(enc) = &mut self.send else {
            return Err(LocalProtocolError::UnexpectedEvent);
        };
        enc.data(data, &mut self.out)?;
        enc.end_without_trailers(&mut self.out)?;
        self.send = SendState::Done;
        Ok(())
    }

    fn send_request(&mut self, req: Request) -> Result<(), LocalProtocolError> {
        if matches!(self.recv, RecvState::Closed) {
            return Err(LocalProtocolError::ConnectionClosed);
        }
        if !matches!(self.send, SendState::Idle) || !matches!(self.recv, RecvState::Idle) {
            return Err(LocalProtocolError::UnexpectedEvent);
        }
        validate_fields(&req.headers)?;
        // The form of the target must suit the method, as a server checks it.
        let target_ok = !req.target.is_empty()
            && req.target.iter().all(|&b| b > 0x20 && b < 0x7f)
            && validate_target(&req.method, &req.target, false).is_ok();
        let method_ok = !req.method.is_empty()
            && req.method.len() <= self.limits.max_method_len
            && req.method.iter().all(|&b| parse::is_tchar(b));
        if !target_ok || !method_ok || req.http_version == Version::Http2 {
            return Err(LocalProtocolError::InvalidHeader);
        }
        // The same Host rule a server applies (RFC 9112 §3.2).
        let fields = HeadFields::of(&req.headers);
        if fields
            .check_host(req.http_version, &Leniency::default())
            .is_err()
        {
            return Err(LocalProtocolError::InvalidHeader);
        }
        let encoder = match fields.framing(req.http_version, true, &Leniency::default()) {
            Ok(Declared::Chunked) => BodyEncoder::Chunked,
            Ok(Declared::Length(n)) => BodyEncoder::Length(n),
            Ok(Declared::None) => BodyEncoder::Length(0),
            _ => return Err(LocalProtocolError::InvalidHeader),
        };
        let out = &mut self.out;
        out.put_slice(&req.method);
        out.put_slice(b" ");
        out.put_slice(&req.target);
        out.put_slice(if req.http_version == Version::Http10 {
            b" HTTP/1.0\r\n"
        } else {
            b" HTTP/1.1\r\n"
        });
        write_fields(req.headers.pairs(), out);
        out.put_slice(b"\r\n");
        self.cycle = Cycle {
            head_request: &req.method[..] == b"HEAD",
            connect_request: &req.method[..] == b"CONNECT",
            upgrade: if req.headers.has_token(b"connection", b"upgrade") {
                req.headers.get(b"upgrade").cloned()
            } else {
                None
            },
            ..Cycle::default()
        };
        if req.headers.has_token(b"connection", b"close") || req.http_version == Version::Http10 {
            self.keep_alive = false;
        }
        self.send = SendState::Body(encoder);
        Ok(())
    }

    /// Server: a request head was received and no final response sent yet.
    fn can_respond(&self) -> bool {
        matches!(self.send, SendState::Idle)
            && (self.error.is_some()
                || !matches!(
                    self.recv,
                    RecvState::Idle | RecvState::Closed | RecvState::Switched
                ))
    }

    /// After a peer's protocol error a server may still send one final
    /// response (the error's status), then the connection closes.
    ///
    /// Bytes that are not an HTTP/1 request line at all ([`RemoteErrorKind::NotHttp`]:
    /// a TLS ClientHello, an HTTP/2 preface, HTTP/0.9, another protocol) are
    /// not answered: an HTTP/1.1 answer would only be noise to that peer.
    fn may_answer_error(&self, event: &Event) -> bool {
        match event {
            Event::Response(_) => self.may_answer_error_with_head(),
            Event::Data(_) | Event::EndOfMessage(_) => {
                self.answers_errors() && matches!(self.send, SendState::Body(_))
            }
            _ => false,
        }
    }

    /// See [`may_answer_error`](Self::may_answer_error): a final response head.
    fn may_answer_error_with_head(&self) -> bool {
        self.answers_errors() && matches!(self.send, SendState::Idle)
    }

    fn answers_errors(&self) -> bool {
        self.role == Role::Server && self.error.map(|e| e.kind()) != Some(RemoteErrorKind::NotHttp)
    }

    fn send_informational(&mut self, resp: Response) -> Result<(), LocalProtocolError> {
        if !(100..200).contains(&resp.status_code) {
            return Err(LocalProtocolError::InvalidStatus);
        }
        if !self.can_respond() {
            return Err(LocalProtocolError::UnexpectedEvent);
        }
        if self.cycle.peer_version != Some(Version::Http11) {
            return Err(LocalProtocolError::InformationalNotAllowed);
        }
        let switching = resp.status_code == 101;
        if switching && (self.cycle.upgrade.is_none() || !matches!(self.recv, RecvState::Done)) {
            return Err(LocalProtocolError::InformationalNotAllowed);
        }
        validate_fields(&resp.headers)?;
        if !is_field_value(&resp.reason) {
            return Err(LocalProtocolError::InvalidStatus);
        }
        write_status_line(resp.status_code, &resp.reason, None, &mut self.out);
        write_fields(resp.headers.pairs(), &mut self.out);
        self.out.put_slice(b"\r\n");
        if switching {
            self.recv = RecvState::Switched;
            self.send = SendState::Switched;
        }
        Ok(())
    }

    fn send_response(&mut self, resp: Response) -> Result<(), LocalProtocolError> {
        let head = FinalHead {
            status: resp.status_code,
            reason: &resp.reason,
            date: None,
            length: None,
        };
        self.write_response_head(head, resp.headers.pairs(), Vouched::default())
    }

    /// Server: sends a final response head whose fields are borrowed.
    pub(crate) fn send_response_head<'a>(
        &mut self,
        head: FinalHead<'_>,
        fields: impl Iterator<Item = (&'a [u8], &'a [u8])>,
        vouched: Vouched,
    ) -> Result<(), LocalProtocolError> {
        if self.role != Role::Server {
            return Err(LocalProtocolError::WrongRole);
        }
        if self.error.is_some() && !self.may_answer_error_with_head() {
            return Err(LocalProtocolError::ConnectionClosed);
        }
        self.write_response_head(head, fields, vouched)
    }

    /// Checks, frames and writes a final response head in one pass over its
    /// fields: the status line and the date, the fields, then
    /// `content-length` when the head gives one; on a refusal nothing
    /// stays queued.
    fn write_response_head<'a>(
        &mut self,
        head: FinalHead<'_>,
        fields: impl Iterator<Item = (&'a [u8], &'a [u8])>,
        vouched: Vouched,
    ) -> Result<(), LocalProtocolError> {
        let FinalHead {
            status,
            reason,
            date,
            length,
        } = head;
        if !(200..=999).contains(&status) {
            return Err(LocalProtocolError::InvalidStatus);
        }
        // Before any request head is complete a server may still answer with an
        // error status (408 when the head is too slow, 503 when overloaded);
        // the connection closes after it, and a client with no request in
        // flight reads it as the connection closing (`unsolicited_response`).
        let unsolicited = matches!((&self.recv, &self.send), (RecvState::Idle, SendState::Idle))
            && self.error.is_none();
        if unsolicited && !(400..600).contains(&status) || !unsolicited && !self.can_respond() {
            return Err(LocalProtocolError::UnexpectedEvent);
        }
        let tunnel =
            self.cycle.connect_request && (200..300).contains(&status) && self.error.is_none();
        let peer_11 = self.cycle.peer_version == Some(Version::Http11);
        let no_body = self.cycle.head_request || status == 204 || status == 304 || tunnel;
        let start = self.out.mark();
        write_status_line(status, reason, date, &mut self.out);
        let fields_start = self.out.mark();
        let check_fields = !vouched.fields || cfg!(debug_assertions);
        let check_reason = !vouched.reason || cfg!(debug_assertions);
        let written = match date {
            Some(date) if check_fields && !is_field_value(date) => {
                Err(LocalProtocolError::InvalidHeader)
            }
            _ => write_checked_fields(fields, &mut self.out, check_fields),
        };
        let written = match (written, length) {
            (Ok(mut seen), Some(n)) => {
                write_content_length(&mut self.out, n);
                match seen.content_length.declare(n) {
                    Ok(()) => Ok(seen),
                    Err(_) => Err(LocalProtocolError::InvalidHeader),
                }
            }
            (written, _) => written,
        };
        let framing = written.and_then(|seen| {
            let framing = Declared::from_fields(
                &seen.transfer_codings,
                &seen.content_length,
                Version::Http11,
                false,
                &Leniency::default(),
            )
            .map_err(|_| LocalProtocolError::InvalidHeader)?;
            match !check_reason || is_field_value(reason) {
                true => Ok((framing, seen)),
                false => Err(LocalProtocolError::InvalidStatus),
            }
        });
        let (framing, seen) = match framing {
            Ok(f) => f,
            Err(e) => {
                self.out.truncate(start);
                return Err(e);
            }
        };
        if unsolicited {
            self.keep_alive = false;
        }
        let mut add_chunked = false;
        let encoder = match framing {
            _ if no_body => BodyEncoder::None,
            Declared::Length(n) => BodyEncoder::Length(n),
            Declared::Chunked if peer_11 => BodyEncoder::Chunked,
            Declared::None if peer_11 => {
                add_chunked = true;
                BodyEncoder::Chunked
            }
            _ => BodyEncoder::UntilClose,
        };
        if encoder == BodyEncoder::UntilClose || seen.close {
            self.keep_alive = false;
        }
        let out = &mut self.out;
        if encoder == BodyEncoder::UntilClose && framing == Declared::Chunked {
            // An HTTP/1.0 peer cannot read chunked: send the body raw and close.
            unwrite_fields(out, fields_start, b"transfer-encoding");
        }
        if add_chunked {
            out.put_slice(b"Transfer-Encoding: chunked\r\n");
        }
        if !seen.connection {
            if !self.keep_alive {
                out.put_slice(b"Connection: close\r\n");
            } else if self.cycle.http10_keep_alive {
                out.put_slice(b"Connection: keep-alive\r\n");
            }
        }
        out.put_slice(b"\r\n");
        self.cycle.final_response = true;
        if tunnel {
            self.recv = RecvState::Switched;
            self.send = SendState::Switched;
        } else {
            self.cycle.upgrade = None;
            self.send = SendState::Body(encoder);
        }
        Ok(())
    }

    // ---- cycles ----

    pub(crate) fn start_next_cycle(&mut self) -> Result<(), LocalProtocolError> {
        if !matches!((&self.recv, &self.send), (RecvState::Done, SendState::Done)) {
            return Err(LocalProtocolError::UnexpectedEvent);
        }
        if self.should_close() {
            return Err(LocalProtocolError::ConnectionClosed);
        }
        self.recv = RecvState::Idle;
        self.send = SendState::Idle;
        self.cycle = Cycle::default();
        Ok(())
    }

    pub(crate) fn take_trailing_data(&mut self) -> Bytes {
        if self.switched_protocol() {
            self.buf.bytes.split().freeze()
        } else {
            Bytes::new()
        }
    }
}

/// The parts of a final response head other than its fields.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FinalHead<'r> {
    pub(crate) status: u16,
    pub(crate) reason: &'r [u8],
    /// The `Date` value, sent as the first field.
    pub(crate) date: Option<&'r [u8; 29]>,
    /// `content-length: length` is sent after the fields.
    pub(crate) length: Option<u64>,
}

/// What the caller of a head write has already checked, so the connection
/// need not check it again (debug builds check anyway).
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Vouched {
    /// The reason phrase holds only field-value bytes.
    pub(crate) reason: bool,
    /// Every field name is a token and every value holds only field-value bytes.
    pub(crate) fields: bool,
}

/// The kind of first line this role reads.
fn start_line(role: Role) -> StartLine {
    match role {
        Role::Server => StartLine::Request,
        Role::Client => StartLine::Status,
    }
}

/// How a message head's fields say its body is delimited (RFC 9112 §6.3),
/// before the rules of the exchange (HEAD, 204, 304, CONNECT) apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Declared {
    /// No Content-Length nor Transfer-Encoding.
    None,
    Length(u64),
    Chunked,
    /// Chunked, but Content-Length was present too (allowed only by leniency).
    ChunkedForceClose,
    /// A response whose Transfer-Encoding does not end in chunked.
    UntilClose,
}

impl Declared {
    /// The framing the Transfer-Encoding and Content-Length fields of a head say.
    fn from_fields(
        te: &TransferCodings,
        cl: &ContentLength,
        version: Version,
        is_request: bool,
        leniency: &Leniency,
    ) -> Result<Declared, RemoteErrorKind> {
        let te = te.framing(is_request)?;
        let cl = cl.value()?;
        if te.is_some() && version == Version::Http10 {
            return Err(RemoteErrorKind::TransferEncodingInHttp10);
        }
        match (te, cl) {
            (Some(_), Some(_)) if !leniency.transfer_encoding_with_content_length => {
                Err(RemoteErrorKind::ContentLengthWithTransferEncoding)
            }
            (Some(Declared::Chunked), Some(_)) => Ok(Declared::ChunkedForceClose),
            (Some(f), _) => Ok(f),
            (None, Some(n)) => Ok(Declared::Length(n)),
            (None, None) => Ok(Declared::None),
        }
    }
}

/// The codings of every Transfer-Encoding field of a head, read in order.
#[derive(Debug, Default)]
struct TransferCodings {
    any: bool,
    invalid: bool,
    codings: usize,
    chunked_last: bool,
    chunked_before: bool,
}

impl TransferCodings {
    /// Reads one Transfer-Encoding value.
    fn add(&mut self, value: &[u8]) {
        self.any = true;
        if self.invalid {
            return;
        }
        // RFC 9110 §5.6.1: empty list elements are parsed and ignored.
        for coding in crate::split_list(value) {
            let name_end = coding
                .iter()
                .position(|&b| b == b';')
                .unwrap_or(coding.len());
            let name = crate::trim_ows(&coding[..name_end]);
            if !parse::is_token(name) {
                self.invalid = true;
                return;
            }
            if self.chunked_last {
                self.chunked_before = true;
            }
            self.chunked_last = name.eq_ignore_ascii_case(b"chunked");
            self.codings += 1;
        }
    }

    /// `Some(Chunked)` when chunked is the only and final coding; `Some(UntilClose)`
    /// for a response whose final coding is not chunked; errors otherwise.
    fn framing(&self, is_request: bool) -> Result<Option<Declared>, RemoteErrorKind> {
        if !self.any {
            return Ok(None);
        }
        if self.invalid {
            return Err(RemoteErrorKind::InvalidTransferEncoding);
        }
        if self.chunked_before && (self.chunked_last || is_request) {
            // chunked applied twice, or not last in a request (RFC 9112 §6.3 rule 4)
            return Err(RemoteErrorKind::InvalidTransferEncoding);
        }
        match (self.chunked_last, is_request) {
            (true, _) if self.codings == 1 => Ok(Some(Declared::Chunked)),
            (true, _) => Err(RemoteErrorKind::UnsupportedTransferEncoding),
            // RFC 9112 §6.3 rule 4: a request whose final coding is not chunked.
            (false, true) => Err(RemoteErrorKind::InvalidTransferEncoding),
            (false, false) => Ok(Some(Declared::UntilClose)),
        }
    }
}

/// Request-target forms and their syntax (RFC 9112 §3.2): authority-form only
/// for CONNECT, asterisk-form only for OPTIONS, otherwise origin-form or
/// absolute-form (`crate::uri` checks the characters).
fn validate_target(method: &[u8], target: &[u8], lenient: bool) -> Result<(), RemoteErrorKind> {
    let ok = if method == b"CONNECT" {
        uri::is_authority_form(target)
    } else if target == b"*" {
        method == b"OPTIONS"
    } else {
        uri::is_origin_form(target, lenient) || uri::is_absolute_form(target, lenient)
    };
    ok.then_some(()).ok_or(RemoteErrorKind::InvalidTarget)
}

/// What a received (or about to be sent) head's fields say about framing,
/// Host, keep-alive, upgrade and 100-continue, gathered in one pass.
#[derive(Default)]
pub(crate) struct HeadFields {
    te: TransferCodings,
    pub(crate) cl: ContentLength,
    hosts: usize,
    /// The first Host value is `uri-host [ ":" port ]`.
    host_ok: bool,
    connection_close: bool,
    connection_keep_alive: bool,
    connection_upgrade: bool,
    /// The index of the first Upgrade field.
    upgrade: Option<usize>,
    /// An Expect field lists `100-continue` (RFC 9110 §10.1.1).
    expect_continue: bool,
}

impl HeadFields {
    /// Gathers what `headers`, whose names are tokens, say.
    fn of(headers: &Headers) -> Self {
        let mut f = HeadFields::default();
        for (index, (name, value)) in headers.iter().enumerate() {
            f.note(index, name, value, true);
        }
        f
    }

    /// Notes field number `index` of its head, a token `name` and its
    /// trimmed `value`; a Content-Length only with `length` (else the
    /// caller has read it already).
    #[inline]
    pub(crate) fn note(&mut self, index: usize, name: &[u8], value: &[u8], length: bool) {
        let is = |n: &[u8]| token_is(name, n);
        match name.len() {
            4 if is(b"host") => {
                if self.hosts == 0 {
                    self.host_ok = uri::is_host(value);
                }
                self.hosts += 1;
            }
            6 if is(b"expect") => {
                self.expect_continue |=
                    crate::split_list(value).any(|e| e.eq_ignore_ascii_case(b"100-continue"));
            }
            7 if is(b"upgrade") => {
                self.upgrade.get_or_insert(index);
            }
            10 if is(b"connection") => {
                for token in crate::split_list(value) {
                    let is = |t: &[u8]| token.eq_ignore_ascii_case(t);
                    self.connection_close |= is(b"close");
                    self.connection_keep_alive |= is(b"keep-alive");
                    self.connection_upgrade |= is(b"upgrade");
                }
            }
            14 if length && is(b"content-length") => {
                // The first error sticks; `framing` reports it.
                let _ = self.cl.add(value);
            }
            17 if is(b"transfer-encoding") => self.te.add(value),
            _ => {}
        }
    }

    /// The first Upgrade value of `headers`, the list these fields were noted from.
    fn upgrade_value(&self, headers: &Headers) -> Option<Bytes> {
        let (_, value) = headers.iter().nth(self.upgrade?)?;
        Some(value.clone())
    }

    fn framing(
        &self,
        version: Version,
        is_request: bool,
        leniency: &Leniency,
    ) -> Result<Declared, RemoteErrorKind> {
        Declared::from_fields(&self.te, &self.cl, version, is_request, leniency)
    }

    /// Exactly one Host on HTTP/1.1 requests, at most one on HTTP/1.0, each
    /// `uri-host [ ":" port ]` (RFC 9112 §3.2, RFC 3986 §3.2.2).
    fn check_host(&self, version: Version, leniency: &Leniency) -> Result<(), RemoteErrorKind> {
        match self.hosts {
            2.. => Err(RemoteErrorKind::InvalidHost),
            0 if version == Version::Http11 && !leniency.missing_host => {
                Err(RemoteErrorKind::MissingHost)
            }
            1 if !self.host_ok => Err(RemoteErrorKind::InvalidHost),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod rfc_tests;
#[cfg(test)]
mod tests;
