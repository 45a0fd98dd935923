//! Entry points for the `gateway_decoder` fuzz target (`fuzz/`), not API: the
//! decoders of the gateway ⇄ worker messages ([`crate::protocol`]) and the
//! encoders a round trip needs, over plain `http` types.

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use super::protocol as proto;

/// A control frame: (kind, id).
pub fn control(frame: &[u8]) -> Option<(u8, u64)> {
    proto::parse_control(frame)
}

/// `HELLO`'s frames after the control frame: (version, capacity).
pub fn hello(frames: &[Bytes]) -> (Option<u16>, Option<u32>) {
    proto::parse_hello(frames)
}

/// A whole `HELLO` message.
pub fn encode_hello(version: u16, capacity: u32) -> Vec<Bytes> {
    proto::hello(version, capacity)
}

/// `WELCOME`'s frames after the control frame: (version, interval ms, timeout ms).
pub fn welcome(frames: &[Bytes]) -> Option<(u16, u32, u32)> {
    proto::parse_welcome(frames)
}

/// A whole `WELCOME` message (this crate's version).
pub fn encode_welcome(interval_ms: u32, timeout_ms: u32) -> Vec<Bytes> {
    proto::welcome(interval_ms, timeout_ms)
}

/// A request `HEAD`'s frames after the control frame, as a worker reads them:
/// the request's parts (with a `RawRequest` when `raw`) and the flags.
pub fn request_head(frames: &[Bytes], raw: bool) -> Option<(http::request::Parts, u8)> {
    proto::parse_request_head(frames, raw).map(|head| (head.parts, head.flags))
}

/// A whole request `HEAD` message, normalised as the gateway sends it (no client address).
pub fn encode_request_head(id: u64, parts: &http::request::Parts, flags: u8) -> Vec<Bytes> {
    proto::request_head(id, parts, flags, None)
}

/// A response `HEAD`'s frames after the control frame, as the gateway reads
/// them: (status, fields, body length if known).
pub fn response_head(frames: &[Bytes]) -> Option<(StatusCode, HeaderMap, Option<u64>)> {
    proto::parse_response_head(frames).map(|h| (h.status, h.headers, h.body_len))
}

/// A whole response `HEAD` message.
pub fn encode_response_head(
    id: u64,
    status: StatusCode,
    headers: HeaderMap,
    body_len: Option<u64>,
) -> Vec<Bytes> {
    proto::response_head(id, &response_parts(status, headers), body_len)
}

/// A `RESPONSE`'s frames after the control frame: (status, fields, body).
pub fn full_response(frames: &[Bytes]) -> Option<(StatusCode, HeaderMap, Bytes)> {
    proto::parse_full_response(frames).map(|(h, body)| (h.status, h.headers, body))
}

/// A whole `RESPONSE` message.
pub fn encode_full_response(
    id: u64,
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
) -> Vec<Bytes> {
    proto::full_response(id, &response_parts(status, headers), body)
}

fn response_parts(status: StatusCode, headers: HeaderMap) -> http::response::Parts {
    let (mut parts, ()) = http::Response::new(()).into_parts();
    parts.status = status;
    parts.headers = headers;
    parts
}
