//! Scale-out: a gateway forwarding HTTP requests to handler workers over ROUTER/DEALER.

mod exchange;
mod gateway;
mod protocol;
mod worker;

pub use gateway::{Gateway, GatewayConfig, GatewayHandler};
pub use worker::{worker, Worker};
