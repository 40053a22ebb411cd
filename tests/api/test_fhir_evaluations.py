"""``POST /v1/evaluations`` with FHIR: Bundles in, decisions or GuidanceResponses out (real server)."""

from __future__ import annotations

from typing import Any

import orjson
from fhir.resources.R4B.guidanceresponse import GuidanceResponse

from painpath.api.auth import Role
from painpath.engine.contract import DecisionDocument
from tests.api.conftest import Service
from tests.api.test_cds_hooks import hook_request

FHIR = "application/fhir+json"


def patient_bundle(name: str, *, with_answers: bool = True) -> dict[str, Any]:
    """The resources of a hook fixture (prefetch and draft orders) as one Bundle."""
    request = hook_request(name)
    resources = [request["prefetch"]["patient"]]
    keys = ["conditions", "observations"] + (["questionnaireResponses"] if with_answers else [])
    for key in keys:
        resources += [e["resource"] for e in request["prefetch"][key]["entry"]]
    resources += [e["resource"] for e in request["context"]["draftOrders"]["entry"]]
    resources.append({"resourceType": "Observation", "id": "hba1c", "status": "final",
                      "code": {"coding": [{"system": "http://loinc.org", "code": "4548-4"}]},
                      "effectiveDateTime": "2026-11-01", "valueQuantity": {"value": 6.1}})  # fmt: skip
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def test_a_bundle_gives_a_decision_with_sources_and_issues_read_back_unchanged(service: Service) -> None:
    body = orjson.dumps(patient_bundle("order_sign_cauda_equina"))
    with service.client(Role.triage) as client:
        created = client.post("/v1/evaluations", content=body, headers={"content-type": FHIR})
        assert created.status_code == 201, created.text
        decision = created.json()
        assert decision["red_flags"]["findings"][0]["condition"] == "cauda_equina_syndrome"
        fhir = decision["fhir"]
        assert fhir["patient"] == "Patient/pp-1001"
        assert fhir["sources"]["red_flags.saddle_anaesthesia"] == "QuestionnaireResponse/qr-rf-1"
        assert fhir["sources"]["demographics.age"] == "Patient/pp-1001"
        assert [i["source"] for i in fhir["issues"] if i["code"] == "unknown-code"] == ["Observation/hba1c"]
        DecisionDocument.model_validate(decision)  # the `fhir` member is part of the documented contract
        again = client.get(created.headers["location"])
        assert again.content == created.content


def test_guidance_response_is_data_required_when_the_red_flag_screen_is_incomplete(service: Service) -> None:
    body = orjson.dumps(patient_bundle("order_sign_lumbar_mri", with_answers=False))
    with service.client(Role.clinician) as client:
        response = client.post("/v1/evaluations", content=body, headers={"content-type": FHIR, "accept": FHIR})
    assert response.status_code == 201
    assert response.headers["content-type"].startswith(FHIR)
    guidance = GuidanceResponse.model_validate(response.json())
    assert guidance.status == "data-required"
    wanted = {c.code for r in guidance.dataRequirement or [] for f in r.codeFilter or [] for c in f.code or []}
    assert {"red_flags.saddle_anaesthesia", "red_flags.fever"} <= wanted
    contained = {r.get_resource_type(): r for r in guidance.contained or []}
    outcome = contained["OperationOutcome"]
    assert any("Observation/hba1c" in (i.expression or []) for i in outcome.issue)  # type: ignore[attr-defined]
    assert "RequestGroup" in contained


def test_guidance_response_points_each_finding_to_its_source(service: Service) -> None:
    body = orjson.dumps(patient_bundle("order_sign_cauda_equina"))
    with service.client(Role.clinician) as client:
        response = client.post("/v1/evaluations", content=body, headers={"content-type": FHIR, "accept": FHIR})
    guidance = response.json()
    assert guidance["status"] == "success"
    group = next(r for r in guidance["contained"] if r["resourceType"] == "RequestGroup")
    ces = next(a for a in group["action"] if a["id"] == "RF_CES_EMERGENCY")
    assert ces["priority"] == "stat"
    assert ces["resource"] == {"reference": "QuestionnaireResponse/qr-rf-1"}
    assert "QuestionnaireResponse/qr-rf-1" in ces["description"]
    assert any(d.get("url") == "https://gettingitrightfirsttime.co.uk/" for d in ces["documentation"])


def test_facts_can_also_be_answered_as_a_guidance_response(service: Service) -> None:
    with service.client(Role.clinician) as client:
        response = client.post("/v1/evaluations", json={"demographics": {"age": 40}}, headers={"accept": FHIR})
    assert response.status_code == 201
    assert GuidanceResponse.model_validate(response.json()).status == "data-required"


def test_other_media_types_and_non_bundles_are_refused(service: Service) -> None:
    with service.client(Role.clinician) as client:
        xml = client.post("/v1/evaluations", content=b"<Bundle/>", headers={"content-type": "application/fhir+xml"})
        assert xml.status_code == 415
        assert FHIR in xml.headers["accept-post"]
        patient = client.post("/v1/evaluations", content=b'{"resourceType": "Patient"}', headers={"content-type": FHIR})
        assert patient.status_code == 422
        assert patient.json()["errors"][0]["field"] == "resourceType"
