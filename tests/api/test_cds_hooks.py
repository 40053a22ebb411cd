"""CDS Hooks end to end, through the real HTTP server: discovery, order-sign cards, feedback, errors.

The "done when" of issue 5: an order-sign call with prefetch for a patient with cauda equina
features returns a critical card that says why and cites its source; a lumbar MRI request for
non-specific back pain without red flags returns a warning with a suggestion; feedback is stored
(on SQLite and PostgreSQL) and linked to the card's rule and version.
"""

from __future__ import annotations

import copy
import datetime
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from painpath.api.auth import Role
from painpath.cds.models import Discovery, HookResponse
from painpath.store import open_store
from tests.api.conftest import Service, launch

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fhir"
FIXTURE_DATE = "2026-11-18"


def hook_request(name: str) -> dict[str, Any]:
    """A fixture request, its observation dates moved to three days ago so they are never stale."""
    recent = (datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=3)).isoformat()
    text = (FIXTURES / f"{name}.json").read_text(encoding="utf-8").replace(FIXTURE_DATE, recent)
    return json.loads(text)  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def gp_service(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Iterator[Service]:
    """A server whose CDS clients are GP practices (requests come from primary care)."""
    data = tmp_path_factory.mktemp("cds")
    from painpath.store.testing import sqlite_url

    svc = launch(data, sqlite_url(data), PAINPATH_CDS_CARE_SETTING="primary_care")
    yield svc
    svc.server.stop()


def call(svc: Service, service_id: str, body: dict[str, Any], role: Role = Role.clinician) -> httpx.Response:
    with svc.client(role) as client:
        return client.post(f"/cds-services/{service_id}", json=body)


def test_discovery_lists_the_three_services_with_prefetch(gp_service: Service) -> None:
    with gp_service.client() as client:
        response = client.get("/cds-services")
    assert response.status_code == 200
    doc = Discovery.model_validate(response.json())
    hooks = {s.hook: s for s in doc.services}
    assert set(hooks) == {"order-select", "order-sign", "patient-view"}
    sign = hooks["order-sign"]
    assert sign.prefetch is not None and sign.prefetch["patient"] == "Patient/{{context.patientId}}"
    assert "http://loinc.org|44260-8" in sign.prefetch["observations"]
    assert sign.version == "2.0.1" and sign.hookVersion == "1.0"


def test_cauda_equina_on_order_sign_gives_a_critical_card_citing_its_source(gp_service: Service) -> None:
    response = call(gp_service, "painpath-referral-sign", hook_request("order_sign_cauda_equina"))
    assert response.status_code == 200, response.text
    cards = HookResponse.model_validate(response.json()).cards
    first = cards[0]
    assert first.indicator == "critical"
    assert "cauda equina" in first.summary.lower() and len(first.summary) <= 140
    assert first.source.url == "https://gettingitrightfirsttime.co.uk/"
    detail = first.detail or ""
    assert "RF_CES_EMERGENCY v1.1.0" in detail  # rule and version (1.1.0: its possible block)
    assert "QuestionnaireResponse/qr-rf-1" in detail  # the facts point to their source resource
    assert "painpath-core" in detail  # ruleset version
    assert first.overrideReasons and first.overrideReasons[0].system.endswith("non-adherence-reason-codes")
    assert not response.json().get("systemActions")


def test_lumbar_mri_without_red_flags_gives_a_warning_with_a_replacement_suggestion(gp_service: Service) -> None:
    response = call(gp_service, "painpath-referral-sign", hook_request("order_sign_lumbar_mri"))
    assert response.status_code == 200, response.text
    cards = HookResponse.model_validate(response.json()).cards
    assert all(c.indicator != "critical" for c in cards)
    warning = next(c for c in cards if c.indicator == "warning")
    assert "imaging" in warning.summary.lower()
    assert warning.source.url == "https://www.nice.org.uk/guidance/qs155"
    assert "ServiceRequest/sr-mri-1" in (warning.detail or "")
    assert warning.suggestions and warning.selectionBehavior == "at-most-one"
    actions = warning.suggestions[0].actions or []
    assert [a.type for a in actions] == ["delete", "create"]
    assert actions[0].resourceId == "ServiceRequest/sr-mri-1"
    created = actions[1].resource or {}
    assert created["resourceType"] == "ServiceRequest" and created["status"] == "draft"
    assert created["code"]["coding"][0]["code"] == "physiotherapy"


def test_the_same_mri_for_a_patient_with_a_red_flag_is_not_a_guideline_warning(gp_service: Service) -> None:
    body = hook_request("order_sign_cauda_equina")
    body["context"]["draftOrders"] = hook_request("order_sign_lumbar_mri")["context"]["draftOrders"]
    cards = HookResponse.model_validate(call(gp_service, "painpath-referral-sign", body).json()).cards
    assert cards[0].indicator == "critical"
    assert not any(c.suggestions and "imaging" in c.summary.lower() for c in cards)


def test_a_pmp_referral_against_the_pmp_assessment_is_a_warning_with_the_reasons(gp_service: Service) -> None:
    body = hook_request("order_sign_lumbar_mri")
    answers = body["prefetch"]["questionnaireResponses"]["entry"][0]["resource"]["item"]
    answers.append({"linkId": "mental_health.active_psychosis", "answer": [{"valueBoolean": True}]})
    draft = body["context"]["draftOrders"]["entry"][0]["resource"]
    draft["code"] = {"coding": [{"system": "https://painpath.org/fhir/CodeSystem/referral", "code": "pmp"}]}
    cards = HookResponse.model_validate(call(gp_service, "painpath-referral-sign", body).json()).cards
    warning = next(c for c in cards if c.indicator == "warning")
    assert "PMP referral" in warning.summary
    assert "BP_PMP_REFERRAL_AGAINST_ADVICE v1.0.0" in (warning.detail or "")
    assert "ServiceRequest/sr-mri-1" in (warning.detail or "")  # the referral it is about
    pmp = next(c for c in cards if "Pain management programme" in c.summary)
    assert pmp.indicator == "info" and "mental-health" in (pmp.detail or "")


def test_order_select_checks_the_selected_order_and_patient_view_summarises(gp_service: Service) -> None:
    body = hook_request("order_sign_lumbar_mri")
    body["hook"] = "order-select"
    body["context"]["selections"] = ["ServiceRequest/sr-mri-1"]
    cards = HookResponse.model_validate(call(gp_service, "painpath-referral-select", body).json()).cards
    assert any(c.indicator == "warning" and c.suggestions for c in cards)
    body["context"]["selections"] = ["ServiceRequest/something-else"]
    cards = HookResponse.model_validate(call(gp_service, "painpath-referral-select", body).json()).cards
    assert not any(c.indicator == "warning" for c in cards)  # the MRI is not the order being chosen
    view = hook_request("order_sign_cauda_equina")
    view["hook"] = "patient-view"
    del view["context"]["draftOrders"]
    view["prefetch"]["serviceRequests"] = None
    cards = HookResponse.model_validate(call(gp_service, "painpath-patient-view", view).json()).cards
    assert cards[0].indicator == "critical"
    misspelt = hook_request("order_sign_lumbar_mri")
    misspelt["context"]["draftOrder"] = misspelt["context"].pop("draftOrders")
    response = call(gp_service, "painpath-referral-sign", misspelt)
    assert response.status_code == 400
    assert response.json()["issue"][0]["expression"] == ["context.draftOrders", "context.draftOrder"]


def test_missing_required_prefetch_without_a_fhir_server_is_412_with_an_operation_outcome(gp_service: Service) -> None:
    body = hook_request("order_sign_lumbar_mri")
    del body["prefetch"]["observations"]
    response = call(gp_service, "painpath-referral-sign", body)
    assert response.status_code == 412
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert "observations" in outcome["issue"][0]["diagnostics"]


def test_a_prefetch_key_given_as_null_means_no_data_not_missing(gp_service: Service) -> None:
    body = hook_request("order_sign_lumbar_mri")
    body["prefetch"]["conditions"] = None
    assert call(gp_service, "painpath-referral-sign", body).status_code == 200


def test_a_prefetched_page_with_more_pages_and_no_fhir_server_is_reported(gp_service: Service) -> None:
    body = hook_request("order_sign_lumbar_mri")
    body["prefetch"]["observations"]["link"] = [
        {"relation": "next", "url": "https://ehr.example.org/fhir/Observation?p=2"}
    ]
    cards = HookResponse.model_validate(call(gp_service, "painpath-referral-sign", body).json()).cards
    mapping = next(c for c in cards if "could not be used" in c.summary)
    assert "prefetch.observations" in (mapping.detail or "") and "first page" in (mapping.detail or "")


def test_bad_requests_are_operation_outcomes_naming_the_field(gp_service: Service) -> None:
    body = hook_request("order_sign_lumbar_mri")
    body["fhirAuthorization"] = {
        "access_token": "x",
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "user/Patient.read",
        "subject": "painpath",
    }
    response = call(gp_service, "painpath-referral-sign", body)
    assert response.status_code == 400
    assert "cds-r-1" in response.json()["issue"][0]["diagnostics"]
    wrong_hook = copy.deepcopy(hook_request("order_sign_lumbar_mri"))
    wrong_hook["hook"] = "patient-view"
    assert call(gp_service, "painpath-referral-sign", wrong_hook).status_code == 400
    assert call(gp_service, "no-such-service", wrong_hook).status_code == 404


def test_feedback_is_stored_and_linked_to_the_rule(gp_service: Service) -> None:
    cards = call(gp_service, "painpath-referral-sign", hook_request("order_sign_lumbar_mri")).json()["cards"]
    warning = next(c for c in cards if c["indicator"] == "warning")
    feedback = {
        "feedback": [
            {
                "card": warning["uuid"],
                "outcome": "overridden",
                "overrideReason": {
                    "reason": warning["overrideReasons"][1],
                    "userComment": "awaiting specialist opinion",
                },
                "outcomeTimestamp": "2026-11-21T10:05:31Z",
            },
            {
                "card": warning["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": warning["suggestions"][0]["uuid"]}],
                "outcomeTimestamp": "2026-11-21T10:06:00Z",
            },
        ]
    }
    with gp_service.client(Role.clinician) as client:
        assert client.post("/cds-services/painpath-referral-sign/feedback", json=feedback).status_code == 200
        unknown = {"feedback": [{**feedback["feedback"][0], "card": "4e0a3a1e-3283-4575-ab82-028d55fe2719"}]}
        assert client.post("/cds-services/painpath-referral-sign/feedback", json=unknown).status_code == 404
        invalid = {"feedback": [{**feedback["feedback"][1], "acceptedSuggestions": None}]}
        bad = client.post("/cds-services/painpath-referral-sign/feedback", json=invalid)
        assert bad.status_code == 400 and "cds-fb-2" in bad.json()["issue"][0]["diagnostics"]
    store = open_store(gp_service.database_url)
    try:
        stored = store.cds.feedback_for(warning["uuid"])
    finally:
        store.close()
    assert [f.feedback.outcome for f in stored] == ["overridden", "accepted"]
    assert {(f.rule_id, f.rule_version) for f in stored} == {("BP_QS155_2_IMAGING_NOT_MET", "1.1.0")}
    assert stored[0].feedback.override_code == "need-more-info"
    assert stored[1].feedback.accepted_suggestions == (warning["suggestions"][0]["uuid"],)


def test_cds_calls_need_credentials(gp_service: Service) -> None:
    with gp_service.client() as client:
        response = client.post("/cds-services/painpath-referral-sign", json=hook_request("order_sign_lumbar_mri"))
    assert response.status_code == 401
