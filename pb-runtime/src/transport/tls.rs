//! TLS for servers and reconnecting sessions (tokio-rustls, ring provider;
//! feature `tls`).
//!
//! The server authenticates itself with a certificate chain; optionally it
//! also requires client certificates signed by a given set of roots. pb's
//! protocol runs unchanged inside the TLS stream.
//!
//! ```ignore
//! use pb::tls::{self, TlsConnect, TlsListener};
//!
//! // server
//! let config = tls::server_config(chain, key, None)?;               // Some(roots): client certificates required
//! let listener = TlsListener::bind("127.0.0.1:0", config).await?;
//! let addr = listener.local_addr()?;
//! let server = pb::Server::serve(listener, registry, pb::Config::default());
//!
//! // client: a reconnecting session over TLS
//! let config = tls::client_config(roots, None)?;                    // Some((chain, key)): a client certificate
//! let session = pb::Client::builder().connect_with(TlsConnect::new(addr.to_string(), "localhost", config)?).await?;
//! ```
//!
//! A TLS handshake never holds up the server's accept loop: [`TlsListener`]
//! runs each handshake in its own task, bounded by a timeout (10 s with
//! [`TlsListener::bind`], any with [`TlsListener::new`]), and hands over only
//! completed ones; pb's own handshake timeout then applies as usual.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
pub use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio_rustls::rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use super::connect::Connect;
use super::listen::Listener;
use super::stream::Transport;

use crate::Error;

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn tls_error(e: impl std::fmt::Display) -> Error {
    Error::Io(format!("tls: {e}"))
}

/// Server settings: present `chain` (leaf first) with its private `key`;
/// with `client_roots`, require a client certificate signed by one of them.
///
/// # Errors
///
/// The key does not match the certificate, or the roots are unusable.
pub fn server_config(
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
    client_roots: Option<RootCertStore>,
) -> Result<Arc<ServerConfig>, Error> {
    let builder =
        ServerConfig::builder_with_provider(provider()).with_safe_default_protocol_versions().map_err(tls_error)?;
    let builder = match client_roots {
        None => builder.with_no_client_auth(),
        Some(roots) => {
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
                .build()
                .map_err(tls_error)?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    Ok(Arc::new(builder.with_single_cert(chain, key).map_err(tls_error)?))
}

/// Client settings: trust servers whose certificate is signed by one of
/// `roots`; with `client_cert` (chain and key), present it when asked.
///
/// # Errors
///
/// The client key does not match its certificate.
pub fn client_config(
    roots: RootCertStore,
    client_cert: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<Arc<ClientConfig>, Error> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(tls_error)?
        .with_root_certificates(roots);
    let config = match client_cert {
        None => builder.with_no_client_auth(),
        Some((chain, key)) => builder.with_client_auth_cert(chain, key).map_err(tls_error)?,
    };
    Ok(Arc::new(config))
}

/// Accepts TCP connections and yields them once their TLS handshake is
/// complete; give it to [`crate::Server::serve`].
pub struct TlsListener {
    local_addr: SocketAddr,
    ready: mpsc::Receiver<Transport>,
    handshaking: Arc<AtomicUsize>,
    accept: JoinHandle<()>,
}

impl std::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsListener").field("local_addr", &self.local_addr).finish_non_exhaustive()
    }
}

/// Default bound on one TLS handshake.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

impl TlsListener {
    /// Listen on `addr` (TCP) with `config`; each TLS handshake may take at
    /// most 10 s.
    ///
    /// # Errors
    ///
    /// The address could not be bound.
    pub async fn bind(addr: impl tokio::net::ToSocketAddrs, config: Arc<ServerConfig>) -> io::Result<TlsListener> {
        Ok(TlsListener::new(TcpListener::bind(addr).await?, config, TLS_HANDSHAKE_TIMEOUT))
    }

    /// Serve TLS with `config` on `listener`; each handshake may take at
    /// most `handshake_timeout`.
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime.
    pub fn new(listener: TcpListener, config: Arc<ServerConfig>, handshake_timeout: Duration) -> TlsListener {
        let local_addr = listener.local_addr().expect("a bound listener has an address");
        let (tx, ready) = mpsc::channel(64);
        let handshaking = Arc::new(AtomicUsize::new(0));
        let acceptor = TlsAcceptor::from(config);
        let accept = tokio::spawn(accept_loop(listener, acceptor, tx, handshaking.clone(), handshake_timeout));
        TlsListener { local_addr, ready, handshaking, accept }
    }

    /// The bound address.
    ///
    /// # Errors
    ///
    /// Never; the signature matches `TcpListener::local_addr`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local_addr)
    }

    /// How many TLS handshakes are in progress.
    pub fn handshaking(&self) -> usize {
        self.handshaking.load(Ordering::Acquire)
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    ready: mpsc::Sender<Transport>,
    handshaking: Arc<AtomicUsize>,
    timeout: Duration,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "tls accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        if ready.is_closed() {
            return;
        }
        let _ = stream.set_nodelay(true);
        let _ = super::stream::keep_alive(&stream);
        let (acceptor, ready, handshaking) = (acceptor.clone(), ready.clone(), handshaking.clone());
        handshaking.fetch_add(1, Ordering::AcqRel);
        tokio::spawn(async move {
            let done = tokio::time::timeout(timeout, acceptor.accept(stream)).await;
            handshaking.fetch_sub(1, Ordering::AcqRel);
            match done {
                Ok(Ok(tls)) => {
                    // A session over TLS is bound to the TLS peer: its
                    // certificate, or none (an anonymous client).
                    let mut binding = b"tls:".to_vec();
                    if let Some(cert) = tls.get_ref().1.peer_certificates().and_then(|c| c.first()) {
                        binding.extend_from_slice(cert.as_ref());
                    }
                    let mut transport = Transport::from_io(tls, format!("tls:{peer}"));
                    transport.binding = Some(binding);
                    let _ = ready.send(transport).await;
                }
                Ok(Err(e)) => tracing::info!(%peer, error = %e, "tls handshake failed"),
                Err(_) => tracing::info!(%peer, ?timeout, "tls handshake timed out"),
            }
        });
    }
}

impl Listener for TlsListener {
    fn accept(&mut self) -> Pin<Box<dyn Future<Output = io::Result<Transport>> + Send + '_>> {
        Box::pin(async move {
            match self.ready.recv().await {
                Some(t) => Ok(t),
                None => Err(io::Error::other("the tls accept loop stopped")),
            }
        })
    }
}

/// Connects a session over TLS, once per (re)connect attempt.
#[derive(Clone)]
pub struct TlsConnect {
    addr: String,
    name: ServerName<'static>,
    connector: TlsConnector,
}

impl std::fmt::Debug for TlsConnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConnect").field("addr", &self.addr).field("name", &self.name).finish_non_exhaustive()
    }
}

impl TlsConnect {
    /// Connect to `addr` (`host:port`) and expect a certificate for
    /// `server_name` (a DNS name or an IP address).
    ///
    /// # Errors
    ///
    /// `server_name` is neither a DNS name nor an IP address.
    pub fn new(addr: impl Into<String>, server_name: &str, config: Arc<ClientConfig>) -> Result<TlsConnect, Error> {
        let name = ServerName::try_from(server_name.to_string()).map_err(tls_error)?;
        Ok(TlsConnect { addr: addr.into(), name, connector: TlsConnector::from(config) })
    }

    /// Open one TLS transport.
    ///
    /// # Errors
    ///
    /// The TCP connect or the TLS handshake failed (for example the server's
    /// certificate is not trusted).
    pub async fn transport(&self) -> io::Result<Transport> {
        let stream = TcpStream::connect(&self.addr).await?;
        let _ = stream.set_nodelay(true);
        let _ = super::stream::keep_alive(&stream);
        let tls = self.connector.connect(self.name.clone(), stream).await?;
        Ok(Transport::from_io(tls, format!("tls:{}", self.addr)))
    }
}

impl Connect for TlsConnect {
    fn connect(&self) -> Pin<Box<dyn Future<Output = io::Result<Transport>> + Send + '_>> {
        Box::pin(self.transport())
    }
    fn describe(&self) -> String {
        format!("tls:{}", self.addr)
    }
}
