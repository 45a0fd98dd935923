//! Table tests for the RFC edge rules, one module per rule, one test per case.
//! Each module cites the section its cases come from. Every case runs twice,
//! with the input whole and one byte at a time, and both runs must agree.

use crate::{
    Config, Connection, Event, Leniency, LocalProtocolError, Protocol, RemoteErrorKind,
    RemoteProtocolError, Request, Response, Role, Version,
};

/// What a server must make of one input.
#[derive(Debug, Clone, Copy)]
enum Want {
    /// A request event, nothing else checked.
    Accept,
    /// A request with this body.
    Body(&'static [u8]),
    /// A request read as this version.
    Version(Version),
    /// A request flagged `expect_continue`.
    ExpectContinue,
    /// A request after which the connection closes.
    Closes,
    /// A request after which the connection stays open.
    KeepsAlive,
    /// A request asking to upgrade to this protocol.
    Upgrade(&'static [u8]),
    /// Rejected with this error; the server may answer with its status.
    Reject(RemoteErrorKind, u16),
    /// Not HTTP/1 at all: rejected as [`RemoteErrorKind::NotHttp`], not answered.
    Silent,
}

use RemoteErrorKind as K;
use Want::*;

/// Events up to `NeedData`/`Paused` or the error, with the input fed in one
/// call or one byte per call; an empty `Vec` input piece means end of input.
fn run(
    config: &Config,
    input: &[u8],
    bytewise: bool,
) -> (Connection, Result<Vec<Event>, RemoteProtocolError>) {
    let mut conn = Connection::with_config(Role::Server, config.clone());
    let pieces: Vec<&[u8]> = if bytewise {
        input.chunks(1).collect()
    } else {
        vec![input]
    };
    let mut events = Vec::new();
    for piece in pieces {
        conn.receive_data(piece);
        loop {
            match conn.next_event() {
                Ok(Event::NeedData | Event::Paused) => break,
                // Adjacent body pieces are merged: fragmenting may cut them.
                Ok(Event::Data(d)) => match events.last_mut() {
                    Some(Event::Data(last)) => {
                        last.data = [&last.data[..], &d.data[..]].concat().into();
                    }
                    _ => events.push(Event::Data(d)),
                },
                Ok(ev) => events.push(ev),
                Err(e) => return (conn, Err(e)),
            }
        }
    }
    (conn, Ok(events))
}

fn check_with(config: &Config, input: &[u8], want: Want) {
    let (mut conn, whole) = run(config, input, false);
    let (_, bytewise) = run(config, input, true);
    let shown = String::from_utf8_lossy(input);
    assert_eq!(whole, bytewise, "whole vs byte by byte: {shown:?}");
    let request = || match whole.as_ref().map(|evs| evs.first()) {
        Ok(Some(Event::Request(r))) => r.clone(),
        other => panic!("expected a request from {shown:?}, got {other:?}"),
    };
    match want {
        Accept => drop(request()),
        Body(body) => {
            request();
            let got: Vec<u8> = whole
                .as_ref()
                .unwrap()
                .iter()
                .filter_map(|e| match e {
                    Event::Data(d) => Some(d.data.to_vec()),
                    _ => None,
                })
                .flatten()
                .collect();
            assert_eq!(got, body, "{shown:?}");
            assert!(
                matches!(whole.as_ref().unwrap().last(), Some(Event::EndOfMessage(_))),
                "{shown:?}"
            );
        }
        Version(v) => assert_eq!(request().http_version, v, "{shown:?}"),
        ExpectContinue => assert!(request().expect_continue, "{shown:?}"),
        Closes => {
            request();
            assert!(conn.should_close(), "{shown:?}");
        }
        KeepsAlive => {
            request();
            assert!(!conn.should_close(), "{shown:?}");
        }
        Upgrade(protocol) => {
            request();
            assert_eq!(conn.upgrade(), Some(protocol), "{shown:?}");
        }
        Reject(kind, status) => {
            let Err(e) = whole else {
                panic!("expected {kind:?} for {shown:?}, got {whole:?}");
            };
            assert_eq!((e.kind(), e.status()), (kind, status), "{shown:?}");
            let answer = Response::new(status).with_header("Content-Length", "0");
            assert_eq!(conn.send(answer), Ok(()), "the error is answered");
        }
        Silent => {
            assert_eq!(whole, Err(K::NotHttp.into()), "{shown:?} is not HTTP/1");
            assert_eq!(
                conn.send(Response::new(400)),
                Err(LocalProtocolError::ConnectionClosed),
                "no answer to a peer that does not speak HTTP/1"
            );
            assert!(conn.should_close());
        }
    }
}

fn check(input: &[u8], want: Want) {
    check_with(&Config::default(), input, want);
}

/// A GET with this Host value.
fn host(value: &str) -> Vec<u8> {
    format!("GET / HTTP/1.1\r\nHost: {value}\r\n\r\n").into_bytes()
}

/// A request with this method and target.
fn target(method: &str, target: &str) -> Vec<u8> {
    format!("{method} {target} HTTP/1.1\r\nHost: a\r\n\r\n").into_bytes()
}

/// A GET of `/` with this request line version.
fn version(version: &str) -> Vec<u8> {
    format!("GET / {version}\r\nHost: a\r\n\r\n").into_bytes()
}

/// One `#[test]` per case, in a module per rule.
macro_rules! rule {
    ($(#[$doc:meta])* $rule:ident { $($name:ident: $input:expr => $want:expr;)* }) => {
        $(#[$doc])*
        mod $rule {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[test]
                fn $name() {
                    check(&$input[..], $want);
                }
            )*
        }
    };
}

rule! {
    /// RFC 9110 §5.6.1: "a recipient MUST parse and ignore a reasonable number
    /// of empty list elements" in list-based fields: Transfer-Encoding
    /// (RFC 9112 §6.1), Connection (RFC 9110 §7.6.1), Expect (RFC 9110 §10.1.1).
    /// Content-Length is not a list (RFC 9110 §8.6).
    list_fields_ignore_empty_elements {
        transfer_encoding_empty_element_before_chunked:
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n" => Body(b"abc");
        transfer_encoding_empty_elements_around_chunked:
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: ,, chunked ,\t,\r\n\r\n2\r\nok\r\n0\r\n\r\n" => Body(b"ok");
        transfer_encoding_empty_field_then_chunked:
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" => Body(b"");
        transfer_encoding_of_only_empty_elements_is_not_chunked:
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , ,\r\n\r\n" => Reject(K::InvalidTransferEncoding, 400);
        transfer_encoding_unknown_coding_among_empty_elements_is_501:
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, , chunked\r\n\r\n" => Reject(K::UnsupportedTransferEncoding, 501);
        transfer_encoding_chunked_twice_among_empty_elements:
            b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,,chunked\r\n\r\n" => Reject(K::InvalidTransferEncoding, 400);
        connection_close_among_empty_elements:
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: , close,\r\n\r\n" => Closes;
        connection_keep_alive_among_empty_elements_on_http10:
            b"GET / HTTP/1.0\r\nConnection: ,keep-alive\r\n\r\n" => KeepsAlive;
        connection_upgrade_among_empty_elements:
            b"GET / HTTP/1.1\r\nHost: a\r\nConnection: ,, upgrade\r\nUpgrade: websocket\r\n\r\n" => Upgrade(b"websocket");
        expect_100_continue_among_empty_elements:
            b"POST / HTTP/1.1\r\nHost: a\r\nExpect: , 100-continue\r\nContent-Length: 1\r\n\r\n" => ExpectContinue;
        expect_100_continue_in_a_second_field:
            b"POST / HTTP/1.1\r\nHost: a\r\nExpect:\r\nExpect: 100-Continue\r\nContent-Length: 1\r\n\r\n" => ExpectContinue;
        content_length_is_not_a_list:
            b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: , 3\r\n\r\nabc" => Reject(K::InvalidContentLength, 400);
    }
}

rule! {
    /// RFC 9112 §3.2 and RFC 3986 §3.2.2–§3.2.3: `Host = uri-host [ ":" port ]`,
    /// uri-host = IP-literal / IPv4address / reg-name, port = *DIGIT; an empty
    /// value is allowed ("MUST send a Host header field with an empty field
    /// value" when the URI has no authority); anything else is 400.
    host_syntax {
        reg_name: host("example.com") => Accept;
        reg_name_with_port: host("example.com:8080") => Accept;
        reg_name_with_empty_port: host("example.com:") => Accept;
        reg_name_with_sub_delims_and_pct_encoding: host("a-b_c~d!$&'()*+,;=%41") => Accept;
        ipv4: host("192.0.2.1:80") => Accept;
        ipv6_literal: host("[2001:db8::7]") => Accept;
        ipv6_literal_with_port: host("[::1]:8080") => Accept;
        ipv6_literal_with_ipv4_tail: host("[::ffff:192.0.2.1]") => Accept;
        ip_future_literal: host("[v7.host:1]") => Accept;
        empty: host("") => Accept;
        two_colons: host("a:80:80") => Reject(K::InvalidHost, 400);
        bare_ipv6_without_brackets: host("::1") => Reject(K::InvalidHost, 400);
        port_with_letters: host("a:8o") => Reject(K::InvalidHost, 400);
        negative_port: host("a:-1") => Reject(K::InvalidHost, 400);
        unclosed_bracket: host("[::1") => Reject(K::InvalidHost, 400);
        bytes_after_the_literal: host("[::1]x") => Reject(K::InvalidHost, 400);
        bad_port_after_the_literal: host("[::1]:http") => Reject(K::InvalidHost, 400);
        empty_literal: host("[]") => Reject(K::InvalidHost, 400);
        ipv6_with_two_elisions: host("[1::2::3]") => Reject(K::InvalidHost, 400);
        ipv6_with_a_zone_identifier: host("[fe80::1%25eth0]") => Reject(K::InvalidHost, 400);
        ipv6_with_a_non_hex_piece: host("[::g]") => Reject(K::InvalidHost, 400);
        brackets_inside_a_reg_name: host("a[b]") => Reject(K::InvalidHost, 400);
        userinfo: host("user@example.com") => Reject(K::InvalidHost, 400);
        path: host("a/b") => Reject(K::InvalidHost, 400);
        query: host("a?b") => Reject(K::InvalidHost, 400);
        fragment: host("a#b") => Reject(K::InvalidHost, 400);
        inner_space: host("a b") => Reject(K::InvalidHost, 400);
        bad_percent_encoding: host("a%4g") => Reject(K::InvalidHost, 400);
        truncated_percent_encoding: host("a%4") => Reject(K::InvalidHost, 400);
        non_ascii: b"GET / HTTP/1.1\r\nHost: b\xc3\xbccher.example\r\n\r\n" => Reject(K::InvalidHost, 400);
    }
}

rule! {
    /// RFC 9112 §3.2 with RFC 3986 §3.3–§3.4: origin-form is
    /// `absolute-path [ "?" query ]`, made of pchar (unreserved, pct-encoded,
    /// sub-delims, ":", "@"), "/" and, in the query, "?"; a fragment is never
    /// sent (RFC 9112 §3.2); `%` starts two hex digits (RFC 3986 §2.1).
    origin_form_characters {
        all_pchar_kinds: target("GET", "/a-b._~!$&'()*+,;=:@/%41%2f") => Accept;
        query_with_slash_and_question_mark: target("GET", "/p?a=/b?c&d=%20") => Accept;
        empty_query: target("GET", "/?") => Accept;
        fragment_in_path: target("GET", "/a#b") => Reject(K::InvalidTarget, 400);
        fragment_in_query: target("GET", "/a?b#c") => Reject(K::InvalidTarget, 400);
        lone_percent: target("GET", "/a%") => Reject(K::InvalidTarget, 400);
        percent_with_one_digit: target("GET", "/a%4") => Reject(K::InvalidTarget, 400);
        percent_with_non_hex: target("GET", "/a%zz") => Reject(K::InvalidTarget, 400);
        double_quote_in_path: target("GET", "/a\"b") => Reject(K::InvalidTarget, 400);
        open_brace_in_path: target("GET", "/a{b") => Reject(K::InvalidTarget, 400);
        close_brace_in_path: target("GET", "/a}b") => Reject(K::InvalidTarget, 400);
        pipe_in_path: target("GET", "/a|b") => Reject(K::InvalidTarget, 400);
        backslash_in_path: target("GET", "/a\\b") => Reject(K::InvalidTarget, 400);
        caret_in_path: target("GET", "/a^b") => Reject(K::InvalidTarget, 400);
        brackets_in_path: target("GET", "/a[0]") => Reject(K::InvalidTarget, 400);
        backtick_in_path: target("GET", "/a`b") => Reject(K::InvalidTarget, 400);
        angle_brackets_in_path: target("GET", "/<a>") => Reject(K::InvalidTarget, 400);
        brace_in_query: target("GET", "/?q={}") => Reject(K::InvalidTarget, 400);
        double_quote_in_query: target("GET", "/?q=\"") => Reject(K::InvalidTarget, 400);
        bad_percent_in_query: target("GET", "/?q=%g1") => Reject(K::InvalidTarget, 400);
    }
}

rule! {
    /// RFC 9112 §3.2.2 (absolute-form = absolute-URI, RFC 3986 §4.3), RFC 9110
    /// §4.2.1 ("http" URIs with an empty host are invalid), §4.2.4 (userinfo in
    /// an "http(s)" URI is an error), RFC 3986 §3.2.3 (port = *DIGIT), and
    /// RFC 9112 §3.2.3 (authority-form = uri-host ":" port, CONNECT only).
    absolute_and_authority_forms {
        http_with_path: target("GET", "http://example.com/x?y") => Accept;
        http_without_path: target("GET", "http://example.com") => Accept;
        http_with_query_only: target("GET", "http://example.com?q=1") => Accept;
        scheme_and_host_in_upper_case: target("GET", "HTTP://EXAMPLE.COM/") => Accept;
        https_ipv6_with_port: target("GET", "https://[::1]:8443/x") => Accept;
        other_scheme_with_userinfo: target("GET", "ftp://user@example.com/f") => Accept;
        urn: target("GET", "urn:example:x") => Accept;
        http_userinfo: target("GET", "http://user@example.com/") => Reject(K::InvalidTarget, 400);
        http_userinfo_with_password: target("GET", "http://u:p@example.com/") => Reject(K::InvalidTarget, 400);
        https_empty_userinfo: target("GET", "https://@example.com/") => Reject(K::InvalidTarget, 400);
        http_port_with_letters: target("GET", "http://example.com:80x/") => Reject(K::InvalidTarget, 400);
        http_two_ports: target("GET", "http://example.com:1:2/") => Reject(K::InvalidTarget, 400);
        http_empty_host: target("GET", "http:///x") => Reject(K::InvalidTarget, 400);
        http_without_authority: target("GET", "http:/x") => Reject(K::InvalidTarget, 400);
        http_rootless: target("GET", "http:x") => Reject(K::InvalidTarget, 400);
        http_fragment: target("GET", "http://example.com/#top") => Reject(K::InvalidTarget, 400);
        http_bad_path_char: target("GET", "http://example.com/a|b") => Reject(K::InvalidTarget, 400);
        http_unclosed_literal: target("GET", "http://[::1/") => Reject(K::InvalidTarget, 400);
        bad_scheme: target("GET", "1http://a/") => Reject(K::InvalidTarget, 400);
        connect_host_and_port: target("CONNECT", "example.com:443") => Accept;
        connect_ipv6_and_port: target("CONNECT", "[2001:db8::1]:443") => Accept;
        connect_without_port: target("CONNECT", "example.com") => Reject(K::InvalidTarget, 400);
        connect_empty_port: target("CONNECT", "example.com:") => Reject(K::InvalidTarget, 400);
        connect_port_with_letters: target("CONNECT", "example.com:https") => Reject(K::InvalidTarget, 400);
        connect_userinfo: target("CONNECT", "u@example.com:443") => Reject(K::InvalidTarget, 400);
        connect_empty_host: target("CONNECT", ":443") => Reject(K::InvalidTarget, 400);
    }
}

rule! {
    /// RFC 9110 §2.5 and RFC 9112 §2.3: a recipient of HTTP/1.x with a minor
    /// version it does not know reads it as the highest it does (HTTP/1.1);
    /// 505 is for another major version (RFC 9110 §15.6.6); a malformed
    /// version of an HTTP/1 request line is 400.
    versions {
        http_1_0: version("HTTP/1.0") => Version(crate::Version::Http10);
        http_1_1: version("HTTP/1.1") => Version(crate::Version::Http11);
        http_1_2_is_read_as_1_1: version("HTTP/1.2") => Version(crate::Version::Http11);
        http_1_9_is_read_as_1_1: version("HTTP/1.9") => Version(crate::Version::Http11);
        http_1_2_keeps_alive_like_1_1: version("HTTP/1.2") => KeepsAlive;
        http_2_0_is_505: version("HTTP/2.0") => Reject(K::UnsupportedVersion, 505);
        http_3_0_is_505: version("HTTP/3.0") => Reject(K::UnsupportedVersion, 505);
        http_0_9_is_505: version("HTTP/0.9") => Reject(K::UnsupportedVersion, 505);
        trailing_garbage: version("HTTP/1.1x") => Reject(K::InvalidVersion, 400);
        missing_minor: version("HTTP/1.") => Reject(K::InvalidVersion, 400);
        two_digit_major: version("HTTP/11.1") => Reject(K::InvalidVersion, 400);
        lower_case_name: version("http/1.1") => Reject(K::InvalidVersion, 400);
    }
}

rule! {
    /// RFC 9112 §3: `request-line = method SP request-target SP HTTP-version`.
    /// A malformed line from a peer speaking HTTP/1 (a token method, then
    /// whitespace, and a last word starting `HTTP/`) is answered 400 (505 for
    /// another major version); a method longer than any implemented is 501.
    /// Bytes that are not HTTP/1 at all (a TLS ClientHello, an HTTP/2 preface
    /// sent to an HTTP/1 server, RFC 9113 §3.4; HTTP/0.9; RTSP) are closed
    /// without an answer, which is also what h2spec 3.5/2 expects of an
    /// invalid connection preface.
    request_line {
        double_space_after_method: b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n" => Reject(K::InvalidRequestLine, 400);
        space_inside_the_target: b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n" => Reject(K::InvalidRequestLine, 400);
        tab_between_words: b"GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n" => Reject(K::InvalidRequestLine, 400);
        space_after_the_version: b"GET / HTTP/1.1 \r\nHost: a\r\n\r\n" => Reject(K::InvalidVersion, 400);
        control_byte_in_the_target: b"GET /\x01 HTTP/1.1\r\nHost: a\r\n\r\n" => Reject(K::InvalidTarget, 400);
        bare_cr_in_the_line: b"GET / HTTP/1.1\rX\r\nHost: a\r\n\r\n" => Reject(K::BareCr, 400);
        no_target: b"GET HTTP/1.1\r\nHost: a\r\n\r\n" => Reject(K::InvalidRequestLine, 400);
        longest_method_allowed: target("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEF", "/") => Accept;
        method_longer_than_any_implemented_is_501: target("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG", "/") => Reject(K::MethodTooLong, 501);
        tls_client_hello: b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" => Silent;
        invalid_http2_preface_h2spec_3_5_2: b"INVALID CONNECTION PREFACE\r\n\r\n" => Silent;
        http2_preface_with_a_broken_tail: b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n" => Silent;
        http_0_9_request: b"GET /index.html\r\n" => Silent;
        rtsp_request: b"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n" => Silent;
        method_that_is_not_a_token: b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n" => Silent;
        leading_space: b" GET / HTTP/1.1\r\nHost: a\r\n\r\n" => Silent;
        nul_bytes: b"\0\0\0\0" => Silent;
    }
}

#[test]
fn bytes_that_are_not_http_are_refused_without_waiting_for_a_line_end() {
    let mut conn = Connection::new(Role::Server);
    conn.receive_data(b"\x16\x03\x01");
    assert_eq!(
        conn.next_event(),
        Err(K::NotHttp.into()),
        "a TLS record header is refused at once"
    );
}

#[test]
fn a_bad_request_line_cut_short_by_the_peer_closing_is_still_classified() {
    for (input, kind) in [
        (&b"INVALID CONNECTION PREFACE"[..], K::NotHttp),
        (b"GET /a b HTTP/1.1", K::InvalidRequestLine),
    ] {
        let mut conn = Connection::new(Role::Server);
        conn.receive_data(input);
        assert_eq!(conn.next_event(), Ok(Event::NeedData));
        conn.receive_data(b"");
        assert_eq!(conn.next_event(), Err(kind.into()));
    }
}

#[test]
fn protocol_detection_closes_a_broken_http2_preface_without_an_answer() {
    // h2spec 3.5/2 against a server that serves h2c and HTTP/1.1 on one port.
    let config = Config::default().protocol(Protocol::Auto);
    for input in [
        &b"INVALID CONNECTION PREFACE\r\n\r\n"[..],
        b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n",
    ] {
        check_with(&config, input, Silent);
    }
}

#[test]
fn a_request_read_as_http_1_1_from_1_2_is_answered_as_http_1_1() {
    let mut conn = Connection::new(Role::Server);
    conn.receive_data(b"GET / HTTP/1.2\r\nHost: a\r\n\r\n");
    assert!(matches!(conn.next_event(), Ok(Event::Request(_))));
    conn.send(Response::new(200)).unwrap();
    let out = conn.data_to_send();
    assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"), "{out:?}");
    assert!(
        out.ends_with(b"Transfer-Encoding: chunked\r\n\r\n"),
        "chunked, as for an HTTP/1.1 peer: {out:?}"
    );
}

#[test]
fn a_client_reads_http_1_x_responses_as_http_1_1_and_lists_with_empty_elements() {
    let mut conn = Connection::new(Role::Client);
    conn.send(Request::new("GET", "/").with_header("Host", "a"))
        .unwrap();
    conn.send(crate::EndOfMessage::default()).unwrap();
    conn.receive_data(
        b"HTTP/1.3 200 OK\r\nTransfer-Encoding: ,chunked,\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    );
    let Ok(Event::Response(resp)) = conn.next_event() else {
        panic!("a response")
    };
    assert_eq!(resp.http_version, Version::Http11);
    let Ok(Event::Data(data)) = conn.next_event() else {
        panic!("chunked data")
    };
    assert_eq!(data.data, "hi");
    assert!(matches!(conn.next_event(), Ok(Event::EndOfMessage(_))));
}

#[test]
fn a_client_refuses_to_send_what_a_server_must_reject() {
    let cases: [(&str, &str, &str); 7] = [
        ("GET", "/a#b", "a"),
        ("GET", "/a|b", "a"),
        ("GET", "/%zz", "a"),
        ("GET", "http://user@a/", "a"),
        ("CONNECT", "a", "a"),
        ("GET", "/", "a:b:c"),
        ("ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFG", "/", "a"),
    ];
    for (method, target, host) in cases {
        let mut conn = Connection::new(Role::Client);
        let req = Request::new(method, target).with_header("Host", host);
        assert_eq!(
            conn.send(req),
            Err(LocalProtocolError::InvalidHeader),
            "{method} {target} Host: {host}"
        );
        assert!(conn.data_to_send().is_empty());
    }
}

/// `Leniency::unescaped_target_chars` admits what browsers send unescaped and
/// the `http` crate's `Uri` accepts, and nothing that would lose a fragment.
#[test]
fn lenient_target_chars_admit_what_browsers_send_and_nothing_more() {
    let config = Config::default().leniency(Leniency::default().unescaped_target_chars(true));
    for ok in [
        "/a|b[0]",
        "/{x}^\"\\",
        "/?q={x}|^`[\\]",
        "/a%zz%",
        "http://example.com/a|b",
    ] {
        check_with(&config, &target("GET", ok), Accept);
    }
    for bad in ["/a#b", "/a<b>", "/a`b", "/?q=\"", "/?q=<", "/?a#b"] {
        check_with(&config, &target("GET", bad), Reject(K::InvalidTarget, 400));
    }
}
