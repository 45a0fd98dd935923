//! zttp over ZeroMQ.
#![warn(missing_docs)]
#![deny(unsafe_code)]

mod io_thread;
mod listener;
mod peer;
mod sys;
mod wake;

pub use listener::PeerListener;
pub use peer::{PeerLimits, PeerStream, RoutingId};
