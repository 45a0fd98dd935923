//! An HTTP gateway on a ZeroMQ STREAM socket forwarding to handler workers over
//! ROUTER/DEALER, answering `Hello World!` — workers as threads, or as separate processes
//! anywhere on the network.
//!
//! ```text
//! zmq_workers [--addr tcp://127.0.0.1:8080] [--workers-addr tcp://127.0.0.1:5556] [--workers 4]
//!             [--curve KEYFILE --allow WORKER_PUBLIC_KEY ...]
//! zmq_workers --worker --connect tcp://HOST:5556 [--server-key GATEWAY_PUBLIC_KEY --curve KEYFILE]
//! zmq_workers --gen-keys KEYFILE
//! ```
//!
//! Both endpoints bind loopback by default. Binding the worker endpoint elsewhere without
//! `--curve` lets anyone who reaches it take requests; the gateway warns then. With
//! `--curve` the link is encrypted and only `--allow`ed worker keys (and the gateway's own
//! in-process workers) can join. `--gen-keys` writes a key pair (mode 0600) and prints its
//! public key.
//!
//! Responses carry `X-Worker: PID/N` so you can see the load spread.

use std::io::{self, Write};

use zttp_service::{Body, Handler, Request};
use zttp_zmq::{CurveKeyPair, Gateway, GatewayConfig, GatewayCurve, Worker, WorkerCurve};

/// The command line.
struct Flags {
    addr: String,
    workers_addr: String,
    workers: usize,
    worker: bool,
    connect: Option<String>,
    curve: Option<String>,
    allow: Vec<String>,
    server_key: Option<String>,
    gen_keys: Option<String>,
    /// For problems found after parsing.
    parsed: zttp_examples::Flags,
}

const HELP: &str = "\
usage: zmq_workers [--addr tcp://127.0.0.1:8080] [--workers-addr tcp://127.0.0.1:5556] [--workers N]
       [--curve KEYFILE --allow WORKER_PUBLIC_KEY ...]
       zmq_workers --worker --connect tcp://HOST:PORT [--server-key KEY --curve KEYFILE]
       zmq_workers --gen-keys KEYFILE
  --addr ENDPOINT         where the gateway serves HTTP (ZeroMQ STREAM socket)
  --workers-addr ENDPOINT where workers connect (ROUTER socket)
  --workers N             workers started in this process (default 4)
  --curve KEYFILE         this side's CURVE key pair (made by --gen-keys)
  --allow KEY             a worker public key the gateway accepts (repeatable)
  --worker                run as a worker only, connecting to --connect
  --server-key KEY        the gateway's public key (a worker with --curve)
  --gen-keys KEYFILE      write a new key pair (mode 0600) and print its public key
  -h, --help              this help
Ctrl-C or SIGTERM stops gracefully: requests in flight finish, then it exits 0.";

fn parse() -> Flags {
    let parsed = zttp_examples::Flags::parse(
        HELP,
        &[
            "--addr",
            "--workers-addr",
            "--workers",
            "--connect",
            "--curve",
            "--allow",
            "--server-key",
            "--gen-keys",
        ],
        &["--worker"],
    );
    let owned = |flag| parsed.value(flag).map(str::to_owned);
    Flags {
        addr: owned("--addr").unwrap_or_else(|| "tcp://127.0.0.1:8080".into()),
        workers_addr: owned("--workers-addr").unwrap_or_else(|| "tcp://127.0.0.1:5556".into()),
        workers: parsed.parsed("--workers", 4),
        worker: parsed.switch("--worker"),
        connect: owned("--connect"),
        curve: owned("--curve"),
        allow: parsed.all("--allow").map(str::to_owned).collect(),
        server_key: owned("--server-key"),
        gen_keys: owned("--gen-keys"),
        parsed,
    }
}

fn hello(name: String) -> impl Handler {
    const X_WORKER: http::HeaderName = http::HeaderName::from_static("x-worker");
    // Made once: a clone per request is a reference count, not a copy.
    let worker = http::HeaderValue::from_str(&name).ok();
    move |_req: Request| {
        let worker = worker.clone();
        async move {
            let mut response = http::Response::new(Body::from("Hello World!"));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain"),
            );
            if let Some(v) = worker {
                response.headers_mut().insert(X_WORKER, v);
            }
            response
        }
    }
}

/// One in-process worker: its handlers run on the worker's own IO thread (`hello` never
/// blocks), so a request wakes no other thread there.
fn local_worker(
    context: &zmq::Context,
    endpoint: &str,
    curve: Option<&WorkerCurve>,
    n: usize,
) -> io::Result<()> {
    let name = format!("{}/{n}", std::process::id());
    let worker = match curve {
        Some(c) => Worker::connect_curve(context, endpoint, c)?,
        None => Worker::connect_with(context, endpoint)?,
    };
    tokio::spawn(async move {
        if let Err(e) = worker.serve_on_io_thread(hello(name)).await {
            eprintln!("worker {n}: {e}");
        }
    });
    Ok(())
}

/// `HOST:PORT` as a ZeroMQ TCP endpoint; endpoints (`tcp://…`, `ipc://…`) as given.
fn endpoint(addr: &str) -> String {
    if addr.contains("://") {
        addr.to_string()
    } else {
        format!("tcp://{addr}")
    }
}

/// True for `tcp://127.x.y.z:PORT`, `tcp://[::1]:PORT`, `tcp://localhost:PORT` and
/// non-TCP transports (ipc, inproc).
fn is_loopback(endpoint: &str) -> bool {
    let Some(rest) = endpoint.strip_prefix("tcp://") else {
        return true;
    };
    let host = rest.rsplit_once(':').map_or(rest, |(h, _)| h);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn run(flags: Flags) -> io::Result<()> {
    if let Some(path) = &flags.gen_keys {
        let keys = CurveKeyPair::generate()?;
        keys.save(path)?;
        println!("public key {}", keys.public());
        let _ = io::stdout().flush();
        return Ok(());
    }
    if flags.worker {
        let endpoint = endpoint(&flags.connect.clone().unwrap_or_else(|| {
            flags
                .parsed
                .usage_error("--worker needs --connect tcp://HOST:PORT")
        }));
        let context = zmq::Context::new();
        let worker = match (&flags.server_key, &flags.curve) {
            (Some(server), Some(path)) => {
                let curve = WorkerCurve::new(server, CurveKeyPair::load(path)?)?;
                Worker::connect_curve(&context, &endpoint, &curve)?
            }
            (None, None) => Worker::connect_with(&context, &endpoint)?,
            _ => flags
                .parsed
                .usage_error("--server-key and --curve go together"),
        };
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        println!("worker connecting to {endpoint}");
        let _ = io::stdout().flush();
        let handler = hello(format!("{}/0", std::process::id()));
        let worker = worker.shutdown(zttp_examples::shutdown_on_signals()?);
        return rt.block_on(worker.serve_on_io_thread(handler));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let context = zmq::Context::new();
        let config = GatewayConfig::default();
        let (gateway, thread_curve) = match &flags.curve {
            Some(path) => {
                let keys = CurveKeyPair::load(path)?;
                // The in-process workers get a fresh key pair of their own.
                let local = CurveKeyPair::generate()?;
                let mut allowed = GatewayCurve::new(keys.clone()).allow(local.public())?;
                for key in &flags.allow {
                    allowed = allowed.allow(key)?;
                }
                let gateway = Gateway::bind_curve(&context, &flags.workers_addr, config, &allowed)?;
                println!("gateway public key {}", keys.public());
                (gateway, Some(WorkerCurve::new(keys.public(), local)?))
            }
            None => {
                if !is_loopback(&flags.workers_addr) {
                    eprintln!(
                        "warning: workers endpoint {} is not loopback and has no CURVE: \
                         anyone who can reach it can join as a worker and read requests \
                         (use --curve KEYFILE --allow KEY)",
                        flags.workers_addr
                    );
                }
                (
                    Gateway::bind_with(&context, &flags.workers_addr, config)?,
                    None,
                )
            }
        };
        for n in 0..flags.workers {
            local_worker(&context, gateway.local_endpoint(), thread_curve.as_ref(), n)?;
        }
        // The raw request carries the client's header-name case on to the workers.
        // A context of its own, so a libzmq IO thread of its own: sharing the gateway's
        // (one libzmq IO thread for clients and workers) halved context switches with one
        // worker process but doubled them with two (perf stat, alternating rounds).
        let server = zttp_zmq::Server::bind(&endpoint(&flags.addr))?
            .config(zttp_service::ServerConfig::default().raw_request(true))
            .shutdown(zttp_examples::shutdown_on_signals()?);
        // One thread drives the STREAM front and the workers' ROUTER socket: forwarding a
        // request wakes no other thread in this process.
        gateway.share_io_thread(&server);
        println!("workers on {}", gateway.local_endpoint());
        println!("listening on {}", server.local_endpoint());
        let _ = io::stdout().flush();
        // Forwarding never blocks: the connection loops run on the STREAM socket's thread.
        server.serve_on_io_thread(gateway.handler()).await
    })
}

fn main() {
    if let Err(e) = run(parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
