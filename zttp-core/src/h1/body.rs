//! Body framing on the read side: Content-Length, chunked and close-delimited
//! (RFC 9112 §6–§7). Each decoder is a resumable state machine over the
//! receive buffer and hands out zero-copy slices of it.

use bytes::{Buf, Bytes, BytesMut};

use super::parse::{is_tchar, section_fields, HeadScanner, Scan};
use crate::{Framing, Headers, Leniency, Limits, RemoteErrorKind};

/// What a decoder produced from the buffered bytes.
#[derive(Debug)]
pub(crate) enum BodyEvent {
    Data(Bytes),
    End(Headers),
    NeedData,
}

/// How the body of the message being read is delimited.
#[derive(Debug)]
pub(crate) enum BodyDecoder {
    /// Exactly this many bytes remain.
    Length(u64),
    /// Chunked transfer coding.
    Chunked(ChunkedDecoder),
    /// Everything until the peer closes (responses only).
    UntilClose,
}

impl BodyDecoder {
    /// The framing this decoder reads, as events report it.
    pub(crate) fn framing(&self) -> Framing {
        match self {
            BodyDecoder::Length(n) => Framing::of_length(*n),
            BodyDecoder::Chunked(_) => Framing::Chunked,
            BodyDecoder::UntilClose => Framing::UntilClose,
        }
    }

    /// Decodes the next piece from `buf`; `eof` means the peer closed.
    pub(crate) fn decode(
        &mut self,
        buf: &mut BytesMut,
        eof: bool,
        limits: &Limits,
        leniency: &Leniency,
    ) -> Result<BodyEvent, RemoteErrorKind> {
        match self {
            BodyDecoder::Length(0) => Ok(BodyEvent::End(Headers::new())),
            BodyDecoder::Length(remaining) => {
                if buf.is_empty() {
                    return if eof {
                        Err(RemoteErrorKind::IncompleteMessage)
                    } else {
                        Ok(BodyEvent::NeedData)
                    };
                }
                let n = (*remaining).min(buf.len() as u64) as usize;
                *remaining -= n as u64;
                Ok(BodyEvent::Data(buf.split_to(n).freeze()))
            }
            BodyDecoder::UntilClose => {
                if !buf.is_empty() {
                    Ok(BodyEvent::Data(buf.split().freeze()))
                } else if eof {
                    Ok(BodyEvent::End(Headers::new()))
                } else {
                    Ok(BodyEvent::NeedData)
                }
            }
            BodyDecoder::Chunked(c) => {
                let ev = c.decode(buf, limits, leniency)?;
                if matches!(ev, BodyEvent::NeedData) && eof {
                    return Err(RemoteErrorKind::IncompleteMessage);
                }
                Ok(ev)
            }
        }
    }
}

/// Where the chunked decoder stands (RFC 9112 §7.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    /// Reading hex digits of the chunk size.
    Size,
    /// After the size: extensions until CR.
    Extension,
    /// Expecting LF after the size line's CR.
    SizeLf,
    /// Reading chunk data; this many bytes remain.
    Data(u64),
    /// Expecting CR after chunk data.
    DataCr,
    /// Expecting LF after chunk data.
    DataLf,
    /// Reading the trailer section.
    Trailers,
    /// The last chunk and trailers were read.
    Done,
}

/// A resumable decoder for the chunked transfer coding.
#[derive(Debug)]
pub(crate) struct ChunkedDecoder {
    state: ChunkState,
    size: u64,
    size_digits: usize,
    ext: ExtensionParser,
    trailers: HeadScanner,
    body_len: u64,
}

impl ChunkedDecoder {
    pub(crate) fn new() -> Self {
        ChunkedDecoder {
            state: ChunkState::Size,
            size: 0,
            size_digits: 0,
            ext: ExtensionParser::default(),
            trailers: HeadScanner::default(),
            body_len: 0,
        }
    }

    fn decode(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
        leniency: &Leniency,
    ) -> Result<BodyEvent, RemoteErrorKind> {
        use ChunkState::*;
        loop {
            if self.state == Done {
                return Ok(BodyEvent::End(Headers::new()));
            }
            if let Data(remaining) = self.state {
                if buf.is_empty() {
                    return Ok(BodyEvent::NeedData);
                }
                let n = remaining.min(buf.len() as u64) as usize;
                self.state = if remaining == n as u64 {
                    DataCr
                } else {
                    Data(remaining - n as u64)
                };
                return Ok(BodyEvent::Data(buf.split_to(n).freeze()));
            }
            if self.state == Trailers {
                return self.decode_trailers(buf, limits, leniency);
            }
            let Some(&b) = buf.first() else {
                return Ok(BodyEvent::NeedData);
            };
            buf.advance(1);
            self.state = match (self.state, b) {
                (Size, b) if b.is_ascii_hexdigit() => {
                    let digit = (b as char).to_digit(16).unwrap_or(0) as u64;
                    self.size = self
                        .size
                        .checked_mul(16)
                        .and_then(|s| s.checked_add(digit))
                        .ok_or(RemoteErrorKind::InvalidChunkSize)?;
                    self.size_digits += 1;
                    Size
                }
                (Size, _) if self.size_digits == 0 => {
                    return Err(RemoteErrorKind::InvalidChunkSize)
                }
                (Size, b'\r') => SizeLf,
                (Size, b'\n') if leniency.bare_lf => self.end_size_line(limits)?,
                (Size, b'\n') => return Err(RemoteErrorKind::BareLf),
                (Size, b';' | b' ' | b'\t') => {
                    self.ext.reset();
                    self.ext.feed(b, limits)?;
                    Extension
                }
                (Size, _) => return Err(RemoteErrorKind::InvalidChunkSize),
                (Extension, b'\r') => {
                    self.ext.finish()?;
                    SizeLf
                }
                (Extension, b'\n') if leniency.bare_lf => {
                    self.ext.finish()?;
                    self.end_size_line(limits)?
                }
                (Extension, b) => {
                    self.ext.feed(b, limits)?;
                    Extension
                }
                (SizeLf, b'\n') => self.end_size_line(limits)?,
                (SizeLf, _) => return Err(RemoteErrorKind::BareCr),
                (DataCr, b'\r') => DataLf,
                (DataCr, b'\n') if leniency.bare_lf => Size,
                (DataCr, _) => return Err(RemoteErrorKind::InvalidChunkTerminator),
                (DataLf, b'\n') => Size,
                (DataLf, _) => return Err(RemoteErrorKind::InvalidChunkTerminator),
                (Data(_) | Trailers | Done, _) => unreachable!("handled above"),
            };
        }
    }

    /// A complete size line: start the chunk's data, or the trailers after the last chunk.
    fn end_size_line(&mut self, limits: &Limits) -> Result<ChunkState, RemoteErrorKind> {
        let size = std::mem::take(&mut self.size);
        self.size_digits = 0;
        if size == 0 {
            return Ok(ChunkState::Trailers);
        }
        self.body_len = self.body_len.saturating_add(size);
        if limits.max_body_size.is_some_and(|max| self.body_len > max) {
            return Err(RemoteErrorKind::BodyTooLarge);
        }
        Ok(ChunkState::Data(size))
    }

    fn decode_trailers(
        &mut self,
        buf: &mut BytesMut,
        limits: &Limits,
        leniency: &Leniency,
    ) -> Result<BodyEvent, RemoteErrorKind> {
        let max = limits.max_trailer_size;
        let end = match self.trailers.scan(
            buf,
            max,
            max,
            RemoteErrorKind::TrailersTooLarge,
            RemoteErrorKind::TrailersTooLarge,
            leniency,
        )? {
            Scan::Partial => return Ok(BodyEvent::NeedData),
            Scan::Complete(end) => end,
        };
        let section = buf.split_to(end).freeze();
        let trailers = section_fields(
            &section,
            &self.trailers.layout,
            false,
            leniency,
            limits.max_headers,
            Headers::new(),
            None,
        )?;
        self.state = ChunkState::Done;
        Ok(BodyEvent::End(trailers))
    }
}

/// Validates `*( BWS ";" BWS ext-name [ BWS "=" BWS ( token / quoted-string ) ] )`
/// one byte at a time, within a length limit.
#[derive(Debug, Default)]
struct ExtensionParser {
    state: ExtState,
    len: usize,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ExtState {
    /// Whitespace before `;`.
    #[default]
    BeforeSemi,
    /// After `;`, before the name.
    BeforeName,
    Name,
    /// After the name, before `=` or the next `;`.
    AfterName,
    /// After `=`, before the value.
    BeforeValue,
    Token,
    Quoted,
    QuotedEscape,
    /// After a value, before the next `;`.
    AfterValue,
}

impl ExtensionParser {
    fn reset(&mut self) {
        *self = ExtensionParser::default();
    }

    fn feed(&mut self, b: u8, limits: &Limits) -> Result<(), RemoteErrorKind> {
        use ExtState::*;
        self.len += 1;
        if self.len > limits.max_chunk_extensions {
            return Err(RemoteErrorKind::ChunkExtensionTooLarge);
        }
        let ws = matches!(b, b' ' | b'\t');
        self.state = match (self.state, b) {
            (BeforeSemi | Name | AfterName | AfterValue, b';') => BeforeName,
            (BeforeSemi | BeforeName | AfterValue | BeforeValue, _) if ws => self.state,
            (BeforeName | Name, b) if is_tchar(b) => Name,
            (Name | AfterName, _) if ws => AfterName,
            (Name | AfterName, b'=') => BeforeValue,
            (BeforeValue | Token, b) if is_tchar(b) => Token,
            (Token, _) if ws => AfterValue,
            (BeforeValue, b'"') => Quoted,
            (Quoted, b'"') => AfterValue,
            (Quoted, b'\\') => QuotedEscape,
            (Quoted, b) if b == b'\t' || (b >= 0x20 && b != 0x7f) => Quoted,
            (QuotedEscape, b) if b == b'\t' || (b >= 0x20 && b != 0x7f) => Quoted,
            (Token, b';') => BeforeName,
            _ => return Err(RemoteErrorKind::InvalidChunkExtension),
        };
        Ok(())
    }

    /// The line ended: the extensions must be complete.
    fn finish(&self) -> Result<(), RemoteErrorKind> {
        match self.state {
            ExtState::Name | ExtState::AfterName | ExtState::Token | ExtState::AfterValue => Ok(()),
            _ => Err(RemoteErrorKind::InvalidChunkExtension),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> Result<(Vec<u8>, Headers), RemoteErrorKind> {
        let mut dec = BodyDecoder::Chunked(ChunkedDecoder::new());
        let mut buf = BytesMut::from(input);
        let mut body = Vec::new();
        loop {
            match dec.decode(&mut buf, true, &Limits::default(), &Leniency::default())? {
                BodyEvent::Data(d) => body.extend_from_slice(&d),
                BodyEvent::End(t) => return Ok((body, t)),
                BodyEvent::NeedData => unreachable!(),
            }
        }
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let (body, trailers) =
            decode_all(b"5;a=b;c=\"d;e\"\r\nhello\r\n1 ; x\r\n!\r\n0\r\nX-T: 1\r\n\r\n").unwrap();
        assert_eq!(body, b"hello!");
        assert_eq!(trailers.get(b"x-t").unwrap(), "1");
    }

    #[test]
    fn rejects_chunk_sizes_with_prefixes_signs_or_overflow() {
        for bad in [
            &b"0x5\r\n"[..],
            b"+5\r\n",
            b"-5\r\n",
            b"5_0\r\n",
            b"11111111111111111\r\n",
            b"\r\n",
        ] {
            assert_eq!(
                decode_all(bad).unwrap_err(),
                RemoteErrorKind::InvalidChunkSize,
                "{bad:?}"
            );
        }
    }

    #[test]
    fn rejects_malformed_extensions_and_terminators() {
        assert_eq!(
            decode_all(b"5;\r\nhello\r\n0\r\n\r\n").unwrap_err(),
            RemoteErrorKind::InvalidChunkExtension
        );
        assert_eq!(
            decode_all(b"5;a=\"x\r\nhello\r\n0\r\n\r\n").unwrap_err(),
            RemoteErrorKind::InvalidChunkExtension
        );
        assert_eq!(
            decode_all(b"5\r\nhelloXX0\r\n\r\n").unwrap_err(),
            RemoteErrorKind::InvalidChunkTerminator
        );
    }
}
