//! Stream identifiers, on every event.

use std::fmt;

/// The stream an event belongs to: an HTTP/2 stream id (31 bits; odd when
/// the client opened the stream), or [`StreamId::ZERO`] on HTTP/1.1 (one
/// exchange at a time) and for HTTP/2 events about the whole connection.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId(pub(crate) u32);

impl StreamId {
    /// HTTP/1.1's only stream, and HTTP/2's connection as a whole.
    pub const ZERO: StreamId = StreamId(0);
    /// The largest stream id (2^31 - 1).
    pub const MAX: StreamId = StreamId((1 << 31) - 1);

    /// The id `id`; the reserved high bit is dropped, as on the wire.
    pub const fn new(id: u32) -> StreamId {
        StreamId(id & Self::MAX.0)
    }

    /// The id as a number.
    pub const fn get(self) -> u32 {
        self.0
    }

    /// True for [`StreamId::ZERO`].
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// True for ids a client opens (odd); servers open even ones.
    pub const fn is_client_initiated(self) -> bool {
        self.0 % 2 == 1
    }

    /// Reads 31 bits, ignoring the reserved high bit.
    pub(crate) fn from_be(b: [u8; 4]) -> StreamId {
        StreamId::new(u32::from_be_bytes(b))
    }
}

impl From<u32> for StreamId {
    fn from(id: u32) -> Self {
        StreamId::new(id)
    }
}

impl From<StreamId> for u32 {
    fn from(id: StreamId) -> Self {
        id.0
    }
}

impl From<StreamId> for u64 {
    fn from(id: StreamId) -> Self {
        u64::from(id.0)
    }
}

impl PartialEq<u32> for StreamId {
    fn eq(&self, other: &u32) -> bool {
        self.0 == *other
    }
}

impl PartialEq<StreamId> for u32 {
    fn eq(&self, other: &StreamId) -> bool {
        *self == other.0
    }
}

impl fmt::Debug for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}
