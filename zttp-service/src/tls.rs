//! TLS support shared by the adapters: what a handshake settled ([`TlsInfo`]),
//! and serving a connection once its handshake is done ([`serve_handshake`]).
//!
//! The TLS library itself (rustls through tokio-rustls or futures-rustls) lives
//! in the adapters behind their `tls` feature: this crate only sees the
//! handshake as a future that yields a futures-io stream and its [`TlsInfo`].
//! ALPN chooses the protocol: `h2` serves HTTP/2, anything else (`http/1.1`,
//! or no ALPN at all) HTTP/1.1; the bytes are never sniffed for a preface.

use std::future::Future;
use std::io::{self, IoSlice};
use std::net::SocketAddr;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::future::{select, Either};
use futures_io::{AsyncRead, AsyncWrite};
use tracing::debug;
use zttp_core::Protocol;

use crate::limits::Around;
use crate::{Handler, PeerAddr, Request, Runtime, ServerConfig, Shutdown};

/// The ALPN protocol id of HTTP/2 (RFC 9113 §3.2).
pub const ALPN_H2: &[u8] = b"h2";
/// The ALPN protocol id of HTTP/1.1 (RFC 9112 §1).
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// What the TLS handshake of the connection settled. Every request that came
/// over TLS carries it as an extension:
///
/// ```
/// # use zttp_service::{Request, tls::TlsInfo};
/// fn server_name(req: &Request) -> Option<&str> {
///     req.extensions().get::<TlsInfo>()?.server_name.as_deref()
/// }
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsInfo {
    /// The host name the client asked for with SNI; `None` when it sent none
    /// (clients send no SNI when they connect to an IP address).
    pub server_name: Option<Arc<str>>,
    /// The protocol ALPN settled on (`b"h2"`, `b"http/1.1"`); `None` when the
    /// client offered no ALPN (then the connection speaks HTTP/1.1).
    pub alpn_protocol: Option<Bytes>,
}

impl TlsInfo {
    /// What a handshake settled: the SNI name and the ALPN protocol, as the TLS
    /// library reports them.
    pub fn new(server_name: Option<&str>, alpn_protocol: Option<&[u8]>) -> Self {
        TlsInfo {
            server_name: server_name.map(Arc::from),
            alpn_protocol: alpn_protocol.map(|p| match p {
                ALPN_H2 => Bytes::from_static(ALPN_H2),
                ALPN_HTTP11 => Bytes::from_static(ALPN_HTTP11),
                other => Bytes::copy_from_slice(other),
            }),
        }
    }

    /// The protocol this connection speaks: HTTP/2 when ALPN chose `h2`, else HTTP/1.1.
    pub fn protocol(&self) -> Protocol {
        match self.alpn_protocol.as_deref() {
            Some(ALPN_H2) => Protocol::Http2,
            _ => Protocol::Http1,
        }
    }
}

/// The ALPN protocol ids a TLS server should announce for `config`, in order
/// of preference: `h2` then `http/1.1`, or only one of them when
/// [`ServerConfig::core`] pins the protocol to HTTP/1.1 or HTTP/2.
pub fn alpn_protocols(config: &ServerConfig) -> Vec<Vec<u8>> {
    match config.core.protocol {
        Protocol::Http1 => vec![ALPN_HTTP11.to_vec()],
        Protocol::Http2 => vec![ALPN_H2.to_vec()],
        Protocol::Auto => vec![ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()],
    }
}

/// A server's configuration once per protocol ALPN may choose, made once and
/// shared by every TLS connection (choosing costs no allocation per connection).
#[derive(Debug, Clone)]
pub struct AlpnConfigs {
    http1: Arc<ServerConfig>,
    http2: Arc<ServerConfig>,
}

impl AlpnConfigs {
    /// `config` with its protocol set to HTTP/1.1 and to HTTP/2.
    pub fn new(config: &ServerConfig) -> Self {
        let with = |protocol| {
            let mut config = config.clone();
            config.core = config.core.protocol(protocol);
            Arc::new(config)
        };
        AlpnConfigs {
            http1: with(Protocol::Http1),
            http2: with(Protocol::Http2),
        }
    }

    /// The configuration for a connection whose handshake settled `info`.
    pub fn get(&self, info: &TlsInfo) -> &Arc<ServerConfig> {
        match info.protocol() {
            Protocol::Http2 => &self.http2,
            _ => &self.http1,
        }
    }
}

/// Finishes a TLS handshake, then serves the connection with
/// [`serve_tls_connection`] in the protocol ALPN chose; `peer`, the client's
/// address when known, reaches every request as a [`PeerAddr`] extension.
///
/// `handshake` is the TLS library's accept future. It gets
/// [`ServerConfig::tls_handshake_timeout`] to finish and is abandoned when
/// `shutdown` triggers first. A failed, timed-out or abandoned handshake is
/// logged at debug level and returns `Ok(())`: a client that cannot speak TLS
/// is not a server error, and its socket is closed on return.
pub async fn serve_handshake<F, IO, R, H>(
    handshake: F,
    peer: Option<SocketAddr>,
    runtime: R,
    handler: H,
    configs: &AlpnConfigs,
    shutdown: Shutdown,
) -> io::Result<()>
where
    F: Future<Output = io::Result<(IO, TlsInfo)>>,
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    R: Runtime,
    H: Handler,
{
    let timeout = configs.http1.tls_handshake_timeout;
    let deadline = async {
        let triggered = shutdown.triggered();
        match timeout {
            Some(timeout) => match select(runtime.sleep(timeout), triggered).await {
                Either::Left(_) => "timed out",
                Either::Right(_) => "server shutting down",
            },
            None => {
                triggered.await;
                "server shutting down"
            }
        }
    };
    let (io, info) = match select(pin!(handshake), pin!(deadline)).await {
        Either::Left((Ok(done), _)) => done,
        Either::Left((Err(e), _)) => {
            debug!(error = %e, "TLS handshake failed");
            return Ok(());
        }
        Either::Right((reason, _)) => {
            debug!(reason, "TLS handshake abandoned");
            return Ok(());
        }
    };
    let config = configs.get(&info).clone();
    let around = Around::new(peer.map(PeerAddr), false);
    serve_tls(io, info, runtime, handler, config, shutdown, around).await
}

/// Serves one connection whose TLS handshake is done: in HTTP/2 when ALPN
/// chose `h2`, else HTTP/1.1 (whatever [`ServerConfig::core`] says), each
/// request carrying `info` as its [`TlsInfo`] extension. Otherwise the same as
/// [`serve_connection`](crate::serve_connection).
pub async fn serve_tls_connection<IO, R, H>(
    io: IO,
    info: TlsInfo,
    runtime: R,
    handler: H,
    config: Arc<ServerConfig>,
    shutdown: Shutdown,
) -> io::Result<()>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    R: Runtime,
    H: Handler,
{
    serve_tls(
        io,
        info,
        runtime,
        handler,
        config,
        shutdown,
        Around::default(),
    )
    .await
}

/// [`serve_tls_connection`], with what each request gets besides the handler.
async fn serve_tls<IO, R, H>(
    io: IO,
    info: TlsInfo,
    runtime: R,
    handler: H,
    config: Arc<ServerConfig>,
    shutdown: Shutdown,
    around: Around,
) -> io::Result<()>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    R: Runtime,
    H: Handler,
{
    debug!(
        server_name = info.server_name.as_deref(),
        alpn = ?info.alpn_protocol.as_deref().map(String::from_utf8_lossy),
        "TLS handshake done"
    );
    let protocol = info.protocol();
    let config = if config.core.protocol == protocol {
        config
    } else {
        let mut config = ServerConfig::clone(&config);
        config.core = config.core.protocol(protocol);
        Arc::new(config)
    };
    let handler = WithTlsInfo {
        inner: handler,
        info: Arc::new(info),
    };
    crate::conn::serve_connection_around(UncleanEof(io), runtime, handler, config, shutdown, around)
        .await
}

/// A TLS stream whose peer may close without `close_notify`: most HTTP
/// clients do, and HTTP's own framing (`Content-Length`, chunked, HTTP/2
/// frames) already tells a truncated message from a complete one, so that
/// close reads as an ordinary end of stream (RFC 9110 §9.8 leaves this to the
/// application protocol). The core still reports a message cut short.
struct UncleanEof<IO>(IO);

impl<IO: AsyncRead + Unpin> AsyncRead for UncleanEof<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        match Pin::new(&mut self.0).poll_read(cx, buf) {
            Poll::Ready(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Poll::Ready(Ok(0)),
            other => other,
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for UncleanEof<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_close(cx)
    }
}

/// A handler that puts the connection's [`TlsInfo`] into each request first.
#[derive(Clone)]
struct WithTlsInfo<H> {
    inner: H,
    info: Arc<TlsInfo>,
}

impl<H: Handler> Handler for WithTlsInfo<H> {
    type Future = H::Future;

    fn call(&self, mut request: Request) -> Self::Future {
        request.extensions_mut().insert(TlsInfo::clone(&self.info));
        self.inner.call(request)
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::time::{Duration, Instant};

    use super::*;

    /// A virtual clock whose every sleep has already elapsed.
    #[derive(Clone)]
    struct Elapsed;

    impl Runtime for Elapsed {
        fn spawn(&self, _: Pin<Box<dyn Future<Output = ()> + Send>>) {}
        fn sleep(&self, _: Duration) -> Pin<Box<dyn Future<Output = ()> + Send>> {
            Box::pin(std::future::ready(()))
        }
        fn now(&self) -> Instant {
            Instant::now()
        }
    }

    /// A handshake that never finishes, and notes whether it was dropped.
    fn endless_handshake(
        dropped: &Cell<bool>,
    ) -> impl Future<Output = io::Result<(futures::io::Cursor<Vec<u8>>, TlsInfo)>> + '_ {
        struct OnDrop<'a>(&'a Cell<bool>);
        impl Drop for OnDrop<'_> {
            fn drop(&mut self) {
                self.0.set(true);
            }
        }
        let guard = OnDrop(dropped);
        async move {
            let _guard = guard;
            std::future::pending().await
        }
    }

    fn hello(_: Request) -> std::future::Ready<&'static str> {
        std::future::ready("hello")
    }

    #[test]
    fn handshake_past_its_timeout_is_abandoned() {
        let dropped = Cell::new(false);
        let configs = AlpnConfigs::new(&ServerConfig::default());
        let served = futures::executor::block_on(serve_handshake(
            endless_handshake(&dropped),
            None,
            Elapsed,
            hello,
            &configs,
            Shutdown::new(),
        ));
        assert!(served.is_ok());
        assert!(dropped.get());
    }

    #[test]
    fn shutdown_abandons_a_handshake_without_a_timeout() {
        let dropped = Cell::new(false);
        let configs = AlpnConfigs::new(&ServerConfig::default().tls_handshake_timeout(None));
        let shutdown = Shutdown::new();
        shutdown.trigger();
        let served = futures::executor::block_on(serve_handshake(
            endless_handshake(&dropped),
            None,
            Elapsed,
            hello,
            &configs,
            shutdown,
        ));
        assert!(served.is_ok());
        assert!(dropped.get());
    }

    #[test]
    fn failed_handshake_is_not_a_server_error() {
        let configs = AlpnConfigs::new(&ServerConfig::default());
        let handshake = async {
            Err::<(futures::io::Cursor<Vec<u8>>, TlsInfo), _>(io::Error::new(
                io::ErrorKind::InvalidData,
                "not TLS",
            ))
        };
        let served = futures::executor::block_on(serve_handshake(
            handshake,
            None,
            Elapsed,
            hello,
            &configs,
            Shutdown::new(),
        ));
        assert!(served.is_ok());
    }

    #[test]
    fn close_without_close_notify_reads_as_end_of_stream() {
        struct Unclean;
        impl AsyncRead for Unclean {
            fn poll_read(
                self: Pin<&mut Self>,
                _: &mut Context<'_>,
                _: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()))
            }
        }
        let mut io = UncleanEof(Unclean);
        let mut buf = [0; 8];
        let read = futures::executor::block_on(futures::AsyncReadExt::read(&mut io, &mut buf));
        assert_eq!(read.unwrap(), 0);
    }

    #[test]
    fn alpn_h2_chooses_http2_and_anything_else_http1() {
        assert_eq!(TlsInfo::new(None, Some(b"h2")).protocol(), Protocol::Http2);
        assert_eq!(
            TlsInfo::new(None, Some(b"http/1.1")).protocol(),
            Protocol::Http1
        );
        assert_eq!(TlsInfo::new(Some("x"), None).protocol(), Protocol::Http1);
    }

    #[test]
    fn announced_protocols_follow_the_configured_protocol() {
        let auto = ServerConfig::default();
        assert_eq!(
            alpn_protocols(&auto),
            [b"h2".to_vec(), b"http/1.1".to_vec()]
        );
        let h1 =
            ServerConfig::default().core(zttp_core::Config::default().protocol(Protocol::Http1));
        assert_eq!(alpn_protocols(&h1), [b"http/1.1".to_vec()]);
    }

    #[test]
    fn alpn_configs_pin_the_protocol_and_keep_the_rest() {
        let configs = AlpnConfigs::new(&ServerConfig::default().max_body_size(Some(7)));
        let h2 = configs.get(&TlsInfo::new(None, Some(b"h2")));
        assert_eq!(h2.core.protocol, Protocol::Http2);
        assert_eq!(h2.max_body_size, Some(7));
        let h1 = configs.get(&TlsInfo::new(None, None));
        assert_eq!(h1.core.protocol, Protocol::Http1);
    }
}
