"""Issue 12: facts without group answers are validated straight from the JSON bytes.

The direct path must accept exactly what the model's full path accepts, give the same facts (types
included: ``5`` and ``5.0`` differ in a rendered decision) and leave every error to the full path.
The reference here is ``PatientFacts.model_validate_json``, the path every parse took before.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from painpath.audit.synth import cohort
from painpath.errors import FactsValidationError
from painpath.facts import CATALOGUE, PatientFacts, parse_facts_json
from painpath.facts.parse import problems_from
from painpath.facts.patient import PatientFactsFields

PATIENTS = list(cohort(60, 20261121))
PATHS = sorted({*CATALOGUE, "assessment_date", "instruments.phq9.date", "instruments.bpi.date", "patient_id"})
GROUPS = ["no_cauda_equina_symptoms", "not_a_group"]

_json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-5, max_value=200),
    st.integers(min_value=2**63, max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False, min_value=-1e6, max_value=1e6),
    st.sampled_from([0.0, 1.0, 5.0, 2.5, 9.999, 1e-5, 3.14159]),
    st.sampled_from(["", "  low  ", "high", "yes", "2026-11-18", " 2026-11-18", "2026-11-18T10:00", "5", "true"]),
    st.text(max_size=5),
    st.lists(st.one_of(st.integers(min_value=0, max_value=4), st.none(), st.sampled_from(["a", "low"])), max_size=10),
    st.dictionaries(st.sampled_from(["total", "items", "x"]), st.integers(min_value=0, max_value=30), max_size=2),
)


def _set(data: dict[str, Any], path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = data
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[leaf] = value


@st.composite
def _documents(draw: st.DrawFn) -> bytes:
    data: dict[str, Any] = json.loads(json.dumps(draw(st.sampled_from(PATIENTS))))
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        kind = draw(st.sampled_from(["set", "set", "set", "misspell", "groups", "drop"]))
        if kind == "set":
            _set(data, draw(st.sampled_from(PATHS)), draw(_json_values))
        elif kind == "misspell":
            _set(data, draw(st.sampled_from(PATHS)) + "x", True)
        elif kind == "groups":
            data["answered_groups"] = draw(st.lists(st.sampled_from(GROUPS), max_size=2))
        elif data:
            data.pop(draw(st.sampled_from(sorted(data))))
    return json.dumps(data).encode()


def _typed(value: Any) -> Any:
    """A model as nested (type, value) pairs, so that 5 and 5.0 (or True and 1) compare unequal."""
    if isinstance(value, BaseModel):
        return (type(value).__name__, sorted(value.model_fields_set), {k: _typed(v) for k, v in value})
    if isinstance(value, (list, tuple)):
        return [_typed(v) for v in value]
    if isinstance(value, dict):
        return {k: _typed(v) for k, v in value.items()}
    return (type(value).__name__, value)


def _reference(raw: str | bytes) -> tuple[str, Any]:
    try:
        return "ok", _typed(PatientFacts.model_validate_json(raw))
    except ValidationError as exc:
        return "error", [p.render() for p in problems_from(exc)]


def _fast(raw: str | bytes) -> tuple[str, Any]:
    try:
        return "ok", _typed(parse_facts_json(raw))
    except FactsValidationError as exc:
        return "error", [p.render() for p in exc.problems]


def test_facts_without_group_answers_take_the_direct_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """No group answers: validated by ``PatientFactsFields`` and given as ``PatientFacts``; with group
    answers, the full path (which applies them)."""
    full: list[object] = []
    original = PatientFacts.model_validate_json

    def counted(raw: str | bytes) -> PatientFacts:
        full.append(raw)
        return original(raw)

    monkeypatch.setattr(PatientFacts, "model_validate_json", counted)
    raw = json.dumps(PATIENTS[0])
    facts = parse_facts_json(raw)
    assert type(facts) is PatientFacts
    assert _typed(facts)[1:] == _typed(PatientFactsFields.model_validate_json(raw))[1:]
    assert full == []
    grouped = parse_facts_json(json.dumps({**PATIENTS[0], "answered_groups": ["no_cauda_equina_symptoms"]}))
    assert len(full) == 1
    assert grouped.red_flags.saddle_anaesthesia is not None


@pytest.mark.parametrize("patient", range(len(PATIENTS)))
def test_cohort_patients_parse_as_before(patient: int) -> None:
    raw = json.dumps(PATIENTS[patient]).encode()
    assert _fast(raw) == _reference(raw)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(raw=_documents())
def test_mutated_documents_parse_exactly_as_the_full_path(raw: bytes) -> None:
    assert _fast(raw) == _reference(raw)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"demographics": {"agee": 41}}',
        b'{"demographics": {"age": 41}, "demographics": {"age": 42}}',
        b'{"answered_groups": ["no_cauda_equina_symptoms"], "red_flags": {"saddle_anaesthesia": true}}',
        b'{"answered_groups": ["no_cauda_equina_symptoms"]}',
        b'{"answered_groups": []}',
        b'{"answered_groups": null}',
        b'{"assessment_date": 20261118}',
        b'{"pain": {"intensity_nrs": 5.0}}',
        b"[1, 2]",
        b"not json",
        b'{"patient_id": "\\ud800"}',
        b"",
    ],
)
def test_edge_cases_parse_exactly_as_the_full_path(raw: bytes) -> None:
    assert _fast(raw) == _reference(raw)
    assert _fast(raw.decode("utf-8", "replace")) == _reference(raw.decode("utf-8", "replace"))
