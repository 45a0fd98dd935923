//! Gateway and workers in separate processes (this test binary re-run as a worker).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use http_body_util::BodyExt;
use zttp_service::{Body, Request, Shutdown};
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
            .heartbeat(Duration::from_millis(100), Duration::from_millis(500));
        worker
            .serve(move |req: Request| async move {
                match req.uri().path() {
                    "/slow" => {
                        tokio::time::sleep(Duration::from_secs(3)).await;
                        http::Response::new(Body::from(format!("slow from {name}")))
                    }
                    "/echo" => {
                        let body = req.into_body().collect().await.unwrap().to_bytes();
                        http::Response::new(Body::from(body))
                    }
                    _ => http::Response::new(Body::from(format!("hello from {name}"))),
                }
            })
            .await
            .unwrap();
    });
}

struct WorkerProcess(Child);

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_worker(endpoint: &str, name: &str) -> WorkerProcess {
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "worker_process",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(WORKER_ENV, format!("{endpoint};{name}"))
        .stdout(Stdio::null())
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
    }
}

/// A gateway with an HTTP front on a STREAM socket; returns the front's `host:port`.
fn start_gateway(config: GatewayConfig) -> (Gateway, String, Shutdown) {
    let gateway = Gateway::bind_with(&zmq::Context::new(), "tcp://127.0.0.1:0", config).unwrap();
    let shutdown = Shutdown::new();
    let front = Server::bind("tcp://127.0.0.1:0")
        .unwrap()
        .shutdown(shutdown.clone());
    let addr = front
        .local_endpoint()
        .trim_start_matches("tcp://")
        .to_string();
    tokio::spawn(front.serve(gateway.handler()));
    (gateway, addr, shutdown)
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
async fn requests_spread_across_workers() {
    let (gateway, addr, shutdown) = start_gateway(test_config());
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
async fn killed_worker_turns_its_requests_into_503_and_loses_no_other() {
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
    a.0.kill().unwrap();
    let killed_at = Instant::now();
    let mut ok = 0;
    let mut unavailable = 0;
    for task in slow {
        let (status, body) = task.await.unwrap();
        match status {
            200 => {
                assert_eq!(body, "slow from b");
                ok += 1;
            }
            503 => unavailable += 1,
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert!(killed_at.elapsed() < Duration::from_secs(10));
    assert_eq!(ok + unavailable, 6);
    assert!(unavailable >= 1 && ok >= 1, "ok {ok}, 503 {unavailable}");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_worker_answers_503_after_the_queue_timeout() {
    let config = GatewayConfig {
        queue_timeout: Duration::from_millis(300),
        ..test_config()
    };
    let (_gateway, addr, shutdown) = start_gateway(config);
    let started = Instant::now();
    let (status, _) = get_async(&addr, "/").await;
    assert_eq!(status, 503);
    assert!(started.elapsed() < Duration::from_secs(5));
    shutdown.trigger();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn large_bodies_stream_through_the_gateway_both_ways() {
    let (gateway, addr, shutdown) = start_gateway(test_config());
    let _a = spawn_worker(gateway.local_endpoint(), "a");
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
