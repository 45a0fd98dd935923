//! Properties of the HTTP/1.1 engine that must hold for any input:
//!
//! - however a valid pipeline of requests is cut into fragments, a server
//!   yields the same events as when it gets the bytes in one piece;
//! - a client and a server `Connection` talking in memory agree on every
//!   request and response, cycle after cycle.

use bytes::Bytes;
use proptest::prelude::*;
use zttp_core::StreamId;
use zttp_core::{Connection, Data, EndOfMessage, Event, Headers, Request, Response, Role};

/// Header names a generated message may carry without changing its framing
/// or the connection's fate.
fn field_name() -> impl Strategy<Value = String> {
    "[A-Za-z][A-Za-z0-9-]{0,11}".prop_filter("framing or connection field", |n| {
        ![
            "host",
            "content-length",
            "transfer-encoding",
            "connection",
            "upgrade",
            "expect",
            "te",
            "trailer",
            "keep-alive",
        ]
        .contains(&n.to_ascii_lowercase().as_str())
    })
}

/// A field value as the parser hands it out: no leading or trailing whitespace.
fn field_value() -> impl Strategy<Value = String> {
    "([!-~]([ -~]{0,18}[!-~])?)?"
}

fn fields(max: usize) -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((field_name(), field_value()), 0..max)
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..200)
}

/// How a generated message delimits its body.
#[derive(Debug, Clone)]
enum Framing {
    Length,
    /// Chunked, cut at these fractions of the body, with an extension on each
    /// chunk (by index into `EXTENSIONS`) and trailers.
    Chunked {
        cuts: Vec<usize>,
        extensions: Vec<usize>,
        trailers: Vec<(String, String)>,
    },
}

const EXTENSIONS: &[&str] = &[
    "",
    ";a",
    ";a=b",
    " ; name=\"quoted; \\\"value\\\"\"",
    ";x=1;y",
];

fn framing() -> impl Strategy<Value = Framing> {
    prop_oneof![
        Just(Framing::Length),
        (
            prop::collection::vec(0usize..200, 0..4),
            prop::collection::vec(0..EXTENSIONS.len(), 6),
            fields(3)
        )
            .prop_map(|(cuts, extensions, trailers)| Framing::Chunked {
                cuts,
                extensions,
                trailers
            }),
    ]
}

#[derive(Debug, Clone)]
struct RequestSpec {
    method: &'static str,
    target: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    framing: Framing,
}

fn request_spec() -> impl Strategy<Value = RequestSpec> {
    (
        prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
        "/[a-z0-9/._~-]{0,16}(\\?([a-z0-9=&]|%[0-9A-Fa-f]{2}){0,12})?",
        fields(6),
        body(),
        framing(),
    )
        .prop_map(|(method, target, headers, body, framing)| RequestSpec {
            method,
            target,
            headers,
            body,
            framing,
        })
}

/// Splits `body` at the given (wrapped) offsets into non-empty pieces.
fn pieces(body: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut at: Vec<usize> = cuts
        .iter()
        .map(|c| c % (body.len() + 1))
        .chain([0, body.len()])
        .collect();
    at.sort_unstable();
    at.dedup();
    at.windows(2).map(|w| body[w[0]..w[1]].to_vec()).collect()
}

/// The request written out by hand, chunk extensions included.
fn wire(spec: &RequestSpec) -> Vec<u8> {
    let mut out = format!(
        "{} {} HTTP/1.1\r\nHost: example.com\r\n",
        spec.method, spec.target
    );
    for (n, v) in &spec.headers {
        out.push_str(&format!("{n}: {v}\r\n"));
    }
    let mut out = out.into_bytes();
    match &spec.framing {
        Framing::Length => {
            out.extend(format!("Content-Length: {}\r\n\r\n", spec.body.len()).bytes());
            out.extend(&spec.body);
        }
        Framing::Chunked {
            cuts,
            extensions,
            trailers,
        } => {
            out.extend(b"Transfer-Encoding: chunked\r\n\r\n");
            let chunks = pieces(&spec.body, cuts);
            for (i, chunk) in chunks.iter().enumerate() {
                let ext = EXTENSIONS[extensions[i % extensions.len()]];
                out.extend(format!("{:x}{ext}\r\n", chunk.len()).bytes());
                out.extend(chunk);
                out.extend(b"\r\n");
            }
            out.extend(format!("0{}\r\n", EXTENSIONS[extensions[5]]).bytes());
            for (n, v) in trailers {
                out.extend(format!("{n}: {v}\r\n").bytes());
            }
            out.extend(b"\r\n");
        }
    }
    out
}

/// Feeds `fragments` to a server one after the other, answering each request
/// with an empty 200 so pipelined ones come through, and returns every event
/// with adjacent `Data` merged.
fn serve(fragments: &[&[u8]]) -> Vec<Event> {
    serve_by(fragments, Feed::Copied)
}

/// How [`serve_by`] hands fragments to the connection.
#[derive(Clone, Copy, Debug)]
enum Feed {
    /// `receive_data`: copied.
    Copied,
    /// `receive_bytes`, each fragment split off one shared buffer in turn
    /// (as a server's read arena does), optionally shrinking the receive
    /// buffer after each (as before waiting for the peer).
    Arena { shrink: bool },
    /// `receive_bytes`, each fragment in an allocation of its own.
    Separate,
}

fn serve_by(fragments: &[&[u8]], feed: Feed) -> Vec<Event> {
    let mut conn = Connection::new(Role::Server);
    let mut events: Vec<Event> = Vec::new();
    let total: usize = fragments.iter().map(|f| f.len()).sum();
    let mut arena = bytes::BytesMut::zeroed(total);
    for fragment in fragments {
        match feed {
            Feed::Copied => conn.receive_data(fragment),
            Feed::Arena { shrink } => {
                arena[..fragment.len()].copy_from_slice(fragment);
                conn.receive_bytes(arena.split_to(fragment.len()));
                if shrink {
                    conn.shrink_receive_buffer();
                }
            }
            Feed::Separate => conn.receive_bytes(bytes::BytesMut::from(*fragment)),
        }
        loop {
            match conn.next_event().expect("valid input") {
                Event::NeedData => break,
                Event::Paused => {
                    conn.send(Response::new(200).with_header("Content-Length", "0"))
                        .unwrap();
                    conn.send(EndOfMessage::default()).unwrap();
                    conn.start_next_cycle().unwrap();
                }
                Event::Data(d) => match events.last_mut() {
                    Some(Event::Data(prev)) => {
                        let mut joined = prev.data.to_vec();
                        joined.extend_from_slice(&d.data);
                        prev.data = Bytes::from(joined);
                    }
                    _ => events.push(Event::Data(d)),
                },
                ev => events.push(ev),
            }
        }
    }
    events
}

fn to_headers(fields: &[(String, String)]) -> Headers {
    fields.iter().map(|(n, v)| (n.clone(), v.clone())).collect()
}

#[derive(Debug, Clone)]
struct ResponseSpec {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Declare a Content-Length (else the server picks chunked).
    length: bool,
    trailers: Vec<(String, String)>,
}

fn response_spec() -> impl Strategy<Value = ResponseSpec> {
    (
        prop::sample::select(vec![200u16, 201, 204, 304, 404, 418, 500, 599]),
        fields(6),
        body(),
        any::<bool>(),
        fields(2),
    )
        .prop_map(|(status, headers, body, length, trailers)| ResponseSpec {
            status,
            headers,
            body,
            length,
            trailers,
        })
}

/// Sends a message's body in the given pieces and its end.
fn send_body(conn: &mut Connection, body: &[u8], cuts: &[usize], trailers: Headers) {
    for piece in pieces(body, cuts) {
        conn.send(Data {
            stream_id: StreamId::ZERO,
            data: Bytes::from(piece),
        })
        .unwrap();
    }
    conn.send(EndOfMessage {
        stream_id: StreamId::ZERO,
        trailers,
    })
    .unwrap();
}

/// Reads every event up to `Paused`, merging the body.
fn receive(conn: &mut Connection, bytes: &[u8]) -> (Event, Vec<u8>, Headers) {
    conn.receive_data(bytes);
    let head = conn.next_event().unwrap();
    let mut body = Vec::new();
    loop {
        match conn.next_event().unwrap() {
            Event::Data(d) => body.extend_from_slice(&d.data),
            Event::EndOfMessage(end) => {
                assert_eq!(conn.next_event().unwrap(), Event::Paused);
                return (head, body, end.trailers);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn any_split_of_a_pipeline_yields_the_same_events(
        specs in prop::collection::vec(request_spec(), 1..4),
        cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let input: Vec<u8> = specs.iter().flat_map(wire).collect();
        let whole = serve(&[&input]);
        let requests = whole.iter().filter(|e| matches!(e, Event::Request(_))).count();
        prop_assert_eq!(requests, specs.len());

        let mut at: Vec<usize> = cuts.iter().map(|c| c.index(input.len() + 1)).collect();
        at.extend([0, input.len()]);
        at.sort_unstable();
        at.dedup();
        let fragments: Vec<&[u8]> = at.windows(2).map(|w| &input[w[0]..w[1]]).collect();
        prop_assert_eq!(&serve(&fragments), &whole);
        for feed in [Feed::Arena { shrink: false }, Feed::Arena { shrink: true }, Feed::Separate] {
            prop_assert_eq!(&serve_by(&fragments, feed), &whole, "{:?}", feed);
        }
    }

    #[test]
    fn one_byte_at_a_time_yields_the_same_events(spec in request_spec()) {
        let input = wire(&spec);
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        let whole = serve(&[&input]);
        prop_assert_eq!(&serve(&bytes), &whole);
        prop_assert_eq!(&serve_by(&bytes, Feed::Arena { shrink: true }), &whole);
    }

    #[test]
    fn client_and_server_agree_on_every_message(
        cycles in prop::collection::vec((request_spec(), response_spec(), any::<bool>()), 1..5),
        cuts in prop::collection::vec(0usize..200, 0..4),
    ) {
        let mut client = Connection::new(Role::Client);
        let mut server = Connection::new(Role::Server);
        for (req, resp, head) in &cycles {
            // The request.
            let method = if *head { "HEAD" } else { req.method };
            let mut request = Request::new(method, req.target.clone())
                .with_header("Host", "example.com");
            request.headers.extend(req.headers.iter().cloned());
            let (body, trailers) = match &req.framing {
                Framing::Length => {
                    request.headers.push("Content-Length", req.body.len().to_string());
                    (&req.body[..], Headers::new())
                }
                Framing::Chunked { trailers, .. } => {
                    request.headers.push("Transfer-Encoding", "chunked");
                    (&req.body[..], to_headers(trailers))
                }
            };
            client.send(request.clone()).unwrap();
            send_body(&mut client, body, &cuts, trailers.clone());
            let (got, got_body, got_trailers) = receive(&mut server, &client.data_to_send());
            let Event::Request(got) = got else { panic!("not a request: {got:?}") };
            prop_assert_eq!(&got.method, &request.method);
            prop_assert_eq!(&got.target, &request.target);
            prop_assert_eq!(&got.headers, &request.headers);
            prop_assert_eq!(&got_body[..], body);
            prop_assert_eq!(&got_trailers, &trailers);

            // The response.
            let no_body = *head || resp.status == 204 || resp.status == 304;
            let mut response = Response::new(resp.status);
            response.headers = to_headers(&resp.headers);
            let sent_body: &[u8] = if no_body { b"" } else { &resp.body };
            if resp.length && resp.status != 204 && resp.status != 304 {
                response.headers.push("Content-Length", resp.body.len().to_string());
            }
            let chunked = !resp.length && !no_body;
            let trailers = if chunked { to_headers(&resp.trailers) } else { Headers::new() };
            server.send(response.clone()).unwrap();
            send_body(&mut server, sent_body, &cuts, trailers.clone());
            let (got, got_body, got_trailers) = receive(&mut client, &server.data_to_send());
            let Event::Response(got) = got else { panic!("not a response: {got:?}") };
            prop_assert_eq!(got.status_code, resp.status);
            let mut expected = response.headers.clone();
            if chunked {
                expected.push("Transfer-Encoding", "chunked");
            }
            prop_assert_eq!(&got.headers, &expected);
            prop_assert_eq!(&got_body[..], sent_body);
            prop_assert_eq!(&got_trailers, &trailers);

            prop_assert!(!client.should_close() && !server.should_close());
            server.start_next_cycle().unwrap();
            client.start_next_cycle().unwrap();
        }
    }
}
