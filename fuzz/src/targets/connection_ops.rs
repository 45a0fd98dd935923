//! Operation sequences on a client and a server talking in memory, over
//! HTTP/1.1 or HTTP/2: sends of every kind (legal or not), cycle resets,
//! informational responses, event polling and partial byte transfers.
//!
//! Nothing may panic, and as long as neither side closed its write half,
//! whatever one side agreed to send the other must accept: a protocol error
//! on the receiving side means the sender let an illegal message through.
//! A side may read the connection as closed only when its peer is closing it
//! (an HTTP/1.1 server's unsolicited error answer, RFC 9112 §9.6).

use arbitrary::Arbitrary;
use bytes::Bytes;
use zttp_core::RemoteProtocolError;
use zttp_core::StreamId;
use zttp_core::{
    Config, Connection, Data, EndOfMessage, ErrorCode, Event, Headers, Protocol, Request, Response,
    Role, Version,
};

#[derive(Debug, Arbitrary)]
struct Input {
    h2: bool,
    ops: Vec<Op>,
}

#[derive(Debug, Clone, Copy, Arbitrary)]
enum Side {
    Client,
    Server,
}

#[derive(Debug, Arbitrary)]
enum Op {
    Send(Side, Msg),
    StartNextCycle(Side),
    SendInformational(Side, u16),
    NextEvent(Side),
    /// Move one chunk of outgoing bytes to the peer.
    PollTransmit(Side),
    /// Move all outgoing bytes to the peer.
    Flush(Side),
    /// Close this side's write half (the peer receives the end of stream).
    Close(Side),
}

#[derive(Debug, Arbitrary)]
enum Msg {
    Request {
        method: Method,
        target: Target,
        headers: Vec<Field>,
        http10: bool,
    },
    Response {
        stream: u8,
        status: u16,
        headers: Vec<Field>,
    },
    Data {
        stream: u8,
        data: Vec<u8>,
    },
    EndOfMessage {
        stream: u8,
        trailers: Vec<Field>,
    },
}

#[derive(Debug, Arbitrary)]
enum Method {
    Get,
    Head,
    Post,
    Connect,
    Options,
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum Target {
    Root,
    Path,
    Authority,
    Asterisk,
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum Field {
    Host,
    ContentLength(u8),
    Chunked,
    Close,
    KeepAlive,
    Upgrade,
    ExpectContinue,
    Te,
    Plain,
    Raw(Vec<u8>, Vec<u8>),
}

fn headers(fields: &[Field]) -> Headers {
    let mut h = Headers::new();
    for f in fields.iter().take(16) {
        match f {
            Field::Host => h.push("Host", "example.com"),
            Field::ContentLength(n) => h.push("Content-Length", n.to_string()),
            Field::Chunked => h.push("Transfer-Encoding", "chunked"),
            Field::Close => h.push("Connection", "close"),
            Field::KeepAlive => h.push("Connection", "keep-alive"),
            Field::Upgrade => {
                h.push("Connection", "upgrade");
                h.push("Upgrade", "websocket");
            }
            Field::ExpectContinue => h.push("Expect", "100-continue"),
            Field::Te => h.push("te", "trailers"),
            Field::Plain => h.push("x-note", "a b"),
            Field::Raw(n, v) => h.push(Bytes::copy_from_slice(n), Bytes::copy_from_slice(v)),
        }
    }
    h
}

struct Pair {
    client: Connection,
    server: Connection,
    /// A side closed its write half: the peer may then fail legitimately.
    closed: bool,
    h2: bool,
}

impl Pair {
    fn conn(&mut self, side: Side) -> (&mut Connection, &mut Connection) {
        match side {
            Side::Client => (&mut self.client, &mut self.server),
            Side::Server => (&mut self.server, &mut self.client),
        }
    }

    fn stream(&self, s: u8) -> StreamId {
        if self.h2 {
            StreamId::new(1 + 2 * u32::from(s % 4))
        } else {
            StreamId::ZERO
        }
    }

    fn message(&mut self, side: Side, msg: Msg) -> Event {
        match msg {
            Msg::Request {
                method,
                target,
                headers: fields,
                http10,
            } => {
                let method: Bytes = match method {
                    Method::Get => "GET".into(),
                    Method::Head => "HEAD".into(),
                    Method::Post => "POST".into(),
                    Method::Connect => "CONNECT".into(),
                    Method::Options => "OPTIONS".into(),
                    Method::Raw(m) => m.into(),
                };
                let target: Bytes = match target {
                    Target::Root => "/".into(),
                    Target::Path => "/a/b?c=d".into(),
                    Target::Authority => "example.com:443".into(),
                    Target::Asterisk => "*".into(),
                    Target::Raw(t) => t.into(),
                };
                let mut req = Request::new(method, target);
                req.headers = headers(&fields);
                if http10 {
                    req.http_version = Version::Http10;
                }
                if self.h2 {
                    let (conn, _) = self.conn(side);
                    req.stream_id = conn.next_stream_id().unwrap_or_default();
                }
                Event::Request(req)
            }
            Msg::Response {
                stream,
                status,
                headers: fields,
            } => {
                let mut resp = Response::new(100 + status % 500);
                resp.stream_id = self.stream(stream);
                resp.headers = headers(&fields);
                resp.into()
            }
            Msg::Data { stream, data } => Event::Data(Data {
                stream_id: self.stream(stream),
                data: data.into(),
            }),
            Msg::EndOfMessage { stream, trailers } => Event::EndOfMessage(EndOfMessage {
                stream_id: self.stream(stream),
                trailers: headers(&trailers),
            }),
        }
    }

    /// Polls one event from `side` and checks it is not a complaint about
    /// what the peer agreed to send.
    fn next_event(&mut self, side: Side) -> Result<Event, RemoteProtocolError> {
        let closed = self.closed;
        let (conn, peer) = self.conn(side);
        let ev = conn.next_event();
        if closed {
            return ev;
        }
        match &ev {
            Ok(Event::ConnectionClosed) => assert!(
                peer.should_close(),
                "{side:?} read the connection as closed while its peer keeps it open"
            ),
            Err(e) => {
                panic!("{side:?} rejected what its peer agreed to send: {e:?}")
            }
            Ok(Event::StreamReset {
                stream_id,
                error_code: ErrorCode::PROTOCOL_ERROR,
                remote: false,
            }) => {
                panic!("{side:?} reset stream {stream_id}: its peer sent a malformed message")
            }
            _ => {}
        }
        ev
    }
}

/// The operations an input decodes to, for triage (`cargo fuzz fmt` shows
/// only bytes, since the target takes bytes).
pub fn describe(data: &[u8]) -> String {
    use arbitrary::Unstructured;
    match Input::arbitrary_take_rest(Unstructured::new(data)) {
        Ok(input) => format!("{input:#?}"),
        Err(e) => format!("not an input: {e}"),
    }
}

/// Runs one input (the fuzz target's body), decoded as libFuzzer's
/// `fuzz_target!` decodes a typed input.
pub fn run(data: &[u8]) {
    use arbitrary::Unstructured;
    if data.len() < <Input as Arbitrary>::size_hint(0).0 {
        return;
    }
    let Ok(input) = <Input as Arbitrary>::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let config = if input.h2 {
        Config::default().protocol(Protocol::Http2)
    } else {
        Config::default().protocol(Protocol::Http1)
    };
    let mut pair = Pair {
        client: Connection::with_config(Role::Client, config.clone()),
        server: Connection::with_config(Role::Server, config),
        closed: false,
        h2: input.h2,
    };
    for op in input.ops.into_iter().take(256) {
        match op {
            Op::Send(side, msg) => {
                let event = pair.message(side, msg);
                let (conn, _) = pair.conn(side);
                let before = conn.pending_send_len();
                if conn.send(event).is_err() {
                    assert_eq!(
                        conn.pending_send_len(),
                        before,
                        "a refused send queued bytes"
                    );
                }
            }
            Op::StartNextCycle(side) => {
                let _ = pair.conn(side).0.start_next_cycle();
            }
            Op::SendInformational(side, status) => {
                // The thousands pick the stream (HTTP/2), the rest the status.
                let stream = pair.stream((status / 1000) as u8);
                let (conn, _) = pair.conn(side);
                let before = conn.pending_send_len();
                if conn.send_informational(stream, status % 1000, []).is_err() {
                    assert_eq!(
                        conn.pending_send_len(),
                        before,
                        "a refused send queued bytes"
                    );
                }
            }
            Op::NextEvent(side) => {
                let _ = pair.next_event(side);
            }
            Op::PollTransmit(side) => {
                let (conn, peer) = pair.conn(side);
                if let Some(chunk) = conn.poll_transmit() {
                    peer.receive_data(&chunk);
                }
            }
            Op::Flush(side) => {
                let (conn, peer) = pair.conn(side);
                let bytes = conn.data_to_send();
                if !bytes.is_empty() {
                    peer.receive_data(&bytes);
                }
            }
            Op::Close(side) => {
                let (conn, peer) = pair.conn(side);
                let bytes = conn.data_to_send();
                if !bytes.is_empty() {
                    peer.receive_data(&bytes);
                }
                peer.receive_data(&[]);
                pair.closed = true;
            }
        }
    }
    // Deliver everything still queued, and drain both sides.
    for _ in 0..8 {
        for side in [Side::Client, Side::Server] {
            let (conn, peer) = pair.conn(side);
            let bytes = conn.data_to_send();
            if !bytes.is_empty() {
                peer.receive_data(&bytes);
            }
            for _ in 0..1000 {
                match pair.next_event(side) {
                    Ok(Event::NeedData | Event::Paused | Event::ConnectionClosed) | Err(_) => break,
                    _ => {}
                }
            }
        }
    }
}
