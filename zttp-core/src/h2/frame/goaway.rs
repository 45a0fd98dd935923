//! GOAWAY (RFC 9113 §6.8).

use bytes::{BufMut, Bytes, BytesMut};

use super::{be_u32, Head, Kind, LoadResult, StreamId};
use crate::ErrorCode;

/// The sender will open or accept no stream above `last_stream_id`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct GoAway {
    pub(crate) last_stream_id: StreamId,
    pub(crate) code: ErrorCode,
    pub(crate) debug_data: Bytes,
}

impl GoAway {
    pub(crate) fn load(head: Head, payload: Bytes) -> LoadResult<GoAway> {
        if !head.stream_id.is_zero() {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        if payload.len() < 8 {
            return Err(ErrorCode::FRAME_SIZE_ERROR);
        }
        Ok(GoAway {
            last_stream_id: StreamId::from_be([payload[0], payload[1], payload[2], payload[3]]),
            code: ErrorCode(be_u32(&payload, 4)),
            debug_data: payload.slice(8..),
        })
    }

    pub(crate) fn encode(&self, dst: &mut BytesMut) {
        Head::new(Kind::GOAWAY, 0, StreamId::ZERO, 8 + self.debug_data.len()).encode(dst);
        dst.put_u32(self.last_stream_id.0);
        dst.put_u32(self.code.0);
        dst.put_slice(&self.debug_data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_with_debug_data() {
        let g = GoAway {
            last_stream_id: StreamId(41),
            code: ErrorCode::ENHANCE_YOUR_CALM,
            debug_data: Bytes::from_static(b"slow down"),
        };
        let mut buf = BytesMut::new();
        g.encode(&mut buf);
        let head = Head::parse(&buf).unwrap();
        assert_eq!(GoAway::load(head, buf.freeze().slice(9..)), Ok(g));
    }

    #[test]
    fn rejects_short_payload() {
        let head = Head::new(Kind::GOAWAY, 0, StreamId(0), 7);
        assert_eq!(
            GoAway::load(head, Bytes::from_static(&[0; 7])),
            Err(ErrorCode::FRAME_SIZE_ERROR)
        );
    }
}
