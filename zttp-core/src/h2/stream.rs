//! Stream states (RFC 9113 §5.1) and per-stream bookkeeping.
//!
//! ```text
//!                              +--------+
//!                      send PP |        | recv PP
//!                     ,--------+  idle  +--------.
//!                    /         |        |         \
//!                   v          +--------+          v
//!            +----------+          |           +----------+
//!            |          |          | send H /  |          |
//!     ,------+ reserved |          | recv H    | reserved +------.
//!     |      | (local)  |          |           | (remote) |      |
//!     |      +---+------+          v           +------+---+      |
//!     |          |             +--------+             |          |
//!     |          |     recv ES |        | send ES     |          |
//!     |   send H |     ,-------+  open  +-------.     | recv H   |
//!     |          |    /        |        |        \    |          |
//!     |          v   v         +---+----+         v   v          |
//!     |      +----------+          |           +----------+      |
//!     |      |   half-  |          |           |   half-  |      |
//!     |      |  closed  |          | send R /  |  closed  |      |
//!     |      | (remote) |          | recv R    | (local)  |      |
//!     |      +----+-----+          |           +-----+----+      |
//!     |           |                |                 |           |
//!     |           | send ES /      |       recv ES / |           |
//!     |           |  send R /      v        send R / |           |
//!     |           |  recv R    +--------+   recv R   |           |
//!     | send R /  `----------->|        |<-----------'  send R / |
//!     | recv R                 | closed |               recv R   |
//!     `----------------------->|        |<-----------------------'
//!                              +--------+
//!
//!    send:   endpoint sends this frame
//!    recv:   endpoint receives this frame
//!    H:  HEADERS frame (with implied CONTINUATION frames)
//!    PP: PUSH_PROMISE frame (with implied CONTINUATION frames)
//!    ES: END_STREAM flag
//!    R:  RST_STREAM frame
//! ```
//!
//! Pushed streams (the reserved states) are declined, so never stored.
//! Only streams that are neither idle nor closed live in the connection's
//! stream table; idle and closed streams are told apart by their ids (and a
//! short memory of recently closed ones, see `conn`).

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::flow::{RecvWindow, SendWindow};
use crate::LocalProtocolError;

/// The connection's open streams by id.
pub(crate) type StreamTable = HashMap<u32, Stream, BuildHasherDefault<StreamIdHasher>>;

/// Hashes a stream id with one multiplication, keeping the product's well
/// mixed high half in the low bits the table indexes by. SipHash's flood
/// resistance buys little here: the table holds at most our concurrent-stream
/// limit of ids, and a probe costs one integer compare.
#[derive(Debug, Default)]
pub(crate) struct StreamIdHasher(u64);

/// 2^64 divided by the golden ratio, odd: Fibonacci hashing.
const MULTIPLIER: u64 = 0x9e37_79b9_7f4a_7c15;

impl Hasher for StreamIdHasher {
    fn write(&mut self, bytes: &[u8]) {
        // Only `u32` keys reach this hasher; other input is hashed correctly, not fast.
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(MULTIPLIER);
        }
    }

    fn write_u32(&mut self, id: u32) {
        self.0 = u64::from(id).wrapping_mul(MULTIPLIER).rotate_left(32);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// Where a stream is in the diagram above (idle and closed streams are not stored).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Both sides may send.
    Open,
    /// We sent END_STREAM; the peer may still send.
    HalfClosedLocal,
    /// The peer sent END_STREAM; we may still send.
    HalfClosedRemote,
    /// Both sides sent END_STREAM (or one reset it).
    Closed,
}

impl State {
    /// True when the peer may still send DATA and HEADERS.
    pub(crate) fn can_recv(self) -> bool {
        matches!(self, State::Open | State::HalfClosedLocal)
    }

    /// True when we may still send.
    pub(crate) fn can_send(self) -> bool {
        matches!(self, State::Open | State::HalfClosedRemote)
    }

    /// The peer sent END_STREAM.
    pub(crate) fn recv_end_stream(&mut self) {
        *self = match *self {
            State::Open => State::HalfClosedRemote,
            State::HalfClosedLocal => State::Closed,
            s => s,
        };
    }

    /// We sent END_STREAM.
    pub(crate) fn send_end_stream(&mut self) {
        *self = match *self {
            State::Open => State::HalfClosedLocal,
            State::HalfClosedRemote => State::Closed,
            s => s,
        };
    }
}

/// What the next HEADERS the peer sends on this stream will be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecvHead {
    /// A response head (client side, until the final response).
    Response,
    /// Trailers: the message head was received.
    Trailers,
}

/// One open (or half-closed) stream.
#[derive(Debug)]
pub(crate) struct Stream {
    pub(crate) state: State,
    /// What the peer lets us send.
    pub(crate) send_window: SendWindow,
    /// What we let the peer send.
    pub(crate) recv_window: RecvWindow,
    pub(crate) recv_head: RecvHead,
    /// The peer's declared content-length, if any.
    pub(crate) content_length: Option<u64>,
    /// DATA bytes received (padding excluded).
    pub(crate) received: u64,
    /// We sent a final response head (server) or the request head (client).
    pub(crate) head_sent: bool,
    /// Client: the request was HEAD, so the response's content-length says nothing.
    pub(crate) head_request: bool,
    /// Server: the request was HEAD, so our response carries no body.
    pub(crate) answers_head: bool,
    /// What body the message we send may still carry.
    pub(crate) send_body: SendBody,
    /// The peer opened this stream.
    pub(crate) remote_initiated: bool,
}

impl Stream {
    pub(crate) fn new(
        state: State,
        send_window: SendWindow,
        recv_window: RecvWindow,
        remote_initiated: bool,
    ) -> Self {
        Stream {
            state,
            send_window,
            recv_window,
            recv_head: if remote_initiated {
                RecvHead::Trailers
            } else {
                RecvHead::Response
            },
            content_length: None,
            received: 0,
            head_sent: false,
            head_request: false,
            answers_head: false,
            send_body: SendBody::Unlimited,
            remote_initiated,
        }
    }
}

/// The body rule of the message we send, from its head (RFC 9113 §8.1.1:
/// DATA must add up to the declared content-length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendBody {
    /// No content-length declared: any amount.
    Unlimited,
    /// The declared content-length minus the bytes already queued.
    Remaining(u64),
    /// None at all: a response to HEAD, or a 204 or 304 response.
    Forbidden,
}

impl SendBody {
    /// The rule after `len` more bytes, or why they may not be sent.
    pub(crate) fn after_data(self, len: usize) -> Result<SendBody, LocalProtocolError> {
        match self {
            _ if len == 0 => Ok(self),
            SendBody::Unlimited => Ok(self),
            SendBody::Remaining(n) => n
                .checked_sub(len as u64)
                .map(SendBody::Remaining)
                .ok_or(LocalProtocolError::TooMuchData),
            SendBody::Forbidden => Err(LocalProtocolError::BodyNotAllowed),
        }
    }

    /// Whether the message may end now.
    pub(crate) fn check_end(self) -> Result<(), LocalProtocolError> {
        match self {
            SendBody::Remaining(n) if n > 0 => Err(LocalProtocolError::TooLittleData),
            _ => Ok(()),
        }
    }
}

/// Why a stream closed, remembered for a while to answer late frames right.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClosedBy {
    /// Both sides ended it, or the peer reset it: late frames are STREAM_CLOSED.
    Remote,
    /// We reset it: the peer may not know yet, so late frames are ignored (§5.4.2).
    LocalReset,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_ids_spread_over_the_low_bits() {
        use std::hash::BuildHasher;
        let build = BuildHasherDefault::<StreamIdHasher>::default();
        for stride in [2, 4096, 1 << 20] {
            let buckets: std::collections::HashSet<u64> = (0..1024u32)
                .map(|i| build.hash_one(1 + i * stride) & 1023)
                .collect();
            assert!(buckets.len() > 400, "stride {stride}: {}", buckets.len());
        }
    }

    #[test]
    fn send_body_counts_down_the_declared_length() {
        let rule = SendBody::Remaining(5);
        assert_eq!(rule.check_end(), Err(LocalProtocolError::TooLittleData));
        let rule = rule.after_data(3).unwrap();
        assert_eq!(rule, SendBody::Remaining(2));
        assert_eq!(rule.after_data(3), Err(LocalProtocolError::TooMuchData));
        assert_eq!(rule.after_data(2).unwrap().check_end(), Ok(()));
        assert_eq!(SendBody::Forbidden.after_data(0), Ok(SendBody::Forbidden));
        assert_eq!(
            SendBody::Forbidden.after_data(1),
            Err(LocalProtocolError::BodyNotAllowed)
        );
        assert_eq!(
            SendBody::Unlimited.after_data(usize::MAX),
            Ok(SendBody::Unlimited)
        );
    }

    #[test]
    fn end_stream_both_ways_closes() {
        let mut s = State::Open;
        s.recv_end_stream();
        assert_eq!(s, State::HalfClosedRemote);
        assert!(s.can_send() && !s.can_recv());
        s.send_end_stream();
        assert_eq!(s, State::Closed);

        let mut s = State::Open;
        s.send_end_stream();
        assert_eq!(s, State::HalfClosedLocal);
        assert!(!s.can_send() && s.can_recv());
        s.recv_end_stream();
        assert_eq!(s, State::Closed);
    }
}
