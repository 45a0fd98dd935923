//! The access log: one `info` event per response, target `zttp::access`.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::{Method, StatusCode, Uri, Version};
use http_body::{Body as _, Frame, SizeHint};

use crate::peer::PeerAddr;
use crate::{Body, BodyError, Request};

/// What the access log records of a request when it starts.
///
/// The log has one `info` event per answered request (target
/// `zttp::access`), written once the response body has been handed to the
/// connection whole, or was cut short: method, target, status, bytes (of the
/// body, as sent), duration from the request to the body's end, peer,
/// protocol, and `complete = false` when the body did not end (the client went
/// away, the body failed). Costs nothing beyond one check when that level is off.
pub(crate) struct Entry {
    start: Instant,
    method: Method,
    uri: Uri,
    version: Version,
    peer: Option<PeerAddr>,
}

impl Entry {
    /// The entry for `request`, or `None` when the access log's level is off.
    pub(crate) fn capture(request: &Request, peer: Option<PeerAddr>) -> Option<Entry> {
        tracing::enabled!(target: "zttp::access", tracing::Level::INFO).then(|| Entry {
            start: Instant::now(),
            method: request.method().clone(),
            uri: request.uri().clone(),
            version: request.version(),
            peer,
        })
    }
}

/// The handler's `response`, whose body writes `entry`'s event when it ends.
pub(crate) fn logged(response: http::Response<Body>, entry: Entry) -> http::Response<Body> {
    let status = response.status();
    response.map(|body| {
        Body::new(LoggedBody {
            inner: body,
            pending: Some((entry, status)),
            sent: 0,
        })
    })
}

/// A response body that writes the access-log event when it ends, fails or
/// is dropped, with the bytes it yielded. Framing is the inner body's: its
/// length and end are passed through unchanged.
struct LoggedBody {
    inner: Body,
    pending: Option<(Entry, StatusCode)>,
    sent: u64,
}

impl LoggedBody {
    fn log(&mut self, complete: bool) {
        let Some((entry, status)) = self.pending.take() else {
            return;
        };
        let target = entry
            .uri
            .path_and_query()
            .map_or_else(|| entry.uri.to_string(), |p| p.as_str().to_owned());
        tracing::info!(
            target: "zttp::access",
            method = %entry.method,
            target = %target,
            status = status.as_u16(),
            bytes = self.sent,
            duration_ms = entry.start.elapsed().as_secs_f64() * 1000.0,
            peer = entry.peer.map(tracing::field::display),
            protocol = ?entry.version,
            complete,
            "response"
        );
    }
}

impl http_body::Body for LoggedBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        let frame = std::task::ready!(Pin::new(&mut this.inner).poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    this.sent += data.len() as u64;
                }
                if this.inner.is_end_stream() {
                    this.log(true);
                }
            }
            Some(Err(_)) => this.log(false),
            None => this.log(true),
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for LoggedBody {
    /// Not polled to its end: whole only if nothing was left to send (an
    /// empty body, or an answer that has none: HEAD, 204, 304).
    fn drop(&mut self) {
        let complete = self.inner.is_end_stream()
            || self.pending.as_ref().is_some_and(|(entry, status)| {
                entry.method == Method::HEAD
                    || *status == StatusCode::NO_CONTENT
                    || *status == StatusCode::NOT_MODIFIED
            });
        self.log(complete);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Handler;
    use std::sync::{Arc, Mutex};

    /// `handler`'s answer to `request`, under the access log.
    fn logged_call(
        handler: impl Handler,
        request: Request,
        peer: Option<PeerAddr>,
    ) -> http::Response<Body> {
        let entry = Entry::capture(&request, peer);
        let response = futures::executor::block_on(handler.call(request));
        match entry {
            Some(entry) => logged(response, entry),
            None => response,
        }
    }

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

    impl Captured {
        fn text(&self) -> String {
            String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
        }
    }

    /// Runs `scenario` with a subscriber that captures `info` events (also
    /// handed to the scenario); returns them.
    fn captured_log(scenario: impl FnOnce(&Captured)) -> String {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .finish();
        tracing::subscriber::with_default(subscriber, || scenario(&captured));
        captured.text()
    }

    #[test]
    fn each_response_logs_one_access_event_when_its_body_ends() {
        let handler = |_req: Request| async { (http::StatusCode::CREATED, "made") };
        let peer = Some(PeerAddr("127.0.0.1:4242".parse().unwrap()));
        let log = captured_log(|_| {
            let req = http::Request::post("/items?x=1")
                .version(Version::HTTP_2)
                .body(Body::empty())
                .unwrap();
            let response = logged_call(handler, req, peer);
            assert_eq!(response.status(), 201);
            assert_eq!(http_body::Body::size_hint(response.body()).exact(), Some(4));
            let body = futures::executor::block_on(response.into_body().to_bytes());
            assert_eq!(body.unwrap(), "made");
        });
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
            "complete=true",
        ] {
            assert!(log.contains(field), "{field} missing in {log}");
        }
    }

    #[test]
    fn a_body_cut_short_is_logged_incomplete_with_the_bytes_sent() {
        let handler = |_req: Request| async {
            let chunks = ["abc", "defg", "never sent"].map(|c| Ok::<_, BodyError>(Bytes::from(c)));
            Body::from_stream(futures::stream::iter(chunks))
        };
        let log = captured_log(|captured| {
            let response = logged_call(handler, Request::new(Body::empty()), None);
            let mut body = response.into_body();
            for _ in 0..2 {
                let frame = futures::executor::block_on(std::future::poll_fn(|cx| {
                    Pin::new(&mut body).poll_frame(cx)
                }));
                assert!(frame.is_some());
            }
            assert_eq!(captured.text(), "", "logged before the body ended");
            drop(body);
        });
        assert_eq!(log.lines().count(), 1, "{log}");
        assert!(log.contains("bytes=7"), "{log}");
        assert!(log.contains("complete=false"), "{log}");
    }

    #[test]
    fn a_head_answer_is_complete_without_its_body_being_sent() {
        let handler = |_req: Request| async { "not sent to HEAD" };
        let log = captured_log(|_| {
            let req = http::Request::head("/").body(Body::empty()).unwrap();
            drop(logged_call(handler, req, None));
        });
        assert!(log.contains("bytes=0"), "{log}");
        assert!(log.contains("complete=true"), "{log}");
    }

    #[test]
    fn nothing_is_captured_when_the_level_is_off() {
        assert!(Entry::capture(&Request::new(Body::empty()), None).is_none());
    }
}
