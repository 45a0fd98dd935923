//! Conversions between the core's messages and the `http` crate's.

use bytes::BytesMut;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Uri, Version as HttpVersion};
use zttp_core::{Headers, Version};

use crate::body::Body;
use crate::raw::RawRequest;

/// Why a request the core accepted cannot become an `http::Request`.
#[derive(Debug)]
pub(super) struct Unrepresentable;

/// Builds the handler's request from the core's; with `raw`, the head as
/// received goes into a [`RawRequest`] extension. `req` is one `core` read
/// (its HTTP/1.1 field values are not checked again, see `received`); without
/// `raw`, the emptied field list goes back to `core` for the next head.
/// Inlined into its one caller, so the request is built in the place it is
/// returned to rather than moved there.
#[inline(always)]
pub(super) fn request(
    mut req: zttp_core::Request,
    body: Body,
    raw: bool,
    core: &mut zttp_core::Connection,
) -> Result<http::Request<Body>, Unrepresentable> {
    let method = match &req.method[..] {
        b"GET" => Method::GET,
        b"POST" => Method::POST,
        other => Method::from_bytes(other).map_err(|_| Unrepresentable)?,
    };
    // An extended CONNECT (RFC 8441) has a :scheme and :path like other requests.
    let tunnel_only = method == Method::CONNECT && req.protocol.is_none();
    let uri = match (&req.scheme, &req.authority) {
        (Some(scheme), Some(authority)) if !tunnel_only => Uri::builder()
            .scheme(scheme.as_ref())
            .authority(authority.as_ref())
            .path_and_query(req.target.as_ref())
            .build()
            .map(Some)
            .map_err(|_| Unrepresentable)?,
        (_, Some(authority)) if tunnel_only => {
            Some(Uri::try_from(authority.as_ref()).map_err(|_| Unrepresentable)?)
        }
        // `/` is the new request's URI already (`Uri::default()`).
        _ if &req.target[..] == b"/" => None,
        _ => {
            let target = match raw {
                true => req.target.clone(),
                false => std::mem::take(&mut req.target),
            };
            Some(Uri::from_maybe_shared(target).map_err(|_| Unrepresentable)?)
        }
    };
    let mut headers = HeaderMap::with_capacity(req.headers.len());
    let http1 = req.http_version != Version::Http2;
    let ascii = req.headers.known_ascii();
    if raw {
        // The raw head keeps the list: the map shares its values (a count
        // each), and the core makes a new list for the next head.
        for (name, value) in req.headers.iter() {
            append(&mut headers, name, value.clone(), http1, ascii)?;
        }
    } else {
        // The fields move over, and the emptied list goes back to the core.
        let mut fields = std::mem::take(&mut req.headers);
        for (name, value) in fields.drain() {
            append(&mut headers, &name, value, http1, ascii)?;
        }
        core.recycle_headers(fields);
    }
    let mut request = http::Request::new(body);
    *request.method_mut() = method;
    // The defaults replaced here own nothing (an empty map allocates
    // nothing, the default URI is static), so they are not dropped.
    if let Some(uri) = uri {
        std::mem::forget(std::mem::replace(request.uri_mut(), uri));
    }
    std::mem::forget(std::mem::replace(request.headers_mut(), headers));
    *request.version_mut() = match req.http_version {
        Version::Http10 => HttpVersion::HTTP_10,
        Version::Http11 => HttpVersion::HTTP_11,
        Version::Http2 => HttpVersion::HTTP_2,
    };
    if let Some(protocol) = &req.protocol {
        request
            .extensions_mut()
            .insert(crate::upgrade::Protocol(protocol.clone()));
    }
    if raw {
        request.extensions_mut().insert(RawRequest {
            method: req.method,
            target: req.target,
            version: req.http_version,
            headers: req.headers,
        });
    }
    Ok(request)
}

/// Appends a received field to `headers` (`Unrepresentable`: `http` refuses it).
/// HTTP/1.1 values were checked by the core, and are not checked again
/// (nor for ASCII, when `known_ascii`: the core's list says they all are).
#[inline(always)]
fn append(
    headers: &mut HeaderMap,
    name: &[u8],
    value: bytes::Bytes,
    http1: bool,
    known_ascii: bool,
) -> Result<(), Unrepresentable> {
    let name = header_name(name).ok_or(Unrepresentable)?;
    let value = match http1 {
        true => super::received::http1_field_value(value, known_ascii),
        false => HeaderValue::from_maybe_shared(value),
    };
    headers.append(name, value.map_err(|_| Unrepresentable)?);
    Ok(())
}

/// A common field name, and its bytes as words for a case-insensitive compare.
struct KnownName {
    name: HeaderName,
    /// The lowercase name, little-endian, zero-padded to 24 bytes.
    lower: [u64; 3],
    /// 0x20 at each letter of the name: OR-ing it into a received byte
    /// folds exactly `A`–`Z` onto `a`–`z` there, and nothing elsewhere.
    letters: [u64; 3],
}

impl KnownName {
    const fn new(name: HeaderName, lower: &[u8]) -> KnownName {
        let (mut words, mut letters) = ([0u64; 3], [0u64; 3]);
        let mut i = 0;
        while i < lower.len() {
            words[i / 8] |= (lower[i] as u64) << (i % 8 * 8);
            if lower[i].is_ascii_lowercase() {
                letters[i / 8] |= 0x20 << (i % 8 * 8);
            }
            i += 1;
        }
        KnownName {
            name,
            lower: words,
            letters,
        }
    }
}

macro_rules! known_names {
    ($($name:ident = $text:literal),* $(,)?) => {
        [$(KnownName::new(header::$name, $text)),*]
    };
}

/// Names of request fields common enough to be found by length and one
/// case-insensitive word compare, before `HeaderName::from_bytes` (which
/// copies the name into a lowercase scratch buffer and then matches it).
/// Ordered by length, as [`header_name`] picks its candidates.
static COMMON_NAMES: [KnownName; 24] = known_names![
    TE = b"te",
    DNT = b"dnt",
    HOST = b"host",
    DATE = b"date",
    RANGE = b"range",
    ACCEPT = b"accept",
    COOKIE = b"cookie",
    ORIGIN = b"origin",
    EXPECT = b"expect",
    PRAGMA = b"pragma",
    REFERER = b"referer",
    UPGRADE = b"upgrade",
    IF_RANGE = b"if-range",
    USER_AGENT = b"user-agent",
    CONNECTION = b"connection",
    CONTENT_TYPE = b"content-type",
    AUTHORIZATION = b"authorization",
    CACHE_CONTROL = b"cache-control",
    IF_NONE_MATCH = b"if-none-match",
    CONTENT_LENGTH = b"content-length",
    ACCEPT_ENCODING = b"accept-encoding",
    ACCEPT_LANGUAGE = b"accept-language",
    IF_MODIFIED_SINCE = b"if-modified-since",
    TRANSFER_ENCODING = b"transfer-encoding",
];

/// A received field name as `http`'s `HeaderName` (`None`: not a valid
/// name). Common names come from [`COMMON_NAMES`], compared with the
/// candidates of the same length ignoring ASCII case; any other name is parsed.
#[inline(always)]
fn header_name(name: &[u8]) -> Option<HeaderName> {
    let candidates = match name.len() {
        2 => 0..1,
        3 => 1..2,
        4 => 2..4,
        5 => 4..5,
        6 => 5..10,
        7 => 10..12,
        8 => 12..13,
        10 => 13..15,
        12 => 15..16,
        13 => 16..19,
        14 => 19..20,
        15 => 20..22,
        17 => 22..24,
        _ => return HeaderName::from_bytes(name).ok(),
    };
    let mut padded = [0u8; 24];
    padded[..name.len()].copy_from_slice(name);
    let word = |i: usize| {
        let bytes: [u8; 8] = padded[i * 8..i * 8 + 8].try_into().unwrap_or_default();
        u64::from_le_bytes(bytes)
    };
    let words = [word(0), word(1), word(2)];
    let known = COMMON_NAMES[candidates]
        .iter()
        .find(|known| (0..3).all(|i| words[i] | known.letters[i] == known.lower[i]));
    match known {
        Some(known) => Some(known.name.clone()),
        None => HeaderName::from_bytes(name).ok(),
    }
}

/// Trailer fields as a `HeaderMap` (`None` when there are none or they do not parse).
pub(super) fn trailers(fields: Headers) -> Option<HeaderMap> {
    if fields.is_empty() {
        return None;
    }
    let mut map = HeaderMap::with_capacity(fields.len());
    for (name, value) in fields.into_vec() {
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&name),
            HeaderValue::from_maybe_shared(value),
        ) else {
            continue;
        };
        map.append(name, value);
    }
    Some(map)
}

/// Converts trailer fields to the core's list, copying all names and values
/// into one allocation.
pub(super) fn fields(headers: &HeaderMap) -> Headers {
    let mut size = 0;
    for (name, value) in headers {
        size += name.as_str().len() + value.len();
    }
    let mut buf = BytesMut::with_capacity(size);
    let mut out = Headers::with_capacity(headers.len());
    for (name, value) in headers {
        buf.extend_from_slice(name.as_str().as_bytes());
        let name = buf.split().freeze();
        buf.extend_from_slice(value.as_bytes());
        out.push(name, buf.split().freeze());
    }
    out
}

/// Which of the fields the drive loop may add a response head already has,
/// found in one pass (cheaper than a hash look-up each for a small map).
#[derive(Debug, Default)]
pub(super) struct PresentFields {
    /// Content-Length or Transfer-Encoding: the head says how its body is framed.
    pub(super) framing: bool,
    pub(super) connection: bool,
    pub(super) date: bool,
}

impl PresentFields {
    pub(super) fn of(headers: &HeaderMap) -> PresentFields {
        let mut present = PresentFields::default();
        for name in headers.keys() {
            if name == header::CONTENT_LENGTH || name == header::TRANSFER_ENCODING {
                present.framing = true;
            } else if name == header::CONNECTION {
                present.connection = true;
            } else if name == header::DATE {
                present.date = true;
            }
        }
        present
    }
}

/// A `u64` written in decimal into a buffer on the stack.
#[derive(Default)]
pub(super) struct Decimal([u8; 20]);

impl Decimal {
    pub(super) fn format(&mut self, mut n: u64) -> &[u8] {
        let mut i = self.0.len();
        loop {
            i -= 1;
            self.0[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                return &self.0[i..];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_keeps_the_raw_head_in_an_extension() {
        let core = zttp_core::Request::new("GET", "/a?b=c")
            .with_header("X-Mixed-Case", "1")
            .with_header("x-mixed-case", "2");
        let mut conn = zttp_core::Connection::new(zttp_core::Role::Server);
        let req = request(core, Body::empty(), true, &mut conn).unwrap();
        assert_eq!(req.uri().path(), "/a");
        assert_eq!(req.headers().get_all("x-mixed-case").iter().count(), 2);
        let raw = req.extensions().get::<RawRequest>().unwrap();
        assert_eq!(raw.headers.iter().next().unwrap().0, "X-Mixed-Case");
        assert_eq!(raw.target, "/a?b=c");
    }

    #[test]
    fn common_methods_and_the_root_target_convert_as_http_parses_them() {
        for (method, target) in [("GET", "/"), ("POST", "/"), ("GET", "/a"), ("PATCH", "/")] {
            let req = request(
                zttp_core::Request::new(method, target),
                Body::empty(),
                false,
                &mut zttp_core::Connection::new(zttp_core::Role::Server),
            )
            .unwrap();
            assert_eq!(req.method(), Method::from_bytes(method.as_bytes()).unwrap());
            assert_eq!(req.uri(), &Uri::from_static(target));
            assert_eq!(req.uri().path(), target);
        }
    }

    #[test]
    fn common_names_are_found_as_http_parses_them() {
        for (i, known) in COMMON_NAMES.iter().enumerate() {
            let text = known.name.as_str();
            assert_eq!(
                known.lower,
                KnownName::new(header::HOST, text.as_bytes()).lower
            );
            if let Some(next) = COMMON_NAMES.get(i + 1) {
                assert!(text.len() <= next.name.as_str().len(), "ordered by length");
            }
            let known = &known.name;
            let lower = known.as_str().as_bytes().to_vec();
            let upper = lower.to_ascii_uppercase();
            let mut title = lower.clone();
            title[0] = title[0].to_ascii_uppercase();
            for name in [lower, upper, title] {
                assert_eq!(header_name(&name).as_ref(), Some(known));
                assert_eq!(header_name(&name), HeaderName::from_bytes(&name).ok());
            }
        }
    }

    #[test]
    fn every_byte_in_every_position_of_a_common_name_is_read_as_http_reads_it() {
        for known in &COMMON_NAMES {
            let text = known.name.as_str().as_bytes();
            for i in 0..text.len() {
                for b in 0..=255u8 {
                    let mut name = text.to_vec();
                    name[i] = b;
                    assert_eq!(
                        header_name(&name),
                        HeaderName::from_bytes(&name).ok(),
                        "{name:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn other_names_are_parsed_as_http_parses_them() {
        let names: [&[u8]; 11] = [
            b"X-Custom",
            b"user_agent",
            b"USER-AGENT",
            b"hosts",
            b"hos",
            b"user-agenT",
            b"accept-charset",
            b"x-user-agent",
            b"",
            b"bad name",
            b"caf\xc3\xa9",
        ];
        for name in names {
            assert_eq!(
                header_name(name),
                HeaderName::from_bytes(name).ok(),
                "{name:?}"
            );
        }
    }

    #[test]
    fn decimal_formats_every_magnitude() {
        for n in [0, 7, 13, 100, u64::MAX] {
            assert_eq!(Decimal::default().format(n), n.to_string().as_bytes());
        }
    }

    #[test]
    fn present_fields_are_found_in_one_pass() {
        let mut h = HeaderMap::new();
        h.insert("transfer-encoding", HeaderValue::from_static("chunked"));
        h.insert("date", HeaderValue::from_static("x"));
        let p = PresentFields::of(&h);
        assert!(p.framing && p.date && !p.connection);
    }

    #[test]
    fn trailer_fields_keep_their_order() {
        let mut h = HeaderMap::new();
        h.append("x-a", HeaderValue::from_static("1"));
        h.append("x-b", HeaderValue::from_static("2"));
        let f = fields(&h);
        let names: Vec<_> = f.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
        assert_eq!(
            names,
            [("x-a".into(), "1".into()), ("x-b".into(), "2".into())]
        );
    }
}
