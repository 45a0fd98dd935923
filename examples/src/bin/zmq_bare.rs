//! Benchmark baseline: a bare ZeroMQ STREAM loop answering every request with canned bytes.
//! No HTTP parsing: it counts request ends (`\r\n\r\n`) in each frame and writes that many
//! canned keep-alive responses. Not a server to use; the floor zttp-zmq is measured against.
//!
//! `cargo run --release -p zttp-examples --features zmq --bin zmq_bare -- [--addr tcp://127.0.0.1:8080]`

use std::io::Write;

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

const HELP: &str = "\
usage: zmq_bare [--addr tcp://127.0.0.1:8080]
  --addr ENDPOINT    the ZeroMQ endpoint to bind (tcp://HOST:PORT, or HOST:PORT; port 0 picks one)
  -h, --help         this help
Ctrl-C or SIGTERM ends it (exit 0).";

fn main() -> Result<(), zmq::Error> {
    let flags = zttp_examples::Flags::parse(HELP, &["--addr"], &[]);
    let addr = flags.value("--addr").unwrap_or("tcp://127.0.0.1:8080");
    // A plain HOST:PORT means TCP, as for the other servers (bench/instructions.sh).
    let addr = match addr.contains("://") {
        true => addr.to_owned(),
        false => format!("tcp://{addr}"),
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).map_err(|_| zmq::Error::EINVAL)?;
    }
    let context = zmq::Context::new();
    let socket = context.socket(zmq::STREAM)?;
    socket.set_rcvtimeo(200)?;
    socket.bind(&addr)?;
    let bound = socket.get_last_endpoint()?.unwrap_or_default();
    println!("listening on {bound}");
    let _ = std::io::stdout().flush();
    let mut id = zmq::Message::new();
    let mut data = zmq::Message::new();
    let mut out = Vec::new();
    loop {
        // The signal may land on one of libzmq's threads: the receive timeout
        // brings this loop back to look at the flag.
        match socket.recv(&mut id, 0) {
            Err(zmq::Error::EAGAIN | zmq::Error::EINTR) => {
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    return Ok(());
                }
                continue;
            }
            other => other?,
        }
        socket.recv(&mut data, 0)?;
        if data.is_empty() {
            continue; // connect or disconnect notification
        }
        let requests = data.windows(4).filter(|w| w == b"\r\n\r\n").count();
        if requests == 0 {
            continue;
        }
        out.clear();
        for _ in 0..requests {
            out.extend_from_slice(RESPONSE);
        }
        // DONTWAIT: a peer that stopped reading must not hang the loop; its bytes are dropped.
        if socket.send(&id[..], zmq::SNDMORE | zmq::DONTWAIT).is_ok() {
            socket.send(&out[..], zmq::DONTWAIT)?;
        }
    }
}
