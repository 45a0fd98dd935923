//! PRIORITY (RFC 9113 §6.3): parsed and validated, then ignored (§5.3.2
//! deprecates the priority scheme).

#[cfg(test)]
use bytes::{BufMut, BytesMut};

#[cfg(test)]
use super::Kind;
use super::{be_u32, Head, LoadResult, StreamId};
use crate::ErrorCode;

/// A stream dependency and weight, from PRIORITY or a HEADERS priority block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Priority {
    pub(crate) stream_id: StreamId,
    pub(crate) dependency: StreamId,
    pub(crate) exclusive: bool,
    pub(crate) weight: u8,
}

impl Priority {
    /// Length of the priority block.
    pub(crate) const LEN: usize = 5;

    /// Parses a 5-byte priority block for `stream_id` (self-dependency unchecked).
    pub(crate) fn parse_block(stream_id: StreamId, src: &[u8]) -> LoadResult<Priority> {
        if src.len() < Self::LEN {
            return Err(ErrorCode::FRAME_SIZE_ERROR);
        }
        let word = be_u32(src, 0);
        Ok(Priority {
            stream_id,
            dependency: StreamId(word & super::MAX_WINDOW),
            exclusive: word & 0x8000_0000 != 0,
            weight: src[4],
        })
    }

    /// A stream may not depend on itself (a stream error, RFC 9113 §5.3.1).
    pub(crate) fn is_self_dependent(&self) -> bool {
        self.dependency == self.stream_id
    }

    pub(crate) fn load(head: Head, payload: &[u8]) -> LoadResult<Priority> {
        if head.stream_id.is_zero() {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        if payload.len() != Self::LEN {
            return Err(ErrorCode::FRAME_SIZE_ERROR);
        }
        let p = Self::parse_block(head.stream_id, payload)?;
        if p.is_self_dependent() {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        Ok(p)
    }

    #[cfg(test)]
    pub(crate) fn encode(&self, dst: &mut BytesMut) {
        Head::new(Kind::PRIORITY, 0, self.stream_id, Self::LEN).encode(dst);
        let excl = if self.exclusive { 0x8000_0000 } else { 0 };
        dst.put_u32(self.dependency.0 | excl);
        dst.put_u8(self.weight);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let p = Priority {
            stream_id: StreamId(5),
            dependency: StreamId(3),
            exclusive: true,
            weight: 200,
        };
        let mut buf = BytesMut::new();
        p.encode(&mut buf);
        let head = Head::parse(&buf).unwrap();
        assert_eq!(Priority::load(head, &buf[9..]), Ok(p));
    }

    #[test]
    fn rejects_self_dependency_and_wrong_length() {
        let head = Head::new(Kind::PRIORITY, 0, StreamId(1), 5);
        assert_eq!(
            Priority::load(head, &[0, 0, 0, 1, 16]),
            Err(ErrorCode::PROTOCOL_ERROR)
        );
        let head = Head::new(Kind::PRIORITY, 0, StreamId(1), 4);
        assert_eq!(
            Priority::load(head, &[0, 0, 0, 3]),
            Err(ErrorCode::FRAME_SIZE_ERROR)
        );
    }
}
