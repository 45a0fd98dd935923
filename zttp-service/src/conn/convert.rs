//! Conversions between the core's messages and the `http` crate's.

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Uri, Version as HttpVersion};
use zttp_core::{Headers, Version};

use crate::body::Body;
use crate::raw::RawRequest;

/// Why a request the core accepted cannot become an `http::Request`.
#[derive(Debug)]
pub(super) struct Unrepresentable;

/// Builds the handler's request from the core's; the head as received goes
/// into a [`RawRequest`] extension.
pub(super) fn request(
    req: zttp_core::Request,
    body: Body,
) -> Result<http::Request<Body>, Unrepresentable> {
    let method = Method::from_bytes(&req.method).map_err(|_| Unrepresentable)?;
    let uri = match (&req.scheme, &req.authority) {
        (Some(scheme), Some(authority)) if method != Method::CONNECT => Uri::builder()
            .scheme(scheme.as_ref())
            .authority(authority.as_ref())
            .path_and_query(req.target.as_ref())
            .build()
            .map_err(|_| Unrepresentable)?,
        (_, Some(authority)) if method == Method::CONNECT => {
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
    request.extensions_mut().insert(RawRequest {
        method: req.method,
        target: req.target,
        version: req.http_version,
        headers: req.headers,
    });
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

/// What the drive loop adds to a response head.
pub(super) struct Additions {
    pub(super) date: Option<Bytes>,
    pub(super) content_length: Option<u64>,
    pub(super) close: bool,
}

/// Converts response header fields to the core's list, copying all names and
/// values into one allocation.
pub(super) fn fields(headers: &HeaderMap, add: Additions) -> Headers {
    let mut size = 0;
    for (name, value) in headers {
        size += name.as_str().len() + value.len();
    }
    let mut buf = BytesMut::with_capacity(size + 20);
    let mut out = Headers::with_capacity(headers.len() + 3);
    for (name, value) in headers {
        buf.extend_from_slice(name.as_str().as_bytes());
        let name = buf.split().freeze();
        buf.extend_from_slice(value.as_bytes());
        out.push(name, buf.split().freeze());
    }
    if let Some(date) = add.date {
        out.push(Bytes::from_static(b"date"), date);
    }
    if let Some(n) = add.content_length {
        buf.extend_from_slice(n.to_string().as_bytes());
        out.push(Bytes::from_static(b"content-length"), buf.split().freeze());
    }
    if add.close {
        out.push(
            Bytes::from_static(b"connection"),
            Bytes::from_static(b"close"),
        );
    }
    out
}

/// True when the response head says how its body is framed.
pub(super) fn has_framing(headers: &HeaderMap) -> bool {
    headers.contains_key(header::CONTENT_LENGTH) || headers.contains_key(header::TRANSFER_ENCODING)
}

/// True when the request announces a body (HTTP/1: Content-Length > 0 or Transfer-Encoding).
pub(super) fn announces_body(req: &zttp_core::Request) -> bool {
    if req.http_version == Version::Http2 {
        return true;
    }
    req.headers.contains(b"transfer-encoding")
        || req
            .headers
            .get(b"content-length")
            .is_some_and(|v| v.iter().any(|&b| b != b'0'))
}

/// The declared body length, when Content-Length says it.
pub(super) fn content_length(req: &zttp_core::Request) -> Option<u64> {
    if req.headers.contains(b"transfer-encoding") {
        return None;
    }
    std::str::from_utf8(req.headers.get(b"content-length")?)
        .ok()?
        .trim()
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_keeps_the_raw_head_in_an_extension() {
        let core = zttp_core::Request::new("GET", "/a?b=c")
            .with_header("X-Mixed-Case", "1")
            .with_header("x-mixed-case", "2");
        let req = request(core, Body::empty()).unwrap();
        assert_eq!(req.uri().path(), "/a");
        assert_eq!(req.headers().get_all("x-mixed-case").iter().count(), 2);
        let raw = req.extensions().get::<RawRequest>().unwrap();
        assert_eq!(raw.headers.iter().next().unwrap().0, "X-Mixed-Case");
        assert_eq!(raw.target, "/a?b=c");
    }

    #[test]
    fn response_fields_get_the_additions() {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("text/plain"));
        let f = fields(
            &h,
            Additions {
                date: Some(Bytes::from_static(b"Thu, 01 Jan 1970 00:00:00 GMT")),
                content_length: Some(13),
                close: true,
            },
        );
        let names: Vec<_> = f.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
        assert_eq!(names.len(), 4);
        assert_eq!(f.get(b"content-length").unwrap(), "13");
        assert_eq!(f.get(b"content-type").unwrap(), "text/plain");
    }
}
