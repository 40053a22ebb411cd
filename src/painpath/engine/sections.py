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
from painpath.engine.decision import (
    CONTEXT_MEMO_LIMIT,
    PossibleFinding,
    Proviso,
    Reason,
    RedFlagFinding,
    SectionEntry,
    rule_unknown_facts,
)
from painpath.engine.kleene import T, U, value_of
from painpath.engine.vocabulary import SectionSpec, Vocabulary

NOTHING = "no_conclusion"
"""Every rule of the section was definitely false: nothing applies."""
NOTHING_ENTRY = SectionEntry(NOTHING, ())


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


LADDER_MEMO_LIMIT = 4096
"""Answers a ladder remembers (per distinct tuple of its rules' results; a bound on memory)."""


class Ladder:
    """A section's rules grouped by the status they conclude, strongest first, resolved against ``spec``.

    ``steps`` is ``((status, rule indices), ...)``; ``fetch`` reads all their results at once (C speed),
    and ``spans`` locates each step's slice of what it returns. ``memo`` remembers the answers that
    depend on those results alone (see ``resolve``).
    """

    __slots__ = ("_limited", "fetch", "indices", "memo", "spans", "spec", "steps")

    def __init__(self, steps: tuple[tuple[str, tuple[int, ...]], ...], spec: SectionSpec) -> None:
        self.steps = steps
        self.spec = spec
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
        self.memo: dict[tuple[int, ...], SectionEntry] = {}
        self._limited: dict[int, Ladder] = {}

    @classmethod
    def of(cls, spec: SectionSpec, indices: Sequence[int], status_of: Sequence[str]) -> Ladder:
        return cls(tuple((s, tuple(i for i in indices if status_of[i] == s)) for s in spec.precedence), spec)

    def limited(self, limit: int) -> Ladder:
        """The same ladder without the rules at or after index ``limit`` (not evaluated yet)."""
        if all(i < limit for i in self.indices):
            return self
        found = self._limited.get(limit)
        if found is None:
            steps = tuple((status, tuple(i for i in idx if i < limit)) for status, idx in self.steps)
            found = self._limited[limit] = Ladder(steps, self.spec)
        return found


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
        return rule.context_memo, (what, rule.leaf_key(self.values[self.stratum_of[i]]))

    def unknown_facts(self, i: int) -> tuple[str, ...]:
        return rule_unknown_facts(self.rules[i], self.values[self.stratum_of[i]])

    def rule_proviso(self, i: int) -> Proviso:
        rule = self.rules[i]
        return Proviso(f"rule out: {rule.title}", rule, self.unknown_facts(i))

    def conditionally_true(self, i: int) -> bool:
        """True when rule ``i`` is unknown only because of comparisons marked ``proviso``."""
        if not self.rules[i].proviso_leaves:
            return False
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
        provisos = [leaf.index for leaf in rule.proviso_leaves if values[leaf.index] == U]
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
        for leaf in rule.proviso_leaves:
            if values[leaf.index] != U:
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
    """A section's answer with its bounds (see the module docstring).

    Most answers (nothing applies, a definite status, undetermined without provisos) depend only on
    the results of the ladder's own rules: those are remembered per ladder, keyed by the results, and
    shared (a ``SectionEntry`` is frozen). Answers that read more (bounded and conditional ones, which
    list the facts that would settle them) are worked out for every patient.
    """
    values = ladder.fetch(ctx.results)
    memo = ladder.memo if ladder.spec is spec else None
    if memo is not None:
        found: SectionEntry | None = memo.get(values)
        if found is not None:
            return found
    entry, pure = resolve_values(ladder, spec, ctx, values)
    if pure and memo is not None and len(memo) < LADDER_MEMO_LIMIT:
        memo[values] = entry
    return entry


def resolve_values(
    ladder: Ladder, spec: SectionSpec, ctx: Context, values: tuple[int, ...]
) -> tuple[SectionEntry, bool]:
    """``resolve``'s answer for the ladder's results ``values`` (``ladder.fetch(ctx.results)``), not
    remembered, and whether it depends on ``values`` alone (so that a caller may remember it)."""
    if not any(values):
        return NOTHING_ENTRY, True  # every rule definitely false (F == 0): the common case
    unknown: list[tuple[str, tuple[int, ...]]] = []
    for status, indices, start, end in ladder.spans:
        step = values[start:end]
        if T in step:
            fired = tuple(i for i, v in zip(indices, step, strict=True) if v == T)
            reasons = tuple(reason_of(ctx.rules[i]) for i in fired)
            if not unknown:
                return SectionEntry(status, reasons), True
            return _bounded(status, reasons, unknown, spec, ctx), False
        u = tuple(i for i, v in zip(indices, step, strict=True) if v == U)
        if u:
            unknown.append((status, u))
    if not unknown:
        return NOTHING_ENTRY, True
    blocked = tuple(ctx.rules[i].id for i in unknown[0][1])
    bounds = tuple(s for s, _ in unknown)
    pure = True
    if spec.bounded:
        polarity = spec.polarity
        for pos, (status, idx) in enumerate(unknown):
            if polarity[status] != "positive":
                continue
            pure = False  # whether it holds but for its provisos reads the rules' comparisons
            holding = [i for i in idx if ctx.conditionally_true(i)]
            stronger = unknown[:pos]
            if holding and all(polarity[s] == "negative" for s, _ in stronger):
                provisos = [p for i in holding for p in ctx.leaf_provisos(i)]
                provisos.extend(ctx.rule_proviso(i) for _s, ids in stronger for i in ids)
                entry = SectionEntry(
                    "undetermined",
                    tuple(reason_of(ctx.rules[i]) for i in holding),
                    blocked,
                    "conditional",
                    bounds,
                    status,
                    _dedupe(provisos),
                )
                return entry, False
            break
    return SectionEntry("undetermined", (), blocked, "undetermined", bounds), pure


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
                for leaf in rule.positive_leaf_list
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


__all__ = [
    "LADDER_MEMO_LIMIT",
    "NOTHING",
    "NOTHING_ENTRY",
    "Context",
    "Ladder",
    "possible_findings",
    "reason_of",
    "resolve",
    "resolve_values",
]
