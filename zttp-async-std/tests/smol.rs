//! Because the drive loop speaks futures-io, a smol / async-io stream is served as is.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use async_io::Async;

#[test]
fn serves_an_async_io_stream() {
    let listener = Async::<TcpListener>::bind(([127, 0, 0, 1], 0)).unwrap();
    let addr = listener.get_ref().local_addr().unwrap();
    let client = std::thread::spawn(move || {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s.write_all(b"GET /smol HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
            .unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    });
    async_io::block_on(async {
        let (stream, _) = listener.accept().await.unwrap();
        zttp_async_std::serve_connection(stream, |req: zttp_async_std::Request| async move {
            format!("smol served {}", req.uri().path())
        })
        .await
        .unwrap();
    });
    let out = client.join().unwrap();
    assert!(out.starts_with("HTTP/1.1 200 OK\r\n"), "{out}");
    assert!(out.ends_with("\r\n\r\nsmol served /smol"), "{out}");
}
