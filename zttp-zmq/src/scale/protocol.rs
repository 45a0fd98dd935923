//! The gateway ⇄ worker wire protocol: small multipart ZeroMQ messages.
//!
//! Every message starts with a 9-byte control frame, `kind (u8) | exchange id (u64 BE)`;
//! the frames after it depend on the kind:
//!
//! | kind | direction | frames after the control frame |
//! |------|-----------|--------------------------------|
//! | `HEAD` | gateway → worker | method, target, version, then name, value pairs |
//! | `HEAD` | worker → gateway | status (u16 BE), body length (u64 BE, `u64::MAX` = unknown), then name, value pairs |
//! | `BODY` | both | one chunk of body bytes |
//! | `END` | both | none: the body is complete |
//! | `ABORT` | both | none: drop this exchange (client gone, handler failed) |
//! | `ACK` | both | bytes consumed (u64 BE): more body may be sent (flow-control window) |
//! | `READY` | worker → gateway | none; the id field carries the worker's capacity; also its heartbeat |
//! | `PING` | gateway → worker | none: heartbeat |
//!
//! Bodies flow in chunks under a per-exchange window of [`WINDOW`] unacknowledged bytes in
//! each direction, so neither side ever buffers a whole body.

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};

pub(crate) const HEAD: u8 = 1;
pub(crate) const BODY: u8 = 2;
pub(crate) const END: u8 = 3;
pub(crate) const ABORT: u8 = 4;
pub(crate) const ACK: u8 = 5;
pub(crate) const READY: u8 = 6;
pub(crate) const PING: u8 = 7;

/// Unacknowledged body bytes allowed in flight per exchange and direction.
pub(crate) const WINDOW: u64 = 256 << 10;
/// Consumed bytes are acknowledged once this many accumulate (or at the end).
pub(crate) const ACK_EVERY: u64 = 64 << 10;

/// One protocol message as frames (the ROUTER identity frame is not part of it).
pub(crate) type Frames = Vec<Bytes>;

pub(crate) fn control(kind: u8, id: u64) -> Bytes {
    let mut b = Vec::with_capacity(9);
    b.push(kind);
    b.extend_from_slice(&id.to_be_bytes());
    Bytes::from(b)
}

/// Splits a control frame into kind and id.
pub(crate) fn parse_control(frame: &[u8]) -> Option<(u8, u64)> {
    if frame.len() != 9 {
        return None;
    }
    Some((frame[0], u64::from_be_bytes(frame[1..9].try_into().ok()?)))
}

pub(crate) fn simple(kind: u8, id: u64) -> Frames {
    vec![control(kind, id)]
}

pub(crate) fn body(id: u64, chunk: Bytes) -> Frames {
    vec![control(BODY, id), chunk]
}

pub(crate) fn ack(id: u64, n: u64) -> Frames {
    vec![control(ACK, id), Bytes::copy_from_slice(&n.to_be_bytes())]
}

pub(crate) fn parse_u64(frame: &[u8]) -> Option<u64> {
    Some(u64::from_be_bytes(frame.try_into().ok()?))
}

fn version_name(v: Version) -> &'static [u8] {
    match v {
        Version::HTTP_09 => b"HTTP/0.9",
        Version::HTTP_10 => b"HTTP/1.0",
        Version::HTTP_2 => b"HTTP/2.0",
        Version::HTTP_3 => b"HTTP/3.0",
        _ => b"HTTP/1.1",
    }
}

fn parse_version(b: &[u8]) -> Version {
    match b {
        b"HTTP/0.9" => Version::HTTP_09,
        b"HTTP/1.0" => Version::HTTP_10,
        b"HTTP/2.0" => Version::HTTP_2,
        b"HTTP/3.0" => Version::HTTP_3,
        _ => Version::HTTP_11,
    }
}

fn push_headers(frames: &mut Frames, headers: &HeaderMap) {
    for (name, value) in headers {
        frames.push(Bytes::copy_from_slice(name.as_str().as_bytes()));
        frames.push(Bytes::copy_from_slice(value.as_bytes()));
    }
}

fn parse_headers(frames: &[Bytes]) -> Option<HeaderMap> {
    if frames.len() % 2 != 0 {
        return None;
    }
    let mut map = HeaderMap::with_capacity(frames.len() / 2);
    for pair in frames.chunks(2) {
        let name = HeaderName::from_bytes(&pair[0]).ok()?;
        let value = HeaderValue::from_maybe_shared(pair[1].clone()).ok()?;
        map.append(name, value);
    }
    Some(map)
}

pub(crate) fn request_head(id: u64, parts: &http::request::Parts) -> Frames {
    let mut frames = Vec::with_capacity(4 + 2 * parts.headers.len());
    frames.push(control(HEAD, id));
    frames.push(Bytes::copy_from_slice(parts.method.as_str().as_bytes()));
    frames.push(Bytes::copy_from_slice(parts.uri.to_string().as_bytes()));
    frames.push(Bytes::from_static(version_name(parts.version)));
    push_headers(&mut frames, &parts.headers);
    frames
}

/// Rebuilds a request head from the frames after the control frame.
pub(crate) fn parse_request_head(frames: &[Bytes]) -> Option<http::request::Parts> {
    if frames.len() < 3 {
        return None;
    }
    let (mut parts, ()) = http::Request::new(()).into_parts();
    parts.method = Method::from_bytes(&frames[0]).ok()?;
    parts.uri = http::Uri::from_maybe_shared(frames[1].clone()).ok()?;
    parts.version = parse_version(&frames[2]);
    parts.headers = parse_headers(&frames[3..])?;
    Some(parts)
}

pub(crate) fn response_head(
    id: u64,
    parts: &http::response::Parts,
    body_len: Option<u64>,
) -> Frames {
    let mut frames = Vec::with_capacity(3 + 2 * parts.headers.len());
    frames.push(control(HEAD, id));
    frames.push(Bytes::copy_from_slice(&parts.status.as_u16().to_be_bytes()));
    frames.push(Bytes::copy_from_slice(
        &body_len.unwrap_or(u64::MAX).to_be_bytes(),
    ));
    push_headers(&mut frames, &parts.headers);
    frames
}

/// A response head as received: status, headers and the body length if the worker knew it.
pub(crate) struct ResponseHead {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body_len: Option<u64>,
}

pub(crate) fn parse_response_head(frames: &[Bytes]) -> Option<ResponseHead> {
    if frames.len() < 2 {
        return None;
    }
    let status = StatusCode::from_u16(u16::from_be_bytes(frames[0][..].try_into().ok()?)).ok()?;
    let len = parse_u64(&frames[1])?;
    Some(ResponseHead {
        status,
        headers: parse_headers(&frames[2..])?,
        body_len: (len != u64::MAX).then_some(len),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_head_round_trips_with_duplicate_headers() {
        let req = http::Request::builder()
            .method("PUT")
            .uri("/a/b?c=d")
            .header("x-one", "1")
            .header("x-one", "2")
            .header("content-length", "5")
            .body(())
            .unwrap();
        let (parts, ()) = req.into_parts();
        let frames = request_head(42, &parts);
        assert_eq!(parse_control(&frames[0]), Some((HEAD, 42)));
        let back = parse_request_head(&frames[1..]).unwrap();
        assert_eq!(back.method, Method::PUT);
        assert_eq!(back.uri, "/a/b?c=d");
        assert_eq!(back.version, Version::HTTP_11);
        let ones: Vec<_> = back.headers.get_all("x-one").iter().collect();
        assert_eq!(ones, ["1", "2"]);
    }

    #[test]
    fn response_head_round_trips_with_and_without_length() {
        let (parts, ()) = http::Response::builder()
            .status(201)
            .header("a", "b")
            .body(())
            .unwrap()
            .into_parts();
        for len in [Some(12), None] {
            let frames = response_head(7, &parts, len);
            let head = parse_response_head(&frames[1..]).unwrap();
            assert_eq!(head.status, StatusCode::CREATED);
            assert_eq!(head.headers["a"], "b");
            assert_eq!(head.body_len, len);
        }
    }

    #[test]
    fn rejects_malformed_control_frames() {
        assert_eq!(parse_control(b"short"), None);
        assert_eq!(parse_control(&[1; 10]), None);
    }
}
