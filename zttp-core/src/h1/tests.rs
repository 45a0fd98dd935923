//! Table tests for the HTTP/1.1 rules, one behaviour per test.

use bytes::Bytes;

use crate::StreamId;
use crate::{
    Config, Connection, Data, EndOfMessage, Event, Headers, Leniency, Limits, LocalProtocolError,
    RemoteErrorKind, RemoteProtocolError, Request, Response, Role, Version,
};

fn server() -> Connection {
    Connection::new(Role::Server)
}

/// Feeds `input` to a fresh server and collects events up to the first
/// `NeedData`/`Paused`, or the error.
fn events(conn: &mut Connection, input: &[u8]) -> Result<Vec<Event>, RemoteProtocolError> {
    conn.receive_data(input);
    let mut out = Vec::new();
    loop {
        match conn.next_event()? {
            Event::NeedData | Event::Paused => return Ok(out),
            ev => out.push(ev),
        }
    }
}

fn serve(input: &[u8]) -> Result<Vec<Event>, RemoteProtocolError> {
    events(&mut server(), input)
}

fn reject(input: &[u8]) -> RemoteErrorKind {
    match serve(input) {
        Err(e) => e.kind(),
        other => panic!(
            "expected a rejection of {:?}, got {other:?}",
            String::from_utf8_lossy(input)
        ),
    }
}

fn request(ev: &Event) -> &Request {
    match ev {
        Event::Request(r) => r,
        other => panic!("not a request: {other:?}"),
    }
}

fn body(evs: &[Event]) -> Vec<u8> {
    evs.iter()
        .filter_map(|e| match e {
            Event::Data(d) => Some(&d.data[..]),
            _ => None,
        })
        .flatten()
        .copied()
        .collect()
}

macro_rules! rejects {
    ($($name:ident: $input:expr => $kind:ident;)*) => {$(
        #[test]
        fn $name() {
            assert_eq!(reject($input), RemoteErrorKind::$kind);
        }
    )*};
}

rejects! {
    rejects_content_length_with_transfer_encoding:
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n" => ContentLengthWithTransferEncoding;
    rejects_conflicting_content_lengths:
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n" => ConflictingContentLength;
    rejects_signed_content_length:
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +3\r\n\r\n" => InvalidContentLength;
    rejects_empty_content_length:
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length:\r\n\r\n" => InvalidContentLength;
    rejects_overflowing_content_length:
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n" => InvalidContentLength;
    rejects_chunked_not_final_in_request:
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n" => InvalidTransferEncoding;
    rejects_chunked_applied_twice:
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" => InvalidTransferEncoding;
    answers_501_to_unknown_transfer_coding:
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n" => UnsupportedTransferEncoding;
    rejects_transfer_encoding_in_http10:
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n" => TransferEncodingInHttp10;
    rejects_missing_host_on_http11:
        b"GET / HTTP/1.1\r\n\r\n" => MissingHost;
    rejects_two_hosts:
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n" => InvalidHost;
    rejects_host_with_path:
        b"GET / HTTP/1.1\r\nHost: a/b\r\n\r\n" => InvalidHost;
    rejects_whitespace_before_colon:
        b"GET / HTTP/1.1\r\nHost : a\r\n\r\n" => WhitespaceBeforeColon;
    rejects_obs_fold_by_default:
        b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\n 2\r\n\r\n" => ObsFold;
    rejects_bare_lf_by_default:
        b"GET / HTTP/1.1\nHost: a\n\n" => BareLf;
    rejects_nul_in_header_value:
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\0b\r\n\r\n" => InvalidHeaderValue;
    rejects_non_token_header_name:
        b"GET / HTTP/1.1\r\nHost: a\r\nX(y): 1\r\n\r\n" => InvalidHeaderName;
    rejects_header_line_without_colon:
        b"GET / HTTP/1.1\r\nHost: a\r\nfoo\r\n\r\n" => MissingColon;
    closes_on_a_non_token_method:
        b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n" => NotHttp;
    rejects_double_space_in_request_line:
        b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n" => InvalidRequestLine;
    rejects_target_with_control_bytes:
        b"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n" => InvalidTarget;
    rejects_asterisk_target_except_for_options:
        b"GET * HTTP/1.1\r\nHost: a\r\n\r\n" => InvalidTarget;
    rejects_origin_form_for_connect:
        b"CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n" => InvalidTarget;
    rejects_relative_target:
        b"GET foo HTTP/1.1\r\nHost: a\r\n\r\n" => InvalidTarget;
    answers_505_to_http2_request_line:
        b"GET / HTTP/2.0\r\nHost: a\r\n\r\n" => UnsupportedVersion;
    rejects_malformed_version:
        b"GET / HTTP/1.1x\r\nHost: a\r\n\r\n" => InvalidVersion;
    rejects_chunk_size_with_0x_prefix:
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0x1\r\na\r\n0\r\n\r\n" => InvalidChunkSize;
    rejects_chunk_data_longer_than_its_size:
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n0\r\n\r\n" => InvalidChunkTerminator;
}

#[test]
fn error_statuses_match_the_rule_broken() {
    let cases: [(&[u8], u16); 4] = [
        (b"GET / HTTP/1.1\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        (b"GET / HTTP/3.0\r\nHost: a\r\n\r\n", 505),
        (b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
    ];
    for (input, status) in cases {
        match serve(input) {
            Err(e) => assert_eq!(e.status(), status),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn limits_hold_whole_or_byte_by_byte() {
    let limits = Limits::default()
        .max_request_line(20)
        .max_head_size(64)
        .max_headers(2);
    let cases: [(&[u8], RemoteErrorKind, u16); 3] = [
        (b"GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: a\r\n\r\n", RemoteErrorKind::RequestLineTooLong, 414),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\n\r\n", RemoteErrorKind::TooManyHeaders, 431),
        (b"GET / HTTP/1.1\r\nHost: a\r\nX: 111111111111111111111111111111111111111111111\r\n\r\n", RemoteErrorKind::HeadTooLarge, 431),
    ];
    for (input, kind, status) in cases {
        let config = Config::default().limits(limits.clone());
        for byte_at_a_time in [false, true] {
            let mut conn = Connection::with_config(Role::Server, config.clone());
            let result = if byte_at_a_time {
                input
                    .iter()
                    .map(|b| events(&mut conn, &[*b]))
                    .find(|r| r.is_err())
                    .unwrap_or(Ok(vec![]))
            } else {
                events(&mut conn, input)
            };
            match result {
                Err(e) => {
                    assert_eq!((e.kind(), e.status()), (kind, status), "{byte_at_a_time}");
                }
                other => panic!("{other:?}"),
            }
        }
    }
}

#[test]
fn oversized_head_is_refused_before_it_is_complete() {
    let config = Config::default().limits(Limits::default().max_head_size(100));
    let mut conn = Connection::with_config(Role::Server, config);
    let mut input = b"GET / HTTP/1.1\r\nHost: a\r\nX: ".to_vec();
    input.extend(std::iter::repeat_n(b'a', 200));
    assert_eq!(
        events(&mut conn, &input).unwrap_err(),
        RemoteErrorKind::HeadTooLarge.into()
    );
}

#[test]
fn body_over_the_limit_is_413() {
    let config = Config::default().limits(Limits::default().max_body_size(Some(4)));
    let mut conn = Connection::with_config(Role::Server, config.clone());
    let e = events(
        &mut conn,
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
    )
    .unwrap_err();
    assert!(matches!(e, e if e.status() == 413));
    let mut conn = Connection::with_config(Role::Server, config);
    let e = events(
        &mut conn,
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n3\r\nabc\r\n",
    )
    .unwrap_err();
    assert!(matches!(e, e if e.status() == 413));
}

#[test]
fn connection_stays_in_error_state_after_a_remote_error() {
    let mut conn = server();
    let first = events(&mut conn, b"GET / HTTP/1.1\r\n\r\n").unwrap_err();
    conn.receive_data(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(conn.next_event().unwrap_err(), first);
    assert!(conn.should_close());
    assert_eq!(
        conn.send(Data {
            stream_id: StreamId::ZERO,
            data: "x".into()
        }),
        Err(LocalProtocolError::ConnectionClosed)
    );
}

#[test]
fn parses_request_with_path_query_and_preserved_header_case() {
    let evs =
        serve(b"GET /a/b?x=1?y HTTP/1.1\r\nHost: a\r\nX-Custom: 1\r\nx-custom: 2\r\n\r\n").unwrap();
    let req = request(&evs[0]);
    assert_eq!(req.path(), b"/a/b");
    assert_eq!(req.query(), Some(&b"x=1?y"[..]));
    assert_eq!(req.http_version, Version::Http11);
    let names: Vec<_> = req.headers.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(names, ["Host", "X-Custom", "x-custom"]);
    assert!(matches!(evs[1], Event::EndOfMessage(_)));
}

#[test]
fn a_recycled_field_list_holds_the_next_request_heads_fields() {
    let mut conn = server();
    let answer = |conn: &mut Connection| {
        conn.send_response_head(StreamId::ZERO, 204, []).unwrap();
        conn.send(EndOfMessage::default()).unwrap();
        let _ = conn.data_to_send();
        conn.start_next_cycle().unwrap();
    };
    let evs = events(
        &mut conn,
        b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nX-B: 2\r\n\r\n",
    )
    .unwrap();
    let Event::Request(mut req) = evs.into_iter().next().unwrap() else {
        panic!("no request");
    };
    let drained: Vec<_> = req.headers.drain().collect();
    assert_eq!(drained.len(), 3);
    assert!(req.headers.is_empty() && req.headers.capacity() >= 3);
    let buffer = req.headers.capacity();
    conn.recycle_headers(req.headers);
    answer(&mut conn);
    // Fewer fields than the list has room for: filled in place, in order.
    let evs = events(&mut conn, b"GET / HTTP/1.1\r\nhost: b\r\nX-C: 3\r\n\r\n").unwrap();
    let req = request(&evs[0]);
    assert_eq!(req.headers.capacity(), buffer);
    let fields: Vec<_> = req
        .headers
        .iter()
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    assert_eq!(
        fields,
        [("host".into(), "b".into()), ("X-C".into(), "3".into())]
    );
    // Nothing handed back: the next head gets a list of its own.
    answer(&mut conn);
    let evs = events(&mut conn, b"GET / HTTP/1.1\r\nHost: c\r\n\r\n").unwrap();
    assert_eq!(request(&evs[0]).headers.get(b"host").unwrap(), "c");
    // Room for exactly its fields: a list kept for reuse holds no slack.
    assert_eq!(request(&evs[0]).headers.capacity(), 1);
    // A list with room for many fields is not kept; one with fields left is emptied.
    conn.recycle_headers(Headers::new().with("x", "1"));
    conn.recycle_headers((0..100).map(|i| (format!("x-{i}"), "v")).collect());
    answer(&mut conn);
    let evs = events(&mut conn, b"GET / HTTP/1.1\r\nHost: d\r\n\r\n").unwrap();
    let req = request(&evs[0]);
    assert_eq!(req.headers.len(), 1);
    assert!(req.headers.capacity() < 100);
}

#[test]
fn identical_content_lengths_merge() {
    let evs = serve(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\nContent-Length: 3\r\n\r\nabc",
    )
    .unwrap();
    assert_eq!(body(&evs), b"abc");
}

#[test]
fn accepts_request_target_forms() {
    for input in [
        &b"GET http://example.com/x HTTP/1.1\r\nHost: example.com\r\n\r\n"[..],
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
        b"OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n",
    ] {
        serve(input).unwrap();
    }
}

#[test]
fn chunked_body_surfaces_trailers() {
    let evs = serve(b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-Sum: 9\r\n\r\n").unwrap();
    assert_eq!(body(&evs), b"abc");
    let Event::EndOfMessage(end) = evs.last().unwrap() else {
        panic!()
    };
    assert_eq!(end.trailers.get(b"x-sum").unwrap(), "9");
}

#[test]
fn lenient_transfer_encoding_with_content_length_lets_chunked_win_and_closes() {
    let config =
        Config::default().leniency(Leniency::default().transfer_encoding_with_content_length(true));
    let mut conn = Connection::with_config(Role::Server, config);
    let evs = events(&mut conn, b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n").unwrap();
    assert_eq!(body(&evs), b"x");
    assert!(conn.should_close());
}

#[test]
fn lenient_bare_lf_is_accepted_when_enabled() {
    let config = Config::default().leniency(Leniency::default().bare_lf(true));
    let mut conn = Connection::with_config(Role::Server, config);
    let evs = events(&mut conn, b"GET / HTTP/1.1\nHost: a\n\n").unwrap();
    assert_eq!(request(&evs[0]).headers.get(b"host").unwrap(), "a");
}

#[test]
fn keep_alive_rules_for_http10_and_http11() {
    let cases: [(&[u8], bool); 4] = [
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", false),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
            true,
        ),
        (b"GET / HTTP/1.0\r\n\r\n", true),
        (b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n", false),
    ];
    for (input, close) in cases {
        let mut conn = server();
        events(&mut conn, input).unwrap();
        assert_eq!(
            conn.should_close(),
            close,
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn http10_keep_alive_is_confirmed_in_the_response() {
    let mut conn = server();
    events(
        &mut conn,
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    )
    .unwrap();
    conn.send(Response::new(200).with_header("Content-Length", "0"))
        .unwrap();
    conn.send(EndOfMessage::default()).unwrap();
    let wire = conn.data_to_send();
    assert!(
        wire.ends_with(b"Content-Length: 0\r\nConnection: keep-alive\r\n\r\n"),
        "{wire:?}"
    );
    conn.start_next_cycle().unwrap();
}

#[test]
fn pipelined_requests_wait_for_start_next_cycle() {
    let mut conn = server();
    let evs = events(
        &mut conn,
        b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
    )
    .unwrap();
    assert_eq!(evs.len(), 2);
    assert_eq!(request(&evs[0]).target, "/1");
    assert_eq!(conn.next_event().unwrap(), Event::Paused);
    assert_eq!(
        conn.start_next_cycle(),
        Err(LocalProtocolError::UnexpectedEvent)
    );
    conn.send(Response::new(200).with_header("Content-Length", "0"))
        .unwrap();
    conn.send(EndOfMessage::default()).unwrap();
    conn.start_next_cycle().unwrap();
    let evs = events(&mut conn, b"").unwrap();
    assert_eq!(request(&evs[0]).target, "/2");
}

#[test]
fn peer_closing_between_messages_is_connection_closed_and_mid_message_is_an_error() {
    let mut conn = server();
    conn.receive_data(b"");
    assert_eq!(conn.next_event().unwrap(), Event::ConnectionClosed);
    let mut conn = server();
    conn.receive_data(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nab");
    while let Ok(Event::Request(_) | Event::Data(_)) = conn.next_event() {}
    conn.receive_data(b"");
    assert_eq!(
        conn.next_event().unwrap_err(),
        RemoteErrorKind::IncompleteMessage.into()
    );
}

#[test]
fn expect_continue_is_flagged_and_100_can_be_sent() {
    let mut conn = server();
    let evs = events(
        &mut conn,
        b"POST / HTTP/1.1\r\nHost: a\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n",
    )
    .unwrap();
    assert!(request(&evs[0]).expect_continue);
    conn.send_informational(StreamId::ZERO, 100, []).unwrap();
    assert_eq!(&conn.data_to_send()[..], b"HTTP/1.1 100 Continue\r\n\r\n");
}

#[test]
fn upgrade_hands_off_the_bytes_after_the_head() {
    let mut conn = server();
    let evs = events(&mut conn, b"GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x05hello").unwrap();
    assert_eq!(evs.len(), 2);
    assert_eq!(conn.upgrade(), Some(&b"websocket"[..]));
    conn.send(
        Response::new(101)
            .with_header("Upgrade", "websocket")
            .with_header("Connection", "Upgrade"),
    )
    .unwrap();
    assert!(conn.switched_protocol());
    assert_eq!(
        conn.take_trailing_data(),
        Bytes::from_static(b"\x81\x05hello")
    );
}

#[test]
fn declined_upgrade_continues_as_http() {
    let mut conn = server();
    events(&mut conn, b"GET / HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: foo\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    conn.send(Response::new(200).with_header("Content-Length", "0"))
        .unwrap();
    conn.send(EndOfMessage::default()).unwrap();
    assert!(!conn.switched_protocol());
    conn.start_next_cycle().unwrap();
    assert_eq!(request(&events(&mut conn, b"").unwrap()[0]).target, "/2");
}

#[test]
fn connect_2xx_opens_a_tunnel() {
    let mut conn = server();
    events(
        &mut conn,
        b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\nTLS",
    )
    .unwrap();
    conn.send(Response::new(200)).unwrap();
    assert!(conn.switched_protocol());
    assert_eq!(conn.take_trailing_data(), "TLS");
}

// ---- send side ----

fn responding_to(input: &[u8]) -> Connection {
    let mut conn = server();
    events(&mut conn, input).unwrap();
    conn
}

#[test]
fn refuses_more_or_fewer_bytes_than_content_length() {
    let mut conn = responding_to(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    conn.send(Response::new(200).with_header("Content-Length", "3"))
        .unwrap();
    assert_eq!(
        conn.send(Data {
            stream_id: StreamId::ZERO,
            data: "abcd".into()
        }),
        Err(LocalProtocolError::TooMuchData)
    );
    conn.send(Data {
        stream_id: StreamId::ZERO,
        data: "ab".into(),
    })
    .unwrap();
    assert_eq!(
        conn.send(EndOfMessage::default()),
        Err(LocalProtocolError::TooLittleData)
    );
}

#[test]
fn refuses_body_on_head_204_and_304() {
    for (input, status) in [
        (&b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n"[..], 200),
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 204),
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 304),
    ] {
        let mut conn = responding_to(input);
        conn.send(Response::new(status).with_header("Content-Length", "5"))
            .unwrap();
        assert_eq!(
            conn.send(Data {
                stream_id: StreamId::ZERO,
                data: "x".into()
            }),
            Err(LocalProtocolError::BodyNotAllowed)
        );
        conn.send(EndOfMessage::default()).unwrap();
    }
}

#[test]
fn refuses_data_after_the_end() {
    let mut conn = responding_to(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    conn.send(Response::new(200).with_header("Content-Length", "0"))
        .unwrap();
    conn.send(EndOfMessage::default()).unwrap();
    assert_eq!(
        conn.send(Data {
            stream_id: StreamId::ZERO,
            data: "x".into()
        }),
        Err(LocalProtocolError::UnexpectedEvent)
    );
}

#[test]
fn refuses_header_values_that_would_split_the_response() {
    let mut conn = responding_to(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let evil = Response::new(200).with_header("X", "a\r\nSet-Cookie: b");
    assert_eq!(conn.send(evil), Err(LocalProtocolError::InvalidHeader));
    assert!(conn.data_to_send().is_empty());
}

/// RFC 9112 §7.1.2: framing fields are never sent as trailers (a receiver
/// would read two Content-Lengths as a conflict); found by `connection_ops`.
#[test]
fn refuses_framing_fields_in_trailers_and_queues_nothing() {
    for name in ["Content-Length", "transfer-encoding"] {
        let mut conn = responding_to(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        conn.send(Response::new(200)).unwrap();
        assert!(!conn.data_to_send().is_empty(), "the head goes out");
        let end = EndOfMessage {
            stream_id: StreamId::ZERO,
            trailers: Headers::new().with(name, "13"),
        };
        assert_eq!(conn.send(end), Err(LocalProtocolError::InvalidHeader));
        assert!(conn.data_to_send().is_empty(), "{name}: nothing queued");
    }
}

#[test]
fn picks_chunked_for_http11_and_close_for_http10_without_length() {
    let mut conn = responding_to(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    conn.send(Response::new(200)).unwrap();
    conn.send(Data {
        stream_id: StreamId::ZERO,
        data: "hello".into(),
    })
    .unwrap();
    conn.send(EndOfMessage {
        stream_id: StreamId::ZERO,
        trailers: Headers::new().with("X-T", "1"),
    })
    .unwrap();
    assert_eq!(
        &conn.data_to_send()[..],
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"
    );
    let mut conn = responding_to(b"GET / HTTP/1.0\r\n\r\n");
    conn.send(Response::new(200)).unwrap();
    conn.send(Data {
        stream_id: StreamId::ZERO,
        data: "hello".into(),
    })
    .unwrap();
    conn.send(EndOfMessage::default()).unwrap();
    assert_eq!(
        &conn.data_to_send()[..],
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nhello"
    );
    assert!(conn.should_close());
}

#[test]
fn cannot_respond_before_a_request_or_send_requests_as_server() {
    let mut conn = server();
    assert_eq!(
        conn.send(Response::new(200)),
        Err(LocalProtocolError::UnexpectedEvent)
    );
    assert_eq!(
        conn.send(Request::new("GET", "/")),
        Err(LocalProtocolError::WrongRole)
    );
}

// ---- client role ----

fn client_after(req: Request) -> Connection {
    let mut conn = Connection::new(Role::Client);
    conn.send(req).unwrap();
    conn.send(EndOfMessage::default()).unwrap();
    let _ = conn.data_to_send();
    conn
}

#[test]
fn client_reads_close_delimited_and_headless_bodies() {
    let mut conn = client_after(Request::new("GET", "/").with_header("Host", "a"));
    let evs = events(&mut conn, b"HTTP/1.0 200 OK\r\n\r\nabc").unwrap();
    assert_eq!(body(&evs), b"abc");
    conn.receive_data(b"");
    assert!(matches!(conn.next_event().unwrap(), Event::EndOfMessage(_)));
    assert!(conn.should_close());

    let mut conn = client_after(Request::new("HEAD", "/").with_header("Host", "a"));
    let evs = events(&mut conn, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n").unwrap();
    assert!(matches!(evs[1], Event::EndOfMessage(_)));
}

#[test]
fn client_sees_informational_responses_then_the_final_one() {
    let mut conn = client_after(Request::new("GET", "/").with_header("Host", "a"));
    let evs = events(
        &mut conn,
        b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n",
    )
    .unwrap();
    assert!(matches!(&evs[0], Event::InformationalResponse(r) if r.status_code == 103));
    assert!(matches!(&evs[1], Event::Response(r) if r.status_code == 204));
}

#[test]
fn client_rejects_unsolicited_switching_protocols() {
    let mut conn = client_after(Request::new("GET", "/").with_header("Host", "a"));
    let e = events(&mut conn, b"HTTP/1.1 101 Switching Protocols\r\n\r\n").unwrap_err();
    assert_eq!(e, RemoteErrorKind::InvalidStatus.into());
}

#[test]
fn client_refuses_request_without_host_on_http11() {
    let mut conn = Connection::new(Role::Client);
    assert_eq!(
        conn.send(Request::new("GET", "/")),
        Err(LocalProtocolError::InvalidHeader)
    );
}

#[test]
fn feeding_one_byte_at_a_time_yields_the_same_events() {
    let input = b"POST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\n";
    let whole = serve(input).unwrap();
    let mut conn = server();
    let mut pieces = Vec::new();
    for b in input {
        pieces.extend(events(&mut conn, &[*b]).unwrap());
    }
    assert_eq!(body(&pieces), body(&whole));
    assert_eq!(pieces.first(), whole.first());
    assert_eq!(pieces.last(), whole.last());
}

#[test]
fn server_may_answer_a_protocol_error_once_then_closes() {
    let mut conn = server();
    let Err(e) = events(&mut conn, b"GET / HTTP/1.1\r\nHost : a\r\n\r\n") else {
        panic!()
    };
    conn.send(Response::new(e.status()).with_header("Content-Length", "0"))
        .unwrap();
    conn.send(EndOfMessage::default()).unwrap();
    assert_eq!(
        &conn.data_to_send()[..],
        b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    assert_eq!(
        conn.send(Response::new(200)),
        Err(LocalProtocolError::ConnectionClosed)
    );
    assert!(conn.should_close());
}

#[test]
fn a_start_line_that_is_not_http_is_not_answered() {
    let mut conn = server();
    let e = events(&mut conn, b"INVALID CONNECTION PREFACE\r\n\r\n").unwrap_err();
    assert_eq!(e, RemoteErrorKind::NotHttp.into());
    assert_eq!(
        conn.send(Response::new(400)),
        Err(LocalProtocolError::ConnectionClosed)
    );
    assert!(conn.should_close());
}

#[test]
fn a_refused_response_head_queues_nothing_and_a_good_one_may_follow() {
    let mut conn = responding_to(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    let fields = [(&b"X-Ok"[..], &b"1"[..]), (b"Content-Length", b"x")];
    assert_eq!(
        conn.send_response_head(StreamId::ZERO, 200, fields),
        Err(LocalProtocolError::InvalidHeader)
    );
    assert!(conn.data_to_send().is_empty());
    conn.send_response_head(StreamId::ZERO, 200, [(&b"content-length"[..], &b"0"[..])])
        .unwrap();
    conn.send(EndOfMessage::default()).unwrap();
    assert_eq!(
        &conn.data_to_send()[..],
        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"
    );
}

#[test]
fn a_prechecked_head_is_written_as_the_checked_one_with_the_same_framing() {
    let request = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let cases: [&[(&[u8], &[u8])]; 4] = [
        &[(b"content-type", b"text/plain"), (b"content-length", b"2")],
        &[(b"x-padded", b" a b\t"), (b"transfer-encoding", b"chunked")],
        &[(b"connection", b"close"), (b"x-obs", b"\x80\xff")],
        &[],
    ];
    for fields in cases {
        let mut checked = responding_to(request);
        let mut prechecked = responding_to(request);
        checked
            .send_response_head(StreamId::ZERO, 200, fields.iter().copied())
            .unwrap();
        prechecked
            .send_response_head_prechecked(StreamId::ZERO, 200, fields.iter().copied())
            .unwrap();
        for conn in [&mut checked, &mut prechecked] {
            let _ = conn.send(Data {
                stream_id: StreamId::ZERO,
                data: "hi".into(),
            });
            conn.send(EndOfMessage::default()).unwrap();
        }
        assert_eq!(checked.data_to_send(), prechecked.data_to_send());
        assert_eq!(checked.should_close(), prechecked.should_close());
    }
}

#[test]
#[cfg(debug_assertions)]
fn a_broken_precheck_promise_is_refused_in_debug_builds() {
    let bad: [(&[u8], &[u8]); 3] = [(b"x-a", b"1\r\nx-injected: 1"), (b"x a", b"1"), (b"", b"1")];
    for field in bad {
        let mut conn = responding_to(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        assert_eq!(
            conn.send_response_head_prechecked(StreamId::ZERO, 200, [field]),
            Err(LocalProtocolError::InvalidHeader)
        );
        assert!(conn.data_to_send().is_empty());
    }
}

#[test]
fn chunked_is_dropped_for_an_http10_peer_and_the_body_sent_raw() {
    let mut conn = responding_to(b"GET / HTTP/1.0\r\n\r\n");
    let response = Response::new(200)
        .with_header("A", "1")
        .with_header("Transfer-Encoding", "chunked")
        .with_header("B", "2");
    conn.send(response).unwrap();
    conn.send(Data {
        stream_id: StreamId::ZERO,
        data: "hi".into(),
    })
    .unwrap();
    conn.send(EndOfMessage::default()).unwrap();
    assert_eq!(
        &conn.data_to_send()[..],
        b"HTTP/1.1 200 OK\r\nA: 1\r\nB: 2\r\nConnection: close\r\n\r\nhi"
    );
}

#[test]
fn lenient_obs_fold_in_a_request_joins_the_value_and_keeps_the_other_fields() {
    let mut conn = Connection::with_config(
        Role::Server,
        Config {
            leniency: Leniency::default().obs_fold(true),
            ..Config::default()
        },
    );
    let evs = events(
        &mut conn,
        b"GET /p HTTP/1.1\r\nHost: a\r\nX: b\r\n  c\r\nY: d\r\n\r\n",
    )
    .unwrap();
    let req = request(&evs[0]);
    assert_eq!(&req.target[..], b"/p");
    let fields: Vec<_> = req.headers.iter().map(|(n, v)| (&n[..], &v[..])).collect();
    assert_eq!(
        fields,
        [(&b"Host"[..], &b"a"[..]), (b"X", b"b c"), (b"Y", b"d")]
    );
}

#[test]
fn request_heads_parse_the_same_after_a_reused_scanner() {
    let mut conn = server();
    let evs = events(
        &mut conn,
        b"GET /a HTTP/1.1\r\nHost: a\r\nX-Long-Name:  v \r\n\r\n",
    )
    .unwrap();
    assert_eq!(request(&evs[0]).headers.get(b"x-long-name").unwrap(), "v");
    conn.send(Response::new(204)).unwrap();
    conn.send(EndOfMessage::default()).unwrap();
    conn.start_next_cycle().unwrap();
    let evs = events(&mut conn, b"\r\nPUT /bb HTTP/1.0\r\nHost: b\r\n\r\n").unwrap();
    let req = request(&evs[0]);
    assert_eq!(
        (&req.method[..], &req.target[..]),
        (&b"PUT"[..], &b"/bb"[..])
    );
    assert_eq!(req.http_version, Version::Http10);
    let fields: Vec<_> = req.headers.iter().map(|(n, v)| (&n[..], &v[..])).collect();
    assert_eq!(fields, [(&b"Host"[..], &b"b"[..])]);
}

#[test]
fn server_may_answer_an_incomplete_head_with_an_error_status_then_closes() {
    let mut conn = server();
    events(&mut conn, b"GET / HTTP/1.1\r\nHost: a\r\nX-Slow: ").unwrap();
    assert_eq!(
        conn.send(Response::new(200)),
        Err(LocalProtocolError::UnexpectedEvent)
    );
    conn.send(Response::new(408).with_header("Content-Length", "0"))
        .unwrap();
    conn.send(EndOfMessage::default()).unwrap();
    assert_eq!(
        &conn.data_to_send()[..],
        b"HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    assert!(conn.should_close());
}

/// The framing a server reads from a request head.
fn request_framing(input: &[u8]) -> crate::Framing {
    let evs = serve(input).unwrap();
    request(&evs[0]).framing
}

#[test]
fn requests_say_how_their_body_is_framed() {
    use crate::Framing;
    let cases: [(&[u8], Framing); 6] = [
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", Framing::Empty),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n",
            Framing::Empty,
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n",
            Framing::Length(5),
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
            Framing::Length(5),
        ),
        (
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
            Framing::Chunked,
        ),
        // A CONNECT request has no content, whatever its fields say.
        (
            b"CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\nContent-Length: 5\r\n\r\n",
            Framing::Empty,
        ),
    ];
    for (input, framing) in cases {
        assert_eq!(
            request_framing(input),
            framing,
            "{}",
            String::from_utf8_lossy(input)
        );
    }
}

/// The framing a client reads from the response to `method`.
fn response_framing(method: &str, response: &[u8]) -> crate::Framing {
    let mut client = Connection::new(Role::Client);
    client
        .send(Request::new(method.to_string(), "/").with_header("Host", "a"))
        .unwrap();
    client.send(EndOfMessage::default()).unwrap();
    client.receive_data(response);
    loop {
        match client.next_event().unwrap() {
            Event::Response(r) => return r.framing,
            Event::InformationalResponse(r) => assert!(r.framing.is_empty()),
            other => panic!("{other:?}"),
        }
    }
}

#[test]
fn responses_say_how_their_body_is_framed_with_the_request_applied() {
    use crate::Framing;
    let cases: [(&str, &[u8], Framing); 7] = [
        (
            "GET",
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n",
            Framing::Length(3),
        ),
        (
            "HEAD",
            b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n",
            Framing::Empty,
        ),
        ("GET", b"HTTP/1.1 204 No Content\r\n\r\n", Framing::Empty),
        (
            "GET",
            b"HTTP/1.1 304 Not Modified\r\nContent-Length: 3\r\n\r\n",
            Framing::Empty,
        ),
        (
            "GET",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            Framing::Chunked,
        ),
        ("GET", b"HTTP/1.1 200 OK\r\n\r\n", Framing::UntilClose),
        (
            "GET",
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
            Framing::Empty,
        ),
    ];
    for (method, input, framing) in cases {
        assert_eq!(
            response_framing(method, input),
            framing,
            "{method} {}",
            String::from_utf8_lossy(input)
        );
    }
}

#[test]
fn status_line_and_fields_of_a_response_are_sliced_from_the_scan() {
    let mut client = Connection::new(Role::Client);
    client
        .send(Request::new("GET", "/").with_header("Host", "a"))
        .unwrap();
    client.send(EndOfMessage::default()).unwrap();
    client
        .receive_data(b"HTTP/1.1 404 Not  Found \r\nX-A:  1 \r\nx-b:\r\nContent-Length: 0\r\n\r\n");
    let Event::Response(r) = client.next_event().unwrap() else {
        panic!()
    };
    assert_eq!((r.status_code, &r.reason[..]), (404, &b"Not  Found "[..]));
    let fields: Vec<_> = r.headers.iter().map(|(n, v)| (&n[..], &v[..])).collect();
    assert_eq!(
        fields,
        [
            (&b"X-A"[..], &b"1"[..]),
            (b"x-b", b""),
            (b"Content-Length", b"0")
        ]
    );
    // No reason phrase at all is allowed too (RFC 9112 §4).
    let mut client = Connection::new(Role::Client);
    client
        .send(Request::new("GET", "/").with_header("Host", "a"))
        .unwrap();
    client.send(EndOfMessage::default()).unwrap();
    client.receive_data(b"HTTP/1.1 200\r\nContent-Length: 0\r\n\r\n");
    let Event::Response(r) = client.next_event().unwrap() else {
        panic!()
    };
    assert_eq!((r.status_code, &r.reason[..]), (200, &b""[..]));
}

#[test]
fn received_buffers_are_parsed_in_place_and_released_on_shrink() {
    let wire = b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHo";
    let mut arena = bytes::BytesMut::zeroed(4096);
    arena[..wire.len()].copy_from_slice(wire);
    let range = arena.as_ptr_range();
    // (With `Protocol::Auto` the first bytes are copied while the protocol is detected.)
    let config = Config::default().protocol(crate::Protocol::Http1);
    let mut conn = Connection::with_config(Role::Server, config);
    conn.receive_bytes(arena.split_to(wire.len()));
    let Event::Request(req) = conn.next_event().unwrap() else {
        panic!("expected a request")
    };
    assert!(
        range.contains(&req.target.as_ptr()),
        "the head is not copied"
    );
    assert_eq!(req.target, "/a");
    assert_eq!(
        conn.next_event().unwrap(),
        Event::EndOfMessage(EndOfMessage::default())
    );
    conn.send(Response::new(204)).unwrap();
    conn.send(EndOfMessage::default()).unwrap();
    conn.start_next_cycle().unwrap();
    assert_eq!(conn.next_event().unwrap(), Event::NeedData);
    // Waiting for the rest: the partial head moves out of the shared buffer.
    conn.shrink_receive_buffer();
    let crate::Inner::H1(h1) = &conn.inner else {
        panic!("HTTP/1.1 expected")
    };
    assert!(!range.contains(&h1.buf.bytes.as_ptr()));
    // The rest continues in the arena; the head comes out whole.
    let rest = b"st: x\r\n\r\n";
    arena[..rest.len()].copy_from_slice(rest);
    conn.receive_bytes(arena.split_to(rest.len()));
    let Event::Request(req) = conn.next_event().unwrap() else {
        panic!("expected a request")
    };
    assert_eq!(
        (&req.target[..], req.headers.get(b"host").unwrap()),
        (&b"/b"[..], &Bytes::from("x"))
    );
}

/// `send_last_data` answers and queues exactly what `send(Data)` then
/// `send(EndOfMessage)` do, and leaves the connection in the same state,
/// whatever the framing the head chose and whether a step is refused.
#[test]
fn last_data_is_data_then_end_in_one_call() {
    type Fields = &'static [(&'static str, &'static str)];
    let cases: [(&[u8], Fields, &str); 9] = [
        (
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            &[("content-length", "2")],
            "hi",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            &[("content-length", "3")],
            "hi",
        ),
        (
            b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
            &[("content-length", "1")],
            "hi",
        ),
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &[], "chunked"),
        (b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", &[], ""),
        (b"GET / HTTP/1.0\r\n\r\n", &[], "until close"),
        (
            b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n",
            &[("content-length", "2")],
            "hi",
        ),
        (
            b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n",
            &[("content-length", "2")],
            "",
        ),
        (
            b"GET / HTTP/1.1\r\n\r\n",
            &[("content-length", "5")],
            "error",
        ),
    ];
    for (input, fields, data) in cases {
        for with_head in [true, false] {
            let run = |one_call: bool| {
                let mut conn = server();
                let _ = events(&mut conn, input);
                let head = fields.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes()));
                let status = if conn.remote_error().is_some() {
                    400
                } else {
                    200
                };
                let head = with_head.then(|| conn.send_response_head(StreamId::ZERO, status, head));
                let data = Bytes::from(data);
                let sent = if one_call {
                    conn.send_last_data(StreamId::ZERO, data)
                } else {
                    conn.send(Data {
                        stream_id: StreamId::ZERO,
                        data,
                    })
                    .and_then(|()| conn.send(EndOfMessage::default()))
                };
                let out = conn.data_to_send();
                let next = conn.start_next_cycle();
                (head, sent, out, next, conn.should_close())
            };
            let (one, two) = (run(true), run(false));
            assert_eq!(
                one,
                two,
                "{:?} {fields:?} {data:?}",
                String::from_utf8_lossy(input)
            );
        }
    }
}

/// The values of the fields `input`'s request head yields, fed `step`
/// bytes at a time, and whether the list says they are all ASCII.
fn read_values(input: &[u8], step: usize, leniency: &Leniency) -> Option<(Vec<Bytes>, bool)> {
    let config = Config::default().leniency(leniency.clone());
    let mut conn = Connection::with_config(Role::Server, config);
    for piece in input.chunks(step) {
        conn.receive_data(piece);
        match conn.next_event() {
            Ok(Event::Request(req)) => {
                let values = req.headers.iter().map(|(_, v)| v.clone()).collect();
                return Some((values, req.headers.known_ascii()));
            }
            Ok(Event::NeedData) => {}
            _ => return None,
        }
    }
    None
}

/// A list read from a head says its values are ASCII exactly when they
/// are: every byte value, in every place of a value (a plain line, a line
/// the byte loop reads, a folded line), whole or a byte at a time.
#[test]
fn field_lists_know_their_values_are_ascii_exactly_when_they_are() {
    let lenient = Leniency::default().obs_fold(true).bare_lf(true);
    let mut admitted = 0;
    for b in 0..=255u8 {
        for (before, after) in [
            (&b""[..], &b"x"[..]),
            (b"x", b""),
            (b"0123456789", b"abcdefghij"),
        ] {
            let mut value = before.to_vec();
            value.push(b);
            value.extend_from_slice(after);
            let heads = [
                [
                    &b"GET / HTTP/1.1\r\nHost: a\r\nX-Probe: "[..],
                    &value,
                    b"\r\n\r\n",
                ]
                .concat(),
                // A bare LF sends the line through the byte loop.
                [
                    &b"GET / HTTP/1.1\r\nHost: a\nX-Probe: "[..],
                    &value,
                    b"\n\n",
                ]
                .concat(),
                [
                    &b"GET / HTTP/1.1\r\nX-Probe: a\r\n "[..],
                    &value,
                    b"\r\nHost: a\r\n\r\n",
                ]
                .concat(),
            ];
            for head in heads {
                for step in [usize::MAX, 1] {
                    let Some((values, ascii)) = read_values(&head, step, &lenient) else {
                        continue;
                    };
                    admitted += 1;
                    let all_ascii = values.iter().all(|v| v.is_ascii());
                    assert_eq!(ascii, all_ascii, "{head:?} in steps of {step}");
                }
            }
        }
    }
    assert!(admitted > 3 * 3 * 2 * 200, "only {admitted} heads admitted");
    // Adding a field makes the list unsure; removing keeps what it knows.
    let (_, ascii) =
        read_values(b"GET / HTTP/1.1\r\nHost: a\r\nA: b\r\n\r\n", 1, &lenient).unwrap();
    assert!(ascii);
    let mut conn = server();
    let evs = events(&mut conn, b"GET / HTTP/1.1\r\nHost: a\r\nA: b\r\n\r\n").unwrap();
    let mut headers = request(&evs[0]).headers.clone();
    headers.remove(b"a");
    assert!(headers.known_ascii());
    headers.push("a", "b");
    assert!(!headers.known_ascii());
    assert!(!Headers::new().with("a", "b").known_ascii());
}

/// A length given as a number goes out as the head's last field, frames
/// the body as a `content-length` field would, and must agree with one
/// the fields hold.
#[test]
fn a_response_length_given_as_a_number_frames_as_the_field_does() {
    let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let ct = (&b"content-type"[..], &b"text/plain"[..]);
    let mut conn = server();
    events(&mut conn, head).unwrap();
    conn.send_response_head_prechecked_dated(StreamId::ZERO, 200, None, [ct], Some(2))
        .unwrap();
    assert_eq!(
        conn.send_last_data(StreamId::ZERO, "abc".into()),
        Err(LocalProtocolError::TooMuchData)
    );
    conn.send_last_data(StreamId::ZERO, "ab".into()).unwrap();
    assert_eq!(
        &conn.data_to_send()[..],
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nab"
    );
    for (field, ok) in [(&b"2"[..], true), (b"3", false)] {
        let mut conn = server();
        events(&mut conn, head).unwrap();
        let fields = [(&b"Content-Length"[..], field)];
        let sent =
            conn.send_response_head_prechecked_dated(StreamId::ZERO, 200, None, fields, Some(2));
        assert_eq!(sent.is_ok(), ok, "{field:?}");
        if !ok {
            assert_eq!(sent, Err(LocalProtocolError::InvalidHeader));
            assert_eq!(conn.pending_send_len(), 0, "a refused head queues nothing");
        }
    }
    // Without a length the fields decide, as send_response_head_prechecked.
    let mut conn = server();
    events(&mut conn, head).unwrap();
    conn.send_response_head_prechecked_dated(StreamId::ZERO, 200, None, [ct], None)
        .unwrap();
    assert!(conn
        .data_to_send()
        .ends_with(b"Transfer-Encoding: chunked\r\n\r\n"));
}

/// A date given apart from the fields goes out right after the status
/// line, whatever the status; the rest of the head is as without it.
#[test]
fn a_response_date_given_apart_follows_the_status_line() {
    let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
    let date = b"Sun, 06 Nov 1994 08:49:37 GMT";
    let ct = (&b"content-type"[..], &b"text/plain"[..]);
    for (status, line) in [(200, &b"200 OK"[..]), (404, b"404 Not Found")] {
        let mut conn = server();
        events(&mut conn, head).unwrap();
        conn.send_response_head_prechecked_dated(StreamId::ZERO, status, Some(date), [ct], Some(2))
            .unwrap();
        conn.send_last_data(StreamId::ZERO, "ab".into()).unwrap();
        let mut expected = b"HTTP/1.1 ".to_vec();
        expected.extend_from_slice(line);
        expected.extend_from_slice(
            b"\r\ndate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\
              content-type: text/plain\r\ncontent-length: 2\r\n\r\nab",
        );
        assert_eq!(&conn.data_to_send()[..], &expected[..]);
    }
    // Without a date it is the sized head.
    let mut conn = server();
    events(&mut conn, head).unwrap();
    conn.send_response_head_prechecked_dated(StreamId::ZERO, 200, None, [ct], Some(2))
        .unwrap();
    assert_eq!(
        &conn.data_to_send()[..],
        b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\n"
    );
    // A refused head takes its date back with it.
    let mut conn = server();
    events(&mut conn, head).unwrap();
    let fields = [(&b"Content-Length"[..], &b"3"[..])];
    let sent =
        conn.send_response_head_prechecked_dated(StreamId::ZERO, 200, Some(date), fields, Some(2));
    assert_eq!(sent, Err(LocalProtocolError::InvalidHeader));
    assert_eq!(conn.pending_send_len(), 0, "a refused head queues nothing");
}

/// Debug builds check a vouched-for date as they check vouched-for fields.
#[test]
#[cfg(debug_assertions)]
fn a_broken_date_is_refused_in_debug_builds() {
    let mut conn = server();
    events(&mut conn, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let date = b"Sun, 06 Nov 1994\r\n8:49:37 GMT";
    let sent = conn.send_response_head_prechecked_dated(StreamId::ZERO, 200, Some(date), [], None);
    assert_eq!(sent, Err(LocalProtocolError::InvalidHeader));
    assert_eq!(conn.pending_send_len(), 0);
}
