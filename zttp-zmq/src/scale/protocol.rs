//! Encoding and decoding of the gateway ⇄ worker messages specified in `PROTOCOL.md`
//! (rendered as [`crate::protocol`]).

use std::net::IpAddr;

use bytes::{BufMut, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use zttp_service::RawRequest;

pub(crate) use crate::protocol::{
    ABORT, ACK, ACK_EVERY, BODY, CONTINUE, END, HEAD, HELLO, PING, READY, REFUSE, RESPONSE,
    UNKNOWN, VERSION, WELCOME, WINDOW,
};

/// Request flag: the client sent `Expect: 100-continue`; no body until `CONTINUE`.
pub(crate) const FLAG_CONTINUE: u8 = 1;
/// Request flag: the request has no body; neither `BODY` nor `END` follows.
pub(crate) const FLAG_NO_BODY: u8 = 2;

/// One protocol message as frames (the ROUTER identity frame is not part of it).
pub(crate) type Frames = Vec<Bytes>;

/// Length of the control header that starts every message's first frame.
pub(crate) const CONTROL_LEN: usize = 9;

/// The 9-byte control header, on the stack.
pub(crate) fn control_bytes(kind: u8, id: u64) -> [u8; CONTROL_LEN] {
    let mut b = [0u8; CONTROL_LEN];
    b[0] = kind;
    b[1..].copy_from_slice(&id.to_be_bytes());
    b
}

pub(crate) fn control(kind: u8, id: u64) -> Bytes {
    Bytes::copy_from_slice(&control_bytes(kind, id))
}

/// The kind and id of a message's first frame (its control header; a `HEAD` or `RESPONSE`
/// carries its payload after it in the same frame).
pub(crate) fn parse_control(frame: &[u8]) -> Option<(u8, u64)> {
    let header = frame.get(..CONTROL_LEN)?;
    Some((header[0], u64::from_be_bytes(header[1..].try_into().ok()?)))
}

/// What follows the control header in a message's first frame (no copy).
pub(crate) fn payload(frame: &Bytes) -> Bytes {
    frame.slice(CONTROL_LEN.min(frame.len())..)
}

/// A one-frame message split after its control header, as `[control, payload]` (the
/// layout the fuzz entry points and tests read).
pub(crate) fn split_control(frame: Bytes) -> Frames {
    let at = CONTROL_LEN.min(frame.len());
    vec![frame.slice(..at), frame.slice(at..)]
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

fn parse_u32(frame: &[u8]) -> Option<u32> {
    Some(u32::from_be_bytes(frame.try_into().ok()?))
}

fn parse_u16(frame: &[u8]) -> Option<u16> {
    Some(u16::from_be_bytes(frame.try_into().ok()?))
}

/// `HELLO`: the worker's protocol version and capacity.
pub(crate) fn hello(version: u16, capacity: u32) -> Frames {
    vec![
        control(HELLO, 0),
        Bytes::copy_from_slice(&version.to_be_bytes()),
        Bytes::copy_from_slice(&capacity.to_be_bytes()),
    ]
}

/// A worker's `HELLO`, parsed: (version, capacity). The version alone when the rest is
/// malformed, so the refusal can name it.
pub(crate) fn parse_hello(frames: &[Bytes]) -> (Option<u16>, Option<u32>) {
    let version = frames.first().and_then(|f| parse_u16(f));
    let capacity = frames.get(1).and_then(|f| parse_u32(f));
    (version, capacity)
}

/// `WELCOME`: the gateway's version and the heartbeat it announces, in milliseconds.
pub(crate) fn welcome(interval_ms: u32, timeout_ms: u32) -> Frames {
    vec![
        control(WELCOME, 0),
        Bytes::copy_from_slice(&VERSION.to_be_bytes()),
        Bytes::copy_from_slice(&interval_ms.to_be_bytes()),
        Bytes::copy_from_slice(&timeout_ms.to_be_bytes()),
    ]
}

/// A `WELCOME`, parsed: (version, heartbeat interval ms, heartbeat timeout ms).
pub(crate) fn parse_welcome(frames: &[Bytes]) -> Option<(u16, u32, u32)> {
    Some((
        parse_u16(frames.first()?)?,
        parse_u32(frames.get(1)?)?,
        parse_u32(frames.get(2)?)?,
    ))
}

pub(crate) fn refuse(reason: &str) -> Frames {
    vec![
        control(REFUSE, 0),
        Bytes::copy_from_slice(reason.as_bytes()),
    ]
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

/// Appends one field line, `name: value` CRLF.
fn put_field(buf: &mut impl BufMut, name: &[u8], value: &[u8]) {
    buf.put_slice(name);
    buf.put_slice(b": ");
    buf.put_slice(value);
    buf.put_slice(b"\r\n");
}

fn fields_len(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(n, v)| n.as_str().len() + v.len() + 4)
        .sum()
}

fn put_fields(buf: &mut BytesMut, headers: &HeaderMap) {
    for (name, value) in headers {
        put_field(buf, name.as_str().as_bytes(), value.as_bytes());
    }
}

/// The end of the line starting at `from` (the index of its CR), if it ends with CRLF.
fn line_end(frame: &[u8], from: usize) -> Option<usize> {
    let lf = from + memchr::memchr(b'\n', frame.get(from..)?)?;
    (lf > from && frame[lf - 1] == b'\r').then_some(lf - 1)
}

/// Parses the field lines of `frame` from `from` to its end. The values are slices of
/// `frame` (no copy); names are checked and lower-cased by `HeaderName` (or found in
/// `names`). With `raw`, the fields as sent (names in their case) are collected there too.
fn parse_fields(
    frame: &Bytes,
    mut from: usize,
    mut raw: Option<&mut zttp_core::Headers>,
    names: &mut NameCache,
) -> Option<HeaderMap> {
    // Sized from the length rather than by counting the lines first (a pass over the head):
    // a field line is rarely shorter than 24 bytes, and a few spare slots cost nothing.
    let mut map = HeaderMap::with_capacity((frame.get(from..)?.len() / 24 + 1).min(256));
    while from < frame.len() {
        let end = line_end(frame, from)?;
        let line = &frame[from..end];
        let colon = memchr::memchr(b':', line)?;
        if line.get(colon + 1) != Some(&b' ') {
            return None;
        }
        let name = names.name(&line[..colon])?;
        let value = frame.slice(from + colon + 2..end);
        if let Some(raw) = raw.as_deref_mut() {
            raw.push(frame.slice(from..from + colon), value.clone());
        }
        map.append(name, HeaderValue::from_maybe_shared(value).ok()?);
        from = end + 2;
    }
    Some(map)
}

/// A field name as `HeaderName`. The names the gateway adds itself arrive lowercase and
/// are matched byte for byte first: `HeaderName::from_bytes` allocates for a name that is
/// not one of `http`'s standard ones, such as `x-forwarded-for`.
fn field_name(name: &[u8]) -> Option<HeaderName> {
    match name {
        b"x-forwarded-for" => Some(X_FORWARDED_FOR),
        b"forwarded" => Some(http::header::FORWARDED),
        b"host" => Some(http::header::HOST),
        _ => HeaderName::from_bytes(name).ok(),
    }
}

/// Field names parsed before, reused by the next head that spells them the same: a
/// response's `x-worker` or a request's `x-request-id` then costs a compare instead of
/// `HeaderName::from_bytes`, which allocates a copy of every name `http` does not know.
/// Bounded: the first [`NAME_CACHE`] distinct spellings (of at most [`NAME_CACHE_LEN`]
/// bytes) are kept, later ones are parsed each time (a peer sending ever new names only
/// fills it once).
#[derive(Default)]
pub(crate) struct NameCache {
    /// (the spelling as received, the name it parsed to).
    names: Vec<(Box<[u8]>, HeaderName)>,
}

/// Spellings a [`NameCache`] keeps at most.
const NAME_CACHE: usize = 32;
/// Longest spelling a [`NameCache`] keeps.
const NAME_CACHE_LEN: usize = 64;

impl NameCache {
    /// `name` as a checked, lower-cased `HeaderName`; `None` if it is not a valid name.
    fn name(&mut self, name: &[u8]) -> Option<HeaderName> {
        // An exact byte match: cheaper than `from_bytes` even for the names `http` knows.
        if let Some((_, kept)) = self.names.iter().find(|(spelling, _)| **spelling == *name) {
            return Some(kept.clone());
        }
        let parsed = field_name(name)?;
        if self.names.len() < NAME_CACHE && name.len() <= NAME_CACHE_LEN {
            self.names.push((name.into(), parsed.clone()));
        }
        Some(parsed)
    }
}

/// Hop-by-hop fields: they describe the client's connection, not the request, and never
/// reach a worker (RFC 9110 §7.6.1; `expect` is answered end to end by `CONTINUE`).
fn is_hop_by_hop(name: &[u8]) -> bool {
    const HOP: [&[u8]; 9] = [
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"transfer-encoding",
        b"te",
        b"trailer",
        b"upgrade",
        b"expect",
        b"http2-settings",
    ];
    HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// The fields named by `Connection` (also hop-by-hop), lowercased.
fn connection_options(headers: &HeaderMap) -> Vec<Vec<u8>> {
    headers
        .get_all(http::header::CONNECTION)
        .iter()
        .flat_map(|v| v.as_bytes().split(|&b| b == b','))
        .map(|t| t.trim_ascii().to_ascii_lowercase())
        .filter(|t| !t.is_empty())
        .collect()
}

/// The origin-form target (`/path?query`), `*`, or for `CONNECT` the authority.
fn origin_target(parts: &http::request::Parts) -> &str {
    if parts.method == Method::CONNECT {
        if let Some(a) = parts.uri.authority() {
            return a.as_str();
        }
    }
    match parts.uri.path_and_query() {
        Some(pq) if !pq.as_str().is_empty() => pq.as_str(),
        _ => "/",
    }
}

/// Writes an IPv4 address in dotted decimal without the formatting machinery (it runs for
/// every request); IPv6 goes through `Display`.
fn put_ip(buf: &mut Vec<u8>, ip: IpAddr) {
    match ip {
        IpAddr::V4(v4) => {
            let mut text = [0u8; 15];
            let mut n = 0;
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    text[n] = b'.';
                    n += 1;
                }
                if octet >= 100 {
                    text[n] = b'0' + octet / 100;
                    n += 1;
                }
                if octet >= 10 {
                    text[n] = b'0' + octet / 10 % 10;
                    n += 1;
                }
                text[n] = b'0' + octet % 10;
                n += 1;
            }
            buf.extend_from_slice(&text[..n]);
        }
        IpAddr::V6(v6) => buf.extend_from_slice(v6.to_string().as_bytes()),
    }
}

/// The `HEAD` message of [`request_head_frame`] split after its control header (for tests
/// and the fuzz target).
pub(crate) fn request_head(
    id: u64,
    parts: &http::request::Parts,
    flags: u8,
    client: Option<IpAddr>,
) -> Frames {
    split_control(Bytes::from(request_head_frame(id, parts, flags, client)))
}

/// A request's whole `HEAD` message, one frame: the control header, then the head (see the
/// protocol's "request normalisation"): origin-form target, `host`, no hop-by-hop fields,
/// and with the client's address appended to `x-forwarded-for` and `forwarded`. Field names
/// keep the case the client sent when the request carries a [`RawRequest`] (the front's
/// `ServerConfig::raw_request`). A plain `Vec`: the gateway copies it into a libzmq message
/// at dispatch and keeps it only to re-dispatch, so a shared `Bytes` would only allocate.
pub(crate) fn request_head_frame(
    id: u64,
    parts: &http::request::Parts,
    flags: u8,
    client: Option<IpAddr>,
) -> Vec<u8> {
    let raw = parts.extensions.get::<RawRequest>();
    let target = origin_target(parts);
    let version = version_name(parts.version);
    let seen = FieldsSeen::of(&parts.headers);
    let mut buf = Vec::with_capacity(
        CONTROL_LEN + 1 + parts.method.as_str().len() + target.len() + 12 + seen.len + 160,
    );
    buf.extend_from_slice(&control_bytes(HEAD, id));
    buf.extend_from_slice(&[flags]);
    buf.extend_from_slice(parts.method.as_str().as_bytes());
    buf.extend_from_slice(b" ");
    if target.starts_with('?') {
        // An absolute-form target with an empty path (`http://host?q`): the
        // origin form starts with "/" (RFC 9112 §3.2.1).
        buf.extend_from_slice(b"/");
    }
    buf.extend_from_slice(target.as_bytes());
    buf.extend_from_slice(b" ");
    buf.extend_from_slice(version);
    buf.extend_from_slice(b"\r\n");
    let named = match seen.connection {
        true => connection_options(&parts.headers),
        false => Vec::new(),
    };
    if !seen.host {
        if let Some(a) = parts.uri.authority() {
            put_field(&mut buf, b"host", a.as_str().as_bytes());
        }
    }
    let keep = |buf: &mut Vec<u8>, name: &[u8], value: &[u8]| {
        if is_hop_by_hop(name) || named.iter().any(|o| o.eq_ignore_ascii_case(name)) {
            return;
        }
        if client.is_some()
            && (name.eq_ignore_ascii_case(b"x-forwarded-for")
                || name.eq_ignore_ascii_case(b"forwarded"))
        {
            return; // combined with the client's address below
        }
        put_field(buf, name, value);
    };
    match raw {
        Some(raw) if raw.headers.len() == parts.headers.len() => {
            for (name, value) in raw.headers.iter() {
                keep(&mut buf, name, value);
            }
        }
        _ => {
            for (name, value) in &parts.headers {
                keep(&mut buf, name.as_str().as_bytes(), value.as_bytes());
            }
        }
    }
    if let Some(ip) = client {
        let earlier = |buf: &mut Vec<u8>, name: &HeaderName, seen: bool| {
            if seen {
                for value in parts.headers.get_all(name) {
                    buf.extend_from_slice(value.as_bytes());
                    buf.extend_from_slice(b", ");
                }
            }
        };
        buf.extend_from_slice(b"x-forwarded-for: ");
        earlier(&mut buf, &X_FORWARDED_FOR, seen.forwarded_for);
        let start = buf.len();
        put_ip(&mut buf, ip);
        let text = start..buf.len();
        buf.extend_from_slice(b"\r\nforwarded: ");
        earlier(&mut buf, &http::header::FORWARDED, seen.forwarded);
        // The address as just written for `x-forwarded-for`, copied rather than formatted again.
        match ip {
            IpAddr::V4(_) => {
                buf.extend_from_slice(b"for=");
                buf.extend_from_within(text);
            }
            IpAddr::V6(_) => {
                buf.extend_from_slice(b"for=\"[");
                buf.extend_from_within(text);
                buf.extend_from_slice(b"]\"");
            }
        }
        buf.extend_from_slice(b"\r\n");
    }
    buf
}

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// What the normalisation needs to know of a request's fields, found in the one pass that
/// sizes its head: a hashed look-up per name costs more than walking a handful of fields.
#[derive(Default)]
struct FieldsSeen {
    /// Bytes of the field lines.
    len: usize,
    host: bool,
    connection: bool,
    forwarded_for: bool,
    forwarded: bool,
}

impl FieldsSeen {
    fn of(headers: &HeaderMap) -> Self {
        let mut seen = FieldsSeen::default();
        for (name, value) in headers {
            seen.len += name.as_str().len() + value.len() + 4;
            if name == http::header::HOST {
                seen.host = true;
            } else if name == http::header::CONNECTION {
                seen.connection = true;
            } else if name == http::header::FORWARDED {
                seen.forwarded = true;
            } else if name == X_FORWARDED_FOR {
                seen.forwarded_for = true;
            }
        }
        seen
    }
}

/// The flags byte of a request `HEAD` message ([`request_head_frame`]).
pub(crate) fn request_flags(message: &[u8]) -> u8 {
    message.get(CONTROL_LEN).copied().unwrap_or(0)
}

/// Clears a flag in a request `HEAD` message (for a re-dispatch).
pub(crate) fn clear_request_flag(message: &mut [u8], flag: u8) {
    if let Some(flags) = message.get_mut(CONTROL_LEN) {
        *flags &= !flag;
    }
}

/// A request head as received by a worker.
pub(crate) struct RequestHead {
    pub(crate) parts: http::request::Parts,
    pub(crate) flags: u8,
}

/// Rebuilds a request head from a `HEAD` message's payload (after the control header):
/// flags, request line, field lines. With `raw`, the head as sent (header names in the
/// client's case) also goes into a [`RawRequest`] extension.
pub(crate) fn parse_request_head(
    head: &Bytes,
    raw: bool,
    names: &mut NameCache,
) -> Option<RequestHead> {
    let flags = *head.first()?;
    let end = line_end(head, 1)?;
    let line = &head[1..end];
    let sp1 = line.iter().position(|&b| b == b' ')?;
    let sp2 = sp1 + 1 + line[sp1 + 1..].iter().position(|&b| b == b' ')?;
    let (mut parts, ()) = http::Request::new(()).into_parts();
    parts.method = Method::from_bytes(&line[..sp1]).ok()?;
    parts.uri = http::Uri::from_maybe_shared(head.slice(1 + sp1 + 1..1 + sp2)).ok()?;
    parts.version = parse_version(&line[sp2 + 1..]);
    if raw {
        let mut fields = zttp_core::Headers::new();
        parts.headers = parse_fields(head, end + 2, Some(&mut fields), names)?;
        let version = match parts.version {
            Version::HTTP_10 => zttp_core::Version::Http10,
            Version::HTTP_2 => zttp_core::Version::Http2,
            _ => zttp_core::Version::Http11,
        };
        parts.extensions.insert(RawRequest::new(
            head.slice(1..1 + sp1),
            head.slice(1 + sp1 + 1..1 + sp2),
            version,
            fields,
        ));
    } else {
        parts.headers = parse_fields(head, end + 2, None, names)?;
    }
    Some(RequestHead { parts, flags })
}

/// `HEAD` of a response whose body follows in `BODY` messages and `END` (or nothing when
/// `body_len` is `Some(0)`), one frame: control header, status, body length, field lines.
pub(crate) fn response_head(
    id: u64,
    parts: &http::response::Parts,
    body_len: Option<u64>,
) -> Bytes {
    let mut head = BytesMut::with_capacity(CONTROL_LEN + 10 + fields_len(&parts.headers));
    head.extend_from_slice(&control_bytes(HEAD, id));
    head.extend_from_slice(&parts.status.as_u16().to_be_bytes());
    head.extend_from_slice(&body_len.unwrap_or(u64::MAX).to_be_bytes());
    put_fields(&mut head, &parts.headers);
    head.freeze()
}

/// `RESPONSE`: a complete response in one frame: control header, status, length of the
/// field lines (u32), the field lines, then the body.
pub(crate) fn full_response(id: u64, parts: &http::response::Parts, body: &[u8]) -> Bytes {
    let mut message = full_response_head(id, parts, body.len());
    message.extend_from_slice(body);
    message.freeze()
}

/// A [`full_response`] up to its body, with room for `body_len` bytes of it: the body is
/// appended as it is produced.
pub(crate) fn full_response_head(
    id: u64,
    parts: &http::response::Parts,
    body_len: usize,
) -> BytesMut {
    let fields = fields_len(&parts.headers);
    let mut head = BytesMut::with_capacity(CONTROL_LEN + 6 + fields + body_len);
    head.extend_from_slice(&control_bytes(RESPONSE, id));
    head.extend_from_slice(&parts.status.as_u16().to_be_bytes());
    head.extend_from_slice(&[0; 4]);
    let start = head.len();
    put_fields(&mut head, &parts.headers);
    let written = u32::try_from(head.len() - start).unwrap_or(u32::MAX);
    head[start - 4..start].copy_from_slice(&written.to_be_bytes());
    head
}

/// A response head as received: status, headers and the body length if the worker knew it.
#[derive(Debug)]
pub(crate) struct ResponseHead {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body_len: Option<u64>,
}

fn parse_status(frame: &[u8]) -> Option<StatusCode> {
    StatusCode::from_u16(parse_u16(frame.get(..2)?)?).ok()
}

/// A response `HEAD` message's payload (after the control header), parsed.
pub(crate) fn parse_response_head(head: &Bytes, names: &mut NameCache) -> Option<ResponseHead> {
    let len = parse_u64(head.get(2..10)?)?;
    Some(ResponseHead {
        status: parse_status(head)?,
        headers: parse_fields(head, 10, None, names)?,
        body_len: (len != u64::MAX).then_some(len),
    })
}

/// A `RESPONSE` message's payload (after the control header), parsed: the head (with its
/// length) and the whole body (a slice of the payload, no copy).
pub(crate) fn parse_full_response(
    payload: &Bytes,
    names: &mut NameCache,
) -> Option<(ResponseHead, Bytes)> {
    let fields_len = usize::try_from(parse_u32(payload.get(2..6)?)?).ok()?;
    let fields_end = 6usize.checked_add(fields_len)?;
    let fields = payload.slice(..fields_end.min(payload.len()));
    if fields.len() != fields_end {
        return None;
    }
    let body = payload.slice(fields_end..);
    Some((
        ResponseHead {
            status: parse_status(payload)?,
            headers: parse_fields(&fields, 6, None, names)?,
            body_len: Some(body.len() as u64),
        },
        body,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head_of(req: http::Request<()>) -> http::request::Parts {
        req.into_parts().0
    }

    #[test]
    fn request_head_round_trips_with_duplicate_headers() {
        let parts = head_of(
            http::Request::builder()
                .method("PUT")
                .uri("/a/b?c=d")
                .header("host", "example")
                .header("x-one", "1")
                .header("x-one", "2")
                .header("content-length", "5")
                .body(())
                .unwrap(),
        );
        let frames = request_head(42, &parts, FLAG_CONTINUE, None);
        assert_eq!(parse_control(&frames[0]), Some((HEAD, 42)));
        let back = parse_request_head(&frames[1], false, &mut NameCache::default()).unwrap();
        assert_eq!(back.flags, FLAG_CONTINUE);
        assert_eq!(back.parts.method, Method::PUT);
        assert_eq!(back.parts.uri, "/a/b?c=d");
        assert_eq!(back.parts.version, Version::HTTP_11);
        let ones: Vec<_> = back.parts.headers.get_all("x-one").iter().collect();
        assert_eq!(ones, ["1", "2"]);
    }

    #[test]
    fn absolute_form_becomes_origin_form_with_host() {
        let parts = head_of(
            http::Request::builder()
                .version(Version::HTTP_2)
                .uri("https://example.org:8443/p?q=1")
                .body(())
                .unwrap(),
        );
        let back = parse_request_head(
            &request_head(1, &parts, 0, None)[1],
            false,
            &mut NameCache::default(),
        )
        .unwrap();
        assert_eq!(back.parts.uri, "/p?q=1");
        assert_eq!(back.parts.headers["host"], "example.org:8443");
        assert_eq!(back.parts.version, Version::HTTP_2);
    }

    #[test]
    fn hop_by_hop_fields_are_removed_and_client_address_added() {
        let parts = head_of(
            http::Request::builder()
                .uri("/")
                .header("host", "h")
                .header("connection", "keep-alive, X-Private")
                .header("x-private", "secret")
                .header("expect", "100-continue")
                .header("transfer-encoding", "chunked")
                .header("te", "trailers")
                .header("upgrade", "websocket")
                .header("accept", "*/*")
                .body(())
                .unwrap(),
        );
        let frames = request_head(1, &parts, 0, Some("192.0.2.1".parse().unwrap()));
        let back = parse_request_head(&frames[1], false, &mut NameCache::default()).unwrap();
        let names: Vec<_> = back.parts.headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["host", "accept", "x-forwarded-for", "forwarded"]);
        assert_eq!(back.parts.headers["x-forwarded-for"], "192.0.2.1");
        assert_eq!(back.parts.headers["forwarded"], "for=192.0.2.1");
    }

    #[test]
    fn client_address_is_appended_to_earlier_proxies() {
        let parts = head_of(
            http::Request::builder()
                .uri("/")
                .header("x-forwarded-for", "203.0.113.7")
                .header("forwarded", "for=203.0.113.7")
                .body(())
                .unwrap(),
        );
        let frames = request_head(1, &parts, 0, Some("2001:db8::1".parse().unwrap()));
        let back = parse_request_head(&frames[1], false, &mut NameCache::default()).unwrap();
        assert_eq!(
            back.parts.headers["x-forwarded-for"],
            "203.0.113.7, 2001:db8::1"
        );
        assert_eq!(
            back.parts.headers["forwarded"],
            "for=203.0.113.7, for=\"[2001:db8::1]\""
        );
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
            let frame = response_head(7, &parts, len);
            assert_eq!(parse_control(&frame), Some((HEAD, 7)));
            let head = parse_response_head(&payload(&frame), &mut NameCache::default()).unwrap();
            assert_eq!(head.status, StatusCode::CREATED);
            assert_eq!(head.headers["a"], "b");
            assert_eq!(head.body_len, len);
        }
        let frame = full_response(7, &parts, b"hello");
        assert_eq!(
            &frame[..],
            b"\x0d\0\0\0\0\0\0\0\x07\0\xc9\0\0\0\x06a: b\r\nhello"
        );
        assert_eq!(parse_control(&frame), Some((RESPONSE, 7)));
        let (head, body) =
            parse_full_response(&payload(&frame), &mut NameCache::default()).unwrap();
        assert_eq!((head.status, head.body_len), (StatusCode::CREATED, Some(5)));
        assert_eq!(head.headers["a"], "b");
        assert_eq!(body, "hello");
        // Field lines longer than the frame, or a body cut into the field lines.
        for bad in [
            &b"\0\xc9\0\0\0\x09a: b\r\n"[..],
            b"\0\xc9\0\0\0\x04a: b\r\n",
        ] {
            assert!(
                parse_full_response(&Bytes::from_static(bad), &mut NameCache::default()).is_none(),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn field_lines_keep_empty_values_and_colons_in_values() {
        let parts = head_of(
            http::Request::builder()
                .uri("/")
                .header("x-empty", "")
                .header("x-colon", "a: b:c")
                .body(())
                .unwrap(),
        );
        let frames = request_head(3, &parts, FLAG_NO_BODY, None);
        assert_eq!(
            &frames[1][..],
            b"\x02GET / HTTP/1.1\r\nx-empty: \r\nx-colon: a: b:c\r\n"
        );
        let back = parse_request_head(&frames[1], false, &mut NameCache::default()).unwrap();
        assert_eq!(back.flags, FLAG_NO_BODY);
        assert_eq!(back.parts.headers["x-empty"], "");
        assert_eq!(back.parts.headers["x-colon"], "a: b:c");
    }

    #[test]
    fn ipv4_addresses_are_written_in_dotted_decimal() {
        for ip in [
            "0.0.0.0",
            "10.20.30.40",
            "192.0.2.1",
            "255.255.255.255",
            "1.100.9.99",
        ] {
            let mut buf = Vec::new();
            put_ip(&mut buf, ip.parse().unwrap());
            assert_eq!(&buf[..], ip.as_bytes());
        }
    }

    #[test]
    fn rejects_malformed_field_lines() {
        let bad: [&[u8]; 5] = [
            b"\x00GET / HTTP/1.1",
            b"\x00GET / HTTP/1.1\r\nno-colon\r\n",
            b"\x00GET / HTTP/1.1\r\nx:no-space\r\n",
            b"\x00GET / HTTP/1.1\r\nx: v\n",
            b"\x00GET /\r\n",
        ];
        for head in bad {
            assert!(
                parse_request_head(&Bytes::from_static(head), false, &mut NameCache::default())
                    .is_none(),
                "{head:?}"
            );
        }
        let status_only = Bytes::from_static(b"\x00\xc8");
        assert!(parse_response_head(&status_only, &mut NameCache::default()).is_none());
    }

    #[test]
    fn name_cache_gives_the_name_from_bytes_would_and_stays_bounded() {
        let mut names = NameCache::default();
        for spelling in [&b"x-worker"[..], b"X-Worker", b"X-WORKER", b"x-worker"] {
            assert_eq!(names.name(spelling).unwrap(), "x-worker");
        }
        assert_eq!(
            names.name(b"Content-Type").unwrap(),
            http::header::CONTENT_TYPE
        );
        for bad in [&b""[..], b"x worker", b"x-w\xc3\xb6rker", b"x-worker:"] {
            assert!(names.name(bad).is_none(), "{bad:?}");
        }
        for i in 0..100 {
            let name = format!("X-Name-{i}");
            assert_eq!(
                names.name(name.as_bytes()).unwrap().as_str(),
                name.to_ascii_lowercase()
            );
        }
        assert_eq!(names.names.len(), NAME_CACHE);
        let long = "x".repeat(NAME_CACHE_LEN + 1);
        assert_eq!(names.name(long.as_bytes()).unwrap().as_str(), long);
    }

    #[test]
    fn hello_and_welcome_round_trip() {
        let h = hello(VERSION, 16);
        assert_eq!(parse_control(&h[0]), Some((HELLO, 0)));
        assert_eq!(parse_hello(&h[1..]), (Some(VERSION), Some(16)));
        assert_eq!(parse_hello(&[]), (None, None));
        let w = welcome(1000, 3000);
        assert_eq!(parse_welcome(&w[1..]), Some((VERSION, 1000, 3000)));
    }

    #[test]
    fn rejects_malformed_control_frames() {
        assert_eq!(parse_control(b"short"), None);
        assert_eq!(parse_control(&[1; 9]), Some((1, 0x0101_0101_0101_0101)));
        assert!(parse_request_head(
            &Bytes::from_static(b"GET"),
            false,
            &mut NameCache::default()
        )
        .is_none());
        assert!(
            parse_response_head(&Bytes::from_static(b"x"), &mut NameCache::default()).is_none()
        );
    }
}
