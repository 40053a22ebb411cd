"""Issue 14, "done when": a patient coded as an EHR codes it (SNOMED CT, LOINC and LOINC answer codes) gives
the same facts, and over the real server the same decision, as the same patient in painpath JSON."""

from __future__ import annotations

import datetime
from typing import Any

import orjson

from painpath.api.auth import Role
from painpath.facts import parse_facts
from painpath.facts.catalogue import flatten
from painpath.fhir import facts_from_bundle
from tests.api.conftest import Service, service  # noqa: F401  (the module-scoped real server)

TODAY = datetime.datetime.now(datetime.UTC).date()
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
FHIR = "application/fhir+json"


def _observation(id_: str, code: str, **value: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": id_,
        "status": "final",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "effectiveDateTime": (TODAY - datetime.timedelta(days=3)).isoformat(),
        **value,
    }


def _request(id_: str, code: str, display: str) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": id_,
        "status": "draft",
        "intent": "proposal",
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": SNOMED, "code": code, "display": display}]},
    }


def standard_bundle() -> dict[str, Any]:
    born = TODAY.replace(year=TODAY.year - 47) - datetime.timedelta(days=10)
    resources = [
        {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": born.isoformat()},
        {
            "resourceType": "Condition",
            "id": "c1",
            "subject": {"reference": "Patient/p1"},
            "clinicalStatus": {
                "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
            },
            "code": {"coding": [{"system": SNOMED, "code": "278860009", "display": "Chronic low back pain"}]},
        },
        _observation("nrs", "72514-3", valueInteger=7),
        _observation("phq9", "44261-6", valueInteger=8),
        _observation(
            "phq9-9",
            "44260-8",
            valueCodeableConcept={"coding": [{"system": LOINC, "code": "LA6568-5", "display": "Not at all"}]},
        ),
        _observation("gad7", "70274-6", valueInteger=6),
        _observation("sb", "91351-7", valueInteger=5),
        _observation("sb-psych", "91350-9", valueInteger=3),
        _observation("hba1c", "4548-4", valueQuantity={"value": 5.4, "unit": "%"}),  # no rule reads it
        _request("ref", "306265007", "Referral to pain management specialist"),
        _request("mri", "433141005", "Magnetic resonance imaging of lumbar and sacral spine"),
    ]
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


PAINPATH_JSON = {
    "demographics": {"age": 47, "sex": "female"},
    "pain": {"sites": ["low_back"], "intensity_nrs": 7},
    "instruments": {
        "phq9": {"total": 8, "item9": 0},
        "gad7": {"total": 6},
        "start_back": {"total": 5, "psychosocial": 3},
    },
    "care": {"referrals_requested": ["imaging", "pain_clinic"], "imaging_requested": True, "imaging_modality": "mri"},
}


def test_standard_codes_give_the_same_facts_as_painpath_json() -> None:
    mapped = facts_from_bundle(standard_bundle())
    assert flatten(mapped.facts) == flatten(parse_facts(PAINPATH_JSON))
    assert not [i for i in mapped.issues if i.severity != "information"], mapped.issues
    assert [i.code for i in mapped.issues if i.source == "Observation/hba1c"] == ["unknown-code"]


def test_standard_codes_give_the_same_decision_over_http(service: Service) -> None:  # noqa: F811
    with service.client(Role.clinician) as client:
        fhir = client.post("/v1/evaluations", content=orjson.dumps(standard_bundle()), headers={"content-type": FHIR})
        plain = client.post("/v1/evaluations", json={**PAINPATH_JSON, "assessment_date": TODAY.isoformat()})
    assert fhir.status_code == 201 and plain.status_code == 201, (fhir.text, plain.text)
    drop = {"decision_id", "created_at", "provenance", "fhir", "trace"}
    assert {k: v for k, v in fhir.json().items() if k not in drop} == {
        k: v for k, v in plain.json().items() if k not in drop
    }
