//! PUSH_PROMISE (RFC 9113 §6.6).

use bytes::Bytes;

use super::{flags, Head, LoadResult, StreamId};
use crate::ErrorCode;

/// A server's promise of a response on `promised_stream_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PushPromise {
    pub(crate) stream_id: StreamId,
    pub(crate) promised_stream_id: StreamId,
    pub(crate) end_headers: bool,
    pub(crate) fragment: Bytes,
}

impl PushPromise {
    pub(crate) fn load(head: Head, payload: Bytes) -> LoadResult<PushPromise> {
        if head.stream_id.is_zero() {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        let payload = super::strip_padding(&head, payload)?;
        if payload.len() < 4 {
            return Err(ErrorCode::FRAME_SIZE_ERROR);
        }
        Ok(PushPromise {
            stream_id: head.stream_id,
            promised_stream_id: StreamId::from_be([payload[0], payload[1], payload[2], payload[3]]),
            end_headers: head.has(flags::END_HEADERS),
            fragment: payload.slice(4..),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h2::frame::Kind;

    #[test]
    fn loads_promised_stream() {
        let head = Head::new(Kind::PUSH_PROMISE, flags::END_HEADERS, StreamId(1), 6);
        let p = PushPromise::load(head, Bytes::from_static(&[0, 0, 0, 2, b'h', b'b'])).unwrap();
        assert_eq!(p.promised_stream_id, StreamId(2));
        assert_eq!(&p.fragment[..], b"hb");
    }
}
