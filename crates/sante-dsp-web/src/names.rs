//! How the DSP pages name who acted: a professional by his name, profession and
//! practice, an establishment by its name and town, in the page's language; never by
//! an identifier (identifiers stay in links). Professionals and establishments are
//! public entries of the directory (DIR-1), so naming them reveals nothing.

use std::collections::HashMap;

use sante_directory::Directory;
use sante_directory::model::{Address, Professional};
use sante_http::Lang;

use crate::i18n::Msg;

/// Names looked up once per page.
pub(crate) struct Names<'a> {
    directory: &'a Directory,
    lang: Lang,
    professionals: HashMap<String, String>,
    establishments: HashMap<String, String>,
}

fn town(address: &Address) -> Option<&str> {
    address.town.as_deref().filter(|t| !t.is_empty())
}

fn with_town(name: &str, town: Option<&str>) -> String {
    match town {
        Some(town) if !name.contains(town) => format!("{name} ({town})"),
        _ => name.to_owned(),
    }
}

impl<'a> Names<'a> {
    pub fn new(directory: &'a Directory, lang: Lang) -> Names<'a> {
        Names {
            directory,
            lang,
            professionals: HashMap::new(),
            establishments: HashMap::new(),
        }
    }

    /// A fixed phrase of the page's language.
    pub fn says(&self, msg: Msg) -> String {
        self.lang.t(msg).to_owned()
    }

    fn lang(&self) -> Lang {
        self.lang
    }

    /// "Petra Meyer, Médecin, Cabinet Meyer (Bertrange)".
    pub async fn professional(&mut self, id: &str) -> String {
        if let Some(known) = self.professionals.get(id) {
            return known.clone();
        }
        let named = match self.directory.professional(id).await {
            Ok(p) => self.describe(&p).await,
            Err(_) => self.lang.t(Msg::DspWhoUnknownProfessional).to_owned(),
        };
        self.professionals.insert(id.to_owned(), named.clone());
        named
    }

    async fn describe(&mut self, p: &Professional) -> String {
        let mut parts = vec![
            p.display_name(),
            self.lang().pick(p.profession.titles()).to_owned(),
        ];
        let today = self.directory.today();
        if let Some(place) = p.locations.first() {
            parts.push(with_town(&place.name, town(&place.address)));
        } else if let Some(a) = p.affiliations.iter().find(|a| a.active_on(today)) {
            let establishment = a.establishment.clone();
            parts.push(self.establishment(&establishment).await);
        }
        parts.join(", ")
    }

    /// "Centre hospitalier du Nord (Ettelbruck)".
    pub async fn establishment(&mut self, id: &str) -> String {
        if let Some(known) = self.establishments.get(id) {
            return known.clone();
        }
        let named = match self.directory.establishment(id).await {
            Ok(e) => with_town(&e.name, e.sites.first().and_then(|s| town(&s.address))),
            Err(_) => self.lang.t(Msg::DspWhoUnknownEstablishment).to_owned(),
        };
        self.establishments.insert(id.to_owned(), named.clone());
        named
    }
}

/// The professionals a holder may pick (to forbid his record to, to hide a document
/// from): those he knows from this record, then, when he searched, those the public
/// directory finds by name (and town); each as its id and its name.
pub(crate) async fn candidates(
    names: &mut Names<'_>,
    known: impl IntoIterator<Item = String>,
    find: &str,
    town: &str,
) -> Vec<(String, String)> {
    let mut ids: Vec<String> = Vec::new();
    for id in known {
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let (find, town) = (find.trim(), town.trim());
    if !find.is_empty() {
        let query = sante_directory::service::ProfessionalQuery {
            name: Some(find.to_owned()),
            town: Some(town.to_owned()).filter(|t| !t.is_empty()),
            ..Default::default()
        };
        // The public search (DIR-1): a page of the best matches.
        if let Ok(found) = names.directory.search_professionals(&query, None, 20).await {
            for p in found.items {
                if !ids.contains(&p.id) {
                    let named = names.describe(&p).await;
                    names.professionals.insert(p.id.clone(), named);
                    ids.push(p.id);
                }
            }
        }
    }
    let mut picked = Vec::with_capacity(ids.len());
    for id in ids {
        let name = names.professional(&id).await;
        picked.push((id, name));
    }
    picked
}

/// A care relationship's kind, in words.
pub(crate) fn care_kind(kind: sante_dsp::model::CareKind) -> Msg {
    use sante_dsp::model::CareKind as K;
    match kind {
        K::Consultation => Msg::DspCareConsultation,
        K::Admission => Msg::DspCareAdmission,
        K::Emergency => Msg::DspCareEmergency,
    }
}

/// An action of the access history, in words.
pub(crate) fn action(code: &str) -> Msg {
    match code {
        "read" => Msg::DspDidRead,
        "search" => Msg::DspDidSearch,
        "file" => Msg::DspDidFile,
        "replace" => Msg::DspDidReplace,
        "deprecate" | "delete" => Msg::DspDidDeprecate,
        "history" => Msg::DspDidHistory,
        "record" => Msg::DspDidRecord,
        "access_code" => Msg::DspDidAccessCode,
        "care" => Msg::DspDidCare,
        "renew" => Msg::DspDidRenew,
        "stay_ended" => Msg::DspDidStayEnded,
        "activate" => Msg::DspDidActivate,
        "close" => Msg::DspDidClose,
        "reopen" => Msg::DspDidReopen,
        "request_filing" => Msg::DspDidRequestFiling,
        "keep_agreement" => Msg::DspDidKeepAgreement,
        "block" => Msg::DspDidBlock,
        "unblock" => Msg::DspDidUnblock,
        "restrict" => Msg::DspDidRestrict,
        "unrestrict" => Msg::DspDidUnrestrict,
        "acknowledge_risks" => Msg::DspDidAcknowledgeRisks,
        "appoint_assistant" => Msg::DspDidAppointAssistant,
        "revoke_assistant" => Msg::DspDidRevokeAssistant,
        "organ_donation" => Msg::DspDidOrganDonation,
        "controls" => Msg::DspDidControls,
        _ => Msg::DspDidOther,
    }
}
