//! Serialising heads and bodies on the send side (RFC 9112 §3–§7).

use bytes::{Bytes, BytesMut};

use super::parse::{is_field_value, is_token, token_is};
use super::{ContentLength, TransferCodings};
use crate::outbound::Outbound;
use crate::{split_list, Headers, LocalProtocolError};

/// How the body of the message being sent is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyEncoder {
    /// No body may be sent (HEAD response, 1xx, 204, 304, bodiless request).
    None,
    /// Exactly this many bytes remain.
    Length(u64),
    /// Chunked transfer coding.
    Chunked,
    /// Everything until we close (HTTP/1.0 peers, responses only).
    UntilClose,
}

impl BodyEncoder {
    pub(crate) fn data(
        &mut self,
        data: Bytes,
        out: &mut Outbound,
    ) -> Result<(), LocalProtocolError> {
        match self {
            BodyEncoder::None if data.is_empty() => Ok(()),
            BodyEncoder::None => Err(LocalProtocolError::BodyNotAllowed),
            BodyEncoder::Length(remaining) => {
                if data.len() as u64 > *remaining {
                    return Err(LocalProtocolError::TooMuchData);
                }
                *remaining -= data.len() as u64;
                out.put_bytes(data);
                Ok(())
            }
            BodyEncoder::Chunked => {
                if !data.is_empty() {
                    write_hex(out, data.len());
                    out.put_slice(b"\r\n");
                    out.put_bytes(data);
                    out.put_slice(b"\r\n");
                }
                Ok(())
            }
            BodyEncoder::UntilClose => {
                out.put_bytes(data);
                Ok(())
            }
        }
    }

    pub(crate) fn end(
        &self,
        trailers: &Headers,
        out: &mut Outbound,
    ) -> Result<(), LocalProtocolError> {
        if trailers.is_empty() {
            return self.end_without_trailers(out);
        }
        if *self != BodyEncoder::Chunked {
            return Err(LocalProtocolError::TrailersNotAllowed);
        }
        match self {
            BodyEncoder::Chunked => {
                validate_fields(trailers)?;
                // RFC 9112 §7.1.2: a sender MUST NOT generate a trailer field
                // that is necessary for message framing.
                if trailers.iter().any(|(name, _)| {
                    name.eq_ignore_ascii_case(b"content-length")
                        || name.eq_ignore_ascii_case(b"transfer-encoding")
                }) {
                    return Err(LocalProtocolError::InvalidHeader);
                }
                out.put_slice(b"0\r\n");
                write_fields(trailers.iter().map(|(n, v)| (&n[..], &v[..])), out);
                out.put_slice(b"\r\n");
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Ends the body with no trailers.
    #[inline]
    pub(crate) fn end_without_trailers(
        &self,
        out: &mut Outbound,
    ) -> Result<(), LocalProtocolError> {
        match self {
            BodyEncoder::Length(n) if *n > 0 => Err(LocalProtocolError::TooLittleData),
            BodyEncoder::Chunked => {
                out.put_slice(b"0\r\n\r\n");
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Writes `content-length: n\r\n`: the digits are written from the end
/// of a line buffer, the name just before them, and the line goes out in
/// one copy.
pub(crate) fn write_content_length(out: &mut Outbound, mut n: u64) {
    const NAME: &[u8; 16] = b"content-length: ";
    let mut line = [0u8; 16 + 20 + 2];
    let end = line.len() - 2;
    line[end..].copy_from_slice(b"\r\n");
    let mut i = end;
    loop {
        i -= 1;
        line[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    line[i - NAME.len()..i].copy_from_slice(NAME);
    out.put_slice(&line[i - NAME.len()..]);
}

fn write_hex(out: &mut Outbound, mut n: usize) {
    let mut digits = [0u8; 16];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b"0123456789abcdef"[n & 0xf];
        n >>= 4;
        if n == 0 {
            break;
        }
    }
    out.put_slice(&digits[i..]);
}

/// Checks that no field can break the message framing.
pub(crate) fn validate_fields(headers: &Headers) -> Result<(), LocalProtocolError> {
    for (name, value) in headers {
        if !is_token(name) || !is_field_value(value) {
            return Err(LocalProtocolError::InvalidHeader);
        }
    }
    Ok(())
}

/// Writes `name: value\r\n` for each field (without the final empty line).
pub(crate) fn write_fields<'a>(
    fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    out: &mut Outbound,
) {
    let buf = out.tail_mut();
    let before = buf.len();
    for (name, value) in fields {
        put_field(buf, name, value);
    }
    let n = buf.len() - before;
    out.commit(n);
}

#[inline(always)]
fn put_field(buf: &mut BytesMut, name: &[u8], value: &[u8]) {
    // One capacity check up front; the four appends then only copy.
    buf.reserve(name.len() + value.len() + 4);
    buf.extend_from_slice(name);
    buf.extend_from_slice(b": ");
    buf.extend_from_slice(value);
    buf.extend_from_slice(b"\r\n");
}

/// Room reserved for a response head at its status line, so its fields
/// usually go out without growing the buffer.
const HEAD_RESERVE: usize = 256;

/// Writes `HTTP/1.1 code reason\r\n`, then `date: date\r\n` when given;
/// the caller checked the code is three digits. The usual `200 OK` and the
/// date line are copies of a fixed size (no copy of a length known only at
/// run time).
pub(crate) fn write_status_line(
    code: u16,
    reason: &[u8],
    date: Option<&[u8; 29]>,
    out: &mut Outbound,
) {
    const OK: &[u8; 17] = b"HTTP/1.1 200 OK\r\n";
    let buf = out.tail_mut();
    let before = buf.len();
    buf.reserve(15 + reason.len() + DATE_LINE + HEAD_RESERVE);
    if code == 200 && reason == b"OK" {
        buf.extend_from_slice(OK);
    } else {
        buf.extend_from_slice(&status_prefix(code));
        buf.extend_from_slice(reason);
        buf.extend_from_slice(b"\r\n");
    }
    if let Some(date) = date {
        buf.extend_from_slice(&date_line(date));
    }
    let n = buf.len() - before;
    out.commit(n);
}

/// Length of `date: <IMF-fixdate>\r\n`.
const DATE_LINE: usize = 6 + 29 + 2;

/// `date: <date>\r\n`.
#[inline(always)]
fn date_line(date: &[u8; 29]) -> [u8; DATE_LINE] {
    let mut line = *b"date: Thu, 01 Jan 1970 00:00:00 GMT\r\n";
    line[6..35].copy_from_slice(date);
    line
}

/// `HTTP/1.1 DDD ` for a three-digit code.
fn status_prefix(code: u16) -> [u8; 13] {
    let mut prefix = *b"HTTP/1.1 000 ";
    prefix[9] = b'0' + (code / 100) as u8;
    prefix[10] = b'0' + (code / 10 % 10) as u8;
    prefix[11] = b'0' + (code % 10) as u8;
    prefix
}

/// Removes the fields called `name` from those written since `mark` (each
/// `name: value\r\n`, already checked, so only CR LF ends a line).
pub(crate) fn unwrite_fields(out: &mut Outbound, mark: usize, name: &[u8]) {
    let written = Bytes::copy_from_slice(&out.tail_mut()[mark..]);
    out.truncate(mark);
    for line in written.split_inclusive(|&b| b == b'\n') {
        let colon = line.iter().position(|&b| b == b':').unwrap_or(0);
        if !line[..colon].eq_ignore_ascii_case(name) {
            out.put_slice(line);
        }
    }
}

/// What the fields of a head being sent say about its framing and the
/// connection, gathered while they are checked and written.
#[derive(Debug, Default)]
pub(crate) struct SentFields {
    pub(crate) transfer_codings: TransferCodings,
    pub(crate) content_length: ContentLength,
    /// A `Connection` field is present.
    pub(crate) connection: bool,
    /// A `Connection` field lists `close`.
    pub(crate) close: bool,
}

impl SentFields {
    fn note(&mut self, name: &[u8], value: &[u8]) {
        // The length picks the one name worth comparing; `name` is a token.
        match name.len() {
            10 if token_is(name, b"connection") => {
                self.connection = true;
                self.close |= split_list(value).any(|t| t.eq_ignore_ascii_case(b"close"));
            }
            14 if token_is(name, b"content-length") => {
                // The first error sticks; framing the head reports it.
                let _ = self.content_length.add(value);
            }
            17 if token_is(name, b"transfer-encoding") => self.transfer_codings.add(value),
            _ => {}
        }
    }
}

/// Checks (unless `check` is false: the caller vouches for the bytes) and
/// writes `name: value\r\n` for each field in one pass, noting the
/// framing fields. On an invalid field the fields before it stay written:
/// the caller rolls `out` back.
#[inline(always)]
pub(crate) fn write_checked_fields<'a>(
    fields: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    out: &mut Outbound,
    check: bool,
) -> Result<SentFields, LocalProtocolError> {
    let mut seen = SentFields::default();
    let mut result = Ok(());
    let buf = out.tail_mut();
    let before = buf.len();
    for (name, value) in fields {
        if check && (!is_token(name) || !is_field_value(value)) {
            result = Err(LocalProtocolError::InvalidHeader);
            break;
        }
        seen.note(name, value);
        put_field(buf, name, value);
    }
    let n = buf.len() - before;
    out.commit(n);
    result.map(|()| seen)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_lines_are_the_code_and_the_reason_given() {
        for (code, reason, line) in [
            (200, &b"OK"[..], &b"HTTP/1.1 200 OK\r\n"[..]),
            (200, b"Fine", b"HTTP/1.1 200 Fine\r\n"),
            (201, b"OK", b"HTTP/1.1 201 OK\r\n"),
            (599, b"", b"HTTP/1.1 599 \r\n"),
        ] {
            let mut out = Outbound::default();
            write_status_line(code, reason, None, &mut out);
            assert_eq!(out.len(), line.len());
            assert_eq!(&out.take_all()[..], line);
        }
    }

    #[test]
    fn a_date_follows_the_status_line() {
        let date = b"Sun, 06 Nov 1994 08:49:37 GMT";
        for (code, reason, line) in [
            (200, &b"OK"[..], &b"HTTP/1.1 200 OK\r\n"[..]),
            (200, b"Fine", b"HTTP/1.1 200 Fine\r\n"),
            (404, b"Not Found", b"HTTP/1.1 404 Not Found\r\n"),
        ] {
            let mut out = Outbound::default();
            write_status_line(code, reason, Some(date), &mut out);
            let mut expected = line.to_vec();
            expected.extend_from_slice(b"date: Sun, 06 Nov 1994 08:49:37 GMT\r\n");
            assert_eq!(out.len(), expected.len());
            assert_eq!(&out.take_all()[..], &expected[..]);
        }
    }

    #[test]
    fn content_lengths_are_written_in_decimal() {
        for n in [0, 1, 9, 10, 13, 65536, 999_999, u64::MAX] {
            let mut out = Outbound::default();
            write_content_length(&mut out, n);
            let line = format!("content-length: {n}\r\n");
            assert_eq!(out.len(), line.len());
            assert_eq!(&out.take_all()[..], line.as_bytes());
        }
    }

    #[test]
    fn head_lines_of_any_length_are_written_whole() {
        for len in [0, 1, 100, 113, 128, 300, 600] {
            let value = vec![b'v'; len];
            let mut out = Outbound::default();
            write_fields([(&b"x-name"[..], &value[..])], &mut out);
            write_status_line(404, &value, None, &mut out);
            let mut expected = b"x-name: ".to_vec();
            expected.extend_from_slice(&value);
            expected.extend_from_slice(b"\r\nHTTP/1.1 404 ");
            expected.extend_from_slice(&value);
            expected.extend_from_slice(b"\r\n");
            assert_eq!(out.len(), expected.len());
            assert_eq!(&out.take_all()[..], &expected[..], "len {len}");
        }
    }
}
