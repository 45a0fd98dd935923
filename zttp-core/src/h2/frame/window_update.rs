//! WINDOW_UPDATE (RFC 9113 §6.9).

use bytes::{BufMut, BytesMut};

use super::{Head, Kind, LoadResult, StreamId};
use crate::ErrorCode;

/// The sender can receive `increment` more bytes on a stream (or, on stream
/// 0, on the connection). A zero increment is loaded as is: whether it is a
/// stream or connection error depends on the stream (§6.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WindowUpdate {
    pub(crate) stream_id: StreamId,
    pub(crate) increment: u32,
}

impl WindowUpdate {
    pub(crate) fn load(head: Head, payload: &[u8]) -> LoadResult<WindowUpdate> {
        let b: [u8; 4] = payload
            .try_into()
            .map_err(|_| ErrorCode::FRAME_SIZE_ERROR)?;
        Ok(WindowUpdate {
            stream_id: head.stream_id,
            increment: StreamId::from_be(b).0,
        })
    }

    pub(crate) fn encode(&self, dst: &mut BytesMut) {
        Head::new(Kind::WINDOW_UPDATE, 0, self.stream_id, 4).encode(dst);
        dst.put_u32(self.increment);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let w = WindowUpdate {
            stream_id: StreamId(0),
            increment: 65_535,
        };
        let mut buf = BytesMut::new();
        w.encode(&mut buf);
        let head = Head::parse(&buf).unwrap();
        assert_eq!(WindowUpdate::load(head, &buf[9..]), Ok(w));
    }

    #[test]
    fn rejects_wrong_length() {
        let head = Head::new(Kind::WINDOW_UPDATE, 0, StreamId(1), 3);
        assert_eq!(
            WindowUpdate::load(head, &[0; 3]),
            Err(ErrorCode::FRAME_SIZE_ERROR)
        );
    }
}
