//! HTTPS on zttp-async-std (`tls` feature): the shared TLS suite.

#[macro_use]
#[path = "../../zttp-service/tests/tls_suite/mod.rs"]
mod tls_suite;

use std::sync::{mpsc, Arc};

use zttp_async_std::{rustls, Server, ServerConfig, Shutdown};

fn start(config: ServerConfig, tls: Arc<rustls::ServerConfig>) -> tls_suite::TlsServer {
    let shutdown = Shutdown::new();
    let (addr_tx, addr_rx) = mpsc::channel();
    let (done_tx, finished) = mpsc::channel();
    let signal = shutdown.clone();
    std::thread::spawn(move || {
        async_std::task::block_on(async move {
            let listener = async_std::net::TcpListener::bind("127.0.0.1:0")
                .await
                .unwrap();
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
