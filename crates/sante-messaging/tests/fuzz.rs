//! Fuzz targets of secure messaging (issue 14, item 6): MIME as delivery reads it
//! (attachments' types for the metadata log) and addresses. Corpora in `fuzz/<target>/`.

use sante_fuzz::target;
use sante_messaging::address::Address;

#[test]
fn mime_attachments() {
    target!("mime_attachments")
        .tokens(&[
            b"\r\n",
            b"\r\n\r\n",
            b"Content-Type: multipart/mixed; boundary=\"b\"\r\n",
            b"--b\r\n",
            b"--b--\r\n",
            b"Content-Type: ",
            b"application/pdf",
            b"message/rfc822",
            b";",
            b"Content-Transfer-Encoding: base64\r\n",
            b"=?utf-8?b?",
            b"?=",
            b"name=\"",
            b"Content-Type: application/zip\r\n",
            b"UEsDBA",
            b"PK\x03\x04",
            b"PK\x05\x06",
        ])
        .run(|raw| {
            // Zip directories of attachments are read by the archive check too.
            let _ = sante_messaging::mime::unscannable_archive(raw);
            let found = sante_messaging::mime::attachments(raw);
            assert!(found.len() <= 64, "{} attachments listed", found.len());
            for a in found {
                assert_eq!(
                    sante_messaging::mime::clean_type(&a.content_type),
                    a.content_type
                );
                assert!(a.content_type.len() <= 129, "{}", a.content_type);
            }
        });
}

#[test]
fn mail_addresses() {
    target!("mail_addresses")
        .tokens(&[
            b"@",
            b".",
            b"\"",
            b"+",
            b"xn--",
            b"\xc3\xa9",
            b" ",
            b"<",
            b">",
            b"\\",
        ])
        .run(|input| {
            let text = String::from_utf8_lossy(input);
            if let Ok(address) = Address::parse(&text) {
                let written = address.to_string();
                assert!(written.len() <= 254, "{written}");
                assert_eq!(Address::parse(&written).as_ref(), Ok(&address));
            }
        });
}
