//! The home page: what the platform is, the services it runs (from its
//! configuration), how to log in, and for a signed-in person what his account gives
//! him.

use askama::Template;
use axum::extract::State;
use axum::response::Response;
use sante_http::{Layout, Portal};
use sante_types::Quality;

use crate::PortalArea;
use crate::i18n::Msg;

/// A service the platform runs: what it is for and where to begin.
struct Service {
    id: &'static str,
    title: Msg,
    text: Msg,
    links: Vec<(&'static str, Msg)>,
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home<'a> {
    layout: &'a Layout,
    services: Vec<Service>,
    /// What the signed-in person's account gives him: where, and what for.
    yours: Vec<(&'static str, Msg, Msg)>,
    signed_in: bool,
    /// The card login's address, when the platform has its listener.
    card_login: Option<String>,
}

pub async fn home(State(area): State<PortalArea>, portal: Portal) -> Response {
    if let Err(res) = portal.trace_view().await {
        return res;
    }
    let who = match portal.session().await {
        Ok(who) => who,
        Err(res) => return res,
    };
    let mut services = vec![Service {
        id: "dsp",
        title: Msg::DspTitle,
        text: Msg::DspText,
        links: vec![
            ("/dsp", Msg::HomeDspPatient),
            ("/pro/dsp", Msg::HomeDspProfessional),
        ],
    }];
    if area.messaging {
        services.push(Service {
            id: "messaging",
            title: Msg::MessagingTitle,
            text: Msg::MessagingText,
            links: vec![("/account", Msg::HomeMessagingSetUp)],
        });
    }
    services.push(Service {
        id: "directory",
        title: Msg::DirectoryTitle,
        text: Msg::DirectoryText,
        links: vec![("/directory", Msg::HomeDirectorySearch)],
    });
    let yours = match who.as_ref().map(|w| w.quality) {
        Some(Quality::Patient) => vec![
            ("/dsp", Msg::HomeYourDsp, Msg::HomeYourDspText),
            ("/account", Msg::NavAccount, Msg::HomeYourAccountText),
        ],
        Some(Quality::Professional) => {
            let mut yours = vec![("/pro/dsp", Msg::HomeYourPatients, Msg::HomeYourPatientsText)];
            if area.messaging {
                yours.push(("/account", Msg::MessagingTitle, Msg::HomeYourMailText));
            }
            yours.push(("/directory", Msg::DirectoryTitle, Msg::DirectoryText));
            yours.push(("/account", Msg::NavAccount, Msg::HomeYourAccountText));
            yours
        }
        Some(Quality::Agent) => vec![("/account", Msg::NavAccount, Msg::HomeYourAccountText)],
        None => Vec::new(),
    };
    let page = Home {
        layout: &portal.layout,
        services,
        signed_in: who.is_some(),
        yours,
        card_login: portal
            .kernel()
            .config()
            .mtls_url
            .as_deref()
            .map(|url| format!("{}/login/certificate", url.trim_end_matches('/'))),
    };
    if who.is_some() {
        portal.personal_page(&page)
    } else {
        portal.page(&page)
    }
}
