//! The shared behaviour suite, served by zttp-async-std.

#[macro_use]
#[path = "../../zttp-service/tests/suite/mod.rs"]
mod suite;

use std::sync::mpsc;

use zttp_async_std::{AsyncStdRuntime, Server, ServerConfig, Shutdown};

fn start(config: ServerConfig) -> suite::TestServer {
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
                .serve(suite::app::app(AsyncStdRuntime))
                .await;
            let _ = done_tx.send(result);
        });
    });
    suite::TestServer {
        addr: addr_rx.recv().unwrap(),
        shutdown,
        finished,
    }
}

behaviour_suite!(start);
http2_suite!(start);
