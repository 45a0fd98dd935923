//! Response heads: the fields the loop adds to a handler's head (`Date`,
//! `Content-Length` when the body's size is known, `Connection: close` when
//! the connection ends after it), sent through the core in one pass.

use std::time::Instant;

use http_body::Body as _;
use zttp_core::{Connection, EndOfMessage, LocalProtocolError, StreamId};

use super::convert::{self, Decimal, PresentFields};
use super::exchange::Exchange;
use crate::body::Body;
use crate::date::http_date;

/// A response head's fields: the handler's and the ones the loop adds. A
/// view the core may walk twice (HTTP/2 checks, then encodes).
#[derive(Clone, Copy)]
struct HeadFields<'a> {
    headers: &'a http::HeaderMap,
    date: Option<&'a [u8]>,
    content_length: Option<&'a [u8]>,
    close: bool,
}

type Field<'a> = (&'a [u8], &'a [u8]);

impl<'a> IntoIterator for HeadFields<'a> {
    type Item = Field<'a>;
    type IntoIter = HeadFieldsIter<'a>;

    #[inline(always)]
    fn into_iter(self) -> HeadFieldsIter<'a> {
        HeadFieldsIter {
            handler: self.headers.iter(),
            date: self.date,
            content_length: self.content_length,
            close: self.close,
        }
    }
}

/// The handler's fields, then the ones the loop adds (each taken once).
struct HeadFieldsIter<'a> {
    handler: http::header::Iter<'a, http::HeaderValue>,
    date: Option<&'a [u8]>,
    content_length: Option<&'a [u8]>,
    close: bool,
}

impl<'a> Iterator for HeadFieldsIter<'a> {
    type Item = Field<'a>;

    #[inline(always)]
    fn next(&mut self) -> Option<Field<'a>> {
        if let Some((name, value)) = self.handler.next() {
            return Some((name.as_str().as_bytes(), value.as_bytes()));
        }
        if let Some(date) = self.date.take() {
            return Some((b"date", date));
        }
        if let Some(n) = self.content_length.take() {
            return Some((b"content-length", n));
        }
        match std::mem::take(&mut self.close) {
            true => Some((b"connection", b"close")),
            false => None,
        }
    }
}

/// What follows a response head that went out.
pub(super) enum AfterHead {
    /// Nothing: the response has no body (the caller ends it).
    Complete,
    /// The body, to stream.
    Body,
    /// HTTP/1.1: the connection switches protocols once the head is written.
    Upgrade,
}

/// Sends the head of `ex`'s response. `closing`: the connection ends after
/// this exchange (HTTP/1.1 adds `Connection: close` unless the handler set
/// a `Connection` field itself).
pub(super) fn send(
    core: &mut Connection,
    now: Instant,
    ex: &Exchange,
    parts: &http::response::Parts,
    body: &Body,
    closing: bool,
) -> Result<AfterHead, LocalProtocolError> {
    send_head(core, now, ex, parts.status, &parts.headers, body, closing)
}

/// [`send`] for a whole response, left where it is (it is large).
pub(super) fn send_response(
    core: &mut Connection,
    now: Instant,
    ex: &Exchange,
    response: &http::Response<Body>,
    closing: bool,
) -> Result<AfterHead, LocalProtocolError> {
    let (status, headers) = (response.status(), response.headers());
    send_head(core, now, ex, status, headers, response.body(), closing)
}

#[inline]
fn send_head(
    core: &mut Connection,
    now: Instant,
    ex: &Exchange,
    status: http::StatusCode,
    headers: &http::HeaderMap,
    body: &Body,
    closing: bool,
) -> Result<AfterHead, LocalProtocolError> {
    let http2 = core.protocol() == zttp_core::Protocol::Http2;
    let status = status.as_u16();
    let upgrading = !http2
        && ex.upgrade.is_some()
        && (status == 101 || ex.connect && (200..300).contains(&status));
    let bodyless = ex.head_request || upgrading || matches!(status, 100..=199 | 204 | 304);
    let present = PresentFields::of(headers);
    let content_length = match body.size_hint().exact() {
        _ if present.framing => None,
        _ if upgrading || matches!(status, 100..=199 | 204 | 304) => None,
        Some(0) if ex.head_request => None,
        n => n,
    };
    // Close when shutting down, or when an expected body will never be read.
    let unwanted_body = ex.expect_continue && !ex.continue_sent && !ex.request_done;
    let close = (closing || unwanted_body) && !http2 && !present.connection;
    let date = (!present.date).then(|| http_date(now));
    // HTTP/1.1 takes the length as a number, written after the fields;
    // HTTP/2 encodes it as one of them.
    let mut digits = Decimal::default();
    let (length, length_field) = match http2 {
        true => (None, content_length.map(|n| digits.format(n))),
        false => (content_length, None),
    };
    // HTTP/1.1 writes the date with the status line; HTTP/2 encodes it as
    // one of the fields.
    let (date, date_field) = match http2 {
        true => (None, date.as_ref().map(|d| &d[..])),
        false => (date.as_ref(), None),
    };
    let fields = HeadFields {
        headers,
        date: date_field,
        content_length: length_field,
        close,
    };
    // `http`'s names are tokens and its values hold only field-value bytes
    // (no CR, LF, NUL or other control but HTAB), the check the core would
    // make again; the fields added here are written by the loop itself.
    core.send_response_head_prechecked_dated(ex.stream_id, status, date, fields, length)?;
    Ok(if upgrading {
        AfterHead::Upgrade
    } else if bodyless || body.is_end_stream() {
        AfterHead::Complete
    } else {
        AfterHead::Body
    })
}

/// Ends the response on `stream_id`, with `trailers` where the protocol
/// and the peer allow them (else they are dropped).
pub(super) fn end(
    core: &mut Connection,
    stream_id: StreamId,
    trailers: Option<http::HeaderMap>,
) -> Result<(), LocalProtocolError> {
    let trailers = trailers.map(|t| convert::fields(&t)).unwrap_or_default();
    match core.send(EndOfMessage {
        stream_id,
        trailers,
    }) {
        Err(LocalProtocolError::TrailersNotAllowed) => core.send(EndOfMessage {
            stream_id,
            ..EndOfMessage::default()
        }),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_fields_are_the_handlers_in_order_then_the_added_ones() {
        let mut headers = http::HeaderMap::new();
        headers.append("x-many", http::HeaderValue::from_static("a"));
        headers.append("content-type", http::HeaderValue::from_static("text/plain"));
        headers.append("x-many", http::HeaderValue::from_static("b"));
        let all = HeadFields {
            headers: &headers,
            date: Some(b"Thu, 01 Jan 1970 00:00:00 GMT"),
            content_length: Some(b"13"),
            close: true,
        };
        let handlers: Vec<Field<'_>> = headers
            .iter()
            .map(|(n, v)| (n.as_str().as_bytes(), v.as_bytes()))
            .collect();
        let mut expected = handlers.clone();
        expected.extend([
            (&b"date"[..], &b"Thu, 01 Jan 1970 00:00:00 GMT"[..]),
            (b"content-length", b"13"),
            (b"connection", b"close"),
        ]);
        // Walked twice (HTTP/2 checks, then encodes): the same fields each time.
        for _ in 0..2 {
            assert_eq!(all.into_iter().collect::<Vec<_>>(), expected);
        }
        let none = HeadFields {
            date: None,
            content_length: None,
            close: false,
            ..all
        };
        assert_eq!(none.into_iter().collect::<Vec<_>>(), handlers);
        let empty = http::HeaderMap::new();
        let only_close = HeadFields {
            headers: &empty,
            close: true,
            ..none
        };
        assert_eq!(
            only_close.into_iter().collect::<Vec<_>>(),
            [(&b"connection"[..], &b"close"[..])]
        );
    }
}
