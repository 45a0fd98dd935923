//! A client and a server `Connection` talking HTTP/2 in memory.

#[path = "h2_support.rs"]
mod support;

use bytes::Bytes;
use support::*;
use zttp_core::Framing;
use zttp_core::StreamId;
use zttp_core::{
    Data, EndOfMessage, ErrorCode, Event, Headers, LocalProtocolError, Request, Response, Version,
};

fn request(pair: &mut Pair, method: &str, path: &str) -> StreamId {
    let id = pair.client.next_stream_id().unwrap();
    let mut req = Request::new(method.to_string(), path.to_string())
        .with_header("Host", "example.com")
        .with_header("X-Trace", "abc");
    req.stream_id = id;
    pair.client.send(req).unwrap();
    id
}

#[test]
fn get_request_and_response_round_trip() {
    let mut pair = Pair::default_pair();
    let id = request(&mut pair, "GET", "/hello?x=1");
    pair.client
        .send(EndOfMessage {
            stream_id: id,
            ..Default::default()
        })
        .unwrap();
    let (_, server_events) = pair.drive();
    let events = messages(server_events);
    let Event::Request(req) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(req.stream_id, 1);
    assert_eq!(req.http_version, Version::Http2);
    assert_eq!(
        (&req.method[..], req.path(), req.query()),
        (&b"GET"[..], &b"/hello"[..], Some(&b"x=1"[..]))
    );
    assert_eq!(req.authority.as_deref(), Some(&b"example.com"[..]));
    assert_eq!(req.scheme.as_deref(), Some(&b"http"[..]));
    assert_eq!(req.headers.get(b"x-trace").unwrap(), "abc");
    assert!(!req.headers.contains(b"host"), "host became :authority");
    assert!(matches!(&events[1], Event::EndOfMessage(e) if e.stream_id == 1));

    let mut resp = Response::new(200).with_header("Content-Type", "text/plain");
    resp.stream_id = id;
    pair.server.send(resp).unwrap();
    pair.server
        .send(Data {
            stream_id: id,
            data: "hi".into(),
        })
        .unwrap();
    pair.server
        .send(EndOfMessage {
            stream_id: id,
            ..Default::default()
        })
        .unwrap();
    let (client_events, _) = pair.drive();
    let events = messages(client_events);
    let Event::Response(resp) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!((resp.status_code, resp.stream_id), (200, StreamId::new(1)));
    assert_eq!(resp.headers.get(b"content-type").unwrap(), "text/plain");
    assert_eq!(
        resp.headers.iter().next().unwrap().0,
        "content-type",
        "lowercased"
    );
    assert_eq!(
        events[1],
        Event::Data(Data {
            stream_id: StreamId::new(1),
            data: "hi".into()
        })
    );
    assert!(matches!(&events[2], Event::EndOfMessage(_)));
    assert_eq!(pair.client.open_streams(), 0);
    assert_eq!(pair.server.open_streams(), 0);
    assert!(!pair.client.should_close() && !pair.server.should_close());
}

#[test]
fn settings_are_exchanged_and_acknowledged() {
    let mut pair = Pair::default_pair();
    let (client_events, server_events) = pair.drive();
    for events in [client_events, server_events] {
        let events: Vec<Event> = events.into_iter().map(Result::unwrap).collect();
        assert!(events.iter().any(
            |e| matches!(e, Event::SettingsChanged(s) if s.max_concurrent_streams == Some(100))
        ));
        assert!(events.contains(&Event::SettingsAcknowledged));
    }
}

#[test]
fn ping_is_answered_automatically() {
    let mut pair = Pair::default_pair();
    pair.drive();
    pair.client.ping(*b"12345678").unwrap();
    let (client_events, _) = pair.drive();
    assert!(client_events.contains(&Ok(Event::PingAcknowledged(*b"12345678"))));
}

/// Sends `body` on `id` from `from` to `to`, respecting the send window and
/// (when `manual`) acknowledging what `to` receives; returns what arrived.
fn transfer(
    pair: &mut Pair,
    from_client: bool,
    id: StreamId,
    body: &Bytes,
    manual: bool,
) -> Vec<u8> {
    let mut sent = 0;
    let mut received = Vec::new();
    let mut ended = false;
    for _ in 0..100_000 {
        let (from, _) = if from_client {
            (&mut pair.client, &mut pair.server)
        } else {
            (&mut pair.server, &mut pair.client)
        };
        let window = from.send_window(id);
        let n = window.min(body.len() - sent).min(7000);
        if n > 0 {
            from.send(Data {
                stream_id: id,
                data: body.slice(sent..sent + n),
            })
            .unwrap();
            sent += n;
        }
        if sent == body.len() && !ended {
            from.send(EndOfMessage {
                stream_id: id,
                ..Default::default()
            })
            .unwrap();
            ended = true;
        }
        let (client_events, server_events) = pair.drive();
        let events = if from_client {
            server_events
        } else {
            client_events
        };
        let to = if from_client {
            &mut pair.server
        } else {
            &mut pair.client
        };
        let mut done = false;
        for e in events {
            match e.unwrap() {
                Event::Data(d) => {
                    assert_eq!(d.stream_id, id);
                    received.extend_from_slice(&d.data);
                    if manual {
                        to.acknowledge_received_data(id, d.data.len()).unwrap();
                    }
                }
                Event::EndOfMessage(_) => done = true,
                _ => {}
            }
        }
        if done {
            return received;
        }
    }
    panic!(
        "transfer stalled at {sent} sent, {} received",
        received.len()
    );
}

fn large_body_both_ways(auto_acknowledge: bool) {
    let small = |c: &mut zttp_core::Http2Config| {
        c.initial_window_size = 1000;
        c.connection_window = 65_535;
        c.auto_acknowledge = auto_acknowledge;
    };
    let mut pair = Pair::new(h2_config(small), h2_config(small));
    pair.drive();
    let body: Bytes = (0..1_000_000u32)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<_>>()
        .into();
    let id = request(&mut pair, "POST", "/echo");
    let got = transfer(&mut pair, true, id, &body, !auto_acknowledge);
    assert!(got == body[..], "request body arrived intact");

    let mut resp = Response::new(200);
    resp.stream_id = id;
    pair.server.send(resp).unwrap();
    pair.drive();
    let got = transfer(&mut pair, false, id, &body, !auto_acknowledge);
    assert!(got == body[..], "response body arrived intact");
    assert_eq!(pair.server.open_streams(), 0);
}

#[test]
fn large_body_both_ways_through_small_windows_auto_acknowledged() {
    large_body_both_ways(true);
}

#[test]
fn large_body_both_ways_through_small_windows_manually_acknowledged() {
    large_body_both_ways(false);
}

#[test]
fn without_acknowledgement_the_sender_stalls_at_the_window() {
    let cfg = |c: &mut zttp_core::Http2Config| {
        c.initial_window_size = 1000;
        c.auto_acknowledge = false;
    };
    let mut pair = Pair::new(h2_config(|_| {}), h2_config(cfg));
    pair.drive();
    let id = request(&mut pair, "POST", "/");
    pair.drive();
    assert_eq!(pair.client.send_window(id), 1000);
    let err = pair.client.send(Data {
        stream_id: id,
        data: vec![0u8; 1001].into(),
    });
    assert_eq!(err, Err(LocalProtocolError::FlowControlWindowExceeded));
    pair.client
        .send(Data {
            stream_id: id,
            data: vec![0u8; 1000].into(),
        })
        .unwrap();
    assert_eq!(pair.client.send_window(id), 0);
    pair.drive();
    assert_eq!(pair.client.send_window(id), 0, "nothing acknowledged yet");
    pair.server.acknowledge_received_data(id, 1000).unwrap();
    let (client_events, _) = pair.drive();
    assert!(client_events.contains(&Ok(Event::WindowUpdated {
        stream_id: id,
        increment: 1000
    })));
    assert_eq!(pair.client.send_window(id), 1000);
}

#[test]
fn trailers_travel_both_ways() {
    let mut pair = Pair::default_pair();
    let id = request(&mut pair, "POST", "/");
    pair.client
        .send(Data {
            stream_id: id,
            data: "body".into(),
        })
        .unwrap();
    pair.client
        .send(EndOfMessage {
            stream_id: id,
            trailers: Headers::new().with("X-Checksum", "42"),
        })
        .unwrap();
    let (_, server_events) = pair.drive();
    let events = messages(server_events);
    assert!(
        matches!(events.last(), Some(Event::EndOfMessage(e)) if e.trailers.get(b"x-checksum").unwrap() == "42")
    );

    let mut resp = Response::new(200);
    resp.stream_id = id;
    pair.server.send(resp).unwrap();
    pair.server
        .send(EndOfMessage {
            stream_id: id,
            trailers: Headers::new().with("grpc-status", "0"),
        })
        .unwrap();
    let (client_events, _) = pair.drive();
    let events = messages(client_events);
    assert!(
        matches!(&events[1], Event::EndOfMessage(e) if e.trailers.get(b"grpc-status").unwrap() == "0")
    );
}

#[test]
fn informational_responses_precede_the_final_one() {
    let mut pair = Pair::default_pair();
    let id = pair.client.next_stream_id().unwrap();
    let mut req = Request::new("PUT", "/big").with_header("Expect", "100-continue");
    req.stream_id = id;
    pair.client.send(req).unwrap();
    let (_, server_events) = pair.drive();
    let events = messages(server_events);
    assert!(matches!(&events[0], Event::Request(r) if r.expect_continue));
    pair.server.send_informational(id, 100, []).unwrap();
    let mut early = Response::new(103).with_header("link", "</style.css>");
    early.stream_id = id;
    pair.server.send(early).unwrap();
    let (client_events, _) = pair.drive();
    let events = messages(client_events);
    let codes: Vec<u16> = events
        .iter()
        .map(|e| match e {
            Event::InformationalResponse(r) => r.status_code,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(codes, [100, 103]);
}

#[test]
fn large_header_block_is_split_into_continuation_frames() {
    let mut pair = Pair::default_pair();
    pair.drive();
    let id = pair.client.next_stream_id().unwrap();
    let big = "v".repeat(40_000);
    let mut req = Request::new("GET", "/").with_header("x-big", big.clone());
    req.stream_id = id;
    pair.client.send(req).unwrap();
    let wire = pair.client.data_to_send();
    let frames = parse_frames(&wire);
    assert!(
        frames.iter().filter(|f| f.kind == CONTINUATION).count() >= 2,
        "{frames:?}"
    );
    pair.server.receive_data(&wire);
    let events = messages(poll_all(&mut pair.server));
    assert!(
        matches!(&events[0], Event::Request(r) if r.headers.get(b"x-big").unwrap() == &big[..])
    );
}

#[test]
fn graceful_goaway_lets_open_streams_finish_and_refuses_new_ones() {
    let mut pair = Pair::default_pair();
    let id = request(&mut pair, "GET", "/");
    pair.client
        .send(EndOfMessage {
            stream_id: id,
            ..Default::default()
        })
        .unwrap();
    pair.drive();
    pair.server.goaway(ErrorCode::NO_ERROR, b"").unwrap();
    assert!(!pair.server.should_close(), "stream 1 still open");
    let (client_events, _) = pair.drive();
    assert!(client_events.contains(&Ok(Event::GoAway {
        last_stream_id: StreamId::new(1),
        error_code: ErrorCode::NO_ERROR,
        debug_data: Bytes::new()
    })));
    let mut req = Request::new("GET", "/");
    req.stream_id = pair.client.next_stream_id().unwrap();
    assert_eq!(
        pair.client.send(req),
        Err(LocalProtocolError::ConnectionClosed)
    );

    let mut resp = Response::new(204);
    resp.stream_id = id;
    pair.server.send(resp).unwrap();
    pair.server
        .send(EndOfMessage {
            stream_id: id,
            ..Default::default()
        })
        .unwrap();
    let (client_events, _) = pair.drive();
    assert!(messages(client_events)
        .iter()
        .any(|e| matches!(e, Event::EndOfMessage(_))));
    assert!(pair.server.should_close());
    assert!(pair.client.should_close());
}

#[test]
fn goaway_reports_unprocessed_client_streams_as_refused() {
    let mut pair = Pair::default_pair();
    let first = request(&mut pair, "GET", "/");
    pair.drive();
    pair.server.goaway(ErrorCode::NO_ERROR, b"bye").unwrap();
    // Stream 3 crosses the GOAWAY on the wire.
    let second = request(&mut pair, "GET", "/");
    let (client_events, server_events) = pair.drive();
    assert!(!messages(server_events)
        .iter()
        .any(|e| e.stream_id() == second));
    assert!(client_events.contains(&Ok(Event::StreamReset {
        stream_id: second,
        error_code: ErrorCode::REFUSED_STREAM,
        remote: true
    })));
    assert_eq!(pair.client.open_streams(), 1);
    assert_eq!(first, 1);
}

#[test]
fn client_reset_reaches_the_server_as_stream_reset() {
    let mut pair = Pair::default_pair();
    let id = request(&mut pair, "GET", "/slow");
    pair.drive();
    pair.client.reset_stream(id, ErrorCode::CANCEL).unwrap();
    let (_, server_events) = pair.drive();
    assert!(server_events.contains(&Ok(Event::StreamReset {
        stream_id: id,
        error_code: ErrorCode::CANCEL,
        remote: true
    })));
    let mut resp = Response::new(200);
    resp.stream_id = id;
    assert_eq!(
        pair.server.send(resp),
        Err(LocalProtocolError::InvalidStream)
    );
}

#[test]
fn request_ids_must_follow_next_stream_id() {
    let mut pair = Pair::default_pair();
    let mut req = Request::new("GET", "/");
    req.stream_id = StreamId::new(3);
    assert_eq!(
        pair.client.send(req.clone()),
        Err(LocalProtocolError::InvalidStream)
    );
    req.stream_id = StreamId::new(1);
    pair.client.send(req.clone()).unwrap();
    assert_eq!(pair.client.next_stream_id(), Ok(StreamId::new(3)));
    assert_eq!(pair.server.send(req), Err(LocalProtocolError::WrongRole));
}

#[test]
fn peer_max_concurrent_streams_limits_new_requests() {
    let mut pair = Pair::new(
        h2_config(|_| {}),
        h2_config(|c| c.max_concurrent_streams = 1),
    );
    pair.drive();
    request(&mut pair, "GET", "/");
    let mut req = Request::new("GET", "/");
    req.stream_id = pair.client.next_stream_id().unwrap();
    assert_eq!(
        pair.client.send(req),
        Err(LocalProtocolError::TooManyStreams)
    );
}

#[test]
fn auto_protocol_server_detects_the_preface() {
    let server_cfg = zttp_core::Config::default().protocol(zttp_core::Protocol::Auto);
    let mut pair = Pair::new(h2_config(|_| {}), server_cfg);
    let id = request(&mut pair, "GET", "/");
    pair.client
        .send(EndOfMessage {
            stream_id: id,
            ..Default::default()
        })
        .unwrap();
    let (_, server_events) = pair.drive();
    assert_eq!(pair.server.protocol(), zttp_core::Protocol::Http2);
    assert!(
        matches!(&messages(server_events)[0], Event::Request(r) if r.http_version == Version::Http2)
    );
}

/// The framing of the first request and response heads each side reads.
fn framings(end_with_head: bool, method: &str, fields: &[(&str, &str)]) -> (Framing, Framing) {
    let mut pair = Pair::default_pair();
    let id = pair.client.next_stream_id().unwrap();
    let mut req = Request::new(method.to_string(), "/").with_header("Host", "a");
    for (n, v) in fields {
        req = req.with_header(n.to_string(), v.to_string());
    }
    req.stream_id = id;
    pair.client.send(req).unwrap();
    if end_with_head {
        pair.client
            .send(EndOfMessage {
                stream_id: id,
                ..Default::default()
            })
            .unwrap();
    }
    let (_, server_events) = pair.drive();
    let Event::Request(req) = &messages(server_events)[0] else {
        panic!()
    };
    let mut resp = Response::new(200);
    resp.stream_id = id;
    for (n, v) in fields {
        resp = resp.with_header(n.to_string(), v.to_string());
    }
    pair.server.send(resp).unwrap();
    let (client_events, _) = pair.drive();
    let Event::Response(resp) = &messages(client_events)[0] else {
        panic!()
    };
    (req.framing, resp.framing)
}

#[test]
fn heads_say_how_their_body_is_framed() {
    assert_eq!(
        framings(true, "GET", &[]),
        (Framing::Empty, Framing::Chunked),
        "HEADERS with END_STREAM: no body"
    );
    assert_eq!(
        framings(false, "POST", &[("content-length", "7")]),
        (Framing::Length(7), Framing::Length(7))
    );
    assert_eq!(
        framings(false, "POST", &[("content-length", "0")]),
        (Framing::Empty, Framing::Empty)
    );
    assert_eq!(
        framings(false, "HEAD", &[("content-length", "7")]).1,
        Framing::Empty,
        "a response to HEAD has no body"
    );
}

#[test]
fn the_head_size_limit_is_announced_as_the_header_list_size() {
    let mut config = h2_config(|_| {});
    config.limits.max_head_size = 1234;
    let mut pair = Pair::new(h2_config(|_| {}), config);
    let (client_events, _) = pair.drive();
    let announced = client_events.iter().find_map(|e| match e {
        Ok(Event::SettingsChanged(s)) => Some(*s),
        _ => None,
    });
    assert_eq!(announced.unwrap().max_header_list_size, Some(1234));
}

#[test]
fn a_response_head_from_borrowed_fields_is_checked_like_an_owned_one() {
    let mut pair = Pair::default_pair();
    let id = request(&mut pair, "GET", "/");
    pair.client
        .send(EndOfMessage {
            stream_id: id,
            ..Default::default()
        })
        .unwrap();
    pair.drive();
    let bad = [(&b"x-bad"[..], &b"a\r\nb"[..])];
    assert_eq!(
        pair.server.send_response_head(id, 200, bad),
        Err(LocalProtocolError::InvalidHeader)
    );
    assert_eq!(
        pair.server.pending_send_len(),
        0,
        "a refused head queues nothing"
    );
    let fields = [
        (&b"content-length"[..], &b" 2 "[..]),
        (b"connection", b"close"),
        (b"x-mixed", b"v"),
        (b"x-lower", b" w "),
    ];
    pair.server.send_response_head(id, 200, fields).unwrap();
    assert_eq!(
        pair.server.send(Data {
            stream_id: id,
            data: "abc".into()
        }),
        Err(LocalProtocolError::TooMuchData)
    );
    pair.server
        .send(Data {
            stream_id: id,
            data: "ab".into(),
        })
        .unwrap();
    pair.server
        .send(EndOfMessage {
            stream_id: id,
            ..Default::default()
        })
        .unwrap();
    let (client_events, _) = pair.drive();
    let events = messages(client_events);
    let Event::Response(resp) = &events[0] else {
        panic!("{events:?}")
    };
    let fields: Vec<_> = resp.headers.iter().map(|(n, v)| (&n[..], &v[..])).collect();
    assert_eq!(
        fields,
        [
            (&b"content-length"[..], &b"2"[..]),
            (b"x-mixed", b"v"),
            (b"x-lower", b"w")
        ]
    );
    assert_eq!(resp.framing, Framing::Length(2));
}
