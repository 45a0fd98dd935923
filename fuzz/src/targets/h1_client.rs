//! HTTP/1.1 client: sends a request (GET, HEAD, CONNECT, an upgrade, a POST;
//! chosen by the input), then reads arbitrary bytes as the answer, cut into
//! fragments; after each complete answer it sends the next request.
//!
//! Input: `[config, request kinds, split size, split seed, bytes…]`; bit 7 of
//! `config` closes the stream after the bytes.

use super::{assert_split_invariant, feed, h1_config, Client, Split};
use zttp_core::{Connection, Role};

/// Runs one input (the fuzz target's body).
pub fn run(data: &[u8]) {
    let [cfg, kinds, size, seed, ref input @ ..] = *data else {
        return;
    };
    // Protocol detection is for servers only.
    let config = h1_config(cfg & !32);
    let eof = cfg & 0x80 != 0;
    let kinds = [kinds & 7, (kinds >> 3) & 7, kinds >> 6];
    assert_split_invariant(Split::from_bytes(size, seed), |split| {
        let mut conn = Connection::with_config(Role::Client, config.clone());
        let mut client = Client::new(&kinds);
        client.send_request(&mut conn);
        feed(&mut conn, &split.fragments(input), eof, |c, ev| {
            client.on_event(c, ev)
        })
    });
}
