//! [`RawRequest`]: the request exactly as received, for handlers that need it.

use bytes::Bytes;
use zttp_core::{Headers, Version};

/// The request head as it came off the wire, in each request's extensions
/// when [`ServerConfig::raw_request`](crate::ServerConfig::raw_request) is on.
///
/// `http::Request` normalises what it holds: header names are lowercased and the
/// target is parsed into a `Uri`. When a handler needs the original (the case of
/// header names, their exact order, the target byte for byte), it reads this:
///
/// ```
/// # use zttp_service::{RawRequest, Request};
/// fn header_names(req: &Request) -> Vec<String> {
///     let raw = req.extensions().get::<RawRequest>().expect("ServerConfig::raw_request is on");
///     raw.headers.iter().map(|(name, _)| String::from_utf8_lossy(name).into_owned()).collect()
/// }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RawRequest {
    /// The method token as sent.
    pub method: Bytes,
    /// The request-target as sent (on HTTP/2, `:path`, or the authority for CONNECT).
    pub target: Bytes,
    /// The protocol version the request came in.
    pub version: Version,
    /// Header fields in wire order, names with their original case, duplicates kept.
    pub headers: Headers,
}

impl RawRequest {
    /// A raw request head for code that receives requests other than through this crate's
    /// drive loop and hands them to handlers (e.g. a gateway's workers), so handlers find
    /// the same extension wherever they run.
    pub fn new(method: Bytes, target: Bytes, version: Version, headers: Headers) -> Self {
        RawRequest {
            method,
            target,
            version,
            headers,
        }
    }
}
