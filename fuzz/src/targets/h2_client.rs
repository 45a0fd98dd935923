//! HTTP/2 client: sends a request, then reads an empty SETTINGS frame and
//! arbitrary bytes (frames) as the server's, cut into fragments; after each
//! stream ends it opens the next one.
//!
//! Input: `[config, request kinds, split size, split seed, bytes…]`; bit 7 of
//! `config` closes the stream after the bytes.

use super::{assert_split_invariant, feed, h2_config, h2_frame, Client, Split};
use zttp_core::{Connection, Role};

/// Runs one input (the fuzz target's body).
pub fn run(data: &[u8]) {
    let [cfg, kinds, size, seed, ref frames @ ..] = *data else {
        return;
    };
    let config = h2_config(cfg);
    let eof = cfg & 0x80 != 0;
    let kinds = [kinds & 7, (kinds >> 3) & 7, kinds >> 6];
    let mut input = h2_frame(4, 0, 0, &[]);
    input.extend_from_slice(frames);
    assert_split_invariant(Split::from_bytes(size, seed), |split| {
        let mut conn = Connection::with_config(Role::Client, config.clone());
        let mut client = Client::new(&kinds);
        client.send_request(&mut conn);
        feed(&mut conn, &split.fragments(&input), eof, |c, ev| {
            client.on_event(c, ev)
        })
    });
}
