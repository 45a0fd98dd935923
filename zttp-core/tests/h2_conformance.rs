//! A server fed hand-made frames: the stream and connection errors of RFC 9113,
//! in the spirit of h2spec.

#[path = "h2_support.rs"]
mod support;

use support::*;
use zttp_core::StreamId;
use zttp_core::{
    Connection, ErrorCode, Event, RemoteErrorKind, RemoteProtocolError, Role, H2_PREFACE,
};

const PROTOCOL_ERROR: u32 = 0x1;
const FLOW_CONTROL_ERROR: u32 = 0x3;
const STREAM_CLOSED: u32 = 0x5;
const FRAME_SIZE_ERROR: u32 = 0x6;
const REFUSED_STREAM: u32 = 0x7;
const COMPRESSION_ERROR: u32 = 0x9;

fn h2_error(code: u32) -> RemoteProtocolError {
    RemoteErrorKind::Http2(ErrorCode(code)).into()
}

/// Feeds `bytes` and asserts a connection error with `code`.
fn assert_connection_error(c: &mut RawClient, bytes: &[u8], code: u32) {
    let (events, frames) = c.feed(bytes);
    assert_eq!(events.last(), Some(&Err(h2_error(code))), "{events:?}");
    let g = goaway(&frames).unwrap_or_else(|| panic!("no GOAWAY in {frames:?}"));
    assert_eq!(g.error_code(), code);
    assert!(c.server.should_close());
}

/// Feeds `bytes` and asserts a RST_STREAM with `code` on `stream_id`, the connection alive.
fn assert_stream_error(c: &mut RawClient, bytes: &[u8], stream_id: u32, code: u32) {
    let (events, frames) = c.feed(bytes);
    assert!(events.iter().all(|e| e.is_ok()), "{events:?}");
    let r = rst_stream(&frames).unwrap_or_else(|| panic!("no RST_STREAM in {frames:?}"));
    assert_eq!((r.stream_id, r.error_code()), (stream_id, code));
    assert!(goaway(&frames).is_none());
    // Still alive: a PING is answered.
    let (_, frames) = c.feed(&frame(PING, 0, 0, b"stillok!"));
    assert!(
        frames.iter().any(|f| f.kind == PING && f.flags == ACK),
        "{frames:?}"
    );
}

#[test]
fn server_announces_settings_before_reading_anything() {
    let mut server = Connection::with_config(Role::Server, h2_config(|_| {}));
    let frames = parse_frames(&server.data_to_send());
    assert_eq!(frames[0].kind, SETTINGS);
    assert_eq!(frames[1].kind, WINDOW_UPDATE);
}

#[test]
fn client_starts_with_the_preface() {
    let mut client = Connection::with_config(Role::Client, h2_config(|_| {}));
    let out = client.data_to_send();
    assert_eq!(&out[..24], H2_PREFACE);
    assert_eq!(parse_frames(&out[24..])[0].kind, SETTINGS);
}

#[test]
fn bad_preface_is_a_connection_error() {
    let mut server = Connection::with_config(Role::Server, h2_config(|_| {}));
    server.receive_data(b"GET / HTTP/1.1\r\n\r\n");
    let err = server.next_event().unwrap_err();
    assert_eq!(err, h2_error(PROTOCOL_ERROR));
    assert_eq!(
        server.next_event().unwrap_err(),
        err,
        "the error state persists"
    );
    assert_eq!(
        server.remote_error().unwrap().h2_code(),
        Some(ErrorCode::PROTOCOL_ERROR)
    );
}

#[test]
fn first_frame_must_be_settings() {
    let mut server = Connection::with_config(Role::Server, h2_config(|_| {}));
    let mut bytes = H2_PREFACE.to_vec();
    bytes.extend(frame(PING, 0, 0, &[0; 8]));
    server.receive_data(&bytes);
    assert_eq!(server.next_event().unwrap_err(), h2_error(PROTOCOL_ERROR));
}

#[test]
fn preface_may_arrive_byte_by_byte() {
    let mut server = Connection::with_config(Role::Server, h2_config(|_| {}));
    let mut bytes = H2_PREFACE.to_vec();
    bytes.extend(frame(SETTINGS, 0, 0, &[0, 4, 0, 0, 0x10, 0]));
    for b in bytes {
        server.receive_data(&[b]);
        let _ = server.next_event().unwrap();
    }
    assert!(!server.should_close());
}

#[test]
fn frames_on_idle_streams_are_connection_errors() {
    for f in [
        frame(DATA, END_STREAM, 1, b"x"),
        frame(RST_STREAM, 0, 1, &[0, 0, 0, 8]),
        frame(WINDOW_UPDATE, 0, 1, &[0, 0, 0, 1]),
        frame(CONTINUATION, END_HEADERS, 1, &[]),
    ] {
        assert_connection_error(&mut RawClient::default_server(), &f, PROTOCOL_ERROR);
    }
}

#[test]
fn even_and_decreasing_stream_ids_are_connection_errors() {
    let mut c = RawClient::default_server();
    let block = c.get_block(&[]);
    assert_connection_error(
        &mut c,
        &frame(HEADERS, END_HEADERS | END_STREAM, 2, &block),
        PROTOCOL_ERROR,
    );

    let mut c = RawClient::default_server();
    let block = c.get_block(&[]);
    c.feed(&frame(HEADERS, END_HEADERS | END_STREAM, 5, &block));
    let block = c.get_block(&[]);
    assert_connection_error(
        &mut c,
        &frame(HEADERS, END_HEADERS | END_STREAM, 3, &block),
        PROTOCOL_ERROR,
    );
}

#[test]
fn request_arrives_with_its_stream_id() {
    let mut c = RawClient::default_server();
    let block = c.get_block(&[("user-agent", "raw")]);
    let (events, _) = c.feed(&frame(HEADERS, END_HEADERS | END_STREAM, 1, &block));
    let Ok(Event::Request(req)) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(req.stream_id, 1);
    assert!(matches!(&events[1], Ok(Event::EndOfMessage(e)) if e.stream_id == 1));
    assert_eq!(c.server.open_streams(), 1);
}

#[test]
fn data_on_half_closed_remote_stream_is_stream_closed() {
    let mut c = RawClient::default_server();
    let block = c.get_block(&[]);
    c.feed(&frame(HEADERS, END_HEADERS | END_STREAM, 1, &block));
    let (events, frames) = c.feed(&frame(DATA, END_STREAM, 1, b"late"));
    assert_eq!(
        rst_stream(&frames).map(|f| f.error_code()),
        Some(STREAM_CLOSED)
    );
    assert!(events.contains(&Ok(Event::StreamReset {
        stream_id: StreamId::new(1),
        error_code: ErrorCode::STREAM_CLOSED,
        remote: false
    })));
    assert_eq!(c.server.open_streams(), 0);
}

#[test]
fn headers_half_closed_remote_stream_is_stream_closed() {
    let mut c = RawClient::default_server();
    let block = c.get_block(&[]);
    c.feed(&frame(HEADERS, END_HEADERS | END_STREAM, 1, &block));
    let block = c.get_block(&[]);
    assert_stream_error(
        &mut c,
        &frame(HEADERS, END_HEADERS | END_STREAM, 1, &block),
        1,
        STREAM_CLOSED,
    );
}

#[test]
fn data_after_peer_reset_is_stream_closed() {
    let mut c = RawClient::default_server();
    let block = c.post_block(&[]);
    c.feed(&frame(HEADERS, END_HEADERS, 1, &block));
    c.feed(&frame(RST_STREAM, 0, 1, &[0, 0, 0, 8]));
    assert_stream_error(&mut c, &frame(DATA, END_STREAM, 1, b"x"), 1, STREAM_CLOSED);
}

#[test]
fn headers_on_a_finished_stream_is_a_connection_error() {
    let mut c = RawClient::default_server();
    let block = c.get_block(&[]);
    c.feed(&frame(HEADERS, END_HEADERS | END_STREAM, 1, &block));
    let mut resp = zttp_core::Response::new(204);
    resp.stream_id = StreamId::new(1);
    c.server.send(resp).unwrap();
    c.server
        .send(zttp_core::EndOfMessage {
            stream_id: StreamId::new(1),
            ..Default::default()
        })
        .unwrap();
    let block = c.get_block(&[]);
    assert_connection_error(
        &mut c,
        &frame(HEADERS, END_HEADERS | END_STREAM, 1, &block),
        STREAM_CLOSED,
    );
}

#[test]
fn frames_on_streams_we_reset_are_ignored() {
    let mut c = RawClient::default_server();
    let block = c.post_block(&[]);
    c.feed(&frame(HEADERS, END_HEADERS, 1, &block));
    c.server
        .reset_stream(StreamId::new(1), ErrorCode::CANCEL)
        .unwrap();
    let ours = parse_frames(&c.server.data_to_send());
    assert_eq!(rst_stream(&ours).map(|f| f.error_code()), Some(0x8));
    let (events, frames) = c.feed(&frame(DATA, 0, 1, b"in flight"));
    assert!(events.is_empty(), "{events:?}");
    assert!(rst_stream(&frames).is_none() && goaway(&frames).is_none());
}

#[test]
fn malformed_requests_are_stream_errors() {
    let cases: Vec<Vec<(&str, &str)>> = vec![
        vec![(":method", "GET"), (":scheme", "http"), (":authority", "a")],
        vec![
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":path", "/"),
        ],
        vec![
            (":method", "GET"),
            ("x", "1"),
            (":scheme", "http"),
            (":path", "/"),
        ],
        vec![
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":unknown", "x"),
        ],
        vec![
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            ("X-Upper", "x"),
        ],
        vec![
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            ("connection", "close"),
        ],
        vec![
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            ("te", "gzip"),
        ],
        vec![(":method", "GET"), (":scheme", "http"), (":path", "")],
        vec![
            (":method", "GET"),
            (":scheme", "http"),
            (":path", "/"),
            (":status", "200"),
        ],
    ];
    for (i, fields) in cases.iter().enumerate() {
        let mut c = RawClient::default_server();
        let block = c.block(fields);
        let (events, frames) = c.feed(&frame(HEADERS, END_HEADERS | END_STREAM, 1, &block));
        assert!(
            events
                .iter()
                .all(|e| matches!(e, Ok(Event::StreamReset { .. }))),
            "case {i}: {events:?}"
        );
        assert_eq!(
            rst_stream(&frames).map(|f| f.error_code()),
            Some(PROTOCOL_ERROR),
            "case {i}"
        );
    }
}

#[test]
fn content_length_must_match_the_data() {
    let mut c = RawClient::default_server();
    let block = c.post_block(&[("content-length", "10")]);
    c.feed(&frame(HEADERS, END_HEADERS, 1, &block));
    let (events, frames) = c.feed(&frame(DATA, END_STREAM, 1, b"short"));
    assert_eq!(
        rst_stream(&frames).map(|f| f.error_code()),
        Some(PROTOCOL_ERROR)
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, Ok(Event::StreamReset { .. }))));

    let mut c = RawClient::default_server();
    let block = c.post_block(&[("content-length", "2")]);
    c.feed(&frame(HEADERS, END_HEADERS, 1, &block));
    assert_stream_error(&mut c, &frame(DATA, 0, 1, b"too long"), 1, PROTOCOL_ERROR);
}

#[test]
fn trailers_must_end_the_stream_and_carry_no_pseudo_headers() {
    let mut c = RawClient::default_server();
    let block = c.post_block(&[]);
    c.feed(&frame(HEADERS, END_HEADERS, 1, &block));
    let trailers = c.block(&[("x-sum", "1")]);
    assert_stream_error(
        &mut c,
        &frame(HEADERS, END_HEADERS, 1, &trailers),
        1,
        PROTOCOL_ERROR,
    );

    let mut c = RawClient::default_server();
    let block = c.post_block(&[]);
    c.feed(&frame(HEADERS, END_HEADERS, 1, &block));
    let trailers = c.block(&[(":path", "/")]);
    assert_stream_error(
        &mut c,
        &frame(HEADERS, END_HEADERS | END_STREAM, 1, &trailers),
        1,
        PROTOCOL_ERROR,
    );
}

#[test]
fn invalid_settings_are_connection_errors() {
    let cases = [
        (vec![0, 2, 0, 0, 0, 2], PROTOCOL_ERROR),
        (vec![0, 4, 0x80, 0, 0, 0], FLOW_CONTROL_ERROR),
        (vec![0, 5, 0, 0, 0x40, 0], 0),
        (vec![0, 5, 0x01, 0, 0, 0], PROTOCOL_ERROR),
        (vec![0, 3, 0, 0, 0], FRAME_SIZE_ERROR),
    ];
    for (i, (payload, code)) in cases.into_iter().enumerate() {
        let mut c = RawClient::default_server();
        if i == 2 {
            // 16384 is valid: the connection lives.
            let (events, frames) = c.feed(&frame(SETTINGS, 0, 0, &payload));
            assert!(events.iter().all(|e| e.is_ok()));
            assert!(frames.iter().any(|f| f.kind == SETTINGS && f.flags == ACK));
            continue;
        }
        assert_connection_error(&mut c, &frame(SETTINGS, 0, 0, &payload), code);
    }
    let mut c = RawClient::default_server();
    assert_connection_error(&mut c, &frame(SETTINGS, 0, 1, &[]), PROTOCOL_ERROR);
    let mut c = RawClient::default_server();
    assert_connection_error(
        &mut c,
        &frame(SETTINGS, ACK, 0, &[0, 3, 0, 0, 0, 1]),
        FRAME_SIZE_ERROR,
    );
}

#[test]
fn initial_window_change_applies_to_open_streams() {
    let mut c = RawClient::default_server();
    let block = c.get_block(&[]);
    c.feed(&frame(HEADERS, END_HEADERS | END_STREAM, 1, &block));
    let mut resp = zttp_core::Response::new(200);
    resp.stream_id = StreamId::new(1);
    c.server.send(resp).unwrap();
    assert_eq!(c.server.send_window(StreamId::new(1)), 65_535);
    let (events, _) = c.feed(&frame(SETTINGS, 0, 0, &[0, 4, 0, 0, 0, 100]));
    assert!(events
        .iter()
        .any(|e| matches!(e, Ok(Event::SettingsChanged(s)) if s.initial_window_size == Some(100))));
    assert_eq!(c.server.send_window(StreamId::new(1)), 100);
    c.feed(&frame(SETTINGS, 0, 0, &[0, 4, 0, 0, 0, 0]));
    assert_eq!(c.server.send_window(StreamId::new(1)), 0);
    // Growing a stream window past 2^31-1 through SETTINGS is a connection error.
    c.feed(&frame(WINDOW_UPDATE, 0, 1, &[0x7f, 0xff, 0xff, 0xff]));
    assert_connection_error(
        &mut c,
        &frame(SETTINGS, 0, 0, &[0, 4, 0, 0, 0, 1]),
        FLOW_CONTROL_ERROR,
    );
}

#[test]
fn zero_window_increment_is_a_stream_or_connection_error() {
    let mut c = RawClient::default_server();
    assert_connection_error(&mut c, &frame(WINDOW_UPDATE, 0, 0, &[0; 4]), PROTOCOL_ERROR);

    let mut c = RawClient::default_server();
    let block = c.post_block(&[]);
    c.feed(&frame(HEADERS, END_HEADERS, 1, &block));
    assert_stream_error(
        &mut c,
        &frame(WINDOW_UPDATE, 0, 1, &[0; 4]),
        1,
        PROTOCOL_ERROR,
    );
}

#[test]
fn window_overflow_is_a_flow_control_error() {
    let mut c = RawClient::default_server();
    let max = [0x7f, 0xff, 0xff, 0xff];
    assert_connection_error(
        &mut c,
        &frame(WINDOW_UPDATE, 0, 0, &max),
        FLOW_CONTROL_ERROR,
    );

    let mut c = RawClient::default_server();
    let block = c.post_block(&[]);
    c.feed(&frame(HEADERS, END_HEADERS, 1, &block));
    assert_stream_error(
        &mut c,
        &frame(WINDOW_UPDATE, 0, 1, &max),
        1,
        FLOW_CONTROL_ERROR,
    );
}

#[test]
fn data_beyond_our_stream_window_is_a_flow_control_error() {
    let mut c = RawClient::new(h2_config(|h| h.initial_window_size = 10));
    let block = c.post_block(&[]);
    c.feed(&frame(HEADERS, END_HEADERS, 1, &block));
    assert_stream_error(&mut c, &frame(DATA, 0, 1, &[0; 11]), 1, FLOW_CONTROL_ERROR);
}

#[test]
fn data_beyond_our_connection_window_is_a_connection_error() {
    let mut c = RawClient::new(h2_config(|h| {
        h.connection_window = 65_535;
        h.auto_acknowledge = false;
        h.max_frame_size = 70_000;
    }));
    let block = c.post_block(&[]);
    c.feed(&frame(HEADERS, END_HEADERS, 1, &block));
    c.feed(&frame(DATA, 0, 1, &[0; 60_000]));
    assert_connection_error(&mut c, &frame(DATA, 0, 1, &[0; 6_000]), FLOW_CONTROL_ERROR);
}

#[test]
fn padding_counts_against_flow_control_and_is_given_back() {
    let mut c = RawClient::new(h2_config(|h| {
        h.auto_acknowledge = false;
        h.connection_window = 65_535;
        h.initial_window_size = 65_535;
    }));
    let block = c.post_block(&[]);
    c.feed(&frame(HEADERS, END_HEADERS, 1, &block));
    let mut payload = vec![200u8];
    payload.extend_from_slice(b"abc");
    payload.extend_from_slice(&[0; 200]);
    let mut total = 0;
    // Mostly padding: the engine gives padding back without being asked.
    for _ in 0..400 {
        let (events, _) = c.feed(&frame(DATA, PADDED, 1, &payload));
        assert!(events.iter().all(|e| e.is_ok()), "{events:?}");
        for e in events {
            if let Ok(Event::Data(d)) = e {
                total += d.data.len();
                assert_eq!(&d.data[..], b"abc");
            }
        }
    }
    assert_eq!(total, 1200);
}

#[test]
fn padding_longer_than_the_frame_is_a_connection_error() {
    let mut c = RawClient::default_server();
    let block = c.post_block(&[]);
    c.feed(&frame(HEADERS, END_HEADERS, 1, &block));
    assert_connection_error(&mut c, &frame(DATA, PADDED, 1, &[5, 0, 0]), PROTOCOL_ERROR);
}

#[test]
fn frames_above_our_max_frame_size_are_frame_size_errors() {
    let mut c = RawClient::default_server();
    let block = c.post_block(&[]);
    c.feed(&frame(HEADERS, END_HEADERS, 1, &block));
    assert_connection_error(&mut c, &frame(DATA, 0, 1, &[0; 16_385]), FRAME_SIZE_ERROR);
}

#[test]
fn header_block_must_not_be_interleaved() {
    let mut c = RawClient::default_server();
    let block = c.get_block(&[]);
    c.feed(&frame(HEADERS, END_STREAM, 1, &block[..2]));
    assert_connection_error(&mut c, &frame(PING, 0, 0, &[0; 8]), PROTOCOL_ERROR);

    let mut c = RawClient::default_server();
    let block = c.get_block(&[]);
    c.feed(&frame(HEADERS, END_STREAM, 1, &block[..2]));
    assert_connection_error(
        &mut c,
        &frame(CONTINUATION, END_HEADERS, 3, &block[2..]),
        PROTOCOL_ERROR,
    );
}

#[test]
fn header_block_may_span_continuation_frames() {
    let mut c = RawClient::default_server();
    let block = c.get_block(&[("x-a", "1")]);
    let (events, _) = c.feed(&frame(HEADERS, END_STREAM, 1, &block[..3]));
    assert!(events.is_empty());
    let (events, _) = c.feed(&frame(CONTINUATION, 0, 1, &block[3..5]));
    assert!(events.is_empty());
    let (events, _) = c.feed(&frame(CONTINUATION, END_HEADERS, 1, &block[5..]));
    assert!(matches!(&events[0], Ok(Event::Request(r)) if r.headers.get(b"x-a").unwrap() == "1"));
}

#[test]
fn invalid_hpack_is_a_compression_error() {
    let mut c = RawClient::default_server();
    assert_connection_error(
        &mut c,
        &frame(
            HEADERS,
            END_HEADERS,
            1,
            &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        ),
        COMPRESSION_ERROR,
    );
}

#[test]
fn header_list_above_our_limit_is_answered_431() {
    let mut config = h2_config(|_| {});
    config.limits.max_head_size = 1000;
    let mut c = RawClient::new(config);
    let big = "x".repeat(2000);
    let block = c.get_block(&[("x-big", &big)]);
    let (events, frames) = c.feed(&frame(HEADERS, END_HEADERS | END_STREAM, 1, &block));
    assert!(events.is_empty(), "{events:?}");
    assert!(
        frames.iter().any(|f| f.kind == HEADERS && f.stream_id == 1),
        "{frames:?}"
    );
    assert!(goaway(&frames).is_none());
    // The HPACK state stayed in step: the next request decodes.
    let block = c.get_block(&[]);
    let (events, _) = c.feed(&frame(HEADERS, END_HEADERS | END_STREAM, 3, &block));
    assert!(matches!(&events[0], Ok(Event::Request(r)) if r.stream_id == 3));
}

#[test]
fn push_promise_to_a_server_is_a_protocol_error() {
    let mut c = RawClient::default_server();
    assert_connection_error(
        &mut c,
        &frame(PUSH_PROMISE, END_HEADERS, 1, &[0, 0, 0, 2]),
        PROTOCOL_ERROR,
    );
}

#[test]
fn push_promise_is_refused_by_a_default_client() {
    let mut pair = Pair::default_pair();
    pair.drive();
    let mut req = zttp_core::Request::new("GET", "/");
    req.stream_id = StreamId::new(1);
    pair.client.send(req).unwrap();
    pair.client
        .receive_data(&frame(PUSH_PROMISE, END_HEADERS, 1, &[0, 0, 0, 2, 0x82]));
    assert_eq!(
        poll_all(&mut pair.client).last(),
        Some(&Err(h2_error(PROTOCOL_ERROR)))
    );
}

#[test]
fn unknown_frame_types_are_ignored() {
    let mut c = RawClient::default_server();
    let (events, frames) = c.feed(&frame(0xfa, 0xff, 0, b"whatever"));
    assert!(events.is_empty() && frames.is_empty());
}

#[test]
fn priority_is_validated_then_ignored() {
    let mut c = RawClient::default_server();
    let (events, frames) = c.feed(&frame(PRIORITY, 0, 3, &[0, 0, 0, 1, 16]));
    assert!(events.is_empty() && frames.is_empty());
    assert_stream_error(
        &mut c,
        &frame(PRIORITY, 0, 5, &[0, 0, 0, 5, 16]),
        5,
        PROTOCOL_ERROR,
    );
    assert_stream_error(
        &mut c,
        &frame(PRIORITY, 0, 7, &[0, 0, 0, 1]),
        7,
        FRAME_SIZE_ERROR,
    );
    assert_connection_error(
        &mut c,
        &frame(PRIORITY, 0, 0, &[0, 0, 0, 1, 16]),
        PROTOCOL_ERROR,
    );
}

#[test]
fn ping_with_wrong_length_is_a_frame_size_error() {
    let mut c = RawClient::default_server();
    assert_connection_error(&mut c, &frame(PING, 0, 0, &[0; 7]), FRAME_SIZE_ERROR);
}

#[test]
fn streams_beyond_our_concurrency_limit_are_refused() {
    let mut c = RawClient::new(h2_config(|h| h.max_concurrent_streams = 2));
    for id in [1, 3] {
        let block = c.get_block(&[]);
        c.feed(&frame(HEADERS, END_HEADERS | END_STREAM, id, &block));
    }
    let block = c.get_block(&[]);
    assert_stream_error(
        &mut c,
        &frame(HEADERS, END_HEADERS | END_STREAM, 5, &block),
        5,
        REFUSED_STREAM,
    );
    assert_eq!(c.server.open_streams(), 2);
}

#[test]
fn peer_goaway_is_reported() {
    let mut c = RawClient::default_server();
    let (events, _) = c.feed(&frame(
        GOAWAY,
        0,
        0,
        &[0, 0, 0, 0, 0, 0, 0, 0, b'b', b'y', b'e'],
    ));
    assert_eq!(
        events,
        [Ok(Event::GoAway {
            last_stream_id: StreamId::ZERO,
            error_code: ErrorCode::NO_ERROR,
            debug_data: "bye".into()
        })]
    );
    assert!(c.server.should_close());
}

#[test]
fn peer_closing_the_transport_ends_the_connection() {
    let mut c = RawClient::default_server();
    c.server.receive_data(&[]);
    assert_eq!(c.server.next_event(), Ok(Event::ConnectionClosed));
    assert!(c.server.should_close());
}
