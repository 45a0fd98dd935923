//! The send side of a connection: frames written into the outgoing bytes,
//! within the peer's limits (frame size, the connection's send window), and
//! the HPACK encoder.
//!
//! ## END_STREAM without an empty DATA frame
//!
//! Ending a stream sets END_STREAM on the stream's last HEADERS or DATA
//! frame when that frame is still the last thing queued, in the unsent tail
//! buffer of [`Outbound`]: a response `HEADERS, DATA, EndOfMessage` goes out
//! as two frames, a bodiless one as a single HEADERS. Otherwise (another
//! frame was queued after it, the caller took the bytes, or the last DATA
//! payload was queued by reference) an empty DATA frame carries END_STREAM,
//! as RFC 9113 allows either way. Flow control is unaffected: the flag
//! carries no payload. Every write goes through this type, so the frame it
//! remembers is forgotten by any other write and by any taking of bytes.

use bytes::{Bytes, BytesMut};

use super::flow::{SendWindow, DEFAULT_WINDOW};
use super::frame::{
    encode_header_block, Data, GoAway, Head, Ping, RstStream, SettingsFrame, StreamId,
    WindowUpdate, DEFAULT_MAX_FRAME_SIZE, HEAD_LEN,
};
use super::message::OutField;
use crate::hpack::Encoder;
use crate::outbound::Outbound;
use crate::{ErrorCode, Settings};

/// A HEADERS or DATA frame of `stream_id` that ends the outbound tail buffer:
/// its head starts at `head_at` and the tail was `end` bytes long after it.
#[derive(Debug, Clone, Copy)]
struct TailFrame {
    stream_id: u32,
    head_at: usize,
    end: usize,
}

/// The peer's settings as they currently apply.
#[derive(Debug, Clone, Copy)]
struct PeerSettings {
    initial_window: u32,
    max_frame_size: u32,
    max_concurrent_streams: Option<u32>,
}

/// The send side of one HTTP/2 connection.
#[derive(Debug)]
pub(crate) struct SendHalf {
    out: Outbound,
    /// The frame END_STREAM may still be set on in place.
    tail: Option<TailFrame>,
    encoder: Encoder,
    /// What the peer lets us send on the connection.
    window: SendWindow,
    peer: PeerSettings,
}

impl SendHalf {
    pub(crate) fn new() -> SendHalf {
        SendHalf {
            out: Outbound::default(),
            tail: None,
            encoder: Encoder::new(),
            window: SendWindow::new(DEFAULT_WINDOW),
            peer: PeerSettings {
                initial_window: DEFAULT_WINDOW,
                max_frame_size: DEFAULT_MAX_FRAME_SIZE,
                max_concurrent_streams: None,
            },
        }
    }

    // ---- the outgoing bytes ----

    /// The outgoing bytes, for the caller to take: after this no queued frame
    /// is edited any more.
    pub(crate) fn outbound(&mut self) -> &mut Outbound {
        self.tail = None;
        &mut self.out
    }

    pub(crate) fn outbound_ref(&self) -> &Outbound {
        &self.out
    }

    /// Appends raw bytes (the client preface).
    pub(crate) fn write_raw(&mut self, bytes: &[u8]) {
        self.tail = None;
        self.out.put_slice(bytes);
    }

    /// Appends a frame written by `f`.
    fn write_frame(&mut self, f: impl FnOnce(&mut BytesMut)) {
        self.tail = None;
        let tail = self.out.tail_mut();
        let before = tail.len();
        f(tail);
        let n = tail.len() - before;
        self.out.commit(n);
    }

    // ---- control frames ----

    pub(crate) fn write_settings(&mut self, values: Settings) {
        self.write_frame(|dst| SettingsFrame { ack: false, values }.encode(dst));
    }

    pub(crate) fn write_settings_ack(&mut self) {
        self.write_frame(|dst| SettingsFrame::ack().encode(dst));
    }

    pub(crate) fn write_ping(&mut self, ack: bool, data: [u8; 8]) {
        self.write_frame(|dst| Ping { ack, data }.encode(dst));
    }

    /// GOAWAY; `debug_data` is cut to fit the peer's frame size.
    pub(crate) fn write_goaway(&mut self, last_stream_id: u32, code: ErrorCode, debug_data: &[u8]) {
        let max = self.peer.max_frame_size as usize - 8;
        let debug_data = Bytes::copy_from_slice(&debug_data[..debug_data.len().min(max)]);
        self.write_frame(|dst| {
            GoAway {
                last_stream_id: StreamId(last_stream_id),
                code,
                debug_data,
            }
            .encode(dst)
        });
    }

    pub(crate) fn write_window_update(&mut self, stream_id: u32, increment: u32) {
        self.write_frame(|dst| {
            WindowUpdate {
                stream_id: StreamId(stream_id),
                increment,
            }
            .encode(dst)
        });
    }

    pub(crate) fn write_rst_stream(&mut self, stream_id: u32, code: ErrorCode) {
        self.write_frame(|dst| {
            RstStream {
                stream_id: StreamId(stream_id),
                code,
            }
            .encode(dst)
        });
    }

    // ---- messages ----

    /// Encodes `fields` as HEADERS (+ CONTINUATION) on `stream_id`. Unless
    /// `end_stream`, END_STREAM may still be set on it in place
    /// ([`end_stream`](Self::end_stream)) when `may_end` says so.
    pub(crate) fn write_header_block(
        &mut self,
        stream_id: u32,
        fields: &[OutField],
        end_stream: bool,
        may_end: bool,
    ) {
        let mut fields = fields.iter().map(|(n, v, s)| (&n[..], &v[..], *s));
        self.write_fields(stream_id, &mut fields, end_stream, may_end);
    }

    /// [`write_header_block`](Self::write_header_block) from borrowed
    /// `(lowercase name, value, never-index)` fields, pseudo-fields first.
    /// The iterator is borrowed, not moved: a response head's iterator is
    /// large enough that each move is a `memcpy`.
    pub(crate) fn write_fields<'a>(
        &mut self,
        stream_id: u32,
        fields: &mut impl Iterator<Item = (&'a [u8], &'a [u8], bool)>,
        end_stream: bool,
        may_end: bool,
    ) {
        self.tail = None;
        let max = self.peer.max_frame_size as usize;
        let encoder = &mut self.encoder;
        let tail = self.out.tail_mut();
        let head_at = tail.len();
        let n = encode_header_block(StreamId(stream_id), end_stream, max, tail, |dst| {
            encoder.encode(fields, dst)
        });
        self.out.commit(n);
        if may_end && !end_stream {
            self.tail = Some(TailFrame {
                stream_id,
                head_at,
                end: head_at + n,
            });
        }
    }

    /// Writes `data` as DATA frames of at most the peer's frame size,
    /// consuming the connection window and `stream_window` (the caller
    /// checked both have room).
    pub(crate) fn write_data(
        &mut self,
        stream_id: u32,
        data: Bytes,
        stream_window: &mut SendWindow,
    ) {
        let max = self.peer.max_frame_size as usize;
        let mut rest = data;
        while !rest.is_empty() {
            let chunk = rest.split_to(rest.len().min(max));
            let len = chunk.len();
            let head_at = self.out.tail_mut().len();
            self.write_frame(|dst| Data::encode_head(StreamId(stream_id), len, false, dst));
            self.window.consume(len);
            stream_window.consume(len);
            self.out.put_bytes(chunk);
            // A large payload is queued by reference, which seals the tail.
            let end = head_at + HEAD_LEN + len;
            if self.out.tail_mut().len() == end {
                self.tail = Some(TailFrame {
                    stream_id,
                    head_at,
                    end,
                });
            }
        }
    }

    /// Ends `stream_id`'s message without trailers: END_STREAM on its last
    /// frame if that is still the last thing queued, else an empty DATA frame.
    pub(crate) fn end_stream(&mut self, stream_id: u32) {
        if !self.end_stream_in_place(stream_id) {
            self.write_frame(|dst| Data::encode_head(StreamId(stream_id), 0, true, dst));
        }
    }

    fn end_stream_in_place(&mut self, id: u32) -> bool {
        let Some(f) = self.tail.take() else {
            return false;
        };
        let tail = self.out.tail_mut();
        if f.stream_id != id || tail.len() != f.end {
            return false;
        }
        Head::set_end_stream(&mut tail[f.head_at..f.head_at + HEAD_LEN]);
        true
    }

    // ---- the peer's limits ----

    /// Bytes the connection window lets us send now.
    pub(crate) fn window(&self) -> usize {
        self.window.available()
    }

    /// A WINDOW_UPDATE for the connection arrived.
    pub(crate) fn grow_window(&mut self, increment: u32) -> Result<(), ErrorCode> {
        self.window
            .adjust(i64::from(increment))
            .map_err(|_| ErrorCode::FLOW_CONTROL_ERROR)
    }

    /// A send window for a new stream.
    pub(crate) fn stream_window(&self) -> SendWindow {
        SendWindow::new(self.peer.initial_window)
    }

    /// The peer's SETTINGS_MAX_CONCURRENT_STREAMS, once it said one.
    pub(crate) fn peer_max_streams(&self) -> Option<u32> {
        self.peer.max_concurrent_streams
    }

    /// Applies the peer's SETTINGS; returns the change of the initial stream
    /// window, which every open stream's send window takes.
    pub(crate) fn apply_peer_settings(&mut self, v: &Settings) -> Option<i64> {
        if let Some(n) = v.header_table_size {
            self.encoder.set_max_table_size(n as usize);
        }
        if let Some(n) = v.max_frame_size {
            self.peer.max_frame_size = n;
        }
        if let Some(n) = v.max_concurrent_streams {
            self.peer.max_concurrent_streams = Some(n);
        }
        let n = v.initial_window_size?;
        let delta = i64::from(n) - i64::from(self.peer.initial_window);
        self.peer.initial_window = n;
        Some(delta)
    }
}
