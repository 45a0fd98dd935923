//! The shared behaviour suite, served by zttp-smol on an executor of the test's own.

#[macro_use]
#[path = "../../zttp-service/tests/suite/mod.rs"]
mod suite;

use std::sync::{mpsc, Arc};

use zttp_smol::{Server, ServerConfig, Shutdown, SmolRuntime};

fn start(config: ServerConfig) -> suite::TestServer {
    let shutdown = Shutdown::new();
    let (addr_tx, addr_rx) = mpsc::channel();
    let (done_tx, finished) = mpsc::channel();
    let signal = shutdown.clone();
    std::thread::spawn(move || {
        let executor = Arc::new(smol::Executor::new());
        let runtime = SmolRuntime::with_executor(executor.clone());
        smol::block_on(executor.run(async move {
            let listener = smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            let result = Server::new(listener)
                .unwrap()
                .config(config)
                .runtime(runtime.clone())
                .shutdown(signal)
                .serve(suite::app::app(runtime))
                .await;
            let _ = done_tx.send(result);
        }));
    });
    suite::TestServer {
        addr: addr_rx.recv().unwrap(),
        shutdown,
        finished,
    }
}

behaviour_suite!(start);
http2_suite!(start);

/// The one-line `serve` on smol's global executor, reached by curl; the
/// handler sees the client's address.
#[test]
#[cfg_attr(zttp_skip_peer = "curl", ignore = "ZTTP_SKIP_PEERS opts out of curl")]
fn global_executor_serves_curl() {
    let (addr_tx, addr_rx) = mpsc::channel();
    std::thread::spawn(move || {
        smol::block_on(async move {
            let listener = smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            zttp_smol::serve(
                listener,
                zttp_smol::handler_fn(|req| async move {
                    let peer = req.extensions().get::<zttp_smol::PeerAddr>().copied();
                    let ip = peer.map(|p| p.0.ip().to_string()).unwrap_or_default();
                    format!("smol {} from {ip}", req.uri().path())
                }),
            )
            .await
        })
    });
    let addr = addr_rx.recv().unwrap();
    let url = format!("http://{addr}/global");
    let out = suite::client::curl(&["-s", "--max-time", "10", &url]);
    assert!(out.status.success(), "{out:?}");
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "smol /global from 127.0.0.1"
    );
    let out = suite::client::curl(&["-s", "--max-time", "10", "--http2-prior-knowledge", &url]);
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "smol /global from 127.0.0.1"
    );
}
