//! The receive side of a connection: the bytes received, frames cut from
//! them, header blocks assembled across CONTINUATION and decoded, the
//! connection's receive window and the limits we announced.
//!
//! Frames are cut lazily: `receive` only buffers, and the connection takes
//! one input at a time while it has no event to hand out. A DATA frame is
//! not waited for whole: once its head (and pad length) is in, each buffered
//! piece of its body is handed out as it arrives, a slice of the received
//! bytes, so the buffer never holds more than a partial head or a frame
//! other than DATA.

use bytes::{Buf, Bytes, BytesMut};

use super::flow::{RecvWindow, DEFAULT_WINDOW};
use super::frame::{flags, Data, Head, Kind, HEAD_LEN};
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

/// What the received bytes hold next.
#[derive(Debug)]
pub(crate) enum Input {
    /// A whole frame other than DATA.
    Frame(Head, Bytes),
    /// A DATA frame's head, and its pad length when PADDED (both consumed).
    /// The connection checks it, then says with
    /// [`begin_data`](RecvHalf::begin_data) whether its body is delivered.
    DataHead(Head, Option<u8>),
    /// The next buffered piece of the current DATA frame's body.
    DataPart(DataPiece),
    /// The current DATA frame, which carries END_STREAM, is over.
    DataEnd(u32),
}

/// A piece of a DATA frame's body, as it arrived.
#[derive(Debug)]
pub(crate) struct DataPiece {
    pub(crate) stream_id: u32,
    pub(crate) data: Bytes,
    /// The frame's body is complete with this piece (padding may follow).
    pub(crate) last: bool,
    /// The frame carries END_STREAM.
    pub(crate) end_stream: bool,
}

/// The DATA frame whose payload is arriving.
#[derive(Debug, Clone, Copy)]
struct DataInProgress {
    stream_id: u32,
    /// Body bytes still to come.
    payload_left: u32,
    /// Padding bytes still to come (skipped).
    padding_left: u32,
    end_stream: bool,
    /// The frame was refused (or its stream went away): its remaining bytes
    /// are skipped, and no `DataEnd` follows.
    discard: bool,
}

/// The receive side of one HTTP/2 connection.
#[derive(Debug)]
pub(crate) struct RecvHalf {
    buf: ReceiveBuffer,
    /// A DATA frame's head was read and its payload has not all arrived.
    data: Option<DataInProgress>,
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
            data: None,
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
    /// connection waits: nothing buffered, nothing kept; a partial head or
    /// frame other than DATA moves into an allocation of its own size (a
    /// DATA frame's body is handed out as it arrives, never kept).
    pub(crate) fn shrink(&mut self) {
        self.buf.shrink();
    }

    /// A whole frame (or the rest of the preface, or a DATA frame's bytes)
    /// is buffered, not processed yet.
    pub(crate) fn has_whole_frame(&self) -> bool {
        if self.data.is_some() {
            return !self.buf.bytes.is_empty();
        }
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
        self.data = None;
        self.buf.discard();
    }

    /// The next input, past the client preface: a whole frame, or a DATA
    /// frame's head, body pieces and end; `None` when more bytes are needed.
    pub(crate) fn next_input(&mut self) -> ConnResult<Option<Input>> {
        if let Some(data) = self.data {
            if let Some(input) = self.next_data(data) {
                return Ok(Some(input));
            }
            if self.data.is_some() {
                return Ok(None);
            }
        }
        if self.preface_pending {
            let n = self.buf.bytes.len().min(H2_PREFACE.len());
            if self.buf.bytes[..n] != H2_PREFACE[..n] {
                return Err(ErrorCode::PROTOCOL_ERROR);
            }
            if n < H2_PREFACE.len() {
                return Ok(None);
            }
            self.buf.bytes.advance(H2_PREFACE.len());
            self.preface_pending = false;
        }
        let Some(head) = Head::parse(&self.buf.bytes) else {
            return Ok(None);
        };
        if head.length > self.max_frame_size {
            return Err(ErrorCode::FRAME_SIZE_ERROR);
        }
        if head.kind == Kind::DATA {
            let padded = head.has(flags::PADDED) && head.length > 0;
            if self.buf.bytes.len() < HEAD_LEN + usize::from(padded) {
                return Ok(None);
            }
            let pad_length = padded.then(|| self.buf.bytes[HEAD_LEN]);
            self.buf.bytes.advance(HEAD_LEN + usize::from(padded));
            return Ok(Some(Input::DataHead(head, pad_length)));
        }
        let total = HEAD_LEN + head.length as usize;
        if self.buf.bytes.len() < total {
            self.buf.reserve(total - self.buf.bytes.len());
            return Ok(None);
        }
        let payload = self.buf.bytes.split_to(total).freeze().slice(HEAD_LEN..);
        Ok(Some(Input::Frame(head, payload)))
    }

    /// The DATA frame whose head was just handed out passed the connection's
    /// checks (`deliver`: its body is handed out) or was refused (its bytes
    /// are skipped).
    pub(crate) fn begin_data(&mut self, frame: &Data, deliver: bool) {
        let pad_byte = u32::from(frame.flow_len > frame.data_len);
        self.data = Some(DataInProgress {
            stream_id: frame.stream_id.0,
            payload_left: frame.data_len,
            padding_left: frame.flow_len - frame.data_len - pad_byte,
            end_stream: frame.end_stream,
            discard: false,
        });
        if !deliver {
            self.discard_data();
        }
    }

    /// The rest of the current DATA frame's body is dropped: how many body
    /// bytes that is (not received yet included).
    pub(crate) fn discard_data(&mut self) -> usize {
        let Some(d) = &mut self.data else {
            return 0;
        };
        let dropped = d.payload_left;
        d.padding_left += std::mem::take(&mut d.payload_left);
        d.discard = true;
        dropped as usize
    }

    /// Hands out the buffered part of the current DATA frame's body, skips
    /// buffered padding, and ends the frame once all of it arrived (`None`
    /// with `self.data` cleared: go on with the next frame).
    fn next_data(&mut self, mut d: DataInProgress) -> Option<Input> {
        let buffered = self.buf.bytes.len();
        if d.payload_left > 0 {
            let n = buffered.min(d.payload_left as usize);
            if n == 0 {
                return None;
            }
            d.payload_left -= n as u32;
            self.data = Some(d);
            return Some(Input::DataPart(DataPiece {
                stream_id: d.stream_id,
                data: self.buf.take_front(n),
                last: d.payload_left == 0,
                end_stream: d.end_stream,
            }));
        }
        let skip = buffered.min(d.padding_left as usize);
        self.buf.bytes.advance(skip);
        d.padding_left -= skip as u32;
        if d.padding_left > 0 {
            self.data = Some(d);
            return None;
        }
        self.data = None;
        (d.end_stream && !d.discard).then_some(Input::DataEnd(d.stream_id))
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
