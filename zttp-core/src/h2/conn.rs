//! The HTTP/2 connection: state shared by the receive and send halves, the
//! read loop behind `next_event`, and the calls the facade forwards.
//!
//! Frames are parsed lazily: `receive_data` only buffers, and `next_event`
//! processes one frame at a time until it has an event to hand out. An
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

use std::collections::VecDeque;

use bytes::{Bytes, BytesMut};

use super::flow::{RecvWindow, SendWindow};
use super::frame::{
    GoAway, Head, Kind, Ping, RstStream, SettingsFrame, StreamId, WindowUpdate,
    DEFAULT_MAX_FRAME_SIZE, HEAD_LEN,
};
use super::send::TailFrame;
use super::stream::{ClosedBy, StreamTable};
use crate::hpack::{Decoder, Encoder};
use crate::outbound::Outbound;
use crate::{
    Config, ErrorCode, Event, Http2Config, LocalProtocolError, RemoteErrorKind,
    RemoteProtocolError, Role, H2_PREFACE,
};

/// The initial window of every stream and of the connection (RFC 9113 §6.9.2).
pub(crate) const DEFAULT_WINDOW: u32 = 65_535;
/// Closed streams remembered to tell "closed" from "never opened".
const CLOSED_MEMORY: usize = 256;
/// Extra raw header-block bytes allowed above the header-list limit.
pub(crate) const HEADER_BLOCK_SLACK: usize = 16 * 1024;
/// DATA bytes that refill the control-frame budget.
pub(crate) const CONTROL_REFILL_BYTES: u64 = 16 * 1024;

/// A connection error: the code to put in GOAWAY.
pub(crate) type ConnResult<T = ()> = Result<T, ErrorCode>;

/// A header block still waiting for CONTINUATION frames.
#[derive(Debug)]
pub(crate) struct PendingBlock {
    pub(crate) stream_id: u32,
    pub(crate) end_stream: bool,
    pub(crate) self_dependent: bool,
    /// Set for PUSH_PROMISE: the promised stream.
    pub(crate) promised: Option<u32>,
    pub(crate) block: BytesMut,
    pub(crate) continuations: u32,
}

/// The peer's settings as they currently apply.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PeerSettings {
    pub(crate) initial_window: u32,
    pub(crate) max_frame_size: u32,
    pub(crate) max_concurrent_streams: Option<u32>,
}

/// The HTTP/2 engine behind [`Connection`](crate::Connection).
#[derive(Debug)]
pub(crate) struct H2Connection {
    pub(crate) role: Role,
    pub(crate) cfg: Http2Config,
    pub(crate) out: Outbound,
    /// The frame END_STREAM may still be set on in place (see `send`).
    pub(crate) tail_frame: Option<TailFrame>,
    recv_buf: BytesMut,
    /// Server: the client preface has not been read yet.
    preface_pending: bool,
    /// The peer's first frame (which must be SETTINGS) has not been read yet.
    pub(crate) awaiting_settings: bool,
    eof: bool,
    error: Option<RemoteProtocolError>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) streams: StreamTable,
    recently_closed: VecDeque<(u32, ClosedBy)>,
    /// The id our next stream gets.
    pub(crate) next_local_id: u32,
    /// The highest stream id the peer opened.
    pub(crate) last_remote_id: u32,
    /// Our receive limits, from the SETTINGS we announced.
    pub(crate) local_initial_window: u32,
    pub(crate) local_max_frame_size: u32,
    pub(crate) local_max_streams: u32,
    /// Largest decoded header list we accept (`Limits::max_head_size`).
    pub(crate) max_header_list: usize,
    pub(crate) local_settings_acked: bool,
    pub(crate) peer: PeerSettings,
    pub(crate) conn_send: SendWindow,
    pub(crate) conn_recv: RecvWindow,
    pub(crate) decoder: Decoder,
    pub(crate) encoder: Encoder,
    pub(crate) pending_block: Option<PendingBlock>,
    /// Last stream id of the GOAWAY we sent.
    pub(crate) goaway_sent: Option<u32>,
    /// Last stream id of the GOAWAY we received.
    pub(crate) goaway_received: Option<u32>,
    /// We sent a GOAWAY with an error code: nothing more will happen.
    closing: bool,
    pub(crate) remote_resets: u32,
    pub(crate) local_resets: u32,
    pub(crate) control_frames: u32,
    pub(crate) data_since_refill: u64,
}

impl H2Connection {
    pub(crate) fn new(role: Role, config: &Config) -> Self {
        let cfg = config.http2.clone();
        let local = cfg.announced(role, &config.limits);
        let local_initial_window = local.initial_window_size.unwrap_or(DEFAULT_WINDOW);
        let connection_window = cfg.connection_window.max(DEFAULT_WINDOW);
        let mut conn = H2Connection {
            role,
            out: Outbound::default(),
            tail_frame: None,
            recv_buf: BytesMut::new(),
            preface_pending: role == Role::Server,
            awaiting_settings: true,
            eof: false,
            error: None,
            events: VecDeque::new(),
            streams: StreamTable::default(),
            recently_closed: VecDeque::new(),
            next_local_id: if role == Role::Client { 1 } else { 2 },
            last_remote_id: 0,
            local_initial_window,
            local_max_frame_size: local.max_frame_size.unwrap_or(DEFAULT_MAX_FRAME_SIZE),
            local_max_streams: cfg.max_concurrent_streams,
            max_header_list: config.limits.max_head_size,
            local_settings_acked: false,
            peer: PeerSettings {
                initial_window: DEFAULT_WINDOW,
                max_frame_size: DEFAULT_MAX_FRAME_SIZE,
                max_concurrent_streams: None,
            },
            conn_send: SendWindow::new(DEFAULT_WINDOW),
            conn_recv: RecvWindow::new(connection_window, connection_window),
            decoder: Decoder::new(local.header_table_size.unwrap_or(4096) as usize),
            encoder: Encoder::new(),
            pending_block: None,
            goaway_sent: None,
            goaway_received: None,
            closing: false,
            remote_resets: 0,
            local_resets: 0,
            control_frames: 0,
            data_since_refill: 0,
            cfg,
        };
        if role == Role::Client {
            conn.out.put_slice(H2_PREFACE);
        }
        conn.write_frame(|dst| {
            SettingsFrame {
                ack: false,
                values: local,
            }
            .encode(dst)
        });
        if connection_window > DEFAULT_WINDOW {
            conn.write_window_update(0, connection_window - DEFAULT_WINDOW);
        }
        conn
    }

    // ---- inputs ----

    pub(crate) fn receive_data(&mut self, data: &[u8]) {
        if data.is_empty() {
            self.eof = true;
        } else if !self.eof && self.error.is_none() {
            self.recv_buf.extend_from_slice(data);
        }
    }

    pub(crate) fn next_event(&mut self) -> Result<Event, RemoteProtocolError> {
        if let Some(e) = self.error {
            return Err(e);
        }
        loop {
            if let Some(event) = self.events.pop_front() {
                if let Event::Data(d) = &event {
                    if self.cfg.auto_acknowledge {
                        self.release(d.stream_id.0, d.data.len());
                    }
                }
                return Ok(event);
            }
            match self.read_frame() {
                Ok(true) => {}
                Ok(false) if self.eof => return Ok(Event::ConnectionClosed),
                Ok(false) => return Ok(Event::NeedData),
                Err(code) => return Err(self.fail(code)),
            }
        }
    }

    /// Enters the error state: GOAWAY with `code`, and every later call fails alike.
    fn fail(&mut self, code: ErrorCode) -> RemoteProtocolError {
        let last = self.last_remote_id;
        self.write_frame(|dst| {
            GoAway {
                last_stream_id: StreamId(last),
                code,
                debug_data: Bytes::new(),
            }
            .encode(dst)
        });
        self.events.clear();
        self.pending_block = None;
        self.recv_buf = BytesMut::new();
        let err = RemoteProtocolError::new(RemoteErrorKind::Http2(code));
        self.error = Some(err);
        err
    }

    /// Processes one frame if a whole one is buffered; false when more bytes are needed.
    fn read_frame(&mut self) -> ConnResult<bool> {
        if self.preface_pending {
            let n = self.recv_buf.len().min(H2_PREFACE.len());
            if self.recv_buf[..n] != H2_PREFACE[..n] {
                return Err(ErrorCode::PROTOCOL_ERROR);
            }
            if n < H2_PREFACE.len() {
                return Ok(false);
            }
            let _ = self.recv_buf.split_to(H2_PREFACE.len());
            self.preface_pending = false;
        }
        let Some(head) = Head::parse(&self.recv_buf) else {
            return Ok(false);
        };
        if head.length > self.local_max_frame_size {
            return Err(ErrorCode::FRAME_SIZE_ERROR);
        }
        let total = HEAD_LEN + head.length as usize;
        if self.recv_buf.len() < total {
            self.recv_buf.reserve(total - self.recv_buf.len());
            return Ok(false);
        }
        let payload = self.recv_buf.split_to(total).freeze().slice(HEAD_LEN..);
        self.handle_frame(head, payload)?;
        Ok(true)
    }

    fn handle_frame(&mut self, head: Head, payload: Bytes) -> ConnResult {
        if let Some(p) = &self.pending_block {
            if head.kind != Kind::CONTINUATION || head.stream_id.0 != p.stream_id {
                return Err(ErrorCode::PROTOCOL_ERROR);
            }
        }
        if self.awaiting_settings {
            if head.kind != Kind::SETTINGS || head.has(super::frame::flags::ACK) {
                return Err(ErrorCode::PROTOCOL_ERROR);
            }
            self.awaiting_settings = false;
            // The handshake's SETTINGS is not a control frame to count.
            self.control_frames = 0;
            return self
                .recv_settings(head, &payload)
                .map(|()| self.control_frames = 0);
        }
        match head.kind {
            Kind::DATA => self.recv_data(head, payload),
            Kind::HEADERS => self.recv_headers(head, payload),
            Kind::PRIORITY => self.recv_priority(head, &payload),
            Kind::RST_STREAM => self.recv_rst_stream(head, &payload),
            Kind::SETTINGS => self.recv_settings(head, &payload),
            Kind::PUSH_PROMISE => self.recv_push_promise(head, payload),
            Kind::PING => self.recv_ping(head, &payload),
            Kind::GOAWAY => self.recv_goaway(head, payload),
            Kind::WINDOW_UPDATE => self.recv_window_update(head, &payload),
            Kind::CONTINUATION => self.recv_continuation(head, payload),
            _ => self.count_control_frame(),
        }
    }

    // ---- helpers shared by the receive and send halves ----

    /// Appends a frame written by `f` to the outgoing bytes.
    pub(crate) fn write_frame(&mut self, f: impl FnOnce(&mut BytesMut)) {
        self.tail_frame = None;
        let tail = self.out.tail_mut();
        let before = tail.len();
        f(tail);
        let n = tail.len() - before;
        self.out.commit(n);
    }

    pub(crate) fn write_window_update(&mut self, stream_id: u32, increment: u32) {
        self.write_frame(|dst| {
            WindowUpdate {
                stream_id: StreamId(stream_id),
                increment,
            }
            .encode(dst)
        });
    }

    pub(crate) fn write_rst_stream(&mut self, stream_id: u32, code: ErrorCode) {
        self.write_frame(|dst| {
            RstStream {
                stream_id: StreamId(stream_id),
                code,
            }
            .encode(dst)
        });
    }

    /// True for ids the peer opens (odd ones when we are the server).
    pub(crate) fn is_remote_id(&self, id: u32) -> bool {
        StreamId(id).is_client_initiated() == (self.role == Role::Server)
    }

    /// True when `id` names a stream nobody opened yet.
    pub(crate) fn is_idle(&self, id: u32) -> bool {
        if self.is_remote_id(id) {
            id > self.last_remote_id
        } else {
            id >= self.next_local_id
        }
    }

    /// How a stream that is not in the table closed, if we still remember.
    pub(crate) fn closed_by(&self, id: u32) -> Option<ClosedBy> {
        self.recently_closed
            .iter()
            .find(|(i, _)| *i == id)
            .map(|&(_, c)| c)
    }

    pub(crate) fn remember_closed(&mut self, id: u32, by: ClosedBy) {
        if self.recently_closed.len() == CLOSED_MEMORY {
            self.recently_closed.pop_front();
        }
        self.recently_closed.push_back((id, by));
    }

    /// Peer-opened streams in the table.
    pub(crate) fn remote_open(&self) -> usize {
        self.streams.values().filter(|s| s.remote_initiated).count()
    }

    /// Removes a stream that both sides finished; a normal completion gives
    /// back one unit of each reset budget.
    pub(crate) fn close_if_done(&mut self, id: u32) {
        if self
            .streams
            .get(&id)
            .is_some_and(|s| s.state == super::stream::State::Closed)
        {
            self.streams.remove(&id);
            self.remember_closed(id, ClosedBy::Remote);
            self.remote_resets = self.remote_resets.saturating_sub(1);
            self.local_resets = self.local_resets.saturating_sub(1);
        }
    }

    /// A stream error (RFC 9113 §5.4.2): RST_STREAM, a `StreamReset` event when
    /// the application knows the stream, and one unit of the MadeYouReset budget
    /// when `counted`.
    pub(crate) fn stream_error(&mut self, id: u32, code: ErrorCode, counted: bool) -> ConnResult {
        self.write_rst_stream(id, code);
        if self.streams.remove(&id).is_some() {
            self.events.push_back(Event::StreamReset {
                stream_id: StreamId(id),
                error_code: code,
                remote: false,
            });
        }
        self.remember_closed(id, ClosedBy::LocalReset);
        if counted {
            self.local_resets += 1;
            if self.local_resets > self.cfg.max_local_resets {
                return Err(ErrorCode::ENHANCE_YOUR_CALM);
            }
        }
        Ok(())
    }

    /// Counts one control frame against `max_control_frames`.
    pub(crate) fn count_control_frame(&mut self) -> ConnResult {
        self.control_frames += 1;
        if self.control_frames > self.cfg.max_control_frames {
            return Err(ErrorCode::ENHANCE_YOUR_CALM);
        }
        Ok(())
    }

    /// The peer did useful work: the control-frame budget starts over.
    pub(crate) fn refill_control_budget(&mut self) {
        self.control_frames = 0;
        self.data_since_refill = 0;
    }

    /// `n` received bytes on `stream_id` were consumed: grant them back to the
    /// peer, batching WINDOW_UPDATEs (see `flow`).
    pub(crate) fn release(&mut self, stream_id: u32, n: usize) {
        self.release_connection(n);
        let inc = match self.streams.get_mut(&stream_id) {
            Some(s) if s.state.can_recv() => s.recv_window.release(n),
            _ => None,
        };
        if let Some(inc) = inc {
            self.write_window_update(stream_id, inc);
        }
    }

    /// `n` received bytes were consumed or dropped: connection level only.
    pub(crate) fn release_connection(&mut self, n: usize) {
        if let Some(inc) = self.conn_recv.release(n) {
            self.write_window_update(0, inc);
        }
    }

    /// A receive window for a new stream: the peer uses the default until it
    /// has acknowledged our SETTINGS.
    pub(crate) fn new_recv_window(&self) -> RecvWindow {
        let available = if self.local_settings_acked {
            self.local_initial_window
        } else {
            DEFAULT_WINDOW
        };
        RecvWindow::new(available, self.local_initial_window)
    }

    // ---- getters and calls from the facade ----

    pub(crate) fn should_close(&self) -> bool {
        self.error.is_some()
            || self.eof
            || self.closing
            || ((self.goaway_sent.is_some() || self.goaway_received.is_some())
                && self.streams.is_empty())
    }

    pub(crate) fn remote_error(&self) -> Option<RemoteProtocolError> {
        self.error
    }

    /// The outgoing bytes, for the caller to take: after this no queued frame
    /// is edited any more.
    pub(crate) fn outbound(&mut self) -> &mut Outbound {
        self.tail_frame = None;
        &mut self.out
    }

    pub(crate) fn outbound_ref(&self) -> &Outbound {
        &self.out
    }

    pub(crate) fn next_stream_id(&self) -> u32 {
        self.next_local_id
    }

    pub(crate) fn reset_stream(
        &mut self,
        id: u32,
        code: ErrorCode,
    ) -> Result<(), LocalProtocolError> {
        if self.error.is_some() {
            return Err(LocalProtocolError::ConnectionClosed);
        }
        if self.streams.remove(&id).is_none() {
            return Err(LocalProtocolError::InvalidStream);
        }
        self.write_rst_stream(id, code);
        self.remember_closed(id, ClosedBy::LocalReset);
        Ok(())
    }

    pub(crate) fn ping(&mut self, data: [u8; 8]) {
        if self.error.is_none() {
            self.write_frame(|dst| Ping { ack: false, data }.encode(dst));
        }
    }

    pub(crate) fn goaway(&mut self, code: ErrorCode, debug: &[u8]) {
        if self.error.is_some() {
            return;
        }
        let last = self.last_remote_id;
        let debug = &debug[..debug.len().min(self.peer.max_frame_size as usize - 8)];
        self.write_frame(|dst| {
            GoAway {
                last_stream_id: StreamId(last),
                code,
                debug_data: Bytes::copy_from_slice(debug),
            }
            .encode(dst)
        });
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
        match self.streams.get(&id) {
            Some(s) if s.state.can_send() => {
                s.send_window.available().min(self.conn_send.available())
            }
            _ => 0,
        }
    }

    pub(crate) fn open_streams(&self) -> usize {
        self.streams.len()
    }
}
