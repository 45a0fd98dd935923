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

fn main() {
    let mut addr = "tcp://127.0.0.1:5555".to_string();
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "-h" || flag == "--help" {
            println!("usage: zmq_post [--addr tcp://127.0.0.1:5555]");
            std::process::exit(0);
        }
        match (flag.as_str(), args.next()) {
            ("--addr", Some(value)) => addr = value,
            _ => {
                eprintln!("usage: zmq_post [--addr tcp://127.0.0.1:5555]");
                std::process::exit(2);
            }
        }
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = rt.block_on(async {
        let server = zttp_zmq::Server::bind(&addr)?;
        println!("listening on {}", server.local_endpoint());
        let _ = std::io::stdout().flush();
        server.serve(print_request).await
    });
    if let Err(e) = result {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
