//! Answers every request `200 text/plain` `Hello, World!`.
//!
//! `cargo run --release -p zttp-examples --bin hello -- [--runtime tokio|async-std] [--addr 127.0.0.1:8080] [--tls | --cert FILE --key FILE]`
//!
//! `--tls` serves HTTPS with a self-signed certificate for `localhost` and
//! `127.0.0.1` made at start, `--cert FILE --key FILE` with PEM files; ALPN
//! picks HTTP/2 or HTTP/1.1.

use zttp_service::{Body, Request};

async fn hello(_req: Request) -> http::Response<Body> {
    let mut response = http::Response::new(Body::from("Hello, World!"));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    response
}

fn main() {
    zttp_examples::main_with(hello);
}
