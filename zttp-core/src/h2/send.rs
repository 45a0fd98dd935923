//! The send half: serialising the application's events into frames, within
//! the peer's limits (frame size, flow-control windows, concurrent streams).
//!
//! ## END_STREAM without an empty DATA frame
//!
//! `EndOfMessage` without trailers sets END_STREAM on the stream's last
//! HEADERS or DATA frame when that frame is still the last thing queued, in
//! the unsent tail buffer of [`Outbound`](crate::outbound::Outbound): a
//! response `HEADERS, DATA, EndOfMessage` goes out as two frames, a bodiless
//! one as a single HEADERS. Otherwise (another frame was queued after it,
//! the caller took the bytes, or the last DATA payload was queued by
//! reference) an empty DATA frame carries END_STREAM, as RFC 9113 allows
//! either way. Flow control is unaffected: the flag carries no payload.
//!
//! ## The declared length
//!
//! A message head that declares `content-length` fixes its body: `Data`
//! beyond it is refused with `TooMuchData`, `EndOfMessage` short of it with
//! `TooLittleData` (the peer would reset the stream, RFC 9113 §8.1.1). A
//! response to HEAD, and a 204 or 304 response, carry no body at all
//! (`BodyNotAllowed`), whatever length they declare. A refused event queues
//! nothing.

use bytes::Bytes;

use super::conn::H2Connection;
use super::flow::SendWindow;
use super::frame::{encode_header_block, Data, Head, StreamId, HEAD_LEN};
use super::message::{self, OutField};
use super::stream::{SendBody, State, Stream};
use crate::{Event, Headers, LocalProtocolError, Request, Response, Role};

/// A HEADERS or DATA frame of `stream_id` that ends the outbound tail buffer:
/// its head starts at `head_at` and the tail was `end` bytes long after it.
/// Any other write, and any taking of bytes, forgets it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TailFrame {
    stream_id: u32,
    head_at: usize,
    end: usize,
}

impl H2Connection {
    pub(crate) fn send(&mut self, event: Event) -> Result<(), LocalProtocolError> {
        if self.remote_error().is_some() {
            return Err(LocalProtocolError::ConnectionClosed);
        }
        match event {
            Event::Request(req) => self.send_request(req),
            Event::Response(resp) => self.send_response(resp, true),
            Event::InformationalResponse(resp) => self.send_response(resp, false),
            Event::Data(d) => self.send_data(d.stream_id.0, d.data),
            Event::EndOfMessage(e) => self.send_end(e.stream_id.0, e.trailers),
            _ => Err(LocalProtocolError::UnexpectedEvent),
        }
    }

    /// Encodes `fields` as HEADERS (+ CONTINUATION) on `stream_id`; returns
    /// the block as a [`TailFrame`] (END_STREAM, if set later, goes on the
    /// HEADERS frame at its start).
    pub(crate) fn write_header_block(
        &mut self,
        stream_id: u32,
        fields: &[OutField],
        end_stream: bool,
    ) -> TailFrame {
        self.tail_frame = None;
        let max = self.peer.max_frame_size as usize;
        let encoder = &mut self.encoder;
        let tail = self.out.tail_mut();
        let head_at = tail.len();
        let n = encode_header_block(StreamId(stream_id), end_stream, max, tail, |dst| {
            encoder.encode(fields.iter().map(|(n, v, s)| (&n[..], &v[..], *s)), dst)
        });
        self.out.commit(n);
        TailFrame {
            stream_id,
            head_at,
            end: head_at + n,
        }
    }

    /// Sets END_STREAM on stream `id`'s frame that ends the unsent tail, if
    /// there is one; false when an END_STREAM frame is still needed.
    fn end_stream_in_place(&mut self, id: u32) -> bool {
        let Some(f) = self.tail_frame.take() else {
            return false;
        };
        let tail = self.out.tail_mut();
        if f.stream_id != id || tail.len() != f.end {
            return false;
        }
        Head::set_end_stream(&mut tail[f.head_at..f.head_at + HEAD_LEN]);
        true
    }

    fn send_request(&mut self, req: Request) -> Result<(), LocalProtocolError> {
        if self.role != Role::Client {
            return Err(LocalProtocolError::WrongRole);
        }
        if self.goaway_received.is_some() || self.goaway_sent.is_some() {
            return Err(LocalProtocolError::ConnectionClosed);
        }
        let id = req.stream_id.0;
        if id != self.next_local_id || id > StreamId::MAX.0 {
            return Err(LocalProtocolError::InvalidStream);
        }
        let open = self
            .streams
            .values()
            .filter(|s| !s.remote_initiated)
            .count();
        if self
            .peer
            .max_concurrent_streams
            .is_some_and(|max| open >= max as usize)
        {
            return Err(LocalProtocolError::TooManyStreams);
        }
        let send_body = declared_body(&req.headers)?;
        let fields = message::request_fields(&req)?;
        self.tail_frame = Some(self.write_header_block(id, &fields, false));
        let mut stream = Stream::new(
            State::Open,
            SendWindow::new(self.peer.initial_window),
            self.new_recv_window(),
            false,
        );
        stream.head_sent = true;
        stream.head_request = &req.method[..] == b"HEAD";
        stream.send_body = send_body;
        self.streams.insert(id, stream);
        self.next_local_id = id.saturating_add(2);
        Ok(())
    }

    fn send_response(&mut self, resp: Response, is_final: bool) -> Result<(), LocalProtocolError> {
        if self.role != Role::Server {
            return Err(LocalProtocolError::WrongRole);
        }
        let informational = (100..200).contains(&resp.status_code);
        if informational == is_final || resp.status_code == 101 {
            return Err(LocalProtocolError::InvalidStatus);
        }
        let id = resp.stream_id.0;
        let answers_head = match self.streams.get(&id) {
            Some(s) if s.state.can_send() && !s.head_sent => s.answers_head,
            _ => return Err(LocalProtocolError::InvalidStream),
        };
        let send_body = if answers_head || matches!(resp.status_code, 204 | 304) {
            SendBody::Forbidden
        } else {
            declared_body(&resp.headers)?
        };
        let fields = message::response_fields(&resp)?;
        let block = self.write_header_block(id, &fields, false);
        if is_final {
            self.tail_frame = Some(block);
            if let Some(s) = self.streams.get_mut(&id) {
                s.head_sent = true;
                s.send_body = send_body;
            }
        }
        Ok(())
    }

    /// The stream `id` if we may send body or trailers on it now.
    fn sendable(&self, id: u32) -> Result<&Stream, LocalProtocolError> {
        match self.streams.get(&id) {
            Some(s) if s.state.can_send() && s.head_sent => Ok(s),
            _ => Err(LocalProtocolError::InvalidStream),
        }
    }

    fn send_data(&mut self, id: u32, data: Bytes) -> Result<(), LocalProtocolError> {
        let send_body = self.sendable(id)?.send_body.after_data(data.len())?;
        if data.len() > self.send_window(id) {
            return Err(LocalProtocolError::FlowControlWindowExceeded);
        }
        if let Some(s) = self.streams.get_mut(&id) {
            s.send_body = send_body;
        }
        let max = self.peer.max_frame_size as usize;
        let mut rest = data;
        while !rest.is_empty() {
            let chunk = rest.split_to(rest.len().min(max));
            let len = chunk.len();
            let head_at = self.out.tail_mut().len();
            self.write_frame(|dst| Data::encode_head(StreamId(id), len, false, dst));
            self.conn_send.consume(len);
            if let Some(s) = self.streams.get_mut(&id) {
                s.send_window.consume(len);
            }
            self.out.put_bytes(chunk);
            // A large payload is queued by reference, which seals the tail.
            let end = head_at + HEAD_LEN + len;
            if self.out.tail_mut().len() == end {
                self.tail_frame = Some(TailFrame {
                    stream_id: id,
                    head_at,
                    end,
                });
            }
        }
        Ok(())
    }

    fn send_end(&mut self, id: u32, trailers: Headers) -> Result<(), LocalProtocolError> {
        self.sendable(id)?.send_body.check_end()?;
        if trailers.is_empty() {
            if !self.end_stream_in_place(id) {
                self.write_frame(|dst| Data::encode_head(StreamId(id), 0, true, dst));
            }
        } else {
            let fields = message::trailer_fields(&trailers)?;
            self.write_header_block(id, &fields, true);
        }
        if let Some(s) = self.streams.get_mut(&id) {
            s.state.send_end_stream();
        }
        self.close_if_done(id);
        Ok(())
    }
}

/// The body rule a head's `content-length` sets; disagreeing or malformed
/// values are refused, as the peer would treat the message as malformed.
fn declared_body(headers: &Headers) -> Result<SendBody, LocalProtocolError> {
    match message::content_length(headers) {
        Ok(Some(n)) => Ok(SendBody::Remaining(n)),
        Ok(None) => Ok(SendBody::Unlimited),
        Err(_) => Err(LocalProtocolError::InvalidHeader),
    }
}
