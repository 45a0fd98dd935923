//! [`IntoResponse`]: what a handler may return, with headers ([`ResponseHeaders`])
//! and, behind the `json` feature, `Json`.

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::{HeaderMap, StatusCode};

use crate::body::{Body, BodyError, BoxError};

/// Anything a handler may answer with.
///
/// - `http::Response<B>` for any body `B` of [`Bytes`] (a [`Body`], `String`,
///   `http_body_util::Full`, a stream...);
/// - a body on its own (`String`, `&'static str`, `Bytes`, `Vec<u8>`, [`Body`],
///   `()`): a `200` with that body;
/// - a [`StatusCode`]: that status with an empty body;
/// - `(StatusCode, R)`, `(H, R)` and `(StatusCode, H, R)`, where `R` is itself
///   an `IntoResponse` and `H` is [`ResponseHeaders`] (a `HeaderMap` or an array
///   or `Vec` of `(name, value)` pairs): `R` with that status / those headers
///   added (replacing a header of the same name);
/// - `Result<T, E>` of two `IntoResponse`s; a [`BodyError`] answers its status
///   (`413` for a body over the limit, `400` for a broken one), so
///   `req.into_body().to_bytes().await?` works in a handler returning `Result`;
/// - `Json(value)` with the `json` feature.
///
/// ```
/// use zttp_service::{IntoResponse, Request};
/// use http::{header, StatusCode};
///
/// async fn create(_req: Request) -> impl IntoResponse {
///     (
///         StatusCode::CREATED,
///         [(header::LOCATION, "/items/7"), (header::CONTENT_TYPE, "text/plain")],
///         "made item 7",
///     )
/// }
/// let response = futures::executor::block_on(create(Request::default())).into_response();
/// assert_eq!(response.status(), StatusCode::CREATED);
/// assert_eq!(response.headers()["location"], "/items/7");
/// ```
pub trait IntoResponse {
    /// Converts into a response.
    fn into_response(self) -> http::Response<Body>;
}

impl<B> IntoResponse for http::Response<B>
where
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    fn into_response(self) -> http::Response<Body> {
        self.map(Body::new)
    }
}

impl IntoResponse for StatusCode {
    fn into_response(self) -> http::Response<Body> {
        let mut response = http::Response::new(Body::empty());
        *response.status_mut() = self;
        response
    }
}

macro_rules! body_into_response {
    ($($t:ty),*) => {$(
        impl IntoResponse for $t {
            fn into_response(self) -> http::Response<Body> {
                http::Response::new(Body::from(self))
            }
        }
    )*};
}
body_into_response!(
    Body,
    String,
    &'static str,
    &'static [u8],
    Bytes,
    Vec<u8>,
    ()
);

impl<R: IntoResponse> IntoResponse for (StatusCode, R) {
    fn into_response(self) -> http::Response<Body> {
        let mut response = self.1.into_response();
        *response.status_mut() = self.0;
        response
    }
}

impl<H: ResponseHeaders, R: IntoResponse> IntoResponse for (H, R) {
    fn into_response(self) -> http::Response<Body> {
        let mut response = self.1.into_response();
        match self.0.apply(response.headers_mut()) {
            Ok(()) => response,
            Err(e) => invalid_header(e),
        }
    }
}

impl<H: ResponseHeaders, R: IntoResponse> IntoResponse for (StatusCode, H, R) {
    fn into_response(self) -> http::Response<Body> {
        let mut response = self.2.into_response();
        if let Err(e) = self.1.apply(response.headers_mut()) {
            return invalid_header(e);
        }
        *response.status_mut() = self.0;
        response
    }
}

impl<T: IntoResponse, E: IntoResponse> IntoResponse for Result<T, E> {
    fn into_response(self) -> http::Response<Body> {
        match self {
            Ok(r) => r.into_response(),
            Err(e) => e.into_response(),
        }
    }
}

impl IntoResponse for BodyError {
    fn into_response(self) -> http::Response<Body> {
        let status = self
            .status()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        tracing::debug!(error = %self, %status, "request body failed");
        status.into_response()
    }
}

/// Headers a handler adds to its response: a [`HeaderMap`], or an array or
/// `Vec` of `(name, value)` pairs whose parts convert into [`HeaderName`] and
/// [`HeaderValue`] (`&str`, `String`, the `http::header` constants...).
///
/// A name or value that does not convert (a space in a name, a newline in a
/// value) turns the whole answer into an empty `500`, logged at `error`: a
/// response with a header silently missing would be worse.
pub trait ResponseHeaders {
    /// Inserts the headers into `headers`, replacing fields of the same name.
    fn apply(self, headers: &mut HeaderMap) -> Result<(), InvalidHeader>;
}

/// A header name or value that is not valid HTTP.
#[derive(Debug)]
pub struct InvalidHeader(String);

impl std::fmt::Display for InvalidHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid response header: {}", self.0)
    }
}

impl std::error::Error for InvalidHeader {}

impl ResponseHeaders for HeaderMap {
    fn apply(self, headers: &mut HeaderMap) -> Result<(), InvalidHeader> {
        for name in self.keys() {
            headers.remove(name);
        }
        for (name, value) in &self {
            headers.append(name.clone(), value.clone());
        }
        Ok(())
    }
}

fn pairs<K, V>(
    pairs: impl IntoIterator<Item = (K, V)>,
    headers: &mut HeaderMap,
) -> Result<(), InvalidHeader>
where
    K: TryInto<HeaderName>,
    K::Error: std::fmt::Display,
    V: TryInto<HeaderValue>,
    V::Error: std::fmt::Display,
{
    let mut converted = Vec::new();
    for (name, value) in pairs {
        let name = name.try_into().map_err(|e| InvalidHeader(e.to_string()))?;
        let value = value
            .try_into()
            .map_err(|e| InvalidHeader(format!("{name}: {e}")))?;
        converted.push((name, value));
    }
    for (name, _) in &converted {
        headers.remove(name);
    }
    for (name, value) in converted {
        headers.append(name, value);
    }
    Ok(())
}

impl<K, V, const N: usize> ResponseHeaders for [(K, V); N]
where
    K: TryInto<HeaderName>,
    K::Error: std::fmt::Display,
    V: TryInto<HeaderValue>,
    V::Error: std::fmt::Display,
{
    fn apply(self, headers: &mut HeaderMap) -> Result<(), InvalidHeader> {
        pairs(self, headers)
    }
}

impl<K, V> ResponseHeaders for Vec<(K, V)>
where
    K: TryInto<HeaderName>,
    K::Error: std::fmt::Display,
    V: TryInto<HeaderValue>,
    V::Error: std::fmt::Display,
{
    fn apply(self, headers: &mut HeaderMap) -> Result<(), InvalidHeader> {
        pairs(self, headers)
    }
}

fn invalid_header(e: InvalidHeader) -> http::Response<Body> {
    tracing::error!(error = %e, "handler answered an invalid header; answering 500");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header;

    fn body(response: http::Response<Body>) -> Bytes {
        futures::executor::block_on(response.into_body().to_bytes()).unwrap()
    }

    #[test]
    fn status_headers_and_body_triple() {
        let response = (
            StatusCode::CREATED,
            [
                (header::LOCATION, "/items/7"),
                (header::CACHE_CONTROL, "no-store"),
            ],
            String::from("made"),
        )
            .into_response();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()["location"], "/items/7");
        assert_eq!(response.headers()["cache-control"], "no-store");
        assert_eq!(body(response), "made");
    }

    #[test]
    fn headers_replace_those_of_the_inner_response() {
        let inner = http::Response::builder()
            .header("content-type", "text/plain")
            .header("x-kept", "1")
            .body(Body::from("x"))
            .unwrap();
        let response = (vec![("content-type", "text/html")], inner).into_response();
        let types: Vec<_> = response.headers().get_all("content-type").iter().collect();
        assert_eq!(types, ["text/html"]);
        assert_eq!(response.headers()["x-kept"], "1");

        let mut map = HeaderMap::new();
        map.append("x-many", HeaderValue::from_static("a"));
        map.append("x-many", HeaderValue::from_static("b"));
        let response = (map, (StatusCode::ACCEPTED, "y")).into_response();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let many: Vec<_> = response.headers().get_all("x-many").iter().collect();
        assert_eq!(many, ["a", "b"]);
    }

    #[test]
    fn invalid_header_answers_an_empty_500() {
        let response = (StatusCode::OK, [("bad name", "v")], "body").into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(body(response).is_empty());
        let response = ([("x-ok", "line\nbreak")], "body").into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn status_wraps_any_response() {
        let inner = ([("x-a", "1")], "z");
        let response = (StatusCode::IM_A_TEAPOT, inner).into_response();
        assert_eq!(response.status(), StatusCode::IM_A_TEAPOT);
        assert_eq!(response.headers()["x-a"], "1");
        assert_eq!(body(().into_response()), "");
    }

    #[test]
    fn body_error_answers_its_status() {
        let e = BodyError::remote(zttp_core::RemoteErrorKind::BodyTooLarge.into());
        assert_eq!(e.into_response().status(), StatusCode::PAYLOAD_TOO_LARGE);
        let e = BodyError::incomplete();
        assert_eq!(e.into_response().status(), StatusCode::BAD_REQUEST);
    }
}
