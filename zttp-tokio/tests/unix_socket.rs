//! `serve_incoming` on a Unix socket listener, reached by curl `--unix-socket`,
//! with the same graceful shutdown as a TCP server.
#![cfg(unix)]

use std::time::Duration;

use zttp_tokio::{serve_incoming, ServerConfig, Shutdown};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(zttp_skip_peer = "curl", ignore = "ZTTP_SKIP_PEERS opts out of curl")]
async fn unix_socket_server_answers_curl_and_shuts_down_gracefully() {
    let dir = std::env::temp_dir().join(format!("zttp-unix-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("app.sock");
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let incoming = futures::stream::poll_fn(move |cx| {
        listener
            .poll_accept(cx)
            .map(|accepted| Some(accepted.map(|(stream, _)| stream)))
    });
    let shutdown = Shutdown::new();
    let server = tokio::spawn(serve_incoming(
        incoming,
        zttp_tokio::handler_fn(|req| async move {
            let peer = req.extensions().get::<zttp_tokio::PeerAddr>().is_some();
            format!("unix {} peer={peer}", req.uri().path())
        }),
        ServerConfig::default(),
        shutdown.clone(),
    ));

    let socket = path.display().to_string();
    let curl = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            zttp_peers::command(zttp_peers::Peer::Curl)
                .args(&args)
                .output()
                .expect("curl runs")
        })
    };
    let base = vec![
        "-sS".to_owned(),
        "--max-time".into(),
        "10".into(),
        "--unix-socket".into(),
        socket.clone(),
    ];
    let out = curl([base.clone(), vec!["http://x/one".into()]].concat())
        .await
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "unix /one peer=false");
    let h2 = [
        base.clone(),
        vec!["--http2-prior-knowledge".into(), "http://x/two".into()],
    ]
    .concat();
    let out = curl(h2).await.unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "unix /two peer=false");

    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
}
