//! Informational responses from a handler that is still working: the `103`
//! reaches the client before the handler has even decided its final answer;
//! and they are opt-in (`ServerConfig::informational_responses`).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{header, HeaderMap, HeaderValue, StatusCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;
use zttp_tokio::{Informational, Request, Server, ServerConfig, Shutdown};

/// Reads from `stream` until `needle` has arrived (bounded by the caller's timeout).
async fn read_until(stream: &mut tokio::net::TcpStream, seen: &mut Vec<u8>, needle: &[u8]) {
    while !seen.windows(needle.len()).any(|w| w == needle) {
        let mut buf = [0; 1024];
        let n = stream.read(&mut buf).await.unwrap();
        assert!(
            n > 0,
            "closed before {:?}: {:?}",
            String::from_utf8_lossy(needle),
            String::from_utf8_lossy(seen)
        );
        seen.extend_from_slice(&buf[..n]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn early_hints_go_out_while_the_handler_is_still_pending() {
    let (release_tx, release_rx) = oneshot::channel::<()>();
    let release = Arc::new(Mutex::new(Some(release_rx)));
    let handler = move |req: Request| {
        let release = release.lock().unwrap().take();
        async move {
            let interim = req
                .extensions()
                .get::<Informational>()
                .expect("the extension");
            let mut hints = HeaderMap::new();
            hints.insert(
                header::LINK,
                HeaderValue::from_static("</a.css>; rel=preload"),
            );
            interim.send(StatusCode::EARLY_HINTS, hints).unwrap();
            if let Some(release) = release {
                let _ = release.await;
            }
            "final"
        }
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let server = tokio::spawn(
        Server::new(listener)
            .config(ServerConfig::default().informational_responses(true))
            .shutdown(shutdown.clone())
            .serve(handler),
    );

    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .await
        .unwrap();
    let mut seen = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        read_until(&mut stream, &mut seen, b"\r\n\r\n").await;
        assert_eq!(
            String::from_utf8_lossy(&seen),
            "HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n",
            "only the 103 while the handler waits"
        );
        release_tx.send(()).unwrap();
        read_until(&mut stream, &mut seen, b"final").await;
    })
    .await
    .expect("103, then the answer once released");
    let text = String::from_utf8_lossy(&seen);
    assert!(text.contains("\r\n\r\nHTTP/1.1 200 OK\r\n"), "{text}");
    drop(stream);
    stop(&shutdown, server).await;
}

/// Sends a `103` when the request carries the handle, and says whether it did.
async fn hint_if_enabled(req: Request) -> &'static str {
    match req.extensions().get::<Informational>() {
        Some(interim) => {
            let mut hints = HeaderMap::new();
            hints.insert(
                header::LINK,
                HeaderValue::from_static("</b.css>; rel=preload"),
            );
            interim.send(StatusCode::EARLY_HINTS, hints).unwrap();
            "present"
        }
        None => "absent",
    }
}

/// curl's `-i` output for `url` over HTTP/1.1 and over h2c (prior knowledge).
fn curl_both(url: &str) -> [String; 2] {
    ["--http1.1", "--http2-prior-knowledge"].map(|flag| {
        let out = zttp_peers::command(zttp_peers::Peer::Curl)
            .args(["-s", "-i", "--max-time", "10", flag, url])
            .output()
            .expect("curl runs");
        assert!(out.status.success(), "curl {flag} failed: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handle_is_present_only_when_informational_responses_are_enabled() {
    for enabled in [false, true] {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let shutdown = Shutdown::new();
        let mut server = Server::new(listener).shutdown(shutdown.clone());
        if enabled {
            server = server.config(ServerConfig::default().informational_responses(true));
        }
        let server = tokio::spawn(server.serve(hint_if_enabled));
        let outputs = tokio::task::spawn_blocking(move || curl_both(&url))
            .await
            .unwrap();
        for out in outputs {
            if enabled {
                let early = out
                    .find(" 103 ")
                    .unwrap_or_else(|| panic!("no 103: {out:?}"));
                let hint = out
                    .find("link: </b.css>; rel=preload\r\n")
                    .expect("the hint");
                let last = out
                    .find(" 200 ")
                    .unwrap_or_else(|| panic!("no 200: {out:?}"));
                assert!(
                    early < hint && hint < last,
                    "103 with its hint, then 200: {out:?}"
                );
                assert!(out.ends_with("present"), "{out:?}");
            } else {
                assert!(!out.contains(" 103 "), "{out:?}");
                assert!(out.ends_with("absent"), "off by default: {out:?}");
            }
        }
        stop(&shutdown, server).await;
    }
}

/// Triggers the shutdown and waits (bounded) for the server to stop cleanly.
async fn stop(shutdown: &Shutdown, server: tokio::task::JoinHandle<std::io::Result<()>>) {
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(10), server)
        .await
        .expect("server stops")
        .unwrap()
        .unwrap();
}
