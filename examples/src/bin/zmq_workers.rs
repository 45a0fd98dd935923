//! An HTTP gateway on a ZeroMQ STREAM socket forwarding to handler workers over
//! ROUTER/DEALER, answering `Hello World!` — workers as threads, or as separate processes
//! anywhere on the network.
//!
//! ```text
//! zmq_workers [--addr tcp://127.0.0.1:8080] [--workers-addr tcp://127.0.0.1:5556] [--workers 4]
//! zmq_workers --worker --connect tcp://HOST:5556
//! ```
//!
//! Responses carry `X-Worker: PID/N` so you can see the load spread.

use std::io::{self, Write};

use zttp_service::{Body, Handler, Request};

struct Flags {
    addr: String,
    workers_addr: String,
    workers: usize,
    worker: bool,
    connect: Option<String>,
}

fn usage(problem: &str) -> ! {
    eprintln!("error: {problem}");
    eprintln!("usage: zmq_workers [--addr tcp://127.0.0.1:8080] [--workers-addr tcp://127.0.0.1:5556] [--workers N]");
    eprintln!("       zmq_workers --worker --connect tcp://HOST:PORT");
    std::process::exit(2)
}

fn parse() -> Flags {
    let mut flags = Flags {
        addr: "tcp://127.0.0.1:8080".into(),
        workers_addr: "tcp://127.0.0.1:5556".into(),
        workers: 4,
        worker: false,
        connect: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--addr" => flags.addr = value(),
            "--workers-addr" => flags.workers_addr = value(),
            "--workers" => {
                flags.workers = value()
                    .parse()
                    .unwrap_or_else(|_| usage("--workers takes a number"))
            }
            "--connect" => flags.connect = Some(value()),
            "--worker" => flags.worker = true,
            other => usage(&format!("unknown argument {other:?}")),
        }
    }
    flags
}

fn hello(name: String) -> impl Handler {
    move |_req: Request| {
        let name = name.clone();
        async move {
            let mut response = http::Response::new(Body::from("Hello World!"));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("text/plain"),
            );
            if let Ok(v) = http::HeaderValue::from_str(&name) {
                response.headers_mut().insert("x-worker", v);
            }
            response
        }
    }
}

/// One worker on a thread of its own with a single-threaded runtime.
fn worker_thread(endpoint: String, n: usize) -> io::Result<()> {
    let name = format!("{}/{n}", std::process::id());
    std::thread::Builder::new()
        .name(format!("worker-{n}"))
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("tokio runtime");
            if let Err(e) = rt.block_on(zttp_zmq::worker(&endpoint, hello(name))) {
                eprintln!("worker {n}: {e}");
            }
        })?;
    Ok(())
}

fn run(flags: Flags) -> io::Result<()> {
    if flags.worker {
        let endpoint = flags
            .connect
            .unwrap_or_else(|| usage("--worker needs --connect tcp://HOST:PORT"));
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        println!("worker connecting to {endpoint}");
        let _ = io::stdout().flush();
        return rt.block_on(zttp_zmq::worker(
            &endpoint,
            hello(format!("{}/0", std::process::id())),
        ));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let gateway = zttp_zmq::Gateway::bind(&flags.workers_addr)?;
        for n in 0..flags.workers {
            worker_thread(gateway.local_endpoint().to_string(), n)?;
        }
        let server = zttp_zmq::Server::bind(&flags.addr)?;
        println!("workers on {}", gateway.local_endpoint());
        println!("listening on {}", server.local_endpoint());
        let _ = io::stdout().flush();
        server.serve(gateway.handler()).await
    })
}

fn main() {
    if let Err(e) = run(parse()) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
