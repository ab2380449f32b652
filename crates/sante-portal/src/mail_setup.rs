//! Mail programs configure themselves from a professional's address: Thunderbird's
//! autoconfig (`config-v1.1.xml`) and Outlook's autodiscover (the POX protocol of
//! MS-OXDSCLI). Public, as the mail servers' names and ports are; only addresses of
//! the platform's domain get an answer, and the login offered is the address itself
//! (the mail front ends accept it in place of the account's login name). Mounted by
//! the binary only when the platform runs secure messaging.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use sante_http::{Access, Area, Routes};
use serde::Deserialize;

use std::sync::Arc;

/// Where mail programs connect: the names and ports announced to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailSetup {
    /// The platform's mail domain (lower case).
    pub domain: String,
    /// The mail servers' host name.
    pub hostname: String,
    /// IMAP over implicit TLS.
    pub imap: Option<u16>,
    /// POP3 over implicit TLS.
    pub pop3: Option<u16>,
    /// SMTP submission over implicit TLS.
    pub submissions: Option<u16>,
    /// SMTP submission with STARTTLS.
    pub submission: Option<u16>,
}

/// The autoconfiguration routes, answering with `setup`: open to every mail program,
/// they say where the servers are, nothing about anyone.
pub fn routes(setup: MailSetup) -> Area {
    Routes::new()
        .get(
            "/.well-known/autoconfig/mail/config-v1.1.xml",
            Access::Public,
            thunderbird,
        )
        .get("/mail/config-v1.1.xml", Access::Public, thunderbird)
        .post("/autodiscover/autodiscover.xml", Access::Public, outlook)
        .post("/Autodiscover/Autodiscover.xml", Access::Public, outlook)
        .with_state(Arc::new(setup))
}

#[derive(Debug, Deserialize)]
struct AutoconfigQuery {
    emailaddress: Option<String>,
}

fn refusal(status: StatusCode, why: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        format!("{why}\n"),
    )
        .into_response()
}

fn xml(body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/xml; charset=utf-8"),
            (header::CACHE_CONTROL, "max-age=3600"),
        ],
        body,
    )
        .into_response()
}

/// The domain of `address` when it is one of ours.
fn ours<'a>(setup: &MailSetup, address: &'a str) -> Result<&'a str, Response> {
    let address = address.trim();
    match address.rsplit_once('@') {
        Some((local, domain))
            if !local.is_empty() && domain.eq_ignore_ascii_case(&setup.domain) =>
        {
            Ok(address)
        }
        Some(_) => Err(refusal(
            StatusCode::NOT_FOUND,
            "this platform hosts no mailbox under that domain",
        )),
        None => Err(refusal(StatusCode::BAD_REQUEST, "not an e-mail address")),
    }
}

async fn thunderbird(
    State(setup): State<Arc<MailSetup>>,
    Query(q): Query<AutoconfigQuery>,
) -> Response {
    let setup = setup.as_ref();
    if let Some(address) = q.emailaddress.as_deref()
        && let Err(r) = ours(setup, address)
    {
        return r;
    }
    xml(thunderbird_config(setup))
}

/// Thunderbird's autoconfig file (the `clientConfig` format, version 1.1).
pub fn thunderbird_config(setup: &MailSetup) -> String {
    let host = escape(&setup.hostname);
    let domain = escape(&setup.domain);
    let server = |kind: &str, tag: &str, port: u16, socket: &str| {
        format!(
            "    <{tag} type=\"{kind}\">\n      <hostname>{host}</hostname>\n      \
             <port>{port}</port>\n      <socketType>{socket}</socketType>\n      \
             <authentication>password-cleartext</authentication>\n      \
             <authentication>TLS-client-cert</authentication>\n      \
             <username>%EMAILADDRESS%</username>\n    </{tag}>\n"
        )
    };
    let mut servers = String::new();
    if let Some(port) = setup.imap {
        servers.push_str(&server("imap", "incomingServer", port, "SSL"));
    }
    if let Some(port) = setup.pop3 {
        servers.push_str(&server("pop3", "incomingServer", port, "SSL"));
    }
    if let Some(port) = setup.submissions {
        servers.push_str(&server("smtp", "outgoingServer", port, "SSL"));
    }
    if let Some(port) = setup.submission {
        servers.push_str(&server("smtp", "outgoingServer", port, "STARTTLS"));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<clientConfig version=\"1.1\">\n  \
         <emailProvider id=\"{domain}\">\n    <domain>{domain}</domain>\n    \
         <displayName>Sante secure messaging</displayName>\n    \
         <displayShortName>Sante</displayShortName>\n{servers}  </emailProvider>\n\
         </clientConfig>\n"
    )
}

async fn outlook(State(setup): State<Arc<MailSetup>>, body: Bytes) -> Response {
    let setup = setup.as_ref();
    if body.len() > 16 * 1024 {
        return refusal(StatusCode::PAYLOAD_TOO_LARGE, "request too large");
    }
    let Ok(text) = std::str::from_utf8(&body) else {
        return refusal(StatusCode::BAD_REQUEST, "the request is not UTF-8 XML");
    };
    let Some(address) = element(text, "EMailAddress") else {
        return refusal(
            StatusCode::BAD_REQUEST,
            "the request names no EMailAddress (MS-OXDSCLI POX request expected)",
        );
    };
    match ours(setup, &address) {
        Ok(address) => xml(outlook_config(setup, address)),
        Err(r) => r,
    }
}

/// The text of the first `<name>` element, entities decoded (the POX request is
/// flat: one address, no nesting to follow).
fn element(text: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = text.find(&open)? + open.len();
    let end = start + text[start..].find(&close)?;
    Some(
        text[start..end]
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

/// Outlook's autodiscover answer for `address`.
pub fn outlook_config(setup: &MailSetup, address: &str) -> String {
    let host = escape(&setup.hostname);
    let login = escape(address);
    let protocol = |kind: &str, port: u16, encryption: &str| {
        format!(
            "      <Protocol>\n        <Type>{kind}</Type>\n        <Server>{host}</Server>\n        \
             <Port>{port}</Port>\n        <LoginName>{login}</LoginName>\n        \
             <DomainRequired>off</DomainRequired>\n        <SPA>off</SPA>\n        \
             {encryption}\n        <AuthRequired>on</AuthRequired>\n      </Protocol>\n"
        )
    };
    let mut protocols = String::new();
    if let Some(port) = setup.imap {
        protocols.push_str(&protocol("IMAP", port, "<SSL>on</SSL>"));
    }
    if let Some(port) = setup.pop3 {
        protocols.push_str(&protocol("POP3", port, "<SSL>on</SSL>"));
    }
    if let Some(port) = setup.submissions {
        protocols.push_str(&protocol("SMTP", port, "<SSL>on</SSL>"));
    } else if let Some(port) = setup.submission {
        protocols.push_str(&protocol("SMTP", port, "<Encryption>TLS</Encryption>"));
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Autodiscover \
         xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/responseschema/2006\">\n  \
         <Response xmlns=\"http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a\">\n    \
         <Account>\n      <AccountType>email</AccountType>\n      <Action>settings</Action>\n\
         {protocols}    </Account>\n  </Response>\n</Autodiscover>\n"
    )
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> MailSetup {
        MailSetup {
            domain: "mss.sante.example".into(),
            hostname: "mail.sante.example".into(),
            imap: None,
            pop3: Some(995),
            submissions: Some(465),
            submission: Some(587),
        }
    }

    #[test]
    fn thunderbird_is_told_every_served_protocol_and_nothing_else() {
        let xml = thunderbird_config(&setup());
        assert!(xml.contains("<incomingServer type=\"pop3\">"), "{xml}");
        assert!(!xml.contains("type=\"imap\""), "{xml}");
        assert!(xml.contains("<port>465</port>\n      <socketType>SSL</socketType>"));
        assert!(xml.contains("<port>587</port>\n      <socketType>STARTTLS</socketType>"));
        assert!(xml.contains("<username>%EMAILADDRESS%</username>"));
        assert!(!xml.contains("plain"), "never a clear-text socket: {xml}");
    }

    #[test]
    fn outlook_gets_the_address_as_login_escaped() {
        let xml = outlook_config(&setup(), "a&b@mss.sante.example");
        assert!(xml.contains("<LoginName>a&amp;b@mss.sante.example</LoginName>"));
        assert!(xml.contains("<Type>POP3</Type>"));
        assert!(xml.contains("<Port>465</Port>"));
        assert!(!xml.contains("<Type>IMAP</Type>"));
    }

    #[test]
    fn only_our_domain_is_answered() {
        let s = setup();
        assert!(ours(&s, "dr.who@MSS.sante.example").is_ok());
        assert_eq!(
            ours(&s, "dr.who@gmail.com").unwrap_err().status(),
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            ours(&s, "no-at-sign").unwrap_err().status(),
            StatusCode::BAD_REQUEST
        );
        let request = "<?xml version=\"1.0\"?><Autodiscover><Request>\
            <EMailAddress>dr.who@mss.sante.example</EMailAddress></Request></Autodiscover>";
        assert_eq!(
            element(request, "EMailAddress").as_deref(),
            Some("dr.who@mss.sante.example")
        );
        assert_eq!(element("<Request/>", "EMailAddress"), None);
    }
}
