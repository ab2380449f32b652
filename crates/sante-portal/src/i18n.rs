//! The portal's messages in French (authoritative, TOU-2), German and English.

sante_http::catalogue! {
    NavHome => ("Accueil", "Startseite", "Home"),
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
    DirectoryTitle => ("Annuaire des professionnels", "Verzeichnis der Gesundheitsfachkräfte", "Directory of professionals"),
    DirectoryText => (
        "Trouver un professionnel de santé par nom, profession ou localité.",
        "Eine Gesundheitsfachkraft nach Name, Beruf oder Ort finden.",
        "Find a health professional by name, profession or town."
    ),
    HomeDspPatient => ("Patients : mon dossier", "Patienten: meine Akte", "Patients: my record"),
    HomeDspProfessional => ("Professionnels : les dossiers de mes patients", "Fachkräfte: die Akten meiner Patienten", "Professionals: my patients' records"),
    HomeMessagingSetUp => ("Professionnels : mon adresse et mon logiciel de messagerie", "Fachkräfte: meine Adresse und mein E-Mail-Programm", "Professionals: my address and my mail program"),
    HomeDirectorySearch => ("Chercher un professionnel", "Eine Fachkraft suchen", "Find a professional"),
    HomeYoursHeading => ("Ce que vous pouvez faire", "Was Sie tun können", "What you can do"),
    HomeYourDsp => ("Mon dossier de soins partagé", "Meine elektronische Patientenakte", "My shared care record"),
    HomeYourDspText => (
        "Vos documents, qui les a consultés, vos choix d'accès, et un code à donner au professionnel qui vous soigne.",
        "Ihre Dokumente, wer sie angesehen hat, Ihre Zugriffseinstellungen und ein Code für die Fachkraft, die Sie behandelt.",
        "Your documents, who read them, your access choices, and a code to give the professional treating you."
    ),
    HomeYourPatients => ("Les dossiers de mes patients", "Die Akten meiner Patienten", "My patients' records"),
    HomeYourPatientsText => (
        "Ouvrir le dossier d'un patient que vous soignez (avec le code qu'il vous donne), le consulter et y déposer des documents.",
        "Die Akte eines Patienten öffnen, den Sie behandeln (mit dem Code, den er Ihnen gibt), sie ansehen und Dokumente ablegen.",
        "Open the record of a patient you treat (with the code he gives you), read it and file documents."
    ),
    HomeYourMailText => (
        "Votre adresse de messagerie sécurisée et les mots de passe de vos logiciels de messagerie.",
        "Ihre Adresse für sichere Nachrichten und die Passwörter Ihrer E-Mail-Programme.",
        "Your secure messaging address and the passwords of your mail programs."
    ),
    HomeYourAccountText => (
        "Vos moyens de connexion, vos clés d'accès et vos sessions.",
        "Ihre Anmeldemittel, Ihre Passkeys und Ihre Sitzungen.",
        "Your ways of logging in, your passkeys and your sessions."
    ),
    HomeLoginHeading => ("Se connecter", "Anmelden", "Logging in"),
    HomeLoginPassword => (
        "Patients et agents : identifiant, mot de passe et code de votre application d'authentification.",
        "Patienten und Mitarbeiter: Kennung, Passwort und Code Ihrer Authentifizierungs-App.",
        "Patients and agents: login, password and the code of your authenticator application."
    ),
    HomeLoginPasskey => (
        "Ou une clé d'accès (passkey) enregistrée sur votre téléphone ou votre ordinateur.",
        "Oder ein Passkey, der auf Ihrem Telefon oder Computer gespeichert ist.",
        "Or a passkey kept on your phone or computer."
    ),
    HomeLoginCard => (
        "Professionnels de santé : votre carte professionnelle.",
        "Gesundheitsfachkräfte: Ihre Berufskarte.",
        "Health professionals: your professional card."
    ),
    HomeCardLogin => ("Connexion par carte", "Anmeldung mit Karte", "Card login"),
    HomeLoginFirstTime => (
        "Première fois : activez votre compte avec le code de la lettre que vous avez reçue.",
        "Zum ersten Mal: Aktivieren Sie Ihr Konto mit dem Code aus dem Brief, den Sie erhalten haben.",
        "First time: activate your account with the code of the letter you received."
    ),
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
    TooManyAttempts => (
        "Trop de tentatives depuis cette adresse : réessayez dans quelques minutes.",
        "Zu viele Versuche von dieser Adresse: Versuchen Sie es in einigen Minuten erneut.",
        "Too many attempts from this address: try again in a few minutes."
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
    MyDataLink => ("Mes données : ce que la plateforme sait de moi", "Meine Daten: was die Plattform über mich weiß", "My data: what the platform holds about me"),
    MyDataHeading => ("Mes données", "Meine Daten", "My data"),
    MyDataIntro => (
        "Voici ce que les annuaires et les services de la plateforme traitent à votre sujet, et d'où cela vient. Vous pouvez le télécharger. Pour faire rectifier une donnée d'identité, adressez-vous au registre qui en est la source.",
        "Hier steht, was die Verzeichnisse und Dienste der Plattform über Sie verarbeiten und woher es stammt. Sie können es herunterladen. Eine Identitätsangabe lassen Sie über das Register berichtigen, aus dem sie stammt.",
        "Here is what the platform's directories and services process about you, and where it comes from. You can download it. To have an identity detail corrected, ask the register it comes from."
    ),
    MyDataDownload => ("Télécharger mes données (JSON)", "Meine Daten herunterladen (JSON)", "Download my data (JSON)"),
    MyDataNothing => ("Rien.", "Nichts.", "Nothing."),
    MyDataTruncated => (
        "Seuls les plus récents sont montrés ici.",
        "Hier werden nur die neuesten gezeigt.",
        "Only the newest are shown here."
    ),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_has_three_distinct_non_empty_translations() {
        // Names that coincide across languages; prose must be translated.
        sante_http::i18n::check_catalogue(
            Msg::ALL,
            &[
                Msg::SearchProfession,
                Msg::ColProfession,
                Msg::QualityPatient,
            ],
        )
        .unwrap();
    }
}
