//! The portal's own pages: the home page, the public professional search (DIR-1),
//! login and activation with a password and authenticator, a card (on the listener
//! that asks for client certificates) or a passkey, the holder's account (sessions,
//! credentials, application passwords for mail programs, lost means), the terms of
//! use (TOU-1, TOU-2), and the autoconfiguration of mail programs.
//!
//! Every decision is the security directory's, the terms service's or the
//! directory's; these handlers read forms and render pages.
//!
//! Architecture invariant: a web area over platform contexts only (identity, terms,
//! directory, single sign-on), never a service; it reaches data only through their
//! APIs.

// Helpers return a ready `Response` as their error, which the handler returns at once:
// its size does not matter.
#![allow(clippy::result_large_err)]

mod account;
mod credentials;
mod directory;
mod home;
mod i18n;
pub mod mail_setup;
mod my_data;
pub mod pki;
mod terms;

use std::sync::Arc;

use axum::extract::FromRef;
use sante_http::PersonalData;
use sante_http::{Access, Area, Routes};
use sante_http::{Kernel, NavItem};

use i18n::Msg;

/// What the portal's handlers share.
#[derive(Clone)]
pub struct PortalArea {
    kernel: Kernel,
    directory: sante_directory::Directory,
    sso: sante_sso::Provider,
    /// Whether the platform runs secure messaging (the home page says so).
    messaging: bool,
    /// The trail, read for a person's own events (PRV-1).
    trail: sante_audit::Trail,
    /// What each service the platform runs processes about a person (PRV-1).
    personal_data: Arc<[Arc<dyn PersonalData>]>,
}

impl FromRef<PortalArea> for Kernel {
    fn from_ref(area: &PortalArea) -> Kernel {
        area.kernel.clone()
    }
}

impl PortalArea {
    pub fn new(
        kernel: Kernel,
        directory: sante_directory::Directory,
        sso: sante_sso::Provider,
        trail: sante_audit::Trail,
    ) -> PortalArea {
        PortalArea {
            kernel,
            directory,
            sso,
            messaging: false,
            trail,
            personal_data: Arc::new([]),
        }
    }

    /// The services whose part of a person's data "my data" lists.
    pub fn with_personal_data(mut self, sources: Vec<Arc<dyn PersonalData>>) -> PortalArea {
        self.personal_data = sources.into();
        self
    }

    /// The portal of a platform that runs secure messaging.
    pub fn with_messaging(mut self, messaging: bool) -> PortalArea {
        self.messaging = messaging;
        self
    }

    fn identity(&self) -> &sante_identity::Identity {
        self.kernel.identity()
    }

    fn terms(&self) -> &sante_terms::Terms {
        self.kernel.terms()
    }
}

/// The portal's entries of the main navigation.
pub fn nav() -> Vec<NavItem> {
    vec![
        NavItem::new(0, "/", &["/"], Msg::NavHome),
        NavItem::new(10, "/directory", &["/directory"], Msg::NavDirectory),
        NavItem::new(
            90,
            "/account",
            &["/account", "/login", "/activate", "/terms", "/logout"],
            Msg::NavAccount,
        ),
    ]
}

/// The portal's routes: the public pages and the forms that sign in are open to
/// all; the account's pages and forms need a session.
pub fn routes(area: PortalArea) -> Area {
    use Access::{Public, SignedIn};
    Routes::new()
        .get("/", Public, home::home)
        .get("/directory", Public, directory::search_page)
        .get("/login", Public, account::login_page)
        .post("/login", Public, account::login_submit)
        .get("/activate", Public, account::activate_page)
        .post("/activate", Public, account::activate_submit)
        .get("/account", SignedIn, account::account_page)
        .post("/account/sessions/end", SignedIn, account::end_session)
        .post("/account/lost", SignedIn, account::report_lost)
        .get("/account/data", SignedIn, my_data::my_data_page)
        .get("/account/data.json", SignedIn, my_data::my_data_download)
        .post("/logout", SignedIn, account::logout)
        .get("/login/certificate", Public, credentials::card_login_form)
        .post("/login/certificate", Public, credentials::card_login_submit)
        .get(
            "/activate/certificate",
            Public,
            credentials::card_activate_form,
        )
        .post(
            "/activate/certificate",
            Public,
            credentials::card_activate_submit,
        )
        .post(
            "/login/passkey/begin",
            Public,
            credentials::passkey_login_begin,
        )
        .post(
            "/login/passkey/finish",
            Public,
            credentials::passkey_login_finish,
        )
        .post(
            "/activate/passkey/begin",
            Public,
            credentials::passkey_activation_begin,
        )
        .post(
            "/activate/passkey/finish",
            Public,
            credentials::passkey_activation_finish,
        )
        .post(
            "/account/passkey/begin",
            SignedIn,
            credentials::passkey_enrolment_begin,
        )
        .post(
            "/account/passkey/finish",
            SignedIn,
            credentials::passkey_enrolment_finish,
        )
        .post(
            "/account/app-passwords",
            SignedIn,
            credentials::create_app_password,
        )
        .post(
            "/account/app-passwords/revoke",
            SignedIn,
            credentials::revoke_app_password,
        )
        .get("/static/webauthn.js", Public, credentials::webauthn_script)
        .get("/terms", SignedIn, terms::terms_page)
        .post("/terms/accept", SignedIn, terms::accept)
        .with_state(area)
}

#[cfg(test)]
mod tests;
