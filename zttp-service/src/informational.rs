//! [`Informational`]: a handler sends `1xx` responses (e.g. `103 Early Hints`)
//! before its final one. Opt-in: requests carry the handle only on a server
//! whose [`ServerConfig::informational_responses`](crate::ServerConfig::informational_responses)
//! is on.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::Context;

use futures::task::AtomicWaker;
use http::{HeaderMap, StatusCode};
use zttp_core::{Connection, LocalProtocolError, StreamId};

/// Sends informational (`1xx`) responses ahead of the final response. With
/// [`ServerConfig::informational_responses`](crate::ServerConfig::informational_responses)
/// on (it is off by default), every request carries one in its extensions, on
/// HTTP/1.1 and HTTP/2 alike; with it off, there is none:
///
/// ```
/// use http::{header, HeaderMap, HeaderValue, StatusCode};
/// use zttp_service::{Informational, Request, ServerConfig};
///
/// // The server that runs `page` opts in.
/// let config = ServerConfig::default().informational_responses(true);
///
/// async fn page(req: Request) -> &'static str {
///     if let Some(interim) = req.extensions().get::<Informational>() {
///         let mut hints = HeaderMap::new();
///         hints.insert(header::LINK, HeaderValue::from_static("</style.css>; rel=preload; as=style"));
///         // Fails for an HTTP/1.0 client, which must not get 1xx responses.
///         let _ = interim.send(StatusCode::EARLY_HINTS, hints);
///     }
///     "<!doctype html><link rel=stylesheet href=/style.css>"
/// }
/// # fn assert_handler(_: impl zttp_service::Handler) {}
/// # assert_handler(page);
/// ```
///
/// Each `send` is queued and goes out, in order, before the final response
/// head; one sent after the final response has started is dropped (logged at
/// debug level). `101 Switching Protocols` is not sent this way (see
/// [`upgrade`](crate::upgrade)), nor is `100 Continue`, which the server
/// sends by itself when the handler first reads a body the client is waiting
/// to send.
#[derive(Clone)]
pub struct Informational {
    shared: Arc<Shared>,
    key: u64,
    http10: bool,
}

impl fmt::Debug for Informational {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Informational")
            .field("http10", &self.http10)
            .finish_non_exhaustive()
    }
}

/// Why [`Informational::send`] refused a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum InformationalError {
    /// The status is not `1xx`, or is `100` or `101` (which the server sends itself).
    NotInformational,
    /// The client spoke HTTP/1.0, which has no informational responses (RFC 9110 §15.2).
    Http10Client,
    /// The connection is gone.
    Closed,
}

impl fmt::Display for InformationalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InformationalError::NotInformational => {
                "only 1xx statuses other than 100 and 101 can be sent as informational responses"
            }
            InformationalError::Http10Client => "an HTTP/1.0 client gets no 1xx responses",
            InformationalError::Closed => "the connection is closed",
        })
    }
}

impl std::error::Error for InformationalError {}

impl Informational {
    /// Queues `status` with `headers` to go out before the final response.
    pub fn send(&self, status: StatusCode, headers: HeaderMap) -> Result<(), InformationalError> {
        let code = status.as_u16();
        if !(102..200).contains(&code) {
            return Err(InformationalError::NotInformational);
        }
        if self.http10 {
            return Err(InformationalError::Http10Client);
        }
        if self.shared.closed.load(Ordering::Acquire) {
            return Err(InformationalError::Closed);
        }
        let mut queue = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
        queue.push(Pending {
            key: self.key,
            status: code,
            headers,
        });
        self.shared.pending.store(true, Ordering::Release);
        drop(queue);
        self.shared.waker.wake();
        Ok(())
    }
}

/// A connection's queue of informational responses, filled by handlers.
#[derive(Default)]
struct Shared {
    queue: Mutex<Vec<Pending>>,
    /// Something is queued (checked without the lock on every turn).
    pending: AtomicBool,
    waker: AtomicWaker,
    closed: AtomicBool,
}

struct Pending {
    key: u64,
    status: u16,
    headers: HeaderMap,
}

/// The drive loop's end of a connection's informational responses.
#[derive(Default)]
pub(crate) struct Interim {
    shared: Arc<Shared>,
    taken: Vec<Pending>,
}

impl Drop for Interim {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
    }
}

impl Interim {
    /// The handle for the request known to the dispatcher as `key` (the
    /// HTTP/2 stream id, or the HTTP/1.1 request number).
    pub(crate) fn handle(&self, key: u64, version: http::Version) -> Informational {
        Informational {
            shared: self.shared.clone(),
            key,
            http10: version <= http::Version::HTTP_10,
        }
    }

    /// Sends what handlers queued, in order: each to the stream `target`
    /// maps its key to, if that stream still awaits its final response
    /// (else it is dropped). With `cx`, registers the task to be woken by
    /// the next `send` (without, a later `send` waits for the next flush).
    /// True if anything went out.
    pub(crate) fn flush(
        &mut self,
        core: &mut Connection,
        cx: Option<&mut Context<'_>>,
        mut target: impl FnMut(u64) -> Option<StreamId>,
    ) -> bool {
        if let Some(cx) = cx {
            self.shared.waker.register(cx.waker());
        }
        if !self.shared.pending.swap(false, Ordering::AcqRel) {
            return false;
        }
        {
            let mut queue = self.shared.queue.lock().unwrap_or_else(|e| e.into_inner());
            std::mem::swap(&mut self.taken, &mut *queue);
        }
        let mut sent = false;
        for pending in self.taken.drain(..) {
            let Some(stream_id) = target(pending.key) else {
                tracing::debug!(
                    status = pending.status,
                    "informational response after the final one; dropped"
                );
                continue;
            };
            match send(core, stream_id, pending.status, &pending.headers) {
                Ok(()) => sent = true,
                Err(e) => {
                    tracing::debug!(status = pending.status, error = %e, "informational response not sent")
                }
            }
        }
        sent
    }
}

/// Frames one informational response on `stream_id` (`StreamId::ZERO` on HTTP/1.1).
fn send(
    core: &mut Connection,
    stream_id: StreamId,
    status: u16,
    headers: &HeaderMap,
) -> Result<(), LocalProtocolError> {
    let fields = headers
        .iter()
        .map(|(name, value)| (name.as_str().as_bytes(), value.as_bytes()));
    core.send_informational(stream_id, status, fields)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_1xx_other_than_100_and_101_can_be_sent() {
        let interim = Interim::default();
        let handle = interim.handle(1, http::Version::HTTP_11);
        for status in [100, 101, 200, 404] {
            let status = StatusCode::from_u16(status).unwrap();
            assert_eq!(
                handle.send(status, HeaderMap::new()),
                Err(InformationalError::NotInformational)
            );
        }
        assert_eq!(
            handle.send(StatusCode::EARLY_HINTS, HeaderMap::new()),
            Ok(())
        );
    }

    #[test]
    fn http10_clients_get_no_informational_responses() {
        let interim = Interim::default();
        let handle = interim.handle(1, http::Version::HTTP_10);
        assert_eq!(
            handle.send(StatusCode::EARLY_HINTS, HeaderMap::new()),
            Err(InformationalError::Http10Client)
        );
    }

    #[test]
    fn a_closed_connection_refuses_further_sends() {
        let interim = Interim::default();
        let handle = interim.handle(1, http::Version::HTTP_2);
        drop(interim);
        assert_eq!(
            handle.send(StatusCode::EARLY_HINTS, HeaderMap::new()),
            Err(InformationalError::Closed)
        );
    }
}
