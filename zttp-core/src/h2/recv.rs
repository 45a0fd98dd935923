//! The receive half: one handler per frame type, deciding between stream
//! errors, connection errors and events (RFC 9113 §5.1, §5.4, §6).

use bytes::{Bytes, BytesMut};

use super::conn::{
    ConnResult, H2Connection, PendingBlock, CONTROL_REFILL_BYTES, HEADER_BLOCK_SLACK,
};
use super::flow::SendWindow;
use super::frame::{
    Continuation, Data, GoAway, Head, Headers, Ping, Priority, PushPromise, RstStream,
    SettingsFrame, WindowUpdate,
};
use super::message::{self, Malformed};
use super::stream::{ClosedBy, RecvHead, State, Stream};
use crate::hpack::DecoderError;
use crate::{EndOfMessage, ErrorCode, Event, Framing, Role, StreamId};

/// The framing of a received message body: empty when HEADERS ended the
/// stream (or no body is allowed), else the declared length, else DATA
/// frames up to END_STREAM.
fn body_framing(ended: bool, content_length: Option<u64>) -> Framing {
    match content_length {
        _ if ended => Framing::Empty,
        Some(n) => Framing::of_length(n),
        None => Framing::Chunked,
    }
}

/// What a header block turned out to be, once decoded.
enum Block {
    Fields(Vec<(Bytes, Bytes)>),
    TooLarge,
}

impl H2Connection {
    pub(super) fn recv_data(&mut self, head: Head, payload: Bytes) -> ConnResult {
        let frame = Data::load(head, payload)?;
        let id = frame.stream_id.0;
        if self.is_idle(id) {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        self.conn_recv
            .receive(frame.flow_len)
            .map_err(|_| ErrorCode::FLOW_CONTROL_ERROR)?;
        let flow_len = frame.flow_len as usize;
        let Some(stream) = self.streams.get_mut(&id) else {
            // Closed: the bytes are dropped, so the connection window gets them back now.
            self.release_connection(flow_len);
            if self.closed_by(id) == Some(ClosedBy::LocalReset) {
                return self.count_control_frame();
            }
            return self.stream_error(id, ErrorCode::STREAM_CLOSED, true);
        };
        if !stream.state.can_recv() || stream.recv_head == RecvHead::Response {
            let code = if stream.state.can_recv() {
                ErrorCode::PROTOCOL_ERROR
            } else {
                ErrorCode::STREAM_CLOSED
            };
            self.release_connection(flow_len);
            return self.stream_error(id, code, true);
        }
        if stream.recv_window.receive(frame.flow_len).is_err() {
            self.release_connection(flow_len);
            return self.stream_error(id, ErrorCode::FLOW_CONTROL_ERROR, true);
        }
        stream.received += frame.data.len() as u64;
        let too_long = stream.content_length.is_some_and(|n| stream.received > n);
        let short = frame.end_stream
            && stream
                .content_length
                .is_some_and(|n| stream.received != n && !stream.head_request);
        if too_long && !stream.head_request || short {
            self.release_connection(flow_len);
            return self.stream_error(id, ErrorCode::PROTOCOL_ERROR, true);
        }
        let padding = flow_len - frame.data.len();
        if padding > 0 {
            self.release(id, padding);
        }
        if frame.data.is_empty() {
            if !frame.end_stream {
                self.count_control_frame()?;
            }
        } else {
            self.data_since_refill += frame.data.len() as u64;
            if self.data_since_refill >= CONTROL_REFILL_BYTES {
                self.refill_control_budget();
            }
            self.events.push_back(Event::Data(crate::Data {
                stream_id: StreamId(id),
                data: frame.data,
            }));
        }
        if frame.end_stream {
            self.end_of_message(id, crate::Headers::new());
        }
        Ok(())
    }

    /// The peer ended its side of `id`: `EndOfMessage`, and the stream closes if we are done too.
    fn end_of_message(&mut self, id: u32, trailers: crate::Headers) {
        if let Some(s) = self.streams.get_mut(&id) {
            s.state.recv_end_stream();
        }
        self.events.push_back(Event::EndOfMessage(EndOfMessage {
            stream_id: StreamId(id),
            trailers,
        }));
        self.close_if_done(id);
    }

    pub(super) fn recv_headers(&mut self, head: Head, payload: Bytes) -> ConnResult {
        let frame = Headers::load(head, payload)?;
        let pending = PendingBlock {
            stream_id: frame.stream_id.0,
            end_stream: frame.end_stream,
            self_dependent: frame.priority.is_some_and(|p| p.is_self_dependent()),
            promised: None,
            block: BytesMut::from(&frame.fragment[..]),
            continuations: 0,
        };
        self.start_block(pending, frame.end_headers)
    }

    pub(super) fn recv_push_promise(&mut self, head: Head, payload: Bytes) -> ConnResult {
        if self.role == Role::Server || !self.cfg.accept_push {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        let frame = PushPromise::load(head, payload)?;
        let promised = frame.promised_stream_id.0;
        if !self.is_remote_id(promised) || !self.is_idle(promised) {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        let pending = PendingBlock {
            stream_id: frame.stream_id.0,
            end_stream: false,
            self_dependent: false,
            promised: Some(promised),
            block: BytesMut::from(&frame.fragment[..]),
            continuations: 0,
        };
        self.start_block(pending, frame.end_headers)
    }

    pub(super) fn recv_continuation(&mut self, head: Head, payload: Bytes) -> ConnResult {
        let frame = Continuation::load(head, payload)?;
        let Some(mut pending) = self.pending_block.take() else {
            return Err(ErrorCode::PROTOCOL_ERROR);
        };
        pending.continuations += 1;
        if pending.continuations > self.cfg.max_continuation_frames {
            return Err(ErrorCode::ENHANCE_YOUR_CALM);
        }
        pending.block.extend_from_slice(&frame.fragment);
        self.start_block(pending, frame.end_headers)
    }

    /// Keeps collecting a header block, or processes it once complete.
    fn start_block(&mut self, pending: PendingBlock, complete: bool) -> ConnResult {
        if pending.block.len() > self.max_header_list + HEADER_BLOCK_SLACK {
            return Err(ErrorCode::ENHANCE_YOUR_CALM);
        }
        if !complete {
            self.pending_block = Some(pending);
            return Ok(());
        }
        // Decode first, whatever becomes of the stream: HPACK state is shared.
        let block = match self.decoder.decode(&pending.block, self.max_header_list) {
            Ok(fields) => Block::Fields(fields.into_iter().map(|f| (f.name, f.value)).collect()),
            Err(DecoderError::HeaderListTooLarge) => Block::TooLarge,
            Err(_) => return Err(ErrorCode::COMPRESSION_ERROR),
        };
        match pending.promised {
            Some(promised) => self.recv_promise_block(pending.stream_id, promised),
            None => self.recv_header_block(pending, block),
        }
    }

    /// A complete PUSH_PROMISE (only reached with `accept_push`): the promise is
    /// declined with RST_STREAM(CANCEL), which the protocol always permits.
    fn recv_promise_block(&mut self, stream_id: u32, promised: u32) -> ConnResult {
        let associated_ok = self
            .streams
            .get(&stream_id)
            .is_some_and(|s| s.state.can_recv() && !s.remote_initiated);
        if !associated_ok {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        self.last_remote_id = promised;
        self.write_rst_stream(promised, ErrorCode::CANCEL);
        self.remember_closed(promised, ClosedBy::LocalReset);
        Ok(())
    }

    fn recv_header_block(&mut self, p: PendingBlock, block: Block) -> ConnResult {
        let id = p.stream_id;
        if self.streams.contains_key(&id) {
            return self.recv_head_on_stream(p, block);
        }
        if !self.is_idle(id) {
            return match self.closed_by(id) {
                Some(ClosedBy::LocalReset) => self.count_control_frame(),
                Some(ClosedBy::Remote) => Err(ErrorCode::STREAM_CLOSED),
                None => Err(ErrorCode::PROTOCOL_ERROR),
            };
        }
        if self.role == Role::Client || !self.is_remote_id(id) {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        // A new request stream.
        self.last_remote_id = id;
        if self.goaway_sent.is_some_and(|last| id > last) {
            return self.count_control_frame();
        }
        if p.self_dependent {
            return self.stream_error(id, ErrorCode::PROTOCOL_ERROR, true);
        }
        if self.remote_open() >= self.local_max_streams as usize {
            let counted = self.local_settings_acked;
            return self.stream_error(id, ErrorCode::REFUSED_STREAM, counted);
        }
        let fields = match block {
            Block::Fields(f) => f,
            Block::TooLarge => return self.refuse_too_large(id, p.end_stream),
        };
        let Ok(mut req) = message::parse_request(id, fields) else {
            return self.stream_error(id, ErrorCode::PROTOCOL_ERROR, true);
        };
        let content_length = match message::content_length(&req.headers) {
            Ok(Some(n)) if p.end_stream && n != 0 => Err(Malformed),
            other => other,
        };
        let Ok(content_length) = content_length else {
            return self.stream_error(id, ErrorCode::PROTOCOL_ERROR, true);
        };
        req.framing = body_framing(p.end_stream, content_length);
        let mut stream = Stream::new(
            State::Open,
            SendWindow::new(self.peer.initial_window),
            self.new_recv_window(),
            true,
        );
        stream.content_length = content_length;
        stream.answers_head = &req.method[..] == b"HEAD";
        self.streams.insert(id, stream);
        self.refill_control_budget();
        self.events.push_back(Event::Request(req));
        if p.end_stream {
            self.end_of_message(id, crate::Headers::new());
        }
        Ok(())
    }

    /// A server answers a request whose header list exceeds our limit with 431
    /// (the decoder kept the HPACK state in step); a client resets the stream.
    fn refuse_too_large(&mut self, id: u32, end_stream: bool) -> ConnResult {
        if self.role == Role::Client {
            return self.stream_error(id, ErrorCode::CANCEL, true);
        }
        let resp = crate::Response::new(431);
        if let Ok(fields) = message::response_fields(&resp) {
            self.write_header_block(id, &fields, true);
        }
        if !end_stream {
            self.write_rst_stream(id, ErrorCode::NO_ERROR);
        }
        self.streams.remove(&id);
        self.remember_closed(id, ClosedBy::LocalReset);
        self.local_resets += 1;
        if self.local_resets > self.cfg.max_local_resets {
            return Err(ErrorCode::ENHANCE_YOUR_CALM);
        }
        Ok(())
    }

    /// HEADERS on a stream in the table: a response (client), or trailers.
    fn recv_head_on_stream(&mut self, p: PendingBlock, block: Block) -> ConnResult {
        let id = p.stream_id;
        let Some(stream) = self.streams.get(&id) else {
            return Ok(());
        };
        if !stream.state.can_recv() {
            return self.stream_error(id, ErrorCode::STREAM_CLOSED, true);
        }
        if p.self_dependent {
            return self.stream_error(id, ErrorCode::PROTOCOL_ERROR, true);
        }
        let fields = match block {
            Block::Fields(f) => f,
            Block::TooLarge => return self.stream_error(id, ErrorCode::CANCEL, true),
        };
        if stream.recv_head == RecvHead::Trailers {
            let short = stream
                .content_length
                .is_some_and(|n| n != stream.received && !stream.head_request);
            let trailers = match message::parse_trailers(fields) {
                Ok(t) if p.end_stream && !short => t,
                _ => return self.stream_error(id, ErrorCode::PROTOCOL_ERROR, true),
            };
            self.end_of_message(id, trailers);
            return Ok(());
        }
        let Ok(mut resp) = message::parse_response(id, fields) else {
            return self.stream_error(id, ErrorCode::PROTOCOL_ERROR, true);
        };
        if (100..200).contains(&resp.status_code) {
            if p.end_stream || resp.status_code == 101 {
                return self.stream_error(id, ErrorCode::PROTOCOL_ERROR, true);
            }
            self.events.push_back(Event::InformationalResponse(resp));
            return Ok(());
        }
        let Ok(content_length) = message::content_length(&resp.headers) else {
            return self.stream_error(id, ErrorCode::PROTOCOL_ERROR, true);
        };
        let no_body = matches!(resp.status_code, 204 | 304);
        let Some(stream) = self.streams.get_mut(&id) else {
            return Ok(());
        };
        stream.head_request |= no_body;
        if p.end_stream && !stream.head_request && content_length.is_some_and(|n| n != 0) {
            return self.stream_error(id, ErrorCode::PROTOCOL_ERROR, true);
        }
        stream.content_length = content_length;
        stream.recv_head = RecvHead::Trailers;
        resp.framing = body_framing(p.end_stream || stream.head_request, content_length);
        self.refill_control_budget();
        self.events.push_back(Event::Response(resp));
        if p.end_stream {
            self.end_of_message(id, crate::Headers::new());
        }
        Ok(())
    }

    pub(super) fn recv_priority(&mut self, head: Head, payload: &[u8]) -> ConnResult {
        if head.stream_id.is_zero() {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        self.count_control_frame()?;
        match Priority::load(head, payload) {
            Ok(_) => Ok(()),
            Err(code) => self.stream_error(head.stream_id.0, code, true),
        }
    }

    pub(super) fn recv_rst_stream(&mut self, head: Head, payload: &[u8]) -> ConnResult {
        let frame = RstStream::load(head, payload)?;
        let id = frame.stream_id.0;
        if self.is_idle(id) {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        let Some(stream) = self.streams.remove(&id) else {
            return self.count_control_frame();
        };
        self.remember_closed(id, ClosedBy::Remote);
        self.events.push_back(Event::StreamReset {
            stream_id: StreamId(id),
            error_code: frame.code,
            remote: true,
        });
        if stream.state.can_send() {
            self.remote_resets += 1;
            if self.remote_resets > self.cfg.max_remote_resets {
                return Err(ErrorCode::ENHANCE_YOUR_CALM);
            }
        }
        Ok(())
    }

    pub(super) fn recv_settings(&mut self, head: Head, payload: &[u8]) -> ConnResult {
        let frame = SettingsFrame::load(head, payload)?;
        if frame.ack {
            if !self.local_settings_acked {
                self.local_settings_acked = true;
                let delta = self.local_initial_window as i64 - super::conn::DEFAULT_WINDOW as i64;
                for s in self.streams.values_mut() {
                    s.recv_window.shift(delta);
                }
                self.decoder
                    .set_max_table_size(self.cfg.header_table_size as usize);
            }
            self.events.push_back(Event::SettingsAcknowledged);
            return Ok(());
        }
        self.count_control_frame()?;
        let v = frame.values;
        if let Some(n) = v.header_table_size {
            self.encoder.set_max_table_size(n as usize);
        }
        if let Some(n) = v.initial_window_size {
            let delta = n as i64 - self.peer.initial_window as i64;
            for s in self.streams.values_mut() {
                s.send_window
                    .adjust(delta)
                    .map_err(|_| ErrorCode::FLOW_CONTROL_ERROR)?;
            }
            self.peer.initial_window = n;
        }
        if let Some(n) = v.max_frame_size {
            self.peer.max_frame_size = n;
        }
        if let Some(n) = v.max_concurrent_streams {
            self.peer.max_concurrent_streams = Some(n);
        }
        self.write_frame(|dst| SettingsFrame::ack().encode(dst));
        self.events.push_back(Event::SettingsChanged(v));
        Ok(())
    }

    pub(super) fn recv_ping(&mut self, head: Head, payload: &[u8]) -> ConnResult {
        let ping = Ping::load(head, payload)?;
        if ping.ack {
            self.events.push_back(Event::PingAcknowledged(ping.data));
            return Ok(());
        }
        self.count_control_frame()?;
        self.write_frame(|dst| {
            Ping {
                ack: true,
                data: ping.data,
            }
            .encode(dst)
        });
        Ok(())
    }

    pub(super) fn recv_goaway(&mut self, head: Head, payload: Bytes) -> ConnResult {
        let frame = GoAway::load(head, payload)?;
        let last = frame.last_stream_id.0;
        let last = self.goaway_received.map_or(last, |prev| prev.min(last));
        self.goaway_received = Some(last);
        let mut refused: Vec<u32> = self
            .streams
            .keys()
            .copied()
            .filter(|&id| id > last && !self.is_remote_id(id))
            .collect();
        refused.sort_unstable();
        for id in refused {
            self.streams.remove(&id);
            self.remember_closed(id, ClosedBy::Remote);
            self.events.push_back(Event::StreamReset {
                stream_id: StreamId(id),
                error_code: ErrorCode::REFUSED_STREAM,
                remote: true,
            });
        }
        self.events.push_back(Event::GoAway {
            last_stream_id: frame.last_stream_id,
            error_code: frame.code,
            debug_data: frame.debug_data,
        });
        Ok(())
    }

    pub(super) fn recv_window_update(&mut self, head: Head, payload: &[u8]) -> ConnResult {
        let frame = WindowUpdate::load(head, payload)?;
        let (id, inc) = (frame.stream_id.0, frame.increment);
        if id == 0 {
            if inc == 0 {
                return Err(ErrorCode::PROTOCOL_ERROR);
            }
            self.conn_send
                .adjust(inc as i64)
                .map_err(|_| ErrorCode::FLOW_CONTROL_ERROR)?;
        } else {
            if self.is_idle(id) {
                return Err(ErrorCode::PROTOCOL_ERROR);
            }
            let Some(stream) = self.streams.get_mut(&id) else {
                return self.count_control_frame();
            };
            if inc == 0 {
                self.count_control_frame()?;
                return self.stream_error(id, ErrorCode::PROTOCOL_ERROR, true);
            }
            if stream.send_window.adjust(inc as i64).is_err() {
                return self.stream_error(id, ErrorCode::FLOW_CONTROL_ERROR, true);
            }
        }
        self.events.push_back(Event::WindowUpdated {
            stream_id: StreamId(id),
            increment: inc,
        });
        Ok(())
    }
}
