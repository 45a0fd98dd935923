//! One HTTPS suite for every adapter with a `tls` feature, over real loopback
//! sockets, against peers no one here wrote: curl, h2load, hyper + tokio-rustls.
//!
//! An adapter's test file includes this module and names a `start` function:
//!
//! ```ignore
//! #[macro_use]
//! #[path = "../../zttp-service/tests/tls_suite/mod.rs"]
//! mod tls_suite;
//! fn start(config: ServerConfig, tls: Arc<rustls::ServerConfig>) -> tls_suite::TlsServer { ... }
//! tls_suite!(start);
//! ```
//!
//! A missing peer fails the test, naming the Debian package to install
//! (`ZTTP_SKIP_PEERS` opts out explicitly: the test is then reported ignored).
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::{Output, Stdio};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use zttp_peers::Peer;
use zttp_service::tls::TlsInfo;
use zttp_service::{Body, PeerAddr, Request, ServerConfig, Shutdown};

/// A server running in a thread of its own, on its own runtime.
pub struct TlsServer {
    pub addr: SocketAddr,
    pub shutdown: Shutdown,
    pub finished: mpsc::Receiver<io::Result<()>>,
}

impl TlsServer {
    /// Triggers a graceful shutdown and waits (bounded) for `serve` to return.
    pub fn stop(self) -> io::Result<()> {
        self.shutdown.trigger();
        self.finished
            .recv_timeout(Duration::from_secs(20))
            .expect("server stops within 20 s")
    }
}

pub type Start = fn(ServerConfig, Arc<rustls::ServerConfig>) -> TlsServer;

/// Declares one `#[test]` per TLS behaviour, each run against `$start`.
#[macro_export]
macro_rules! tls_suite {
    ($start:path) => {
        $crate::tls_suite!(@tests $start;
            curl_http2_over_tls_is_chosen_by_alpn ["curl"],
            curl_http11_over_tls_is_chosen_by_alpn ["curl"],
            client_without_alpn_or_sni_gets_http11 ["curl"],
            h2load_over_tls_speaks_h2_and_http11 ["h2load"],
            hyper_client_with_alpn_h2_and_http11_verifies_the_certificate,
            failed_handshake_is_dropped_and_frees_its_connection_slot ["curl"],
            silent_client_is_dropped_after_the_handshake_timeout ["curl"],
            shutdown_does_not_wait_for_a_handshake ["curl"],
        );
    };
    (@tests $start:path; $($name:ident $([$($peer:literal),+])?,)*) => {
        $(
            #[test]
            $($(#[cfg_attr(zttp_skip_peer = $peer, ignore = "ZTTP_SKIP_PEERS opts out of its peer")])+)?
            fn $name() {
                tls_suite::$name($start);
            }
        )*
    };
}

/// A self-signed certificate for `localhost` and `127.0.0.1`, and a rustls
/// server configuration (ring provider) serving it; ALPN left to the adapter.
pub struct Certificate {
    pub der: CertificateDer<'static>,
    pub server: Arc<rustls::ServerConfig>,
}

pub fn certificate() -> Certificate {
    let generated =
        rcgen::generate_simple_self_signed(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])
            .expect("generate a certificate");
    let der = generated.cert.der().clone();
    let key = PrivateKeyDer::from(PrivatePkcs8KeyDer::from(generated.key_pair.serialize_der()));
    let server = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![der.clone()], key)
    .expect("certificate and key match");
    Certificate {
        der,
        server: Arc::new(server),
    }
}

/// Answers `VERSION sni=NAME alpn=PROTO len=BODY_LEN peer=IP` (`-` for what is absent).
pub async fn app(req: Request) -> http::Response<Body> {
    let version = format!("{:?}", req.version());
    let (sni, alpn) = match req.extensions().get::<TlsInfo>() {
        Some(info) => (
            info.server_name.as_deref().unwrap_or("-").to_owned(),
            info.alpn_protocol
                .as_deref()
                .map_or("-".to_owned(), |p| String::from_utf8_lossy(p).into_owned()),
        ),
        None => ("no TlsInfo".to_owned(), "no TlsInfo".to_owned()),
    };
    let peer = req
        .extensions()
        .get::<PeerAddr>()
        .map_or("-".to_owned(), |peer| peer.0.ip().to_string());
    let len = req
        .into_body()
        .collect()
        .await
        .map_or(0, |b| b.to_bytes().len());
    http::Response::new(Body::from(format!(
        "{version} sni={sni} alpn={alpn} len={len} peer={peer}"
    )))
}

/// Runs a peer program with a time bound; a missing peer fails the test
/// (naming its package) unless `ZTTP_SKIP_PEERS` opted out of it.
fn run_peer(peer: Peer, args: &[&str], limit: Duration) -> Output {
    let program = peer.program();
    let mut child = zttp_peers::command(peer)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait().expect("wait for the peer") {
            Some(_) => return child.wait_with_output().expect("peer output"),
            None if Instant::now() > deadline => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("{program} did not finish within {limit:?}");
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// curl over TLS (`-k`: the certificate is self-signed); returns stdout.
fn curl(args: &[&str]) -> String {
    let mut all = vec!["-sS", "-k", "--max-time", "20"];
    all.extend_from_slice(args);
    let out = run_peer(Peer::Curl, &all, Duration::from_secs(30));
    assert!(
        out.status.success(),
        "curl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// `https://localhost:PORT/`, with `localhost` resolved to the server (so curl sends SNI).
fn localhost(server: &TlsServer) -> (String, String) {
    let port = server.addr.port();
    (
        format!("localhost:{port}:127.0.0.1"),
        format!("https://localhost:{port}/"),
    )
}

pub fn curl_http2_over_tls_is_chosen_by_alpn(start: Start) {
    let server = start(ServerConfig::default(), certificate().server);
    let (resolve, url) = localhost(&server);
    let out = curl(&[
        "--http2",
        "--resolve",
        &resolve,
        "--data-binary",
        "12345",
        &url,
        &url,
        "-w",
        " [%{http_version}]\n",
    ]);
    let expected = "HTTP/2.0 sni=localhost alpn=h2 len=5 peer=127.0.0.1 [2]\n";
    assert_eq!(out, expected.repeat(2));
    server.stop().unwrap();
}

pub fn curl_http11_over_tls_is_chosen_by_alpn(start: Start) {
    let server = start(ServerConfig::default(), certificate().server);
    let (resolve, url) = localhost(&server);
    let out = curl(&[
        "--http1.1",
        "--resolve",
        &resolve,
        &url,
        &url,
        "-w",
        " [%{http_version}]\n",
    ]);
    let expected = "HTTP/1.1 sni=localhost alpn=http/1.1 len=0 peer=127.0.0.1 [1.1]\n";
    assert_eq!(out, expected.repeat(2));
    server.stop().unwrap();
}

pub fn client_without_alpn_or_sni_gets_http11(start: Start) {
    let server = start(ServerConfig::default(), certificate().server);
    // No SNI for an IP address; no ALPN offered: no sniffing, HTTP/1.1 it is.
    let url = format!("https://127.0.0.1:{}/", server.addr.port());
    let out = curl(&["--no-alpn", &url, "-w", " [%{http_version}]"]);
    assert_eq!(out, "HTTP/1.1 sni=- alpn=- len=0 peer=127.0.0.1 [1.1]");
    server.stop().unwrap();
}

pub fn h2load_over_tls_speaks_h2_and_http11(start: Start) {
    let server = start(ServerConfig::default(), certificate().server);
    let url = format!("https://127.0.0.1:{}/", server.addr.port());
    for (mode, protocol) in [(None, "h2"), (Some("--h1"), "http/1.1")] {
        let mut args = vec!["-n", "600", "-c", "3", "-m", "10"];
        args.extend(mode);
        args.push(&url);
        let out = run_peer(Peer::H2load, &args, Duration::from_secs(60));
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains(&format!("Application protocol: {protocol}")),
            "{text}"
        );
        assert!(
            text.contains("600 total, 600 started, 600 done, 600 succeeded, 0 failed"),
            "{text}"
        );
        assert!(text.contains("status codes: 600 2xx"), "{text}");
    }
    server.stop().unwrap();
}

/// A tokio-rustls client that trusts exactly `cert` and offers `alpn`.
fn connector(cert: &CertificateDer<'static>, alpn: &[u8]) -> tokio_rustls::TlsConnector {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.clone()).unwrap();
    let mut client = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    client.alpn_protocols = vec![alpn.to_vec()];
    Arc::new(client).into()
}

pub fn hyper_client_with_alpn_h2_and_http11_verifies_the_certificate(start: Start) {
    let cert = certificate();
    let server = start(ServerConfig::default(), cert.server.clone());
    let addr = server.addr;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        for alpn in [&b"h2"[..], b"http/1.1"] {
            let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
            let name = ServerName::try_from("localhost").unwrap();
            let tls = connector(&cert.der, alpn).connect(name, tcp).await.unwrap();
            assert_eq!(tls.get_ref().1.alpn_protocol(), Some(alpn));
            let io = hyper_util::rt::TokioIo::new(tls);
            let upload = Bytes::from(vec![b'u'; 200_000]);
            let request = |i: usize| {
                http::Request::post(format!("https://localhost/{i}"))
                    .body(Full::new(upload.clone()))
                    .unwrap()
            };
            let mut answers = Vec::new();
            if alpn == b"h2" {
                let (mut sender, conn) =
                    hyper::client::conn::http2::handshake(hyper_util::rt::TokioExecutor::new(), io)
                        .await
                        .unwrap();
                tokio::spawn(conn);
                for i in 0..3 {
                    answers.push(read(sender.send_request(request(i)).await.unwrap()).await);
                }
            } else {
                let (mut sender, conn) = hyper::client::conn::http1::handshake(io).await.unwrap();
                tokio::spawn(conn);
                for i in 0..3 {
                    let mut request = request(i);
                    *request.uri_mut() = format!("/{i}").parse().unwrap();
                    request
                        .headers_mut()
                        .insert("host", http::HeaderValue::from_static("localhost"));
                    sender.ready().await.unwrap();
                    answers.push(read(sender.send_request(request).await.unwrap()).await);
                }
            }
            let alpn = String::from_utf8_lossy(alpn);
            for (status, version, body) in answers {
                assert_eq!(status, 200);
                assert_eq!(
                    body,
                    format!("{version:?} sni=localhost alpn={alpn} len=200000 peer=127.0.0.1")
                );
            }
        }
    });
    server.stop().unwrap();
}

/// Status, version and whole body of a hyper response.
async fn read(
    response: http::Response<hyper::body::Incoming>,
) -> (http::StatusCode, http::Version, Bytes) {
    let (status, version) = (response.status(), response.version());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, version, body)
}

/// A blocking socket that gives up reading after 10 s.
fn raw_connect(addr: SocketAddr) -> std::net::TcpStream {
    let stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Reads until the server closes; panics if it keeps the socket open 10 s.
fn read_until_closed(stream: &mut std::net::TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    loop {
        let mut buf = [0; 4096];
        match stream.read(&mut buf) {
            Ok(0) => return received,
            Ok(n) => received.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return received,
            Err(e) => panic!("the server kept the connection open: {e}"),
        }
    }
}

pub fn failed_handshake_is_dropped_and_frees_its_connection_slot(start: Start) {
    // One connection at a time: a failed handshake that kept its slot would
    // make the next client wait forever.
    let server = start(
        ServerConfig::default().max_connections(1),
        certificate().server,
    );
    let url = format!("https://127.0.0.1:{}/", server.addr.port());
    for _ in 0..3 {
        let mut plain = raw_connect(server.addr);
        plain
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        let answer = read_until_closed(&mut plain);
        assert!(
            !answer.starts_with(b"HTTP/"),
            "plain HTTP on the TLS port got an HTTP answer"
        );
        // A TLS alert record (content type 21) at most.
        assert!(answer.is_empty() || answer[0] == 21, "{answer:?}");
        let out = curl(&["--http2", &url]);
        assert_eq!(out, "HTTP/2.0 sni=- alpn=h2 len=0 peer=127.0.0.1");
    }
    server.stop().unwrap();
}

pub fn silent_client_is_dropped_after_the_handshake_timeout(start: Start) {
    let server = start(
        ServerConfig::default()
            .max_connections(1)
            .tls_handshake_timeout(Some(Duration::from_millis(200))),
        certificate().server,
    );
    let mut silent = raw_connect(server.addr);
    assert_eq!(read_until_closed(&mut silent), b"");
    let url = format!("https://127.0.0.1:{}/", server.addr.port());
    assert_eq!(
        curl(&["--http1.1", &url]),
        "HTTP/1.1 sni=- alpn=http/1.1 len=0 peer=127.0.0.1"
    );
    server.stop().unwrap();
}

pub fn shutdown_does_not_wait_for_a_handshake(start: Start) {
    let server = start(
        ServerConfig::default().tls_handshake_timeout(Some(Duration::from_secs(3600))),
        certificate().server,
    );
    let mut silent = raw_connect(server.addr);
    // The server is serving the silent connection once a real request got through.
    let url = format!("https://127.0.0.1:{}/", server.addr.port());
    assert_eq!(
        curl(&["--http2", &url]),
        "HTTP/2.0 sni=- alpn=h2 len=0 peer=127.0.0.1"
    );
    server.stop().unwrap();
    assert_eq!(read_until_closed(&mut silent), b"");
}
