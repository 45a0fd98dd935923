//! SETTINGS (RFC 9113 §6.5), mapped to and from the public [`Settings`].

use bytes::{BufMut, BytesMut};

use super::{be_u32, flags, Head, Kind, LoadResult, StreamId};
use super::{DEFAULT_MAX_FRAME_SIZE, MAX_MAX_FRAME_SIZE, MAX_WINDOW};
use crate::{ErrorCode, Settings};

const HEADER_TABLE_SIZE: u16 = 0x1;
const ENABLE_PUSH: u16 = 0x2;
const MAX_CONCURRENT_STREAMS: u16 = 0x3;
const INITIAL_WINDOW_SIZE: u16 = 0x4;
const MAX_FRAME_SIZE: u16 = 0x5;
const MAX_HEADER_LIST_SIZE: u16 = 0x6;
const ENABLE_CONNECT_PROTOCOL: u16 = 0x8;

/// SETTINGS parameters, or an acknowledgement. Unknown identifiers are ignored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SettingsFrame {
    pub(crate) ack: bool,
    pub(crate) values: Settings,
}

impl SettingsFrame {
    pub(crate) fn load(head: Head, payload: &[u8]) -> LoadResult<SettingsFrame> {
        if !head.stream_id.is_zero() {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        let ack = head.has(flags::ACK);
        if (ack && !payload.is_empty()) || payload.len() % 6 != 0 {
            return Err(ErrorCode::FRAME_SIZE_ERROR);
        }
        let mut s = Settings::default();
        for entry in payload.chunks_exact(6) {
            let value = be_u32(entry, 2);
            let bool_value = || match value {
                0 => Ok(false),
                1 => Ok(true),
                _ => Err(ErrorCode::PROTOCOL_ERROR),
            };
            match u16::from_be_bytes([entry[0], entry[1]]) {
                HEADER_TABLE_SIZE => s.header_table_size = Some(value),
                ENABLE_PUSH => s.enable_push = Some(bool_value()?),
                MAX_CONCURRENT_STREAMS => s.max_concurrent_streams = Some(value),
                INITIAL_WINDOW_SIZE if value > MAX_WINDOW => {
                    return Err(ErrorCode::FLOW_CONTROL_ERROR)
                }
                INITIAL_WINDOW_SIZE => s.initial_window_size = Some(value),
                MAX_FRAME_SIZE
                    if !(DEFAULT_MAX_FRAME_SIZE..=MAX_MAX_FRAME_SIZE).contains(&value) =>
                {
                    return Err(ErrorCode::PROTOCOL_ERROR)
                }
                MAX_FRAME_SIZE => s.max_frame_size = Some(value),
                MAX_HEADER_LIST_SIZE => s.max_header_list_size = Some(value),
                ENABLE_CONNECT_PROTOCOL => s.enable_connect_protocol = Some(bool_value()?),
                _ => {}
            }
        }
        Ok(SettingsFrame { ack, values: s })
    }

    /// Appends a SETTINGS frame carrying every value that is `Some`.
    pub(crate) fn encode(&self, dst: &mut BytesMut) {
        let s = &self.values;
        let entries = [
            (HEADER_TABLE_SIZE, s.header_table_size),
            (ENABLE_PUSH, s.enable_push.map(u32::from)),
            (MAX_CONCURRENT_STREAMS, s.max_concurrent_streams),
            (INITIAL_WINDOW_SIZE, s.initial_window_size),
            (MAX_FRAME_SIZE, s.max_frame_size),
            (MAX_HEADER_LIST_SIZE, s.max_header_list_size),
            (
                ENABLE_CONNECT_PROTOCOL,
                s.enable_connect_protocol.map(u32::from),
            ),
        ];
        let present = if self.ack {
            0
        } else {
            entries.iter().filter(|e| e.1.is_some()).count()
        };
        let flags = if self.ack { flags::ACK } else { 0 };
        Head::new(Kind::SETTINGS, flags, StreamId::ZERO, present * 6).encode(dst);
        if self.ack {
            return;
        }
        for (id, value) in entries {
            if let Some(v) = value {
                dst.put_u16(id);
                dst.put_u32(v);
            }
        }
    }

    /// An acknowledgement.
    pub(crate) fn ack() -> SettingsFrame {
        SettingsFrame {
            ack: true,
            values: Settings::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(payload: &[u8]) -> LoadResult<SettingsFrame> {
        let head = Head::new(Kind::SETTINGS, 0, StreamId(0), payload.len());
        SettingsFrame::load(head, payload)
    }

    #[test]
    fn round_trips_every_setting() {
        let f = SettingsFrame {
            ack: false,
            values: Settings {
                header_table_size: Some(0),
                enable_push: Some(false),
                max_concurrent_streams: Some(10),
                initial_window_size: Some(MAX_WINDOW),
                max_frame_size: Some(MAX_MAX_FRAME_SIZE),
                max_header_list_size: Some(8192),
                enable_connect_protocol: Some(true),
            },
        };
        let mut buf = BytesMut::new();
        f.encode(&mut buf);
        assert_eq!(buf.len(), 9 + 7 * 6);
        let head = Head::parse(&buf).unwrap();
        assert_eq!(SettingsFrame::load(head, &buf[9..]), Ok(f));
    }

    #[test]
    fn ack_is_empty_and_ignores_unknown_ids() {
        let mut buf = BytesMut::new();
        SettingsFrame::ack().encode(&mut buf);
        assert_eq!(&buf[..], &[0, 0, 0, 4, 1, 0, 0, 0, 0]);
        assert_eq!(
            load(&[0, 0x99, 0, 0, 0, 1]).unwrap().values,
            Settings::default()
        );
    }

    #[test]
    fn rejects_out_of_range_values() {
        assert_eq!(load(&[0, 2, 0, 0, 0, 2]), Err(ErrorCode::PROTOCOL_ERROR));
        assert_eq!(
            load(&[0, 4, 0x80, 0, 0, 0]),
            Err(ErrorCode::FLOW_CONTROL_ERROR)
        );
        assert_eq!(
            load(&[0, 5, 0, 0, 0x3f, 0xff]),
            Err(ErrorCode::PROTOCOL_ERROR)
        );
        assert_eq!(load(&[0, 5, 1, 0, 0, 0]), Err(ErrorCode::PROTOCOL_ERROR));
        assert_eq!(load(&[0, 3, 0, 0, 0]), Err(ErrorCode::FRAME_SIZE_ERROR));
        let head = Head::new(Kind::SETTINGS, flags::ACK, StreamId(0), 6);
        assert_eq!(
            SettingsFrame::load(head, &[0; 6]),
            Err(ErrorCode::FRAME_SIZE_ERROR)
        );
    }
}
