//! The send side keeps a message's body to its head: the declared
//! content-length, and no body at all on a response to HEAD, 204 or 304.
//! A refused event queues nothing.

#[path = "h2_support.rs"]
mod support;

use support::*;
use zttp_core::StreamId;
use zttp_core::{Data, EndOfMessage, Event, Headers, LocalProtocolError, Request, Response};

fn data(stream_id: StreamId, data: &'static str) -> Data {
    Data {
        stream_id,
        data: data.into(),
    }
}

fn end(stream_id: StreamId) -> EndOfMessage {
    EndOfMessage {
        stream_id,
        ..Default::default()
    }
}

/// Sends a request head with `extra` fields; returns its stream id.
fn request(pair: &mut Pair, method: &str, extra: &[(&str, &str)]) -> StreamId {
    let id = pair.client.next_stream_id().unwrap();
    let mut req = Request::new(method.to_string(), "/".to_string()).with_header("Host", "a");
    for (n, v) in extra {
        req = req.with_header(n.to_string(), v.to_string());
    }
    req.stream_id = id;
    pair.client.send(req).unwrap();
    id
}

/// A pair whose server has received a whole `method` request on the returned stream.
fn pair_with_request(method: &str) -> (Pair, StreamId) {
    let mut pair = Pair::default_pair();
    let id = request(&mut pair, method, &[]);
    pair.client.send(end(id)).unwrap();
    pair.drive();
    (pair, id)
}

fn response(id: StreamId, status: u16, extra: &[(&str, &str)]) -> Response {
    let mut resp = Response::new(status);
    for (n, v) in extra {
        resp = resp.with_header(n.to_string(), v.to_string());
    }
    resp.stream_id = id;
    resp
}

/// No stream was reset and no connection error seen.
fn assert_no_errors(events: &Events) {
    for e in events {
        match e {
            Ok(Event::StreamReset { .. }) | Err(_) => panic!("{events:?}"),
            _ => {}
        }
    }
}

#[test]
fn client_refuses_to_end_a_request_short_of_its_content_length() {
    let mut pair = Pair::default_pair();
    let id = request(&mut pair, "POST", &[("content-length", "5")]);
    pair.client.send(data(id, "abc")).unwrap();
    let queued = pair.client.pending_send_len();
    assert_eq!(
        pair.client.send(end(id)),
        Err(LocalProtocolError::TooLittleData)
    );
    assert_eq!(pair.client.pending_send_len(), queued);
    pair.client.send(data(id, "de")).unwrap();
    pair.client.send(end(id)).unwrap();
    let (client_events, server_events) = pair.drive();
    assert_no_errors(&client_events);
    let events = messages(server_events);
    assert!(
        matches!(events.last(), Some(Event::EndOfMessage(_))),
        "{events:?}"
    );
}

#[test]
fn client_refuses_data_beyond_its_content_length() {
    let mut pair = Pair::default_pair();
    let id = request(&mut pair, "POST", &[("content-length", "4")]);
    pair.client.send(data(id, "abc")).unwrap();
    let queued = pair.client.pending_send_len();
    assert_eq!(
        pair.client.send(data(id, "de")),
        Err(LocalProtocolError::TooMuchData)
    );
    assert_eq!(pair.client.pending_send_len(), queued);
    pair.client.send(data(id, "d")).unwrap();
    // Empty data is always allowed.
    pair.client.send(data(id, "")).unwrap();
    pair.client.send(end(id)).unwrap();
    let (_, server_events) = pair.drive();
    let body: Vec<u8> = messages(server_events)
        .iter()
        .filter_map(|e| match e {
            Event::Data(d) => Some(d.data.to_vec()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(body, b"abcd");
}

#[test]
fn trailers_do_not_excuse_a_short_body() {
    let mut pair = Pair::default_pair();
    let id = request(&mut pair, "POST", &[("content-length", "2")]);
    let trailers = EndOfMessage {
        stream_id: id,
        trailers: Headers::new().with("x-checksum", "1"),
    };
    assert_eq!(
        pair.client.send(trailers.clone()),
        Err(LocalProtocolError::TooLittleData)
    );
    pair.client.send(data(id, "ab")).unwrap();
    pair.client.send(trailers).unwrap();
}

#[test]
fn client_refuses_disagreeing_content_lengths_and_queues_nothing() {
    let mut pair = Pair::default_pair();
    let id = pair.client.next_stream_id().unwrap();
    let queued = pair.client.pending_send_len();
    let mut req = Request::new("POST", "/")
        .with_header("Host", "a")
        .with_header("Content-Length", "3")
        .with_header("Content-Length", "4");
    req.stream_id = id;
    assert_eq!(
        pair.client.send(req),
        Err(LocalProtocolError::InvalidHeader)
    );
    assert_eq!(pair.client.pending_send_len(), queued);
}

#[test]
fn server_keeps_a_response_body_to_its_content_length() {
    let (mut pair, id) = pair_with_request("GET");
    pair.server
        .send(response(id, 200, &[("content-length", "3")]))
        .unwrap();
    assert_eq!(
        pair.server.send(data(id, "abcd")),
        Err(LocalProtocolError::TooMuchData)
    );
    pair.server.send(data(id, "ab")).unwrap();
    assert_eq!(
        pair.server.send(end(id)),
        Err(LocalProtocolError::TooLittleData)
    );
    pair.server.send(data(id, "c")).unwrap();
    pair.server.send(end(id)).unwrap();
    let (client_events, server_events) = pair.drive();
    assert_no_errors(&server_events);
    let events = messages(client_events);
    assert!(
        matches!(events.last(), Some(Event::EndOfMessage(_))),
        "{events:?}"
    );
}

#[test]
fn response_to_head_may_declare_a_length_but_carries_no_body() {
    let (mut pair, id) = pair_with_request("HEAD");
    pair.server
        .send(response(id, 200, &[("content-length", "100")]))
        .unwrap();
    let queued = pair.server.pending_send_len();
    assert_eq!(
        pair.server.send(data(id, "x")),
        Err(LocalProtocolError::BodyNotAllowed)
    );
    assert_eq!(pair.server.pending_send_len(), queued);
    pair.server.send(data(id, "")).unwrap();
    pair.server.send(end(id)).unwrap();
    let (client_events, _) = pair.drive();
    let events = messages(client_events);
    let Event::Response(resp) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(resp.headers.get(b"content-length").unwrap(), "100");
    assert!(
        matches!(events.last(), Some(Event::EndOfMessage(_))),
        "{events:?}"
    );
}

#[test]
fn no_body_on_204_or_304() {
    for status in [204, 304] {
        let (mut pair, id) = pair_with_request("GET");
        pair.server.send(response(id, status, &[])).unwrap();
        assert_eq!(
            pair.server.send(data(id, "x")),
            Err(LocalProtocolError::BodyNotAllowed),
            "{status}"
        );
        pair.server.send(end(id)).unwrap();
    }
}

#[test]
fn an_informational_response_does_not_set_the_body_rule() {
    let (mut pair, id) = pair_with_request("POST");
    pair.server
        .send(Event::InformationalResponse(response(
            id,
            103,
            &[("content-length", "0")],
        )))
        .unwrap();
    pair.server
        .send(response(id, 200, &[("content-length", "2")]))
        .unwrap();
    pair.server.send(data(id, "ok")).unwrap();
    pair.server.send(end(id)).unwrap();
    let (client_events, server_events) = pair.drive();
    assert_no_errors(&client_events);
    assert_no_errors(&server_events);
}

#[test]
fn a_request_to_head_does_not_limit_the_request_body() {
    // The HEAD rule is about the response; a client's own message follows its
    // own content-length.
    let mut pair = Pair::default_pair();
    let id = request(&mut pair, "HEAD", &[("content-length", "2")]);
    pair.client.send(data(id, "ab")).unwrap();
    pair.client.send(end(id)).unwrap();
    let (_, server_events) = pair.drive();
    assert_no_errors(&server_events);
}

/// `send_last_data` on HTTP/2 answers as `send(Data)` then
/// `send(EndOfMessage)` do, and the peer reads the same body and end.
#[test]
fn last_data_is_data_then_end_in_one_call() {
    for (length, body) in [("2", "hi"), ("3", "hi"), ("1", "hi"), ("", "hi"), ("", "")] {
        let run = |one_call: bool| {
            let (mut pair, id) = pair_with_request("GET");
            let fields: &[(&str, &str)] = match length {
                "" => &[],
                n => &[("content-length", n)],
            };
            pair.server.send(response(id, 200, fields)).unwrap();
            let sent = if one_call {
                pair.server.send_last_data(id, body.into())
            } else {
                pair.server
                    .send(data(id, body))
                    .and_then(|()| pair.server.send(end(id)))
            };
            let (client_events, _) = pair.drive();
            let client: Vec<String> = messages(client_events)
                .iter()
                .map(|e| match e {
                    Event::Data(d) => format!("data {:?}", d.data),
                    Event::EndOfMessage(_) => "end".to_string(),
                    Event::Response(r) => format!("response {}", r.status_code),
                    other => format!("{other:?}"),
                })
                .collect();
            (sent, client)
        };
        assert_eq!(
            run(true),
            run(false),
            "content-length {length:?}, body {body:?}"
        );
    }
}

/// On HTTP/2 a response length given as a number is a `content-length`
/// field: the peer reads it, and the body is held to it.
#[test]
fn a_response_length_given_as_a_number_is_a_content_length_field() {
    let (mut pair, id) = pair_with_request("GET");
    let fields = [(&b"content-type"[..], &b"text/plain"[..])];
    pair.server
        .send_response_head_prechecked_dated(id, 200, None, fields, Some(2))
        .unwrap();
    assert_eq!(
        pair.server.send(data(id, "abc")),
        Err(LocalProtocolError::TooMuchData)
    );
    pair.server.send_last_data(id, "ab".into()).unwrap();
    let (client_events, _) = pair.drive();
    let events = messages(client_events);
    match &events[0] {
        Event::Response(r) => {
            assert_eq!(r.headers.get(b"content-length").unwrap(), "2");
            assert_eq!(r.framing, zttp_core::Framing::Length(2));
        }
        other => panic!("{other:?}"),
    }
}

/// On HTTP/2 a response date given apart from the fields is a `date`
/// field, the first one.
#[test]
fn a_response_date_given_apart_is_the_first_field() {
    let (mut pair, id) = pair_with_request("GET");
    let fields = [(&b"content-type"[..], &b"text/plain"[..])];
    let date = b"Sun, 06 Nov 1994 08:49:37 GMT";
    pair.server
        .send_response_head_prechecked_dated(id, 200, Some(date), fields, Some(2))
        .unwrap();
    pair.server.send_last_data(id, "ab".into()).unwrap();
    let (client_events, _) = pair.drive();
    let events = messages(client_events);
    match &events[0] {
        Event::Response(r) => {
            let names: Vec<_> = r.headers.iter().map(|(n, _)| n.clone()).collect();
            assert_eq!(names, ["date", "content-type", "content-length"]);
            assert_eq!(r.headers.get(b"date").unwrap(), &date[..]);
        }
        other => panic!("{other:?}"),
    }
}
