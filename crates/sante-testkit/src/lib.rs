//! Test harness shared by the integration tests.
//!
//! [`Browser`] drives Debian's headless Chromium through chromedriver (WebDriver), so
//! portal pages are tested in a real browser: real TLS, real CSP enforcement, real
//! form submission. [`TestServer`] runs the HTTPS front end in-process on loopback with
//! a throw-away certificate and an in-memory audit recorder, for tests that need the
//! front end but not the whole binary.

mod server;

pub use server::{MemoryRecorder, TestServer};

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};
use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A headless Chromium session. The chromedriver process is killed on drop.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    _home: Option<tempfile::TempDir>,
}

/// The managed policy through which Chromium presents test cards without asking.
pub const CARD_POLICY: &str = "/etc/chromium/policies/managed/sante-test-cards.json";

fn run_tool(program: &str, args: &[&str]) -> anyhow::Result<()> {
    #[expect(clippy::disallowed_methods)]
    let out = Command::new(program).args(args).output().with_context(|| {
        format!("cannot run {program} (apt-get install libnss3-tools, or run `cargo xtask deps`)")
    })?;
    if !out.status.success() {
        bail!(
            "{program} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// The WebDriver extension command adding a virtual authenticator (W3C WebAuthn §11).
#[derive(Debug)]
struct VirtualAuthenticator;

impl fantoccini::wd::WebDriverCompatibleCommand for VirtualAuthenticator {
    fn endpoint(
        &self,
        base_url: &url::Url,
        session_id: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base_url.join(&format!(
            "session/{}/webauthn/authenticator",
            session_id.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _request_url: &url::Url) -> (http::Method, Option<String>) {
        let body = serde_json::json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserConsenting": true,
            "isUserVerified": true,
        });
        (http::Method::POST, Some(body.to_string()))
    }
}

/// Chromium, from `SANTE_CHROMIUM` or Debian's package.
fn chromium() -> String {
    std::env::var("SANTE_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned())
}

fn chromedriver() -> String {
    std::env::var("SANTE_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".to_owned())
}

impl Browser {
    /// A browser whose user prefers French, the country's authoritative language.
    pub async fn start() -> anyhow::Result<Browser> {
        Browser::start_with_language("fr-LU,fr").await
    }

    /// Starts chromedriver on a free loopback port and opens a headless session that
    /// accepts the development certificates and sends `accept_language`.
    pub async fn start_with_language(accept_language: &str) -> anyhow::Result<Browser> {
        Browser::launch(accept_language, None).await
    }

    /// A browser holding a client certificate (a development card, PKCS#12) in its own
    /// NSS database, as a professional's browser holds his card's. Chromium presents
    /// it to the sites the managed policy `AutoSelectCertificateForUrls` names
    /// (installed by `cargo xtask deps`: `https://localhost:*`, issuer
    /// [`sante_net::devpki::SMARTCARD_CA_NAME`]).
    pub async fn start_with_card(
        accept_language: &str,
        pkcs12: &std::path::Path,
        password: &str,
    ) -> anyhow::Result<Browser> {
        if !std::path::Path::new(CARD_POLICY).exists() {
            bail!(
                "{CARD_POLICY} is missing: run `cargo xtask deps` (as root) to install the browser policy that presents test cards"
            );
        }
        let home = tempfile::tempdir()?;
        let db = home.path().join(".pki/nssdb");
        std::fs::create_dir_all(&db)?;
        let db_arg = format!("sql:{}", db.display());
        run_tool("certutil", &["-N", "-d", &db_arg, "--empty-password"])?;
        run_tool(
            "pk12util",
            &[
                "-i",
                &pkcs12.to_string_lossy(),
                "-d",
                &db_arg,
                "-W",
                password,
            ],
        )?;
        Browser::launch(accept_language, Some(home)).await
    }

    async fn launch(
        accept_language: &str,
        home: Option<tempfile::TempDir>,
    ) -> anyhow::Result<Browser> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        #[expect(clippy::disallowed_methods)]
        let mut command = Command::new(chromedriver());
        if let Some(home) = &home {
            // Chromium on Linux reads client certificates from $HOME/.pki/nssdb.
            command.env("HOME", home.path());
        }
        let driver = command
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("cannot start chromedriver (apt-get install chromium-driver, or run `cargo xtask test`)")?;
        let mut browser_driver = DriverGuard(Some(driver));
        // Bounded wait (about 30 s) for chromedriver to answer `/status` as ready.
        let mut up = false;
        for _ in 0..600 {
            if driver_ready(port).await {
                up = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        if !up {
            bail!("chromedriver did not become ready on port {port}");
        }
        let profile = tempfile::tempdir()?;
        let capabilities = serde_json::json!({
            "browserName": "chrome",
            "acceptInsecureCerts": true,
            "goog:chromeOptions": {
                "binary": chromium(),
                // The machine has no network: these flags stop Chromium from reaching for it.
                "args": [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-dev-shm-usage",
                    "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
                "prefs": {"intl": {"accept_languages": accept_language}},
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            bail!("capabilities must be an object");
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .context("cannot open a Chromium session through chromedriver")?;
        Ok(Browser {
            client,
            driver: browser_driver.0.take().context("driver")?,
            _profile: profile,
            _home: home,
        })
    }

    /// Adds a virtual WebAuthn authenticator (CTAP2, platform, resident keys, user
    /// verification that always succeeds) to the session, through the WebDriver
    /// extension: the page's passkey ceremonies then run for real against it.
    pub async fn add_virtual_authenticator(&self) -> anyhow::Result<String> {
        let answer = self
            .client
            .issue_cmd(VirtualAuthenticator)
            .await
            .context("adding a virtual authenticator")?;
        answer
            .as_str()
            .map(str::to_owned)
            .context("the driver did not return the authenticator's id")
    }

    pub async fn goto(&self, url: &str) -> anyhow::Result<()> {
        self.client.goto(url).await?;
        Ok(())
    }

    /// The address the browser shows now (after redirects).
    pub async fn current_url(&self) -> anyhow::Result<String> {
        Ok(self.client.current_url().await?.to_string())
    }

    /// The first element matching `css`, for what the helpers below do not cover.
    pub async fn find(&self, css: &str) -> anyhow::Result<Element> {
        self.client
            .find(Locator::Css(css))
            .await
            .with_context(|| format!("no element matches `{css}`"))
    }

    /// Types `value` into the field matching `css`, replacing what it held.
    pub async fn fill(&self, css: &str, value: &str) -> anyhow::Result<()> {
        let field = self.find(css).await?;
        field.clear().await?;
        field.send_keys(value).await?;
        Ok(())
    }

    /// Waits (bounded, about 10 s) until the first element matching `css` contains
    /// `needle`, as after a form submission.
    pub async fn wait_for_text(&self, css: &str, needle: &str) -> anyhow::Result<String> {
        for _ in 0..200 {
            if let Ok(text) = self.text(css).await
                && text.contains(needle)
            {
                return Ok(text);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let seen = self.text(css).await.unwrap_or_default();
        bail!("`{css}` never contained {needle:?} (it holds {seen:?})")
    }

    /// The text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> anyhow::Result<String> {
        Ok(self.client.find(Locator::Css(css)).await?.text().await?)
    }

    /// An attribute of the first element matching `css`.
    pub async fn attr(&self, css: &str, name: &str) -> anyhow::Result<Option<String>> {
        Ok(self
            .client
            .find(Locator::Css(css))
            .await?
            .attr(name)
            .await?)
    }

    pub async fn click(&self, css: &str) -> anyhow::Result<()> {
        self.client.find(Locator::Css(css)).await?.click().await?;
        Ok(())
    }

    pub async fn select(&self, css: &str, value: &str) -> anyhow::Result<()> {
        self.client
            .find(Locator::Css(css))
            .await?
            .select_by_value(value)
            .await?;
        Ok(())
    }

    pub async fn count(&self, css: &str) -> anyhow::Result<usize> {
        Ok(self.client.find_all(Locator::Css(css)).await?.len())
    }

    /// Runs a script in the page (the test's own, not the page's: CSP does not apply to
    /// WebDriver scripts).
    pub async fn eval(&self, script: &str) -> anyhow::Result<serde_json::Value> {
        Ok(self.client.execute(script, vec![]).await?)
    }

    /// Runs an asynchronous script in the page: it ends by calling its last argument
    /// (`arguments[arguments.length - 1]`) with the result.
    pub async fn eval_async(&self, script: &str) -> anyhow::Result<serde_json::Value> {
        Ok(self.client.execute_async(script, vec![]).await?)
    }

    /// The cookies of the current page's site, `(name, value)`, HttpOnly ones included
    /// (WebDriver sees what scripts cannot).
    pub async fn cookies(&self) -> anyhow::Result<Vec<(String, String)>> {
        Ok(self
            .client
            .get_all_cookies()
            .await?
            .into_iter()
            .map(|c| (c.name().to_owned(), c.value().to_owned()))
            .collect())
    }

    /// Waits (bounded, about 10 s) until `html[lang]` is `lang`, as after a navigation.
    pub async fn wait_for_lang(&self, lang: &str) -> anyhow::Result<()> {
        for _ in 0..200 {
            if self.attr("html", "lang").await.ok().flatten().as_deref() == Some(lang) {
                return Ok(());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let seen = self.attr("html", "lang").await.ok().flatten();
        let url = self
            .client
            .current_url()
            .await
            .map(|u| u.to_string())
            .unwrap_or_default();
        bail!("page language never became {lang} (it is {seen:?} at {url})")
    }

    /// Saves a PNG screenshot, for a person to look at.
    pub async fn screenshot(&self, path: &std::path::Path) -> anyhow::Result<()> {
        let png = self.client.screenshot().await?;
        std::fs::write(path, png)?;
        Ok(())
    }

    /// Ends the session and the driver.
    pub async fn close(mut self) -> anyhow::Result<()> {
        let client = self.client.clone();
        client.close().await?;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
        Ok(())
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

/// Whether chromedriver on `port` answers `/status` with `"ready": true`. One request
/// by hand: enough on loopback, and no client to configure. Chromedriver keeps the
/// socket open despite `Connection: close`, so the answer ends when its JSON body is
/// complete, not at end of stream.
async fn driver_ready(port: u16) -> bool {
    let Ok(mut tcp) = tokio::net::TcpStream::connect(("127.0.0.1", port)).await else {
        return false;
    };
    let request =
        format!("GET /status HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n");
    if tcp.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let read = async {
        let mut answer = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            match tcp.read(&mut chunk).await {
                Ok(0) | Err(_) => return None,
                Ok(n) => answer.extend_from_slice(&chunk[..n]),
            }
            let text = String::from_utf8_lossy(&answer);
            if let Some((head, body)) = text.split_once("\r\n\r\n")
                && let Ok(json) = serde_json::from_str::<serde_json::Value>(body)
            {
                return Some((head.starts_with("HTTP/1.1 200"), json));
            }
        }
    };
    match tokio::time::timeout(Duration::from_secs(2), read).await {
        Ok(Some((true, json))) => {
            json.pointer("/value/ready") == Some(&serde_json::Value::Bool(true))
        }
        _ => false,
    }
}

/// Kills chromedriver if the session could not be opened.
struct DriverGuard(Option<Child>);

impl Drop for DriverGuard {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
