//! HTTP/2 (h2c with prior knowledge) through the drive loop, with a
//! `zttp_core` client connection as the peer.

use std::time::Duration;

use bytes::Bytes;
use zttp_core::{Config, Connection, Data, EndOfMessage, ErrorCode, Event, Protocol, Role};

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
            self.core.receive_data(&received);
            loop {
                match self.core.next_event() {
                    Ok(Event::NeedData) => break,
                    Ok(event) => self.events.push(event),
                    Err(e) => panic!("client: {e}"),
                }
            }
        }
    }

    /// Opens a stream with `method path`; a body is sent and ends the stream.
    fn request(&mut self, method: &str, path: &str, body: Option<&[u8]>) -> u32 {
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

    /// Sends a request head that leaves the stream open for a body.
    fn open(&mut self, method: &str, path: &str) -> u32 {
        let id = self.core.next_stream_id().unwrap();
        let mut req = zttp_core::Request::new(method.to_owned(), path.to_owned());
        req.stream_id = id;
        req.http_version = zttp_core::Version::Http2;
        req.scheme = Some("http".into());
        req.authority = Some("t".into());
        self.core.send(req).unwrap();
        id
    }

    /// The status of the response on `stream`, if one arrived.
    fn status(&self, stream: u32) -> Option<u16> {
        self.events.iter().find_map(|e| match e {
            Event::Response(r) if r.stream_id == stream => Some(r.status_code),
            _ => None,
        })
    }

    /// The response body received on `stream`.
    fn body(&self, stream: u32) -> Vec<u8> {
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

    fn ended(&self, stream: u32) -> bool {
        self.events
            .iter()
            .any(|e| matches!(e, Event::EndOfMessage(end) if end.stream_id == stream))
    }

    fn goaway(&self) -> Option<(u32, ErrorCode)> {
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
    fn reset(&self, stream: u32) -> Option<ErrorCode> {
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
