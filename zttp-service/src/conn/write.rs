//! The bytes waiting to be written, gathered into vectored writes.

use std::collections::VecDeque;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use futures_io::AsyncWrite;
use zttp_core::Connection;

/// Most buffers handed to one vectored write.
const MAX_IOV: usize = 64;

/// Chunks taken from the core in order, written with as few syscalls as possible:
/// everything ready (heads, small bodies, a batch of pipelined responses) goes
/// out in one vectored write.
#[derive(Default)]
pub(super) struct WriteQueue {
    chunks: VecDeque<Bytes>,
    len: usize,
    unflushed: bool,
}

impl WriteQueue {
    /// Moves everything the core has queued into this queue.
    pub(super) fn take_from(&mut self, core: &mut Connection) {
        while let Some(chunk) = core.poll_transmit() {
            self.push(chunk);
        }
    }

    /// Appends bytes that bypass the core (an error answer it would refuse).
    pub(super) fn push(&mut self, chunk: Bytes) {
        if !chunk.is_empty() {
            self.len += chunk.len();
            self.chunks.push_back(chunk);
        }
    }

    /// Bytes waiting.
    pub(super) fn len(&self) -> usize {
        self.len
    }

    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes and flushes everything. `Ready(Ok(true))` when something was written.
    pub(super) fn poll_write<IO: AsyncWrite + Unpin>(
        &mut self,
        io: &mut IO,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<bool>> {
        let mut wrote = false;
        while !self.chunks.is_empty() {
            let result = if self.chunks.len() == 1 {
                Pin::new(&mut *io).poll_write(cx, &self.chunks[0])
            } else {
                let mut slices = [IoSlice::new(&[]); MAX_IOV];
                let mut n = 0;
                for (slot, chunk) in slices.iter_mut().zip(&self.chunks) {
                    *slot = IoSlice::new(chunk);
                    n += 1;
                }
                Pin::new(&mut *io).poll_write_vectored(cx, &slices[..n])
            };
            match result {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.advance(n);
                    wrote = true;
                    self.unflushed = true;
                }
                Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        if self.unflushed {
            ready!(Pin::new(&mut *io).poll_flush(cx))?;
            self.unflushed = false;
        }
        Poll::Ready(Ok(wrote))
    }

    fn advance(&mut self, mut n: usize) {
        self.len -= n;
        while n > 0 {
            let front = self.chunks.front_mut().expect("wrote more than queued");
            if n < front.len() {
                front.advance(n);
                return;
            }
            n -= front.len();
            self.chunks.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::io::Cursor;

    #[test]
    fn writes_every_chunk_in_order() {
        let mut q = WriteQueue::default();
        for part in ["HTTP/1.1 200 OK\r\n", "\r\n", "body", "", "more"] {
            q.push(Bytes::from(part));
        }
        let mut io = Cursor::new(Vec::new());
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(matches!(
            q.poll_write(&mut io, &mut cx),
            Poll::Ready(Ok(true))
        ));
        assert!(q.is_empty());
        assert_eq!(io.into_inner(), b"HTTP/1.1 200 OK\r\n\r\nbodymore");
    }
}
