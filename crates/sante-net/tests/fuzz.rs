//! Fuzz targets of the card PKI (issue 14, item 6): certificates as a TLS client
//! presents them (DER) and revocation lists as a CA publishes them (DER or PEM).
//! Corpora in `fuzz/<target>/`.

use sante_fuzz::target;
use sante_net::pki;

const DER_TOKENS: &[&[u8]] = &[
    b"\x30\x82",
    b"\x30\x80",
    b"\x02\x01\x00",
    b"\x02\x09\x00\xff",
    b"\x06\x03\x55\x1d\x1f",
    b"\x17\x0d",
    b"\x18\x0f",
    b"\x81\x01",
    b"\xa0\x03",
    b"\x05\x00",
    b"\xff\xff\xff\xff",
];

#[test]
fn card_certificates() {
    target!("card_certificates").tokens(DER_TOKENS).run(|der| {
        if let Ok(cert) = pki::read_certificate(der) {
            assert_eq!(cert.sha256.len(), 64);
            assert!(
                cert.serial == "0" || !cert.serial.starts_with('0'),
                "{}",
                cert.serial
            );
        }
    });
}

#[test]
fn revocation_lists() {
    target!("revocation_lists")
        .tokens(
            &[
                DER_TOKENS,
                &[b"-----BEGIN X509 CRL-----\n", b"-----END X509 CRL-----\n"],
            ]
            .concat(),
        )
        .run(|data| {
            if let Ok(list) = pki::read_revocation_list(data) {
                for serial in &list.serials {
                    assert!(serial == "0" || !serial.starts_with('0'), "{serial}");
                }
            }
        });
}
