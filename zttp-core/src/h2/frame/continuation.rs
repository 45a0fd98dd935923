//! CONTINUATION (RFC 9113 §6.10).

use bytes::Bytes;

use super::{flags, Head, LoadResult, StreamId};
use crate::ErrorCode;

/// A further fragment of the header block begun by HEADERS or PUSH_PROMISE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Continuation {
    pub(crate) stream_id: StreamId,
    pub(crate) end_headers: bool,
    pub(crate) fragment: Bytes,
}

impl Continuation {
    pub(crate) fn load(head: Head, payload: Bytes) -> LoadResult<Continuation> {
        if head.stream_id.is_zero() {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        Ok(Continuation {
            stream_id: head.stream_id,
            end_headers: head.has(flags::END_HEADERS),
            fragment: payload,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::h2::frame::Kind;

    #[test]
    fn loads_fragment_and_end_headers() {
        let head = Head::new(Kind::CONTINUATION, flags::END_HEADERS, StreamId(1), 3);
        let c = Continuation::load(head, Bytes::from_static(b"abc")).unwrap();
        assert!(c.end_headers);
        assert_eq!(&c.fragment[..], b"abc");
        let head = Head::new(Kind::CONTINUATION, 0, StreamId(0), 0);
        assert_eq!(
            Continuation::load(head, Bytes::new()),
            Err(ErrorCode::PROTOCOL_ERROR)
        );
    }
}
