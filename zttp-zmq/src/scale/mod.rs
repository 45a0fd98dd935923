//! Scale-out: a gateway forwarding HTTP requests to handler workers over ROUTER/DEALER.
//!
//! - `gateway`: the public API ([`Gateway`], [`GatewayConfig`], [`GatewayStats`]);
//! - `forward`: the handler-side futures that forward one request;
//! - `io_loop`: the IO thread that owns the ROUTER socket;
//! - `pool`: dispatch and liveness, sans-IO, on caller-supplied time;
//! - `protocol` / `wire`: the messages of [`crate::protocol`] and their socket IO;
//! - `curve`: CURVE keys and the ZAP allow-list;
//! - `worker`: the Rust [`Worker`].

mod curve;
mod exchange;
mod forward;
#[doc(hidden)]
pub mod fuzz;
mod gateway;
mod io_loop;
mod pool;
mod protocol;
pub mod spec;
mod wire;
mod worker;

pub use curve::{CurveKeyPair, GatewayCurve, WorkerCurve};
pub use forward::Forward;
pub use gateway::{Gateway, GatewayConfig, GatewayHandler, GatewayStats};
pub use worker::{worker, Worker};
