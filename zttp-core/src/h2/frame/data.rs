//! DATA (RFC 9113 §6.1).

use bytes::{Bytes, BytesMut};

use super::{flags, strip_padding, Head, Kind, LoadResult, StreamId};
use crate::ErrorCode;

/// A DATA frame: a piece of a body, padding removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Data {
    pub(crate) stream_id: StreamId,
    pub(crate) end_stream: bool,
    pub(crate) data: Bytes,
    /// The whole payload length, padding included: what flow control counts.
    pub(crate) flow_len: u32,
}

impl Data {
    pub(crate) fn load(head: Head, payload: Bytes) -> LoadResult<Data> {
        if head.stream_id.is_zero() {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        let flow_len = payload.len() as u32;
        Ok(Data {
            stream_id: head.stream_id,
            end_stream: head.has(flags::END_STREAM),
            data: strip_padding(&head, payload)?,
            flow_len,
        })
    }

    /// Appends the frame head; the payload (`data`) follows, written by the caller
    /// so that large chunks need not be copied.
    pub(crate) fn encode_head(
        stream_id: StreamId,
        len: usize,
        end_stream: bool,
        dst: &mut BytesMut,
    ) {
        let flags = if end_stream { flags::END_STREAM } else { 0 };
        Head::new(Kind::DATA, flags, stream_id, len).encode(dst);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_counts_padding_for_flow_control() {
        let mut buf = BytesMut::new();
        Data::encode_head(StreamId(3), 5, true, &mut buf);
        buf.extend_from_slice(b"hello");
        let head = Head::parse(&buf).unwrap();
        let data = Data::load(head, buf.freeze().slice(9..)).unwrap();
        assert_eq!(data.stream_id, StreamId(3));
        assert!(data.end_stream);
        assert_eq!(&data.data[..], b"hello");

        let head = Head::new(Kind::DATA, flags::PADDED, StreamId(1), 6);
        let padded = Data::load(head, Bytes::from_static(b"\x02abc\0\0")).unwrap();
        assert_eq!((&padded.data[..], padded.flow_len), (&b"abc"[..], 6));
    }

    #[test]
    fn rejects_stream_zero() {
        let head = Head::new(Kind::DATA, 0, StreamId(0), 1);
        assert_eq!(
            Data::load(head, Bytes::from_static(b"x")),
            Err(ErrorCode::PROTOCOL_ERROR)
        );
    }
}
