//! HTTP/2 bytes handed over with `receive_bytes` (as a server's read arena
//! does): however they are cut, split off one shared buffer or not, and with
//! the receive buffer shrunk after each piece or not, a server yields the
//! same events as when it gets them in one piece with `receive_data` (DATA
//! is handed out as it arrives, so a frame cut across reads comes in
//! pieces: they are joined before comparing); and DATA handed out is a
//! slice of the buffer the bytes were read into, frames straddling reads
//! included.

#[path = "h2_support.rs"]
mod support;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use support::*;
use zttp_core::{Connection, Data, EndOfMessage, ErrorCode, Event, Request, Role, StreamId};

/// What a client writes for three requests: a GET, a POST whose 40 KiB body
/// takes several DATA frames, and one whose header block needs
/// CONTINUATION frames, with trailers.
fn client_bytes() -> Vec<u8> {
    let mut client = Connection::with_config(Role::Client, h2_config(|_| {}));
    let mut send = |req: Request, body: &[u8], trailers: Option<(&str, &str)>| {
        let id = client.next_stream_id().unwrap();
        let mut req = req.with_header("host", "example.com");
        req.stream_id = id;
        client.send(req).unwrap();
        for piece in body.chunks(10_000) {
            client
                .send(Data {
                    stream_id: id,
                    data: Bytes::copy_from_slice(piece),
                })
                .unwrap();
        }
        let mut end = EndOfMessage {
            stream_id: id,
            ..Default::default()
        };
        if let Some((name, value)) = trailers {
            end.trailers.push(name.to_string(), value.to_string());
        }
        client.send(end).unwrap();
    };
    send(Request::new("GET", "/a"), b"", None);
    let body: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
    send(Request::new("POST", "/b"), &body, None);
    let big = "v".repeat(20_000);
    send(
        Request::new("POST", "/c").with_header("x-big", big),
        b"tail",
        Some(("x-sum", "7")),
    );
    client.data_to_send().to_vec()
}

/// What a hand-written client sends: padded DATA frames (padding of 40
/// bytes, of none, a frame of padding only, a frame of the pad-length byte
/// only), a frame overshooting its stream's content-length (refused whole,
/// RST_STREAM, and the stream's later DATA ignored), and requests after it.
fn padded_bytes() -> Vec<u8> {
    let mut c = RawClient::default_server();
    let mut wire = zttp_core::H2_PREFACE.to_vec();
    wire.extend(frame(SETTINGS, 0, 0, &[]));
    let padded = |data: &[u8], pad: u8| {
        let mut p = vec![pad];
        p.extend_from_slice(data);
        p.extend(std::iter::repeat_n(0, pad.into()));
        p
    };
    let body: Vec<u8> = (0..300u32).map(|i| (i % 251) as u8).collect();
    let block = c.post_block(&[("content-length", "300")]);
    wire.extend(frame(HEADERS, END_HEADERS, 1, &block));
    wire.extend(frame(DATA, PADDED, 1, &padded(&body[..100], 40)));
    wire.extend(frame(DATA, PADDED, 1, &[0]));
    wire.extend(frame(DATA, 0, 1, &body[100..200]));
    wire.extend(frame(
        DATA,
        PADDED | END_STREAM,
        1,
        &padded(&body[200..], 0),
    ));

    let block = c.post_block(&[("content-length", "50")]);
    wire.extend(frame(HEADERS, END_HEADERS, 3, &block));
    wire.extend(frame(DATA, PADDED, 3, &padded(&[7; 60], 10)));
    wire.extend(frame(DATA, END_STREAM, 3, b"late"));

    let block = c.get_block(&[]);
    wire.extend(frame(HEADERS, END_HEADERS | END_STREAM, 5, &block));
    let block = c.post_block(&[]);
    wire.extend(frame(HEADERS, END_HEADERS, 7, &block));
    wire.extend(frame(DATA, PADDED | END_STREAM, 7, &padded(b"", 20)));
    wire
}

/// Adjacent DATA events of one stream joined into one: DATA is handed out
/// as it arrives, so how a frame's body is cut depends on the reads.
fn joined(events: Vec<Event>) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::new();
    for e in events {
        if let (Some(Event::Data(prev)), Event::Data(d)) = (out.last_mut(), &e) {
            if prev.stream_id == d.stream_id {
                let mut both = BytesMut::from(&prev.data[..]);
                both.extend_from_slice(&d.data);
                prev.data = both.freeze();
                continue;
            }
        }
        out.push(e);
    }
    out
}

/// How the bytes reach the server.
#[derive(Clone, Copy, Debug)]
enum Feed {
    Copied,
    /// Split off one shared buffer in turn; `shrink` after each piece.
    Arena {
        shrink: bool,
    },
    /// Each piece in an allocation of its own.
    Separate,
}

fn serve(wire: &[u8], cuts: &[usize], feed: Feed) -> Vec<Event> {
    let mut server = Connection::with_config(Role::Server, h2_config(|_| {}));
    let mut arena = BytesMut::zeroed(wire.len());
    let mut events = Vec::new();
    let mut at = 0;
    for end in cuts.iter().copied().chain([wire.len()]) {
        let end = end.clamp(at, wire.len());
        let piece = &wire[at..end];
        at = end;
        if piece.is_empty() {
            // An empty read is the peer closing: not a cut.
            continue;
        }
        match feed {
            Feed::Copied => server.receive_data(piece),
            Feed::Arena { shrink } => {
                arena[..piece.len()].copy_from_slice(piece);
                server.receive_bytes(arena.split_to(piece.len()));
                if shrink {
                    server.shrink_receive_buffer();
                }
            }
            Feed::Separate => server.receive_bytes(BytesMut::from(piece)),
        }
        events.extend(messages(poll_all(&mut server)));
    }
    joined(events)
}

#[test]
fn whole_bytes_give_the_requests_and_data_slices_of_the_read_buffer() {
    let wire = client_bytes();
    let events = serve(&wire, &[], Feed::Copied);
    let requests = events
        .iter()
        .filter(|e| matches!(e, Event::Request(_)))
        .count();
    let ends = events
        .iter()
        .filter(|e| matches!(e, Event::EndOfMessage(_)))
        .count();
    assert_eq!((requests, ends), (3, 3), "{events:?}");

    let mut server = Connection::with_config(Role::Server, h2_config(|_| {}));
    let buf = BytesMut::from(&wire[..]);
    let range = buf.as_ptr() as usize..buf.as_ptr() as usize + buf.len();
    server.receive_bytes(buf);
    let data: Vec<Bytes> = messages(poll_all(&mut server))
        .into_iter()
        .filter_map(|e| match e {
            Event::Data(d) => Some(d.data),
            _ => None,
        })
        .collect();
    assert!(data.iter().map(Bytes::len).sum::<usize>() >= 40_000);
    for d in &data {
        assert!(
            range.contains(&(d.as_ptr() as usize)),
            "DATA copied out of the read buffer"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_cut_fed_any_way_gives_the_same_events(
        mut cuts in prop::collection::vec(0usize..70_000, 0..12),
        shrink in any::<bool>(),
    ) {
        for wire in [client_bytes(), padded_bytes()] {
            cuts.iter_mut().for_each(|c| *c %= wire.len());
            cuts.sort_unstable();
            let whole = serve(&wire, &[], Feed::Copied);
            prop_assert_eq!(&serve(&wire, &cuts, Feed::Copied), &whole);
            prop_assert_eq!(&serve(&wire, &cuts, Feed::Arena { shrink }), &whole);
            prop_assert_eq!(&serve(&wire, &cuts, Feed::Separate), &whole);
        }
    }
}

#[test]
fn byte_at_a_time_through_the_arena_gives_the_same_events() {
    for wire in [client_bytes(), padded_bytes()] {
        let cuts: Vec<usize> = (1..wire.len()).collect();
        let whole = serve(&wire, &[], Feed::Copied);
        assert_eq!(serve(&wire, &cuts, Feed::Arena { shrink: true }), whole);
        assert_eq!(serve(&wire, &cuts, Feed::Arena { shrink: false }), whole);
        assert_eq!(serve(&wire, &cuts, Feed::Copied), whole);
    }
}

#[test]
fn padded_data_gives_the_body_and_a_content_length_overshoot_resets_its_stream() {
    let events = serve(&padded_bytes(), &[], Feed::Copied);
    let body: Vec<u8> = (0..300u32).map(|i| (i % 251) as u8).collect();
    let summary: Vec<String> = events
        .iter()
        .map(|e| match e {
            Event::Request(r) => format!("request {}", r.stream_id.get()),
            Event::Data(d) if d.stream_id == StreamId::new(1) && d.data[..] == body[..] => {
                "data 1: the body".to_string()
            }
            Event::Data(d) => format!("data {}: {} bytes", d.stream_id.get(), d.data.len()),
            Event::EndOfMessage(end) => format!("end {}", end.stream_id.get()),
            Event::StreamReset {
                stream_id,
                error_code,
                remote: false,
            } => format!("reset {} {error_code:?}", stream_id.get()),
            other => format!("{other:?}"),
        })
        .collect();
    let reset = format!("reset 3 {:?}", ErrorCode::PROTOCOL_ERROR);
    assert_eq!(
        summary,
        [
            "request 1",
            "data 1: the body",
            "end 1",
            "request 3",
            &reset,
            "request 5",
            "end 5",
            "request 7",
            "end 7"
        ]
    );
}

/// The padded wire read in two pieces, the first ending at `at`.
fn cut_inside(at: usize) -> Vec<Event> {
    serve(&padded_bytes(), &[at], Feed::Arena { shrink: true })
}

#[test]
fn cuts_inside_a_padded_frame_give_the_same_events() {
    let wire = padded_bytes();
    let whole = serve(&wire, &[], Feed::Copied);
    // The first padded DATA frame on stream 1: its head, pad-length byte,
    // body and padding, cut at each of their bytes and around them.
    let start = wire
        .windows(9)
        .position(|w| w[3] == DATA && w[4] == PADDED)
        .unwrap();
    for at in start..start + 9 + 1 + 100 + 40 + 10 {
        assert_eq!(cut_inside(at), whole, "cut at {}", at - start);
    }
}

#[test]
fn frames_straddling_reads_are_handed_out_as_slices_of_the_read_buffer() {
    // As h2load sends them: 16 KiB DATA frames, read 16 KiB at a time, so
    // nearly every frame straddles two reads.
    let mut c = RawClient::default_server();
    let mut wire = zttp_core::H2_PREFACE.to_vec();
    wire.extend(frame(SETTINGS, 0, 0, &[]));
    wire.extend(frame(SETTINGS, ACK, 0, &[]));
    let block = c.post_block(&[("content-length", "65536")]);
    wire.extend(frame(HEADERS, END_HEADERS, 1, &block));
    for i in 0..4u8 {
        let flags = if i == 3 { END_STREAM } else { 0 };
        wire.extend(frame(DATA, flags, 1, &[i; 16_384]));
    }
    let mut server = Connection::with_config(Role::Server, h2_config(|_| {}));
    let mut arena = BytesMut::zeroed(wire.len());
    arena.copy_from_slice(&wire);
    let range = arena.as_ptr() as usize..arena.as_ptr() as usize + arena.len();
    let mut events = Vec::new();
    while !arena.is_empty() {
        let n = arena.len().min(16_384);
        server.receive_bytes(arena.split_to(n));
        events.extend(messages(poll_all(&mut server)));
        server.shrink_receive_buffer();
    }
    let mut received = Vec::new();
    for e in &events {
        if let Event::Data(d) = e {
            assert!(
                range.contains(&(d.data.as_ptr() as usize)),
                "DATA copied out of the read buffer"
            );
            received.extend_from_slice(&d.data);
        }
    }
    let sent: Vec<u8> = (0..4u8).flat_map(|i| [i; 16_384]).collect();
    assert!(received == sent, "the body arrives whole and in order");
    assert!(
        matches!(events.last(), Some(Event::EndOfMessage(_))),
        "{events:?}"
    );
}

#[test]
fn a_stream_reset_mid_frame_drops_the_rest_and_gives_it_back_to_the_connection() {
    let mut c = RawClient::new(h2_config(|h| {
        h.connection_window = 65_535;
        h.auto_acknowledge = false;
        h.max_frame_size = 70_000;
    }));
    let block = c.post_block(&[]);
    c.feed(&frame(HEADERS, END_HEADERS, 1, &block));
    let data = frame(DATA, END_STREAM, 1, &[1; 40_000]);
    let (events, _) = c.feed(&data[..9 + 10_000]);
    let got: usize = messages(events)
        .iter()
        .map(|e| match e {
            Event::Data(d) => d.data.len(),
            other => panic!("{other:?}"),
        })
        .sum();
    assert_eq!(got, 10_000);
    c.server
        .reset_stream(StreamId::new(1), ErrorCode::CANCEL)
        .unwrap();
    let (events, frames) = c.feed(&data[9 + 10_000..]);
    assert_eq!(messages(events), []);
    assert!(frames.iter().all(|f| f.kind != WINDOW_UPDATE), "{frames:?}");
    // The 30,000 dropped bytes and the 10,000 the application consumed:
    // the connection window gets all of them back.
    c.server
        .acknowledge_received_data(StreamId::new(1), 10_000)
        .unwrap();
    let frames = parse_frames(&c.server.data_to_send());
    let increments: Vec<(u32, u32)> = frames
        .iter()
        .filter(|f| f.kind == WINDOW_UPDATE)
        .map(|f| {
            (
                f.stream_id,
                u32::from_be_bytes(f.payload[..4].try_into().unwrap()),
            )
        })
        .collect();
    assert_eq!(increments, [(0, 40_000)]);
    // The connection goes on.
    let block = c.get_block(&[]);
    let (events, _) = c.feed(&frame(HEADERS, END_HEADERS | END_STREAM, 3, &block));
    assert!(matches!(
        &messages(events)[..],
        [Event::Request(_), Event::EndOfMessage(_)]
    ));
}
