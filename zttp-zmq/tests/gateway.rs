//! Gateway and workers in separate processes (this test binary re-run as a worker).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use zttp_service::{Body, RawRequest, Request, Shutdown};
use zttp_zmq::{Gateway, GatewayConfig, Server, Worker};

const WORKER_ENV: &str = "ZTTP_ZMQ_TEST_WORKER";
const LIMIT: Duration = Duration::from_secs(30);

/// Entry point of the worker processes the tests below spawn; does nothing when run directly.
#[test]
#[ignore = "run by the gateway tests as a worker process"]
fn worker_process() {
    let Ok(spec) = std::env::var(WORKER_ENV) else {
        return;
    };
    let (endpoint, name) = spec.split_once(';').unwrap();
    let name: &'static str = Box::leak(name.to_string().into_boxed_str());
    // Bounded: a worker whose test died must not outlive it by much.
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(90));
        std::process::exit(0);
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        let worker = Worker::connect(endpoint)
            .unwrap()
            .capacity(8)
            .raw_request(true);
        let handler = move |req: Request| {
            if req.uri().path() == "/panic-in-call" {
                // In `call` itself, before any future exists.
                panic!("a handler panics on purpose");
            }
            handle(req, name)
        };
        // Workers named `*-io` run their handlers on the worker's IO thread.
        let served = if name.ends_with("-io") {
            worker.serve_on_io_thread(handler).await
        } else {
            worker.serve(handler).await
        };
        served.unwrap();
    });
}

/// The test workers' routes.
async fn handle(req: Request, name: &'static str) -> http::Response<Body> {
    match req.uri().path() {
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            http::Response::new(Body::from(format!("slow from {name}")))
        }
        "/hang" => {
            // Reports on stdout when the gateway cancels it.
            let _report = ReportDrop("cancelled /hang");
            std::future::pending::<()>().await;
            unreachable!()
        }
        "/auth" => {
            // Answers without reading the body.
            let mut r = http::Response::new(Body::from("who are you?"));
            *r.status_mut() = http::StatusCode::UNAUTHORIZED;
            r
        }
        "/raw" => {
            // The header names as the client spelled them.
            let raw = req.extensions().get::<RawRequest>().expect("raw_request");
            let names: Vec<_> = raw
                .headers
                .iter()
                .map(|(n, _)| String::from_utf8_lossy(n).into_owned())
                .collect();
            http::Response::new(Body::from(names.join(" ")))
        }
        "/echo" => {
            let body = req.into_body().collect().await.unwrap().to_bytes();
            http::Response::new(Body::from(body))
        }
        "/stream" => {
            let chunks = (0..64)
                .map(|i| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![i as u8; 16 << 10])));
            http::Response::new(Body::from_stream(futures::stream::iter(chunks)))
        }
        _ => http::Response::new(Body::from(format!("hello from {name}"))),
    }
}

struct ReportDrop(&'static str);

impl Drop for ReportDrop {
    fn drop(&mut self) {
        println!("{}", self.0);
        let _ = std::io::stdout().flush();
    }
}

struct WorkerProcess(Child);

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_worker(endpoint: &str, name: &str) -> WorkerProcess {
    spawn_worker_with(endpoint, name, Stdio::null())
}

fn spawn_worker_with(endpoint: &str, name: &str, stdout: Stdio) -> WorkerProcess {
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "worker_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WORKER_ENV, format!("{endpoint};{name}"))
        .stdout(stdout)
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    WorkerProcess(child)
}

fn test_config() -> GatewayConfig {
    GatewayConfig {
        heartbeat_interval: Duration::from_millis(100),
        heartbeat_timeout: Duration::from_millis(500),
        queue_timeout: Duration::from_secs(5),
        no_worker_timeout: Duration::from_secs(5),
        ..GatewayConfig::default()
    }
}

/// A gateway on a thread of its own with an HTTP front on a STREAM socket; returns the
/// front's `host:port`.
fn start_gateway(config: GatewayConfig) -> (Gateway, String, Shutdown) {
    let (gateway, addr, shutdown, _) = start_gateway_on(config, false);
    (gateway, addr, shutdown)
}

/// [`start_gateway`] with the gateway's socket on the front's IO thread
/// ([`Gateway::share_io_thread`]).
fn start_gateway_shared(config: GatewayConfig) -> (Gateway, String, Shutdown) {
    let (gateway, addr, shutdown, _) = start_gateway_on(config, true);
    (gateway, addr, shutdown)
}

fn start_gateway_on(
    config: GatewayConfig,
    shared: bool,
) -> (
    Gateway,
    String,
    Shutdown,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let gateway = Gateway::bind_with(&zmq::Context::new(), "tcp://127.0.0.1:0", config).unwrap();
    let shutdown = Shutdown::new();
    // Bodies of 8 MiB go through below: over the default body limit. The raw request
    // carries the client's header case on to the workers.
    let front = Server::bind("tcp://127.0.0.1:0")
        .unwrap()
        .config(
            zttp_service::ServerConfig::default()
                .max_body_size(None)
                .raw_request(true),
        )
        .shutdown(shutdown.clone());
    let addr = front
        .local_endpoint()
        .trim_start_matches("tcp://")
        .to_string();
    if shared {
        gateway.share_io_thread(&front);
    }
    let served = tokio::spawn(front.serve(gateway.handler()));
    (gateway, addr, shutdown, served)
}

async fn wait_for_workers(gateway: &Gateway, n: usize) {
    let start = Instant::now();
    while gateway.workers() < n {
        assert!(
            start.elapsed() < LIMIT,
            "only {} of {n} workers joined",
            gateway.workers()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One request on its own connection: (status, body).
fn get(addr: &str, path: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(LIMIT)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let text = String::from_utf8_lossy(&all).into_owned();
    let status = text.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

async fn get_async(addr: &str, path: &str) -> (u16, String) {
    let (addr, path) = (addr.to_string(), path.to_string());
    tokio::time::timeout(
        LIMIT,
        tokio::task::spawn_blocking(move || get(&addr, &path)),
    )
    .await
    .expect("bounded")
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn header_names_reach_a_rust_worker_in_the_client_s_case() {
    let (gateway, addr, shutdown) = start_gateway(test_config());
    let _a = spawn_worker(gateway.local_endpoint(), "a");
    wait_for_workers(&gateway, 1).await;
    let answer = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(LIMIT)).unwrap();
        s.write_all(
            b"GET /raw HTTP/1.1\r\nHOST: x\r\nX-Mixed-Case: 1\r\nAccept: */*\r\n\
              Connection: close\r\n\r\n",
        )
        .unwrap();
        let mut all = Vec::new();
        let _ = s.read_to_end(&mut all);
        String::from_utf8_lossy(&all).into_owned()
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    // In order, hop-by-hop `Connection` dropped, the gateway's fields last.
    assert!(
        answer.ends_with("\r\n\r\nHOST X-Mixed-Case Accept x-forwarded-for forwarded"),
        "{answer}"
    );
    shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_spread_across_workers() {
    let (gateway, addr, shutdown) = start_gateway_shared(test_config());
    let _a = spawn_worker(gateway.local_endpoint(), "a");
    let _b = spawn_worker(gateway.local_endpoint(), "b");
    wait_for_workers(&gateway, 2).await;
    let answers = futures::future::join_all((0..40).map(|_| get_async(&addr, "/"))).await;
    let from_a = answers
        .iter()
        .filter(|(s, b)| *s == 200 && b == "hello from a")
        .count();
    let from_b = answers
        .iter()
        .filter(|(s, b)| *s == 200 && b == "hello from b")
        .count();
    assert_eq!(from_a + from_b, 40, "{answers:?}");
    assert!(from_a >= 5 && from_b >= 5, "a {from_a}, b {from_b}");
    shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_worker_s_unanswered_gets_are_redispatched() {
    let (gateway, addr, shutdown) = start_gateway(test_config());
    let mut a = spawn_worker(gateway.local_endpoint(), "a");
    let _b = spawn_worker(gateway.local_endpoint(), "b");
    wait_for_workers(&gateway, 2).await;
    let slow: Vec<_> = (0..6)
        .map(|_| {
            let addr = addr.clone();
            tokio::spawn(async move { get_async(&addr, "/slow").await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(gateway.stats().in_flight == 6, "{:?}", gateway.stats());
    a.0.kill().unwrap();
    let killed_at = Instant::now();
    for task in slow {
        assert_eq!(task.await.unwrap(), (200, "slow from b".to_string()));
    }
    assert!(killed_at.elapsed() < Duration::from_secs(10));
    let stats = gateway.stats();
    assert_eq!((stats.lost, stats.failed), (1, 0), "{stats:?}");
    assert!(stats.retried >= 1, "{stats:?}");
    // The survivor takes everything from now on.
    wait_for_workers_exactly(&gateway, 1).await;
    for _ in 0..10 {
        assert_eq!(
            get_async(&addr, "/").await,
            (200, "hello from b".to_string())
        );
    }
    shutdown.trigger();
}

async fn wait_for_workers_exactly(gateway: &Gateway, n: usize) {
    let start = Instant::now();
    while gateway.workers() != n {
        assert!(
            start.elapsed() < LIMIT,
            "{} workers, expected {n}",
            gateway.workers()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn late_worker_takes_load() {
    let (gateway, addr, shutdown) = start_gateway(test_config());
    let _a = spawn_worker(gateway.local_endpoint(), "a");
    wait_for_workers(&gateway, 1).await;
    assert_eq!(
        get_async(&addr, "/").await,
        (200, "hello from a".to_string())
    );
    let _b = spawn_worker(gateway.local_endpoint(), "late");
    wait_for_workers(&gateway, 2).await;
    let mut late = 0;
    for _ in 0..20 {
        let (status, body) = get_async(&addr, "/").await;
        assert_eq!(status, 200);
        late += usize::from(body == "hello from late");
    }
    assert!(late >= 5, "late worker answered {late} of 20");
    shutdown.trigger();
}

/// The threads of this process named `name`, each with its CPU time (user + system).
/// Tests run in parallel, so other gateways' threads may carry the same name.
fn threads_cpu(name: &str) -> Vec<(String, Duration)> {
    let ticks_per_s = 100; // USER_HZ on Linux
    let mut found = Vec::new();
    for task in std::fs::read_dir("/proc/self/task").unwrap() {
        let dir = task.unwrap().path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim() != name {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(dir.join("stat")) else {
            continue; // the thread ended meanwhile
        };
        let after = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = after.split(' ').collect();
        let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
        let tid = dir.file_name().unwrap().to_string_lossy().into_owned();
        found.push((tid, Duration::from_millis(ticks * 1000 / ticks_per_s)));
    }
    found
}

/// The CPU time of thread `tid`.
fn thread_cpu(name: &str, tid: &str) -> Duration {
    threads_cpu(name)
        .into_iter()
        .find(|(t, _)| t == tid)
        .map(|(_, cpu)| cpu)
        .unwrap_or_else(|| panic!("thread {tid} ({name}) is gone"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_worker_answers_503_after_the_short_wait_without_spinning() {
    // Heartbeats far apart: the old loop expired queued requests only on heartbeats while
    // polling with the queue deadline, so it spun at 100% CPU from the deadline to the beat.
    let config = GatewayConfig {
        heartbeat_interval: Duration::from_secs(3),
        heartbeat_timeout: Duration::from_secs(9),
        no_worker_timeout: Duration::from_millis(200),
        ..GatewayConfig::default()
    };
    let others: Vec<String> = threads_cpu("zttp-gateway")
        .into_iter()
        .map(|(tid, _)| tid)
        .collect();
    let (gateway, addr, shutdown) = start_gateway(config);
    // This gateway's thread: the one that was not there before (others may start
    // too). A new thread sets its name itself, so it may take a moment to show.
    let deadline = Instant::now() + Duration::from_secs(5);
    let (tid, cpu_before) = loop {
        let new = threads_cpu("zttp-gateway")
            .into_iter()
            .find(|(tid, _)| !others.contains(tid));
        if let Some(found) = new {
            break found;
        }
        assert!(
            Instant::now() < deadline,
            "the gateway's thread never showed"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let started = Instant::now();
    let (status, body) = get_async(&addr, "/").await;
    assert_eq!(status, 503, "{body}");
    let waited = started.elapsed();
    assert!(waited < Duration::from_millis(1500), "503 after {waited:?}");
    // Stay queued-and-expired territory a while longer, with more requests.
    for _ in 0..3 {
        assert_eq!(get_async(&addr, "/").await.0, 503);
    }
    let cpu = thread_cpu("zttp-gateway", &tid).saturating_sub(cpu_before);
    let wall = started.elapsed();
    assert!(
        cpu < wall / 4,
        "gateway thread used {cpu:?} CPU in {wall:?}"
    );
    assert_eq!(gateway.stats().unavailable, 4);
    shutdown.trigger();
}

/// Sends a raw request and reads until the connection closes or `limit` passes.
fn exchange_raw(addr: &str, request: &[u8], limit: Duration) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(limit)).unwrap();
    s.write_all(request).unwrap();
    let mut all = Vec::new();
    let _ = s.read_to_end(&mut all);
    String::from_utf8_lossy(&all).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_handler_gets_504_within_the_deadline_and_is_cancelled() {
    use std::io::BufRead;
    let config = GatewayConfig {
        request_timeout: Duration::from_millis(800),
        ..test_config()
    };
    let (gateway, addr, shutdown) = start_gateway_shared(config);
    let mut worker = spawn_worker_with(gateway.local_endpoint(), "a-io", Stdio::piped());
    let stdout = worker.0.stdout.take().unwrap();
    wait_for_workers(&gateway, 1).await;
    let started = Instant::now();
    let (status, body) = get_async(&addr, "/hang").await;
    let took = started.elapsed();
    assert_eq!(status, 504, "{body}");
    assert!(
        took >= Duration::from_millis(700) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // The worker's stdout also carries the test harness's own lines.
    let reported = tokio::task::spawn_blocking(move || {
        std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.trim_end().ends_with("cancelled /hang"))
    });
    let reported = tokio::time::timeout(LIMIT, reported)
        .await
        .expect("bounded");
    assert!(reported.unwrap(), "the worker's handler was not cancelled");
    assert_eq!(gateway.stats().timed_out, 1);
    // The worker's capacity came back.
    assert_eq!(get_async(&addr, "/").await, (200, "hello from a-io".into()));
    // The gateway publishes `in_flight` at the end of its loop turn, which may come after
    // the client has its answer.
    let start = Instant::now();
    while gateway.stats().in_flight != 0 {
        assert!(start.elapsed() < LIMIT, "{:?}", gateway.stats());
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    shutdown.trigger();
}

/// A handler that panics in `Handler::call` itself (not in its future) costs its request a
/// `502` at once, not a wait for the request deadline, and its worker goes on serving; with
/// handlers on a runtime and on the worker's IO thread alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_handler_panicking_in_its_call_gets_502_at_once_and_the_worker_goes_on() {
    let config = GatewayConfig {
        request_timeout: Duration::from_secs(20),
        ..test_config()
    };
    let (gateway, addr, shutdown) = start_gateway(config);
    for name in ["a", "b-io"] {
        let worker = spawn_worker(gateway.local_endpoint(), name);
        wait_for_workers_exactly(&gateway, 1).await;
        let started = Instant::now();
        let (status, _) = get_async(&addr, "/panic-in-call").await;
        assert_eq!(status, 502, "worker {name}");
        assert!(started.elapsed() < Duration::from_secs(5), "worker {name}");
        assert_eq!(
            get_async(&addr, "/").await,
            (200, format!("hello from {name}")),
        );
        drop(worker);
        wait_for_workers_exactly(&gateway, 0).await;
    }
    assert_eq!(gateway.stats().failed, 2);
    shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_queue_answers_503_with_retry_after_at_once() {
    let config = GatewayConfig {
        max_queued: 2,
        ..test_config()
    };
    let (gateway, addr, shutdown) = start_gateway_shared(config);
    let _a = spawn_worker(gateway.local_endpoint(), "a"); // capacity 8
    wait_for_workers(&gateway, 1).await;
    let held: Vec<_> = (0..10)
        .map(|_| {
            let addr = addr.clone();
            tokio::spawn(async move { get_async(&addr, "/slow").await })
        })
        .collect();
    let start = Instant::now();
    while gateway.stats().queued < 2 {
        assert!(start.elapsed() < LIMIT, "{:?}", gateway.stats());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let started = Instant::now();
    let addr2 = addr.clone();
    let answer = tokio::task::spawn_blocking(move || {
        exchange_raw(
            &addr2,
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            LIMIT,
        )
    })
    .await
    .unwrap();
    let took = started.elapsed();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer
            .to_ascii_lowercase()
            .contains("\r\nretry-after: 1\r\n"),
        "{answer}"
    );
    assert!(took < Duration::from_millis(500), "503 took {took:?}");
    for task in held {
        assert_eq!(task.await.unwrap().0, 200);
    }
    assert_eq!(gateway.stats().unavailable, 1);
    shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn continue_is_sent_only_when_the_worker_reads_the_body() {
    let (gateway, addr, shutdown) = start_gateway_shared(test_config());
    let _a = spawn_worker(gateway.local_endpoint(), "a");
    wait_for_workers(&gateway, 1).await;
    let addr2 = addr.clone();
    let (unauthorised, echoed) = tokio::task::spawn_blocking(move || {
        // /auth answers 401 without reading: the client never gets 100 and sends nothing.
        let mut s = TcpStream::connect(&addr2).unwrap();
        s.set_read_timeout(Some(LIMIT)).unwrap();
        s.write_all(b"POST /auth HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5000000\r\nConnection: close\r\n\r\n").unwrap();
        let mut first = vec![0u8; 12];
        s.read_exact(&mut first).unwrap();
        // /echo reads: 100 first, then the body goes through.
        let mut e = TcpStream::connect(&addr2).unwrap();
        e.set_read_timeout(Some(LIMIT)).unwrap();
        e.write_all(b"POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\nConnection: close\r\n\r\n").unwrap();
        let mut interim = vec![0u8; 25];
        e.read_exact(&mut interim).unwrap();
        e.write_all(b"hello").unwrap();
        let mut rest = Vec::new();
        let _ = e.read_to_end(&mut rest);
        (
            String::from_utf8_lossy(&first).into_owned(),
            String::from_utf8_lossy(&interim).into_owned() + &String::from_utf8_lossy(&rest),
        )
    })
    .await
    .unwrap();
    assert_eq!(unauthorised, "HTTP/1.1 401");
    assert!(
        echoed.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200"),
        "{echoed}"
    );
    assert!(echoed.ends_with("\r\n\r\nhello"), "{echoed}");
    shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn worker_speaking_another_version_is_refused_with_a_reason() {
    let (gateway, addr, shutdown) = start_gateway(test_config());
    let ctx = zmq::Context::new();
    let rogue = ctx.socket(zmq::DEALER).unwrap();
    rogue.set_rcvtimeo(LIMIT.as_millis() as i32).unwrap();
    rogue.connect(gateway.local_endpoint()).unwrap();
    let mut hello = vec![8u8];
    hello.extend_from_slice(&0u64.to_be_bytes());
    rogue
        .send_multipart(
            [
                hello,
                // Version 2 (control header and head in separate frames) is no longer spoken.
                2u16.to_be_bytes().to_vec(),
                1000u32.to_be_bytes().to_vec(),
            ],
            0,
        )
        .unwrap();
    let reply = rogue.recv_multipart(0).unwrap();
    assert_eq!(reply[0][0], 10, "REFUSE");
    let reason = String::from_utf8_lossy(&reply[1]).into_owned();
    assert_eq!(zttp_zmq::protocol::VERSION, 3);
    assert!(
        reason.contains("version 2 is not supported") && reason.contains("version 3"),
        "{reason}"
    );
    // A READY without HELLO (an unversioned worker) is told to join first, and gets nothing.
    let mut ready = vec![6u8];
    ready.extend_from_slice(&1000u64.to_be_bytes());
    rogue.send(ready, 0).unwrap();
    let reply = rogue.recv_multipart(0).unwrap();
    assert_eq!(reply[0][0], 11, "UNKNOWN");
    assert_eq!(gateway.workers(), 0);
    let (status, _) = get_async(&addr, "/").await;
    assert_eq!(status, 503);
    assert_eq!(gateway.stats().refused, 1);
    shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_stream_through_the_gateway_both_ways() {
    let (gateway, addr, shutdown) = start_gateway_shared(test_config());
    let _a = spawn_worker(gateway.local_endpoint(), "a-io");
    wait_for_workers(&gateway, 1).await;
    let data: Vec<u8> = (0..(8u32 << 20)).map(|i| (i % 253) as u8).collect();
    let echoed = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(LIMIT)).unwrap();
        let mut r = s.try_clone().unwrap();
        let reader = std::thread::spawn(move || {
            let mut all = Vec::new();
            r.read_to_end(&mut all).unwrap();
            all
        });
        write!(
            s,
            "POST /echo HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
            data.len()
        )
        .unwrap();
        for chunk in data.chunks(100_000) {
            s.write_all(chunk).unwrap();
        }
        let all = reader.join().unwrap();
        let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
        (
            String::from_utf8_lossy(&all[..split]).into_owned(),
            all[split..] == data[..],
        )
    })
    .await
    .unwrap();
    assert!(echoed.0.starts_with("HTTP/1.1 200 OK\r\n"), "{}", echoed.0);
    assert!(
        echoed
            .0
            .to_ascii_lowercase()
            .contains("content-length: 8388608"),
        "{}",
        echoed.0
    );
    assert!(echoed.1, "body differs");
    shutdown.trigger();
}

/// Reads one response with a `content-length` body from a keep-alive connection: its status.
fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<u16> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let status = head.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if buf.len() >= end + 4 + len {
                buf.drain(..end + 4 + len);
                return Ok(status);
            }
        }
        let mut chunk = [0u8; 4096];
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_one_of_two_workers_under_load_loses_no_get() {
    let (gateway, addr, shutdown) = start_gateway_shared(test_config());
    let mut a = spawn_worker(gateway.local_endpoint(), "a");
    let _b = spawn_worker(gateway.local_endpoint(), "b");
    wait_for_workers(&gateway, 2).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let clients: Vec<_> = (0..16)
        .map(|_| {
            let (addr, stop) = (addr.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut counts = std::collections::BTreeMap::<u16, u32>::new();
                let mut s = TcpStream::connect(&addr).unwrap();
                s.set_read_timeout(Some(LIMIT)).unwrap();
                let mut buf = Vec::new();
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
                    let status = read_response(&mut s, &mut buf).unwrap();
                    *counts.entry(status).or_default() += 1;
                }
                counts
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    a.0.kill().unwrap(); // SIGKILL
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = std::collections::BTreeMap::<u16, u32>::new();
    for c in clients {
        for (status, n) in c.join().unwrap() {
            *total.entry(status).or_default() += n;
        }
    }
    let ok = total.get(&200).copied().unwrap_or(0);
    let other: u32 = total
        .iter()
        .filter(|(s, _)| **s != 200)
        .map(|(_, n)| n)
        .sum();
    eprintln!("kill -9 under load: {total:?}, {:?}", gateway.stats());
    assert!(ok > 100, "{total:?}");
    assert_eq!(other, 0, "lost GETs: {total:?}");
    assert_eq!(gateway.stats().lost, 1);
    shutdown.trigger();
}

/// An HTTP/2 client (python `h2`, h2c prior knowledge) sending `expect: 100-continue`:
/// prints the interim and final statuses it saw per request.
const H2_EXPECT_CLIENT: &str = r#"
import socket, sys
import h2.config, h2.connection, h2.events

port = int(sys.argv[1])
sock = socket.create_connection(("127.0.0.1", port), timeout=20)
conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True))
conn.initiate_connection()

def request(stream, path, length):
    conn.send_headers(stream, [(":method", "POST"), (":path", path), (":scheme", "http"),
                               (":authority", "x"), ("expect", "100-continue"),
                               ("content-length", str(length))], end_stream=False)
    sock.sendall(conn.data_to_send())

def events_until(done):
    while not done():
        data = sock.recv(65536)
        if not data:
            raise SystemExit("connection closed")
        for event in conn.receive_data(data):
            yield event
        sock.sendall(conn.data_to_send())

seen = {}
body = {}
ended = set()

def handle(e):
    if isinstance(e, h2.events.InformationalResponseReceived):
        seen.setdefault(e.stream_id, {})["interim"] = dict(e.headers)[b":status"].decode()
        if e.stream_id == 3:
            conn.send_data(3, b"hello", end_stream=True)
    elif isinstance(e, h2.events.ResponseReceived):
        seen.setdefault(e.stream_id, {})["final"] = dict(e.headers)[b":status"].decode()
    elif isinstance(e, h2.events.DataReceived):
        body[e.stream_id] = body.get(e.stream_id, b"") + e.data
        conn.acknowledge_received_data(e.flow_controlled_length, e.stream_id)
    elif isinstance(e, (h2.events.StreamEnded, h2.events.StreamReset)):
        ended.add(e.stream_id)

# /auth answers 401 without reading: no 100, and the body is never sent.
request(1, "/auth", 5000000)
for e in events_until(lambda: 1 in ended):
    handle(e)
# /echo reads: 100 first, only then the body goes, and it comes back.
request(3, "/echo", 5)
for e in events_until(lambda: 3 in ended):
    handle(e)
for s in (1, 3):
    print(s, seen.get(s, {}).get("interim", "-"), seen.get(s, {}).get("final", "-"),
          body.get(s, b"").decode())
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(zttp_skip_peer = "h2", ignore = "ZTTP_SKIP_PEERS opts out of h2")]
async fn http2_continue_is_sent_only_when_the_worker_reads_the_body() {
    let (gateway, addr, shutdown) = start_gateway(test_config());
    let _a = spawn_worker(gateway.local_endpoint(), "a-io");
    wait_for_workers(&gateway, 1).await;
    let port = addr.rsplit_once(':').unwrap().1.to_string();
    let out = tokio::time::timeout(
        LIMIT,
        tokio::process::Command::from(zttp_peers::python_command(&[zttp_peers::Peer::PyH2]))
            .arg("-c")
            .arg(H2_EXPECT_CLIENT)
            .arg(&port)
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("the h2 client finishes in time")
    .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "h2 client failed: {}{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Stream 1 (/auth): no interim response, 401. Stream 3 (/echo): 100, then 200 "hello".
    assert_eq!(stdout, "1 - 401 who are you?\n3 100 200 hello\n");
    shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_on_the_front_s_io_thread_outlives_its_front() {
    let (gateway, addr, shutdown, served) = start_gateway_on(test_config(), true);
    let _a = spawn_worker(gateway.local_endpoint(), "a-io");
    wait_for_workers(&gateway, 1).await;
    for _ in 0..3 {
        assert_eq!(get_async(&addr, "/").await, (200, "hello from a-io".into()));
    }
    // The front stops: its IO thread ends and hands the gateway's socket back to a thread
    // of the gateway's own, which a second front (on tokio this time) then uses.
    shutdown.trigger();
    tokio::time::timeout(LIMIT, served)
        .await
        .expect("the front stops")
        .unwrap()
        .unwrap();
    let front = Server::bind("tcp://127.0.0.1:0").unwrap();
    let addr = front
        .local_endpoint()
        .trim_start_matches("tcp://")
        .to_string();
    let second = Shutdown::new();
    tokio::spawn(
        front
            .shutdown(second.clone())
            .serve_on_tokio(gateway.handler()),
    );
    for _ in 0..3 {
        assert_eq!(get_async(&addr, "/").await, (200, "hello from a-io".into()));
    }
    assert_eq!(gateway.workers(), 1);
    second.trigger();
}
