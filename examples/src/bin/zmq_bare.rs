//! Benchmark baseline: a bare ZeroMQ STREAM loop answering every request with canned bytes.
//! No HTTP parsing: it counts request ends (`\r\n\r\n`) in each frame and writes that many
//! canned keep-alive responses. Not a server to use; the floor zttp-zmq is measured against.
//!
//! `cargo run --release -p zttp-examples --features zmq --bin zmq_bare -- [--addr tcp://127.0.0.1:8080]`

use std::io::Write;

const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";

fn main() -> Result<(), zmq::Error> {
    let mut args = std::env::args().skip(1);
    let mut addr = "tcp://127.0.0.1:8080".to_string();
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!("usage: zmq_bare [--addr tcp://127.0.0.1:8080]");
            std::process::exit(0);
        }
        match (flag.as_str(), args.next()) {
            ("--addr", Some(value)) => addr = value,
            _ => {
                eprintln!("usage: zmq_bare [--addr tcp://127.0.0.1:8080]");
                std::process::exit(2);
            }
        }
    }
    let context = zmq::Context::new();
    let socket = context.socket(zmq::STREAM)?;
    socket.bind(&addr)?;
    let bound = socket.get_last_endpoint()?.unwrap_or_default();
    println!("listening on {bound}");
    let _ = std::io::stdout().flush();
    let mut id = zmq::Message::new();
    let mut data = zmq::Message::new();
    let mut out = Vec::new();
    loop {
        socket.recv(&mut id, 0)?;
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
