//! With `spawn_http2_handlers`, an HTTP/2 handler that burns CPU does not
//! stall its connection: PING acks and the other streams' answers keep
//! flowing while it runs.
//!
//! The slow handler computes without yielding until the client has seen both
//! answers, so the check is their order, not a wall-clock figure: on a
//! stalled connection they could only come after the handler's own answer.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use zttp_core::{Config, Connection, EndOfMessage, Event, Protocol, Role, StreamId};
use zttp_tokio::{Request, Server, ServerConfig, Shutdown};

/// The slow handler has started computing.
static STARTED: AtomicBool = AtomicBool::new(false);
/// The client saw what it waited for: the slow handler may finish.
static RELEASE: AtomicBool = AtomicBool::new(false);
/// The slow handler gives up after this, so a stalled connection ends the
/// test with a failed assertion rather than a hang.
const BURN_AT_MOST: Duration = Duration::from_secs(10);

async fn route(req: Request) -> &'static str {
    if req.uri().path() == "/burn" {
        STARTED.store(true, Ordering::Release);
        let began = Instant::now();
        let mut x = 0u64;
        while !RELEASE.load(Ordering::Acquire) && began.elapsed() < BURN_AT_MOST {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        "burned"
    } else {
        "fast"
    }
}

/// A blocking HTTP/2 client: a core connection over a std socket.
struct Client {
    core: Connection,
    sock: TcpStream,
}

impl Client {
    fn flush(&mut self) {
        let out = self.core.data_to_send();
        self.sock.write_all(&out).unwrap();
    }

    fn get(&mut self, path: &str) -> StreamId {
        let id = self.core.next_stream_id().unwrap();
        let mut req = zttp_core::Request::new("GET", path.to_owned());
        req.stream_id = id;
        req.http_version = zttp_core::Version::Http2;
        req.scheme = Some("http".into());
        req.authority = Some("t".into());
        self.core.send(req).unwrap();
        self.core
            .send(EndOfMessage {
                stream_id: id,
                ..EndOfMessage::default()
            })
            .unwrap();
        self.flush();
        id
    }

    /// Reads until `done` says so.
    fn read_until(&mut self, mut done: impl FnMut(&Event) -> bool) {
        let mut buf = [0; 16 * 1024];
        loop {
            loop {
                match self.core.next_event().unwrap() {
                    Event::NeedData => break,
                    event if done(&event) => return,
                    _ => {}
                }
            }
            self.flush();
            let n = self
                .sock
                .read(&mut buf)
                .expect("the server answers in time");
            assert!(n > 0, "the server closed the connection");
            self.core.receive_data(&buf[..n]);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cpu_bound_handler_does_not_delay_pings_or_other_streams() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let shutdown = Shutdown::new();
    let config = ServerConfig::default().spawn_http2_handlers(true);
    let served = tokio::spawn(
        Server::new(listener)
            .config(config)
            .shutdown(shutdown.clone())
            .serve(route),
    );

    let order = tokio::task::spawn_blocking(move || {
        let sock = TcpStream::connect(addr).unwrap();
        // Longer than the slow handler's limit: a stalled connection fails
        // the assertion below, with the order it saw.
        sock.set_read_timeout(Some(BURN_AT_MOST * 2)).unwrap();
        sock.set_nodelay(true).unwrap();
        let core =
            Connection::with_config(Role::Client, Config::default().protocol(Protocol::Http2));
        let mut client = Client { core, sock };
        client.flush();
        // Settle the connection (SETTINGS both ways) with one round trip.
        let warm = client.get("/fast");
        client.read_until(|e| matches!(e, Event::EndOfMessage(end) if end.stream_id == warm));

        let burn = client.get("/burn");
        let waited = Instant::now();
        while !STARTED.load(Ordering::Acquire) {
            assert!(
                waited.elapsed() < BURN_AT_MOST,
                "the slow handler never ran"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        // A PING and another stream's request, sent together while the
        // handler computes.
        client.core.ping(*b"zttp-png").unwrap();
        let fast = client.get("/fast");
        let mut order = Vec::new();
        client.read_until(|e| {
            match e {
                Event::PingAcknowledged(_) => order.push("ping ack"),
                Event::EndOfMessage(end) if end.stream_id == fast => order.push("other stream"),
                Event::EndOfMessage(end) if end.stream_id == burn => order.push("slow handler"),
                _ => {}
            }
            order.len() == 2 || order.contains(&"slow handler")
        });
        RELEASE.store(true, Ordering::Release);
        if !order.contains(&"slow handler") {
            client.read_until(|e| matches!(e, Event::EndOfMessage(end) if end.stream_id == burn));
            order.push("slow handler");
        }
        order
    })
    .await
    .unwrap();

    shutdown.trigger();
    served.await.unwrap().unwrap();
    // A stalled connection answers nothing until the handler is done.
    assert_eq!(
        order[2], "slow handler",
        "answers arrived in the order {order:?} while a handler computed"
    );
}
