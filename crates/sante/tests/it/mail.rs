//! Secure messaging with real mail clients from the registries (MSG-4, MSG-5, MSG-11,
//! MSG-13, MSG-15): Python's smtplib, poplib and imaplib, swaks, curl, mutt and
//! isync (mbsync) against the demo's listeners; the refusals (plaintext login,
//! unauthenticated submission, spoofed sender, open relay, infected message); and
//! no acknowledged message lost when the server is killed right after its 250, on
//! SQLite and on PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

use crate::harness::*;

/// A running demo and its professional's mail credentials.
pub(crate) struct MailDemo {
    pub(crate) server: Server,
    _dir: tempfile::TempDir,
    /// The demo directory (configuration, `tls/ca.crt`).
    pub(crate) root: PathBuf,
    env: Vec<(String, String)>,
    pub(crate) ports: MailPorts,
    /// The card-login (mutual TLS) listener's port.
    pub(crate) mtls_port: u16,
    address: String,
    login: String,
    password: String,
}

impl MailDemo {
    pub(crate) fn start(extra_env: Vec<(String, String)>) -> MailDemo {
        let dir = tempfile::tempdir().unwrap();
        let [port, mtls] = free_ports();
        let ports = MailPorts::free();
        let mut env = ports.env();
        env.extend(extra_env);
        let server = Server::start_with_env(
            dir.path(),
            &[
                "demo",
                "--dir",
                "demo",
                "--listen",
                &format!("127.0.0.1:{port}"),
                "--mtls-listen",
                &format!("127.0.0.1:{mtls}"),
            ],
            &env,
        );
        let mut printed = Vec::new();
        let line = loop {
            let line = server
                .lines
                .recv_timeout(std::time::Duration::from_secs(60))
                .unwrap_or_else(|_| panic!("no messaging login printed:\n{}", printed.join("\n")));
            if line.contains("secure messaging: address") {
                break line;
            }
            printed.push(line);
        };
        let after = |what: &str| -> String {
            line.split(what)
                .nth(1)
                .and_then(|rest| rest.split([' ', ',']).next())
                .unwrap_or_else(|| panic!("no {what:?} in {line:?}"))
                .to_owned()
        };
        MailDemo {
            address: after("address "),
            login: after("login "),
            password: after("application password "),
            root: dir.path().join("demo"),
            server,
            _dir: dir,
            env,
            ports,
            mtls_port: mtls,
        }
    }

    /// The HTTPS listener's port.
    pub(crate) fn https_port(&self) -> u16 {
        let port = self.server.base.rsplit(':').next().unwrap();
        port.parse().unwrap()
    }

    fn ca(&self) -> String {
        self.root.join("tls/ca.crt").to_string_lossy().into_owned()
    }

    /// `python3 SCRIPT CONFIG` with this demo's ports and credentials as JSON.
    fn python(&self, script: &Path) -> Output {
        self.python_with(script, serde_json::Map::new())
    }

    /// The same, with `extra` keys in the configuration.
    pub(crate) fn python_with(
        &self,
        script: &Path,
        extra: serde_json::Map<String, Value>,
    ) -> Output {
        let mut config = serde_json::json!({
            "ca": self.ca(),
            "address": self.address,
            "login": self.login,
            "password": self.password,
            "submission": self.ports.submission,
            "submissions": self.ports.submissions,
            "inbound": self.ports.inbound,
            "pop3": self.ports.pop3,
            "imap": self.ports.imap,
            "pid": self.server.child.id(),
        });
        config.as_object_mut().unwrap().extend(extra);
        tool("python3")
            .arg(script)
            .arg(config.to_string())
            .output()
            .expect("python3")
    }

    /// `curl URL` as `user` with this demo's application password, trusting its CA.
    fn curl_as(&self, user: &str, url: &str) -> Output {
        tool("curl")
            .args(["-sS", "--cacert", &self.ca(), "--user"])
            .arg(format!("{user}:{}", self.password))
            .arg(url)
            .output()
            .unwrap()
    }

    /// `curl URL` with the demo professional's login.
    fn curl(&self, url: &str) -> Output {
        self.curl_as(&self.login, url)
    }

    fn pop3_url(&self, path: &str) -> String {
        format!("pop3s://127.0.0.1:{}/{path}", self.ports.pop3)
    }

    /// The messages POP3 lists, as curl sees them.
    pub(crate) fn pop3_listing(&self) -> Vec<String> {
        let out = self.curl(&self.pop3_url(""));
        assert!(out.status.success(), "curl POP3: {}", stderr(&out));
        stdout(&out).lines().map(str::to_owned).collect()
    }
}

#[expect(clippy::disallowed_methods)]
pub(crate) fn tool(program: &str) -> Command {
    Command::new(program)
}

pub(crate) fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/mail")
        .join(name)
}

pub(crate) fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what}: {}\n{}",
        stdout(out),
        stderr(out)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_mail_clients_submit_and_fetch_and_every_forbidden_attempt_is_refused() {
    let demo = MailDemo::start(Vec::new());

    // Python's smtplib and poplib: the rules, step by step.
    let out = demo.python(&script("clients.py"));
    assert_ok(&out, "clients.py");
    let got: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let code = |key: &str| got[key].as_i64().unwrap_or_else(|| panic!("{key}: {got}"));
    // No password crosses in clear: AUTH is not offered, and refused, before STARTTLS.
    assert_eq!(got["auth_offered_in_clear"], false, "{got}");
    assert_eq!(got["starttls_offered"], true, "{got}");
    assert_eq!(code("plaintext_auth"), 538, "{got}");
    for ext in [
        "8bitmime",
        "auth",
        "enhancedstatuscodes",
        "pipelining",
        "size",
        "smtputf8",
    ] {
        assert!(
            got["extensions"]
                .as_array()
                .unwrap()
                .iter()
                .any(|e| e == ext),
            "{ext} missing: {got}"
        );
    }
    // Unauthenticated submission, wrong password, spoofed sender, open relay, virus.
    assert_eq!(code("unauthenticated_mail"), 530, "{got}");
    assert_eq!(code("wrong_password"), 535, "{got}");
    assert_eq!(code("spoofed_sender"), 553, "{got}");
    assert_eq!(code("relay_to_outside"), 550, "{got}");
    assert_eq!(code("infected"), 554, "{got}");
    assert_eq!(got["utf8_refusals"], serde_json::json!({}), "{got}");
    assert_eq!(got["implicit_tls_refusals"], serde_json::json!({}), "{got}");
    // Smuggling and forged authors (MSG-13): every variant refused, its session
    // closed before anything behind it is read, and no second message anywhere.
    for (variant, reply) in got["smuggling"].as_object().unwrap() {
        assert_eq!(reply, &serde_json::json!([550, true]), "{variant}: {got}");
    }
    assert_eq!(code("after_smuggling"), 250, "{got}");
    assert_eq!(code("forged_from"), 553, "{got}");
    assert_eq!(code("forged_sender"), 553, "{got}");
    assert_eq!(got["pop3_has_smuggled"], false, "{got}");
    // Port 25: TLS first, no AUTH, no relay, strangers refused.
    assert_eq!(code("inbound_clear_mail"), 530, "{got}");
    assert_eq!(got["inbound_auth_offered"], false, "{got}");
    assert_eq!(code("inbound_open_relay"), 550, "{got}");
    assert_eq!(code("inbound_from_stranger"), 550, "{got}");
    // POP3: the two accepted messages, UIDL, TOP without the body, RETR with it.
    assert_eq!(code("pop3_count"), 2, "{got}");
    for capa in ["UIDL", "TOP", "SASL", "USER"] {
        assert!(
            got["pop3_capa"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == capa),
            "{capa}: {got}"
        );
    }
    assert!(
        got["pop3_wrong_password"]
            .as_str()
            .unwrap()
            .starts_with("-ERR [AUTH]"),
        "{got}"
    );
    assert_eq!(got["pop3_uidl"].as_array().unwrap().len(), 2, "{got}");
    assert_eq!(got["pop3_top_has_subject"], true, "{got}");
    assert_eq!(got["pop3_top_has_no_body"], true, "{got}");
    assert_eq!(got["pop3_retr_has_body"], true, "{got}");

    // swaks, over STARTTLS and over implicit TLS; and refused without AUTH.
    let swaks = |args: &[&str]| {
        tool("swaks")
            .args([
                "--server",
                "127.0.0.1",
                "--from",
                &demo.address,
                "--to",
                &demo.address,
            ])
            .args(args)
            .output()
            .unwrap()
    };
    let submission = demo.ports.submission.to_string();
    let submissions = demo.ports.submissions.to_string();
    let auth = [
        "--auth-user",
        demo.login.as_str(),
        "--auth-password",
        demo.password.as_str(),
    ];
    let out = swaks(
        &[
            &["--port", &submission, "--tls", "--auth", "PLAIN"][..],
            &auth,
            &["--header", "Subject: swaks over STARTTLS"],
        ]
        .concat(),
    );
    assert_ok(&out, "swaks STARTTLS");
    let out = swaks(
        &[
            &[
                "--port",
                &submissions,
                "--tls-on-connect",
                "--auth",
                "LOGIN",
            ][..],
            &auth,
            &["--header", "Subject: swaks over implicit TLS"],
        ]
        .concat(),
    );
    assert_ok(&out, "swaks implicit TLS");
    let out = swaks(&["--port", &submission, "--tls", "--quit-after", "RCPT"]);
    assert!(!out.status.success());
    assert!(stdout(&out).contains("530 5.7.0"), "{}", stdout(&out));

    // curl: SMTP with STARTTLS required.
    let eml = demo.root.join("curl.eml");
    std::fs::write(
        &eml,
        format!(
            "From: {0}\r\nTo: {0}\r\nSubject: sent by curl\r\n\r\nCompte rendu.\r\n",
            demo.address
        ),
    )
    .unwrap();
    let out = tool("curl")
        .args(["-sS", "--ssl-reqd", "--cacert", &demo.ca()])
        .arg("--url")
        .arg(format!("smtp://127.0.0.1:{}", demo.ports.submission))
        .args(["--mail-from", &demo.address, "--mail-rcpt", &demo.address])
        .arg("--upload-file")
        .arg(&eml)
        .arg("--user")
        .arg(format!("{}:{}", demo.login, demo.password))
        .output()
        .unwrap();
    assert_ok(&out, "curl SMTP");

    // mutt, a full mail program, sends in batch mode over implicit TLS.
    let muttrc = demo.root.join("muttrc");
    std::fs::write(
        &muttrc,
        format!(
            "set from=\"{address}\"\nset realname=\"Petra Meyer\"\n\
             set smtp_url=\"smtps://{login}@127.0.0.1:{port}/\"\nset smtp_pass=\"{password}\"\n\
             set ssl_ca_certificates_file=\"{ca}\"\nset ssl_force_tls=yes\n\
             set certificate_file=\"{certs}\"\nset record=\"\"\nset charset=\"utf-8\"\n",
            address = demo.address,
            login = demo.login,
            port = demo.ports.submissions,
            password = demo.password,
            ca = demo.ca(),
            certs = demo.root.join("mutt-certs").display(),
        ),
    )
    .unwrap();
    let mut mutt = tool("mutt")
        .arg("-n")
        .arg("-F")
        .arg(&muttrc)
        .args(["-s", "sent by mutt", &demo.address])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        mutt.stdin
            .take()
            .unwrap()
            .write_all("Compte rendu envoyé par mutt.\n".as_bytes())
            .unwrap();
    }
    let out = mutt.wait_with_output().unwrap();
    assert_ok(&out, "mutt");

    // Everything accepted is in the inbox, as curl's POP3 lists it.
    let listing = demo.pop3_listing();
    assert_eq!(listing.len(), 6, "{listing:?}");

    // The home page offers the messaging this platform runs.
    let http = client(&demo.root);
    let home = http
        .get(format!("{}/", demo.server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(home.contains("id=\"service-messaging\""), "{home}");

    // Mail programs configure themselves from the address, and log in with it.
    let config = http
        .get(format!(
            "{}/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress={}",
            demo.server.base, demo.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(config.status(), 200);
    let config = config.text().await.unwrap();
    assert!(
        config.contains(&format!(
            "<incomingServer type=\"pop3\">\n      <hostname>localhost</hostname>\n      <port>{}</port>",
            demo.ports.pop3
        )),
        "{config}"
    );
    assert!(config.contains(&format!("<port>{}</port>", demo.ports.submissions)));
    let stranger = http
        .get(format!(
            "{}/.well-known/autoconfig/mail/config-v1.1.xml?emailaddress=someone@gmail.com",
            demo.server.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(stranger.status(), 404);
    let outlook = http
        .post(format!("{}/autodiscover/autodiscover.xml", demo.server.base))
        .body(format!(
            "<?xml version=\"1.0\"?><Autodiscover xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006\"><Request><EMailAddress>{}</EMailAddress><AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema></Request></Autodiscover>",
            demo.address
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(outlook.status(), 200);
    let outlook = outlook.text().await.unwrap();
    assert!(
        outlook.contains(&format!("<LoginName>{}</LoginName>", demo.address)),
        "{outlook}"
    );
    let by_address = demo.curl_as(&demo.address, &demo.pop3_url(""));
    assert_ok(&by_address, "curl POP3 with the address as login");
    assert_eq!(stdout(&by_address).lines().count(), 6);

    // The operator's usage indicators count envelopes and refusals, nothing more
    // (MSG-17); the outbound queue is empty (no partner domain in the demo).
    let config = demo.root.join("sante.toml");
    let config = config.to_str().unwrap();
    let out = run(
        &demo.root,
        &[
            "--config",
            config,
            "messaging",
            "indicators",
            "--from",
            "2000-01-01",
            "--until",
            "2100-01-01",
        ],
    );
    assert_ok(&out, "sante messaging indicators");
    let indicators: Value = serde_json::from_str(&stdout(&out)).unwrap();
    assert_eq!(
        indicators["accepted"]["submission"]["messages"], 6,
        "{indicators}"
    );
    assert_eq!(indicators["refused"]["virus_found"], 1, "{indicators}");
    assert!(!stdout(&out).contains("cordialement"));
    let out = run(&demo.root, &["--config", config, "messaging", "queue"]);
    assert_ok(&out, "sante messaging queue");
    assert!(
        stdout(&out).contains("0 message(s) queued"),
        "{}",
        stdout(&out)
    );
    let out = run(
        &demo.root,
        &[
            "--config",
            config,
            "messaging",
            "indicators",
            "--from",
            "yesterday",
            "--until",
            "2100-01-01",
        ],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--from"), "{}", stderr(&out));

    // A new version of the messaging terms: mail programs are refused until the
    // professional accepts it on the portal (TOU-1).
    for (lang, text) in [
        ("fr", "Conditions v2\nTexte."),
        ("de", "Bedingungen v2\nText."),
        ("en", "Terms v2\nText."),
    ] {
        std::fs::write(demo.root.join(format!("terms-{lang}.md")), text).unwrap();
    }
    let file = |lang: &str| {
        demo.root
            .join(format!("terms-{lang}.md"))
            .display()
            .to_string()
    };
    let out = run(
        &demo.root,
        &[
            "--config",
            config,
            "terms",
            "publish",
            "--document",
            "messaging",
            "--fr",
            &file("fr"),
            "--de",
            &file("de"),
            "--en",
            &file("en"),
        ],
    );
    assert_ok(&out, "sante terms publish");
    let refused = tool("python3")
        .arg("-c")
        .arg(
            "import poplib, ssl, sys\n\
             c = ssl.create_default_context(cafile=sys.argv[1])\n\
             p = poplib.POP3_SSL('127.0.0.1', int(sys.argv[2]), context=c)\n\
             p.user(sys.argv[3])\n\
             try:\n    p.pass_(sys.argv[4]); print('accepted')\n\
             except poplib.error_proto as e:\n    print(e.args[0].decode())\n",
        )
        .arg(demo.ca())
        .arg(demo.ports.pop3.to_string())
        .arg(&demo.login)
        .arg(&demo.password)
        .output()
        .unwrap();
    assert_ok(&refused, "poplib");
    assert!(
        stdout(&refused).contains("-ERR [AUTH] accept the terms of use"),
        "{}",
        stdout(&refused)
    );

    // Closure at the holder's request (MSG-12): logins and mail stop at once.
    let out = run(
        &demo.root,
        &[
            "--config",
            config,
            "messaging",
            "close",
            "--address",
            &demo.address,
        ],
    );
    assert_ok(&out, "sante messaging close");
    assert!(
        stdout(&out).contains("will be purged by"),
        "{}",
        stdout(&out)
    );
    let closed = demo.curl(&demo.pop3_url(""));
    assert!(!closed.status.success(), "a closed mailbox still logs in");
    let out = run(
        &demo.root,
        &[
            "--config",
            config,
            "messaging",
            "close",
            "--address",
            "not an address",
        ],
    );
    assert!(!out.status.success());
    assert!(stderr(&out).contains("--address"), "{}", stderr(&out));
    assert!(demo.server.stop().success());

    // The data directory read raw (database, its journal, blobs) shows none of what
    // the demo holds: no mail, no DSP document, no national number, no authenticator
    // seed (PLT-10).
    let logins = std::fs::read_to_string(demo.root.join("demo-logins.txt")).unwrap();
    let seed = field(&logins, "authenticator key");
    let national_number = field(&logins, "national number");
    assert_nothing_in_clear(
        &demo.root.join("data"),
        &[
            "voici les r",
            "sultats d'analyse",
            "cordialement",
            // The demo patient's record: a document's text and a title.
            "nicilline (urticaire",
            "Bilan de soins infirmiers",
            &seed,
            &national_number,
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imap_clients_read_file_search_and_synchronise_the_mailbox() {
    let demo = MailDemo::start(Vec::new());
    let out = demo.python(&script("imap_client.py"));
    assert_ok(&out, "imap_client.py");
    let got: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let text = |key: &str| got[key].to_string();
    for cap in [
        "IMAP4REV2",
        "IMAP4REV1",
        "IDLE",
        "MOVE",
        "UIDPLUS",
        "QUOTA",
        "CONDSTORE",
        "SPECIAL-USE",
        "UTF8=ACCEPT",
    ] {
        assert!(text("capabilities").contains(cap), "{cap}: {got}");
    }
    assert!(
        text("wrong_password").contains("AUTHENTICATIONFAILED"),
        "{got}"
    );
    assert!(text("folders").contains(r#"\\Sent"#), "{got}");
    assert_eq!(got["create"], "OK", "{got}");
    assert_eq!(got["create_again"], "NO", "{got}");
    assert_eq!(got["append"], "OK", "{got}");
    assert_eq!(got["appenduid"].as_array().unwrap().len(), 1, "{got}");
    assert_eq!(got["append_nowhere"], "NO", "{got}");
    assert_eq!(got["select_exists"], 1, "{got}");
    // ENVELOPE and BODYSTRUCTURE describe the multipart message.
    let meta = text("fetch_meta");
    assert!(
        meta.contains("Bilan cardiaque") && meta.contains("<bilan-1@sante.example>"),
        "{meta}"
    );
    assert!(meta.contains(r#"\"APPLICATION\" \"PDF\""#), "{meta}");
    assert!(meta.contains(r#"\"MIXED\""#), "{meta}");
    // Parts, header fields and partial ranges; PEEK leaves \Seen alone, a read sets it.
    assert_eq!(got["part1"], "Le bilan est normal.", "{got}");
    assert_eq!(got["part2_mime_has_pdf"], true, "{got}");
    assert_eq!(
        got["subject_field"], "Subject: Bilan cardiaque\r\n\r\n",
        "{got}"
    );
    assert_eq!(got["partial"], "From: Dr Meyer <petr", "{got}");
    assert!(!text("flags_after_peek").contains("Seen"), "{got}");
    assert!(text("flags_after_read").contains(r#"\\Seen"#), "{got}");
    assert!(text("flags_after_read").contains("MODSEQ"), "{got}");
    // SEARCH by header, body and flags.
    assert_eq!(got["search_subject"], "1", "{got}");
    assert_eq!(got["search_body"], "1", "{got}");
    assert_eq!(got["search_none"], "", "{got}");
    // CONDSTORE: a STORE on a stale MODSEQ is refused with MODIFIED.
    assert!(text("store_stale").contains("[b'1']"), "{got}");
    assert!(text("store").contains("$Urgent"), "{got}");
    // UIDPLUS COPYUID, MOVE, EXPUNGE, STATUS and the quota.
    assert_eq!(got["copy"], "OK", "{got}");
    assert_eq!(got["copyuid"].as_array().unwrap().len(), 1, "{got}");
    assert_eq!(got["move"], "OK", "{got}");
    assert_eq!(got["after_move_exists"], 0, "{got}");
    assert!(text("quota").contains("STORAGE"), "{got}");
    assert!(
        text("quota").contains("97656"),
        "100 MB quota in KiB: {got}"
    );
    assert_eq!(got["inbox_before"], 2, "{got}");
    assert_eq!(got["expunged"], serde_json::json!(["2"]), "{got}");
    assert!(text("status").contains("MESSAGES 1"), "{got}");
    // IDLE is woken by a delivery.
    assert_eq!(got["idle_continuation"], "+ idling", "{got}");
    assert_eq!(got["idle_push"], "* 2 EXISTS", "{got}");
    assert_eq!(got["idle_done"], "I1 OK IDLE terminated", "{got}");
    assert_eq!(got["delete_folder"], "OK", "{got}");
    assert!(text("bad_command").contains("BAD"), "{got}");
    // One folder, one name: modified UTF-7 for the IMAP4rev1 client, UTF-8 once
    // IMAP4rev2 or UTF8=ACCEPT is enabled (RFC 3501 §5.1.3, RFC 6855).
    assert_eq!(got["create_rev1"], "OK", "{got}");
    assert_eq!(got["create_rev2"], "OK", "{got}");
    let rev1 = text("list_rev1");
    assert!(
        rev1.contains("Entw&APw-rfe") && rev1.contains("&AMk-l&AOk-ments envoy&AOk-s"),
        "{rev1}"
    );
    assert!(
        !rev1.contains("Entwürfe") && !rev1.contains("Éléments"),
        "{rev1}"
    );
    for key in ["list_rev2", "list_utf8"] {
        let listed = text(key);
        assert!(
            listed.contains("Entwürfe") && listed.contains("Éléments envoyés"),
            "{key}: {listed}"
        );
        assert!(!listed.contains("&APw-"), "{key}: {listed}");
    }
    assert_eq!(got["delete_rev1"], serde_json::json!(["OK", "OK"]), "{got}");

    // curl: list the folders, fetch by UID, search.
    let curl = |url: String| {
        let out = demo.curl(&url);
        assert_ok(&out, "curl IMAP");
        stdout(&out)
    };
    let base = format!("imaps://127.0.0.1:{}", demo.ports.imap);
    assert!(curl(format!("{base}/")).contains(r#""Trash""#));
    assert!(curl(format!("{base}/INBOX;UID=1")).contains("Subject: Bilan cardiaque"));
    assert_eq!(
        curl(format!("{base}/INBOX?SUBJECT%20IDLE")).trim(),
        "* SEARCH 2"
    );

    // isync (mbsync) mirrors the mailbox into a Maildir, then sends back a message
    // filed locally and a flag set locally.
    let maildir = demo.root.join("Maildir");
    std::fs::create_dir_all(&maildir).unwrap();
    let rc = demo.root.join("mbsyncrc");
    std::fs::write(
        &rc,
        format!(
            "IMAPAccount sante\nHost localhost\nPort {port}\nUser {address}\nPass {password}\n\
             SSLType IMAPS\nCertificateFile {ca}\nAuthMechs PLAIN\n\n\
             IMAPStore remote\nAccount sante\n\n\
             MaildirStore local\nPath {dir}/\nInbox {dir}/INBOX\nSubFolders Verbatim\n\n\
             Channel sante\nFar :remote:\nNear :local:\nPatterns *\nCreate Both\n\
             Expunge Both\nSyncState *\n",
            port = demo.ports.imap,
            address = demo.address,
            password = demo.password,
            ca = demo.ca(),
            dir = maildir.display(),
        ),
    )
    .unwrap();
    let mbsync = || {
        let out = tool("mbsync")
            .arg("-c")
            .arg(&rc)
            .arg("-a")
            .output()
            .unwrap();
        assert_ok(&out, "mbsync");
    };
    mbsync();
    let files = |folder: &str| -> Vec<PathBuf> {
        ["cur", "new"]
            .iter()
            .flat_map(|sub| std::fs::read_dir(maildir.join(folder).join(sub)).unwrap())
            .map(|e| e.unwrap().path())
            .collect()
    };
    assert_eq!(files("INBOX").len(), 2);
    assert!(maildir.join("Sent").is_dir() && maildir.join("Trash").is_dir());
    std::fs::create_dir_all(maildir.join("Archives/cur")).unwrap();
    std::fs::create_dir_all(maildir.join("Archives/new")).unwrap();
    std::fs::create_dir_all(maildir.join("Archives/tmp")).unwrap();
    std::fs::write(
        maildir.join("Archives/new/1.local"),
        format!(
            "From: {0}\r\nTo: {0}\r\nSubject: archived by isync\r\n\r\nNote.\r\n",
            demo.address
        ),
    )
    .unwrap();
    mbsync();
    let archived = curl(format!("{base}/Archives?SUBJECT%20isync"));
    assert_eq!(archived.trim(), "* SEARCH 1", "{archived}");
    assert!(demo.server.stop().success());
}

/// Sends one message, kills the server with SIGKILL as soon as the 250 arrives,
/// restarts it, and finds the message.
fn acknowledged_message_survives_a_kill(extra_env: Vec<(String, String)>) {
    let schema = extra_env
        .iter()
        .find(|(k, _)| k == "SANTE_STORAGE__POSTGRES_SCHEMA")
        .map(|(_, v)| v.clone());
    let demo = MailDemo::start(extra_env);
    let out = demo.python(&script("kill_after_ack.py"));
    assert_ok(&out, "kill_after_ack.py");
    let subject = stdout(&out).trim().to_owned();
    assert!(subject.starts_with("acknowledged "), "{subject}");
    let MailDemo {
        mut server,
        root,
        env,
        ports,
        address,
        login,
        password,
        _dir,
        mtls_port,
    } = demo;
    let status = server.child.wait().unwrap();
    assert!(!status.success(), "the server was killed: {status}");
    drop(server);

    let server = Server::start_with_env(&root, &["serve"], &env);
    let again = MailDemo {
        server,
        _dir,
        root,
        env,
        ports,
        address,
        login,
        password,
        mtls_port,
    };
    let listing = again.pop3_listing();
    assert_eq!(listing.len(), 1, "{listing:?}");
    let out = again.curl(&again.pop3_url("1"));
    assert_ok(&out, "curl RETR");
    assert!(stdout(&out).contains(&subject), "{}", stdout(&out));
    assert!(again.server.stop().success());

    // What the store holds, read raw: the data directory (blobs, and the SQLite
    // database) and, on PostgreSQL, a dump of the schema (PLT-10): no mail text, no
    // subject, no national number, no authenticator seed.
    let raw = again.root.join("data");
    if let Some(schema) = schema {
        let dump = tool("pg_dump")
            .args(["--no-owner", "--schema", &schema, "--dbname"])
            .arg(sante_store::testing::pg_url())
            .arg("--file")
            .arg(raw.join("postgres.dump.sql"))
            .output()
            .expect("pg_dump");
        assert_ok(&dump, "pg_dump");
        let text = std::fs::read_to_string(raw.join("postgres.dump.sql")).unwrap();
        assert!(
            text.contains("CREATE TABLE") && text.matches("COPY ").count() > 3,
            "the dump holds the schema's tables and rows"
        );
    }
    let logins = std::fs::read_to_string(again.root.join("demo-logins.txt")).unwrap();
    assert_nothing_in_clear(
        &raw,
        &[
            "Must survive the crash",
            subject.trim_start_matches("acknowledged "),
            &field(&logins, "authenticator key"),
            &field(&logins, "national number"),
        ],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_message_survives_a_kill_on_sqlite() {
    acknowledged_message_survives_a_kill(Vec::new());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_message_survives_a_kill_on_postgres() {
    if !sante_store::testing::postgres_expected().await {
        return;
    }
    let url = sante_store::testing::pg_url();
    let schema = sante_store::testing::unique_schema("mail");
    acknowledged_message_survives_a_kill(vec![
        ("SANTE_STORAGE__DATABASE_URL".into(), url),
        ("SANTE_STORAGE__POSTGRES_SCHEMA".into(), schema),
    ]);
}
