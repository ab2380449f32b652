"""Drives the DSP's IHE MHD API with an independent FHIR client (fhirpy, from PyPI),
as a document source and consumer would, and validates every response against the
FHIR R4 (4.0.1) definitions with fhir.resources.

Usage: mhd_client.py BASE_URL TOKEN CA_FILE PATIENT_ID OUT_DIR
Prints one JSON object: what was filed, found and retrieved, and the validation of
each response ("ok" or the error).
"""
import base64
import json
import os
import sys

import requests
from fhirpy import SyncFHIRClient
from fhir.resources import __fhir_version__, get_fhir_model_class

if __fhir_version__ != "4.0.1":
    sys.exit(f"fhir.resources models FHIR {__fhir_version__}, not R4 4.0.1")

base, token, ca, patient, out = sys.argv[1:6]
client = SyncFHIRClient(base, authorization=f"Bearer {token}", requests_config={"verify": ca})
report = {"validation": {}}


def keep(name, resource):
    with open(os.path.join(out, f"{name}.json"), "w", encoding="utf-8") as f:
        json.dump(resource, f)
    try:
        get_fhir_model_class(resource["resourceType"]).parse_obj(resource)
        report["validation"][name] = "ok"
    except Exception as e:  # a finding, reported by name
        report["validation"][name] = f"{type(e).__name__}: {e}"


content = b"%PDF-1.4\n% a discharge summary filed through MHD\n%%EOF\n"
bundle = {
    "resourceType": "Bundle",
    "meta": {"profile": ["https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.Minimal.ProvideBundle"]},
    "type": "transaction",
    "entry": [
        {
            "fullUrl": "urn:uuid:6f1b9c3e-2a7d-4b8e-9c1f-0a2b3c4d5e6f",
            "resource": {
                "resourceType": "List",
                "status": "current",
                "mode": "working",
                "code": {"coding": [{"system": "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes", "code": "submissionset"}]},
                "subject": {"reference": f"Patient/{patient}"},
                "date": "2026-12-01T10:00:00Z",
                "entry": [{"item": {"reference": "urn:uuid:1d2c3b4a-5e6f-4a7b-8c9d-0e1f2a3b4c5d"}}],
            },
            "request": {"method": "POST", "url": "List"},
        },
        {
            "fullUrl": "urn:uuid:1d2c3b4a-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
            "resource": {
                "resourceType": "DocumentReference",
                "masterIdentifier": {"system": "urn:ietf:rfc:3986", "value": "urn:oid:1.2.3.4.5.6.7"},
                "status": "current",
                "type": {"coding": [{"system": "http://loinc.org", "code": "18842-5", "display": "Discharge summary"}]},
                "category": [{"coding": [{"system": "https://fhir.sante.lu/CodeSystem/dsp-category", "code": "dsp-cat-02"}]}],
                "subject": {"reference": f"Patient/{patient}"},
                "description": "Discharge summary (MHD)",
                "securityLabel": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}]}],
                "content": [{"attachment": {"contentType": "application/pdf", "url": "urn:uuid:9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d"}}],
                "context": {"period": {"start": "2026-11-28"}},
            },
            "request": {"method": "POST", "url": "DocumentReference"},
        },
        {
            "fullUrl": "urn:uuid:9a8b7c6d-5e4f-4a3b-2c1d-0e9f8a7b6c5d",
            "resource": {"resourceType": "Binary", "contentType": "application/pdf", "data": base64.b64encode(content).decode()},
            "request": {"method": "POST", "url": "Binary"},
        },
    ],
}
response = client.execute("", method="post", data=bundle)
keep("iti65-response", response)
location = response["entry"][1]["response"]["location"]
doc_id = location.split("/")[1]
report["filed"] = doc_id

found = client.resources("DocumentReference").search(patient=f"Patient/{patient}", status="current").fetch_raw()
keep("iti67-searchset", found)
report["found"] = [e["resource"]["id"] for e in found.get("entry", [])]
by_category = client.resources("DocumentReference").search(patient=f"Patient/{patient}", category="dsp-cat-02").fetch_raw()
report["found_syntheses"] = [e["resource"]["id"] for e in by_category.get("entry", [])]

reference = client.reference("DocumentReference", doc_id).to_resource()
keep("documentreference", dict(reference))
url = reference["content"][0]["attachment"]["url"]
retrieved = requests.get(url, headers={"Authorization": f"Bearer {token}"}, verify=ca)
report["retrieved_status"] = retrieved.status_code
report["retrieved_same"] = retrieved.content == content
report["retrieved_type"] = retrieved.headers.get("content-type")

lists = client.resources("List").search(patient=f"Patient/{patient}", code="submissionset").fetch_raw()
keep("iti66-searchset", lists)
report["lists"] = len(lists.get("entry", []))

metadata = requests.get(f"{base}/metadata", verify=ca).json()
keep("capabilitystatement", metadata)
print(json.dumps(report))
