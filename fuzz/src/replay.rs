//! Replays a fuzz target's committed, minimised corpus
//! (`fuzz/corpus-min/<target>/`) through the target's own body on stable.
//! Each crate's `tests/fuzz_corpus.rs` includes this file (by path, as it
//! includes the targets), so the replay rule is written once.

use std::path::{Path, PathBuf};

/// The corpus files of `target`, sorted by name.
pub fn corpus(target: &str) -> Vec<PathBuf> {
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

/// Runs every committed input of `target` through `run`; fails on the first
/// that panics, and when the corpus holds fewer than 10 inputs.
pub fn replay(target: &str, run: fn(&[u8])) {
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
