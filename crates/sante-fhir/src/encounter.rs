//! Establishments' stays as FHIR `Encounter`s: an establishment's certified system
//! registers an admission (`class` IMP) or an emergency (`class` EMER) of a patient,
//! which opens the patient's DSP to its staff for the period the regulation sets
//! (DSP-14); `$extend` renews an admission while the stay lasts, `$finish` ends the
//! stay. The Encounter's id is the care relationship's.

use sante_dsp::model::{CareKind, CareRelationship};
use serde_json::{Value, json};

use crate::mhd::PatientRef;
use crate::{FhirError, resource_error};

pub const ACT_CODE: &str = "http://terminology.hl7.org/CodeSystem/v3-ActCode";

/// A care relationship of an establishment as an Encounter.
pub fn encounter(r: &CareRelationship) -> Value {
    let (code, display) = match r.kind {
        CareKind::Emergency => ("EMER", "emergency"),
        _ => ("IMP", "inpatient encounter"),
    };
    let mut e = json!({
        "resourceType": "Encounter",
        "id": r.id,
        "status": if r.stay_ended.is_some() || r.revoked.is_some() { "finished" } else { "in-progress" },
        "class": {"system": ACT_CODE, "code": code, "display": display},
        "subject": {"reference": format!("Patient/{}", r.record)},
        "period": {
            "start": r.start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "end": r.end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        },
    });
    if let Some(est) = &r.establishment {
        e["serviceProvider"] = json!({"reference": format!("Organization/{est}")});
    }
    e
}

/// The patient and the kind of stay an Encounter registers.
pub fn stay_from_fhir(v: &Value) -> Result<(PatientRef, CareKind), FhirError> {
    if v["resourceType"] != "Encounter" {
        return Err(resource_error("resourceType", "an Encounter is expected"));
    }
    let kind = match v["class"]["code"].as_str() {
        Some("IMP" | "ACUTE" | "NONAC") => CareKind::Admission,
        Some("EMER") => CareKind::Emergency,
        _ => {
            return Err(resource_error(
                "Encounter.class",
                "IMP (admission) or EMER (emergency)",
            ));
        }
    };
    if !matches!(v["status"].as_str(), Some("in-progress" | "arrived")) {
        return Err(resource_error(
            "Encounter.status",
            "a stay is registered in-progress",
        ));
    }
    let patient = if let Some(reference) = v["subject"]["reference"].as_str() {
        let id = reference
            .strip_prefix("Patient/")
            .filter(|id| !id.is_empty() && !id.contains('/'))
            .ok_or_else(|| resource_error("Encounter.subject", "Patient/{id}"))?;
        PatientRef::Id(id.to_owned())
    } else if let (Some(system), Some(value)) = (
        v["subject"]["identifier"]["system"].as_str(),
        v["subject"]["identifier"]["value"].as_str(),
    ) {
        if system != crate::systems::NATIONAL_ID {
            return Err(resource_error(
                "Encounter.subject.identifier",
                "the national identification number",
            ));
        }
        PatientRef::NationalId(value.to_owned())
    } else {
        return Err(resource_error(
            "Encounter.subject",
            "the patient is required",
        ));
    };
    Ok((patient, kind))
}

/// The `days` of a `$extend` Parameters resource.
pub fn extension_days(v: &Value) -> Result<i64, FhirError> {
    if v["resourceType"] != "Parameters" {
        return Err(resource_error(
            "resourceType",
            "a Parameters resource is expected",
        ));
    }
    v["parameter"]
        .as_array()
        .and_then(|p| p.iter().find(|p| p["name"] == "days"))
        .and_then(|p| p["valueInteger"].as_i64())
        .ok_or_else(|| resource_error("Parameters.parameter", "days (valueInteger) is required"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encounters_read_and_refuse() {
        let ok = json!({"resourceType": "Encounter", "status": "in-progress", "class": {"code": "EMER"}, "subject": {"reference": "Patient/p1"}});
        assert_eq!(
            stay_from_fhir(&ok).unwrap(),
            (PatientRef::Id("p1".into()), CareKind::Emergency)
        );
        let mut bad = ok.clone();
        bad["class"]["code"] = json!("AMB");
        assert!(
            stay_from_fhir(&bad)
                .unwrap_err()
                .to_string()
                .contains("class")
        );
        let params = json!({"resourceType": "Parameters", "parameter": [{"name": "days", "valueInteger": 30}]});
        assert_eq!(extension_days(&params).unwrap(), 30);
        assert!(extension_days(&json!({"resourceType": "Parameters"})).is_err());
    }
}
