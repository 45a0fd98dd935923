//! Shared helpers of the example programs: command-line flags and runtime selection.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::pem::{Error as PemError, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use zttp_service::{Handler, ServerConfig};

/// Flags every server example takes: `--runtime NAME`, `--addr ADDR`, and
/// for HTTPS `--tls` (a self-signed certificate) or `--cert FILE --key FILE`.
#[derive(Debug, Clone)]
pub struct Args {
    /// `tokio` (default), `async-std` or `zmq` (a ZeroMQ STREAM socket).
    pub runtime: String,
    /// Where to listen; port 0 picks a free one. Default `127.0.0.1:8080`.
    pub addr: String,
    /// Serve HTTPS (tokio and async-std), with this certificate.
    pub tls: Option<Certificate>,
}

/// Where an HTTPS server's certificate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Certificate {
    /// `--tls`: generated at start, self-signed, for `localhost` and `127.0.0.1`.
    SelfSigned,
    /// `--cert FILE --key FILE`: a PEM certificate chain and its PEM private key.
    Pem {
        /// The certificate chain file.
        cert: String,
        /// The private key file (PKCS#8, PKCS#1 or SEC1).
        key: String,
    },
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
            tls: None,
        };
        let (mut tls, mut cert, mut key) = (false, None, None);
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let value = |it: &mut dyn Iterator<Item = String>| {
                it.next()
                    .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
            };
            match flag.as_str() {
                "--runtime" => args.runtime = value(&mut it),
                "--addr" => args.addr = value(&mut it),
                "--tls" => tls = true,
                "--cert" => cert = Some(value(&mut it)),
                "--key" => key = Some(value(&mut it)),
                "-h" | "--help" => usage(""),
                other if extra.contains(&other) => {
                    let value = value(&mut it);
                    found.push((flag, value));
                }
                other => usage(&format!("unknown argument {other:?}")),
            }
        }
        args.tls = match (cert, key) {
            (Some(cert), Some(key)) => Some(Certificate::Pem { cert, key }),
            (None, None) => tls.then_some(Certificate::SelfSigned),
            _ => usage("--cert and --key go together"),
        };
        (args, found)
    }

    /// The rustls configuration `--tls` / `--cert --key` ask for (ring
    /// provider; ALPN left empty so the server announces `h2` and `http/1.1`),
    /// or `None` for plain HTTP.
    pub fn tls_config(&self) -> io::Result<Option<Arc<rustls::ServerConfig>>> {
        let Some(certificate) = &self.tls else {
            return Ok(None);
        };
        let (chain, key) = match certificate {
            Certificate::SelfSigned => {
                let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
                let generated =
                    rcgen::generate_simple_self_signed(names).map_err(io::Error::other)?;
                let key = PrivatePkcs8KeyDer::from(generated.key_pair.serialize_der());
                (vec![generated.cert.der().clone()], key.into())
            }
            Certificate::Pem { cert, key } => {
                let pem_error = |file: &str, e: PemError| {
                    io::Error::new(io::ErrorKind::InvalidData, format!("{file}: {e}"))
                };
                let chain = CertificateDer::pem_file_iter(cert)
                    .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                    .map_err(|e| pem_error(cert, e))?;
                let key = PrivateKeyDer::from_pem_file(key).map_err(|e| pem_error(key, e))?;
                (chain, key)
            }
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .and_then(|builder| builder.with_no_client_auth().with_single_cert(chain, key))
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(Some(Arc::new(config)))
    }
}

/// Prints `problem` and the usage line, then exits with status 2.
pub fn usage(problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("error: {problem}");
    }
    eprintln!(
        "usage: [--runtime tokio|async-std|zmq] [--addr 127.0.0.1:8080] [--tls | --cert FILE --key FILE]"
    );
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
///
/// With `--tls` or `--cert/--key` it serves HTTPS (ALPN picks HTTP/2 or
/// HTTP/1.1); the zmq runtime has no TLS (terminate TLS in front of it).
pub fn run<H: Handler>(args: &Args, config: ServerConfig, handler: H) -> io::Result<()> {
    let tls = args.tls_config()?;
    if tls.is_some() && args.runtime == "zmq" {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the zmq runtime serves no TLS: terminate TLS in front of it (see zttp-zmq's docs)",
        ));
    }
    match args.runtime.as_str() {
        "tokio" => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(async {
                let listener = tokio::net::TcpListener::bind(&args.addr).await?;
                announce(listener.local_addr()?);
                let mut server = zttp_tokio::Server::new(listener).config(config);
                if let Some(tls) = tls {
                    server = server.tls(tls);
                }
                server.serve(handler).await
            }),
        "async-std" => async_std::task::block_on(async {
            let listener = async_std::net::TcpListener::bind(&args.addr).await?;
            announce(listener.local_addr()?);
            let mut server = zttp_async_std::Server::new(listener).config(config);
            if let Some(tls) = tls {
                server = server.tls(tls);
            }
            server.serve(handler).await
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
