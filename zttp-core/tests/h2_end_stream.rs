//! END_STREAM placement: `EndOfMessage` without trailers sets the flag on the
//! stream's last HEADERS or DATA frame while it is still unsent and last in
//! the queue, and falls back to an empty DATA frame otherwise.

#[path = "h2_support.rs"]
mod support;

use bytes::Bytes;
use support::*;
use zttp_core::StreamId;
use zttp_core::{Data, EndOfMessage, Event, Headers, LocalProtocolError, Request, Response};

/// A pair past the handshake, with stream 1 opened by a finished GET.
fn pair_with_request() -> (Pair, StreamId) {
    let mut pair = Pair::default_pair();
    pair.drive();
    let id = pair.client.next_stream_id().unwrap();
    let mut req = Request::new("GET", "/").with_header("Host", "example.com");
    req.stream_id = id;
    pair.client.send(req).unwrap();
    end(&mut pair.client, id);
    pair.drive();
    (pair, id)
}

fn end(conn: &mut zttp_core::Connection, id: StreamId) {
    conn.send(EndOfMessage {
        stream_id: id,
        ..Default::default()
    })
    .unwrap();
}

fn respond(pair: &mut Pair, id: StreamId) {
    let mut resp = Response::new(200).with_header("content-type", "text/plain");
    resp.stream_id = id;
    pair.server.send(resp).unwrap();
}

fn data(conn: &mut zttp_core::Connection, id: StreamId, body: impl Into<Bytes>) {
    conn.send(Data {
        stream_id: id,
        data: body.into(),
    })
    .unwrap();
}

/// (kind, flags, payload length) of each frame.
fn shape(frames: &[RawFrame]) -> Vec<(u8, u8, usize)> {
    frames
        .iter()
        .map(|f| (f.kind, f.flags, f.payload.len()))
        .collect()
}

/// Feeds `wire` to `conn` and returns the message events.
fn deliver(conn: &mut zttp_core::Connection, wire: &[u8]) -> Vec<Event> {
    conn.receive_data(wire);
    messages(poll_all(conn))
}

#[test]
fn response_with_body_ends_on_its_last_data_frame() {
    let (mut pair, id) = pair_with_request();
    respond(&mut pair, id);
    data(&mut pair.server, id, "hello");
    end(&mut pair.server, id);
    let wire = pair.server.data_to_send();
    let frames = parse_frames(&wire);
    assert_eq!(
        shape(&frames)
            .into_iter()
            .map(|(k, f, _)| (k, f))
            .collect::<Vec<_>>(),
        [(HEADERS, END_HEADERS), (DATA, END_STREAM)]
    );
    assert_eq!(frames[1].payload, b"hello");
    let events = deliver(&mut pair.client, &wire);
    assert!(matches!(&events[0], Event::Response(r) if r.status_code == 200));
    assert!(matches!(&events[1], Event::Data(d) if d.data == "hello"));
    assert!(matches!(&events[2], Event::EndOfMessage(e) if e.trailers.is_empty()));
    assert_eq!(events.len(), 3);
    assert_eq!(pair.server.open_streams(), 0, "closed on both sides");
    assert_eq!(pair.client.open_streams(), 0);
}

#[test]
fn bodiless_response_is_one_headers_frame_with_end_stream() {
    let (mut pair, id) = pair_with_request();
    respond(&mut pair, id);
    end(&mut pair.server, id);
    let wire = pair.server.data_to_send();
    let frames = parse_frames(&wire);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(
        (frames[0].kind, frames[0].flags),
        (HEADERS, END_HEADERS | END_STREAM)
    );
    let events = deliver(&mut pair.client, &wire);
    assert!(matches!(&events[0], Event::Response(r) if r.status_code == 200));
    assert!(matches!(&events[1], Event::EndOfMessage(_)));
    assert_eq!(events.len(), 2);
    assert_eq!(pair.server.open_streams(), 0);
    assert_eq!(pair.client.open_streams(), 0);
}

#[test]
fn several_data_pieces_end_on_the_last_one_only() {
    let (mut pair, id) = pair_with_request();
    respond(&mut pair, id);
    data(&mut pair.server, id, "one");
    data(&mut pair.server, id, "two");
    end(&mut pair.server, id);
    let frames = parse_frames(&pair.server.data_to_send());
    assert_eq!(
        shape(&frames),
        [
            (HEADERS, END_HEADERS, frames[0].payload.len()),
            (DATA, 0, 3),
            (DATA, END_STREAM, 3)
        ]
    );
}

#[test]
fn trailers_still_end_the_stream_in_their_own_headers_frame() {
    let (mut pair, id) = pair_with_request();
    respond(&mut pair, id);
    data(&mut pair.server, id, "body");
    pair.server
        .send(EndOfMessage {
            stream_id: id,
            trailers: Headers::new().with("grpc-status", "0"),
        })
        .unwrap();
    let wire = pair.server.data_to_send();
    let frames = parse_frames(&wire);
    let flags: Vec<(u8, u8)> = frames.iter().map(|f| (f.kind, f.flags)).collect();
    assert_eq!(
        flags,
        [
            (HEADERS, END_HEADERS),
            (DATA, 0),
            (HEADERS, END_HEADERS | END_STREAM)
        ]
    );
    let events = deliver(&mut pair.client, &wire);
    assert!(
        matches!(&events[2], Event::EndOfMessage(e) if e.trailers.get(b"grpc-status").unwrap() == "0")
    );
}

#[test]
fn bytes_already_taken_fall_back_to_an_empty_data_frame() {
    let (mut pair, id) = pair_with_request();
    respond(&mut pair, id);
    data(&mut pair.server, id, "hello");
    let first = pair.server.poll_transmit().unwrap();
    end(&mut pair.server, id);
    let rest = pair.server.data_to_send();
    let frames = parse_frames(&rest);
    assert_eq!(shape(&frames), [(DATA, END_STREAM, 0)]);
    let events = deliver(&mut pair.client, &[&first[..], &rest[..]].concat());
    assert_eq!(events.len(), 3);
    assert!(matches!(&events[2], Event::EndOfMessage(_)));
    assert_eq!(
        parse_frames(&first)[1].flags,
        0,
        "taken bytes were not edited"
    );
}

#[test]
fn a_frame_queued_after_the_data_falls_back_to_an_empty_data_frame() {
    let (mut pair, id) = pair_with_request();
    respond(&mut pair, id);
    data(&mut pair.server, id, "hello");
    pair.server.ping(*b"pingping").unwrap();
    end(&mut pair.server, id);
    let frames = parse_frames(&pair.server.data_to_send());
    let flags: Vec<(u8, u8)> = frames.iter().map(|f| (f.kind, f.flags)).collect();
    assert_eq!(
        flags,
        [
            (HEADERS, END_HEADERS),
            (DATA, 0),
            (PING, 0),
            (DATA, END_STREAM)
        ]
    );
}

#[test]
fn another_streams_frame_in_between_falls_back_to_an_empty_data_frame() {
    let mut pair = Pair::default_pair();
    pair.drive();
    let mut ids = Vec::new();
    for _ in 0..2 {
        let id = pair.client.next_stream_id().unwrap();
        let mut req = Request::new("GET", "/");
        req.stream_id = id;
        pair.client.send(req).unwrap();
        end(&mut pair.client, id);
        ids.push(id);
    }
    pair.drive();
    let (a, b) = (ids[0], ids[1]);
    respond(&mut pair, a);
    respond(&mut pair, b);
    data(&mut pair.server, a, "aa");
    data(&mut pair.server, b, "bb");
    end(&mut pair.server, a);
    end(&mut pair.server, b);
    let wire = pair.server.data_to_send();
    let frames = parse_frames(&wire);
    let flags: Vec<(u8, u32, u8, usize)> = frames
        .iter()
        .map(|f| (f.kind, f.stream_id, f.flags, f.payload.len()))
        .collect();
    assert_eq!(
        &flags[2..],
        [
            (DATA, a.get(), 0, 2),
            (DATA, b.get(), 0, 2),
            (DATA, a.get(), END_STREAM, 0),
            (DATA, b.get(), END_STREAM, 0),
        ],
        "neither DATA frame was last when its stream ended"
    );
    let events = deliver(&mut pair.client, &wire);
    let ends = events
        .iter()
        .filter(|e| matches!(e, Event::EndOfMessage(_)))
        .count();
    assert_eq!(ends, 2);
    assert_eq!(pair.server.open_streams(), 0);
}

#[test]
fn large_payload_queued_by_reference_falls_back_to_an_empty_data_frame() {
    let (mut pair, id) = pair_with_request();
    respond(&mut pair, id);
    let body = Bytes::from(vec![7u8; 10_000]);
    data(&mut pair.server, id, body.clone());
    end(&mut pair.server, id);
    let mut wire = Vec::new();
    while let Some(chunk) = pair.server.poll_transmit() {
        wire.extend_from_slice(&chunk);
    }
    let frames = parse_frames(&wire);
    let flags: Vec<(u8, u8, usize)> = shape(&frames)[1..].to_vec();
    assert_eq!(flags, [(DATA, 0, 10_000), (DATA, END_STREAM, 0)]);
    let events = deliver(&mut pair.client, &wire);
    assert!(matches!(&events[1], Event::Data(d) if d.data == body));
    assert!(matches!(&events[2], Event::EndOfMessage(_)));
}

#[test]
fn large_body_through_small_windows_ends_once() {
    let small = |c: &mut zttp_core::Http2Config| {
        c.initial_window_size = 1000;
        c.connection_window = 65_535;
    };
    let mut pair = Pair::new(h2_config(small), h2_config(small));
    pair.drive();
    let id = pair.client.next_stream_id().unwrap();
    let mut req = Request::new("GET", "/");
    req.stream_id = id;
    pair.client.send(req).unwrap();
    end(&mut pair.client, id);
    pair.drive();
    respond(&mut pair, id);
    let body: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let mut sent = 0;
    let mut frames = Vec::new();
    let mut received = Vec::new();
    let mut ended = false;
    for _ in 0..10_000 {
        let n = pair.server.send_window(id).min(body.len() - sent);
        if n > 0 {
            data(&mut pair.server, id, body[sent..sent + n].to_vec());
            sent += n;
        }
        if sent == body.len() && !ended {
            end(&mut pair.server, id);
            ended = true;
        }
        let wire = pair.server.data_to_send();
        frames.extend(
            parse_frames(&wire)
                .into_iter()
                .filter(|f| f.stream_id == id),
        );
        pair.client.receive_data(&wire);
        for e in messages(poll_all(&mut pair.client)) {
            match e {
                Event::Data(d) => received.extend_from_slice(&d.data),
                Event::EndOfMessage(_) => {
                    assert!(received == body, "body arrived intact");
                    let ends: Vec<&RawFrame> = frames
                        .iter()
                        .filter(|f| f.flags & END_STREAM != 0)
                        .collect();
                    assert_eq!(ends.len(), 1);
                    assert_eq!(ends[0].kind, DATA);
                    assert!(!ends[0].payload.is_empty(), "no empty DATA frame");
                    assert!(std::ptr::eq(ends[0], frames.last().unwrap()));
                    assert_eq!(pair.server.open_streams(), 0);
                    return;
                }
                _ => {}
            }
        }
        let c = pair.client.data_to_send();
        pair.server.receive_data(&c);
        poll_all(&mut pair.server);
    }
    panic!("stalled at {sent} sent, {} received", received.len());
}

#[test]
fn client_request_without_body_is_one_headers_frame_and_half_closes() {
    let mut pair = Pair::default_pair();
    pair.drive();
    let id = pair.client.next_stream_id().unwrap();
    let mut req = Request::new("GET", "/").with_header("Host", "example.com");
    req.stream_id = id;
    pair.client.send(req).unwrap();
    end(&mut pair.client, id);
    assert_eq!(pair.client.send_window(id), 0, "half-closed (local)");
    assert_eq!(
        pair.client.send(Data {
            stream_id: id,
            data: "late".into(),
        }),
        Err(LocalProtocolError::InvalidStream)
    );
    let wire = pair.client.data_to_send();
    let frames = parse_frames(&wire);
    assert_eq!(frames.len(), 1, "{frames:?}");
    assert_eq!(
        (frames[0].kind, frames[0].flags),
        (HEADERS, END_HEADERS | END_STREAM)
    );
    let events = deliver(&mut pair.server, &wire);
    assert!(matches!(&events[0], Event::Request(r) if r.stream_id == id));
    assert!(matches!(&events[1], Event::EndOfMessage(_)));
    assert_eq!(pair.client.open_streams(), 1, "awaiting the response");
}

#[test]
fn client_request_body_ends_on_its_last_data_frame() {
    let mut pair = Pair::default_pair();
    pair.drive();
    let id = pair.client.next_stream_id().unwrap();
    let mut req = Request::new("POST", "/upload").with_header("Host", "example.com");
    req.stream_id = id;
    pair.client.send(req).unwrap();
    data(&mut pair.client, id, "payload");
    end(&mut pair.client, id);
    let wire = pair.client.data_to_send();
    let frames = parse_frames(&wire);
    let flags: Vec<(u8, u8)> = frames.iter().map(|f| (f.kind, f.flags)).collect();
    assert_eq!(flags, [(HEADERS, END_HEADERS), (DATA, END_STREAM)]);
    let events = deliver(&mut pair.server, &wire);
    assert!(matches!(&events[1], Event::Data(d) if d.data == "payload"));
    assert!(matches!(&events[2], Event::EndOfMessage(_)));
    assert_eq!(events.len(), 3);
}

#[test]
fn header_block_split_into_continuations_gets_end_stream_on_its_headers_frame() {
    let mut pair = Pair::default_pair();
    pair.drive();
    let id = pair.client.next_stream_id().unwrap();
    let big = "v".repeat(40_000);
    let mut req = Request::new("GET", "/").with_header("x-big", big.clone());
    req.stream_id = id;
    pair.client.send(req).unwrap();
    end(&mut pair.client, id);
    let wire = pair.client.data_to_send();
    let frames = parse_frames(&wire);
    let flags: Vec<(u8, u8)> = frames.iter().map(|f| (f.kind, f.flags)).collect();
    assert_eq!(flags[0], (HEADERS, END_STREAM));
    assert_eq!(*flags.last().unwrap(), (CONTINUATION, END_HEADERS));
    assert!(flags[1..].iter().all(|&(k, _)| k == CONTINUATION));
    let events = deliver(&mut pair.server, &wire);
    assert!(
        matches!(&events[0], Event::Request(r) if r.headers.get(b"x-big").unwrap() == &big[..])
    );
    assert!(matches!(&events[1], Event::EndOfMessage(_)));
}

#[test]
fn informational_response_is_never_ended() {
    let mut pair = Pair::default_pair();
    pair.drive();
    let id = pair.client.next_stream_id().unwrap();
    let mut req = Request::new("PUT", "/").with_header("Expect", "100-continue");
    req.stream_id = id;
    pair.client.send(req).unwrap();
    pair.drive();
    pair.server.send_informational(id, 100, []).unwrap();
    respond(&mut pair, id);
    end(&mut pair.server, id);
    let frames = parse_frames(&pair.server.data_to_send());
    let flags: Vec<(u8, u8)> = frames.iter().map(|f| (f.kind, f.flags)).collect();
    assert_eq!(
        flags,
        [(HEADERS, END_HEADERS), (HEADERS, END_HEADERS | END_STREAM)]
    );
}
