//! Secure messaging's part of a professional's "my data" (MSG-20): his mailbox's
//! metadata, never a message's content. Here, in the composition root, because the
//! portal reaches no service and the mail front end serves no web page.

use sante_audit::Source;
use sante_http::personal_data::{DataFuture, DataUnavailable};
use sante_http::{DataItem, DataSection, Lang, PersonalData};
use sante_identity::Authenticated;
use sante_messaging::model::MailboxState;
use sante_messaging::{MailUser, Messaging, MessagingError};
use sante_types::Quality;

pub struct MessagingPersonalData {
    messaging: Messaging,
}

impl MessagingPersonalData {
    pub fn new(messaging: Messaging) -> MessagingPersonalData {
        MessagingPersonalData { messaging }
    }

    async fn section(
        &self,
        who: &Authenticated,
        lang: Lang,
    ) -> Result<DataSection, MessagingError> {
        let mut section = DataSection::new(
            "messaging",
            lang.pick([
                "Votre boîte de messagerie sécurisée",
                "Ihr Postfach der sicheren Nachrichtenübermittlung",
                "Your secure messaging mailbox",
            ]),
            lang.pick([
                "Service de messagerie sécurisée : votre adresse, l'espace utilisé et vos dossiers. Les messages se lisent dans votre logiciel de messagerie.",
                "Dienst der sicheren Nachrichtenübermittlung: Ihre Adresse, der belegte Speicher und Ihre Ordner. Die Nachrichten lesen Sie in Ihrem E-Mail-Programm.",
                "The secure messaging service: your address, the space used and your folders. Messages are read in your mail program.",
            ]),
        );
        let state = |text: [&'static str; 3]| {
            DataItem::new().field(
                "state",
                lang.pick(["État", "Status", "State"]),
                lang.pick(text),
            )
        };
        let user = MailUser {
            account: who.account.clone(),
            quality: who.quality,
            assurance: who.assurance,
            credential: who.credential,
            subject: who.subject.clone(),
        };
        let mailbox = match self.messaging.existing_mailbox(&user).await {
            Ok(Some(mailbox)) => mailbox,
            Ok(None) => {
                return Ok(section.item(state([
                    "pas encore de boîte : elle est créée à votre première connexion",
                    "noch kein Postfach: es wird bei Ihrer ersten Anmeldung angelegt",
                    "no mailbox yet: it is made at your first login",
                ])));
            }
            // Messaging asks for a card or a passkey (MSG-3); so does its metadata.
            Err(MessagingError::NotEntitled(_)) => {
                return Ok(section.item(state([
                    "visible après une connexion par carte ou clé d'accès",
                    "sichtbar nach einer Anmeldung mit Karte oder Passkey",
                    "shown after a login with a card or a passkey",
                ])));
            }
            Err(e) => return Err(e),
        };
        let when = |t: chrono::DateTime<chrono::Utc>| lang.date(t.date_naive());
        let (used, quota) = self.messaging.quota(&mailbox.id).await?;
        let mib = |bytes: u64| format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0));
        let mut folders = Vec::new();
        for folder in self.messaging.folders(&mailbox.id).await? {
            let (_, entries) = self.messaging.messages(&mailbox.id, folder.number).await?;
            folders.push(format!("{} ({})", folder.name, entries.len()));
        }
        let addresses = self
            .messaging
            .addresses_of(&mailbox.professional)
            .await?
            .into_iter()
            .map(|a| a.address)
            .collect::<Vec<_>>();
        section = section.item(
            DataItem::new()
                .field(
                    "address",
                    lang.pick(["Adresse", "Adresse", "Address"]),
                    mailbox.address.clone(),
                )
                .field(
                    "addresses",
                    lang.pick(["Adresses reçues", "Erhaltene Adressen", "Addresses given"]),
                    addresses.join(", "),
                )
                .field(
                    "state",
                    lang.pick(["État", "Status", "State"]),
                    match mailbox.state {
                        MailboxState::Open => lang.pick(["ouverte", "offen", "open"]),
                        MailboxState::Closing => lang.pick([
                            "fermeture demandée",
                            "Schließung beantragt",
                            "closure requested",
                        ]),
                        MailboxState::Closed => lang.pick(["fermée", "geschlossen", "closed"]),
                    },
                )
                .field(
                    "created",
                    lang.pick(["Créée le", "Angelegt am", "Created"]),
                    when(mailbox.created),
                )
                .field(
                    "used",
                    lang.pick(["Espace utilisé", "Belegter Speicher", "Space used"]),
                    format!("{} / {}", mib(used), mib(quota)),
                )
                .field(
                    "folders",
                    lang.pick(["Dossiers", "Ordner", "Folders"]),
                    folders.join(", "),
                )
                .field(
                    "closure_requested",
                    lang.pick([
                        "Fermeture demandée le",
                        "Schließung beantragt am",
                        "Closure requested",
                    ]),
                    mailbox.closure_requested.map(when).unwrap_or_default(),
                )
                .field(
                    "purge_due",
                    lang.pick([
                        "Contenu effacé le",
                        "Inhalt gelöscht am",
                        "Content erased on",
                    ]),
                    mailbox.purge_due.map(when).unwrap_or_default(),
                ),
        );
        Ok(section)
    }
}

impl PersonalData for MessagingPersonalData {
    fn about<'a>(
        &'a self,
        who: &'a Authenticated,
        _source: &'a Source,
        lang: Lang,
    ) -> DataFuture<'a> {
        Box::pin(async move {
            if who.quality != Quality::Professional {
                return Ok(None);
            }
            self.section(who, lang)
                .await
                .map(Some)
                .map_err(|e| DataUnavailable {
                    part: "messaging",
                    reason: e.to_string(),
                })
        })
    }
}
