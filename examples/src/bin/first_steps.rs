//! The "First steps" program: feed a request into a server `Connection` and
//! print the events it yields, in the same form as the Python original
//! (`print(type(event).__name__, getattr(event, "data", ""))`, so `Request` and
//! `EndOfMessage` lines end in a space).
//!
//! ```text
//! cargo run -p zttp-examples --bin first_steps
//! Request
//! Data b'hello'
//! EndOfMessage
//! ```
//!
//! The request carries a `Host` field: HTTP/1.1 requires exactly one
//! (RFC 9112 §3.2), and zttp answers a request without it with 400.

use zttp_core::{Connection, Event, Role};

const USAGE: &str =
    "usage: first_steps   (takes no arguments: it feeds one fixed request to the engine)";

fn main() {
    // No flags to take: --help explains, anything else is refused, not ignored.
    zttp_examples::Flags::parse(USAGE, &[], &[]);
    let mut conn = Connection::new(Role::Server);
    conn.receive_data(
        b"POST /submit HTTP/1.1\r\n\
          Host: example.com\r\n\
          Content-Length: 5\r\n\
          \r\n\
          hello",
    );
    loop {
        let event = match conn.next_event() {
            Ok(event) => event,
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        };
        match event {
            Event::NeedData => break,
            Event::Request(_) => println!("Request "),
            Event::Data(d) => println!("Data {}", py_bytes_repr(&d.data)),
            Event::EndOfMessage(_) => {
                println!("EndOfMessage ");
                break;
            }
            other => println!("{other:?}"),
        }
    }
}

/// Formats bytes the way Python's `repr(bytes)` does: `b'...'`.
fn py_bytes_repr(data: &[u8]) -> String {
    let mut s = String::from("b'");
    for &b in data {
        match b {
            b'\\' => s.push_str("\\\\"),
            b'\'' => s.push_str("\\'"),
            b'\t' => s.push_str("\\t"),
            b'\n' => s.push_str("\\n"),
            b'\r' => s.push_str("\\r"),
            0x20..=0x7e => s.push(b as char),
            _ => s.push_str(&format!("\\x{b:02x}")),
        }
    }
    s.push('\'');
    s
}
