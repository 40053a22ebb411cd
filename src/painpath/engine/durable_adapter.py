"""The only module that touches durable-rules: compile the IR to its rulesets and run them.

Hardened as ``research/durable-rules.md`` section 6 describes (design decision D1):

* the C extension is driven directly (no ``engine.Host``), so no background timer threads exist;
* every pattern is guarded by a fact ``kind``, and each ruleset has a catch-all sentinel rule so no
  patient ever "matches nothing" (that path corrupts the heap in 2.0.28);
* one unique session (sid) per evaluation, deleted in ``finally``;
* firings are de-duplicated (``$or`` fires once per true branch); no ``$not`` and no ``post``;
* facts are type-normalised (pydantic) and projected to the keys the stratum's rules read; a value
  that was not recorded is simply absent (durable treats ``null`` as existing);
* at most a few hundred rules per ruleset (the loader enforces it; one ruleset per stratum).

durable-rules only says which rules are *definitely true*: each condition is compiled to its
"definitely true" form in negation normal form, where the negation of a comparison is the opposite
comparison on a recorded value. The Kleene evaluator independently computes the same set, and the
evaluation fails closed when the two disagree.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import itertools
import json
import threading
from collections.abc import Mapping
from itertools import combinations
from typing import Any

import durable_rules_engine as _dre

from painpath.engine import ir
from painpath.engine.kleene import resolve_value
from painpath.errors import EngineError, Problem

_PROCESS_LOCK = threading.Lock()
"""durable-rules keeps its rulesets in a process-global C table, never releases the GIL and has no
locks of its own; one lock per process serialises every call sequence into it (D1)."""

_SENTINEL = "__painpath_sentinel__"
_KIND = "painpath_patient"

_NEGATE = {
    "eq": "ne",
    "ne": "eq",
    "lt": "gte",
    "lte": "gt",
    "gt": "lte",
    "gte": "lt",
    "in": "not_in",
    "not_in": "in",
    "contains_any": "contains_none",
    "contains_all": "lacks_any",
    "recorded": "not_recorded",
}
_DURABLE_CMP = {"ne": "$neq", "lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte"}


def _tune_allocator() -> None:
    """Keep glibc from returning each session's large index blocks to the OS.

    A session allocates roughly 10 KB per rule; above glibc's mmap threshold every evaluation would
    map and unmap them, which measured 4-5x slower with a long p99 tail. Raising the thresholds is
    process-wide but harmless; where glibc is not present this does nothing.
    """
    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    mallopt(m_mmap_threshold, 256 * 1024 * 1024)
    mallopt(m_trim_threshold, 512 * 1024 * 1024)


def durable_key(path: str) -> str:
    """The key a fact path has in the facts asserted into durable-rules."""
    return path.replace(".", "__")


def _member_key(path: str, value: str) -> str:
    return f"{durable_key(path)}__has__{value}"


class _Compiler:
    """Compiles IR nodes into durable-rules expressions ("definitely true" form, no ``$not``)."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.params = params
        self.scalar_keys: set[str] = set()
        self.members: dict[str, set[str]] = {}

    def positive(self, node: ir.Node) -> dict[str, Any]:
        return self._expr(node, negated=False)

    def _expr(self, node: ir.Node, negated: bool) -> dict[str, Any]:
        if isinstance(node, ir.Leaf):
            return self._leaf(node, _NEGATE[node.op] if negated else node.op)
        if isinstance(node, ir.NotNode):
            return self._expr(node.child, not negated)
        if isinstance(node, ir.AtLeastNode):
            k = len(node.children)
            n = k - node.n + 1 if negated else node.n
            combos = [
                self._join("$and", [self._expr(node.children[i], negated) for i in idx])
                for idx in combinations(range(k), n)
            ]
            return self._join("$or", combos)
        is_all = isinstance(node, ir.AllNode)
        joiner = "$and" if is_all != negated else "$or"
        return self._join(joiner, [self._expr(c, negated) for c in node.children])

    @staticmethod
    def _join(op: str, parts: list[dict[str, Any]]) -> dict[str, Any]:
        return parts[0] if len(parts) == 1 else {op: parts}

    def _leaf(self, leaf: ir.Leaf, op: str) -> dict[str, Any]:
        key = durable_key(leaf.path)
        value = resolve_value(leaf, self.params)
        if op in ("contains_any", "contains_all", "contains_none", "lacks_any"):
            members = self.members.setdefault(leaf.path, set())
            members.update(value)
            want = op in ("contains_any", "contains_all")
            parts = [{_member_key(leaf.path, v): want} for v in sorted(value)]
            return self._join("$or" if op in ("contains_any", "lacks_any") else "$and", parts)
        self.scalar_keys.add(leaf.path)
        if op == "recorded":
            return {"$ex": {key: 1}}
        if op == "not_recorded":
            return {"$nex": {key: 1}}
        if op == "eq":
            return {key: value}
        if op == "in":
            return self._join("$or", [{key: v} for v in sorted(value, key=repr)])
        if op == "not_in":
            return self._join("$and", [{"$neq": {key: v}} for v in sorted(value, key=repr)])
        return {_DURABLE_CMP[op]: {key: value}}


class _DurableStratum:
    def __init__(
        self,
        handle: int,
        scalar_paths: tuple[tuple[str, str], ...],
        member_paths: tuple[tuple[str, tuple[tuple[str, str], ...]], ...],
        rule_ids: frozenset[str],
    ) -> None:
        self.handle = handle
        self.scalar_paths = scalar_paths
        self.member_paths = member_paths
        self.rule_ids = rule_ids


class DurableCore:
    """durable-rules rulesets for one ruleset and parameter set; decides which rules are definitely true.

    Safe to call from many threads: calls into the extension are serialised by one process lock.
    Rulesets cannot be unloaded from durable-rules, so create one core per ruleset version and reuse it.
    """

    _instances = itertools.count()

    def __init__(self, ruleset: ir.RulesetIR, params: Mapping[str, Any]) -> None:
        _tune_allocator()
        self._sids = itertools.count()
        instance = next(self._instances)
        self._strata: list[_DurableStratum] = []
        self.definitions: list[dict[str, Any]] = []
        for stratum in ruleset.strata:
            comp = _Compiler(params)
            definition: dict[str, Any] = {}
            for rule in stratum.rules:
                expr = comp.positive(rule.when)
                definition[rule.id] = {"all": [{"m": {"$and": [{"kind": _KIND}, expr]}}]}
            definition[_SENTINEL] = {"pri": 65000, "all": [{"m": {"kind": _KIND}}]}
            self.definitions.append(definition)
            name = f"{stratum.id}@{ruleset.content_hash[:12]}#{instance}"
            try:
                with _PROCESS_LOCK:
                    handle = _dre.create_ruleset(name, json.dumps(definition))
            except _dre.error as exc:
                raise EngineError("durable-rules rejected a compiled stratum", [Problem(stratum.id, str(exc))]) from exc
            self._strata.append(
                _DurableStratum(
                    handle,
                    tuple((p, durable_key(p)) for p in sorted(comp.scalar_keys)),
                    tuple(
                        (p, tuple((v, _member_key(p, v)) for v in sorted(vals)))
                        for p, vals in sorted(comp.members.items())
                    ),
                    frozenset(r.id for r in stratum.rules),
                )
            )

    def project(self, index: int, facts: Mapping[str, Any]) -> dict[str, Any]:
        """The fact asserted for stratum ``index``: only the keys its rules read, unrecorded ones absent."""
        stratum = self._strata[index]
        out: dict[str, Any] = {"kind": _KIND}
        get = facts.get
        for path, key in stratum.scalar_paths:
            value = get(path)
            if value is not None:
                out[key] = value
        for path, members in stratum.member_paths:
            items = get(path)
            if items is not None:
                for value, key in members:
                    out[key] = value in items
        return out

    def fired(self, index: int, facts: Mapping[str, Any]) -> frozenset[str]:
        """Rule ids of stratum ``index`` that durable-rules found definitely true for ``facts``."""
        stratum = self._strata[index]
        fact = self.project(index, facts)
        fired: set[str] = set()
        handle = stratum.handle
        with _PROCESS_LOCK:
            sid = str(next(self._sids))
            fact["sid"] = sid
            try:
                result = _dre.assert_fact(handle, json.dumps(fact))
                if result[0] != 0:
                    raise EngineError(
                        "durable-rules did not handle the fact",
                        [Problem(str(index), f"assert_fact returned {result[0]}")],
                    )
                state = result[1]
                action = _dre.start_action_for_state(handle, state)
                message = action[1] if action else None
                while message:
                    fired.add(message[2 : message.index('"', 2)])
                    message = _dre.complete_and_start_action(handle, state)
            except _dre.error as exc:
                raise EngineError("durable-rules failed", [Problem(str(index), str(exc))]) from exc
            finally:
                with contextlib.suppress(_dre.error):  # no state was created for this sid: nothing to free
                    _dre.delete_state(handle, sid)
        fired.discard(_SENTINEL)
        unknown = fired - stratum.rule_ids
        if unknown:
            raise EngineError(
                "durable-rules fired rules it was not given", [Problem(str(index), ", ".join(sorted(unknown)))]
            )
        return frozenset(fired)
