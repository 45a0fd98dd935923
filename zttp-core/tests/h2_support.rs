//! Helpers shared by the `h2_*` tests: an in-memory client/server pair, and
//! a raw peer that writes hand-made frames to a server.
#![allow(dead_code)]

use bytes::BytesMut;
use zttp_core::hpack::Encoder;
use zttp_core::{
    Config, Connection, Event, Http2Config, Protocol, RemoteProtocolError, Role, H2_PREFACE,
};

/// An HTTP/2 configuration, adjusted by `f`.
pub fn h2_config(f: impl FnOnce(&mut Http2Config)) -> Config {
    let mut config = Config::default().protocol(Protocol::Http2);
    f(&mut config.http2);
    config
}

/// What a connection said, in order; an error ends the list.
pub type Events = Vec<Result<Event, RemoteProtocolError>>;

/// Polls `conn` until it needs data, collecting events (and the error, which ends polling).
pub fn poll_all(conn: &mut Connection) -> Events {
    let mut out = Vec::new();
    loop {
        match conn.next_event() {
            Ok(Event::NeedData) | Ok(Event::ConnectionClosed) => return out,
            Ok(e) => out.push(Ok(e)),
            Err(e) => {
                out.push(Err(e));
                return out;
            }
        }
    }
}

/// A client and a server talking in memory.
pub struct Pair {
    pub client: Connection,
    pub server: Connection,
}

impl Pair {
    pub fn new(client: Config, server: Config) -> Pair {
        Pair {
            client: Connection::with_config(Role::Client, client),
            server: Connection::with_config(Role::Server, server),
        }
    }

    pub fn default_pair() -> Pair {
        Pair::new(h2_config(|_| {}), h2_config(|_| {}))
    }

    /// Moves bytes both ways until both sides are quiet; returns the events
    /// each side saw (client, server).
    pub fn drive(&mut self) -> (Events, Events) {
        let (mut client_events, mut server_events) = (Vec::new(), Vec::new());
        for _ in 0..10_000 {
            let c = self.client.data_to_send();
            if !c.is_empty() {
                self.server.receive_data(&c);
            }
            let s = self.server.data_to_send();
            if !s.is_empty() {
                self.client.receive_data(&s);
            }
            let se = poll_all(&mut self.server);
            let ce = poll_all(&mut self.client);
            let quiet = c.is_empty() && s.is_empty() && se.is_empty() && ce.is_empty();
            server_events.extend(se);
            client_events.extend(ce);
            if quiet {
                break;
            }
        }
        (client_events, server_events)
    }
}

/// Only the `Ok` events that are about messages (no settings, window or ping noise).
pub fn messages(events: Events) -> Vec<Event> {
    events
        .into_iter()
        .map(|e| e.expect("no error"))
        .filter(|e| {
            !matches!(
                e,
                Event::SettingsChanged(_)
                    | Event::SettingsAcknowledged
                    | Event::WindowUpdated { .. }
                    | Event::PingAcknowledged(_)
            )
        })
        .collect()
}

/// One frame as bytes.
pub fn frame(kind: u8, flags: u8, stream_id: u32, payload: &[u8]) -> Vec<u8> {
    let len = payload.len() as u32;
    let mut v = len.to_be_bytes()[1..].to_vec();
    v.push(kind);
    v.push(flags);
    v.extend_from_slice(&stream_id.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

pub const DATA: u8 = 0;
pub const HEADERS: u8 = 1;
pub const PRIORITY: u8 = 2;
pub const RST_STREAM: u8 = 3;
pub const SETTINGS: u8 = 4;
pub const PUSH_PROMISE: u8 = 5;
pub const PING: u8 = 6;
pub const GOAWAY: u8 = 7;
pub const WINDOW_UPDATE: u8 = 8;
pub const CONTINUATION: u8 = 9;

pub const END_STREAM: u8 = 0x1;
pub const ACK: u8 = 0x1;
pub const END_HEADERS: u8 = 0x4;
pub const PADDED: u8 = 0x8;

/// A frame parsed from a connection's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawFrame {
    pub kind: u8,
    pub flags: u8,
    pub stream_id: u32,
    pub payload: Vec<u8>,
}

impl RawFrame {
    /// The error code of a RST_STREAM or GOAWAY.
    pub fn error_code(&self) -> u32 {
        let at = if self.kind == GOAWAY { 4 } else { 0 };
        u32::from_be_bytes(self.payload[at..at + 4].try_into().unwrap())
    }
}

/// Splits bytes into frames.
pub fn parse_frames(mut bytes: &[u8]) -> Vec<RawFrame> {
    let mut out = Vec::new();
    while bytes.len() >= 9 {
        let len = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]) as usize;
        out.push(RawFrame {
            kind: bytes[3],
            flags: bytes[4],
            stream_id: u32::from_be_bytes(bytes[5..9].try_into().unwrap()) & 0x7fff_ffff,
            payload: bytes[9..9 + len].to_vec(),
        });
        bytes = &bytes[9 + len..];
    }
    out
}

/// A hand-driven client talking to a real server connection.
pub struct RawClient {
    pub server: Connection,
    pub encoder: Encoder,
}

impl RawClient {
    /// A server with `config`, after the preface and an empty SETTINGS (and its ACK).
    pub fn new(config: Config) -> RawClient {
        let mut server = Connection::with_config(Role::Server, config);
        let mut hello = H2_PREFACE.to_vec();
        hello.extend(frame(SETTINGS, 0, 0, &[]));
        hello.extend(frame(SETTINGS, ACK, 0, &[]));
        server.receive_data(&hello);
        let events = poll_all(&mut server);
        assert!(events.iter().all(|e| e.is_ok()), "{events:?}");
        let _ = server.data_to_send();
        RawClient {
            server,
            encoder: Encoder::new(),
        }
    }

    pub fn default_server() -> RawClient {
        RawClient::new(h2_config(|_| {}))
    }

    /// An HPACK block for `fields`.
    pub fn block(&mut self, fields: &[(&str, &str)]) -> Vec<u8> {
        let mut dst = BytesMut::new();
        self.encoder.encode(
            fields
                .iter()
                .map(|(n, v)| (n.as_bytes(), v.as_bytes(), false)),
            &mut dst,
        );
        dst.to_vec()
    }

    /// A GET request head block, with `extra` regular fields.
    pub fn get_block(&mut self, extra: &[(&str, &str)]) -> Vec<u8> {
        let mut fields = vec![
            (":method", "GET"),
            (":scheme", "http"),
            (":authority", "example.com"),
            (":path", "/"),
        ];
        fields.extend_from_slice(extra);
        self.block(&fields)
    }

    /// A POST request head block.
    pub fn post_block(&mut self, extra: &[(&str, &str)]) -> Vec<u8> {
        let mut fields = vec![
            (":method", "POST"),
            (":scheme", "http"),
            (":authority", "example.com"),
            (":path", "/upload"),
        ];
        fields.extend_from_slice(extra);
        self.block(&fields)
    }

    /// Feeds bytes; returns the server's events and the frames it wrote.
    pub fn feed(&mut self, bytes: &[u8]) -> (Events, Vec<RawFrame>) {
        self.server.receive_data(bytes);
        let events = poll_all(&mut self.server);
        let out = self.server.data_to_send();
        (events, parse_frames(&out))
    }
}

/// The GOAWAY among `frames`, if any.
pub fn goaway(frames: &[RawFrame]) -> Option<&RawFrame> {
    frames.iter().find(|f| f.kind == GOAWAY)
}

/// The RST_STREAM among `frames`, if any.
pub fn rst_stream(frames: &[RawFrame]) -> Option<&RawFrame> {
    frames.iter().find(|f| f.kind == RST_STREAM)
}
