//! HTTP/1.1 engine benchmarks, with httparse parsing the same heads in the
//! same run for comparison.
//!
//! - `parse_and_frame/*`: a keep-alive server `Connection` receives a request
//!   (head and body), frames a small response and starts the next cycle.
//! - `head_parse/*`: the head parser alone, zttp's (every byte validated,
//!   the offsets of the request line's parts and of each field line
//!   recorded, the layout's allocation reused) against
//!   `httparse::Request::parse` with 64 header slots (reused), on the same heads.
//! - `head/*`: the request head through a whole connection, zttp (a new
//!   `Connection`, `receive_data` and the `Request` event with its `Bytes`
//!   fields, target and Host checked, framing decided) against the same
//!   `httparse` call.
//! - `byte_at_a_time/*`: heads of 1, 8 and 64 KiB and a 64 KiB chunked body fed
//!   one byte per call; flat bytes/s across sizes means linear cost.
//!
//! After criterion's report, a summary prints zttp/httparse ratios measured
//! back to back.

use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, BenchmarkId, Criterion, Throughput};
use zttp_core::__bench::RequestHeadParser;
use zttp_core::StreamId;
use zttp_core::{Config, Connection, Data, EndOfMessage, Event, Limits, Response, Role};

const SMALL_GET: &[u8] = b"GET / HTTP/1.1\r\nHost: localhost:8080\r\n\r\n";

const BROWSER_GET: &[u8] = b"GET /articles/2024/http-parsing?page=2&sort=recent HTTP/1.1\r\n\
Host: www.example.com\r\n\
Connection: keep-alive\r\n\
sec-ch-ua: \"Chromium\";v=\"124\", \"Google Chrome\";v=\"124\", \"Not-A.Brand\";v=\"99\"\r\n\
sec-ch-ua-mobile: ?0\r\n\
sec-ch-ua-platform: \"Linux\"\r\n\
Upgrade-Insecure-Requests: 1\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,image/apng,*/*;q=0.8,application/signed-exchange;v=b3;q=0.7\r\n\
Sec-Fetch-Site: same-origin\r\n\
Sec-Fetch-Mode: navigate\r\n\
Sec-Fetch-User: ?1\r\n\
Sec-Fetch-Dest: document\r\n\
Referer: https://www.example.com/articles/2024/\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-GB,en-US;q=0.9,en;q=0.8\r\n\
Cookie: session=3f9a1c0e7b2d4a6f8e1c3b5d7f9a2c4e; theme=dark; _ga=GA1.2.1234567890.1700000000\r\n\r\n";

/// A JSON upload in three chunks, one with an extension.
fn chunked_post() -> Vec<u8> {
    let mut out = b"POST /api/v1/upload HTTP/1.1\r\n\
Host: api.example.com\r\n\
User-Agent: curl/8.5.0\r\n\
Accept: */*\r\n\
Content-Type: application/json\r\n\
Transfer-Encoding: chunked\r\n\r\n"
        .to_vec();
    let chunks: [&[u8]; 3] = [
        b"{\"name\":\"zttp\",\"kind\":\"h1\",",
        b"\"tags\":[\"sans-io\",\"http\",\"rust\"],",
        b"\"ok\":true,\"n\":42}\n",
    ];
    for (i, chunk) in chunks.iter().enumerate() {
        let ext = if i == 1 { ";part=2" } else { "" };
        out.extend(format!("{:x}{ext}\r\n", chunk.len()).bytes());
        out.extend(*chunk);
        out.extend(b"\r\n");
    }
    out.extend(b"0\r\n\r\n");
    out
}

fn head_len(msg: &[u8]) -> usize {
    msg.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4
}

/// A server reads one request (head and body), frames a small response and
/// gets ready for the next request on the same (keep-alive) connection.
fn zttp_exchange(conn: &mut Connection, input: &[u8]) -> usize {
    conn.receive_data(input);
    loop {
        match conn.next_event().unwrap() {
            Event::EndOfMessage(_) => break,
            Event::Request(r) => {
                black_box(&r);
            }
            Event::Data(d) => {
                black_box(&d);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    conn.send(Response::new(200).with_header("Content-Length", "2"))
        .unwrap();
    conn.send(Data {
        stream_id: StreamId::ZERO,
        data: Bytes::from_static(b"ok"),
    })
    .unwrap();
    conn.send(EndOfMessage::default()).unwrap();
    let n = conn.data_to_send().len();
    conn.start_next_cycle().unwrap();
    n
}

/// zttp: the request head only.
fn zttp_head(input: &[u8]) -> usize {
    let mut conn = Connection::new(Role::Server);
    conn.receive_data(input);
    match conn.next_event().unwrap() {
        Event::Request(r) => r.headers.len(),
        other => panic!("unexpected {other:?}"),
    }
}

fn httparse_head(input: &[u8]) -> usize {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    httparse_parse(&mut headers, input)
}

fn httparse_parse<'b>(headers: &mut [httparse::Header<'b>], input: &'b [u8]) -> usize {
    let mut req = httparse::Request::new(headers);
    match req.parse(input).unwrap() {
        httparse::Status::Complete(n) => n + req.headers.len(),
        httparse::Status::Partial => panic!("partial"),
    }
}

/// zttp's head parser alone, its layout reused as httparse's slots are.
fn zttp_parse(parser: &mut RequestHeadParser, input: &[u8]) -> usize {
    match parser.parse(input).unwrap() {
        Some((n, fields)) => n + fields,
        None => panic!("partial"),
    }
}

fn cases() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("small_get", SMALL_GET.to_vec()),
        ("browser_get", BROWSER_GET.to_vec()),
        ("chunked_post", chunked_post()),
    ]
}

fn parse_and_frame(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_and_frame");
    for (name, input) in &cases() {
        group.throughput(Throughput::Bytes(input.len() as u64));
        let mut conn = Connection::new(Role::Server);
        group.bench_function(BenchmarkId::new("zttp", name), |b| {
            b.iter(|| zttp_exchange(&mut conn, black_box(input)))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("head_parse");
    for (name, input) in &cases() {
        let head = &input[..head_len(input)];
        group.throughput(Throughput::Bytes(head.len() as u64));
        let mut parser = RequestHeadParser::default();
        group.bench_function(BenchmarkId::new("zttp", name), |b| {
            b.iter(|| zttp_parse(&mut parser, black_box(head)))
        });
        let mut slots = [httparse::EMPTY_HEADER; 64];
        group.bench_function(BenchmarkId::new("httparse", name), |b| {
            b.iter(|| httparse_parse(&mut slots, black_box(head)))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("head");
    for (name, input) in &cases() {
        let head = &input[..head_len(input)];
        group.throughput(Throughput::Bytes(head.len() as u64));
        group.bench_function(BenchmarkId::new("zttp", name), |b| {
            b.iter(|| zttp_head(black_box(head)))
        });
        group.bench_function(BenchmarkId::new("httparse", name), |b| {
            b.iter(|| httparse_head(black_box(head)))
        });
    }
    group.finish();
}

/// A request whose head is about `size` bytes (many 64-byte fields).
fn big_head(size: usize) -> Vec<u8> {
    let mut out = b"GET / HTTP/1.1\r\nHost: example.com\r\n".to_vec();
    let mut i = 0;
    while out.len() + 64 < size {
        out.extend(format!("X-Field-{i:04}: {}\r\n", "v".repeat(46)).bytes());
        i += 1;
    }
    out.extend(b"\r\n");
    out
}

/// A chunked POST carrying `size` bytes of body in 1 KiB chunks.
fn big_chunked(size: usize) -> Vec<u8> {
    let mut out =
        b"POST / HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..size / 1024 {
        out.extend(b"400\r\n");
        out.extend([b'x'; 1024]);
        out.extend(b"\r\n");
    }
    out.extend(b"0\r\n\r\n");
    out
}

fn trickle_config() -> Config {
    Config::default().limits(Limits::default().max_head_size(1 << 20).max_headers(10_000))
}

/// Feeds `input` one byte per call, polling after each, until the message ends.
fn trickle(input: &[u8]) -> usize {
    let mut conn = Connection::with_config(Role::Server, trickle_config());
    let mut events = 0;
    for byte in input.chunks(1) {
        conn.receive_data(byte);
        loop {
            match conn.next_event().unwrap() {
                Event::NeedData => break,
                Event::EndOfMessage(_) => return events + 1,
                _ => events += 1,
            }
        }
    }
    panic!("message did not end");
}

fn byte_at_a_time(c: &mut Criterion) {
    let mut group = c.benchmark_group("byte_at_a_time");
    group.throughput(Throughput::Bytes(BROWSER_GET.len() as u64));
    group.bench_function("browser_get", |b| {
        b.iter(|| trickle(black_box(BROWSER_GET)))
    });
    for kib in [1, 8, 64] {
        let input = big_head(kib * 1024);
        group.throughput(Throughput::Bytes(input.len() as u64));
        group.bench_with_input(BenchmarkId::new("head_kib", kib), &input, |b, input| {
            b.iter(|| trickle(black_box(input)))
        });
    }
    let input = big_chunked(64 * 1024);
    group.throughput(Throughput::Bytes(input.len() as u64));
    group.bench_function("chunked_body_64kib", |b| {
        b.iter(|| trickle(black_box(&input)))
    });
    group.finish();
}

/// Mean time of `f` over about `budget`.
fn time(budget: Duration, mut f: impl FnMut() -> usize) -> Duration {
    let start = Instant::now();
    let mut n = 0u32;
    while start.elapsed() < budget {
        for _ in 0..100 {
            black_box(f());
        }
        n += 100;
    }
    start.elapsed() / n
}

fn mb_per_s(bytes: usize, t: Duration) -> f64 {
    bytes as f64 / t.as_secs_f64() / 1e6
}

/// zttp against httparse on the same heads, back to back, and the cost per
/// byte of trickled input at growing sizes.
fn summary() {
    let budget = Duration::from_millis(300);
    println!("\nsummary (same run, {budget:?} each):");
    println!(
        "{:<14} {:>10} {:>10} {:>12} {:>10} {:>12} {:>16}",
        "head", "parser", "httparse", "parser/", "event", "event/", "keep-alive cycle"
    );
    println!(
        "{:<14} {:>10} {:>10} {:>12} {:>10} {:>12}",
        "", "MB/s", "MB/s", "httparse", "MB/s", "httparse"
    );
    for (name, input) in &cases() {
        let head = &input[..head_len(input)];
        let mut parser = RequestHeadParser::default();
        let mut slots = [httparse::EMPTY_HEADER; 64];
        // Alternate the two so that drift on a shared machine hits both.
        let (mut p, mut h) = (Duration::ZERO, Duration::ZERO);
        for _ in 0..3 {
            p += time(budget / 3, || zttp_parse(&mut parser, head));
            h += time(budget / 3, || httparse_parse(&mut slots, head));
        }
        let e = time(budget, || zttp_head(head));
        let mut conn = Connection::new(Role::Server);
        let full = time(budget, || zttp_exchange(&mut conn, input));
        let speed = |t: Duration| mb_per_s(head.len(), t);
        println!(
            "{name:<14} {:>10.0} {:>10.0} {:>11.2}x {:>10.0} {:>11.2}x {:>13.0} ns",
            speed(p),
            speed(h),
            speed(p) / speed(h),
            speed(e),
            speed(e) / speed(h),
            full.as_nanos()
        );
    }
    println!("(bytes/s ratios: above 1 means zttp is faster)");
    println!("byte at a time:");
    for kib in [1, 8, 64] {
        let input = big_head(kib * 1024);
        let t = time(budget, || trickle(&input));
        println!(
            "  head {kib:>2} KiB: {:>6.1} ns/byte",
            t.as_nanos() as f64 / input.len() as f64
        );
    }
    let input = big_chunked(64 * 1024);
    let t = time(budget, || trickle(&input));
    println!(
        "  chunked body 64 KiB: {:>6.1} ns/byte",
        t.as_nanos() as f64 / input.len() as f64
    );
}

criterion_group!(benches, parse_and_frame, byte_at_a_time);

fn main() {
    benches();
    Criterion::default().configure_from_args().final_summary();
    if !std::env::args().any(|a| a == "--list" || a == "--test") {
        summary();
    }
}
