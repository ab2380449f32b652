//! The shared care record's portal pages. The holder (or his assistant) sees his DSP
//! as a timeline filterable by category, author and date, reads documents, writes in
//! his personal space, answers the organ-donation question, sees his access history
//! and notices, manages his controls and his assistant, gives access codes, closes
//! and reopens. A professional opens a care relationship with the holder's code, finds
//! the patients he cares for, sees what he may see with the same filters, and files a
//! document.
//!
//! Every decision is the DSP service's; these handlers only translate. Errors are
//! answered by the kernel's one mapping, except where a page deliberately says less:
//! a document the caller may not read does not exist for him.
//!
//! Architecture invariant: a web area over `sante-dsp` and platform contexts only.

// Helpers return a ready `Response` as their error, which the handler returns at once:
// its size does not matter.
#![allow(clippy::result_large_err)]

mod controls;
mod document;
mod history;
mod holder;
mod i18n;
mod names;
mod personal_data;
mod pro;

pub use personal_data::DspPersonalData;

use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::response::Response;
use chrono::NaiveDate;
use http::request::Parts;
use sante_directory::Directory;
use sante_dsp::category::DataCategory;
use sante_dsp::model::{Author, Item};
use sante_dsp::service::ItemQuery;
use sante_dsp::{Caller, DspService};
use sante_http::{Access, Area, Routes};
use sante_http::{CsrfForm, Kernel, NavItem, Portal};
use sante_identity::Authenticated;
use sante_types::Service;

use i18n::Msg;

/// What the DSP pages' handlers share.
#[derive(Clone)]
pub struct DspWeb {
    kernel: Kernel,
    dsp: DspService,
    directory: Directory,
}

impl FromRef<DspWeb> for Kernel {
    fn from_ref(web: &DspWeb) -> Kernel {
        web.kernel.clone()
    }
}

impl DspWeb {
    pub fn new(kernel: Kernel, dsp: DspService, directory: Directory) -> DspWeb {
        DspWeb {
            kernel,
            dsp,
            directory,
        }
    }
}

/// The DSP's entry of the main navigation.
pub fn nav() -> Vec<NavItem> {
    vec![NavItem::new(50, "/dsp", &["/dsp", "/pro/dsp"], Msg::NavDsp)]
}

/// The DSP pages' routes: the holder's (and his assistants') under `/dsp`, the
/// professionals' under `/pro/dsp`; a document's content is served to either, by the
/// DSP's decision.
pub fn routes(web: DspWeb) -> Area {
    use Access::{Patient, Professional, SignedIn};
    Routes::new()
        .get("/dsp", Patient, holder::holder_page)
        .get("/dsp/history", Patient, history::history_page)
        .get("/dsp/controls", Patient, controls::controls_page)
        .post("/dsp/controls/{action}", Patient, controls::controls_action)
        .get("/dsp/document/{id}", Patient, document::holder_document)
        .get(
            "/dsp/document/{id}/content",
            SignedIn,
            document::document_content,
        )
        .post(
            "/dsp/document/{id}/{action}",
            Patient,
            document::document_action,
        )
        .post("/dsp/{action}", Patient, holder::holder_action)
        .get("/pro/dsp", Professional, pro::pro_page)
        .post("/pro/dsp/code", Professional, pro::pro_redeem)
        .get("/pro/dsp/patient", Professional, pro::pro_patient)
        .post(
            "/pro/dsp/patient/{holder}/file",
            Professional,
            pro::pro_file,
        )
        .get(
            "/pro/dsp/document/{id}",
            Professional,
            document::pro_document,
        )
        .get(
            "/pro/dsp/document/{id}/content",
            SignedIn,
            document::document_content,
        )
        .with_state(web)
}

/// The DSP caller a signed-in person is, on the portal (no establishment's system).
fn caller_of(who: &Authenticated, source: sante_audit::Source) -> Caller {
    Caller {
        account: who.account.clone(),
        quality: who.quality,
        assurance: who.assurance,
        credential: who.credential,
        entry: who.subject.clone(),
        system: None,
        source,
    }
}

/// A DSP page's request: the portal request of a person who may use the DSP now (the
/// level of assurance of his quality and the DSP's terms of use), and the DSP caller
/// he is. Without them, the handler is not reached: the login page, a refusal or the
/// terms page answers.
struct DspPage {
    portal: Portal,
    who: Authenticated,
    caller: Caller,
    query: Vec<(String, String)>,
}

impl FromRequestParts<DspWeb> for DspPage {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, web: &DspWeb) -> Result<Self, Response> {
        DspPage::open(Portal::new(web.kernel.clone(), parts)).await
    }
}

/// A DSP form: its CSRF token checked first (a forged form is refused as such, even
/// without a session), then the DSP page it is posted from.
struct DspForm<T> {
    page: DspPage,
    form: T,
}

impl<T> FromRequest<DspWeb> for DspForm<T>
where
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = Response;

    async fn from_request(req: Request, web: &DspWeb) -> Result<Self, Response> {
        let (parts, body) = req.into_parts();
        let portal = Portal::new(web.kernel.clone(), &parts);
        let CsrfForm(form) = CsrfForm::from_request(Request::from_parts(parts, body), web).await?;
        Ok(DspForm {
            page: DspPage::open(portal).await?,
            form,
        })
    }
}

impl DspPage {
    async fn open(portal: Portal) -> Result<DspPage, Response> {
        let who = portal
            .require_service(Service::Dsp, Msg::DspNeedsHigh)
            .await?;
        let caller = caller_of(&who, portal.origin.source());
        let query = portal
            .path()
            .split_once('?')
            .and_then(|(_, q)| serde_urlencoded::from_str(q).ok())
            .unwrap_or_default();
        Ok(DspPage {
            portal,
            who,
            caller,
            query,
        })
    }

    /// A parameter of the query string, empty when absent.
    fn param(&self, name: &str) -> &str {
        param(&self.query, name)
    }

    /// The holder the page is about: the `holder` parameter, or the caller himself.
    fn holder(&self) -> String {
        match self.param("holder") {
            "" => self.caller.entry.clone(),
            h => h.to_owned(),
        }
    }

    /// The directory request of this person (DIR-5: a professional identifies whom he
    /// treats).
    fn directory_request(&self) -> sante_directory::Request {
        sante_directory::Request::new(
            sante_directory::access::Caller::Person {
                account: self.who.account.clone(),
                quality: self.who.quality,
                assurance: self.who.assurance,
                credential: self.who.credential,
                roles: vec![],
                system: None,
            },
            self.caller.source.clone(),
        )
    }

    /// The DSP naming the holders of care relationships it holds for this
    /// professional (his list of patients, a DSP he reaches): the DSP's lookup, not
    /// one of the professional's own, so it does not use up his hourly allowance of
    /// identities (DIR-5). The DSP traces the access itself.
    fn care_directory_request(&self) -> sante_directory::Request {
        sante_directory::Request::new(
            sante_directory::access::Caller::Service {
                name: "dsp".into(),
                service: sante_types::Service::Dsp,
            },
            self.caller.source.clone(),
        )
    }
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

struct ItemRow {
    id: String,
    date: String,
    category: String,
    category_code: String,
    title: String,
    author: String,
}

/// Who wrote a document, as the reader says it.
async fn author(names: &mut names::Names<'_>, item: &Item, reader_is_holder: bool) -> String {
    match &item.author {
        Author::Professional {
            professional,
            establishment,
        } => match establishment {
            Some(e) => format!(
                "{} — {}",
                names.professional(professional).await,
                names.establishment(e).await
            ),
            None => names.professional(professional).await,
        },
        Author::Holder if reader_is_holder => names.says(Msg::DspWhoYou),
        Author::Holder => names.says(Msg::DspWhoHolder),
        Author::System { name } => name.clone(),
    }
}

/// The timeline's rows, their authors named; `author` (a name, an establishment, a
/// part of either) keeps the documents whose author it names.
async fn rows(web: &DspWeb, page: &DspPage, items: &[Item], author_filter: &str) -> Vec<ItemRow> {
    let layout = &page.portal.layout;
    let reader_is_holder = page.caller.entry == page.holder();
    let wanted = author_filter.trim().to_lowercase();
    let mut names = names::Names::new(&web.directory, layout.lang);
    let mut rows = Vec::with_capacity(items.len());
    for i in items {
        let author = author(&mut names, i, reader_is_holder).await;
        if !wanted.is_empty() && !author.to_lowercase().contains(&wanted) {
            continue;
        }
        rows.push(ItemRow {
            id: i.id.clone(),
            date: i
                .service_date
                .unwrap_or_else(|| i.filed_at.date_naive())
                .to_string(),
            category: layout.lang.pick(i.category.titles()).to_owned(),
            category_code: i.category.code(),
            title: i.title.clone(),
            author,
        });
    }
    rows
}

fn categories(lang: sante_http::Lang) -> Vec<(String, String)> {
    DataCategory::ALL
        .iter()
        .map(|c| {
            (
                c.code(),
                format!("{} — {}", c.number(), lang.pick(c.titles())),
            )
        })
        .collect()
}

/// The filters of a timeline, from the query string.
fn filters(pairs: &[(String, String)]) -> ItemQuery {
    let day = |v: &str| NaiveDate::parse_from_str(v, "%Y-%m-%d").ok();
    ItemQuery {
        categories: DataCategory::parse_code(param(pairs, "category"))
            .into_iter()
            .collect(),
        from: day(param(pairs, "from")),
        until: day(param(pairs, "until")),
        ..ItemQuery::default()
    }
}

/// The holder form every holder's action posts (each action reads its fields).
#[derive(serde::Deserialize)]
struct HolderForm {
    #[serde(default)]
    holder: String,
    #[serde(default)]
    answer: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    professional: String,
    #[serde(default)]
    patient: String,
    #[serde(default)]
    national_id: String,
    #[serde(default)]
    family_name: String,
    #[serde(default)]
    item: String,
    #[serde(default)]
    relationship: String,
    #[serde(default)]
    objects: String,
}

impl HolderForm {
    /// The holder the form is about: its `holder` field, or the caller himself.
    fn holder(&self, page: &DspPage) -> String {
        if self.holder.is_empty() {
            page.caller.entry.clone()
        } else {
            self.holder.clone()
        }
    }
}
