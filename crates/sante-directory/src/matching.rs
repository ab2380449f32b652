//! Probabilistic matching of patient identities (DIR-6), in the Fellegi–Sunter manner.
//!
//! Each pair of identities is compared field by field; each comparison outcome carries
//! a weight `log2(m/u)` (m: how often it happens between two records of the same
//! person, u: between two different people). The sum decides: at or above
//! [`Thresholds::link`] the records are the same person, below [`Thresholds::review`]
//! they are not, in between a person of the identity-vigilance team decides.
//!
//! Comparisons are robust to what registers really contain: diacritics and case
//! (normalised away), typos (Jaro–Winkler similarity), given names transposed or
//! swapped with the surname, day and month swapped in a birth date, and missing fields
//! (which weigh nothing either way). Candidate pairs come from several blocking keys so
//! that a typo in one field does not hide a pair, while no record is compared with
//! every other.

use std::collections::{HashMap, HashSet};

use chrono::{Datelike, NaiveDate};

/// The fields of an identity that matching looks at, as found in a register.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdentityFields {
    pub national_id: Option<String>,
    pub surname: Option<String>,
    /// Birth name when it differs from the used surname.
    pub birth_name: Option<String>,
    pub given_names: Option<String>,
    pub birth_date: Option<NaiveDate>,
    /// `M`, `F` or another register code.
    pub sex: Option<String>,
    pub street: Option<String>,
    pub postcode: Option<String>,
    pub town: Option<String>,
}

/// An identity prepared for comparison (normalised once, compared many times).
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    national_id: Option<String>,
    /// The national number passes its check digits: two such numbers that differ are
    /// two registrations, not one number mistyped (a typo breaks the check digits).
    national_id_checked: bool,
    surnames: Vec<String>,
    given: Vec<String>,
    birth_date: Option<NaiveDate>,
    sex: Option<String>,
    street: Option<String>,
    postcode: Option<String>,
    town: Option<String>,
}

/// Lower-case ASCII letters and digits, words separated by one space: `Müller-Lüdenscheidt`
/// and `MULLER LUDENSCHEIDT` compare equal.
pub fn normalise(text: &str) -> String {
    let ascii = deunicode::deunicode(text).to_ascii_lowercase();
    let mut out = String::with_capacity(ascii.len());
    let mut space = false;
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.push(c);
        } else {
            space = true;
        }
    }
    out
}

fn non_empty(value: &Option<String>) -> Option<String> {
    value.as_deref().map(normalise).filter(|s| !s.is_empty())
}

impl Prepared {
    pub fn new(fields: &IdentityFields) -> Prepared {
        let mut surnames: Vec<String> = [&fields.surname, &fields.birth_name]
            .into_iter()
            .filter_map(non_empty)
            .collect();
        surnames.dedup();
        let given = non_empty(&fields.given_names)
            .map(|g| g.split(' ').map(str::to_owned).collect())
            .unwrap_or_default();
        let national_id = fields
            .national_id
            .as_deref()
            .map(|s| s.chars().filter(char::is_ascii_digit).collect::<String>())
            .filter(|s| !s.is_empty());
        let national_id_checked = national_id
            .as_deref()
            .is_some_and(|n| crate::nin::NationalId::parse(n).is_ok());
        Prepared {
            national_id,
            national_id_checked,
            surnames,
            given,
            birth_date: fields.birth_date,
            sex: non_empty(&fields.sex),
            street: non_empty(&fields.street),
            postcode: non_empty(&fields.postcode),
            town: non_empty(&fields.town),
        }
    }

    /// The blocking keys of this identity: two identities are compared only if they
    /// share at least one.
    pub fn blocking_keys(&self) -> Vec<String> {
        let mut keys = Vec::with_capacity(6);
        if let Some(nin) = &self.national_id {
            keys.push(format!("n:{nin}"));
        }
        if let Some(d) = self.birth_date {
            keys.push(format!("d:{}", d.format("%Y%m%d")));
            // Day and month swapped land in the same block.
            let (a, b) = (d.day().min(d.month()), d.day().max(d.month()));
            keys.push(format!("y:{}:{a}:{b}", d.year()));
        }
        let surname = self.surnames.first().map(|s| phonetic(s));
        let given = self.given.first().map(|g| phonetic(g));
        if let (Some(s), Some(g)) = (&surname, &given) {
            // With the birth year, so that common name pairs do not make huge blocks in
            // a national register; a typo in the date is caught by the date keys.
            let year = self
                .birth_date
                .map(|d| d.year().to_string())
                .unwrap_or_default();
            keys.push(format!("sg:{s}:{g}:{year}"));
        }
        if let (Some(s), Some(p)) = (&surname, &self.postcode) {
            keys.push(format!("sp:{s}:{p}"));
        }
        if let (Some(g), Some(p), Some(d)) = (&given, &self.postcode, self.birth_date) {
            keys.push(format!("gpy:{g}:{p}:{}", d.year()));
        }
        keys
    }
}

/// A coarse phonetic code (first letter + consonant classes, Soundex-like, 4 chars), so
/// that blocking survives most typos.
fn phonetic(word: &str) -> String {
    let mut chars = word.chars().filter(char::is_ascii_alphabetic);
    let Some(first) = chars.next() else {
        return String::new();
    };
    let class = |c: char| match c {
        'b' | 'f' | 'p' | 'v' => '1',
        'c' | 'g' | 'j' | 'k' | 'q' | 's' | 'x' | 'z' => '2',
        'd' | 't' => '3',
        'l' => '4',
        'm' | 'n' => '5',
        'r' => '6',
        _ => '0',
    };
    let mut code = String::from(first);
    let mut last = class(first);
    for c in chars {
        let k = class(c);
        if k != '0' && k != last {
            code.push(k);
            if code.len() == 4 {
                break;
            }
        }
        if c != 'h' && c != 'w' {
            last = k;
        }
    }
    code
}

/// Weights of each comparison outcome, `log2(m/u)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Weights {
    pub nin_agree: f64,
    pub nin_near: f64,
    pub nin_disagree: f64,
    /// Both numbers pass their check digits and differ.
    pub nin_checked_disagree: f64,
    pub surname_agree: f64,
    pub surname_near: f64,
    pub surname_disagree: f64,
    pub given_agree: f64,
    pub given_near: f64,
    pub given_disagree: f64,
    pub birth_agree: f64,
    pub birth_near: f64,
    pub birth_disagree: f64,
    pub sex_agree: f64,
    pub sex_disagree: f64,
    pub street_agree: f64,
    pub street_disagree: f64,
    pub postcode_agree: f64,
    pub postcode_disagree: f64,
    pub town_agree: f64,
    pub town_disagree: f64,
}

impl Default for Weights {
    fn default() -> Self {
        // m and u read off registers of this kind: agreement on a national number by
        // chance is about one in a million, on a surname one in a hundred...
        let w = |m: f64, u: f64| (m / u).log2();
        Weights {
            nin_agree: w(0.95, 1e-6),
            nin_near: w(0.04, 1e-4),
            nin_disagree: w(0.01, 0.9999),
            // A person registered under someone else's valid number (a relative's number
            // copied by a clerk) is rare; any typo would have broken the check digits.
            nin_checked_disagree: w(1e-4, 0.9999),
            surname_agree: w(0.92, 0.01),
            surname_near: w(0.06, 0.02),
            surname_disagree: w(0.02, 0.97),
            given_agree: w(0.92, 0.01),
            given_near: w(0.06, 0.02),
            given_disagree: w(0.02, 0.97),
            birth_agree: w(0.93, 1.0 / 20_000.0),
            birth_near: w(0.06, 1.0 / 2_000.0),
            birth_disagree: w(0.01, 0.999),
            sex_agree: w(0.98, 0.5),
            sex_disagree: w(0.02, 0.5),
            // Members of one household share an address: its agreement says less
            // about identity than register-wide frequencies would suggest.
            street_agree: w(0.7, 0.01),
            street_disagree: w(0.3, 0.99),
            postcode_agree: w(0.8, 0.03),
            postcode_disagree: w(0.2, 0.97),
            town_agree: w(0.8, 0.05),
            town_disagree: w(0.2, 0.95),
        }
    }
}

/// Where decisions fall.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Thresholds {
    /// At or above: the same person, linked automatically.
    pub link: f64,
    /// At or above (and below `link`): sent to the identity-vigilance review queue.
    pub review: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            link: 14.0,
            review: 11.0,
        }
    }
}

/// The decision for one pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Link,
    Review,
    Distinct,
}

/// The matcher: weights and thresholds.
#[derive(Debug, Clone, Default)]
pub struct Matcher {
    pub weights: Weights,
    pub thresholds: Thresholds,
}

fn similarity(a: &str, b: &str) -> f64 {
    strsim::jaro_winkler(a, b)
}

/// Best similarity between any name of one side and any of the other.
fn best(a: &[String], b: &[String]) -> Option<f64> {
    if a.is_empty() || b.is_empty() {
        return None;
    }
    let mut top = 0.0f64;
    for x in a {
        for y in b {
            top = top.max(similarity(x, y));
        }
    }
    Some(top)
}

fn text_weight(sim: Option<f64>, agree: f64, near: f64, disagree: f64) -> f64 {
    match sim {
        None => 0.0,
        Some(s) if s >= 0.96 => agree,
        Some(s) if s >= 0.85 => near,
        Some(_) => disagree,
    }
}

fn digits_within_one(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).filter(|(x, y)| x != y).count() <= 1
        || strsim::damerau_levenshtein(a, b) <= 1
}

impl Matcher {
    /// The match weight of a pair: higher means more likely the same person.
    pub fn score(&self, a: &Prepared, b: &Prepared) -> f64 {
        let w = &self.weights;
        let mut total = 0.0;
        if let (Some(x), Some(y)) = (&a.national_id, &b.national_id) {
            total += if x == y {
                w.nin_agree
            } else if a.national_id_checked && b.national_id_checked {
                w.nin_checked_disagree
            } else if digits_within_one(x, y) {
                w.nin_near
            } else {
                w.nin_disagree
            };
        }
        // Names: compare surnames with surnames and given names with given names, and
        // also crosswise, so a given name recorded as surname (and the reverse) scores as
        // a near agreement rather than two disagreements.
        let straight_s = best(&a.surnames, &b.surnames);
        let straight_g = best(&a.given, &b.given);
        let cross_1 = best(&a.surnames, &b.given);
        let cross_2 = best(&a.given, &b.surnames);
        let straight = text_weight(
            straight_s,
            w.surname_agree,
            w.surname_near,
            w.surname_disagree,
        ) + text_weight(straight_g, w.given_agree, w.given_near, w.given_disagree);
        let crossed = match (cross_1, cross_2) {
            (Some(x), Some(y)) if x >= 0.96 && y >= 0.96 => w.surname_near + w.given_near,
            _ => f64::MIN,
        };
        total += straight.max(crossed);

        if let (Some(x), Some(y)) = (a.birth_date, b.birth_date) {
            total += if x == y {
                w.birth_agree
            } else if birth_near(x, y) {
                w.birth_near
            } else {
                w.birth_disagree
            };
        }
        if let (Some(x), Some(y)) = (&a.sex, &b.sex) {
            total += if x == y { w.sex_agree } else { w.sex_disagree };
        }
        if let (Some(x), Some(y)) = (&a.street, &b.street) {
            total += if same_street_address(x, y) {
                w.street_agree
            } else {
                w.street_disagree
            };
        }
        if let (Some(x), Some(y)) = (&a.postcode, &b.postcode) {
            total += if x == y {
                w.postcode_agree
            } else {
                w.postcode_disagree
            };
        }
        if let (Some(x), Some(y)) = (&a.town, &b.town) {
            total += if similarity(x, y) >= 0.92 {
                w.town_agree
            } else {
                w.town_disagree
            };
        }
        total
    }

    /// Scores a pair and decides. Two rules override the sum, and only ever towards
    /// a human decision: when the given names clearly differ and the national numbers do
    /// not (nearly) agree, the pair is never linked automatically, because twins and
    /// siblings share everything else; and two valid national numbers that differ are two
    /// registrations, which only the identity-vigilance team may merge.
    pub fn assess(&self, a: &Prepared, b: &Prepared) -> (f64, Decision) {
        let score = self.score(a, b);
        // A national number equal, or one typo away, outweighs a given-name conflict;
        // twins' numbers differ in their serial and in both check digits.
        let nin_agrees = matches!((&a.national_id, &b.national_id), (Some(x), Some(y))
            if x == y || (!(a.national_id_checked && b.national_id_checked) && digits_within_one(x, y)));
        let nin_conflict =
            a.national_id_checked && b.national_id_checked && a.national_id != b.national_id;
        let given_conflict = best(&a.given, &b.given).is_some_and(|s| s < 0.75)
            && !matches!((best(&a.surnames, &b.given), best(&a.given, &b.surnames)), (Some(x), Some(y)) if x >= 0.96 && y >= 0.96);
        let decision = match self.decide(score) {
            Decision::Link if nin_conflict || (given_conflict && !nin_agrees) => Decision::Review,
            d => d,
        };
        (score, decision)
    }

    pub fn decide(&self, score: f64) -> Decision {
        if score >= self.thresholds.link {
            Decision::Link
        } else if score >= self.thresholds.review {
            Decision::Review
        } else {
            Decision::Distinct
        }
    }
}

/// The same house in the same street: house numbers equal where both lines have one
/// (neighbours share a street name, not a door), street names alike.
fn same_street_address(x: &str, y: &str) -> bool {
    let numbers = |s: &str| -> String { s.chars().filter(char::is_ascii_digit).collect() };
    let (nx, ny) = (numbers(x), numbers(y));
    if !nx.is_empty() && !ny.is_empty() && nx != ny {
        return false;
    }
    similarity(x, y) >= 0.92
}

/// Day and month swapped, or one digit of the date mistyped.
fn birth_near(x: NaiveDate, y: NaiveDate) -> bool {
    if x.year() == y.year() && x.month() == y.day() && x.day() == y.month() {
        return true;
    }
    let (a, b) = (
        x.format("%Y%m%d").to_string(),
        y.format("%Y%m%d").to_string(),
    );
    a.bytes().zip(b.bytes()).filter(|(p, q)| p != q).count() == 1
}

/// Blocks larger than this are not expanded into pairs: a key shared by that many
/// records (a common birth date in a huge register) says little, and the other keys
/// still bring the true pairs together.
pub const MAX_BLOCK: usize = 2_000;

/// The candidate pairs `(i, j)`, `i < j`, of a set of identities.
pub fn candidate_pairs(records: &[Prepared]) -> Vec<(usize, usize)> {
    let mut blocks: HashMap<String, Vec<usize>> = HashMap::new();
    for (i, r) in records.iter().enumerate() {
        for key in r.blocking_keys() {
            blocks.entry(key).or_default().push(i);
        }
    }
    let mut pairs = HashSet::new();
    for members in blocks.values() {
        if members.len() < 2 || members.len() > MAX_BLOCK {
            continue;
        }
        for (n, &i) in members.iter().enumerate() {
            for &j in members.iter().skip(n + 1) {
                pairs.insert((i.min(j), i.max(j)));
            }
        }
    }
    let mut pairs: Vec<(usize, usize)> = pairs.into_iter().collect();
    pairs.sort_unstable();
    pairs
}

/// Precision, recall and F1 of the automatic links against labelled truth.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    pub true_positives: usize,
    pub false_positives: usize,
    pub false_negatives: usize,
    pub review: usize,
    pub candidate_pairs: usize,
}

impl Metrics {
    pub fn precision(&self) -> f64 {
        let d = self.true_positives + self.false_positives;
        if d == 0 {
            1.0
        } else {
            self.true_positives as f64 / d as f64
        }
    }
    pub fn recall(&self) -> f64 {
        let d = self.true_positives + self.false_negatives;
        if d == 0 {
            1.0
        } else {
            self.true_positives as f64 / d as f64
        }
    }
    pub fn f1(&self) -> f64 {
        let (p, r) = (self.precision(), self.recall());
        if p + r == 0.0 {
            0.0
        } else {
            2.0 * p * r / (p + r)
        }
    }
}

/// Links every candidate pair the matcher decides to link and scores the result
/// against `truth` (pairs of indexes into `records`).
pub fn evaluate(
    matcher: &Matcher,
    records: &[Prepared],
    truth: &HashSet<(usize, usize)>,
) -> Metrics {
    let pairs = candidate_pairs(records);
    let mut tp = 0;
    let mut fp = 0;
    let mut review = 0;
    for &(i, j) in &pairs {
        let (Some(a), Some(b)) = (records.get(i), records.get(j)) else {
            continue;
        };
        match matcher.assess(a, b).1 {
            Decision::Link => {
                if truth.contains(&(i, j)) {
                    tp += 1;
                } else {
                    fp += 1;
                }
            }
            Decision::Review => review += 1,
            Decision::Distinct => {}
        }
    }
    Metrics {
        true_positives: tp,
        false_positives: fp,
        false_negatives: truth.len().saturating_sub(tp),
        review,
        candidate_pairs: pairs.len(),
    }
}

#[cfg(test)]
mod tests;
