//! `serve_incoming` on a smol Unix socket listener, reached by curl `--unix-socket`.
#![cfg(unix)]

use std::sync::mpsc;
use std::time::Duration;

use zttp_smol::{serve_incoming, ServerConfig, Shutdown};

#[test]
#[cfg_attr(zttp_skip_peer = "curl", ignore = "ZTTP_SKIP_PEERS opts out of curl")]
fn unix_socket_server_answers_curl_and_shuts_down_gracefully() {
    let dir = std::env::temp_dir().join(format!("zttp-smol-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("app.sock");
    let _ = std::fs::remove_file(&path);
    let listener = smol::net::unix::UnixListener::bind(&path).unwrap();
    let shutdown = Shutdown::new();
    let signal = shutdown.clone();
    let (done_tx, done) = mpsc::channel();
    std::thread::spawn(move || {
        let incoming = Box::pin(listener.incoming());
        let result = smol::block_on(serve_incoming(
            incoming,
            zttp_smol::handler_fn(|req| async move { format!("smol unix {}", req.uri().path()) }),
            ServerConfig::default(),
            signal,
        ));
        let _ = done_tx.send(result);
    });
    let socket = path.display().to_string();
    for extra in [&[][..], &["--http2-prior-knowledge"][..]] {
        let out = zttp_peers::command(zttp_peers::Peer::Curl)
            .args(["-sS", "--max-time", "10", "--unix-socket", &socket])
            .args(extra)
            .arg("http://x/one")
            .output()
            .expect("curl runs");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "smol unix /one",
            "{extra:?}"
        );
    }
    shutdown.trigger();
    done.recv_timeout(Duration::from_secs(10)).unwrap().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
