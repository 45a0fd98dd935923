//! The HTTP/2 connection: three owners — the streams ([`Streams`]), the
//! receive side ([`RecvHalf`]) and the send side ([`SendHalf`]), each with
//! its fields private — and the rules that tie them together: the read loop
//! behind `next_event` ([`inbound`]: one handler per frame type) and the
//! application's events turned into frames ([`outbound`]).
//!
//! Frames are parsed lazily: `receive_data` only buffers, and `next_event`
//! processes one frame at a time (a DATA frame's body piece by piece, as
//! it arrives) until it has an event to hand out. An
//! application that stops calling `next_event` therefore stops the engine
//! (and, with `auto_acknowledge`, stops granting flow-control credit).
//!
//! ## Defences
//!
//! Each is an [`Http2Config`] setting and ends the connection with
//! GOAWAY(ENHANCE_YOUR_CALM) when tripped:
//!
//! - **rapid reset**: peer RST_STREAMs of streams we were still sending on
//!   count up; each stream that completes normally counts one down. Above
//!   `max_remote_resets`, GOAWAY.
//! - **MadeYouReset**: stream errors we send count up the same way, against
//!   `max_local_resets`. Streams refused for exceeding our
//!   SETTINGS_MAX_CONCURRENT_STREAMS count too, once the peer has
//!   acknowledged that setting.
//! - **CONTINUATION flood**: a header block is capped at
//!   `Limits::max_head_size` + 16 KiB of raw bytes and `max_continuation_frames`
//!   frames, checked before decoding; HPACK bombs are capped by the decoder at
//!   `Limits::max_head_size` (the stream is then refused, the connection lives on).
//! - **control floods**: SETTINGS, PING, PRIORITY, empty DATA without
//!   END_STREAM, zero-increment WINDOW_UPDATE, unknown frames and frames we
//!   ignore on closed streams count up; the count restarts at zero whenever
//!   a message head arrives or 16 KiB of DATA has arrived since the last
//!   restart. Above `max_control_frames`, GOAWAY.

mod inbound;
mod outbound;

use std::collections::VecDeque;
use std::time::Instant;

use bytes::BytesMut;

use super::flow::DEFAULT_WINDOW;
use super::recv::{Input, RecvHalf};
use super::send::SendHalf;
use super::stream::ClosedBy;
use super::streams::Streams;
use super::timers::{Due, Timers, KEEP_ALIVE_PING};
use crate::outbound::Outbound;
use crate::{
    Config, ErrorCode, Event, Http2Config, LocalProtocolError, RemoteErrorKind,
    RemoteProtocolError, Role, StreamId, H2_PREFACE,
};

/// The HTTP/2 engine behind [`Connection`](crate::Connection).
#[derive(Debug)]
pub(crate) struct H2Connection {
    role: Role,
    cfg: Http2Config,
    streams: Streams,
    recv: RecvHalf,
    send: SendHalf,
    timers: Timers,
    /// Events decided but not handed out yet.
    events: VecDeque<Event>,
    error: Option<RemoteProtocolError>,
    /// Last stream id of the GOAWAY we sent.
    goaway_sent: Option<u32>,
    /// Last stream id of the GOAWAY we received.
    goaway_received: Option<u32>,
    /// We sent a GOAWAY with an error code: nothing more will happen.
    closing: bool,
    /// With `auto_acknowledge`: bytes of the current DATA frame's body handed
    /// out and not granted back yet. They are granted when the frame's body
    /// is complete, so the WINDOW_UPDATEs sent do not depend on how the
    /// frame was cut into reads.
    unacknowledged: usize,
}

impl H2Connection {
    pub(crate) fn new(role: Role, config: &Config) -> Self {
        let cfg = config.http2.clone();
        let mut conn = H2Connection {
            role,
            streams: Streams::new(role),
            recv: RecvHalf::new(config, role == Role::Server),
            send: SendHalf::new(),
            timers: Timers::new(&config.http2),
            events: VecDeque::new(),
            error: None,
            goaway_sent: None,
            goaway_received: None,
            closing: false,
            unacknowledged: 0,
            cfg,
        };
        if role == Role::Client {
            conn.send.write_raw(H2_PREFACE);
        }
        conn.send
            .write_settings(conn.cfg.announced(role, &config.limits));
        let connection_window = conn.cfg.connection_window.max(DEFAULT_WINDOW);
        if connection_window > DEFAULT_WINDOW {
            conn.send
                .write_window_update(0, connection_window - DEFAULT_WINDOW);
        }
        conn
    }

    // ---- inputs ----

    pub(crate) fn receive_data(&mut self, data: &[u8]) {
        if data.is_empty() || self.error.is_none() {
            if !data.is_empty() {
                self.timers.heard();
            }
            self.recv.receive(data);
        }
    }

    /// [`receive_data`](Self::receive_data) taking the buffer the bytes were
    /// read into: frames (and the DATA handed out) become slices of it.
    pub(crate) fn receive_bytes(&mut self, data: BytesMut) {
        if data.is_empty() || self.error.is_none() {
            if !data.is_empty() {
                self.timers.heard();
            }
            self.recv.receive_bytes(data);
        }
    }

    /// See [`Connection::shrink_receive_buffer`](crate::Connection::shrink_receive_buffer).
    pub(crate) fn shrink_receive_buffer(&mut self) {
        self.recv.shrink();
    }

    /// The time is `now`: anchors the timers started since the last call and
    /// acts on the deadlines that passed (a PING, or a connection error that
    /// `next_event` then returns).
    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        if self.error.is_some() {
            return;
        }
        match self.timers.at(now, self.recv.has_whole_frame()) {
            None => {}
            Some(Due::Ping) => self.send.write_ping(false, KEEP_ALIVE_PING),
            Some(Due::SettingsTimeout) => {
                self.fail(ErrorCode::SETTINGS_TIMEOUT);
            }
            Some(Due::PeerUnresponsive) => {
                self.fail_with(
                    ErrorCode::NO_ERROR,
                    b"keep-alive ping timeout",
                    RemoteErrorKind::PeerUnresponsive,
                );
            }
        }
    }

    /// The next instant `handle_timeout` must be called at, if any.
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        if self.error.is_some() {
            return None;
        }
        self.timers.deadline()
    }

    pub(crate) fn next_event(&mut self) -> Result<Event, RemoteProtocolError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        loop {
            if let Some(event) = self.events.pop_front() {
                return Ok(event);
            }
            match self.read_frame() {
                Ok(true) => {}
                Ok(false) if self.recv.is_eof() => return Ok(Event::ConnectionClosed),
                Ok(false) => return Ok(Event::NeedData),
                Err(code) => return Err(self.fail(code)),
            }
        }
    }

    /// Enters the error state: GOAWAY with `code`, and every later call fails alike.
    fn fail(&mut self, code: ErrorCode) -> RemoteProtocolError {
        self.fail_with(code, b"", RemoteErrorKind::Http2(code))
    }

    /// Enters the error state `kind`, with GOAWAY(`code`, `debug`).
    fn fail_with(
        &mut self,
        code: ErrorCode,
        debug: &[u8],
        kind: RemoteErrorKind,
    ) -> RemoteProtocolError {
        self.send
            .write_goaway(self.streams.last_remote_id(), code, debug);
        self.events.clear();
        self.recv.stop();
        let err = RemoteProtocolError::new(kind);
        self.error = Some(err);
        err
    }

    /// Processes the next input (a whole frame, or a DATA frame's head, body
    /// piece or end) if one is buffered; false when more bytes are needed.
    fn read_frame(&mut self) -> Result<bool, ErrorCode> {
        match self.recv.next_input()? {
            Some(Input::Frame(head, payload)) => self.handle_frame(head, payload)?,
            Some(Input::DataHead(head, pad_length)) => self.recv_data_head(head, pad_length)?,
            Some(Input::DataPart(piece)) => self.recv_data_part(piece),
            Some(Input::DataEnd(id)) => self.recv_data_end(id),
            None => return Ok(false),
        }
        Ok(true)
    }

    // ---- rules shared by both directions ----

    /// A stream error (RFC 9113 §5.4.2): RST_STREAM, a `StreamReset` event when
    /// the application knows the stream, and one unit of the MadeYouReset budget
    /// when `counted`.
    fn stream_error(&mut self, id: u32, code: ErrorCode, counted: bool) -> Result<(), ErrorCode> {
        self.send.write_rst_stream(id, code);
        if self.streams.remove(id, ClosedBy::LocalReset).is_some() {
            self.events.push_back(Event::StreamReset {
                stream_id: StreamId(id),
                error_code: code,
                remote: false,
            });
        } else {
            self.streams.remember_closed(id, ClosedBy::LocalReset);
        }
        if counted {
            self.count_local_reset()?;
        }
        Ok(())
    }

    /// One more stream error the peer provoked.
    fn count_local_reset(&mut self) -> Result<(), ErrorCode> {
        self.streams
            .count_local_reset(self.cfg.max_local_resets)
            .map_err(|_| ErrorCode::ENHANCE_YOUR_CALM)
    }

    /// `n` received bytes on `stream_id` were consumed: grant them back to the
    /// peer, batching WINDOW_UPDATEs (see `flow`).
    fn release(&mut self, stream_id: u32, n: usize) {
        self.release_connection(n);
        let inc = match self.streams.get_mut(stream_id) {
            Some(s) if s.can_recv() => s.recv_window.release(n),
            _ => None,
        };
        if let Some(inc) = inc {
            self.send.write_window_update(stream_id, inc);
        }
    }

    /// `n` received bytes were consumed or dropped: connection level only.
    fn release_connection(&mut self, n: usize) {
        if let Some(inc) = self.recv.release(n) {
            self.send.write_window_update(0, inc);
        }
    }

    // ---- getters and calls from the facade ----

    pub(crate) fn should_close(&self) -> bool {
        self.error.is_some()
            || self.recv.is_eof()
            || self.closing
            || ((self.goaway_sent.is_some() || self.goaway_received.is_some())
                && self.streams.is_empty())
    }

    pub(crate) fn remote_error(&self) -> Option<RemoteProtocolError> {
        self.error
    }

    /// The outgoing bytes, for the caller to take.
    pub(crate) fn outbound(&mut self) -> &mut Outbound {
        self.send.outbound()
    }

    pub(crate) fn outbound_ref(&self) -> &Outbound {
        self.send.outbound_ref()
    }

    pub(crate) fn next_stream_id(&self) -> u32 {
        self.streams.next_local_id()
    }

    pub(crate) fn reset_stream(
        &mut self,
        id: u32,
        code: ErrorCode,
    ) -> Result<(), LocalProtocolError> {
        if self.error.is_some() {
            return Err(LocalProtocolError::ConnectionClosed);
        }
        if self.streams.remove(id, ClosedBy::LocalReset).is_none() {
            return Err(LocalProtocolError::InvalidStream);
        }
        self.send.write_rst_stream(id, code);
        Ok(())
    }

    pub(crate) fn ping(&mut self, data: [u8; 8]) {
        if self.error.is_none() {
            self.send.write_ping(false, data);
        }
    }

    pub(crate) fn goaway(&mut self, code: ErrorCode, debug: &[u8]) {
        if self.error.is_some() {
            return;
        }
        let last = self.streams.last_remote_id();
        self.send.write_goaway(last, code, debug);
        self.goaway_sent = Some(last);
        if code != ErrorCode::NO_ERROR {
            self.closing = true;
        }
    }

    pub(crate) fn acknowledge_received_data(&mut self, id: u32, n: usize) {
        if self.error.is_none() {
            self.release(id, n);
        }
    }

    pub(crate) fn send_window(&self, id: u32) -> usize {
        match self.streams.get(id) {
            Some(s) if s.can_send() => s.send_window.available().min(self.send.window()),
            _ => 0,
        }
    }

    pub(crate) fn open_streams(&self) -> usize {
        self.streams.len()
    }
}
