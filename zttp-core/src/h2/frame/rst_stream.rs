//! RST_STREAM (RFC 9113 §6.4).

use bytes::{BufMut, BytesMut};

use super::{be_u32, Head, Kind, LoadResult, StreamId};
use crate::ErrorCode;

/// Ends a stream abruptly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RstStream {
    pub(crate) stream_id: StreamId,
    pub(crate) code: ErrorCode,
}

impl RstStream {
    pub(crate) fn load(head: Head, payload: &[u8]) -> LoadResult<RstStream> {
        if head.stream_id.is_zero() {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        if payload.len() != 4 {
            return Err(ErrorCode::FRAME_SIZE_ERROR);
        }
        Ok(RstStream {
            stream_id: head.stream_id,
            code: ErrorCode(be_u32(payload, 0)),
        })
    }

    pub(crate) fn encode(&self, dst: &mut BytesMut) {
        Head::new(Kind::RST_STREAM, 0, self.stream_id, 4).encode(dst);
        dst.put_u32(self.code.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_unknown_codes() {
        let f = RstStream {
            stream_id: StreamId(9),
            code: ErrorCode(0xdead),
        };
        let mut buf = BytesMut::new();
        f.encode(&mut buf);
        let head = Head::parse(&buf).unwrap();
        assert_eq!(RstStream::load(head, &buf[9..]), Ok(f));
    }

    #[test]
    fn rejects_wrong_length_and_stream_zero() {
        let head = Head::new(Kind::RST_STREAM, 0, StreamId(1), 3);
        assert_eq!(
            RstStream::load(head, &[0; 3]),
            Err(ErrorCode::FRAME_SIZE_ERROR)
        );
        let head = Head::new(Kind::RST_STREAM, 0, StreamId(0), 4);
        assert_eq!(
            RstStream::load(head, &[0; 4]),
            Err(ErrorCode::PROTOCOL_ERROR)
        );
    }
}
