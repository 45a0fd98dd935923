//! The syntax of request-targets and `Host` values (RFC 9112 §3.2,
//! RFC 3986 §3.2–§3.4, RFC 9110 §4.2), checked byte by byte, no allocation.
//!
//! What a server accepts here is what the `http` crate's `Uri` parses to the
//! same bytes: no fragment (`#`) ever, so the raw target the core hands out and
//! the URI a handler sees cannot disagree.

/// `unreserved` (RFC 3986 §2.3).
const fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// `sub-delims` (RFC 3986 §2.2).
const fn is_sub_delim(b: u8) -> bool {
    matches!(
        b,
        b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'='
    )
}

/// `pchar` without `pct-encoded` (RFC 3986 §3.3).
const fn is_pchar(b: u8) -> bool {
    is_unreserved(b) || is_sub_delim(b) || matches!(b, b':' | b'@')
}

/// Bytes RFC 3986 excludes from a path that browsers still send unescaped
/// (the WHATWG path percent-encode set leaves `|`, `[`, `]` alone) and the
/// `http` crate accepts; allowed only with [`Leniency::unescaped_target_chars`].
///
/// [`Leniency::unescaped_target_chars`]: crate::Leniency::unescaped_target_chars
const fn is_lenient_path_char(b: u8) -> bool {
    matches!(b, b'"' | b'[' | b'\\' | b']' | b'^' | b'{' | b'|' | b'}')
}

/// The same for a query (the WHATWG query percent-encode set leaves these alone).
const fn is_lenient_query_char(b: u8) -> bool {
    matches!(b, b'[' | b'\\' | b']' | b'^' | b'`' | b'{' | b'|' | b'}')
}

/// Byte classes, looked up once per byte: `reg-name` characters other than
/// `%` (unreserved and sub-delims), and `pchar`s other than `%` plus `/`.
const REG_NAME: u8 = 1;
const PATH: u8 = 2;
const CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if is_unreserved(c) || is_sub_delim(c) {
            t[b] |= REG_NAME;
        }
        if is_pchar(c) || c == b'/' {
            t[b] |= PATH;
        }
        b += 1;
    }
    t
};

/// `pct-encoded` starts at `s[i]` (a `%` then two hex digits).
fn is_pct_encoded(s: &[u8], i: usize) -> bool {
    s.len() > i + 2 && s[i + 1].is_ascii_hexdigit() && s[i + 2].is_ascii_hexdigit()
}

/// `path [ "?" query ]` where the path is any run of `pchar` and `/`
/// (RFC 3986 §3.3–§3.4). `lenient` admits [`is_lenient_path_char`] and
/// [`is_lenient_query_char`] and a `%` not followed by two hex digits.
pub(crate) fn is_path_and_query(s: &[u8], lenient: bool) -> bool {
    let mut in_query = false;
    let mut i = 0;
    while i < s.len() {
        let b = s[i];
        if CLASS[b as usize] & PATH != 0 {
            i += 1;
            continue;
        }
        match b {
            b'%' if is_pct_encoded(s, i) => i += 2,
            b'%' if lenient => {}
            b'?' => in_query = true,
            b'/' => {}
            _ if is_pchar(b) => {}
            _ if lenient && in_query && is_lenient_query_char(b) => {}
            _ if lenient && !in_query && is_lenient_path_char(b) => {}
            _ => return false,
        }
        i += 1;
    }
    true
}

/// `origin-form = absolute-path [ "?" query ]` (RFC 9112 §3.2.1).
pub(crate) fn is_origin_form(target: &[u8], lenient: bool) -> bool {
    target.first() == Some(&b'/') && is_path_and_query(target, lenient)
}

/// `absolute-form = absolute-URI` (RFC 9112 §3.2.2, RFC 3986 §4.3). For
/// `http` and `https` the authority is required, its host must not be
/// empty (RFC 9110 §4.2.1) and userinfo is an error (RFC 9110 §4.2.4).
pub(crate) fn is_absolute_form(target: &[u8], lenient: bool) -> bool {
    let Some(colon) = target.iter().position(|&b| b == b':') else {
        return false;
    };
    let (scheme, rest) = (&target[..colon], &target[colon + 1..]);
    let scheme_ok = scheme.first().is_some_and(u8::is_ascii_alphabetic)
        && scheme
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    if !scheme_ok {
        return false;
    }
    let is_http = scheme.eq_ignore_ascii_case(b"http") || scheme.eq_ignore_ascii_case(b"https");
    let Some(after) = rest.strip_prefix(b"//") else {
        // path-rootless or path-empty: not for http(s).
        return !is_http && is_path_and_query(rest, lenient);
    };
    let end = after
        .iter()
        .position(|&b| matches!(b, b'/' | b'?'))
        .unwrap_or(after.len());
    let (authority, path) = (&after[..end], &after[end..]);
    let host_port = match authority.iter().rposition(|&b| b == b'@') {
        Some(_) if is_http => return false,
        Some(at) if !is_userinfo(&authority[..at]) => return false,
        Some(at) => &authority[at + 1..],
        None => authority,
    };
    let Some((host, _port)) = split_host_port(host_port) else {
        return false;
    };
    !(is_http && host.is_empty()) && is_path_and_query(path, lenient)
}

/// `authority-form = uri-host ":" port` (RFC 9112 §3.2.3), for CONNECT.
pub(crate) fn is_authority_form(target: &[u8]) -> bool {
    matches!(split_host_port(target), Some((host, Some(port))) if !host.is_empty() && !port.is_empty())
}

/// A `Host` field value: `uri-host [ ":" port ]` (RFC 9112 §3.2, RFC 3986
/// §3.2.2–§3.2.3). Empty is allowed: a client sends an empty Host when the
/// target URI has no authority.
pub(crate) fn is_host(value: &[u8]) -> bool {
    // The common case in one pass: plain reg-name characters (an IPv4
    // address is such a run too), then nothing or `:` and digits.
    let plain = crate::h1::runs::class_end(value, 0, &CLASS, REG_NAME);
    match &value[plain..] {
        [] => true,
        [b':', port @ ..] if port.iter().all(u8::is_ascii_digit) => true,
        // `%`, an IP-literal, or not a host: the full grammar decides.
        _ => split_host_port(value).is_some(),
    }
}

/// Splits `uri-host [ ":" port ]` into the host and the port digits, or
/// `None` when it is not that: at most one colon outside an IP-literal's
/// brackets, the port all digits.
fn split_host_port(s: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    let host_end = if s.first() == Some(&b'[') {
        let close = s.iter().position(|&b| b == b']')?;
        if !is_ip_literal_inner(&s[1..close]) {
            return None;
        }
        close + 1
    } else {
        let end = s.iter().position(|&b| b == b':').unwrap_or(s.len());
        if !is_reg_name(&s[..end]) {
            return None;
        }
        end
    };
    let (host, rest) = s.split_at(host_end);
    match rest {
        [] => Some((host, None)),
        [b':', port @ ..] if port.iter().all(u8::is_ascii_digit) => Some((host, Some(port))),
        _ => None,
    }
}

/// `reg-name = *( unreserved / pct-encoded / sub-delims )`; an IPv4address
/// is one too, syntactically.
fn is_reg_name(s: &[u8]) -> bool {
    let mut i = 0;
    while i < s.len() {
        match s[i] {
            b if CLASS[b as usize] & REG_NAME != 0 => i += 1,
            b'%' if is_pct_encoded(s, i) => i += 3,
            _ => return false,
        }
    }
    true
}

/// `userinfo = *( unreserved / pct-encoded / sub-delims / ":" )`.
fn is_userinfo(s: &[u8]) -> bool {
    s.split(|&b| b == b':').all(is_reg_name)
}

/// Between the brackets of an `IP-literal`: `IPv6address / IPvFuture`
/// (RFC 3986 §3.2.2; no zone identifier, which HTTP does not allow).
fn is_ip_literal_inner(s: &[u8]) -> bool {
    match s {
        [b'v' | b'V', rest @ ..] => {
            let Some(dot) = rest.iter().position(|&b| b == b'.') else {
                return false;
            };
            let (version, tail) = (&rest[..dot], &rest[dot + 1..]);
            !version.is_empty()
                && version.iter().all(u8::is_ascii_hexdigit)
                && !tail.is_empty()
                && tail
                    .iter()
                    .all(|&b| is_unreserved(b) || is_sub_delim(b) || b == b':')
        }
        _ => is_ipv6(s),
    }
}

/// `IPv6address` (RFC 3986 §3.2.2): eight 16-bit pieces, the last two of
/// which may be a dotted IPv4 address, with one `::` standing for one or more
/// zero pieces.
fn is_ipv6(s: &[u8]) -> bool {
    let compressed = s.windows(2).position(|w| w == b"::");
    match compressed {
        None => pieces(s, true) == Some(8),
        Some(at) => {
            let (head, tail) = (&s[..at], &s[at + 2..]);
            if tail.windows(2).any(|w| w == b"::") {
                return false;
            }
            match (pieces(head, false), pieces(tail, true)) {
                (Some(h), Some(t)) => h + t <= 7,
                _ => false,
            }
        }
    }
}

/// How many 16-bit pieces `s` (`h16` separated by `:`, possibly empty) holds;
/// `v4_last` allows an IPv4 address as the last two.
fn pieces(s: &[u8], v4_last: bool) -> Option<usize> {
    if s.is_empty() {
        return Some(0);
    }
    let mut count = 0;
    let mut parts = s.split(|&b| b == b':').peekable();
    while let Some(part) = parts.next() {
        let last = parts.peek().is_none();
        if last && v4_last && part.contains(&b'.') {
            if !is_ipv4(part) {
                return None;
            }
            count += 2;
        } else if (1..=4).contains(&part.len()) && part.iter().all(u8::is_ascii_hexdigit) {
            count += 1;
        } else {
            return None;
        }
    }
    Some(count)
}

/// `IPv4address = dec-octet "." dec-octet "." dec-octet "." dec-octet`,
/// each 0–255 without leading zeros.
fn is_ipv4(s: &[u8]) -> bool {
    let mut octets = 0;
    for octet in s.split(|&b| b == b'.') {
        let ok = match octet {
            [d] => d.is_ascii_digit(),
            [b'1'..=b'9', rest @ ..] if rest.len() <= 2 && rest.iter().all(u8::is_ascii_digit) => {
                octet
                    .iter()
                    .fold(0u32, |n, &d| n * 10 + u32::from(d - b'0'))
                    <= 255
            }
            _ => false,
        };
        if !ok {
            return false;
        }
        octets += 1;
    }
    octets == 4
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `reg-name` byte by byte, from the RFC 3986 definitions.
    fn reg_name_by_definition(s: &[u8]) -> bool {
        let mut i = 0;
        while i < s.len() {
            match s[i] {
                b'%' if is_pct_encoded(s, i) => i += 2,
                b if is_unreserved(b) || is_sub_delim(b) => {}
                _ => return false,
            }
            i += 1;
        }
        true
    }

    #[test]
    fn class_table_checks_agree_with_the_definitions() {
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        for b in 0..=255u8 {
            for pattern in [
                &b"a_"[..],
                b"_",
                b"%4_",
                b"%_1",
                b"x%_",
                b"/_?_",
                b"/a_b?q_",
            ] {
                inputs.push(
                    pattern
                        .iter()
                        .map(|&c| if c == b'_' { b } else { c })
                        .collect(),
                );
            }
        }
        for s in &inputs {
            assert_eq!(is_reg_name(s), reg_name_by_definition(s), "{s:?}");
            for lenient in [false, true] {
                let mut in_query = false;
                let mut i = 0;
                let mut ok = true;
                while i < s.len() {
                    let b = s[i];
                    match b {
                        b'%' if is_pct_encoded(s, i) => i += 2,
                        b'%' if lenient => {}
                        b'?' => in_query = true,
                        b'/' => {}
                        _ if is_pchar(b) => {}
                        _ if lenient && in_query && is_lenient_query_char(b) => {}
                        _ if lenient && !in_query && is_lenient_path_char(b) => {}
                        _ => {
                            ok = false;
                            break;
                        }
                    }
                    i += 1;
                }
                assert_eq!(is_path_and_query(s, lenient), ok, "{s:?} lenient={lenient}");
            }
        }
    }

    #[test]
    fn hosts_are_read_as_the_full_grammar_reads_them() {
        let mut inputs: Vec<Vec<u8>> = Vec::new();
        for b in 0..=255u8 {
            for pattern in [
                &b"_"[..],
                b"a_",
                b"127.0.0.1:80_",
                b"example.com_8080",
                b"a:_",
                b"a:1_",
                b"%4_:1",
                b"[::_]:1",
                b"_:",
                b"a::1",
            ] {
                inputs.push(
                    pattern
                        .iter()
                        .map(|&c| if c == b'_' { b } else { c })
                        .collect(),
                );
            }
        }
        for s in &inputs {
            assert_eq!(is_host(s), split_host_port(s).is_some(), "{s:?}");
        }
        assert!(is_host(b"") && is_host(b"a:") && is_host(b"[v1.x]:8") && !is_host(b"a:b"));
    }

    #[test]
    fn ipv6_addresses_follow_rfc_3986_section_3_2_2() {
        for ok in [
            &b"::"[..],
            b"::1",
            b"1::",
            b"1:2:3:4:5:6:7:8",
            b"1:2:3:4:5:6:1.2.3.4",
            b"::ffff:192.0.2.1",
            b"fe80::1:2",
            b"1:2:3:4:5:6:7::",
        ] {
            assert!(is_ipv6(ok), "{}", String::from_utf8_lossy(ok));
        }
        for bad in [
            &b""[..],
            b":",
            b":1",
            b"1:",
            b"1:2:3:4:5:6:7",
            b"1:2:3:4:5:6:7:8:9",
            b"1::2::3",
            b"12345::",
            b"g::",
            b"1:2:3:4:5:6:7::8",
            b"::1.2.3",
            b"::01.2.3.4",
            b"::256.1.1.1",
            b"1.2.3.4::",
            b"fe80::1%25eth0",
        ] {
            assert!(!is_ipv6(bad), "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn ip_future_needs_a_version_and_a_body() {
        assert!(is_ip_literal_inner(b"v1.a:b"));
        assert!(!is_ip_literal_inner(b"v.a"));
        assert!(!is_ip_literal_inner(b"v1."));
        assert!(!is_ip_literal_inner(b"v1.a/b"));
    }
}
