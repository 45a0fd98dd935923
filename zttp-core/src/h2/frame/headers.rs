//! HEADERS (RFC 9113 §6.2), and the writing of a header block as HEADERS
//! followed by as many CONTINUATION frames as the peer's frame size needs.

use bytes::{Bytes, BytesMut};

use super::{flags, Head, Kind, LoadResult, Priority, StreamId, HEAD_LEN};
use crate::ErrorCode;

/// A HEADERS frame: the first fragment of a header block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Headers {
    pub(crate) stream_id: StreamId,
    pub(crate) end_stream: bool,
    pub(crate) end_headers: bool,
    /// The priority block, if the PRIORITY flag was set (not checked for self-dependency).
    pub(crate) priority: Option<Priority>,
    pub(crate) fragment: Bytes,
}

impl Headers {
    pub(crate) fn load(head: Head, payload: Bytes) -> LoadResult<Headers> {
        if head.stream_id.is_zero() {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        let mut start = 0;
        let mut pad = 0;
        if head.has(flags::PADDED) {
            pad = *payload.first().ok_or(ErrorCode::FRAME_SIZE_ERROR)? as usize;
            start = 1;
        }
        let mut priority = None;
        if head.has(flags::PRIORITY) {
            let block = payload
                .get(start..start + Priority::LEN)
                .ok_or(ErrorCode::FRAME_SIZE_ERROR)?;
            priority = Some(Priority::parse_block(head.stream_id, block)?);
            start += Priority::LEN;
        }
        if start + pad > payload.len() {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        Ok(Headers {
            stream_id: head.stream_id,
            end_stream: head.has(flags::END_STREAM),
            end_headers: head.has(flags::END_HEADERS),
            priority,
            fragment: payload.slice(start..payload.len() - pad),
        })
    }
}

/// Writes a header block on `stream_id`: reserves a HEADERS head in `dst`, lets
/// `encode` append the HPACK block right after it, and splits the block into
/// CONTINUATION frames when it is longer than `max_frame_size` (a copy only
/// in that rare case). Returns the number of bytes appended.
pub(crate) fn encode_header_block(
    stream_id: StreamId,
    end_stream: bool,
    max_frame_size: usize,
    dst: &mut BytesMut,
    encode: impl FnOnce(&mut BytesMut),
) -> usize {
    let start = dst.len();
    dst.extend_from_slice(&[0; HEAD_LEN]);
    encode(dst);
    let block_len = dst.len() - start - HEAD_LEN;
    let end_flag = if end_stream { flags::END_STREAM } else { 0 };
    if block_len <= max_frame_size {
        Head::new(
            Kind::HEADERS,
            end_flag | flags::END_HEADERS,
            stream_id,
            block_len,
        )
        .encode_into(&mut dst[start..start + HEAD_LEN]);
        return dst.len() - start;
    }
    let block = dst.split_off(start + HEAD_LEN).freeze();
    dst.truncate(start);
    let mut chunks = block.chunks(max_frame_size.max(1)).peekable();
    let mut kind = Kind::HEADERS;
    let mut fl = end_flag;
    while let Some(chunk) = chunks.next() {
        if chunks.peek().is_none() {
            fl |= flags::END_HEADERS;
        }
        Head::new(kind, fl, stream_id, chunk.len()).encode(dst);
        dst.extend_from_slice(chunk);
        kind = Kind::CONTINUATION;
        fl = 0;
    }
    dst.len() - start
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_padding_and_priority() {
        let mut payload = vec![3u8, 0x80, 0, 0, 1, 15];
        payload.extend_from_slice(b"block");
        payload.extend_from_slice(&[0, 0, 0]);
        let head = Head::new(
            Kind::HEADERS,
            flags::PADDED | flags::PRIORITY | flags::END_STREAM,
            StreamId(3),
            payload.len(),
        );
        let h = Headers::load(head, Bytes::from(payload)).unwrap();
        assert_eq!(&h.fragment[..], b"block");
        assert!(h.end_stream && !h.end_headers);
        let p = h.priority.unwrap();
        assert_eq!(
            (p.dependency, p.exclusive, p.weight),
            (StreamId(1), true, 15)
        );
    }

    #[test]
    fn rejects_padding_longer_than_payload() {
        let head = Head::new(Kind::HEADERS, flags::PADDED, StreamId(1), 3);
        assert_eq!(
            Headers::load(head, Bytes::from_static(&[3, 0, 0])),
            Err(ErrorCode::PROTOCOL_ERROR)
        );
    }

    #[test]
    fn small_block_is_one_headers_frame() {
        let mut dst = BytesMut::from(&b"xx"[..]);
        let n = encode_header_block(StreamId(1), true, 16_384, &mut dst, |b| {
            b.extend_from_slice(b"abc")
        });
        assert_eq!(n, 12);
        let head = Head::parse(&dst[2..]).unwrap();
        assert_eq!(head.kind, Kind::HEADERS);
        assert_eq!(head.flags, flags::END_STREAM | flags::END_HEADERS);
        assert_eq!(&dst[11..], b"abc");
    }

    #[test]
    fn large_block_is_split_into_continuation_frames() {
        let mut dst = BytesMut::new();
        encode_header_block(StreamId(5), true, 4, &mut dst, |b| {
            b.extend_from_slice(b"0123456789")
        });
        let mut frames = Vec::new();
        let mut rest = &dst[..];
        while let Some(head) = Head::parse(rest) {
            let len = head.length as usize;
            frames.push((head.kind, head.flags, rest[9..9 + len].to_vec()));
            rest = &rest[9 + len..];
        }
        assert_eq!(
            frames,
            vec![
                (Kind::HEADERS, flags::END_STREAM, b"0123".to_vec()),
                (Kind::CONTINUATION, 0, b"4567".to_vec()),
                (Kind::CONTINUATION, flags::END_HEADERS, b"89".to_vec()),
            ]
        );
    }
}
