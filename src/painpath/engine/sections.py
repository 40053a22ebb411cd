"""The sections of a decision, resolved from the rules' three-valued results.

Each section (PMP, triage setting, pathways, referrals, adherence) is a *ladder*: its statuses in
precedence order (strongest first, from the vocabulary in ``rules/ruleset.yaml``), each with the
rules that conclude it. A section reports what is already certain (design decision D3):

* ``definite``: one status fired and no stronger one is unknown;
* ``bounded``: a negative status fired ("not now") and only stronger negative statuses are unknown:
  the answer is certain, the stronger ones are listed to check;
* ``conditional``: a positive status would hold provided that its unknown provisos hold (comparisons
  marked ``proviso`` in the rule, and the stronger negative statuses still unknown): "recommended,
  provided that ..." with the checklist;
* ``undetermined``: otherwise, with the rules it waits on.

Red-flag and safety rules that are undetermined while positive evidence is present become
*possible* findings at the worst-case urgency their rule declares.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from painpath.engine import ir
from painpath.engine.decision import PossibleFinding, Proviso, Reason, RedFlagFinding, SectionEntry
from painpath.engine.kleene import T, U, missing_facts, value_of
from painpath.engine.vocabulary import SectionSpec, Vocabulary

NOTHING = "no_conclusion"
"""Every rule of the section was definitely false: nothing applies."""
NOTHING_ENTRY = SectionEntry(NOTHING, ())
CONTEXT_MEMO_LIMIT = 1024
"""Entries per rule in ``Rule.context_memo`` (a bound on memory, whatever the patients)."""


def conclusion_text(rule: ir.Rule) -> str:
    c = rule.concludes
    return str(getattr(c, "reason", None) or getattr(c, "action", None) or getattr(c, "text", None) or "")


def reason_of(rule: ir.Rule) -> Reason:
    """The rule's contribution to its section (built once per rule: it depends on the rule alone)."""
    memo = rule.context_memo
    reason: Reason | None = memo.get("reason")
    if reason is None:
        reason = memo["reason"] = Reason(rule, conclusion_text(rule), getattr(rule.concludes, "instead", None))
    return reason


class Ladder:
    """A section's rules grouped by the status they conclude, strongest first.

    ``steps`` is ``((status, rule indices), ...)``; ``fetch`` reads all their results at once (C speed),
    and ``spans`` locates each step's slice of what it returns.
    """

    __slots__ = ("fetch", "indices", "spans", "steps")

    def __init__(self, steps: tuple[tuple[str, tuple[int, ...]], ...]) -> None:
        self.steps = steps
        self.indices = tuple(i for _status, idx in steps for i in idx)
        getter = operator.itemgetter(*self.indices) if self.indices else None
        if getter is None:
            self.fetch: Callable[[Sequence[int]], tuple[int, ...]] = lambda _results: ()
        elif len(self.indices) == 1:
            self.fetch = lambda results: (getter(results),)
        else:
            self.fetch = getter
        spans = []
        pos = 0
        for status, idx in steps:
            spans.append((status, idx, pos, pos + len(idx)))
            pos += len(idx)
        self.spans = tuple(spans)

    @classmethod
    def of(cls, spec: SectionSpec, indices: Sequence[int], status_of: Sequence[str]) -> Ladder:
        return cls(tuple((s, tuple(i for i in indices if status_of[i] == s)) for s in spec.precedence))

    def limited(self, limit: int) -> Ladder:
        """The same ladder without the rules at or after index ``limit`` (not evaluated yet)."""
        if all(i < limit for i in self.indices):
            return self
        return Ladder(tuple((status, tuple(i for i in idx if i < limit)) for status, idx in self.steps))


@dataclass
class Context:
    """What the resolvers read while a patient is evaluated: the rules, their results so far, and
    each evaluated stratum's leaf values (for explanations and conditional answers)."""

    rules: Sequence[ir.Rule]
    results: list[int]
    stratum_of: Sequence[int]
    values: list[Sequence[int]]
    groups: Mapping[str, tuple[int, ...]]
    index_of: Mapping[str, int]
    screen_missing: Callable[[], tuple[str, ...]]

    def rule_values(self, i: int) -> Sequence[int]:
        return self.values[self.stratum_of[i]]

    def _memo_key(self, i: int, what: str) -> tuple[dict[Any, Any], tuple[Any, ...]]:
        rule = self.rules[i]
        values = self.rule_values(i)
        return rule.context_memo, (what, *(values[j] for j in rule.leaf_indices))

    def unknown_facts(self, i: int) -> tuple[str, ...]:
        memo, key = self._memo_key(i, "unknown")
        found: tuple[str, ...] | None = memo.get(key)
        if found is None:
            found = tuple(missing_facts(self.rules[i].when, self.rule_values(i)))
            if len(memo) < CONTEXT_MEMO_LIMIT:
                memo[key] = found
        return found

    def rule_proviso(self, i: int) -> Proviso:
        rule = self.rules[i]
        return Proviso(f"rule out: {rule.title}", rule, self.unknown_facts(i))

    def conditionally_true(self, i: int) -> bool:
        """True when rule ``i`` is unknown only because of comparisons marked ``proviso``."""
        memo, key = self._memo_key(i, "conditional")
        found: bool | None = memo.get(key)
        if found is None:
            found = self._conditionally_true(i)
            if len(memo) < CONTEXT_MEMO_LIMIT:
                memo[key] = found
        return found

    def _conditionally_true(self, i: int) -> bool:
        rule = self.rules[i]
        values = self.rule_values(i)
        provisos = [leaf.index for leaf in ir.leaves(rule.when) if leaf.proviso and values[leaf.index] == U]
        if not provisos:
            return False
        assumed = list(values)
        for index in provisos:
            assumed[index] = T
        return value_of(rule.when, assumed) == T

    def leaf_provisos(self, i: int) -> list[Proviso]:
        """The checklist of rule ``i``'s unknown proviso comparisons, expanded to what settles each."""
        rule = self.rules[i]
        values = self.rule_values(i)
        out: list[Proviso] = []
        limit = len(self.results)
        for leaf in ir.leaves(rule.when):
            if not leaf.proviso or values[leaf.index] != U:
                continue
            path = leaf.path
            label = leaf.label or path
            if path.startswith("derived.group."):
                members = self.groups.get(path.removeprefix("derived.group."), ())
                out.extend(self.rule_proviso(j) for j in members if j < limit and self.results[j] == U)
            elif path.startswith("derived.rule."):
                j = self.index_of.get(path.removeprefix("derived.rule."))
                if j is not None and j < limit and self.results[j] == U:
                    out.append(self.rule_proviso(j))
            elif path.startswith("derived.") and path.endswith(".clear"):
                out.append(Proviso(label, None, self.screen_missing()))
            elif path.startswith("derived."):
                out.append(Proviso(label, None, ()))
            else:
                out.append(Proviso(label, None, (path,)))
        return out


def _dedupe(provisos: Sequence[Proviso]) -> tuple[Proviso, ...]:
    seen: set[object] = set()
    out = []
    for p in provisos:
        key = p.rule.id if p.rule is not None else (p.text, p.facts)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return tuple(out)


def resolve(ladder: Ladder, spec: SectionSpec, ctx: Context) -> SectionEntry:
    """A section's answer with its bounds (see the module docstring)."""
    results = ctx.results
    values = ladder.fetch(results)
    if not any(values):
        return NOTHING_ENTRY  # every rule definitely false (F == 0): the common case
    unknown: list[tuple[str, tuple[int, ...]]] = []
    for status, indices, start, end in ladder.spans:
        step = values[start:end]
        if T in step:
            fired = tuple(i for i, v in zip(indices, step, strict=True) if v == T)
            reasons = tuple(reason_of(ctx.rules[i]) for i in fired)
            if not unknown:
                return SectionEntry(status, reasons)
            return _bounded(status, reasons, unknown, spec, ctx)
        u = tuple(i for i, v in zip(indices, step, strict=True) if v == U)
        if u:
            unknown.append((status, u))
    if not unknown:
        return NOTHING_ENTRY
    blocked = tuple(ctx.rules[i].id for i in unknown[0][1])
    bounds = tuple(s for s, _ in unknown)
    if spec.bounded:
        polarity = spec.polarity
        for pos, (status, idx) in enumerate(unknown):
            if polarity[status] != "positive":
                continue
            holding = [i for i in idx if ctx.conditionally_true(i)]
            stronger = unknown[:pos]
            if holding and all(polarity[s] == "negative" for s, _ in stronger):
                provisos = [p for i in holding for p in ctx.leaf_provisos(i)]
                provisos.extend(ctx.rule_proviso(i) for _s, ids in stronger for i in ids)
                return SectionEntry(
                    "undetermined",
                    tuple(reason_of(ctx.rules[i]) for i in holding),
                    blocked,
                    "conditional",
                    bounds,
                    status,
                    _dedupe(provisos),
                )
            break
    return SectionEntry("undetermined", (), blocked, "undetermined", bounds)


def _bounded(
    status: str,
    reasons: tuple[Reason, ...],
    unknown: list[tuple[str, tuple[int, ...]]],
    spec: SectionSpec,
    ctx: Context,
) -> SectionEntry:
    """A status fired while stronger ones are unknown."""
    blocked = tuple(ctx.rules[i].id for _s, ids in unknown for i in ids)
    bounds = (*(s for s, _ in unknown), status)
    polarity = spec.polarity
    checks = _dedupe([ctx.rule_proviso(i) for _s, ids in unknown for i in ids])
    if spec.bounded and all(polarity[s] == "negative" for s, _ in unknown):
        if polarity[status] == "negative":
            return SectionEntry(status, reasons, blocked, "bounded", bounds, also_check=checks)
        return SectionEntry("undetermined", reasons, blocked, "conditional", bounds, status, checks)
    first = tuple(ctx.rules[i].id for i in unknown[0][1])
    return SectionEntry("undetermined", (), first, "undetermined", bounds)


def possible_findings(
    indices: Sequence[int],
    ctx: Context,
    vocab: Vocabulary,
    present: Sequence[RedFlagFinding],
    facts: Mapping[str, object],
) -> tuple[PossibleFinding, ...]:
    """Undetermined urgent rules (red flags, safety alerts) with positive evidence, most urgent first.

    Evidence: a comparison that supports the rule when true (under an even number of ``not``), is
    definitely true, reads one of the facts the rule's ``possible.evidence`` names (every fact it
    reads when it names none), and is not a recorded "no" (a yes/no fact answered false is never
    evidence for anything). Rules of the same condition (the same groups) fold into the most
    urgent one; a condition already present is not repeated as possible.
    """
    rank = vocab.urgency_rank
    found: list[PossibleFinding] = []
    for i in indices:
        if i >= len(ctx.results) or ctx.results[i] != U:
            continue
        rule = ctx.rules[i]
        values = ctx.rule_values(i)
        spec = rule.possible
        allowed = set(spec.evidence) if spec is not None and spec.evidence else None
        evidence = tuple(
            dict.fromkeys(
                leaf.path
                for leaf in ir.positive_leaves(rule.when)
                if values[leaf.index] == T
                and facts.get(leaf.path) is not False
                and (allowed is None or leaf.path in allowed)
            )
        )
        if not evidence:
            continue
        c = rule.concludes
        condition = str(getattr(c, "condition", None) or getattr(c, "alert", None) or rule.id)
        urgency = spec.urgency if spec is not None else str(getattr(c, "urgency", vocab.urgencies[-1]))
        text = spec.text if spec is not None else f"possible {condition.replace('_', ' ')}"
        found.append(PossibleFinding(rule, condition, urgency, text.strip(), evidence, ctx.unknown_facts(i)))
    found.sort(key=lambda p: rank.get(p.urgency, len(rank)))
    present_at = {f.rule.groups: rank.get(f.urgency, len(rank)) for f in present}
    merged: dict[tuple[str, ...], PossibleFinding] = {}
    for p in found:
        groups = p.rule.groups
        if groups in present_at and present_at[groups] <= rank.get(p.urgency, len(rank)):
            continue
        first = merged.get(groups)
        if first is None:
            merged[groups] = p
            continue
        merged[groups] = PossibleFinding(
            first.rule,
            first.condition,
            first.urgency,
            first.text,
            tuple(dict.fromkeys((*first.evidence, *p.evidence))),
            tuple(dict.fromkeys((*first.settle, *p.settle))),
            (*first.also, p.rule.id),
        )
    return tuple(merged.values())


__all__ = ["NOTHING", "NOTHING_ENTRY", "Context", "Ladder", "possible_findings", "reason_of", "resolve"]
