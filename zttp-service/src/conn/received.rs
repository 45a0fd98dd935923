//! The one place zttp-service uses `unsafe`: a field value of an HTTP/1.1
//! request head becomes an `http::HeaderValue` without its bytes being
//! checked a second time.
//!
//! The core's head scanner admits a field value only when every byte is a
//! field-value byte (RFC 9110 §5.5: VCHAR, obs-text, SP, HTAB; an obs-fold,
//! where allowed, is joined with SP from bytes checked the same way), and no
//! leniency widens that set. `http`'s own check (`HeaderValue::from_bytes`)
//! accepts exactly that set: no control byte but HTAB, no DEL. Checking again
//! costs about eight instructions per byte on every request.
//!
//! `HeaderValue::from_maybe_shared_unchecked` states one safety condition:
//! the bytes are valid UTF-8. An obs-text byte (0x80–0xFF) can break it, so
//! only an all-ASCII value takes the unchecked path; any other is checked as
//! before. Whether a value is ASCII is looked at here, unless the core's
//! scan, which saw every byte, says so of the whole list
//! (`Headers::known_ascii`). Debug builds of `http` check the bytes anyway and panic on a bad
//! one, so every test run exercises the claim.
#![allow(unsafe_code)]

use bytes::Bytes;
use http::header::{HeaderValue, InvalidHeaderValue};

/// A field value the core read from an HTTP/1.1 request head, as a
/// `HeaderValue`. `known_ascii`: the core's list says all its values are
/// ASCII ([`zttp_core::Headers::known_ascii`]), so this one is not checked.
pub(super) fn http1_field_value(
    value: Bytes,
    known_ascii: bool,
) -> Result<HeaderValue, InvalidHeaderValue> {
    if !known_ascii && !value.is_ascii() {
        return HeaderValue::from_maybe_shared(value);
    }
    // SAFETY: the bytes are ASCII (checked here, or found so by the core's
    // scan of this very list), so valid UTF-8, the function's one
    // safety condition. They also hold `HeaderValue`'s invariant (no control
    // byte but HTAB, no DEL): the core's head scanner admitted only
    // field-value bytes (see the module doc; tested below for every byte).
    Ok(unsafe { HeaderValue::from_maybe_shared_unchecked(value) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use zttp_core::{Connection, Event, Role};

    /// The values of the fields the core accepts in `head`, if it accepts
    /// it, and whether its list says they are all ASCII.
    fn accepted_values(head: &[u8]) -> Option<(Vec<Bytes>, bool)> {
        let mut core = Connection::new(Role::Server);
        core.receive_data(head);
        match core.next_event() {
            Ok(Event::Request(req)) => Some((
                req.headers.iter().map(|(_, v)| v.clone()).collect(),
                req.headers.known_ascii(),
            )),
            _ => None,
        }
    }

    #[test]
    fn every_byte_the_core_admits_in_a_value_is_one_http_admits() {
        let mut admitted = 0;
        for b in 0..=255u8 {
            for (before, after) in [(&b""[..], &b"x"[..]), (b"x", b"x"), (b"x", b"")] {
                let mut head = b"GET / HTTP/1.1\r\nHost: a\r\nX-Probe: ".to_vec();
                head.extend_from_slice(before);
                head.push(b);
                head.extend_from_slice(after);
                head.extend_from_slice(b"\r\n\r\n");
                let Some((values, known)) = accepted_values(&head) else {
                    continue;
                };
                for value in values {
                    let checked = HeaderValue::from_maybe_shared(value.clone()).ok();
                    assert!(
                        checked.is_some(),
                        "core admitted {value:?}, http refuses it"
                    );
                    // As the core's list tells, and as checked here.
                    assert_eq!(http1_field_value(value.clone(), known).ok(), checked);
                    assert_eq!(http1_field_value(value, false).ok(), checked);
                }
                admitted += 1;
            }
        }
        // Every byte but CR, LF, NUL, the other controls and DEL, in some position.
        assert!(admitted > 3 * 190, "only {admitted} heads admitted");
    }

    #[test]
    fn a_value_with_obs_text_is_checked_and_kept() {
        let value = Bytes::from_static(b"caf\xc3\xa9 \xff");
        let header = http1_field_value(value.clone(), false).unwrap();
        assert_eq!(header.as_bytes(), &value[..]);
    }
}
