"""The Decision: a typed, frozen record of one evaluation, never a boolean.

A decision keeps the leaf values of every rule it evaluated, so its explanation (why, why not,
unknown, and the facts that would settle it) is a pure function of the decision and the ruleset it
names. ``render.decision_to_dict`` turns it into the documented JSON contract.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from painpath.engine import ir
from painpath.engine.kleene import F, T, U, supporting_leaves, value_of
from painpath.engine.scores import ScoreBand
from painpath.engine.vocabulary import Vocabulary
from painpath.facts.questions import load_questions

RuleStatus = Literal["fired", "not_fired", "undetermined"]
_SUPPORT_MEMO_LIMIT = 512
"""Explanations a rule remembers (per distinct pattern of its comparisons' values)."""
_STATUS_NAMES: dict[int, RuleStatus] = {T: "fired", F: "not_fired", U: "undetermined"}
ScreenStatus = Literal["present", "possible", "absent", "incomplete"]
Certainty = Literal["definite", "bounded", "conditional", "undetermined"]
"""How certain a section's answer is (docs/decision-format.md, "Bounded answers"):
``definite`` one status is possible; ``bounded`` a negative status fired ("not now") and only stronger
negative ones are unknown; ``conditional`` a positive status holds provided that the listed provisos
hold; ``undetermined`` otherwise."""


CONTEXT_MEMO_LIMIT = 1024
"""Entries per rule in ``Rule.context_memo`` (a bound on memory, whatever the patients)."""


def rule_support(rule: ir.Rule, values: Sequence[int]) -> list[tuple[ir.Leaf, bool]]:
    """``kleene.supporting_leaves(rule.when, values)``, remembered per rule.

    The explanation depends only on the rule and its own comparisons' values, which repeat across
    patients: the rule keeps a bounded memo of them (``Rule.support_memo``), read-only to callers.
    """
    key = rule.leaf_key(values)
    memo = rule.support_memo
    found = memo.get(key)
    if found is None:
        found = supporting_leaves(rule.when, values)
        if len(memo) < _SUPPORT_MEMO_LIMIT:
            memo[key] = found
    return found


def rule_unknown_facts(rule: ir.Rule, values: Sequence[int]) -> tuple[str, ...]:
    """The facts whose recording would settle an undetermined rule (``kleene.missing_facts``), in order;
    empty for a rule that is not undetermined. Remembered per rule in ``Rule.context_memo``."""
    memo = rule.context_memo
    key = ("unknown", rule.leaf_key(values))
    found: tuple[str, ...] | None = memo.get(key)
    if found is None:
        found = (
            tuple(dict.fromkeys(leaf.path for leaf, _neg in rule_support(rule, values) if values[leaf.index] == U))
            if value_of(rule.when, values) == U
            else ()
        )
        if len(memo) < CONTEXT_MEMO_LIMIT:
            memo[key] = found
    return found


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """One rule's status for this patient; ``values`` are the leaf values of the rule's stratum."""

    rule: ir.Rule
    status: RuleStatus
    values: tuple[int, ...]


_new_object = object.__new__
_set_outcome_rule = vars(RuleOutcome)["rule"].__set__
_set_outcome_status = vars(RuleOutcome)["status"].__set__
_set_outcome_values = vars(RuleOutcome)["values"].__set__


def _outcome(rule: ir.Rule, status: RuleStatus, values: tuple[int, ...]) -> RuleOutcome:
    """``RuleOutcome(rule, status, values)`` without the frozen dataclass's ``__init__`` (which sets each
    slot through ``object.__setattr__``): the same object, built in about half the time; a decision
    builds one per rule."""
    outcome: RuleOutcome = _new_object(RuleOutcome)
    _set_outcome_rule(outcome, rule)
    _set_outcome_status(outcome, status)
    _set_outcome_values(outcome, values)
    return outcome


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
class PossibleFinding:
    """An undetermined red flag or safety alert with positive evidence, at its worst-case urgency."""

    rule: ir.Rule
    condition: str
    urgency: str
    text: str
    evidence: tuple[str, ...]
    """Facts whose definitely-true comparisons support it."""
    settle: tuple[str, ...]
    """The facts that would settle it, in the order to ask them."""
    also: tuple[str, ...] = ()
    """Ids of less urgent undetermined rules of the same condition, folded into this one."""


@dataclass(frozen=True, slots=True)
class RedFlagSection:
    status: ScreenStatus
    findings: tuple[RedFlagFinding, ...]
    requires: tuple[str, ...]
    """The items the screen needs explicitly answered before it can be ``absent``."""
    possible: tuple[PossibleFinding, ...] = ()


@dataclass(frozen=True, slots=True)
class Reason:
    """A fired rule's contribution to a section: its text and, where given, what to do instead."""

    rule: ir.Rule
    text: str
    instead: str | None = None


@dataclass(frozen=True, slots=True)
class Proviso:
    """One item of a conditional answer's checklist: what must hold, and the facts that would show it."""

    text: str
    rule: ir.Rule | None
    facts: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SectionEntry:
    """A status resolved by precedence from the rules that concluded on it, with its bounds."""

    status: str
    reasons: tuple[Reason, ...]
    blocked_by: tuple[str, ...] = ()
    """Rule ids that are undetermined and could change this status (when not ``definite``)."""
    certainty: Certainty = "definite"
    bounds: tuple[str, ...] = ()
    """The statuses still possible, strongest first (empty when ``definite``)."""
    conditional: str | None = None
    """For ``conditional``: the status that holds provided that every proviso holds."""
    provisos: tuple[Proviso, ...] = ()
    also_check: tuple[Proviso, ...] = ()
    """For ``bounded``: the stronger statuses still to rule out (they would not change "not now")."""


@dataclass(frozen=True, slots=True)
class PmpSection:
    status: str
    setting: str | None
    reasons: tuple[Reason, ...]
    setting_reasons: tuple[Reason, ...]
    preparation: tuple[str, ...]
    blocked_by: tuple[str, ...]
    entry: SectionEntry | None = None
    """The PMP status with its bounds, provisos and what else to check."""
    setting_entry: SectionEntry | None = None


@dataclass(frozen=True, slots=True)
class ReferralEntry:
    """The answer to one requested referral, and what the referral should contain."""

    referral: str
    entry: SectionEntry
    contents: tuple[str, ...]


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
    tier: str = "other"
    """Why it is asked: ``urgency`` (could raise an urgency), ``section`` (settles a section's answer), ``other``."""


def _note(
    needed: dict[str, list[str]],
    best: dict[str, tuple[int, int]],
    paths: tuple[str, ...],
    rule_id: str | None,
    key: tuple[int, int],
) -> None:
    """Note that ``rule_id`` (None: the red-flag screen) needs ``paths`` at ``key`` = (tier, rank);
    derived facts are never asked."""
    for path in paths:
        if path.startswith("derived."):
            continue
        ids = needed.get(path)
        if ids is None:
            needed[path] = [] if rule_id is None else [rule_id]
            best[path] = key
            continue
        if rule_id is not None and rule_id not in ids:
            ids.append(rule_id)
        best[path] = min(best[path], key)


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
    vocabulary: Vocabulary
    evaluator: str
    parameters: Mapping[str, ParameterUse]
    facts: Mapping[str, Any]
    evaluated: tuple[tuple[tuple[ir.Rule, ...], tuple[int, ...], tuple[int, ...]], ...]
    """Per evaluated stratum: its rules, their three-valued results and the stratum's leaf values."""
    patient_id: str | None = None
    provenance: Mapping[str, str] = field(default_factory=dict)
    """Fact path -> where it came from (a FHIR resource, a group answer ``group:<id>``), when known."""
    red_flags: RedFlagSection | None = None
    safety_alerts: tuple[Reason, ...] = ()
    pmp: PmpSection | None = None
    pathways: tuple[PathwayEntry, ...] = ()
    referrals: tuple[ReferralEntry, ...] = ()
    scores: Mapping[str, ScoreBand] = field(default_factory=dict)
    """Interpreted scores (``rules/scores.yaml``): score id -> its band."""
    best_practice: tuple[AdherenceEntry, ...] = ()
    notes: tuple[Reason, ...] = ()
    manual_review_reason: str | None = None
    manual_review_details: tuple[str, ...] = field(default_factory=tuple)

    @cached_property
    def outcomes(self) -> tuple[RuleOutcome, ...]:
        """Every evaluated rule's outcome, in evaluation order (built on first use)."""
        out: list[RuleOutcome] = []
        name = _STATUS_NAMES.__getitem__
        for rules, results, values in self.evaluated:
            if len(rules) != len(results):
                raise ValueError("a stratum's results do not match its rules")
            out.extend(map(_outcome, rules, map(name, results), itertools.repeat(values)))
        return tuple(out)

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
            found = cache[o.rule.id] = rule_support(o.rule, o.values)
        return found

    def _with_result(self, wanted: int, status: RuleStatus) -> tuple[RuleOutcome, ...]:
        # straight from ``evaluated``: a default decision needs the fired and undetermined rules, not
        # an outcome object for each of the ~130 rules (``outcomes`` builds them all, for the full trace)
        return tuple(
            _outcome(rule, status, values)
            for rules, results, values in self.evaluated
            for rule, result in zip(rules, results, strict=True)
            if result == wanted
        )

    @cached_property
    def undetermined(self) -> tuple[RuleOutcome, ...]:
        """The outcomes of the undetermined rules, in evaluation order."""
        if "outcomes" in self.__dict__:
            return tuple(o for o in self.outcomes if o.status == "undetermined")
        return self._with_result(U, "undetermined")

    @cached_property
    def fired_outcomes(self) -> tuple[RuleOutcome, ...]:
        """The outcomes of the rules that fired, in evaluation order."""
        if "outcomes" in self.__dict__:
            return tuple(o for o in self.outcomes if o.status == "fired")
        return self._with_result(T, "fired")

    @cached_property
    def unknown_facts(self) -> Mapping[str, tuple[str, ...]]:
        """For each undetermined rule (by id): the facts whose recording would settle it, in order."""
        return {o.rule.id: rule_unknown_facts(o.rule, o.values) for o in self.undetermined}

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
        """Facts that would change the advice, ranked by what their answer could change.

        First the facts that could raise an urgency (those of possible findings, most urgent first,
        then of other undetermined red flags and safety alerts), then those that settle a section's
        answer, then the rest; within a tier by the rank of what the rule concludes, then by how
        many rules need the fact.
        """
        needed: dict[str, list[str]] = {}
        """Fact path -> ids of the rules that need it, in order of first need."""
        best: dict[str, tuple[int, int]] = {}
        """Fact path -> the lowest (tier, rank) of what needs it."""
        if self.red_flags is not None:
            for k, possible in enumerate(self.red_flags.possible):
                _note(needed, best, possible.settle, possible.rule.id, (0, k))
        self._note_undetermined(needed, best)
        _note(needed, best, self.red_flag_missing, None, (1, 4))
        tiers = ("urgency", "urgency", "section", "other")
        # within a rank, grouped by topic in consultation order (facts/questions.yaml), then by need
        topic = load_questions().topic_rank
        ranked: list[tuple[tuple[int, int, int, str], MissingFact]] = []
        for p, ids in needed.items():
            tier, r = best[p]
            m = MissingFact(p, tuple(ids), (tier * 100 + r, -len(ids)), tiers[tier])
            ranked.append(((m.rank[0], topic.get(p, 999), m.rank[1], p), m))
        ranked.sort(key=operator.itemgetter(0))
        return tuple(m for _key, m in ranked)

    def _note_undetermined(self, needed: dict[str, list[str]], best: dict[str, tuple[int, int]]) -> None:
        """``missing_information``'s notes of the undetermined rules' unknown facts."""
        vocab = self.vocabulary
        blocking = self.section_blockers
        unasked = {
            spec.kind
            for spec in vocab.sections.values()
            if spec.requested_by is not None and self.facts.get(spec.requested_by) is None
        }
        unknown = self.unknown_facts
        kind_rank = vocab.kind_rank
        urgency_rank = vocab.urgency_rank
        urgent_kinds = vocab.urgent_kinds
        for o in self.undetermined:
            rule = o.rule
            kind = rule.concludes.kind
            if kind in unasked:
                continue  # e.g. no referral is being considered: nothing to answer, nothing to ask
            rule_id = rule.id
            tier = 1 if kind in urgent_kinds else (2 if rule_id in blocking else 3)
            _note(
                needed,
                best,
                unknown[rule_id],
                rule_id,
                (tier, kind_rank.get(kind, 99) + urgency_rank.get(rule.urgency, 0)),
            )

    @cached_property
    def section_blockers(self) -> frozenset[str]:
        """Ids of the undetermined rules that a section's answer waits on or is conditional on."""
        out: set[str] = set()
        entries: list[SectionEntry] = [pw.entry for pw in self.pathways] + [r.entry for r in self.referrals]
        if self.pmp is not None:
            entries.extend(e for e in (self.pmp.entry, self.pmp.setting_entry) if e is not None)
        for e in entries:
            out.update(e.blocked_by)
            out.update(p.rule.id for p in (*e.provisos, *e.also_check) if p.rule is not None)
        return frozenset(out)

    @property
    def fired(self) -> tuple[str, ...]:
        """Ids of the rules that fired, in evaluation order."""
        return tuple(o.rule.id for o in self.fired_outcomes)
