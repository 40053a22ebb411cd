"""The triage vocabulary and advice rules in ``codes.yaml``, loaded and checked completely.

Every code an advice rule names must be defined, every outcome's required field must be one the
outcome form has, and all problems are reported together (``TriageCodesError``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from painpath.errors import PainpathError, Problem

CODES_FILE = Path(__file__).with_name("codes.yaml")
OutcomeField = Literal["service", "setting", "redirected_to", "returned_reason"]
OUTCOME_FIELDS: tuple[OutcomeField, ...] = ("service", "setting", "redirected_to", "returned_reason")
SUMMARY_FIELDS = ("status", "highest_urgency", "red_flag_status", "pmp_status")
PMP_SETTING = "$pmp_setting"
"""In an ``agrees`` entry: the setting painpath resolved for the PMP."""
_LISTS: dict[OutcomeField, str] = {
    "service": "services",
    "setting": "settings",
    "redirected_to": "redirect_targets",
    "returned_reason": "return_reasons",
}


class TriageCodesError(PainpathError):
    """``codes.yaml`` is malformed or refers to codes it does not define."""


@dataclass(frozen=True)
class Agreement:
    """An outcome that agrees with an advice rule: the outcome and, per field, the codes allowed."""

    outcome: str
    allowed: Mapping[str, tuple[str, ...] | str]
    """Field -> allowed codes, or ``PMP_SETTING``; a field not named may hold any code."""


@dataclass(frozen=True)
class AdviceRule:
    id: str
    when: Mapping[str, tuple[str, ...]]
    text: str
    agrees: tuple[Agreement, ...] | None
    """``None``: any outcome agrees (painpath gave no advice to depart from)."""

    def matches(self, summary: Mapping[str, str | None]) -> bool:
        return all(summary.get(name) in values for name, values in self.when.items())


@dataclass(frozen=True)
class TriageCodes:
    version: int
    outcomes: Mapping[str, str]
    """Outcome code -> label."""
    requires: Mapping[str, tuple[OutcomeField, ...]]
    """Outcome code -> the fields it needs."""
    lists: Mapping[OutcomeField, Mapping[str, str]]
    """Field -> code -> label."""
    advice: tuple[AdviceRule, ...]

    def label(self, field: OutcomeField, code: str | None) -> str:
        """The label of ``code`` in ``field``'s list (the code itself if unknown, '' if none)."""
        if code is None:
            return ""
        return self.lists[field].get(code, code)

    def advice_for(self, summary: Mapping[str, str | None]) -> AdviceRule:
        """The first advice rule matching a decision summary (the last rule matches everything)."""
        for rule in self.advice:
            if rule.matches(summary):
                return rule
        raise LookupError("no advice rule matches; codes.yaml must end with a rule whose 'when' is empty")


def _labels(raw: Any, where: str, problems: list[Problem]) -> dict[str, str]:
    if not isinstance(raw, dict) or not raw:
        problems.append(Problem(where, "must be a non-empty mapping of code to label"))
        return {}
    out: dict[str, str] = {}
    for code, label in raw.items():
        if not isinstance(code, str) or not isinstance(label, str):
            problems.append(Problem(f"{where}.{code}", "code and label must be strings"))
        else:
            out[code] = label
    return out


def parse_codes(data: Any, file: str = "codes.yaml") -> TriageCodes:
    """Check ``data`` (the parsed YAML) and build ``TriageCodes``; ``TriageCodesError`` lists every problem."""
    problems: list[Problem] = []
    if not isinstance(data, dict):
        raise TriageCodesError(f"{file} must be a mapping", [Problem("(root)", "not a mapping", file=file)])
    lists: dict[OutcomeField, dict[str, str]] = {
        field: _labels(data.get(key), key, problems) for field, key in _LISTS.items()
    }
    outcomes: dict[str, str] = {}
    requires: dict[str, tuple[OutcomeField, ...]] = {}
    raw_outcomes = data.get("outcomes")
    if not isinstance(raw_outcomes, dict) or not raw_outcomes:
        problems.append(Problem("outcomes", "must be a non-empty mapping"))
        raw_outcomes = {}
    for code, spec in raw_outcomes.items():
        if not isinstance(spec, dict) or not isinstance(spec.get("label"), str):
            problems.append(Problem(f"outcomes.{code}", "needs a label"))
            continue
        outcomes[code] = spec["label"]
        fields = spec.get("requires", [])
        bad = [f for f in fields if f not in OUTCOME_FIELDS] if isinstance(fields, list) else [fields]
        for f in bad:
            problems.append(Problem(f"outcomes.{code}.requires", f"unknown field {f!r}; fields: {OUTCOME_FIELDS}"))
        requires[code] = tuple(f for f in fields if f in OUTCOME_FIELDS) if isinstance(fields, list) else ()
    advice: list[AdviceRule] = []
    raw_advice = data.get("advice")
    if not isinstance(raw_advice, list) or not raw_advice:
        problems.append(Problem("advice", "must be a non-empty list"))
        raw_advice = []
    for i, rule in enumerate(raw_advice):
        where = f"advice[{i}]"
        if not isinstance(rule, dict) or not isinstance(rule.get("id"), str) or not isinstance(rule.get("text"), str):
            problems.append(Problem(where, "needs an id and a text"))
            continue
        when: dict[str, tuple[str, ...]] = {}
        for name, values in (rule.get("when") or {}).items():
            if name not in SUMMARY_FIELDS:
                problems.append(Problem(f"{where}.when.{name}", f"unknown summary field; fields: {SUMMARY_FIELDS}"))
            elif not isinstance(values, list) or not all(isinstance(v, str) for v in values):
                problems.append(Problem(f"{where}.when.{name}", "must be a list of values"))
            else:
                when[name] = tuple(values)
        agrees: tuple[Agreement, ...] | None = None
        raw_agrees = rule.get("agrees")
        if raw_agrees != "any":
            found: list[Agreement] = []
            for j, entry in enumerate(raw_agrees if isinstance(raw_agrees, list) else [None]):
                at = f"{where}.agrees[{j}]"
                if not isinstance(entry, dict) or entry.get("outcome") not in outcomes:
                    problems.append(Problem(at, f"needs an outcome, one of {sorted(outcomes)}"))
                    continue
                allowed: dict[str, tuple[str, ...] | str] = {}
                for name, value in entry.items():
                    if name == "outcome":
                        continue
                    if name not in _LISTS:
                        problems.append(Problem(f"{at}.{name}", f"unknown field; fields: {OUTCOME_FIELDS}"))
                    elif value == PMP_SETTING and name == "setting":
                        allowed[name] = PMP_SETTING
                    elif not isinstance(value, list) or any(v not in lists[name] for v in value):
                        problems.append(Problem(f"{at}.{name}", f"codes must be defined in {_LISTS[name]}"))
                    else:
                        allowed[name] = tuple(value)
                found.append(Agreement(outcome=entry["outcome"], allowed=allowed))
            agrees = tuple(found)
        advice.append(AdviceRule(id=rule["id"], when=when, text=rule["text"].strip(), agrees=agrees))
    if advice and advice[-1].when:
        problems.append(Problem(f"advice[{len(advice) - 1}]", "the last advice rule must match everything (when: {})"))
    ids = [a.id for a in advice]
    for dup in sorted({i for i in ids if ids.count(i) > 1}):
        problems.append(Problem("advice", f"duplicate advice id {dup!r}"))
    if problems:
        raise TriageCodesError(f"{file} is invalid", [Problem(p.location, p.message, file=file) for p in problems])
    return TriageCodes(
        version=int(data.get("version", 1)), outcomes=outcomes, requires=requires, lists=lists, advice=tuple(advice)
    )


@functools.cache
def load_codes(path: Path = CODES_FILE) -> TriageCodes:
    """The packaged triage codes (read once); ``TriageCodesError`` if they are invalid."""
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TriageCodesError(f"cannot read {path.name}", [Problem("(file)", str(exc), file=path.name)]) from exc
    return parse_codes(data, path.name)
