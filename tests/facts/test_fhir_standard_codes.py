"""Standard coding as an EHR sends it: SNOMED CT conditions, referrals and imaging, LOINC answer lists."""

from __future__ import annotations

import datetime
from typing import Any

import pytest

from painpath.fhir import default_code_index, facts_from_bundle

TODAY = datetime.date(2026, 11, 21)
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def observation(id_: str, code: str, **value: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": id_,
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "effectiveDateTime": "2026-11-18",
        **value,
    }


def service_request(id_: str, code: str) -> dict[str, Any]:
    return {
        "resourceType": "ServiceRequest",
        "id": id_,
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/p"},
        "code": {"coding": [{"system": SNOMED, "code": code}]},
    }


def test_every_row_has_a_display_and_a_verification_status() -> None:
    tables = default_code_index().tables
    rows = [*tables.observations, *tables.observations_not_used, *tables.conditions, *tables.service_requests]
    rows += [a for answers in tables.answer_lists.values() for a in answers]
    assert rows
    for row in rows:
        assert row.display and row.verification in ("verified", "checked-once", "corroborated", "unchecked"), row


def test_no_cpt_codes_remain() -> None:
    tables = default_code_index().tables
    assert "cpt" not in tables.systems
    assert all("ama-assn" not in s.system for s in tables.service_requests if s.system)


def test_chronic_low_back_pain_in_snomed_sets_the_low_back_site() -> None:
    condition = {
        "resourceType": "Condition",
        "id": "c",
        "subject": {"reference": "Patient/p"},
        "clinicalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": "active"}]
        },
        "code": {"coding": [{"system": SNOMED, "code": "278860009", "display": "Chronic low back pain"}]},
    }
    result = facts_from_bundle(bundle(condition), as_of=TODAY)
    assert result.facts.pain.sites == ["low_back"]
    assert result.issues == ()


@pytest.mark.parametrize(("answer", "score"), [("LA6568-5", 0), ("LA6569-3", 1), ("LA6570-1", 2), ("LA6571-9", 3)])
def test_phq9_item9_answered_with_a_loinc_answer_code(answer: str, score: int) -> None:
    coded = {"coding": [{"system": LOINC, "code": answer}]}
    result = facts_from_bundle(bundle(observation("i9", "44260-8", valueCodeableConcept=coded)), as_of=TODAY)
    assert result.facts.instruments.phq9 is not None
    assert result.facts.instruments.phq9.item9 == score
    assert result.issues == ()


def test_a_questionnaire_answer_coded_with_the_answer_list_is_scored() -> None:
    response = {
        "resourceType": "QuestionnaireResponse",
        "id": "q",
        "status": "completed",
        "authored": "2026-11-20",
        "item": [
            {"linkId": "/44260-8", "answer": [{"valueCoding": {"system": LOINC, "code": "LA6570-1"}}]},
            {"linkId": "/44250-9", "answer": [{"valueCoding": {"system": LOINC, "code": "LA6569-3"}}]},
        ],
    }
    result = facts_from_bundle(bundle(response), as_of=TODAY)
    assert result.facts.instruments.phq9 is not None and result.facts.instruments.phq9.item9 == 2
    # PHQ-9 item 1 is a known code no rule reads: information, not a warning
    assert [(i.severity, i.code, i.source) for i in result.issues] == [
        ("information", "not-used", "QuestionnaireResponse/q#44250-9")
    ]


def test_an_answer_code_from_another_list_does_not_fit() -> None:
    coded = {"coding": [{"system": LOINC, "code": "LA33-6"}]}
    result = facts_from_bundle(bundle(observation("i9", "44260-8", valueCodeableConcept=coded)), as_of=TODAY)
    assert result.facts.instruments.phq9 is None
    assert [(i.severity, i.code) for i in result.issues] == [("warning", "invalid-value")]


def test_the_start_back_distress_subscore_arrives_through_loinc() -> None:
    result = facts_from_bundle(
        bundle(observation("t", "91351-7", valueInteger=6), observation("d", "91350-9", valueInteger=4)), as_of=TODAY
    )
    start_back = result.facts.instruments.start_back
    assert start_back is not None and (start_back.total, start_back.psychosocial) == (6, 4)
    assert result.sources["instruments.start_back.psychosocial"] == "Observation/d"


@pytest.mark.parametrize(
    ("code", "kind", "modality"),
    [
        ("306265007", "pain_clinic", None),
        ("308447003", "physiotherapy", None),
        ("308481009", "surgery", None),
        ("183545006", "surgery", None),
        ("433141005", "imaging", "mri"),
        ("41333006", "imaging", "mri"),
        ("711224009", "imaging", "ct"),
    ],
)
def test_snomed_referral_and_imaging_procedures_are_read(code: str, kind: str, modality: str | None) -> None:
    result = facts_from_bundle(bundle(service_request("sr", code)), as_of=TODAY)
    assert [(r.kind, r.modality) for r in result.referrals] == [(kind, modality)]
    assert result.facts.care.referrals_requested == [kind]
    if kind == "surgery":
        assert result.facts.care.surgery_referral is True
    if modality:
        assert result.facts.care.imaging_modality == modality


def test_codes_no_rule_uses_are_information_not_warnings() -> None:
    result = facts_from_bundle(
        bundle(
            service_request("rheum", "306290009"),
            observation("item1", "44250-9", valueCodeableConcept={"coding": [{"system": LOINC, "code": "LA6568-5"}]}),
            observation("hba1c", "4548-4", valueQuantity={"value": 7.1}),
        ),
        as_of=TODAY,
    )
    assert result.referrals == () and result.facts.care.referrals_requested is None
    assert {(i.source, i.severity, i.code) for i in result.issues} == {
        ("ServiceRequest/rheum", "information", "not-used"),
        ("Observation/item1", "information", "not-used"),
        ("Observation/hba1c", "information", "unknown-code"),
    }


def test_a_misspelt_painpath_fact_code_is_still_a_warning() -> None:
    obs = {
        **observation("o", "x", valueBoolean=True),
        "code": {"coding": [{"system": "https://painpath.org/fhir/CodeSystem/facts", "code": "red_flags.fevr"}]},
    }
    result = facts_from_bundle(bundle(obs), as_of=TODAY)
    assert [(i.severity, i.code) for i in result.issues] == [("warning", "unknown-code")]
