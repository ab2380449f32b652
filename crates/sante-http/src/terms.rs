//! The terms-of-use page (TOU-1, TOU-2): after a login, or before an application is
//! reached, the current versions not yet accepted are shown in the visitor's language
//! (French being authoritative) and accepted with one form; the acceptance is recorded
//! by `sante-terms` with its date and language.

use askama::Template;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderMap, StatusCode};
use sante_terms::{Document, Version};
use sante_types::Service;

use crate::account::{authenticated, render, safe_continue, see_other};
use crate::csrf::CsrfForm;
use crate::i18n::{Lang, Msg};
use crate::{Caller, HttpError, HttpState, language, layout, with_cookie};

struct DocumentView {
    code: &'static str,
    version: u32,
    title: String,
    published: String,
    paragraphs: Vec<String>,
}

#[derive(Template)]
#[template(path = "terms.html")]
struct TermsPage<'a> {
    lang: Lang,
    csrf: &'a str,
    next: &'a str,
    active: &'a str,
    languages: [Lang; 3],
    documents: Vec<DocumentView>,
    new_version: bool,
    continue_to: &'a str,
}

/// Where a fresh login lands: the terms page first when general terms wait for the
/// account's acceptance, then `target`.
pub(crate) async fn landing(state: &HttpState, account: &str, target: &str) -> String {
    let Some(terms) = state.inner.terms.as_ref() else {
        return target.to_owned();
    };
    match terms.pending(account, Service::Portal).await {
        Ok(pending) if !pending.is_empty() => terms_url(target, None),
        Ok(_) => target.to_owned(),
        // The check cannot be made now: the services will refuse, the portal goes on.
        Err(e) => {
            tracing::warn!(error = %e, "the terms of use could not be checked at login");
            target.to_owned()
        }
    }
}

/// The terms page for `services` (none: the general terms), continuing to `target`.
pub(crate) fn terms_url(target: &str, services: Option<&[Service]>) -> String {
    let mut params = vec![("continue", target.to_owned())];
    for s in services.unwrap_or_default() {
        params.push(("service", s.as_str().to_owned()));
    }
    format!(
        "/terms?{}",
        serde_urlencoded::to_string(&params).unwrap_or_default()
    )
}

fn view(version: &Version, lang: Lang) -> DocumentView {
    DocumentView {
        code: version.document.code(),
        version: version.version,
        title: version.title.get(lang.code()).to_owned(),
        published: version.published.format("%Y-%m-%d").to_string(),
        paragraphs: version
            .body
            .get(lang.code())
            .split("\n\n")
            .map(|p| p.trim().to_owned())
            .filter(|p| !p.is_empty())
            .collect(),
    }
}

pub async fn terms_page(State(state): State<HttpState>, req: Request) -> Response {
    let headers = req.headers().clone();
    let caller = Caller::from(req.extensions());
    let lang = language(&state, &headers);
    let (page_layout, cookie) = layout(&state, &headers, lang, "/terms", "account");
    let respond = |res: Response| with_cookie(&state, res, cookie.clone());
    let who = match authenticated(&state, &headers, &caller).await {
        Ok(Some(who)) => who,
        Ok(None) => return respond(see_other("/login")),
        Err(e) => return respond(e.page(&page_layout)),
    };
    let Some(terms) = state.inner.terms.as_ref() else {
        return respond(see_other("/account"));
    };
    let pairs: Vec<(String, String)> = req
        .uri()
        .query()
        .and_then(|q| serde_urlencoded::from_str(q).ok())
        .unwrap_or_default();
    let continue_to = pairs
        .iter()
        .find(|(k, _)| k == "continue")
        .and_then(|(_, v)| safe_continue(v))
        .unwrap_or("/account")
        .to_owned();
    let mut services: Vec<Service> = pairs
        .iter()
        .filter(|(k, _)| k == "service")
        .filter_map(|(_, v)| Service::parse(v))
        .collect();
    if services.is_empty() {
        services.push(Service::Portal);
    }
    let mut pending: Vec<Version> = Vec::new();
    for service in services {
        match terms.pending(&who.account, service).await {
            Ok(list) => {
                for v in list {
                    if !pending.iter().any(|p| p.document == v.document) {
                        pending.push(v);
                    }
                }
            }
            Err(e) => return respond(HttpError::Unavailable(e.to_string()).page(&page_layout)),
        }
    }
    if pending.is_empty() {
        return respond(see_other(&continue_to));
    }
    let mut new_version = false;
    for v in &pending {
        if terms
            .accepted_before(&who.account, v.document, v.version)
            .await
            .unwrap_or(false)
        {
            new_version = true;
        }
    }
    let page = TermsPage {
        lang,
        csrf: &page_layout.csrf,
        next: &page_layout.next,
        active: page_layout.active,
        languages: Lang::ALL,
        documents: pending.iter().map(|v| view(v, lang)).collect(),
        new_version,
        continue_to: &continue_to,
    };
    respond(render(page, StatusCode::OK, &page_layout))
}

pub async fn accept(
    State(state): State<HttpState>,
    headers: HeaderMap,
    extensions: http::Extensions,
    CsrfForm(form): CsrfForm<Vec<(String, String)>>,
) -> Response {
    let caller = Caller::from(&extensions);
    let lang = language(&state, &headers);
    let (page_layout, cookie) = layout(&state, &headers, lang, "/terms", "account");
    let respond = |res: Response| with_cookie(&state, res, cookie.clone());
    let who = match authenticated(&state, &headers, &caller).await {
        Ok(Some(who)) => who,
        Ok(None) => return respond(see_other("/login")),
        Err(e) => return respond(e.page(&page_layout)),
    };
    let Some(terms) = state.inner.terms.as_ref() else {
        return respond(see_other("/account"));
    };
    let continue_to = form
        .iter()
        .find(|(k, _)| k == "continue")
        .and_then(|(_, v)| safe_continue(v))
        .unwrap_or("/account")
        .to_owned();
    let mut accepted = Vec::new();
    for (_, value) in form.iter().filter(|(k, _)| k == "accept").take(8) {
        let parsed = value
            .split_once(':')
            .and_then(|(d, v)| Some((Document::parse(d)?, v.parse::<u32>().ok()?)));
        let Some(pair) = parsed else {
            return respond(HttpError::BadRequest.page(&page_layout));
        };
        accepted.push(pair);
    }
    if accepted.is_empty() {
        return respond(HttpError::BadRequest.page(&page_layout));
    }
    let actor = sante_audit::Actor {
        person: sante_audit::Token::new(who.account.clone()).ok(),
        quality: Some(who.quality),
        credential: Some(who.credential),
        assurance: Some(who.assurance),
        ..sante_audit::Actor::default()
    };
    for (document, version) in accepted {
        match terms
            .accept(
                actor.clone(),
                &who.account,
                document,
                version,
                lang.code(),
                &caller.source(),
            )
            .await
        {
            Ok(_) => {}
            // A newer version was published while the page was open: show it.
            Err(sante_terms::TermsError::NotCurrent(_)) => {
                return respond(see_other(&terms_url(&continue_to, None)));
            }
            Err(sante_terms::TermsError::Invalid(_)) => {
                return respond(HttpError::BadRequest.page(&page_layout));
            }
            Err(e) => return respond(HttpError::Unavailable(e.to_string()).page(&page_layout)),
        }
    }
    respond(see_other(&continue_to))
}
