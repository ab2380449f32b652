//! The terms-of-use page (TOU-1, TOU-2): after a login, or before a service is
//! reached, the current versions not yet accepted are shown in the visitor's language
//! (French being authoritative) and accepted with one form; the acceptance is recorded
//! by `sante-terms` with its date and language.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use sante_http::portal::terms_url;
use sante_http::{CsrfForm, HttpError, Lang, Layout, Portal, safe_continue};
use sante_terms::{Document, TermsError, Version};
use sante_types::Service;

use crate::PortalArea;
use crate::i18n::Msg;

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
    layout: &'a Layout,
    documents: Vec<DocumentView>,
    new_version: bool,
    continue_to: &'a str,
}

/// Where a fresh login lands: the terms page first when general terms wait for the
/// account's acceptance, then `target`.
pub(crate) async fn landing(area: &PortalArea, account: &str, target: &str) -> String {
    match area.terms().pending(account, Service::Portal).await {
        Ok(pending) if !pending.is_empty() => terms_url(target, None),
        Ok(_) => target.to_owned(),
        // The check cannot be made now: the services will refuse, the portal goes on.
        Err(e) => {
            tracing::warn!(error = %e, "the terms of use could not be checked at login");
            target.to_owned()
        }
    }
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

/// Where the form continues to: a local path, or the account page.
fn continue_to(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .find(|(k, _)| k == "continue")
        .and_then(|(_, v)| safe_continue(v))
        .unwrap_or("/account")
        .to_owned()
}

pub async fn terms_page(State(area): State<PortalArea>, portal: Portal) -> Response {
    let who = match portal.require_login().await {
        Ok(who) => who,
        Err(res) => return res,
    };
    let query = portal
        .path()
        .split_once('?')
        .map(|(_, q)| q)
        .unwrap_or_default();
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query).unwrap_or_default();
    let continue_to = continue_to(&pairs);
    let mut services: Vec<Service> = pairs
        .iter()
        .filter(|(k, _)| k == "service")
        .filter_map(|(_, v)| Service::parse(v))
        .collect();
    if services.is_empty() {
        services.push(Service::Portal);
    }
    let terms = area.terms();
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
            Err(e) => return portal.failure(&e),
        }
    }
    if pending.is_empty() {
        return portal.redirect(&continue_to);
    }
    let mut new_version = false;
    for v in &pending {
        match terms
            .accepted_before(&who.account, v.document, v.version)
            .await
        {
            Ok(true) => new_version = true,
            Ok(false) => {}
            Err(e) => return portal.failure(&e),
        }
    }
    portal.page(&TermsPage {
        layout: &portal.layout,
        documents: pending.iter().map(|v| view(v, portal.lang)).collect(),
        new_version,
        continue_to: &continue_to,
    })
}

pub async fn accept(
    State(area): State<PortalArea>,
    portal: Portal,
    CsrfForm(form): CsrfForm<Vec<(String, String)>>,
) -> Response {
    let who = match portal.require_login().await {
        Ok(who) => who,
        Err(res) => return res,
    };
    let continue_to = continue_to(&form);
    let mut accepted = Vec::new();
    for (_, value) in form.iter().filter(|(k, _)| k == "accept").take(8) {
        let parsed = value
            .split_once(':')
            .and_then(|(d, v)| Some((Document::parse(d)?, v.parse::<u32>().ok()?)));
        let Some(pair) = parsed else {
            return portal.error(HttpError::BadRequest);
        };
        accepted.push(pair);
    }
    if accepted.is_empty() {
        return portal.error(HttpError::BadRequest);
    }
    let actor = sante_audit::Actor {
        person: sante_audit::Token::new(who.account.clone()).ok(),
        quality: Some(who.quality),
        credential: Some(who.credential),
        assurance: Some(who.assurance),
        ..sante_audit::Actor::default()
    };
    for (document, version) in accepted {
        match area
            .terms()
            .accept(
                actor.clone(),
                &who.account,
                document,
                version,
                portal.lang.code(),
                &portal.origin.source(),
            )
            .await
        {
            Ok(_) => {}
            // A newer version was published while the page was open: show it.
            Err(TermsError::NotCurrent(_)) => {
                return portal.redirect(&terms_url(&continue_to, None));
            }
            Err(e) => return portal.failure(&e),
        }
    }
    portal.redirect(&continue_to)
}
