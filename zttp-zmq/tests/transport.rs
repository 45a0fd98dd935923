//! The STREAM transport on its own: raw TCP clients against per-peer duplex streams.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::{Duration, Instant};

use futures::{AsyncReadExt, AsyncWriteExt, StreamExt};
use zttp_zmq::{PeerLimits, PeerListener, PeerStream};

const LIMIT: Duration = Duration::from_secs(20);

fn tcp_addr(listener: &PeerListener) -> String {
    listener
        .local_endpoint()
        .trim_start_matches("tcp://")
        .to_string()
}

fn connect(addr: &str) -> TcpStream {
    let s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(LIMIT)).unwrap();
    s.set_write_timeout(Some(LIMIT)).unwrap();
    s
}

async fn echo(mut stream: PeerStream) {
    let mut buf = vec![0u8; 16 << 10];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = stream.close().await;
}

/// Serves every accepted peer with `f` on the current tokio runtime.
fn serve_each<F, Fut>(mut listener: PeerListener, f: F)
where
    F: Fn(PeerStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        while let Some(Ok(stream)) = listener.next().await {
            tokio::spawn(f(stream));
        }
    });
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_the_bound_port() {
    let listener = PeerListener::bind("tcp://127.0.0.1:0").unwrap();
    let ep = listener.local_endpoint().to_string();
    assert!(ep.starts_with("tcp://127.0.0.1:"), "{ep}");
    assert_ne!(ep, "tcp://127.0.0.1:0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bytes_sent_in_many_frames_arrive_whole_and_in_order() {
    let listener = PeerListener::bind("tcp://127.0.0.1:0").unwrap();
    let addr = tcp_addr(&listener);
    serve_each(listener, echo);
    let data = pattern(3 << 20, 7);
    let got = tokio::task::spawn_blocking(move || {
        let mut s = connect(&addr);
        let mut r = s.try_clone().unwrap();
        let len = data.len();
        let reader = std::thread::spawn(move || {
            let mut got = vec![0u8; len];
            r.read_exact(&mut got).unwrap();
            got
        });
        // Many small writes: libzmq delivers them in frames of its own choosing.
        for chunk in data.chunks(1000) {
            s.write_all(chunk).unwrap();
        }
        let got = reader.join().unwrap();
        (got == data, got.len())
    })
    .await
    .unwrap();
    assert!(got.0, "echoed bytes differ ({} bytes)", got.1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_concurrent_peers_each_get_their_own_bytes() {
    let listener = PeerListener::bind("tcp://127.0.0.1:0").unwrap();
    let addr = tcp_addr(&listener);
    serve_each(listener, echo);
    let clients: Vec<_> = (0..64u8)
        .map(|i| {
            let addr = addr.clone();
            std::thread::spawn(move || {
                let data = pattern(64 << 10, i);
                let mut s = connect(&addr);
                let mut r = s.try_clone().unwrap();
                let reader = std::thread::spawn(move || {
                    let mut got = vec![0u8; 64 << 10];
                    r.read_exact(&mut got).unwrap();
                    got
                });
                for chunk in data.chunks(4096) {
                    s.write_all(chunk).unwrap();
                }
                reader.join().unwrap() == data
            })
        })
        .collect();
    let ok = tokio::task::spawn_blocking(move || clients.into_iter().all(|c| c.join().unwrap()))
        .await
        .unwrap();
    assert!(ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_disconnecting_mid_body_reads_eof_after_its_bytes() {
    let mut listener = PeerListener::bind("tcp://127.0.0.1:0").unwrap();
    let addr = tcp_addr(&listener);
    let client = std::thread::spawn(move || {
        let mut s = connect(&addr);
        s.write_all(b"POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\npartial")
            .unwrap();
        std::thread::sleep(Duration::from_millis(100));
        drop(s);
    });
    let mut stream = tokio::time::timeout(LIMIT, listener.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let mut got = Vec::new();
    tokio::time::timeout(LIMIT, stream.read_to_end(&mut got))
        .await
        .unwrap()
        .unwrap();
    assert!(got.ends_with(b"partial"));
    client.join().unwrap();
    // Writing to the vanished peer fails instead of queueing forever.
    let err = stream.write_all(b"late").await.unwrap_err();
    assert!(matches!(
        err.kind(),
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_reader_does_not_stall_a_fast_peer() {
    let mut listener = PeerListener::bind("tcp://127.0.0.1:0").unwrap();
    let addr = tcp_addr(&listener);
    // Peer A never reads: the server pushes 64 MB at it.
    let slow = connect(&addr);
    let mut a = tokio::time::timeout(LIMIT, listener.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let (progress_tx, progress_rx) = std::sync::mpsc::channel();
    let blaster = tokio::spawn(async move {
        let chunk = vec![b'x'; 64 << 10];
        let mut sent = 0usize;
        while sent < 64 << 20 {
            match tokio::time::timeout(Duration::from_secs(3), a.write_all(&chunk)).await {
                Ok(Ok(())) => sent += chunk.len(),
                Ok(Err(e)) => panic!("write to slow peer failed: {e}"),
                Err(_) => break, // blocked by backpressure, as it should be
            }
        }
        let _ = progress_tx.send(sent);
        a
    });
    serve_each(listener, echo);
    // Peer B round-trips many times while A is stuck.
    let addr_b = addr.clone();
    let rtts = tokio::task::spawn_blocking(move || {
        let mut b = connect(&addr_b);
        let mut worst = Duration::ZERO;
        for i in 0..200u32 {
            let msg = format!("ping {i}\n");
            let t = Instant::now();
            b.write_all(msg.as_bytes()).unwrap();
            let mut got = vec![0u8; msg.len()];
            b.read_exact(&mut got).unwrap();
            assert_eq!(got, msg.as_bytes());
            worst = worst.max(t.elapsed());
        }
        worst
    })
    .await
    .unwrap();
    let sent = progress_rx.recv_timeout(LIMIT).unwrap();
    assert!(
        sent < 64 << 20,
        "backpressure never applied to the slow peer ({sent} bytes accepted)"
    );
    assert!(
        rtts < Duration::from_secs(1),
        "fast peer stalled: worst round trip {rtts:?}"
    );
    let a = blaster.await.unwrap();
    drop(a);
    drop(slow);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_sends_queued_bytes_before_closing() {
    let mut listener = PeerListener::bind("tcp://127.0.0.1:0").unwrap();
    let addr = tcp_addr(&listener);
    let client = std::thread::spawn(move || {
        let mut s = connect(&addr);
        // Let the server queue everything before reading.
        std::thread::sleep(Duration::from_millis(300));
        let mut got = Vec::new();
        s.read_to_end(&mut got).unwrap();
        got
    });
    let mut stream = tokio::time::timeout(LIMIT, listener.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let data = pattern(5 << 20, 3);
    stream.write_all(&data).await.unwrap();
    tokio::time::timeout(LIMIT, stream.close())
        .await
        .unwrap()
        .unwrap();
    let got = tokio::task::spawn_blocking(move || client.join().unwrap())
        .await
        .unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn peer_whose_reader_stalls_over_its_inbound_limit_is_dropped_alone() {
    let limits = PeerLimits {
        inbound: 64 << 10,
        inbound_stall: Duration::from_millis(300),
        ..PeerLimits::default()
    };
    let mut listener =
        PeerListener::bind_with(&zmq::Context::new(), "tcp://127.0.0.1:0", limits).unwrap();
    let addr = tcp_addr(&listener);
    let flood_addr = addr.clone();
    let flooder = std::thread::spawn(move || {
        let mut s = connect(&flood_addr);
        let chunk = vec![0u8; 16 << 10];
        // The server drops us at some point; writes then fail.
        for _ in 0..64 {
            if s.write_all(&chunk).is_err() {
                break;
            }
        }
        let mut sink = Vec::new();
        let _ = s.read_to_end(&mut sink);
    });
    let mut unread = tokio::time::timeout(LIMIT, listener.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    serve_each(listener, echo);
    // Receiving pauses while this stream reads nothing; after the stall limit the peer is
    // dropped and the stream reports why once its buffered bytes are gone.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let mut sink = Vec::new();
    let err = tokio::time::timeout(LIMIT, unread.read_to_end(&mut sink))
        .await
        .unwrap()
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::OutOfMemory);
    flooder.join().unwrap();
    let ok = tokio::task::spawn_blocking(move || {
        let mut s = connect(&addr);
        s.write_all(b"still here").unwrap();
        let mut got = [0u8; 10];
        s.read_exact(&mut got).unwrap();
        &got == b"still here"
    })
    .await
    .unwrap();
    assert!(ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_listener_closes_new_connections() {
    let listener = PeerListener::bind("tcp://127.0.0.1:0").unwrap();
    let addr = tcp_addr(&listener);
    drop(listener);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let refused_or_closed = tokio::task::spawn_blocking(move || match TcpStream::connect(&addr) {
        Err(_) => true,
        Ok(mut s) => {
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let _ = s.shutdown(Shutdown::Write);
            let mut buf = [0u8; 1];
            matches!(s.read(&mut buf), Ok(0) | Err(_))
        }
    })
    .await
    .unwrap();
    assert!(refused_or_closed);
}
