//! The portal's languages, and the mechanism of every area's message catalogue:
//! French (authoritative, TOU-2), German, English. Each area declares its messages
//! with [`catalogue!`](crate::catalogue), which gives every message its three
//! translations by construction; the kernel's own catalogue, [`Msg`], holds the page
//! chrome and the error pages.

use serde::Serialize;

/// A language the portal speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Lang {
    Fr,
    De,
    En,
}

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::Fr, Lang::De, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Lang::Fr => "fr",
            Lang::De => "de",
            Lang::En => "en",
        }
    }

    /// Of texts given in French, German and English (in that order, as the
    /// directories give their titles), the one in this language.
    /// A date as this language writes it: 24/11/2007, 24.11.2007, 24 Nov 2007.
    pub fn date(self, d: chrono::NaiveDate) -> String {
        d.format(self.pick(["%d/%m/%Y", "%d.%m.%Y", "%-d %b %Y"]))
            .to_string()
    }

    /// An instant (UTC) as this language writes it.
    pub fn date_time(self, t: chrono::DateTime<chrono::Utc>) -> String {
        t.format(self.pick([
            "%d/%m/%Y %H:%M UTC",
            "%d.%m.%Y %H:%M UTC",
            "%-d %b %Y %H:%M UTC",
        ]))
        .to_string()
    }

    pub fn pick(self, texts: [&'static str; 3]) -> &'static str {
        let [fr, de, en] = texts;
        match self {
            Lang::Fr => fr,
            Lang::De => de,
            Lang::En => en,
        }
    }

    /// The language's name in itself, for the switcher.
    pub fn native_name(self) -> &'static str {
        match self {
            Lang::Fr => "Français",
            Lang::De => "Deutsch",
            Lang::En => "English",
        }
    }

    pub fn parse(code: &str) -> Option<Lang> {
        match code.trim().to_ascii_lowercase().as_str() {
            "fr" => Some(Lang::Fr),
            "de" => Some(Lang::De),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The first supported language of an `Accept-Language` header, by quality.
    pub fn negotiate(header: &str) -> Option<Lang> {
        let mut ranked: Vec<(f32, Lang)> = header
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.split(';');
                let tag = pieces.next()?.trim();
                let primary = tag.split('-').next()?;
                let lang = Lang::parse(primary)?;
                let q = pieces
                    .find_map(|p| {
                        p.trim()
                            .strip_prefix("q=")
                            .and_then(|q| q.parse::<f32>().ok())
                    })
                    .unwrap_or(1.0);
                (q > 0.0).then_some((q, lang))
            })
            .collect();
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0));
        ranked.first().map(|(_, l)| *l)
    }

    /// The text of `key` in this language.
    pub fn t<M: Text>(self, key: M) -> &'static str {
        let (fr, de, en) = key.texts();
        match self {
            Lang::Fr => fr,
            Lang::De => de,
            Lang::En => en,
        }
    }
}

/// A message of a catalogue: its French, German and English texts.
pub trait Text: Copy + std::fmt::Debug + 'static {
    fn texts(self) -> (&'static str, &'static str, &'static str);
}

/// Declares an area's message catalogue: `Msg`, an enum of every message with its
/// French, German and English texts, and `Msg::ALL`.
#[macro_export]
macro_rules! catalogue {
    ($($key:ident => ($fr:expr, $de:expr, $en:expr),)*) => {
        /// Every message of this area. Each has its three translations by construction.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Msg { $($key,)* }

        impl Msg {
            pub const ALL: &'static [Msg] = &[$(Msg::$key,)*];
        }

        impl $crate::i18n::Text for Msg {
            fn texts(self) -> (&'static str, &'static str, &'static str) {
                match self { $(Msg::$key => ($fr, $de, $en),)* }
            }
        }
    };
}

/// Checks a catalogue: every message has three non-empty texts, and prose is
/// translated (French differs from English) except for the messages in `same`.
pub fn check_catalogue<M: Text + PartialEq>(all: &[M], same: &[M]) -> Result<(), String> {
    for msg in all {
        for lang in Lang::ALL {
            if lang.t(*msg).trim().is_empty() {
                return Err(format!("{msg:?} is empty in {lang:?}"));
            }
        }
        if !same.contains(msg) && Lang::Fr.t(*msg) == Lang::En.t(*msg) {
            return Err(format!("{msg:?} is not translated"));
        }
    }
    Ok(())
}

catalogue! {
    SiteName => ("Sante — plateforme nationale d'eSanté", "Sante — nationale eHealth-Plattform", "Sante — national eHealth platform"),
    SkipToContent => ("Aller au contenu", "Zum Inhalt springen", "Skip to content"),
    MainNavigation => ("Navigation principale", "Hauptnavigation", "Main navigation"),
    LanguageLabel => ("Langue", "Sprache", "Language"),
    LanguageSubmit => ("Changer de langue", "Sprache wechseln", "Change language"),
    FooterTraced => (
        "Chaque accès à la plateforme est tracé. Le texte français fait foi.",
        "Jeder Zugriff auf die Plattform wird protokolliert. Der französische Text ist maßgebend.",
        "Every access to the platform is traced. The French text is authoritative."
    ),
    NotFoundTitle => ("Page introuvable", "Seite nicht gefunden", "Page not found"),
    NotFoundText => ("La page demandée n'existe pas.", "Die angeforderte Seite existiert nicht.", "The page you asked for does not exist."),
    ForbiddenTitle => ("Demande refusée", "Anfrage abgelehnt", "Request refused"),
    ForbiddenText => (
        "Le formulaire a expiré ou ne provient pas de ce portail. Rechargez la page et réessayez.",
        "Das Formular ist abgelaufen oder stammt nicht von diesem Portal. Laden Sie die Seite neu und versuchen Sie es erneut.",
        "The form has expired or did not come from this portal. Reload the page and try again."
    ),
    UnavailableTitle => ("Service momentanément indisponible", "Dienst vorübergehend nicht verfügbar", "Service temporarily unavailable"),
    UnavailableText => (
        "Votre demande n'a pas pu être traitée. Réessayez dans quelques instants.",
        "Ihre Anfrage konnte nicht bearbeitet werden. Versuchen Sie es in einigen Augenblicken erneut.",
        "Your request could not be handled. Try again in a few moments."
    ),
    BadRequestTitle => ("Demande incomplète", "Unvollständige Anfrage", "Incomplete request"),
    BadRequestText => (
        "Le formulaire envoyé n'a pas pu être lu. Revenez à la page et réessayez.",
        "Das gesendete Formular konnte nicht gelesen werden. Kehren Sie zur Seite zurück und versuchen Sie es erneut.",
        "The form sent could not be read. Go back to the page and try again."
    ),
    BackHome => ("Retour à l'accueil", "Zurück zur Startseite", "Back to the home page"),
    DeniedText => (
        "Vous n'avez pas le droit de faire cette demande.",
        "Sie sind nicht berechtigt, diese Anfrage zu stellen.",
        "You are not allowed to make this request."
    ),
    ThrottledTitle => ("Trop de demandes", "Zu viele Anfragen", "Too many requests"),
    ThrottledText => (
        "Vous avez fait beaucoup de demandes en peu de temps. Réessayez dans une heure ; si vous en avez besoin maintenant, appelez le support.",
        "Sie haben in kurzer Zeit viele Anfragen gestellt. Versuchen Sie es in einer Stunde erneut; wenn Sie es jetzt brauchen, rufen Sie den Support an.",
        "You made many requests in a short time. Try again in an hour; if you need it now, call the help desk."
    ),
    ConflictTitle => ("Demande impossible pour l'instant", "Anfrage derzeit nicht möglich", "Request not possible now"),
    ConflictText => (
        "Votre demande ne correspond plus à l'état actuel, ou une autre demande l'a précédée. Rechargez la page et réessayez.",
        "Ihre Anfrage passt nicht mehr zum aktuellen Stand, oder eine andere Anfrage kam ihr zuvor. Laden Sie die Seite neu und versuchen Sie es erneut.",
        "Your request no longer matches the current state, or another request came first. Reload the page and try again."
    ),
    LoginRequiredTitle => ("Connexion nécessaire", "Anmeldung erforderlich", "Login required"),
    LoginRequiredText => (
        "Connectez-vous pour accéder à cette page.",
        "Melden Sie sich an, um diese Seite aufzurufen.",
        "Log in to reach this page."
    ),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_has_three_distinct_non_empty_translations() {
        // The site name may coincide; prose must be translated.
        check_catalogue(Msg::ALL, &[Msg::SiteName]).unwrap();
    }

    #[test]
    fn accept_language_is_negotiated_by_quality() {
        assert_eq!(Lang::negotiate("de-LU,de;q=0.9,en;q=0.8"), Some(Lang::De));
        assert_eq!(Lang::negotiate("pt-PT, en;q=0.5, fr;q=0.7"), Some(Lang::Fr));
        assert_eq!(Lang::negotiate("pt-PT"), None);
        assert_eq!(Lang::negotiate("fr;q=0, en"), Some(Lang::En));
        assert_eq!(Lang::negotiate(""), None);
    }
}
