#![doc = include_str!("PROTOCOL.md")]
//!
//! The constants below are the numbers of this specification.

/// The protocol version this crate speaks (sent in `HELLO` and `WELCOME`).
pub const VERSION: u16 = 3;

/// Message kind: a request head (gateway → worker) or a response head (worker → gateway).
pub const HEAD: u8 = 1;
/// Message kind: one chunk of body bytes.
pub const BODY: u8 = 2;
/// Message kind: the body is complete.
pub const END: u8 = 3;
/// Message kind: the exchange is cancelled.
pub const ABORT: u8 = 4;
/// Message kind: body bytes consumed since the previous `ACK` (a delta).
pub const ACK: u8 = 5;
/// Message kind: the worker's heartbeat; the id field carries its total capacity.
pub const READY: u8 = 6;
/// Message kind: the gateway's heartbeat.
pub const PING: u8 = 7;
/// Message kind: a worker joins (version, capacity).
pub const HELLO: u8 = 8;
/// Message kind: the gateway accepts a worker and announces the heartbeat.
pub const WELCOME: u8 = 9;
/// Message kind: the gateway refuses a worker, with a reason.
pub const REFUSE: u8 = 10;
/// Message kind: the gateway does not know this worker; it must send `HELLO` again.
pub const UNKNOWN: u8 = 11;
/// Message kind: the worker's handler started reading a `100-continue` request body.
pub const CONTINUE: u8 = 12;
/// Message kind: a complete response (head and whole body) in one message.
pub const RESPONSE: u8 = 13;

/// Unacknowledged body bytes allowed in flight per exchange and direction.
pub const WINDOW: u64 = 256 << 10;
/// A receiver acknowledges consumed bytes once this many accumulate (and at the body's end).
pub const ACK_EVERY: u64 = 64 << 10;
