//! HTTP/2 (RFC 9113), both roles, sans IO.
//!
//! - [`frame`]: one file per frame type, `load` and `encode`;
//! - [`stream`]: one stream's state, per direction (the §5.1 diagram is there);
//! - [`streams`]: the table of open streams, their counts and ids;
//! - [`recv`]: the receive side (frames, header blocks, receive window);
//! - [`send`]: the send side (frame writing, HPACK encoder, send window);
//! - [`flow`]: flow-control windows;
//! - [`message`]: pseudo-headers and field validation (§8);
//! - [`timers`]: the SETTINGS-ACK and keep-alive deadlines, on the caller's clock;
//! - `conn`: the connection that ties the owners together.
//!
//! Each owner keeps its fields private; only `conn` uses more than one.
//! The facade [`Connection`](crate::Connection) forwards to [`H2Connection`].

mod conn;
mod flow;
mod frame;
mod message;
mod recv;
mod send;
mod stream;
mod streams;
mod timers;

pub(crate) use conn::H2Connection;
