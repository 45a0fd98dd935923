//! Replays the committed, minimised fuzz corpora (`fuzz/corpus-min/<target>/`)
//! through the fuzz targets' own bodies (`fuzz/src/targets/`), on stable, as
//! part of `cargo test`: every input the fuzzers kept for coverage must still
//! run without a panic or a broken invariant after any change to the engine.
//! The fuzzers themselves run with `cargo fuzz` (see `fuzz/README.md`).

#[allow(dead_code, clippy::all)]
#[path = "../../fuzz/src/lib.rs"]
mod zttp_fuzz;

#[path = "../../fuzz/src/replay.rs"]
mod replay;
use replay::replay;

macro_rules! replays {
    ($($test:ident: $target:ident,)*) => {$(
        #[test]
        fn $test() {
            replay(stringify!($target), zttp_fuzz::$target::run);
        }
    )*};
}

replays! {
    h1_server_corpus_replays_cleanly: h1_server,
    h1_client_corpus_replays_cleanly: h1_client,
    h2_server_corpus_replays_cleanly: h2_server,
    h2_client_corpus_replays_cleanly: h2_client,
    h2_timers_corpus_replays_cleanly: h2_timers,
    hpack_decoder_corpus_replays_cleanly: hpack_decoder,
    hpack_roundtrip_corpus_replays_cleanly: hpack_roundtrip,
    connection_ops_corpus_replays_cleanly: connection_ops,
}
