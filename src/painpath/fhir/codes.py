"""The FHIR code tables (``codes.yaml``), validated against the fact catalogue when loaded.

Python only interprets the tables: which code means which fact lives in the YAML, with how each
code was checked. A row naming a fact that does not exist, or a value the fact cannot take, is an
error naming the row (``RulesValidationError``), like a broken rule.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from painpath.errors import Problem, RulesValidationError, suggest
from painpath.facts.care import Referral
from painpath.facts.catalogue import CATALOGUE

CODES_FILE = Path(__file__).with_name("codes.yaml")

ValueKind = Literal["integer", "number", "boolean"]
Verification = Literal["verified", "checked-once", "corroborated", "unchecked"]


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ObservationCode(_Row):
    system: str
    code: str
    display: str
    fact: str
    value: ValueKind
    max_age_days: int | None = Field(default=None, ge=1)
    answers: str | None = None
    """The scored answer list (``answer_lists``) a coded answer is read with."""
    verification: Verification


class RecognisedCode(_Row):
    """A code painpath knows but no rule reads: reported as information, not as an unknown code."""

    system: str
    code: str
    display: str
    verification: Verification


class ScoredAnswer(_Row):
    system: str
    code: str
    display: str
    score: int
    verification: Verification


class AnswerCode(_Row):
    system: str
    code: str
    display: str


class Answers(_Row):
    affirmative: tuple[AnswerCode, ...]
    negative: tuple[AnswerCode, ...]


class ConditionCode(_Row):
    system: str
    code: str
    display: str
    fact: str | None = None
    value: bool | str | None = None
    add: str | None = None
    any_status: bool = False
    recognised_only: bool = False
    verification: Verification
    value_set: str | None = None
    """The value set (``conditions.<name>``) the row is listed under; set when the tables are read."""


class MedicationCode(_Row):
    system: str
    prefix: str
    value: str
    display: str | None = None
    verification: Verification


class ServiceCode(_Row):
    system: str | None = None
    code: str
    display: str
    kind: Referral | None = None
    """None for a request painpath recognises but no rule reads (``recognised_only``)."""
    modality: Literal["xray", "mri", "ct", "ultrasound"] | None = None
    region: str | None = None
    recognised_only: bool = False
    verification: Verification | None = None


class CodeTables(_Row):
    """The whole table, with system aliases already resolved to URIs."""

    version: str
    painpath_system: str
    treatment_system: str
    diagnosis_system: str
    answer_system: str
    """painpath's answer codes (a category or list value, or ``none``) in Questionnaire answers."""
    referral_system: str
    default_max_age_days: int = Field(ge=1)
    systems: dict[str, str]
    observations: tuple[ObservationCode, ...]
    observations_not_used: tuple[RecognisedCode, ...] = ()
    answer_lists: dict[str, tuple[ScoredAnswer, ...]] = Field(default_factory=dict)
    answers: Answers
    conditions: tuple[ConditionCode, ...]
    medications: tuple[MedicationCode, ...]
    service_requests: tuple[ServiceCode, ...]
    referral_codes: tuple[ServiceCode, ...]


@dataclass(frozen=True)
class CodeIndex:
    """Lookups over the tables, keyed by ``(system URI, code)``."""

    tables: CodeTables
    observations: dict[tuple[str, str], ObservationCode]
    conditions: dict[tuple[str, str], ConditionCode]
    services: dict[tuple[str, str], ServiceCode]
    yes: frozenset[tuple[str, str]]
    no: frozenset[tuple[str, str]]
    not_used: dict[tuple[str, str], RecognisedCode]
    scores: dict[str, dict[tuple[str, str], int]]
    """Fact path -> coded answer -> its score (from the fact's ``answers`` list)."""

    def medication(self, system: str, code: str) -> MedicationCode | None:
        """The longest ATC-style prefix row matching ``code`` (most specific first)."""
        best: MedicationCode | None = None
        for row in self.tables.medications:
            if (
                row.system == system
                and code.startswith(row.prefix)
                and (best is None or len(row.prefix) > len(best.prefix))
            ):
                best = row
        return best

    def code_for_fact(self, path: str) -> tuple[str, str, str]:
        """``(system, code, display)`` to ask for a fact: its LOINC row if any, else painpath's code."""
        for row in self.tables.observations:
            if row.fact == path:
                return row.system, row.code, row.display
        spec = CATALOGUE.get(path)
        return self.tables.painpath_system, path, (spec.description if spec and spec.description else path)


_VALUE_SETS = {"observations": "fact", "conditions": "name", "service_requests": "name"}


def _expand(raw: dict[str, Any]) -> dict[str, Any]:
    """Value sets (``{name: {shared fields..., codes: [rows]}}``) as flat rows, each with the shared fields."""
    for section, key in _VALUE_SETS.items():
        sets = raw.get(section)
        if not isinstance(sets, dict):
            continue
        rows: list[Any] = []
        for name, spec in sets.items():
            if not isinstance(spec, dict):
                rows.append(spec)  # reported by the model as a bad row
                continue
            shared = {k: v for k, v in spec.items() if k != "codes"}
            if key == "fact":
                shared["fact"] = name
            elif section == "conditions":
                shared["value_set"] = name
            for row in spec.get("codes") or []:
                rows.append({**shared, **row} if isinstance(row, dict) else row)
        raw[section] = rows
    groups = raw.get("observations_not_used")
    if isinstance(groups, dict):
        raw["observations_not_used"] = [row for rows in groups.values() for row in rows or []]
    return raw


def _resolve(raw: dict[str, Any]) -> dict[str, Any]:
    raw = _expand(raw)
    systems: dict[str, str] = raw.get("systems", {})
    for section in ("observations", "observations_not_used", "conditions", "medications", "service_requests"):
        for row in raw.get(section, []):
            if isinstance(row, dict) and "system" in row:
                row["system"] = systems.get(row["system"], row["system"])
    for rows in (*raw.get("answers", {}).values(), *raw.get("answer_lists", {}).values()):
        for row in rows:
            row["system"] = systems.get(row["system"], row["system"])
    for row in raw.get("referral_codes", []):
        row["system"] = raw.get("referral_system")
    return raw


def _check_value(path: str, value: object, where: str, problems: list[Problem]) -> None:
    spec = CATALOGUE.get(path)
    if spec is None:
        problems.append(Problem(where, f"'{path}' is not a fact of the catalogue", suggest(path, CATALOGUE)))
        return
    if spec.kind == "boolean" and not isinstance(value, bool):
        problems.append(Problem(where, f"{path} is yes/no; got {value!r}"))
    elif spec.kind in ("enum", "set") and value not in spec.values:
        problems.append(Problem(where, f"{value!r} is not a value of {path}", suggest(str(value), spec.values)))


def _validate(tables: CodeTables) -> None:
    problems: list[Problem] = []
    seen: set[tuple[str, str]] = set()
    for i, obs in enumerate(tables.observations):
        where = f"observations[{i}] {obs.code}"
        spec = CATALOGUE.get(obs.fact)
        if spec is None:
            problems.append(Problem(where, f"'{obs.fact}' is not a fact", suggest(obs.fact, CATALOGUE)))
        elif {"integer": ("integer",), "number": ("number",), "boolean": ("boolean",)}[obs.value] != (spec.kind,):
            problems.append(Problem(where, f"{obs.fact} is a {spec.kind} fact, not {obs.value}"))
        if obs.answers is not None and obs.answers not in tables.answer_lists:
            problems.append(
                Problem(where, f"no answer list '{obs.answers}'", suggest(obs.answers, tables.answer_lists))
            )
        if (obs.system, obs.code) in seen:
            problems.append(Problem(where, "code listed twice"))
        seen.add((obs.system, obs.code))
    for i, known in enumerate(tables.observations_not_used):
        if (known.system, known.code) in seen:
            problems.append(Problem(f"observations_not_used[{i}] {known.code}", "code listed twice"))
        seen.add((known.system, known.code))
    for i, cond in enumerate(tables.conditions):
        where = f"conditions[{i}] {cond.code}"
        if cond.recognised_only:
            continue
        if cond.fact is None or (cond.value is None) == (cond.add is None):
            problems.append(Problem(where, "give a fact and exactly one of value / add"))
            continue
        _check_value(cond.fact, cond.value if cond.add is None else cond.add, where, problems)
    for i, svc in enumerate(tables.service_requests):
        if svc.kind is None and not svc.recognised_only:
            problems.append(Problem(f"service_requests[{i}] {svc.code}", "give a kind, or recognised_only"))
    medicine = CATALOGUE["care.medicines_current"]
    for i, med in enumerate(tables.medications):
        if med.value not in medicine.values:
            problems.append(Problem(f"medications[{i}] {med.prefix}", f"{med.value!r} is not a medicine class"))
    if problems:
        raise RulesValidationError(f"invalid FHIR code table {CODES_FILE.name}", problems)


def load_code_tables(path: Path = CODES_FILE) -> CodeIndex:
    """Read and check a code table file (``RulesValidationError`` naming each bad row)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    try:
        tables = CodeTables.model_validate(_resolve(raw))
    except ValidationError as exc:
        raise RulesValidationError(
            f"invalid FHIR code table {path.name}",
            [Problem(".".join(str(p) for p in e["loc"]), e["msg"]) for e in exc.errors(include_url=False)],
        ) from None
    _validate(tables)
    services = {(s.system or "", s.code): s for s in (*tables.service_requests, *tables.referral_codes)}
    scores = {
        o.fact: {(a.system, a.code): a.score for a in tables.answer_lists[o.answers]}
        for o in tables.observations
        if o.answers is not None
    }
    return CodeIndex(
        tables=tables,
        observations={(o.system, o.code): o for o in tables.observations},
        conditions={(c.system, c.code): c for c in tables.conditions},
        services=services,
        yes=frozenset((a.system, a.code) for a in tables.answers.affirmative),
        no=frozenset((a.system, a.code) for a in tables.answers.negative),
        not_used={(k.system, k.code): k for k in tables.observations_not_used},
        scores=scores,
    )


@functools.cache
def default_code_index() -> CodeIndex:
    """The bundled code tables, loaded once."""
    return load_code_tables()
