//! Synthetic registers: realistic people of the country, with realistic register errors.
//!
//! Names and addresses mix the communities of the country (Luxembourgish, French,
//! Portuguese, German, Italian), in proportions close to the resident population.
//! A share of records are duplicated with the errors registers really contain: typos,
//! given names swapped, day and month swapped, missing fields, a used name replacing the
//! birth name. The generator is seeded, so a register is reproducible, and it produces
//! the truth (which records are the same person) for scoring the matcher.

use std::collections::HashSet;

use chrono::{Datelike, NaiveDate};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::matching::IdentityFields;
use crate::model::*;
use crate::nin::NationalId;

struct Community {
    share: u32,
    surnames: &'static [&'static str],
    female: &'static [&'static str],
    male: &'static [&'static str],
}

const COMMUNITIES: &[Community] = &[
    Community {
        share: 47,
        surnames: &[
            "Schmit",
            "Muller",
            "Weber",
            "Hoffmann",
            "Wagner",
            "Thill",
            "Schmitz",
            "Schroeder",
            "Reuter",
            "Klein",
            "Kieffer",
            "Majerus",
            "Welter",
            "Faber",
            "Hansen",
            "Becker",
            "Kremer",
            "Meyer",
            "Weis",
            "Goergen",
            "Wirtz",
            "Ries",
            "Ney",
            "Kayser",
            "Scholtes",
            "Steffen",
            "Braun",
            "Kirsch",
            "Lentz",
            "Gengler",
            "Feller",
            "Berchem",
            "Hilbert",
        ],
        female: &[
            "Marie", "Anne", "Claudine", "Josée", "Nathalie", "Carole", "Sandy", "Lynn", "Mia",
            "Léa", "Emma", "Sophie", "Tessy", "Nadine",
        ],
        male: &[
            "Jean", "Jos", "Marc", "Paul", "Guy", "Luc", "Tom", "Ben", "Gilles", "Pit", "Yves",
            "Claude", "Romain", "Max",
        ],
    },
    Community {
        share: 15,
        surnames: &[
            "da Silva",
            "Ferreira",
            "dos Santos",
            "Pereira",
            "Gonçalves",
            "Rodrigues",
            "Alves",
            "Lopes",
            "Martins",
            "Fernandes",
            "Teixeira",
            "Costa",
            "Carvalho",
            "Sousa",
            "Pinto",
            "Mendes",
            "Ribeiro",
            "Correia",
            "Monteiro",
            "Cardoso",
        ],
        female: &[
            "Maria", "Ana", "Joana", "Sofia", "Inês", "Beatriz", "Catarina", "Mariana", "Rita",
            "Filipa",
        ],
        male: &[
            "João", "José", "António", "Manuel", "Pedro", "Rui", "Tiago", "Diogo", "Nuno", "Miguel",
        ],
    },
    Community {
        share: 16,
        surnames: &[
            "Martin",
            "Bernard",
            "Dubois",
            "Thomas",
            "Robert",
            "Richard",
            "Petit",
            "Durand",
            "Leroy",
            "Moreau",
            "Simon",
            "Laurent",
            "Lefèvre",
            "Michel",
            "Garcia",
            "François",
            "Muller",
            "Girard",
            "Bonnet",
            "Lambert",
        ],
        female: &[
            "Camille", "Chloé", "Manon", "Julie", "Céline", "Aurélie", "Élodie", "Louise", "Inès",
            "Jeanne",
        ],
        male: &[
            "Nicolas",
            "Julien",
            "Thomas",
            "Mathieu",
            "Pierre",
            "Antoine",
            "Hugo",
            "Louis",
            "Sébastien",
            "Olivier",
        ],
    },
    Community {
        share: 12,
        surnames: &[
            "Schneider",
            "Fischer",
            "Meyer",
            "Schulz",
            "Becker",
            "Koch",
            "Richter",
            "Wolf",
            "Schäfer",
            "Bauer",
            "Zimmermann",
            "Krüger",
            "Hartmann",
            "Lange",
            "Schmitt",
            "Werner",
        ],
        female: &[
            "Anna",
            "Lena",
            "Katharina",
            "Julia",
            "Laura",
            "Sabine",
            "Petra",
            "Ursula",
            "Hannah",
            "Lea",
        ],
        male: &[
            "Lukas", "Jonas", "Felix", "Stefan", "Andreas", "Michael", "Jürgen", "Klaus", "Tobias",
            "Florian",
        ],
    },
    Community {
        share: 10,
        surnames: &[
            "Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci",
            "Marino", "Greco", "Bruno", "Gallo", "Conti", "De Luca", "Mancini", "Costa",
        ],
        female: &[
            "Giulia",
            "Francesca",
            "Chiara",
            "Sara",
            "Alessia",
            "Martina",
            "Elena",
            "Paola",
            "Valentina",
            "Giorgia",
        ],
        male: &[
            "Marco",
            "Luca",
            "Giuseppe",
            "Francesco",
            "Alessandro",
            "Matteo",
            "Andrea",
            "Lorenzo",
            "Davide",
            "Paolo",
        ],
    },
];

/// Towns with their postcode prefix and a few streets.
const TOWNS: &[(&str, &str, &[&str])] = &[
    (
        "Luxembourg",
        "L-1",
        &[
            "rue de la Gare",
            "boulevard Royal",
            "avenue de la Liberté",
            "rue de Hollerich",
            "route d'Arlon",
            "rue du Fort Neipperg",
        ],
    ),
    (
        "Esch-sur-Alzette",
        "L-4",
        &[
            "rue de l'Alzette",
            "boulevard Kennedy",
            "rue du Canal",
            "rue de Luxembourg",
        ],
    ),
    (
        "Differdange",
        "L-45",
        &["avenue de la Liberté", "rue Émile Mark", "rue de Soleuvre"],
    ),
    (
        "Dudelange",
        "L-34",
        &[
            "rue du Parc",
            "route de Kayl",
            "avenue Grande-Duchesse Charlotte",
        ],
    ),
    (
        "Ettelbruck",
        "L-90",
        &["Grand-Rue", "avenue J.F. Kennedy", "rue de Warken"],
    ),
    (
        "Diekirch",
        "L-92",
        &["rue du Marché", "avenue de la Gare", "rue de Stavelot"],
    ),
    (
        "Wiltz",
        "L-95",
        &["Grand-Rue", "rue des Tondeurs", "route d'Ettelbruck"],
    ),
    (
        "Strassen",
        "L-80",
        &["route d'Arlon", "rue des Romains", "rue du Kiem"],
    ),
    (
        "Bertrange",
        "L-80",
        &[
            "rue de Luxembourg",
            "rue de Strassen",
            "rue du Chemin de Fer",
        ],
    ),
    (
        "Mersch",
        "L-75",
        &["rue de la Gare", "route de Luxembourg", "rue Lohr"],
    ),
    (
        "Remich",
        "L-55",
        &["route du Vin", "rue de la Gare", "Esplanade"],
    ),
    (
        "Grevenmacher",
        "L-67",
        &["route de Trèves", "rue de Luxembourg", "Grand-Rue"],
    ),
    (
        "Echternach",
        "L-64",
        &[
            "rue de la Gare",
            "route de Luxembourg",
            "rue de la Montagne",
        ],
    ),
    (
        "Clervaux",
        "L-97",
        &["Grand-Rue", "rue du Village", "Montée du Château"],
    ),
];

/// One generated record and the person it belongs to.
#[derive(Debug, Clone)]
pub struct SyntheticRecord {
    /// Stable id of the record in the register (`rec-N-org`, `rec-N-dup-K`).
    pub record_id: String,
    /// The person behind it: equal for a record and its duplicates.
    pub person: u64,
    pub fields: IdentityFields,
}

/// Error rates of duplicates, per field.
#[derive(Debug, Clone, Copy)]
pub struct ErrorRates {
    /// Share of people with at least one duplicate record.
    pub duplicate_share: f64,
    pub typo: f64,
    pub swap_given: f64,
    pub swap_day_month: f64,
    pub missing: f64,
    pub used_name: f64,
}

impl Default for ErrorRates {
    fn default() -> Self {
        ErrorRates {
            duplicate_share: 0.1,
            typo: 0.2,
            swap_given: 0.05,
            swap_day_month: 0.03,
            missing: 0.08,
            used_name: 0.05,
        }
    }
}

/// A seeded generator of people and registers.
pub struct Generator {
    rng: StdRng,
    rates: ErrorRates,
    next_person: u64,
    /// National numbers already given out: a number identifies one person only.
    issued: HashSet<(NaiveDate, u16)>,
}

impl Generator {
    pub fn new(seed: u64, rates: ErrorRates) -> Generator {
        Generator {
            rng: StdRng::seed_from_u64(seed),
            rates,
            next_person: 0,
            issued: HashSet::new(),
        }
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        // Lists are non-empty constants; index 0 is never out of range.
        items
            .choose(&mut self.rng)
            .copied()
            .unwrap_or_else(|| items[0])
    }

    /// A new person, with a valid national identification number.
    pub fn person(&mut self) -> (u64, IdentityFields) {
        let total: u32 = COMMUNITIES.iter().map(|c| c.share).sum();
        let mut roll = self.rng.gen_range(0..total);
        let mut community = &COMMUNITIES[0];
        for c in COMMUNITIES {
            if roll < c.share {
                community = c;
                break;
            }
            roll -= c.share;
        }
        let female = self.rng.gen_bool(0.51);
        let names = if female {
            community.female
        } else {
            community.male
        };
        let mut given = self.pick(names).to_owned();
        if self.rng.gen_bool(0.35) {
            let second = self.pick(names);
            if second != given {
                given = format!("{given} {second}");
            }
        }
        let surname = self.pick(community.surnames).to_owned();
        let birth = NaiveDate::from_ymd_opt(1925, 1, 1)
            .and_then(|d| d.checked_add_days(chrono::Days::new(self.rng.gen_range(0..36_500))))
            .unwrap_or_default();
        let serial = self.unused_serial(birth);
        let (town, postcode_prefix, streets) = self.pick(TOWNS);
        let street = format!("{} {}", self.rng.gen_range(1..180), self.pick(streets));
        let postcode = format!(
            "{postcode_prefix}{:0width$}",
            self.rng
                .gen_range(0..10u32.pow(4 - (postcode_prefix.len() as u32 - 2))),
            width = 4 - (postcode_prefix.len() - 2)
        );
        let id = self.next_person;
        self.next_person += 1;
        (
            id,
            IdentityFields {
                national_id: serial
                    .and_then(|serial| NationalId::from_parts(birth, serial))
                    .map(String::from),
                surname: Some(surname),
                birth_name: None,
                given_names: Some(given),
                birth_date: Some(birth),
                sex: Some(if female { "F" } else { "M" }.into()),
                street: Some(street),
                postcode: Some(postcode),
                town: Some(town.to_owned()),
            },
        )
    }

    /// A serial number not yet given to anyone born on `birth`, or none when all 1 000
    /// are taken (which a register of a few million people never reaches).
    fn unused_serial(&mut self, birth: NaiveDate) -> Option<u16> {
        for _ in 0..32 {
            let serial = self.rng.gen_range(0..1000u16);
            if self.issued.insert((birth, serial)) {
                return Some(serial);
            }
        }
        (0..1000u16).find(|&serial| self.issued.insert((birth, serial)))
    }

    /// A register of `people` persons plus their duplicates, shuffled.
    pub fn register(&mut self, people: usize) -> Vec<SyntheticRecord> {
        let mut out = Vec::with_capacity(people + people / 8);
        for n in 0..people {
            let (person, fields) = self.person();
            if self.rng.gen_bool(self.rates.duplicate_share) {
                let copies = self.rng.gen_range(1..=3);
                for k in 0..copies {
                    let dup = self.corrupt(&fields);
                    out.push(SyntheticRecord {
                        record_id: format!("rec-{n}-dup-{k}"),
                        person,
                        fields: dup,
                    });
                }
            }
            out.push(SyntheticRecord {
                record_id: format!("rec-{n}-org"),
                person,
                fields,
            });
        }
        out.shuffle(&mut self.rng);
        out
    }

    /// A copy of `fields` with register errors.
    pub fn corrupt(&mut self, fields: &IdentityFields) -> IdentityFields {
        let r = self.rates;
        let mut f = fields.clone();
        if self.rng.gen_bool(r.typo) {
            f.surname = f.surname.map(|s| self.typo(&s));
        }
        if self.rng.gen_bool(r.typo) {
            f.given_names = f.given_names.map(|s| self.typo(&s));
        }
        if self.rng.gen_bool(r.typo / 2.0) {
            f.street = f.street.map(|s| self.typo(&s));
        }
        if self.rng.gen_bool(r.swap_given)
            && let Some(g) = &f.given_names
        {
            let mut parts: Vec<&str> = g.split(' ').collect();
            parts.reverse();
            f.given_names = Some(parts.join(" "));
        }
        if self.rng.gen_bool(r.swap_day_month) {
            f.birth_date = f
                .birth_date
                .and_then(|d| NaiveDate::from_ymd_opt(d.year(), d.day(), d.month()).or(Some(d)));
        }
        if self.rng.gen_bool(r.used_name) {
            // Married name recorded as surname, birth name kept aside.
            f.birth_name = f.surname.clone();
            f.surname = Some(self.pick(COMMUNITIES[0].surnames).to_owned());
        }
        for field in 0..5 {
            if self.rng.gen_bool(r.missing) {
                match field {
                    0 => f.street = None,
                    1 => f.postcode = None,
                    2 => f.town = None,
                    3 => f.national_id = None,
                    _ => f.sex = None,
                }
            }
        }
        f
    }

    /// A patient entry of the social-security register for a new person.
    pub fn patient_entry(&mut self) -> Patient {
        let (_, fields) = self.person();
        self.patient_from(&fields)
    }

    fn patient_from(&mut self, f: &IdentityFields) -> Patient {
        let birth = f.birth_date;
        let start = birth
            .map(|b| b.max(NaiveDate::from_ymd_opt(1990, 1, 1).unwrap_or(b)))
            .unwrap_or_default();
        let died = self.rng.gen_bool(0.01);
        Patient {
            id: String::new(),
            national_id: f
                .national_id
                .as_deref()
                .and_then(|n| NationalId::parse(n).ok()),
            birth_name: f
                .birth_name
                .clone()
                .or(f.surname.clone())
                .unwrap_or_default(),
            used_name: f.birth_name.as_ref().and(f.surname.clone()),
            given_names: f
                .given_names
                .as_deref()
                .unwrap_or_default()
                .split(' ')
                .filter(|g| !g.is_empty())
                .map(str::to_owned)
                .collect(),
            sex: match f.sex.as_deref() {
                Some("F") => Sex::Female,
                Some("M") => Sex::Male,
                _ => Sex::Unknown,
            },
            birth_date: birth,
            birth_place: Some(
                self.pick(&[
                    "Luxembourg",
                    "Esch-sur-Alzette",
                    "Metz",
                    "Porto",
                    "Trier",
                    "Arlon",
                ])
                .to_owned(),
            ),
            address: Some(Address {
                lines: f.street.clone().into_iter().collect(),
                postcode: f.postcode.clone(),
                town: f.town.clone(),
                country: Some("LU".into()),
            }),
            insurance: Some(InsuranceAffiliation {
                insurer: "CNS".into(),
                start,
                end: None,
            }),
            death_date: if died {
                birth
                    .and_then(|b| b.checked_add_days(chrono::Days::new(30_000)))
                    .filter(|d| d.year() < 2026)
            } else {
                None
            },
            legal_representative: None,
            status: IdentityStatus::Qualified,
            doubtful: false,
            homonym: false,
            merged_into: None,
        }
    }

    /// The lines of a social-security register file for `people` persons, with the
    /// errors such files contain: a share of persons appear again on a later line,
    /// copied with typos or missing fields (so an import reports them).
    pub fn patient_register(&mut self, people: usize) -> Vec<Patient> {
        let mut out = Vec::with_capacity(people + people / 20);
        for _ in 0..people {
            let (_, fields) = self.person();
            out.push(self.patient_from(&fields));
            if self.rng.gen_bool(self.rates.duplicate_share / 4.0) {
                let copy = self.corrupt(&fields);
                out.push(self.patient_from(&copy));
            }
        }
        out
    }

    /// `n` establishments of every kind.
    pub fn establishments(&mut self, n: usize) -> Vec<Establishment> {
        const KINDS: &[(EstablishmentKind, &str)] = &[
            (EstablishmentKind::Hospital, "Centre hospitalier"),
            (EstablishmentKind::MedicalLaboratory, "Laboratoire"),
            (EstablishmentKind::CareFacility, "Maison de soins"),
            (EstablishmentKind::Pharmacy, "Pharmacie"),
            (EstablishmentKind::Practice, "Cabinet médical"),
        ];
        (0..n)
            .map(|i| {
                let (kind, label) = KINDS[i % KINDS.len()];
                let (town, prefix, streets) = self.pick(TOWNS);
                let street = format!("{} {}", self.rng.gen_range(1..120), self.pick(streets));
                Establishment {
                    id: format!("est-{i:05}"),
                    name: format!("{label} de {town}"),
                    kind,
                    identifiers: vec![Identifier {
                        system: "https://fhir.sante.lu/NamingSystem/establishment-code".into(),
                        value: format!("{:08}", 10_000_000 + i),
                    }],
                    sites: vec![Site {
                        id: "main".into(),
                        name: format!("{label} de {town}"),
                        address: Address {
                            lines: vec![street],
                            postcode: Some(format!("{prefix}{:02}", self.rng.gen_range(0..100))),
                            town: Some(town.to_owned()),
                            country: Some("LU".into()),
                        },
                    }],
                    contact: Contact {
                        phone: Some(format!("+352 {:06}", self.rng.gen_range(200_000..999_999))),
                        email: None,
                    },
                    active: true,
                }
            })
            .collect()
    }

    /// A professional of the register, number `n`, affiliated with one of
    /// `establishments` in a share of cases.
    pub fn professional_entry(
        &mut self,
        n: usize,
        establishments: &[Establishment],
    ) -> Professional {
        // Roughly the make-up of a national register: many nurses and physicians.
        const PROFESSIONS: &[(Profession, u32)] = &[
            (Profession::Physician, 25),
            (Profession::Dentist, 5),
            (Profession::Pharmacist, 6),
            (Profession::Nurse, 35),
            (Profession::Physiotherapist, 8),
            (Profession::Midwife, 2),
            (Profession::LaboratoryTechnician, 4),
            (Profession::RadiologyTechnicalAssistant, 3),
            (Profession::CareAssistant, 6),
            (Profession::SocialWorker, 3),
            (Profession::MedicalBiologist, 1),
            (Profession::Dietitian, 1),
            (Profession::SpeechTherapist, 1),
        ];
        let total: u32 = PROFESSIONS.iter().map(|p| p.1).sum();
        let mut roll = self.rng.gen_range(0..total);
        let mut profession = Profession::Physician;
        for (p, share) in PROFESSIONS {
            if roll < *share {
                profession = *p;
                break;
            }
            roll -= share;
        }
        let specialities = match profession {
            Profession::Physician => vec![
                self.pick(&[
                    "general_practice",
                    "general_practice",
                    "paediatrics",
                    "cardiology",
                    "internal_medicine",
                    "psychiatry",
                    "gynaecology_obstetrics",
                ])
                .to_owned(),
            ],
            Profession::Dentist if self.rng.gen_bool(0.2) => vec!["orthodontics".to_owned()],
            _ => Vec::new(),
        };
        // Practising age: born 1945-2000.
        let person = loop {
            let (_, person) = self.person();
            if person
                .birth_date
                .is_some_and(|b| (1945..=2000).contains(&b.year()))
            {
                break person;
            }
        };
        let earliest = person.birth_date.map_or(1985, |b| b.year() + 24);
        let granted = NaiveDate::from_ymd_opt(
            self.rng.gen_range(earliest.min(2024)..2025),
            self.rng.gen_range(1..=12),
            1,
        )
        .unwrap_or_default();
        let status = match self.rng.gen_range(0..100) {
            0 => AuthorisationStatus::Withdrawn,
            1 => AuthorisationStatus::Suspended,
            _ => AuthorisationStatus::Active,
        };
        let id = format!("pro-{n:06}");
        let town = person.town.clone();
        let affiliations = if !establishments.is_empty() && self.rng.gen_bool(0.4) {
            let e = &establishments[self.rng.gen_range(0..establishments.len())];
            vec![Affiliation {
                establishment: e.id.clone(),
                site: None,
                start: granted,
                end: None,
            }]
        } else {
            Vec::new()
        };
        Professional {
            national_id: person
                .national_id
                .as_deref()
                .and_then(|n| NationalId::parse(n).ok()),
            family_name: person.surname.clone().unwrap_or_default(),
            given_names: person
                .given_names
                .as_deref()
                .unwrap_or_default()
                .split(' ')
                .filter(|g| !g.is_empty())
                .map(str::to_owned)
                .collect(),
            sex: if person.sex.as_deref() == Some("F") {
                Sex::Female
            } else {
                Sex::Male
            },
            profession,
            specialities,
            authorisation: Authorisation {
                status,
                granted_on: granted,
                status_since: granted,
                suspended_until: None,
            },
            locations: vec![PracticeLocation {
                id: format!("{id}-1"),
                name: format!("Cabinet {}", person.surname.as_deref().unwrap_or_default()),
                address: Address {
                    lines: person.street.clone().into_iter().collect(),
                    postcode: person.postcode.clone(),
                    town,
                    country: Some("LU".into()),
                },
                contact: Contact::default(),
            }],
            affiliations,
            contact: Contact {
                phone: Some(format!("+352 {:06}", self.rng.gen_range(200_000..999_999))),
                email: None,
            },
            id,
        }
    }

    fn typo(&mut self, text: &str) -> String {
        let mut chars: Vec<char> = text.chars().collect();
        if chars.len() < 3 {
            return text.to_owned();
        }
        let i = self.rng.gen_range(1..chars.len() - 1);
        match self.rng.gen_range(0..4) {
            0 => {
                chars.remove(i);
            }
            1 => chars.swap(i, i + 1),
            2 => chars.insert(i, chars[i]),
            _ => chars[i] = self.pick(&['a', 'e', 'i', 'n', 'r', 's', 't']),
        }
        chars.into_iter().collect()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;
    use crate::matching::{Matcher, Prepared, evaluate};

    #[test]
    fn registers_are_reproducible_and_numbers_valid() {
        let a = Generator::new(7, ErrorRates::default()).register(200);
        let b = Generator::new(7, ErrorRates::default()).register(200);
        assert_eq!(a.len(), b.len());
        assert!(a.iter().zip(&b).all(|(x, y)| x.fields == y.fields));
        for r in a.iter().filter(|r| r.record_id.ends_with("-org")) {
            let nin = r.fields.national_id.as_deref().unwrap();
            assert!(NationalId::parse(nin).is_ok(), "{nin}");
        }
        let communities: HashSet<&str> =
            a.iter().filter_map(|r| r.fields.town.as_deref()).collect();
        assert!(communities.len() > 5);
    }

    #[test]
    fn matcher_finds_generated_duplicates() {
        let register = Generator::new(42, ErrorRates::default()).register(3_000);
        let records: Vec<Prepared> = register.iter().map(|r| Prepared::new(&r.fields)).collect();
        let mut by_person: HashMap<u64, Vec<usize>> = HashMap::new();
        for (i, r) in register.iter().enumerate() {
            by_person.entry(r.person).or_default().push(i);
        }
        let mut truth = HashSet::new();
        for members in by_person.values() {
            for (n, &i) in members.iter().enumerate() {
                for &j in &members[n + 1..] {
                    truth.insert((i.min(j), i.max(j)));
                }
            }
        }
        let m = evaluate(&Matcher::default(), &records, &truth);
        eprintln!(
            "synthetic: P {:.4} R {:.4} F1 {:.4} {m:?}",
            m.precision(),
            m.recall(),
            m.f1()
        );
        assert!(m.precision() >= 0.99, "{m:?}");
        assert!(m.f1() >= 0.95, "{m:?}");
    }
}
