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
mod terms;

use axum::Router;
use axum::extract::FromRef;
use axum::routing::{get, post};
use sante_http::{Kernel, NavItem};

use i18n::Msg;

/// What the portal's handlers share.
#[derive(Clone)]
pub struct PortalArea {
    kernel: Kernel,
    directory: sante_directory::Directory,
    sso: sante_sso::Provider,
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
    ) -> PortalArea {
        PortalArea {
            kernel,
            directory,
            sso,
        }
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

/// The portal's routes.
pub fn routes(area: PortalArea) -> Router {
    Router::new()
        .route("/", get(home::home))
        .route("/directory", get(directory::search_page))
        .route(
            "/login",
            get(account::login_page).post(account::login_submit),
        )
        .route(
            "/activate",
            get(account::activate_page).post(account::activate_submit),
        )
        .route("/account", get(account::account_page))
        .route("/account/sessions/end", post(account::end_session))
        .route("/account/lost", post(account::report_lost))
        .route("/logout", post(account::logout))
        .route(
            "/login/certificate",
            get(credentials::card_login_form).post(credentials::card_login_submit),
        )
        .route(
            "/activate/certificate",
            get(credentials::card_activate_form).post(credentials::card_activate_submit),
        )
        .route(
            "/login/passkey/begin",
            post(credentials::passkey_login_begin),
        )
        .route(
            "/login/passkey/finish",
            post(credentials::passkey_login_finish),
        )
        .route(
            "/activate/passkey/begin",
            post(credentials::passkey_activation_begin),
        )
        .route(
            "/activate/passkey/finish",
            post(credentials::passkey_activation_finish),
        )
        .route(
            "/account/passkey/begin",
            post(credentials::passkey_enrolment_begin),
        )
        .route(
            "/account/passkey/finish",
            post(credentials::passkey_enrolment_finish),
        )
        .route(
            "/account/app-passwords",
            post(credentials::create_app_password),
        )
        .route(
            "/account/app-passwords/revoke",
            post(credentials::revoke_app_password),
        )
        .route("/static/webauthn.js", get(credentials::webauthn_script))
        .route("/terms", get(terms::terms_page))
        .route("/terms/accept", post(terms::accept))
        .with_state(area)
}

#[cfg(test)]
mod tests;
