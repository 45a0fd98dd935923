//! Replays the committed, minimised corpus of the `gateway_decoder` fuzz target
//! (`fuzz/corpus-min/gateway_decoder/`) through the target's own body on
//! stable: no kept input may panic a decoder of the gateway protocol or break
//! its round trip. The fuzzer runs with `cargo fuzz` (`fuzz/README.md`).

#[path = "../../fuzz/src/replay.rs"]
mod replay;
use replay::replay;

#[allow(dead_code, clippy::all)]
#[path = "../../fuzz/src/targets/gateway_decoder.rs"]
mod gateway_decoder;

#[test]
fn gateway_decoder_corpus_replays_cleanly() {
    replay("gateway_decoder", gateway_decoder::run);
}

/// Found by `gateway_decoder`: an absolute-form target with an empty path and
/// a query (`http://host?q`, RFC 3986 §3: `path-abempty` may be empty) went to
/// the worker as `GET ?q`, which no worker can parse. The origin form starts
/// with "/" (RFC 9112 §3.2.1).
#[test]
fn absolute_target_with_an_empty_path_reaches_the_worker_as_slash_and_query() {
    use bytes::Bytes;
    use zttp_zmq::__fuzz as wire;
    let frames = [Bytes::from_static(
        b"\x02GET http://example.com?q=1 HTTP/1.1\r\nuser-agent: t\r\n",
    )];
    let (parts, flags) = wire::request_head(&frames, false).expect("decodes");
    let sent = wire::encode_request_head(1, &parts, flags);
    assert!(
        sent[1].starts_with(b"\x02GET /?q=1 HTTP/1.1\r\nhost: example.com\r\n"),
        "{:?}",
        sent[1]
    );
    let (at_worker, _) = wire::request_head(&sent[1..], false).expect("the worker decodes it");
    assert_eq!(at_worker.uri, "/?q=1");
}
