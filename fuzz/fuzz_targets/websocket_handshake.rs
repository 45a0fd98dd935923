//! libFuzzer entry point of the `websocket_handshake` target, documented in
//! `src/targets/websocket_handshake.rs`; `zttp-service/tests/fuzz_corpus.rs`
//! replays the committed corpus through the same function on stable.
#![no_main]

#[path = "../src/targets/websocket_handshake.rs"]
mod websocket_handshake;

libfuzzer_sys::fuzz_target!(|data: &[u8]| websocket_handshake::run(data));
