//! Replays the committed, minimised corpora of the fuzz targets that run the
//! drive loop (`fuzz/corpus-min/service_loop/`, `…/websocket_handshake/`,
//! `…/tls_loop/`) through the targets' own bodies on stable: no kept input may
//! panic the drive loop, keep a connection open after its client is done, (for
//! the WebSocket handshake) get a verdict the RFC does not give, or (over TLS)
//! settle another ALPN or answer in another protocol than it chose. The fuzzers run
//! with `cargo fuzz` (`fuzz/README.md`).

#[path = "../../fuzz/src/replay.rs"]
mod replay;
use replay::replay;

#[allow(dead_code, clippy::all)]
#[path = "../../fuzz/src/targets/service_loop.rs"]
mod service_loop;

#[cfg(feature = "websocket")]
#[allow(dead_code, clippy::all)]
#[path = "../../fuzz/src/targets/websocket_handshake.rs"]
mod websocket_handshake;

#[allow(dead_code)]
#[path = "../../fuzz/src/targets/tls_loop.rs"]
mod tls_loop;

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

#[test]
fn tls_loop_corpus_replays_cleanly() {
    replay("tls_loop", tls_loop::run);
}

/// The TLS harness is not vacuous: a GET over each ALPN gets its answer.
#[test]
fn tls_loop_answers_a_get_in_the_protocol_alpn_chose() {
    let get = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n";
    for cfg in [0, 1 | 4, 1 | 8] {
        let answer = tls_loop::exchange(&[[cfg, 0, 0].as_slice(), get].concat()).unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 200 "), "{cfg}: {answer}");
        assert!(answer.ends_with("len=0"), "{cfg}: {answer}");
    }
    let frame = |kind: u8, flags: u8, stream: u8, payload: &[u8]| {
        let mut f = vec![0, 0, payload.len() as u8, kind, flags, 0, 0, 0, stream];
        f.extend_from_slice(payload);
        f
    };
    let mut h2 = vec![2 | 4, 0, 0];
    h2.extend_from_slice(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
    h2.extend(frame(4, 0, 0, b""));
    h2.extend(frame(1, 5, 1, b"\x82\x87\x84\x41\x09localhost"));
    let answer = tls_loop::exchange(&h2).unwrap();
    assert_eq!(answer[3], 4, "starts with SETTINGS");
    let mut at = 0;
    let mut kinds = Vec::new();
    while at + 9 <= answer.len() {
        let len = usize::from(answer[at]) << 16
            | usize::from(answer[at + 1]) << 8
            | usize::from(answer[at + 2]);
        kinds.push((answer[at + 3], answer[at + 8]));
        at += 9 + len;
    }
    assert!(kinds.contains(&(1, 1)), "HEADERS on stream 1: {kinds:?}");
    assert!(kinds.contains(&(0, 1)), "DATA on stream 1: {kinds:?}");
    assert!(tls_loop::exchange(&[3, 0, 0, 0x16, 3, 1, 0, 1, 0]).is_none());
}
