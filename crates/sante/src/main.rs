//! `sante`: the one binary of the platform.
//!
//! This crate only parses the command line, loads the configuration, wires the crates
//! together and runs them. It holds no business logic: everything it calls lives in a
//! library crate with its own tests (see ARCHITECTURE.md).

mod account_cmd;
mod bench;
mod bench_dsp;
mod commands;
mod config;
mod demo_dsp;
mod directory_cmd;
mod dsp_cmd;
mod init;
mod letter_cmd;
mod mail;
mod messaging_cmd;
mod personal_data;
mod platform;
mod progress;
mod sso_cmd;
mod terms_cmd;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Sante: the national eHealth platform.
#[derive(Debug, Parser)]
#[command(name = "sante", version, about, long_about = None)]
struct Cli {
    /// The configuration file.
    #[arg(
        long,
        global = true,
        env = "SANTE_CONFIG",
        default_value = "sante.toml"
    )]
    config: PathBuf,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a commented configuration, a development CA and server certificate, and keys.
    Init {
        /// Directory to initialise.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Address the HTTPS listener will use.
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: SocketAddr,
        /// Address of the listener asking for client certificates (card login,
        /// establishment systems); default: the next port.
        #[arg(long)]
        mtls_listen: Option<SocketAddr>,
        /// Overwrite an existing configuration and its keys.
        #[arg(long)]
        force: bool,
    },
    /// The development card CA written by `init`: issue and revoke card certificates
    /// for tests and the demo (never for production cards).
    DevPki {
        /// The directory `init` wrote.
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        #[command(subcommand)]
        command: DevPkiCommand,
    },
    /// Run the platform from the configuration.
    Serve,
    /// Initialise a demo directory if needed, load demo data and serve, printing every URL.
    Demo {
        /// Directory for the demo's configuration and data.
        #[arg(long, default_value = "sante-data")]
        dir: PathBuf,
        /// Address of the HTTPS listener.
        #[arg(long, default_value = "127.0.0.1:8443")]
        listen: SocketAddr,
        /// Address of the listener asking for client certificates; default: next port.
        #[arg(long)]
        mtls_listen: Option<SocketAddr>,
    },
    /// Apply pending database migrations.
    Migrate,
    /// Work with the audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Manage the master keys that protect stored data.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Load an official register file (CSV or FHIR NDJSON) into the directories.
    /// Idempotent and resumable; bad lines go to a rejection report.
    Import {
        /// `professionals`, `establishments`, `patients` or `agents`.
        register: String,
        /// The register file.
        file: PathBuf,
        /// `csv` (the register layout, see docs/directories.md) or `ndjson` (FHIR bulk data).
        #[arg(long, default_value = "csv")]
        format: String,
        /// Where to write the rejection report (default: FILE.rejections.csv).
        #[arg(long)]
        report: Option<PathBuf>,
    },
    /// Accounts: activation letters, agents' accounts, block and unblock.
    Account {
        #[command(subcommand)]
        command: AccountCommand,
    },
    /// Single sign-on: applications, establishment systems and their attestations,
    /// the token-signing key.
    Sso {
        #[command(subcommand)]
        command: SsoCommand,
    },
    /// The shared care record: information letters, referring doctors, retention.
    Dsp {
        #[command(subcommand)]
        command: DspCommand,
    },
    /// Secure messaging: usage indicators, the outbound queue, housekeeping.
    Messaging {
        #[command(subcommand)]
        command: MessagingCommand,
    },
    /// Terms of use: publish a new version, list the versions in force.
    Terms {
        #[command(subcommand)]
        command: TermsCommand,
    },
    /// Directory tools: synthetic registers and identity-matching scores.
    Directory {
        #[command(subcommand)]
        command: DirectoryCommand,
    },
    /// Measure the shared care record's IHE MHD figures on a national-size store:
    /// ITI-67 search latency (p50, p99) and ITI-65 documents per second.
    BenchDsp {
        /// `sqlite`, `postgres` or `both`.
        #[arg(long, default_value = "both")]
        backend: String,
        #[arg(long, default_value_t = 1_000_000)]
        patients: u64,
        #[arg(long, default_value_t = 10_000_000)]
        documents: u64,
        /// ITI-67 searches measured.
        #[arg(long, default_value_t = 2_000)]
        queries: usize,
        /// ITI-65 filings measured (then as many again by 4 filers at once).
        #[arg(long, default_value_t = 1_000)]
        filings: usize,
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
        pg_url: String,
        /// Append the results as Markdown to this file.
        #[arg(long)]
        markdown: Option<PathBuf>,
    },
    /// Measure storage and audit throughput beside raw database inserts.
    Bench {
        /// `sqlite`, `postgres` or `both`.
        #[arg(long, default_value = "both")]
        backend: String,
        /// Rows written per measurement.
        #[arg(long, default_value_t = 5_000)]
        rows: u32,
        /// Size of each row's value in bytes.
        #[arg(long, default_value_t = 512)]
        value_bytes: usize,
        /// PostgreSQL URL for the postgres measurements.
        #[arg(long, default_value = "postgres://postgres@127.0.0.1:5432/test")]
        pg_url: String,
        /// Append the results as Markdown to this file.
        #[arg(long)]
        markdown: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the whole trail: every record, chain link, checkpoint signature and purge.
    Verify,
    /// Export traces as FHIR AuditEvent (NDJSON) or forward them to the syslog collector.
    Export {
        /// `fhir` (NDJSON to --output or stdout) or `syslog` (to [audit.syslog]).
        #[arg(long, default_value = "fhir")]
        format: String,
        /// Only events at or after this RFC 3339 instant.
        #[arg(long)]
        since: Option<String>,
        /// Output file (default: standard output).
        #[arg(long)]
        output: Option<PathBuf>,
    },
    /// Seal every open epoch now (signed checkpoints).
    Seal,
    /// Purge epochs past their retention (PLT-7) now.
    Purge,
}

#[derive(Debug, Subcommand)]
enum DirectoryCommand {
    /// Write a synthetic register with realistic duplicates, and its truth file.
    Generate {
        /// People in the register (duplicates come on top).
        #[arg(long, default_value_t = 10_000)]
        people: usize,
        /// Seed: the same seed gives the same register.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Register file (FEBRL CSV layout).
        #[arg(long)]
        records: PathBuf,
        /// Truth file: pairs of record ids of the same person.
        #[arg(long)]
        truth: PathBuf,
    },
    /// Write synthetic register files in the import layout (patients with the
    /// register's usual duplicates and errors, professionals, establishments).
    Registers {
        /// Directory to write patients.csv, professionals.csv, establishments.csv into.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        patients: usize,
        #[arg(long, default_value_t = 1_000)]
        professionals: usize,
        #[arg(long, default_value_t = 50)]
        establishments: usize,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
    /// Make a bearer token for a platform service that needs the patient directory
    /// (FHIR PDQm), and print the configuration lines with its hash.
    ServiceToken {
        #[arg(long)]
        name: String,
        /// `dsp`, `identity`, `referent` or `directory`.
        #[arg(long)]
        service: String,
    },
    /// Match a register and score the links against a truth file: precision, recall, F1, time.
    Score {
        #[arg(long)]
        records: PathBuf,
        #[arg(long)]
        truth: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum AccountCommand {
    /// Create a pending account for a patient or a professional and print its
    /// activation letter (login name, one-time code, expiry).
    Create {
        /// `patient` or `professional`.
        quality: String,
        /// The person's 13-digit national identification number.
        #[arg(long)]
        national_id: String,
        /// The professional's directory identifier (professionals only).
        #[arg(long)]
        subject: Option<String>,
        /// Where to write the activation letter (PDF, mode 0600); default
        /// `letter-<login>.pdf` in the current directory.
        #[arg(long)]
        letter: Option<PathBuf>,
    },
    /// Create an agent's account, active, with a generated password printed once.
    CreateAgent {
        /// The agent's directory identifier.
        #[arg(long)]
        subject: String,
    },
    /// Block an account: every session ends at once.
    Block {
        #[arg(long)]
        quality: String,
        login: String,
    },
    /// Unblock an account (also lifts a lock-out and waives an overdue method change).
    Unblock {
        #[arg(long)]
        quality: String,
        login: String,
    },
}

#[derive(Debug, Subcommand)]
enum DspCommand {
    /// Write the DSPs' information letters waiting to be printed (DSP-5), one PDF each.
    Letters {
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 10_000)]
        limit: u32,
    },
    /// Record the referring doctor the insurer declared for a holder (DSP-15).
    Referent {
        #[arg(long)]
        holder: String,
        #[arg(long)]
        professional: String,
        /// The first day of the mission (YYYY-MM-DD).
        #[arg(long)]
        from: String,
    },
    /// Run the retention pass now (it also runs daily in the server).
    Housekeeping,
    /// Anonymised statistics for public-health bodies (DSP-33): counts only, small
    /// cells suppressed.
    Statistics,
}

#[derive(Debug, Subcommand)]
enum MessagingCommand {
    /// The usage indicators of a period (MSG-17): volumes, flows, frequency,
    /// attachment formats and sizes, from envelopes and MIME structure only.
    Indicators {
        /// First day, included (YYYY-MM-DD).
        #[arg(long)]
        from: String,
        /// Last day, excluded (YYYY-MM-DD).
        #[arg(long)]
        until: String,
    },
    /// The messages waiting for a partner domain's server.
    Queue,
    /// Close a mailbox at its holder's request made through the help desk (MSG-12):
    /// closed at once, purged within 5 working days, the address never reassigned.
    Close {
        #[arg(long)]
        address: String,
    },
    /// Purge the mailboxes whose closure is due and the metadata past 12 months now
    /// (the server does it every hour).
    Housekeeping,
}

#[derive(Debug, Subcommand)]
enum TermsCommand {
    /// Publish a new version (in force at once): one file per language, its first line
    /// the title. French is authoritative.
    Publish {
        /// `general`, `dsp`, `messaging` or `referent`.
        #[arg(long)]
        document: String,
        #[arg(long)]
        fr: PathBuf,
        #[arg(long)]
        de: PathBuf,
        #[arg(long)]
        en: PathBuf,
    },
    /// Publish the texts shipped with the platform where nothing is published yet.
    PublishDefaults,
    /// List the versions in force.
    List,
}

#[derive(Debug, Subcommand)]
enum SsoCommand {
    /// Register an application people log in to (OpenID Connect relying party).
    RegisterClient {
        #[arg(long)]
        name: String,
        /// Where codes are sent back (exact match; https, or http on loopback).
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        #[arg(long = "post-logout-uri")]
        post_logout_uris: Vec<String>,
        /// Where back-channel logout tokens are posted.
        #[arg(long)]
        backchannel_logout_uri: Option<String>,
        /// The services its tokens reach: dsp, messaging, referent, directory.
        #[arg(long = "service", required = true)]
        services: Vec<String>,
        /// A public client (no secret; PKCE only), such as a mobile application.
        #[arg(long)]
        public: bool,
    },
    /// Register an establishment's system with its certificate and attestation.
    RegisterSystem {
        #[arg(long)]
        name: String,
        /// The establishment's directory identifier.
        #[arg(long)]
        establishment: String,
        /// The system's client certificate (PEM).
        #[arg(long)]
        certificate: PathBuf,
        /// The attested services.
        #[arg(long = "service", required = true)]
        services: Vec<String>,
        /// The conformity attestation's reference.
        #[arg(long)]
        attestation: String,
        /// Last day of the attestation (YYYY-MM-DD).
        #[arg(long)]
        valid_until: String,
    },
    /// Suspend a system's attestation: its tokens are refused from the next request.
    Suspend {
        client: String,
        #[arg(long, default_value = "operator_suspension")]
        reason: String,
    },
    /// Restore a suspended system's attestation.
    Restore { client: String },
    /// Make a new token-signing key now.
    RotateKey,
    /// List the registered applications and systems.
    Clients,
}

#[derive(Debug, Subcommand)]
enum DevPkiCommand {
    /// Issue a card: a client certificate as PKCS#12 (to import in a browser or a mail
    /// program) and PEM; prints its serial and fingerprint.
    Issue {
        /// The holder's name, the certificate's common name.
        #[arg(long)]
        name: String,
        /// The PKCS#12 file to write.
        #[arg(long)]
        out: PathBuf,
        /// The PKCS#12 file's password.
        #[arg(long)]
        password: String,
        #[arg(long, default_value_t = 365)]
        days: i64,
    },
    /// Revoke a card by serial: the card CA's revocation list is rewritten.
    Revoke { serial: String },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Add a new primary master key and re-wrap every data key under it.
    Rotate,
    /// Seal the records and blind the national-number terms written before sealing
    /// was enabled (once, after upgrading a platform that stored them in clear).
    Reseal,
    /// Remove an old master key once no data key depends on it.
    Retire {
        /// The key id, as listed by `sante keys status`.
        id: String,
    },
    /// List master keys and how many data keys each wraps.
    Status,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("sante: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(code) => code,
        Err(e) => {
            // `{:#}` prints the whole context chain: "configuration x: key `y`: ...".
            eprintln!("sante: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Init {
            dir,
            listen,
            mtls_listen,
            force,
        } => {
            let mtls = mtls_listen.unwrap_or_else(|| init::default_mtls(listen));
            let done = init::run(&dir, listen, mtls, None, force)?;
            println!("Wrote {}", done.config_path.display());
            println!(
                "Development CA (import it in a browser to trust the portal): {}",
                done.ca_cert.display()
            );
            println!("Next: sante serve --config {}", done.config_path.display());
            Ok(ExitCode::SUCCESS)
        }
        Command::Serve => commands::serve(&cli.config).await,
        Command::Demo {
            dir,
            listen,
            mtls_listen,
        } => {
            let mtls = mtls_listen.unwrap_or_else(|| init::default_mtls(listen));
            commands::demo(&dir, listen, mtls).await
        }
        Command::DevPki { dir, command } => match command {
            DevPkiCommand::Issue {
                name,
                out,
                password,
                days,
            } => {
                let card = init::issue_card(&dir, &name, days, &out, &password)?;
                println!("Issued card {} (serial {})", out.display(), card.serial);
                println!("serial: {}", card.serial);
                println!("sha256: {}", card.sha256);
                Ok(ExitCode::SUCCESS)
            }
            DevPkiCommand::Revoke { serial } => {
                let n = init::revoke_card(&dir, &serial)?;
                println!("Revoked {serial}; the card CA's revocation list now names {n} cards");
                Ok(ExitCode::SUCCESS)
            }
        },
        Command::Migrate => commands::migrate(&cli.config).await,
        Command::Audit { command } => match command {
            AuditCommand::Verify => commands::audit_verify(&cli.config).await,
            AuditCommand::Export {
                format,
                since,
                output,
            } => {
                commands::audit_export(&cli.config, &format, since.as_deref(), output.as_deref())
                    .await
            }
            AuditCommand::Seal => commands::audit_seal(&cli.config).await,
            AuditCommand::Purge => commands::audit_purge(&cli.config).await,
        },
        Command::Keys { command } => match command {
            KeysCommand::Rotate => commands::keys_rotate(&cli.config).await,
            KeysCommand::Reseal => commands::keys_reseal(&cli.config).await,
            KeysCommand::Retire { id } => commands::keys_retire(&cli.config, &id).await,
            KeysCommand::Status => commands::keys_status(&cli.config).await,
        },
        Command::Import {
            register,
            file,
            format,
            report,
        } => directory_cmd::import(&cli.config, &register, &file, &format, report.as_deref()).await,
        Command::Account { command } => match command {
            AccountCommand::Create {
                quality,
                national_id,
                subject,
                letter,
            } => {
                account_cmd::create(
                    &cli.config,
                    &quality,
                    &national_id,
                    subject.as_deref(),
                    letter.as_deref(),
                )
                .await
            }
            AccountCommand::CreateAgent { subject } => {
                account_cmd::create_agent(&cli.config, &subject).await
            }
            AccountCommand::Block { quality, login } => {
                account_cmd::set_blocked(&cli.config, &quality, &login, true).await
            }
            AccountCommand::Unblock { quality, login } => {
                account_cmd::set_blocked(&cli.config, &quality, &login, false).await
            }
        },
        Command::Dsp { command } => match command {
            DspCommand::Letters { out, limit } => dsp_cmd::letters(&cli.config, &out, limit).await,
            DspCommand::Referent {
                holder,
                professional,
                from,
            } => dsp_cmd::referent(&cli.config, &holder, &professional, &from).await,
            DspCommand::Housekeeping => dsp_cmd::housekeeping(&cli.config).await,
            DspCommand::Statistics => dsp_cmd::statistics(&cli.config).await,
        },
        Command::Messaging { command } => match command {
            MessagingCommand::Indicators { from, until } => {
                messaging_cmd::indicators(&cli.config, &from, &until).await
            }
            MessagingCommand::Queue => messaging_cmd::queue(&cli.config).await,
            MessagingCommand::Close { address } => {
                messaging_cmd::close(&cli.config, &address).await
            }
            MessagingCommand::Housekeeping => messaging_cmd::housekeeping(&cli.config).await,
        },
        Command::Terms { command } => match command {
            TermsCommand::Publish {
                document,
                fr,
                de,
                en,
            } => terms_cmd::publish(&cli.config, &document, [&fr, &de, &en]).await,
            TermsCommand::PublishDefaults => {
                let config = commands::load(&cli.config)?;
                let opened = account_cmd::Opened::new(&config).await?;
                let n = terms_cmd::publish_shipped(&opened.terms()).await;
                opened.close().await;
                println!("Published {} documents", n?);
                Ok(ExitCode::SUCCESS)
            }
            TermsCommand::List => terms_cmd::list(&cli.config).await,
        },
        Command::Sso { command } => match command {
            SsoCommand::RegisterClient {
                name,
                redirect_uris,
                post_logout_uris,
                backchannel_logout_uri,
                services,
                public,
            } => {
                sso_cmd::register_client(
                    &cli.config,
                    sso_cmd::RelyingPartyArgs {
                        name: &name,
                        redirect_uris: &redirect_uris,
                        post_logout_uris: &post_logout_uris,
                        backchannel_logout_uri: backchannel_logout_uri.as_deref(),
                        services: &services,
                        public,
                    },
                )
                .await
            }
            SsoCommand::RegisterSystem {
                name,
                establishment,
                certificate,
                services,
                attestation,
                valid_until,
            } => {
                sso_cmd::register_system(
                    &cli.config,
                    sso_cmd::SystemArgs {
                        name: &name,
                        establishment: &establishment,
                        certificate: &certificate,
                        services: &services,
                        attestation: &attestation,
                        valid_until: &valid_until,
                    },
                )
                .await
            }
            SsoCommand::Suspend { client, reason } => {
                sso_cmd::set_suspended(&cli.config, &client, Some(&reason)).await
            }
            SsoCommand::Restore { client } => {
                sso_cmd::set_suspended(&cli.config, &client, None).await
            }
            SsoCommand::RotateKey => sso_cmd::rotate_key(&cli.config).await,
            SsoCommand::Clients => sso_cmd::list(&cli.config).await,
        },
        Command::Directory { command } => match command {
            DirectoryCommand::Generate {
                people,
                seed,
                records,
                truth,
            } => commands::directory_generate(people, seed, &records, &truth),
            DirectoryCommand::Registers {
                out,
                patients,
                professionals,
                establishments,
                seed,
            } => {
                directory_cmd::write_registers(&out, patients, professionals, establishments, seed)
            }
            DirectoryCommand::ServiceToken { name, service } => {
                directory_cmd::service_token(&name, &service)
            }
            DirectoryCommand::Score { records, truth } => {
                commands::directory_score(&records, &truth)
            }
        },
        Command::BenchDsp {
            backend,
            patients,
            documents,
            queries,
            filings,
            pg_url,
            markdown,
        } => {
            bench_dsp::run(
                &backend,
                patients,
                documents,
                queries,
                filings,
                &pg_url,
                markdown.as_deref(),
            )
            .await
        }
        Command::Bench {
            backend,
            rows,
            value_bytes,
            pg_url,
            markdown,
        } => bench::run(&backend, rows, value_bytes, &pg_url, markdown.as_deref()).await,
    }
}
