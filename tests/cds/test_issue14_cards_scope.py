"""Issue 14, findings 2: cards only where they belong, through the real server.

The order services answer only draft orders painpath has rules for (MSK pain referrals, spinal
imaging, analgesic prescribing for chronic pain); ``patient-view`` only a patient with a chronic
MSK pain problem on the record. Anything else is exactly ``{"cards": []}``.
"""

from __future__ import annotations

from typing import Any

import pytest

from painpath.cds.scope import load_scope
from painpath.engine import load_ruleset
from painpath.paths import default_rules_dir
from tests.api.conftest import Service
from tests.cds.hook_requests import (
    CHRONIC_LBP,
    LUMBAR_MRI,
    PATIENT_ID,
    PULMONARY_EMBOLISM,
    call,
    condition,
    hook_request,
    medication_request,
    service_request,
    third_party_record,
)

NUTRITION_ORDER: dict[str, Any] = {
    "resourceType": "NutritionOrder",
    "id": "no-1",
    "status": "draft",
    "intent": "order",
    "patient": {"reference": f"Patient/{PATIENT_ID}"},
    "dateTime": "2026-12-01",
    "oralDiet": {
        "type": [{"coding": [{"system": "http://snomed.info/sct", "code": "160670007", "display": "Diabetic diet"}]}]
    },
}
AMOXICILLIN = medication_request("J01CA04", "amoxicillin", "mr-amox")
TRAMADOL = medication_request("N02AX02", "tramadol", "mr-tram")
FULL_BLOOD_COUNT = service_request("26604007", "Complete blood count", "sr-fbc")
MRI = service_request(*LUMBAR_MRI, "sr-mri")
LBP = condition(*CHRONIC_LBP, "cond-clbp")


def answer(svc: Service, body: dict[str, Any]) -> dict[str, Any]:
    response = call(svc, body)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.parametrize("hook", ["order-sign", "order-select"])
@pytest.mark.parametrize(
    "draft", [NUTRITION_ORDER, AMOXICILLIN, FULL_BLOOD_COUNT], ids=["nutrition", "antibiotic", "lab"]
)
def test_an_order_painpath_has_no_rules_for_gets_no_cards(
    gp_service: Service, hook: str, draft: dict[str, Any]
) -> None:
    # even for a chronic low back pain patient with the red-flag screen unanswered
    body = hook_request(hook, conditions=[LBP], drafts=[draft])
    assert answer(gp_service, body) == {"cards": []}


def test_order_select_answers_the_selected_order_only(gp_service: Service) -> None:
    body = hook_request(
        "order-select", conditions=[LBP], drafts=[MRI, NUTRITION_ORDER], selections=["NutritionOrder/no-1"]
    )
    assert answer(gp_service, body) == {"cards": []}
    body["context"]["selections"] = ["ServiceRequest/sr-mri"]
    assert answer(gp_service, body)["cards"]


def test_an_mri_and_a_pain_referral_are_in_scope(gp_service: Service) -> None:
    for draft in (MRI, service_request("306265007", "Referral to pain management specialist", "sr-pain")):
        assert answer(gp_service, hook_request("order-sign", conditions=[LBP], drafts=[draft]))["cards"]


def test_an_analgesic_is_in_scope_for_chronic_pain_only(gp_service: Service) -> None:
    assert answer(gp_service, hook_request("order-sign", conditions=[LBP], drafts=[TRAMADOL]))["cards"]
    pe = condition(*PULMONARY_EMBOLISM, "cond-pe")
    assert answer(gp_service, hook_request("order-sign", conditions=[pe], drafts=[TRAMADOL])) == {"cards": []}


def test_patient_view_for_a_child_with_pulmonary_embolism_gets_no_cards(gp_service: Service) -> None:
    body = hook_request("patient-view", age=9, conditions=[condition(*PULMONARY_EMBOLISM, "cond-pe")])
    assert answer(gp_service, body) == {"cards": []}


def test_patient_view_for_chronic_low_back_pain_answers(gp_service: Service) -> None:
    assert answer(gp_service, hook_request("patient-view", conditions=[LBP]))["cards"]


def test_a_refuted_or_resolved_low_back_pain_is_not_a_current_problem(gp_service: Service) -> None:
    refuted = condition(*CHRONIC_LBP, "cond-x")
    refuted["verificationStatus"]["coding"][0]["code"] = "refuted"
    resolved = condition(*CHRONIC_LBP, "cond-y")
    resolved["clinicalStatus"]["coding"][0]["code"] = "resolved"
    assert answer(gp_service, hook_request("patient-view", conditions=[refuted, resolved])) == {"cards": []}


@pytest.mark.parametrize("profile", ["hypertension", "type2_diabetes", "anaemia"])
def test_third_party_patients_without_msk_pain_get_no_cards(gp_service: Service, profile: str) -> None:
    """carebundle's US Core patients (hypertension, diabetes, anaemia): their own problems and
    medicines as the record, their medicine orders as the drafts."""
    record = third_party_record(profile, 7, "cb-patient")
    body = hook_request("patient-view", conditions=record.get("Condition", []), pid="cb-patient")
    body["prefetch"]["patient"] = record["Patient"][0]
    assert answer(gp_service, body) == {"cards": []}
    drafts = [{**m, "status": "draft"} for m in record.get("MedicationRequest", [])] or [NUTRITION_ORDER]
    sign = hook_request("order-sign", conditions=record.get("Condition", []), drafts=drafts, pid="cb-patient")
    sign["prefetch"]["patient"] = record["Patient"][0]
    assert answer(gp_service, sign) == {"cards": []}


def test_the_scope_names_only_code_table_value_sets_and_cites_guidelines() -> None:
    scope = load_scope()  # raises when a value set, medicine class or referral kind is unknown
    guidelines = load_ruleset(default_rules_dir()).guidelines
    assert scope.scope.cites and all(c.split("#")[0] in guidelines for c in scope.scope.cites)
    assert (
        "imaging" in scope.scope.orders.referral_kinds and "low_back_pain" in scope.scope.patient.condition_value_sets
    )
