"""The audit's measures and how one Decision falls into their populations.

There is one measure per best-practice recommendation or extra adherence check (the
``recommendation`` of ``adherence`` rules) and one per red-flag or safety rule (its finding). For
each measure a patient gets one *code*; the populations of an eCQM proportion measure follow from
the codes (docs/audit.md):

=====  ======================  =========================================================
code   population              adherence measure / finding measure
=====  ======================  =========================================================
``M``  numerator               met / the finding is present
``N``  denominator only        not met / the finding is absent
``X``  denominator exception   not met, with a documented reason (``measures.yaml``)
``A``  denominator exclusion   not applicable to this patient
``U``  undetermined            the record cannot settle it (facts missing): not in the denominator
``R``  manual review           the evaluators disagreed or failed: nothing is asserted
=====  ======================  =========================================================

Initial population: every evaluated record. Denominator: codes M, N, X, A. The rate is
numerator / (denominator - exclusions - exceptions), i.e. ``M / (M + N)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml

from painpath.engine import AdherenceEntry, Decision, Rule, RulesetIR

MEASURES_FILE = Path(__file__).with_name("measures.yaml")

CODES = "MNXAUR"
POPULATIONS: Mapping[str, str] = {
    "M": "numerator",
    "N": "not_met",
    "X": "denominator_exception",
    "A": "denominator_exclusion",
    "U": "undetermined",
    "R": "manual_review",
}
LABELS: Mapping[str, Mapping[str, str]] = {
    "adherence": {
        "M": "met",
        "N": "not met",
        "X": "exception (reason documented)",
        "A": "not applicable",
        "U": "undetermined (facts missing)",
        "R": "manual review",
    },
    "finding": {
        "M": "present",
        "N": "absent",
        "X": "exception",
        "A": "not applicable",
        "U": "undetermined (facts missing)",
        "R": "manual review",
    },
}
_FINDING_KINDS = ("red_flag", "safety_alert")


@dataclass(frozen=True)
class Measure:
    """One measure of the audit."""

    key: str
    """Safe for file names and HTML anchors: ``bp-<recommendation>`` or ``rf-<rule id>``."""
    kind: Literal["adherence", "finding"]
    title: str
    cites: tuple[str, ...]
    recommendation: str | None = None
    rule_id: str | None = None
    urgency: str | None = None
    condition: str | None = None
    target: Target | None = None


@dataclass(frozen=True)
class Target:
    """The rate an adherence measure is compared with (``measures.yaml`` ``targets``)."""

    value: float
    cites: tuple[str, ...]
    local: str | None = None
    """Why the target is a local one (no published standard sets it); ``None`` when a standard does."""


@dataclass(frozen=True)
class Band:
    label: str
    below: float | None = None


@dataclass(frozen=True)
class Stratifier:
    """One way of splitting the cohort (``measures.yaml`` ``stratifiers``)."""

    key: str
    label: str
    envelope: str | None = None
    fact: str | None = None
    bands: tuple[Band, ...] = ()

    def value(self, flat: Mapping[str, Any], envelope: Mapping[str, str]) -> str | None:
        """This patient's stratum, or ``None`` when the record does not say."""
        raw: Any = envelope.get(self.envelope) if self.envelope else flat.get(self.fact or "")
        if raw is None or raw == "":
            return None
        if self.bands:
            for band in self.bands:
                if band.below is None or float(raw) < band.below:
                    return band.label
            return None
        return str(raw)


@dataclass(frozen=True)
class ExceptionRule:
    """When a "not met" patient is a denominator exception instead."""

    fact: str
    equals: Any
    cites: tuple[str, ...]


@dataclass(frozen=True)
class MeasureSet:
    """All measures for one ruleset, in report order (recommendations, then findings by urgency)."""

    measures: tuple[Measure, ...]
    exception: ExceptionRule
    ruleset_name: str
    ruleset_version: str
    ruleset_hash: str
    stratifiers: Mapping[str, Stratifier] = field(default_factory=dict)
    not_recorded: str = "not recorded"

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(m.key for m in self.measures)


@cache
def _spec(path: Path = MEASURES_FILE) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def _rec_sort(key: str) -> tuple[int, int, str]:
    return (0, int(key), "") if key.isdigit() else (1, 0, key)


def _target(spec: dict[str, Any], key: str) -> Target:
    t = {**spec["default"], **spec.get("by_measure", {}).get(key, {})}
    return Target(float(t["value"]), tuple(t.get("cites", ())), t.get("local"))


def _stratifiers(spec: dict[str, Any]) -> dict[str, Stratifier]:
    return {
        key: Stratifier(
            key,
            s["label"],
            envelope=s.get("envelope"),
            fact=s.get("fact"),
            bands=tuple(Band(b["label"], b.get("below")) for b in s.get("bands", ())),
        )
        for key, s in spec.items()
    }


def _title(rules: list[Rule], rec: str, ruleset: RulesetIR) -> str:
    """A measure's title from the data: the guideline section its rules cite first, else the rule's title."""
    prefix = rules[0].title.split(" - ")[0]
    for cite in rules[0].cites:
        gid, _, section = cite.partition("#")
        guideline = ruleset.guidelines.get(gid)
        if guideline is not None and section in guideline.sections:
            text = " ".join(str(guideline.sections[section]).split())
            return f"{prefix}: {text}"
    return rules[0].title


def build_measures(ruleset: RulesetIR) -> MeasureSet:
    """The measures of ``ruleset``: adherence keys in recommendation order, then each finding rule."""
    spec = _spec()
    source = ruleset.guidelines.get(spec["recommendation_source"])
    recs: dict[str, list[Rule]] = {}
    findings: list[Rule] = []
    for rule in ruleset.rules:
        c = rule.concludes
        if c.kind == "adherence":
            recs.setdefault(str(c.recommendation), []).append(rule)
        elif c.kind in _FINDING_KINDS:
            findings.append(rule)
    measures: list[Measure] = []
    for rec in sorted(recs, key=_rec_sort):
        rules = recs[rec]
        if source is not None and rec in source.sections:
            title = f"Lin {rec}: {source.sections[rec]}"
        else:
            title = _title(rules, rec, ruleset)
        cites = tuple(dict.fromkeys(c for r in rules for c in r.cites))
        key = f"bp-{rec}"
        measures.append(
            Measure(key, "adherence", title, cites, recommendation=rec, target=_target(spec["targets"], key))
        )
    rank = ruleset.vocabulary.urgency_rank
    for rule in sorted(findings, key=lambda r: rank.get(getattr(r.concludes, "urgency", ""), 99)):
        c = rule.concludes
        measures.append(
            Measure(
                f"rf-{rule.id}",
                "finding",
                rule.title,
                rule.cites,
                rule_id=rule.id,
                urgency=getattr(c, "urgency", None),
                condition=getattr(c, "condition", None) or getattr(c, "alert", None),
            )
        )
    exc = spec["exception"]
    return MeasureSet(
        tuple(measures),
        ExceptionRule(exc["fact"], exc["equals"], tuple(exc.get("cites", ()))),
        ruleset.name,
        ruleset.version,
        ruleset.content_hash,
        _stratifiers(spec["stratifiers"]),
        spec["not_recorded"],
    )


@dataclass(frozen=True)
class Classified:
    """One patient's code per measure, with the rule ids behind each and a short explanation."""

    codes: str
    rules: tuple[tuple[str, ...], ...]


def _adherence_code(entry: AdherenceEntry | None, excepted: bool) -> str:
    if entry is None:
        return "U"
    status = entry.entry.status
    if status == "met":
        return "M"
    if status == "not_met":
        return "X" if excepted else "N"
    if status == "not_applicable":
        return "A"
    return "U"


def classify(decision: Decision, measures: MeasureSet) -> Classified:
    """The code of ``decision`` for every measure, and the rules that decided it."""
    n = len(measures.measures)
    if decision.status != "ok":
        return Classified("R" * n, ((),) * n)
    exc = measures.exception
    excepted = decision.facts.get(exc.fact) == exc.equals
    adherence = {a.recommendation: a for a in decision.best_practice}
    evaluated = decision.rule_status
    status = {m.rule_id: evaluated[m.rule_id] for m in measures.measures if m.rule_id and m.rule_id in evaluated}
    codes: list[str] = []
    rules: list[tuple[str, ...]] = []
    for m in measures.measures:
        if m.kind == "adherence":
            entry = adherence.get(m.recommendation or "")
            codes.append(_adherence_code(entry, excepted))
            if entry is None:
                rules.append(())
            else:
                rules.append(tuple(r.rule.id for r in entry.entry.reasons) or entry.entry.blocked_by)
        else:
            s = status.get(m.rule_id or "", "undetermined")
            codes.append("M" if s == "fired" else "N" if s == "not_fired" else "U")
            rules.append((m.rule_id,) if s != "not_fired" and m.rule_id else ())
    return Classified("".join(codes), tuple(rules))


def explain(decision: Decision, measure: Measure, code: str, measures: MeasureSet) -> str:
    """The explanation of one measure for one patient, worded as the CLI words the decision."""
    if code == "R":
        return "manual review: " + (decision.manual_review_reason or "")
    label = LABELS[measure.kind][code]
    if measure.kind == "adherence":
        entry = next((a for a in decision.best_practice if a.recommendation == measure.recommendation), None)
        parts = [label]
        if entry is not None:
            parts.extend(f"{r.text.strip()}  ({r.rule.id} v{r.rule.version})" for r in entry.entry.reasons)
            parts.extend(f"advice: {a.strip()}" for a in entry.advice)
            if entry.entry.blocked_by:
                waiting = set(entry.entry.blocked_by)
                missing = [m.path for m in decision.missing_information if waiting & set(m.needed_by)]
                parts.append(f"waiting on {', '.join(entry.entry.blocked_by)}; missing: {', '.join(missing)}")
        if code == "X":
            parts.append(f"{measures.exception.fact} is recorded")
        return " | ".join(parts)
    rule_id = measure.rule_id or ""
    if code == "M":
        rule = next(o.rule for o in decision.outcomes if o.rule.id == rule_id)
        action = getattr(rule.concludes, "action", "") or ""
        cites = ", ".join(rule.cites)
        return f"[{(measure.urgency or '').upper()}] {action.strip()}  ({rule.id} v{rule.version}; {cites})"
    if code == "U":
        missing = [m.path for m in decision.missing_information if rule_id in m.needed_by]
        return f"{label}: missing {', '.join(missing)}"
    return label


def population_counts(counts: Mapping[str, int]) -> dict[str, int]:
    """eCQM populations from the per-code counts of one measure."""
    c = {code: counts.get(code, 0) for code in CODES}
    return {
        "initial_population": sum(c.values()),
        "denominator": c["M"] + c["N"] + c["X"] + c["A"],
        "denominator_exclusion": c["A"],
        "denominator_exception": c["X"],
        "numerator": c["M"],
        "not_met": c["N"],
        "undetermined": c["U"],
        "manual_review": c["R"],
    }
