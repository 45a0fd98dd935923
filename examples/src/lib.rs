//! Shared helpers of the example programs: command-line flags and runtime selection.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::sync::Arc;

use rustls::pki_types::pem::{Error as PemError, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

use zttp_service::{Handler, ServerConfig, Shutdown};

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
    ///
    /// `-h`/`--help` prints the usage on stdout and exits 0; an unknown flag,
    /// a stray argument or a missing value prints the problem and the usage
    /// on stderr and exits 2.
    pub fn parse_with(extra: &[&str]) -> (Args, Vec<(String, String)>) {
        let mut valued = vec!["--runtime", "--addr", "--cert", "--key"];
        valued.extend_from_slice(extra);
        let help = format!("{}\n{FLAGS_HELP}", usage_line(extra));
        let flags = Flags::parse(&help, &valued, &["--tls"]);
        let args = Args {
            runtime: flags.value("--runtime").unwrap_or("tokio").to_owned(),
            addr: flags.value("--addr").unwrap_or("127.0.0.1:8080").to_owned(),
            tls: match (flags.value("--cert"), flags.value("--key")) {
                (Some(cert), Some(key)) => Some(Certificate::Pem {
                    cert: cert.to_owned(),
                    key: key.to_owned(),
                }),
                (None, None) => flags.switch("--tls").then_some(Certificate::SelfSigned),
                _ => flags.usage_error("--cert and --key go together"),
            },
        };
        let found = flags
            .values
            .iter()
            .filter(|(flag, _)| extra.contains(&flag.as_str()))
            .cloned()
            .collect();
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

/// A program's command line: `--name VALUE` options (repeatable) and
/// `--name` switches, parsed with `lexopt`. Every example parses its flags
/// through this, so all behave alike: `-h`/`--help` prints the help on
/// stdout and exits 0; an unknown flag, a stray argument, a missing or bad
/// value prints `error: …` and the help's first line (the usage) on stderr
/// and exits 2.
#[derive(Debug)]
pub struct Flags {
    values: Vec<(String, String)>,
    switches: Vec<String>,
    usage: String,
}

impl Flags {
    /// Parses the process arguments. `help` starts with the usage line;
    /// `valued` and `switches` name the flags with their dashes.
    pub fn parse(help: &str, valued: &[&str], switches: &[&str]) -> Flags {
        let usage = help.lines().next().unwrap_or_default().to_owned();
        match Self::try_parse(std::env::args_os().skip(1), valued, switches) {
            Ok(Some((values, switches))) => Flags {
                values,
                switches,
                usage,
            },
            Ok(None) => {
                println!("{help}");
                std::process::exit(0)
            }
            Err(e) => exit_usage(&usage, &e.to_string()),
        }
    }

    /// `Ok(None)`: help was asked for.
    #[allow(clippy::type_complexity)]
    fn try_parse(
        argv: impl IntoIterator<Item = std::ffi::OsString>,
        valued: &[&str],
        switch_names: &[&str],
    ) -> Result<Option<(Vec<(String, String)>, Vec<String>)>, lexopt::Error> {
        use lexopt::Arg::{Long, Short};
        use lexopt::ValueExt;
        let (mut values, mut switches) = (Vec::new(), Vec::new());
        let mut parser = lexopt::Parser::from_args(argv);
        while let Some(arg) = parser.next()? {
            match arg {
                Short('h') | Long("help") => return Ok(None),
                Long(name) => {
                    let flag = format!("--{name}");
                    if valued.contains(&flag.as_str()) {
                        let value = parser.value()?.string()?;
                        values.push((flag, value));
                    } else if switch_names.contains(&flag.as_str()) {
                        switches.push(flag);
                    } else {
                        return Err(arg.unexpected());
                    }
                }
                other => return Err(other.unexpected()),
            }
        }
        Ok(Some((values, switches)))
    }

    /// The last value given for `flag`.
    pub fn value(&self, flag: &str) -> Option<&str> {
        let (_, value) = self.values.iter().rev().find(|(name, _)| name == flag)?;
        Some(value)
    }

    /// Every value given for `flag`, in order.
    pub fn all<'a>(&'a self, flag: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.values
            .iter()
            .filter(move |(name, _)| name == flag)
            .map(|(_, value)| value.as_str())
    }

    /// The value of `flag` parsed as a `T`, `default` when absent; a value
    /// that does not parse is a usage error.
    pub fn parsed<T: std::str::FromStr>(&self, flag: &str, default: T) -> T {
        match self.value(flag) {
            None => default,
            Some(value) => value
                .parse()
                .unwrap_or_else(|_| self.usage_error(&format!("bad {flag} {value:?}"))),
        }
    }

    /// Whether the switch `flag` was given.
    pub fn switch(&self, flag: &str) -> bool {
        self.switches.iter().any(|s| s == flag)
    }

    /// Prints `problem` and the usage on stderr, then exits with status 2.
    pub fn usage_error(&self, problem: &str) -> ! {
        exit_usage(&self.usage, problem)
    }
}

const FLAGS_HELP: &str = "\
  --runtime NAME     tokio (default), async-std, or zmq (needs the `zmq` feature)
  --addr ADDR        where to listen (default 127.0.0.1:8080; port 0 picks one)
  --tls              HTTPS with a self-signed certificate made at start
  --cert FILE --key FILE   HTTPS with these PEM files
  -h, --help         this help
Ctrl-C or SIGTERM stops the server gracefully: requests in flight finish
(up to 30 s), then it exits 0; a second signal closes them at once.";

fn program() -> String {
    std::env::args()
        .next()
        .and_then(|p| {
            std::path::Path::new(&p)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
        })
        .unwrap_or_else(|| "server".into())
}

fn usage_line(extra: &[&str]) -> String {
    let mut line = format!(
        "usage: {} [--runtime tokio|async-std|zmq] [--addr 127.0.0.1:8080] [--tls | --cert FILE --key FILE]",
        program()
    );
    for flag in extra {
        line += &format!(" [{flag} VALUE]");
    }
    line
}

/// Prints `problem` and the usage line on stderr, then exits with status 2.
pub fn usage(problem: &str) -> ! {
    exit_usage(&usage_line(&[]), problem)
}

fn exit_usage(usage: &str, problem: &str) -> ! {
    if !problem.is_empty() {
        eprintln!("error: {problem}");
    }
    eprintln!("{usage}");
    std::process::exit(2)
}

/// Logs to stderr through `tracing-subscriber`, filtered by `RUST_LOG`
/// (e.g. `RUST_LOG=info` for the access log, `RUST_LOG=debug` for connections
/// too); without it, warnings and errors only.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

/// A [`Shutdown`] that the first SIGINT (Ctrl-C) or SIGTERM triggers
/// (graceful: stop accepting, let requests in flight finish) and a second one
/// forces (close what is left at once).
pub fn shutdown_on_signals() -> io::Result<Shutdown> {
    use signal_hook::consts::{SIGINT, SIGTERM};
    let shutdown = Shutdown::new();
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])?;
    let signal = shutdown.clone();
    std::thread::spawn(move || {
        for (seen, _) in signals.forever().enumerate() {
            if seen == 0 {
                eprintln!("shutting down: finishing requests in flight (signal again to force)");
                signal.trigger();
            } else {
                signal.force();
            }
        }
    });
    Ok(shutdown)
}

/// Prints `listening on ADDR` (flushed), the line scripts wait for.
pub fn announce(addr: SocketAddr) {
    let mut out = io::stdout().lock();
    let _ = writeln!(out, "listening on {addr}");
    let _ = out.flush();
}

/// Serves `handler` with `config` on the runtime the flags name until
/// SIGINT/SIGTERM, then shuts down gracefully and returns `Ok`. An unknown
/// runtime is an error (the caller exits non-zero).
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
    init_logging();
    let shutdown = shutdown_on_signals()?;
    match args.runtime.as_str() {
        "tokio" => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
            .block_on(async {
                let listener = tokio::net::TcpListener::bind(&args.addr).await?;
                announce(listener.local_addr()?);
                let mut server = zttp_tokio::Server::new(listener)
                    .config(config)
                    .shutdown(shutdown);
                if let Some(tls) = tls {
                    server = server.tls(tls);
                }
                server.serve(handler).await
            }),
        "async-std" => async_std::task::block_on(async {
            let listener = async_std::net::TcpListener::bind(&args.addr).await?;
            announce(listener.local_addr()?);
            let mut server = zttp_async_std::Server::new(listener)
                .config(config)
                .shutdown(shutdown);
            if let Some(tls) = tls {
                server = server.tls(tls);
            }
            server.serve(handler).await
        }),
        #[cfg(feature = "zmq")]
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
                let server = zttp_zmq::Server::bind(&endpoint)?
                    .config(config)
                    .shutdown(shutdown);
                let bound = server.local_endpoint().trim_start_matches("tcp://");
                match bound.parse() {
                    Ok(addr) => announce(addr),
                    Err(_) => println!("listening on {}", server.local_endpoint()),
                }
                server.serve(handler).await
            }),
        #[cfg(not(feature = "zmq"))]
        "zmq" => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the zmq runtime needs libzmq: build with `--features zmq`",
        )),
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
