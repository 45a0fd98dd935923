//! HTTP/2 (RFC 9113), both roles, sans IO.
//!
//! - [`frame`]: one file per frame type, `load` and `encode`;
//! - [`stream`]: the stream state machine of §5.1 (the diagram is there);
//! - [`flow`]: flow-control windows;
//! - [`message`]: pseudo-headers and field validation (§8);
//! - `conn`, `recv`, `send`: the connection, its receive and send halves.
//!
//! The facade [`Connection`](crate::Connection) forwards to [`H2Connection`].

mod conn;
mod flow;
mod frame;
mod message;
mod recv;
mod send;
mod stream;

pub(crate) use conn::H2Connection;
