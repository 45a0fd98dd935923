//! Scale: 10,000 idle connections held open against one zttp-tokio server,
//! with the server's memory per connection inside a stated budget.
//!
//! Not part of the default run (it opens 10,000 sockets and takes 5-40 s
//! depending on the machine's load): `cargo test -p zttp-tokio --test
//! idle_connections -- --ignored --nocapture` prints the figure.
//!
//! The clients live in a python3 process (so the test process holds only the
//! server's 10,000 sockets, within the file-descriptor limit); the server
//! runs in this process, whose resident set size is read from /proc before
//! and after. Bounded: the clients give up after 60 s, and the connections
//! stay well inside the header-read timeout.

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use zttp_peers::Peer;
use zttp_tokio::{Server, ServerConfig, Shutdown};

const CONNECTIONS: usize = 10_000;

/// The stated budget: resident memory the server may add per idle connection
/// (its socket, task, buffers and protocol state), in bytes.
const BUDGET_PER_CONNECTION: usize = 16 * 1024;

/// Opens N connections one after another, says how many opened, then holds
/// them until stdin closes and exits at once (the kernel closes them).
const CLIENTS: &str = r#"
import os, socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
deadline = time.monotonic() + 60
socks = []
while len(socks) < n and time.monotonic() < deadline:
    try:
        socks.append(socket.create_connection(("127.0.0.1", port), timeout=10))
    except OSError as e:
        print("error", e, flush=True); break
print("open", len(socks), flush=True)
sys.stdin.read()
os._exit(0)
"#;

fn resident_bytes() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
#[ignore = "scale test, 10,000 sockets: run with --ignored"]
fn ten_thousand_idle_connections_stay_within_the_memory_budget() {
    zttp_peers::require(Peer::Python3);
    let shutdown = Shutdown::new();
    let signal = shutdown.clone();
    let (addr_tx, addr_rx) = mpsc::channel();
    let server = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            Server::new(listener)
                .config(ServerConfig::default())
                .shutdown(signal)
                .serve(|_req: zttp_tokio::Request| async { "hello" })
                .await
        })
    });
    let addr = addr_rx.recv().unwrap();
    // Warm the server up with a few connections so that one-off allocations
    // (runtime, accept loop) are not counted per connection.
    {
        let warm: Vec<_> = (0..64)
            .map(|_| std::net::TcpStream::connect(addr).unwrap())
            .collect();
        std::thread::sleep(Duration::from_millis(300));
        drop(warm);
        std::thread::sleep(Duration::from_millis(300));
    }
    let began = Instant::now();
    let fds_before = open_fds();
    let rss_before = resident_bytes();

    let mut clients = zttp_peers::python_command(&[])
        .args([
            "-c",
            CLIENTS,
            &addr.port().to_string(),
            &CONNECTIONS.to_string(),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 starts");
    let mut line = String::new();
    BufReader::new(clients.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert_eq!(
        line.trim(),
        format!("open {CONNECTIONS}"),
        "the clients connected"
    );
    println!("clients connected after {:?}", began.elapsed());

    // Wait (bounded) until the server holds every connection.
    let deadline = Instant::now() + Duration::from_secs(30);
    while open_fds() < fds_before + CONNECTIONS {
        assert!(
            Instant::now() < deadline,
            "server accepted only {} of {CONNECTIONS}",
            open_fds() - fds_before
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    println!("server holds them after {:?}", began.elapsed());
    std::thread::sleep(Duration::from_millis(500));
    let grown = resident_bytes().saturating_sub(rss_before);
    let per_connection = grown / CONNECTIONS;
    println!(
        "{CONNECTIONS} idle connections: server RSS +{} KiB, {per_connection} bytes each (budget {BUDGET_PER_CONNECTION})",
        grown / 1024
    );
    assert!(
        per_connection <= BUDGET_PER_CONNECTION,
        "{per_connection} bytes per idle connection, over the {BUDGET_PER_CONNECTION} budget"
    );

    // The server still answers while holding them.
    let mut probe = std::net::TcpStream::connect(addr).unwrap();
    probe
        .write_all(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    std::io::Read::read_to_string(&mut probe, &mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    drop(clients.stdin.take());
    clients.wait().unwrap();
    println!("clients gone after {:?}", began.elapsed());
    shutdown.trigger();
    server.join().unwrap().unwrap();
    println!("server stopped after {:?}", began.elapsed());
}
