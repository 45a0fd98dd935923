//! [`Handler`]: what answers requests, and [`handler_fn`] to write one without annotations.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::body::Body;
use crate::{IntoResponse, Request};

/// Answers requests. Implemented for every async function or closure
/// `Fn(Request) -> impl Future<Output = impl IntoResponse>`.
///
/// ```
/// use zttp_service::{Handler, Request};
/// fn assert_handler(_: impl Handler) {}
/// assert_handler(|req: Request| async move { format!("you asked for {}", req.uri()) });
///
/// // An `async fn` needs nothing more: its signature names the types.
/// async fn hello(req: Request) -> String {
///     format!("hello from {}", req.uri().path())
/// }
/// assert_handler(hello);
/// ```
///
/// # Closures without a type annotation
///
/// Rust infers a closure's parameter types only from an `Fn(..)` bound on the
/// very parameter it is passed to. `serve(listener, handler)` takes any
/// `impl Handler` (a closure, a `TowerHandler`, your own
/// type), so a closure written `|req| async move { req.uri() }` fails with
/// E0282 ("type annotations needed"). Either annotate the parameter
/// (`|req: Request|`) or wrap the closure in [`handler_fn`], whose `Fn(Request)`
/// bound tells the compiler the type:
///
/// ```
/// use zttp_service::{handler_fn, Handler};
/// fn assert_handler(_: impl Handler) {}
/// assert_handler(handler_fn(|req| async move { format!("you asked for {}", req.uri()) }));
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

/// Returns the closure unchanged, so the compiler learns that its parameter is
/// a [`Request`]: `handler_fn(|req| async move { .. })` needs no annotation
/// (see [Closures without a type annotation](Handler#closures-without-a-type-annotation)).
pub fn handler_fn<F, Fut>(f: F) -> F
where
    F: Fn(Request) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: IntoResponse,
{
    f
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

#[cfg(test)]
mod tests {
    use super::*;
    use http::StatusCode;

    #[test]
    fn closures_and_shortcuts_are_handlers() {
        let h = |_req: Request| async { (StatusCode::CREATED, "made") };
        let resp = futures::executor::block_on(Handler::call(&h, Request::new(Body::empty())));
        assert_eq!(resp.status(), StatusCode::CREATED);
        let h = |_req: Request| async { http::Response::new(String::from("x")) };
        let resp = futures::executor::block_on(Handler::call(&h, Request::new(Body::empty())));
        assert_eq!(http_body::Body::size_hint(resp.body()).exact(), Some(1));
    }

    #[test]
    fn handler_fn_closures_need_no_parameter_annotation() {
        let h = handler_fn(|req| async move { format!("path {}", req.uri().path()) });
        let req = http::Request::get("/a/b").body(Body::empty()).unwrap();
        let resp = futures::executor::block_on(Handler::call(&h, req));
        let body = futures::executor::block_on(resp.into_body().to_bytes()).unwrap();
        assert_eq!(body, "path /a/b");
    }
}
