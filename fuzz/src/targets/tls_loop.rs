//! HTTP/1.1 and HTTP/2 over TLS through `zttp-service`'s drive loop, in
//! memory: an in-process rustls client talks to zttp's TLS server path
//! (futures-rustls' acceptor, then `tls::serve_handshake` and
//! `serve_tls_connection`, as the async-std adapter wires them) over an
//! in-memory duplex, both pumped on the single-threaded virtual-clock executor.
//!
//! Input: `[config, fragment size, fragment seed, bytes…]`. Bits of `config`:
//! 0–1 the client's ALPN offer (0 none, 1 `http/1.1`, 2 `h2`, 3 raw mode:
//! `bytes` go straight onto the socket, no client — garbage before or instead
//! of a ClientHello); 2 the client ends with `close_notify` (else a plain EOF,
//! the unclean-EOF path); 3 TLS 1.2 only; 4 keep the handshake timeout (on the
//! virtual clock it fires at its second poll); 5 the handler reads the
//! request body; 6–7 how many bytes each server read may take (all, 1, 7,
//! 300). `bytes`, cut into fragments, is the plaintext the client sends
//! (HTTP/1.1 requests, or the h2 preface and frames) once per pump, then it
//! closes.
//!
//! Checks: no panic; the connection ends by itself within a bounded number
//! of polls once the client is done; ALPN settles on what the client offered
//! (the server offers `h2` then `http/1.1`); every request reaches the handler
//! with the `TlsInfo` of that ALPN, as HTTP/2 exactly when it chose `h2`; what
//! the client decrypts is the negotiated protocol: HTTP/1.1 answers start
//! with `HTTP/1.1 `, HTTP/2 starts with a SETTINGS frame on stream 0 and is a
//! sequence of whole frames when the server closed cleanly.
//!
//! Self-contained (it is not part of `zttp_fuzz`'s library): the libFuzzer
//! entry point and `zttp-service/tests/fuzz_corpus.rs` include this file.
//! The certificate is made once per process.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};

// `MemoryIo` is for the targets without TLS.
#[allow(dead_code)]
#[path = "service_support.rs"]
mod support;

use bytes::Bytes;
use futures_io::{AsyncRead, AsyncWrite};
use futures_rustls::rustls;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use support::{fragments, Executor, MAX_POLLS};
use zttp_service::tls::{alpn_protocols, serve_handshake, AlpnConfigs, TlsInfo};
use zttp_service::{Body, Request, Runtime, ServerConfig, Shutdown};

/// The rustls configurations, made once: the server's, and the client's per
/// ALPN offer (none, `http/1.1`, `h2`) and protocol versions (any, TLS 1.2).
struct Configs {
    server: Arc<rustls::ServerConfig>,
    clients: [[Arc<rustls::ClientConfig>; 2]; 3],
}

fn configs() -> &'static Configs {
    static CONFIGS: OnceLock<Configs> = OnceLock::new();
    CONFIGS.get_or_init(|| {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let generated = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()])
            .expect("generate a certificate");
        let der: CertificateDer<'static> = generated.cert.der().clone();
        let key = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(generated.key_pair.serialize_der()));
        let mut server = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![der.clone()], key)
            .expect("certificate and key match");
        server.alpn_protocols = alpn_protocols(&ServerConfig::default());
        let mut roots = rustls::RootCertStore::empty();
        roots.add(der).unwrap();
        let client = |alpn: &[&[u8]], versions: &[&'static rustls::SupportedProtocolVersion]| {
            let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_protocol_versions(versions)
                .unwrap()
                .with_root_certificates(roots.clone())
                .with_no_client_auth();
            config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
            Arc::new(config)
        };
        let any = rustls::DEFAULT_VERSIONS;
        let tls12: &[_] = &[&rustls::version::TLS12];
        let offers: [&[&[u8]]; 3] = [&[], &[b"http/1.1"], &[b"h2"]];
        Configs {
            server: Arc::new(server),
            clients: offers.map(|alpn| [client(alpn, any), client(alpn, tls12)]),
        }
    })
}

/// The two directions of the in-memory connection.
#[derive(Default)]
struct Pipe {
    to_server: VecDeque<u8>,
    client_closed: bool,
    to_client: Vec<u8>,
}

/// The server's end: reads take up to `cap` bytes of what the client wrote
/// (then the end of stream once it closed; pending until then, and every task
/// is polled each turn), writes go to the client.
struct ServerIo {
    pipe: Arc<Mutex<Pipe>>,
    cap: usize,
}

impl AsyncRead for ServerIo {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut pipe = self.pipe.lock().unwrap();
        if pipe.to_server.is_empty() {
            return if pipe.client_closed {
                Poll::Ready(Ok(0))
            } else {
                Poll::Pending
            };
        }
        let n = buf.len().min(self.cap).min(pipe.to_server.len());
        for (slot, byte) in buf.iter_mut().zip(pipe.to_server.drain(..n)) {
            *slot = byte;
        }
        Poll::Ready(Ok(n))
    }
}

impl AsyncWrite for ServerIo {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.pipe.lock().unwrap().to_client.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// What the handler saw of each request: its ALPN and whether it was HTTP/2.
type Seen = Arc<Mutex<Vec<(Option<Bytes>, bool)>>>;

/// Runs one input (the fuzz target's body).
pub fn run(data: &[u8]) {
    exchange(data);
}

/// Runs one input and returns what the client decrypted (`None` in raw mode
/// or for an input too short to say what to do).
pub fn exchange(data: &[u8]) -> Option<Vec<u8>> {
    let [cfg, size, seed, ref input @ ..] = *data else {
        return None;
    };
    let configs = configs();
    let mut config = ServerConfig::default();
    if cfg & 16 == 0 {
        config = config.tls_handshake_timeout(None);
    }
    let alpn_configs = AlpnConfigs::new(&config);
    let runtime = Executor::default();
    let pipe: Arc<Mutex<Pipe>> = Arc::default();
    let io = ServerIo {
        pipe: pipe.clone(),
        cap: [usize::MAX, 1, 7, 300][usize::from(cfg >> 6)],
    };
    let seen: Seen = Arc::default();
    let handler = {
        let seen = seen.clone();
        let read = cfg & 32 != 0;
        move |req: Request| {
            let seen = seen.clone();
            async move {
                let alpn = req
                    .extensions()
                    .get::<TlsInfo>()
                    .map(|info| info.alpn_protocol.clone());
                let h2 = req.version() == http::Version::HTTP_2;
                seen.lock()
                    .unwrap()
                    .push((alpn.expect("a request over TLS without TlsInfo"), h2));
                let len = if read {
                    req.into_body().to_bytes().await.map_or(0, |b| b.len())
                } else {
                    0
                };
                http::Response::new(Body::from(format!("len={len}")))
            }
        }
    };
    let acceptor = futures_rustls::TlsAcceptor::from(configs.server.clone());
    let server = {
        let runtime = runtime.clone();
        async move {
            let handshake = async {
                let stream = acceptor.accept(io).await?;
                let (_, conn) = stream.get_ref();
                let info = TlsInfo::new(conn.server_name(), conn.alpn_protocol());
                Ok((stream, info))
            };
            let _ = serve_handshake(
                handshake,
                None,
                runtime,
                handler,
                &alpn_configs,
                Shutdown::new(),
            )
            .await;
        }
    };
    runtime.spawn(Box::pin(server));

    let offer = usize::from(cfg & 3);
    let mut client = if offer == 3 {
        let mut pipe = pipe.lock().unwrap();
        pipe.to_server.extend(input);
        pipe.client_closed = true;
        None
    } else {
        let name = ServerName::try_from("localhost").unwrap();
        let config = configs.clients[offer][usize::from(cfg & 8 != 0)].clone();
        Some(Client {
            tls: rustls::ClientConnection::new(config, name).unwrap(),
            plaintext: fragments(input, size, seed).into(),
            close_notify: cfg & 4 != 0,
            closed: false,
            failed: false,
            clean_close: false,
            decrypted: Vec::new(),
        })
    };

    let mut ended = false;
    for _ in 0..MAX_POLLS {
        if let Some(client) = &mut client {
            client.pump(&pipe);
        }
        if runtime.run_once() == 0 {
            ended = true;
            break;
        }
    }
    assert!(
        ended,
        "the TLS connection did not end after the client's close"
    );
    let mut client = client?;
    client.pump(&pipe);
    client.check(offer, &seen.lock().unwrap());
    Some(client.decrypted)
}

/// The rustls client and what it has yet to send and has received.
struct Client {
    tls: rustls::ClientConnection,
    plaintext: VecDeque<Vec<u8>>,
    close_notify: bool,
    closed: bool,
    /// The client's TLS failed (an alert, or bytes it could not accept).
    failed: bool,
    /// The server sent `close_notify`.
    clean_close: bool,
    decrypted: Vec<u8>,
}

impl Client {
    /// One turn of the client: takes what the server wrote, decrypts it,
    /// writes the next fragment of plaintext (or, all sent, closes), and puts
    /// its TLS records on the wire.
    fn pump(&mut self, pipe: &Mutex<Pipe>) {
        let incoming = std::mem::take(&mut pipe.lock().unwrap().to_client);
        let mut rest = &incoming[..];
        let mut full = false;
        while !rest.is_empty() && !self.failed {
            if self.tls.read_tls(&mut rest).is_err() {
                // Its buffer is full: process what it holds, then go on
                // (twice full without progress: the client gives up).
                self.failed = full;
                full = true;
            } else {
                full = false;
            }
            if self.tls.process_new_packets().is_err() {
                self.failed = true;
            }
            self.read_plaintext();
        }
        if !self.closed && !self.failed {
            if let Some(mut next) = self.plaintext.pop_front() {
                let n = self.tls.writer().write(&next).unwrap_or(0);
                next.drain(..n);
                if !next.is_empty() {
                    self.plaintext.push_front(next);
                }
            } else if !self.tls.is_handshaking() && !self.tls.wants_write() {
                if self.close_notify {
                    self.tls.send_close_notify();
                }
                self.closed = true;
            }
        }
        let mut pipe = pipe.lock().unwrap();
        while self.tls.wants_write() {
            let mut out = Vec::new();
            if self.tls.write_tls(&mut out).is_err() || out.is_empty() {
                break;
            }
            pipe.to_server.extend(out);
        }
        if self.failed {
            // A client whose TLS failed hangs up.
            self.closed = true;
        }
        if self.closed {
            pipe.client_closed = true;
        }
    }

    fn read_plaintext(&mut self) {
        let mut buf = [0; 4096];
        loop {
            match self.tls.reader().read(&mut buf) {
                Ok(0) => {
                    self.clean_close = true;
                    return;
                }
                Ok(n) => self.decrypted.extend_from_slice(&buf[..n]),
                Err(_) => return,
            }
        }
    }

    /// The oracle, once the connection has ended.
    fn check(&self, offer: usize, seen: &[(Option<Bytes>, bool)]) {
        if self.tls.is_handshaking() {
            assert!(
                self.decrypted.is_empty() && seen.is_empty(),
                "data before the handshake finished"
            );
            return;
        }
        let expected: Option<&[u8]> = [None, Some(&b"http/1.1"[..]), Some(&b"h2"[..])][offer];
        assert_eq!(
            self.tls.alpn_protocol(),
            expected,
            "ALPN did not settle on the client's offer"
        );
        let h2 = offer == 2;
        for (alpn, http2) in seen {
            assert_eq!(alpn.as_deref(), expected, "TlsInfo carries another ALPN");
            assert_eq!(*http2, h2, "a request in the protocol ALPN did not choose");
        }
        if self.failed || self.decrypted.is_empty() {
            return;
        }
        if !h2 {
            assert!(
                self.decrypted.starts_with(b"HTTP/1.1 "),
                "an HTTP/1.1 connection answered {:?}",
                String::from_utf8_lossy(&self.decrypted[..self.decrypted.len().min(64)])
            );
            return;
        }
        let frame = |at: usize| {
            let head = self.decrypted.get(at..at + 9)?;
            let len = usize::from(head[0]) << 16 | usize::from(head[1]) << 8 | usize::from(head[2]);
            Some((len, head[3], head[4], &head[5..9]))
        };
        let (len, kind, flags, stream) = frame(0).expect("HTTP/2 output shorter than a frame head");
        assert!(
            kind == 4 && flags & 1 == 0 && stream == [0; 4] && len % 6 == 0,
            "HTTP/2 output does not start with the server's SETTINGS"
        );
        if self.clean_close {
            let mut at = 0;
            while at < self.decrypted.len() {
                let (len, ..) = frame(at).expect("HTTP/2 output ends inside a frame head");
                at += 9 + len;
            }
            assert_eq!(
                at,
                self.decrypted.len(),
                "HTTP/2 output ends inside a frame"
            );
        }
    }
}
