//! The rules of refusal, validator by validator: each table is a list of cases and
//! the refusal each one gets (or none), every reason code of the provider among them.

use chrono::TimeZone;
use sante_audit::PlatformError;
use sante_types::{CredentialKind, LevelOfAssurance, Quality};

use super::*;
use crate::client::Suspension;
use crate::provider::claims::{Actingness, Confirmation};

const REDIRECT: &str = "https://app.example.lu/callback";
const SECRET: &str = "the client's secret";
const VERIFIER: &str = "a-verifier-of-forty-three-characters-or-more-0123";
const TOKEN_ENDPOINT: &str = "https://portal.example.lu/oidc/token";

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()
}

/// The reason of a refusal, or the value let through.
fn code<T>(checked: Result<T, Refusal>) -> Result<T, &'static str> {
    checked.map_err(|r| r.code)
}

fn relying_party(secret: Option<&str>) -> Client {
    Client {
        id: "rp-1".into(),
        name: "DSP portal".into(),
        kind: ClientKind::RelyingParty {
            redirect_uris: vec![REDIRECT.into()],
            secret_sha256: secret.map(sha256),
            post_logout_redirect_uris: vec![],
            backchannel_logout_uri: None,
        },
        services: vec![Service::Dsp],
        created: now(),
    }
}

fn thumbprint(byte: &str) -> String {
    byte.repeat(32)
}

/// An establishment system registered with certificate `ab…ab`, attested for the DSP,
/// the referring-doctor scheme and messaging, registered for the first two.
fn system(suspended: bool, valid_until: DateTime<Utc>) -> Client {
    Client {
        id: "sys-1".into(),
        name: "Hospital system".into(),
        kind: ClientKind::System {
            establishment: "est-1".into(),
            certificate_sha256: thumbprint("ab"),
            attestation: Attestation {
                reference: "ATT-2026-001".into(),
                services: vec![Service::Dsp, Service::Referent, Service::Messaging],
                valid_until,
                suspended: suspended.then(|| Suspension {
                    since: now(),
                    reason: "audit_failed".into(),
                }),
            },
        },
        services: vec![Service::Dsp, Service::Referent],
        created: now(),
    }
}

fn attested() -> Client {
    system(false, now() + Duration::days(1))
}

fn certificate(sha256: &str) -> PeerCertificate {
    PeerCertificate {
        sha256: sha256.into(),
        issuer: "CN=Establishment CA".into(),
        serial: "1".into(),
        subject: "CN=hospital-system".into(),
        not_before: now() - Duration::days(1),
        not_after: now() + Duration::days(365),
        public_key: vec![],
        key_algorithm: "ec-p256".into(),
    }
}

fn person(account: &str, quality: Quality, assurance: LevelOfAssurance) -> Authenticated {
    Authenticated {
        session: "sid-1".into(),
        account: account.into(),
        login: "login-1".into(),
        subject: "pat-1".into(),
        quality,
        assurance,
        credential: CredentialKind::PasswordTotp,
        scope: None,
    }
}

fn patient() -> Authenticated {
    person("acc-1", Quality::Patient, LevelOfAssurance::Substantial)
}

fn challenge(verifier: &str) -> String {
    B64.encode(Sha256::digest(verifier.as_bytes()))
}

#[test]
fn authorize_client() {
    let other_redirect = "https://evil.example/callback";
    type Case<'a> = (&'a str, Option<Client>, &'a str, Result<(), &'a str>);
    let cases: Vec<Case> = vec![
        (
            "a relying party",
            Some(relying_party(None)),
            REDIRECT,
            Ok(()),
        ),
        ("unknown", None, REDIRECT, Err("unknown_client")),
        (
            "a system",
            Some(attested()),
            REDIRECT,
            Err("not_a_relying_party"),
        ),
        (
            "a system, and an unregistered URI",
            Some(attested()),
            other_redirect,
            Err("not_a_relying_party"),
        ),
        (
            "an unregistered URI",
            Some(relying_party(None)),
            other_redirect,
            Err("unregistered_redirect"),
        ),
        (
            "the registered URI and more",
            Some(relying_party(None)),
            "https://app.example.lu/callback/more",
            Err("unregistered_redirect"),
        ),
    ];
    for (case, client, redirect, expected) in cases {
        let got = code(super::authorize_client(client.as_ref(), redirect)).map(|_| ());
        assert_eq!(got, expected, "{case}");
    }
}

#[test]
fn authorize_request() {
    let request = || AuthorizeRequest {
        response_type: "code".into(),
        client_id: "rp-1".into(),
        redirect_uri: REDIRECT.into(),
        scope: "openid".into(),
        state: Some("s".into()),
        nonce: Some("n".into()),
        code_challenge: Some(challenge(VERIFIER)),
        code_challenge_method: Some("S256".into()),
        ..AuthorizeRequest::default()
    };
    let wrong = |error, description| Err(Redirected { error, description });
    let pkce = || wrong("invalid_request", "PKCE with S256 is required");
    let too_long = || wrong("invalid_request", "state or nonce too long");
    type Change = fn(&mut AuthorizeRequest);
    type Case = (&'static str, Change, Result<Vec<&'static str>, Redirected>);
    let cases: Vec<Case> = vec![
        ("the code flow", |_| {}, Ok(vec!["openid"])),
        (
            "offline access",
            |r| r.scope = "openid  offline_access".into(),
            Ok(vec!["openid", "offline_access"]),
        ),
        (
            "the implicit flow",
            |r| r.response_type = "token".into(),
            wrong("unsupported_response_type", "only the code flow is offered"),
        ),
        (
            "the implicit flow without openid",
            |r| {
                r.response_type = "token".into();
                r.scope = "profile".into();
            },
            wrong("unsupported_response_type", "only the code flow is offered"),
        ),
        (
            "no openid scope",
            |r| r.scope = "offline_access".into(),
            wrong("invalid_scope", "the openid scope is required"),
        ),
        (
            "an unknown scope",
            |r| r.scope = "openid profile".into(),
            wrong("invalid_scope", "unknown scope"),
        ),
        (
            "an unknown scope and no PKCE",
            |r| {
                r.scope = "openid profile".into();
                r.code_challenge = None;
            },
            wrong("invalid_scope", "unknown scope"),
        ),
        ("no challenge", |r| r.code_challenge = None, pkce()),
        ("no method", |r| r.code_challenge_method = None, pkce()),
        (
            "the plain method",
            |r| r.code_challenge_method = Some("plain".into()),
            pkce(),
        ),
        (
            "a short challenge",
            |r| r.code_challenge = Some("a".repeat(42)),
            pkce(),
        ),
        (
            "a challenge not base64url",
            |r| r.code_challenge = Some(format!("{}+", "a".repeat(42))),
            pkce(),
        ),
        (
            "the longest nonce and state",
            |r| {
                r.nonce = Some("n".repeat(256));
                r.state = Some("s".repeat(512));
            },
            Ok(vec!["openid"]),
        ),
        (
            "a nonce too long",
            |r| r.nonce = Some("n".repeat(257)),
            too_long(),
        ),
        (
            "a state too long",
            |r| r.state = Some("s".repeat(513)),
            too_long(),
        ),
        (
            "a state too long and no PKCE",
            |r| {
                r.state = Some("s".repeat(513));
                r.code_challenge = None;
            },
            pkce(),
        ),
    ];
    for (case, change, expected) in cases {
        let mut req = request();
        change(&mut req);
        assert_eq!(super::authorize_request(&req), expected, "{case}");
    }
}

#[test]
fn presented_client() {
    let basic = |id: &str| ClientCredentials {
        basic: Some((id.into(), "basic".into())),
        certificate: None,
    };
    let (with_rp1, with_empty) = (basic("rp-1"), basic(""));
    let none = ClientCredentials::default();
    let long = "c".repeat(81);
    let longest = "c".repeat(80);
    type Case<'a> = (
        &'a str,
        Option<&'a str>,
        Option<&'a str>,
        &'a ClientCredentials,
        Result<(&'a str, Option<&'a str>), &'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            "the form",
            Some("rp-1"),
            Some("form"),
            &none,
            Ok(("rp-1", Some("form"))),
        ),
        (
            "the form, without secret",
            Some("rp-1"),
            None,
            &none,
            Ok(("rp-1", None)),
        ),
        (
            "the longest id",
            Some(&longest),
            None,
            &none,
            Ok((&longest, None)),
        ),
        (
            "HTTP Basic over the form",
            Some("rp-2"),
            Some("form"),
            &with_rp1,
            Ok(("rp-1", Some("basic"))),
        ),
        ("no id", None, Some("form"), &none, Err("no_client_id")),
        ("an empty id", Some(""), None, &none, Err("no_client_id")),
        (
            "an id too long",
            Some(&long),
            None,
            &none,
            Err("no_client_id"),
        ),
        (
            "an empty id in HTTP Basic, whatever the form",
            Some("rp-1"),
            Some("form"),
            &with_empty,
            Err("no_client_id"),
        ),
    ];
    for (case, form_id, form_secret, creds, expected) in cases {
        let got = code(super::presented_client(form_id, form_secret, creds));
        assert_eq!(got, expected, "{case}");
    }
}

#[test]
fn client_authenticated() {
    let ours = certificate(&thumbprint("ab"));
    let theirs = certificate(&thumbprint("cd"));
    let suspended = system(true, now() + Duration::days(1));
    let expired = system(false, now() - Duration::seconds(1));
    type Case<'a> = (
        &'a str,
        Option<Client>,
        Option<&'a str>,
        Option<&'a PeerCertificate>,
        Result<(), &'a str>,
    );
    let cases: Vec<Case> = vec![
        ("unknown", None, Some(SECRET), None, Err("unknown_client")),
        (
            "a confidential client with its secret",
            Some(relying_party(Some(SECRET))),
            Some(SECRET),
            None,
            Ok(()),
        ),
        (
            "a confidential client with another secret",
            Some(relying_party(Some(SECRET))),
            Some("guess"),
            None,
            Err("wrong_client_secret"),
        ),
        (
            "a confidential client without its secret",
            Some(relying_party(Some(SECRET))),
            None,
            Some(&ours),
            Err("wrong_client_secret"),
        ),
        (
            "a public client",
            Some(relying_party(None)),
            None,
            None,
            Ok(()),
        ),
        (
            "a public client with a secret",
            Some(relying_party(None)),
            Some(SECRET),
            None,
            Err("public_client_secret"),
        ),
        ("a system", Some(attested()), None, Some(&ours), Ok(())),
        (
            "a system with a secret but its certificate",
            Some(attested()),
            Some(SECRET),
            Some(&ours),
            Ok(()),
        ),
        (
            "a system without certificate",
            Some(attested()),
            None,
            None,
            Err("wrong_client_certificate"),
        ),
        (
            "a system with another certificate",
            Some(attested()),
            None,
            Some(&theirs),
            Err("wrong_client_certificate"),
        ),
        (
            "a suspended system with another certificate",
            Some(suspended.clone()),
            None,
            Some(&theirs),
            Err("wrong_client_certificate"),
        ),
        (
            "a suspended system",
            Some(suspended),
            None,
            Some(&ours),
            Err("attestation_suspended"),
        ),
        (
            "an expired attestation",
            Some(expired),
            None,
            Some(&ours),
            Err("attestation_expired"),
        ),
        (
            "a suspended and expired attestation",
            Some(system(true, now() - Duration::seconds(1))),
            None,
            Some(&ours),
            Err("attestation_suspended"),
        ),
        (
            "an attestation ending now",
            Some(system(false, now())),
            None,
            Some(&ours),
            Ok(()),
        ),
    ];
    for (case, client, secret, cert, expected) in cases {
        let got = code(super::client_authenticated(client, secret, cert, now())).map(|_| ());
        assert_eq!(got, expected, "{case}");
    }
}

fn stored_code() -> StoredCode {
    StoredCode {
        client: "rp-1".into(),
        redirect_uri: REDIRECT.into(),
        challenge: challenge(VERIFIER),
        nonce: None,
        scope: "openid".into(),
        sid: "sid-1".into(),
        account: "acc-1".into(),
        services: vec![Service::Dsp],
        auth_time: now(),
        expires: now() + Duration::seconds(60),
    }
}

#[test]
fn code_grant() {
    let long = "v".repeat(129);
    let short = "v".repeat(42);
    let late = now() + Duration::seconds(61);
    // (case, the code's client, the redirect URI, the verifier (and the challenge of
    // which), the time, the refusal)
    type Case<'a> = (
        &'a str,
        &'a str,
        Option<&'a str>,
        (Option<&'a str>, &'a str),
        DateTime<Utc>,
        Result<(), &'a str>,
    );
    let cases: Vec<Case> = vec![
        (
            "the code",
            "rp-1",
            Some(REDIRECT),
            (Some(VERIFIER), VERIFIER),
            now(),
            Ok(()),
        ),
        (
            "at its expiry",
            "rp-1",
            Some(REDIRECT),
            (Some(VERIFIER), VERIFIER),
            now() + Duration::seconds(60),
            Ok(()),
        ),
        (
            "another client's",
            "rp-2",
            Some(REDIRECT),
            (Some(VERIFIER), VERIFIER),
            now(),
            Err("code_mismatch"),
        ),
        (
            "for another redirect URI",
            "rp-1",
            Some("https://app.example.lu/other"),
            (Some(VERIFIER), VERIFIER),
            now(),
            Err("code_mismatch"),
        ),
        (
            "without redirect URI",
            "rp-1",
            None,
            (Some(VERIFIER), VERIFIER),
            now(),
            Err("code_mismatch"),
        ),
        (
            "another client's, expired, with a wrong verifier",
            "rp-2",
            Some(REDIRECT),
            (Some("wrong"), VERIFIER),
            late,
            Err("code_mismatch"),
        ),
        (
            "expired",
            "rp-1",
            Some(REDIRECT),
            (Some(VERIFIER), VERIFIER),
            late,
            Err("code_expired"),
        ),
        (
            "expired, with a wrong verifier",
            "rp-1",
            Some(REDIRECT),
            (Some("wrong"), VERIFIER),
            late,
            Err("code_expired"),
        ),
        (
            "a wrong verifier",
            "rp-1",
            Some(REDIRECT),
            (
                Some("another-verifier-of-forty-three-characters-012"),
                VERIFIER,
            ),
            now(),
            Err("pkce_mismatch"),
        ),
        (
            "no verifier",
            "rp-1",
            Some(REDIRECT),
            (None, VERIFIER),
            now(),
            Err("pkce_mismatch"),
        ),
        (
            "a verifier too short, though matching",
            "rp-1",
            Some(REDIRECT),
            (Some(&short), &short),
            now(),
            Err("pkce_mismatch"),
        ),
        (
            "a verifier too long, though matching",
            "rp-1",
            Some(REDIRECT),
            (Some(&long), &long),
            now(),
            Err("pkce_mismatch"),
        ),
    ];
    for (case, client, redirect, (verifier, challenged), at, expected) in cases {
        let req = TokenRequest {
            grant_type: "authorization_code".into(),
            redirect_uri: redirect.map(str::to_owned),
            code_verifier: verifier.map(str::to_owned),
            ..TokenRequest::default()
        };
        let stored = StoredCode {
            challenge: challenge(challenged),
            ..stored_code()
        };
        let got = code(super::code_grant(Some(stored), client, &req, at)).map(|_| ());
        assert_eq!(got, expected, "{case}");
    }
    let req = TokenRequest::default();
    assert_eq!(
        code(super::code_grant(None, "rp-1", &req, now())).map(|_| ()),
        Err("unknown_code"),
        "a wrong, used or expired code"
    );
}

#[test]
fn code_session() {
    let someone_else = person("acc-2", Quality::Patient, LevelOfAssurance::Substantial);
    let cases = [
        ("the same person's", Some(patient()), Ok(())),
        ("ended", None, Err("session_ended")),
        ("another person's", Some(someone_else), Err("session_ended")),
    ];
    for (case, session, expected) in cases {
        let got = code(super::code_session(&stored_code(), session)).map(|_| ());
        assert_eq!(got, expected, "{case}");
    }
}

fn grant(services: Vec<Service>) -> Grant {
    Grant {
        family: "fam-1".into(),
        client: "rp-1".into(),
        sid: "sid-1".into(),
        account: "acc-1".into(),
        scope: "openid".into(),
        services,
        auth_time: now(),
        expires: now() + Duration::hours(8),
    }
}

/// The reason of a refusal and whether the token family dies with it.
fn code_and_family<T>(checked: Result<T, Refusal>) -> Result<T, (&'static str, bool)> {
    checked.map_err(|r| (r.code, r.ends_family.is_some_and(|f| f == "fam-1")))
}

#[test]
fn refresh_token() {
    assert!(super::refresh_token(Some(grant(vec![Service::Dsp]))).is_ok());
    assert_eq!(
        code_and_family(super::refresh_token(None)).map(|_| ()),
        Err(("unknown_refresh_token", false))
    );
}

#[test]
fn refresh_grant() {
    let late = now() + Duration::hours(8) + Duration::seconds(1);
    let cases = [
        ("its client's", "rp-1", now(), Ok(())),
        ("at its expiry", "rp-1", now() + Duration::hours(8), Ok(())),
        (
            "another client's: stolen",
            "rp-2",
            now(),
            Err(("refresh_other_client", true)),
        ),
        (
            "another client's, expired",
            "rp-2",
            late,
            Err(("refresh_other_client", true)),
        ),
        ("expired", "rp-1", late, Err(("refresh_expired", false))),
    ];
    for (case, client, at, expected) in cases {
        let got = code_and_family(super::refresh_grant(&grant(vec![Service::Dsp]), client, at));
        assert_eq!(got, expected, "{case}");
    }
}

#[test]
fn refreshed() {
    let weak = person("acc-1", Quality::Patient, LevelOfAssurance::Low);
    let other = person("acc-2", Quality::Patient, LevelOfAssurance::Substantial);
    let cases = [
        (
            "the same login",
            Some(patient()),
            vec![Service::Dsp],
            Ok(vec![Service::Dsp]),
        ),
        (
            "the services still reachable",
            Some(patient()),
            vec![Service::Dsp, Service::Messaging],
            Ok(vec![Service::Dsp]),
        ),
        (
            "an ended session",
            None,
            vec![Service::Dsp],
            Err(("session_ended", true)),
        ),
        (
            "another person's session",
            Some(other),
            vec![Service::Dsp],
            Err(("session_ended", true)),
        ),
        (
            "a service not offered to the quality",
            Some(patient()),
            vec![Service::Messaging],
            Err(("service_refused", false)),
        ),
        (
            "a level now too low",
            Some(weak),
            vec![Service::Dsp],
            Err(("service_refused", false)),
        ),
    ];
    for (case, session, services, expected) in cases {
        let got = code_and_family(super::refreshed(&grant(services), session))
            .map(|(_, services)| services);
        assert_eq!(got, expected, "{case}");
    }
}

#[test]
fn assertion_client() {
    let system = attested();
    let cases = [
        ("a system", system, Ok("est-1")),
        ("a relying party", relying_party(None), Err("not_a_system")),
    ];
    for (case, client, expected) in cases {
        let got = code(super::assertion_client(&client)).map(|(establishment, _)| establishment);
        assert_eq!(got, expected, "{case}");
    }
}

/// A system's key and the certificate facts the TLS listener gives of it.
fn system_key() -> (rcgen::KeyPair, PeerCertificate) {
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = PeerCertificate {
        public_key: key.public_key_raw().to_vec(),
        ..certificate(&thumbprint("ab"))
    };
    (key, cert)
}

fn signed(key: &rcgen::KeyPair, claims: &serde_json::Value) -> String {
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
        claims,
        &jsonwebtoken::EncodingKey::from_ec_der(&key.serialize_der()),
    )
    .unwrap()
}

#[test]
fn assertion() {
    let (key, cert) = system_key();
    let (other_key, _) = system_key();
    let endpoints = [
        TOKEN_ENDPOINT.to_owned(),
        "https://portal.example.lu".to_owned(),
        "https://mtls.portal.example.lu/oidc/token".to_owned(),
    ];
    let t = now().timestamp();
    let claims = || {
        serde_json::json!({
            "iss": "sys-1",
            "sub": "pro-1",
            "aud": TOKEN_ENDPOINT,
            "iat": t,
            "exp": t + 120,
            "jti": "j1",
            "acr": "urn:sante:loa:high",
        })
    };
    let with = |field: &str, value: serde_json::Value| {
        let mut c = claims();
        c[field] = value;
        signed(&key, &c)
    };
    let without = |field: &str| {
        let mut c = claims();
        c.as_object_mut().unwrap().remove(field);
        signed(&key, &c)
    };
    let wrong = Err("assertion_claims");
    let rsa = PeerCertificate {
        key_algorithm: "rsa".into(),
        ..cert.clone()
    };
    let dsa = PeerCertificate {
        key_algorithm: "dsa".into(),
        ..cert.clone()
    };
    let cases: Vec<(&str, String, &PeerCertificate, Result<(), &str>)> = vec![
        ("the assertion", signed(&key, &claims()), &cert, Ok(())),
        (
            "for the issuer",
            with("aud", "https://portal.example.lu".into()),
            &cert,
            Ok(()),
        ),
        (
            "for the mutual TLS endpoint",
            with("aud", "https://mtls.portal.example.lu/oidc/token".into()),
            &cert,
            Ok(()),
        ),
        (
            "for a list naming the token endpoint",
            with(
                "aud",
                serde_json::json!(["https://other.example", TOKEN_ENDPOINT]),
            ),
            &cert,
            Ok(()),
        ),
        (
            "for another audience",
            with("aud", "https://other.example/token".into()),
            &cert,
            wrong,
        ),
        (
            "for a list not naming the provider",
            with("aud", serde_json::json!(["https://other.example"])),
            &cert,
            wrong,
        ),
        (
            "for a number: not even read as an assertion",
            with("aud", 7.into()),
            &cert,
            Err("bad_assertion"),
        ),
        (
            "from another issuer",
            with("iss", "sys-2".into()),
            &cert,
            wrong,
        ),
        ("expiring now", with("exp", t.into()), &cert, wrong),
        (
            "living the longest accepted",
            with("exp", (t + ASSERTION_SECONDS + 30).into()),
            &cert,
            Ok(()),
        ),
        (
            "living too long",
            with("exp", (t + ASSERTION_SECONDS + 31).into()),
            &cert,
            wrong,
        ),
        (
            "made just ahead",
            with("iat", (t + 30).into()),
            &cert,
            Ok(()),
        ),
        (
            "made in the future",
            with("iat", (t + 31).into()),
            &cert,
            wrong,
        ),
        ("without date of making", without("iat"), &cert, Ok(())),
        ("without id", with("jti", "".into()), &cert, wrong),
        (
            "with the longest id",
            with("jti", "j".repeat(128).into()),
            &cert,
            Ok(()),
        ),
        (
            "with an id too long",
            with("jti", "j".repeat(129).into()),
            &cert,
            wrong,
        ),
        (
            "not a token",
            "not-a-jwt".into(),
            &cert,
            Err("bad_assertion"),
        ),
        (
            "signed by another key",
            signed(&other_key, &claims()),
            &cert,
            Err("bad_assertion"),
        ),
        (
            "signed by another key, from another issuer",
            {
                let mut c = claims();
                c["iss"] = "sys-2".into();
                signed(&other_key, &c)
            },
            &cert,
            Err("bad_assertion"),
        ),
        (
            "not signed with the certificate's algorithm",
            signed(&key, &claims()),
            &rsa,
            Err("bad_assertion"),
        ),
        (
            "for a key that cannot sign",
            signed(&key, &claims()),
            &dsa,
            Err("bad_assertion"),
        ),
        (
            "without subject",
            without("sub"),
            &cert,
            Err("bad_assertion"),
        ),
        (
            "without expiry",
            without("exp"),
            &cert,
            Err("bad_assertion"),
        ),
    ];
    for (case, assertion, cert, expected) in cases {
        let got = code(super::assertion(
            &assertion,
            cert,
            "sys-1",
            &endpoints,
            now(),
        ))
        .map(|_| ());
        assert_eq!(got, expected, "{case}");
    }
}

#[test]
fn assertion_unused_staff_member_terms_accepted() {
    assert_eq!(code(super::assertion_unused(true)), Ok(()));
    assert_eq!(
        code(super::assertion_unused(false)),
        Err("assertion_replayed")
    );
    assert_eq!(code(super::staff_member(true)), Ok(()));
    assert_eq!(code(super::staff_member(false)), Err("not_staff"));
    assert_eq!(
        code(super::terms_accepted(vec![Service::Dsp])),
        Ok(vec![Service::Dsp])
    );
    assert_eq!(
        code(super::terms_accepted(vec![])),
        Err("terms_not_accepted")
    );
}

#[test]
fn acting_account() {
    let outage = || IdentityError::Platform(PlatformError::corrupt("idn-account"));
    type Case<'a> = (
        &'a str,
        Result<Authenticated, IdentityError>,
        Result<(), &'a str>,
    );
    let cases: Vec<Case> = vec![
        ("an active account", Ok(patient()), Ok(())),
        (
            "blocked",
            Err(IdentityError::Blocked),
            Err("account_blocked"),
        ),
        ("closed", Err(IdentityError::Closed), Err("account_closed")),
        (
            "not activated",
            Err(IdentityError::NotActivated),
            Err("account_not_activated"),
        ),
        (
            "no account",
            Err(IdentityError::NotFound("pro-9".into())),
            Err("no_account"),
        ),
        ("anything else", Err(outage()), Err("no_account")),
    ];
    for (case, found, expected) in cases {
        let got = code(super::acting_account(found)).map(|_| ());
        assert_eq!(got, expected, "{case}");
    }
}

#[test]
fn shared_services() {
    let high = person("acc-1", Quality::Professional, LevelOfAssurance::High);
    let substantial = person(
        "acc-1",
        Quality::Professional,
        LevelOfAssurance::Substantial,
    );
    let agent = person("acc-1", Quality::Agent, LevelOfAssurance::High);
    let messaging_only = Authenticated {
        scope: Some(Service::Messaging),
        ..high.clone()
    };
    let system = attested();
    let ClientKind::System { attestation, .. } = &system.kind else {
        unreachable!()
    };
    let nothing_attested = Attestation {
        services: vec![],
        ..attestation.clone()
    };
    let cases = [
        (
            "attested, registered and the person's",
            attestation,
            &high,
            Ok(vec![Service::Dsp, Service::Referent]),
        ),
        (
            "a level too low for all",
            attestation,
            &substantial,
            Err("service_refused"),
        ),
        (
            "a quality served by none",
            attestation,
            &agent,
            Err("service_refused"),
        ),
        (
            "a credential for an attested service the system is not registered for",
            attestation,
            &messaging_only,
            Err("service_refused"),
        ),
        (
            "nothing attested",
            &nothing_attested,
            &high,
            Err("service_refused"),
        ),
    ];
    for (case, attestation, who, expected) in cases {
        let got = code(super::shared_services(&system, attestation, who));
        assert_eq!(got, expected, "{case}");
    }
}

fn access_claims() -> AccessClaims {
    AccessClaims {
        iss: "https://portal.example.lu".into(),
        sub: "acc-1".into(),
        aud: vec![audience(Service::Dsp)],
        client_id: "rp-1".into(),
        exp: now().timestamp() + 300,
        iat: now().timestamp(),
        jti: "jti-1".into(),
        scope: "openid".into(),
        sid: Some("sid-1".into()),
        fam: Some("fam-1".into()),
        quality: Quality::Patient,
        acr: "urn:sante:loa:substantial".into(),
        amr: vec!["pwd".into(), "otp".into(), "mfa".into()],
        entry: "pat-1".into(),
        act: None,
        cnf: None,
    }
}

/// A system's token, bound to the certificate `ab…ab`.
fn system_claims() -> AccessClaims {
    AccessClaims {
        sid: None,
        fam: None,
        act: Some(Actingness {
            sub: "sys-1".into(),
        }),
        cnf: Some(Confirmation {
            x5t_s256: B64.encode(hex::decode(thumbprint("ab")).unwrap()),
        }),
        ..access_claims()
    }
}

#[test]
fn access_token_and_audience() {
    let verified = code(super::access_token(Ok(access_claims())));
    assert!(verified.is_ok());
    let refused = super::access_token(Err(SsoError::InvalidToken("expired".into()))).unwrap_err();
    assert_eq!(refused.code, "bad_access_token");
    // The keys' own answer is given.
    assert_eq!(refused.error.to_string(), "invalid_token: expired");

    let cases = [
        ("for the service", Service::Dsp, Ok(())),
        (
            "for another service",
            Service::Messaging,
            Err("wrong_audience"),
        ),
    ];
    for (case, service, expected) in cases {
        let got = code(super::bearer_audience(&access_claims(), service));
        assert_eq!(got, expected, "{case}");
    }
}

#[test]
fn bearer_use() {
    let ours = certificate(&thumbprint("ab"));
    let theirs = certificate(&thumbprint("cd"));
    let both = AccessClaims {
        sid: Some("sid-1".into()),
        ..system_claims()
    };
    let neither = AccessClaims {
        sid: None,
        ..access_claims()
    };
    let login = Ok(Bearer::Login { sid: "sid-1" });
    let system = Ok(Bearer::System { system: "sys-1" });
    let cases = [
        ("a login's", access_claims(), false, None, login),
        (
            "a login's, with a certificate",
            access_claims(),
            false,
            Some(&theirs),
            login,
        ),
        (
            "a system's, with its certificate",
            system_claims(),
            false,
            Some(&ours),
            system,
        ),
        ("revoked", access_claims(), true, None, Err("token_revoked")),
        (
            "revoked, with another certificate",
            system_claims(),
            true,
            Some(&theirs),
            Err("token_revoked"),
        ),
        (
            "bound, without certificate",
            system_claims(),
            false,
            None,
            Err("certificate_binding"),
        ),
        (
            "bound, with another certificate",
            system_claims(),
            false,
            Some(&theirs),
            Err("certificate_binding"),
        ),
        (
            "a login's and a system's, with another certificate",
            both.clone(),
            false,
            Some(&theirs),
            Err("certificate_binding"),
        ),
        (
            "a login's and a system's",
            both,
            false,
            Some(&ours),
            Err("bad_access_token"),
        ),
        (
            "neither a login's nor a system's",
            neither,
            false,
            None,
            Err("bad_access_token"),
        ),
    ];
    for (case, claims, revoked, cert, expected) in cases {
        let got = code(super::bearer_use(&claims, revoked, cert));
        assert_eq!(got, expected, "{case}");
    }
}

#[test]
fn bearer_session_and_acting() {
    let other = person("acc-2", Quality::Patient, LevelOfAssurance::Substantial);
    let cases = [
        ("the token's person's", Some(patient()), Ok(())),
        ("none", None, Err(())),
        ("another person's", Some(other), Err(())),
    ];
    for (case, found, expected) in cases {
        let session = code(super::bearer_session(&access_claims(), found.clone()));
        assert_eq!(
            session.map(|_| ()),
            expected.map_err(|()| "session_ended"),
            "session: {case}"
        );
        let acting = code(super::bearer_acting(&system_claims(), found));
        assert_eq!(
            acting.map(|_| ()),
            expected.map_err(|()| "account_not_active"),
            "acting: {case}"
        );
    }
}

#[test]
fn bearer_system() {
    let cases = [
        ("attested", Some(attested()), Ok(("sys-1", "est-1"))),
        ("unknown", None, Err("unknown_system")),
        (
            "a relying party",
            Some(relying_party(None)),
            Err("unknown_system"),
        ),
        (
            "suspended",
            Some(system(true, now() + Duration::days(1))),
            Err("attestation_suspended"),
        ),
        (
            "expired",
            Some(system(false, now() - Duration::seconds(1))),
            Err("attestation_expired"),
        ),
    ];
    for (case, system, expected) in cases {
        let got = code(super::bearer_system(system.as_ref(), now()));
        assert_eq!(got, expected, "{case}");
    }
}
