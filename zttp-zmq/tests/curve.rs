//! CURVE on the worker link: only workers whose keys are on the gateway's allow-list get
//! requests. Workers are separate processes (this test binary re-run).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use zttp_service::{Request, Shutdown};
use zttp_zmq::{CurveKeyPair, Gateway, GatewayConfig, GatewayCurve, Server, Worker, WorkerCurve};

const WORKER_ENV: &str = "ZTTP_ZMQ_CURVE_WORKER";
const LIMIT: Duration = Duration::from_secs(30);

/// Entry point of the worker processes: `endpoint;name;gateway-public;public;secret`
/// (the last three empty for a worker without CURVE).
#[test]
#[ignore = "run by the curve tests as a worker process"]
fn curve_worker_process() {
    let Ok(spec) = std::env::var(WORKER_ENV) else {
        return;
    };
    let parts: Vec<String> = spec.split(';').map(str::to_string).collect();
    let [endpoint, name, gateway_public, public, secret] = &parts[..] else {
        panic!("bad spec {spec}");
    };
    let name: &'static str = Box::leak(name.clone().into_boxed_str());
    std::thread::spawn(|| {
        std::thread::sleep(Duration::from_secs(60));
        std::process::exit(0);
    });
    let ctx = zmq::Context::new();
    let worker = if gateway_public.is_empty() {
        Worker::connect_with(&ctx, endpoint).unwrap()
    } else {
        let keys = CurveKeyPair::from_z85(public, secret).unwrap();
        let curve = WorkerCurve::new(gateway_public, keys).unwrap();
        Worker::connect_curve(&ctx, endpoint, &curve).unwrap()
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        worker
            .capacity(1_000_000) // a rogue would announce a huge capacity
            .serve(move |req: Request| async move {
                let cookie = req
                    .headers()
                    .get("cookie")
                    .map(|v| v.to_str().unwrap_or("").to_string())
                    .unwrap_or_default();
                format!("{name} saw cookie {cookie:?}")
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

fn spawn_worker(spec: String) -> WorkerProcess {
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "curve_worker_process",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(WORKER_ENV, spec)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    WorkerProcess(child)
}

fn get(addr: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(LIMIT)).unwrap();
    s.write_all(
        b"GET / HTTP/1.1\r\nHost: x\r\nCookie: session=secret\r\nConnection: close\r\n\r\n",
    )
    .unwrap();
    let mut all = String::new();
    s.read_to_string(&mut all).unwrap();
    let status = all.get(9..12).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = all.split_once("\r\n\r\n").map(|(_, b)| b.to_string());
    (status, body.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_allowed_workers_get_requests() {
    let gateway_keys = CurveKeyPair::generate().expect("libzmq with CURVE");
    let good = CurveKeyPair::generate().unwrap();
    let rogue = CurveKeyPair::generate().unwrap();
    let curve = GatewayCurve::new(gateway_keys.clone())
        .allow(good.public())
        .unwrap();
    let config = GatewayConfig {
        heartbeat_interval: Duration::from_millis(100),
        heartbeat_timeout: Duration::from_millis(500),
        ..GatewayConfig::default()
    };
    let gateway =
        Gateway::bind_curve(&zmq::Context::new(), "tcp://127.0.0.1:0", config, &curve).unwrap();
    let endpoint = gateway.local_endpoint().to_string();
    let shutdown = Shutdown::new();
    let front = Server::bind("tcp://127.0.0.1:0")
        .unwrap()
        .shutdown(shutdown.clone());
    let addr = front
        .local_endpoint()
        .trim_start_matches("tcp://")
        .to_string();
    tokio::spawn(front.serve(gateway.handler()));

    // A rogue with its own key pair, and one without CURVE at all, both connect first.
    let gp = gateway_keys.public();
    let _rogue = spawn_worker(format!(
        "{endpoint};rogue;{gp};{};{}",
        rogue.public(),
        rogue.secret()
    ));
    let _plain = spawn_worker(format!("{endpoint};plain;;;"));
    let start = Instant::now();
    while gateway.stats().denied == 0 {
        assert!(start.elapsed() < LIMIT, "{:?}", gateway.stats());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _good = spawn_worker(format!(
        "{endpoint};good;{gp};{};{}",
        good.public(),
        good.secret()
    ));
    while gateway.workers() < 1 {
        assert!(start.elapsed() < LIMIT, "{:?}", gateway.stats());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Give the rogues more time to get in if they could.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..20 {
        let a = addr.clone();
        let answer = tokio::task::spawn_blocking(move || get(&a)).await.unwrap();
        assert_eq!(
            answer,
            (200, "good saw cookie \"session=secret\"".to_string())
        );
    }
    let stats = gateway.stats();
    assert_eq!(stats.workers, 1, "{stats:?}");
    assert_eq!(stats.joined, 1, "{stats:?}");
    shutdown.trigger();
}
