//! Listeners, TLS and sessions: what every protocol front end shares.
//!
//! A [`Listener`] accepts TCP connections, bounds how many are served at once, completes
//! the TLS handshake (implicit TLS) within a deadline, gives each session an id and a
//! tracing span, and hands the stream to a [`SessionHandler`]: HTTPS today, SMTP, IMAP
//! and POP3 later. Protocols that start in clear and upgrade (SMTP submission with
//! STARTTLS) get a plain stream plus the acceptor to upgrade it with.
//!
//! On shutdown the listener stops accepting, tells every session through the
//! cancellation token, and waits (up to a grace period) for them to finish.
//!
//! Architecture invariant: knows no application protocol and no business rule.

#[cfg(feature = "devpki")]
pub mod devpki;
pub mod pki;

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use sante_types::PeerCertificate;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::Instrument;

/// What can go wrong setting up a listener.
#[derive(Debug, thiserror::Error)]
pub enum NetError {
    #[error("certificate chain: {0}")]
    Certificate(String),
    #[error("private key: {0}")]
    PrivateKey(String),
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },
}

impl sante_types::Coded for NetError {
    fn code(&self) -> &'static str {
        match self {
            NetError::Certificate(_) => "NET001",
            NetError::PrivateKey(_) => "NET002",
            NetError::Tls(_) => "NET003",
            NetError::Bind { .. } => "NET004",
        }
    }

    fn kind(&self) -> sante_types::ErrorKind {
        sante_types::ErrorKind::Internal
    }
}

/// A TLS server configuration from PEM files' contents: TLS 1.2 and 1.3 only.
pub fn server_tls_config(
    cert_chain_pem: &[u8],
    key_pem: &[u8],
    alpn: &[&[u8]],
) -> Result<Arc<rustls::ServerConfig>, NetError> {
    server_tls_config_with_clients(cert_chain_pem, key_pem, alpn, None)
}

/// The same, asking clients for a certificate checked by `clients` (see [`pki`]).
pub fn server_tls_config_with_clients(
    cert_chain_pem: &[u8],
    key_pem: &[u8],
    alpn: &[&[u8]],
    clients: Option<Arc<dyn rustls::server::danger::ClientCertVerifier>>,
) -> Result<Arc<rustls::ServerConfig>, NetError> {
    let certs: Vec<_> = rustls_pemfile::certs(&mut &cert_chain_pem[..])
        .collect::<Result<_, _>>()
        .map_err(|e| NetError::Certificate(e.to_string()))?;
    if certs.is_empty() {
        return Err(NetError::Certificate(
            "no certificate in the PEM data".into(),
        ));
    }
    let key = rustls_pemfile::private_key(&mut &key_pem[..])
        .map_err(|e| NetError::PrivateKey(e.to_string()))?
        .ok_or_else(|| NetError::PrivateKey("no private key in the PEM data".into()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?;
    let builder = match clients {
        Some(verifier) => builder.with_client_cert_verifier(verifier),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder.with_single_cert(certs, key)?;
    // The server's order of cipher suites wins (every one it offers is strong; testssl
    // counts a client-chosen order as a finding).
    config.ignore_client_order = true;
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(Arc::new(config))
}

/// A TLS configuration that can be replaced while the listener runs (a new revocation
/// list, a renewed certificate): each new connection takes the current one.
#[derive(Clone)]
pub struct SharedTlsConfig(Arc<RwLock<Arc<rustls::ServerConfig>>>);

impl SharedTlsConfig {
    pub fn new(config: Arc<rustls::ServerConfig>) -> SharedTlsConfig {
        SharedTlsConfig(Arc::new(RwLock::new(config)))
    }

    /// The configuration new connections use now.
    pub fn current(&self) -> Arc<rustls::ServerConfig> {
        match self.0.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Replaces it for connections accepted from now on.
    pub fn replace(&self, config: Arc<rustls::ServerConfig>) {
        match self.0.write() {
            Ok(mut guard) => *guard = config,
            Err(poisoned) => *poisoned.into_inner() = config,
        }
    }
}

impl From<Arc<rustls::ServerConfig>> for SharedTlsConfig {
    fn from(config: Arc<rustls::ServerConfig>) -> Self {
        SharedTlsConfig::new(config)
    }
}

/// How a listener speaks TLS.
#[derive(Clone)]
pub enum TlsMode {
    /// TLS from the first byte (HTTPS 443, SMTPS 465, IMAPS 993, POP3S 995).
    Implicit(SharedTlsConfig),
    /// Clear text first; the protocol may upgrade with STARTTLS using this config
    /// (the one current at the upgrade).
    Plain { starttls: Option<SharedTlsConfig> },
}

impl std::fmt::Debug for TlsMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TlsMode::Implicit(_) => f.write_str("Implicit"),
            TlsMode::Plain { starttls } => write!(f, "Plain(starttls: {})", starttls.is_some()),
        }
    }
}

/// What to listen on and how.
#[derive(Debug, Clone)]
pub struct ListenerSpec {
    /// A short name for logs and metrics: `https`, `smtp-submission`...
    pub name: String,
    pub addr: SocketAddr,
    pub tls: TlsMode,
    /// Sessions served at once; further connections are closed at once.
    pub max_connections: usize,
    /// Sessions served at once for one source address (an IPv6 /64); further
    /// connections from it are closed at once, so that one client cannot take every
    /// slot. Generous: an establishment's workstations may share one address.
    pub max_per_address: usize,
    /// Deadline for the TLS handshake, so idle connections cannot hold a slot.
    pub handshake_timeout: Duration,
}

impl ListenerSpec {
    /// An implicit-TLS listener with defaults suited to HTTPS.
    pub fn https(name: &str, addr: SocketAddr, tls: impl Into<SharedTlsConfig>) -> ListenerSpec {
        ListenerSpec {
            name: name.to_owned(),
            addr,
            tls: TlsMode::Implicit(tls.into()),
            max_connections: 4096,
            max_per_address: 256,
            handshake_timeout: Duration::from_secs(10),
        }
    }
}

/// A byte stream a session runs over: TLS or clear.
pub trait IoStream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> IoStream for T {}

/// Who a session is talking to.
#[derive(Clone)]
pub struct SessionInfo {
    /// Unique and time-ordered: joins logs and audit events of one session.
    pub id: uuid::Uuid,
    pub listener: String,
    pub peer: SocketAddr,
    /// Whether the stream is already TLS.
    pub tls: bool,
    /// For clear-text listeners: the configuration to upgrade with (STARTTLS), see
    /// [`SessionInfo::start_tls`].
    pub starttls: Option<SharedTlsConfig>,
    /// The certificate the client presented in the TLS handshake, verified against the
    /// listener's trusted CAs and revocation lists; `None` without one.
    pub peer_certificate: Option<Arc<PeerCertificate>>,
}

impl std::fmt::Debug for SessionInfo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionInfo")
            .field("id", &self.id)
            .field("listener", &self.listener)
            .field("peer", &self.peer)
            .field("tls", &self.tls)
            .field("client_certificate", &self.peer_certificate.is_some())
            .finish_non_exhaustive()
    }
}

impl SessionInfo {
    /// Upgrades a clear-text session to TLS (STARTTLS), within `timeout`. On success
    /// the session is marked TLS, carries the client's verified certificate if it
    /// presented one, and can no longer upgrade; the TLS stream is returned.
    pub async fn start_tls(
        &mut self,
        stream: Box<dyn IoStream>,
        timeout: Duration,
    ) -> Result<Box<dyn IoStream>, NetError> {
        let Some(config) = self.starttls.take().filter(|_| !self.tls) else {
            return Err(NetError::Tls(rustls::Error::General(
                "this session cannot start TLS".into(),
            )));
        };
        let acceptor = TlsAcceptor::from(config.current());
        match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => {
                self.tls = true;
                self.peer_certificate =
                    pki::peer_leaf(tls.get_ref().1.peer_certificates()).map(Arc::new);
                Ok(Box::new(tls))
            }
            Ok(Err(e)) => Err(NetError::Tls(rustls::Error::General(format!(
                "TLS handshake failed: {e}"
            )))),
            Err(_) => Err(NetError::Tls(rustls::Error::General(
                "TLS handshake timed out".into(),
            ))),
        }
    }
}

/// A protocol served over a listener's sessions.
pub trait SessionHandler: Send + Sync + 'static {
    /// Serves one session until it ends. `shutdown` is cancelled when the server stops:
    /// the handler finishes the exchange in progress and closes.
    fn handle(
        &self,
        stream: Box<dyn IoStream>,
        session: SessionInfo,
        shutdown: CancellationToken,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>>;
}

/// A bound listener.
pub struct Listener {
    spec: ListenerSpec,
    tcp: TcpListener,
}

impl Listener {
    /// Binds the address (port 0 picks a free port; see [`Listener::local_addr`]).
    pub async fn bind(spec: ListenerSpec) -> Result<Listener, NetError> {
        let tcp = TcpListener::bind(spec.addr)
            .await
            .map_err(|source| NetError::Bind {
                addr: spec.addr,
                source,
            })?;
        Ok(Listener { spec, tcp })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> SocketAddr {
        self.tcp.local_addr().unwrap_or(self.spec.addr)
    }

    /// Accepts and serves sessions until `shutdown` is cancelled, then waits up to
    /// `grace` for the sessions in flight.
    pub async fn serve<H: SessionHandler>(
        self,
        handler: H,
        shutdown: CancellationToken,
        grace: Duration,
    ) {
        let handler = Arc::new(handler);
        let slots = Arc::new(Semaphore::new(self.spec.max_connections.max(1)));
        let per_address = PerAddress::new(self.spec.max_per_address.max(1));
        let tracker = TaskTracker::new();
        let (implicit, starttls) = match &self.spec.tls {
            TlsMode::Implicit(config) => (Some(config.clone()), None),
            TlsMode::Plain { starttls } => (None, starttls.clone()),
        };
        let name = self.spec.name.clone();
        let timeout = self.spec.handshake_timeout;
        tracing::info!(listener = %name, addr = %self.local_addr(), "accepting connections");
        loop {
            let accepted = tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = self.tcp.accept() => accepted,
            };
            let (tcp, peer) = match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: keep serving the others.
                    tracing::warn!(listener = %name, error = %e, "accept failed");
                    continue;
                }
            };
            let Some(address_slot) = per_address.acquire(peer.ip()) else {
                tracing::warn!(listener = %name, %peer, "connection limit of the address reached; closing");
                drop(tcp);
                continue;
            };
            let Ok(slot) = slots.clone().try_acquire_owned() else {
                tracing::warn!(listener = %name, %peer, "connection limit reached; closing");
                drop(tcp);
                continue;
            };
            let _ = tcp.set_nodelay(true);
            let mut session = SessionInfo {
                id: uuid::Uuid::now_v7(),
                listener: name.clone(),
                peer,
                tls: implicit.is_some(),
                starttls: starttls.clone(),
                peer_certificate: None,
            };
            // The configuration current now: a replaced one serves the next connection.
            let acceptor = implicit
                .as_ref()
                .map(|shared| TlsAcceptor::from(shared.current()));
            let span =
                tracing::info_span!("session", id = %session.id, listener = %name, peer = %peer);
            let handler = handler.clone();
            let token = shutdown.child_token();
            tracker.spawn(
                async move {
                    let _slot = (slot, address_slot);
                    let stream = match open(tcp, acceptor, timeout).await {
                        Ok((stream, certificate)) => {
                            session.peer_certificate = certificate.map(Arc::new);
                            stream
                        }
                        Err(reason) => {
                            tracing::debug!(reason, "session refused before it began");
                            return;
                        }
                    };
                    handler.handle(stream, session, token).await;
                }
                .instrument(span),
            );
        }
        // Close the socket now so new connections are refused while sessions drain.
        drop(self.tcp);
        tracker.close();
        if tokio::time::timeout(grace, tracker.wait()).await.is_err() {
            tracing::warn!(listener = %name, "sessions still running after the grace period; dropping them");
        }
        tracing::info!(listener = %name, "stopped");
    }
}

/// The sessions of each source address, counted so that one address cannot take
/// every slot of a listener.
#[derive(Clone)]
struct PerAddress {
    limit: usize,
    counts: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
}

/// One session of an address; its count goes down when the session ends.
struct AddressSlot {
    ip: std::net::IpAddr,
    counts: Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>,
}

impl PerAddress {
    fn new(limit: usize) -> PerAddress {
        PerAddress {
            limit,
            counts: Arc::default(),
        }
    }

    /// A slot for `ip`, or `None` when its sessions are at the limit.
    fn acquire(&self, ip: std::net::IpAddr) -> Option<AddressSlot> {
        let ip = sante_types::subscriber_address(ip);
        let mut counts = self.counts.lock().ok()?;
        let count = counts.entry(ip).or_insert(0);
        if *count >= self.limit {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            ip,
            counts: self.counts.clone(),
        })
    }
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.counts.lock()
            && let Some(count) = counts.get_mut(&self.ip)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.ip);
            }
        }
    }
}

async fn open(
    tcp: TcpStream,
    acceptor: Option<TlsAcceptor>,
    timeout: Duration,
) -> Result<(Box<dyn IoStream>, Option<PeerCertificate>), &'static str> {
    match acceptor {
        None => Ok((Box::new(tcp), None)),
        Some(acceptor) => match tokio::time::timeout(timeout, acceptor.accept(tcp)).await {
            Ok(Ok(tls)) => {
                let certificate = pki::peer_leaf(tls.get_ref().1.peer_certificates());
                Ok((Box::new(tls), certificate))
            }
            Ok(Err(_)) => Err("TLS handshake failed"),
            Err(_) => Err("TLS handshake timed out"),
        },
    }
}

#[cfg(test)]
mod tests;
