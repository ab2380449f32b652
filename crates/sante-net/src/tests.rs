//! Listener behaviour over real sockets on loopback with a real TLS client.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;

struct Echo;

impl SessionHandler for Echo {
    fn handle(
        &self,
        mut stream: Box<dyn IoStream>,
        mut session: SessionInfo,
        _shutdown: CancellationToken,
    ) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
        Box::pin(async move {
            let mut buf = [0u8; 64];
            // Echo until the client closes; upgrade on "STARTTLS".
            while let Ok(n) = stream.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                if &buf[..n] == b"STARTTLS" && !session.tls {
                    match session.start_tls(stream, Duration::from_secs(5)).await {
                        Ok(tls) => {
                            stream = tls;
                            continue;
                        }
                        Err(_) => break,
                    }
                }
                let reply = if session.tls {
                    buf[..n].to_vec()
                } else {
                    b"plain".to_vec()
                };
                if stream.write_all(&reply).await.is_err() {
                    break;
                }
            }
        })
    }
}

fn certs() -> (Arc<rustls::ServerConfig>, rustls::RootCertStore) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let config =
        server_tls_config(cert.pem().as_bytes(), key.serialize_pem().as_bytes(), &[]).unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der().clone()).unwrap();
    (config, roots)
}

async fn connect_tls(
    addr: SocketAddr,
    roots: rustls::RootCertStore,
) -> std::io::Result<tokio_rustls::client::TlsStream<TcpStream>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let tcp = TcpStream::connect(addr).await?;
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
}

async fn start(spec: ListenerSpec) -> (SocketAddr, CancellationToken, tokio::task::JoinHandle<()>) {
    let listener = Listener::bind(spec).await.unwrap();
    let addr = listener.local_addr();
    let token = CancellationToken::new();
    let t = token.clone();
    let task = tokio::spawn(async move { listener.serve(Echo, t, Duration::from_secs(5)).await });
    (addr, token, task)
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[tokio::test]
async fn tls_sessions_are_served() {
    let (config, roots) = certs();
    let (addr, token, task) = start(ListenerSpec::https("test", loopback(), config)).await;
    let mut client = connect_tls(addr, roots).await.unwrap();
    client.write_all(b"hello").await.unwrap();
    let mut buf = [0u8; 5];
    client.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hello");
    drop(client);
    token.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn clear_text_on_an_implicit_tls_port_gets_nothing_back() {
    let (config, _) = certs();
    let (addr, token, task) = start(ListenerSpec::https("test", loopback(), config)).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"EHLO attacker\r\n\r\n").await.unwrap();
    let mut buf = Vec::new();
    let _ = tcp.read_to_end(&mut buf).await;
    // Whatever comes back is a TLS alert, never the application's answer.
    assert!(!buf.windows(5).any(|w| w == b"EHLO "));
    assert!(buf.is_empty() || buf[0] == 0x15, "{buf:?}");
    token.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn plain_listeners_upgrade_with_starttls() {
    let (config, roots) = certs();
    let spec = ListenerSpec {
        name: "smtp".into(),
        addr: loopback(),
        tls: TlsMode::Plain {
            starttls: Some(config.into()),
        },
        max_connections: 8,
        max_per_address: 8,
        handshake_timeout: Duration::from_secs(5),
    };
    let (addr, token, task) = start(spec).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(b"x").await.unwrap();
    let mut buf = [0u8; 5];
    tcp.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"plain");
    // STARTTLS: the same connection continues in TLS with the listener's config.
    tcp.write_all(b"STARTTLS").await.unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(client))
        .connect(
            rustls::pki_types::ServerName::try_from("localhost").unwrap(),
            tcp,
        )
        .await
        .unwrap();
    tls.write_all(b"hello").await.unwrap();
    tls.read_exact(&mut buf).await.unwrap();
    assert_eq!(&buf, b"hello");
    drop(tls);
    token.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn connections_beyond_the_limit_are_closed() {
    let (config, roots) = certs();
    let mut spec = ListenerSpec::https("test", loopback(), config);
    spec.max_connections = 1;
    let (addr, token, task) = start(spec).await;
    let mut first = connect_tls(addr, roots.clone()).await.unwrap();
    first.write_all(b"a").await.unwrap();
    let mut one = [0u8; 1];
    first.read_exact(&mut one).await.unwrap();
    // The only slot is taken: the second connection is closed without a handshake.
    assert!(connect_tls(addr, roots.clone()).await.is_err());
    drop(first);
    token.cancel();
    task.await.unwrap();
}

/// A plain session from `from` (a loopback address of its own), echoing one byte.
async fn echo_from(from: &str, addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(format!("{from}:0").parse().unwrap())?;
    let mut tcp = socket.connect(addr).await?;
    tcp.write_all(b"a").await?;
    let mut one = [0u8; 1];
    tcp.read_exact(&mut one).await?;
    Ok(tcp)
}

#[tokio::test]
async fn one_address_cannot_take_every_slot() {
    let spec = ListenerSpec {
        name: "imap".into(),
        addr: loopback(),
        tls: TlsMode::Plain { starttls: None },
        max_connections: 8,
        max_per_address: 2,
        handshake_timeout: Duration::from_secs(5),
    };
    let (addr, token, task) = start(spec).await;
    let first = echo_from("127.0.0.1", addr).await.unwrap();
    let second = echo_from("127.0.0.1", addr).await.unwrap();
    // The address holds its two slots: a third session from it is closed at once...
    assert!(echo_from("127.0.0.1", addr).await.is_err());
    // ...while another address is served.
    let other = echo_from("127.0.0.2", addr).await.unwrap();
    // A slot given back serves the address again. The server gives it back when its
    // session task ends, which the client cannot observe: retry briefly, bounded.
    drop(first);
    let mut again = None;
    for _ in 0..50 {
        if let Ok(tcp) = echo_from("127.0.0.1", addr).await {
            again = Some(tcp);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(again.is_some(), "the address's slot was not given back");
    drop((second, other, again));
    token.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn shutdown_waits_for_sessions_in_flight() {
    let (config, roots) = certs();
    let (addr, token, task) = start(ListenerSpec::https("test", loopback(), config)).await;
    let mut client = connect_tls(addr, roots.clone()).await.unwrap();
    client.write_all(b"1").await.unwrap();
    let mut one = [0u8; 1];
    client.read_exact(&mut one).await.unwrap();
    token.cancel();
    // New connections are no longer accepted...
    let refused = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if connect_tls(addr, roots.clone()).await.is_err() {
                break;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(refused.is_ok());
    // ...but the session in flight still works and the listener waits for it.
    client.write_all(b"2").await.unwrap();
    client.read_exact(&mut one).await.unwrap();
    assert_eq!(&one, b"2");
    assert!(!task.is_finished());
    drop(client);
    task.await.unwrap();
}

#[test]
fn bad_pem_is_refused_with_a_clear_error() {
    let err = server_tls_config(b"not pem", b"", &[]).err().unwrap();
    assert!(err.to_string().contains("no certificate"), "{err}");
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["x".to_owned()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let err = server_tls_config(cert.pem().as_bytes(), b"", &[])
        .err()
        .unwrap();
    assert!(err.to_string().contains("no private key"), "{err}");
}

/// A TLS 1.1 ClientHello, byte for byte: rustls cannot send one, and an old client is
/// exactly what must be turned away.
fn tls11_client_hello() -> Vec<u8> {
    let mut body = vec![0x03, 0x02]; // client_version TLS 1.1
    body.extend_from_slice(&[0x42; 32]); // random
    body.push(0); // no session id
    body.extend_from_slice(&[0x00, 0x04, 0xc0, 0x13, 0x00, 0x2f]); // two CBC suites of TLS 1.1
    body.extend_from_slice(&[0x01, 0x00]); // null compression
    let mut handshake = vec![0x01, 0x00];
    handshake.extend_from_slice(&(body.len() as u16).to_be_bytes());
    handshake.extend_from_slice(&body);
    let mut record = vec![0x16, 0x03, 0x01];
    record.extend_from_slice(&(handshake.len() as u16).to_be_bytes());
    record.extend_from_slice(&handshake);
    record
}

#[tokio::test]
async fn tls_1_1_clients_are_refused() {
    let (config, _) = certs();
    let (addr, token, task) = start(ListenerSpec::https("test", loopback(), config)).await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    tcp.write_all(&tls11_client_hello()).await.unwrap();
    let mut buf = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), tcp.read_to_end(&mut buf)).await;
    // One fatal alert record (rustls answers handshake_failure or protocol_version),
    // then the connection closes: never a ServerHello.
    assert_eq!(buf.len(), 7, "{buf:?}");
    assert_eq!(buf[0], 0x15, "{buf:?}");
    assert_eq!(buf[5], 2, "fatal: {buf:?}");
    assert!(matches!(buf[6], 40 | 70), "{buf:?}");
    token.cancel();
    task.await.unwrap();
}

#[tokio::test]
async fn a_silent_client_is_dropped_at_the_handshake_deadline() {
    let (config, _) = certs();
    let mut spec = ListenerSpec::https("test", loopback(), config);
    spec.max_connections = 1;
    spec.handshake_timeout = Duration::from_millis(200);
    let (addr, token, task) = start(spec).await;
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(Duration::from_secs(5), silent.read_to_end(&mut buf)).await;
    assert!(closed.is_ok(), "the idle connection kept its slot");
    token.cancel();
    task.await.unwrap();
}

#[cfg(feature = "devpki")]
mod client_certificates {
    //! Mutual TLS: client certificates checked against the trusted CA and its
    //! revocation list, and handed to the session.

    use super::*;
    use crate::devpki::{DevCa, SMARTCARD_CA_NAME};
    use crate::pki::{ClientTrust, client_verifier, read_revocation_list};

    #[expect(clippy::disallowed_methods)]
    fn now() -> chrono::DateTime<chrono::Utc> {
        chrono::Utc::now()
    }

    /// Answers with the subject of the client certificate, or `none`.
    struct WhoAmI;

    impl SessionHandler for WhoAmI {
        fn handle(
            &self,
            mut stream: Box<dyn IoStream>,
            session: SessionInfo,
            _shutdown: CancellationToken,
        ) -> Pin<Box<dyn Future<Output = ()> + Send + 'static>> {
            Box::pin(async move {
                let mut buf = [0u8; 1];
                if stream.read_exact(&mut buf).await.is_err() {
                    return;
                }
                let answer = session
                    .peer_certificate
                    .map(|c| format!("{}|{}", c.subject, c.serial))
                    .unwrap_or_else(|| "none".into());
                let _ = stream.write_all(answer.as_bytes()).await;
                let _ = stream.shutdown().await;
            })
        }
    }

    struct Pki {
        ca: DevCa,
        server: crate::devpki::Issued,
        server_ca: DevCa,
    }

    fn pki() -> Pki {
        let server_ca = DevCa::generate("Test server CA", now()).unwrap();
        let server = server_ca.issue_server(&["localhost"], None, now()).unwrap();
        Pki {
            ca: DevCa::generate(SMARTCARD_CA_NAME, now()).unwrap(),
            server,
            server_ca,
        }
    }

    fn config(pki: &Pki, crl: &str) -> Arc<rustls::ServerConfig> {
        let verifier = client_verifier(&ClientTrust {
            ca_pem: pki.ca.cert_pem().into_bytes(),
            crls: vec![crl.as_bytes().to_vec()],
        })
        .unwrap();
        server_tls_config_with_clients(
            pki.server.cert_pem.as_bytes(),
            pki.server.key_pem.as_bytes(),
            &[],
            Some(verifier),
        )
        .unwrap()
    }

    async fn ask(
        pki: &Pki,
        addr: SocketAddr,
        client: Option<&crate::devpki::Issued>,
    ) -> std::io::Result<String> {
        let mut roots = rustls::RootCertStore::empty();
        for c in rustls_pemfile::certs(&mut pki.server_ca.cert_pem().as_bytes()) {
            roots.add(c.unwrap()).unwrap();
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots);
        let config = match client {
            Some(issued) => {
                let chain = rustls_pemfile::certs(&mut issued.cert_pem.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .unwrap();
                let key = rustls_pemfile::private_key(&mut issued.key_pem.as_bytes())
                    .unwrap()
                    .unwrap();
                builder.with_client_auth_cert(chain, key).unwrap()
            }
            None => builder.with_no_client_auth(),
        };
        let tcp = TcpStream::connect(addr).await?;
        let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(
                rustls::pki_types::ServerName::try_from("localhost").unwrap(),
                tcp,
            )
            .await?;
        // With TLS 1.3 a refused client certificate shows at the first read.
        tls.write_all(b"?").await?;
        let mut answer = String::new();
        tls.read_to_string(&mut answer).await?;
        Ok(answer)
    }

    async fn serve(
        tls: SharedTlsConfig,
    ) -> (SocketAddr, CancellationToken, tokio::task::JoinHandle<()>) {
        let listener = Listener::bind(ListenerSpec::https("mtls", loopback(), tls))
            .await
            .unwrap();
        let addr = listener.local_addr();
        let token = CancellationToken::new();
        let t = token.clone();
        let task =
            tokio::spawn(async move { listener.serve(WhoAmI, t, Duration::from_secs(5)).await });
        (addr, token, task)
    }

    #[tokio::test]
    async fn a_valid_certificate_reaches_the_session_and_a_revoked_one_never_does() {
        let pki = pki();
        let good = pki
            .ca
            .issue_client("Dr Alice Test", 0x1001, now(), 30)
            .unwrap();
        let revoked = pki
            .ca
            .issue_client("Dr Bob Test", 0x1002, now(), 30)
            .unwrap();
        let crl = pki
            .ca
            .revocation_list(std::slice::from_ref(&revoked.serial), 1, now(), 7)
            .unwrap();
        let shared = SharedTlsConfig::new(config(&pki, &crl));
        let (addr, token, task) = serve(shared.clone()).await;

        let answer = ask(&pki, addr, Some(&good)).await.unwrap();
        assert!(answer.contains("Dr Alice Test"), "{answer}");
        assert!(answer.ends_with("|1001"), "{answer}");
        assert_eq!(ask(&pki, addr, None).await.unwrap(), "none");
        assert!(ask(&pki, addr, Some(&revoked)).await.is_err());

        // A certificate from another CA with the same name is not trusted.
        let impostor = DevCa::generate(SMARTCARD_CA_NAME, now()).unwrap();
        let forged = impostor
            .issue_client("Dr Alice Test", 0x1001, now(), 30)
            .unwrap();
        assert!(ask(&pki, addr, Some(&forged)).await.is_err());

        // A new list applies to the next connection without a restart.
        let crl2 = pki
            .ca
            .revocation_list(&[revoked.serial.clone(), good.serial.clone()], 2, now(), 7)
            .unwrap();
        shared.replace(config(&pki, &crl2));
        assert!(ask(&pki, addr, Some(&good)).await.is_err());
        token.cancel();
        task.await.unwrap();
    }

    #[tokio::test]
    async fn an_expired_certificate_or_a_stale_list_fails_the_handshake() {
        let pki = pki();
        let old = pki
            .ca
            .issue_client("Dr Old", 0x2001, now() - chrono::Duration::days(40), 30)
            .unwrap();
        let good = pki.ca.issue_client("Dr Good", 0x2002, now(), 30).unwrap();
        let crl = pki.ca.revocation_list(&[], 1, now(), 7).unwrap();
        let (addr, token, task) = serve(SharedTlsConfig::new(config(&pki, &crl))).await;
        assert!(ask(&pki, addr, Some(&old)).await.is_err());
        assert!(ask(&pki, addr, Some(&good)).await.is_ok());
        token.cancel();
        task.await.unwrap();

        let stale = pki
            .ca
            .revocation_list(&[], 2, now() - chrono::Duration::days(30), 7)
            .unwrap();
        let (addr, token, task) = serve(SharedTlsConfig::new(config(&pki, &stale))).await;
        assert!(ask(&pki, addr, Some(&good)).await.is_err());
        // Without a certificate the session goes on: the routes that need one refuse.
        assert_eq!(ask(&pki, addr, None).await.unwrap(), "none");
        token.cancel();
        task.await.unwrap();
    }

    #[test]
    fn a_ca_without_a_revocation_list_is_refused_at_configuration() {
        let pki = pki();
        let err = client_verifier(&ClientTrust {
            ca_pem: pki.ca.cert_pem().into_bytes(),
            crls: vec![],
        })
        .err()
        .unwrap();
        assert!(err.to_string().contains("no revocation list"), "{err}");
        let err = client_verifier(&ClientTrust::default()).err().unwrap();
        assert!(err.to_string().contains("no issuing CA"), "{err}");
    }

    #[test]
    fn revocation_lists_and_certificates_are_read() {
        let pki = pki();
        let issued = pki.ca.issue_client("Dr Carol", 0xabc, now(), 30).unwrap();
        let cert = crate::pki::read_certificate(&issued.cert_der).unwrap();
        assert_eq!(cert.serial, "abc");
        assert!(cert.issuer.contains(SMARTCARD_CA_NAME), "{}", cert.issuer);
        assert!(cert.subject.contains("Dr Carol"));
        assert_eq!(cert.sha256.len(), 64);
        // rcgen makes P-256 keys: the uncompressed point.
        assert_eq!(cert.key_algorithm, "ec-p256");
        assert_eq!(cert.public_key.len(), 65);
        assert_eq!(cert.public_key[0], 4);
        let crl = pki
            .ca
            .revocation_list(&["abc".into()], 3, now(), 7)
            .unwrap();
        let list = read_revocation_list(crl.as_bytes()).unwrap();
        assert_eq!(list.serials, vec!["abc".to_owned()]);
        assert_eq!(list.issuer, cert.issuer);
        assert!(read_revocation_list(b"garbage").is_err());
    }

    #[test]
    fn a_server_certificate_names_where_its_ca_publishes_revocations() {
        use der::Decode;
        use x509_cert::ext::pkix::CrlDistributionPoints;
        use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
        let ca = crate::devpki::DevCa::generate("Server CA", now()).unwrap();
        let urls = |issued: &crate::devpki::Issued| -> Vec<String> {
            let cert = x509_cert::Certificate::from_der(&issued.cert_der).unwrap();
            // id-ce-cRLDistributionPoints
            let Some(ext) = cert
                .tbs_certificate
                .extensions
                .iter()
                .flatten()
                .find(|e| e.extn_id.to_string() == "2.5.29.31")
            else {
                return Vec::new();
            };
            let points = CrlDistributionPoints::from_der(ext.extn_value.as_bytes()).unwrap();
            points
                .0
                .iter()
                .filter_map(|p| match &p.distribution_point {
                    Some(DistributionPointName::FullName(names)) => Some(names),
                    _ => None,
                })
                .flatten()
                .filter_map(|n| match n {
                    GeneralName::UniformResourceIdentifier(uri) => Some(uri.to_string()),
                    _ => None,
                })
                .collect()
        };
        let url = "https://localhost:8443/pki/ca.crl";
        let named = ca.issue_server(&["localhost"], Some(url), now()).unwrap();
        assert_eq!(urls(&named), vec![url.to_owned()]);
        let unnamed = ca.issue_server(&["localhost"], None, now()).unwrap();
        assert!(urls(&unnamed).is_empty());
    }
}
