//! zttp over ZeroMQ.
#![warn(missing_docs)]
#![deny(unsafe_code)]

mod io_thread;
mod listener;
mod peer;
mod runtime;
mod scale;
mod server;
mod sys;
mod wake;

pub use listener::PeerListener;
pub use peer::{PeerLimits, PeerStream, RoutingId};
pub use runtime::TokioRuntime;
pub use scale::{worker, Gateway, GatewayConfig, GatewayHandler, Worker};
pub use server::{serve, Server};
pub use zttp_service::{Handler, Request, Response, ServerConfig, Shutdown};
