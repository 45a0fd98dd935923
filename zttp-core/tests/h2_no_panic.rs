//! Arbitrary input never panics the HTTP/2 engine, in either role, and an
//! error always leaves it in the error state.

#[path = "h2_support.rs"]
mod support;

use proptest::prelude::*;
use support::*;
use zttp_core::StreamId;
use zttp_core::{Connection, Event, Role, H2_PREFACE};

/// Frames with plausible types, flags and stream ids, and random payloads.
fn frames() -> impl Strategy<Value = Vec<u8>> {
    let one = (
        0u8..12,
        any::<u8>(),
        0u32..8,
        proptest::collection::vec(any::<u8>(), 0..40),
    );
    proptest::collection::vec(one, 0..30).prop_map(|fs| {
        fs.into_iter()
            .flat_map(|(kind, flags, id, payload)| frame(kind, flags, id, &payload))
            .collect()
    })
}

fn run(conn: &mut Connection, input: &[u8], chunk: usize) {
    for piece in input.chunks(chunk.max(1)) {
        conn.receive_data(piece);
        loop {
            match conn.next_event() {
                Ok(Event::NeedData) | Ok(Event::ConnectionClosed) => break,
                Ok(_) => {}
                Err(e) => {
                    assert_eq!(conn.next_event(), Err(e));
                    assert!(conn.should_close());
                    return;
                }
            }
        }
        let _ = conn.data_to_send();
    }
}

proptest! {
    #[test]
    fn server_survives_arbitrary_frames(body in frames(), chunk in 1usize..64) {
        let mut server = Connection::with_config(Role::Server, h2_config(|_| {}));
        let mut input = H2_PREFACE.to_vec();
        input.extend(frame(SETTINGS, 0, 0, &[]));
        input.extend(body);
        run(&mut server, &input, chunk);
    }

    #[test]
    fn client_survives_arbitrary_frames(body in frames(), chunk in 1usize..64) {
        let mut client = Connection::with_config(Role::Client, h2_config(|_| {}));
        let mut req = zttp_core::Request::new("GET", "/");
        req.stream_id = StreamId::new(1);
        client.send(req).unwrap();
        let mut input = frame(SETTINGS, 0, 0, &[]);
        input.extend(body);
        run(&mut client, &input, chunk);
    }

    #[test]
    fn server_survives_arbitrary_bytes(body in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut server = Connection::with_config(Role::Server, h2_config(|_| {}));
        let mut input = H2_PREFACE.to_vec();
        input.extend(frame(SETTINGS, 0, 0, &[]));
        input.extend(body);
        run(&mut server, &input, 7);
    }
}
