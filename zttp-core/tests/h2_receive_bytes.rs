//! HTTP/2 bytes handed over with `receive_bytes` (as a server's read arena
//! does): however they are cut, split off one shared buffer or not, and with
//! the receive buffer shrunk after each piece or not, a server yields the
//! same events as when it gets them in one piece with `receive_data`; and
//! DATA handed out is a slice of the buffer the bytes were read into.

#[path = "h2_support.rs"]
mod support;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use support::*;
use zttp_core::{Connection, Data, EndOfMessage, Event, Request, Role};

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
    events
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
        let wire = client_bytes();
        cuts.sort_unstable();
        let whole = serve(&wire, &[], Feed::Copied);
        prop_assert_eq!(&serve(&wire, &cuts, Feed::Copied), &whole);
        prop_assert_eq!(&serve(&wire, &cuts, Feed::Arena { shrink }), &whole);
        prop_assert_eq!(&serve(&wire, &cuts, Feed::Separate), &whole);
    }
}

#[test]
fn byte_at_a_time_through_the_arena_gives_the_same_events() {
    let wire = client_bytes();
    let cuts: Vec<usize> = (1..wire.len()).collect();
    let whole = serve(&wire, &[], Feed::Copied);
    assert_eq!(serve(&wire, &cuts, Feed::Arena { shrink: true }), whole);
    assert_eq!(serve(&wire, &cuts, Feed::Arena { shrink: false }), whole);
}
