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

    /// Bytes waiting here (taken from the core, not written yet).
    pub(super) fn len(&self) -> usize {
        self.len
    }

    /// Bytes waiting to be written: here and still in the core.
    pub(super) fn queued(&self, core: &Connection) -> usize {
        self.len + core.pending_send_len()
    }

    /// Nothing written is waiting for a flush.
    pub(super) fn is_flushed(&self) -> bool {
        !self.unflushed
    }

    #[cfg(test)]
    pub(super) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Writes and flushes everything, what is here and what the core queued.
    /// `Ready(Ok(true))` when something was written.
    pub(super) fn poll_write<IO: AsyncWrite + Unpin>(
        &mut self,
        io: &mut IO,
        core: &mut Connection,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<bool>> {
        let mut wrote = false;
        loop {
            if self.chunks.is_empty() {
                // The common case: the core's bytes are one run (heads and
                // small bodies gathered in its buffer). Written where they
                // are, they need no chunk taken out, queued and dropped.
                let front = core.peek_transmit();
                if front.is_empty() {
                    break;
                }
                let all = front.len();
                if all == core.pending_send_len() {
                    match Pin::new(&mut *io).poll_write(cx, core.peek_transmit()) {
                        Poll::Ready(Ok(0)) => {
                            return Poll::Ready(Err(io::ErrorKind::WriteZero.into()))
                        }
                        Poll::Ready(Ok(n)) => {
                            core.advance_transmit(n);
                            wrote = true;
                            self.unflushed = true;
                            if n == all {
                                // All of it: nothing is left here or in the core.
                                break;
                            }
                        }
                        Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => return Poll::Pending,
                    }
                    continue;
                }
            }
            // Several chunks (a large body by reference, or bytes left from a
            // partial write): gathered into one vectored write.
            self.take_from(core);
            if self.chunks.is_empty() {
                break;
            }
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
        let mut core = zttp_core::Connection::new(zttp_core::Role::Server);
        assert!(matches!(
            q.poll_write(&mut io, &mut core, &mut cx),
            Poll::Ready(Ok(true))
        ));
        assert!(q.is_empty());
        assert_eq!(io.into_inner(), b"HTTP/1.1 200 OK\r\n\r\nbodymore");
    }

    /// A writer that takes at most `max` bytes per call.
    struct Trickle {
        written: Vec<u8>,
        max: usize,
    }

    impl AsyncWrite for Trickle {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.max);
            self.written.extend_from_slice(&buf[..n]);
            Poll::Ready(Ok(n))
        }
        fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
        fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            Poll::Ready(Ok(()))
        }
    }

    #[test]
    fn the_cores_bytes_are_written_in_place_and_in_order_through_partial_writes() {
        use zttp_core::{Data, EndOfMessage, Role, StreamId};
        let waker = futures::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let big = Bytes::from(vec![b'z'; 8192]);
        for max in [1, 7, 100, 1 << 20] {
            let mut core = zttp_core::Connection::new(Role::Server);
            core.receive_data(
                b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
            );
            let mut expected = Vec::new();
            let mut q = WriteQueue::default();
            let mut io = Trickle {
                written: Vec::new(),
                max,
            };
            for body in [Bytes::from_static(b"hello"), big.clone()] {
                assert!(matches!(
                    core.next_event(),
                    Ok(zttp_core::Event::Request(_))
                ));
                let n = body.len().to_string();
                let fields = [(&b"content-length"[..], n.as_bytes())];
                core.send_response_head(StreamId::ZERO, 200, fields)
                    .unwrap();
                let head = format!("HTTP/1.1 200 OK\r\ncontent-length: {n}\r\n\r\n");
                expected.extend_from_slice(head.as_bytes());
                expected.extend_from_slice(&body);
                let stream_id = StreamId::ZERO;
                core.send(Data {
                    stream_id,
                    data: body,
                })
                .unwrap();
                core.send(EndOfMessage::default()).unwrap();
                assert!(matches!(
                    core.next_event(),
                    Ok(zttp_core::Event::EndOfMessage(_))
                ));
                assert_eq!(q.queued(&core), expected.len() - io.written.len());
                // Half of it now, the rest with the next response queued.
                let _ = q.poll_write(&mut io, &mut core, &mut cx);
                core.start_next_cycle().unwrap();
            }
            while q.queued(&core) > 0 {
                assert!(matches!(
                    q.poll_write(&mut io, &mut core, &mut cx),
                    Poll::Ready(Ok(_))
                ));
            }
            assert_eq!(io.written, expected, "max {max}");
        }
    }
}
