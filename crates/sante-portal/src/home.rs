//! The home page: what the platform is and its services.

use askama::Template;
use axum::response::Response;
use sante_http::{Layout, Portal};

use crate::i18n::Msg;

#[derive(Template)]
#[template(path = "home.html")]
struct Home<'a> {
    layout: &'a Layout,
    services: [(Msg, Msg); 4],
}

pub async fn home(portal: Portal) -> Response {
    if let Err(res) = portal.trace_view().await {
        return res;
    }
    portal.page(&Home {
        layout: &portal.layout,
        services: [
            (Msg::DspTitle, Msg::DspText),
            (Msg::MessagingTitle, Msg::MessagingText),
            (Msg::ReferentTitle, Msg::ReferentText),
            (Msg::DirectoryTitle, Msg::DirectoryText),
        ],
    })
}
