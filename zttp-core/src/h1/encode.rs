//! Serialising heads and bodies on the send side (RFC 9112 §3–§7).

use bytes::{BufMut, Bytes};

use super::parse::{is_field_vchar, is_tchar};
use crate::outbound::Outbound;
use crate::{Headers, LocalProtocolError};

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
        if !trailers.is_empty() && *self != BodyEncoder::Chunked {
            return Err(LocalProtocolError::TrailersNotAllowed);
        }
        match self {
            BodyEncoder::Length(n) if *n > 0 => Err(LocalProtocolError::TooLittleData),
            BodyEncoder::Chunked => {
                validate_fields(trailers)?;
                out.put_slice(b"0\r\n");
                write_fields(trailers, out);
                out.put_slice(b"\r\n");
                Ok(())
            }
            _ => Ok(()),
        }
    }
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
        let name_ok = !name.is_empty() && name.iter().all(|&b| is_tchar(b));
        let value_ok = value.iter().all(|&b| is_field_vchar(b));
        if !name_ok || !value_ok {
            return Err(LocalProtocolError::InvalidHeader);
        }
    }
    Ok(())
}

/// Writes `name: value\r\n` for each field (without the final empty line).
pub(crate) fn write_fields(headers: &Headers, out: &mut Outbound) {
    let buf = out.tail_mut();
    let before = buf.len();
    for (name, value) in headers {
        buf.reserve(name.len() + value.len() + 4);
        buf.put_slice(name);
        buf.put_slice(b": ");
        buf.put_slice(value);
        buf.put_slice(b"\r\n");
    }
    let n = buf.len() - before;
    out.commit(n);
}
