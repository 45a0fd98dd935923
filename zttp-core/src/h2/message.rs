//! HTTP semantics over HTTP/2 (RFC 9113 §8): turning decoded header lists
//! into requests, responses and trailers with the validation §8.2 and §8.3
//! demand, and turning our events back into field lists to encode.

use bytes::Bytes;

use crate::framing::ContentLength;
use crate::{Framing, Headers, LocalProtocolError, Request, Response, StreamId, Version};

/// A field list breaks §8.1.1 (a malformed message): a stream error PROTOCOL_ERROR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

/// Fields that only mean something to one HTTP/1.1 connection (§8.2.2).
const CONNECTION_SPECIFIC: [&[u8]; 5] = [
    b"connection",
    b"keep-alive",
    b"proxy-connection",
    b"transfer-encoding",
    b"upgrade",
];

fn is_connection_specific(name: &[u8]) -> bool {
    CONNECTION_SPECIFIC
        .iter()
        .any(|c| c.eq_ignore_ascii_case(name))
}

/// Per byte: bit 0 set where a received field name may hold it (visible
/// ASCII but uppercase and `:`), bit 1 where a field value may not (NUL, CR, LF).
const BYTE_CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c > 0x20 && c < 0x7f && !c.is_ascii_uppercase() && c != b':' {
            table[b] |= NAME_BYTE;
        }
        if matches!(c, 0 | b'\r' | b'\n') {
            table[b] |= NOT_VALUE_BYTE;
        }
        b += 1;
    }
    table
};
const NAME_BYTE: u8 = 1;
const NOT_VALUE_BYTE: u8 = 2;

/// A received regular field name: lowercase token characters only (§8.2.1).
fn valid_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name
            .iter()
            .all(|&b| BYTE_CLASS[usize::from(b)] & NAME_BYTE != 0)
}

/// A field value with no NUL, CR or LF, and no leading or trailing whitespace (§8.2.1).
fn valid_value(value: &[u8]) -> bool {
    !value
        .iter()
        .any(|&b| BYTE_CLASS[usize::from(b)] & NOT_VALUE_BYTE != 0)
        && !matches!(value.first(), Some(b' ' | b'\t'))
        && !matches!(value.last(), Some(b' ' | b'\t'))
}

/// Checks one regular field of any received section.
fn check_regular(name: &[u8], value: &[u8]) -> Result<(), Malformed> {
    if !valid_name(name) || !valid_value(value) || is_connection_specific(name) {
        return Err(Malformed);
    }
    if name == b"te" && value != b"trailers" {
        return Err(Malformed);
    }
    Ok(())
}

/// Sets a pseudo-header slot, refusing a duplicate.
fn set_once(slot: &mut Option<Bytes>, value: Bytes) -> Result<(), Malformed> {
    if slot.replace(value).is_some() {
        return Err(Malformed);
    }
    Ok(())
}

/// Splits a field list into pseudo-headers (via `pseudo`) and regular fields,
/// enforcing that pseudo-headers come first.
fn split_fields(
    fields: Vec<(Bytes, Bytes)>,
    mut pseudo: impl FnMut(&[u8], Bytes) -> Result<(), Malformed>,
) -> Result<Headers, Malformed> {
    let mut headers = Headers::with_capacity(fields.len());
    for (name, value) in fields {
        if name.first() == Some(&b':') {
            if !headers.is_empty() || !valid_value(&value) {
                return Err(Malformed);
            }
            pseudo(&name, value)?;
        } else {
            check_regular(&name, &value)?;
            headers.push(name, value);
        }
    }
    Ok(headers)
}

/// The declared content-length: every value must be the same decimal number
/// (the one parser HTTP/1.1 uses too).
pub(crate) fn content_length(headers: &Headers) -> Result<Option<u64>, Malformed> {
    ContentLength::of(headers.get_all(b"content-length").map(|v| &v[..])).map_err(|_| Malformed)
}

/// A request head from a decoded field list (§8.3.1).
pub(crate) fn parse_request(
    stream_id: u32,
    fields: Vec<(Bytes, Bytes)>,
) -> Result<Request, Malformed> {
    let (mut method, mut scheme, mut authority, mut path, mut protocol) =
        (None, None, None, None, None);
    let headers = split_fields(fields, |name, value| match name {
        b":method" => set_once(&mut method, value),
        b":scheme" => set_once(&mut scheme, value),
        b":authority" => set_once(&mut authority, value),
        b":path" => set_once(&mut path, value),
        b":protocol" => set_once(&mut protocol, value),
        _ => Err(Malformed),
    })?;
    let method = method.ok_or(Malformed)?;
    if method.is_empty() {
        return Err(Malformed);
    }
    let target = if &method[..] == b"CONNECT" && protocol.is_none() {
        // Plain CONNECT: only :authority, which is the target (§8.5).
        if scheme.is_some() || path.is_some() {
            return Err(Malformed);
        }
        authority.clone().ok_or(Malformed)?
    } else {
        if protocol.is_some() && &method[..] != b"CONNECT" {
            return Err(Malformed);
        }
        let (Some(s), Some(p)) = (&scheme, &path) else {
            return Err(Malformed);
        };
        let http = s.eq_ignore_ascii_case(b"http") || s.eq_ignore_ascii_case(b"https");
        if p.is_empty() && http || !is_path_without_fragment(p) {
            return Err(Malformed);
        }
        if http && authority.as_ref().is_some_and(|a| a.contains(&b'@')) {
            // §8.3.1: no userinfo in an http(s) :authority.
            return Err(Malformed);
        }
        p.clone()
    };
    let expect_continue = headers.has_token(b"expect", b"100-continue");
    Ok(Request {
        stream_id: StreamId(stream_id),
        method,
        target,
        http_version: Version::Http2,
        headers,
        scheme,
        authority,
        protocol,
        expect_continue,
        framing: Framing::Empty,
    })
}

/// §8.3.1: `:path` holds the path and query of the target URI, never a
/// fragment (which `http::Uri` would silently drop).
fn is_path_without_fragment(path: &[u8]) -> bool {
    !path.contains(&b'#')
}

/// A response head (final or 1xx) from a decoded field list (§8.3.2).
pub(crate) fn parse_response(
    stream_id: u32,
    fields: Vec<(Bytes, Bytes)>,
) -> Result<Response, Malformed> {
    let mut status = None;
    let headers = split_fields(fields, |name, value| match name {
        b":status" => set_once(&mut status, value),
        _ => Err(Malformed),
    })?;
    let status = status.ok_or(Malformed)?;
    let [a, b, c] = status[..] else {
        return Err(Malformed);
    };
    if ![a, b, c].iter().all(u8::is_ascii_digit) || a == b'0' {
        return Err(Malformed);
    }
    let status_code = u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0');
    Ok(Response {
        stream_id: StreamId(stream_id),
        status_code,
        reason: Bytes::new(),
        http_version: Version::Http2,
        headers,
        framing: Framing::Empty,
    })
}

/// A trailer section: regular fields only (§8.1).
pub(crate) fn parse_trailers(fields: Vec<(Bytes, Bytes)>) -> Result<Headers, Malformed> {
    split_fields(fields, |_, _| Err(Malformed))
}

/// A field to encode: name (lowercase), value, never-index.
pub(crate) type OutField = (Bytes, Bytes, bool);

fn lowercase(name: &Bytes) -> Bytes {
    if name.iter().any(u8::is_ascii_uppercase) {
        Bytes::from(name.to_ascii_lowercase())
    } else {
        name.clone()
    }
}

/// One regular field we are about to send: `None` when it is dropped
/// (connection-specific fields, and `te` other than `trailers`), else the
/// value trimmed of surrounding whitespace (as a range into it) and whether
/// it must never be indexed. What a receiver accepts (§8.2.1) is checked: a
/// name of visible ASCII without `:` (a pseudo-header is not a regular field,
/// and `:` is no token character), a value without NUL, CR or LF.
pub(crate) fn out_field(
    name: &[u8],
    value: &[u8],
) -> Result<Option<(std::ops::Range<usize>, bool)>, LocalProtocolError> {
    if name.is_empty()
        || name.iter().any(|&b| b <= 0x20 || b >= 0x7f || b == b':')
        || value.iter().any(|&b| matches!(b, 0 | b'\r' | b'\n'))
    {
        return Err(LocalProtocolError::InvalidHeader);
    }
    Ok(out_field_vouched(name, value))
}

/// [`out_field`] for a name the caller vouches is a token and a value it
/// vouches holds no NUL, CR or LF (`http`'s `HeaderName` and `HeaderValue`):
/// only what HTTP/2 drops, trims or never indexes is decided.
pub(crate) fn out_field_vouched(
    name: &[u8],
    value: &[u8],
) -> Option<(std::ops::Range<usize>, bool)> {
    let sensitive = match name.len() {
        2 if name.eq_ignore_ascii_case(b"te") => {
            let (start, end) = trimmed(value);
            return value[start..end]
                .eq_ignore_ascii_case(b"trailers")
                .then_some((start..end, false));
        }
        7 | 10 | 16 | 17 if is_connection_specific(name) => return None,
        13 => name.eq_ignore_ascii_case(b"authorization"),
        19 => name.eq_ignore_ascii_case(b"proxy-authorization"),
        _ => false,
    };
    let (start, end) = trimmed(value);
    Some((start..end, sensitive))
}

/// Where `value` is without surrounding spaces and tabs.
fn trimmed(value: &[u8]) -> (usize, usize) {
    let ows = |b: &u8| matches!(b, b' ' | b'\t');
    match (value.first(), value.last()) {
        (Some(first), Some(last)) if ows(first) || ows(last) => {
            let start = value.iter().take_while(|b| ows(b)).count();
            let end = value.len() - value[start..].iter().rev().take_while(|b| ows(b)).count();
            (start, end)
        }
        _ => (0, value.len()),
    }
}

/// Appends the regular fields of `headers`, lowercased, with connection-specific
/// ones stripped (and `te` kept only as `trailers`). `skip` drops more names.
fn push_regular(
    out: &mut Vec<OutField>,
    headers: &Headers,
    skip: &[&[u8]],
) -> Result<(), LocalProtocolError> {
    for (name, value) in headers {
        let Some((range, sensitive)) = out_field(name, value)? else {
            continue;
        };
        if skip.iter().any(|s| s.eq_ignore_ascii_case(name)) {
            continue;
        }
        out.push((lowercase(name), value.slice(range), sensitive));
    }
    Ok(())
}

/// The three digits of a status code in 100..=999.
pub(crate) fn status_digits(status: u16) -> [u8; 3] {
    [
        b'0' + (status / 100 % 10) as u8,
        b'0' + (status / 10 % 10) as u8,
        b'0' + (status % 10) as u8,
    ]
}

/// The field list of a request: pseudo-headers then regular fields. The
/// authority comes from `authority`, else from a `Host` field (which is then
/// dropped); the scheme defaults to `http`.
pub(crate) fn request_fields(req: &Request) -> Result<Vec<OutField>, LocalProtocolError> {
    let mut out = Vec::with_capacity(req.headers.len() + 4);
    let pseudo = |name: &'static [u8], value: Bytes| (Bytes::from_static(name), value, false);
    out.push(pseudo(b":method", req.method.clone()));
    let authority = req
        .authority
        .clone()
        .or_else(|| req.headers.get(b"host").cloned());
    let connect = &req.method[..] == b"CONNECT";
    if connect && req.protocol.is_none() {
        out.push(pseudo(b":authority", req.target.clone()));
    } else {
        let scheme = req.scheme.clone().unwrap_or(Bytes::from_static(b"http"));
        out.push(pseudo(b":scheme", scheme));
        if let Some(a) = authority {
            out.push(pseudo(b":authority", a));
        }
        let http = match req.scheme.as_deref() {
            Some(s) => s.eq_ignore_ascii_case(b"http") || s.eq_ignore_ascii_case(b"https"),
            None => true,
        };
        let userinfo = out
            .iter()
            .any(|(n, v, _)| &n[..] == b":authority" && v.contains(&b'@'));
        if req.target.is_empty() || !is_path_without_fragment(&req.target) || http && userinfo {
            return Err(LocalProtocolError::InvalidHeader);
        }
        out.push(pseudo(b":path", req.target.clone()));
        if let Some(p) = &req.protocol {
            out.push(pseudo(b":protocol", p.clone()));
        }
    }
    push_regular(&mut out, &req.headers, &[b"host"])?;
    Ok(out)
}

/// The field list of a response (final or 1xx).
pub(crate) fn response_fields(resp: &Response) -> Result<Vec<OutField>, LocalProtocolError> {
    if !(100..=999).contains(&resp.status_code) {
        return Err(LocalProtocolError::InvalidStatus);
    }
    let mut out = Vec::with_capacity(resp.headers.len() + 1);
    let status = Bytes::copy_from_slice(&status_digits(resp.status_code));
    out.push((Bytes::from_static(b":status"), status, false));
    push_regular(&mut out, &resp.headers, &[])?;
    Ok(out)
}

/// The field list of a trailer section.
pub(crate) fn trailer_fields(trailers: &Headers) -> Result<Vec<OutField>, LocalProtocolError> {
    let mut out = Vec::with_capacity(trailers.len());
    push_regular(&mut out, trailers, &[])?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_classes_match_the_rules_for_every_byte() {
        for b in 0..=255u8 {
            let name = b > 0x20 && b < 0x7f && !b.is_ascii_uppercase() && b != b':';
            assert_eq!(valid_name(&[b]), name, "name byte {b:#x}");
            let value = !matches!(b, 0 | b'\r' | b'\n');
            assert_eq!(valid_value(&[b'a', b, b'a']), value, "value byte {b:#x}");
        }
    }

    #[test]
    fn vouched_fields_are_dropped_trimmed_and_kept_as_checked_ones() {
        let names = [
            "connection",
            "keep-alive",
            "proxy-connection",
            "transfer-encoding",
            "upgrade",
            "te",
            "tf",
            "authorization",
            "proxy-authorization",
            "content-length",
            "date",
            "x-upgrade",
            "upgradex",
            "cookie",
            "a",
        ];
        let values = [
            "",
            " ",
            "\t",
            "trailers",
            " Trailers\t",
            "gzip",
            " a b ",
            "x\t",
            "\ty",
        ];
        for name in names {
            for value in values {
                let (name, value) = (name.as_bytes(), value.as_bytes());
                assert_eq!(
                    out_field(name, value),
                    Ok(out_field_vouched(name, value)),
                    "{:?}: {:?}",
                    String::from_utf8_lossy(name),
                    String::from_utf8_lossy(value)
                );
            }
        }
    }

    fn fields(list: &[(&'static str, &'static str)]) -> Vec<(Bytes, Bytes)> {
        list.iter()
            .map(|(n, v)| {
                (
                    Bytes::from_static(n.as_bytes()),
                    Bytes::from_static(v.as_bytes()),
                )
            })
            .collect()
    }

    const GET: [(&str, &str); 4] = [
        (":method", "GET"),
        (":scheme", "https"),
        (":authority", "example.com"),
        (":path", "/a?b"),
    ];

    #[test]
    fn parses_a_request_with_pseudo_headers() {
        let mut f = fields(&GET);
        f.extend(fields(&[("expect", "100-continue"), ("x-a", "1")]));
        let req = parse_request(3, f).unwrap();
        assert_eq!(
            (&req.method[..], &req.target[..]),
            (&b"GET"[..], &b"/a?b"[..])
        );
        assert_eq!(req.authority.as_deref(), Some(&b"example.com"[..]));
        assert_eq!(req.headers.len(), 2);
        assert!(req.expect_continue);
        assert_eq!(req.http_version, Version::Http2);
    }

    #[test]
    fn connect_target_is_the_authority() {
        let req = parse_request(
            1,
            fields(&[(":method", "CONNECT"), (":authority", "h:443")]),
        )
        .unwrap();
        assert_eq!(&req.target[..], b"h:443");
        let bad = fields(&[
            (":method", "CONNECT"),
            (":authority", "h:443"),
            (":path", "/"),
        ]);
        assert_eq!(parse_request(1, bad), Err(Malformed));
    }

    #[test]
    fn rejects_malformed_requests() {
        let cases: Vec<Vec<(&str, &str)>> = vec![
            GET[..3].to_vec(),                                              // no :path
            [&GET[..], &[(":path", "/x")]].concat(),                        // duplicate
            [&GET[..], &[(":status", "200")]].concat(),                     // response pseudo
            [&GET[..], &[(":foo", "x")]].concat(),                          // unknown pseudo
            [&[("a", "b")][..], &GET[..]].concat(),                         // pseudo after regular
            [&GET[..], &[("Upper", "x")]].concat(),                         // uppercase
            [&GET[..], &[("connection", "close")]].concat(),                // connection-specific
            [&GET[..], &[("te", "gzip")]].concat(), // te other than trailers
            [&GET[..], &[("x", " lead")]].concat(), // leading whitespace
            [&GET[..], &[("x", "a\0b")]].concat(),  // NUL
            [&GET[..3], &[(":path", "")]].concat(), // empty path
            [&GET[..3], &[(":path", "/a#b")]].concat(), // fragment
            [&GET[..2], &[(":authority", "u@h"), (":path", "/")]].concat(), // userinfo
        ];
        for case in cases {
            assert_eq!(parse_request(1, fields(&case)), Err(Malformed), "{case:?}");
        }
        let te = [&GET[..], &[("te", "trailers")]].concat();
        assert!(parse_request(1, fields(&te)).is_ok());
    }

    #[test]
    fn parses_responses_and_rejects_bad_status() {
        let r = parse_response(1, fields(&[(":status", "103"), ("link", "</a>")])).unwrap();
        assert_eq!(r.status_code, 103);
        for bad in ["20", "2000", "abc", "099"] {
            assert_eq!(
                parse_response(1, fields(&[(":status", bad)])),
                Err(Malformed)
            );
        }
        assert_eq!(parse_response(1, fields(&[("a", "b")])), Err(Malformed));
    }

    #[test]
    fn trailers_have_no_pseudo_headers() {
        assert!(parse_trailers(fields(&[("grpc-status", "0")])).is_ok());
        assert_eq!(
            parse_trailers(fields(&[(":status", "200")])),
            Err(Malformed)
        );
    }

    #[test]
    fn content_length_values_must_agree() {
        let h = Headers::new()
            .with("content-length", "5")
            .with("content-length", "5");
        assert_eq!(content_length(&h), Ok(Some(5)));
        let h = Headers::new()
            .with("content-length", "5")
            .with("content-length", "6");
        assert_eq!(content_length(&h), Err(Malformed));
        let h = Headers::new().with("content-length", "-1");
        assert_eq!(content_length(&h), Err(Malformed));
    }

    #[test]
    fn outgoing_fields_are_lowercased_and_stripped() {
        let req = Request::new("GET", "/")
            .with_header("Host", "example.com")
            .with_header("Connection", "keep-alive")
            .with_header("TE", "trailers")
            .with_header("X-Mixed", "v");
        let f = request_fields(&req).unwrap();
        let names: Vec<&[u8]> = f.iter().map(|f| &f.0[..]).collect();
        assert_eq!(
            names,
            [
                &b":method"[..],
                b":scheme",
                b":authority",
                b":path",
                b"te",
                b"x-mixed"
            ]
        );
        let resp = Response::new(200).with_header("Bad", "a\r\nb");
        assert_eq!(
            response_fields(&resp),
            Err(LocalProtocolError::InvalidHeader)
        );
    }
}
