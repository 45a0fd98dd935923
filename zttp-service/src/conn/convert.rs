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
/// received goes into a [`RawRequest`] extension.
pub(super) fn request(
    req: zttp_core::Request,
    body: Body,
    raw: bool,
) -> Result<http::Request<Body>, Unrepresentable> {
    let method = Method::from_bytes(&req.method).map_err(|_| Unrepresentable)?;
    // An extended CONNECT (RFC 8441) has a :scheme and :path like other requests.
    let tunnel_only = method == Method::CONNECT && req.protocol.is_none();
    let uri = match (&req.scheme, &req.authority) {
        (Some(scheme), Some(authority)) if !tunnel_only => Uri::builder()
            .scheme(scheme.as_ref())
            .authority(authority.as_ref())
            .path_and_query(req.target.as_ref())
            .build()
            .map_err(|_| Unrepresentable)?,
        (_, Some(authority)) if tunnel_only => {
            Uri::try_from(authority.as_ref()).map_err(|_| Unrepresentable)?
        }
        _ => Uri::from_maybe_shared(req.target.clone()).map_err(|_| Unrepresentable)?,
    };
    let mut headers = HeaderMap::with_capacity(req.headers.len());
    for (name, value) in &req.headers {
        let name = HeaderName::from_bytes(name).map_err(|_| Unrepresentable)?;
        let value = HeaderValue::from_maybe_shared(value.clone()).map_err(|_| Unrepresentable)?;
        headers.append(name, value);
    }
    let mut request = http::Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = match req.http_version {
        Version::Http10 => HttpVersion::HTTP_10,
        Version::Http11 => HttpVersion::HTTP_11,
        Version::Http2 => HttpVersion::HTTP_2,
    };
    *request.headers_mut() = headers;
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
        let req = request(core, Body::empty(), true).unwrap();
        assert_eq!(req.uri().path(), "/a");
        assert_eq!(req.headers().get_all("x-mixed-case").iter().count(), 2);
        let raw = req.extensions().get::<RawRequest>().unwrap();
        assert_eq!(raw.headers.iter().next().unwrap().0, "X-Mixed-Case");
        assert_eq!(raw.target, "/a?b=c");
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
