//! PING (RFC 9113 §6.7).

use bytes::{BufMut, BytesMut};

use super::{flags, Head, Kind, LoadResult, StreamId};
use crate::ErrorCode;

/// A liveness probe, or the answer to one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ping {
    pub(crate) ack: bool,
    pub(crate) data: [u8; 8],
}

impl Ping {
    pub(crate) fn load(head: Head, payload: &[u8]) -> LoadResult<Ping> {
        if !head.stream_id.is_zero() {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        let data: [u8; 8] = payload
            .try_into()
            .map_err(|_| ErrorCode::FRAME_SIZE_ERROR)?;
        Ok(Ping {
            ack: head.has(flags::ACK),
            data,
        })
    }

    pub(crate) fn encode(&self, dst: &mut BytesMut) {
        let flags = if self.ack { flags::ACK } else { 0 };
        Head::new(Kind::PING, flags, StreamId::ZERO, 8).encode(dst);
        dst.put_slice(&self.data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let p = Ping {
            ack: true,
            data: *b"12345678",
        };
        let mut buf = BytesMut::new();
        p.encode(&mut buf);
        let head = Head::parse(&buf).unwrap();
        assert_eq!(Ping::load(head, &buf[9..]), Ok(p));
    }

    #[test]
    fn rejects_wrong_length_and_nonzero_stream() {
        let head = Head::new(Kind::PING, 0, StreamId(0), 7);
        assert_eq!(Ping::load(head, &[0; 7]), Err(ErrorCode::FRAME_SIZE_ERROR));
        let head = Head::new(Kind::PING, 0, StreamId(1), 8);
        assert_eq!(Ping::load(head, &[0; 8]), Err(ErrorCode::PROTOCOL_ERROR));
    }
}
