//! The provider on both storage backends, with the real identity service, a real audit
//! trail and a clock moved by hand.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use sante_audit::testing::TestPlatform;
use sante_identity::{Activation, Administrator, NewAccount, PasswordLogin, secrets};
use sante_store::storage_test;
use sante_types::{ManualClock, PeerCertificate, Quality};

use super::claims::IdClaims;
use super::*;

const PASSWORD: &str = "correct horse battery";
const REDIRECT: &str = "https://app.example.lu/callback";

struct Fixture {
    provider: Provider,
    identity: Identity,
    clock: Arc<ManualClock>,
    platform: TestPlatform,
}

/// Who works where, as the directories would say.
struct Staff(Vec<(String, String)>);

impl StaffDirectory for Staff {
    fn works_at<'a>(
        &'a self,
        professional: &'a str,
        establishment: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<bool, String>> + Send + 'a>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .any(|(p, e)| p == professional && e == establishment))
        })
    }
}

async fn fixture(db: Db) -> Fixture {
    let platform = TestPlatform::new(db, Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap()).await;
    let identity = Identity::new(
        platform.db.clone(),
        platform.recorder(),
        platform.clock.clone(),
    );
    let provider = Provider::open(
        platform.db.clone(),
        platform.blobs.clone(),
        identity.clone(),
        platform.recorder(),
        platform.clock.clone(),
        "https://portal.example.lu",
    )
    .await
    .unwrap()
    .with_staff_directory(Arc::new(Staff(vec![(
        "pro-1".to_owned(),
        "est-1".to_owned(),
    )])));
    Fixture {
        provider,
        identity,
        clock: platform.clock.clone(),
        platform,
    }
}

fn web() -> Source {
    Source::default()
}

fn challenge(verifier: &str) -> String {
    B64.encode(Sha256::digest(verifier.as_bytes()))
}

const VERIFIER: &str = "a-verifier-of-forty-three-characters-or-more-0123";

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name).then(|| {
            let mut out = Vec::new();
            let bytes = v.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' && i + 2 < bytes.len() + 1 {
                    out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap());
                    i += 3;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            String::from_utf8(out).unwrap()
        })
    })
}

impl Fixture {
    /// A patient logged in with password and one-time code (substantial).
    async fn patient_session(&self) -> Authenticated {
        let letter = self
            .identity
            .create_account(
                &Administrator::Operator,
                NewAccount {
                    quality: Quality::Patient,
                    subject: "pat-1".into(),
                    national_id: "1978040912345".into(),
                },
                &web(),
            )
            .await
            .unwrap();
        let seed = secrets::new_totp_secret();
        let unix = |c: &ManualClock| c.now().timestamp() as u64;
        self.identity
            .activate(
                &Activation {
                    login: &letter.account.login,
                    national_id: "1978040912345",
                    code: &letter.code,
                    email: "p@example.lu",
                    password: PASSWORD,
                    totp_seed: &seed,
                    totp_code: &secrets::totp_code(&seed, unix(&self.clock)).unwrap(),
                },
                &web(),
            )
            .await
            .unwrap();
        self.clock.advance(Duration::seconds(30));
        let (_, who) = self
            .identity
            .login_password(
                &PasswordLogin {
                    login: &letter.account.login,
                    quality: Quality::Patient,
                    password: PASSWORD,
                    totp_code: Some(&secrets::totp_code(&seed, unix(&self.clock)).unwrap()),
                    client: "test",
                },
                &web(),
            )
            .await
            .unwrap();
        who
    }

    async fn relying_party(&self, services: Vec<Service>) -> (Client, String) {
        let (client, secret) = self
            .provider
            .register_relying_party(
                NewRelyingParty {
                    name: "DSP portal".into(),
                    redirect_uris: vec![REDIRECT.into()],
                    post_logout_redirect_uris: vec!["https://app.example.lu/bye".into()],
                    backchannel_logout_uri: None,
                    services,
                    confidential: true,
                },
                &web(),
            )
            .await
            .unwrap();
        (client, secret.unwrap().to_string())
    }

    fn request(&self, client: &Client) -> AuthorizeRequest {
        AuthorizeRequest {
            response_type: "code".into(),
            client_id: client.id.clone(),
            redirect_uri: REDIRECT.into(),
            scope: "openid".into(),
            state: Some("st&te".into()),
            nonce: Some("n-0S6_WzA2Mj".into()),
            code_challenge: Some(challenge(VERIFIER)),
            code_challenge_method: Some("S256".into()),
            acr_values: None,
            prompt: None,
        }
    }

    async fn code(&self, client: &Client, who: &Authenticated) -> String {
        match self
            .provider
            .authorize(&self.request(client), Some(who), &web())
            .await
            .unwrap()
        {
            AuthorizeOutcome::Redirect(url) => {
                assert!(url.starts_with(REDIRECT), "{url}");
                assert_eq!(query_param(&url, "state").as_deref(), Some("st&te"));
                assert_eq!(
                    query_param(&url, "iss").as_deref(),
                    Some("https://portal.example.lu")
                );
                query_param(&url, "code").expect("a code")
            }
            other => panic!("{other:?}"),
        }
    }

    fn creds(client: &Client, secret: &str) -> ClientCredentials {
        ClientCredentials {
            basic: Some((client.id.clone(), secret.to_owned())),
            certificate: None,
        }
    }

    async fn exchange(
        &self,
        client: &Client,
        secret: &str,
        code: &str,
        verifier: &str,
    ) -> SsoResult<TokenResponse> {
        self.provider
            .token(
                &TokenRequest {
                    grant_type: "authorization_code".into(),
                    code: Some(code.into()),
                    redirect_uri: Some(REDIRECT.into()),
                    code_verifier: Some(verifier.into()),
                    ..TokenRequest::default()
                },
                &Self::creds(client, secret),
                &web(),
            )
            .await
    }

    async fn refresh(
        &self,
        client: &Client,
        secret: &str,
        token: &str,
    ) -> SsoResult<TokenResponse> {
        self.provider
            .token(
                &TokenRequest {
                    grant_type: "refresh_token".into(),
                    refresh_token: Some(token.into()),
                    ..TokenRequest::default()
                },
                &Self::creds(client, secret),
                &web(),
            )
            .await
    }
}

impl Fixture {
    /// The demo patient's tokens for a relying party of the DSP, through the code
    /// flow.
    async fn dsp_tokens(&self) -> (Authenticated, Client, String, TokenResponse) {
        let who = self.patient_session().await;
        let (client, secret) = self.relying_party(vec![Service::Dsp]).await;
        let code = self.code(&client, &who).await;
        let tokens = self
            .exchange(&client, &secret, &code, VERIFIER)
            .await
            .unwrap();
        (who, client, secret, tokens)
    }
}

storage_test!(
    the_code_flow_with_pkce_gives_tokens_checked_live_by_services,
    |db: Db| async move {
        let f = fixture(db).await;
        let who = f.patient_session().await;
        let (client, secret) = f.relying_party(vec![Service::Dsp]).await;
        let code = f.code(&client, &who).await;
        // A wrong verifier spends the code.
        assert!(matches!(
            f.exchange(
                &client,
                &secret,
                &code,
                "another-verifier-of-forty-three-characters-xx"
            )
            .await,
            Err(SsoError::InvalidGrant(_))
        ));
        assert!(matches!(
            f.exchange(&client, &secret, &code, VERIFIER).await,
            Err(SsoError::InvalidGrant(_))
        ));
        let code = f.code(&client, &who).await;
        assert!(matches!(
            f.exchange(&client, "wrong secret", &code, VERIFIER).await,
            Err(SsoError::InvalidClient(_))
        ));
        let tokens = f.exchange(&client, &secret, &code, VERIFIER).await.unwrap();
        // A code serves once.
        assert!(f.exchange(&client, &secret, &code, VERIFIER).await.is_err());

        let caller = f
            .provider
            .authenticate_bearer(&tokens.access_token, Service::Dsp, None, &web())
            .await
            .unwrap();
        assert_eq!(caller.who.account, who.account);
        assert_eq!(caller.who.quality, Quality::Patient);
        assert_eq!(caller.who.assurance, LevelOfAssurance::Substantial);
        assert_eq!(caller.who.credential, CredentialKind::PasswordTotp);
        // The token is for the DSP only.
        assert!(matches!(
            f.provider
                .authenticate_bearer(&tokens.access_token, Service::Messaging, None, &web())
                .await,
            Err(SsoError::InvalidToken(_))
        ));
        // The ID token's claims.
        let id: IdClaims = f
            .provider
            .keys
            .verify(
                tokens.id_token.as_deref().unwrap(),
                "JWT",
                "https://portal.example.lu",
                Some(f.clock.now()),
            )
            .unwrap();
        assert_eq!(id.aud, client.id);
        assert_eq!(id.nonce.as_deref(), Some("n-0S6_WzA2Mj"));
        assert_eq!(id.acr, "urn:sante:loa:substantial");
        assert_eq!(id.amr, vec!["pwd", "otp", "mfa"]);
        assert_eq!(id.at_hash, at_hash(&tokens.access_token));
        assert_eq!(id.sid, who.session);
        // Nothing about the person's other qualities or national number.
        let text = serde_json::to_string(&id).unwrap();
        assert!(!text.contains("1978040912345"));

        // Refresh rotates; the old refresh token is dead, and its reuse kills the
        // family.
        let old = tokens.refresh_token.clone().unwrap();
        let next = f.refresh(&client, &secret, &old).await.unwrap();
        let newer = next.refresh_token.clone().unwrap();
        assert_ne!(old, newer);
        assert!(matches!(
            f.refresh(&client, &secret, &old).await,
            Err(SsoError::InvalidGrant(_))
        ));
        assert!(f.refresh(&client, &secret, &newer).await.is_err());
        assert!(
            f.provider
                .authenticate_bearer(&next.access_token, Service::Dsp, None, &web())
                .await
                .is_err()
        );
    }
);

storage_test!(
    forged_and_misused_tokens_are_refused_by_the_services,
    |db: Db| async move {
        let f = fixture(db).await;
        let (_, _, _, tokens) = f.dsp_tokens().await;
        let access = tokens.access_token.clone();
        let id_token = tokens.id_token.clone().unwrap();
        let parts: Vec<&str> = access.split('.').collect();
        let header: serde_json::Value =
            serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
        let mut claims: serde_json::Value =
            serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
        let kid = header["kid"].as_str().unwrap().to_owned();
        let encode = |v: &serde_json::Value| B64.encode(serde_json::to_vec(v).unwrap());

        // `alg: none`, the token's own claims, no signature.
        let unsigned = format!(
            "{}.{}.",
            encode(&serde_json::json!({"alg": "none", "typ": "at+jwt", "kid": kid})),
            parts[1]
        );
        // Algorithm confusion: HS256 keyed with the published public key.
        let jwks = f.provider.keys.jwks();
        let public = jwks["keys"][0]["n"].as_str().unwrap().to_owned();
        let mut hs256 = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        hs256.typ = Some("at+jwt".into());
        hs256.kid = Some(kid.clone());
        let confused = jsonwebtoken::encode(
            &hs256,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(public.as_bytes()),
        )
        .unwrap();
        // The claims changed under the original signature: another person.
        let original_sub = claims["sub"].clone();
        claims["sub"] = "someone-else".into();
        let tampered = format!("{}.{}.{}", parts[0], encode(&claims), parts[2]);
        claims["sub"] = original_sub;
        // The key id removed, or naming a key the platform never had.
        let mut no_kid = header.clone();
        no_kid.as_object_mut().unwrap().remove("kid");
        let without_kid = format!("{}.{}.{}", encode(&no_kid), parts[1], parts[2]);
        let mut foreign = header.clone();
        foreign["kid"] = "not-ours".into();
        let foreign_kid = format!("{}.{}.{}", encode(&foreign), parts[1], parts[2]);
        // The right signature on another type: the ID token used as an access token.
        let cases = [
            ("alg none", unsigned),
            ("HS256 keyed with the public key", confused),
            ("claims changed", tampered),
            ("no key id", without_kid),
            ("an unknown key id", foreign_kid),
            ("the ID token", id_token),
            ("the refresh token", tokens.refresh_token.clone().unwrap()),
            ("empty", String::new()),
            ("three dots", "...".into()),
        ];
        for (case, token) in cases {
            let got = f
                .provider
                .authenticate_bearer(&token, Service::Dsp, None, &web())
                .await;
            assert!(
                matches!(got, Err(SsoError::InvalidToken(_))),
                "{case}: {got:?}"
            );
        }
        // The genuine token still serves, until it expires.
        f.provider
            .authenticate_bearer(&access, Service::Dsp, None, &web())
            .await
            .unwrap();
        f.clock.advance(Duration::hours(2));
        assert!(matches!(
            f.provider
                .authenticate_bearer(&access, Service::Dsp, None, &web())
                .await,
            Err(SsoError::InvalidToken(_))
        ));
    }
);

storage_test!(
    a_revoked_token_is_dead_everywhere_and_others_tokens_stay_private,
    |db: Db| async move {
        let f = fixture(db).await;
        let who = f.patient_session().await;
        let (client, secret) = f.relying_party(vec![Service::Dsp]).await;
        let (other, other_secret) = f.relying_party(vec![Service::Dsp]).await;
        let code = f.code(&client, &who).await;
        let tokens = f.exchange(&client, &secret, &code, VERIFIER).await.unwrap();
        let introspect = |id: &Client, secret: &str| {
            let creds = Fixture::creds(id, secret);
            let provider = f.provider.clone();
            let token = tokens.access_token.clone();
            async move {
                provider
                    .introspect(&token, None, None, &creds, &web())
                    .await
                    .unwrap()
            }
        };
        assert!(introspect(&client, &secret).await.active);
        // Another client learns nothing of it, not even that it exists (RFC 7662 §4).
        let told = introspect(&other, &other_secret).await;
        assert!(!told.active && told.client_id.is_none() && told.sub.is_none());
        assert!(
            f.provider
                .userinfo(&tokens.access_token, &web())
                .await
                .is_ok()
        );

        f.provider
            .revoke(
                &tokens.access_token,
                None,
                None,
                &Fixture::creds(&client, &secret),
                &web(),
            )
            .await
            .unwrap();
        let refused = f.provider.userinfo(&tokens.access_token, &web()).await;
        assert!(
            matches!(&refused, Err(SsoError::InvalidToken(why)) if why.contains("revoked")),
            "{refused:?}"
        );
        assert!(
            f.provider
                .authenticate_bearer(&tokens.access_token, Service::Dsp, None, &web())
                .await
                .is_err()
        );
        assert!(!introspect(&client, &secret).await.active);
        let reasons: Vec<String> = f
            .platform
            .events("platform")
            .await
            .into_iter()
            .filter(|e| e.kind == EventKind::IdentityTokenRefused)
            .filter_map(|e| match e.outcome {
                Outcome::Denied(code) => Some(code.as_str().to_owned()),
                _ => None,
            })
            .collect();
        assert_eq!(
            reasons,
            ["token_revoked", "token_revoked"],
            "userinfo, then the service"
        );
    }
);

storage_test!(logout_reaches_every_token_at_once, |db: Db| async move {
    let f = fixture(db).await;
    let who = f.patient_session().await;
    let (client, secret) = f.relying_party(vec![Service::Dsp]).await;
    let code = f.code(&client, &who).await;
    let tokens = f.exchange(&client, &secret, &code, VERIFIER).await.unwrap();
    let introspected = f
        .provider
        .introspect(
            &tokens.access_token,
            None,
            None,
            &Fixture::creds(&client, &secret),
            &web(),
        )
        .await
        .unwrap();
    assert!(introspected.active);
    assert_eq!(introspected.quality.as_deref(), Some("patient"));

    // Without an ID token of his, a link (or an image on another site) only asks the
    // person: his session and tokens live on.
    for hint in [None, Some("not.a.token")] {
        assert_eq!(
            f.provider
                .end_session(
                    hint,
                    Some("https://app.example.lu/bye"),
                    None,
                    Some(&who),
                    &web()
                )
                .await
                .unwrap(),
            LogoutOutcome::Confirm
        );
    }
    assert!(
        f.provider
            .authenticate_bearer(&tokens.access_token, Service::Dsp, None, &web())
            .await
            .is_ok()
    );
    let outcome = f
        .provider
        .end_session(
            tokens.id_token.as_deref(),
            Some("https://app.example.lu/bye"),
            Some("s1"),
            Some(&who),
            &web(),
        )
        .await
        .unwrap();
    assert_eq!(
        outcome,
        LogoutOutcome::Redirect("https://app.example.lu/bye?state=s1".into())
    );
    assert!(
        f.provider
            .authenticate_bearer(&tokens.access_token, Service::Dsp, None, &web())
            .await
            .is_err()
    );
    assert!(
        !f.provider
            .introspect(
                &tokens.access_token,
                None,
                None,
                &Fixture::creds(&client, &secret),
                &web()
            )
            .await
            .unwrap()
            .active
    );
    assert!(
        f.refresh(&client, &secret, tokens.refresh_token.as_deref().unwrap())
            .await
            .is_err()
    );
    // An unregistered post-logout URI is never a redirect.
    assert_eq!(
        f.provider
            .end_session(
                tokens.id_token.as_deref(),
                Some("https://evil.example/"),
                None,
                None,
                &web()
            )
            .await
            .unwrap(),
        LogoutOutcome::Done
    );
});

storage_test!(
    revocation_and_a_blocked_account_end_tokens,
    |db: Db| async move {
        let f = fixture(db).await;
        let (who, client, secret, tokens) = f.dsp_tokens().await;
        f.provider
            .revoke(
                &tokens.access_token,
                None,
                None,
                &Fixture::creds(&client, &secret),
                &web(),
            )
            .await
            .unwrap();
        assert!(
            f.provider
                .authenticate_bearer(&tokens.access_token, Service::Dsp, None, &web())
                .await
                .is_err()
        );
        // A fresh token from the refresh token, then the account is blocked.
        let next = f
            .refresh(&client, &secret, tokens.refresh_token.as_deref().unwrap())
            .await
            .unwrap();
        f.identity
            .block(&Administrator::Operator, &who.account, "misuse", &web())
            .await
            .unwrap();
        assert!(
            f.provider
                .authenticate_bearer(&next.access_token, Service::Dsp, None, &web())
                .await
                .is_err()
        );
        // An expired access token is refused, whatever the session.
        f.clock.advance(Duration::minutes(10));
        assert!(matches!(
            f.provider
                .authenticate_bearer(&next.access_token, Service::Dsp, None, &web())
                .await,
            Err(SsoError::InvalidToken(_))
        ));
    }
);

storage_test!(the_browser_flow_refuses_what_it_must, |db: Db| async move {
    let f = fixture(db).await;
    let who = f.patient_session().await;
    let (client, _) = f.relying_party(vec![Service::Dsp]).await;
    // An unregistered redirect URI and an unknown client never redirect.
    let mut req = f.request(&client);
    req.redirect_uri = "https://evil.example/cb".into();
    assert!(matches!(
        f.provider.authorize(&req, Some(&who), &web()).await,
        Err(SsoError::UnregisteredRedirect)
    ));
    let mut req = f.request(&client);
    req.client_id = "rp-unknown".into();
    assert!(
        f.provider
            .authorize(&req, Some(&who), &web())
            .await
            .is_err()
    );
    // Without PKCE: an error back to the client.
    let mut req = f.request(&client);
    req.code_challenge = None;
    let AuthorizeOutcome::Redirect(url) = f
        .provider
        .authorize(&req, Some(&who), &web())
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(
        query_param(&url, "error").as_deref(),
        Some("invalid_request")
    );
    // Not logged in: to the login page; with prompt=none: login_required.
    assert_eq!(
        f.provider
            .authorize(&f.request(&client), None, &web())
            .await
            .unwrap(),
        AuthorizeOutcome::Login {
            needed: LevelOfAssurance::Low
        }
    );
    let mut req = f.request(&client);
    req.prompt = Some("none".into());
    let AuthorizeOutcome::Redirect(url) = f.provider.authorize(&req, None, &web()).await.unwrap()
    else {
        panic!()
    };
    assert_eq!(
        query_param(&url, "error").as_deref(),
        Some("login_required")
    );
    // Asking for high: a substantial session must log in again, more strongly.
    let mut req = f.request(&client);
    req.acr_values = Some("urn:sante:loa:high".into());
    assert_eq!(
        f.provider
            .authorize(&req, Some(&who), &web())
            .await
            .unwrap(),
        AuthorizeOutcome::Login {
            needed: LevelOfAssurance::High
        }
    );
    // Messaging serves professionals only: a patient is refused.
    let (mail, _) = f.relying_party(vec![Service::Messaging]).await;
    let AuthorizeOutcome::Redirect(url) = f
        .provider
        .authorize(&f.request(&mail), Some(&who), &web())
        .await
        .unwrap()
    else {
        panic!()
    };
    assert_eq!(query_param(&url, "error").as_deref(), Some("access_denied"));
});

/// An establishment system: its key, certificate facts, and a registered client.
struct System {
    key: rcgen::KeyPair,
    cert: PeerCertificate,
    client: Client,
}

impl Fixture {
    async fn system(&self, services: Vec<Service>) -> System {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = PeerCertificate {
            sha256: hex::encode(Sha256::digest(key.public_key_der())),
            issuer: "CN=Establishment CA".into(),
            serial: "1".into(),
            subject: "CN=hospital-system".into(),
            not_before: self.clock.now() - Duration::days(1),
            not_after: self.clock.now() + Duration::days(365),
            public_key: key.public_key_raw().to_vec(),
            key_algorithm: "ec-p256".into(),
        };
        let client = self
            .provider
            .register_system(
                NewSystem {
                    name: "Hospital system".into(),
                    establishment: "est-1".into(),
                    certificate_sha256: cert.sha256.clone(),
                    attestation_reference: "ATT-2026-001".into(),
                    services,
                    valid_until: self.clock.now() + Duration::days(365),
                },
                &web(),
            )
            .await
            .unwrap();
        System { key, cert, client }
    }

    fn assertion(&self, system: &System, sub: &str, acr_value: &str, jti: &str) -> String {
        let now = self.clock.now().timestamp();
        let claims = serde_json::json!({
            "iss": system.client.id,
            "sub": sub,
            "aud": "https://portal.example.lu/oidc/token",
            "iat": now,
            "exp": now + 120,
            "jti": jti,
            "acr": acr_value,
        });
        let key = jsonwebtoken::EncodingKey::from_ec_der(&system.key.serialize_der());
        jsonwebtoken::encode(
            &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::ES256),
            &claims,
            &key,
        )
        .unwrap()
    }

    async fn system_token(
        &self,
        system: &System,
        assertion: &str,
        cert: Option<&PeerCertificate>,
    ) -> SsoResult<TokenResponse> {
        self.provider
            .token(
                &TokenRequest {
                    grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer".into(),
                    assertion: Some(assertion.into()),
                    client_id: Some(system.client.id.clone()),
                    ..TokenRequest::default()
                },
                &ClientCredentials {
                    basic: None,
                    certificate: cert.cloned(),
                },
                &web(),
            )
            .await
    }

    /// An active professional account for directory entry `subject`.
    async fn professional(&self, subject: &str, nin: &str) {
        let letter = self
            .identity
            .create_account(
                &Administrator::Operator,
                NewAccount {
                    quality: Quality::Professional,
                    subject: subject.into(),
                    national_id: nin.into(),
                },
                &web(),
            )
            .await
            .unwrap();
        let card = PeerCertificate {
            sha256: secrets::sha256_hex(subject),
            issuer: "CN=cards".into(),
            serial: "9".into(),
            subject: "CN=Dr".into(),
            not_before: self.clock.now() - Duration::days(1),
            not_after: self.clock.now() + Duration::days(300),
            public_key: vec![4],
            key_algorithm: "ec-p256".into(),
        };
        self.identity
            .activate_with_certificate(
                &sante_identity::ActivationProof {
                    login: &letter.account.login,
                    national_id: nin,
                    code: &letter.code,
                    email: "dr@example.lu",
                },
                &card,
                &web(),
            )
            .await
            .unwrap();
    }
}

storage_test!(
    a_system_acts_for_its_staff_within_both_rights_until_suspended,
    |db: Db| async move {
        let f = fixture(db).await;
        f.professional("pro-1", "1970010112345").await;
        f.professional("pro-2", "1971010112345").await;
        let system = f.system(vec![Service::Dsp, Service::Referent]).await;
        let cert = system.cert.clone();

        // Without its certificate, or with another one: refused.
        let a = f.assertion(&system, "pro-1", "urn:sante:loa:high", "j1");
        assert!(matches!(
            f.system_token(&system, &a, None).await,
            Err(SsoError::InvalidClient(_))
        ));
        let mut other = cert.clone();
        other.sha256 = "0".repeat(64);
        assert!(matches!(
            f.system_token(&system, &a, Some(&other)).await,
            Err(SsoError::InvalidClient(_))
        ));

        let tokens = f.system_token(&system, &a, Some(&cert)).await.unwrap();
        assert!(tokens.refresh_token.is_none() && tokens.id_token.is_none());
        // The same assertion twice is a replay.
        assert!(matches!(
            f.system_token(&system, &a, Some(&cert)).await,
            Err(SsoError::InvalidGrant(_))
        ));

        // The token is bound to the system's certificate.
        let caller = f
            .provider
            .authenticate_bearer(&tokens.access_token, Service::Dsp, Some(&cert), &web())
            .await
            .unwrap();
        assert_eq!(caller.who.credential, CredentialKind::SystemAssertion);
        assert_eq!(caller.who.assurance, LevelOfAssurance::High);
        assert_eq!(caller.who.subject, "pro-1");
        assert_eq!(
            caller.system.as_ref().map(|(_, e)| e.as_str()),
            Some("est-1")
        );
        assert!(
            f.provider
                .authenticate_bearer(&tokens.access_token, Service::Dsp, None, &web())
                .await
                .is_err()
        );
        // Messaging was not attested: not in the token.
        assert!(
            f.provider
                .authenticate_bearer(
                    &tokens.access_token,
                    Service::Messaging,
                    Some(&cert),
                    &web()
                )
                .await
                .is_err()
        );

        // A professional who does not work there, or a low assurance, gets nothing.
        let b = f.assertion(&system, "pro-2", "urn:sante:loa:high", "j2");
        assert!(matches!(
            f.system_token(&system, &b, Some(&cert)).await,
            Err(SsoError::AccessDenied(_))
        ));
        let c = f.assertion(&system, "pro-1", "urn:sante:loa:low", "j3");
        assert!(matches!(
            f.system_token(&system, &c, Some(&cert)).await,
            Err(SsoError::AccessDenied(_))
        ));
        // An assertion signed by another key is refused.
        let impostor = System {
            key: rcgen::KeyPair::generate().unwrap(),
            cert: cert.clone(),
            client: system.client.clone(),
        };
        let d = f.assertion(&impostor, "pro-1", "urn:sante:loa:high", "j4");
        assert!(matches!(
            f.system_token(&system, &d, Some(&cert)).await,
            Err(SsoError::InvalidGrant(_))
        ));

        // Suspended: the token already issued is refused at its next use, and no new one.
        f.provider
            .set_suspended(
                &system.client.id,
                Some("audit_finding"),
                Actor::platform(),
                &web(),
            )
            .await
            .unwrap();
        assert!(
            f.provider
                .authenticate_bearer(&tokens.access_token, Service::Dsp, Some(&cert), &web())
                .await
                .is_err()
        );
        let e = f.assertion(&system, "pro-1", "urn:sante:loa:high", "j5");
        assert!(matches!(
            f.system_token(&system, &e, Some(&cert)).await,
            Err(SsoError::InvalidClient(_))
        ));
        f.provider
            .set_suspended(&system.client.id, None, Actor::platform(), &web())
            .await
            .unwrap();
        let g = f.assertion(&system, "pro-1", "urn:sante:loa:high", "j6");
        assert!(f.system_token(&system, &g, Some(&cert)).await.is_ok());
    }
);

storage_test!(
    keys_rotate_and_the_previous_one_still_verifies,
    |db: Db| async move {
        let f = fixture(db).await;
        let (_, _, _, tokens) = f.dsp_tokens().await;
        let before = f.provider.jwks()["keys"].as_array().unwrap().len();
        f.provider.rotate_key(&web()).await.unwrap();
        assert_eq!(
            f.provider.jwks()["keys"].as_array().unwrap().len(),
            before + 1
        );
        f.provider
            .authenticate_bearer(&tokens.access_token, Service::Dsp, None, &web())
            .await
            .unwrap();
        // A day later the old key is gone from the set.
        f.clock.advance(Duration::hours(25));
        f.provider.reload_keys().await.unwrap();
        assert_eq!(f.provider.jwks()["keys"].as_array().unwrap().len(), 1);
        let _ = f.platform.db.count(KEYS).await.unwrap();
    }
);

storage_test!(
    tokens_wait_for_the_terms_of_the_service,
    |db: Db| async move {
        let f = fixture(db.clone()).await;
        let terms = sante_terms::Terms::new(db, f.platform.recorder(), f.clock.clone());
        let text = |w: &str| sante_terms::Texts {
            fr: w.into(),
            de: w.into(),
            en: w.into(),
        };
        terms
            .publish(
                sante_terms::Document::General,
                text("T"),
                text("general"),
                &web(),
            )
            .await
            .unwrap();
        let dsp = terms
            .publish(
                sante_terms::Document::Service(Service::Dsp),
                text("T"),
                text("dsp"),
                &web(),
            )
            .await
            .unwrap();
        let provider = f.provider.clone().with_terms(terms.clone());
        let who = f.patient_session().await;
        let (client, _) = f.relying_party(vec![Service::Dsp]).await;
        assert_eq!(
            provider
                .authorize(&f.request(&client), Some(&who), &web())
                .await
                .unwrap(),
            AuthorizeOutcome::Terms {
                services: vec![Service::Dsp]
            }
        );
        terms
            .accept(
                Actor::default(),
                &who.account,
                sante_terms::Document::General,
                1,
                "fr",
                &web(),
            )
            .await
            .unwrap();
        assert!(matches!(
            provider
                .authorize(&f.request(&client), Some(&who), &web())
                .await
                .unwrap(),
            AuthorizeOutcome::Terms { .. }
        ));
        terms
            .accept(
                Actor::default(),
                &who.account,
                dsp.document,
                dsp.version,
                "fr",
                &web(),
            )
            .await
            .unwrap();
        assert!(matches!(
            provider.authorize(&f.request(&client), Some(&who), &web()).await.unwrap(),
            AuthorizeOutcome::Redirect(url) if url.contains("code=")
        ));
    }
);

storage_test!(
    refusals_are_traced_with_their_reason_and_client,
    |db: Db| async move {
        let f = fixture(db).await;
        let who = f.patient_session().await;
        let (client, secret) = f.relying_party(vec![Service::Dsp]).await;
        let (thief, thief_secret) = f.relying_party(vec![Service::Dsp]).await;
        let code = f.code(&client, &who).await;
        assert!(f.exchange(&client, "guess", &code, VERIFIER).await.is_err());
        let tokens = f.exchange(&client, &secret, &code, VERIFIER).await.unwrap();
        assert!(f.exchange(&client, &secret, &code, VERIFIER).await.is_err());
        assert!(
            f.provider
                .authenticate_bearer(&tokens.access_token, Service::Messaging, None, &web())
                .await
                .is_err()
        );
        // Another client presenting the refresh token stole it: the whole family dies,
        // the access token issued with it included.
        let refresh = tokens.refresh_token.unwrap();
        assert!(matches!(
            f.refresh(&thief, &thief_secret, &refresh).await,
            Err(SsoError::InvalidGrant(_))
        ));
        assert!(matches!(
            f.provider
                .authenticate_bearer(&tokens.access_token, Service::Dsp, None, &web())
                .await,
            Err(SsoError::InvalidToken(_))
        ));
        assert!(
            f.provider
                .authorize(
                    &AuthorizeRequest {
                        client_id: "rp-unknown".into(),
                        ..f.request(&client)
                    },
                    Some(&who),
                    &web(),
                )
                .await
                .is_err()
        );

        let refusals: Vec<(String, Option<String>)> = f
            .platform
            .events("platform")
            .await
            .into_iter()
            .filter(|e| e.kind == EventKind::IdentityTokenRefused)
            .map(|e| {
                let Outcome::Denied(reason) = e.outcome else {
                    panic!("a refusal is a denial: {:?}", e.outcome)
                };
                (
                    reason.as_str().to_owned(),
                    e.resource.map(|r| r.id.as_str().to_owned()),
                )
            })
            .collect();
        let named = |c: &Client| Some(c.id.clone());
        assert_eq!(
            refusals,
            vec![
                ("wrong_client_secret".to_owned(), named(&client)),
                ("unknown_code".to_owned(), named(&client)),
                ("wrong_audience".to_owned(), named(&client)),
                ("refresh_other_client".to_owned(), named(&thief)),
                ("token_revoked".to_owned(), named(&client)),
                ("unknown_client".to_owned(), None),
            ]
        );
    }
);
