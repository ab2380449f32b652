//! The public professional search page (DIR-1): name, profession, town.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::response::Response;
use sante_directory::model::Profession;
use sante_directory::service::ProfessionalQuery;
use sante_http::{HttpError, Layout, Portal};

use crate::PortalArea;
use crate::i18n::Msg;

/// Results per page.
const PAGE: u32 = 20;
/// Longest search text accepted.
const MAX_TEXT: usize = 100;

#[derive(Debug, Default, serde::Deserialize)]
pub struct SearchParams {
    #[serde(default)]
    name: String,
    #[serde(default)]
    profession: String,
    #[serde(default)]
    town: String,
    #[serde(default)]
    after: String,
}

struct Row {
    name: String,
    profession: &'static str,
    practising: bool,
    practice: String,
    phone: String,
}

#[derive(Template)]
#[template(path = "directory.html")]
struct DirectoryPage<'a> {
    layout: &'a Layout,
    name: &'a str,
    profession: &'a str,
    town: &'a str,
    professions: Vec<(&'static str, &'static str)>,
    searched: bool,
    rows: Vec<Row>,
    total: u64,
    next_href: Option<String>,
}

fn query_string(params: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(params).unwrap_or_default()
}

pub async fn search_page(
    State(area): State<PortalArea>,
    portal: Portal,
    query: Result<Query<SearchParams>, QueryRejection>,
) -> Response {
    let Ok(Query(params)) = query else {
        return portal.error(HttpError::BadRequest);
    };
    if let Err(res) = portal.trace_view().await {
        return res;
    }
    let (name, town) = (params.name.trim(), params.town.trim());
    if name.chars().count() > MAX_TEXT || town.chars().count() > MAX_TEXT {
        return portal.error(HttpError::BadRequest);
    }
    let profession = match params.profession.as_str() {
        "" => None,
        code => match Profession::parse(code) {
            Some(p) => Some(p),
            None => return portal.error(HttpError::BadRequest),
        },
    };
    let after = Some(params.after.as_str()).filter(|a| !a.is_empty());
    if after.is_some_and(|a| sante_directory::model::check_id("after", a).is_err()) {
        return portal.error(HttpError::BadRequest);
    }
    let searched = !name.is_empty() || !town.is_empty() || profession.is_some();
    let mut rows = Vec::new();
    let mut total = 0;
    let mut next_href = None;
    if searched {
        let query = ProfessionalQuery {
            name: Some(name.to_owned()).filter(|s| !s.is_empty()),
            town: Some(town.to_owned()).filter(|s| !s.is_empty()),
            profession,
            ..ProfessionalQuery::default()
        };
        let page = match area
            .directory
            .search_professionals(&query, after, PAGE)
            .await
        {
            Ok(page) => page,
            Err(e) => return portal.failure(&e),
        };
        let today = portal.kernel().clock().now().date_naive();
        total = page.total;
        next_href = page.next.map(|cursor| {
            format!(
                "/directory?{}",
                query_string(&[
                    ("name", name),
                    ("profession", &params.profession),
                    ("town", town),
                    ("after", &cursor),
                ])
            )
        });
        rows = page
            .items
            .into_iter()
            .map(|p| {
                let practice = p
                    .locations
                    .first()
                    .map(|l| {
                        let a = &l.address;
                        [
                            l.name.clone(),
                            a.lines.join(", "),
                            format!(
                                "{} {}",
                                a.postcode.as_deref().unwrap_or_default(),
                                a.town.as_deref().unwrap_or_default()
                            )
                            .trim()
                            .to_owned(),
                        ]
                        .into_iter()
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join(", ")
                    })
                    .unwrap_or_default();
                Row {
                    name: p.display_name(),
                    profession: portal.layout.lang.pick(p.profession.titles()),
                    practising: p.authorisation.in_force(today),
                    practice,
                    phone: p.contact.phone.clone().unwrap_or_default(),
                }
            })
            .collect();
    }
    let page = DirectoryPage {
        layout: &portal.layout,
        name,
        profession: &params.profession,
        town,
        professions: Profession::ALL
            .iter()
            .map(|p| (p.code(), portal.layout.lang.pick(p.titles())))
            .collect(),
        searched,
        rows,
        total,
        next_href,
    };
    portal.page(&page)
}
