//! The demo patient's shared care record, lived in: professionals of the synthetic
//! directories, each with his own account and development card, are given access
//! codes by the patient, and file what a year of care leaves (laboratory results as
//! PDF, a discharge summary, an imaging report, prescriptions, vaccinations, medicines
//! dispensed, nursing assessments, a patient summary); one of them reads the record;
//! the patient hides one document from one of them. Everything goes through the DSP
//! service as the front ends call it, so the access history, the care relationships
//! and the audit trail hold what the pages then show. Run once: a record that already
//! holds documents is left as it is.

use std::path::Path;

use anyhow::Context;
use chrono::{Duration, NaiveDate};
use sante_directory::model::{Patient, Profession, Professional};
use sante_directory::service::{PatientQuery, ProfessionalQuery};
use sante_dsp::Caller;
use sante_dsp::model::Confidentiality;
use sante_dsp::service::{ItemQuery, NewItem};
use sante_letters::{Block, Letter};
use sante_types::{CredentialKind, LevelOfAssurance, Quality};

use crate::account_cmd::{Opened, activate_with_dev_card, cli_source};
use crate::config::Config;

use sante_dsp::category::{LOINC, SANTE_TYPES};

/// What the seeding left, for the demo's banner.
#[derive(Debug)]
pub struct Seeded {
    pub documents: usize,
    pub professionals: Vec<String>,
}

/// One document of the story: who files it (index in the cast), when, what.
struct Filing {
    by: usize,
    days_ago: i64,
    system: &'static str,
    code: &'static str,
    title: &'static str,
    body: &'static [&'static str],
    pdf: bool,
}

/// The cast: the demo physician (the carded demo professional), a hospital
/// physician, a medical biologist, a pharmacist and a nurse.
const CAST: [(Profession, usize); 5] = [
    (Profession::Physician, 0),
    (Profession::Physician, 1),
    (Profession::MedicalBiologist, 0),
    (Profession::Pharmacist, 0),
    (Profession::Nurse, 0),
];

const STORY: &[Filing] = &[
    Filing {
        by: 0,
        days_ago: 340,
        system: LOINC,
        code: "11369-6",
        title: "Vaccination antigrippale",
        body: &[
            "Vaccin grippal quadrivalent, 0,5 ml, deltoïde gauche.",
            "Lot FLU-2025-117. Aucune réaction immédiate.",
        ],
        pdf: false,
    },
    Filing {
        by: 0,
        days_ago: 330,
        system: LOINC,
        code: "11329-0",
        title: "Antécédents médicaux",
        body: &[
            "Appendicectomie (2004). Hypertension artérielle depuis 2019.",
            "Pas d'antécédent familial cardiovasculaire précoce.",
        ],
        pdf: false,
    },
    Filing {
        by: 0,
        days_ago: 329,
        system: LOINC,
        code: "48765-2",
        title: "Allergies et intolérances",
        body: &[
            "Allergie à la pénicilline (urticaire, 2011).",
            "Intolérance au lactose.",
        ],
        pdf: false,
    },
    Filing {
        by: 2,
        days_ago: 300,
        system: LOINC,
        code: "11502-2",
        title: "Bilan sanguin — hémogramme et glycémie",
        body: &[
            "Hémoglobine 14,1 g/dl (13,0–17,0). Leucocytes 6,2 G/l (4,0–10,0).",
            "Glycémie à jeun 0,98 g/l (0,70–1,10).",
            "Résultats validés par le biologiste.",
        ],
        pdf: true,
    },
    Filing {
        by: 0,
        days_ago: 298,
        system: LOINC,
        code: "57833-6",
        title: "Ordonnance — antihypertenseur",
        body: &[
            "Amlodipine 5 mg, un comprimé le matin, 3 mois.",
            "Contrôle tensionnel dans un mois.",
        ],
        pdf: true,
    },
    Filing {
        by: 3,
        days_ago: 297,
        system: LOINC,
        code: "60593-1",
        title: "Médicaments délivrés — amlodipine",
        body: &[
            "Amlodipine 5 mg, boîte de 30, délivrée sur ordonnance.",
            "Conseils de prise donnés au comptoir.",
        ],
        pdf: false,
    },
    Filing {
        by: 2,
        days_ago: 210,
        system: LOINC,
        code: "11502-2",
        title: "Bilan lipidique",
        body: &[
            "Cholestérol total 2,14 g/l. LDL 1,38 g/l. HDL 0,52 g/l. Triglycérides 1,20 g/l.",
            "Résultats validés par le biologiste.",
        ],
        pdf: true,
    },
    Filing {
        by: 0,
        days_ago: 205,
        system: LOINC,
        code: "11488-4",
        title: "Consultation de suivi",
        body: &[
            "Tension 132/84 sous amlodipine. Poids stable.",
            "Poursuite du traitement, bilan dans six mois.",
        ],
        pdf: false,
    },
    Filing {
        by: 3,
        days_ago: 204,
        system: LOINC,
        code: "60593-1",
        title: "Médicaments délivrés — renouvellement",
        body: &["Amlodipine 5 mg, boîte de 90, renouvellement."],
        pdf: false,
    },
    Filing {
        by: 0,
        days_ago: 120,
        system: LOINC,
        code: "57832-8",
        title: "Prescription — radiographie du genou",
        body: &[
            "Radiographie du genou droit, face et profil.",
            "Douleur mécanique depuis trois semaines après une chute.",
        ],
        pdf: true,
    },
    Filing {
        by: 1,
        days_ago: 112,
        system: LOINC,
        code: "18748-4",
        title: "Compte rendu d'imagerie — genou droit",
        body: &[
            "Radiographie du genou droit, face et profil.",
            "Pas de fracture. Épanchement articulaire modéré. Pincement fémoro-tibial interne débutant.",
            "Conclusion : gonarthrose interne débutante, épanchement.",
        ],
        pdf: true,
    },
    Filing {
        by: 1,
        days_ago: 60,
        system: LOINC,
        code: "28570-0",
        title: "Compte rendu opératoire — arthroscopie",
        body: &[
            "Arthroscopie du genou droit sous anesthésie locorégionale.",
            "Méniscectomie partielle interne. Suites simples.",
        ],
        pdf: true,
    },
    Filing {
        by: 1,
        days_ago: 57,
        system: LOINC,
        code: "18842-5",
        title: "Lettre de sortie — service d'orthopédie",
        body: &[
            "Séjour du 3 au 6 pour arthroscopie du genou droit.",
            "Sortie à domicile, marche avec deux cannes, appui autorisé.",
            "Soins infirmiers : pansement tous les deux jours, ablation des fils à J12.",
            "Traitement : paracétamol 1 g trois fois par jour si douleur, énoxaparine 4000 UI pendant 10 jours.",
        ],
        pdf: true,
    },
    Filing {
        by: 1,
        days_ago: 57,
        system: LOINC,
        code: "57833-6",
        title: "Ordonnance de sortie",
        body: &[
            "Paracétamol 1 g, trois fois par jour si douleur, 10 jours.",
            "Énoxaparine 4000 UI, une injection sous-cutanée par jour, 10 jours.",
        ],
        pdf: true,
    },
    Filing {
        by: 3,
        days_ago: 56,
        system: LOINC,
        code: "60593-1",
        title: "Médicaments délivrés — sortie d'hôpital",
        body: &["Paracétamol 1 g, boîte de 30. Énoxaparine 4000 UI, 10 seringues."],
        pdf: false,
    },
    Filing {
        by: 4,
        days_ago: 52,
        system: LOINC,
        code: "28651-8",
        title: "Bilan de soins infirmiers à domicile",
        body: &[
            "Pansement propre et sec, pas de signe d'infection.",
            "Injections d'énoxaparine réalisées, bonne tolérance.",
        ],
        pdf: false,
    },
    Filing {
        by: 4,
        days_ago: 45,
        system: LOINC,
        code: "34749-2",
        title: "Ablation des fils",
        body: &[
            "Ablation des fils à J12. Cicatrice propre.",
            "Fin des soins infirmiers.",
        ],
        pdf: false,
    },
    Filing {
        by: 2,
        days_ago: 30,
        system: LOINC,
        code: "11502-2",
        title: "Bilan sanguin de contrôle",
        body: &[
            "Hémoglobine 13,8 g/dl. Plaquettes 245 G/l (150–400).",
            "Créatinine 0,9 mg/dl, DFG estimé > 90 ml/min.",
            "Résultats validés par le biologiste.",
        ],
        pdf: true,
    },
    Filing {
        by: 0,
        days_ago: 20,
        system: LOINC,
        code: "11369-6",
        title: "Rappel de vaccination — tétanos, diphtérie, coqueluche",
        body: &["Vaccin dTca, 0,5 ml, deltoïde droit. Prochain rappel dans dix ans."],
        pdf: false,
    },
    Filing {
        by: 0,
        days_ago: 14,
        system: SANTE_TYPES,
        code: "prevention",
        title: "Dépistage et prévention",
        body: &[
            "Dépistage du cancer colorectal proposé (test immunologique remis).",
            "Conseils d'activité physique adaptée au genou.",
        ],
        pdf: false,
    },
    Filing {
        by: 0,
        days_ago: 7,
        system: LOINC,
        code: "60591-5",
        title: "Synthèse médicale du patient",
        body: &[
            "Hypertension artérielle traitée par amlodipine 5 mg, équilibrée.",
            "Arthroscopie du genou droit il y a deux mois, récupération en cours.",
            "Allergie à la pénicilline. Vaccinations à jour.",
        ],
        pdf: true,
    },
];

fn name_of(p: &Patient) -> String {
    format!(
        "{} {}",
        p.given_names.join(" "),
        p.used_name.as_deref().unwrap_or(&p.birth_name)
    )
}

async fn nth_professional(
    opened: &Opened,
    profession: Profession,
    nth: usize,
) -> anyhow::Result<Option<Professional>> {
    let found = opened
        .directory
        .search_professionals(
            &ProfessionalQuery {
                profession: Some(profession),
                ..ProfessionalQuery::default()
            },
            None,
            u32::try_from(nth + 1).unwrap_or(u32::MAX),
        )
        .await?;
    Ok(found.items.into_iter().nth(nth))
}

/// Seeds the demo patient's record, once. `None`: it held documents already.
pub async fn seed(config: &Config) -> anyhow::Result<Option<Seeded>> {
    let opened = Opened::new(config).await?;
    let result = seed_with(config, &opened).await;
    opened.close().await;
    result
}

async fn seed_with(config: &Config, opened: &Opened) -> anyhow::Result<Option<Seeded>> {
    let dsp = crate::dsp_cmd::service(opened);
    let patient = opened
        .first_patient(PatientQuery {
            family: Some("schmit".into()),
            ..PatientQuery::default()
        })
        .await?
        .context("the demo directory has no patient")?;
    let Some(account) = opened
        .identity
        .account_of(Quality::Patient, &patient.id)
        .await?
    else {
        return Ok(None);
    };
    let holder_id = patient.id.clone();
    if dsp.count_items(&holder_id).await? > 0 {
        return Ok(None);
    }
    let holder = Caller {
        account: account.id,
        quality: Quality::Patient,
        assurance: LevelOfAssurance::Substantial,
        credential: CredentialKind::PasswordTotp,
        entry: holder_id.clone(),
        system: None,
        source: cli_source(),
    };
    dsp.create(&holder_id, &cli_source()).await?;
    dsp.activate(&holder, &holder_id).await?;

    let cast = cast(config, opened).await?;
    let today = opened.directory.today();
    let patient_name = name_of(&patient);
    // Each professional gets his access code in a consultation.
    for (caller, _) in &cast {
        let code = dsp.issue_access_code(&holder, &holder_id).await?;
        dsp.redeem_access_code(caller, &code.code).await?;
    }
    let mut filed = Vec::new();
    for filing in STORY {
        let (caller, professional) = &cast[filing.by];
        let day = today - Duration::days(filing.days_ago);
        let (mime_type, content) = if filing.pdf {
            (
                "application/pdf",
                pdf(professional, &patient_name, filing, day)?,
            )
        } else {
            ("text/plain", filing.body.join("\n").into_bytes())
        };
        let item = dsp
            .file(
                caller,
                &holder_id,
                NewItem {
                    type_system: filing.system.into(),
                    type_code: filing.code.into(),
                    title: filing.title.into(),
                    mime_type: mime_type.into(),
                    content,
                    service_date: Some(day),
                    confidentiality: Confidentiality::Internal,
                    replaces: None,
                    master_identifier: None,
                },
            )
            .await
            .with_context(|| format!("filing {:?}", filing.title))?;
        filed.push(item);
    }
    // The hospital physician reads the record before the operation.
    let (hospital, _) = &cast[1];
    let found = dsp
        .search(hospital, &holder_id, &ItemQuery::default(), 0, 50)
        .await?;
    if let Some(first) = found.items.first() {
        dsp.retrieve(hospital, &first.id).await?;
    }
    // The patient hides the prevention note from the pharmacist.
    let (_, pharmacist) = &cast[3];
    dsp.acknowledge_risks(&holder, &holder_id).await?;
    if let Some(prevention) = filed.iter().find(|i| i.type_code == "prevention") {
        dsp.restrict(&holder, &holder_id, &prevention.id, &pharmacist.id)
            .await?;
    }
    Ok(Some(Seeded {
        documents: filed.len(),
        professionals: cast.iter().map(|(_, p)| p.display_name()).collect(),
    }))
}

/// The cast's callers, each professional with an account activated by a development
/// card (the demo physician's is the one `demo_logins` made; the others' cards go to
/// `demo-cards/`, their passwords listed there, mode 0600).
async fn cast(config: &Config, opened: &Opened) -> anyhow::Result<Vec<(Caller, Professional)>> {
    let cards = config.path(Path::new("demo-cards"));
    std::fs::create_dir_all(&cards)
        .with_context(|| format!("cannot create {}", cards.display()))?;
    let mut list = String::new();
    let mut cast = Vec::new();
    for (profession, nth) in CAST {
        let professional = nth_professional(opened, profession, nth)
            .await?
            .with_context(|| format!("the demo directory has no {profession:?} #{nth}"))?;
        let account = match opened
            .identity
            .account_of(Quality::Professional, &professional.id)
            .await?
        {
            Some(account) => account,
            None => {
                let slug: String = professional
                    .display_name()
                    .to_lowercase()
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect();
                let p12 = cards.join(format!("{slug}.p12"));
                let password = crate::account_cmd::generated_password();
                let carded = activate_with_dev_card(
                    config,
                    &opened.identity,
                    &professional,
                    &p12,
                    &password,
                    &format!("{slug}@example.lu"),
                    &cli_source(),
                )
                .await?;
                list.push_str(&format!(
                    "{} ({profession:?}): card {}, password {password}, login {}\n",
                    carded.name,
                    p12.display(),
                    carded.login
                ));
                opened
                    .identity
                    .account_of(Quality::Professional, &professional.id)
                    .await?
                    .context("the account just activated")?
            }
        };
        cast.push((
            Caller {
                account: account.id,
                quality: Quality::Professional,
                assurance: LevelOfAssurance::High,
                credential: CredentialKind::ClientCertificate,
                entry: professional.id.clone(),
                system: None,
                source: cli_source(),
            },
            professional,
        ));
    }
    crate::account_cmd::write_private(&cards.join("cards.txt"), &list)?;
    Ok(cast)
}

/// A document as its author's software prints it: his name and practice, the
/// patient, the date, the title and the text.
fn pdf(
    author: &Professional,
    patient: &str,
    filing: &Filing,
    day: NaiveDate,
) -> anyhow::Result<Vec<u8>> {
    let mut sender = vec![author.display_name()];
    if let Some(place) = author.locations.first() {
        sender.push(place.name.clone());
        sender.extend(place.address.lines.iter().cloned());
        if let Some(town) = &place.address.town {
            sender.push(town.clone());
        }
    }
    let letter = Letter {
        sender,
        addressee: vec![patient.to_owned()],
        place_and_date: format!("Le {}", day.format("%d/%m/%Y")),
        title: filing.title.to_owned(),
        blocks: filing
            .body
            .iter()
            .map(|line| Block::Paragraph((*line).to_owned()))
            .collect(),
    };
    Ok(sante_letters::render(&letter)?)
}
