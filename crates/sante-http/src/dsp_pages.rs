//! The DSP's portal pages. The holder (or his assistant) sees his DSP as a timeline
//! filterable by category, author and date, reads documents, writes in his personal
//! space, answers the organ-donation question, sees his access history and notices,
//! manages his controls and his assistant, gives access codes, closes and reopens. A
//! professional opens a care relationship with the holder's code, finds the patients
//! he cares for, sees what he may see with the same filters, and files a document.
//! Every decision is the DSP service's; these handlers only translate.

use askama::Template;
use axum::extract::{Path, Request, State};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use sante_dsp::category::{DOCUMENT_TYPES, DataCategory};
use sante_dsp::model::{Author, CareRecord, Item, NoticeKind, RecordState};
use sante_dsp::service::{ItemQuery, NewItem, OrganDonation, Overdue};
use sante_dsp::{Caller, DspError, DspService};
use sante_identity::Authenticated;
use sante_types::{Quality, Service};

use crate::account::{authenticated, render, see_other};
use crate::csrf::CsrfForm;
use crate::i18n::{Lang, Msg};
use crate::pages::Layout;
use crate::{Caller as HttpCaller, HttpError, HttpState, language, layout, with_cookie};

/// What every DSP page needs: the page layout and the DSP caller.
struct Ctx {
    layout: Layout,
    cookie: Option<String>,
    caller: Caller,
    who: Authenticated,
    dsp: DspService,
}

impl Ctx {
    fn respond(&self, state: &HttpState, res: Response) -> Response {
        with_cookie(state, res, self.cookie.clone())
    }
}

fn query_pairs(uri: &http::Uri) -> Vec<(String, String)> {
    uri.query()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default()
}

fn get<'a>(pairs: &'a [(String, String)], name: &str) -> &'a str {
    pairs
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_default()
}

/// Authenticates, checks the DSP's level of assurance for the quality and the terms of
/// use; otherwise answers with the login page, a refusal or the terms page.
async fn ctx(
    state: &HttpState,
    headers: &HeaderMap,
    extensions: &http::Extensions,
    path: &str,
) -> Result<Ctx, Response> {
    let http_caller = HttpCaller::from(extensions);
    let lang = language(state, headers);
    let (layout, cookie) = layout(state, headers, lang, path, "dsp");
    let fail = |res: Response| with_cookie(state, res, cookie.clone());
    let who = match authenticated(state, headers, &http_caller).await {
        Ok(Some(who)) => who,
        Ok(None) => {
            let to = format!(
                "/login?{}",
                serde_urlencoded::to_string([("continue", path)]).unwrap_or_default()
            );
            return Err(fail(see_other(&to)));
        }
        Err(e) => return Err(fail(e.page(&layout))),
    };
    let (Some(identity), Some(dsp)) = (state.inner.identity.as_ref(), state.inner.dsp.clone())
    else {
        return Err(fail(HttpError::Unavailable("no DSP".into()).page(&layout)));
    };
    let source = http_caller.source();
    if identity
        .authorise_service(&who, Service::Dsp, &source)
        .await
        .is_err()
    {
        let body = crate::pages::error_page(&layout, Msg::ForbiddenTitle, Msg::DspNeedsHigh);
        return Err(fail(
            (StatusCode::FORBIDDEN, axum::response::Html(body)).into_response(),
        ));
    }
    if let Some(terms) = state.inner.terms.as_ref() {
        let actor = sante_audit::Actor {
            person: sante_audit::Token::new(who.account.clone()).ok(),
            quality: Some(who.quality),
            ..sante_audit::Actor::default()
        };
        match terms
            .require(actor, &who.account, Service::Dsp, &source)
            .await
        {
            Ok(()) => {}
            Err(sante_terms::TermsError::NotAccepted(_)) => {
                return Err(fail(see_other(&crate::terms::terms_url(
                    path,
                    Some(&[Service::Dsp]),
                ))));
            }
            Err(e) => return Err(fail(HttpError::Unavailable(e.to_string()).page(&layout))),
        }
    }
    let caller = Caller {
        account: who.account.clone(),
        quality: who.quality,
        assurance: who.assurance,
        credential: who.credential,
        entry: who.subject.clone(),
        system: None,
        source,
    };
    Ok(Ctx {
        layout,
        cookie,
        caller,
        who,
        dsp,
    })
}

fn failure(ctx: &Ctx, e: DspError) -> Response {
    match e {
        DspError::NotFound(_) => HttpError::NotFound.page(&ctx.layout),
        DspError::Invalid(_) | DspError::Conflict(_) | DspError::Denied(_) => {
            HttpError::BadRequest.page(&ctx.layout)
        }
        other => HttpError::Unavailable(other.to_string()).page(&ctx.layout),
    }
}

struct ItemRow {
    id: String,
    date: String,
    category: String,
    category_code: String,
    title: String,
    author: String,
}

fn author(item: &Item) -> String {
    match &item.author {
        Author::Professional {
            professional,
            establishment,
        } => match establishment {
            Some(e) => format!("{professional} ({e})"),
            None => professional.clone(),
        },
        Author::Holder => "—".into(),
        Author::System { name } => name.clone(),
    }
}

fn rows(items: &[Item]) -> Vec<ItemRow> {
    items
        .iter()
        .map(|i| ItemRow {
            id: i.id.clone(),
            date: i
                .service_date
                .unwrap_or_else(|| i.filed_at.date_naive())
                .to_string(),
            category: i.category.name().to_owned(),
            category_code: i.category.code(),
            title: i.title.clone(),
            author: author(i),
        })
        .collect()
}

fn categories() -> Vec<(String, String)> {
    DataCategory::ALL
        .iter()
        .map(|c| (c.code(), format!("{} — {}", c.number(), c.name())))
        .collect()
}

/// The filters of a timeline, from the query string.
fn filters(pairs: &[(String, String)]) -> ItemQuery {
    let day = |v: &str| NaiveDate::parse_from_str(v, "%Y-%m-%d").ok();
    ItemQuery {
        categories: DataCategory::parse_code(get(pairs, "category"))
            .into_iter()
            .collect(),
        author: Some(get(pairs, "author").trim().to_owned()).filter(|a| !a.is_empty()),
        from: day(get(pairs, "from")),
        until: day(get(pairs, "until")),
        ..ItemQuery::default()
    }
}

struct NoticeRow {
    at: String,
    text: Msg,
    who: String,
}

#[derive(Template)]
#[template(path = "dsp.html")]
struct HolderPage<'a> {
    lang: Lang,
    csrf: &'a str,
    next: &'a str,
    active: &'a str,
    languages: [Lang; 3],
    holder: &'a str,
    state: Option<&'static str>,
    refused: Option<&'a str>,
    assisted: Vec<String>,
    organ_question: bool,
    notices: Vec<NoticeRow>,
    access_code: Option<String>,
    categories: Vec<(String, String)>,
    category: &'a str,
    author: &'a str,
    from: &'a str,
    until: &'a str,
    items: Vec<ItemRow>,
    document_base: &'a str,
}

fn state_code(r: &CareRecord) -> &'static str {
    match r.state {
        RecordState::Created => "created",
        RecordState::Active => "active",
        RecordState::Closed => "closed",
    }
}

async fn holder_view(
    state: &HttpState,
    ctx: &Ctx,
    pairs: &[(String, String)],
    access_code: Option<String>,
) -> Response {
    let holder = match get(pairs, "holder") {
        "" => ctx.caller.entry.clone(),
        h => h.to_owned(),
    };
    let assisted = ctx.dsp.assisted(&ctx.caller).await.unwrap_or_default();
    let (record, refused) = match ctx.dsp.record(&ctx.caller, &holder).await {
        Ok(r) => (Some(r), None),
        Err(DspError::NotFound(_)) => (None, None),
        Err(DspError::Denied(reason)) => (None, Some(reason)),
        Err(e) => return ctx.respond(state, failure(ctx, e)),
    };
    let mut notices = Vec::new();
    let mut items = Vec::new();
    let mut organ_question = false;
    if let Some(r) = record.as_ref().filter(|r| r.state != RecordState::Closed) {
        organ_question = !r.organ_donation_asked && ctx.caller.entry == holder;
        for n in ctx
            .dsp
            .notices(&ctx.caller, &holder)
            .await
            .unwrap_or_default()
            .into_iter()
            .take(20)
        {
            let (text, who) = match n.kind {
                NoticeKind::FirstProfessionalAccess { professional } => {
                    (Msg::DspNoticeFirstAccess, professional)
                }
                NoticeKind::ProfessionalWithdrawn { professional } => {
                    (Msg::DspNoticeWithdrawn, professional)
                }
                NoticeKind::Closed => (Msg::DspNoticeClosed, String::new()),
            };
            notices.push(NoticeRow {
                at: n.at.format("%Y-%m-%d %H:%M").to_string(),
                text,
                who,
            });
        }
        match ctx
            .dsp
            .search(&ctx.caller, &holder, &filters(pairs), 0, 200)
            .await
        {
            Ok(page) => items = page.items,
            Err(e) => return ctx.respond(state, failure(ctx, e)),
        }
    }
    let page = HolderPage {
        lang: ctx.layout.lang,
        csrf: &ctx.layout.csrf,
        next: &ctx.layout.next,
        active: ctx.layout.active,
        languages: Lang::ALL,
        holder: &holder,
        state: record.as_ref().map(state_code),
        refused,
        assisted,
        organ_question,
        notices,
        access_code,
        categories: categories(),
        category: get(pairs, "category"),
        author: get(pairs, "author"),
        from: get(pairs, "from"),
        until: get(pairs, "until"),
        items: rows(&items),
        document_base: "/dsp/document",
    };
    let mut res = render(page, StatusCode::OK, &ctx.layout);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    ctx.respond(state, res)
}

pub async fn holder_page(State(state): State<HttpState>, req: Request) -> Response {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/dsp".into());
    let ctx = match ctx(&state, req.headers(), req.extensions(), &path).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    if ctx.caller.quality == Quality::Professional {
        return ctx.respond(&state, see_other("/pro/dsp"));
    }
    holder_view(&state, &ctx, &query_pairs(req.uri()), None).await
}

#[derive(serde::Deserialize)]
pub struct HolderForm {
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
    item: String,
    #[serde(default)]
    relationship: String,
    #[serde(default)]
    objects: String,
}

impl HolderForm {
    fn holder<'a>(&'a self, ctx: &'a Ctx) -> &'a str {
        if self.holder.is_empty() {
            &ctx.caller.entry
        } else {
            &self.holder
        }
    }
}

/// The holder's actions on his DSP: each one, then back to the DSP page.
pub async fn holder_action(
    State(state): State<HttpState>,
    Path(action): Path<String>,
    headers: HeaderMap,
    extensions: http::Extensions,
    CsrfForm(form): CsrfForm<HolderForm>,
) -> Response {
    let ctx = match ctx(&state, &headers, &extensions, "/dsp").await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let holder = form.holder(&ctx).to_owned();
    let c = &ctx.caller;
    let d = &ctx.dsp;
    let back = format!("/dsp?holder={holder}");
    let result: Result<(), DspError> = match action.as_str() {
        "create" if holder == c.entry => d.create(&holder, &c.source).await.map(|_| ()),
        "activate" => d.activate(c, &holder).await.map(|_| ()),
        "object" => d.object(c, &holder).await,
        "close" => d.close(c, &holder).await,
        "reopen" => d.reopen(c, &holder).await.map(|_| ()),
        "code" => match d.issue_access_code(c, &holder).await {
            Ok(code) => {
                return holder_view(&state, &ctx, &[("holder".into(), holder)], Some(code.code))
                    .await;
            }
            Err(e) => Err(e),
        },
        "organ-donation" => {
            let answer = match form.answer.as_str() {
                "consents" => OrganDonation::Consents,
                "objects" => OrganDonation::Objects,
                _ => OrganDonation::NoAnswer,
            };
            d.answer_organ_donation(c, &holder, answer).await
        }
        "personal" => d
            .write_personal(c, &holder, &form.kind, &form.title, &form.text)
            .await
            .map(|_| ()),
        _ => return ctx.respond(&state, HttpError::NotFound.page(&ctx.layout)),
    };
    match result {
        Ok(()) => ctx.respond(&state, see_other(&back)),
        Err(e) => ctx.respond(&state, failure(&ctx, e)),
    }
}

#[derive(Template)]
#[template(path = "dsp_document.html")]
struct DocumentPage<'a> {
    lang: Lang,
    csrf: &'a str,
    next: &'a str,
    active: &'a str,
    languages: [Lang; 3],
    id: &'a str,
    holder: &'a str,
    title: &'a str,
    category: &'a str,
    date: String,
    author: String,
    status: &'a str,
    text: Option<String>,
    content_url: String,
    holder_view: bool,
    kept: Option<String>,
    back: String,
}

async fn document_view(state: &HttpState, req: Request, professional: bool) -> Response {
    let path = req.uri().path().to_owned();
    let ctx = match ctx(state, req.headers(), req.extensions(), &path).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let id = path.rsplit('/').next().unwrap_or_default().to_owned();
    let retrieved = match ctx.dsp.retrieve(&ctx.caller, &id).await {
        Ok(r) => r,
        // What the caller may not read does not exist for him.
        Err(DspError::Denied(_) | DspError::NotFound(_)) => {
            return ctx.respond(state, HttpError::NotFound.page(&ctx.layout));
        }
        Err(e) => return ctx.respond(state, failure(&ctx, e)),
    };
    let item = &retrieved.item;
    let text = (item.mime_type == "text/plain")
        .then(|| String::from_utf8_lossy(&retrieved.content).into_owned());
    let prefix = if professional { "/pro/dsp" } else { "/dsp" };
    let back = if professional {
        format!("/pro/dsp/patient?holder={}", item.record)
    } else {
        format!("/dsp?holder={}", item.record)
    };
    let page = DocumentPage {
        lang: ctx.layout.lang,
        csrf: &ctx.layout.csrf,
        next: &ctx.layout.next,
        active: ctx.layout.active,
        languages: Lang::ALL,
        id: &item.id,
        holder: &item.record,
        title: &item.title,
        category: item.category.name(),
        date: item.filed_at.format("%Y-%m-%d %H:%M").to_string(),
        author: author(item),
        status: item.status.code(),
        text,
        content_url: format!("{prefix}/document/{}/content", item.id),
        holder_view: !professional,
        kept: item.keep_agreed.map(|k| k.format("%Y-%m-%d").to_string()),
        back,
    };
    let mut res = render(page, StatusCode::OK, &ctx.layout);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    ctx.respond(state, res)
}

pub async fn holder_document(State(state): State<HttpState>, req: Request) -> Response {
    document_view(&state, req, false).await
}

pub async fn pro_document(State(state): State<HttpState>, req: Request) -> Response {
    document_view(&state, req, true).await
}

/// A document's bytes, as a download the browser opens.
pub async fn document_content(
    State(state): State<HttpState>,
    Path(id): Path<String>,
    req: Request,
) -> Response {
    let path = req.uri().path().to_owned();
    let ctx = match ctx(&state, req.headers(), req.extensions(), &path).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    match ctx.dsp.retrieve(&ctx.caller, &id).await {
        Ok(doc) => {
            let mime = HeaderValue::from_str(&doc.item.mime_type)
                .unwrap_or(HeaderValue::from_static("application/octet-stream"));
            (
                StatusCode::OK,
                [
                    (header::CONTENT_TYPE, mime),
                    (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
                    (
                        header::CONTENT_DISPOSITION,
                        HeaderValue::from_static("inline"),
                    ),
                ],
                doc.content,
            )
                .into_response()
        }
        Err(DspError::Denied(_) | DspError::NotFound(_)) => {
            ctx.respond(&state, HttpError::NotFound.page(&ctx.layout))
        }
        Err(e) => ctx.respond(&state, failure(&ctx, e)),
    }
}

/// The holder's controls on one document: keep it beyond ten years, hide it from a
/// professional.
pub async fn document_action(
    State(state): State<HttpState>,
    Path((id, action)): Path<(String, String)>,
    headers: HeaderMap,
    extensions: http::Extensions,
    CsrfForm(form): CsrfForm<HolderForm>,
) -> Response {
    let ctx = match ctx(&state, &headers, &extensions, "/dsp").await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let holder = form.holder(&ctx).to_owned();
    let result = match action.as_str() {
        "keep" => ctx
            .dsp
            .agree_to_keep(&ctx.caller, &holder, &id)
            .await
            .map(|_| ()),
        "restrict" => ctx
            .dsp
            .restrict(&ctx.caller, &holder, &id, form.professional.trim())
            .await
            .map(|_| ()),
        _ => return ctx.respond(&state, HttpError::NotFound.page(&ctx.layout)),
    };
    match result {
        Ok(()) => ctx.respond(
            &state,
            see_other(&format!("/dsp/document/{id}?holder={holder}")),
        ),
        Err(e) => ctx.respond(&state, failure(&ctx, e)),
    }
}

struct HistoryRow {
    at: String,
    who: String,
    role: String,
    establishment: String,
    action: String,
    item: String,
    outcome: String,
}

#[derive(Template)]
#[template(path = "dsp_history.html")]
struct HistoryPage<'a> {
    lang: Lang,
    csrf: &'a str,
    next: &'a str,
    active: &'a str,
    languages: [Lang; 3],
    entries: Vec<HistoryRow>,
    back: String,
}

pub async fn history_page(State(state): State<HttpState>, req: Request) -> Response {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let ctx = match ctx(&state, req.headers(), req.extensions(), &path).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let pairs = query_pairs(req.uri());
    let holder = match get(&pairs, "holder") {
        "" => ctx.caller.entry.clone(),
        h => h.to_owned(),
    };
    let entries = match ctx.dsp.history(&ctx.caller, &holder, 1_000).await {
        Ok(e) => e,
        Err(e) => return ctx.respond(&state, failure(&ctx, e)),
    };
    let back = if ctx.caller.quality == Quality::Professional {
        format!("/pro/dsp/patient?holder={holder}")
    } else {
        format!("/dsp?holder={holder}")
    };
    let page = HistoryPage {
        lang: ctx.layout.lang,
        csrf: &ctx.layout.csrf,
        next: &ctx.layout.next,
        active: ctx.layout.active,
        languages: Lang::ALL,
        entries: entries
            .into_iter()
            .map(|h| HistoryRow {
                at: h.at.format("%Y-%m-%d %H:%M:%S").to_string(),
                who: h.professional.unwrap_or(h.account),
                role: h.role,
                establishment: h.establishment.unwrap_or_default(),
                action: h.action,
                item: h.item.unwrap_or_default(),
                outcome: h.outcome,
            })
            .collect(),
        back,
    };
    ctx.respond(&state, render(page, StatusCode::OK, &ctx.layout))
}

struct CareRow {
    id: String,
    kind: &'static str,
    who: String,
    until: String,
    objected: bool,
}

#[derive(Template)]
#[template(path = "dsp_controls.html")]
struct ControlsPage<'a> {
    lang: Lang,
    csrf: &'a str,
    next: &'a str,
    active: &'a str,
    languages: [Lang; 3],
    holder: &'a str,
    is_holder: bool,
    blocked: Vec<String>,
    acknowledged: Option<String>,
    restrictions: Vec<(String, String)>,
    care: Vec<CareRow>,
    assistants: Vec<String>,
}

pub async fn controls_page(State(state): State<HttpState>, req: Request) -> Response {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let ctx = match ctx(&state, req.headers(), req.extensions(), &path).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let pairs = query_pairs(req.uri());
    let holder = match get(&pairs, "holder") {
        "" => ctx.caller.entry.clone(),
        h => h.to_owned(),
    };
    let record = match ctx.dsp.record(&ctx.caller, &holder).await {
        Ok(r) => r,
        Err(e) => return ctx.respond(&state, failure(&ctx, e)),
    };
    let care = ctx
        .dsp
        .care_relationships(&ctx.caller, &holder)
        .await
        .unwrap_or_default();
    let page = ControlsPage {
        lang: ctx.layout.lang,
        csrf: &ctx.layout.csrf,
        next: &ctx.layout.next,
        active: ctx.layout.active,
        languages: Lang::ALL,
        holder: &holder,
        is_holder: ctx.caller.entry == holder,
        blocked: record.controls.blocked.clone(),
        acknowledged: record
            .controls
            .risk_acknowledged
            .map(|a| a.format("%Y-%m-%d").to_string()),
        restrictions: record
            .controls
            .restrictions
            .iter()
            .map(|r| (r.item.clone(), r.professional.clone()))
            .collect(),
        care: care
            .iter()
            .map(|r| CareRow {
                id: r.id.clone(),
                kind: r.kind.code(),
                who: r
                    .professional
                    .clone()
                    .or(r.establishment.clone())
                    .unwrap_or_default(),
                until: r.end.format("%Y-%m-%d %H:%M").to_string(),
                objected: record.controls.filing_objections.contains(&r.id),
            })
            .collect(),
        assistants: record
            .controls
            .assistants
            .iter()
            .map(|a| a.patient.clone())
            .collect(),
    };
    ctx.respond(&state, render(page, StatusCode::OK, &ctx.layout))
}

pub async fn controls_action(
    State(state): State<HttpState>,
    Path(action): Path<String>,
    headers: HeaderMap,
    extensions: http::Extensions,
    CsrfForm(form): CsrfForm<HolderForm>,
) -> Response {
    let ctx = match ctx(&state, &headers, &extensions, "/dsp/controls").await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let holder = form.holder(&ctx).to_owned();
    let (c, d) = (&ctx.caller, &ctx.dsp);
    let pro = form.professional.trim();
    let result = match action.as_str() {
        "block" => d.block(c, &holder, pro).await.map(|_| ()),
        "unblock" => d.unblock(c, &holder, pro).await.map(|_| ()),
        "acknowledge" => d.acknowledge_risks(c, &holder).await.map(|_| ()),
        "unrestrict" => d.unrestrict(c, &holder, &form.item, pro).await.map(|_| ()),
        "object-filing" => d
            .object_to_filing(c, &holder, &form.relationship, form.objects == "yes")
            .await
            .map(|_| ()),
        "assistant" => d
            .appoint_assistant(c, &holder, form.patient.trim())
            .await
            .map(|_| ()),
        "assistant-revoke" => d
            .revoke_assistant(c, &holder, form.patient.trim())
            .await
            .map(|_| ()),
        _ => return ctx.respond(&state, HttpError::NotFound.page(&ctx.layout)),
    };
    match result {
        Ok(()) => ctx.respond(&state, see_other(&format!("/dsp/controls?holder={holder}"))),
        Err(e) => ctx.respond(&state, failure(&ctx, e)),
    }
}

#[derive(Template)]
#[template(path = "dsp_pro.html")]
struct ProPage<'a> {
    lang: Lang,
    csrf: &'a str,
    next: &'a str,
    active: &'a str,
    languages: [Lang; 3],
    error: Option<&'a str>,
    patients: Vec<(String, String)>,
    overdue: Vec<(Msg, String, String)>,
}

/// The patient's name as the directory gives it to a professional who identifies whom
/// he treats (DIR-5); his identifier when it cannot be read.
async fn patient_name(state: &HttpState, ctx: &Ctx, holder: &str) -> String {
    let Some(directory) = state.inner.directory.as_ref() else {
        return holder.to_owned();
    };
    let req = sante_directory::Request::new(
        sante_directory::access::Caller::Person {
            account: ctx.who.account.clone(),
            quality: ctx.who.quality,
            assurance: ctx.who.assurance,
            credential: ctx.who.credential,
            roles: vec![],
            system: None,
        },
        ctx.caller.source.clone(),
    );
    match directory.patient(&req, holder).await {
        Ok(p) => format!(
            "{} {} ({})",
            p.given_names.join(" "),
            p.family_name(),
            p.birth_date.map(|d| d.to_string()).unwrap_or_default()
        ),
        Err(_) => holder.to_owned(),
    }
}

async fn pro_view(state: &HttpState, ctx: &Ctx, error: Option<&str>) -> Response {
    let mut patients = Vec::new();
    for holder in ctx
        .dsp
        .patients_in_care(&ctx.caller)
        .await
        .unwrap_or_default()
        .into_iter()
        .take(200)
    {
        let name = patient_name(state, ctx, &holder).await;
        patients.push((holder, name));
    }
    let overdue = ctx
        .dsp
        .overdue(&ctx.caller)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|o| match o {
            Overdue::Request(r) => (
                Msg::DspProOverdueRequest,
                r.due.format("%Y-%m-%d").to_string(),
                format!("{} — {}", r.record, r.what),
            ),
            Overdue::EndOfCare { record, ended, .. } => (
                Msg::DspProOverdueCare,
                ended.format("%Y-%m-%d").to_string(),
                record,
            ),
        })
        .collect();
    let page = ProPage {
        lang: ctx.layout.lang,
        csrf: &ctx.layout.csrf,
        next: &ctx.layout.next,
        active: ctx.layout.active,
        languages: Lang::ALL,
        error,
        patients,
        overdue,
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    ctx.respond(state, render(page, status, &ctx.layout))
}

pub async fn pro_page(State(state): State<HttpState>, req: Request) -> Response {
    let ctx = match ctx(&state, req.headers(), req.extensions(), "/pro/dsp").await {
        Ok(c) => c,
        Err(res) => return res,
    };
    if ctx.caller.quality != Quality::Professional {
        return ctx.respond(&state, see_other("/dsp"));
    }
    pro_view(&state, &ctx, None).await
}

#[derive(serde::Deserialize)]
pub struct CodeForm {
    #[serde(default)]
    code: String,
}

pub async fn pro_redeem(
    State(state): State<HttpState>,
    headers: HeaderMap,
    extensions: http::Extensions,
    CsrfForm(form): CsrfForm<CodeForm>,
) -> Response {
    let ctx = match ctx(&state, &headers, &extensions, "/pro/dsp").await {
        Ok(c) => c,
        Err(res) => return res,
    };
    match ctx.dsp.redeem_access_code(&ctx.caller, &form.code).await {
        Ok(r) => ctx.respond(
            &state,
            see_other(&format!("/pro/dsp/patient?holder={}", r.record)),
        ),
        Err(DspError::Denied(reason)) => pro_view(&state, &ctx, Some(reason)).await,
        Err(e) => ctx.respond(&state, failure(&ctx, e)),
    }
}

#[derive(Template)]
#[template(path = "dsp_pro_patient.html")]
struct ProPatientPage<'a> {
    lang: Lang,
    csrf: &'a str,
    next: &'a str,
    active: &'a str,
    languages: [Lang; 3],
    holder: &'a str,
    name: String,
    error: Option<&'a str>,
    reachable: bool,
    categories: Vec<(String, String)>,
    category: &'a str,
    author: &'a str,
    from: &'a str,
    until: &'a str,
    items: Vec<ItemRow>,
    types: Vec<(String, String)>,
}

async fn pro_patient_view(
    state: &HttpState,
    ctx: &Ctx,
    holder: &str,
    pairs: &[(String, String)],
    error: Option<&str>,
) -> Response {
    let (reachable, items) = match ctx
        .dsp
        .search(&ctx.caller, holder, &filters(pairs), 0, 200)
        .await
    {
        Ok(page) => (true, page.items),
        // Refused, closed or absent: the same page.
        Err(DspError::Denied(_) | DspError::NotFound(_)) => (false, Vec::new()),
        Err(e) => return ctx.respond(state, failure(ctx, e)),
    };
    let page = ProPatientPage {
        lang: ctx.layout.lang,
        csrf: &ctx.layout.csrf,
        next: &ctx.layout.next,
        active: ctx.layout.active,
        languages: Lang::ALL,
        holder,
        name: patient_name(state, ctx, holder).await,
        error,
        reachable,
        categories: categories(),
        category: get(pairs, "category"),
        author: get(pairs, "author"),
        from: get(pairs, "from"),
        until: get(pairs, "until"),
        items: rows(&items),
        types: DOCUMENT_TYPES
            .iter()
            .filter(|t| t.category != DataCategory::PersonalExpression)
            .map(|t| {
                (
                    format!("{}|{}", t.system, t.code),
                    format!("{} ({})", t.display, t.category.number()),
                )
            })
            .collect(),
    };
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut res = render(page, status, &ctx.layout);
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    ctx.respond(state, res)
}

pub async fn pro_patient(State(state): State<HttpState>, req: Request) -> Response {
    let path = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    let ctx = match ctx(&state, req.headers(), req.extensions(), &path).await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let pairs = query_pairs(req.uri());
    let mut holder = get(&pairs, "holder").to_owned();
    let nin = get(&pairs, "nin");
    if holder.is_empty() && !nin.is_empty() {
        // Identification by national number through the patient directory (DIR-5).
        if let Some(directory) = state.inner.directory.as_ref() {
            let req = sante_directory::Request::new(
                sante_directory::access::Caller::Person {
                    account: ctx.who.account.clone(),
                    quality: ctx.who.quality,
                    assurance: ctx.who.assurance,
                    credential: ctx.who.credential,
                    roles: vec![],
                    system: None,
                },
                ctx.caller.source.clone(),
            );
            let query = sante_directory::service::PatientQuery {
                national_id: Some(nin.chars().filter(char::is_ascii_digit).collect()),
                ..Default::default()
            };
            if let Ok(page) = directory.search_patients(&req, &query, None, 1).await
                && let Some(p) = page.items.into_iter().next()
            {
                holder = p.id;
            }
        }
    }
    if holder.is_empty() {
        return pro_view(&state, &ctx, Some("no_such_patient")).await;
    }
    pro_patient_view(&state, &ctx, &holder, &pairs, None).await
}

#[derive(serde::Deserialize)]
pub struct FileForm {
    #[serde(default, rename = "type")]
    doc_type: String,
    #[serde(default)]
    title: String,
    #[serde(default)]
    text: String,
}

pub async fn pro_file(
    State(state): State<HttpState>,
    Path(holder): Path<String>,
    headers: HeaderMap,
    extensions: http::Extensions,
    CsrfForm(form): CsrfForm<FileForm>,
) -> Response {
    let ctx = match ctx(&state, &headers, &extensions, "/pro/dsp").await {
        Ok(c) => c,
        Err(res) => return res,
    };
    let Some((system, code)) = form.doc_type.split_once('|') else {
        return ctx.respond(&state, HttpError::BadRequest.page(&ctx.layout));
    };
    let item = NewItem {
        type_system: system.to_owned(),
        type_code: code.to_owned(),
        title: form.title.clone(),
        mime_type: "text/plain".into(),
        content: form.text.as_bytes().to_vec(),
        service_date: None,
        confidentiality: sante_dsp::model::Confidentiality::Restricted,
        replaces: None,
        master_identifier: None,
    };
    let back = [("holder".to_owned(), holder.clone())];
    match ctx.dsp.file(&ctx.caller, &holder, item).await {
        Ok(_) => ctx.respond(
            &state,
            see_other(&format!("/pro/dsp/patient?holder={holder}")),
        ),
        Err(DspError::Denied(reason)) => {
            pro_patient_view(&state, &ctx, &holder, &back, Some(reason)).await
        }
        Err(DspError::Invalid(_)) => {
            pro_patient_view(&state, &ctx, &holder, &back, Some("invalid_document")).await
        }
        Err(e) => ctx.respond(&state, failure(&ctx, e)),
    }
}
