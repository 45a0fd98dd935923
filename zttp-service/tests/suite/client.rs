//! A small blocking HTTP/1.1 client over a raw socket, for byte-exact checks.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// One parsed response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// A raw connection with a reading buffer kept across responses.
pub struct RawConn {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl RawConn {
    pub fn connect(addr: SocketAddr) -> RawConn {
        RawConn::try_connect(addr).expect("connect")
    }

    pub fn try_connect(addr: SocketAddr) -> io::Result<RawConn> {
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream.set_write_timeout(Some(Duration::from_secs(10)))?;
        stream.set_nodelay(true)?;
        Ok(RawConn {
            writer: stream.try_clone()?,
            reader: BufReader::new(stream),
        })
    }

    /// How long reads (and [`RawConn::is_closed`]) wait from now on.
    pub fn set_read_timeout(&mut self, timeout: Duration) {
        self.writer.set_read_timeout(Some(timeout)).unwrap();
    }

    /// Another handle on the socket, for writing from another thread.
    pub fn writer_clone(&self) -> TcpStream {
        self.writer.try_clone().unwrap()
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write request");
    }

    /// Writes, ignoring a reset (the server may have closed already).
    pub fn try_send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.writer.write_all(bytes)
    }

    pub fn get(&mut self, path: &str) -> Resp {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n").as_bytes());
        self.response()
    }

    /// Reads one response (a 1xx included) to a non-HEAD request.
    pub fn response(&mut self) -> Resp {
        self.read_response(false).expect("a response")
    }

    pub fn head_response(&mut self) -> Resp {
        self.read_response(true).expect("a response")
    }

    pub fn read_response(&mut self, head: bool) -> io::Result<Resp> {
        let status = self.read_status()?;
        self.read_rest(status, head)
    }

    /// Reads a status line; returns its code.
    pub fn read_status(&mut self) -> io::Result<u16> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        line.split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, line.clone()))
    }

    /// Reads the fields and body of a response whose status line was read.
    pub fn read_rest(&mut self, status: u16, head: bool) -> io::Result<Resp> {
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            self.reader.read_line(&mut line)?;
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                break;
            }
            let (n, v) = line.split_once(':').unwrap();
            headers.push((n.to_owned(), v.trim().to_owned()));
        }
        let mut resp = Resp {
            status,
            headers,
            body: Vec::new(),
        };
        if head || (100..200).contains(&status) || status == 204 || status == 304 {
            return Ok(resp);
        }
        if let Some(len) = resp.header("content-length") {
            let mut body = vec![0; len.parse().unwrap()];
            self.reader.read_exact(&mut body)?;
            resp.body = body;
        } else if resp
            .header("transfer-encoding")
            .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
        {
            loop {
                let mut size = String::new();
                self.reader.read_line(&mut size)?;
                let size = usize::from_str_radix(size.trim().split(';').next().unwrap(), 16)
                    .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, size.clone()))?;
                if size == 0 {
                    loop {
                        let mut l = String::new();
                        self.reader.read_line(&mut l)?;
                        if l.trim().is_empty() {
                            break;
                        }
                    }
                    break;
                }
                let mut chunk = vec![0; size + 2];
                self.reader.read_exact(&mut chunk)?;
                resp.body.extend_from_slice(&chunk[..size]);
            }
        } else {
            self.reader.read_to_end(&mut resp.body)?;
        }
        Ok(resp)
    }

    /// True when the server closed the connection (EOF or reset) — waits up to
    /// the read timeout; unexpected bytes are an error.
    pub fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        match self.reader.read(&mut buf) {
            Ok(0) => true,
            Ok(_) => panic!("unexpected bytes after the response: {:?}", buf),
            Err(e)
                if e.kind() == io::ErrorKind::WouldBlock || e.kind() == io::ErrorKind::TimedOut =>
            {
                false
            }
            Err(_) => true,
        }
    }
}

/// A blocking socket connected to `addr` with a small receive buffer (set
/// before connecting, so the advertised window stays small): a server writing
/// to it is blocked soon after its reader stops.
pub fn small_window_stream(addr: SocketAddr) -> TcpStream {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stream = runtime
        .block_on(async {
            let socket = tokio::net::TcpSocket::new_v4()?;
            socket.set_recv_buffer_size(8 * 1024)?;
            socket.connect(addr).await?.into_std()
        })
        .expect("connect");
    stream.set_nonblocking(false).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
}

/// Runs `curl` with arguments; a missing curl fails the test (see `zttp_peers`).
pub fn curl(args: &[&str]) -> std::process::Output {
    zttp_peers::command(zttp_peers::Peer::Curl)
        .args(args)
        .output()
        .expect("curl runs")
}
