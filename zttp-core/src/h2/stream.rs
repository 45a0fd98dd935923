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
//! stream table (see `streams`); idle and closed streams are told apart by
//! their ids and a short memory of recently closed ones.
//!
//! Each direction of a stored stream has its own state, so the diagram's
//! states and the message's progress are one value, not a state plus flags:
//!
//! ```text
//!  ours (send):    AwaitingHead ──final head──▶ Body ──END_STREAM──▶ Closed
//!  peer's (recv):  AwaitingHead ──final head──▶ Body ──END_STREAM──▶ Closed
//! ```
//!
//! A stream we open starts with our head sent (`Body`) and the peer's
//! awaited; one the peer opens starts the other way round. `open` is both
//! sides before `Closed`; "half-closed (local)" is our side `Closed`, and the
//! stream is closed (and leaves the table) when both sides are.

use super::flow::{RecvWindow, SendWindow};
use crate::LocalProtocolError;

/// Our side of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SendSide {
    /// Server: the request is in, our final response head is not sent yet
    /// (1xx heads may go first). `answers_head`: the request was HEAD, so
    /// the response carries no body.
    AwaitingHead { answers_head: bool },
    /// Our head is out; the body may still carry what the rule says.
    Body(SendBody),
    /// We sent END_STREAM.
    Closed,
}

/// The peer's side of a stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RecvSide {
    /// Client: the final response head has not arrived (1xx heads may).
    /// `head_request`: our request was HEAD.
    AwaitingHead { head_request: bool },
    /// The peer's head is in: DATA and then trailers may follow.
    Body(RecvBody),
    /// The peer sent END_STREAM.
    Closed,
}

/// What the peer's message body must add up to (RFC 9113 §8.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RecvBody {
    /// The declared content-length, when it binds the DATA (not on a
    /// response to HEAD, nor a 204 or 304).
    pub(crate) declared: Option<u64>,
    /// DATA bytes received (padding excluded).
    pub(crate) received: u64,
}

impl RecvBody {
    /// A body that must add up to `declared`, if given.
    pub(crate) fn declared(declared: Option<u64>) -> RecvBody {
        RecvBody {
            declared,
            received: 0,
        }
    }

    /// Counts `n` more bytes; false when they overrun the declared length.
    pub(crate) fn receive(&mut self, n: usize) -> bool {
        self.received += n as u64;
        self.declared.is_none_or(|d| self.received <= d)
    }

    /// False when the body ends short of its declared length.
    pub(crate) fn complete(&self) -> bool {
        self.declared.is_none_or(|d| self.received == d)
    }
}

/// One open (or half-closed) stream.
#[derive(Debug)]
pub(crate) struct Stream {
    /// What the peer lets us send.
    pub(crate) send_window: SendWindow,
    /// What we let the peer send.
    pub(crate) recv_window: RecvWindow,
    pub(crate) send: SendSide,
    pub(crate) recv: RecvSide,
}

impl Stream {
    /// A stream the peer opened with a request head (we are the server).
    pub(crate) fn remote(
        send_window: SendWindow,
        recv_window: RecvWindow,
        answers_head: bool,
        body: RecvBody,
    ) -> Stream {
        Stream {
            send_window,
            recv_window,
            send: SendSide::AwaitingHead { answers_head },
            recv: RecvSide::Body(body),
        }
    }

    /// A stream we opened with a request head (we are the client).
    pub(crate) fn local(
        send_window: SendWindow,
        recv_window: RecvWindow,
        body: SendBody,
        head_request: bool,
    ) -> Stream {
        Stream {
            send_window,
            recv_window,
            send: SendSide::Body(body),
            recv: RecvSide::AwaitingHead { head_request },
        }
    }

    /// True when the peer may still send DATA and HEADERS.
    pub(crate) fn can_recv(&self) -> bool {
        self.recv != RecvSide::Closed
    }

    /// True when we may still send.
    pub(crate) fn can_send(&self) -> bool {
        self.send != SendSide::Closed
    }

    /// Both sides sent END_STREAM.
    pub(crate) fn is_closed(&self) -> bool {
        !self.can_recv() && !self.can_send()
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
        let window = || (SendWindow::new(10), RecvWindow::new(10, 10));
        let (send, recv) = window();
        let mut s = Stream::remote(send, recv, false, RecvBody::declared(None));
        assert!(s.can_send() && s.can_recv());
        s.recv = RecvSide::Closed;
        assert!(s.can_send() && !s.can_recv() && !s.is_closed());
        s.send = SendSide::Closed;
        assert!(s.is_closed());
        let (send, recv) = window();
        let mut s = Stream::local(send, recv, SendBody::Unlimited, false);
        s.send = SendSide::Closed;
        assert!(!s.can_send() && s.can_recv());
    }

    #[test]
    fn received_body_must_add_up_to_its_declared_length() {
        let mut body = RecvBody::declared(Some(5));
        assert!(body.receive(3) && !body.complete());
        assert!(body.receive(2) && body.complete());
        assert!(!body.receive(1));
        let mut any = RecvBody::declared(None);
        assert!(any.receive(usize::MAX) && any.complete());
    }
}
