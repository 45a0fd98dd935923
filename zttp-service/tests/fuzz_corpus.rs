//! Replays the committed, minimised corpus of the `service_loop` fuzz target
//! (`fuzz/corpus-min/service_loop/`) through the target's own body on
//! stable: no kept input may panic the drive loop or keep a connection open
//! after its client is done. The fuzzer runs with `cargo fuzz` (`fuzz/README.md`).

use std::path::Path;

#[allow(dead_code, clippy::all)]
#[path = "../../fuzz/src/targets/service_loop.rs"]
mod service_loop;

#[test]
fn service_loop_corpus_replays_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz/corpus-min/service_loop");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 10, "only {} corpus files", files.len());
    for file in &files {
        let data = std::fs::read(file).unwrap();
        if std::panic::catch_unwind(|| service_loop::run(&data)).is_err() {
            panic!(
                "{} fails (cargo fuzz run service_loop on it to see why)",
                file.display()
            );
        }
    }
    println!("service_loop: {} inputs replayed", files.len());
}
