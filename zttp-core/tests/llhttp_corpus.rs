//! The llhttp test corpus, run through zttp's HTTP/1.1 engine.
//!
//! Source: nodejs/llhttp `test/request/*.md` and `test/response/*.md`
//! (snapshot 01e105a), MIT licence, copied to `tests/corpus/llhttp/` with its
//! `LICENSE`. Each case is a `## title`, a `<!-- meta={...} -->` line, an
//! `http` block with the input and a `log` block with llhttp's callbacks.
//!
//! For every case we can express, zttp must agree with llhttp on accept or
//! reject, and for what it accepts on the method, target, status, header
//! names and values, body, trailers and number of messages. Request cases run
//! against a server [`Connection`], response cases against a client one that
//! sent `GET` (or `HEAD` when the case's meta says `skipBody`).
//!
//! Where zttp is stricter than llhttp on purpose, the case is in
//! [`DELIBERATE`] with the RFC rule that justifies it; the test fails if that
//! list has an entry too many or too few.

use std::collections::BTreeMap;
use std::path::Path;

use zttp_core::StreamId;
use zttp_core::{Config, Connection, Data, EndOfMessage, Event, Leniency, Request, Response, Role};

/// Cases where zttp rejects input llhttp accepts (or the reverse) on purpose,
/// as `("file: title", "why")`.
const DELIBERATE: &[(&str, &str)] = &[
    // Methods: llhttp knows a fixed list; any token is a method in HTTP.
    (
        "request/invalid.md: HTTP protocol and ANNOUNCE method",
        "RFC 9110 §9.1: the method is any token; an origin that does not know it answers 501",
    ),
    (
        "request/invalid.md: Invalid method",
        "RFC 9110 §9.1: `MKCOLA` is a token, so a valid (if unknown) method",
    ),
    // Versions: zttp speaks HTTP/1.0 and HTTP/1.1 only.
    (
        "request/method.md: ANNOUNCE request with RTSP",
        "RFC 9112 §2.3: HTTP-version is `HTTP/` DIGIT `.` DIGIT; RTSP is not HTTP",
    ),
    (
        "request/method.md: OPTIONS request with RTSP",
        "RFC 9112 §2.3: HTTP-version is `HTTP/` DIGIT `.` DIGIT; RTSP is not HTTP",
    ),
    (
        "request/method.md: SOURCE request with ICE",
        "RFC 9112 §2.3: HTTP-version is `HTTP/` DIGIT `.` DIGIT; ICE is not HTTP",
    ),
    (
        "response/sample.md: ICE response",
        "RFC 9112 §2.3/§4: a status line starts with HTTP-version; ICE is not HTTP",
    ),
    (
        "response/sample.md: RTSP response",
        "RFC 9112 §2.3/§4: a status line starts with HTTP-version; RTSP is not HTTP",
    ),
    (
        "response/sample.md: HTTP version 0.9",
        "RFC 9112 §2.3: only HTTP/1.x messages are parsed as HTTP/1.1 (HTTP/0.9 has no status line)",
    ),
    (
        "request/sample.md: No HTTP version",
        "RFC 9112 §3: request-line = method SP request-target SP HTTP-version; HTTP/0.9 is not supported",
    ),
    // Request-target forms.
    (
        "request/method.md: M-SEARCH request",
        "RFC 9112 §3.2.4: the asterisk-form is only for OPTIONS",
    ),
    // Request-target characters (RFC 3986 §3.3-§3.4), checked in the core so
    // that the raw target and the handler's `http::Uri` cannot disagree.
    (
        "request/uri.md: Fragment in URI",
        "RFC 9112 §3.2 / RFC 3986 §3.5: a request-target has no fragment; `http::Uri` would drop it \
         while the raw target kept it",
    ),
    (
        "request/uri.md: Query URL with vertical bar character",
        "RFC 3986 §3.4: `|` is not a query character (Leniency::unescaped_target_chars admits it)",
    ),
    (
        "request/uri.md: Quotes in URI",
        "RFC 3986 §3.3-§3.4: `\"` is in neither a path nor a query (and `http::Uri` rejects it in a query)",
    ),
    (
        "request/uri.md: `host:port` and basic auth",
        "RFC 9110 §4.2.4: userinfo in an http URI is an error",
    ),
    // Transfer codings.
    (
        "request/transfer-encoding.md: POST with `chunked` as last transfer-encoding",
        "RFC 9112 §6.1: a server receiving a transfer coding it does not implement (deflate) answers 501",
    ),
    (
        "request/transfer-encoding.md: POST with `chunked` as last transfer-encoding (multiple headers)",
        "RFC 9112 §6.1: a server receiving a transfer coding it does not implement (deflate) answers 501",
    ),
    (
        "request/transfer-encoding.md: POST with `Transfer-Encoding` and `Content-Length` (lenient)",
        "RFC 9112 §6.3 rule 4: a request whose final transfer coding is not chunked (identity) gets 400, \
         even with the Transfer-Encoding + Content-Length leniency on",
    ),
    (
        "request/content-length.md: No error on simultaneous `Content-Length` and `Transfer-Encoding: identity` (lenient)",
        "RFC 9112 §6.3 rule 4: a request whose final transfer coding is not chunked (identity) gets 400, \
         even with the Transfer-Encoding + Content-Length leniency on",
    ),
];

/// A parsed corpus case.
#[derive(Debug)]
struct Case {
    /// `request/file.md: title`.
    name: String,
    meta: String,
    input: Vec<u8>,
    log: Vec<String>,
}

/// What happened to one message, as llhttp logged it or as zttp saw it.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Message {
    method: Vec<u8>,
    url: Vec<u8>,
    status: Option<u16>,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    /// The head was complete.
    head: bool,
    body: Vec<u8>,
    trailers: Vec<(Vec<u8>, Vec<u8>)>,
    /// The message was complete.
    complete: bool,
}

/// The whole run of one case.
#[derive(Debug, Default)]
struct Outcome {
    messages: Vec<Message>,
    /// Why the input was rejected, if it was.
    error: Option<String>,
    /// The parser stopped on purpose: an upgrade or CONNECT tunnel, or a
    /// message after which the connection closes.
    stopped: Option<&'static str>,
}

// ---- reading the corpus ----

fn read_cases(dir: &Path, kind: &str) -> Vec<Case> {
    let mut files: Vec<_> = std::fs::read_dir(dir.join(kind))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    files.sort();
    let mut cases = Vec::new();
    for path in files {
        let file = format!("{kind}/{}", path.file_name().unwrap().to_string_lossy());
        let text = std::fs::read_to_string(&path).unwrap();
        parse_markdown(&file, &text, &mut cases);
    }
    cases
}

fn parse_markdown(file: &str, text: &str, cases: &mut Vec<Case>) {
    let mut title = String::new();
    let mut meta = None;
    let mut http: Option<String> = None;
    let mut lines = text.lines();
    while let Some(line) = lines.next() {
        if let Some(t) = line.strip_prefix('#') {
            title = t.trim_start_matches('#').trim().to_string();
        } else if let Some(m) = line.strip_prefix("<!-- meta=") {
            meta = Some(m.trim_end_matches("-->").trim().to_string());
        } else if line.starts_with("```") && line.len() > 3 {
            let lang = line[3..].trim();
            let mut block = String::new();
            for l in lines.by_ref() {
                if l.starts_with("```") {
                    break;
                }
                block.push_str(l);
                block.push('\n');
            }
            match lang {
                "http" => http = Some(block),
                "log" => {
                    let (Some(meta), Some(http)) = (meta.take(), http.take()) else {
                        panic!("{file}: {title}: log without meta and http");
                    };
                    cases.push(Case {
                        name: format!("{file}: {title}"),
                        meta,
                        input: decode_input(&http),
                        log: block.lines().map(str::to_string).collect(),
                    });
                }
                _ => {}
            }
        }
    }
}

/// Turns an `http` block into bytes the way llhttp's test runner does.
fn decode_input(block: &str) -> Vec<u8> {
    let s = block.strip_suffix('\n').unwrap_or(block);
    // A backslash at the end of a line joins it to the next one.
    let s = s.replace("\\\n", "");
    let s = s.replace('\n', "\r\n");
    let s = s
        .replace("\\r", "\r")
        .replace("\\n", "\n")
        .replace("\\t", "\t")
        .replace("\\f", "\x0c");
    let s = replace_escapes(&s, 'x', 16, usize::MAX);
    let s = replace_escapes(&s, '\0', 8, 3);
    // The runner hands the string to the parser as UTF-8.
    s.into_bytes()
}

/// Replaces `\<marker><digits>` (or `\<digits>` when `marker` is NUL) by the
/// character with that code.
fn replace_escapes(s: &str, marker: char, radix: u32, max_digits: usize) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < chars.len() {
        let skip = usize::from(marker != '\0');
        if chars[i] == '\\' && (marker == '\0' || chars.get(i + 1) == Some(&marker)) {
            let start = i + 1 + skip;
            let mut end = start;
            while end < chars.len() && end - start < max_digits && chars[end].is_digit(radix) {
                end += 1;
            }
            if end > start {
                let digits: String = chars[start..end].iter().collect();
                let code = u32::from_str_radix(&digits, radix).unwrap();
                out.push(char::from_u32(code).unwrap());
                i = end;
                continue;
            }
        }
        out.push(chars[i]);
        i += 1;
    }
    out
}

/// A string field of the meta JSON, e.g. `"type"`.
fn meta_str<'a>(meta: &'a str, key: &str) -> Option<&'a str> {
    let at = meta.find(&format!("\"{key}\""))?;
    let rest = &meta[at + key.len() + 2..];
    let rest = rest.trim_start().strip_prefix(':')?.trim_start();
    if let Some(rest) = rest.strip_prefix('"') {
        rest.split('"').next()
    } else {
        rest.split([',', '}']).next().map(str::trim)
    }
}

// ---- what llhttp logged ----

fn span_value(line: &str) -> Vec<u8> {
    // Lone CR and LF bytes are logged as `=cr` and `=lf`.
    if line.ends_with("]=cr") {
        return b"\r".to_vec();
    } else if line.ends_with("]=lf") {
        return b"\n".to_vec();
    }
    let start = line.find("=\"").unwrap() + 2;
    let end = line.rfind('"').unwrap();
    line[start..end]
        .replace("\\t", "\t")
        .replace("\\f", "\x0c")
        .into_bytes()
}

fn expected(case: &Case) -> Outcome {
    let mut out = Outcome::default();
    let mut last_span = "";
    for line in &case.log {
        let Some((_, event)) = line.split_once(' ') else {
            continue;
        };
        let event = event
            .strip_prefix("len=")
            .map_or(event, |e| e.split_once(' ').unwrap().1);
        if event == "message begin" {
            out.messages.push(Message::default());
            last_span = "";
            continue;
        }
        let Some(msg) = out.messages.last_mut() else {
            continue;
        };
        if let Some(rest) = event.strip_prefix("span[") {
            let kind = &rest[..rest.find(']').unwrap()];
            let value = span_value(event);
            let fields = if msg.head {
                &mut msg.trailers
            } else {
                &mut msg.headers
            };
            match kind {
                "method" => msg.method.extend(value),
                "url" => msg.url.extend(value),
                "header_field" if last_span == "header_field" => {
                    fields.last_mut().unwrap().0.extend(value)
                }
                "header_field" => fields.push((value, Vec::new())),
                "header_value" => fields.last_mut().unwrap().1.extend(value),
                "body" => msg.body.extend(value),
                _ => {}
            }
            last_span = if kind == "header_field" || kind == "header_value" {
                kind_static(kind)
            } else {
                ""
            };
        } else if let Some(rest) = event.strip_prefix("headers complete ") {
            msg.head = true;
            if let Some(status) = rest.strip_prefix("status=") {
                msg.status = Some(status.split(' ').next().unwrap().parse().unwrap());
            }
            last_span = "";
        } else if event == "message complete" {
            msg.complete = true;
        } else if let Some(rest) = event.strip_prefix("error ") {
            if rest.contains("Pause on CONNECT/Upgrade") {
                out.stopped = Some("upgrade");
            } else if rest.contains("Data after `Connection: close`") {
                out.stopped = Some("close");
            } else {
                out.error = Some(rest.to_string());
            }
        } else if let Some(code) = event.strip_prefix("finish=") {
            // llhttp's finish states: 0 safe, 1 safe once the message
            // completes at the close (close-delimited body), 2 unsafe.
            match code {
                "0" => {}
                "1" => msg.complete = true,
                _ => out.error = Some(format!("finish={code}")),
            }
        } else if event.ends_with(" complete") {
            last_span = "";
        }
    }
    for m in &mut out.messages {
        for (_, v) in m.headers.iter_mut().chain(m.trailers.iter_mut()) {
            *v = trim_ows(v).to_vec();
        }
    }
    out
}

fn kind_static(kind: &str) -> &'static str {
    match kind {
        "header_field" => "header_field",
        _ => "header_value",
    }
}

fn trim_ows(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !b" \t".contains(b))
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !b" \t".contains(b))
        .map_or(start, |e| e + 1);
    &v[start..end]
}

// ---- what zttp does ----

fn fields(h: &zttp_core::Headers) -> Vec<(Vec<u8>, Vec<u8>)> {
    h.iter().map(|(n, v)| (n.to_vec(), v.to_vec())).collect()
}

/// The request a response case answers: `GET /`, or `HEAD /` when llhttp
/// skipped the body; one asking to upgrade when the answer is a 101.
fn client_request(head: bool, upgrade: bool) -> Request {
    let req =
        Request::new(if head { "HEAD" } else { "GET" }, "/").with_header("Host", "example.com");
    if upgrade {
        req.with_header("Connection", "upgrade")
            .with_header("Upgrade", "websocket")
    } else {
        req
    }
}

fn actual(case: &Case, role: Role, leniency: Leniency, finish: bool, head: bool) -> Outcome {
    let mut conn = Connection::with_config(role, Config::default().leniency(leniency));
    if role == Role::Client {
        let upgrade = case.input.starts_with(b"HTTP/1.1 101");
        conn.send(client_request(head, upgrade)).unwrap();
        conn.send(EndOfMessage::default()).unwrap();
    }
    let mut out = Outcome::default();
    conn.receive_data(&case.input);
    drive(&mut conn, &mut out, head);
    if finish && out.error.is_none() && out.stopped.is_none() {
        conn.receive_data(&[]);
        drive(&mut conn, &mut out, head);
    }
    out
}

fn drive(conn: &mut Connection, out: &mut Outcome, head: bool) {
    loop {
        let event = match conn.next_event() {
            Ok(event) => event,
            Err(e) => {
                out.error = Some(format!("{:?}", e.kind()));
                return;
            }
        };
        match event {
            Event::Request(r) => out.messages.push(Message {
                method: r.method.to_vec(),
                url: r.target.to_vec(),
                headers: fields(&r.headers),
                head: true,
                ..Message::default()
            }),
            Event::Response(r) | Event::InformationalResponse(r) => {
                let informational = r.status_code < 200;
                out.messages.push(Message {
                    status: Some(r.status_code),
                    headers: fields(&r.headers),
                    head: true,
                    complete: informational,
                    ..Message::default()
                });
                if conn.switched_protocol() {
                    out.stopped = Some("upgrade");
                    return;
                }
            }
            Event::Data(d) => out.messages.last_mut().unwrap().body.extend(&d.data[..]),
            Event::EndOfMessage(end) => {
                let msg = out.messages.last_mut().unwrap();
                msg.complete = true;
                msg.trailers = fields(&end.trailers);
            }
            Event::NeedData | Event::ConnectionClosed => return,
            Event::Paused => {
                if conn.switched_protocol() {
                    out.stopped = Some("upgrade");
                    return;
                }
                if conn.role() == Role::Server {
                    respond(conn, out);
                    if conn.switched_protocol() {
                        out.stopped = Some("upgrade");
                        return;
                    }
                }
                if conn.should_close() {
                    out.stopped = Some("close");
                    return;
                }
                conn.start_next_cycle().unwrap();
                if conn.role() == Role::Client {
                    conn.send(client_request(head, false)).unwrap();
                    conn.send(EndOfMessage::default()).unwrap();
                }
            }
            other => panic!("unexpected HTTP/1.1 event {other:?}"),
        }
    }
}

/// Server: answers the request just read — 101 to an upgrade, 200 to
/// CONNECT (both end HTTP on this connection, as llhttp stops there), else
/// an empty 200.
fn respond(conn: &mut Connection, out: &Outcome) {
    let connect = out.messages.last().is_some_and(|m| m.method == b"CONNECT");
    if conn.upgrade().is_some() && !connect {
        conn.send_informational(StreamId::ZERO, 101, []).unwrap();
        return;
    }
    if connect {
        conn.send(Response::new(200)).unwrap();
        return;
    }
    conn.send(Response::new(200).with_header("Content-Length", "0"))
        .unwrap();
    conn.send(Data {
        stream_id: StreamId::ZERO,
        data: Default::default(),
    })
    .unwrap();
    conn.send(EndOfMessage::default()).unwrap();
}

// ---- comparing ----

fn compare(want: &Outcome, got: &Outcome) -> Result<(), String> {
    match (&want.error, &got.error) {
        (Some(w), None) => return Err(format!("llhttp rejects ({w}), zttp accepts")),
        (None, Some(g)) => return Err(format!("zttp rejects ({g}), llhttp accepts")),
        _ => {}
    }
    // Messages whose head llhttp finished; on a rejection only the complete ones.
    let rejected = want.error.is_some();
    let wanted: Vec<&Message> = want
        .messages
        .iter()
        .filter(|m| if rejected { m.complete } else { m.head })
        .collect();
    let gotten: Vec<&Message> = got
        .messages
        .iter()
        .filter(|m| !rejected || m.complete)
        .collect();
    if wanted.len() != gotten.len() {
        return Err(format!(
            "{} messages from llhttp, {} from zttp",
            wanted.len(),
            gotten.len()
        ));
    }
    for (i, (w, g)) in wanted.iter().zip(&gotten).enumerate() {
        if w != g {
            return Err(format!(
                "message {i} differs:\n llhttp {w:?}\n zttp   {g:?}"
            ));
        }
    }
    Ok(())
}

// ---- the test ----

/// Why a case is not run, or `None` to run it with these leniencies.
fn plan(case: &Case) -> Result<(Role, Leniency, bool), &'static str> {
    let ty = meta_str(&case.meta, "type").unwrap();
    let (role, rest) = if let Some(rest) = ty.strip_prefix("request") {
        (Role::Server, rest)
    } else if let Some(rest) = ty.strip_prefix("response") {
        (Role::Client, rest)
    } else {
        return Err("meta type neither request nor response");
    };
    let mut leniency = Leniency::default();
    let mut finish = false;
    match rest {
        "" => {}
        "-finish" => finish = true,
        "-only" => return Err("request-only/response-only"),
        "-lenient-chunked-length" => leniency.transfer_encoding_with_content_length = true,
        "-lenient-optional-cr-before-lf" => leniency.bare_lf = true,
        _ => return Err("lenient mode zttp does not have"),
    }
    if role == Role::Server && meta_str(&case.meta, "skipBody") == Some("true") {
        return Err("skipBody on a request (an llhttp callback skips a declared body)");
    }
    Ok((role, leniency, finish))
}

#[test]
fn llhttp_corpus_agrees_except_for_listed_deliberate_differences() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/llhttp");
    let mut cases = read_cases(&dir, "request");
    cases.extend(read_cases(&dir, "response"));
    assert!(cases.len() > 200, "corpus not found: {} cases", cases.len());

    let mut skipped: BTreeMap<&str, usize> = BTreeMap::new();
    let mut agreed = 0;
    let mut without_host = 0;
    let mut lenient = 0;
    let mut paused = 0;
    let mut disagreements: BTreeMap<String, String> = BTreeMap::new();
    for case in &cases {
        let (role, leniency, finish) = match plan(case) {
            Ok(p) => p,
            Err(why) => {
                *skipped.entry(why).or_default() += 1;
                continue;
            }
        };
        lenient += usize::from(leniency != Leniency::default());
        // llhttp's pause cases stop and resume at a callback; the outcome is
        // that of an uninterrupted parse, so they run as usual.
        paused += usize::from(meta_str(&case.meta, "pause").is_some());
        let head = meta_str(&case.meta, "skipBody") == Some("true");
        let want = expected(case);
        let mut got = actual(case, role, leniency.clone(), finish, head);
        if got.error.as_deref() == Some("MissingHost") {
            // llhttp does not require Host; zttp does by default (RFC 9112 §3.2).
            // Compare everything else with that one rule relaxed.
            let leniency = leniency.missing_host(true);
            got = actual(case, role, leniency, finish, head);
            without_host += 1;
        }
        match compare(&want, &got) {
            Ok(()) => agreed += 1,
            Err(why) => {
                disagreements.insert(case.name.clone(), why);
            }
        }
    }

    let total_skipped: usize = skipped.values().sum();
    println!("llhttp corpus: {} cases", cases.len());
    for (why, n) in &skipped {
        println!("  skipped {n:3}: {why}");
    }
    println!("  agreed  {agreed:3} (of which {without_host} Host-less HTTP/1.1 requests, run with Leniency::missing_host after zttp rejected them strictly with MissingHost, RFC 9112 §3.2)");
    println!("  ran {paused} pause cases as plain ones, {lenient} lenient cases with zttp's matching switch");
    println!("  deliberate disagreements {:3}", DELIBERATE.len());
    assert_eq!(total_skipped + agreed + disagreements.len(), cases.len());

    let listed: BTreeMap<&str, &str> = DELIBERATE.iter().copied().collect();
    let mut problems = Vec::new();
    for (name, why) in &disagreements {
        if !listed.contains_key(name.as_str()) {
            problems.push(format!("UNEXPECTED {name}: {why}"));
        }
    }
    for name in listed.keys() {
        if !disagreements.contains_key(*name) {
            problems.push(format!("LISTED BUT AGREES (or not run): {name}"));
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n\n"));
}
