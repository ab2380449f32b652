//! `sante account ...`: the operator's account actions, and the demo's ready-made
//! logins.

use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use sante_audit::{Source, Token};
use sante_directory::Request;
use sante_directory::model::Patient;
use sante_directory::service::PatientQuery;
use sante_identity::{Administrator, Identity, NewAccount, secrets};
use sante_types::Quality;

use crate::commands::load;
use crate::config::Config;
use crate::directory_cmd::open_directory;
use crate::platform::{self, Storage, open_storage};

pub(crate) fn cli_source() -> Source {
    Source {
        channel: Token::new("cli").ok(),
        ..Source::default()
    }
}

/// The directory and the identity service over the configured storage.
pub(crate) struct Opened {
    pub storage: Storage,
    pub directory: sante_directory::Directory,
    pub identity: Identity,
    pub audit: sante_audit::AuditLog,
    /// The platform's clock (moved by a development offset when one is set).
    pub clock: Arc<dyn sante_types::Clock>,
}

impl Opened {
    pub async fn new(config: &Config) -> anyhow::Result<Opened> {
        let clock = platform::clock(config);
        let storage = open_storage(config, clock.clone()).await?;
        platform::migrate_traced(config, &storage).await?;
        let (directory, audit) = open_directory(config, &storage).await?;
        let identity = Identity::new(storage.db.clone(), Arc::new(audit.clone()), clock.clone());
        Ok(Opened {
            storage,
            directory,
            identity,
            audit,
            clock,
        })
    }

    /// The terms of use over the same storage.
    pub fn terms(&self) -> sante_terms::Terms {
        sante_terms::Terms::new(
            self.storage.db.clone(),
            Arc::new(self.audit.clone()),
            self.clock.clone(),
        )
    }

    /// Single sign-on over the same storage.
    pub async fn sso(&self, config: &Config) -> anyhow::Result<sante_sso::Provider> {
        platform::open_sso(
            config,
            &self.storage,
            &self.identity,
            &self.directory,
            &self.audit,
            &self.terms(),
            self.clock.clone(),
        )
        .await
    }

    /// Flushes the audit trail and closes the database.
    pub async fn close(self) {
        self.audit.close().await;
        self.storage.db.close().await;
    }

    /// The first patient entry matching `query`.
    pub(crate) async fn first_patient(
        &self,
        query: PatientQuery,
    ) -> anyhow::Result<Option<Patient>> {
        Ok(self
            .directory
            .search_patients(&Request::operator(), &query, None, 1)
            .await?
            .items
            .into_iter()
            .next())
    }

    /// A pending patient account for `patient` and its letter.
    async fn patient_letter(
        &self,
        patient: &Patient,
        national_id: &str,
    ) -> anyhow::Result<sante_identity::ActivationLetter> {
        Ok(self
            .identity
            .create_account(
                &Administrator::Operator,
                NewAccount {
                    quality: Quality::Patient,
                    subject: patient.id.clone(),
                    national_id: national_id.to_owned(),
                },
                &cli_source(),
            )
            .await?)
    }
}

/// `sante account create patient|professional --national-id N`: a pending account
/// for the person's directory entry of that quality, and the content of the activation
/// letter (login name, one-time code, expiry).
pub async fn create(
    config_path: &Path,
    quality: &str,
    national_id: &str,
    subject: Option<&str>,
    letter_path: Option<&Path>,
) -> anyhow::Result<ExitCode> {
    let quality = match quality {
        "patient" => Quality::Patient,
        "professional" => Quality::Professional,
        "agent" => anyhow::bail!(
            "agents' accounts are created active: use `sante account create-agent --subject ID`"
        ),
        other => anyhow::bail!("QUALITY: {other:?} is not `patient` or `professional`"),
    };
    let nin = sante_directory::nin::NationalId::parse(national_id)
        .map_err(|e| anyhow::anyhow!("--national-id: {e}"))?;
    let config = load(config_path)?;
    let opened = Opened::new(&config).await?;
    let mut addressee = Vec::new();
    let subject = match quality {
        Quality::Patient => opened
            .first_patient(PatientQuery {
                national_id: Some(nin.as_str().to_owned()),
                ..PatientQuery::default()
            })
            .await?
            .map(|p| {
                let name = format!(
                    "{} {}",
                    p.given_names.join(" "),
                    p.used_name.as_deref().unwrap_or(&p.birth_name)
                );
                addressee = crate::letter_cmd::addressee(name.trim(), p.address.as_ref());
                p.id
            }),
        _ => {
            let id = subject.context("--subject: give the professional's directory identifier")?;
            let p = opened
                .directory
                .professional(id)
                .await
                .with_context(|| format!("--subject: no professional entry {id:?}"))?;
            if p.national_id
                .as_ref()
                .is_some_and(|n| n.as_str() != nin.as_str())
            {
                anyhow::bail!("--national-id: not the number of the professional entry {id:?}");
            }
            let name = format!("{} {}", p.given_names.join(" "), p.family_name);
            addressee =
                crate::letter_cmd::addressee(name.trim(), p.locations.first().map(|l| &l.address));
            Some(p.id)
        }
    }
    .with_context(|| {
        format!(
            "--national-id: no {} entry in the directory has this number",
            quality.as_str()
        )
    })?;
    let letter = opened
        .identity
        .create_account(
            &Administrator::Operator,
            NewAccount {
                quality,
                subject,
                national_id: nin.as_str().to_owned(),
            },
            &cli_source(),
        )
        .await?;
    let path = letter_path.map(Path::to_path_buf).unwrap_or_else(|| {
        std::path::PathBuf::from(format!("letter-{}.pdf", letter.account.login))
    });
    let pdf = crate::letter_cmd::activation_letter(
        quality,
        addressee,
        &letter.account.login,
        &letter.code,
        letter.expires,
        &config.server.public_url,
        platform::clock(&config).now(),
    );
    let written = crate::letter_cmd::write(&pdf, &path);
    println!("Activation letter for a {} account", quality.as_str());
    println!("  login name:      {}", letter.account.login);
    println!("  activation code: {}", letter.code.as_str());
    println!("  valid until:     {}", letter.expires.format("%Y-%m-%d"));
    println!(
        "  activate at:     {}/activate",
        config.server.public_url.trim_end_matches('/')
    );
    opened.close().await;
    written.with_context(|| format!("writing the letter to {}", path.display()))?;
    println!("  letter (PDF):    {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// `sante account create-agent --subject ID`: an active agent account with a
/// generated password, printed once.
pub async fn create_agent(config_path: &Path, subject: &str) -> anyhow::Result<ExitCode> {
    let config = load(config_path)?;
    let opened = Opened::new(&config).await?;
    let agent = opened
        .directory
        .agent(subject)
        .await
        .with_context(|| format!("--subject: no agent entry {subject:?} in the directory"))?;
    let password = generated_password();
    let account = opened
        .identity
        .create_agent_account(
            &Administrator::Operator,
            &agent.id,
            agent
                .national_id
                .as_ref()
                .map(|n| n.as_str())
                .unwrap_or(&agent.id),
            &password,
            &cli_source(),
        )
        .await?;
    println!("Agent account created (active)");
    println!("  login name: {}", account.login);
    println!("  password:   {password}   (shown once; give it to the agent personally)");
    opened.close().await;
    Ok(ExitCode::SUCCESS)
}

/// `sante account block|unblock LOGIN`.
pub async fn set_blocked(
    config_path: &Path,
    quality: &str,
    login: &str,
    blocked: bool,
) -> anyhow::Result<ExitCode> {
    let quality = match quality {
        "patient" => Quality::Patient,
        "professional" => Quality::Professional,
        "agent" => Quality::Agent,
        other => anyhow::bail!("--quality: {other:?} is not patient, professional or agent"),
    };
    let config = load(config_path)?;
    let opened = Opened::new(&config).await?;
    let identity = &opened.identity;
    let account = identity
        .account_by_login(login, quality)
        .await?
        .with_context(|| format!("LOGIN: no {} account {login:?}", quality.as_str()))?;
    if blocked {
        identity
            .block(
                &Administrator::Operator,
                &account.id,
                "operator_block",
                &cli_source(),
            )
            .await?;
        println!("{login}: blocked; every session ended");
    } else {
        identity
            .unblock(&Administrator::Operator, &account.id, &cli_source())
            .await?;
        println!("{login}: unblocked");
    }
    opened.close().await;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn generated_password() -> String {
    // 4 groups of 5 from the letter alphabet: about 100 bits, easy to type.
    let code = secrets::activation_code();
    let more = secrets::activation_code();
    format!("{}-{}", code.as_str(), &more[..4]).to_lowercase()
}

/// The demo's logins, created once and kept (0600) beside the data so that a second
/// `sante demo` prints the same ones.
pub async fn demo_logins(config: &Config) -> anyhow::Result<String> {
    let file = config.path(Path::new("demo-logins.txt"));
    if let Ok(text) = std::fs::read_to_string(&file) {
        return Ok(text);
    }
    let opened = Opened::new(config).await?;
    let identity = &opened.identity;
    let patient = opened
        .first_patient(PatientQuery {
            family: Some("schmit".into()),
            ..PatientQuery::default()
        })
        .await?
        .context("the demo directory has no patient to give an account to")?;
    if identity
        .account_of(Quality::Patient, &patient.id)
        .await?
        .is_some()
    {
        opened.close().await;
        return Ok(format!(
            "  the demo accounts were created earlier, but {} with their logins is gone\n",
            file.display()
        ));
    }
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let nin = patient
        .national_id
        .as_ref()
        .map(|n| n.as_str().to_owned())
        .context("the demo patient has no national number")?;
    let letter = opened.patient_letter(&patient, &nin).await?;
    let password = generated_password();
    let seed = secrets::new_totp_secret();
    let unix = u64::try_from(platform::clock(config).now().timestamp()).unwrap_or_default();
    let code = secrets::totp_code(&seed, unix).context("TOTP")?;
    identity
        .activate(
            &sante_identity::Activation {
                login: &letter.account.login,
                national_id: &nin,
                code: &letter.code,
                email: "demo.patient@example.lu",
                password: &password,
                totp_seed: &seed,
                totp_code: &code,
            },
            &cli_source(),
        )
        .await?;
    // A second patient left pending, to try the activation page.
    let pending = opened
        .first_patient(PatientQuery {
            family: Some("ferreira".into()),
            ..PatientQuery::default()
        })
        .await?;
    let mut pending_text = String::new();
    if let Some(p) = pending
        && let Some(n) = p.national_id.as_ref()
    {
        let letter = opened.patient_letter(&p, n.as_str()).await?;
        pending_text = format!(
            "  patient to activate (/activate): login {}, national number {}, activation code {}\n",
            letter.account.login,
            n.as_str(),
            letter.code.as_str()
        );
    }
    let agent_password = generated_password();
    let agent = identity
        .create_agent_account(
            &Administrator::Operator,
            "agent-iv-1",
            "agent-iv-1",
            &agent_password,
            &cli_source(),
        )
        .await?;
    let admin_password = generated_password();
    let admin = identity
        .create_agent_account(
            &Administrator::Operator,
            "agent-admin-1",
            "agent-admin-1",
            &admin_password,
            &cli_source(),
        )
        .await?;
    let professional = demo_professional(config, &opened).await?;
    let text = format!(
        "  patient (password + one-time code, substantial): login {}, password {password}\n    \
         authenticator key {seed}\n    otpauth URI {}\n{pending_text}{professional}  \
         identity-vigilance officer (agent, password, low): login {}, password {agent_password}\n  \
         administrator (agent, password, low): login {}, password {admin_password}; \
         administration is by the operator's commands for now (sante account block|unblock, sante sso suspend)\n",
        letter.account.login,
        secrets::otpauth_uri(&seed, &letter.account.login),
        agent.login,
        admin.login,
    );
    write_private(&file, &text)?;
    opened.close().await;
    Ok(text)
}

/// The first `count` physicians of the demo directories.
pub(crate) async fn demo_physicians(
    directory: &sante_directory::Directory,
    count: u32,
) -> anyhow::Result<Vec<sante_directory::model::Professional>> {
    let found = directory
        .search_professionals(
            &sante_directory::service::ProfessionalQuery {
                profession: Some(sante_directory::model::Profession::Physician),
                ..sante_directory::service::ProfessionalQuery::default()
            },
            None,
            count,
        )
        .await?;
    Ok(found.items)
}

/// A professional's account, created and activated with a development card.
pub(crate) struct CardedProfessional {
    /// The name on the card.
    pub name: String,
    pub login: String,
    pub certificate: sante_types::PeerCertificate,
}

/// Creates `professional`'s account and activates it with a development card issued
/// for him (valid a year), written to `p12` as PKCS#12 under `p12_password`.
pub(crate) async fn activate_with_dev_card(
    config: &Config,
    identity: &Identity,
    professional: &sante_directory::model::Professional,
    p12: &Path,
    p12_password: &str,
    email: &str,
    source: &Source,
) -> anyhow::Result<CardedProfessional> {
    let nin = professional
        .national_id
        .as_ref()
        .map(|n| n.as_str().to_owned())
        .unwrap_or_else(|| professional.id.clone());
    let letter = identity
        .create_account(
            &Administrator::Operator,
            NewAccount {
                quality: Quality::Professional,
                subject: professional.id.clone(),
                national_id: nin.clone(),
            },
            source,
        )
        .await?;
    let name = format!(
        "{} {}",
        professional.given_names.join(" "),
        professional.family_name
    );
    let card = crate::init::issue_card(&config.base_dir, &name, 365, p12, p12_password)?;
    let certificate = sante_net::pki::read_certificate(&card.cert_der)?;
    identity
        .activate_with_certificate(
            &sante_identity::ActivationProof {
                login: &letter.account.login,
                national_id: &nin,
                code: &letter.code,
                email,
            },
            &certificate,
            source,
        )
        .await?;
    Ok(CardedProfessional {
        name,
        login: letter.account.login,
        certificate,
    })
}

/// A physician of the demo directories with an account activated with a development
/// card: its PKCS#12 file goes beside the data, to import in a browser.
async fn demo_professional(config: &Config, opened: &Opened) -> anyhow::Result<String> {
    let found = demo_physicians(&opened.directory, 1).await?;
    let Some(physician) = found.into_iter().next() else {
        return Ok("  professional: none (the demo directory has no physician)\n".to_owned());
    };
    let p12 = config.path(Path::new("demo-professional.p12"));
    let p12_password = generated_password();
    let carded = activate_with_dev_card(
        config,
        &opened.identity,
        &physician,
        &p12,
        &p12_password,
        "demo.professional@example.lu",
        &cli_source(),
    )
    .await?;
    let mut text = format!(
        "  professional ({}, card certificate, high): import {} (password {p12_password}) in the browser, \
         then log in at the card login URL above; login name {}\n",
        carded.name,
        p12.display(),
        carded.login
    );
    if let Some(section) = &config.messaging {
        // What the professional would do on the portal after a card login: make an
        // application password for his mail program; his mailbox opens at that first
        // access.
        let (_, who) = opened
            .identity
            .login_certificate(
                &carded.certificate,
                Quality::Professional,
                "demo",
                &cli_source(),
            )
            .await?;
        let app = opened
            .identity
            .create_app_password(
                &who,
                "demo mail program",
                sante_types::Service::Messaging,
                &cli_source(),
            )
            .await?;
        let messaging = crate::mail::service(
            section,
            &opened.storage,
            &opened.directory,
            &opened.audit,
            platform::clock(config),
            crate::mail::clamd_client(config, section)?,
        )?;
        let mailbox = messaging
            .open_mailbox(
                &sante_messaging::MailUser {
                    account: who.account.clone(),
                    quality: who.quality,
                    assurance: who.assurance,
                    credential: who.credential,
                    subject: who.subject.clone(),
                },
                &cli_source(),
            )
            .await?;
        // As at his first portal login, he accepts the terms that govern messaging, so
        // that his mail program works at once (TOU-1).
        let terms = opened.terms();
        let actor = sante_audit::Actor {
            person: sante_audit::Token::new(who.account.clone()).ok(),
            quality: Some(who.quality),
            credential: Some(who.credential),
            assurance: Some(who.assurance),
            ..sante_audit::Actor::default()
        };
        for document in sante_terms::Document::governing(sante_types::Service::Messaging) {
            if let Some(current) = terms.current(document).await? {
                terms
                    .accept(
                        actor.clone(),
                        &who.account,
                        document,
                        current.version,
                        "en",
                        &cli_source(),
                    )
                    .await?;
            }
        }
        text.push_str(&format!(
            "    secure messaging: address {}, mail program login {} with the application password {} \
             (or the card: SASL EXTERNAL)\n",
            mailbox.address,
            carded.login,
            app.password.as_str()
        ));
    }
    Ok(text)
}

pub(crate) fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(text.as_bytes())?;
    Ok(())
}
