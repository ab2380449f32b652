//! The activation letter (ACC-1) as the operator prints and posts it: the person's
//! name and address from the directory, the login name and the one-time code, how to
//! activate, in French (authoritative), German and English.

use std::path::Path;

use chrono::{DateTime, Utc};
use sante_directory::model::Address;
use sante_letters::{Block, Letter};
use sante_types::Quality;

/// Who the letter goes to: name and postal address lines.
pub fn addressee(name: &str, address: Option<&Address>) -> Vec<String> {
    let mut lines = vec![name.to_owned()];
    if let Some(a) = address {
        lines.extend(a.lines.iter().cloned());
        let town = [a.postcode.as_deref(), a.town.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        if !town.is_empty() {
            lines.push(town);
        }
        if let Some(country) = a.country.as_deref().filter(|c| *c != "LU") {
            lines.push(country.to_owned());
        }
    }
    lines
}

fn quality_names(quality: Quality) -> (&'static str, &'static str, &'static str) {
    match quality {
        Quality::Patient => ("patient", "Patient", "patient"),
        Quality::Professional => (
            "professionnel de santé",
            "Gesundheitsfachkraft",
            "health professional",
        ),
        Quality::Agent => (
            "acteur de santé",
            "Akteur des Gesundheitswesens",
            "health agent",
        ),
    }
}

/// The letter for an account of `quality`.
pub fn activation_letter(
    quality: Quality,
    addressee: Vec<String>,
    login: &str,
    code: &str,
    expires: DateTime<Utc>,
    portal: &str,
    today: DateTime<Utc>,
) -> Letter {
    let (fr_q, de_q, en_q) = quality_names(quality);
    let url = format!("{}/activate", portal.trim_end_matches('/'));
    let until = expires.format("%d/%m/%Y").to_string();
    let means_fr = match quality {
        Quality::Patient => {
            "votre carte (certificat), une clé d'accès, ou un mot de passe avec une application d'authentification"
        }
        _ => "votre carte professionnelle (certificat) ou une clé d'accès",
    };
    let means_de = match quality {
        Quality::Patient => {
            "Ihre Karte (Zertifikat), einen Passkey oder ein Passwort mit einer Authenticator-App"
        }
        _ => "Ihren Berufsausweis (Zertifikat) oder einen Passkey",
    };
    let means_en = match quality {
        Quality::Patient => {
            "your card (certificate), a passkey, or a password with an authenticator application"
        }
        _ => "your professional card (certificate) or a passkey",
    };
    Letter {
        sender: vec![
            "Sante — plateforme nationale d'eSanté".into(),
            "Service des comptes".into(),
        ],
        addressee,
        place_and_date: format!("Luxembourg, le {}", today.format("%d/%m/%Y")),
        title: "Votre lettre d'activation".into(),
        blocks: vec![
            Block::Paragraph(format!(
                "Un compte personnel a été créé pour vous sur la plateforme nationale Sante, en qualité de {fr_q}. \
                 Pour l'activer, rendez-vous sur {url} avec votre matricule national, l'identifiant et le code ci-dessous, \
                 une adresse e-mail personnelle et un moyen de connexion fort : {means_fr}."
            )),
            Block::Field { label: "Identifiant / Benutzerkennung / Login name".into(), value: login.to_owned() },
            Block::Field { label: "Code d'activation / Aktivierungscode / Activation code".into(), value: code.to_owned() },
            Block::Paragraph(format!(
                "Ce code est valable jusqu'au {until} et ne sert qu'une fois. Gardez-le secret : personne de la plateforme \
                 ne vous le demandera. Après cinq essais erronés, il est invalidé et une nouvelle lettre est nécessaire. \
                 Vos droits d'accès sont personnels et ne peuvent être cédés."
            )),
            Block::Heading("Deutsch".into()),
            Block::Paragraph(format!(
                "Für Sie wurde auf der nationalen Plattform Sante ein persönliches Konto als {de_q} eingerichtet. \
                 Aktivieren Sie es auf {url} mit Ihrer nationalen Identifikationsnummer, der Benutzerkennung und dem Code oben, \
                 einer persönlichen E-Mail-Adresse und einem starken Anmeldemittel: {means_de}. \
                 Der Code gilt bis zum {until}, nur einmal; halten Sie ihn geheim."
            )),
            Block::Heading("English".into()),
            Block::Paragraph(format!(
                "A personal account was created for you on the national Sante platform, as a {en_q}. \
                 Activate it at {url} with your national identification number, the login name and code above, \
                 a personal e-mail address and a strong means of login: {means_en}. \
                 The code is valid until {until}, once only; keep it secret."
            )),
            Block::Paragraph("Seule la version française fait foi. — Nur die französische Fassung ist verbindlich. — Only the French text is authoritative.".into()),
        ],
    }
}

/// Writes the letter's PDF to `path`, readable by the operator only (it holds a code).
pub fn write(letter: &Letter, path: &Path) -> anyhow::Result<()> {
    let pdf = sante_letters::render(letter)?;
    crate::init::write_file(path, &pdf, 0o600)
}
