//! [`Json`]: answer with a serialised value, or read a request body as one
//! (feature `json`, serde + serde_json).

use bytes::Bytes;
use http::{header, HeaderValue, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::body::BodyError;
use crate::{Body, IntoResponse, Request};

/// A JSON value: as a response, `value` serialised with
/// `Content-Type: application/json`; from a request, the body parsed.
///
/// ```
/// use zttp_service::{handler_fn, Handler, Json, JsonError};
///
/// #[derive(serde::Deserialize)]
/// struct Order { item: String, count: u32 }
///
/// let handler = handler_fn(|req| async move {
///     let Json(order): Json<Order> = Json::from_request(req).await?;
///     Ok::<_, JsonError>(Json(serde_json::json!({ "item": order.item, "total": order.count * 3 })))
/// });
/// # fn assert_handler(_: impl Handler) {}
/// # assert_handler(handler);
/// ```
///
/// A value that fails to serialise (a map with non-string keys, say) is
/// answered with an empty `500`, logged at `error`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Json<T>(pub T);

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> http::Response<Body> {
        match serde_json::to_vec(&self.0) {
            Ok(bytes) => {
                let mut response = http::Response::new(Body::from(bytes));
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                );
                response
            }
            Err(e) => {
                tracing::error!(error = %e, "response value failed to serialise; answering 500");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

impl<T: DeserializeOwned> Json<T> {
    /// Reads the whole request body (bounded by
    /// [`ServerConfig::max_body_size`](crate::ServerConfig::max_body_size)) and
    /// parses it. The `Content-Type` must be `application/json` or
    /// `application/*+json` (else `415`), the body valid JSON of type `T` (else
    /// `400`, or `422` when it is JSON of another shape).
    pub async fn from_request(request: Request) -> Result<Json<T>, JsonError> {
        if !is_json(request.headers().get(header::CONTENT_TYPE)) {
            return Err(JsonError::NotJson);
        }
        let bytes = request.into_body().to_bytes().await?;
        Json::from_bytes(&bytes)
    }

    /// Parses `bytes` (no `Content-Type` check).
    pub fn from_bytes(bytes: &[u8]) -> Result<Json<T>, JsonError> {
        serde_json::from_slice(bytes)
            .map(Json)
            .map_err(JsonError::Parse)
    }
}

fn is_json(content_type: Option<&HeaderValue>) -> bool {
    let Some(value) = content_type.and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json")
            || subtype.len() > 5 && subtype[subtype.len() - 5..].eq_ignore_ascii_case("+json"))
}

/// Why a request body could not be read as [`Json`]. As a response it answers
/// the matching status with the reason as a plain-text body.
#[derive(Debug)]
#[non_exhaustive]
pub enum JsonError {
    /// The request's `Content-Type` is not JSON: `415`.
    NotJson,
    /// The body could not be read (too large: `413`; broken: `400`).
    Body(BodyError),
    /// The body is not JSON of the expected type: `400` for a syntax error or
    /// a truncated document, `422` for valid JSON of another shape.
    Parse(serde_json::Error),
}

impl JsonError {
    /// The status this error answers.
    pub fn status(&self) -> StatusCode {
        match self {
            JsonError::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            JsonError::Body(e) => e
                .status()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            JsonError::Parse(e) if e.is_data() => StatusCode::UNPROCESSABLE_ENTITY,
            JsonError::Parse(_) => StatusCode::BAD_REQUEST,
        }
    }
}

impl From<BodyError> for JsonError {
    fn from(e: BodyError) -> Self {
        JsonError::Body(e)
    }
}

impl std::fmt::Display for JsonError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JsonError::NotJson => f.write_str("expected Content-Type: application/json"),
            JsonError::Body(e) => write!(f, "request body: {e}"),
            JsonError::Parse(e) => write!(f, "invalid JSON: {e}"),
        }
    }
}

impl std::error::Error for JsonError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            JsonError::NotJson => None,
            JsonError::Body(e) => Some(e),
            JsonError::Parse(e) => Some(e),
        }
    }
}

impl IntoResponse for JsonError {
    fn into_response(self) -> http::Response<Body> {
        (self.status(), Bytes::from(self.to_string())).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        futures::executor::block_on(f)
    }

    fn request(content_type: &str, body: &'static str) -> Request {
        http::Request::builder()
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap()
    }

    #[derive(serde::Deserialize, serde::Serialize, Debug, PartialEq)]
    struct Point {
        x: i32,
        y: i32,
    }

    #[test]
    fn json_response_has_content_type_and_serialised_body() {
        let response = Json(Point { x: 1, y: -2 }).into_response();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "application/json");
        let body = block_on(response.into_body().to_bytes()).unwrap();
        assert_eq!(&body[..], br#"{"x":1,"y":-2}"#);
    }

    #[test]
    fn unserialisable_value_answers_500() {
        let mut map = std::collections::HashMap::new();
        map.insert(vec![1u8], 2);
        let response = Json(map).into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn reads_a_json_body() {
        let req = request("application/json; charset=utf-8", r#"{"x":3,"y":4}"#);
        let Json(p): Json<Point> = block_on(Json::from_request(req)).unwrap();
        assert_eq!(p, Point { x: 3, y: 4 });
        let req = request("application/problem+json", r#"{"x":0,"y":0}"#);
        assert!(block_on(Json::<Point>::from_request(req)).is_ok());
    }

    #[test]
    fn rejections_carry_their_status() {
        let status = |ct, body| {
            block_on(Json::<Point>::from_request(request(ct, body)))
                .unwrap_err()
                .into_response()
                .status()
        };
        assert_eq!(status("text/plain", r#"{"x":3,"y":4}"#), 415);
        assert_eq!(status("application/jsonx", r#"{"x":3,"y":4}"#), 415);
        assert_eq!(status("application/json", r#"{"x":3,"#), 400);
        assert_eq!(status("application/json", r#"{"x":"a","y":4}"#), 422);
    }
}
