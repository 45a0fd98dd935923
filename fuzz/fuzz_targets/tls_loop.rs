//! libFuzzer entry point of the `tls_loop` target, documented in
//! `src/targets/tls_loop.rs`; `zttp-service/tests/fuzz_corpus.rs` replays
//! the committed corpus through the same function on stable.
#![no_main]

#[path = "../src/targets/tls_loop.rs"]
mod tls_loop;

libfuzzer_sys::fuzz_target!(|data: &[u8]| tls_loop::run(data));
