//! The portal's languages and message catalogue: French (authoritative, TOU-2), German,
//! English.

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
    pub fn t(self, key: Msg) -> &'static str {
        let (fr, de, en) = key.texts();
        match self {
            Lang::Fr => fr,
            Lang::De => de,
            Lang::En => en,
        }
    }
}

macro_rules! catalogue {
    ($($key:ident => ($fr:expr, $de:expr, $en:expr),)*) => {
        /// Every message of the portal. Each has its three translations by construction.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum Msg { $($key,)* }

        impl Msg {
            pub const ALL: &'static [Msg] = &[$(Msg::$key,)*];

            fn texts(self) -> (&'static str, &'static str, &'static str) {
                match self { $(Msg::$key => ($fr, $de, $en),)* }
            }
        }
    };
}

catalogue! {
    SiteName => ("Sante — plateforme nationale d'eSanté", "Sante — nationale eHealth-Plattform", "Sante — national eHealth platform"),
    SkipToContent => ("Aller au contenu", "Zum Inhalt springen", "Skip to content"),
    MainNavigation => ("Navigation principale", "Hauptnavigation", "Main navigation"),
    NavHome => ("Accueil", "Startseite", "Home"),
    LanguageLabel => ("Langue", "Sprache", "Language"),
    LanguageSubmit => ("Changer de langue", "Sprache wechseln", "Change language"),
    HomeHeading => ("Vos données de santé, partagées en sécurité", "Ihre Gesundheitsdaten, sicher geteilt", "Your health data, shared securely"),
    HomeIntro => (
        "La plateforme nationale permet aux patients, aux professionnels de santé et aux acteurs de santé d'échanger et de partager des données de santé en toute sécurité. Chaque accès est tracé.",
        "Die nationale Plattform ermöglicht Patienten, Gesundheitsfachkräften und Akteuren des Gesundheitswesens den sicheren Austausch von Gesundheitsdaten. Jeder Zugriff wird protokolliert.",
        "The national platform lets patients, health professionals and health agents exchange and share health data securely. Every access is traced."
    ),
    ServicesHeading => ("Les services", "Die Dienste", "The services"),
    DspTitle => ("Dossier de soins partagé (DSP)", "Elektronische Patientenakte (DSP)", "Shared care record (DSP)"),
    DspText => (
        "Les informations utiles à votre prise en charge, accessibles aux professionnels qui vous soignent et à vous-même.",
        "Die für Ihre Behandlung wichtigen Informationen, zugänglich für Ihre behandelnden Gesundheitsfachkräfte und für Sie selbst.",
        "The information useful for your care, available to the professionals who treat you and to yourself."
    ),
    MessagingTitle => ("Messagerie sécurisée", "Sichere Nachrichtenübermittlung", "Secure messaging"),
    MessagingText => (
        "Des échanges confidentiels entre professionnels de santé, depuis leur logiciel de messagerie habituel.",
        "Vertraulicher Austausch zwischen Gesundheitsfachkräften, mit ihrem gewohnten E-Mail-Programm.",
        "Confidential exchanges between health professionals, from their usual mail program."
    ),
    ReferentTitle => ("Médecin référent", "Referenzarzt", "Referring doctor"),
    ReferentText => (
        "Le médecin qui coordonne votre suivi et a une vue d'ensemble de votre parcours de soins.",
        "Der Arzt, der Ihre Betreuung koordiniert und einen Überblick über Ihren Behandlungsverlauf hat.",
        "The doctor who coordinates your follow-up and has an overview of your care pathway."
    ),
    DirectoryTitle => ("Annuaire des professionnels", "Verzeichnis der Gesundheitsfachkräfte", "Directory of professionals"),
    DirectoryText => (
        "Trouver un professionnel de santé par nom, profession ou localité.",
        "Eine Gesundheitsfachkraft nach Name, Beruf oder Ort finden.",
        "Find a health professional by name, profession or town."
    ),
    ComingSoon => ("Bientôt disponible sur ce portail.", "Demnächst auf diesem Portal verfügbar.", "Coming soon to this portal."),
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
    NavDirectory => ("Annuaire", "Verzeichnis", "Directory"),
    DirectoryIntro => (
        "L'annuaire national des professionnels de santé autorisés à exercer. Recherchez par nom, profession ou localité.",
        "Das nationale Verzeichnis der zur Berufsausübung zugelassenen Gesundheitsfachkräfte. Suchen Sie nach Name, Beruf oder Ort.",
        "The national directory of health professionals authorised to practise. Search by name, profession or town."
    ),
    SearchName => ("Nom", "Name", "Name"),
    SearchProfession => ("Profession", "Beruf", "Profession"),
    SearchTown => ("Localité", "Ort", "Town"),
    AnyProfession => ("Toutes les professions", "Alle Berufe", "Any profession"),
    SearchSubmit => ("Rechercher", "Suchen", "Search"),
    ResultsHeading => ("Résultats", "Ergebnisse", "Results"),
    ResultsTotal => ("Professionnels trouvés :", "Gefundene Fachkräfte:", "Professionals found:"),
    NoResults => ("Aucun professionnel ne correspond à cette recherche.", "Keine Gesundheitsfachkraft entspricht dieser Suche.", "No professional matches this search."),
    ColName => ("Nom", "Name", "Name"),
    ColProfession => ("Profession", "Beruf", "Profession"),
    ColPractice => ("Lieu d'exercice", "Praxisort", "Practice"),
    ColPhone => ("Téléphone", "Telefon", "Telephone"),
    NextPage => ("Résultats suivants", "Weitere Ergebnisse", "Next results"),
    NotPractising => ("n'exerce pas actuellement", "übt derzeit nicht aus", "not currently practising"),
    ProfPhysician => ("Médecin", "Arzt", "Physician"),
    ProfDentist => ("Médecin-dentiste", "Zahnarzt", "Dentist"),
    ProfMedicalPsychotherapist => ("Psychothérapeute médecin", "Ärztlicher Psychotherapeut", "Medical psychotherapist"),
    ProfPharmacist => ("Pharmacien", "Apotheker", "Pharmacist"),
    ProfNurse => ("Infirmier", "Krankenpfleger", "Nurse"),
    ProfPhysiotherapist => ("Masseur-kinésithérapeute", "Physiotherapeut", "Physiotherapist"),
    ProfOccupationalTherapist => ("Ergothérapeute", "Ergotherapeut", "Occupational therapist"),
    ProfDietitian => ("Diététicien", "Diätassistent", "Dietitian"),
    ProfSpeechTherapist => ("Orthophoniste", "Logopäde", "Speech therapist"),
    ProfOrthoptist => ("Orthoptiste", "Orthoptist", "Orthoptist"),
    ProfOsteopath => ("Ostéopathe", "Osteopath", "Osteopath"),
    ProfPodiatrist => ("Podologue", "Podologe", "Podiatrist"),
    ProfPsychotherapist => ("Psychothérapeute", "Psychotherapeut", "Psychotherapist"),
    ProfPsychomotorTherapist => ("Psychomotricien", "Psychomotoriker", "Psychomotor therapist"),
    ProfMidwife => ("Sage-femme", "Hebamme", "Midwife"),
    ProfLaboratoryTechnician => ("Laborantin", "Medizinisch-technischer Laborassistent", "Laboratory technician"),
    ProfRadiologyTechnicalAssistant => ("Assistant technique médical de radiologie", "Medizinisch-technischer Radiologieassistent", "Radiology technical assistant"),
    ProfCareAssistant => ("Aide-soignant", "Pflegehelfer", "Care assistant"),
    ProfSocialWorker => ("Assistant social", "Sozialarbeiter", "Social worker"),
    ProfMedicalBiologist => ("Médecin biologiste", "Facharzt für Laboratoriumsmedizin", "Medical biologist"),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_has_three_distinct_non_empty_translations() {
        for msg in Msg::ALL {
            for lang in Lang::ALL {
                assert!(!lang.t(*msg).trim().is_empty(), "{msg:?} empty in {lang:?}");
            }
            // The site name and the like may coincide; prose must be translated.
            if !matches!(
                msg,
                Msg::SiteName | Msg::SearchProfession | Msg::ColProfession
            ) {
                assert_ne!(Lang::Fr.t(*msg), Lang::En.t(*msg), "{msg:?} not translated");
            }
        }
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
