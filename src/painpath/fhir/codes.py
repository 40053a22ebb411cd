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
    kind: Referral
    modality: Literal["xray", "mri", "ct", "ultrasound"] | None = None
    region: str | None = None
    verification: Verification | None = None


class CodeTables(_Row):
    """The whole table, with system aliases already resolved to URIs."""

    version: str
    painpath_system: str
    treatment_system: str
    diagnosis_system: str
    referral_system: str
    default_max_age_days: int = Field(ge=1)
    systems: dict[str, str]
    observations: tuple[ObservationCode, ...]
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


def _resolve(raw: dict[str, Any]) -> dict[str, Any]:
    systems: dict[str, str] = raw.get("systems", {})
    for section in ("observations", "conditions", "medications", "service_requests"):
        for row in raw.get(section, []):
            row["system"] = systems.get(row["system"], row["system"])
    for rows in raw.get("answers", {}).values():
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
        if (obs.system, obs.code) in seen:
            problems.append(Problem(where, "code listed twice"))
        seen.add((obs.system, obs.code))
    for i, cond in enumerate(tables.conditions):
        where = f"conditions[{i}] {cond.code}"
        if cond.recognised_only:
            continue
        if cond.fact is None or (cond.value is None) == (cond.add is None):
            problems.append(Problem(where, "give a fact and exactly one of value / add"))
            continue
        _check_value(cond.fact, cond.value if cond.add is None else cond.add, where, problems)
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
    return CodeIndex(
        tables=tables,
        observations={(o.system, o.code): o for o in tables.observations},
        conditions={(c.system, c.code): c for c in tables.conditions},
        services=services,
        yes=frozenset((a.system, a.code) for a in tables.answers.affirmative),
        no=frozenset((a.system, a.code) for a in tables.answers.negative),
    )


@functools.cache
def default_code_index() -> CodeIndex:
    """The bundled code tables, loaded once."""
    return load_code_tables()
