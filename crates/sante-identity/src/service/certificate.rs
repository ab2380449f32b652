//! Client certificates (the qualified card, ACC-2): bound to the account at
//! activation, then a login at high assurance. The TLS layer has already checked the
//! chain and the revocation lists; this side checks the binding, the account and the
//! validity dates, and revokes the credentials that a new revocation list names.

use sante_audit::{Actor, Source};
use sante_store::TermQuery;
use sante_types::{CredentialKind, LevelOfAssurance, PeerCertificate, Quality};
use zeroize::Zeroizing;

use super::{ActivationProof, Identity, IdentityError, IdentityResult, NewSession, actor_of};
use crate::model::{Account, Authenticated, Secret};
use crate::secrets;

/// How the session of a mail connection authenticated by a card is named: this prefix
/// and the credential id.
pub(crate) const CERT_SESSION_PREFIX: &str = "cert:";

fn certificate_secret(cert: &PeerCertificate) -> Secret {
    Secret::Certificate {
        sha256: cert.sha256.clone(),
        revocation_key: cert.revocation_key(),
        subject: cert.subject.chars().take(200).collect(),
        not_after: cert.not_after,
    }
}

impl Identity {
    /// The account a certificate is bound to, and its version.
    async fn find_by_certificate(
        &self,
        cert: &PeerCertificate,
    ) -> IdentityResult<Option<(Account, i64)>> {
        self.find_one(TermQuery::exact("cert", cert.sha256.clone()))
            .await
    }

    fn check_validity(&self, cert: &PeerCertificate) -> IdentityResult<()> {
        let now = self.now();
        if now < cert.not_before || now > cert.not_after {
            return Err(IdentityError::Invalid(
                "the certificate is not valid today".into(),
            ));
        }
        Ok(())
    }

    /// Activates an account with the letter's code and binds the certificate the
    /// holder presented (his card) as its credential: logins with it are at high
    /// assurance. A certificate is bound to one account only.
    pub async fn activate_with_certificate(
        &self,
        proof: &ActivationProof<'_>,
        cert: &PeerCertificate,
        source: &Source,
    ) -> IdentityResult<Account> {
        self.check_validity(cert)?;
        if self.find_by_certificate(cert).await?.is_some() {
            return Err(IdentityError::Conflict(
                "this certificate is already bound to an account".into(),
            ));
        }
        let (account, version) = self.check_activation(proof, source).await?;
        if account.quality == Quality::Agent {
            return Err(IdentityError::Invalid(
                "agents' accounts are activated by an administrator".into(),
            ));
        }
        let credentials = vec![self.credential(certificate_secret(cert))];
        self.complete_activation(account, version, proof.email, credentials, source)
            .await
    }

    /// Binds another certificate (a renewed card) to the account of a high-assurance
    /// session.
    pub async fn add_certificate(
        &self,
        who: &Authenticated,
        cert: &PeerCertificate,
        source: &Source,
    ) -> IdentityResult<()> {
        if who.assurance < LevelOfAssurance::High {
            return Err(IdentityError::Invalid(
                "binding a new card needs a login with the current card or a passkey".into(),
            ));
        }
        self.check_validity(cert)?;
        if self.find_by_certificate(cert).await?.is_some() {
            return Err(IdentityError::Conflict(
                "this certificate is already bound to an account".into(),
            ));
        }
        let (mut account, version) = self
            .load(&who.account)
            .await?
            .ok_or_else(|| IdentityError::NotFound("account".into()))?;
        account
            .credentials
            .push(self.credential(certificate_secret(cert)));
        self.save_indexed(&account, version).await?;
        self.trace_update(
            sante_audit::EventKind::IdentityCredentialAdded,
            actor_of(who),
            &who.account,
            source,
        )
        .await
    }

    /// A login with the certificate presented over mutual TLS, in `quality`.
    pub async fn login_certificate(
        &self,
        cert: &PeerCertificate,
        quality: Quality,
        client: &str,
        source: &Source,
    ) -> IdentityResult<(Zeroizing<String>, Authenticated)> {
        let found = self
            .find_by_certificate(cert)
            .await?
            .filter(|(a, _)| a.quality == quality);
        let Some((account, version)) = found else {
            return Err(self.unknown_login(Some(quality), source).await?);
        };
        if let Some((code, error)) = self.login_refusal(&account, source) {
            self.deny_login(&account, code, source).await?;
            return Err(error);
        }
        let Some(credential) = account.credentials.iter().find(
            |c| matches!(&c.secret, Secret::Certificate { sha256, .. } if secrets::same(sha256, &cert.sha256)),
        ) else {
            return Err(self.unknown_login(Some(quality), source).await?);
        };
        if !credential.is_active() {
            self.deny_login(&account, "credential_revoked", source)
                .await?;
            return Err(IdentityError::CredentialRevoked);
        }
        if self.check_validity(cert).is_err() {
            self.deny_login(&account, "certificate_expired", source)
                .await?;
            return Err(IdentityError::CredentialRevoked);
        }
        self.check_method_change(&account, source).await?;
        let credential_ids = vec![credential.id.clone()];
        self.open_session(
            account,
            version,
            NewSession {
                assurance: LevelOfAssurance::High,
                credential: CredentialKind::ClientCertificate,
                credential_ids,
                client,
            },
            source,
        )
        .await
    }

    /// Authenticates a mail program by the card certificate it presented over TLS
    /// (SMTP AUTH EXTERNAL, IMAP and POP3 on the card listeners): like
    /// [`Identity::authenticate_app_password`], a connection of its own that opens
    /// `service` only, traced, checked again by [`Identity::recheck_mail_credential`].
    pub async fn authenticate_certificate_for(
        &self,
        cert: &PeerCertificate,
        service: sante_types::Service,
        source: &Source,
    ) -> IdentityResult<Authenticated> {
        let found = self
            .find_by_certificate(cert)
            .await?
            .filter(|(a, _)| a.quality == Quality::Professional);
        let Some((account, _)) = found else {
            return Err(self
                .unknown_login(Some(Quality::Professional), source)
                .await?);
        };
        if let Some((code, error)) = self.login_refusal(&account, source) {
            self.deny_login(&account, code, source).await?;
            return Err(error);
        }
        let Some(credential) = account.credentials.iter().find(
            |c| matches!(&c.secret, Secret::Certificate { sha256, .. } if secrets::same(sha256, &cert.sha256)),
        ) else {
            return Err(self.unknown_login(Some(Quality::Professional), source).await?);
        };
        if !credential.is_active() {
            self.deny_login(&account, "credential_revoked", source)
                .await?;
            return Err(IdentityError::CredentialRevoked);
        }
        if self.check_validity(cert).is_err() {
            self.deny_login(&account, "certificate_expired", source)
                .await?;
            return Err(IdentityError::CredentialRevoked);
        }
        let who = Authenticated {
            session: format!("{CERT_SESSION_PREFIX}{}", credential.id),
            account: account.id.clone(),
            login: crate::service::normalise_login(&account.login),
            subject: account.subject.clone(),
            quality: account.quality,
            assurance: LevelOfAssurance::High,
            credential: CredentialKind::ClientCertificate,
            scope: Some(service),
        };
        self.trace(
            sante_audit::EventKind::IdentityLoginSucceeded,
            actor_of(&who),
            sante_audit::Action::Execute,
            Some(&account.id),
            source,
            sante_audit::Outcome::Success,
        )
        .await?;
        Ok(who)
    }

    /// Revokes the bound certificates that a revocation list names (issuer and
    /// serial, see [`sante_types::revocation_key`]); their sessions end at once.
    /// Returns how many credentials were revoked; those already revoked are skipped.
    pub async fn revoke_listed_certificates(
        &self,
        revocation_keys: &[String],
        source: &Source,
    ) -> IdentityResult<usize> {
        let mut revoked = 0;
        for key in revocation_keys {
            let accounts = self
                .db()
                .search(
                    super::ACCOUNTS,
                    &[TermQuery::exact(
                        "cert-revocation",
                        secrets::sha256_hex(key),
                    )],
                    None,
                    10,
                )
                .await?;
            for id in accounts {
                let Some((account, _)) = self.load(&id).await? else {
                    continue;
                };
                let hits: Vec<String> = account
                    .active(CredentialKind::ClientCertificate)
                    .filter(|c| {
                        matches!(&c.secret, Secret::Certificate { revocation_key, .. } if revocation_key == key)
                    })
                    .map(|c| c.id.clone())
                    .collect();
                for credential in hits {
                    self.revoke_credential(Actor::platform(), &id, Some(&credential), source)
                        .await?;
                    revoked += 1;
                }
            }
        }
        Ok(revoked)
    }
}
