//! Non-blocking multipart sends and receives on the ROUTER and DEALER sockets.

use std::io;
use std::time::Instant;

use bytes::{Bytes, BytesMut};

/// Frames up to this size are copied out of the libzmq message; larger ones are kept in it.
const COPY_BELOW: usize = 4096;

/// Sends `[identity?, frames...]` without blocking: Ok(false) on `EAGAIN` (nothing sent),
/// Err when the peer is unreachable (`EHOSTUNREACH` on a ROUTER with `ROUTER_MANDATORY`).
pub(crate) fn send<F: AsRef<[u8]>>(
    socket: &mut zmq::Socket,
    identity: Option<&[u8]>,
    frames: &[F],
) -> io::Result<bool> {
    let mut first = true;
    if let Some(identity) = identity {
        match crate::sys::send_bytes(socket, identity, zmq::SNDMORE | zmq::DONTWAIT) {
            Ok(()) => first = false,
            Err(zmq::Error::EAGAIN) => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
    let last = frames.len().saturating_sub(1);
    for (i, frame) in frames.iter().enumerate() {
        let more = if i < last { zmq::SNDMORE } else { 0 };
        match crate::sys::send_bytes(socket, frame.as_ref(), more | zmq::DONTWAIT) {
            Ok(()) => first = false,
            Err(zmq::Error::EAGAIN) if first => return Ok(false),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(true)
}

/// Receives multipart messages into [`Bytes`] frames with few allocations: one reused libzmq
/// message, and small frames copied into a shared arena (one allocation per
/// [`ARENA_BLOCK`] bytes of them, not one per frame).
pub(crate) struct Receiver {
    msg: zmq::Message,
    arena: BytesMut,
    /// The last message received (the identity frame first on a ROUTER).
    pub(crate) frames: Vec<Bytes>,
}

/// Size of a fresh arena block. A frame still held pins its block, so blocks stay small.
const ARENA_BLOCK: usize = 8 << 10;

impl Receiver {
    pub(crate) fn new() -> Self {
        Receiver {
            msg: zmq::Message::new(),
            arena: BytesMut::new(),
            frames: Vec::new(),
        }
    }

    /// Receives one whole multipart message into [`frames`](Self::frames) without blocking
    /// for its first frame. False when none is waiting.
    pub(crate) fn recv(&mut self, socket: &zmq::Socket) -> io::Result<bool> {
        self.frames.clear();
        loop {
            let flags = if self.frames.is_empty() {
                zmq::DONTWAIT
            } else {
                0
            };
            match socket.recv(&mut self.msg, flags) {
                Ok(()) => {}
                Err(zmq::Error::EAGAIN) | Err(zmq::Error::EINTR) if self.frames.is_empty() => {
                    return Ok(false)
                }
                Err(e) => return Err(e.into()),
            }
            let more = self.msg.get_more();
            // One look at the message's data: each `Deref` is two FFI calls.
            let data: &[u8] = &self.msg;
            let len = data.len();
            let frame = if len >= COPY_BELOW {
                let msg = std::mem::replace(&mut self.msg, zmq::Message::new());
                Bytes::from_owner(OwnedMessage(msg))
            } else if len == 0 {
                Bytes::new()
            } else {
                if self.arena.capacity() - self.arena.len() < len {
                    // Reclaims the block in place when no frame holds it any more.
                    self.arena.reserve(ARENA_BLOCK.max(len));
                }
                self.arena.extend_from_slice(data);
                self.arena.split().freeze()
            };
            self.frames.push(frame);
            if !more {
                return Ok(true);
            }
        }
    }
}

struct OwnedMessage(zmq::Message);

impl AsRef<[u8]> for OwnedMessage {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Milliseconds for `zmq::poll` until `deadline`, rounded up (a deadline 0.3 ms away must
/// not become a 0 ms poll, which would spin until it passes).
pub(crate) fn poll_millis(deadline: Instant, now: Instant) -> i64 {
    let left = deadline.saturating_duration_since(now);
    let ms = left.as_micros().div_ceil(1000);
    ms.min(i64::MAX as u128) as i64
}

/// Sleeps on `socket` and the wake-up descriptor, at most until `deadline`. True when the
/// wake-up descriptor is readable.
///
/// Checks `ZMQ_EVENTS` first (which also arms libzmq's edge-triggered `ZMQ_FD`, whatever
/// the socket calls before it consumed) and returns at once when a message waits; else
/// sleeps in one `poll(2)` on `ZMQ_FD` and the wake-up. `zmq::poll` would make two more
/// system calls per sleep (a zero-timeout pass and a second events check).
pub(crate) fn wait(socket: &zmq::Socket, wake_fd: i32, deadline: Instant) -> io::Result<bool> {
    match socket.get_events() {
        Ok(events) if events.contains(zmq::POLLIN) => return Ok(false),
        Ok(_) => {}
        // Interrupted: look at everything, as if signalled.
        Err(zmq::Error::EINTR) => return Ok(true),
        Err(e) => return Err(e.into()),
    }
    let ms = poll_millis(deadline, Instant::now());
    let ms = i32::try_from(ms).unwrap_or(i32::MAX);
    let [_, woken] = crate::sys::poll_readable([socket.get_fd()?, wake_fd], ms)?;
    Ok(woken)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn poll_timeouts_round_up() {
        let now = Instant::now();
        assert_eq!(poll_millis(now, now), 0);
        assert_eq!(poll_millis(now + Duration::from_micros(300), now), 1);
        assert_eq!(poll_millis(now + Duration::from_millis(2), now), 2);
        assert_eq!(poll_millis(now + Duration::from_micros(2001), now), 3);
        assert_eq!(poll_millis(now, now + Duration::from_secs(1)), 0);
    }
}
