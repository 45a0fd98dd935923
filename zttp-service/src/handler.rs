//! [`Handler`]: what answers requests, and [`IntoResponse`]: what it may return.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::StatusCode;

use crate::body::{Body, BoxError};
use crate::Request;

/// Answers requests. Implemented for every async function or closure
/// `Fn(Request) -> impl Future<Output = impl IntoResponse>`.
///
/// ```
/// use zttp_service::{Handler, Request};
/// fn assert_handler(_: impl Handler) {}
/// assert_handler(|req: Request| async move { format!("you asked for {}", req.uri()) });
/// ```
pub trait Handler: Clone + Send + Sync + 'static {
    /// The future that produces the response.
    type Future: Future<Output = http::Response<Body>> + Send + 'static;

    /// Starts answering `request`.
    fn call(&self, request: Request) -> Self::Future;
}

impl<F, Fut> Handler for F
where
    F: Fn(Request) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoResponse,
{
    type Future = IntoResponseFuture<Fut>;

    fn call(&self, request: Request) -> Self::Future {
        IntoResponseFuture {
            inner: self(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// Future of a closure handler: the closure's future, converted with [`IntoResponse`].
    #[derive(Debug)]
    pub struct IntoResponseFuture<F> {
        #[pin]
        inner: F,
    }
}

impl<F> Future for IntoResponseFuture<F>
where
    F: Future,
    F::Output: IntoResponse,
{
    type Output = http::Response<Body>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project()
            .inner
            .poll(cx)
            .map(IntoResponse::into_response)
    }
}

/// Anything a handler may answer with.
///
/// `http::Response<B>` for any body `B` of [`Bytes`] (a [`Body`], `String`,
/// `http_body_util::Full`, a stream...), plus shortcuts: a `String`, `&'static str`,
/// `Bytes` or `Vec<u8>` is a `200` with that body, a [`StatusCode`] is that status
/// with an empty body, and `(StatusCode, body)` both.
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
body_into_response!(Body, String, &'static str, Bytes, Vec<u8>);

impl<T: Into<Body>> IntoResponse for (StatusCode, T) {
    fn into_response(self) -> http::Response<Body> {
        let mut response = http::Response::new(self.1.into());
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closures_and_shortcuts_are_handlers() {
        let h = |_req: Request| async { (StatusCode::CREATED, "made") };
        let resp = futures::executor::block_on(Handler::call(&h, Request::new(Body::empty())));
        assert_eq!(resp.status(), StatusCode::CREATED);
        let h = |_req: Request| async { http::Response::new(String::from("x")) };
        let resp = futures::executor::block_on(Handler::call(&h, Request::new(Body::empty())));
        assert_eq!(http_body::Body::size_hint(resp.body()).exact(), Some(1));
    }
}
