//! The ZeroMQ STREAM POST server, done right: prints each request's verb, path, headers and
//! whole body however many frames it arrived in, honours `Expect: 100-continue` (the drive
//! loop sends `100 Continue` when the body is first read), and answers `200`.
//!
//! `cargo run -p zttp-examples --features zmq --bin zmq_post -- [--addr tcp://127.0.0.1:5555]`
//!
//! Try `curl -H 'Expect: 100-continue' --data-binary 'Apples to Oranges!' http://127.0.0.1:5555/`.

use std::io::Write;

use http_body_util::BodyExt;
use zttp_service::{Body, Request};

async fn print_request(req: Request) -> http::Response<Body> {
    let (parts, body) = req.into_parts();
    let body = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            eprintln!("body failed: {e}");
            let mut response = http::Response::new(Body::from("bad body\n"));
            *response.status_mut() = e
                .status()
                .and_then(|s| http::StatusCode::from_u16(s).ok())
                .unwrap_or(http::StatusCode::BAD_REQUEST);
            return response;
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{} {}", parts.method, parts.uri);
    let _ = writeln!(out, "Headers:");
    for (name, value) in &parts.headers {
        let _ = writeln!(
            out,
            "  {}: {}",
            name,
            String::from_utf8_lossy(value.as_bytes())
        );
    }
    let _ = writeln!(
        out,
        "Body ({} bytes): {:?}",
        body.len(),
        String::from_utf8_lossy(&body)
    );
    let _ = out.flush();
    http::Response::new(Body::empty())
}

const HELP: &str = "\
usage: zmq_post [--addr tcp://127.0.0.1:5555]
  --addr ENDPOINT    the ZeroMQ endpoint to bind (tcp://HOST:PORT; port 0 picks one)
  -h, --help         this help
Ctrl-C or SIGTERM stops the server gracefully: requests in flight finish, then it exits 0.";

fn main() {
    let flags = zttp_examples::Flags::parse(HELP, &["--addr"], &[]);
    let addr = flags.value("--addr").unwrap_or("tcp://127.0.0.1:5555");
    let result = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .and_then(|rt| {
            rt.block_on(async {
                let shutdown = zttp_examples::shutdown_on_signals()?;
                let server = zttp_zmq::Server::bind(addr)?.shutdown(shutdown);
                println!("listening on {}", server.local_endpoint());
                let _ = std::io::stdout().flush();
                server.serve(print_request).await
            })
        });
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
