//! [`TowerHandler`]: serve a `tower::Service` (an axum `Router`, ...) unchanged.

use std::future::{poll_fn, Future};
use std::pin::Pin;

use bytes::Bytes;
use http::StatusCode;
use tower_service::Service;

use crate::body::BoxError;
use crate::{Body, Handler, IntoResponse, Request};

/// Adapts a `tower::Service<http::Request<Body>>` into a [`Handler`].
///
/// The service is cloned per request and driven to readiness before each call.
/// A service error becomes a `500`.
///
/// ```
/// # #[cfg(feature = "tower")] {
/// use zttp_service::{TowerHandler, Handler};
/// fn assert_handler(_: impl Handler) {}
/// # #[derive(Clone)] struct MyService;
/// # impl tower_service::Service<zttp_service::Request> for MyService {
/// #     type Response = http::Response<zttp_service::Body>;
/// #     type Error = std::convert::Infallible;
/// #     type Future = std::future::Ready<Result<Self::Response, Self::Error>>;
/// #     fn poll_ready(&mut self, _: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Self::Error>> { std::task::Poll::Ready(Ok(())) }
/// #     fn call(&mut self, _: zttp_service::Request) -> Self::Future { std::future::ready(Ok(http::Response::new(zttp_service::Body::empty()))) }
/// # }
/// assert_handler(TowerHandler(MyService)); // e.g. an axum::Router
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct TowerHandler<S>(pub S);

impl<S, B> Handler for TowerHandler<S>
where
    S: Service<Request, Response = http::Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Future = Pin<Box<dyn Future<Output = http::Response<Body>> + Send + 'static>>;

    fn call(&self, request: Request) -> Self::Future {
        let mut service = self.0.clone();
        Box::pin(async move {
            let ready: Result<(), BoxError> = poll_fn(|cx| service.poll_ready(cx))
                .await
                .map_err(Into::into);
            let result = match ready {
                Ok(()) => service.call(request).await.map_err(Into::into),
                Err(e) => Err(e),
            };
            match result {
                Ok(response) => response.into_response(),
                Err(e) => {
                    tracing::error!(error = %e, "service failed; answering 500");
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
            }
        })
    }
}
