//! Export of the trail: FHIR R4 `AuditEvent` following IHE BALP, and RFC 5424 syslog
//! over TLS (RFC 5425 framing) to an IHE ATNA audit record repository.

use std::io::Write;
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use sante_store::Db;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::AuditError;
use crate::event::{Action, AuditEvent, EventKind, Outcome, Stream, Token};

const DCM: &str = "http://dicom.nema.org/resources/ontology/DCM";
const AUDIT_EVENT_TYPE: &str = "http://terminology.hl7.org/CodeSystem/audit-event-type";
const SANTE_EVENTS: &str = "urn:sante:audit-event";
const SANTE_QUALITY: &str = "urn:sante:quality";

/// The DICOM / HL7 event type of a Sante event kind.
fn event_type(kind: EventKind) -> Value {
    let (system, code, display) = match kind {
        EventKind::PlatformServerStarted | EventKind::PlatformServerStopped => {
            (DCM, "110100", "Application Activity")
        }
        EventKind::AuditTrailVerified
        | EventKind::AuditTrailExported
        | EventKind::AuditEpochSealed
        | EventKind::AuditEpochPurged => (DCM, "110101", "Audit Log Used"),
        EventKind::PlatformMasterKeyRotated
        | EventKind::PlatformMasterKeyRetired
        | EventKind::PlatformRecordsResealed
        | EventKind::PlatformConfigLoaded => (DCM, "110113", "Security Alert"),
        EventKind::PlatformMigrationApplied => (DCM, "110100", "Application Activity"),
        EventKind::HttpRequestDenied | EventKind::PortalFormRejected => {
            (DCM, "110113", "Security Alert")
        }
        EventKind::StorageBlobIntegrityError | EventKind::DirectoryAccessDenied => {
            (DCM, "110113", "Security Alert")
        }
        EventKind::DirectoryRegisterImported => (DCM, "110107", "Import"),
        EventKind::IdentityLoginSucceeded
        | EventKind::IdentityLoginFailed
        | EventKind::IdentitySessionEnded
        | EventKind::IdentityTokenIssued
        | EventKind::IdentityTokenRevoked => (DCM, "110114", "User Authentication"),
        EventKind::IdentityTokenRefused
        | EventKind::IdentitySigningKeyRotated
        | EventKind::IdentityRevocationListLoaded
        | EventKind::TermsRequired => (DCM, "110113", "Security Alert"),
        EventKind::IdentitySessionRefused
        | EventKind::IdentityServiceDenied
        | EventKind::IdentityAccountLocked
        | EventKind::IdentityActivationFailed => (DCM, "110113", "Security Alert"),
        EventKind::IdentityAccountCreated
        | EventKind::IdentityAccountActivated
        | EventKind::IdentityCredentialRevoked
        | EventKind::IdentityAccountBlocked
        | EventKind::IdentityAccountUnblocked
        | EventKind::IdentityMethodChangeRequired
        | EventKind::IdentityAccountClosed
        | EventKind::IdentityCredentialAdded
        | EventKind::IdentityClientRegistered
        | EventKind::IdentityClientSuspended => (DCM, "110137", "User Security Attributes Changed"),
        EventKind::DirectoryPatientSearched => (DCM, "110112", "Query"),
        EventKind::DirectoryPatientRead
        | EventKind::DirectoryPatientCreated
        | EventKind::DirectoryIdentityMerged
        | EventKind::DirectoryIdentityUnmerged
        | EventKind::DirectoryReviewDecided => (DCM, "110110", "Patient Record"),
        EventKind::PortalPageViewed
        | EventKind::StorageBlobWritten
        | EventKind::StorageBlobRead
        | EventKind::StorageBlobDeleted
        | EventKind::DirectoryAgentPurged
        | EventKind::TermsPublished
        | EventKind::TermsAccepted => (AUDIT_EVENT_TYPE, "rest", "RESTful Operation"),
        EventKind::DspItemRead
        | EventKind::DspSearched
        | EventKind::DspHistoryRead
        | EventKind::PortalPersonalDataRead => (DCM, "110106", "Export"),
        EventKind::DspItemFiled | EventKind::DspItemDeprecated => (DCM, "110107", "Import"),
        EventKind::DspAccessDenied => (DCM, "110113", "Security Alert"),
        EventKind::DspRecordCreated
        | EventKind::DspRecordActivated
        | EventKind::DspRecordClosed
        | EventKind::DspRecordReopened
        | EventKind::DspRecordDeleted
        | EventKind::DspControlChanged
        | EventKind::DspRelationshipStarted
        | EventKind::DspRelationshipEnded => (DCM, "110110", "Patient Record"),
        EventKind::MessagingMessageAccepted | EventKind::MessagingMessageRelayed => {
            (DCM, "110107", "Import")
        }
        EventKind::MessagingSessionOpened => (DCM, "110114", "User Authentication"),
        EventKind::MessagingMessageRefused
        | EventKind::MessagingAccessDenied
        | EventKind::MessagingDeliveryFailed => (DCM, "110113", "Security Alert"),
        EventKind::MessagingMailboxCreated
        | EventKind::MessagingClosureRequested
        | EventKind::MessagingQuotaNotified => (DCM, "110137", "User Security Attributes Changed"),
        EventKind::MessagingMailboxPurged
        | EventKind::MessagingMetadataPurged
        | EventKind::MessagingMessagesDeleted => (AUDIT_EVENT_TYPE, "rest", "RESTful Operation"),
        EventKind::MessagingIndicatorsRead => (DCM, "110106", "Export"),
    };
    json!({"system": system, "code": code, "display": display})
}

fn outcome_code(outcome: &Outcome) -> (&'static str, Option<String>) {
    match outcome {
        Outcome::Success => ("0", None),
        // BALP: 4 minor failure (refused), 8 serious failure.
        Outcome::Denied(code) => ("4", Some(format!("denied:{code}"))),
        Outcome::Failure(code) => ("8", Some(format!("failure:{code}"))),
    }
}

/// The FHIR R4 `AuditEvent` of one event (IHE Basic Audit Log Patterns).
pub fn to_fhir_audit_event(event: &AuditEvent) -> Value {
    let (outcome, outcome_desc) = outcome_code(&event.outcome);
    let mut agent = json!({
        "type": {"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/extra-security-role-type",
            "code": "humanuser",
            "display": "human user"
        }]},
        "requestor": true,
    });
    if let Some(person) = &event.actor.person {
        agent["who"] =
            json!({"identifier": {"system": "urn:sante:account", "value": person.as_str()}});
    }
    let mut roles = Vec::new();
    if let Some(q) = event.actor.quality {
        roles.push(json!({"coding": [{"system": SANTE_QUALITY, "code": q.as_str()}]}));
    }
    if let Some(a) = event.actor.assurance {
        roles.push(
            json!({"coding": [{"system": "urn:sante:level-of-assurance", "code": a.as_str()}]}),
        );
    }
    if let Some(c) = event.actor.credential {
        roles.push(json!({"coding": [{"system": "urn:sante:credential", "code": c.as_str()}]}));
    }
    if !roles.is_empty() {
        agent["role"] = Value::Array(roles);
    }
    if let Some(ip) = event.source.ip {
        agent["network"] = json!({"address": ip.to_string(), "type": "2"});
    }
    let mut agents = vec![agent];
    if let Some(system) = &event.actor.client_system {
        agents.push(json!({
            "type": {"coding": [{"system": DCM, "code": "110150", "display": "Application"}]},
            "who": {"identifier": {"system": "urn:sante:client-system", "value": system.as_str()}},
            "requestor": false,
        }));
    }
    if let Some(establishment) = &event.actor.establishment {
        agents.push(json!({
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleClass", "code": "PROV", "display": "healthcare provider"}]},
            "who": {"identifier": {"system": "urn:sante:establishment", "value": establishment.as_str()}},
            "requestor": false,
        }));
    }
    if let Some(principal) = &event.actor.on_behalf_of {
        agents.push(json!({
            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-RoleCode", "code": "DELEGATEE"}]},
            "who": {"identifier": {"system": "urn:sante:account", "value": principal.as_str()}},
            "requestor": false,
        }));
    }
    let mut entities = Vec::new();
    if let Some(resource) = &event.resource {
        entities.push(json!({
            "what": {"identifier": {"system": format!("urn:sante:{}", resource.kind), "value": resource.id.as_str()}},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "2", "display": "System Object"},
        }));
    }
    if let Some(patient) = &event.patient {
        entities.push(json!({
            "what": {"identifier": {"system": "urn:sante:patient", "value": patient.as_str()}},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "1", "display": "Person"},
            "role": {"system": "http://terminology.hl7.org/CodeSystem/object-role", "code": "1", "display": "Patient"},
        }));
    }
    if let Some(request) = &event.source.request_id {
        entities.push(json!({
            "what": {"identifier": {"system": "urn:sante:request-id", "value": request.as_str()}},
            "type": {"system": "http://terminology.hl7.org/CodeSystem/audit-entity-type", "code": "4", "display": "Other"},
        }));
    }
    let mut out = json!({
        "resourceType": "AuditEvent",
        "id": event.id.to_string(),
        "type": event_type(event.kind),
        "subtype": [{"system": SANTE_EVENTS, "code": event.kind.name(), "display": event.kind.name()}],
        "action": event.action.fhir_code(),
        "recorded": event.at.to_rfc3339_opts(SecondsFormat::Micros, true),
        "outcome": outcome,
        "agent": agents,
        "source": {
            "site": event.service.as_str(),
            "observer": {"display": "Sante platform"},
            "type": [{"system": "http://terminology.hl7.org/CodeSystem/security-source-type", "code": "4", "display": "Application Server"}],
        },
    });
    if let Some(desc) = outcome_desc {
        out["outcomeDesc"] = Value::String(desc);
    }
    if !entities.is_empty() {
        out["entity"] = Value::Array(entities);
    }
    if let Some(channel) = &event.source.channel {
        out["source"]["site"] = Value::String(format!("{}/{}", event.service.as_str(), channel));
    }
    out
}

/// Visits every event recorded at or after `since`, stream by stream, in chain order.
async fn for_each_event(
    db: &Db,
    since: Option<DateTime<Utc>>,
    mut visit: impl FnMut(AuditEvent) -> Result<(), AuditError>,
) -> Result<u64, AuditError> {
    let mut n = 0;
    for stream in Stream::ALL {
        let mut after = 0;
        loop {
            let page = db.audit_records(stream.as_str(), after, 2_000).await?;
            let Some(last) = page.last() else { break };
            after = last.seq;
            for row in page {
                let event: AuditEvent = serde_json::from_slice(&row.event)
                    .map_err(|e| AuditError::Export(format!("record {}: {e}", row.seq)))?;
                if since.is_some_and(|s| event.at < s) {
                    continue;
                }
                visit(event)?;
                n += 1;
            }
        }
    }
    Ok(n)
}

/// Writes every event (at or after `since`) as one FHIR `AuditEvent` JSON per line.
pub async fn export_fhir_ndjson(
    db: &Db,
    out: &mut dyn Write,
    since: Option<DateTime<Utc>>,
) -> Result<u64, AuditError> {
    for_each_event(db, since, |event| {
        let line = serde_json::to_string(&to_fhir_audit_event(&event))
            .map_err(|e| AuditError::Export(e.to_string()))?;
        writeln!(out, "{line}").map_err(|e| AuditError::Export(e.to_string()))
    })
    .await
}

/// An RFC 5424 syslog message carrying the event as a FHIR AuditEvent.
pub fn to_syslog(event: &AuditEvent, hostname: &str) -> String {
    // Facility 10 (security/authorization), severity notice, or warning for refusals.
    let severity = match event.outcome {
        Outcome::Success => 5,
        Outcome::Denied(_) | Outcome::Failure(_) => 4,
    };
    let pri = 10 * 8 + severity;
    let body = to_fhir_audit_event(event);
    format!(
        "<{pri}>1 {} {hostname} sante {} {} - \u{feff}{body}",
        event.at.to_rfc3339_opts(SecondsFormat::Micros, true),
        event.service.as_str(),
        event.kind.name(),
    )
}

/// Sends traces to an ATNA audit record repository as RFC 5424 over TLS (RFC 5425).
pub struct SyslogExporter {
    host: String,
    port: u16,
    tls: Arc<rustls::ClientConfig>,
    hostname: String,
}

impl SyslogExporter {
    /// `ca_pem`: the CA that issued the collector's certificate.
    pub fn new(host: &str, port: u16, ca_pem: &[u8]) -> Result<SyslogExporter, AuditError> {
        let mut roots = rustls::RootCertStore::empty();
        for cert in rustls_pemfile::certs(&mut &ca_pem[..]) {
            let cert = cert.map_err(|e| AuditError::Export(format!("collector CA: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| AuditError::Export(format!("collector CA: {e}")))?;
        }
        if roots.is_empty() {
            return Err(AuditError::Export(
                "collector CA file holds no certificate".into(),
            ));
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let tls = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| AuditError::Export(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(SyslogExporter {
            host: host.to_owned(),
            port,
            tls: Arc::new(tls),
            hostname: "sante".to_owned(),
        })
    }

    async fn connect(
        &self,
    ) -> Result<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, AuditError> {
        let tcp = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| {
                AuditError::Export(format!("connecting to {}:{}: {e}", self.host, self.port))
            })?;
        let name = rustls::pki_types::ServerName::try_from(self.host.clone())
            .map_err(|e| AuditError::Export(format!("collector host name: {e}")))?;
        tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| AuditError::Export(format!("TLS with the collector: {e}")))
    }

    fn frame(
        &self,
        row: &sante_store::audit_log::AuditRow,
        out: &mut Vec<u8>,
    ) -> Result<(), AuditError> {
        let event: AuditEvent = serde_json::from_slice(&row.event)
            .map_err(|e| AuditError::Export(format!("record {}: {e}", row.seq)))?;
        let message = to_syslog(&event, &self.hostname);
        // RFC 5425 octet counting: the length in bytes, a space, the message.
        out.extend_from_slice(format!("{} {message}", message.len()).as_bytes());
        Ok(())
    }

    /// Sends every event at or after `since`, page by page over one connection; returns
    /// how many were sent.
    pub async fn export(&self, db: &Db, since: Option<DateTime<Utc>>) -> Result<u64, AuditError> {
        let mut tls = self.connect().await?;
        let mut n = 0;
        for stream in Stream::ALL {
            let mut after = 0;
            loop {
                let page = db.audit_records(stream.as_str(), after, 2_000).await?;
                let Some(last) = page.last() else { break };
                after = last.seq;
                let mut frames = Vec::new();
                for row in &page {
                    if let Some(since) = since {
                        let at: AuditEvent = serde_json::from_slice(&row.event)
                            .map_err(|e| AuditError::Export(format!("record {}: {e}", row.seq)))?;
                        if at.at < since {
                            continue;
                        }
                    }
                    self.frame(row, &mut frames)?;
                    n += 1;
                }
                tls.write_all(&frames)
                    .await
                    .map_err(|e| AuditError::Export(e.to_string()))?;
            }
        }
        tls.shutdown()
            .await
            .map_err(|e| AuditError::Export(e.to_string()))?;
        Ok(n)
    }

    /// Sends the events recorded since the last call (the position is kept in the
    /// database, so a restart resumes where it stopped). Delivery is at least once: a
    /// connection lost mid-page sends that page again next time. Returns how many were
    /// sent.
    pub async fn forward_new(&self, db: &Db, now_micros: i64) -> Result<u64, AuditError> {
        let mut pending = Vec::new();
        for stream in Stream::ALL {
            let cursor = db.get(FORWARD_CURSORS, stream.as_str()).await?;
            let after = cursor
                .and_then(|r| <[u8; 8]>::try_from(r.value.as_slice()).ok())
                .map(i64::from_be_bytes)
                .unwrap_or(0);
            if !db
                .audit_records(stream.as_str(), after, 1)
                .await?
                .is_empty()
            {
                pending.push((stream, after));
            }
        }
        if pending.is_empty() {
            return Ok(0);
        }
        let mut tls = self.connect().await?;
        let mut n = 0;
        for (stream, mut after) in pending {
            loop {
                let page = db.audit_records(stream.as_str(), after, 2_000).await?;
                let Some(last) = page.last() else { break };
                let last_seq = last.seq;
                let mut frames = Vec::new();
                for row in &page {
                    self.frame(row, &mut frames)?;
                }
                tls.write_all(&frames)
                    .await
                    .map_err(|e| AuditError::Export(e.to_string()))?;
                tls.flush()
                    .await
                    .map_err(|e| AuditError::Export(e.to_string()))?;
                n += page.len() as u64;
                after = last_seq;
                db.put(
                    FORWARD_CURSORS,
                    stream.as_str(),
                    &after.to_be_bytes(),
                    sante_store::Expect::Any,
                    now_micros,
                )
                .await?;
            }
        }
        tls.shutdown()
            .await
            .map_err(|e| AuditError::Export(e.to_string()))?;
        Ok(n)
    }
}

/// Where the syslog forwarder keeps its position, per stream.
const FORWARD_CURSORS: &str = "audit-syslog-forwarded";

impl Action {
    /// Whether the action changes data.
    pub fn writes(self) -> bool {
        !matches!(self, Action::Read)
    }
}

/// The trail read for one person: the events he did, did for someone, or that
/// concern him as a patient (PRV-1). Only the identifiers given are matched; the
/// caller (the portal, for the signed-in person) says whose they are.
#[derive(Clone)]
pub struct Trail {
    db: Db,
}

impl std::fmt::Debug for Trail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Trail")
    }
}

/// What [`Trail::about`] found: the newest events first, and how many matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsAbout {
    pub events: Vec<AuditEvent>,
    pub matched: u64,
}

impl Trail {
    pub fn new(db: Db) -> Trail {
        Trail { db }
    }

    /// The newest `limit` events whose actor, principal or patient is one of
    /// `subjects`. Reads the whole trail: there is no index by person yet, so this is
    /// for a person's own request, not for a hot path.
    pub async fn about(
        &self,
        subjects: &[String],
        limit: usize,
    ) -> Result<EventsAbout, AuditError> {
        let concerns = |t: &Option<Token>| {
            t.as_ref()
                .is_some_and(|t| subjects.iter().any(|s| s == t.as_str()))
        };
        let newest_first = |events: &mut Vec<AuditEvent>| {
            events.sort_by(|a, b| b.at.cmp(&a.at).then(b.id.cmp(&a.id)));
            events.truncate(limit);
        };
        let mut events = Vec::new();
        let mut matched = 0;
        for_each_event(&self.db, None, |event| {
            if concerns(&event.actor.person)
                || concerns(&event.actor.on_behalf_of)
                || concerns(&event.patient)
            {
                matched += 1;
                events.push(event);
                // Cut back to the newest `limit` whenever twice as many are held: the
                // memory a person's request takes stays bounded.
                if events.len() > 2 * limit.max(1) {
                    newest_first(&mut events);
                }
            }
            Ok(())
        })
        .await?;
        newest_first(&mut events);
        Ok(EventsAbout { events, matched })
    }
}
