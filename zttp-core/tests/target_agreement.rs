//! Every request-target the core accepts means the same to the `http`
//! crate's `Uri`, which is what a handler sees: the raw target and the URI
//! can never disagree (RFC 9112 §3.2, RFC 3986 §3.3–§3.5). The property runs
//! strict and with `Leniency::unescaped_target_chars`.
//!
//! One gap is known and allowed: a percent-encoded host in an absolute-form
//! target (`http://%61/`) is valid URI syntax (RFC 3986 §3.2.2) that `http`
//! refuses to parse at all; zttp-service answers such a request 400, so the
//! handler never sees a URI that differs from the raw target.

use proptest::prelude::*;
use zttp_core::{Config, Connection, Event, Leniency, Role};

/// The target the core hands out for `target`, or `None` when it rejects it.
fn accepted(target: &str, lenient: bool) -> Option<Vec<u8>> {
    let config = Config::default().leniency(Leniency::default().unescaped_target_chars(lenient));
    let mut conn = Connection::with_config(Role::Server, config);
    conn.receive_data(format!("GET {target} HTTP/1.1\r\nHost: a\r\n\r\n").as_bytes());
    match conn.next_event() {
        Ok(Event::Request(req)) => Some(req.target.to_vec()),
        _ => None,
    }
}

/// The authority of an absolute-form target.
fn authority_of(target: &str) -> &str {
    let rest = &target[target.find("://").map_or(0, |i| i + 3)..];
    &rest[..rest.find(['/', '?']).unwrap_or(rest.len())]
}

fn check(target: &str) -> Result<(), TestCaseError> {
    for lenient in [false, true] {
        let Some(raw) = accepted(target, lenient) else {
            continue;
        };
        prop_assert_eq!(&raw[..], target.as_bytes());
        let uri: http::Uri = match target.parse() {
            Ok(uri) => uri,
            Err(_) if !target.starts_with('/') && authority_of(target).contains('%') => continue,
            Err(e) => {
                return Err(TestCaseError::fail(format!(
                    "{target:?} (lenient {lenient}): {e}"
                )))
            }
        };
        if target.starts_with('/') {
            prop_assert_eq!(uri.path_and_query().map(|p| p.as_str()), Some(target));
        } else {
            // absolute-form: scheme, authority and path/query survive intact.
            let rebuilt = format!(
                "{}://{}{}",
                uri.scheme_str().unwrap_or_default(),
                uri.authority().map(|a| a.as_str()).unwrap_or_default(),
                uri.path_and_query().map(|p| p.as_str()).unwrap_or_default()
            );
            let expected = if target[target.find("://").unwrap() + 3..].contains(['/', '?']) {
                target.to_owned()
            } else {
                format!("{target}/")
            };
            prop_assert!(
                rebuilt.eq_ignore_ascii_case(&expected),
                "{} vs {}",
                rebuilt,
                expected
            );
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn accepted_origin_form_targets_parse_to_the_same_uri(target in "/[!-~]{0,24}") {
        check(&target)?;
    }

    #[test]
    fn accepted_absolute_form_targets_parse_to_the_same_uri(
        scheme in prop::sample::select(vec!["http", "https", "HTTP"]),
        authority in "[a-z0-9.:@\\[\\]%-]{0,12}",
        rest in "([/?][!-~]{0,16})?",
    ) {
        check(&format!("{scheme}://{authority}{rest}"))?;
    }
}

#[test]
fn known_disagreements_of_the_past_are_rejected() {
    // A fragment: `http::Uri` drops it, so the core must not accept it.
    assert_eq!(accepted("/a#b", false), None);
    assert_eq!(accepted("/a#b", true), None);
    assert_eq!(accepted("/a?b#c", true), None);
}
