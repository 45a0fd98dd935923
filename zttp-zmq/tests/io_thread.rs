//! `Server::serve_on_io_thread`: connection loops and handlers on the socket's IO thread.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use http_body_util::BodyExt;
use zttp_service::{Body, PeerAddr, Request, Shutdown};
use zttp_zmq::Server;

/// A server on a free loopback port: (server, its `host:port`, its shutdown signal).
fn local_server() -> (Server, String, Shutdown) {
    let shutdown = Shutdown::new();
    let server = Server::bind("tcp://127.0.0.1:0")
        .unwrap()
        .shutdown(shutdown.clone());
    let addr = server
        .local_endpoint()
        .trim_start_matches("tcp://")
        .to_string();
    (server, addr, shutdown)
}

/// Triggers `shutdown` and waits (bounded) for the server task to end without error.
async fn stop(shutdown: &Shutdown, served: tokio::task::JoinHandle<std::io::Result<()>>) {
    shutdown.trigger();
    tokio::time::timeout(Duration::from_secs(10), served)
        .await
        .expect("server stops")
        .unwrap()
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_keep_alive_uploads_and_tokio_timers_on_the_io_thread_then_stops() {
    let (server, addr, shutdown) = local_server();
    let served = tokio::spawn(server.serve_on_io_thread(|req: Request| async move {
        let on_io_thread = std::thread::current().name() == Some("zttp-zmq-io");
        let peer = req.extensions().get::<PeerAddr>().is_some();
        if req.uri().path() == "/sleep" {
            // A tokio timer works: the IO thread polls inside the server's tokio context.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let len = req.into_body().collect().await.unwrap().to_bytes().len();
        http::Response::new(Body::from(format!("{on_io_thread} {peer} {len}")))
    }));
    let out = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
        let mut requests = Vec::new();
        for _ in 0..50 {
            requests.extend_from_slice(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
        }
        requests.extend_from_slice(b"GET /sleep HTTP/1.1\r\nHost: t\r\n\r\n");
        requests.extend_from_slice(
            b"POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 300000\r\nConnection: close\r\n\r\n",
        );
        requests.resize(requests.len() + 300_000, b'u');
        s.write_all(&requests).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    })
    .await
    .unwrap();
    assert_eq!(out.matches("HTTP/1.1 200 OK\r\n").count(), 52, "{out}");
    assert_eq!(out.matches("\r\n\r\ntrue true 0").count(), 51, "{out}");
    assert!(out.ends_with("\r\n\r\ntrue true 300000"), "{out}");
    stop(&shutdown, served).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_task_on_the_io_thread_ends_alone() {
    use zttp_zmq::Runtime;
    let shutdown = Shutdown::new();
    let listener = zttp_zmq::PeerListener::bind("tcp://127.0.0.1:0").unwrap();
    let addr = listener
        .local_endpoint()
        .trim_start_matches("tcp://")
        .to_string();
    // A task that panics when the IO thread polls it, as a stray `spawn` in an app might.
    listener
        .io_thread_runtime()
        .spawn(Box::pin(async { panic!("a task panics on purpose") }));
    let server = Server::from_listener(listener).shutdown(shutdown.clone());
    let served = tokio::spawn(
        server.serve_on_io_thread(|_req: Request| async { http::Response::new(Body::from("ok")) }),
    );
    // The IO thread survived it: connections are served.
    for _ in 0..3 {
        let addr = addr.clone();
        let ok = tokio::task::spawn_blocking(move || {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut out = Vec::new();
            let _ = s.read_to_end(&mut out);
            String::from_utf8_lossy(&out).into_owned()
        })
        .await
        .unwrap();
        assert!(
            ok.starts_with("HTTP/1.1 200") && ok.ends_with("ok"),
            "{ok:?}"
        );
    }
    stop(&shutdown, served).await;
}

/// Reads one HTTP/1.1 response with a `Content-Length` body from `s` (bytes left over from
/// earlier reads in `buf`); returns its body.
fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> std::io::Result<Vec<u8>> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            assert!(head.starts_with("http/1.1 200"), "{head}");
            let len: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .expect("content-length")
                .trim()
                .parse()
                .unwrap();
            if buf.len() >= end + 4 + len {
                let body = buf[end + 4..end + 4 + len].to_vec();
                buf.drain(..end + 4 + len);
                return Ok(body);
            }
        }
        let mut chunk = [0u8; 16384];
        let n = s.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Many connections send bursts of pipelined requests, small ones and uploads over several
/// libzmq frames, as fast as they are answered. The IO thread ends some receive batches
/// before `EAGAIN` and sleeps on libzmq's edge-triggered descriptor: a missed edge leaves a
/// connection waiting for answers that never come, which the read timeout turns into a
/// failure naming the connection and round.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_bursts_on_many_connections_are_all_answered() {
    const CONNECTIONS: usize = 24;
    const ROUNDS: usize = 40;
    let (server, addr, shutdown) = local_server();
    let served = tokio::spawn(server.serve(|req: Request| async move {
        let len = req.into_body().collect().await.unwrap().to_bytes().len();
        http::Response::new(Body::from(format!("{len:08}")))
    }));
    let clients = (0..CONNECTIONS).map(|c| {
        let addr = addr.clone();
        std::thread::spawn(move || {
            let mut s = TcpStream::connect(&addr).unwrap();
            s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
            let mut seed = c as u64 * 7919 + 1;
            let mut buf = Vec::new();
            for round in 0..ROUNDS {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let burst = 1 + (seed >> 33) as usize % 8;
                let mut wire = Vec::new();
                let mut expect = Vec::new();
                for i in 0..burst {
                    // Every few requests an upload of several 8 KiB libzmq frames.
                    let len = if (round + i + c) % 5 == 0 {
                        20_000 + i
                    } else {
                        0
                    };
                    if len == 0 {
                        wire.extend_from_slice(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
                    } else {
                        wire.extend_from_slice(
                            format!(
                                "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: {len}\r\n\r\n"
                            )
                            .as_bytes(),
                        );
                        wire.resize(wire.len() + len, b'u');
                    }
                    expect.push(format!("{len:08}"));
                }
                s.write_all(&wire).unwrap();
                for (i, want) in expect.iter().enumerate() {
                    let body = read_response(&mut s, &mut buf).unwrap_or_else(|e| {
                        panic!(
                            "connection {c}, round {round}: answer {i} of {burst} never came ({e})"
                        )
                    });
                    assert_eq!(
                        String::from_utf8_lossy(&body),
                        *want,
                        "connection {c}, round {round}"
                    );
                }
            }
        })
    });
    let clients: Vec<_> = clients.collect();
    let joined = tokio::task::spawn_blocking(move || {
        clients
            .into_iter()
            .map(|c| c.join())
            .collect::<Result<Vec<_>, _>>()
    });
    tokio::time::timeout(Duration::from_secs(90), joined)
        .await
        .expect("all connections answered within 90 s")
        .unwrap()
        .expect("every connection got all its answers");
    stop(&shutdown, served).await;
}

/// While nothing is due, the IO thread sleeps inside libzmq's receive; a task woken from
/// another thread then reaches it through the wake link. Each request here waits for a plain
/// thread, which completes it while the IO thread sleeps: a lost wake-up would leave the
/// answer waiting for the drive loop's next timer (seconds), past the read timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tasks_woken_from_other_threads_wake_the_io_thread_asleep_in_a_receive() {
    let (server, addr, shutdown) = local_server();
    let served = tokio::spawn(server.serve_on_io_thread(|_req: Request| async move {
        let (tx, rx) = futures::channel::oneshot::channel();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            let _ = tx.send(std::thread::current().id());
        });
        let waker_thread = rx.await.unwrap();
        let elsewhere = waker_thread != std::thread::current().id();
        http::Response::new(Body::from(format!("woken from elsewhere: {elsewhere}")))
    }));
    let out = tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(&addr).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(2500)))
            .unwrap();
        let mut buf = Vec::new();
        let mut bodies = Vec::new();
        for round in 0..20 {
            s.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n").unwrap();
            let body = read_response(&mut s, &mut buf)
                .unwrap_or_else(|e| panic!("round {round}: no answer: {e}"));
            bodies.push(String::from_utf8(body).unwrap());
        }
        bodies
    })
    .await
    .unwrap();
    assert!(
        out.iter().all(|b| b == "woken from elsewhere: true"),
        "{out:?}"
    );
    stop(&shutdown, served).await;
}
