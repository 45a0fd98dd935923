//! Inputs the fuzz targets (`fuzz/`) found, minimised, one test each.

use zttp_core::StreamId;
use zttp_core::{Config, Connection, Event, Limits, RemoteErrorKind, Role};

/// Feeds `pieces` to a server and returns the error it ends with.
fn server_error(config: &Config, pieces: &[&[u8]]) -> Option<RemoteErrorKind> {
    let mut conn = Connection::with_config(Role::Server, config.clone());
    for piece in pieces {
        conn.receive_data(piece);
        loop {
            match conn.next_event() {
                Ok(Event::NeedData) => break,
                Ok(_) => {}
                Err(e) => return Some(e.kind()),
            }
        }
    }
    None
}

/// h1_server: a bad byte past the request-line limit was reported as a bad
/// method when it arrived together with the bytes before it, and as
/// "request line too long" when they came apart.
#[test]
fn request_line_limit_wins_over_a_bad_byte_past_it_however_the_bytes_arrive() {
    // The method limit (501) is set past the line's so that the line's wins.
    let config =
        Config::default().limits(Limits::default().max_request_line(32).max_method_len(64));
    let line = b"_uPRyyyyyyyyyyyyyyyyyyyyyyyyyyycog:";
    let whole = server_error(&config, &[line]);
    let (a, b) = line.split_at(34);
    assert_eq!(whole, server_error(&config, &[a, b]));
    assert_eq!(whole, Some(RemoteErrorKind::RequestLineTooLong));
}

/// connection_ops: a client sent `GET * HTTP/1.1`, which its own server
/// side rejects (the asterisk form is for OPTIONS only, RFC 9112 §3.2.4).
/// A client must refuse to send a target its peer has to reject.
#[test]
fn client_refuses_a_request_target_in_the_wrong_form_for_its_method() {
    use zttp_core::{LocalProtocolError, Request};
    for (method, target) in [("GET", "*"), ("CONNECT", "/")] {
        let mut client = Connection::new(Role::Client);
        let req = Request::new(method, target).with_header("Host", "example.com");
        assert_eq!(
            client.send(req),
            Err(LocalProtocolError::InvalidHeader),
            "{method} {target}"
        );
        assert_eq!(client.pending_send_len(), 0);
    }
    let mut client = Connection::new(Role::Client);
    let req = Request::new("OPTIONS", "*").with_header("Host", "example.com");
    assert_eq!(client.send(req), Ok(()));
}

/// connection_ops: an HTTP/1.0 client sent two Host fields, which a server
/// must reject; the client now applies the server's Host rule before sending.
#[test]
fn client_refuses_http10_request_with_two_hosts() {
    let mut req = zttp_core::Request::new("GET", "/")
        .with_header("Host", "a")
        .with_header("Host", "b");
    req.http_version = zttp_core::Version::Http10;
    let mut client = Connection::new(Role::Client);
    assert_eq!(
        client.send(req),
        Err(zttp_core::LocalProtocolError::InvalidHeader)
    );
}

/// connection_ops: an HTTP/2 client sent a request declaring
/// `Content-Length: 33` and ended it with no body; the server reset the
/// stream with PROTOCOL_ERROR (RFC 9113 §8.1.1). The client now refuses the
/// end of a message short of its declared length, and queues nothing.
#[test]
fn h2_client_refuses_to_end_a_request_short_of_its_content_length() {
    use zttp_core::{EndOfMessage, LocalProtocolError, Protocol, Request};
    let config = Config::default().protocol(Protocol::Http2);
    let mut client = Connection::with_config(Role::Client, config.clone());
    let mut server = Connection::with_config(Role::Server, config);
    let id = client.next_stream_id().unwrap();
    let mut req = Request::new("POST", "/")
        .with_header("Host", "a")
        .with_header("Content-Length", "33");
    req.stream_id = id;
    client.send(req).unwrap();
    let queued = client.pending_send_len();
    let end = EndOfMessage {
        stream_id: id,
        ..Default::default()
    };
    assert_eq!(client.send(end), Err(LocalProtocolError::TooLittleData));
    assert_eq!(client.pending_send_len(), queued);
    // What was sent is well-formed: the server neither resets the stream nor fails.
    for _ in 0..3 {
        let to_server = client.data_to_send();
        let to_client = server.data_to_send();
        // Empty input would mean the peer closed.
        if !to_server.is_empty() {
            server.receive_data(&to_server);
        }
        if !to_client.is_empty() {
            client.receive_data(&to_client);
        }
        for conn in [&mut server, &mut client] {
            loop {
                match conn.next_event() {
                    Ok(Event::NeedData) => break,
                    Ok(Event::StreamReset { .. }) | Err(_) => panic!("stream reset or error"),
                    Ok(_) => {}
                }
            }
        }
    }
}

/// connection_ops: a server that had received nothing answered 400 (a
/// server may answer a stalled or idle connection with an error status, then
/// closes), and its client, with no request in flight, rejected the bytes as
/// `UnexpectedData`. RFC 9112 §9.6 / RFC 9110 §15.5.9: such a response
/// answers no request; the client reads it as the connection closing, the
/// way real clients treat a 408 on an idle connection ("closed, retry").
#[test]
fn idle_client_reads_an_unsolicited_error_response_as_the_connection_closing() {
    use zttp_core::{EndOfMessage, LocalProtocolError, Request, Response};
    for status in [400, 408, 503] {
        let mut server = Connection::new(Role::Server);
        let mut client = Connection::new(Role::Client);
        server
            .send(Response::new(status).with_header("Content-Length", "0"))
            .unwrap();
        server.send(EndOfMessage::default()).unwrap();
        assert!(server.should_close());
        let wire = server.data_to_send();
        // However the bytes arrive.
        for piece in wire.chunks(3) {
            client.receive_data(piece);
        }
        assert_eq!(client.next_event(), Ok(Event::ConnectionClosed), "{status}");
        assert!(client.should_close());
        assert_eq!(
            client.send(Request::new("GET", "/").with_header("Host", "a")),
            Err(LocalProtocolError::ConnectionClosed),
            "no request goes out on a connection the server is closing"
        );
    }
}

/// The other side of that rule: a response that is not a final error status
/// still answers nothing, and an idle client rejects it.
#[test]
fn idle_client_rejects_other_unsolicited_responses() {
    for head in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"[..],
        b"HTTP/1.1 100 Continue\r\n\r\n",
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\n\r\n",
    ] {
        let mut client = Connection::new(Role::Client);
        client.receive_data(head);
        assert_eq!(
            client.next_event(),
            Err(RemoteErrorKind::UnexpectedData.into())
        );
    }
    // Bytes that are not a response at all stay the status line's error.
    let mut client = Connection::new(Role::Client);
    client.receive_data(b"garbage\r\n\r\n");
    assert!(client.next_event().is_err());
}

/// connection_ops: an HTTP/2 client sent trailers with a field name of
/// non-ASCII bytes, which its server must treat as malformed (RFC 9113
/// §8.2.1) and reset. The client now refuses such a name and queues nothing;
/// whitespace around a value (not part of it, RFC 9110 §5.5) is trimmed.
#[test]
fn h2_client_refuses_a_non_ascii_field_name_and_trims_values() {
    use zttp_core::{Config, EndOfMessage, Headers, LocalProtocolError, Protocol, Request};
    let config = Config::default().protocol(Protocol::Http2);
    let mut client = Connection::with_config(Role::Client, config.clone());
    let mut server = Connection::with_config(Role::Server, config);
    let mut req = Request::new("POST", "/").with_header("Host", "a");
    req.stream_id = client.next_stream_id().unwrap();
    client.send(req).unwrap();
    let before = client.pending_send_len();
    let bad = Headers::new().with(&b"\xff\xffC"[..], "/");
    assert_eq!(
        client.send(EndOfMessage {
            stream_id: StreamId::new(1),
            trailers: bad
        }),
        Err(LocalProtocolError::InvalidHeader)
    );
    assert_eq!(
        client.pending_send_len(),
        before,
        "a refused send queues nothing"
    );
    client
        .send(EndOfMessage {
            stream_id: StreamId::new(1),
            trailers: Headers::new().with("x-sum", " 6\t"),
        })
        .unwrap();
    server.receive_data(&client.data_to_send());
    let mut trailers = None;
    loop {
        match server.next_event().unwrap() {
            Event::NeedData => break,
            Event::EndOfMessage(end) => trailers = Some(end.trailers),
            _ => {}
        }
    }
    assert_eq!(trailers.unwrap().get(b"x-sum").unwrap(), "6");
}
