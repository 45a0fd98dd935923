//! The application's events as frames, within the peer's limits (frame
//! size, flow-control windows, concurrent streams).
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

use super::H2Connection;
use crate::framing::ContentLength;
use crate::h2::message;
use crate::h2::stream::{SendBody, SendSide, Stream};
use crate::{Event, Headers, LocalProtocolError, Request, Response, Role, StreamId};

impl H2Connection {
    pub(crate) fn send(&mut self, event: Event) -> Result<(), LocalProtocolError> {
        if self.error.is_some() {
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

    /// See [`Connection::send_last_data`](crate::Connection::send_last_data).
    pub(crate) fn send_last_data(
        &mut self,
        id: u32,
        data: Bytes,
    ) -> Result<(), LocalProtocolError> {
        if self.error.is_some() {
            return Err(LocalProtocolError::ConnectionClosed);
        }
        self.send_data(id, data)?;
        self.send_end(id, Headers::new())
    }

    fn send_request(&mut self, req: Request) -> Result<(), LocalProtocolError> {
        if self.role != Role::Client {
            return Err(LocalProtocolError::WrongRole);
        }
        if self.goaway_received.is_some() || self.goaway_sent.is_some() {
            return Err(LocalProtocolError::ConnectionClosed);
        }
        let id = req.stream_id.0;
        if id != self.streams.next_local_id() || id > StreamId::MAX.get() {
            return Err(LocalProtocolError::InvalidStream);
        }
        let open = self.streams.local_open();
        if self
            .send
            .peer_max_streams()
            .is_some_and(|max| open >= max as usize)
        {
            return Err(LocalProtocolError::TooManyStreams);
        }
        let send_body = declared_body(&req.headers)?;
        let fields = message::request_fields(&req)?;
        self.send.write_header_block(id, &fields, false, true);
        let stream = Stream::local(
            self.send.stream_window(),
            self.recv.stream_window(),
            send_body,
            &req.method[..] == b"HEAD",
        );
        self.streams.open_local(stream);
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
        let answers_head = match self.streams.get(id).map(|s| s.send) {
            Some(SendSide::AwaitingHead { answers_head }) => answers_head,
            _ => return Err(LocalProtocolError::InvalidStream),
        };
        let send_body = if answers_head || matches!(resp.status_code, 204 | 304) {
            SendBody::Forbidden
        } else {
            declared_body(&resp.headers)?
        };
        let fields = message::response_fields(&resp)?;
        self.send.write_header_block(id, &fields, false, is_final);
        if is_final {
            if let Some(s) = self.streams.get_mut(id) {
                s.send = SendSide::Body(send_body);
            }
        }
        Ok(())
    }

    /// Server: a response head from borrowed fields, checked in one pass and
    /// encoded in a second with no field list built. Names with uppercase
    /// letters (HPACK wants them lowercase) take the owned path. `vouched`:
    /// the caller vouches for the bytes (see
    /// [`Connection::send_response_head_prechecked`](crate::Connection::send_response_head_prechecked)),
    /// so only `content-length` is read in the first pass (debug builds
    /// check anyway).
    pub(crate) fn send_response_head<'a, I>(
        &mut self,
        id: u32,
        status: u16,
        fields: I,
        vouched: bool,
    ) -> Result<(), LocalProtocolError>
    where
        I: IntoIterator<Item = (&'a [u8], &'a [u8])> + Clone,
    {
        if self.error.is_some() {
            return Err(LocalProtocolError::ConnectionClosed);
        }
        if self.role != Role::Server {
            return Err(LocalProtocolError::WrongRole);
        }
        if !(100..=999).contains(&status) || status == 101 {
            return Err(LocalProtocolError::InvalidStatus);
        }
        let answers_head = match self.streams.get(id).map(|s| s.send) {
            Some(SendSide::AwaitingHead { answers_head }) => answers_head,
            _ => return Err(LocalProtocolError::InvalidStream),
        };
        let mut content_length = ContentLength::default();
        for (name, value) in fields.clone() {
            if name.iter().any(u8::is_ascii_uppercase) {
                let mut resp = Response::new(status);
                resp.stream_id = StreamId(id);
                resp.headers = fields
                    .into_iter()
                    .map(|(n, v)| (Bytes::copy_from_slice(n), Bytes::copy_from_slice(v)))
                    .collect();
                return self.send(resp.into());
            }
            if vouched {
                if cfg!(debug_assertions) {
                    // A broken promise is refused in debug builds.
                    message::out_field(name, value)?;
                }
                if name == b"content-length" {
                    if let Some((range, _)) = message::out_field_vouched(name, value) {
                        // The first error sticks; it matters only if a body may follow.
                        let _ = content_length.add(&value[range]);
                    }
                }
            } else if let Some((range, _)) = message::out_field(name, value)? {
                if name == b"content-length" {
                    let _ = content_length.add(&value[range]);
                }
            }
        }
        let is_final = status >= 200;
        let send_body = match content_length.value() {
            _ if answers_head || matches!(status, 204 | 304) => SendBody::Forbidden,
            Ok(Some(n)) => SendBody::Remaining(n),
            Ok(None) => SendBody::Unlimited,
            Err(_) => return Err(LocalProtocolError::InvalidHeader),
        };
        let digits = message::status_digits(status);
        let regular = fields.into_iter().filter_map(move |(name, value)| {
            let kept = match vouched {
                // The names are lowercase (checked above).
                true => message::out_field_vouched(name, value),
                false => message::out_field(name, value).ok().flatten(),
            };
            kept.map(|(range, sensitive)| (name, &value[range], sensitive))
        });
        let mut all = std::iter::once((&b":status"[..], &digits[..], false)).chain(regular);
        self.send.write_fields(id, &mut all, false, is_final);
        if is_final {
            if let Some(s) = self.streams.get_mut(id) {
                s.send = SendSide::Body(send_body);
            }
        }
        Ok(())
    }

    /// The body rule of stream `id` if we may send body or trailers on it now.
    fn sendable(&self, id: u32) -> Result<SendBody, LocalProtocolError> {
        match self.streams.get(id).map(|s| s.send) {
            Some(SendSide::Body(rule)) => Ok(rule),
            _ => Err(LocalProtocolError::InvalidStream),
        }
    }

    fn send_data(&mut self, id: u32, data: Bytes) -> Result<(), LocalProtocolError> {
        let rule = self.sendable(id)?.after_data(data.len())?;
        if data.len() > self.send_window(id) {
            return Err(LocalProtocolError::FlowControlWindowExceeded);
        }
        let Some(stream) = self.streams.get_mut(id) else {
            return Err(LocalProtocolError::InvalidStream);
        };
        stream.send = SendSide::Body(rule);
        self.send.write_data(id, data, &mut stream.send_window);
        Ok(())
    }

    fn send_end(&mut self, id: u32, trailers: Headers) -> Result<(), LocalProtocolError> {
        self.sendable(id)?.check_end()?;
        if trailers.is_empty() {
            self.send.end_stream(id);
        } else {
            let fields = message::trailer_fields(&trailers)?;
            self.send.write_header_block(id, &fields, true, false);
        }
        if let Some(s) = self.streams.get_mut(id) {
            s.send = SendSide::Closed;
        }
        self.streams.remove_if_closed(id);
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
