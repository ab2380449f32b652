//! What every page shares: the layout (language, the CSRF token of its forms, the
//! navigation with the current area marked) and `templates/base.html`, which every
//! area's templates extend; and the error page.

use askama::Template;

use crate::i18n::{Lang, Msg, Text};

/// An entry of the main navigation, given by the area that owns the pages.
#[derive(Debug, Clone)]
pub struct NavItem {
    /// Position in the navigation, lowest first.
    pub order: u8,
    /// The link.
    pub href: &'static str,
    /// The paths that belong to the entry: a request for one of them, or below one of
    /// them, marks it as the current page. `/` matches only itself.
    pub paths: &'static [&'static str],
    texts: (&'static str, &'static str, &'static str),
}

impl NavItem {
    pub fn new(
        order: u8,
        href: &'static str,
        paths: &'static [&'static str],
        label: impl Text,
    ) -> NavItem {
        NavItem {
            order,
            href,
            paths,
            texts: label.texts(),
        }
    }

    /// The entry's label in `lang`.
    pub fn label(&self, lang: &Lang) -> &'static str {
        match lang {
            Lang::Fr => self.texts.0,
            Lang::De => self.texts.1,
            Lang::En => self.texts.2,
        }
    }

    /// How closely the entry claims `path`: the length of its longest matching path.
    fn claims(&self, path: &str) -> Option<usize> {
        self.paths
            .iter()
            .filter(|p| {
                path == **p
                    || (**p != "/"
                        && path.starts_with(**p)
                        && path.as_bytes().get(p.len()) == Some(&b'/'))
            })
            .map(|p| p.len())
            .max()
    }
}

/// What every page's layout needs.
#[derive(Debug, Clone)]
pub struct Layout {
    pub lang: Lang,
    /// The CSRF token for the forms of the page (the language switcher at least).
    pub csrf: String,
    /// Where the language switcher returns to.
    pub next: String,
    /// The navigation, in order; `current` indexes the entry of this page.
    pub nav: std::sync::Arc<[NavItem]>,
    pub current: Option<usize>,
}

impl Layout {
    /// The layout of the page at `path` (which also decides the current entry).
    pub fn new(
        lang: Lang,
        csrf: String,
        next: String,
        nav: std::sync::Arc<[NavItem]>,
        path: &str,
    ) -> Layout {
        let current = nav
            .iter()
            .enumerate()
            .filter_map(|(i, item)| item.claims(path).map(|len| (len, i)))
            .max()
            .map(|(_, i)| i);
        Layout {
            lang,
            csrf,
            next,
            nav,
            current,
        }
    }

    /// The text of `key` in the page's language.
    pub fn t<M: Text>(&self, key: M) -> &'static str {
        self.lang.t(key)
    }

    /// The languages of the switcher.
    pub fn languages(&self) -> [Lang; 3] {
        Lang::ALL
    }

    /// The kernel's texts of the layout itself (`base.html`).
    pub fn chrome(&self, key: Msg) -> &'static str {
        self.lang.t(key)
    }

    /// Whether the navigation entry at `index` is the current page.
    pub fn is_current(&self, index: &usize) -> bool {
        self.current == Some(*index)
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: &'a Layout,
    title: &'static str,
    text: &'static str,
}

/// An error page, with the same layout (and language switcher) as every page.
pub fn error_page(layout: &Layout, title: impl Text, text: &'static str) -> String {
    let title = layout.t(title);
    ErrorPage {
        layout,
        title,
        text,
    }
    .render()
    .unwrap_or_else(|_| title.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nav() -> std::sync::Arc<[NavItem]> {
        vec![
            NavItem::new(0, "/", &["/"], Msg::BackHome),
            NavItem::new(1, "/account", &["/account", "/login"], Msg::BackHome),
            NavItem::new(2, "/dsp", &["/dsp", "/pro/dsp"], Msg::BackHome),
        ]
        .into()
    }

    #[test]
    fn the_current_entry_is_the_one_claiming_the_path() {
        let at = |path| Layout::new(Lang::Fr, String::new(), "/".into(), nav(), path).current;
        assert_eq!(at("/"), Some(0));
        assert_eq!(at("/login"), Some(1));
        assert_eq!(at("/dsp/document/x"), Some(2));
        assert_eq!(at("/pro/dsp"), Some(2));
        assert_eq!(at("/dspx"), None, "a prefix must end at a segment");
        assert_eq!(at("/directory"), None, "only / itself is home");
    }
}
