//! Portal pages: server-rendered HTML in the visitor's language.

use askama::Template;

use crate::i18n::{Lang, Msg};

/// What every page's layout needs.
pub struct Layout {
    pub lang: Lang,
    /// The CSRF token for the forms of the page (the language switcher at least).
    pub csrf: String,
    /// Where the language switcher returns to.
    pub next: String,
    pub active: &'static str,
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home<'a> {
    lang: Lang,
    csrf: &'a str,
    next: &'a str,
    active: &'a str,
    languages: [Lang; 3],
    services: [(Msg, Msg); 4],
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    lang: Lang,
    csrf: &'a str,
    next: &'a str,
    active: &'a str,
    languages: [Lang; 3],
    title: Msg,
    text: Msg,
}

pub fn home(layout: &Layout) -> Result<String, askama::Error> {
    Home {
        lang: layout.lang,
        csrf: &layout.csrf,
        next: &layout.next,
        active: layout.active,
        languages: Lang::ALL,
        services: [
            (Msg::DspTitle, Msg::DspText),
            (Msg::MessagingTitle, Msg::MessagingText),
            (Msg::ReferentTitle, Msg::ReferentText),
            (Msg::DirectoryTitle, Msg::DirectoryText),
        ],
    }
    .render()
}

/// An error page, with the same layout (and language switcher) as every page.
pub fn error_page(layout: &Layout, title: Msg, text: Msg) -> String {
    let lang = layout.lang;
    ErrorPage {
        lang,
        csrf: &layout.csrf,
        next: "/",
        active: "",
        languages: Lang::ALL,
        title,
        text,
    }
    .render()
    .unwrap_or_else(|_| lang.t(title).to_owned())
}
