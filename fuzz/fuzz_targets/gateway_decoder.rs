//! libFuzzer entry point of the `gateway_decoder` target, documented in
//! `src/targets/gateway_decoder.rs`; `zttp-zmq/tests/fuzz_corpus.rs` replays
//! the committed corpus through the same function on stable.
#![no_main]

#[path = "../src/targets/gateway_decoder.rs"]
mod gateway_decoder;

libfuzzer_sys::fuzz_target!(|data: &[u8]| gateway_decoder::run(data));
