//! [`TowerHandler`]: serve a `tower::Service` (an axum `Router`, ...) unchanged.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use http::StatusCode;
use tower_service::Service;

use crate::body::BoxError;
use crate::{Body, Handler, IntoResponse, Request};

/// Adapts a `tower::Service<http::Request<Body>>` into a [`Handler`].
///
/// The service is cloned per request and driven to readiness before each call
/// (a service that is ready at once is called within [`Handler::call`]).
/// A service error becomes a `500`. With the `axum` feature, an axum
/// response body becomes a [`Body`] as it is (it is boxed already), not boxed
/// a second time.
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
    type Future = TowerFuture<S>;

    fn call(&self, request: Request) -> Self::Future {
        let mut service = self.0.clone();
        // Most services (an axum `Router`) are always ready: asked once here,
        // such a service is called at once, and its future is the only state
        // (the request is not moved into a waiting state, then out again). A
        // service that is not ready is asked again, with the task's waker, by
        // the future's first poll.
        let mut cx = Context::from_waker(Waker::noop());
        let state = match service.poll_ready(&mut cx) {
            Poll::Ready(Ok(())) => State::Calling {
                future: service.call(request),
            },
            Poll::Pending => State::Ready {
                service,
                request: Some(request),
            },
            Poll::Ready(Err(e)) => State::Failed {
                error: Some(e.into()),
            },
        };
        TowerFuture { state }
    }
}

pin_project_lite::pin_project! {
    /// The future of a [`TowerHandler`] call: drives the service to readiness,
    /// calls it and converts its response (or error) into a response. A named
    /// state machine rather than a boxed `async` block: no allocation per request.
    pub struct TowerFuture<S>
    where
        S: Service<Request>,
    {
        #[pin]
        state: State<S>,
    }
}

pin_project_lite::pin_project! {
    #[project = StateProj]
    enum State<S>
    where
        S: Service<Request>,
    {
        /// Waiting for the service to be ready for `request`.
        Ready { service: S, request: Option<Request> },
        /// The service is answering.
        Calling { #[pin] future: S::Future },
        /// The service failed before it was called.
        Failed { error: Option<BoxError> },
        /// The response was handed out.
        Done,
    }
}

impl<S, B> Future for TowerFuture<S>
where
    S: Service<Request, Response = http::Response<B>>,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Output = http::Response<Body>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut state = self.project().state;
        loop {
            let result = match state.as_mut().project() {
                StateProj::Ready { service, request } => match service.poll_ready(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Ok(())) => {
                        let request = request
                            .take()
                            .expect("a TowerFuture calls its service once");
                        let future = service.call(request);
                        state.set(State::Calling { future });
                        continue;
                    }
                    Poll::Ready(Err(e)) => Err(e.into()),
                },
                StateProj::Calling { future } => match future.poll(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(result) => result.map_err(Into::into),
                },
                StateProj::Failed { error } => {
                    Err(error.take().expect("a TowerFuture answers once"))
                }
                StateProj::Done => panic!("TowerFuture polled after it completed"),
            };
            state.set(State::Done);
            return Poll::Ready(match result {
                Ok(response) => response.into_response(),
                Err(e) => {
                    tracing::error!(error = %e, "service failed; answering 500");
                    StatusCode::INTERNAL_SERVER_ERROR.into_response()
                }
            });
        }
    }
}

impl<S: Service<Request>> fmt::Debug for TowerFuture<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TowerFuture").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;

    /// A service that is not ready on its first poll, then answers with the
    /// request's path, or fails on `/fail`.
    #[derive(Clone, Default)]
    struct Echo {
        polled: bool,
    }

    impl Service<Request> for Echo {
        type Response = http::Response<Body>;
        type Error = std::io::Error;
        type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            if !std::mem::replace(&mut self.polled, true) {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: Request) -> Self::Future {
            std::future::ready(match request.uri().path() {
                "/fail" => Err(std::io::Error::other("refused")),
                path => Ok(http::Response::new(Body::from(path.to_owned()))),
            })
        }
    }

    fn get(path: &str) -> http::Response<Body> {
        let request = http::Request::get(path).body(Body::empty()).unwrap();
        block_on(TowerHandler(Echo::default()).call(request))
    }

    #[test]
    fn waits_for_readiness_then_answers_with_the_service_response() {
        let response = get("/a/b");
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(block_on(response.into_body().to_bytes()).unwrap(), "/a/b");
    }

    #[test]
    fn a_service_error_answers_500() {
        assert_eq!(get("/fail").status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    /// Always ready (or never: it fails readiness); counts its calls.
    #[derive(Clone)]
    struct Counted {
        calls: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        refuse: bool,
    }

    impl Service<Request> for Counted {
        type Response = http::Response<Body>;
        type Error = std::io::Error;
        type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            match self.refuse {
                true => Poll::Ready(Err(std::io::Error::other("overloaded"))),
                false => Poll::Ready(Ok(())),
            }
        }

        fn call(&mut self, _: Request) -> Self::Future {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            std::future::ready(Ok(http::Response::new(Body::from("called"))))
        }
    }

    #[test]
    fn a_ready_service_is_called_by_the_handler_call_and_answers_when_polled() {
        let service = Counted {
            calls: Default::default(),
            refuse: false,
        };
        let future = TowerHandler(service.clone()).call(Request::new(Body::empty()));
        assert_eq!(service.calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        let response = block_on(future);
        assert_eq!(block_on(response.into_body().to_bytes()).unwrap(), "called");
        assert_eq!(service.calls.load(std::sync::atomic::Ordering::SeqCst), 1);
    }

    /// Answers with an axum body (what an axum `Router` answers with).
    #[cfg(feature = "axum")]
    #[derive(Clone)]
    struct AxumBodied;

    #[cfg(feature = "axum")]
    impl Service<Request> for AxumBodied {
        type Response = http::Response<axum_core::body::Body>;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

        fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
            Poll::Ready(Ok(()))
        }

        fn call(&mut self, request: Request) -> Self::Future {
            let body = match request.uri().path() {
                "/stream" => axum_core::body::Body::from_stream(futures::stream::iter([
                    Ok::<_, std::io::Error>(Bytes::from("a")),
                    Err(std::io::Error::other("broken")),
                ])),
                path => axum_core::body::Body::from(path.to_owned()),
            };
            std::future::ready(Ok(http::Response::new(body)))
        }
    }

    #[cfg(feature = "axum")]
    #[test]
    fn an_axum_body_is_taken_as_it_is_and_answers_the_same() {
        use http_body::Body as _;
        let call = |path: &str| {
            let request = http::Request::get(path).body(Body::empty()).unwrap();
            block_on(TowerHandler(AxumBodied).call(request)).into_body()
        };
        let body = call("/hello");
        assert_eq!(format!("{body:?}"), r#"Body("axum")"#);
        assert_eq!(body.size_hint().exact(), Some(6));
        assert!(!body.is_end_stream());
        assert_eq!(block_on(body.to_bytes()).unwrap(), "/hello");
        let error = block_on(call("/stream").to_bytes()).unwrap_err();
        assert!(error.to_string().contains("broken"), "{error}");
    }

    #[test]
    fn a_readiness_error_answers_500_without_calling_the_service() {
        let service = Counted {
            calls: Default::default(),
            refuse: true,
        };
        let response = block_on(TowerHandler(service.clone()).call(Request::new(Body::empty())));
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(service.calls.load(std::sync::atomic::Ordering::SeqCst), 0);
    }
}
