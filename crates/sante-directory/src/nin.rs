//! The 13-digit national identification number: `YYYYMMDD` + 3-digit serial + 2 check
//! digits. The first check digit is a Luhn digit over the first 11 digits, the second a
//! Verhoeff digit over the same 11 digits. A birth date unknown in part is written
//! with `00` for the day or the month, as registers do for people born abroad.

use chrono::NaiveDate;
use sante_types::{Coded, ErrorKind};

/// A validated national identification number.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize,
)]
#[serde(try_from = "String", into = "String")]
pub struct NationalId(String);

/// Why a national identification number was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NinError {
    #[error("must be exactly 13 digits")]
    Format,
    #[error("digits 1-8 are not a valid birth date")]
    BirthDate,
    #[error("check digit 12 (Luhn) does not match")]
    Luhn,
    #[error("check digit 13 (Verhoeff) does not match")]
    Verhoeff,
}

impl Coded for NinError {
    fn code(&self) -> &'static str {
        match self {
            NinError::Format => "DIR010",
            NinError::BirthDate => "DIR011",
            NinError::Luhn => "DIR012",
            NinError::Verhoeff => "DIR013",
        }
    }

    fn kind(&self) -> ErrorKind {
        ErrorKind::Invalid
    }
}

impl NationalId {
    /// Parses and validates, ignoring spaces (numbers are often written `1985 0312 123 45`).
    pub fn parse(input: &str) -> Result<NationalId, NinError> {
        let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() != 13 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(NinError::Format);
        }
        let d: Vec<u8> = digits.bytes().map(|b| b - b'0').collect();
        let year =
            i32::from(d[0]) * 1000 + i32::from(d[1]) * 100 + i32::from(d[2]) * 10 + i32::from(d[3]);
        let month = u32::from(d[4] * 10 + d[5]);
        let day = u32::from(d[6] * 10 + d[7]);
        let date_ok = match (month, day) {
            (0, 0) => true,
            (1..=12, 0) => true,
            (0, _) => false,
            _ => NaiveDate::from_ymd_opt(year, month, day).is_some(),
        };
        if !date_ok || !(1850..=2200).contains(&year) {
            return Err(NinError::BirthDate);
        }
        let body = &d[..11];
        if luhn_digit(body) != d[11] {
            return Err(NinError::Luhn);
        }
        if verhoeff_digit(body) != d[12] {
            return Err(NinError::Verhoeff);
        }
        Ok(NationalId(digits))
    }

    /// Builds a valid number from a birth date and a serial (synthetic data, tests).
    pub fn from_parts(birth: NaiveDate, serial: u16) -> Option<NationalId> {
        use chrono::Datelike;
        if serial > 999 {
            return None;
        }
        let body = format!(
            "{:04}{:02}{:02}{serial:03}",
            birth.year(),
            birth.month(),
            birth.day()
        );
        let digits: Vec<u8> = body.bytes().map(|b| b - b'0').collect();
        let full = format!("{body}{}{}", luhn_digit(&digits), verhoeff_digit(&digits));
        NationalId::parse(&full).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The birth date the number encodes, when complete.
    pub fn birth_date(&self) -> Option<NaiveDate> {
        let y = self.0.get(0..4)?.parse().ok()?;
        let m = self.0.get(4..6)?.parse().ok()?;
        let d = self.0.get(6..8)?.parse().ok()?;
        NaiveDate::from_ymd_opt(y, m, d)
    }
}

impl TryFrom<String> for NationalId {
    type Error = NinError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        NationalId::parse(&value)
    }
}

impl From<NationalId> for String {
    fn from(id: NationalId) -> String {
        id.0
    }
}

impl std::fmt::Display for NationalId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn luhn_digit(digits: &[u8]) -> u8 {
    // Double every second digit starting from the rightmost of the body.
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 0 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

const VERHOEFF_D: [[u8; 10]; 10] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
const VERHOEFF_P: [[u8; 10]; 8] = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
];
const VERHOEFF_INV: [u8; 10] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];

fn verhoeff_digit(digits: &[u8]) -> u8 {
    let mut c = 0usize;
    for (i, &d) in digits.iter().rev().enumerate() {
        c = usize::from(VERHOEFF_D[c][usize::from(VERHOEFF_P[(i + 1) % 8][usize::from(d)])]);
    }
    VERHOEFF_INV[c]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_numbers_round_trip() {
        let birth = NaiveDate::from_ymd_opt(1985, 3, 12).unwrap();
        let id = NationalId::from_parts(birth, 123).unwrap();
        assert_eq!(id.as_str().len(), 13);
        assert!(id.as_str().starts_with("19850312123"));
        assert_eq!(id.birth_date(), Some(birth));
        let spaced = format!(
            "{} {} {}",
            &id.as_str()[..4],
            &id.as_str()[4..8],
            &id.as_str()[8..]
        );
        assert_eq!(NationalId::parse(&spaced).unwrap(), id);
    }

    #[test]
    fn known_verhoeff_vector() {
        // The classic example: 236 has Verhoeff check digit 3.
        assert_eq!(verhoeff_digit(&[2, 3, 6]), 3);
        // Luhn of 7992739871 is 3.
        assert_eq!(luhn_digit(&[7, 9, 9, 2, 7, 3, 9, 8, 7, 1]), 3);
    }

    #[test]
    fn every_single_digit_error_is_caught() {
        let id =
            NationalId::from_parts(NaiveDate::from_ymd_opt(1962, 11, 30).unwrap(), 47).unwrap();
        let digits: Vec<u8> = id.as_str().bytes().collect();
        for pos in 0..13 {
            for d in b'0'..=b'9' {
                if d == digits[pos] {
                    continue;
                }
                let mut typo = digits.clone();
                typo[pos] = d;
                let typo = String::from_utf8(typo).unwrap();
                assert!(NationalId::parse(&typo).is_err(), "{typo} accepted");
            }
        }
    }

    #[test]
    fn refusals_say_why() {
        assert_eq!(NationalId::parse("12345"), Err(NinError::Format));
        assert_eq!(NationalId::parse("19851312123ab"), Err(NinError::Format));
        assert_eq!(NationalId::parse("1985131212300"), Err(NinError::BirthDate));
        assert_eq!(NationalId::parse("1985023012300"), Err(NinError::BirthDate));
        let good = NationalId::from_parts(NaiveDate::from_ymd_opt(2001, 2, 3).unwrap(), 5).unwrap();
        let mut s = good.as_str().to_owned();
        let last = s.pop().unwrap();
        s.push(if last == '0' { '1' } else { '0' });
        assert_eq!(NationalId::parse(&s), Err(NinError::Verhoeff));
    }
}
