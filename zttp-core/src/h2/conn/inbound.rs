//! Frames from the peer: one handler per frame type, deciding between stream
//! errors, connection errors and events (RFC 9113 §5.1, §5.4, §6).

use bytes::Bytes;

use super::H2Connection;
use crate::h2::frame::{
    Continuation, Data, GoAway, Head, Headers, Kind, Ping, Priority, PushPromise, RstStream,
    SettingsFrame, WindowUpdate,
};
use crate::h2::message::{self, Malformed};
use crate::h2::recv::{ConnResult, DataPiece, Decoded, HeaderBlock};
use crate::h2::stream::{ClosedBy, RecvBody, RecvSide, Stream};
use crate::h2::timers::KEEP_ALIVE_PING;
use crate::{EndOfMessage, ErrorCode, Event, Framing, Headers as Fields, Role, StreamId};

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

impl H2Connection {
    pub(super) fn handle_frame(&mut self, head: Head, payload: Bytes) -> ConnResult {
        if self.recv.check_order(&head)? {
            // The handshake's SETTINGS is not a control frame to count.
            return self
                .recv_settings(head, &payload)
                .map(|()| self.recv.refill_control_budget());
        }
        match head.kind {
            Kind::HEADERS => self.recv_headers(head, payload),
            Kind::PRIORITY => self.recv_priority(head, &payload),
            Kind::RST_STREAM => self.recv_rst_stream(head, &payload),
            Kind::SETTINGS => self.recv_settings(head, &payload),
            Kind::PUSH_PROMISE => self.recv_push_promise(head, payload),
            Kind::PING => self.recv_ping(head, &payload),
            Kind::GOAWAY => self.recv_goaway(head, payload),
            Kind::WINDOW_UPDATE => self.recv_window_update(head, &payload),
            Kind::CONTINUATION => self.recv_continuation(head, payload),
            _ => self.recv.count_control_frame(),
        }
    }

    /// A DATA frame's head (and pad length): every check the head decides
    /// is made before any of its body is handed out, on the whole frame
    /// (flow control counts its padding too, RFC 9113 §6.9.1).
    pub(super) fn recv_data_head(&mut self, head: Head, pad_length: Option<u8>) -> ConnResult {
        self.recv.check_order(&head)?;
        let frame = Data::load(head, pad_length)?;
        let deliver = self.check_data(&frame)?;
        self.recv.begin_data(&frame, deliver);
        Ok(())
    }

    /// Whether DATA `frame`'s body goes to its stream: false after a stream
    /// error, or on a stream we reset (the connection window gets the frame
    /// back at once).
    fn check_data(&mut self, frame: &Data) -> ConnResult<bool> {
        let id = frame.stream_id.0;
        if self.streams.is_idle(id) {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        self.recv.receive_flow(frame.flow_len)?;
        let flow_len = frame.flow_len as usize;
        let Some(stream) = self.streams.get_mut(id) else {
            if self.streams.closed_by(id) == Some(ClosedBy::LocalReset) {
                self.release_connection(flow_len);
                self.recv.count_control_frame()?;
                return Ok(false);
            }
            return self.refuse_data(id, flow_len, ErrorCode::STREAM_CLOSED);
        };
        let body = match &mut stream.recv {
            RecvSide::Body(body) => body,
            RecvSide::AwaitingHead { .. } => {
                return self.refuse_data(id, flow_len, ErrorCode::PROTOCOL_ERROR)
            }
            RecvSide::Closed => return self.refuse_data(id, flow_len, ErrorCode::STREAM_CLOSED),
        };
        if stream.recv_window.receive(frame.flow_len).is_err() {
            return self.refuse_data(id, flow_len, ErrorCode::FLOW_CONTROL_ERROR);
        }
        // The head says how much body the frame carries: a content-length it
        // overshoots, or falls short of at END_STREAM, refuses it whole.
        let within = body.receive(frame.data_len as usize);
        if !within || frame.end_stream && !body.complete() {
            return self.refuse_data(id, flow_len, ErrorCode::PROTOCOL_ERROR);
        }
        let padding = flow_len - frame.data_len as usize;
        if padding > 0 {
            self.release(id, padding);
        }
        if frame.data_len == 0 && !frame.end_stream {
            self.recv.count_control_frame()?;
        }
        Ok(true)
    }

    /// DATA refused with a stream error: the frame's bytes are dropped, so
    /// the connection window gets them back now.
    fn refuse_data(&mut self, id: u32, flow_len: usize, code: ErrorCode) -> ConnResult<bool> {
        self.release_connection(flow_len);
        self.stream_error(id, code, true)?;
        Ok(false)
    }

    /// A piece of the current DATA frame's body, handed out as it arrived.
    /// With `auto_acknowledge`, the frame's body is granted back once it is
    /// complete: to the connection, and to the stream unless END_STREAM
    /// closes it (what granting the whole frame at once did).
    pub(super) fn recv_data_part(&mut self, piece: DataPiece) {
        let id = piece.stream_id;
        if self.streams.get(id).is_none() {
            // Reset since the head: the rest of the frame is dropped, and
            // the connection window gets it back, with what was handed out.
            let handed_out = std::mem::take(&mut self.unacknowledged);
            let dropped = piece.data.len() + self.recv.discard_data();
            self.release_connection(dropped + handed_out);
            return;
        }
        self.recv.note_data(piece.data.len());
        if self.cfg.auto_acknowledge {
            self.unacknowledged += piece.data.len();
            if piece.last {
                let n = std::mem::take(&mut self.unacknowledged);
                match piece.end_stream {
                    true => self.release_connection(n),
                    false => self.release(id, n),
                }
            }
        }
        self.events.push_back(Event::Data(crate::Data {
            stream_id: StreamId(id),
            data: piece.data,
        }));
    }

    /// The end of a DATA frame with END_STREAM (its head was checked).
    pub(super) fn recv_data_end(&mut self, id: u32) {
        if self.streams.get(id).is_some() {
            self.end_of_message(id, Fields::new());
        }
    }

    /// The peer ended its side of `id`: `EndOfMessage`, and the stream closes if we are done too.
    fn end_of_message(&mut self, id: u32, trailers: Fields) {
        if let Some(s) = self.streams.get_mut(id) {
            s.recv = RecvSide::Closed;
        }
        self.events.push_back(Event::EndOfMessage(EndOfMessage {
            stream_id: StreamId(id),
            trailers,
        }));
        self.streams.remove_if_closed(id);
    }

    fn recv_headers(&mut self, head: Head, payload: Bytes) -> ConnResult {
        let frame = Headers::load(head, payload)?;
        let block = HeaderBlock::new(
            frame.stream_id.0,
            frame.end_stream,
            frame.priority.is_some_and(|p| p.is_self_dependent()),
            None,
            frame.fragment,
        );
        match self.recv.start_block(block, frame.end_headers)? {
            Some((block, decoded)) => self.recv_block(block, decoded),
            None => Ok(()),
        }
    }

    fn recv_push_promise(&mut self, head: Head, payload: Bytes) -> ConnResult {
        if self.role == Role::Server || !self.cfg.accept_push {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        let frame = PushPromise::load(head, payload)?;
        let promised = frame.promised_stream_id.0;
        if !self.streams.is_remote_id(promised) || !self.streams.is_idle(promised) {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        let block = HeaderBlock::new(
            frame.stream_id.0,
            false,
            false,
            Some(promised),
            frame.fragment,
        );
        match self.recv.start_block(block, frame.end_headers)? {
            Some((block, decoded)) => self.recv_block(block, decoded),
            None => Ok(()),
        }
    }

    fn recv_continuation(&mut self, head: Head, payload: Bytes) -> ConnResult {
        let frame = Continuation::load(head, payload)?;
        match self
            .recv
            .continue_block(&frame.fragment, frame.end_headers)?
        {
            Some((block, decoded)) => self.recv_block(block, decoded),
            None => Ok(()),
        }
    }

    /// A complete, decoded header block.
    fn recv_block(&mut self, block: HeaderBlock, decoded: Decoded) -> ConnResult {
        match block.promised {
            Some(promised) => self.recv_promise_block(block.stream_id, promised),
            None => self.recv_header_block(block, decoded),
        }
    }

    /// A complete PUSH_PROMISE (only reached with `accept_push`): the promise is
    /// declined with RST_STREAM(CANCEL), which the protocol always permits.
    fn recv_promise_block(&mut self, stream_id: u32, promised: u32) -> ConnResult {
        let associated_ok = !self.streams.is_remote_id(stream_id)
            && self.streams.get(stream_id).is_some_and(Stream::can_recv);
        if !associated_ok {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        self.streams.note_remote_id(promised);
        self.send.write_rst_stream(promised, ErrorCode::CANCEL);
        self.streams.remember_closed(promised, ClosedBy::LocalReset);
        Ok(())
    }

    fn recv_header_block(&mut self, p: HeaderBlock, decoded: Decoded) -> ConnResult {
        let id = p.stream_id;
        if self.streams.get(id).is_some() {
            return self.recv_head_on_stream(p, decoded);
        }
        if !self.streams.is_idle(id) {
            return match self.streams.closed_by(id) {
                Some(ClosedBy::LocalReset) => self.recv.count_control_frame(),
                Some(ClosedBy::Remote) => Err(ErrorCode::STREAM_CLOSED),
                None => Err(ErrorCode::PROTOCOL_ERROR),
            };
        }
        if self.role == Role::Client || !self.streams.is_remote_id(id) {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        // A new request stream.
        self.streams.note_remote_id(id);
        if self.goaway_sent.is_some_and(|last| id > last) {
            return self.recv.count_control_frame();
        }
        if p.self_dependent {
            return self.stream_error(id, ErrorCode::PROTOCOL_ERROR, true);
        }
        if self.streams.remote_open() >= self.recv.max_streams() {
            let counted = self.recv.settings_acked();
            return self.stream_error(id, ErrorCode::REFUSED_STREAM, counted);
        }
        let fields = match decoded {
            Decoded::Fields(f) => f,
            Decoded::TooLarge => return self.refuse_too_large(id, p.end_stream),
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
        let stream = Stream::remote(
            self.send.stream_window(),
            self.recv.stream_window(),
            &req.method[..] == b"HEAD",
            RecvBody::declared(content_length),
        );
        self.streams.open_remote(id, stream);
        self.recv.refill_control_budget();
        self.events.push_back(Event::Request(req));
        if p.end_stream {
            self.end_of_message(id, Fields::new());
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
            self.send.write_header_block(id, &fields, true, false);
        }
        if !end_stream {
            self.send.write_rst_stream(id, ErrorCode::NO_ERROR);
        }
        if self.streams.remove(id, ClosedBy::LocalReset).is_none() {
            self.streams.remember_closed(id, ClosedBy::LocalReset);
        }
        self.count_local_reset()
    }

    /// HEADERS on a stream in the table: a response (client), or trailers.
    fn recv_head_on_stream(&mut self, p: HeaderBlock, decoded: Decoded) -> ConnResult {
        let id = p.stream_id;
        let Some(stream) = self.streams.get(id) else {
            return Ok(());
        };
        let head_request = match stream.recv {
            RecvSide::Closed => return self.stream_error(id, ErrorCode::STREAM_CLOSED, true),
            _ if p.self_dependent => return self.stream_error(id, ErrorCode::PROTOCOL_ERROR, true),
            RecvSide::Body(body) => {
                let trailers = match decoded {
                    Decoded::Fields(f) => message::parse_trailers(f),
                    Decoded::TooLarge => return self.stream_error(id, ErrorCode::CANCEL, true),
                };
                return match trailers {
                    Ok(t) if p.end_stream && body.complete() => {
                        self.end_of_message(id, t);
                        Ok(())
                    }
                    _ => self.stream_error(id, ErrorCode::PROTOCOL_ERROR, true),
                };
            }
            RecvSide::AwaitingHead { head_request } => head_request,
        };
        let fields = match decoded {
            Decoded::Fields(f) => f,
            Decoded::TooLarge => return self.stream_error(id, ErrorCode::CANCEL, true),
        };
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
        // A response to HEAD, and a 204 or 304, has no content whatever its
        // content-length says.
        let no_body = head_request || matches!(resp.status_code, 204 | 304);
        if p.end_stream && !no_body && content_length.is_some_and(|n| n != 0) {
            return self.stream_error(id, ErrorCode::PROTOCOL_ERROR, true);
        }
        if let Some(stream) = self.streams.get_mut(id) {
            let declared = if no_body { None } else { content_length };
            stream.recv = RecvSide::Body(RecvBody::declared(declared));
        }
        resp.framing = body_framing(p.end_stream || no_body, content_length);
        self.recv.refill_control_budget();
        self.events.push_back(Event::Response(resp));
        if p.end_stream {
            self.end_of_message(id, Fields::new());
        }
        Ok(())
    }

    fn recv_priority(&mut self, head: Head, payload: &[u8]) -> ConnResult {
        if head.stream_id.is_zero() {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        self.recv.count_control_frame()?;
        match Priority::load(head, payload) {
            Ok(_) => Ok(()),
            Err(code) => self.stream_error(head.stream_id.0, code, true),
        }
    }

    fn recv_rst_stream(&mut self, head: Head, payload: &[u8]) -> ConnResult {
        let frame = RstStream::load(head, payload)?;
        let id = frame.stream_id.0;
        if self.streams.is_idle(id) {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        let Some(stream) = self.streams.remove(id, ClosedBy::Remote) else {
            return self.recv.count_control_frame();
        };
        self.events.push_back(Event::StreamReset {
            stream_id: StreamId(id),
            error_code: frame.code,
            remote: true,
        });
        if stream.can_send() {
            self.streams
                .count_remote_reset(self.cfg.max_remote_resets)
                .map_err(|_| ErrorCode::ENHANCE_YOUR_CALM)?;
        }
        Ok(())
    }

    fn recv_settings(&mut self, head: Head, payload: &[u8]) -> ConnResult {
        let frame = SettingsFrame::load(head, payload)?;
        if frame.ack {
            self.timers.settings_acknowledged();
            if let Some(delta) = self.recv.settings_acknowledged() {
                for s in self.streams.iter_mut() {
                    s.recv_window.shift(delta);
                }
            }
            self.events.push_back(Event::SettingsAcknowledged);
            return Ok(());
        }
        self.recv.count_control_frame()?;
        let v = frame.values;
        if let Some(delta) = self.send.apply_peer_settings(&v) {
            for s in self.streams.iter_mut() {
                s.send_window
                    .adjust(delta)
                    .map_err(|_| ErrorCode::FLOW_CONTROL_ERROR)?;
            }
        }
        self.send.write_settings_ack();
        self.events.push_back(Event::SettingsChanged(v));
        Ok(())
    }

    fn recv_ping(&mut self, head: Head, payload: &[u8]) -> ConnResult {
        let ping = Ping::load(head, payload)?;
        if ping.ack {
            // Our keep-alive probe's answer is ours alone (bytes arriving
            // already counted as liveness).
            if ping.data != KEEP_ALIVE_PING {
                self.events.push_back(Event::PingAcknowledged(ping.data));
            }
            return Ok(());
        }
        self.recv.count_control_frame()?;
        self.send.write_ping(true, ping.data);
        Ok(())
    }

    fn recv_goaway(&mut self, head: Head, payload: Bytes) -> ConnResult {
        let frame = GoAway::load(head, payload)?;
        let last = frame.last_stream_id.0;
        let last = self.goaway_received.map_or(last, |prev| prev.min(last));
        self.goaway_received = Some(last);
        for id in self.streams.local_ids_above(last) {
            self.streams.remove(id, ClosedBy::Remote);
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

    fn recv_window_update(&mut self, head: Head, payload: &[u8]) -> ConnResult {
        let frame = WindowUpdate::load(head, payload)?;
        let (id, inc) = (frame.stream_id.0, frame.increment);
        if id == 0 {
            if inc == 0 {
                return Err(ErrorCode::PROTOCOL_ERROR);
            }
            self.send.grow_window(inc)?;
        } else {
            if self.streams.is_idle(id) {
                return Err(ErrorCode::PROTOCOL_ERROR);
            }
            let Some(stream) = self.streams.get_mut(id) else {
                return self.recv.count_control_frame();
            };
            if inc == 0 {
                self.recv.count_control_frame()?;
                return self.stream_error(id, ErrorCode::PROTOCOL_ERROR, true);
            }
            if stream.send_window.adjust(i64::from(inc)).is_err() {
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
