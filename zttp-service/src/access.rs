//! The access log: one `info` event per response, target `zttp::access`.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Method, Uri, Version};

use crate::peer::PeerAddr;
use crate::{Body, Handler, Request};

/// A handler that logs each answered request at `info` (target
/// `zttp::access`): method, target, status, bytes (the body's declared
/// length; absent for a streamed body), duration until the handler answered,
/// peer and protocol. Costs nothing beyond one check when that level is off.
#[derive(Clone)]
pub(crate) struct AccessLog<H> {
    pub(crate) inner: H,
    pub(crate) peer: Option<PeerAddr>,
}

struct Entry {
    start: Instant,
    method: Method,
    uri: Uri,
    version: Version,
    peer: Option<PeerAddr>,
}

impl<H: Handler> Handler for AccessLog<H> {
    type Future = AccessLogFuture<H::Future>;

    fn call(&self, request: Request) -> Self::Future {
        let entry =
            tracing::enabled!(target: "zttp::access", tracing::Level::INFO).then(|| Entry {
                start: Instant::now(),
                method: request.method().clone(),
                uri: request.uri().clone(),
                version: request.version(),
                peer: self.peer,
            });
        AccessLogFuture {
            inner: self.inner.call(request),
            entry,
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of a logged request: the handler's, then the log event.
    pub(crate) struct AccessLogFuture<F> {
        #[pin]
        inner: F,
        entry: Option<Entry>,
    }
}

impl<F> Future for AccessLogFuture<F>
where
    F: Future<Output = http::Response<Body>>,
{
    type Output = http::Response<Body>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = match this.inner.poll(cx) {
            Poll::Ready(response) => response,
            Poll::Pending => return Poll::Pending,
        };
        if let Some(entry) = this.entry.take() {
            let bytes = http_body::Body::size_hint(response.body()).exact();
            let target = entry
                .uri
                .path_and_query()
                .map_or_else(|| entry.uri.to_string(), |p| p.as_str().to_owned());
            tracing::info!(
                target: "zttp::access",
                method = %entry.method,
                target = %target,
                status = response.status().as_u16(),
                bytes,
                duration_ms = entry.start.elapsed().as_secs_f64() * 1000.0,
                peer = entry.peer.map(tracing::field::display),
                protocol = ?entry.version,
                "response"
            );
        }
        Poll::Ready(response)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn each_response_logs_one_access_event() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        let handler = AccessLog {
            inner: |_req: Request| async { (http::StatusCode::CREATED, "made") },
            peer: Some(PeerAddr("127.0.0.1:4242".parse().unwrap())),
        };
        tracing::subscriber::with_default(subscriber, || {
            let req = http::Request::post("/items?x=1")
                .version(Version::HTTP_2)
                .body(Body::empty())
                .unwrap();
            let response = futures::executor::block_on(handler.call(req));
            assert_eq!(response.status(), 201);
        });
        let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert_eq!(log.lines().count(), 1, "{log}");
        for field in [
            " INFO zttp::access: response",
            "method=POST",
            "target=/items?x=1",
            "status=201",
            "bytes=4",
            "duration_ms=",
            "peer=127.0.0.1:4242",
            "protocol=HTTP/2.0",
        ] {
            assert!(log.contains(field), "{field} missing in {log}");
        }
    }

    #[test]
    fn nothing_is_captured_when_the_level_is_off() {
        let handler = AccessLog {
            inner: |_req: Request| async { "x" },
            peer: None,
        };
        let future = handler.call(Request::new(Body::empty()));
        assert!(future.entry.is_none());
    }
}
