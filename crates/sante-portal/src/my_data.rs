//! "My data" (PRV-1, MSG-20): what the directories and services process about the
//! signed-in person, as a page and as a JSON download. The portal gives the parts it
//! knows through the platform contexts' APIs (his directory entry, his accounts,
//! credentials and sessions, the terms he accepted, the trail's events about him);
//! each service the platform runs gives its own part through
//! [`sante_http::PersonalData`]. No secret is ever part of it: no password hash,
//! authenticator seed, activation code, token or session secret.
//!
//! Every reading is traced (`PortalPersonalDataRead`), with the person as actor.

use askama::Template;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use sante_audit::{Action, Actor, AuditEvent, EventKind, Outcome, Token};
use sante_directory::access::{Caller, Request};
use sante_directory::model::{Agent, Patient, Professional, Sex};
use sante_http::personal_data::{self, DataItem, DataSection};
use sante_http::{Lang, Layout, Portal};
use sante_identity::{AccountStatus, Authenticated};
use sante_types::{CredentialKind, Quality, Service};

use crate::PortalArea;
use crate::i18n::Msg;

/// How many of the trail's events about him the page lists (the newest).
const EVENTS_LISTED: usize = 200;

#[derive(Template)]
#[template(path = "my_data.html")]
struct MyDataPage<'a> {
    layout: &'a Layout,
    sections: Vec<DataSection>,
}

pub async fn my_data_page(State(area): State<PortalArea>, portal: Portal) -> Response {
    let who = match portal.require_login().await {
        Ok(who) => who,
        Err(res) => return res,
    };
    match collect(&area, &portal, &who).await {
        Ok(sections) => portal.personal_page(&MyDataPage {
            layout: &portal.layout,
            sections,
        }),
        Err(res) => res,
    }
}

pub async fn my_data_download(State(area): State<PortalArea>, portal: Portal) -> Response {
    let who = match portal.require_login().await {
        Ok(who) => who,
        Err(res) => return res,
    };
    let sections = match collect(&area, &portal, &who).await {
        Ok(sections) => sections,
        Err(res) => return res,
    };
    let lang = portal.layout.lang;
    let now = area.kernel.clock().now();
    let json = personal_data::to_json(&sections, &lang.date_time(now), lang);
    let mut res = axum::Json(json).into_response();
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"my-data.json\""),
    );
    res
}

/// Every part, traced once; the first part that cannot be read fails the whole (a
/// partial answer would look complete).
async fn collect(
    area: &PortalArea,
    portal: &Portal,
    who: &Authenticated,
) -> Result<Vec<DataSection>, Response> {
    let actor = Actor {
        person: Token::new(who.account.clone()).ok(),
        quality: Some(who.quality),
        credential: Some(who.credential),
        assurance: Some(who.assurance),
        ..Actor::default()
    };
    portal
        .trace_by(EventKind::PortalPersonalDataRead, actor)
        .await?;
    let lang = portal.layout.lang;
    let mut sections = vec![directory_entry(area, portal, who, lang).await?];
    sections.extend(accounts(area, portal, who, lang).await?);
    sections.push(terms(area, portal, who, lang).await?);
    let origin = portal.origin.source();
    for source in area.personal_data.iter() {
        match source.about(who, &origin, lang).await {
            Ok(Some(section)) => sections.push(section),
            Ok(None) => {}
            Err(e) => {
                tracing::error!(error = %e, "a part of a person's data could not be read");
                return Err(portal.error(sante_http::HttpError::Unavailable(e.to_string())));
            }
        }
    }
    sections.push(events(area, portal, who, lang).await?);
    Ok(sections)
}

fn sex(lang: Lang, s: Sex) -> &'static str {
    match s {
        Sex::Female => lang.pick(["féminin", "weiblich", "female"]),
        Sex::Male => lang.pick(["masculin", "männlich", "male"]),
        Sex::Other => lang.pick(["autre", "divers", "other"]),
        Sex::Unknown => lang.pick(["non renseigné", "nicht angegeben", "not given"]),
    }
}

fn quality(lang: Lang, q: Quality) -> &'static str {
    match q {
        Quality::Patient => lang.pick(["patient", "Patient", "patient"]),
        Quality::Professional => lang.pick([
            "professionnel de santé",
            "Gesundheitsfachkraft",
            "health professional",
        ]),
        Quality::Agent => lang.pick([
            "acteur de santé",
            "Akteur im Gesundheitswesen",
            "health agent",
        ]),
    }
}

fn credential(lang: Lang, kind: CredentialKind) -> &'static str {
    match kind {
        CredentialKind::Password => lang.pick(["mot de passe", "Passwort", "password"]),
        CredentialKind::PasswordTotp => lang.pick([
            "application d'authentification",
            "Authentifizierungs-App",
            "authenticator app",
        ]),
        CredentialKind::ClientCertificate => lang.pick([
            "carte à puce (certificat)",
            "Chipkarte (Zertifikat)",
            "smart card (certificate)",
        ]),
        CredentialKind::WebAuthn => lang.pick(["clé d'accès", "Passkey", "passkey"]),
        CredentialKind::ApplicationPassword => lang.pick([
            "mot de passe d'application",
            "Anwendungspasswort",
            "application password",
        ]),
        CredentialKind::SystemAssertion => lang.pick([
            "assertion d'un système",
            "Zusicherung eines Systems",
            "system assertion",
        ]),
    }
}

fn service(lang: Lang, s: Service) -> &'static str {
    match s {
        Service::Platform => lang.pick(["plateforme", "Plattform", "platform"]),
        Service::Directory => lang.pick(["annuaires", "Verzeichnisse", "directories"]),
        Service::Identity => lang.pick([
            "annuaire de sécurité (comptes)",
            "Sicherheitsverzeichnis (Konten)",
            "security directory (accounts)",
        ]),
        Service::Portal => lang.pick(["portail", "Portal", "portal"]),
        Service::Messaging => lang.pick([
            "messagerie sécurisée",
            "sichere Nachrichtenübermittlung",
            "secure messaging",
        ]),
        Service::Dsp => lang.pick([
            "dossier de soins partagé",
            "elektronische Patientenakte",
            "shared care record",
        ]),
        Service::Referent => lang.pick(["médecin référent", "Referenzarzt", "referring doctor"]),
    }
}

fn address_text(a: &sante_directory::model::Address) -> String {
    let mut parts = a.lines.clone();
    let town = [a.postcode.as_deref(), a.town.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    if !town.is_empty() {
        parts.push(town);
    }
    if let Some(country) = &a.country {
        parts.push(country.clone());
    }
    parts.join(", ")
}

async fn directory_entry(
    area: &PortalArea,
    portal: &Portal,
    who: &Authenticated,
    lang: Lang,
) -> Result<DataSection, Response> {
    let title = lang.pick([
        "Votre fiche dans l'annuaire",
        "Ihr Eintrag im Verzeichnis",
        "Your directory entry",
    ]);
    let section = match who.quality {
        Quality::Patient => {
            let req = Request::new(
                Caller::Person {
                    account: who.account.clone(),
                    quality: who.quality,
                    assurance: who.assurance,
                    credential: who.credential,
                    roles: Vec::new(),
                    system: None,
                },
                portal.origin.source(),
            );
            let entry = area
                .directory
                .own_patient_entry(&req, &who.subject)
                .await
                .map_err(|e| portal.failure(&e))?;
            DataSection::new(
                "directory",
                title,
                lang.pick([
                    "Annuaire des patients, alimenté par le registre de la sécurité sociale et par les prestataires de soins ; à faire rectifier auprès de ce registre.",
                    "Patientenverzeichnis, gespeist aus dem Register der Sozialversicherung und von den Leistungserbringern; Berichtigungen über dieses Register.",
                    "Patient directory, fed from the social-security register and by care providers; corrections go through that register.",
                ]),
            )
            .item(patient_item(lang, &entry))
        }
        Quality::Professional => {
            let entry = area
                .directory
                .professional(&who.subject)
                .await
                .map_err(|e| portal.failure(&e))?;
            DataSection::new(
                "directory",
                title,
                lang.pick([
                    "Annuaire des professionnels, alimenté par les registres officiels des professions de santé ; public, sauf votre numéro national.",
                    "Verzeichnis der Gesundheitsfachkräfte, gespeist aus den amtlichen Registern der Gesundheitsberufe; öffentlich, außer Ihrer nationalen Nummer.",
                    "Directory of professionals, fed from the official registers of the health professions; public, except your national number.",
                ]),
            )
            .item(professional_item(lang, &entry))
        }
        Quality::Agent => {
            let entry = area
                .directory
                .agent(&who.subject)
                .await
                .map_err(|e| portal.failure(&e))?;
            DataSection::new(
                "directory",
                title,
                lang.pick([
                    "Annuaire des acteurs de santé, sur demande de votre organisation ; gardé au plus 12 mois après la fin de votre fonction.",
                    "Verzeichnis der Akteure im Gesundheitswesen, auf Antrag Ihrer Organisation; höchstens 12 Monate nach Ende Ihrer Funktion aufbewahrt.",
                    "Health-agent directory, on your organisation's request; kept at most 12 months after your function ends.",
                ]),
            )
            .item(agent_item(lang, &entry))
        }
    };
    Ok(section)
}

fn patient_item(lang: Lang, p: &Patient) -> DataItem {
    DataItem::new()
        .field("name", lang.pick(["Nom", "Name", "Name"]), p.display_name())
        .field(
            "birth_name",
            lang.pick(["Nom de naissance", "Geburtsname", "Birth name"]),
            p.birth_name.clone(),
        )
        .field(
            "sex",
            lang.pick(["Sexe", "Geschlecht", "Sex"]),
            sex(lang, p.sex),
        )
        .field(
            "birth_date",
            lang.pick(["Date de naissance", "Geburtsdatum", "Birth date"]),
            p.birth_date.map(|d| lang.date(d)).unwrap_or_default(),
        )
        .field(
            "birth_place",
            lang.pick(["Lieu de naissance", "Geburtsort", "Birth place"]),
            p.birth_place.clone().unwrap_or_default(),
        )
        .field(
            "national_id",
            lang.pick([
                "Numéro d'identification national",
                "Nationale Identifikationsnummer",
                "National identification number",
            ]),
            p.national_id
                .as_ref()
                .map(|n| n.to_string())
                .unwrap_or_default(),
        )
        .field(
            "address",
            lang.pick(["Adresse", "Adresse", "Address"]),
            p.address.as_ref().map(address_text).unwrap_or_default(),
        )
        .field(
            "insurer",
            lang.pick([
                "Caisse d'assurance maladie",
                "Krankenkasse",
                "Health insurer",
            ]),
            p.insurance
                .as_ref()
                .map(|i| i.insurer.clone())
                .unwrap_or_default(),
        )
        .field(
            "legal_representative",
            lang.pick([
                "Représentant légal",
                "Gesetzlicher Vertreter",
                "Legal representative",
            ]),
            p.legal_representative
                .as_ref()
                .map(|r| r.name.clone())
                .unwrap_or_default(),
        )
}

fn professional_item(lang: Lang, p: &Professional) -> DataItem {
    let authorisation = match p.authorisation.status {
        sante_directory::model::AuthorisationStatus::Active => {
            lang.pick(["en vigueur", "gültig", "in force"])
        }
        sante_directory::model::AuthorisationStatus::Suspended => {
            lang.pick(["suspendue", "ausgesetzt", "suspended"])
        }
        sante_directory::model::AuthorisationStatus::Withdrawn => {
            lang.pick(["retirée", "entzogen", "withdrawn"])
        }
    };
    DataItem::new()
        .field("name", lang.pick(["Nom", "Name", "Name"]), p.display_name())
        .field(
            "profession",
            lang.pick(["Profession", "Beruf", "Profession"]),
            lang.pick(p.profession.titles()),
        )
        .field(
            "specialities",
            lang.pick(["Spécialités", "Fachgebiete", "Specialities"]),
            p.specialities.join(", "),
        )
        .field(
            "authorisation",
            lang.pick([
                "Autorisation d'exercer",
                "Berufsausübungserlaubnis",
                "Authorisation to practise",
            ]),
            format!(
                "{authorisation}, {} {}",
                lang.pick(["depuis le", "seit", "since"]),
                lang.date(p.authorisation.status_since)
            ),
        )
        .field(
            "practices",
            lang.pick(["Lieux d'exercice", "Praxisorte", "Practices"]),
            p.locations
                .iter()
                .map(|l| format!("{} ({})", l.name, address_text(&l.address)))
                .collect::<Vec<_>>()
                .join("; "),
        )
        .field(
            "phone",
            lang.pick([
                "Téléphone professionnel",
                "Dienstliche Telefonnummer",
                "Work telephone",
            ]),
            p.contact.phone.clone().unwrap_or_default(),
        )
        .field(
            "national_id",
            lang.pick([
                "Numéro d'identification national",
                "Nationale Identifikationsnummer",
                "National identification number",
            ]),
            p.national_id
                .as_ref()
                .map(|n| n.to_string())
                .unwrap_or_default(),
        )
}

fn agent_item(lang: Lang, a: &Agent) -> DataItem {
    DataItem::new()
        .field(
            "name",
            lang.pick(["Nom", "Name", "Name"]),
            format!("{} {}", a.given_names.join(" "), a.family_name),
        )
        .field(
            "organisation",
            lang.pick(["Organisation", "Organisation", "Organisation"]),
            a.organisation.clone(),
        )
        .field(
            "function",
            lang.pick(["Fonction", "Funktion", "Function"]),
            a.function.clone(),
        )
        .field(
            "valid",
            lang.pick(["Période", "Zeitraum", "Period"]),
            match a.valid_until {
                Some(until) => format!("{} – {}", lang.date(a.valid_from), lang.date(until)),
                None => format!(
                    "{} {}",
                    lang.pick(["depuis le", "seit", "since"]),
                    lang.date(a.valid_from)
                ),
            },
        )
}

/// His accounts in every quality, this account's credentials and its sessions.
async fn accounts(
    area: &PortalArea,
    portal: &Portal,
    who: &Authenticated,
    lang: Lang,
) -> Result<Vec<DataSection>, Response> {
    let identity = area.identity();
    let loaded = async {
        Ok::<_, sante_identity::IdentityError>((
            identity.accounts_of_person(who).await?,
            identity.credentials(who).await?,
            identity.sessions(who).await?,
        ))
    };
    let (accounts, credentials, sessions) = loaded.await.map_err(|e| portal.failure(&e))?;
    let source = lang.pick([
        "Annuaire de sécurité de la plateforme : un compte par qualité, avec ses moyens de connexion. Les secrets (mots de passe, graines, jetons) n'y sont gardés que sous forme protégée et ne sont jamais montrés.",
        "Sicherheitsverzeichnis der Plattform: ein Konto je Eigenschaft, mit seinen Anmeldemitteln. Geheimnisse (Passwörter, Schlüssel, Token) werden nur geschützt gespeichert und nie angezeigt.",
        "The platform's security directory: one account per quality, with its ways of logging in. Secrets (passwords, seeds, tokens) are kept only in protected form and never shown.",
    ]);
    let mut account_section = DataSection::new(
        "accounts",
        lang.pick(["Vos comptes", "Ihre Konten", "Your accounts"]),
        source,
    );
    for a in accounts {
        let state = match a.state {
            AccountStatus::Pending { expires } => format!(
                "{} {}",
                lang.pick([
                    "en attente d'activation jusqu'au",
                    "wartet auf Aktivierung bis",
                    "waiting for activation until",
                ]),
                lang.date_time(expires)
            ),
            AccountStatus::Active => lang.pick(["actif", "aktiv", "active"]).to_owned(),
            AccountStatus::Blocked { since } => format!(
                "{} {}",
                lang.pick(["bloqué depuis le", "gesperrt seit", "blocked since"]),
                lang.date_time(since)
            ),
            AccountStatus::Closed { since } => format!(
                "{} {}",
                lang.pick(["fermé depuis le", "geschlossen seit", "closed since"]),
                lang.date_time(since)
            ),
        };
        account_section = account_section.item(
            DataItem::new()
                .field(
                    "quality",
                    lang.pick(["Qualité", "Eigenschaft", "Quality"]),
                    quality(lang, a.quality),
                )
                .field(
                    "login",
                    lang.pick(["Identifiant", "Kennung", "Login"]),
                    a.login,
                )
                .field("state", lang.pick(["État", "Status", "State"]), state)
                .field(
                    "email",
                    lang.pick([
                        "Courriel personnel",
                        "Persönliche E-Mail",
                        "Personal e-mail",
                    ]),
                    a.email.unwrap_or_default(),
                )
                .field(
                    "created",
                    lang.pick(["Créé le", "Angelegt am", "Created"]),
                    lang.date_time(a.created),
                )
                .field(
                    "credentials",
                    lang.pick(["Moyens de connexion", "Anmeldemittel", "Ways of logging in"]),
                    a.credentials
                        .iter()
                        .map(|k| credential(lang, *k))
                        .collect::<Vec<_>>()
                        .join(", "),
                )
                .field(
                    "failed_logins",
                    lang.pick([
                        "Échecs de connexion depuis la dernière réussite",
                        "Fehlgeschlagene Anmeldungen seit der letzten erfolgreichen",
                        "Failed logins since the last success",
                    ]),
                    if a.failed_logins > 0 {
                        a.failed_logins.to_string()
                    } else {
                        String::new()
                    },
                )
                .field(
                    "locked_until",
                    lang.pick(["Verrouillé jusqu'au", "Gesperrt bis", "Locked until"]),
                    a.locked_until
                        .map(|t| lang.date_time(t))
                        .unwrap_or_default(),
                ),
        );
    }
    let mut credential_section = DataSection::new(
        "credentials",
        lang.pick([
            "Les moyens de connexion de ce compte",
            "Die Anmeldemittel dieses Kontos",
            "This account's ways of logging in",
        ]),
        source,
    );
    for c in credentials {
        credential_section = credential_section.item(
            DataItem::new()
                .field(
                    "kind",
                    lang.pick(["Moyen", "Mittel", "Kind"]),
                    credential(lang, c.kind),
                )
                .field("label", lang.pick(["Nom", "Bezeichnung", "Label"]), c.label)
                .field(
                    "created",
                    lang.pick(["Enregistré le", "Registriert am", "Registered"]),
                    lang.date_time(c.created),
                ),
        );
    }
    let mut session_section = DataSection::new(
        "sessions",
        lang.pick([
            "Vos sessions ouvertes",
            "Ihre offenen Sitzungen",
            "Your open sessions",
        ]),
        source,
    );
    for s in sessions {
        session_section = session_section.item(
            DataItem::new()
                .field(
                    "started",
                    lang.pick(["Ouverte le", "Begonnen am", "Started"]),
                    lang.date_time(s.created),
                )
                .field(
                    "last_seen",
                    lang.pick(["Dernière activité", "Letzte Aktivität", "Last activity"]),
                    lang.date_time(s.last_seen),
                )
                .field(
                    "client",
                    lang.pick(["Navigateur", "Browser", "Browser"]),
                    s.client,
                )
                .field(
                    "current",
                    lang.pick(["Session actuelle", "Aktuelle Sitzung", "This session"]),
                    if s.id == who.session {
                        lang.pick(["oui", "ja", "yes"])
                    } else {
                        ""
                    },
                ),
        );
    }
    Ok(vec![account_section, credential_section, session_section])
}

async fn terms(
    area: &PortalArea,
    portal: &Portal,
    who: &Authenticated,
    lang: Lang,
) -> Result<DataSection, Response> {
    let accepted = area
        .terms()
        .acceptances(&who.account)
        .await
        .map_err(|e| portal.failure(&e))?;
    let mut section = DataSection::new(
        "terms",
        lang.pick([
            "Les conditions d'utilisation que vous avez acceptées",
            "Die von Ihnen angenommenen Nutzungsbedingungen",
            "The terms of use you accepted",
        ]),
        lang.pick([
            "La plateforme garde chaque acceptation, avec la version et la langue lue.",
            "Die Plattform bewahrt jede Annahme mit der Fassung und der gelesenen Sprache auf.",
            "The platform keeps each acceptance, with the version and the language read.",
        ]),
    );
    for (version, acceptance) in accepted {
        section = section.item(
            DataItem::new()
                .field(
                    "document",
                    lang.pick(["Document", "Dokument", "Document"]),
                    version.title.get(lang.code()).to_owned(),
                )
                .field(
                    "version",
                    lang.pick(["Version", "Fassung", "Version"]),
                    version.version.to_string(),
                )
                .field(
                    "accepted",
                    lang.pick(["Acceptée le", "Angenommen am", "Accepted"]),
                    lang.date_time(acceptance.at),
                )
                .field(
                    "language",
                    lang.pick(["Langue lue", "Gelesene Sprache", "Language read"]),
                    match acceptance.lang.as_str() {
                        "de" => "Deutsch",
                        "en" => "English",
                        _ => "français",
                    },
                ),
        );
    }
    Ok(section)
}

/// What an event was, in words.
fn what(lang: Lang, event: &AuditEvent) -> String {
    let known = match event.kind {
        EventKind::IdentityLoginSucceeded => Some(["Connexion", "Anmeldung", "Login"]),
        EventKind::IdentityLoginFailed => Some([
            "Tentative de connexion refusée",
            "Abgelehnter Anmeldeversuch",
            "Refused login attempt",
        ]),
        EventKind::IdentitySessionEnded => {
            Some(["Fin de session", "Sitzungsende", "Session ended"])
        }
        EventKind::IdentityAccountCreated => {
            Some(["Compte créé", "Konto angelegt", "Account created"])
        }
        EventKind::IdentityAccountActivated => {
            Some(["Compte activé", "Konto aktiviert", "Account activated"])
        }
        EventKind::IdentityCredentialAdded => Some([
            "Moyen de connexion ajouté",
            "Anmeldemittel hinzugefügt",
            "Way of logging in added",
        ]),
        EventKind::IdentityCredentialRevoked => Some([
            "Moyen de connexion retiré",
            "Anmeldemittel entfernt",
            "Way of logging in removed",
        ]),
        EventKind::IdentityTokenIssued => Some([
            "Accès donné à une application",
            "Zugang für eine Anwendung erteilt",
            "Access given to an application",
        ]),
        EventKind::TermsAccepted => Some([
            "Conditions d'utilisation acceptées",
            "Nutzungsbedingungen angenommen",
            "Terms of use accepted",
        ]),
        EventKind::DirectoryPatientRead => Some([
            "Lecture de votre identité dans l'annuaire",
            "Lesen Ihrer Identität im Verzeichnis",
            "Your identity read in the directory",
        ]),
        EventKind::DspRecordCreated => Some(["DSP créé", "Akte angelegt", "Record created"]),
        EventKind::DspRecordActivated => Some(["DSP activé", "Akte aktiviert", "Record activated"]),
        EventKind::DspItemFiled => Some([
            "Document déposé dans le DSP",
            "Dokument in der Akte abgelegt",
            "Document filed in the record",
        ]),
        EventKind::DspItemRead => Some([
            "Document du DSP lu",
            "Dokument der Akte gelesen",
            "Record document read",
        ]),
        EventKind::DspSearched => Some(["DSP consulté", "Akte eingesehen", "Record consulted"]),
        EventKind::DspHistoryRead => Some([
            "Historique des accès lu",
            "Zugriffsprotokoll gelesen",
            "Access history read",
        ]),
        EventKind::DspControlChanged => Some([
            "Choix d'accès au DSP modifié",
            "Zugriffseinstellung der Akte geändert",
            "Record access choice changed",
        ]),
        EventKind::DspRelationshipStarted => Some([
            "Prise en charge commencée",
            "Behandlung begonnen",
            "Care relationship started",
        ]),
        EventKind::DspRelationshipEnded => Some([
            "Prise en charge terminée",
            "Behandlung beendet",
            "Care relationship ended",
        ]),
        EventKind::DspAccessDenied => Some([
            "Accès au DSP refusé",
            "Zugriff auf die Akte abgelehnt",
            "Record access refused",
        ]),
        EventKind::MessagingSessionOpened => Some([
            "Connexion à la messagerie",
            "Anmeldung an der Nachrichtenübermittlung",
            "Messaging login",
        ]),
        EventKind::MessagingMessageAccepted => Some([
            "Message reçu ou envoyé",
            "Nachricht empfangen oder gesendet",
            "Message received or sent",
        ]),
        EventKind::PortalPersonalDataRead => Some([
            "Consultation de vos données",
            "Abruf Ihrer Daten",
            "Your data viewed",
        ]),
        _ => None,
    };
    match known {
        Some(texts) => lang.pick(texts).to_owned(),
        None => {
            let action = match event.action {
                Action::Create => lang.pick(["création", "Anlage", "creation"]),
                Action::Read => lang.pick(["lecture", "Lesen", "reading"]),
                Action::Update => lang.pick(["modification", "Änderung", "change"]),
                Action::Delete => lang.pick(["suppression", "Löschung", "deletion"]),
                Action::Execute => lang.pick(["opération", "Vorgang", "operation"]),
            };
            let service = service(lang, event.service);
            format!("{service}{}{action}", lang.pick([" : ", ": ", ": "]))
        }
    }
}

/// The trail's events about him: those he did, did for someone, or that concern him
/// as a patient.
async fn events(
    area: &PortalArea,
    portal: &Portal,
    who: &Authenticated,
    lang: Lang,
) -> Result<DataSection, Response> {
    let mut subjects = vec![who.account.clone()];
    if who.quality == Quality::Patient {
        subjects.push(who.subject.clone());
    }
    let found = area
        .trail
        .about(&subjects, EVENTS_LISTED)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "the trail could not be read for a person");
            portal.error(sante_http::HttpError::Unavailable(e.to_string()))
        })?;
    let mut section = DataSection::new(
        "events",
        lang.pick([
            "Le journal des accès et actions qui vous concernent",
            "Das Protokoll der Zugriffe und Handlungen, die Sie betreffen",
            "The trail of accesses and actions about you",
        ]),
        lang.pick([
            "Journal d'audit de la plateforme, infalsifiable ; les plus récents d'abord. Le détail des accès à votre DSP, nommant chaque professionnel, est dans l'historique de votre DSP.",
            "Fälschungssicheres Prüfprotokoll der Plattform; die neuesten zuerst. Die Zugriffe auf Ihre Akte mit dem Namen jeder Fachkraft stehen im Zugriffsprotokoll Ihrer Akte.",
            "The platform's tamper-evident audit trail, newest first. Your record's accesses, naming each professional, are in your record's access history.",
        ]),
    );
    section.truncated = found.matched > found.events.len() as u64;
    for event in found.events {
        let by = if event
            .actor
            .person
            .as_ref()
            .is_some_and(|p| p.as_str() == who.account)
        {
            lang.pick(["vous", "Sie", "you"])
        } else if event
            .actor
            .on_behalf_of
            .as_ref()
            .is_some_and(|p| p.as_str() == who.account || p.as_str() == who.subject)
        {
            lang.pick(["votre mandataire", "Ihr Bevollmächtigter", "your assistant"])
        } else if event
            .actor
            .person
            .as_ref()
            .is_some_and(|p| p.as_str() == "system")
        {
            lang.pick(["la plateforme", "die Plattform", "the platform"])
        } else {
            match event.actor.quality {
                Some(q) => quality(lang, q),
                None => lang.pick(["une autre personne", "eine andere Person", "someone else"]),
            }
        };
        let outcome = match &event.outcome {
            Outcome::Success => lang.pick(["réussi", "erfolgreich", "done"]),
            Outcome::Denied(_) => lang.pick(["refusé", "abgelehnt", "refused"]),
            Outcome::Failure(_) => lang.pick(["échoué", "fehlgeschlagen", "failed"]),
        };
        section = section.item(
            DataItem::new()
                .field(
                    "at",
                    lang.pick(["Date", "Datum", "When"]),
                    lang.date_time(event.at),
                )
                .field(
                    "what",
                    lang.pick(["Quoi", "Was", "What"]),
                    what(lang, &event),
                )
                .field("by", lang.pick(["Par", "Durch", "By"]), by)
                .field(
                    "outcome",
                    lang.pick(["Résultat", "Ergebnis", "Outcome"]),
                    outcome,
                ),
        );
    }
    Ok(section)
}
