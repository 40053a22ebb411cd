"""The Decision: a typed, frozen record of one evaluation, never a boolean.

A decision keeps the leaf values of every rule it evaluated, so its explanation (why, why not,
unknown, and the facts that would settle it) is a pure function of the decision and the ruleset it
names. ``render.decision_to_dict`` turns it into the documented JSON contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from painpath.engine import ir
from painpath.engine.kleene import F, T, U, supporting_leaves
from painpath.engine.language import URGENCY_ORDER

_KIND_RANK = {"safety_alert": 0, "red_flag": 0, "pmp": 5, "triage": 6, "pathway": 7, "adherence": 8, "note": 9}
"""Order of importance of missing facts by what the rule needing them concludes (safety first)."""

RuleStatus = Literal["fired", "not_fired", "undetermined"]
_SUPPORT_MEMO_LIMIT = 512
"""Explanations a rule remembers (per distinct pattern of its comparisons' values)."""
_STATUS_NAMES: dict[int, RuleStatus] = {T: "fired", F: "not_fired", U: "undetermined"}
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
    requires: tuple[str, ...]
    """The items the screen needs explicitly answered before it can be ``absent``."""


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
    evaluated: tuple[tuple[tuple[ir.Rule, ...], tuple[int, ...], tuple[int, ...]], ...]
    """Per evaluated stratum: its rules, their three-valued results and the stratum's leaf values."""
    patient_id: str | None = None
    red_flags: RedFlagSection | None = None
    safety_alerts: tuple[Reason, ...] = ()
    pmp: PmpSection | None = None
    pathways: tuple[PathwayEntry, ...] = ()
    best_practice: tuple[AdherenceEntry, ...] = ()
    notes: tuple[Reason, ...] = ()
    manual_review_reason: str | None = None
    manual_review_details: tuple[str, ...] = field(default_factory=tuple)

    @cached_property
    def outcomes(self) -> tuple[RuleOutcome, ...]:
        """Every evaluated rule's outcome, in evaluation order (built on first use)."""
        return tuple(
            RuleOutcome(rule, _STATUS_NAMES[result], values)
            for rules, results, values in self.evaluated
            for rule, result in zip(rules, results, strict=True)
        )

    @cached_property
    def rule_status(self) -> Mapping[str, RuleStatus]:
        """Rule id -> status, for every evaluated rule (cheaper than ``outcomes`` when that is all one needs)."""
        return {
            rule.id: _STATUS_NAMES[result]
            for rules, results, _values in self.evaluated
            for rule, result in zip(rules, results, strict=True)
        }

    def outcome(self, rule_id: str) -> RuleOutcome:
        """The outcome of one rule, or ``KeyError``."""
        for o in self.outcomes:
            if o.rule.id == rule_id:
                return o
        raise KeyError(rule_id)

    @cached_property
    def _supports(self) -> dict[str, list[tuple[ir.Leaf, bool]]]:
        return {}

    def support(self, o: RuleOutcome) -> list[tuple[ir.Leaf, bool]]:
        """The clauses that explain ``o``'s status (see ``kleene.supporting_leaves``), computed once."""
        cache = self._supports
        found = cache.get(o.rule.id)
        if found is None:
            # The explanation depends only on the rule and its own comparisons' values, which repeat
            # across patients: the rule keeps a bounded memo of them.
            rule = o.rule
            values = o.values
            key = tuple(values[i] for i in rule.leaf_indices)
            memo = rule.support_memo
            found = memo.get(key)
            if found is None:
                found = supporting_leaves(rule.when, values)
                if len(memo) < _SUPPORT_MEMO_LIMIT:
                    memo[key] = found
            cache[rule.id] = found
        return found

    @cached_property
    def undetermined(self) -> tuple[RuleOutcome, ...]:
        """The outcomes of the undetermined rules, in evaluation order."""
        return tuple(
            RuleOutcome(rule, "undetermined", values)
            for rules, results, values in self.evaluated
            for rule, result in zip(rules, results, strict=True)
            if result == U
        )

    @cached_property
    def unknown_facts(self) -> Mapping[str, tuple[str, ...]]:
        """For each undetermined rule (by id): the facts whose recording would settle it, in order."""
        out: dict[str, tuple[str, ...]] = {}
        for o in self.undetermined:
            values = o.values
            out[o.rule.id] = tuple(
                dict.fromkeys(leaf.path for leaf, _neg in self.support(o) if values[leaf.index] == U)
            )
        return out

    @cached_property
    def red_flag_missing(self) -> tuple[str, ...]:
        """What the red-flag screen still needs: unknowns of undetermined findings, then unanswered items."""
        if self.red_flags is None:
            return ()
        missing: dict[str, None] = {}
        for o in self.undetermined:
            if o.rule.concludes.kind == "red_flag":
                missing.update(dict.fromkeys(self.unknown_facts[o.rule.id]))
        for path in self.red_flags.requires:
            if self.facts.get(path) is None:
                missing[path] = None
        return tuple(missing)

    @cached_property
    def missing_information(self) -> tuple[MissingFact, ...]:
        """Facts that would change the advice, most important first (most urgent rule, then most rules)."""
        needed: dict[str, list[str]] = {}
        rank: dict[str, int] = {}
        urgency_rank = {u: i for i, u in enumerate(URGENCY_ORDER)}
        for o in self.undetermined:
            c = o.rule.concludes
            r = _KIND_RANK[c.kind] + urgency_rank.get(getattr(c, "urgency", ""), 0)
            for path in self.unknown_facts[o.rule.id]:
                if path.startswith("derived."):
                    continue
                needed.setdefault(path, []).append(o.rule.id)
                rank[path] = min(rank.get(path, 99), r)
        for path in self.red_flag_missing:
            if not path.startswith("derived.") and path not in needed:
                needed[path] = []
                rank[path] = 4
        facts = [MissingFact(p, tuple(ids), (rank[p], -len(ids))) for p, ids in needed.items()]
        return tuple(sorted(facts, key=lambda m: (m.rank, m.path)))

    @property
    def fired(self) -> tuple[str, ...]:
        """Ids of the rules that fired, in evaluation order."""
        return tuple(o.rule.id for o in self.outcomes if o.status == "fired")
