//! The Python reference worker (`examples/zmq_worker.py`, pyzmq), written from the protocol
//! document, serves through a real gateway: GET, a 5 MB POST answered by its digest, a hang
//! answered `504` and cancelled at the worker, a kill after which the others answer, and the
//! client's header-name case reaching the worker.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};
use zttp_peers::Peer;
use zttp_service::{ServerConfig, Shutdown};
use zttp_zmq::{Gateway, GatewayConfig, Server};

const LIMIT: Duration = Duration::from_secs(30);

struct PythonWorker {
    child: Child,
    /// Set once the worker printed `cancelled /hang`.
    cancelled: Arc<AtomicBool>,
}

impl Drop for PythonWorker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_python_worker(endpoint: &str, name: &str) -> PythonWorker {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/zmq_worker.py");
    let mut child = zttp_peers::python_command(&[Peer::PyZmq])
        .args([
            script,
            "--connect",
            endpoint,
            "--name",
            name,
            "--capacity",
            "8",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("python3 runs");
    let stdout = child.stdout.take().unwrap();
    let cancelled = Arc::new(AtomicBool::new(false));
    let flag = cancelled.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.trim() == "cancelled /hang" {
                flag.store(true, Ordering::SeqCst);
            }
        }
    });
    PythonWorker { child, cancelled }
}

fn request(addr: &str, head: &str, body: &[u8]) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(LIMIT)).unwrap();
    let mut r = s.try_clone().unwrap();
    let reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let _ = r.read_to_end(&mut all);
        all
    });
    s.write_all(head.as_bytes()).unwrap();
    let mut written = 0;
    for chunk in body.chunks(64 << 10) {
        if let Err(e) = s.write_all(chunk) {
            let all = reader.join().unwrap();
            panic!(
                "write failed after {written} bytes: {e}; answer {:?}",
                String::from_utf8_lossy(&all)
            );
        }
        written += chunk.len();
    }
    let all = reader.join().unwrap();
    let split = all
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(all.len(), |p| p + 4);
    let status = String::from_utf8_lossy(&all[..split.min(all.len())])
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, all[split..].to_vec())
}

fn get(addr: &str, path: &str) -> (u16, String) {
    let (status, body) = request(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
        b"",
    );
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::time::timeout(LIMIT, tokio::task::spawn_blocking(f))
        .await
        .expect("bounded")
        .unwrap()
}

async fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < LIMIT, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(zttp_skip_peer = "pyzmq", ignore = "ZTTP_SKIP_PEERS opts out of pyzmq")]
async fn python_reference_worker_serves_through_the_gateway() {
    let config = GatewayConfig {
        heartbeat_interval: Duration::from_millis(200),
        heartbeat_timeout: Duration::from_millis(1000),
        request_timeout: Duration::from_millis(1500),
        ..GatewayConfig::default()
    };
    let gateway = Gateway::bind_with(&zmq::Context::new(), "tcp://127.0.0.1:0", config).unwrap();
    let shutdown = Shutdown::new();
    // The 5 MB body below is over the default 2 MiB limit; the raw request carries the
    // client's header case to the worker.
    let front_config = ServerConfig::default()
        .max_body_size(Some(64 << 20))
        .raw_request(true);
    let front = Server::bind("tcp://127.0.0.1:0")
        .unwrap()
        .config(front_config)
        .shutdown(shutdown.clone());
    let addr = front
        .local_endpoint()
        .trim_start_matches("tcp://")
        .to_string();
    tokio::spawn(front.serve(gateway.handler()));

    let mut first = spawn_python_worker(gateway.local_endpoint(), "py1");
    let _second = spawn_python_worker(gateway.local_endpoint(), "py2");
    wait_until("two python workers", || gateway.workers() == 2).await;

    // GET.
    let a = addr.clone();
    let (status, body) = blocking(move || get(&a, "/")).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body == "hello from py1" || body == "hello from py2",
        "{body}"
    );

    // Header names reach the worker as the client spelled them, in order; hop-by-hop ones
    // do not; the gateway's own fields follow.
    let a = addr.clone();
    let (status, body) = blocking(move || {
        request(
            &a,
            "GET /headers HTTP/1.1\r\nHost: x\r\nX-Mixed-Case: 1\r\nACCEPT: */*\r\n\
             Keep-Alive: 5\r\nConnection: close\r\n\r\n",
            b"",
        )
    })
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        String::from_utf8_lossy(&body),
        "Host: x\nX-Mixed-Case: 1\nACCEPT: */*\n\
         x-forwarded-for: 127.0.0.1\nforwarded: for=127.0.0.1\n"
    );

    // A 5 MB POST, streamed through the window, answered by its SHA-256.
    let data: Vec<u8> = (0..5_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let expected = format!("{:x}", Sha256::digest(&data));
    let a = addr.clone();
    let (status, body) = blocking(move || {
        request(
            &a,
            &format!(
                "POST /digest HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                data.len()
            ),
            &data,
        )
    })
    .await;
    assert_eq!(status, 200);
    assert_eq!(String::from_utf8_lossy(&body), expected);

    // A hang: 504 within the deadline, and the worker's handler is cancelled.
    let started = Instant::now();
    let a = addr.clone();
    let (status, _) = blocking(move || get(&a, "/hang")).await;
    let took = started.elapsed();
    assert_eq!(status, 504);
    assert!(took < Duration::from_secs(5), "504 after {took:?}");
    let cancelled = [first.cancelled.clone(), _second.cancelled.clone()];
    wait_until("the hanging handler's cancellation", || {
        cancelled.iter().any(|c| c.load(Ordering::SeqCst))
    })
    .await;

    // A kill: the other worker answers everything.
    first.child.kill().unwrap();
    for _ in 0..20 {
        let a = addr.clone();
        assert_eq!(
            blocking(move || get(&a, "/")).await,
            (200, "hello from py2".to_string())
        );
    }
    let stats = gateway.stats();
    assert_eq!((stats.timed_out, stats.failed), (1, 0), "{stats:?}");
    shutdown.trigger();
}
