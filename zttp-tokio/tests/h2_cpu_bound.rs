//! With `spawn_http2_handlers`, an HTTP/2 handler that burns CPU does not
//! stall its connection: PING acks and the other streams' answers keep
//! flowing while it runs.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use zttp_core::{Config, Connection, EndOfMessage, Event, Protocol, Role, StreamId};
use zttp_tokio::{Request, Server, ServerConfig, Shutdown};

/// How long the slow handler computes without yielding.
const BURN: Duration = Duration::from_millis(200);

async fn route(req: Request) -> &'static str {
    if req.uri().path() == "/burn" {
        let began = Instant::now();
        let mut x = 0u64;
        while began.elapsed() < BURN {
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

    /// Reads until `done` says so, returning the events with their arrival time.
    fn read_until(&mut self, mut done: impl FnMut(&Event) -> bool) -> Instant {
        let mut buf = [0; 16 * 1024];
        loop {
            loop {
                match self.core.next_event().unwrap() {
                    Event::NeedData => break,
                    event if done(&event) => return Instant::now(),
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

    let figures = tokio::task::spawn_blocking(move || {
        let sock = TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        sock.set_nodelay(true).unwrap();
        let core =
            Connection::with_config(Role::Client, Config::default().protocol(Protocol::Http2));
        let mut client = Client { core, sock };
        client.flush();
        // Settle the connection (SETTINGS both ways) with one round trip.
        let warm = client.get("/fast");
        client.read_until(|e| matches!(e, Event::EndOfMessage(end) if end.stream_id == warm));

        let burn = client.get("/burn");
        // Let the slow handler start computing.
        std::thread::sleep(Duration::from_millis(20));
        // A PING and another stream's request, sent together.
        let sent = Instant::now();
        client.core.ping(*b"zttp-png").unwrap();
        let fast = client.get("/fast");
        let (mut ping, mut other, mut burned) = (None, None, false);
        client.read_until(|e| {
            match e {
                Event::PingAcknowledged(_) => ping = Some(sent.elapsed()),
                Event::EndOfMessage(end) if end.stream_id == fast => other = Some(sent.elapsed()),
                Event::EndOfMessage(end) if end.stream_id == burn => burned = true,
                _ => {}
            }
            ping.is_some() && other.is_some() && burned
        });
        (ping.unwrap(), other.unwrap())
    })
    .await
    .unwrap();

    shutdown.trigger();
    served.await.unwrap().unwrap();
    let (ping, other) = figures;
    println!("while a handler burns {BURN:?}: PING ack after {ping:?}, another stream answered after {other:?}");
    // A stalled connection would wait for the rest of the 200 ms burn.
    assert!(ping < Duration::from_millis(100), "PING ack took {ping:?}");
    assert!(
        other < Duration::from_millis(100),
        "other stream took {other:?}"
    );
}
