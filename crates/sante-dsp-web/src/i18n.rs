//! The DSP pages' messages in French (authoritative, TOU-2), German and English.

sante_http::catalogue! {
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
    DspProPatient => ("Dossier du patient", "Akte des Patienten", "Patient's record"),
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
    NavDsp => ("Mon DSP", "Meine DSP", "My DSP"),
    Revoke => ("Révoquer", "Widerrufen", "Revoke"),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_message_has_three_distinct_non_empty_translations() {
        // Column names that coincide across languages; prose must be translated.
        sante_http::i18n::check_catalogue(
            Msg::ALL,
            &[
                Msg::DspColDate,
                Msg::DspColAction,
                Msg::DspColTitle,
                Msg::DspTimeline,
                Msg::DspPersonalNote,
            ],
        )
        .unwrap();
    }
}
