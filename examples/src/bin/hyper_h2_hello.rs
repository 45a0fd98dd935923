//! A minimal hyper 1.x h2c server (HTTP/2 with prior knowledge) with the same
//! answer as `hello`: the HTTP/2 peer for benchmark comparisons (same tokio
//! multi-thread runtime).
//!
//! `cargo run --release -p zttp-examples --features hyper --bin hyper_h2_hello -- [--addr 127.0.0.1:8080] [--tls | --cert FILE --key FILE]`

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http2;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use zttp_tokio::tokio_rustls::TlsAcceptor;

async fn hello(
    _req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let mut response = hyper::Response::new(Full::new(Bytes::from_static(b"Hello, World!")));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    Ok(response)
}

fn main() -> std::io::Result<()> {
    let args = zttp_examples::Args::parse();
    if args.runtime != "tokio" {
        zttp_examples::usage("hyper_h2_hello runs on tokio only");
    }
    // `--tls` / `--cert --key`: the same certificate and provider (ring) as
    // zttp's examples, through tokio-rustls, ALPN `h2` only.
    let tls = args.tls_config()?.map(|mut config| {
        Arc::make_mut(&mut config).alpn_protocols = vec![b"h2".to_vec()];
        TlsAcceptor::from(config)
    });
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?
        .block_on(async {
            let listener = tokio::net::TcpListener::bind(&args.addr).await?;
            zttp_examples::announce(listener.local_addr()?);
            loop {
                let (stream, _) = listener.accept().await?;
                let _ = stream.set_nodelay(true);
                let tls = tls.clone();
                tokio::spawn(async move {
                    match tls {
                        Some(acceptor) => {
                            if let Ok(stream) = acceptor.accept(stream).await {
                                serve(stream).await;
                            }
                        }
                        None => serve(stream).await,
                    }
                });
            }
        })
}

async fn serve<IO>(io: IO)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let _ = http2::Builder::new(TokioExecutor::new())
        .serve_connection(TokioIo::new(io), service_fn(hello))
        .await;
}
