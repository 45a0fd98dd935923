//! The queue of bytes a connection wants written, drained by the caller.

use std::collections::VecDeque;

use bytes::{Buf, Bytes, BytesMut};

/// Body chunks at least this large are queued by reference instead of copied.
const ZERO_COPY_THRESHOLD: usize = 4096;

/// Outgoing bytes: small writes coalesce into one buffer, large body chunks
/// are queued as they are (no copy), order preserved.
#[derive(Debug, Default)]
pub(crate) struct Outbound {
    chunks: VecDeque<Bytes>,
    tail: BytesMut,
    len: usize,
}

impl Outbound {
    /// Appends a copy of `src` (inlined: most callers copy a short literal).
    #[inline]
    pub(crate) fn put_slice(&mut self, src: &[u8]) {
        self.tail.extend_from_slice(src);
        self.len += src.len();
    }

    /// Appends `data`, by reference when it is large.
    pub(crate) fn put_bytes(&mut self, data: Bytes) {
        if data.len() < ZERO_COPY_THRESHOLD {
            self.put_slice(&data);
            return;
        }
        self.seal_tail();
        self.len += data.len();
        self.chunks.push_back(data);
    }

    /// The buffer small writes go to, for encoders that write in place.
    /// Call [`Outbound::commit`] with the number of bytes added.
    pub(crate) fn tail_mut(&mut self) -> &mut BytesMut {
        &mut self.tail
    }

    /// Accounts for `n` bytes written through [`Outbound::tail_mut`].
    pub(crate) fn commit(&mut self, n: usize) {
        self.len += n;
    }

    /// Where the queued bytes end now, to undo a partly written head with
    /// [`Outbound::truncate`].
    pub(crate) fn mark(&self) -> usize {
        self.tail.len()
    }

    /// Drops the bytes put since `mark`. Only small writes (which go to the
    /// tail) may have happened since.
    pub(crate) fn truncate(&mut self, mark: usize) {
        self.len -= self.tail.len() - mark;
        self.tail.truncate(mark);
    }

    fn seal_tail(&mut self) {
        if !self.tail.is_empty() {
            self.chunks.push_back(self.tail.split().freeze());
        }
    }

    /// Total bytes waiting.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The next chunk to write, oldest first.
    pub(crate) fn pop(&mut self) -> Option<Bytes> {
        let chunk = match self.chunks.pop_front() {
            Some(c) => c,
            None if !self.tail.is_empty() => self.tail.split().freeze(),
            None => return None,
        };
        self.len -= chunk.len();
        Some(chunk)
    }

    /// The oldest waiting bytes, borrowed: the first queued chunk, or the
    /// small writes gathered after it (empty when nothing waits).
    #[inline]
    pub(crate) fn front(&self) -> &[u8] {
        match self.chunks.front() {
            Some(chunk) => chunk,
            None => &self.tail,
        }
    }

    /// Drops the first `n` bytes of [`Outbound::front`] (they were written).
    /// The tail's buffer is kept, to be reused once it is empty.
    pub(crate) fn advance(&mut self, n: usize) {
        match self.chunks.front_mut() {
            Some(chunk) => {
                let n = n.min(chunk.len());
                chunk.advance(n);
                self.len -= n;
                if chunk.is_empty() {
                    self.chunks.pop_front();
                }
            }
            None if n >= self.tail.len() => {
                // Cleared in place, not advanced: the next writes reuse the
                // same bytes without the buffer having to move back first.
                self.len -= self.tail.len();
                self.tail.clear();
            }
            None => {
                self.tail.advance(n);
                self.len -= n;
            }
        }
    }

    /// Everything waiting, as one buffer.
    pub(crate) fn take_all(&mut self) -> Bytes {
        if self.chunks.is_empty() {
            self.len = 0;
            return self.tail.split().freeze();
        }
        let mut all = BytesMut::with_capacity(self.len);
        while let Some(c) = self.pop() {
            all.extend_from_slice(&c);
        }
        all.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_between_copied_and_referenced_chunks() {
        let mut out = Outbound::default();
        out.put_slice(b"head");
        let big = Bytes::from(vec![b'x'; ZERO_COPY_THRESHOLD]);
        out.put_bytes(big.clone());
        out.put_slice(b"tail");
        assert_eq!(out.len(), 8 + big.len());
        assert_eq!(out.pop().unwrap(), "head");
        let b = out.pop().unwrap();
        assert_eq!(b.as_ptr(), big.as_ptr(), "large chunks are not copied");
        assert_eq!(out.pop().unwrap(), "tail");
        assert!(out.pop().is_none());
        assert_eq!(out.len(), 0);
    }

    #[test]
    fn front_and_advance_write_in_place_in_order() {
        let mut out = Outbound::default();
        out.put_slice(b"head");
        let big = Bytes::from(vec![b'x'; ZERO_COPY_THRESHOLD]);
        out.put_bytes(big.clone());
        out.put_slice(b"tail");
        assert_eq!(out.front(), b"head");
        out.advance(1);
        assert_eq!(out.front(), b"ead");
        out.advance(3);
        assert_eq!(
            out.front().as_ptr(),
            big.as_ptr(),
            "large chunks are not copied"
        );
        out.advance(ZERO_COPY_THRESHOLD - 1);
        assert_eq!(out.front(), b"x");
        out.advance(1);
        assert_eq!(out.front(), b"tail");
        out.advance(4);
        assert_eq!((out.front(), out.len()), (&b""[..], 0));
        // The emptied tail is reused: the next head goes to the same buffer.
        let before = out.tail_mut().capacity() + 4;
        out.put_slice(b"next");
        assert_eq!(out.front(), b"next");
        assert!(out.tail_mut().capacity() >= before - 4);
        assert_eq!(out.len(), 4);
    }
}
