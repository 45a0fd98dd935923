//! The handler side of the gateway: the future that forwards one request and the response
//! body stream it returns. They talk to the IO thread through [`Command`]s and [`Exchange`].

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::Stream;
use http::{header, HeaderValue, StatusCode};
use zttp_service::{Body, PeerAddr, Request, Response};

use super::exchange::{Exchange, Outbox};
use super::gateway::{Owner, Shared};
use super::protocol::{self as proto, ACK_EVERY};

/// Body chunks larger than this are split (the protocol keeps chunks ≤ 64 KiB).
const MAX_CHUNK: usize = 64 << 10;

/// Work for the gateway's IO thread.
pub(crate) enum Command {
    /// A new request: its exchange and its `HEAD` message (one frame).
    Start(Arc<Exchange>, Vec<u8>),
    /// A chunk of the request body.
    Body(u64, Bytes),
    /// The request body is complete.
    End(u64),
    /// The client took this many response-body bytes.
    Ack(u64, u64),
    /// The client side is gone or done: forget the exchange (and tell its worker).
    Cancel(u64),
    /// Move the gateway's socket onto this STREAM IO thread ([`Gateway::share_io_thread`]).
    ///
    /// [`Gateway::share_io_thread`]: super::Gateway::share_io_thread
    MoveTo(Arc<crate::peer::IoShared>),
}

/// Tells the IO thread to forget an exchange unless it already ended on its own.
struct CancelOnDrop {
    owner: Arc<Owner>,
    exchange: Arc<Exchange>,
}

impl CancelOnDrop {
    fn outbox(&self) -> &Outbox<Command> {
        &self.owner.0.outbox
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if !self.exchange.is_ended() {
            self.outbox().push(Command::Cancel(self.exchange.id));
        }
    }
}

type Forwarding = Pin<Box<dyn Future<Output = ()> + Send>>;

fn expects_continue(headers: &http::HeaderMap) -> bool {
    headers
        .get(header::EXPECT)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// Sends one request's head to the gateway's IO thread (and starts its body); the returned
/// future resolves to the worker's response.
pub(crate) fn forward(owner: Arc<Owner>, request: Request) -> Forward {
    use http_body::Body as _;
    let shared = owner.0.clone();
    let id = shared.next_id.fetch_add(1, Ordering::Relaxed);
    let (parts, body) = request.into_parts();
    let has_body = !body.is_end_stream();
    let wants_continue = has_body && expects_continue(&parts.headers);
    let mut flags = 0;
    if wants_continue {
        flags |= proto::FLAG_CONTINUE;
    }
    if !has_body {
        flags |= proto::FLAG_NO_BODY;
    }
    let exchange = Arc::new(Exchange::new(id, !wants_continue));
    let client = parts.extensions.get::<PeerAddr>().map(|p| p.0.ip());
    let head = proto::request_head_frame(id, &parts, flags, client);
    shared.outbox.push(Command::Start(exchange.clone(), head));
    let sending: Option<Forwarding> =
        has_body.then(|| Box::pin(send_body(shared, exchange.clone(), body)) as Forwarding);
    Forward {
        guard: Some(CancelOnDrop { owner, exchange }),
        sending,
    }
}

/// The future of [`GatewayHandler`](super::GatewayHandler)'s `call`: the worker's response to
/// one request (or the gateway's own `502`/`503`/`504`). Dropping it before the response
/// is complete cancels the request at the worker.
pub struct Forward {
    /// `None` once the response was returned (its body stream took it).
    guard: Option<CancelOnDrop>,
    /// The request body still being sent.
    sending: Option<Forwarding>,
}

impl std::fmt::Debug for Forward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Forward").finish_non_exhaustive()
    }
}

impl Future for Forward {
    type Output = Response;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        let this = self.get_mut();
        let Some(guard) = this.guard.take() else {
            // Polled again after it answered: a caller's bug, not the worker's.
            return Poll::Ready(error_response(StatusCode::INTERNAL_SERVER_ERROR));
        };
        poll_forwarding(&mut this.sending, cx);
        let head = match guard.exchange.poll_head(cx) {
            Poll::Pending => {
                this.guard = Some(guard);
                return Poll::Pending;
            }
            Poll::Ready(Ok(head)) => head,
            // Dropping the guard cancels at the worker whatever is not over yet.
            Poll::Ready(Err(status)) => return Poll::Ready(error_response(status)),
        };
        let exchange = &guard.exchange;
        let mut response = http::Response::new(Body::empty());
        *response.status_mut() = head.status;
        *response.headers_mut() = head.headers;
        // Complete already (a `RESPONSE`; the guard has nothing to cancel): a body of known
        // length, which the connection frames itself and writes together with the head.
        let whole = match this.sending {
            None => exchange.take_whole_body(),
            Some(_) => None,
        };
        if let Some(len) = head.body_len {
            let implied = whole.as_ref().is_some_and(|b| b.len() as u64 == len);
            if !implied
                && !response.headers().contains_key(header::CONTENT_LENGTH)
                && !response.headers().contains_key(header::TRANSFER_ENCODING)
            {
                response
                    .headers_mut()
                    .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
            }
        }
        if let Some(whole) = whole {
            *response.body_mut() = Body::from(whole);
            return Poll::Ready(response);
        }
        *response.body_mut() = Body::from_stream(ResponseBody {
            guard,
            sending: this.sending.take(),
            unacked: 0,
        });
        Poll::Ready(response)
    }
}

fn poll_forwarding(sending: &mut Option<Forwarding>, cx: &mut Context<'_>) {
    if let Some(f) = sending {
        if f.as_mut().poll(cx).is_ready() {
            *sending = None;
        }
    }
}

/// What the gateway answers itself when no worker's response can be had.
fn error_response(status: StatusCode) -> Response {
    let text = match status {
        StatusCode::SERVICE_UNAVAILABLE => "no worker available\n",
        StatusCode::GATEWAY_TIMEOUT => "the worker did not answer in time\n",
        StatusCode::BAD_GATEWAY => "the worker failed\n",
        _ => "",
    };
    let mut response = http::Response::new(Body::from(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    if status == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    response
}

/// Streams the request body to the worker under its flow-control window. The client's body
/// is not polled before the window opens, so a `100-continue` client gets its `100` only when
/// the worker asks for the body.
async fn send_body(shared: Arc<Shared>, exchange: Arc<Exchange>, mut body: Body) {
    use http_body::Body as _;
    let id = exchange.id;
    loop {
        if !poll_fn(|cx| exchange.poll_window(cx)).await {
            return;
        }
        let frame = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await;
        match frame {
            None => break,
            Some(Ok(frame)) => {
                let Ok(mut chunk) = frame.into_data() else {
                    continue;
                };
                while !chunk.is_empty() {
                    let part = chunk.split_to(chunk.len().min(MAX_CHUNK));
                    exchange.take_credit(part.len());
                    shared.outbox.push(Command::Body(id, part));
                }
            }
            Some(Err(e)) => {
                // The client's body failed (disconnect, size limit): answer with its status.
                let status = e
                    .status()
                    .and_then(|s| StatusCode::from_u16(s).ok())
                    .unwrap_or(StatusCode::BAD_REQUEST);
                exchange.fail(status);
                shared.outbox.push(Command::Cancel(id));
                return;
            }
        }
    }
    shared.outbox.push(Command::End(id));
}

/// The response body: chunks from the worker, acknowledged as the connection takes them.
/// Also keeps sending the request body when the worker answered before reading all of it.
struct ResponseBody {
    guard: CancelOnDrop,
    sending: Option<Forwarding>,
    unacked: u64,
}

impl Stream for ResponseBody {
    type Item = Result<Bytes, io::Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        poll_forwarding(&mut this.sending, cx);
        let exchange = &this.guard.exchange;
        match exchange.poll_chunk(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                this.unacked += chunk.len() as u64;
                if this.unacked >= ACK_EVERY {
                    let id = exchange.id;
                    this.guard.outbox().push(Command::Ack(id, this.unacked));
                    this.unacked = 0;
                }
                Poll::Ready(Some(Ok(chunk)))
            }
            Poll::Ready(Some(Err(()))) => Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the worker went away while sending the response body",
            )))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}
