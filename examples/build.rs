//! Marks the real-peer tests `#[ignore]` when `ZTTP_SKIP_PEERS` opts out of their peer.
fn main() {
    zttp_peers::emit_skip_cfg();
}
