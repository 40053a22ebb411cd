"""Realistic CDS Hooks requests for the CDS tests: records coded as an EHR codes them (SNOMED CT
conditions and procedures, ATC medicines, LOINC observations), with third-party bundles from the
pinned ``carebundle`` package where painpath's authors should not write the data.
"""

from __future__ import annotations

import datetime
import json
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import carebundle  # pinned in requirements.lock: a missing install fails, never skips
import httpx
import pytest

from painpath.api.auth import Role
from painpath.store.testing import sqlite_url
from tests.api.conftest import Service, launch

SNOMED = "http://snomed.info/sct"
ATC = "http://www.whocc.no/atc"
PATIENT_ID = "pp-2001"


def born(age: int) -> str:
    today = datetime.datetime.now(datetime.UTC).date()
    return today.replace(year=today.year - age, day=1).isoformat()


def patient(age: int, pid: str = PATIENT_ID) -> dict[str, Any]:
    return {"resourceType": "Patient", "id": pid, "gender": "female", "birthDate": born(age)}


def condition(code: str, display: str, cid: str, pid: str = PATIENT_ID) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": cid,
        "clinicalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
        },
        "verificationStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": "confirmed"}]
        },
        "category": [
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/condition-category",
                        "code": "problem-list-item",
                    }
                ]
            }
        ],
        "code": {"coding": [{"system": SNOMED, "code": code, "display": display}], "text": display},
        "subject": {"reference": f"Patient/{pid}"},
        "onsetDateTime": "2025-03-01",
    }


CHRONIC_LBP = ("278860009", "Chronic low back pain")
PULMONARY_EMBOLISM = ("59282003", "Pulmonary embolism")


def searchset(resources: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    if not resources:
        return None  # the client ran the query and found nothing
    return {
        "resourceType": "Bundle",
        "type": "searchset",
        "total": len(resources),
        "entry": [
            {"fullUrl": f"https://ehr.example.org/fhir/{r['resourceType']}/{r['id']}", "resource": r} for r in resources
        ],
    }


def service_request(code: str, display: str, sid: str, pid: str = PATIENT_ID, system: str = SNOMED) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": sid,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{pid}"},
        "code": {"coding": [{"system": system, "code": code, "display": display}], "text": display},
    }


def medication_request(code: str, display: str, mid: str, pid: str = PATIENT_ID) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": mid,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": f"Patient/{pid}"},
        "medicationCodeableConcept": {"coding": [{"system": ATC, "code": code, "display": display}], "text": display},
    }


LUMBAR_MRI = ("433141005", "Magnetic resonance imaging of lumbar and sacral spine")


def hook_request(  # noqa: PLR0913 - a request is described by its parts, all keyword-only
    hook: str,
    *,
    age: int = 47,
    conditions: Sequence[dict[str, Any]] = (),
    observations: Sequence[dict[str, Any]] = (),
    responses: Sequence[dict[str, Any]] = (),
    drafts: Sequence[dict[str, Any]] = (),
    selections: Sequence[str] | None = None,
    pid: str = PATIENT_ID,
) -> dict[str, Any]:
    """A CDS Hooks request with full prefetch (``null`` for the searches that found nothing)."""
    context: dict[str, Any] = {"userId": "Practitioner/gp-17", "patientId": pid}
    if hook != "patient-view":
        context["draftOrders"] = {
            "resourceType": "Bundle",
            "type": "collection",
            "entry": [{"resource": d} for d in drafts],
        }
    if hook == "order-select":
        context["selections"] = list(selections or [f"{d['resourceType']}/{d['id']}" for d in drafts])
    prefetch: dict[str, Any] = {
        "patient": patient(age, pid),
        "conditions": searchset(conditions),
        "observations": searchset(observations),
        "questionnaireResponses": searchset(responses),
        "medicationStatements": None,
        "medicationRequests": None,
        "procedures": None,
    }
    if hook == "patient-view":
        prefetch["serviceRequests"] = None
    return {"hook": hook, "hookInstance": str(uuid.uuid4()), "context": context, "prefetch": prefetch}


def third_party_record(profile: str, seed: int, pid: str) -> dict[str, list[dict[str, Any]]]:
    """A carebundle patient's resources by type, given ids and pointed at ``Patient/pid``."""
    document = json.loads(carebundle.to_json(carebundle.generate_bundle(profile=profile, seed=seed, sex="F")))
    out: dict[str, list[dict[str, Any]]] = {}
    for i, entry in enumerate(document["entry"]):
        resource = dict(entry["resource"])
        resource["id"] = pid if resource["resourceType"] == "Patient" else f"cb-{i}"
        if "subject" in resource:
            resource["subject"] = {"reference": f"Patient/{pid}"}
        out.setdefault(resource["resourceType"], []).append(resource)
    return out


SERVICES = {
    "order-sign": "painpath-referral-sign",
    "order-select": "painpath-referral-select",
    "patient-view": "painpath-patient-view",
}


def call(svc: Service, body: dict[str, Any]) -> httpx.Response:
    with svc.client(Role.clinician) as client:
        return client.post(f"/cds-services/{SERVICES[body['hook']]}", json=body)


@pytest.fixture(scope="package")
def gp_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """The real server, its CDS clients GP practices (imaging is requested from primary care)."""
    data = tmp_path_factory.mktemp("cds14")
    svc = launch(data, sqlite_url(data), PAINPATH_CDS_CARE_SETTING="primary_care")
    yield svc
    svc.server.stop()
