//! libFuzzer entry point of the `connection_ops` target, documented in
//! `src/targets/connection_ops.rs`; the body lives in the library so that
//! `zttp-core/tests/fuzz_corpus.rs` replays the committed corpus on stable.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| zttp_fuzz::connection_ops::run(data));
