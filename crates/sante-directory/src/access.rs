//! Who may do what with the directories: the one place where the directory decides
//! access (DIR-1, DIR-2, DIR-5, DIR-6). Every service function asks [`authorise`]
//! before it touches data, and the refusal is traced with the reason it returns.
//!
//! Deny by default: a caller the policy does not know, an action it does not list, or
//! a session below the required level of assurance is refused.

use sante_audit::{Actor, Source, Token};
use sante_types::{Coded, CredentialKind, ErrorKind, LevelOfAssurance, Quality, Service};

use crate::model::AgentRole;

/// Who is asking, as established by the front end's authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    /// Nobody authenticated.
    Anonymous,
    /// The operator running a command on the server itself (`sante import`...).
    Operator,
    /// A platform service calling the directory for its own needs, authenticated by a
    /// credential from the configuration. Until accounts exist (issue 6) this is how
    /// internal services reach the patient directory; accounts will add persons.
    Service { name: String, service: Service },
    /// A person logged in with one quality (accounts, issue 6).
    Person {
        account: String,
        quality: Quality,
        assurance: LevelOfAssurance,
        credential: CredentialKind,
        roles: Vec<AgentRole>,
        /// The establishment's system the person acts through, if any (ACC-3).
        system: Option<String>,
    },
}

impl Caller {
    /// How the caller appears in the audit trail.
    pub fn actor(&self) -> Actor {
        match self {
            Caller::Anonymous => Actor::default(),
            Caller::Operator => Actor::platform(),
            Caller::Service { name, .. } => Actor {
                client_system: Token::new(name.clone()).ok(),
                ..Actor::default()
            },
            Caller::Person {
                account,
                quality,
                assurance,
                credential,
                system,
                ..
            } => Actor {
                person: Token::new(account.clone()).ok(),
                quality: Some(*quality),
                assurance: Some(*assurance),
                credential: Some(*credential),
                client_system: system.as_ref().and_then(|s| Token::new(s.clone()).ok()),
                ..Actor::default()
            },
        }
    }
}

/// A request to the directory: who asks, and from where (for the trace).
#[derive(Debug, Clone)]
pub struct Request {
    pub caller: Caller,
    pub source: Source,
}

impl Request {
    pub fn new(caller: Caller, source: Source) -> Request {
        Request { caller, source }
    }

    /// A command run by the operator on the server.
    pub fn operator() -> Request {
        Request {
            caller: Caller::Operator,
            source: Source {
                channel: Token::new("cli").ok(),
                ..Source::default()
            },
        }
    }
}

/// What the caller wants to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DirectoryAction {
    /// Read or search the professional directory: public (DIR-1).
    ReadProfessionals,
    /// Read, search or match patient identities (DIR-2, DIR-5).
    ReadPatients,
    /// Create or update a patient identity (search-before-create).
    WritePatients,
    /// Load official registers (the operator's feeds).
    ImportRegisters,
    /// See the review queue, merge, unmerge, decide (DIR-6).
    IdentityVigilance,
    /// Delete agents' data past retention (DIR-7).
    Purge,
}

/// Why access was refused; the code is what the trace records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("authentication is required")]
    NotAuthenticated,
    #[error("this service does not need the patient directory")]
    ServiceNotEntitled,
    #[error("this quality may not do this in the directory")]
    QualityNotEntitled,
    #[error("the session's level of assurance is too low")]
    AssuranceTooLow,
    #[error("only identity-vigilance staff may do this")]
    NotIdentityVigilance,
    #[error("only the platform operator may do this")]
    OperatorOnly,
}

impl Denied {
    /// The reason recorded in the trace.
    pub fn reason(self) -> &'static str {
        match self {
            Denied::NotAuthenticated => "not-authenticated",
            Denied::ServiceNotEntitled => "service-not-entitled",
            Denied::QualityNotEntitled => "quality-not-entitled",
            Denied::AssuranceTooLow => "assurance-too-low",
            Denied::NotIdentityVigilance => "not-identity-vigilance",
            Denied::OperatorOnly => "operator-only",
        }
    }
}

impl Coded for Denied {
    fn code(&self) -> &'static str {
        match self {
            Denied::NotAuthenticated => "DIR050",
            Denied::ServiceNotEntitled => "DIR051",
            Denied::QualityNotEntitled => "DIR052",
            Denied::AssuranceTooLow => "DIR053",
            Denied::NotIdentityVigilance => "DIR054",
            Denied::OperatorOnly => "DIR055",
        }
    }

    fn kind(&self) -> ErrorKind {
        match self {
            Denied::NotAuthenticated => ErrorKind::Unauthenticated,
            _ => ErrorKind::Denied,
        }
    }
}

/// The services whose work needs patient identities (DIR-5): the DSP identifies the
/// holder, identity manages accounts, the referring-doctor service the declarations.
/// Messaging uses only the professional directory and is not listed.
const SERVICES_NEEDING_PATIENTS: &[Service] = &[
    Service::Dsp,
    Service::Identity,
    Service::Referent,
    Service::Directory,
];

/// The directory's access decision.
pub fn authorise(caller: &Caller, action: DirectoryAction) -> Result<(), Denied> {
    use DirectoryAction as A;
    match (action, caller) {
        (A::ReadProfessionals, _) => Ok(()),

        (A::ImportRegisters | A::Purge, Caller::Operator) => Ok(()),
        (A::ImportRegisters | A::Purge, _) => Err(Denied::OperatorOnly),

        (_, Caller::Anonymous) => Err(Denied::NotAuthenticated),

        (A::ReadPatients | A::WritePatients, Caller::Operator) => Ok(()),
        (A::ReadPatients | A::WritePatients, Caller::Service { service, .. }) => {
            if SERVICES_NEEDING_PATIENTS.contains(service) {
                Ok(())
            } else {
                Err(Denied::ServiceNotEntitled)
            }
        }
        (
            A::ReadPatients | A::WritePatients,
            Caller::Person {
                quality,
                assurance,
                roles,
                ..
            },
        ) => match quality {
            // A professional identifies the patient he treats (DIR-5), with a strong
            // login only, as for the DSP.
            Quality::Professional if *assurance >= LevelOfAssurance::High => Ok(()),
            Quality::Professional => Err(Denied::AssuranceTooLow),
            Quality::Agent if roles.contains(&AgentRole::IdentityVigilance) => {
                vigilance_assurance(*assurance)
            }
            // A patient sees his own entry through his account's own view (PRV-1),
            // never by searching the directory.
            Quality::Agent | Quality::Patient => Err(Denied::QualityNotEntitled),
        },

        (
            A::IdentityVigilance,
            Caller::Person {
                quality: Quality::Agent,
                assurance,
                roles,
                ..
            },
        ) if roles.contains(&AgentRole::IdentityVigilance) => vigilance_assurance(*assurance),
        (A::IdentityVigilance, _) => Err(Denied::NotIdentityVigilance),
    }
}

/// How far a caller admitted to the patient directory may search it (DIR-5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PatientSearch {
    /// The operator and identity-vigilance staff, who keep the directory right: any
    /// criterion, any page size, not counted.
    Broad,
    /// A professional or a service, who identifies the patient he serves: a search
    /// that names one person (national number, or family name with birth date), a few
    /// entries a call, within an hourly allowance counted under `caller`.
    Identify { caller: String, service: bool },
}

/// The most entries one identifying lookup returns: a patient and his homonyms.
pub const IDENTIFY_MAX: u32 = 10;

pub fn patient_search(caller: &Caller) -> PatientSearch {
    match caller {
        Caller::Operator => PatientSearch::Broad,
        Caller::Person {
            quality: Quality::Agent,
            roles,
            ..
        } if roles.contains(&AgentRole::IdentityVigilance) => PatientSearch::Broad,
        Caller::Person { account, .. } => PatientSearch::Identify {
            caller: account.clone(),
            service: false,
        },
        Caller::Service { name, .. } => PatientSearch::Identify {
            caller: format!("service:{name}"),
            service: true,
        },
        Caller::Anonymous => PatientSearch::Identify {
            caller: "anonymous".into(),
            service: false,
        },
    }
}

fn vigilance_assurance(assurance: LevelOfAssurance) -> Result<(), Denied> {
    if assurance >= LevelOfAssurance::Substantial {
        Ok(())
    } else {
        Err(Denied::AssuranceTooLow)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_directory_staff_search_broadly() {
        let rows = [
            (Caller::Operator, None),
            (
                person(
                    Quality::Agent,
                    LevelOfAssurance::Substantial,
                    vec![AgentRole::IdentityVigilance],
                ),
                None,
            ),
            (
                person(Quality::Professional, LevelOfAssurance::High, vec![]),
                Some(("acc-1", false)),
            ),
            (
                Caller::Service {
                    name: "dsp".into(),
                    service: Service::Dsp,
                },
                Some(("service:dsp", true)),
            ),
        ];
        for (caller, expected) in rows {
            let got = match patient_search(&caller) {
                PatientSearch::Broad => None,
                PatientSearch::Identify { caller, service } => Some((caller, service)),
            };
            assert_eq!(
                got.as_ref().map(|(c, s)| (c.as_str(), *s)),
                expected,
                "{caller:?}"
            );
        }
    }

    fn person(quality: Quality, assurance: LevelOfAssurance, roles: Vec<AgentRole>) -> Caller {
        Caller::Person {
            account: "acc-1".into(),
            quality,
            assurance,
            credential: CredentialKind::WebAuthn,
            roles,
            system: None,
        }
    }

    fn service(service: Service) -> Caller {
        Caller::Service {
            name: "svc".into(),
            service,
        }
    }

    #[test]
    fn the_professional_directory_is_public() {
        assert_eq!(
            authorise(&Caller::Anonymous, DirectoryAction::ReadProfessionals),
            Ok(())
        );
    }

    #[test]
    fn the_patient_directory_is_never_readable_anonymously() {
        for action in [
            DirectoryAction::ReadPatients,
            DirectoryAction::WritePatients,
        ] {
            assert_eq!(
                authorise(&Caller::Anonymous, action),
                Err(Denied::NotAuthenticated)
            );
        }
    }

    #[test]
    fn only_services_that_need_patients_reach_them() {
        assert_eq!(
            authorise(&service(Service::Dsp), DirectoryAction::ReadPatients),
            Ok(())
        );
        assert_eq!(
            authorise(&service(Service::Messaging), DirectoryAction::ReadPatients),
            Err(Denied::ServiceNotEntitled)
        );
        assert_eq!(
            authorise(&service(Service::Portal), DirectoryAction::ReadPatients),
            Err(Denied::ServiceNotEntitled)
        );
    }

    #[test]
    fn professionals_need_a_strong_login_and_patients_cannot_search() {
        use LevelOfAssurance::*;
        assert_eq!(
            authorise(
                &person(Quality::Professional, High, vec![]),
                DirectoryAction::ReadPatients
            ),
            Ok(())
        );
        assert_eq!(
            authorise(
                &person(Quality::Professional, Substantial, vec![]),
                DirectoryAction::ReadPatients
            ),
            Err(Denied::AssuranceTooLow)
        );
        assert_eq!(
            authorise(
                &person(Quality::Patient, High, vec![]),
                DirectoryAction::ReadPatients
            ),
            Err(Denied::QualityNotEntitled)
        );
        assert_eq!(
            authorise(
                &person(Quality::Agent, High, vec![AgentRole::Administrator]),
                DirectoryAction::ReadPatients
            ),
            Err(Denied::QualityNotEntitled)
        );
    }

    #[test]
    fn only_identity_vigilance_staff_merge() {
        use LevelOfAssurance::*;
        let officer = person(
            Quality::Agent,
            Substantial,
            vec![AgentRole::IdentityVigilance],
        );
        assert_eq!(
            authorise(&officer, DirectoryAction::IdentityVigilance),
            Ok(())
        );
        assert_eq!(
            authorise(&Caller::Anonymous, DirectoryAction::IdentityVigilance),
            Err(Denied::NotAuthenticated)
        );
        let refused = [
            Caller::Operator,
            service(Service::Directory),
            person(Quality::Professional, High, vec![]),
            person(Quality::Patient, High, vec![]),
            person(Quality::Agent, High, vec![AgentRole::Administrator]),
            // The role held in another quality's account does not count.
            person(
                Quality::Professional,
                High,
                vec![AgentRole::IdentityVigilance],
            ),
        ];
        for caller in refused {
            assert_eq!(
                authorise(&caller, DirectoryAction::IdentityVigilance),
                Err(Denied::NotIdentityVigilance),
                "{caller:?}"
            );
        }
        assert_eq!(
            authorise(
                &person(Quality::Agent, Low, vec![AgentRole::IdentityVigilance]),
                DirectoryAction::IdentityVigilance
            ),
            Err(Denied::AssuranceTooLow)
        );
    }

    #[test]
    fn imports_and_purges_are_the_operators() {
        assert_eq!(
            authorise(&Caller::Operator, DirectoryAction::ImportRegisters),
            Ok(())
        );
        assert_eq!(
            authorise(
                &service(Service::Directory),
                DirectoryAction::ImportRegisters
            ),
            Err(Denied::OperatorOnly)
        );
        assert_eq!(
            authorise(&Caller::Anonymous, DirectoryAction::Purge),
            Err(Denied::OperatorOnly)
        );
    }
}
