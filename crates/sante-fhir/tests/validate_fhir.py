"""Validates FHIR R4 (4.0.1) JSON resources with an independent implementation.

Usage: validate_fhir.py FILE...   Prints one JSON object {file: "ok" | error}.
Uses fhir.resources 6.1.x (FHIR 4.0.1 models on pydantic 1): element names, types,
cardinalities, primitive formats (dates, ids, codes) and nested resources are checked.
"""
import json
import sys

from fhir.resources import __fhir_version__, get_fhir_model_class

if __fhir_version__ != "4.0.1":
    sys.exit(f"fhir.resources models FHIR {__fhir_version__}, not R4 4.0.1")

results = {}
for path in sys.argv[1:]:
    with open(path, encoding="utf-8") as f:
        data = json.load(f)
    try:
        model = get_fhir_model_class(data.get("resourceType", ""))
        model.parse_obj(data)
        results[path] = "ok"
    except Exception as e:  # any failure is a finding, reported with the file
        results[path] = f"{type(e).__name__}: {e}"
print(json.dumps(results))
