//! Fuzz targets of the directory imports (issue 14, item 6): register CSV files as
//! an operator hands them in, for each register, and national numbers. Corpora in
//! `fuzz/<target>/`.

use sante_directory::feed::{self, RegisterKind};
use sante_fuzz::target;

fn lines_in_order<E: 'static>(
    input: &[u8],
    kind: RegisterKind,
    parse: fn(
        &csv::StringRecord,
        &std::collections::HashMap<&'static str, usize>,
    ) -> Result<E, String>,
) {
    if let Ok(rows) = feed::read_csv(input, kind, parse) {
        let mut previous = 1;
        for (line, _) in rows.take(10_000) {
            assert!(line > previous, "line {line} after {previous}");
            previous = line;
        }
    }
}

#[test]
fn register_csv() {
    target!("register_csv")
        .tokens(&[
            b",",
            b"\"",
            b"\"\"",
            b"\n",
            b"\r\n",
            b";",
            b"\x00",
            b"\xef\xbb\xbf",
            b"1",
        ])
        .run(|input| {
            lines_in_order(input, RegisterKind::Patients, feed::patient_row);
            lines_in_order(input, RegisterKind::Professionals, feed::professional_row);
            lines_in_order(input, RegisterKind::Establishments, feed::establishment_row);
            lines_in_order(input, RegisterKind::Agents, feed::agent_row);
        });
}

#[test]
fn national_numbers() {
    target!("national_numbers")
        .tokens(&[b"0", b"9", b" ", b"-", b".", b"\xd9\xa3"])
        .run(|input| {
            let text = String::from_utf8_lossy(input);
            if let Ok(nin) = sante_directory::nin::NationalId::parse(&text) {
                let again = sante_directory::nin::NationalId::parse(nin.as_str()).unwrap();
                assert_eq!(again.as_str(), nin.as_str());
            }
        });
}
