//! The portal in-process: `sante-net`, the HTTPS kernel and the portal's pages on
//! 127.0.0.1 with a self-issued certificate, over real platform contexts on a fresh
//! SQLite database, and an in-memory recorder of what the front end traces. Starting
//! the whole binary costs seconds; page tests only need the front end.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;
use sante_audit::testing::TestPlatform;
use sante_audit::{AuditEvent, RecordError, Recorder};
use sante_http::{HttpConfig, Kernel, KernelParts, Readiness};
use sante_net::{Listener, ListenerSpec};
use sante_store::Backend;
use sante_types::Clock;
use tokio_util::sync::CancellationToken;

/// Keeps every event it is given, so a test can check the trail a request left.
#[derive(Debug, Default)]
pub struct MemoryRecorder {
    events: Mutex<Vec<AuditEvent>>,
}

impl MemoryRecorder {
    /// The events recorded so far, oldest first.
    pub fn events(&self) -> Vec<AuditEvent> {
        self.events.lock().map(|e| e.clone()).unwrap_or_default()
    }
}

impl Recorder for MemoryRecorder {
    fn record(
        &self,
        event: AuditEvent,
    ) -> Pin<Box<dyn Future<Output = Result<(), RecordError>> + Send + '_>> {
        Box::pin(async move {
            self.events
                .lock()
                .map_err(|_| RecordError("recorder poisoned".into()))?
                .push(event);
            Ok(())
        })
    }
}

struct AlwaysReady;

impl Readiness for AlwaysReady {
    fn check(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>> {
        Box::pin(async { Ok(()) })
    }
}

/// A running HTTPS front end. Stopped (gracefully) by [`TestServer::stop`], or
/// cancelled when dropped.
pub struct TestServer {
    /// `https://127.0.0.1:<port>`, without a trailing slash.
    pub base: String,
    pub addr: SocketAddr,
    /// The server certificate (PEM), for clients that verify it.
    pub cert_pem: String,
    /// What the front end traced (page views, refused forms).
    pub recorder: Arc<MemoryRecorder>,
    /// The platform behind the pages: its database, clock and audit trail.
    pub platform: TestPlatform,
    _db: sante_store::testing::TestDb,
    shutdown: CancellationToken,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestServer {
    /// Starts the portal with French as the default language.
    pub async fn start() -> anyhow::Result<TestServer> {
        let key = rcgen::KeyPair::generate()?;
        let cert =
            rcgen::CertificateParams::new(vec!["localhost".to_owned(), "127.0.0.1".to_owned()])?
                .self_signed(&key)?;
        let cert_pem = cert.pem();
        let tls = sante_net::server_tls_config(
            cert_pem.as_bytes(),
            key.serialize_pem().as_bytes(),
            sante_http::ALPN,
        )?;
        let loopback: SocketAddr = ([127, 0, 0, 1], 0).into();
        let listener = Listener::bind(ListenerSpec::https("https", loopback, tls)).await?;
        let addr = listener.local_addr();
        let base = format!("https://{addr}");
        let mut secret = [0u8; 32];
        getrandom(&mut secret);
        let recorder = Arc::new(MemoryRecorder::default());
        let db = sante_store::testing::fresh(Backend::Sqlite).await?;
        let platform = TestPlatform::new(db.db.clone(), sante_types::SystemClock.now()).await;
        let clock: Arc<dyn sante_types::Clock> = platform.clock.clone();
        let identity =
            sante_identity::Identity::new(db.db.clone(), platform.recorder(), clock.clone());
        let terms = sante_terms::Terms::new(db.db.clone(), platform.recorder(), clock.clone());
        let directory =
            sante_directory::Directory::new(db.db.clone(), platform.recorder(), clock.clone());
        let sso = sante_sso::Provider::open(
            db.db.clone(),
            platform.blobs.clone(),
            identity.clone(),
            platform.recorder(),
            clock.clone(),
            &base,
        )
        .await?;
        let kernel = Kernel::new(KernelParts {
            config: HttpConfig {
                public_url: base.clone(),
                default_lang: "fr".to_owned(),
                cookie_secure: true,
                secret: sante_http::CsrfKey::new(secret),
                mtls_url: None,
                limits: Default::default(),
            },
            readiness: Arc::new(AlwaysReady),
            recorder: recorder.clone(),
            clock,
            identity,
            terms,
            nav: sante_portal::nav(),
        });
        let portal = sante_portal::routes(sante_portal::PortalArea::new(
            kernel.clone(),
            directory,
            sso,
            sante_audit::Trail::new(db.db.clone()),
        ));
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(sante_http::serve_https(
            listener,
            sante_http::app(&kernel, [portal]).router,
            shutdown.clone(),
            Duration::from_secs(5),
        ));
        Ok(TestServer {
            base,
            addr,
            cert_pem,
            recorder,
            platform,
            _db: db,
            shutdown,
            task: Some(task),
        })
    }

    /// `base` joined with `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops accepting, lets requests in flight finish, and waits for the listener.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        self.shutdown.cancel();
        if let Some(task) = self.task.take() {
            task.await.context("the server task failed")?;
        }
        Ok(())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// A random CSRF secret per server: tests must not pass by sharing a constant key.
fn getrandom(out: &mut [u8; 32]) {
    use rand::RngCore;
    rand::rngs::OsRng.fill_bytes(out);
}
