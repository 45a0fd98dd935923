//! Each defence against abusive peers trips its GOAWAY(ENHANCE_YOUR_CALM), and
//! honest traffic does not.

#[path = "h2_support.rs"]
mod support;

use support::*;
use zttp_core::StreamId;
use zttp_core::{EndOfMessage, ErrorCode, Event, RemoteErrorKind, RemoteProtocolError, Response};

const ENHANCE_YOUR_CALM: u32 = 0xb;

fn calm() -> RemoteProtocolError {
    RemoteErrorKind::Http2(ErrorCode::ENHANCE_YOUR_CALM).into()
}

/// Feeds frames made by `make(i)` until the server answers GOAWAY; returns how many it took.
fn frames_until_goaway(
    c: &mut RawClient,
    limit: u32,
    mut make: impl FnMut(&mut RawClient, u32) -> Vec<u8>,
) -> Option<u32> {
    for i in 0..limit {
        let bytes = make(c, i);
        let (events, frames) = c.feed(&bytes);
        if let Some(g) = goaway(&frames) {
            assert_eq!(g.error_code(), ENHANCE_YOUR_CALM);
            assert_eq!(events.last(), Some(&Err(calm())));
            assert!(c.server.should_close());
            return Some(i + 1);
        }
    }
    None
}

#[test]
fn rapid_reset_trips_enhance_your_calm() {
    let mut c = RawClient::new(h2_config(|h| h.max_remote_resets = 10));
    let n = frames_until_goaway(&mut c, 100, |c, i| {
        let id = 2 * i + 1;
        let mut bytes = frame(HEADERS, END_HEADERS | END_STREAM, id, &c.get_block(&[]));
        bytes.extend(frame(RST_STREAM, 0, id, &[0, 0, 0, 8]));
        bytes
    });
    assert_eq!(n, Some(11));
}

#[test]
fn completed_streams_refill_the_reset_budget() {
    let mut c = RawClient::new(h2_config(|h| h.max_remote_resets = 3));
    for i in 0..50u32 {
        let id = 4 * i + 1;
        // One cancelled stream...
        let block = c.get_block(&[]);
        c.feed(&frame(HEADERS, END_HEADERS | END_STREAM, id, &block));
        let (_, frames) = c.feed(&frame(RST_STREAM, 0, id, &[0, 0, 0, 8]));
        assert!(goaway(&frames).is_none(), "tripped at {i}");
        // ...and one answered.
        let block = c.get_block(&[]);
        c.feed(&frame(HEADERS, END_HEADERS | END_STREAM, id + 2, &block));
        let mut resp = Response::new(204);
        resp.stream_id = StreamId::new(id + 2);
        c.server.send(resp).unwrap();
        c.server
            .send(EndOfMessage {
                stream_id: StreamId::new(id + 2),
                ..Default::default()
            })
            .unwrap();
    }
}

#[test]
fn made_you_reset_trips_enhance_your_calm() {
    let mut c = RawClient::new(h2_config(|h| h.max_local_resets = 5));
    // Each request provokes a stream error from us (zero window increment).
    let n = frames_until_goaway(&mut c, 100, |c, i| {
        let id = 2 * i + 1;
        let mut bytes = frame(HEADERS, END_HEADERS, id, &c.post_block(&[]));
        bytes.extend(frame(WINDOW_UPDATE, 0, id, &[0; 4]));
        bytes
    });
    assert_eq!(n, Some(6));
}

#[test]
fn malformed_request_flood_trips_enhance_your_calm() {
    let mut c = RawClient::new(h2_config(|h| h.max_local_resets = 5));
    let n = frames_until_goaway(&mut c, 100, |c, i| {
        frame(
            HEADERS,
            END_HEADERS | END_STREAM,
            2 * i + 1,
            &c.get_block(&[("connection", "x")]),
        )
    });
    assert_eq!(n, Some(6));
}

#[test]
fn continuation_flood_trips_enhance_your_calm() {
    let mut c = RawClient::new(h2_config(|h| h.max_continuation_frames = 8));
    let block = c.get_block(&[]);
    c.feed(&frame(HEADERS, 0, 1, &block));
    let n = frames_until_goaway(&mut c, 100, |_, _| frame(CONTINUATION, 0, 1, &[]));
    assert_eq!(n, Some(9));
}

#[test]
fn header_block_bytes_are_capped_before_decoding() {
    let mut config = h2_config(|h| h.max_continuation_frames = 10_000);
    config.limits.max_head_size = 4096;
    let mut c = RawClient::new(config);
    c.feed(&frame(HEADERS, 0, 1, &[0x40; 1000]));
    let n = frames_until_goaway(&mut c, 1000, |_, _| {
        frame(CONTINUATION, 0, 1, &[0x40; 1000])
    });
    assert!(n.is_some_and(|n| n <= 21), "{n:?}");
}

#[test]
fn hpack_bomb_is_refused_without_killing_the_connection() {
    let mut config = h2_config(|_| {});
    config.limits.max_head_size = 8 * 1024;
    let mut c = RawClient::new(config);
    // GET http / plus one 4000-byte field added to the dynamic table...
    let mut first = vec![0x82, 0x86, 0x84, 0x40, 6];
    first.extend_from_slice(b"x-bomb");
    first.extend_from_slice(&[0x7f, 0xa1, 0x1e]);
    first.extend_from_slice(&[b'b'; 4000]);
    let (events, frames) = c.feed(&frame(HEADERS, END_HEADERS | END_STREAM, 1, &first));
    assert!(goaway(&frames).is_none(), "{frames:?}");
    assert!(
        matches!(&events[0], Ok(Event::Request(r)) if r.headers.get(b"x-bomb").unwrap().len() == 4000)
    );
    // ...then a 103-byte block that refers to it 100 times: 400 KB decoded.
    let mut bomb = vec![0x82, 0x86, 0x84];
    bomb.extend_from_slice(&[0xbe; 100]);
    let (events, frames) = c.feed(&frame(HEADERS, END_HEADERS | END_STREAM, 3, &bomb));
    assert!(events.iter().all(|e| e.is_ok()), "{events:?}");
    assert!(goaway(&frames).is_none());
    assert!(!events
        .iter()
        .any(|e| matches!(e, Ok(Event::Request(r)) if r.stream_id == 3)));
    // The table is still in step: a reference to the entry decodes on the next stream.
    let (events, _) = c.feed(&frame(
        HEADERS,
        END_HEADERS | END_STREAM,
        5,
        &[0x82, 0x86, 0x84, 0xbe],
    ));
    assert!(matches!(&events[0], Ok(Event::Request(r)) if r.stream_id == 5));
}

#[test]
fn ping_flood_trips_enhance_your_calm() {
    let mut c = RawClient::new(h2_config(|h| h.max_control_frames = 20));
    let n = frames_until_goaway(&mut c, 100, |_, _| frame(PING, 0, 0, &[0; 8]));
    assert_eq!(n, Some(21));
}

#[test]
fn settings_flood_trips_enhance_your_calm() {
    let mut c = RawClient::new(h2_config(|h| h.max_control_frames = 20));
    let n = frames_until_goaway(&mut c, 100, |_, _| frame(SETTINGS, 0, 0, &[]));
    assert_eq!(n, Some(21));
}

#[test]
fn empty_data_flood_trips_enhance_your_calm() {
    let mut c = RawClient::new(h2_config(|h| h.max_control_frames = 20));
    let block = c.post_block(&[]);
    c.feed(&frame(HEADERS, END_HEADERS, 1, &block));
    let n = frames_until_goaway(&mut c, 100, |_, _| frame(DATA, 0, 1, &[]));
    assert_eq!(n, Some(21));
}

#[test]
fn priority_flood_trips_enhance_your_calm() {
    let mut c = RawClient::new(h2_config(|h| h.max_control_frames = 20));
    let n = frames_until_goaway(&mut c, 100, |_, i| {
        frame(PRIORITY, 0, 2 * i + 1, &[0, 0, 0, 0, 16])
    });
    assert_eq!(n, Some(21));
}

#[test]
fn control_budget_refills_with_real_requests() {
    let mut c = RawClient::new(h2_config(|h| h.max_control_frames = 20));
    for i in 0..20u32 {
        let mut bytes = Vec::new();
        for _ in 0..10 {
            bytes.extend(frame(PING, 0, 0, &[0; 8]));
        }
        bytes.extend(frame(
            HEADERS,
            END_HEADERS | END_STREAM,
            2 * i + 1,
            &c.get_block(&[]),
        ));
        let (_, frames) = c.feed(&bytes);
        assert!(goaway(&frames).is_none(), "tripped at round {i}");
    }
}
