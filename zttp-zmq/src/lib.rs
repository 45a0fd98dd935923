//! # zttp-zmq: HTTP on a ZeroMQ STREAM socket, and scale-out to ZeroMQ workers
//!
//! This crate moves bytes and wakes tasks; it never parses HTTP. Each TCP peer of a libzmq
//! `ZMQ_STREAM` socket becomes a [`PeerStream`] (futures-io `AsyncRead + AsyncWrite`), and
//! [`Server`] hands those streams to [`zttp_service::serve`], the same drive loop every zttp
//! adapter uses. Keep-alive, pipelining, `Expect: 100-continue`, limits, timeouts, error
//! answers and graceful shutdown therefore behave exactly as on tokio.
//!
//! ```no_run
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     zttp_zmq::serve("tcp://127.0.0.1:8080", |_req: zttp_zmq::Request| async {
//!         "Hello World!"
//!     })
//!     .await
//! }
//! ```
//!
//! ## STREAM socket semantics (libzmq 4.3) and how they are handled
//!
//! | libzmq behaviour | what this crate does |
//! |---|---|
//! | a new TCP peer arrives as `[id, ""]` (`ZMQ_STREAM_NOTIFY`, set explicitly to 1), with the `Peer-Address` property | a new [`PeerStream`] is yielded by [`PeerListener`]; its requests carry [`PeerAddr`] (IP from `Peer-Address`, port from `getpeername` on the connection) |
//! | data arrives as `[id, chunk]`, split wherever TCP and libzmq like (a 1 MB body is ~124 frames of ≤ 8 KiB) | chunks are queued per peer; reads see one ordered byte stream |
//! | the peer closing (also mid-request) arrives as `[id, ""]` | reads return EOF after the queued bytes; writes fail with `ConnectionReset` |
//! | sending `[id, ""]` closes a peer after its queued data; no notification follows | `poll_close` or dropping the stream does this after the outbound queue is sent; the id is remembered so a late frame is not taken for a new peer |
//! | a send to a vanished id fails with `EHOSTUNREACH` (or `EAGAIN` just after it closed); a **blocking** send to it or to a slow reader hangs the whole socket | every send uses `DONTWAIT`; `EHOSTUNREACH` finishes the peer |
//! | `SNDHWM` counts messages, `EAGAIN` is per peer, `ZMQ_EVENTS` reports `POLLOUT` even while a peer is blocked, and the socket fd is signalled when that peer's pipe drains | a per-peer outbound queue capped in bytes ([`PeerLimits::outbound`]) and `SNDHWM` set in messages of at most [`PeerLimits::frame`] bytes ([`PeerLimits::send_hwm`], 16 × 64 KiB); when full, that peer's `poll_write` is `Pending`, so a slow reader slows only its own handler; blocked peers are retried when the fd fires (a safety net of 10–160 ms covers an activation our own send consumed) |
//! | a peer whose pipe is full cannot take the closing `[id, ""]` | the drive loop's `write_timeout` closes the stream; if its queue then makes no progress for [`PeerLimits::close_stalled`], the IO thread aborts the TCP connection (`SO_LINGER` 0 + `shutdown` on libzmq's descriptor, checked by address), libzmq drops the peer and frees its queues. `ZMQ_TCP_MAXRT` ([`set_tcp_max_retransmit`]) also works: the kernel aborts a zero-window connection after that time |
//! | one peer cannot be paused without pausing the socket for all; libzmq queues up to `RCVHWM` messages (≤ 8 KiB each) per peer, then stops reading that TCP socket | when a peer is [`PeerLimits::inbound`] bytes ahead of its handler (or all peers [`PeerLimits::inbound_total`]), the IO thread stops receiving, so TCP flow control slows the senders: a fast upload is never reset. It resumes as soon as the handler reads. **Fairness trade-off:** while paused, other peers' messages wait too (measured: GETs beside an upload throttled to a 1 MB/s handler took a median 12 ms, max ~30 ms, one handler read interval). A handler that reads nothing for [`PeerLimits::inbound_stall`] (2 s) gets its peer dropped (logged; its stream reads `OutOfMemory`) so the others go on |
//! | a client's half-close (`shutdown(SHUT_WR)`) is reported as a full disconnect, and libzmq closes the connection at once | such a client gets no response: the request may be served but the answer has no connection left. STREAM sockets cannot express half-close; clients must not half-close (curl, browsers and wrk do not) |
//!
//! ## Design
//!
//! One IO thread owns the socket (libzmq sockets are not thread-safe). It sleeps in
//! `poll(2)` on the socket's `ZMQ_FD` and a self-pipe. Received frames go to their peer's
//! queue as libzmq handed them over; a stream's read copies from them straight into the
//! drive loop's buffer. A write copies the drive loop's buffers once into zmq frames, queues
//! them on the peer under a short lock and, if the peer is not queued yet (an atomic flag),
//! sends it on an MPSC ready queue, waking the thread (no system call while it is awake).
//! The thread sends ready peers, retries blocked ones, and receives frames until `EAGAIN`,
//! which is its last call before sleeping (`ZMQ_FD` is edge-triggered).
//!
//! By default ([`Server::serve`]) connection loops and handlers run on the IO thread itself
//! ([`IoThreadRuntime`], a small executor with a timer heap polled between socket turns), so
//! a request costs no cross-thread wake-up; handlers must then not block.
//! [`Server::serve_on_tokio`] (or [`Server::serve_with`] and any [`zttp_service::Runtime`])
//! runs them on a tokio runtime instead, for handlers that block or compute for long.
//!
//! ## HTTPS
//!
//! A STREAM socket carries plain TCP bytes and libzmq has no TLS, so this adapter serves
//! HTTP/1.1 and h2c only. Terminate TLS in front of it: a reverse proxy (nginx, HAProxy)
//! holds the certificate and forwards plain HTTP to the STREAM endpoint on loopback or a
//! private network (passing what handlers need of SNI or ALPN in headers). Or serve the
//! [`Gateway`]'s handler with `zttp-tokio`'s or `zttp-async-std`'s `tls` feature
//! (`Server::tls`): browsers get HTTP/2 over TLS, the workers behind stay on ZeroMQ.
//!
//! ## Scale-out
//!
//! A [`Gateway`] binds a ROUTER socket; [`Worker`]s (other processes, other machines) connect
//! with DEALER sockets and run ordinary [`Handler`]s. [`Gateway::handler`] is itself a
//! [`Handler`], served on a STREAM socket or any other zttp adapter. Requests go to the worker
//! with the most free capacity, bodies stream both ways under a 256 KiB window, `100-continue`
//! reaches the worker's handler, heartbeats detect dead workers (their unanswered requests are
//! re-dispatched when safe), and timeouts and a bounded queue answer `504`/`503` instead of
//! waiting forever. The wire protocol is public and versioned ([`protocol`]), so workers can
//! be written in any language; `examples/zmq_worker.py` is one in Python.
//!
//! ```no_run
//! # async fn run() -> std::io::Result<()> {
//! // The gateway process: HTTP in front, workers behind.
//! let gateway = zttp_zmq::Gateway::bind("tcp://127.0.0.1:5556")?;
//! zttp_zmq::Server::bind("tcp://127.0.0.1:8080")?.serve(gateway.handler()).await
//! # }
//! # async fn worker() -> std::io::Result<()> {
//! // Each worker process, anywhere:
//! zttp_zmq::worker("tcp://gateway-host:5556", |_req: zttp_zmq::Request| async { "Hello World!" }).await
//! # }
//! ```
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

pub use listener::{set_tcp_max_retransmit, PeerListener};
pub use peer::{PeerLimits, PeerStream, RoutingId};
pub use runtime::{IoThreadRuntime, TokioRuntime};
/// The gateway protocol's decoders, for the fuzz target; not API.
#[doc(hidden)]
pub use scale::fuzz as __fuzz;
pub use scale::spec as protocol;
pub use scale::{
    worker, CurveKeyPair, Forward, Gateway, GatewayConfig, GatewayCurve, GatewayHandler,
    GatewayStats, Worker, WorkerCurve,
};
pub use server::{serve, Server};
pub use zttp_service::{
    Body, Handler, IntoResponse, PeerAddr, Request, Response, Runtime, ServerConfig, Shutdown,
};
