//! Establishments' stays as FHIR Encounters (DSP-14): an admission or an emergency
//! registered by the establishment's system opens its staff's access to the patient's
//! DSP for the period; `$extend` renews an admission (by at most 30 days while the
//! stay lasts) and `$finish` ends it.

use axum::extract::{Path, Request, State};
use http::{HeaderValue, StatusCode, header};
use sante_http::ApiFailure;
use sante_http::error::fhir_json;
use sante_types::ErrorKind;

use crate::mhd::{dsp_failure, filing_failure, holder, no_such_patient};
use crate::{FhirApi, FhirResult, fhir_failure, read_json};

/// An Encounter is small.
const ENCOUNTER_LIMIT: usize = 64 * 1024;

pub async fn register_stay(State(api): State<FhirApi>, req: Request) -> FhirResult {
    let (parts, body) = req.into_parts();
    let caller = api.dsp_caller(&parts).await?;
    let encounter = read_json(body, ENCOUNTER_LIMIT).await?;
    let (patient, kind) =
        sante_fhir::encounter::stay_from_fhir(&encounter).map_err(|e| fhir_failure(&e))?;
    let Some(holder) = holder(&api, &patient, &caller).await? else {
        return Err(no_such_patient());
    };
    let stay = api
        .dsp
        .register_stay(&caller, &holder, kind)
        .await
        .map_err(filing_failure)?;
    let mut res = fhir_json(
        StatusCode::CREATED,
        &sante_fhir::encounter::encounter(&stay),
    );
    if let Ok(location) = HeaderValue::from_str(&format!(
        "{}/Encounter/{}",
        api.base(&parts.extensions),
        stay.id
    )) {
        res.headers_mut().insert(header::LOCATION, location);
    }
    Ok(res)
}

pub async fn unsupported_encounter() -> ApiFailure {
    ApiFailure::not_supported(
        ErrorKind::NotFound,
        "Encounter supports POST (register a stay), $extend and $finish",
    )
}

/// `$extend` (an admission, by at most 30 days while the stay lasts) and `$finish`.
pub async fn stay_operation(
    State(api): State<FhirApi>,
    Path((id, operation)): Path<(String, String)>,
    req: Request,
) -> FhirResult {
    let (parts, body) = req.into_parts();
    let caller = api.dsp_caller(&parts).await?;
    let stay = match operation.as_str() {
        "$extend" => {
            let days =
                sante_fhir::encounter::extension_days(&read_json(body, ENCOUNTER_LIMIT).await?)
                    .map_err(|e| fhir_failure(&e))?;
            api.dsp.renew_stay(&caller, &id, days).await
        }
        "$finish" => api.dsp.end_stay(&caller, &id).await,
        _ => return Err(unsupported_encounter().await),
    }
    .map_err(|e| dsp_failure(e, true))?;
    Ok(fhir_json(
        StatusCode::OK,
        &sante_fhir::encounter::encounter(&stay),
    ))
}
