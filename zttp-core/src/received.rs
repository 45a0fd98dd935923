//! The bytes a connection has received and not processed yet, HTTP/1.1 and
//! HTTP/2 alike, and whether the peer has closed.

use bytes::{Bytes, BytesMut};

/// Received bytes not processed yet. They are either an allocation of their
/// own, grown by copying, or a view of a buffer the caller handed over with
/// [`push_bytes`](Self::push_bytes), kept without a copy: heads, frames and
/// bodies split off it are then slices of the caller's buffer.
#[derive(Debug)]
pub(crate) struct ReceiveBuffer {
    /// The bytes, in the order received.
    pub(crate) bytes: BytesMut,
    /// `bytes` is an allocation of its own, not a view of a caller's buffer.
    owned: bool,
    /// The peer closed: nothing more is taken.
    eof: bool,
}

impl Default for ReceiveBuffer {
    fn default() -> Self {
        ReceiveBuffer {
            bytes: BytesMut::new(),
            owned: true,
            eof: false,
        }
    }
}

impl ReceiveBuffer {
    /// Copies received bytes in; an empty slice is the peer closing.
    pub(crate) fn push_slice(&mut self, data: &[u8]) {
        if data.is_empty() {
            self.eof = true;
        } else if !self.eof {
            self.own();
            self.bytes.extend_from_slice(data);
        }
    }

    /// Takes received bytes without copying them when nothing is buffered;
    /// otherwise appends them, in place when `data` continues the buffered
    /// bytes in memory (reads split off one larger buffer). An empty buffer
    /// is the peer closing.
    pub(crate) fn push_bytes(&mut self, data: BytesMut) {
        if data.is_empty() {
            self.eof = true;
        } else if self.eof {
            // Nothing is read after the end.
        } else if self.bytes.is_empty() {
            self.bytes = data;
            self.owned = false;
        } else if self.owned {
            self.bytes.extend_from_slice(&data);
        } else {
            self.bytes.unsplit(data);
        }
    }

    /// Lets go of a caller's buffer before the connection waits: with
    /// nothing buffered nothing is kept, and a partial head or frame moves
    /// into an allocation of its own size.
    pub(crate) fn shrink(&mut self) {
        if self.bytes.is_empty() {
            *self = ReceiveBuffer {
                eof: self.eof,
                ..ReceiveBuffer::default()
            };
        } else {
            self.own();
        }
    }

    /// Drops what is buffered, and the caller's buffer with it.
    pub(crate) fn discard(&mut self) {
        self.bytes = BytesMut::new();
        self.owned = true;
    }

    /// Makes room for `additional` more bytes, when the buffer is its own
    /// (a view is appended to in place, or copied on the next push).
    pub(crate) fn reserve(&mut self, additional: usize) {
        if self.owned {
            self.bytes.reserve(additional);
        }
    }

    /// Takes the first `n` buffered bytes. A view that holds exactly them
    /// (the usual read: one whole head) is taken as it is, without a shared
    /// clone; an allocation of our own is split, so that it is reused once
    /// the taken bytes are dropped.
    pub(crate) fn take_front(&mut self, n: usize) -> Bytes {
        match !self.owned && n == self.bytes.len() {
            true => std::mem::take(&mut self.bytes).freeze(),
            false => self.bytes.split_to(n).freeze(),
        }
    }

    /// The peer has closed.
    pub(crate) fn is_eof(&self) -> bool {
        self.eof
    }

    /// Moves the bytes into an allocation of their own, unless they are in
    /// one already: appending then copies at amortised O(1), and no larger
    /// buffer they came in is kept alive.
    fn own(&mut self) {
        if !self.owned {
            self.bytes = BytesMut::from(&self.bytes[..]);
            self.owned = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_front_takes_a_whole_view_as_it_is_and_splits_otherwise() {
        let mut view = ReceiveBuffer::default();
        let data = BytesMut::from(&b"GET / HTTP/1.1\r\n\r\nrest"[..]);
        let start = data.as_ptr();
        view.push_bytes(data);
        let head = view.take_front(18);
        assert_eq!(
            (&head[..], head.as_ptr()),
            (&b"GET / HTTP/1.1\r\n\r\n"[..], start)
        );
        assert_eq!(&view.take_front(4)[..], b"rest");
        assert!(view.bytes.is_empty());

        let mut owned = ReceiveBuffer::default();
        owned.push_slice(b"GET / HTTP/1.1\r\n\r\n");
        assert_eq!(&owned.take_front(18)[..], b"GET / HTTP/1.1\r\n\r\n");
        owned.push_slice(b"next");
        assert_eq!(&owned.bytes[..], b"next");
    }
}
