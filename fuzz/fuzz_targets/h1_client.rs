//! libFuzzer entry point of the `h1_client` target, documented in
//! `src/targets/h1_client.rs`; the body lives in the library so that
//! `zttp-core/tests/fuzz_corpus.rs` replays the committed corpus on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zttp_fuzz::h1_client::run(data));
