//! The one access decision of the DSP. Every read, search, filing and change asks
//! [`decide`] with the facts the service gathered (who, in which quality and at which
//! level, through which system; his category, his current care relationship, whether
//! he is the referring doctor; the DSP's state and the holder's choices; the item's
//! category) and gets a permit or a refusal with its reason, which is traced.
//!
//! Deny by default: anything not explicitly allowed here is refused. There is no
//! emergency override (DSP-17): the emergency department's grant is a care
//! relationship like the others, and the holder's block applies to it.

use chrono::{DateTime, Duration, Utc};
use sante_types::LevelOfAssurance;

use crate::category::{DataCategory, ProfessionalCategory, Right, right};
use crate::model::{CareKind, CareRecord, CareRelationship, RecordState};

/// Days after the information letter from which professionals in care reach a DSP
/// its holder has not activated (DSP-7).
pub const ACTIVATION_WINDOW_DAYS: i64 = 30;

/// Who asks, as far as the DSP is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// The holder himself.
    Holder,
    /// A patient the holder appointed as his assistant (DSP-24).
    Assistant,
    /// Any other patient: never.
    OtherPatient,
    /// An agent: the DSP does not serve agents.
    Agent,
    Professional(ProfessionalFacts),
}

/// What the DSP knows of a professional asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfessionalFacts {
    /// The directory identifier.
    pub id: String,
    /// His column of the matrix from his profession (never `Referent`: that one comes
    /// from the relationship with the holder).
    pub category: ProfessionalCategory,
    /// His authorisation to practise is in force today (DSP-16).
    pub authorised: bool,
    /// The establishment whose system he acts through, if any, and whether he works
    /// there today.
    pub via_establishment: Option<String>,
    pub affiliated: bool,
    /// The system's attestation lists the DSP (DSP-31).
    pub system_attested_for_dsp: bool,
}

/// What is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent<'a> {
    /// Read one item of `category` (`item` is its id, for the restricted level).
    Read {
        category: DataCategory,
        item: &'a str,
    },
    /// File a new item of `category`, or a new version of one.
    File { category: DataCategory },
    /// Search or list the DSP's items (each result is then checked with `Read`).
    Search,
    /// See the access history.
    History,
    /// Change the holder's controls, write in the personal space, close, reopen.
    HolderControls,
}

impl Intent<'_> {
    pub fn code(&self) -> &'static str {
        match self {
            Intent::Read { .. } => "read",
            Intent::File { .. } => "file",
            Intent::Search => "search",
            Intent::History => "history",
            Intent::HolderControls => "controls",
        }
    }
}

/// Everything the decision rests on.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    pub role: Role,
    pub assurance: LevelOfAssurance,
    pub record: &'a CareRecord,
    /// The care relationships of the DSP in force now that concern this professional
    /// (his consultations, his establishment's admissions and emergencies).
    pub relationships: &'a [CareRelationship],
    pub now: DateTime<Utc>,
}

/// The decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Permit,
    Deny(&'static str),
}

impl Decision {
    pub fn is_permit(self) -> bool {
        self == Decision::Permit
    }

    /// `permit`, or the refusal's reason code.
    pub fn code(self) -> &'static str {
        match self {
            Decision::Permit => "permit",
            Decision::Deny(reason) => reason,
        }
    }
}

/// The care relationship that lets this professional in now, if any: his own
/// consultation, or his establishment's stay when he comes through its system.
pub fn current_relationship<'r>(
    pro: &ProfessionalFacts,
    relationships: &'r [CareRelationship],
    now: DateTime<Utc>,
) -> Option<&'r CareRelationship> {
    relationships
        .iter()
        .filter(|r| r.in_force(now))
        .find(|r| match r.kind {
            CareKind::Consultation => r.professional.as_deref() == Some(pro.id.as_str()),
            CareKind::Admission | CareKind::Emergency => {
                pro.affiliated
                    && pro.via_establishment.is_some()
                    && r.establishment == pro.via_establishment
            }
        })
}

/// The DSP's access decision.
pub fn decide(facts: &Facts<'_>, intent: Intent<'_>) -> Decision {
    use Decision::Deny;
    let record = facts.record;
    if record.state == RecordState::Closed {
        // From closure the data are inaccessible (DSP-9); only the holder reopens.
        return match (&facts.role, intent) {
            (Role::Holder, Intent::HolderControls) => holder_level(facts),
            _ => Deny("dsp_closed"),
        };
    }
    match &facts.role {
        Role::OtherPatient => Deny("not_the_holder"),
        Role::Agent => Deny("quality_not_served"),
        Role::Holder | Role::Assistant => {
            if let Deny(reason) = holder_level(facts) {
                return Deny(reason);
            }
            match intent {
                // The holder reads everything in his DSP (DSP-18).
                Intent::Read { .. } | Intent::Search | Intent::History | Intent::HolderControls => {
                    Decision::Permit
                }
                // He writes his personal space only.
                Intent::File {
                    category: DataCategory::PersonalExpression,
                } => Decision::Permit,
                Intent::File { .. } => Deny("holder_writes_personal_space_only"),
            }
        }
        Role::Professional(pro) => professional(facts, pro, intent),
    }
}

/// The holder and his assistant (whose appointment the service checked when it
/// resolved the role) need at least a second factor (ACC-5).
fn holder_level(facts: &Facts<'_>) -> Decision {
    if facts.assurance < LevelOfAssurance::Substantial {
        Decision::Deny("assurance_too_low")
    } else {
        Decision::Permit
    }
}

fn professional(facts: &Facts<'_>, pro: &ProfessionalFacts, intent: Intent<'_>) -> Decision {
    use Decision::Deny;
    let record = facts.record;
    if facts.assurance < LevelOfAssurance::High {
        return Deny("assurance_too_low");
    }
    if !pro.authorised {
        return Deny("authorisation_withdrawn");
    }
    if pro.via_establishment.is_some() && !pro.system_attested_for_dsp {
        return Deny("system_not_attested");
    }
    // The holder's block holds even in an emergency (DSP-17, DSP-19).
    if record.controls.blocked.iter().any(|b| b == &pro.id) {
        return Deny("blocked_by_holder");
    }
    if record.state == RecordState::Created
        && facts.now < record.letter_sent + Duration::days(ACTIVATION_WINDOW_DAYS)
    {
        return Deny("dsp_not_yet_open");
    }
    // The referring doctor declared by the insurer takes part in the holder's care for
    // as long as the declaration runs (DSP-15); others need a care relationship now.
    let referent = pro.category == ProfessionalCategory::Physician
        && record.referent_on(&pro.id, facts.now.date_naive());
    let relationship = current_relationship(pro, facts.relationships, facts.now);
    if relationship.is_none() && !referent {
        return Deny("no_care_relationship");
    }
    let column = if referent {
        ProfessionalCategory::Referent
    } else {
        pro.category
    };
    match intent {
        Intent::Search => Decision::Permit,
        Intent::History => {
            // The traces dashboard is the referring doctor's (DSP-15).
            if right(DataCategory::TracesDashboard, column) >= Right::Read {
                Decision::Permit
            } else {
                Deny("matrix")
            }
        }
        Intent::HolderControls => Deny("holder_only"),
        Intent::Read { category, item } => {
            if right(category, column) < Right::Read {
                Deny("matrix")
            } else if record.hidden_from(item, &pro.id) {
                Deny("restricted_by_holder")
            } else {
                Decision::Permit
            }
        }
        Intent::File { category } => {
            if category == DataCategory::PersonalExpression {
                Deny("holder_writes_personal_space_only")
            } else if right(category, column) < Right::Write {
                Deny("matrix")
            } else if relationship.is_some_and(|rel| {
                record
                    .controls
                    .filing_objections
                    .iter()
                    .any(|r| r == &rel.id)
            }) {
                Deny("holder_objects_to_filing")
            } else {
                Decision::Permit
            }
        }
    }
}

#[cfg(test)]
mod tests;
