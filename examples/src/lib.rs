//! Shared helpers of the example programs: command-line flags and runtime selection.

use std::io::{self, Write};
use std::net::SocketAddr;

use zttp_service::{Handler, ServerConfig};

/// Flags every server example takes: `--runtime NAME` and `--addr ADDR`.
#[derive(Debug, Clone)]
pub struct Args {
    /// `tokio` (default), `async-std` or `zmq` (a ZeroMQ STREAM socket).
    pub runtime: String,
    /// Where to listen; port 0 picks a free one. Default `127.0.0.1:8080`.
    pub addr: String,
}

impl Args {
    /// Parses the process arguments; prints usage and exits on a bad flag.
    pub fn parse() -> Args {
        Self::parse_with(&[]).0
    }

    /// Like [`parse`](Self::parse), also accepting the value-taking flags in
    /// `extra` (e.g. `--max-body`); returns them with their values, in order.
    pub fn parse_with(extra: &[&str]) -> (Args, Vec<(String, String)>) {
        let mut found = Vec::new();
        let mut args = Args {
            runtime: "tokio".into(),
            addr: "127.0.0.1:8080".into(),
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let value = |it: &mut dyn Iterator<Item = String>| {
                it.next()
                    .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
            };
            match flag.as_str() {
                "--runtime" => args.runtime = value(&mut it),
                "--addr" => args.addr = value(&mut it),
                "-h" | "--help" => usage(""),
                other if extra.contains(&other) => {
                    let value = value(&mut it);
                    found.push((flag, value));
                }
                other => usage(&format!("unknown argument {other:?}")),
            }
        }
        (args, found)
    }
}

/// Prints `problem` and the usage line, then exits with status 2.
pub fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("error: {problem}");
    }
    eprintln!("usage: [--runtime tokio|async-std|zmq] [--addr 127.0.0.1:8080]");
    std::process::exit(2)
}

/// Prints `listening on ADDR` (flushed), the line scripts wait for.
pub fn announce(addr: SocketAddr) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "listening on {addr}");
    let _ = out.flush();
}

/// Serves `handler` with `config` on the runtime the flags name until the
/// process is stopped. An unknown runtime is an error (the caller exits non-zero).
pub fn run<H: Handler>(args: &Args, config: ServerConfig, handler: H) -> io::Result<()> {
    match args.runtime.as_str() {
        "tokio" => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(async {
                let listener = tokio::net::TcpListener::bind(&args.addr).await?;
                announce(listener.local_addr()?);
                zttp_tokio::Server::new(listener)
                    .config(config)
                    .serve(handler)
                    .await
            }),
        "async-std" => async_std::task::block_on(async {
            let listener = async_std::net::TcpListener::bind(&args.addr).await?;
            announce(listener.local_addr()?);
            zttp_async_std::Server::new(listener)
                .config(config)
                .serve(handler)
                .await
        }),
        "zmq" => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(async {
                // `--addr` may be `HOST:PORT` or a ZeroMQ endpoint `tcp://HOST:PORT`.
                let endpoint = if args.addr.contains("://") {
                    args.addr.clone()
                } else {
                    format!("tcp://{}", args.addr)
                };
                let server = zttp_zmq::Server::bind(&endpoint)?.config(config);
                let bound = server.local_endpoint().trim_start_matches("tcp://");
                match bound.parse() {
                    Ok(addr) => announce(addr),
                    Err(_) => println!("listening on {}", server.local_endpoint()),
                }
                server.serve(handler).await
            }),
        other => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("unknown runtime {other:?} (expected tokio, async-std or zmq)"),
        )),
    }
}

/// Runs `run` with the default configuration and turns an error into a
/// message and exit status 1.
pub fn main_with<H: Handler>(handler: H) {
    main_with_config(ServerConfig::default(), handler)
}

/// Like [`main_with`], with a server configuration.
pub fn main_with_config<H: Handler>(config: ServerConfig, handler: H) {
    run_or_exit(&Args::parse(), config, handler)
}

/// Runs `run`; an error becomes a message and exit status 1.
pub fn run_or_exit<H: Handler>(args: &Args, config: ServerConfig, handler: H) {
    if let Err(e) = run(args, config, handler) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
