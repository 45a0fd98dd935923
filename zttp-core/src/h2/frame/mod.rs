//! HTTP/2 frames (RFC 9113 §4 and §6): one file per frame type, each with
//! `load` (from a frame head and its payload) and `encode` (into a buffer).
//!
//! `load` checks what the frame alone can tell (lengths, padding, flags and
//! the stream-id rules of its type) and returns the error code to send;
//! whether that becomes a stream or a connection error is the connection's
//! decision, since it depends on the frame type and stream state.

mod continuation;
mod data;
mod goaway;
mod headers;
mod ping;
mod priority;
mod push_promise;
mod rst_stream;
mod settings;
mod window_update;

use bytes::{BufMut, Bytes, BytesMut};

use crate::ErrorCode;

pub(crate) use continuation::Continuation;
pub(crate) use data::Data;
pub(crate) use goaway::GoAway;
pub(crate) use headers::{encode_header_block, Headers};
pub(crate) use ping::Ping;
pub(crate) use priority::Priority;
pub(crate) use push_promise::PushPromise;
pub(crate) use rst_stream::RstStream;
pub(crate) use settings::SettingsFrame;
pub(crate) use window_update::WindowUpdate;

/// Length of the fixed frame head.
pub(crate) const HEAD_LEN: usize = 9;
/// SETTINGS_MAX_FRAME_SIZE before the peer says otherwise, and its lower bound.
pub(crate) const DEFAULT_MAX_FRAME_SIZE: u32 = 16_384;
/// The upper bound of SETTINGS_MAX_FRAME_SIZE.
pub(crate) const MAX_MAX_FRAME_SIZE: u32 = (1 << 24) - 1;
/// Largest flow-control window (RFC 9113 §6.9.1).
pub(crate) const MAX_WINDOW: u32 = (1 << 31) - 1;

/// Result of loading a frame: the error code is what the frame itself got wrong.
pub(crate) type LoadResult<T> = Result<T, ErrorCode>;

/// A frame type (RFC 9113 §6). Unknown types survive as their number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Kind(pub u8);

impl Kind {
    pub(crate) const DATA: Kind = Kind(0x0);
    pub(crate) const HEADERS: Kind = Kind(0x1);
    pub(crate) const PRIORITY: Kind = Kind(0x2);
    pub(crate) const RST_STREAM: Kind = Kind(0x3);
    pub(crate) const SETTINGS: Kind = Kind(0x4);
    pub(crate) const PUSH_PROMISE: Kind = Kind(0x5);
    pub(crate) const PING: Kind = Kind(0x6);
    pub(crate) const GOAWAY: Kind = Kind(0x7);
    pub(crate) const WINDOW_UPDATE: Kind = Kind(0x8);
    pub(crate) const CONTINUATION: Kind = Kind(0x9);
}

pub(crate) use crate::StreamId;

/// Frame flags.
pub(crate) mod flags {
    /// DATA, HEADERS: last frame of the stream in this direction.
    pub(crate) const END_STREAM: u8 = 0x1;
    /// SETTINGS, PING: an acknowledgement.
    pub(crate) const ACK: u8 = 0x1;
    /// HEADERS, PUSH_PROMISE, CONTINUATION: the header block is complete.
    pub(crate) const END_HEADERS: u8 = 0x4;
    /// DATA, HEADERS, PUSH_PROMISE: a pad length byte leads the payload.
    pub(crate) const PADDED: u8 = 0x8;
    /// HEADERS: a priority block follows the pad length.
    pub(crate) const PRIORITY: u8 = 0x20;
}

/// The 9-byte frame head (RFC 9113 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    /// Payload length (24 bits).
    pub(crate) length: u32,
    pub(crate) kind: Kind,
    pub(crate) flags: u8,
    pub(crate) stream_id: StreamId,
}

impl Head {
    /// A head for a frame of `kind` on `stream_id`.
    pub(crate) fn new(kind: Kind, flags: u8, stream_id: StreamId, length: usize) -> Head {
        debug_assert!(length <= MAX_MAX_FRAME_SIZE as usize);
        Head {
            length: length as u32,
            kind,
            flags,
            stream_id,
        }
    }

    /// Parses the first nine bytes of `src`, if there are nine.
    pub(crate) fn parse(src: &[u8]) -> Option<Head> {
        let h: &[u8; HEAD_LEN] = src.get(..HEAD_LEN)?.try_into().ok()?;
        Some(Head {
            length: u32::from_be_bytes([0, h[0], h[1], h[2]]),
            kind: Kind(h[3]),
            flags: h[4],
            stream_id: StreamId::from_be([h[5], h[6], h[7], h[8]]),
        })
    }

    /// True when `flag` is set.
    pub(crate) fn has(&self, flag: u8) -> bool {
        self.flags & flag != 0
    }

    /// Appends the nine bytes.
    pub(crate) fn encode(&self, dst: &mut BytesMut) {
        let mut head = [0; HEAD_LEN];
        self.encode_into(&mut head);
        dst.put_slice(&head);
    }

    /// Writes the nine bytes of the head over `dst`.
    pub(crate) fn encode_into(&self, dst: &mut [u8]) {
        dst[..3].copy_from_slice(&self.length.to_be_bytes()[1..]);
        dst[3] = self.kind.0;
        dst[4] = self.flags;
        dst[5..HEAD_LEN].copy_from_slice(&self.stream_id.0.to_be_bytes());
    }

    /// Sets END_STREAM in the encoded head of a HEADERS or DATA frame.
    pub(crate) fn set_end_stream(encoded: &mut [u8]) {
        debug_assert!(matches!(Kind(encoded[3]), Kind::HEADERS | Kind::DATA));
        encoded[4] |= flags::END_STREAM;
    }
}

/// How many payload bytes a frame's padding takes, its pad-length byte
/// included: 0 unless PADDED (RFC 9113 §6.1). `pad_length` is the payload's
/// first byte (`None` for an empty payload, a FRAME_SIZE_ERROR when PADDED).
/// Padding as long as the payload or longer is a PROTOCOL_ERROR.
pub(crate) fn padding_len(head: &Head, pad_length: Option<u8>) -> LoadResult<u32> {
    if !head.has(flags::PADDED) {
        return Ok(0);
    }
    let Some(pad) = pad_length else {
        return Err(ErrorCode::FRAME_SIZE_ERROR);
    };
    if u32::from(pad) >= head.length {
        return Err(ErrorCode::PROTOCOL_ERROR);
    }
    Ok(1 + u32::from(pad))
}

/// Strips the pad length byte and padding of a PADDED frame, returning the
/// unpadded payload (see [`padding_len`]).
pub(crate) fn strip_padding(head: &Head, payload: Bytes) -> LoadResult<Bytes> {
    match padding_len(head, payload.first().copied())? as usize {
        0 => Ok(payload),
        padding => Ok(payload.slice(1..payload.len() + 1 - padding)),
    }
}

/// Reads a big-endian u32 at `at` (the caller checked the length).
fn be_u32(src: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([src[at], src[at + 1], src[at + 2], src[at + 3]])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn head_round_trips_and_ignores_reserved_bit() {
        let head = Head::new(Kind::HEADERS, flags::END_HEADERS, StreamId(7), 0x01_02_03);
        let mut buf = BytesMut::new();
        head.encode(&mut buf);
        assert_eq!(&buf[..], &[1, 2, 3, 1, 4, 0, 0, 0, 7]);
        assert_eq!(Head::parse(&buf), Some(head));
        buf[5] |= 0x80;
        assert_eq!(Head::parse(&buf).unwrap().stream_id, StreamId(7));
        assert_eq!(Head::parse(&buf[..8]), None);
    }

    #[test]
    fn padding_must_be_shorter_than_payload() {
        let head = Head::new(Kind::DATA, flags::PADDED, StreamId(1), 4);
        let ok = strip_padding(&head, Bytes::from_static(&[2, b'x', 0, 0])).unwrap();
        assert_eq!(&ok[..], b"x");
        let empty = strip_padding(&head, Bytes::from_static(&[3, 0, 0, 0])).unwrap();
        assert!(empty.is_empty());
        assert_eq!(
            strip_padding(&head, Bytes::from_static(&[4, 0, 0, 0])),
            Err(ErrorCode::PROTOCOL_ERROR)
        );
        assert_eq!(
            strip_padding(&head, Bytes::new()),
            Err(ErrorCode::FRAME_SIZE_ERROR)
        );
    }
}
