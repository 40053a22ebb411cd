"""FHIR R4 Bundles to patient facts: the code tables, sources of facts, and every reported issue."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from painpath.errors import FactsValidationError, RulesValidationError
from painpath.facts import CATALOGUE
from painpath.fhir import default_code_index, facts_from_bundle, load_code_tables
from painpath.fhir.codes import CODES_FILE

TODAY = datetime.date(2026, 11, 21)
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
FACTS = "https://painpath.org/fhir/CodeSystem/facts"


def bundle(*resources: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "collection", "entry": [{"resource": r} for r in resources]}


def observation(id_: str, system: str, code: str, date: str = "2026-11-10", **value: Any) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": id_,
        "status": "final",
        "code": {"coding": [{"system": system, "code": code}]},
        "effectiveDateTime": date,
        **value,
    }


def condition(id_: str, code: str, clinical: str = "active", verification: str = "confirmed") -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": id_,
        "subject": {"reference": "Patient/p"},
        "clinicalStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical", "code": clinical}]
        },
        "verificationStatus": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": verification}]
        },
        "code": {"coding": [{"system": SNOMED, "code": code}]},
    }


def issues(result: Any, code: str) -> list[str]:
    return [i.source for i in result.issues if i.code == code]


# -- the code tables -------------------------------------------------------------------------------


def test_the_phq9_total_and_item_9_are_not_confused() -> None:
    codes = default_code_index()
    assert codes.observations[(LOINC, "44261-6")].fact == "instruments.phq9.total"
    assert codes.observations[(LOINC, "44260-8")].fact == "instruments.phq9.item9"
    expected = {
        "70274-6": "instruments.gad7.total",
        "72514-3": "pain.intensity_nrs",
        "91351-7": "instruments.start_back.total",
        "91147-9": "instruments.peg.score",
    }
    for code, fact in expected.items():
        assert codes.observations[(LOINC, code)].fact == fact


def test_every_row_names_a_real_fact_and_a_value_it_can_take() -> None:
    codes = default_code_index()
    for row in codes.tables.observations:
        assert row.fact in CATALOGUE
    for cond in codes.tables.conditions:
        if not cond.recognised_only:
            assert cond.fact in CATALOGUE
    assert codes.medication("http://www.whocc.no/atc", "N02AA05").value == "strong_opioid"  # type: ignore[union-attr]
    assert codes.medication("http://www.whocc.no/atc", "N03AX16").value == "gabapentinoid"  # type: ignore[union-attr]
    assert codes.medication("http://www.whocc.no/atc", "A10BA02") is None


def first_code(table: dict[str, Any]) -> dict[str, Any]:
    codes: list[dict[str, Any]] = table["observations"]["instruments.phq9.total"]["codes"]
    return codes[0]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda t: t["observations"].update({"instruments.phq9.totl": t["observations"]["instruments.phq9.total"]}),
            "not a fact",
        ),
        (lambda t: t["observations"]["instruments.phq9.total"].update(value="boolean"), "integer fact, not boolean"),
        (lambda t: t["conditions"]["history_of_cancer"].update(value="maybe"), "yes/no"),
        (lambda t: t["medications"][0].update(value="aspirin"), "not a medicine class"),
        (lambda t: t["observations"]["instruments.gad7.total"]["codes"].append({**first_code(t)}), "listed twice"),
        (lambda t: first_code(t).update(verification="probably"), "verification"),
        (lambda t: t["observations"]["instruments.phq9.item9"].update(answers="phq_freq"), "no answer list"),
    ],
)
def test_a_broken_code_table_is_rejected_naming_the_row(tmp_path: Path, change: Any, message: str) -> None:
    table = yaml.safe_load(CODES_FILE.read_text(encoding="utf-8"))
    change(table)
    broken = tmp_path / "codes.yaml"
    broken.write_text(yaml.safe_dump(table), encoding="utf-8")
    with pytest.raises(RulesValidationError) as info:
        load_code_tables(broken)
    assert message in str(info.value)


# -- mapping ---------------------------------------------------------------------------------------


def test_facts_record_the_resource_they_came_from() -> None:
    result = facts_from_bundle(
        bundle(
            {"resourceType": "Patient", "id": "p", "gender": "male", "birthDate": "1970-11-22"},
            observation(
                "o1",
                LOINC,
                "44261-6",
                valueQuantity={"value": 14, "system": "http://unitsofmeasure.org", "code": "{score}"},
            ),
            observation("o2", LOINC, "44260-8", valueInteger=1),
            observation(
                "o3",
                FACTS,
                "red_flags.fever",
                valueCodeableConcept={"coding": [{"system": SNOMED, "code": "373067005"}]},
            ),
            condition("c1", "279039007"),
            condition("c2", "363346000", clinical="resolved"),
        ),
        as_of=TODAY,
    )
    facts = result.facts
    assert facts.demographics.age == 55 and facts.demographics.sex == "male"
    assert facts.instruments.phq9 is not None
    assert (facts.instruments.phq9.total, facts.instruments.phq9.item9) == (14, 1)
    assert facts.red_flags.fever is False
    assert facts.red_flags.history_of_cancer is True  # a history counts whatever its status
    assert facts.pain.sites == ["low_back"]
    assert result.sources["instruments.phq9.item9"] == "Observation/o2"
    assert result.sources["red_flags.history_of_cancer"] == "Condition/c2"
    assert result.patient_ref == "Patient/p"
    assert result.issues == ()


def test_stale_undated_and_unknown_observations_are_reported_not_used() -> None:
    result = facts_from_bundle(
        bundle(
            observation("old", LOINC, "44261-6", date="2025-01-01", valueInteger=20),
            {
                k: v
                for k, v in observation("nodate", LOINC, "70274-6", valueInteger=5).items()
                if k != "effectiveDateTime"
            },
            observation("hba1c", LOINC, "4548-4", valueQuantity={"value": 7.1}),
            observation("absent", FACTS, "red_flags.fever", dataAbsentReason={"coding": [{"code": "asked-declined"}]}),
        ),
        as_of=TODAY,
    )
    assert result.facts.instruments.phq9 is None and result.facts.instruments.gad7 is None
    assert result.facts.red_flags.fever is None  # declined is unknown, not "no"
    assert issues(result, "stale") == ["Observation/old"]
    assert issues(result, "undated") == ["Observation/nodate"]
    assert issues(result, "unknown-code") == ["Observation/hba1c"]
    assert issues(result, "data-absent") == ["Observation/absent"]


def test_a_configurable_age_limit() -> None:
    obs = observation("o", FACTS, "red_flags.night_pain", date="2026-10-01", valueBoolean=True)
    assert facts_from_bundle(bundle(obs), as_of=TODAY).facts.red_flags.night_pain is True
    limited = facts_from_bundle(bundle(obs), as_of=TODAY, max_age_days=30)
    assert limited.facts.red_flags.night_pain is None and issues(limited, "stale") == ["Observation/o"]
    # a code's own limit (PHQ-9 item 9: 30 days) is not relaxed by the default
    item9 = observation("i9", LOINC, "44260-8", date="2026-10-01", valueInteger=2)
    assert facts_from_bundle(bundle(item9), as_of=TODAY, max_age_days=400).facts.instruments.phq9 is None


def test_conflicting_observations_leave_the_fact_unknown_and_newer_ones_supersede() -> None:
    same_day = facts_from_bundle(
        bundle(
            observation("a", FACTS, "red_flags.saddle_anaesthesia", valueBoolean=True),
            observation("b", FACTS, "red_flags.saddle_anaesthesia", valueBoolean=False),
        ),
        as_of=TODAY,
    )
    assert same_day.facts.red_flags.saddle_anaesthesia is None
    assert sorted(issues(same_day, "conflict")) == ["Observation/a", "Observation/b"]
    newer = facts_from_bundle(
        bundle(
            observation("a", FACTS, "red_flags.saddle_anaesthesia", date="2026-11-01", valueBoolean=False),
            observation("b", FACTS, "red_flags.saddle_anaesthesia", date="2026-11-20", valueBoolean=True),
        ),
        as_of=TODAY,
    )
    assert newer.facts.red_flags.saddle_anaesthesia is True
    assert newer.sources["red_flags.saddle_anaesthesia"] == "Observation/b"
    assert issues(newer, "superseded") == ["Observation/a"]


def test_refuted_conditions_say_no_and_entered_in_error_is_ignored() -> None:
    result = facts_from_bundle(
        bundle(
            condition("c1", "64859006", verification="refuted"),
            condition("c2", "35489007", verification="entered-in-error"),
        ),
        as_of=TODAY,
    )
    assert result.facts.red_flags.known_osteoporosis is False
    assert result.facts.mental_health.depression is None
    assert issues(result, "not-used") == ["Condition/c2"]


def test_questionnaire_answers_medicines_procedures_and_requests() -> None:
    result = facts_from_bundle(
        bundle(
            {
                "resourceType": "QuestionnaireResponse",
                "id": "q",
                "status": "completed",
                "authored": "2026-11-20",
                "item": [
                    {"linkId": "red_flags.bladder_dysfunction", "answer": [{"valueBoolean": False}]},
                    {"linkId": "group", "item": [{"linkId": "44260-8", "answer": [{"valueInteger": 0}]}]},
                    {"linkId": "favourite-colour", "answer": [{"valueString": "blue"}]},
                ],
            },
            {
                "resourceType": "MedicationStatement",
                "id": "m",
                "status": "active",
                "subject": {"reference": "Patient/p"},
                "medicationCodeableConcept": {"coding": [{"system": "http://www.whocc.no/atc", "code": "N03AX16"}]},
            },
            {
                "resourceType": "Procedure",
                "id": "pr",
                "status": "completed",
                "subject": {"reference": "Patient/p"},
                "code": {
                    "coding": [{"system": "https://painpath.org/fhir/CodeSystem/treatment", "code": "physiotherapy"}]
                },
            },
            {
                "resourceType": "ServiceRequest",
                "id": "sr",
                "status": "draft",
                "intent": "order",
                "subject": {"reference": "Patient/p"},
                "code": {"coding": [{"system": SNOMED, "code": "41333006"}]},
            },
        ),
        as_of=TODAY,
        requester_setting="primary_care",
    )
    f = result.facts
    assert f.red_flags.bladder_dysfunction is False
    assert f.instruments.phq9 is not None and f.instruments.phq9.item9 == 0
    assert f.care.medicines_current == ["gabapentinoid"]
    assert f.care.treatments_given == ["physiotherapy"]
    assert (f.care.imaging_requested, f.care.imaging_modality, f.care.imaging_requested_by) == (
        True,
        "mri",
        "primary_care",
    )
    assert f.care.referrals_requested == ["imaging"]
    assert [(r.kind, r.source) for r in result.referrals] == [("imaging", "ServiceRequest/sr")]
    assert issues(result, "unknown-code") == ["QuestionnaireResponse/q#favourite-colour"]


def test_invalid_resources_and_out_of_range_values_are_reported() -> None:
    result = facts_from_bundle(
        bundle(
            {"resourceType": "Observation", "id": "bad", "status": "final", "valueInteger": "many"},
            observation("range", LOINC, "72514-3", valueInteger=14),
            {"resourceType": "Encounter", "id": "e", "status": "finished", "class": {"code": "AMB"}},
        ),
        as_of=TODAY,
    )
    assert result.facts.pain.intensity_nrs is None
    assert issues(result, "invalid-resource") == ["Observation/bad"]
    assert issues(result, "invalid-value") == ["Observation/range"]
    assert issues(result, "not-used") == ["Encounter/e"]


@pytest.mark.parametrize(
    ("document", "where"),
    [
        ({"resourceType": "Patient"}, "resourceType"),
        ({"resourceType": "Bundle", "type": "collection", "entry": None}, "entry"),
        ({"resourceType": "Bundle", "type": "collection", "entry": [5]}, "entry.0"),
        ({"resourceType": "Bundle", "entry": []}, "type"),
        ({"resourceType": "Bundle", "type": "collection", "entyr": []}, "entyr"),
    ],
)
def test_something_that_is_not_a_valid_bundle_is_an_error_naming_the_field(document: Any, where: str) -> None:
    with pytest.raises(FactsValidationError) as info:
        facts_from_bundle(document)
    assert [p.location for p in info.value.problems] == [where]
