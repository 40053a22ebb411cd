"""The Decision: a typed, frozen record of one evaluation, never a boolean.

A decision keeps the leaf values of every rule it evaluated, so its explanation (why, why not,
unknown, and the facts that would settle it) is a pure function of the decision and the ruleset it
names. ``render.decision_to_dict`` turns it into the documented JSON contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from painpath.engine import ir

RuleStatus = Literal["fired", "not_fired", "undetermined"]
ScreenStatus = Literal["present", "absent", "incomplete"]


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """One rule's status for this patient; ``values`` are the leaf values of the rule's stratum."""

    rule: ir.Rule
    status: RuleStatus
    values: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class ParameterUse:
    """The value a named parameter had in this evaluation, and where it came from."""

    value: Any
    source: Literal["default", "site", "request"]
    cites: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RedFlagFinding:
    rule: ir.Rule
    condition: str
    urgency: str
    action: str


@dataclass(frozen=True, slots=True)
class RedFlagSection:
    status: ScreenStatus
    findings: tuple[RedFlagFinding, ...]
    missing: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Reason:
    """A fired rule's contribution to a section: its text and, where given, what to do instead."""

    rule: ir.Rule
    text: str
    instead: str | None = None


@dataclass(frozen=True, slots=True)
class SectionEntry:
    """A status resolved by precedence from the rules that concluded on it."""

    status: str
    reasons: tuple[Reason, ...]
    blocked_by: tuple[str, ...] = ()
    """Rule ids that are undetermined and could change this status (when ``undetermined``)."""


@dataclass(frozen=True, slots=True)
class PmpSection:
    status: str
    setting: str | None
    reasons: tuple[Reason, ...]
    setting_reasons: tuple[Reason, ...]
    preparation: tuple[str, ...]
    blocked_by: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class PathwayEntry:
    option: str
    entry: SectionEntry
    evidence: str | None


@dataclass(frozen=True, slots=True)
class AdherenceEntry:
    recommendation: str
    entry: SectionEntry
    advice: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class MissingFact:
    """A fact that would change the advice, with the rules that need it."""

    path: str
    needed_by: tuple[str, ...]
    rank: tuple[int, int]


@dataclass(frozen=True)
class Decision:
    """The outcome of evaluating one patient's facts against one ruleset version."""

    decision_id: str
    created_at: str
    status: Literal["ok", "manual_review"]
    engine_version: str
    ruleset_name: str
    ruleset_version: str
    ruleset_hash: str
    evaluator: str
    parameters: Mapping[str, ParameterUse]
    facts: Mapping[str, Any]
    outcomes: tuple[RuleOutcome, ...]
    patient_id: str | None = None
    red_flags: RedFlagSection | None = None
    safety_alerts: tuple[Reason, ...] = ()
    pmp: PmpSection | None = None
    pathways: tuple[PathwayEntry, ...] = ()
    best_practice: tuple[AdherenceEntry, ...] = ()
    notes: tuple[Reason, ...] = ()
    missing_information: tuple[MissingFact, ...] = ()
    manual_review_reason: str | None = None
    manual_review_details: tuple[str, ...] = field(default_factory=tuple)

    def outcome(self, rule_id: str) -> RuleOutcome:
        """The outcome of one rule, or ``KeyError``."""
        for o in self.outcomes:
            if o.rule.id == rule_id:
                return o
        raise KeyError(rule_id)

    @property
    def fired(self) -> tuple[str, ...]:
        """Ids of the rules that fired, in evaluation order."""
        return tuple(o.rule.id for o in self.outcomes if o.status == "fired")
