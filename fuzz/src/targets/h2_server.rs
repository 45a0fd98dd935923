//! HTTP/2 server: the client preface and an empty SETTINGS frame, then
//! arbitrary bytes (frames), cut into fragments; every request is answered.
//!
//! Input: `[config, policy, split size, split seed, bytes…]`; bit 7 of
//! `config` closes the stream after the bytes.

use super::{assert_split_invariant, feed, h2_config, h2_frame, Server, Split};
use zttp_core::{Connection, Role, H2_PREFACE};

/// Runs one input (the fuzz target's body).
pub fn run(data: &[u8]) {
    let [cfg, policy, size, seed, ref frames @ ..] = *data else {
        return;
    };
    let config = h2_config(cfg);
    let eof = cfg & 0x80 != 0;
    let mut input = H2_PREFACE.to_vec();
    input.extend(h2_frame(4, 0, 0, &[]));
    input.extend_from_slice(frames);
    assert_split_invariant(Split::from_bytes(size, seed), |split| {
        let mut conn = Connection::with_config(Role::Server, config.clone());
        let mut server = Server::new(policy);
        feed(&mut conn, &split.fragments(&input), eof, |c, ev| {
            server.on_event(c, ev)
        })
    });
}
