//! Entry points for the `gateway_decoder` fuzz target (`fuzz/`), not API: the
//! decoders of the gateway ⇄ worker messages ([`crate::protocol`]) and the
//! encoders a round trip needs, over plain `http` types.
//!
//! Messages are seen as `[control, frames…]`: the 9-byte control header, then
//! what the kind carries. Where the protocol puts that payload in the control
//! header's own frame (`HEAD`, `RESPONSE`), the encoders split it there and the
//! decoders take it as one frame.

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use super::protocol as proto;

thread_local! {
    /// The decoders' name cache, kept across inputs as a gateway or worker keeps it, so
    /// the fuzzer also runs heads whose names it holds already.
    static NAMES: std::cell::RefCell<proto::NameCache> = Default::default();
}

/// A message's first frame: (kind, id) from its control header.
pub fn control(frame: &[u8]) -> Option<(u8, u64)> {
    proto::parse_control(frame)
}

/// `HELLO`'s frames after the control header: (version, capacity).
pub fn hello(frames: &[Bytes]) -> (Option<u16>, Option<u32>) {
    proto::parse_hello(frames)
}

/// A whole `HELLO` message.
pub fn encode_hello(version: u16, capacity: u32) -> Vec<Bytes> {
    proto::hello(version, capacity)
}

/// `WELCOME`'s frames after the control header: (version, interval ms, timeout ms).
pub fn welcome(frames: &[Bytes]) -> Option<(u16, u32, u32)> {
    proto::parse_welcome(frames)
}

/// A whole `WELCOME` message (this crate's version).
pub fn encode_welcome(interval_ms: u32, timeout_ms: u32) -> Vec<Bytes> {
    proto::welcome(interval_ms, timeout_ms)
}

/// A request `HEAD`'s frames after the control header, as a worker reads them:
/// the request's parts (with a `RawRequest` when `raw`) and the flags.
pub fn request_head(frames: &[Bytes], raw: bool) -> Option<(http::request::Parts, u8)> {
    let [payload] = frames else {
        return None;
    };
    NAMES
        .with_borrow_mut(|names| proto::parse_request_head(payload, raw, names))
        .map(|head| (head.parts, head.flags))
}

/// A whole request `HEAD` message, normalised as the gateway sends it (no client address).
pub fn encode_request_head(id: u64, parts: &http::request::Parts, flags: u8) -> Vec<Bytes> {
    proto::request_head(id, parts, flags, None)
}

/// A response `HEAD`'s frames after the control header, as the gateway reads
/// them: (status, fields, body length if known).
pub fn response_head(frames: &[Bytes]) -> Option<(StatusCode, HeaderMap, Option<u64>)> {
    let [payload] = frames else {
        return None;
    };
    NAMES
        .with_borrow_mut(|names| proto::parse_response_head(payload, names))
        .map(|h| (h.status, h.headers, h.body_len))
}

/// A whole response `HEAD` message.
pub fn encode_response_head(
    id: u64,
    status: StatusCode,
    headers: HeaderMap,
    body_len: Option<u64>,
) -> Vec<Bytes> {
    proto::split_control(proto::response_head(
        id,
        &response_parts(status, headers),
        body_len,
    ))
}

/// A `RESPONSE`'s frames after the control header: (status, fields, body).
pub fn full_response(frames: &[Bytes]) -> Option<(StatusCode, HeaderMap, Bytes)> {
    let [payload] = frames else {
        return None;
    };
    NAMES
        .with_borrow_mut(|names| proto::parse_full_response(payload, names))
        .map(|(h, body)| (h.status, h.headers, body))
}

/// A whole `RESPONSE` message.
pub fn encode_full_response(
    id: u64,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
) -> Vec<Bytes> {
    proto::split_control(proto::full_response(
        id,
        &response_parts(status, headers),
        &body,
    ))
}

fn response_parts(status: StatusCode, headers: HeaderMap) -> http::response::Parts {
    let (mut parts, ()) = http::Response::new(()).into_parts();
    parts.status = status;
    parts.headers = headers;
    parts
}
