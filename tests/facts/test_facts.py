"""Patient facts: strict types, ranges, computed totals, and unknown fields rejected by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from painpath.errors import FactsValidationError
from painpath.facts import CATALOGUE, PatientFacts, flatten, parse_facts, parse_facts_json
from painpath.schemas import facts_schema

ROOT = Path(__file__).resolve().parents[2]


def _problems(data: object) -> list[str]:
    with pytest.raises(FactsValidationError) as info:
        parse_facts(data)
    return [p.render() for p in info.value.problems]


def test_misspelt_field_is_rejected_with_suggestion() -> None:
    assert _problems({"red_flags": {"saddle_anesthesia": True}}) == [
        "red_flags.saddle_anesthesia: unknown field (did you mean 'red_flags.saddle_anaesthesia'?)"
    ]


def test_field_in_wrong_group_suggests_its_home() -> None:
    (problem,) = _problems({"saddle_anaesthesia": True})
    assert "did you mean 'red_flags.saddle_anaesthesia'" in problem


def test_not_recorded_is_distinct_from_no() -> None:
    facts = parse_facts({"red_flags": {"fever": False}})
    flat = flatten(facts)
    assert flat["red_flags.fever"] is False
    assert "red_flags.night_pain" not in flat


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"demographics": {"age": 130}}, "demographics.age"),
        ({"pain": {"intensity_nrs": 11}}, "pain.intensity_nrs"),
        ({"instruments": {"phq9": {"total": 28}}}, "outside the instrument range 0-27"),
        ({"red_flags": {"fever": "yes"}}, "red_flags.fever"),
        ({"red_flags": {"fever": 1}}, "red_flags.fever"),
        ({"demographics": {"age": "60"}}, "demographics.age"),
        ({"instruments": {"phq9": {"items": [0, 1]}}}, "expected 9 items"),
        ({"instruments": {"phq9": {"items": [0, 0, 0, 0, 0, 0, 0, 0, 4]}}}, "item 9 is 4"),
    ],
)
def test_values_are_type_and_range_checked(data: dict[str, object], fragment: str) -> None:
    assert any(fragment in p for p in _problems(data))


def test_totals_and_subscales_are_computed_from_items() -> None:
    facts = parse_facts(
        {
            "instruments": {
                "phq9": {"items": [1, 1, 1, 1, 1, 1, 1, 1, 2]},
                "start_back": {"items": [1, 0, 1, 0, 1, 1, 1, 0, 1]},
                "pcs": {"items": [4] * 13},
                "tsk17": {"items": [4] * 17},
                "odi": {"items": [5, 5, None, 0, 0, 0, 0, 0, 0, 5]},
            }
        }
    )
    i = facts.instruments
    assert i.phq9 is not None and (i.phq9.total, i.phq9.item9) == (10, 2)
    assert i.start_back is not None and (i.start_back.total, i.start_back.psychosocial) == (6, 4)
    assert i.pcs is not None and (i.pcs.total, i.pcs.helplessness, i.pcs.rumination) == (52, 24, 16)
    assert i.tsk17 is not None and i.tsk17.total == 13 * 4 + 4 * 1  # items 4, 8, 12, 16 reverse-scored
    assert i.odi is not None and i.odi.percent == pytest.approx(33.3)


def test_a_total_that_disagrees_with_its_items_is_an_error() -> None:
    (problem,) = _problems({"instruments": {"phq9": {"items": [1] * 9, "total": 3}}})
    assert "total 3 disagrees with the items, which sum to 9" in problem


def test_item9_given_without_items_is_kept() -> None:
    facts = parse_facts({"instruments": {"phq9": {"item9": 1}}})
    assert flatten(facts)["instruments.phq9.item9"] == 1


def test_json_input_path() -> None:
    facts = parse_facts_json(json.dumps({"demographics": {"age": 41}}))
    assert facts.demographics.age == 41
    with pytest.raises(FactsValidationError):
        parse_facts_json("[1, 2]")


def test_catalogue_covers_every_usable_field() -> None:
    assert "red_flags.saddle_anaesthesia" in CATALOGUE
    assert CATALOGUE["pain.sites"].kind == "set"
    assert CATALOGUE["demographics.age"].maximum == 120
    assert "patient_id" not in CATALOGUE


def test_checked_in_facts_schema_is_current() -> None:
    """schemas/facts.schema.json is generated; regenerate it with `make schemas`."""
    checked_in = json.loads((ROOT / "schemas" / "facts.schema.json").read_text(encoding="utf-8"))
    assert checked_in == facts_schema(), "schemas/facts.schema.json is stale: run `make schemas`"


def test_model_forbids_extra_everywhere() -> None:
    assert PatientFacts.model_config.get("extra") == "forbid"


def test_the_generated_flatten_equals_the_model_dump_reference() -> None:
    """``flatten`` is generated from the catalogue for speed; it must equal the obvious version."""
    from painpath.audit.synth import cohort
    from painpath.facts.catalogue import flatten_reference

    patients = [parse_facts(p) for p in cohort(400, 11)]
    assert any(len(flatten(f)) > 100 for f in patients)
    for facts in patients:
        assert flatten(facts) == flatten_reference(facts)
