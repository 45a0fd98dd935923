//! HTTPS on tokio: rustls through tokio-rustls, then the usual drive loop in
//! the protocol ALPN chose.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::rustls;
use tokio_rustls::server::TlsStream;
use zttp_service::tls::{alpn_protocols, serve_handshake, AlpnConfigs, TlsInfo};
use zttp_service::{Handler, PeerAddr, ServerConfig, Shutdown};

use crate::{Accept, Accepted, TokioIo, TokioRuntime};

/// Accepts TLS connections for a server: the rustls configuration (with ALPN
/// `h2`/`http/1.1` announced unless it names its own protocols), the handshake
/// timeout, and the server configuration for each protocol ALPN may choose.
///
/// [`Server::tls`](crate::Server::tls) uses one for every connection; use one
/// directly to serve sockets accepted by your own loop:
///
/// ```no_run
/// async fn hi(_req: zttp_tokio::Request) -> &'static str {
///     "hi"
/// }
///
/// # async fn run(tls: std::sync::Arc<zttp_tokio::rustls::ServerConfig>) -> std::io::Result<()> {
/// use zttp_tokio::{ServerConfig, Shutdown, TlsAcceptor};
/// let acceptor = TlsAcceptor::new(tls, &ServerConfig::default());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
/// loop {
///     let (tcp, peer) = listener.accept().await?;
///     let acceptor = acceptor.clone();
///     tokio::spawn(async move {
///         acceptor
///             .serve_connection(tcp, Some(peer), hi, Shutdown::new())
///             .await
///     });
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct TlsAcceptor {
    acceptor: tokio_rustls::TlsAcceptor,
    configs: AlpnConfigs,
}

impl std::fmt::Debug for TlsAcceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsAcceptor").finish_non_exhaustive()
    }
}

impl TlsAcceptor {
    /// An acceptor for `tls` (ALPN defaults added) serving with `config`.
    pub fn new(tls: Arc<rustls::ServerConfig>, config: &ServerConfig) -> Self {
        let tls = if tls.alpn_protocols.is_empty() {
            let mut tls = Arc::unwrap_or_clone(tls);
            tls.alpn_protocols = alpn_protocols(config);
            Arc::new(tls)
        } else {
            tls
        };
        TlsAcceptor {
            acceptor: tls.into(),
            configs: AlpnConfigs::new(config),
        }
    }

    /// Completes the TLS handshake on `io` (within the handshake timeout; a
    /// failure is logged at debug level and returns `Ok(())`), then serves
    /// the connection until it closes. `peer`, the client's address when
    /// known, reaches every request as a [`PeerAddr`] extension.
    pub async fn serve_connection<IO, H>(
        &self,
        io: IO,
        peer: Option<SocketAddr>,
        handler: H,
        shutdown: Shutdown,
    ) -> io::Result<()>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
        H: Handler,
    {
        let handshake = async {
            let stream = self.acceptor.accept(io).await?;
            let info = info(&stream);
            Ok((TokioIo(stream), info))
        };
        serve_handshake(
            handshake,
            peer,
            TokioRuntime,
            handler,
            &self.configs,
            shutdown,
        )
        .await
    }
}

/// What the handshake of `stream` settled.
fn info<IO>(stream: &TlsStream<IO>) -> TlsInfo {
    let (_, connection) = stream.get_ref();
    TlsInfo::new(connection.server_name(), connection.alpn_protocol())
}

/// Serves one TLS stream whose handshake is done (e.g. from your own
/// `tokio_rustls::TlsAcceptor`): HTTP/2 if ALPN chose `h2`, else HTTP/1.1,
/// with the [`TlsInfo`] extension on every request.
pub async fn serve_tls_connection<IO, H>(
    stream: TlsStream<IO>,
    handler: H,
    config: Arc<ServerConfig>,
    shutdown: Shutdown,
) -> io::Result<()>
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    H: Handler,
{
    let info = info(&stream);
    zttp_service::tls::serve_tls_connection(
        TokioIo(stream),
        info,
        TokioRuntime,
        handler,
        config,
        shutdown,
    )
    .await
}

/// [`Server::serve`](crate::Server::serve) with TLS: the accept loop of
/// [`zttp_service::serve_with`], a handshake then the drive loop per connection.
pub(crate) async fn serve<I: Accept, H: Handler>(
    incoming: Accepted<I>,
    tls: Arc<rustls::ServerConfig>,
    handler: H,
    config: ServerConfig,
    shutdown: Shutdown,
) -> io::Result<()> {
    let acceptor = TlsAcceptor::new(tls, &config);
    let start = {
        let shutdown = shutdown.clone();
        move |accepted: zttp_service::Addressed<TokioIo<I::Io>>, peer: Option<PeerAddr>| {
            let (acceptor, handler, shutdown) =
                (acceptor.clone(), handler.clone(), shutdown.clone());
            async move {
                acceptor
                    .serve_connection(accepted.io.0, peer.map(|p| p.0), handler, shutdown)
                    .await
            }
        }
    };
    zttp_service::serve_with(incoming, TokioRuntime, &config, shutdown, start).await
}
