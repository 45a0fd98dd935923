//! HTTPS on zttp-tokio (`tls` feature): the shared TLS suite, and serving one
//! TLS stream accepted by the application's own loop.

#[macro_use]
#[path = "../../zttp-service/tests/tls_suite/mod.rs"]
mod tls_suite;

use std::sync::{mpsc, Arc};
use std::time::Duration;

use zttp_tokio::{rustls, serve_tls_connection, Server, ServerConfig, Shutdown};

fn start(config: ServerConfig, tls: Arc<rustls::ServerConfig>) -> tls_suite::TlsServer {
    let shutdown = Shutdown::new();
    let (addr_tx, addr_rx) = mpsc::channel();
    let (done_tx, finished) = mpsc::channel();
    let signal = shutdown.clone();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            let result = Server::new(listener)
                .config(config)
                .shutdown(signal)
                .tls(tls)
                .serve(tls_suite::app)
                .await;
            let _ = done_tx.send(result);
        });
    });
    tls_suite::TlsServer {
        addr: addr_rx.recv().unwrap(),
        shutdown,
        finished,
    }
}

tls_suite!(start);

#[tokio::test]
#[cfg_attr(
    zttp_skip_peer = "curl",
    ignore = "ZTTP_SKIP_PEERS opts out of its peer"
)]
async fn serves_one_tls_stream_from_an_own_acceptor_in_the_alpn_protocol() {
    let cert = tls_suite::certificate();
    let mut tls = rustls::ServerConfig::clone(&cert.server);
    tls.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let stream = acceptor.accept(tcp).await.unwrap();
        // The configuration says HTTP/1.1 only; ALPN's h2 wins for this stream.
        let config = ServerConfig::default()
            .core(zttp_core::Config::default().protocol(zttp_core::Protocol::Http1));
        serve_tls_connection(stream, tls_suite::app, Arc::new(config), Shutdown::new()).await
    });
    zttp_peers::require(zttp_peers::Peer::Curl);
    let curl = tokio::process::Command::new("curl")
        .args(["-sS", "-k", "--max-time", "20", "--http2", "--resolve"])
        .arg(format!("localhost:{port}:127.0.0.1"))
        .arg(format!("https://localhost:{port}/"))
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), curl)
        .await
        .expect("curl finishes")
        .expect("run curl");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "HTTP/2.0 sni=localhost alpn=h2 len=0 peer=-"
    );
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the connection ends when curl leaves")
        .unwrap()
        .unwrap();
}

/// `Server::from_incoming` with TLS: HTTPS over a Unix socket, ALPN choosing
/// h2 or HTTP/1.1, no peer address, and a graceful stop.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(
    zttp_skip_peer = "curl",
    ignore = "ZTTP_SKIP_PEERS opts out of its peer"
)]
async fn https_over_a_unix_socket_from_incoming() {
    let cert = tls_suite::certificate();
    let dir = std::env::temp_dir().join(format!("zttp-unix-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tls.sock");
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let incoming = futures::stream::poll_fn(move |cx| {
        listener
            .poll_accept(cx)
            .map(|accepted| Some(accepted.map(|(stream, _)| stream)))
    });
    let shutdown = Shutdown::new();
    let server = tokio::spawn(
        Server::from_incoming(incoming)
            .shutdown(shutdown.clone())
            .tls(cert.server.clone())
            .serve(tls_suite::app),
    );
    zttp_peers::require(zttp_peers::Peer::Curl);
    for (flag, expected) in [
        ("--http2", "HTTP/2.0 sni=localhost alpn=h2 len=0 peer=-"),
        (
            "--http1.1",
            "HTTP/1.1 sni=localhost alpn=http/1.1 len=0 peer=-",
        ),
    ] {
        let curl = tokio::process::Command::new("curl")
            .args(["-sS", "-k", "--max-time", "20", flag, "--unix-socket"])
            .arg(&path)
            .arg("https://localhost/")
            .output();
        let out = tokio::time::timeout(Duration::from_secs(30), curl)
            .await
            .expect("curl finishes")
            .expect("run curl");
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected, "{flag}");
    }
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("the server stops")
        .unwrap()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
