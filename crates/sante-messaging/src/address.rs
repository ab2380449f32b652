//! Mail addresses: reading the ones that arrive in envelopes, and making a
//! professional's own from his name (MSG-2).

use std::fmt;

/// Longest address accepted (RFC 5321 §4.5.3.1.3: a path is at most 256 octets, so an
/// address at most 254).
pub const MAX_ADDRESS_LEN: usize = 254;
const MAX_LOCAL_LEN: usize = 64;

/// An envelope address, `local@domain`, with the domain in lower case. The local part
/// keeps its case as sent; the platform's own local parts are all lower case and
/// compared case-insensitively (see [`Address::local_key`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Address {
    local: String,
    domain: String,
}

/// Why a string is not an address we accept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid address: {0}")]
pub struct AddressError(pub &'static str);

impl sante_types::Coded for AddressError {
    fn code(&self) -> &'static str {
        "MSG030"
    }

    fn kind(&self) -> sante_types::ErrorKind {
        sante_types::ErrorKind::Invalid
    }
}

impl Address {
    /// Reads an envelope address. Quoted local parts and address literals are refused:
    /// no professional's mailbox has one, and they are a classic of relay abuse.
    pub fn parse(text: &str) -> Result<Address, AddressError> {
        let text = text.trim();
        if text.len() > MAX_ADDRESS_LEN {
            return Err(AddressError("longer than 254 octets"));
        }
        let (local, domain) = text
            .rsplit_once('@')
            .ok_or(AddressError("no @ in the address"))?;
        if local.is_empty() || local.len() > MAX_LOCAL_LEN {
            return Err(AddressError("the local part must have 1 to 64 octets"));
        }
        if local.starts_with('"') || local.contains('@') {
            return Err(AddressError("quoted local parts are not accepted"));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(AddressError("misplaced dot in the local part"));
        }
        // RFC 5322 atext, plus UTF-8 (RFC 6531, SMTPUTF8).
        if !local
            .chars()
            .all(|c| c.is_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c) || !c.is_ascii())
        {
            return Err(AddressError("unexpected character in the local part"));
        }
        let domain = normalise_domain(domain)?;
        Ok(Address {
            local: local.to_owned(),
            domain,
        })
    }

    pub fn local(&self) -> &str {
        &self.local
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The local part as the platform keys its mailboxes: lower case.
    pub fn local_key(&self) -> String {
        self.local.to_lowercase()
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

/// A domain in lower case, refused when it is not a plausible host name.
pub fn normalise_domain(domain: &str) -> Result<String, AddressError> {
    let domain = domain.trim().trim_end_matches('.').to_lowercase();
    if domain.is_empty() || domain.len() > 253 {
        return Err(AddressError("the domain must have 1 to 253 octets"));
    }
    if domain.starts_with('[') {
        return Err(AddressError("address literals are not accepted"));
    }
    for label in domain.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(AddressError("empty or overlong domain label"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(AddressError("a domain label cannot start or end with '-'"));
        }
        if !label
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || !c.is_ascii())
        {
            return Err(AddressError("unexpected character in the domain"));
        }
    }
    Ok(domain)
}

/// The local part made from a person's name: `given.family`, ASCII, lower case, letters
/// and digits with single hyphens inside a name and a dot between given and family
/// names. `None` when nothing usable remains (a name in a script with no ASCII
/// transliteration); the caller then falls back to the person's identifier.
pub fn local_part_from_name(given: &str, family: &str) -> Option<String> {
    let given = name_part(given);
    let family = name_part(family);
    let joined = match (given.is_empty(), family.is_empty()) {
        (false, false) => format!("{given}.{family}"),
        (true, false) => family,
        (false, true) => given,
        (true, true) => return None,
    };
    // Leave room for a disambiguating number.
    let mut joined: String = joined.chars().take(MAX_LOCAL_LEN - 4).collect();
    while joined.ends_with(['.', '-']) {
        joined.pop();
    }
    (!joined.is_empty()).then_some(joined)
}

fn name_part(name: &str) -> String {
    let ascii = deunicode::deunicode(name).to_lowercase();
    let mut out = String::with_capacity(ascii.len());
    let mut pending_hyphen = false;
    for c in ascii.chars() {
        if c.is_ascii_alphanumeric() {
            if pending_hyphen && !out.is_empty() {
                out.push('-');
            }
            pending_hyphen = false;
            out.push(c);
        } else {
            // Spaces, hyphens, apostrophes: one hyphen between the words.
            pending_hyphen = true;
        }
    }
    out
}

/// The `n`th candidate local part for a base: the base itself, then `base2`, `base3`...
pub fn candidate(base: &str, n: u32) -> String {
    if n <= 1 {
        base.to_owned()
    } else {
        format!("{base}{n}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_become_ascii_local_parts() {
        assert_eq!(
            local_part_from_name("Élodie", "Dupré").as_deref(),
            Some("elodie.dupre")
        );
        assert_eq!(
            local_part_from_name("Jean-Luc", "Van der Berg").as_deref(),
            Some("jean-luc.van-der-berg")
        );
        assert_eq!(
            local_part_from_name("Anne", "O'Neill").as_deref(),
            Some("anne.o-neill")
        );
        assert_eq!(
            local_part_from_name("Jürgen", "Groß").as_deref(),
            Some("jurgen.gross")
        );
        assert_eq!(local_part_from_name("", "  ").as_deref(), None);
        let long = "a".repeat(100);
        assert!(local_part_from_name(&long, &long).unwrap().len() <= 60);
    }

    #[test]
    fn candidates_are_numbered_from_two() {
        assert_eq!(candidate("anne.weber", 1), "anne.weber");
        assert_eq!(candidate("anne.weber", 2), "anne.weber2");
    }

    #[test]
    fn envelope_addresses_are_read_strictly() {
        let a = Address::parse("Anne.Weber@MSS.Sante.Example").unwrap();
        assert_eq!(a.domain(), "mss.sante.example");
        assert_eq!(a.local_key(), "anne.weber");
        assert_eq!(a.to_string(), "Anne.Weber@mss.sante.example");
        for bad in [
            "",
            "no-at-sign",
            "@domain.example",
            "a@",
            "\"quoted\"@domain.example",
            "a@[127.0.0.1]",
            "a..b@domain.example",
            "a@-bad.example",
            "a b@domain.example",
            "a@b@domain.example",
        ] {
            assert!(Address::parse(bad).is_err(), "{bad} accepted");
        }
        assert!(Address::parse(&format!("{}@d.example", "x".repeat(65))).is_err());
        assert!(Address::parse("médecin@hôpital.example").is_ok());
    }
}
