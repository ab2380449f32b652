//! Which service a session may reach: each service declares the minimum level of
//! assurance it needs per quality (ACC-5); below it, or for a quality it does not
//! serve, the service is not offered. The one decision front ends ask before routing a
//! person to a service.

use sante_types::{Coded, ErrorKind, LevelOfAssurance, Quality, Service};

use crate::model::Authenticated;

/// Why a session may not reach a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ServiceRefusal {
    #[error("the service is not offered to this quality")]
    QualityNotServed,
    #[error("the service needs a stronger login (level {needed})")]
    AssuranceTooLow { needed: &'static str },
    #[error("this credential opens another service only")]
    OutOfScope,
}

impl ServiceRefusal {
    /// The reason recorded in the trace.
    pub fn reason(self) -> &'static str {
        match self {
            ServiceRefusal::QualityNotServed => "quality_not_served",
            ServiceRefusal::AssuranceTooLow { .. } => "assurance_too_low",
            ServiceRefusal::OutOfScope => "credential_out_of_scope",
        }
    }
}

impl Coded for ServiceRefusal {
    fn code(&self) -> &'static str {
        match self {
            ServiceRefusal::QualityNotServed => "IDN040",
            ServiceRefusal::AssuranceTooLow { .. } => "IDN041",
            ServiceRefusal::OutOfScope => "IDN042",
        }
    }

    fn kind(&self) -> ErrorKind {
        ErrorKind::Denied
    }
}

/// The minimum level of assurance of `service` for `quality`, or `None` when the
/// service does not serve that quality at all.
pub fn minimum_assurance(service: Service, quality: Quality) -> Option<LevelOfAssurance> {
    use LevelOfAssurance::*;
    use Quality::*;
    match (service, quality) {
        // The shared care record: professionals with a qualified product, patients
        // with a second factor at least (ACC-2, ACC-5).
        (Service::Dsp, Professional) => Some(High),
        (Service::Dsp, Patient) => Some(Substantial),
        (Service::Dsp, Agent) => None,
        // Secure messaging is for professionals only (MSG-1).
        (Service::Messaging, Professional) => Some(High),
        (Service::Messaging, _) => None,
        // The referring-doctor scheme: patients declare, professionals read.
        (Service::Referent, Professional) => Some(High),
        (Service::Referent, Patient) => Some(Substantial),
        (Service::Referent, Agent) => None,
        // The patient directory and identity vigilance: agents and professionals;
        // the directory's own policy refines it.
        (Service::Directory, Patient) => Some(Substantial),
        (Service::Directory, Professional) => Some(High),
        (Service::Directory, Agent) => Some(Low),
        // One's own account and the portal's pages: any login.
        (Service::Identity | Service::Portal, _) => Some(Low),
        (Service::Platform, _) => None,
    }
}

/// May this session reach `service`?
pub fn authorise_service(who: &Authenticated, service: Service) -> Result<(), ServiceRefusal> {
    if who.scope.is_some_and(|scope| scope != service) {
        return Err(ServiceRefusal::OutOfScope);
    }
    match minimum_assurance(service, who.quality) {
        None => Err(ServiceRefusal::QualityNotServed),
        Some(needed) if who.assurance < needed => Err(ServiceRefusal::AssuranceTooLow {
            needed: needed.as_str(),
        }),
        Some(_) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sante_types::CredentialKind;

    fn who(quality: Quality, assurance: LevelOfAssurance) -> Authenticated {
        Authenticated {
            session: "s".into(),
            account: "a".into(),
            login: "l".into(),
            subject: "x".into(),
            quality,
            assurance,
            credential: CredentialKind::Password,
            scope: None,
        }
    }

    #[test]
    fn low_assurance_never_reaches_the_dsp_or_messaging() {
        for q in [Quality::Patient, Quality::Professional, Quality::Agent] {
            for s in [Service::Dsp, Service::Messaging] {
                assert!(authorise_service(&who(q, LevelOfAssurance::Low), s).is_err());
            }
        }
        assert_eq!(
            authorise_service(
                &who(Quality::Professional, LevelOfAssurance::Substantial),
                Service::Dsp
            ),
            Err(ServiceRefusal::AssuranceTooLow { needed: "high" })
        );
        assert!(
            authorise_service(
                &who(Quality::Patient, LevelOfAssurance::Substantial),
                Service::Dsp
            )
            .is_ok()
        );
        assert_eq!(
            authorise_service(
                &who(Quality::Patient, LevelOfAssurance::High),
                Service::Messaging
            ),
            Err(ServiceRefusal::QualityNotServed)
        );
        assert_eq!(
            authorise_service(&who(Quality::Agent, LevelOfAssurance::High), Service::Dsp),
            Err(ServiceRefusal::QualityNotServed)
        );
    }

    #[test]
    fn a_scoped_credential_opens_its_service_only() {
        let mut mail = who(Quality::Professional, LevelOfAssurance::High);
        mail.credential = CredentialKind::ApplicationPassword;
        mail.scope = Some(Service::Messaging);
        assert!(authorise_service(&mail, Service::Messaging).is_ok());
        for other in [
            Service::Dsp,
            Service::Portal,
            Service::Identity,
            Service::Directory,
        ] {
            assert_eq!(
                authorise_service(&mail, other),
                Err(ServiceRefusal::OutOfScope)
            );
        }
    }
}
