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
    NavLogin => ("Se connecter", "Anmelden", "Log in"),
    NavAccount => ("Mon compte", "Mein Konto", "My account"),
    NavActivate => ("Activer mon compte", "Konto aktivieren", "Activate my account"),
    LoginTitle => ("Connexion", "Anmeldung", "Log in"),
    LoginIntro => (
        "Choisissez la qualité dans laquelle vous agissez : chaque qualité a son propre compte et ses propres moyens de connexion.",
        "Wählen Sie die Eigenschaft, in der Sie handeln: Jede Eigenschaft hat ihr eigenes Konto und ihre eigenen Anmeldemittel.",
        "Choose the quality in which you act: each quality has its own account and its own means of login."
    ),
    LoginQuality => ("Qualité", "Eigenschaft", "Quality"),
    QualityPatient => ("Patient", "Patient", "Patient"),
    QualityProfessional => ("Professionnel de santé", "Gesundheitsfachkraft", "Health professional"),
    QualityAgent => ("Acteur de santé", "Akteur des Gesundheitswesens", "Health agent"),
    LoginName => ("Identifiant", "Benutzerkennung", "Login name"),
    Password => ("Mot de passe", "Passwort", "Password"),
    OneTimeCode => ("Code à usage unique (application d'authentification)", "Einmalcode (Authenticator-App)", "One-time code (authenticator application)"),
    LoginSubmit => ("Se connecter", "Anmelden", "Log in"),
    LoginFailed => ("Identifiant, mot de passe ou code incorrect.", "Benutzerkennung, Passwort oder Code falsch.", "Wrong login name, password or code."),
    AccountLocked => (
        "Trop d'échecs : le compte est verrouillé pour quelques minutes.",
        "Zu viele Fehlversuche: Das Konto ist für einige Minuten gesperrt.",
        "Too many failed attempts: the account is locked for a few minutes."
    ),
    AccountBlocked => (
        "Ce compte est bloqué. Contactez le support de la plateforme.",
        "Dieses Konto ist gesperrt. Wenden Sie sich an den Support der Plattform.",
        "This account is blocked. Contact the platform's support."
    ),
    AccountNotActivated => (
        "Ce compte n'est pas encore activé : utilisez le code de votre lettre d'activation.",
        "Dieses Konto ist noch nicht aktiviert: Verwenden Sie den Code Ihres Aktivierungsschreibens.",
        "This account is not activated yet: use the code of your activation letter."
    ),
    AccountClosed => ("Ce compte est fermé.", "Dieses Konto ist geschlossen.", "This account is closed."),
    MethodChangeOverdue => (
        "Le changement de moyen de connexion demandé n'a pas été fait à temps : le compte est bloqué jusqu'au changement.",
        "Der verlangte Wechsel des Anmeldemittels wurde nicht rechtzeitig vorgenommen: Das Konto ist bis zum Wechsel gesperrt.",
        "The required change of login method was not made in time: the account is blocked until it is."
    ),
    AgentNetwork => (
        "Les acteurs de santé ne se connectent que depuis le réseau sécurisé de leur organisation.",
        "Akteure des Gesundheitswesens melden sich nur aus dem gesicherten Netz ihrer Organisation an.",
        "Health agents log in only from their organisation's secured network."
    ),
    ActivateTitle => ("Activer mon compte", "Mein Konto aktivieren", "Activate my account"),
    ActivateIntro => (
        "Munissez-vous de votre lettre d'activation et de votre téléphone avec une application d'authentification.",
        "Halten Sie Ihr Aktivierungsschreiben und Ihr Telefon mit einer Authenticator-App bereit.",
        "Have your activation letter at hand and your phone with an authenticator application."
    ),
    NationalId => ("Matricule national (13 chiffres)", "Nationale Identifikationsnummer (13 Ziffern)", "National identification number (13 digits)"),
    ActivationCode => ("Code d'activation", "Aktivierungscode", "Activation code"),
    Email => ("Adresse e-mail personnelle", "Persönliche E-Mail-Adresse", "Personal e-mail address"),
    PasswordAgain => ("Mot de passe (à nouveau)", "Passwort (Wiederholung)", "Password (again)"),
    PasswordHint => (
        "Au moins 12 caractères ; une phrase est plus facile à retenir.",
        "Mindestens 12 Zeichen; ein Satz ist leichter zu merken.",
        "At least 12 characters; a sentence is easier to remember."
    ),
    AuthenticatorHeading => ("Application d'authentification", "Authenticator-App", "Authenticator application"),
    AuthenticatorIntro => (
        "Ajoutez cette clé dans votre application d'authentification, puis saisissez le code qu'elle affiche.",
        "Fügen Sie diesen Schlüssel in Ihrer Authenticator-App hinzu und geben Sie dann den angezeigten Code ein.",
        "Add this key to your authenticator application, then enter the code it shows."
    ),
    AuthenticatorKey => ("Clé", "Schlüssel", "Key"),
    ActivateSubmit => ("Activer", "Aktivieren", "Activate"),
    ActivationFailed => (
        "Identifiant, matricule ou code d'activation incorrect, ou code expiré.",
        "Benutzerkennung, Identifikationsnummer oder Aktivierungscode falsch, oder Code abgelaufen.",
        "Wrong login name, national number or activation code, or the code has expired."
    ),
    PasswordRule => (
        "Le mot de passe doit avoir au moins 12 caractères variés.",
        "Das Passwort muss mindestens 12 verschiedene Zeichen haben.",
        "The password must have at least 12 varied characters."
    ),
    PasswordsDiffer => ("Les deux mots de passe diffèrent.", "Die beiden Passwörter stimmen nicht überein.", "The two passwords differ."),
    EmailInvalid => ("L'adresse e-mail n'est pas valide.", "Die E-Mail-Adresse ist ungültig.", "The e-mail address is not valid."),
    TotpMismatch => (
        "Le code de l'application ne correspond pas : vérifiez l'heure du téléphone et saisissez le code actuel.",
        "Der Code der App stimmt nicht: Prüfen Sie die Uhrzeit des Telefons und geben Sie den aktuellen Code ein.",
        "The application's code does not match: check the phone's clock and enter the current code."
    ),
    ActivatedTitle => ("Compte activé", "Konto aktiviert", "Account activated"),
    ActivatedText => (
        "Votre compte est actif. Connectez-vous avec votre identifiant, votre mot de passe et le code de votre application.",
        "Ihr Konto ist aktiv. Melden Sie sich mit Benutzerkennung, Passwort und dem Code Ihrer App an.",
        "Your account is active. Log in with your login name, your password and your application's code."
    ),
    AccountTitle => ("Mon compte", "Mein Konto", "My account"),
    AccountQuality => ("Connecté en qualité de", "Angemeldet als", "Logged in as"),
    AccountAssurance => ("Niveau de garantie de la connexion", "Vertrauensniveau der Anmeldung", "Level of assurance of this login"),
    AssuranceLow => ("faible", "niedrig", "low"),
    AssuranceSubstantial => ("substantiel", "substanziell", "substantial"),
    AssuranceHigh => ("élevé", "hoch", "high"),
    OtherQualities => (
        "Vous avez aussi un compte dans une autre qualité ; pour agir dans celle-ci, déconnectez-vous et connectez-vous avec ses moyens.",
        "Sie haben auch ein Konto in einer anderen Eigenschaft; um darin zu handeln, melden Sie sich ab und mit deren Mitteln an.",
        "You also hold an account in another quality; to act in it, log out and log in with its own means."
    ),
    SessionsHeading => ("Sessions ouvertes", "Offene Sitzungen", "Open sessions"),
    SessionStarted => ("Ouverte le", "Geöffnet am", "Opened"),
    SessionLastSeen => ("Dernière activité", "Letzte Aktivität", "Last activity"),
    SessionClient => ("Navigateur", "Browser", "Browser"),
    SessionCurrent => ("cette session", "diese Sitzung", "this session"),
    SessionEnd => ("Fermer", "Beenden", "End"),
    LogoutSubmit => ("Se déconnecter", "Abmelden", "Log out"),
    LostHeading => ("Moyen de connexion perdu ou volé", "Anmeldemittel verloren oder gestohlen", "Lost or stolen login means"),
    LostText => (
        "Signalez-le immédiatement : vos moyens de connexion sont révoqués et toutes vos sessions fermées. Une nouvelle lettre d'activation vous sera envoyée.",
        "Melden Sie es sofort: Ihre Anmeldemittel werden widerrufen und alle Sitzungen beendet. Sie erhalten ein neues Aktivierungsschreiben.",
        "Report it at once: your login means are revoked and every session ended. A new activation letter will be sent to you."
    ),
    LostSubmit => ("Révoquer mes moyens de connexion", "Meine Anmeldemittel widerrufen", "Revoke my login means"),
    LoginWithCard => ("Se connecter avec ma carte", "Mit meiner Karte anmelden", "Log in with my card"),
    LoginWithPasskey => ("Se connecter avec une clé d'accès", "Mit einem Passkey anmelden", "Log in with a passkey"),
    LoginOtherMeans => ("Autres moyens de connexion", "Andere Anmeldemittel", "Other means of login"),
    LoginNeedsHigh => (
        "L'application demande une connexion de niveau élevé : utilisez votre carte ou une clé d'accès.",
        "Die Anwendung verlangt eine Anmeldung mit hohem Vertrauensniveau: Verwenden Sie Ihre Karte oder einen Passkey.",
        "The application asks for a login at high assurance: use your card or a passkey."
    ),
    TermsTitle => ("Conditions d'utilisation", "Nutzungsbedingungen", "Terms of use"),
    TermsFirstUse => (
        "Avant d'utiliser la plateforme et ses services, lisez et acceptez leurs conditions d'utilisation.",
        "Lesen und akzeptieren Sie vor der Nutzung der Plattform und ihrer Dienste deren Nutzungsbedingungen.",
        "Before using the platform and its services, read and accept their terms of use."
    ),
    TermsNewVersion => (
        "Une nouvelle version des conditions d'utilisation a été publiée : elle s'applique dès sa publication et doit être acceptée pour continuer.",
        "Eine neue Fassung der Nutzungsbedingungen wurde veröffentlicht: Sie gilt ab ihrer Veröffentlichung und muss akzeptiert werden, um fortzufahren.",
        "A new version of the terms of use was published: it applies from its publication and must be accepted to go on."
    ),
    TermsAuthoritative => (
        "Seule la version française fait foi.",
        "Nur die französische Fassung ist verbindlich.",
        "Only the French text is authoritative."
    ),
    TermsVersion => ("version n°", "Fassung", "version"),
    TermsAccept => ("J'accepte ces conditions", "Ich akzeptiere diese Bedingungen", "I accept these terms"),
    LoggedOutTitle => ("Vous êtes déconnecté", "Sie sind abgemeldet", "You are logged out"),
    PasskeyLoginHint => (
        "Saisissez votre identifiant et votre qualité ci-dessus, puis utilisez votre clé d'accès (téléphone, clé de sécurité).",
        "Geben Sie oben Ihre Benutzerkennung und Eigenschaft ein und verwenden Sie dann Ihren Passkey (Telefon, Sicherheitsschlüssel).",
        "Enter your login name and quality above, then use your passkey (phone, security key)."
    ),
    PasskeyFailed => (
        "La clé d'accès n'a pas pu être utilisée ; réessayez ou utilisez un autre moyen de connexion.",
        "Der Passkey konnte nicht verwendet werden; versuchen Sie es erneut oder verwenden Sie ein anderes Anmeldemittel.",
        "The passkey could not be used; try again or use another means of login."
    ),
    ActivatedNotice => (
        "Votre compte est activé : connectez-vous avec le moyen que vous venez d'enregistrer.",
        "Ihr Konto ist aktiviert: Melden Sie sich mit dem soeben registrierten Mittel an.",
        "Your account is activated: log in with the means you have just registered."
    ),
    CardLoginTitle => ("Connexion par carte", "Anmeldung mit Karte", "Log in with a card"),
    CardLoginIntro => (
        "Votre navigateur présente le certificat de votre carte ; choisissez la qualité dans laquelle vous agissez.",
        "Ihr Browser legt das Zertifikat Ihrer Karte vor; wählen Sie die Eigenschaft, in der Sie handeln.",
        "Your browser presents your card's certificate; choose the quality in which you act."
    ),
    CardPresented => ("Certificat présenté", "Vorgelegtes Zertifikat", "Certificate presented"),
    CardMissing => (
        "Aucun certificat n'a été présenté. Insérez votre carte ou importez votre certificat dans le navigateur, puis rechargez cette page.",
        "Es wurde kein Zertifikat vorgelegt. Stecken Sie Ihre Karte ein oder importieren Sie Ihr Zertifikat in den Browser und laden Sie die Seite neu.",
        "No certificate was presented. Insert your card or import your certificate in the browser, then reload this page."
    ),
    CardUnknown => (
        "Ce certificat n'est lié à aucun compte de cette qualité. Activez d'abord votre compte avec votre carte.",
        "Dieses Zertifikat ist mit keinem Konto dieser Eigenschaft verknüpft. Aktivieren Sie zuerst Ihr Konto mit Ihrer Karte.",
        "This certificate is bound to no account of this quality. Activate your account with your card first."
    ),
    CardRevoked => (
        "Ce certificat a été révoqué ou a expiré : il ne permet plus de se connecter.",
        "Dieses Zertifikat wurde widerrufen oder ist abgelaufen: Es erlaubt keine Anmeldung mehr.",
        "This certificate was revoked or has expired: it no longer logs in."
    ),
    CardAlreadyBound => ("Ce certificat est déjà lié à un compte.", "Dieses Zertifikat ist bereits mit einem Konto verknüpft.", "This certificate is already bound to an account."),
    CardNotValid => ("Ce certificat n'est pas valide aujourd'hui.", "Dieses Zertifikat ist heute nicht gültig.", "This certificate is not valid today."),
    CardActivateTitle => ("Activer mon compte avec ma carte", "Mein Konto mit meiner Karte aktivieren", "Activate my account with my card"),
    CardActivateIntro => (
        "Le certificat de votre carte sera lié à votre compte : vous vous connecterez ensuite avec votre carte, au niveau de garantie élevé.",
        "Das Zertifikat Ihrer Karte wird mit Ihrem Konto verknüpft: Sie melden sich danach mit Ihrer Karte an, mit hohem Vertrauensniveau.",
        "Your card's certificate will be bound to your account: you will then log in with your card, at high assurance."
    ),
    ActivateWithCard => ("Activer avec ma carte", "Mit meiner Karte aktivieren", "Activate with my card"),
    ActivateOtherMeans => (
        "Professionnels de santé : activez votre compte avec votre carte ou une clé d'accès.",
        "Gesundheitsfachkräfte: Aktivieren Sie Ihr Konto mit Ihrer Karte oder einem Passkey.",
        "Health professionals: activate your account with your card or a passkey."
    ),
    PasskeyHeading => ("Clé d'accès (passkey)", "Passkey", "Passkey"),
    PasskeyIntro => (
        "Une clé d'accès (téléphone, ordinateur ou clé de sécurité avec code ou empreinte) vous connecte au niveau de garantie élevé, sans mot de passe.",
        "Ein Passkey (Telefon, Computer oder Sicherheitsschlüssel mit PIN oder Fingerabdruck) meldet Sie mit hohem Vertrauensniveau an, ohne Passwort.",
        "A passkey (phone, computer or security key with a PIN or fingerprint) logs you in at high assurance, without a password."
    ),
    ActivateWithPasskey => ("Activer avec une clé d'accès", "Mit einem Passkey aktivieren", "Activate with a passkey"),
    PasskeyLabel => ("Nom de l'appareil", "Gerätename", "Device name"),
    PasskeyAdd => ("Ajouter une clé d'accès", "Passkey hinzufügen", "Add a passkey"),
    CredentialsHeading => ("Mes moyens de connexion", "Meine Anmeldemittel", "My means of login"),
    CredPassword => ("Mot de passe", "Passwort", "Password"),
    CredTotp => ("Application d'authentification", "Authenticator-App", "Authenticator application"),
    CredCertificate => ("Certificat de carte", "Kartenzertifikat", "Card certificate"),
    CredPasskey => ("Clé d'accès", "Passkey", "Passkey"),
    CredAppPassword => ("Mot de passe d'application", "Anwendungspasswort", "Application password"),
    CredCreated => ("Enregistré le", "Registriert am", "Registered"),
    AppPasswordsHeading => ("Mots de passe d'application (messagerie)", "Anwendungspasswörter (Nachrichtendienst)", "Application passwords (messaging)"),
    AppPasswordsIntro => (
        "Un mot de passe par appareil pour votre logiciel de messagerie (IMAP, POP3, SMTP). Il n'ouvre que la messagerie sécurisée et peut être révoqué seul.",
        "Ein Passwort pro Gerät für Ihr E-Mail-Programm (IMAP, POP3, SMTP). Es öffnet nur den sicheren Nachrichtendienst und kann einzeln widerrufen werden.",
        "One password per device for your mail program (IMAP, POP3, SMTP). It opens secure messaging only and can be revoked on its own."
    ),
    AppPasswordsNeedHigh => (
        "Connectez-vous avec votre carte ou une clé d'accès pour créer un mot de passe d'application.",
        "Melden Sie sich mit Ihrer Karte oder einem Passkey an, um ein Anwendungspasswort zu erstellen.",
        "Log in with your card or a passkey to create an application password."
    ),
    AppPasswordCreate => ("Créer le mot de passe", "Passwort erstellen", "Create the password"),
    AppPasswordShown => (
        "Le mot de passe de cet appareil, affiché cette seule fois ; saisissez-le dans votre logiciel de messagerie :",
        "Das Passwort dieses Geräts, nur dieses eine Mal angezeigt; geben Sie es in Ihr E-Mail-Programm ein:",
        "This device's password, shown this once only; enter it in your mail program:"
    ),
    Revoke => ("Révoquer", "Widerrufen", "Revoke"),
    NavDsp => ("Mon DSP", "Meine DSP", "My DSP"),
    DspTitleHolder => ("Mon dossier de soins partagé", "Meine elektronische Patientenakte", "My shared care record"),
    DspNone => (
        "Vous n'avez pas encore de dossier de soins partagé. Il est créé automatiquement à l'affiliation ; si vous êtes soigné au Luxembourg sans y être affilié, vous pouvez le demander.",
        "Sie haben noch keine elektronische Patientenakte. Sie wird bei der Versicherung automatisch angelegt; werden Sie in Luxemburg behandelt, ohne versichert zu sein, können Sie sie beantragen.",
        "You have no shared care record yet. It is created automatically on affiliation; if you are treated in the country without being affiliated, you may ask for one."
    ),
    DspCreate => ("Demander mon DSP", "Meine DSP beantragen", "Ask for my DSP"),
    DspCreated => (
        "Votre DSP a été créé et attend votre activation. Sans activation, les professionnels qui vous soignent y accéderont trente jours après la lettre d'information.",
        "Ihre DSP wurde angelegt und wartet auf Ihre Aktivierung. Ohne Aktivierung greifen Ihre behandelnden Fachkräfte dreißig Tage nach dem Informationsschreiben darauf zu.",
        "Your DSP was created and waits for your activation. Without activation, the professionals treating you reach it thirty days after the information letter."
    ),
    DspActivate => ("Activer mon DSP", "Meine DSP aktivieren", "Activate my DSP"),
    DspObject => ("Je m'oppose à mon DSP (il sera supprimé)", "Ich widerspreche meiner DSP (sie wird gelöscht)", "I object to my DSP (it will be deleted)"),
    DspClosedText => (
        "Votre DSP est fermé : ses données sont inaccessibles et archivées. Vous pouvez le rouvrir dans les dix ans suivant sa fermeture.",
        "Ihre DSP ist geschlossen: Ihre Daten sind unzugänglich und archiviert. Sie können sie innerhalb von zehn Jahren nach der Schließung wieder öffnen.",
        "Your DSP is closed: its data are inaccessible and archived. You may reopen it within ten years of its closure."
    ),
    DspReopen => ("Rouvrir mon DSP", "Meine DSP wieder öffnen", "Reopen my DSP"),
    DspClose => ("Fermer mon DSP", "Meine DSP schließen", "Close my DSP"),
    DspOrganQuestion => (
        "Première consultation de votre DSP : vous opposez-vous au prélèvement de vos organes après votre décès ? Votre réponse est enregistrée dans votre espace personnel ; vous pouvez la changer à tout moment.",
        "Erster Zugriff auf Ihre DSP: Widersprechen Sie der Organentnahme nach Ihrem Tod? Ihre Antwort wird in Ihrem persönlichen Bereich gespeichert; Sie können sie jederzeit ändern.",
        "First access to your DSP: do you object to the removal of your organs after your death? Your answer is recorded in your personal space; you may change it at any time."
    ),
    DspOrganConsent => ("Je ne m'y oppose pas", "Ich widerspreche nicht", "I do not object"),
    DspOrganObject => ("Je m'y oppose", "Ich widerspreche", "I object"),
    DspOrganLater => ("Je ne souhaite pas répondre", "Ich möchte nicht antworten", "I prefer not to answer"),
    DspAccessCode => ("Donner un code d'accès à un professionnel", "Einer Fachkraft einen Zugangscode geben", "Give a professional an access code"),
    DspAccessCodeShown => (
        "Code à donner au professionnel pendant la consultation (valable deux heures, une seule fois ; il ouvre votre DSP à ce professionnel pour quinze jours) :",
        "Code für die Fachkraft während der Konsultation (zwei Stunden gültig, einmalig; er öffnet Ihre DSP dieser Fachkraft für fünfzehn Tage):",
        "Code to give the professional during the consultation (valid two hours, once; it opens your DSP to that professional for fifteen days):"
    ),
    DspTimeline => ("Documents", "Dokumente", "Documents"),
    DspFilterCategory => ("Catégorie", "Kategorie", "Category"),
    DspAnyCategory => ("Toutes les catégories", "Alle Kategorien", "All categories"),
    DspFilterAuthor => ("Auteur (identifiant)", "Autor (Kennung)", "Author (identifier)"),
    DspFilterFrom => ("Depuis le", "Ab dem", "From"),
    DspFilterUntil => ("Avant le", "Vor dem", "Before"),
    DspFilter => ("Filtrer", "Filtern", "Filter"),
    DspNoDocuments => ("Aucun document.", "Keine Dokumente.", "No documents."),
    DspColDate => ("Date", "Datum", "Date"),
    DspColCategory => ("Catégorie", "Kategorie", "Category"),
    DspColTitle => ("Document", "Dokument", "Document"),
    DspColAuthor => ("Auteur", "Autor", "Author"),
    DspColStatus => ("Statut", "Status", "Status"),
    DspPersonal => ("Mon espace personnel", "Mein persönlicher Bereich", "My personal space"),
    DspPersonalKind => ("Type", "Art", "Kind"),
    DspPersonalNote => ("Note", "Notiz", "Note"),
    DspAdvanceDirectives => ("Directives anticipées, fin de vie", "Patientenverfügung, Lebensende", "Advance directives, end of life"),
    DspPersonalTitle => ("Titre", "Titel", "Title"),
    DspPersonalText => ("Texte", "Text", "Text"),
    DspWrite => ("Enregistrer", "Speichern", "Save"),
    DspHistory => ("Historique des accès", "Zugriffsverlauf", "Access history"),
    DspControls => ("Mes choix d'accès", "Meine Zugriffseinstellungen", "My access choices"),
    DspNotices => ("Avis", "Mitteilungen", "Notices"),
    DspNoticeFirstAccess => ("Premier accès d'un professionnel à votre DSP :", "Erster Zugriff einer Fachkraft auf Ihre DSP:", "First access of a professional to your DSP:"),
    DspNoticeWithdrawn => ("Droits retirés (autorisation d'exercer retirée) :", "Rechte entzogen (Berufszulassung entzogen):", "Rights removed (authorisation to practise withdrawn):"),
    DspNoticeClosed => ("Votre DSP a été fermé après dix ans sans accès.", "Ihre DSP wurde nach zehn Jahren ohne Zugriff geschlossen.", "Your DSP was closed after ten years without access."),
    DspColWho => ("Qui", "Wer", "Who"),
    DspColRole => ("Rôle", "Rolle", "Role"),
    DspColEstablishment => ("Établissement", "Einrichtung", "Establishment"),
    DspColWhen => ("Quand", "Wann", "When"),
    DspColItem => ("Donnée", "Datum", "Item"),
    DspColAction => ("Action", "Aktion", "Action"),
    DspColOutcome => ("Résultat", "Ergebnis", "Outcome"),
    DspBlocked => ("Professionnels interdits (niveau privé)", "Gesperrte Fachkräfte (private Stufe)", "Professionals forbidden (private level)"),
    DspBlock => ("Interdire mon DSP à ce professionnel", "Meine DSP dieser Fachkraft sperren", "Forbid my DSP to this professional"),
    DspUnblock => ("Lever l'interdiction", "Sperre aufheben", "Lift the ban"),
    DspProfessionalId => ("Identifiant du professionnel", "Kennung der Fachkraft", "Professional's identifier"),
    DspRiskWarning => (
        "Avertissement : masquer des données aux professionnels qui vous soignent peut nuire à votre prise en charge (un traitement inadapté, une allergie ignorée, un examen répété). Les restrictions ne s'appliquent qu'après que vous avez pris connaissance de ce risque.",
        "Warnung: Daten vor Ihren behandelnden Fachkräften zu verbergen, kann Ihrer Behandlung schaden (eine ungeeignete Behandlung, eine übersehene Allergie, eine wiederholte Untersuchung). Einschränkungen gelten erst, nachdem Sie dieses Risiko zur Kenntnis genommen haben.",
        "Warning: hiding data from the professionals treating you may harm your care (an unsuitable treatment, an overlooked allergy, a repeated test). Restrictions apply only once you have acknowledged this risk."
    ),
    DspAcknowledge => ("J'ai compris ce risque", "Ich habe dieses Risiko verstanden", "I understand this risk"),
    DspAcknowledged => ("Risque reconnu le", "Risiko zur Kenntnis genommen am", "Risk acknowledged on"),
    DspRestrict => ("Masquer ce document à ce professionnel", "Dieses Dokument vor dieser Fachkraft verbergen", "Hide this document from this professional"),
    DspRestrictions => ("Documents masqués (niveau restreint)", "Verborgene Dokumente (eingeschränkte Stufe)", "Hidden documents (restricted level)"),
    DspUnrestrict => ("Ne plus masquer", "Nicht mehr verbergen", "Stop hiding"),
    DspAssistant => ("Mon assistant DSP", "Mein DSP-Assistent", "My DSP assistant"),
    DspAssistantIntro => (
        "Un autre patient que vous désignez vous aide à gérer votre DSP, avec vos droits ; chacune de ses actions est tracée à son nom.",
        "Ein anderer Patient, den Sie benennen, hilft Ihnen, Ihre DSP mit Ihren Rechten zu verwalten; jede seiner Handlungen wird auf seinen Namen protokolliert.",
        "Another patient you appoint helps you manage your DSP, with your rights; each of his actions is traced in his name."
    ),
    DspPatientId => ("Identifiant patient de l'assistant", "Patientenkennung des Assistenten", "Assistant's patient identifier"),
    DspAppoint => ("Désigner", "Benennen", "Appoint"),
    DspCare => ("Prises en charge en cours", "Laufende Behandlungen", "Care in progress"),
    DspObjectFiling => ("M'opposer à l'enregistrement pendant cette prise en charge", "Der Speicherung während dieser Behandlung widersprechen", "Object to filing during this care"),
    DspAllowFiling => ("Autoriser à nouveau l'enregistrement", "Speicherung wieder erlauben", "Allow filing again"),
    DspUntil => ("jusqu'au", "bis", "until"),
    DspKeep => ("Conserver au-delà de dix ans", "Über zehn Jahre hinaus aufbewahren", "Keep beyond ten years"),
    DspKept => ("Conservation au-delà de dix ans acceptée le", "Aufbewahrung über zehn Jahre akzeptiert am", "Keeping beyond ten years agreed on"),
    DspDownload => ("Ouvrir le document", "Dokument öffnen", "Open the document"),
    DspBack => ("Retour au DSP", "Zurück zur DSP", "Back to the DSP"),
    DspProTitle => ("DSP de mes patients", "DSP meiner Patienten", "My patients' DSP"),
    DspProInCare => ("Patients que je prends en charge", "Patienten in meiner Behandlung", "Patients in my care"),
    DspProRedeem => ("Code d'accès donné par le patient", "Vom Patienten gegebener Zugangscode", "Access code given by the patient"),
    DspProRedeemSubmit => ("Ouvrir la prise en charge", "Behandlung eröffnen", "Open the care relationship"),
    DspProFind => ("Trouver un patient (matricule national)", "Einen Patienten finden (nationale Nummer)", "Find a patient (national number)"),
    DspProFindSubmit => ("Chercher", "Suchen", "Search"),
    DspProNotFound => ("Aucun DSP accessible pour ce patient.", "Keine zugängliche DSP für diesen Patienten.", "No DSP you may reach for this patient."),
    DspProOverdue => ("Enregistrements en retard", "Überfällige Speicherungen", "Overdue filings"),
    DspProOverdueRequest => ("Demande du patient, échue le", "Bitte des Patienten, fällig am", "Patient's request, due on"),
    DspProOverdueCare => ("Fin de prise en charge sans compte rendu, le", "Behandlungsende ohne Bericht, am", "End of care without a report, on"),
    DspProFile => ("Enregistrer un document", "Ein Dokument speichern", "File a document"),
    DspProType => ("Type de document", "Dokumentart", "Document type"),
    DspProContent => ("Contenu", "Inhalt", "Content"),
    DspNeedsHigh => (
        "Le DSP demande une connexion de niveau élevé pour les professionnels (carte ou clé d'accès) et substantiel pour les patients.",
        "Die DSP verlangt eine Anmeldung mit hohem Vertrauensniveau für Fachkräfte (Karte oder Passkey) und substanziellem für Patienten.",
        "The DSP needs a login at high assurance for professionals (card or passkey) and substantial for patients."
    ),
    DspRefused => ("Accès refusé :", "Zugriff verweigert:", "Access refused:"),
    DspAssisted => ("DSP que je gère comme assistant", "DSP, die ich als Assistent verwalte", "DSPs I manage as an assistant"),
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
                Msg::SiteName
                    | Msg::SearchProfession
                    | Msg::ColProfession
                    | Msg::QualityPatient
                    | Msg::DspColDate
                    | Msg::DspColAction
                    | Msg::DspColTitle
                    | Msg::DspTimeline
                    | Msg::DspPersonalNote
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
