//! The shared behaviour suite, served on a ZeroMQ STREAM socket.

#[macro_use]
#[path = "../../zttp-service/tests/suite/mod.rs"]
mod suite;

use std::sync::mpsc;

use zttp_zmq::{Server, ServerConfig, Shutdown, TokioRuntime};

fn start(config: ServerConfig) -> suite::TestServer {
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
            let server = Server::bind("tcp://127.0.0.1:0")
                .unwrap()
                .config(config)
                .shutdown(signal);
            let addr = server
                .local_endpoint()
                .trim_start_matches("tcp://")
                .parse()
                .unwrap();
            addr_tx.send(addr).unwrap();
            let result = server.serve(suite::app::app(TokioRuntime::current())).await;
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
