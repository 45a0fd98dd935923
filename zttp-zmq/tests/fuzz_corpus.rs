//! Replays the committed, minimised corpus of the `gateway_decoder` fuzz target
//! (`fuzz/corpus-min/gateway_decoder/`) through the target's own body on
//! stable: no kept input may panic a decoder of the gateway protocol or break
//! its round trip. The fuzzer runs with `cargo fuzz` (`fuzz/README.md`).

use std::path::Path;

#[allow(dead_code, clippy::all)]
#[path = "../../fuzz/src/targets/gateway_decoder.rs"]
mod gateway_decoder;

#[test]
fn gateway_decoder_corpus_replays_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus-min/gateway_decoder");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 10, "only {} corpus files", files.len());
    for file in &files {
        let data = std::fs::read(file).unwrap();
        if std::panic::catch_unwind(|| gateway_decoder::run(&data)).is_err() {
            panic!(
                "{} fails (cargo fuzz run gateway_decoder on it to see why)",
                file.display()
            );
        }
    }
    println!("gateway_decoder: {} inputs replayed", files.len());
}
