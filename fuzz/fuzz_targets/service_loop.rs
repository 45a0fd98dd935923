//! libFuzzer entry point of the `service_loop` target, documented in
//! `src/targets/service_loop.rs`; `zttp-service/tests/fuzz_corpus.rs`
//! replays the committed corpus through the same function on stable.
#![no_main]

#[path = "../src/targets/service_loop.rs"]
mod service_loop;

libfuzzer_sys::fuzz_target!(|data: &[u8]| service_loop::run(data));
