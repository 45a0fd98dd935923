//! The drive loop of `zttp-service` over an in-memory connection: arbitrary
//! client bytes (HTTP/1.1, or h2c when they start with the preface), cut into
//! fragments, then the client's end of stream. The handler reads or ignores
//! the request body and answers with a full, streamed or empty body.
//!
//! Input: `[config, policy, fragment size, fragment seed, bytes…]`. Bits of
//! `config`: 0 raw requests, 1 a 64-byte body limit, 2 HTTP/1.1 only,
//! 3 HTTP/2 handlers spawned. Bits of `policy` choose what the handler does.
//!
//! Checks: no panic, and the loop ends by itself once the client has sent
//! everything and closed (bounded polls; its timers fire after one poll), so
//! no input can wedge a connection open.
//!
//! Self-contained (it is not part of `zttp_fuzz`'s library): the libFuzzer
//! entry point and `zttp-service/tests/fuzz_corpus.rs` include this file,
//! which brings the in-memory connection and executor of `service_support.rs`.

use std::io;
use std::sync::Arc;

#[path = "service_support.rs"]
mod support;

use support::{fragments, Executor, MemoryIo, MAX_POLLS};
use zttp_service::{serve_connection, Body, Handler, Request, Runtime, ServerConfig, Shutdown};

/// Runs one input (the fuzz target's body).
pub fn run(data: &[u8]) {
    let [cfg, policy, size, seed, ref input @ ..] = *data else {
        return;
    };
    let mut config = ServerConfig::default()
        .raw_request(cfg & 1 != 0)
        .spawn_http2_handlers(cfg & 8 != 0);
    if cfg & 2 != 0 {
        config = config.max_body_size(Some(64));
    }
    if cfg & 4 != 0 {
        config = config.core(zttp_core::Config::default().protocol(zttp_core::Protocol::Http1));
    }
    let runtime = Executor::default();
    let io = MemoryIo::new(fragments(input, size, seed));
    let connection = serve_connection(
        io,
        runtime.clone(),
        answer(policy),
        Arc::new(config),
        Shutdown::new(),
    );
    runtime.spawn(Box::pin(async move {
        let _ = connection.await;
    }));
    for _ in 0..MAX_POLLS {
        if runtime.run_once() == 0 {
            return;
        }
    }
    panic!("the connection did not end after its input and the client's close");
}

/// The handler `policy` describes.
fn answer(policy: u8) -> impl Handler {
    move |req: Request| async move {
        let read = policy & 1 != 0;
        let len = if read {
            match req.into_body().to_bytes().await {
                Ok(body) => body.len(),
                Err(e) => return http::Response::new(Body::from(e.to_string())),
            }
        } else {
            0
        };
        match (policy >> 1) & 3 {
            0 => http::Response::new(Body::from(format!("{len}"))),
            1 => http::Response::new(Body::empty()),
            2 => {
                let chunks = ["a", "bc", "def"].map(|c| Ok::<_, io::Error>(bytes::Bytes::from(c)));
                http::Response::new(Body::from_stream(futures::stream::iter(chunks)))
            }
            _ => {
                let mut response = http::Response::new(Body::from("no"));
                *response.status_mut() = http::StatusCode::from_u16(400 + u16::from(policy >> 3))
                    .unwrap_or(http::StatusCode::BAD_REQUEST);
                response
            }
        }
    }
}
