//! DATA (RFC 9113 §6.1).

use bytes::BytesMut;

use super::{flags, padding_len, Head, Kind, LoadResult, StreamId};
use crate::ErrorCode;

/// A DATA frame's head, with the pad length (the payload's first byte when
/// PADDED): what its payload holds. The payload itself is handed out as it
/// arrives, without waiting for the whole frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Data {
    pub(crate) stream_id: StreamId,
    pub(crate) end_stream: bool,
    /// Body bytes in the payload: padding and the pad-length byte excluded.
    pub(crate) data_len: u32,
    /// The whole payload length, padding included: what flow control counts.
    pub(crate) flow_len: u32,
}

impl Data {
    /// Checks a DATA frame's head; `pad_length` is the payload's first byte,
    /// given when the frame is PADDED and its payload is not empty.
    pub(crate) fn load(head: Head, pad_length: Option<u8>) -> LoadResult<Data> {
        if head.stream_id.is_zero() {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        let padding = padding_len(&head, pad_length)?;
        Ok(Data {
            stream_id: head.stream_id,
            end_stream: head.has(flags::END_STREAM),
            data_len: head.length - padding,
            flow_len: head.length,
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
        let data = Data::load(head, None).unwrap();
        assert_eq!(data.stream_id, StreamId(3));
        assert!(data.end_stream);
        assert_eq!((data.data_len, data.flow_len), (5, 5));

        let head = Head::new(Kind::DATA, flags::PADDED, StreamId(1), 6);
        let padded = Data::load(head, Some(2)).unwrap();
        assert_eq!((padded.data_len, padded.flow_len), (3, 6));
    }

    #[test]
    fn padding_must_fit_in_the_payload() {
        let head = Head::new(Kind::DATA, flags::PADDED, StreamId(1), 3);
        assert_eq!(Data::load(head, Some(2)).map(|d| d.data_len), Ok(0));
        assert_eq!(Data::load(head, Some(3)), Err(ErrorCode::PROTOCOL_ERROR));
        let empty = Head::new(Kind::DATA, flags::PADDED, StreamId(1), 0);
        assert_eq!(Data::load(empty, None), Err(ErrorCode::FRAME_SIZE_ERROR));
    }

    #[test]
    fn rejects_stream_zero() {
        let head = Head::new(Kind::DATA, 0, StreamId(0), 1);
        assert_eq!(Data::load(head, None), Err(ErrorCode::PROTOCOL_ERROR));
    }
}
