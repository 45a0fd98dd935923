//! The receive side of a connection: the bytes received, frames cut from
//! them, header blocks assembled across CONTINUATION and decoded, the
//! connection's receive window and the limits we announced.
//!
//! Frames are cut lazily: `receive` only buffers, and the connection takes
//! one frame at a time while it has no event to hand out.

use bytes::{Bytes, BytesMut};

use super::flow::{RecvWindow, DEFAULT_WINDOW};
use super::frame::{flags, Head, Kind, HEAD_LEN};
use crate::hpack::{Decoder, DecoderError};
use crate::received::ReceiveBuffer;
use crate::{Config, ErrorCode, H2_PREFACE};

/// Extra raw header-block bytes allowed above the header-list limit.
const HEADER_BLOCK_SLACK: usize = 16 * 1024;
/// DATA bytes that refill the control-frame budget.
const CONTROL_REFILL_BYTES: u64 = 16 * 1024;

/// A connection error: the code to put in GOAWAY.
pub(crate) type ConnResult<T = ()> = Result<T, ErrorCode>;

/// A header block (HEADERS or PUSH_PROMISE, then CONTINUATION frames).
#[derive(Debug)]
pub(crate) struct HeaderBlock {
    pub(crate) stream_id: u32,
    pub(crate) end_stream: bool,
    pub(crate) self_dependent: bool,
    /// Set for PUSH_PROMISE: the promised stream.
    pub(crate) promised: Option<u32>,
    fragments: Fragments,
    continuations: u32,
}

/// A header block's bytes: the first frame's fragment as received (the
/// usual whole block, no copy), or fragments joined across CONTINUATION.
#[derive(Debug)]
enum Fragments {
    One(Bytes),
    Joined(BytesMut),
}

impl HeaderBlock {
    pub(crate) fn new(
        stream_id: u32,
        end_stream: bool,
        self_dependent: bool,
        promised: Option<u32>,
        first: Bytes,
    ) -> HeaderBlock {
        HeaderBlock {
            stream_id,
            end_stream,
            self_dependent,
            promised,
            fragments: Fragments::One(first),
            continuations: 0,
        }
    }

    fn fragments(&self) -> &[u8] {
        match &self.fragments {
            Fragments::One(b) => b,
            Fragments::Joined(b) => b,
        }
    }

    fn append(&mut self, fragment: &[u8]) {
        match &mut self.fragments {
            Fragments::One(first) => {
                let mut joined = BytesMut::with_capacity(first.len() + fragment.len());
                joined.extend_from_slice(first);
                joined.extend_from_slice(fragment);
                self.fragments = Fragments::Joined(joined);
            }
            Fragments::Joined(b) => b.extend_from_slice(fragment),
        }
    }
}

/// What a complete header block decoded to.
pub(crate) enum Decoded {
    Fields(Vec<(Bytes, Bytes)>),
    /// Over our header-list limit (the HPACK state was kept in step).
    TooLarge,
}

/// The receive side of one HTTP/2 connection.
#[derive(Debug)]
pub(crate) struct RecvHalf {
    buf: ReceiveBuffer,
    /// Server: the client preface has not been read yet.
    preface_pending: bool,
    /// The peer's first frame (which must be SETTINGS) has not been read yet.
    awaiting_settings: bool,
    decoder: Decoder,
    /// A header block still waiting for CONTINUATION frames.
    pending: Option<HeaderBlock>,
    /// What the peer may send on the connection.
    window: RecvWindow,
    /// The limits we announce, and whether the peer acknowledged them.
    initial_window: u32,
    max_frame_size: u32,
    max_streams: u32,
    max_header_list: usize,
    header_table_size: u32,
    max_continuations: u32,
    settings_acked: bool,
    /// Control frames since the last refill, against `max_control_frames`.
    control_frames: u32,
    max_control_frames: u32,
    data_since_refill: u64,
}

impl RecvHalf {
    /// The receive side for a connection whose announced limits follow from `config`.
    pub(crate) fn new(config: &Config, server: bool) -> RecvHalf {
        let h2 = &config.http2;
        let window = h2.connection_window.max(DEFAULT_WINDOW);
        RecvHalf {
            buf: ReceiveBuffer::default(),
            preface_pending: server,
            awaiting_settings: true,
            decoder: Decoder::new(h2.header_table_size as usize),
            pending: None,
            window: RecvWindow::new(window, window),
            initial_window: h2.initial_window_size,
            max_frame_size: h2.max_frame_size,
            max_streams: h2.max_concurrent_streams,
            max_header_list: config.limits.max_head_size,
            header_table_size: h2.header_table_size,
            max_continuations: h2.max_continuation_frames,
            settings_acked: false,
            control_frames: 0,
            max_control_frames: h2.max_control_frames,
            data_since_refill: 0,
        }
    }

    // ---- bytes and frames ----

    /// Buffers received bytes; an empty slice is the peer closing.
    pub(crate) fn receive(&mut self, data: &[u8]) {
        self.buf.push_slice(data);
    }

    /// Buffers received bytes without copying them when nothing is buffered
    /// (frames are then slices of `data`), or appends them, in place when
    /// `data` continues the buffered bytes in memory (a frame split across
    /// reads into one larger buffer).
    pub(crate) fn receive_bytes(&mut self, data: BytesMut) {
        self.buf.push_bytes(data);
    }

    /// Lets go of a buffer handed over with `receive_bytes` before the
    /// connection waits: nothing buffered, nothing kept; a partial frame
    /// moves into an allocation of its own size.
    pub(crate) fn shrink(&mut self) {
        self.buf.shrink();
    }

    /// A whole frame (or the rest of the preface) is buffered, not processed yet.
    pub(crate) fn has_whole_frame(&self) -> bool {
        let buf = if self.preface_pending {
            match self.buf.bytes.get(H2_PREFACE.len()..) {
                Some(rest) => rest,
                None => return false,
            }
        } else {
            &self.buf.bytes[..]
        };
        Head::parse(buf).is_some_and(|head| buf.len() >= HEAD_LEN + head.length as usize)
    }

    pub(crate) fn is_eof(&self) -> bool {
        self.buf.is_eof()
    }

    /// After a connection error: what was buffered is dropped.
    pub(crate) fn stop(&mut self) {
        self.pending = None;
        self.buf.discard();
    }

    /// The next whole frame, past the client preface; `None` when more bytes
    /// are needed.
    pub(crate) fn next_frame(&mut self) -> ConnResult<Option<(Head, Bytes)>> {
        if self.preface_pending {
            let n = self.buf.bytes.len().min(H2_PREFACE.len());
            if self.buf.bytes[..n] != H2_PREFACE[..n] {
                return Err(ErrorCode::PROTOCOL_ERROR);
            }
            if n < H2_PREFACE.len() {
                return Ok(None);
            }
            let _ = self.buf.bytes.split_to(H2_PREFACE.len());
            self.preface_pending = false;
        }
        let Some(head) = Head::parse(&self.buf.bytes) else {
            return Ok(None);
        };
        if head.length > self.max_frame_size {
            return Err(ErrorCode::FRAME_SIZE_ERROR);
        }
        let total = HEAD_LEN + head.length as usize;
        if self.buf.bytes.len() < total {
            self.buf.reserve(total - self.buf.bytes.len());
            return Ok(None);
        }
        let payload = self.buf.bytes.split_to(total).freeze().slice(HEAD_LEN..);
        Ok(Some((head, payload)))
    }

    /// Checks the frame order rules: a header block's CONTINUATION frames
    /// come next and alone, and the peer's first frame is SETTINGS. True for
    /// that first SETTINGS (which is not a control frame to count).
    pub(crate) fn check_order(&mut self, head: &Head) -> ConnResult<bool> {
        if let Some(p) = &self.pending {
            if head.kind != Kind::CONTINUATION || head.stream_id.0 != p.stream_id {
                return Err(ErrorCode::PROTOCOL_ERROR);
            }
        }
        if !self.awaiting_settings {
            return Ok(false);
        }
        if head.kind != Kind::SETTINGS || head.has(flags::ACK) {
            return Err(ErrorCode::PROTOCOL_ERROR);
        }
        self.awaiting_settings = false;
        self.control_frames = 0;
        Ok(true)
    }

    // ---- header blocks ----

    /// Starts a header block; the decoded block once it is complete.
    pub(crate) fn start_block(
        &mut self,
        block: HeaderBlock,
        complete: bool,
    ) -> ConnResult<Option<(HeaderBlock, Decoded)>> {
        self.collect(block, complete)
    }

    /// Adds a CONTINUATION fragment to the pending block.
    pub(crate) fn continue_block(
        &mut self,
        fragment: &[u8],
        complete: bool,
    ) -> ConnResult<Option<(HeaderBlock, Decoded)>> {
        let Some(mut block) = self.pending.take() else {
            return Err(ErrorCode::PROTOCOL_ERROR);
        };
        block.continuations += 1;
        if block.continuations > self.max_continuations {
            return Err(ErrorCode::ENHANCE_YOUR_CALM);
        }
        block.append(fragment);
        self.collect(block, complete)
    }

    /// Keeps collecting a block (its raw size capped before decoding), or
    /// decodes it once complete. The block is decoded whatever becomes of its
    /// stream: the HPACK state is shared.
    fn collect(
        &mut self,
        block: HeaderBlock,
        complete: bool,
    ) -> ConnResult<Option<(HeaderBlock, Decoded)>> {
        if block.fragments().len() > self.max_header_list + HEADER_BLOCK_SLACK {
            return Err(ErrorCode::ENHANCE_YOUR_CALM);
        }
        if !complete {
            self.pending = Some(block);
            return Ok(None);
        }
        let decoded = match self
            .decoder
            .decode_pairs(block.fragments(), self.max_header_list)
        {
            Ok(fields) => Decoded::Fields(fields),
            Err(DecoderError::HeaderListTooLarge) => Decoded::TooLarge,
            Err(_) => return Err(ErrorCode::COMPRESSION_ERROR),
        };
        Ok(Some((block, decoded)))
    }

    // ---- flow control and budgets ----

    /// Accounts `n` flow-controlled bytes against the connection window.
    pub(crate) fn receive_flow(&mut self, n: u32) -> ConnResult {
        self.window
            .receive(n)
            .map_err(|_| ErrorCode::FLOW_CONTROL_ERROR)
    }

    /// `n` received bytes were consumed or dropped: the connection
    /// WINDOW_UPDATE increment to send, if one is due.
    pub(crate) fn release(&mut self, n: usize) -> Option<u32> {
        self.window.release(n)
    }

    /// A receive window for a new stream: the peer uses the default until it
    /// has acknowledged our SETTINGS.
    pub(crate) fn stream_window(&self) -> RecvWindow {
        let available = if self.settings_acked {
            self.initial_window
        } else {
            DEFAULT_WINDOW
        };
        RecvWindow::new(available, self.initial_window)
    }

    /// The peer acknowledged our SETTINGS: the first time, the shift every
    /// open stream's window takes (our initial window now applies).
    pub(crate) fn settings_acknowledged(&mut self) -> Option<i64> {
        if self.settings_acked {
            return None;
        }
        self.settings_acked = true;
        self.decoder
            .set_max_table_size(self.header_table_size as usize);
        Some(i64::from(self.initial_window) - i64::from(DEFAULT_WINDOW))
    }

    /// Whether the peer has acknowledged our SETTINGS (and so knows our limits).
    pub(crate) fn settings_acked(&self) -> bool {
        self.settings_acked
    }

    /// Our SETTINGS_MAX_CONCURRENT_STREAMS.
    pub(crate) fn max_streams(&self) -> usize {
        self.max_streams as usize
    }

    /// Counts one control frame against `max_control_frames`.
    pub(crate) fn count_control_frame(&mut self) -> ConnResult {
        self.control_frames += 1;
        if self.control_frames > self.max_control_frames {
            return Err(ErrorCode::ENHANCE_YOUR_CALM);
        }
        Ok(())
    }

    /// The peer did useful work (a message head): the control-frame budget starts over.
    pub(crate) fn refill_control_budget(&mut self) {
        self.control_frames = 0;
        self.data_since_refill = 0;
    }

    /// `n` DATA bytes arrived: every 16 KiB of them refill the control budget.
    pub(crate) fn note_data(&mut self, n: usize) {
        self.data_since_refill += n as u64;
        if self.data_since_refill >= CONTROL_REFILL_BYTES {
            self.refill_control_budget();
        }
    }
}
