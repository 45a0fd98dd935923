//! Replays the committed, minimised fuzz corpora (`fuzz/corpus-min/<target>/`)
//! through the fuzz targets' own bodies (`fuzz/src/targets/`), on stable, as
//! part of `cargo test`: every input the fuzzers kept for coverage must still
//! run without a panic or a broken invariant after any change to the engine.
//! The fuzzers themselves run with `cargo fuzz` (see `fuzz/README.md`).

use std::path::{Path, PathBuf};

#[allow(dead_code, clippy::all)]
#[path = "../../fuzz/src/lib.rs"]
mod zttp_fuzz;

/// The corpus files of `target`, sorted by name.
fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus-min")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
}

fn replay(target: &str, run: fn(&[u8])) {
    let files = corpus(target);
    assert!(
        files.len() >= 10,
        "{target}: only {} corpus files",
        files.len()
    );
    for file in &files {
        let data = std::fs::read(file).unwrap();
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            panic!(
                "{target}: {} fails (cargo fuzz run {target} on it to see why)",
                file.display()
            );
        }
    }
    println!("{target}: {} inputs replayed", files.len());
}

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
