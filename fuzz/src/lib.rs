//! Shared pieces of the zttp-core fuzz targets: cutting input into
//! fragments, draining a `Connection`, and the record of what it did.
//!
//! Every byte-stream target runs its input twice, once in one piece and once
//! cut at fuzzer-chosen points, and asserts both runs saw the same events and
//! wrote the same bytes: the engine must not depend on how the bytes arrive.

// The body of each fuzz target, one module each; `fuzz_targets/` calls them
// and `zttp-core/tests/fuzz_corpus.rs` replays the committed corpora through
// them on stable (paths are explicit so that test can include this file).
#[path = "targets/connection_ops.rs"]
pub mod connection_ops;
#[path = "targets/h1_client.rs"]
pub mod h1_client;
#[path = "targets/h1_server.rs"]
pub mod h1_server;
#[path = "targets/h2_client.rs"]
pub mod h2_client;
#[path = "targets/h2_server.rs"]
pub mod h2_server;
#[path = "targets/h2_timers.rs"]
pub mod h2_timers;
#[path = "targets/hpack_decoder.rs"]
pub mod hpack_decoder;
#[path = "targets/hpack_roundtrip.rs"]
pub mod hpack_roundtrip;

use bytes::{Bytes, BytesMut};
use zttp_core::{
    Config, Connection, Data, EndOfMessage, Event, Leniency, Limits, Protocol, RemoteProtocolError,
    Request, Response, StreamId,
};

/// How to cut the input: `max` is the largest fragment (0: one piece), `seed`
/// drives the choice of each length in `1..=max`.
#[derive(Debug, Clone, Copy)]
pub struct Split {
    /// Largest fragment; 0 feeds the whole input at once.
    pub max: usize,
    /// Seed of the fragment-length sequence.
    pub seed: u32,
}

impl Split {
    /// The whole input in one call.
    pub const WHOLE: Split = Split { max: 0, seed: 0 };

    /// A split from two input bytes.
    pub fn from_bytes(size: u8, seed: u8) -> Split {
        const MAX: [usize; 8] = [0, 1, 2, 3, 7, 16, 100, 4096];
        Split {
            max: MAX[usize::from(size % 8)],
            seed: u32::from(seed) | 1,
        }
    }

    /// The fragments of `data`.
    pub fn fragments<'a>(&self, data: &'a [u8]) -> Vec<&'a [u8]> {
        if self.max == 0 {
            return vec![data];
        }
        let mut state = self.seed;
        let mut out = Vec::new();
        let mut rest = data;
        while !rest.is_empty() {
            // xorshift32: cheap and deterministic.
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let n = (1 + state as usize % self.max).min(rest.len());
            out.push(&rest[..n]);
            rest = &rest[n..];
        }
        out
    }
}

/// What the owner of a connection does after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Keep reading events.
    Continue,
    /// Stop feeding this connection.
    Stop,
}

/// Everything a run observed: the events (without `NeedData`, with adjacent
/// `Data` of one stream merged, so fragmenting does not change it), the
/// error that ended it, and every byte the connection wrote.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Transcript {
    /// The events, normalised.
    pub events: Vec<Event>,
    /// The error that ended the run, if any.
    pub error: Option<RemoteProtocolError>,
    /// All outgoing bytes, in order.
    pub output: Vec<u8>,
}

impl Transcript {
    fn record(&mut self, event: &Event) {
        match (self.events.last_mut(), event) {
            (_, Event::NeedData) => {}
            (Some(Event::Data(last)), Event::Data(d)) if last.stream_id == d.stream_id => {
                let mut joined = BytesMut::from(&last.data[..]);
                joined.extend_from_slice(&d.data);
                *last = Data {
                    stream_id: d.stream_id,
                    data: joined.freeze(),
                };
            }
            _ => self.events.push(event.clone()),
        }
    }

    fn take_output(&mut self, conn: &mut Connection) {
        while let Some(chunk) = conn.poll_transmit() {
            assert!(!chunk.is_empty(), "poll_transmit handed out an empty chunk");
            self.output.extend_from_slice(&chunk);
        }
        assert_eq!(conn.pending_send_len(), 0, "bytes left after poll_transmit");
    }
}

/// Feeds `fragments` (then, with `eof`, the end of the stream) to `conn`,
/// draining events after each and calling `on_event` for every event other
/// than `NeedData`, and for the error that ends the run.
///
/// Panics if the connection keeps producing events without consuming input
/// (an event loop that does not progress), or if an error does not stick.
pub fn feed<F>(conn: &mut Connection, fragments: &[&[u8]], eof: bool, mut on_event: F) -> Transcript
where
    F: FnMut(&mut Connection, &Result<Event, RemoteProtocolError>) -> Next,
{
    let total: usize = fragments.iter().map(|f| f.len()).sum();
    let mut budget = 4096 + 64 * total;
    let mut t = Transcript::default();
    t.take_output(conn);
    let pieces = fragments.iter().filter(|f| !f.is_empty()).map(|f| &f[..]);
    let end: Option<&[u8]> = eof.then_some(&[]);
    'outer: for piece in pieces.chain(end) {
        conn.receive_data(piece);
        loop {
            budget = budget
                .checked_sub(1)
                .expect("next_event keeps returning events without consuming input");
            let ev = conn.next_event();
            match &ev {
                Ok(Event::NeedData) => break,
                Ok(e) => {
                    t.record(e);
                    let closed = matches!(e, Event::ConnectionClosed);
                    let next = on_event(conn, &ev);
                    t.take_output(conn);
                    if next == Next::Stop {
                        break 'outer;
                    }
                    if closed {
                        break;
                    }
                }
                Err(e) => {
                    let e = *e;
                    assert_eq!(conn.next_event(), Err(e), "error did not stick");
                    assert!(conn.should_close(), "error but should_close() is false");
                    on_event(conn, &ev);
                    t.error = Some(e);
                    t.take_output(conn);
                    break 'outer;
                }
            }
        }
        t.take_output(conn);
    }
    t
}

/// Runs `make_run` on the whole input and on its fragments and asserts both
/// transcripts agree.
pub fn assert_split_invariant(split: Split, make_run: impl Fn(Split) -> Transcript) {
    let whole = make_run(Split::WHOLE);
    if split.max == 0 {
        return;
    }
    let cut = make_run(split);
    assert_eq!(
        whole, cut,
        "fragmenting the input changed what the connection did"
    );
}

/// An HTTP/2 frame: 9-byte head and payload.
pub fn h2_frame(kind: u8, flags: u8, stream_id: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut out = vec![(len >> 16) as u8, (len >> 8) as u8, len as u8, kind, flags];
    out.extend_from_slice(&(stream_id & 0x7fff_ffff).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A small fixed body for answers.
pub fn body() -> Bytes {
    Bytes::from_static(b"ok")
}

/// What a server remembers of a request until it answers it.
#[derive(Debug, Clone)]
struct Pending {
    stream_id: StreamId,
    expect_continue: bool,
    upgrade: bool,
}

/// A server that answers every request, in a way chosen by one input byte:
///
/// - bit 0: answer as soon as the head arrives (else after the whole request);
/// - bits 1–2: 200 with Content-Length, 200 with an unframed body (chunked on
///   HTTP/1.1) and trailers, 204, or 101 when an upgrade was asked (404 else);
/// - bit 3: send `100 Continue` first when the client expects it;
/// - bit 4: send the body in two pieces.
#[derive(Debug)]
pub struct Server {
    policy: u8,
    pending: Vec<Pending>,
}

impl Server {
    /// A server acting on `policy`.
    pub fn new(policy: u8) -> Server {
        Server {
            policy,
            pending: Vec::new(),
        }
    }

    /// Reacts to one event; the argument of [`feed`].
    pub fn on_event(
        &mut self,
        conn: &mut Connection,
        ev: &Result<Event, RemoteProtocolError>,
    ) -> Next {
        match ev {
            Ok(Event::Request(req)) => {
                let p = Pending {
                    stream_id: req.stream_id,
                    expect_continue: req.expect_continue,
                    upgrade: req.headers.contains(b"upgrade"),
                };
                if self.policy & 1 != 0 {
                    self.answer(conn, &p);
                } else if self.pending.len() < 256 {
                    self.pending.push(p);
                }
                Next::Continue
            }
            Ok(Event::EndOfMessage(end)) => {
                if let Some(i) = self
                    .pending
                    .iter()
                    .position(|p| p.stream_id == end.stream_id)
                {
                    let p = self.pending.remove(i);
                    self.answer(conn, &p);
                }
                Next::Continue
            }
            Ok(Event::Paused) => match conn.start_next_cycle() {
                Ok(()) => Next::Continue,
                Err(_) => Next::Stop,
            },
            Ok(Event::ConnectionClosed) => Next::Stop,
            Ok(_) => Next::Continue,
            Err(e) => {
                // An HTTP/1.1 server may answer the error once.
                let _ = conn.send(Response::new(e.status()).with_header("Content-Length", "0"));
                let _ = conn.send(EndOfMessage::default());
                Next::Stop
            }
        }
    }

    fn answer(&self, conn: &mut Connection, p: &Pending) {
        let id = p.stream_id;
        if self.policy & 8 != 0 && p.expect_continue {
            let _ = conn.send_informational(id, 100, []);
        }
        let data = |d: &'static [u8]| Data {
            stream_id: id,
            data: Bytes::from_static(d),
        };
        let mut resp = match (self.policy >> 1) & 3 {
            0 => Response::new(200).with_header("Content-Length", "2"),
            1 => Response::new(200),
            2 => Response::new(204),
            _ if p.upgrade => Response::new(101)
                .with_header("Connection", "upgrade")
                .with_header("Upgrade", "websocket"),
            _ => Response::new(404).with_header("Content-Length", "0"),
        };
        resp.stream_id = id;
        let status = resp.status_code;
        if conn.send(resp).is_err() || status == 101 {
            return;
        }
        if status == 200 {
            if self.policy & 16 != 0 {
                let _ = conn.send(data(b"o"));
                let _ = conn.send(data(b"k"));
            } else {
                let _ = conn.send(data(b"ok"));
            }
        }
        let mut end = EndOfMessage {
            stream_id: id,
            ..EndOfMessage::default()
        };
        if (self.policy >> 1) & 3 == 1 {
            end.trailers.push("x-checksum", "1");
        }
        let _ = conn.send(end);
    }
}

/// A client that sends a request, and another after each answer, up to a
/// limit; the kind of each request comes from the input.
#[derive(Debug)]
pub struct Client {
    kinds: Vec<u8>,
    sent: usize,
}

impl Client {
    /// Requests of the given kinds (bits 0–2 of each byte), in turn.
    pub fn new(kinds: &[u8]) -> Client {
        Client {
            kinds: if kinds.is_empty() {
                vec![0]
            } else {
                kinds.to_vec()
            },
            sent: 0,
        }
    }

    /// Sends the next request, if any is left: GET, HEAD, CONNECT, GET with
    /// an Upgrade, POST with a Content-Length body, or POST with a chunked
    /// body and trailers.
    pub fn send_request(&mut self, conn: &mut Connection) -> bool {
        if self.sent >= 16 {
            return false;
        }
        let kind = self.kinds[self.sent % self.kinds.len()] % 6;
        self.sent += 1;
        let id = conn.next_stream_id().unwrap_or_default();
        let mut req = match kind {
            0 => Request::new("GET", "/"),
            1 => Request::new("HEAD", "/"),
            2 => Request::new("CONNECT", "example.com:443"),
            3 => Request::new("GET", "/chat")
                .with_header("Connection", "upgrade")
                .with_header("Upgrade", "websocket"),
            4 => Request::new("POST", "/form").with_header("Content-Length", "2"),
            _ => Request::new("POST", "/upload"),
        };
        req.stream_id = id;
        if id == 0 {
            req.headers.push("Host", "example.com");
        } else {
            req.authority = Some(Bytes::from_static(b"example.com"));
        }
        if conn.send(req).is_err() {
            return false;
        }
        let mut end = EndOfMessage {
            stream_id: id,
            ..EndOfMessage::default()
        };
        if kind >= 4 {
            let _ = conn.send(Data {
                stream_id: id,
                data: body(),
            });
        }
        if kind == 5 {
            end.trailers.push("x-checksum", "1");
        }
        let _ = conn.send(end);
        true
    }

    /// Reacts to one event; the argument of [`feed`].
    pub fn on_event(
        &mut self,
        conn: &mut Connection,
        ev: &Result<Event, RemoteProtocolError>,
    ) -> Next {
        match ev {
            Ok(Event::Paused) => {
                if conn.start_next_cycle().is_ok() && self.send_request(conn) {
                    Next::Continue
                } else {
                    Next::Stop
                }
            }
            Ok(Event::EndOfMessage(_)) | Ok(Event::StreamReset { .. })
                if conn.protocol() == Protocol::Http2 =>
            {
                self.send_request(conn);
                Next::Continue
            }
            Ok(Event::ConnectionClosed) | Err(_) => Next::Stop,
            Ok(_) => Next::Continue,
        }
    }
}

/// An HTTP/1.1 configuration from one input byte: bits 0–3 turn on one
/// leniency each (bare LF, obs-fold, Transfer-Encoding with Content-Length,
/// missing Host), bit 4 selects tiny limits, bit 5 protocol detection,
/// bit 6 the unescaped-target-characters leniency.
pub fn h1_config(bits: u8) -> Config {
    // Protocol::Auto is the default: plain HTTP/1.1 unless bit 5 asks for detection.
    let mut config = Config::default().protocol(Protocol::Http1).leniency(
        Leniency::default()
            .bare_lf(bits & 1 != 0)
            .obs_fold(bits & 2 != 0)
            .transfer_encoding_with_content_length(bits & 4 != 0)
            .missing_host(bits & 8 != 0)
            .unescaped_target_chars(bits & 64 != 0),
    );
    if bits & 16 != 0 {
        config.limits = Limits::default()
            .max_request_line(32)
            .max_method_len(8)
            .max_head_size(128)
            .max_headers(3)
            .max_chunk_extensions(8)
            .max_trailer_size(32)
            .max_body_size(Some(16));
    }
    if bits & 32 != 0 {
        config.protocol = Protocol::Auto;
    }
    config
}

/// An HTTP/2 configuration from one input byte: bit 0 manual flow-control
/// acknowledgement, bit 1 tight defences, bit 2 a zero-size HPACK table,
/// bit 3 accept server push, bit 4 tiny windows and frames.
pub fn h2_config(bits: u8) -> Config {
    let mut config = Config::default().protocol(Protocol::Http2);
    let h2 = &mut config.http2;
    h2.auto_acknowledge = bits & 1 == 0;
    if bits & 2 != 0 {
        h2.max_remote_resets = 2;
        h2.max_local_resets = 2;
        h2.max_continuation_frames = 2;
        h2.max_control_frames = 4;
        h2.max_concurrent_streams = 2;
        config.limits.max_head_size = 200;
    }
    if bits & 4 != 0 {
        h2.header_table_size = 0;
    }
    h2.accept_push = bits & 8 != 0;
    if bits & 16 != 0 {
        h2.initial_window_size = 10;
        h2.connection_window = 65_535;
    }
    config
}
