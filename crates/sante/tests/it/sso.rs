//! Single sign-on end to end: an independent OpenID Connect client library
//! (`openidconnect`, from crates.io) discovers the running provider, runs the
//! authorization code flow with PKCE for a patient who logs in on the portal, and
//! validates the ID token (signature from the JWKS, issuer, audience, nonce, expiry,
//! at_hash); then userinfo, refresh, introspection, revocation, and a logout that
//! reaches the application through a back-channel logout token.

use base64::Engine;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreProviderMetadata, CoreUserInfoClaims,
};
use openidconnect::{
    AccessTokenHash, AuthorizationCode, ClientId, ClientSecret, CsrfToken, IntrospectionUrl,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, RedirectUrl, RevocationUrl, Scope,
    TokenIntrospectionResponse, TokenResponse,
};
use sante_identity::secrets;

use crate::harness::*;

fn field(text: &str, label: &str) -> String {
    text.lines()
        .find_map(|l| l.split_once(label).map(|(_, v)| v))
        .unwrap_or_else(|| panic!("no {label:?} in:\n{text}"))
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

fn unix_now() -> u64 {
    use sante_types::Clock;
    sante_types::SystemClock.now().timestamp() as u64
}

/// The value of the hidden input `name` (or of the element with id `id`) in a page.
fn input_value(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no input {name} in:\n{page}"))
        + marker.len();
    page[start..].split('"').next().unwrap().to_owned()
}

fn element_text(page: &str, id: &str) -> String {
    let marker = format!("id=\"{id}\">");
    let start = page
        .find(&marker)
        .unwrap_or_else(|| panic!("no element {id} in:\n{page}"))
        + marker.len();
    page[start..].split('<').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_independent_openid_connect_client_completes_the_code_flow() {
    let (dir, _) = init_dir();
    let out = run(
        dir.path(),
        &[
            "directory",
            "registers",
            "--out",
            "regs",
            "--patients",
            "30",
            "--professionals",
            "3",
            "--establishments",
            "1",
            "--seed",
            "5",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let out = run(dir.path(), &["import", "patients", "regs/patients.csv"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut reader = csv::Reader::from_path(dir.path().join("regs/patients.csv")).unwrap();
    let (nin, letter) = reader
        .records()
        .map(|r| r.unwrap()[0].to_owned())
        .take(20)
        .find_map(|nin| {
            let out = run(
                dir.path(),
                &["account", "create", "patient", "--national-id", &nin],
            );
            out.status.success().then(|| (nin, stdout(&out)))
        })
        .unwrap();
    let login = field(&letter, "login name:");
    let code = field(&letter, "activation code:");

    let (port, logouts) = receiver().await;
    let callback = format!("http://127.0.0.1:{port}/callback");
    // Bad registrations are refused with the key named.
    let bad = run(
        dir.path(),
        &[
            "sso",
            "register-client",
            "--name",
            "x",
            "--redirect-uri",
            "http://example.lu/cb",
            "--service",
            "dsp",
        ],
    );
    assert!(!bad.status.success());
    assert!(stderr(&bad).contains("redirect URI"), "{}", stderr(&bad));
    let registered = run(
        dir.path(),
        &[
            "sso",
            "register-client",
            "--name",
            "Test application",
            "--redirect-uri",
            &callback,
            "--post-logout-uri",
            &format!("http://127.0.0.1:{port}/bye"),
            "--backchannel-logout-uri",
            &format!("http://127.0.0.1:{port}/backchannel"),
            "--service",
            "dsp",
        ],
    );
    assert!(registered.status.success(), "{}", stderr(&registered));
    let client_id = field(&stdout(&registered), "client_id:");
    let client_secret = field(&stdout(&registered), "client_secret:");

    let server = Server::start(dir.path(), &["serve"]);
    let ca = reqwest::Certificate::from_pem(&std::fs::read(dir.path().join("tls/ca.crt")).unwrap())
        .unwrap();
    // The user's browser: cookies, no automatic redirects (the test follows them).
    let browser = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca.clone())
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // The application's own HTTP client, for the library.
    let http = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(ca)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // The patient activates his account (password and authenticator).
    let page = browser
        .get(format!("{}/activate", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = input_value(&page, "csrf");
    let seed = element_text(&page, "totp-secret");
    let password = "a long sentence to remember";
    let activated = browser
        .post(format!("{}/activate", server.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("login", &login),
            ("national_id", &nin),
            ("code", &code),
            ("email", "patient@example.lu"),
            ("password", password),
            ("password_again", password),
            ("totp_seed", &seed),
            ("totp_code", &secrets::totp_code(&seed, unix_now()).unwrap()),
        ])
        .send()
        .await
        .unwrap();
    assert!(activated.text().await.unwrap().contains("id=\"activated\""));

    // The library discovers the provider and builds the authorization request.
    let issuer = IssuerUrl::new(server.base.clone()).unwrap();
    let metadata = CoreProviderMetadata::discover_async(issuer, &http)
        .await
        .unwrap();
    let discovery: serde_json::Value = http
        .get(format!("{}/.well-known/openid-configuration", server.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let client = CoreClient::from_provider_metadata(
        metadata,
        ClientId::new(client_id.clone()),
        Some(ClientSecret::new(client_secret.clone())),
    )
    .set_redirect_uri(RedirectUrl::new(callback.clone()).unwrap())
    .set_introspection_url(
        IntrospectionUrl::new(
            discovery["introspection_endpoint"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
        .unwrap(),
    )
    .set_revocation_url(
        RevocationUrl::new(
            discovery["revocation_endpoint"]
                .as_str()
                .unwrap()
                .to_owned(),
        )
        .unwrap(),
    );
    let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, state, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();

    // Not logged in: the portal's login page, which comes back to the request.
    let to_login = browser.get(url.as_str()).send().await.unwrap();
    assert_eq!(to_login.status(), 303);
    let location = to_login.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with("/login?continue="), "{location}");
    let page = browser
        .get(format!("{}{location}", server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = input_value(&page, "csrf");
    let continue_to = input_value(&page, "continue")
        .replace("&#38;", "&")
        .replace("&amp;", "&");
    assert!(continue_to.starts_with("/oidc/authorize?"), "{continue_to}");
    let logged_in = browser
        .post(format!("{}/login", server.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("quality", "patient"),
            ("login", &login),
            ("password", password),
            ("code", &secrets::totp_code(&seed, unix_now() + 30).unwrap()),
            ("continue", &continue_to),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(logged_in.status(), 303);
    assert_eq!(
        logged_in.headers()["location"].to_str().unwrap(),
        continue_to
    );
    let back = browser
        .get(format!("{}{continue_to}", server.base))
        .send()
        .await
        .unwrap();
    if back.status() != 303 {
        let (_, lines) = server.stop_with_output();
        panic!(
            "DEBUG {continue_to} {}",
            lines
                .iter()
                .filter(|l| l.contains("ERROR") || l.contains("error"))
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
    let redirect = reqwest::Url::parse(back.headers()["location"].to_str().unwrap()).unwrap();
    assert!(redirect.as_str().starts_with(&callback), "{redirect}");
    let param = |name: &str| {
        redirect
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.to_string())
    };
    assert_eq!(param("state").as_deref(), Some(state.secret().as_str()));
    assert_eq!(param("iss").as_deref(), Some(server.base.as_str()));

    // The code for tokens, and the library validates the ID token.
    let tokens = client
        .exchange_code(AuthorizationCode::new(param("code").unwrap()))
        .unwrap()
        .set_pkce_verifier(verifier)
        .request_async(&http)
        .await
        .unwrap();
    let id_token = tokens.id_token().expect("an ID token");
    let id_verifier = client.id_token_verifier();
    let claims = id_token.claims(&id_verifier, &nonce).unwrap();
    assert_eq!(claims.issuer().as_str(), server.base);
    assert_eq!(claims.audiences()[0].as_str(), client_id);
    assert_eq!(
        claims.auth_context_ref().map(|a| a.as_str()),
        Some("urn:sante:loa:substantial")
    );
    let methods: Vec<String> = claims
        .auth_method_refs()
        .unwrap()
        .iter()
        .map(|m| m.as_str().to_owned())
        .collect();
    assert_eq!(methods, ["pwd", "otp", "mfa"]);
    let expected_hash = AccessTokenHash::from_token(
        tokens.access_token(),
        id_token.signing_alg().unwrap(),
        id_token.signing_key(&id_verifier).unwrap(),
    )
    .unwrap();
    assert_eq!(claims.access_token_hash(), Some(&expected_hash));

    // Userinfo, with the library.
    let info: CoreUserInfoClaims = client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    assert_eq!(
        info.preferred_username().map(|u| u.as_str()),
        Some(login.as_str())
    );

    // Refresh: a new pair (the old refresh token is tried again at the end).
    let refresh = tokens.refresh_token().unwrap().clone();
    let refreshed = client
        .exchange_refresh_token(&refresh)
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    let new_refresh = refreshed.refresh_token().unwrap().clone();
    assert_ne!(new_refresh.secret(), refresh.secret());

    // Introspection says the new access token is active; revoked, it is not.
    let active = client
        .introspect(refreshed.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert!(active.active());
    client
        .revoke_token(openidconnect::core::CoreRevocableToken::AccessToken(
            refreshed.access_token().clone(),
        ))
        .unwrap()
        .request_async(&http)
        .await
        .unwrap();
    let inactive = client
        .introspect(refreshed.access_token())
        .request_async(&http)
        .await
        .unwrap();
    assert!(!inactive.active());

    // RP-initiated logout: back to the application, which also gets a back-channel
    // logout token for the session; every token of it is dead.
    let out = browser
        .get(format!("{}/oidc/logout", server.base))
        .query(&[
            ("id_token_hint", id_token.to_string().as_str()),
            (
                "post_logout_redirect_uri",
                &format!("http://127.0.0.1:{port}/bye"),
            ),
            ("state", "bye-state"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 303);
    assert_eq!(
        out.headers()["location"].to_str().unwrap(),
        format!("http://127.0.0.1:{port}/bye?state=bye-state")
    );
    let body = logouts
        .lock()
        .unwrap()
        .first()
        .cloned()
        .expect("a back-channel logout token");
    let token = body.strip_prefix("logout_token=").unwrap();
    let payload = token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["aud"], client_id.as_str());
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(claims["sid"].is_string());
    assert!(
        client
            .exchange_refresh_token(&new_refresh)
            .unwrap()
            .request_async(&http)
            .await
            .is_err()
    );
    assert!(
        client
            .exchange_refresh_token(&refresh)
            .unwrap()
            .request_async(&http)
            .await
            .is_err()
    );
    let page = browser
        .get(format!("{}/account", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 303, "the portal session ended too");

    // A bearer token of nobody, and a client with the wrong secret, are refused.
    let bad_client = CoreClient::from_provider_metadata(
        CoreProviderMetadata::discover_async(IssuerUrl::new(server.base.clone()).unwrap(), &http)
            .await
            .unwrap(),
        ClientId::new(client_id.clone()),
        Some(ClientSecret::new("wrong".into())),
    )
    .set_redirect_uri(RedirectUrl::new(callback).unwrap());
    assert!(
        bad_client
            .exchange_code(AuthorizationCode::new("x".into()))
            .unwrap()
            .request_async(&http)
            .await
            .is_err()
    );
    let userinfo = http
        .get(format!("{}/oidc/userinfo", server.base))
        .bearer_auth("not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(userinfo.status(), 401);
    // A malformed authorization request is a plain refusal, never a redirect.
    let broken = browser
        .get(format!("{}/oidc/authorize?response_type=code", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400);
    assert!(server.stop().success());
}
