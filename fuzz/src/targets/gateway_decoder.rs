//! The decoders of `zttp-zmq`'s gateway ⇄ worker protocol (`PROTOCOL.md`),
//! on arbitrary multipart messages: what a gateway reads from workers
//! (`HELLO`, response `HEAD`, `RESPONSE`) and what a worker reads from a
//! gateway (`WELCOME`, request `HEAD`).
//!
//! Input: `[raw, frames…]`, each frame a big-endian u16 length then its
//! bytes (a short last frame takes what is left). Every decoder reads every
//! input; bit 0 of `raw` keeps the request's header case.
//!
//! Checks: no panic, and every decoded message survives a round trip: encoded
//! again it decodes to the same values, so what one side accepts and sends on
//! the other side accepts. A request head is normalised when the gateway
//! encodes it (hop-by-hop fields dropped, origin-form target, `host` added):
//! the normalisation is checked to be stable (encoding the decoded encoding
//! gives the same bytes).
//!
//! Self-contained (it is not part of `zttp_fuzz`'s library): the libFuzzer
//! entry point and `zttp-zmq/tests/fuzz_corpus.rs` include this file.

use bytes::Bytes;
use zttp_zmq::__fuzz as wire;

/// Runs one input (the fuzz target's body).
pub fn run(data: &[u8]) {
    let [raw, ref rest @ ..] = *data else {
        return;
    };
    let raw = raw & 1 != 0;
    let frames = frames(rest);
    // A whole message: the control frame, then what the kind carries.
    if let Some((control, after)) = frames.split_first() {
        let _ = wire::control(control);
        check_all(after, raw);
    }
    // The same frames as the part after a control frame.
    check_all(&frames, raw);
}

/// Splits `data` into frames of a u16 length each.
fn frames(mut data: &[u8]) -> Vec<Bytes> {
    let mut out = Vec::new();
    while let [hi, lo, ref rest @ ..] = *data {
        let n = usize::from(u16::from_be_bytes([hi, lo])).min(rest.len());
        out.push(Bytes::copy_from_slice(&rest[..n]));
        data = &rest[n..];
        if out.len() == 8 {
            break;
        }
    }
    out
}

/// Every decoder on `frames` (what follows a control frame), with its round trip.
fn check_all(frames: &[Bytes], raw: bool) {
    if let (Some(version), Some(capacity)) = wire::hello(frames) {
        let again = wire::encode_hello(version, capacity);
        assert_eq!(
            wire::hello(&again[1..]),
            (Some(version), Some(capacity)),
            "HELLO round trip"
        );
    }
    if let Some((_, interval, timeout)) = wire::welcome(frames) {
        let again = wire::encode_welcome(interval, timeout);
        let (_, i, t) = wire::welcome(&again[1..]).expect("our WELCOME decodes");
        assert_eq!((i, t), (interval, timeout), "WELCOME round trip");
    }
    if let Some((status, headers, body_len)) = wire::response_head(frames) {
        let again = wire::encode_response_head(1, status, headers.clone(), body_len);
        assert_eq!(wire::control(&again[0]), Some((1, 1)));
        let back = wire::response_head(&again[1..]).expect("our response HEAD decodes");
        assert_eq!(
            back,
            (status, headers, body_len),
            "response HEAD round trip"
        );
    }
    if let Some((status, headers, body)) = wire::full_response(frames) {
        let again = wire::encode_full_response(2, status, headers.clone(), body.clone());
        assert_eq!(wire::control(&again[0]), Some((13, 2)));
        let back = wire::full_response(&again[1..]).expect("our RESPONSE decodes");
        assert_eq!(back, (status, headers, body), "RESPONSE round trip");
    }
    if let Some((parts, flags)) = wire::request_head(frames, raw) {
        let first = wire::encode_request_head(3, &parts, flags);
        let (again, again_flags) =
            wire::request_head(&first[1..], raw).expect("the gateway's request HEAD decodes");
        assert_eq!(again_flags, flags, "request flags");
        assert_eq!(again.method, parts.method, "request method");
        assert_eq!(again.version, parts.version, "request version");
        let second = wire::encode_request_head(3, &again, again_flags);
        assert_eq!(
            first, second,
            "request HEAD normalisation is not stable: {parts:?}"
        );
    }
}
