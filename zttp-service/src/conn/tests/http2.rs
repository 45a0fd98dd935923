//! HTTP/2 (h2c with prior knowledge) through the drive loop, with a
//! `zttp_core` client connection as the peer.

use std::time::Duration;

use bytes::Bytes;
use zttp_core::{
    Config, Connection, Data, EndOfMessage, ErrorCode, Event, Protocol, Role, StreamId,
};

use super::{body_len, config, echo_path, ignore_body, Conn, MS};

/// The client end: a core connection whose bytes travel over the test pipe.
struct Client {
    core: Connection,
    /// Events received so far, in order.
    events: Vec<Event>,
}

impl Client {
    fn new() -> Client {
        let config = Config::default().protocol(Protocol::Http2);
        Client {
            core: Connection::with_config(Role::Client, config),
            events: Vec::new(),
        }
    }

    /// Takes bytes the server wrote (read off the pipe by the test).
    fn take(&mut self, bytes: &[u8]) {
        if !bytes.is_empty() {
            self.core.receive_data(bytes);
        }
        loop {
            match self.core.next_event() {
                Ok(Event::NeedData | Event::ConnectionClosed) => break,
                Ok(event) => self.events.push(event),
                Err(e) => panic!("client: {e}"),
            }
        }
    }

    /// Sends what the client queued, runs the server, reads its answer.
    fn exchange(&mut self, c: &mut Conn) {
        for _ in 0..16 {
            let out = self.core.data_to_send();
            if !out.is_empty() {
                c.send(out);
            }
            let received = c.pipe.read();
            c.h.run();
            if received.is_empty() && self.core.pending_send_len() == 0 {
                return;
            }
            self.take(&received);
        }
    }

    /// Opens a stream with `method path`; a body is sent and ends the stream.
    fn request(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> StreamId {
        let id = self.open(method, path);
        if let Some(body) = body {
            if !body.is_empty() {
                self.core
                    .send(Data {
                        stream_id: id,
                        data: Bytes::copy_from_slice(body),
                    })
                    .unwrap();
            }
        }
        self.core
            .send(EndOfMessage {
                stream_id: id,
                ..EndOfMessage::default()
            })
            .unwrap();
        id
    }

    /// Sends `body` on stream `id` as fast as flow control allows, running the
    /// server between pieces, then ends the stream (unless it was reset).
    /// Returns the bytes sent.
    fn upload(&mut self, c: &mut Conn, id: StreamId, body: &[u8]) -> usize {
        let mut sent = 0;
        while sent < body.len() {
            let n = self
                .core
                .send_window(id)
                .min(body.len() - sent)
                .min(16 * 1024);
            if n == 0 {
                self.exchange(c);
                if self.core.send_window(id) == 0 {
                    break;
                }
                continue;
            }
            let data = Bytes::copy_from_slice(&body[sent..sent + n]);
            if self
                .core
                .send(Data {
                    stream_id: id,
                    data,
                })
                .is_err()
            {
                break;
            }
            sent += n;
        }
        if sent == body.len() {
            let _ = self.core.send(EndOfMessage {
                stream_id: id,
                ..EndOfMessage::default()
            });
        }
        self.exchange(c);
        sent
    }

    /// Sends a request head that leaves the stream open for a body.
    fn open(&mut self, method: &str, path: &str) -> StreamId {
        self.open_with(zttp_core::Request::new(method.to_owned(), path.to_owned()))
    }

    /// Sends `req` as a request head that leaves the stream open for a body.
    fn open_with(&mut self, mut req: zttp_core::Request) -> StreamId {
        let id = self.core.next_stream_id().unwrap();
        req.stream_id = id;
        req.http_version = zttp_core::Version::Http2;
        req.scheme = Some("http".into());
        req.authority = Some("t".into());
        self.core.send(req).unwrap();
        id
    }

    /// The status of the response on `stream`, if one arrived.
    fn status(&self, stream: StreamId) -> Option<u16> {
        self.events.iter().find_map(|e| match e {
            Event::Response(r) if r.stream_id == stream => Some(r.status_code),
            _ => None,
        })
    }

    /// The response body received on `stream`.
    fn body(&self, stream: StreamId) -> Vec<u8> {
        let mut body = Vec::new();
        for e in &self.events {
            if let Event::Data(d) = e {
                if d.stream_id == stream {
                    body.extend_from_slice(&d.data);
                }
            }
        }
        body
    }

    fn ended(&self, stream: StreamId) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, Event::EndOfMessage(end) if end.stream_id == stream))
    }

    fn goaway(&self) -> Option<(StreamId, ErrorCode)> {
        self.events.iter().find_map(|e| match e {
            Event::GoAway {
                last_stream_id,
                error_code,
                ..
            } => Some((*last_stream_id, *error_code)),
            _ => None,
        })
    }

    /// The error code of a reset the server sent on `stream`.
    fn reset(&self, stream: StreamId) -> Option<ErrorCode> {
        self.events.iter().find_map(|e| match e {
            Event::StreamReset {
                stream_id,
                error_code,
                ..
            } if *stream_id == stream => Some(*error_code),
            _ => None,
        })
    }
}

#[test]
fn streams_are_answered_concurrently() {
    let mut c = Conn::start(config(), echo_path);
    let mut client = Client::new();
    let slow = client.request("GET", "/sleep/100", None);
    let fast = client.request("GET", "/fast", None);
    client.exchange(&mut c);
    assert_eq!(client.status(fast), Some(200));
    assert_eq!(client.body(fast), b"/fast");
    assert_eq!(client.status(slow), None);
    c.advance(Duration::from_millis(100));
    client.exchange(&mut c);
    assert_eq!(client.body(slow), b"/sleep/100");
    assert!(client.ended(slow) && client.ended(fast));
}

#[test]
fn request_body_reaches_the_handler() {
    let mut c = Conn::start(config(), body_len);
    let mut client = Client::new();
    let id = client.request("POST", "/", Some(&[b'x'; 1000]));
    client.exchange(&mut c);
    assert_eq!(client.status(id), Some(200));
    assert_eq!(client.body(id), b"1000");
}

/// Like HTTP/1.1 (`one_timer_serves_many_requests`): the connection's one
/// timer is re-armed lazily, not allocated per request or per stream.
#[test]
fn one_timer_serves_many_streams() {
    let mut c = Conn::start(config(), echo_path);
    let mut client = Client::new();
    for _ in 0..100 {
        let id = client.request("GET", "/a", None);
        client.exchange(&mut c);
        assert_eq!(client.status(id), Some(200));
    }
    let sleeps = c.h.runtime.sleeps_created();
    assert!(sleeps <= 2, "{sleeps} timers for 100 streams");
}

/// The client opens a stream with a body and then closes its side (TCP FIN)
/// before the body ends: the handler reading that body gets an error, and
/// the connection ends instead of waiting for ever.
#[test]
fn peer_closing_mid_body_fails_the_body_and_ends_the_connection() {
    let mut c = Conn::start(config(), body_len);
    let mut client = Client::new();
    client.open("POST", "/");
    client.exchange(&mut c);
    c.close();
    assert!(c.finished(), "the connection ends when its peer is gone");
}

#[test]
fn graceful_shutdown_sends_goaway_and_finishes_open_streams() {
    let mut c = Conn::start(config(), echo_path);
    let mut client = Client::new();
    let id = client.request("GET", "/sleep/1000", None);
    client.exchange(&mut c);
    c.shutdown.trigger();
    c.h.poke();
    client.exchange(&mut c);
    assert_eq!(client.goaway(), Some((id, ErrorCode::NO_ERROR)));
    assert!(!c.finished());
    c.advance(Duration::from_secs(1));
    client.exchange(&mut c);
    assert_eq!(client.body(id), b"/sleep/1000");
    assert!(c.finished());
}

#[test]
fn idle_connection_gets_goaway_at_the_keep_alive_timeout() {
    let mut c = Conn::start(config(), echo_path);
    let mut client = Client::new();
    let id = client.request("GET", "/a", None);
    client.exchange(&mut c);
    assert_eq!(client.status(id), Some(200));
    c.advance(Duration::from_secs(10) - MS);
    assert!(!c.finished());
    c.advance(MS);
    client.exchange(&mut c);
    assert_eq!(client.goaway(), Some((id, ErrorCode::NO_ERROR)));
    assert!(c.finished());
}

#[test]
fn open_stream_keeps_the_connection_from_idling_out() {
    let mut c = Conn::start(config(), echo_path);
    let mut client = Client::new();
    let id = client.request("GET", "/sleep/30000", None);
    client.exchange(&mut c);
    c.advance(Duration::from_secs(30));
    client.exchange(&mut c);
    assert_eq!(client.body(id), b"/sleep/30000");
    assert!(!c.finished());
}

#[test]
fn reset_stream_drops_its_handler_and_others_go_on() {
    let mut c = Conn::start(config(), echo_path);
    let mut client = Client::new();
    let doomed = client.request("GET", "/sleep/1000", None);
    let other = client.request("GET", "/sleep/10", None);
    client.exchange(&mut c);
    client.core.reset_stream(doomed, ErrorCode::CANCEL).unwrap();
    client.exchange(&mut c);
    c.advance(Duration::from_secs(1));
    client.exchange(&mut c);
    assert_eq!(client.body(other), b"/sleep/10");
    assert_eq!(client.status(doomed), None);
}

#[test]
fn protocol_error_sends_goaway_and_closes() {
    let mut c = Conn::start(config(), echo_path);
    let mut client = Client::new();
    client.exchange(&mut c);
    // A DATA frame on stream 0 is a connection error (PROTOCOL_ERROR).
    c.send([0, 0, 1, 0, 0, 0, 0, 0, 0, b'x']);
    client.exchange(&mut c);
    assert_eq!(
        client.goaway().map(|g| g.1),
        Some(ErrorCode::PROTOCOL_ERROR)
    );
    c.close();
    assert!(c.finished());
}

#[test]
fn answering_before_the_request_body_ends_resets_the_stream_with_no_error() {
    let mut c = Conn::start(config(), ignore_body);
    let mut client = Client::new();
    let id = client.open("POST", "/");
    client.exchange(&mut c);
    assert_eq!(client.status(id), Some(200));
    assert_eq!(client.body(id), b"ignored");
    assert_eq!(client.reset(id), Some(ErrorCode::NO_ERROR));
}

// ---- body size limits ----

/// A body-size limit of 10 000 bytes.
fn limited() -> crate::ServerConfig {
    config().max_body_size(Some(10_000))
}

/// Answers a body error with a JSON body of its own, like an application would.
fn json_413(_: super::VirtualRuntime) -> impl crate::Handler {
    |req: crate::Request| async move {
        match req.into_body().to_bytes().await {
            Ok(body) => (http::StatusCode::OK, body.len().to_string()),
            Err(e) if e.is_too_large() => (
                http::StatusCode::PAYLOAD_TOO_LARGE,
                r#"{"error":"too large"}"#.to_owned(),
            ),
            Err(_) => (http::StatusCode::BAD_REQUEST, "bad".to_owned()),
        }
    }
}

#[test]
fn body_over_max_body_size_gets_the_handlers_413_then_the_stream_is_reset() {
    let mut c = Conn::start(limited(), json_413);
    let mut client = Client::new();
    let id = client.open("POST", "/");
    let sent = client.upload(&mut c, id, &[b'x'; 100_000]);
    assert_eq!(client.status(id), Some(413));
    assert_eq!(client.body(id), br#"{"error":"too large"}"#);
    assert_eq!(client.reset(id), Some(ErrorCode::NO_ERROR));
    assert!(sent < 100_000, "the upload was stopped after {sent} bytes");
    // The connection goes on.
    let next = client.request("POST", "/", Some(b"small"));
    client.exchange(&mut c);
    assert_eq!(client.body(next), b"5");
}

#[test]
fn body_declared_over_max_body_size_fails_before_it_arrives() {
    let mut c = Conn::start(limited(), json_413);
    let mut client = Client::new();
    let req = zttp_core::Request::new("POST", "/").with_header("content-length", "100000");
    let id = client.open_with(req);
    client.exchange(&mut c);
    assert_eq!(client.status(id), Some(413));
    assert_eq!(client.body(id), br#"{"error":"too large"}"#);
    assert_eq!(client.reset(id), Some(ErrorCode::NO_ERROR));
}

#[test]
fn body_at_max_body_size_is_accepted() {
    let mut c = Conn::start(limited(), json_413);
    let mut client = Client::new();
    let id = client.open("POST", "/");
    assert_eq!(client.upload(&mut c, id, &[b'x'; 10_000]), 10_000);
    assert_eq!(client.status(id), Some(200));
    assert_eq!(client.body(id), b"10000");
}

#[test]
fn body_over_max_body_size_after_the_response_head_resets_the_stream() {
    // Echoes the request body as it streams in: the head goes out at once.
    let mut c = Conn::start(limited(), |_| {
        |req: crate::Request| async move { crate::Body::new(req.into_body()) }
    });
    let mut client = Client::new();
    let id = client.open("POST", "/");
    client.exchange(&mut c);
    assert_eq!(client.status(id), Some(200), "the head is out");
    client.upload(&mut c, id, &[b'x'; 100_000]);
    assert_eq!(client.reset(id), Some(ErrorCode::CANCEL));
    assert!(client.body(id).len() <= 10_000);
    assert!(!c.finished());
}

#[test]
fn connection_specific_fields_of_a_response_are_dropped() {
    let mut c = Conn::start(config(), |_| {
        |_: crate::Request| async {
            http::Response::builder()
                .status(413)
                .header("connection", "close")
                .header("keep-alive", "timeout=5")
                .body(crate::Body::from("too large"))
                .unwrap()
        }
    });
    let mut client = Client::new();
    let id = client.request("GET", "/", None);
    client.exchange(&mut c);
    assert_eq!(client.status(id), Some(413));
    assert_eq!(client.body(id), b"too large");
}

// ---- handlers spawned on the runtime ----

#[test]
fn spawned_handlers_answer_streams_concurrently_and_resets_abort_them() {
    let mut c = Conn::start(config().spawn_http2_handlers(true), echo_path);
    let mut client = Client::new();
    let doomed = client.request("GET", "/sleep/1000", None);
    let slow = client.request("GET", "/sleep/100", None);
    let fast = client.request("GET", "/fast", None);
    client.exchange(&mut c);
    assert_eq!(client.body(fast), b"/fast");
    assert_eq!(c.h.live_tasks(), 2, "two handlers still running");
    client.core.reset_stream(doomed, ErrorCode::CANCEL).unwrap();
    client.exchange(&mut c);
    assert_eq!(
        c.h.live_tasks(),
        1,
        "the reset stream's handler was aborted"
    );
    c.advance(Duration::from_millis(100));
    client.exchange(&mut c);
    assert_eq!(client.body(slow), b"/sleep/100");
    assert_eq!(client.status(doomed), None);
}

#[test]
fn spawned_handlers_end_with_their_connection() {
    let mut c = Conn::start(config().spawn_http2_handlers(true), echo_path);
    let mut client = Client::new();
    client.request("GET", "/sleep/1000", None);
    client.exchange(&mut c);
    assert_eq!(c.h.live_tasks(), 1);
    c.shutdown.force();
    c.h.poke();
    assert!(c.finished());
    assert_eq!(c.h.live_tasks(), 0, "the handler was aborted");
}

#[test]
fn spawned_handlers_read_bodies_and_see_the_body_limit() {
    let mut c = Conn::start(limited().spawn_http2_handlers(true), json_413);
    let mut client = Client::new();
    let ok = client.open("POST", "/");
    assert_eq!(client.upload(&mut c, ok, &[b'x'; 10_000]), 10_000);
    assert_eq!(client.body(ok), b"10000");
    let big = client.open("POST", "/");
    client.upload(&mut c, big, &[b'x'; 100_000]);
    assert_eq!(client.status(big), Some(413));
    assert_eq!(client.body(big), br#"{"error":"too large"}"#);
}

/// Answers what the request body looks like on arrival: whether it has
/// ended already, and its exact size if known.
fn body_shape(_: super::VirtualRuntime) -> impl crate::Handler {
    |req: crate::Request| async move {
        use http_body::Body as _;
        let body = req.body();
        format!("{} {:?}", body.is_end_stream(), body.size_hint().exact())
    }
}

#[test]
fn the_body_follows_the_framing_the_core_read() {
    let mut c = Conn::start(config(), body_shape);
    let mut client = Client::new();
    // HEADERS with END_STREAM: no body channel at all.
    let get = client.request("GET", "/", None);
    // DATA up to END_STREAM, no declared length.
    let streamed = client.request("POST", "/", Some(b"abc"));
    // A declared length.
    let declared =
        client.open_with(zttp_core::Request::new("POST", "/").with_header("content-length", "3"));
    client
        .core
        .send(Data {
            stream_id: declared,
            data: Bytes::from_static(b"abc"),
        })
        .unwrap();
    client
        .core
        .send(EndOfMessage {
            stream_id: declared,
            ..EndOfMessage::default()
        })
        .unwrap();
    client.exchange(&mut c);
    assert_eq!(client.body(get), b"true Some(0)");
    assert_eq!(client.body(streamed), b"false None");
    assert_eq!(client.body(declared), b"false Some(3)");
}

// ---- the core's protocol timers, driven by the pump's one timer ----

/// The kinds and flags of the frames in `bytes` (whole frames only).
fn frame_kinds(mut bytes: &[u8]) -> Vec<(u8, u8)> {
    let mut out = Vec::new();
    while bytes.len() >= 9 {
        let len = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]) as usize;
        out.push((bytes[3], bytes[4]));
        bytes = &bytes[(9 + len).min(bytes.len())..];
    }
    out
}

const PING: u8 = 6;

/// `config()` with the HTTP/2 timers set by `f`.
fn h2_timers(f: impl FnOnce(&mut zttp_core::Http2Config)) -> crate::ServerConfig {
    let mut config = config();
    f(&mut config.core.http2);
    config
}

#[test]
fn a_client_that_never_acknowledges_settings_gets_goaway_settings_timeout() {
    let config = h2_timers(|h2| h2.settings_timeout = Some(Duration::from_secs(3)));
    let mut c = Conn::start(config, echo_path);
    // The preface and our SETTINGS, but never an ACK of the server's.
    let mut hello = zttp_core::H2_PREFACE.to_vec();
    hello.extend_from_slice(&[0, 0, 0, 4, 0, 0, 0, 0, 0]);
    c.send(hello);
    // A client core reads what the server says (its ACKs go nowhere).
    let mut client = Client::new();
    client.take(&c.pipe.read());
    c.advance(Duration::from_secs(3) - MS);
    client.take(&c.pipe.read());
    assert_eq!(client.goaway(), None);
    c.advance(MS);
    client.take(&c.pipe.read());
    assert_eq!(
        client.goaway(),
        Some((StreamId::ZERO, ErrorCode::SETTINGS_TIMEOUT))
    );
    c.close();
    assert!(c.finished());
}

#[test]
fn settings_acknowledged_in_time_keep_the_connection() {
    let config = h2_timers(|h2| h2.settings_timeout = Some(Duration::from_secs(3)));
    let mut c = Conn::start(config, echo_path);
    let mut client = Client::new();
    let id = client.request("GET", "/sleep/20000", None);
    client.exchange(&mut c);
    c.advance(Duration::from_secs(20));
    client.exchange(&mut c);
    assert_eq!(client.goaway(), None);
    assert_eq!(client.body(id), b"/sleep/20000");
}

#[test]
fn keep_alive_pings_a_silent_client_and_its_acks_keep_the_connection() {
    let config = h2_timers(|h2| {
        h2.keep_alive_interval = Some(Duration::from_secs(2));
        h2.keep_alive_timeout = Duration::from_secs(1);
    });
    let mut c = Conn::start(config, echo_path);
    let mut client = Client::new();
    // A stream open for a minute keeps the idle timeout away.
    let id = client.request("GET", "/sleep/60000", None);
    client.exchange(&mut c);
    let mut pings = 0;
    // The client answers at once (within 100 ms) and sends nothing else.
    for _ in 0..599 {
        c.advance(100 * MS);
        let out = c.pipe.read();
        pings += frame_kinds(&out)
            .iter()
            .filter(|&&(kind, flags)| kind == PING && flags & 1 == 0)
            .count();
        client.take(&out);
        client.exchange(&mut c);
        assert_eq!(client.goaway(), None);
    }
    // A PING after 2 to 4 s of silence (silence is measured between deadlines).
    assert!(
        (14..=30).contains(&pings),
        "{pings} keep-alive PINGs in 60 s at a 2 s interval"
    );
    c.advance(100 * MS);
    client.exchange(&mut c);
    assert_eq!(client.body(id), b"/sleep/60000");
    assert!(!c.finished());
}

#[test]
fn keep_alive_drops_a_client_that_stops_answering() {
    let config = h2_timers(|h2| {
        h2.keep_alive_interval = Some(Duration::from_secs(2));
        h2.keep_alive_timeout = Duration::from_secs(1);
    });
    let mut c = Conn::start(config, echo_path);
    let mut client = Client::new();
    let id = client.request("GET", "/sleep/60000", None);
    client.exchange(&mut c);
    // The client goes silent: a PING within two intervals, the GOAWAY one
    // timeout later, then the connection ends (after the lingering close).
    c.advance(Duration::from_secs(4 + 1));
    let out = c.pipe.read();
    let kinds = frame_kinds(&out);
    assert!(kinds.contains(&(PING, 0)), "{kinds:?}");
    client.take(&out);
    assert_eq!(
        client.goaway(),
        Some((StreamId::new(1), ErrorCode::NO_ERROR))
    );
    c.advance(Duration::from_secs(2));
    assert!(c.finished());
    assert_eq!(client.status(id), None);
}

#[test]
fn protocol_timers_share_the_one_connection_timer() {
    let config = h2_timers(|h2| {
        h2.keep_alive_interval = Some(Duration::from_secs(2));
        h2.keep_alive_timeout = Duration::from_secs(1);
    });
    let mut c = Conn::start(config, echo_path);
    let mut client = Client::new();
    let id = client.request("GET", "/sleep/20000", None);
    client.exchange(&mut c);
    let before = c.h.runtime.sleeps_created();
    for _ in 0..200 {
        c.advance(100 * MS);
        client.exchange(&mut c);
    }
    assert_eq!(client.body(id), b"/sleep/20000");
    // About one timer per protocol deadline (a PING, its timeout, a restart
    // of the silence: at most one a second here), not one per exchange of
    // frames (200 here).
    let timers = c.h.runtime.sleeps_created() - before;
    assert!(timers <= 20, "{timers} timers in 20 s of keep-alive");
}
