//! libFuzzer entry point of the `hpack_decoder` target, documented in
//! `src/targets/hpack_decoder.rs`; the body lives in the library so that
//! `zttp-core/tests/fuzz_corpus.rs` replays the committed corpus on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zttp_fuzz::hpack_decoder::run(data));
