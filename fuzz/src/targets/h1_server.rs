//! HTTP/1.1 server: arbitrary bytes from a client, cut into fragments, with
//! a server that answers each request so cycles go on.
//!
//! Input: `[config, policy, split size, split seed, bytes…]`; bit 7 of
//! `config` closes the stream after the bytes.

use super::{assert_split_invariant, feed, h1_config, Server, Split};
use zttp_core::{Connection, Role};

/// Runs one input (the fuzz target's body).
pub fn run(data: &[u8]) {
    let [cfg, policy, size, seed, ref input @ ..] = *data else {
        return;
    };
    let config = h1_config(cfg);
    let eof = cfg & 0x80 != 0;
    assert_split_invariant(Split::from_bytes(size, seed), |split| {
        let mut conn = Connection::with_config(Role::Server, config.clone());
        let mut server = Server::new(policy);
        feed(&mut conn, &split.fragments(input), eof, |c, ev| {
            server.on_event(c, ev)
        })
    });
}
