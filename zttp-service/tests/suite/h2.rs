//! HTTP/2 (h2c with prior knowledge) behaviours, checked with real peers:
//! curl, the python `h2` and `httpx` packages, and h2load.
//!
//! A peer that is not installed fails its test, naming the package (see
//! `zttp_peers` for the explicit opt-out that reports such a test ignored).

use std::io::Read;
use std::process::{Child, Output, Stdio};
use std::time::{Duration, Instant};

use zttp_peers::{command, python_command, Peer};
use zttp_service::ServerConfig;

use super::app::started;
use super::client::curl;

type Start = fn(ServerConfig) -> super::TestServer;

const H2_CLIENT: &str = include_str!("h2_client.py");

/// Waits for `child` at most `limit`, killing it past that; `None` when killed.
fn wait_bounded(mut child: Child, limit: Duration) -> Option<Output> {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait().expect("wait for the peer") {
            Some(_) => return Some(child.wait_with_output().expect("peer output")),
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Starts the python `h2` driver on `scenario`.
fn spawn_h2_client(port: u16, scenario: &str) -> Child {
    python_command(&[Peer::PyH2])
        .arg("-c")
        .arg(H2_CLIENT)
        .args([&port.to_string(), scenario])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts")
}

/// The driver's JSON line.
fn h2_client_output(out: Option<Output>) -> String {
    let out = out.expect("the python h2 client finishes in time");
    assert!(
        out.status.success(),
        "python h2 client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// True when this curl reuses h2c prior-knowledge connections (curl before 8.0
/// fails the second transfer on a reused one: curl issue 10634).
fn curl_reuses_h2c() -> bool {
    let out = curl(&["--version"]);
    let text = String::from_utf8_lossy(&out.stdout);
    let major = text
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.split('.').next())
        .and_then(|m| m.parse::<u32>().ok());
    major.is_some_and(|m| m >= 8)
}

fn fnv(data: &[u8]) -> String {
    let mut digest = 0xcbf2_9ce4_8422_2325u64;
    for &b in data {
        digest = (digest ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    format!("{digest:016x}")
}

pub fn curl_h2c_serves_gets_uploads_and_downloads(start: Start) {
    // The 10 MB upload below is over the default body limit.
    let server = start(ServerConfig::default().max_body_size(None));
    let base = format!("http://{}", server.addr);
    let h2 = ["-sS", "--max-time", "30", "--http2-prior-knowledge"];
    let urls = [
        format!("{base}/path/one"),
        format!("{base}/path/two"),
        format!("{base}/path/three"),
    ];
    let text = if curl_reuses_h2c() {
        let mut args: Vec<&str> = h2.to_vec();
        args.extend(urls.iter().map(String::as_str));
        args.extend(["-w", "%{num_connects}"]);
        let out = curl(&args);
        String::from_utf8_lossy(&out.stdout).into_owned()
    } else {
        println!("this curl cannot reuse h2c connections: one URL per run");
        let mut text = String::new();
        for url in &urls {
            let out = curl(&[&h2[..], &[url.as_str()]].concat());
            text += &String::from_utf8_lossy(&out.stdout);
        }
        text
    };
    assert!(
        text.starts_with("/path/one/path/two/path/three"),
        "got {text:?}"
    );

    // A 10 MB upload with `-d @file`, digested by the handler as it streams in.
    let upload: Vec<u8> = (0..10_000_000u32).map(|i| (i % 251) as u8).collect();
    let file = std::env::temp_dir().join(format!("zttp-h2-upload-{}", server.addr.port()));
    std::fs::write(&file, &upload).unwrap();
    let data = format!("@{}", file.display());
    let out = curl(&[&h2[..], &["--data-binary", &data, &format!("{base}/info")]].concat());
    std::fs::remove_file(&file).ok();
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        format!("HTTP/2.0 len=10000000 fnv={}", fnv(&upload))
    );
    let out = curl(&[&h2[..], &["-d", "form=1", &format!("{base}/echo")]].concat());
    assert_eq!(String::from_utf8_lossy(&out.stdout), "form=1");

    // A 10 MB download.
    let out = curl(&[&h2[..], &[&format!("{base}/stream/10000000")]].concat());
    assert!(out.status.success());
    assert_eq!(out.stdout.len(), 10_000_000);
    assert!(out.stdout.iter().all(|&b| b == b'x'));
    server.stop().unwrap();
}

/// nghttp, not curl, for uploads over the limit: the server answers `413` and
/// resets the rest of the upload with `NO_ERROR` (RFC 9113 §8.1), which curl
/// 7.88 at times reports as a framing error instead of showing the answer.
pub fn body_over_the_limit_gets_413_over_http2(start: Start) {
    let server = start(ServerConfig::default().max_body_size(Some(1000)));
    let url = format!("http://{}/echo", server.addr);
    assert_eq!(nghttp_upload_status(&url, 5000), "413");
    assert_eq!(
        nghttp_upload_status(&url, 1000),
        "200",
        "at the limit is fine"
    );
    server.stop().unwrap();
}

pub fn default_body_limit_is_2_mib_over_http2(start: Start) {
    let limit = ServerConfig::DEFAULT_MAX_BODY_SIZE as usize;
    let server = start(ServerConfig::default());
    let url = format!("http://{}/echo", server.addr);
    assert_eq!(nghttp_upload_status(&url, limit + 1), "413");
    assert_eq!(
        nghttp_upload_status(&url, limit),
        "200",
        "at the limit is fine"
    );
    server.stop().unwrap();
}

/// POSTs `len` bytes to `url` over h2c with nghttp and returns the `:status` it saw.
fn nghttp_upload_status(url: &str, len: usize) -> String {
    let file = std::env::temp_dir().join(format!(
        "zttp-upload-{}-{}-{len}",
        std::process::id(),
        url.rsplit(':').next().unwrap_or("").replace('/', "_")
    ));
    std::fs::write(&file, vec![b'x'; len]).unwrap();
    let child = command(Peer::Nghttp)
        .args(["-v", "-n", "-t", "30", "-d"])
        .arg(&file)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nghttp runs");
    let out = wait_bounded(child, Duration::from_secs(40)).expect("nghttp ends within 40 s");
    let _ = std::fs::remove_file(&file);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.lines()
        .find_map(|l| l.split(":status: ").nth(1).map(str::to_owned))
        .unwrap_or_else(|| panic!("no :status in nghttp output: {text}"))
}

pub fn python_h2_streams_run_concurrently_and_survive_resets(start: Start) {
    let server = start(ServerConfig::default());
    let child = spawn_h2_client(server.addr.port(), "concurrent");
    let began = Instant::now();
    let json = h2_client_output(wait_bounded(child, Duration::from_secs(40)));
    let expect = |part: &str| assert!(json.contains(part), "missing {part} in {json}");
    expect(r#""slow": {"status": 200, "body": "slept", "len": 5, "reset": null}"#);
    for i in 0..20 {
        expect(&format!(
            r#""dl{i}": {{"status": 200, "body": "<{} bytes>", "len": {}, "reset": null}}"#,
            50_000 + i,
            50_000 + i
        ));
    }
    let upload: Vec<u8> = (0..1200).flat_map(|_| 0..=255u8).collect();
    expect(&format!(
        r#""up": {{"status": 200, "body": "HTTP/2.0 len=307200 fnv={}""#,
        fnv(&upload)
    ));
    expect(r#""trailers": {"status": 200, "body": "x-sum=6;len=3""#);
    expect(r#""panic": {"status": 500, "body": "", "len": 0, "reset": null}"#);
    expect(r#""panic_now": {"status": 500, "body": "", "len": 0, "reset": null}"#);
    expect(r#""cancel": {"status": null, "body": "", "len": 0, "reset": -1}"#);
    expect(r#""after": {"status": 200, "body": "/path/after""#);
    // Far below the cancelled request's 30 s, with room for a loaded machine.
    assert!(
        began.elapsed() < Duration::from_secs(20),
        "the cancelled /sleep/30000 does not hold the others up"
    );
    server.stop().unwrap();
}

pub fn python_httpx_http2_client_round_trips(start: Start) {
    let server = start(ServerConfig::default());
    let script = r#"
import sys
import httpx, h2
base = "http://127.0.0.1:%s" % sys.argv[1]
transport = httpx.HTTPTransport(http1=False, http2=True)
with httpx.Client(transport=transport, timeout=10) as c:
    out = []
    for i in range(3):
        r = c.post(base + "/echo", content=b"body %d" % i)
        out.append("%s %d %s" % (r.http_version, r.status_code, r.text))
    r = c.get(base + "/stream/300000")
    out.append("%s %d" % (r.http_version, len(r.content)))
print("|".join(out))
"#;
    let child = python_command(&[Peer::PyHttpx])
        .arg("-c")
        .arg(script)
        .arg(server.addr.port().to_string())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    let out = wait_bounded(child, Duration::from_secs(30)).expect("httpx finishes in time");
    let stdout = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout,
        "HTTP/2 200 body 0|HTTP/2 200 body 1|HTTP/2 200 body 2|HTTP/2 300000"
    );
    server.stop().unwrap();
}

pub fn h2load_requests_all_succeed(start: Start) {
    let server = start(ServerConfig::default());
    let child = command(Peer::H2load)
        .args(["-c4", "-m16", "-n2000", "-T", "20"])
        .arg(format!("http://{}/path/load", server.addr))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("h2load starts");
    let out = wait_bounded(child, Duration::from_secs(30)).expect("h2load finishes in time");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("2000 total, 2000 started, 2000 done, 2000 succeeded, 0 failed, 0 errored"),
        "{text}"
    );
    assert!(text.contains("status codes: 2000 2xx"), "{text}");
    server.stop().unwrap();
}

pub fn graceful_shutdown_finishes_http2_streams_in_flight(start: Start) {
    // nghttp (nghttp2's client) keeps reading its streams after a graceful
    // GOAWAY; python h2 treats any GOAWAY as the end of the connection.
    let server = start(ServerConfig::default());
    let key = format!("h2-shutdown-{}", server.addr.port());
    let urls = (0..5).map(|i| format!("http://{}/sleep/500?key={key}&n={i}", server.addr));
    let mut child = command(Peer::Nghttp)
        .args(["-v", "-n", "-t", "20"])
        .args(urls)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("nghttp starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while started(&key) < 5 {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            let mut out = String::new();
            child.stdout.take().unwrap().read_to_string(&mut out).ok();
            panic!("the five streams did not start: {out}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let addr = server.addr;
    server.stop().unwrap();
    let out = wait_bounded(child, Duration::from_secs(20)).expect("nghttp finishes in time");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert_eq!(
        text.matches(":status: 200").count(),
        5,
        "no stream in flight is lost: {text}"
    );
    assert!(
        text.contains("recv GOAWAY frame") && text.contains("error_code=NO_ERROR(0x00)"),
        "a graceful GOAWAY: {text}"
    );
    super::tests::assert_listener_closed(addr);
}

/// The JSON value of `key` in the driver's flat output, as text.
fn json_field<'a>(json: &'a str, key: &str) -> &'a str {
    let at = json
        .find(&format!("\"{key}\": "))
        .unwrap_or_else(|| panic!("no {key} in {json}"));
    let rest = &json[at + key.len() + 4..];
    let end = rest
        .char_indices()
        .scan(0i32, |depth, (i, c)| {
            match c {
                '{' | '[' => *depth += 1,
                '}' | ']' => *depth -= 1,
                _ => {}
            }
            Some((i, c, *depth))
        })
        .find(|&(_, c, depth)| depth < 0 || (depth == 0 && c == ','))
        .map_or(rest.len(), |(i, _, _)| i);
    &rest[..end]
}

/// A peer (python `h2`) that never acknowledges our SETTINGS gets
/// GOAWAY(SETTINGS_TIMEOUT) at the configured timeout, and the connection closes.
pub fn python_h2_peer_that_never_acknowledges_settings_gets_settings_timeout(start: Start) {
    let mut config = ServerConfig::default();
    config.core.http2.settings_timeout = Some(Duration::from_millis(1000));
    let server = start(config);
    let child = spawn_h2_client(server.addr.port(), "no_settings_ack");
    let json = h2_client_output(wait_bounded(child, Duration::from_secs(20)));
    println!("{json}");
    let goaway = json_field(&json, "goaway");
    assert!(
        goaway.contains(r#""code": 4,"#),
        "GOAWAY(SETTINGS_TIMEOUT) expected: {json}"
    );
    let after: f64 = json_field(goaway.trim_matches(['{', '}']), "after")
        .parse()
        .unwrap();
    assert!(
        (0.9..5.0).contains(&after),
        "GOAWAY after {after} s: {json}"
    );
    assert_eq!(json_field(&json, "closed"), "true", "{json}");
    server.stop().unwrap();
}

/// Keep-alive: a peer (python `h2`) that answers our PINGs keeps its
/// connection through a slow request; once it stops answering it gets
/// GOAWAY(NO_ERROR, "keep-alive ping timeout") and the connection closes.
pub fn python_h2_peer_that_stops_answering_pings_is_closed(start: Start) {
    let mut config = ServerConfig::default();
    config.core.http2 = config
        .core
        .http2
        .keep_alive(Duration::from_millis(500), Duration::from_millis(500));
    let server = start(config);
    let child = spawn_h2_client(server.addr.port(), "stop_answering_pings");
    let json = h2_client_output(wait_bounded(child, Duration::from_secs(25)));
    println!("{json}");
    assert_eq!(json_field(&json, "body"), r#""slept""#, "{json}");
    let answered: u32 = json_field(&json, "answered").parse().unwrap();
    assert!(answered >= 1, "PINGs during the 2.5 s request: {json}");
    assert_ne!(json_field(&json, "unanswered_pings"), "[]", "{json}");
    let goaway = json_field(&json, "goaway");
    assert!(
        goaway.contains(r#""code": 0,"#) && goaway.contains("keep-alive ping timeout"),
        "GOAWAY(NO_ERROR) expected: {json}"
    );
    assert_eq!(json_field(&json, "closed"), "true", "{json}");
    let closed_after: f64 = json_field(&json, "closed_after").parse().unwrap();
    assert!(closed_after < 6.0, "closed after {closed_after} s: {json}");
    server.stop().unwrap();
}
