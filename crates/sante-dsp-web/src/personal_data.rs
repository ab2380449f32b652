//! The DSP's part of a holder's "my data" (PRV-1): where his record stands, what it
//! holds by category, his choices (forbidden professionals, hidden documents,
//! assistants, objections) and the care relationships open now, through the DSP's
//! API and its rules, as the holder himself. The documents' content stays in the
//! record; the page links there.

use sante_audit::Source;
use sante_directory::Directory;
use sante_dsp::category::DataCategory;
use sante_dsp::model::RecordState;
use sante_dsp::{DspError, DspService};
use sante_http::personal_data::{DataFuture, DataUnavailable};
use sante_http::{DataItem, DataSection, Lang, PersonalData};
use sante_identity::Authenticated;
use sante_types::Quality;

use crate::names::Names;

/// The most documents counted by category.
const COUNTED: usize = 10_000;

/// The DSP's answer to "what do you process about me", for patients.
pub struct DspPersonalData {
    dsp: DspService,
    directory: Directory,
}

impl DspPersonalData {
    pub fn new(dsp: DspService, directory: Directory) -> DspPersonalData {
        DspPersonalData { dsp, directory }
    }

    async fn section(
        &self,
        who: &Authenticated,
        source: &Source,
        lang: Lang,
    ) -> Result<DataSection, DspError> {
        let caller = crate::caller_of(who, source.clone());
        let holder = &who.subject;
        let mut section = DataSection::new(
            "dsp",
            lang.pick([
                "Votre dossier de soins partagé",
                "Ihre elektronische Patientenakte",
                "Your shared care record",
            ]),
            lang.pick([
                "Service du dossier de soins partagé : les documents déposés par les professionnels qui vous soignent et par vous-même. Leur contenu est dans votre dossier.",
                "Dienst der elektronischen Patientenakte: die Dokumente Ihrer behandelnden Fachkräfte und Ihre eigenen. Ihr Inhalt steht in Ihrer Akte.",
                "The shared care record service: the documents filed by the professionals treating you and by yourself. Their content is in your record.",
            ]),
        );
        let record = match self.dsp.record(&caller, holder).await {
            Ok(record) => record,
            Err(DspError::NotFound(_)) => {
                return Ok(section.item(DataItem::new().field(
                    "state",
                    lang.pick(["État", "Status", "State"]),
                    lang.pick([
                        "vous n'avez pas de dossier",
                        "Sie haben keine Akte",
                        "you have no record",
                    ]),
                )));
            }
            // The DSP refuses this login (its level, its terms): the record itself says
            // why when he opens it.
            Err(DspError::Denied(_)) => {
                return Ok(section.item(DataItem::new().field(
                    "state",
                    lang.pick(["État", "Status", "State"]),
                    lang.pick([
                        "à voir dans votre dossier, avec une connexion qui l'ouvre",
                        "in Ihrer Akte einzusehen, mit einer Anmeldung, die sie öffnet",
                        "to be seen in your record, with a login that opens it",
                    ]),
                )));
            }
            Err(e) => return Err(e),
        };
        let day = |t: chrono::DateTime<chrono::Utc>| lang.date(t.date_naive());
        let state = match record.state {
            RecordState::Created => lang.pick([
                "créé, pas encore ouvert",
                "angelegt, noch nicht geöffnet",
                "created, not yet opened",
            ]),
            RecordState::Active => lang.pick(["actif", "aktiv", "active"]),
            RecordState::Closed => lang.pick(["fermé", "geschlossen", "closed"]),
        };
        let controls = &record.controls;
        let mut names = Names::new(&self.directory, lang);
        let mut blocked = Vec::new();
        for professional in &controls.blocked {
            blocked.push(names.professional(professional).await);
        }
        let mut summary = DataItem::new()
            .field("state", lang.pick(["État", "Status", "State"]), state)
            .field(
                "created",
                lang.pick(["Créé le", "Angelegt am", "Created"]),
                day(record.created),
            )
            .field(
                "activated",
                lang.pick(["Ouvert le", "Geöffnet am", "Opened"]),
                record.activated.map(day).unwrap_or_default(),
            )
            .field(
                "last_access",
                lang.pick(["Dernier accès", "Letzter Zugriff", "Last access"]),
                day(record.last_access),
            )
            .field(
                "blocked",
                lang.pick([
                    "Professionnels à qui vous interdisez votre dossier",
                    "Fachkräfte, denen Sie Ihre Akte verwehren",
                    "Professionals you forbid your record",
                ]),
                blocked.join("; "),
            )
            .field(
                "restrictions",
                lang.pick([
                    "Documents masqués à un professionnel",
                    "Vor einer Fachkraft verborgene Dokumente",
                    "Documents hidden from a professional",
                ]),
                count(controls.restrictions.len()),
            )
            .field(
                "assistants",
                lang.pick(["Mandataires", "Bevollmächtigte", "Assistants"]),
                count(controls.assistants.len()),
            )
            .field(
                "filing_objections",
                lang.pick([
                    "Prises en charge sans dépôt (opposition)",
                    "Behandlungen ohne Ablage (Widerspruch)",
                    "Care without filing (objection)",
                ]),
                count(controls.filing_objections.len()),
            );
        if record.state != RecordState::Closed {
            let found = self
                .dsp
                .search(&caller, holder, &Default::default(), 0, COUNTED)
                .await?;
            let mut by_category: Vec<(DataCategory, usize)> = Vec::new();
            for item in &found.items {
                match by_category.iter_mut().find(|(c, _)| *c == item.category) {
                    Some((_, n)) => *n += 1,
                    None => by_category.push((item.category, 1)),
                }
            }
            summary = summary
                .field(
                    "documents",
                    lang.pick(["Documents", "Dokumente", "Documents"]),
                    found.total.to_string(),
                )
                .field(
                    "categories",
                    lang.pick(["Par catégorie", "Nach Kategorie", "By category"]),
                    by_category
                        .iter()
                        .map(|(c, n)| format!("{} ({n})", lang.pick(c.titles())))
                        .collect::<Vec<_>>()
                        .join("; "),
                );
            let care = self.dsp.care_relationships(&caller, holder).await?;
            let mut in_care = Vec::new();
            for relationship in &care {
                if let Some(p) = &relationship.professional {
                    in_care.push(names.professional(p).await);
                } else if let Some(e) = &relationship.establishment {
                    in_care.push(names.establishment(e).await);
                }
            }
            summary = summary.field(
                "care",
                lang.pick([
                    "Prises en charge en cours",
                    "Laufende Behandlungen",
                    "Care in progress",
                ]),
                in_care.join("; "),
            );
        }
        section = section.item(summary);
        Ok(section)
    }
}

fn count(n: usize) -> String {
    if n == 0 { String::new() } else { n.to_string() }
}

impl PersonalData for DspPersonalData {
    fn about<'a>(
        &'a self,
        who: &'a Authenticated,
        source: &'a Source,
        lang: Lang,
    ) -> DataFuture<'a> {
        Box::pin(async move {
            if who.quality != Quality::Patient {
                return Ok(None);
            }
            self.section(who, source, lang)
                .await
                .map(Some)
                .map_err(|e| DataUnavailable {
                    part: "dsp",
                    reason: e.to_string(),
                })
        })
    }
}
