//! Replays the committed, minimised corpora of the fuzz targets that run the
//! drive loop (`fuzz/corpus-min/service_loop/`, `…/websocket_handshake/`)
//! through the targets' own bodies on stable: no kept input may panic the
//! drive loop, keep a connection open after its client is done, or (for the
//! WebSocket handshake) get a verdict the RFC does not give. The fuzzers run
//! with `cargo fuzz` (`fuzz/README.md`).

use std::path::Path;

#[allow(dead_code, clippy::all)]
#[path = "../../fuzz/src/targets/service_loop.rs"]
mod service_loop;

#[cfg(feature = "websocket")]
#[allow(dead_code, clippy::all)]
#[path = "../../fuzz/src/targets/websocket_handshake.rs"]
mod websocket_handshake;

#[test]
fn service_loop_corpus_replays_cleanly() {
    replay("service_loop", service_loop::run);
}

/// Needs the `websocket` feature, which `cargo test --workspace` turns on
/// (the examples use it).
#[cfg(feature = "websocket")]
#[test]
fn websocket_handshake_corpus_replays_cleanly() {
    replay("websocket_handshake", websocket_handshake::run);
}

/// Runs every committed input of `target` through `run`.
fn replay(target: &str, run: fn(&[u8])) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus-min")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 10, "only {} corpus files", files.len());
    for file in &files {
        let data = std::fs::read(file).unwrap();
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            panic!(
                "{} fails (cargo fuzz run {target} on it to see why)",
                file.display()
            );
        }
    }
    println!("{target}: {} inputs replayed", files.len());
}
