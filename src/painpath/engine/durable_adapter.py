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
import orjson

from painpath.engine import ir
from painpath.engine.kleene import resolve_value
from painpath.errors import EngineError, Problem

_PROCESS_LOCK = threading.Lock()
"""durable-rules keeps its rulesets in a process-global C table, never releases the GIL and has no
locks of its own; one lock per process serialises every call sequence into it (D1)."""

_SENTINEL = "__painpath_sentinel__"
_ALT = "~"
MAX_DURABLE_RULES = 480
"""durable-rules hangs in ``create_ruleset`` above 512 rules (research note 4.3)."""
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


Atom = tuple[str, str, Any]
"""One durable-rules test on one key: ``(key, op, value)`` with op in eq/ne/lt/lte/gt/gte/ex/nex."""
Conjunction = frozenset[Atom]

MAX_ALTERNATIVES = 160
"""A rule whose nested form is too large for one pattern is expanded to disjunctive normal form; it may
expand to at most this many conjunctions."""

MAX_MARKERS = 31
"""durable-rules allows at most 32 entries in one pattern's expression sequence (``MAX_SEQUENCE_EXPRESSIONS``
in rete.c; error 113, ERR_EXPRESSION_LIMIT_EXCEEDED, when the 32nd is appended): each ``$and`` and each
``$or`` takes two (the operator and its end marker); comparisons take none."""

Tree = tuple[Any, ...]
"""The "definitely true" form in negation normal form: ``("atom", Atom)``, ``("and", [Tree])`` or
``("or", [Tree])``. An empty ``and`` is true; an empty ``or`` is false."""


def _markers(tree: Tree) -> int:
    if tree[0] == "atom":
        return 0
    return 2 + sum(_markers(t) for t in tree[1])


def _from_dnf(conjs: list[Conjunction]) -> Tree:
    ands: list[Tree] = []
    for conj in conjs:
        atoms: list[Tree] = [("atom", a) for a in sorted(conj, key=repr)]
        ands.append(atoms[0] if len(atoms) == 1 else ("and", atoms))  # no atoms: ("and", []) is true
    return ands[0] if len(ands) == 1 else ("or", ands)


def _simplify(tree: Tree) -> Tree:
    """Flatten nested same operators and fold constant (empty) children."""
    if tree[0] == "atom":
        return tree
    op = tree[0]
    kids: list[Tree] = []
    for child in (_simplify(t) for t in tree[1]):
        if child[0] == op:
            kids.extend(child[1])
        elif child[0] != "atom" and not child[1]:
            if (child[0] == "and") == (op == "or"):
                return child  # a true child of an or, or a false child of an and, decides the node
        else:
            kids.append(child)
    if len(kids) == 1:
        return kids[0]
    return (op, kids)


def _contradicts(conj: Conjunction) -> bool:
    seen: dict[str, list[tuple[str, Any]]] = {}
    for key, op, value in conj:
        seen.setdefault(key, []).append((op, value))
    for tests in seen.values():
        if len(tests) < 2:
            continue
        ops = {op for op, _ in tests}
        if "ex" in ops and "nex" in ops:
            return True
        if "nex" in ops and len(ops) > 1:
            return True  # any comparison needs the key to exist
        eqs = {repr(v) for op, v in tests if op == "eq"}
        if len(eqs) > 1:
            return True
        if eqs and any(op == "ne" and repr(v) in eqs for op, v in tests):
            return True
    return False


def _and(left: list[Conjunction], right: list[Conjunction]) -> list[Conjunction]:
    out = [a | b for a in left for b in right]
    return [c for c in out if not _contradicts(c)]


def _absorb(conjs: list[Conjunction]) -> list[Conjunction]:
    unique = sorted(set(conjs), key=len)
    kept: list[Conjunction] = []
    for conj in unique:
        if not any(k <= conj for k in kept):
            kept.append(conj)
    return kept


class _Compiler:
    """Compiles IR nodes into durable-rules patterns ("definitely true" form, NNF, no ``$not``).

    A rule becomes one nested pattern (``$and``/``$or`` inside one message test), for which
    durable-rules builds one beta node: the per-session index of each beta node dominates the cost
    of an evaluation. Only a rule too large for one pattern is expanded to disjunctive normal form
    and packed into as few patterns as fit.
    """

    def __init__(self, params: Mapping[str, Any]) -> None:
        self.params = params
        self.scalar_keys: set[str] = set()
        self.members: dict[str, set[str]] = {}
        self._keys: dict[tuple[str, str | None], str] = {}

    def key(self, path: str, member: str | None = None) -> str:
        """The short key a fact (or one member of a set fact) has in the fact asserted for this stratum.

        durable-rules hashes every property name of every fact it is given, and returns the whole
        fact with each firing, so short names are measurably cheaper than the dotted paths.
        """
        return self._keys.setdefault((path, member), f"k{len(self._keys)}")

    def alternatives(self, node: ir.Node) -> list[dict[str, Any]]:
        """The rule's "definitely true" form as durable-rules patterns (any one matching means true)."""
        tree = _simplify(self._tree(node, negated=False))
        if tree[0] == "or" and not tree[1]:
            return []  # can never be definitely true
        if _markers(tree) + 2 <= MAX_MARKERS:
            return [self._pattern(tree)]
        dnf = self._dnf(node, negated=False)
        if len(dnf) > MAX_ALTERNATIVES:
            raise ValueError(f"condition expands to {len(dnf)} alternatives (limit {MAX_ALTERNATIVES})")
        ordered = sorted(dnf, key=lambda c: sorted(map(repr, c)))
        if any(not c for c in ordered):
            return [self._pattern(("and", []))]
        patterns: list[dict[str, Any]] = []
        group: list[Conjunction] = []
        budget = MAX_MARKERS - 4  # the kind guard's $and and the $or around the group
        used = 0
        for conj in ordered:
            cost = 2 if len(conj) > 1 else 0
            if group and used + cost > budget:
                patterns.append(self._pattern(_from_dnf(group)))
                group, used = [], 0
            group.append(conj)
            used += cost
        patterns.append(self._pattern(_from_dnf(group)))
        return patterns

    @staticmethod
    def _test(tree: Tree) -> dict[str, Any]:
        if tree[0] == "atom":
            key, op, value = tree[1]
            if op == "eq":
                return {key: value}
            if op == "ex":
                return {"$ex": {key: 1}}
            if op == "nex":
                return {"$nex": {key: 1}}
            return {_DURABLE_CMP[op]: {key: value}}
        return {f"${tree[0]}": [_Compiler._test(t) for t in tree[1]]}

    @staticmethod
    def _pattern(tree: Tree) -> dict[str, Any]:
        tests: list[dict[str, Any]] = [{"kind": _KIND}]
        if tree[0] == "and":
            tests.extend(_Compiler._test(t) for t in tree[1])
        else:
            tests.append(_Compiler._test(tree))
        return {"$and": tests}

    def _tree(self, node: ir.Node, negated: bool) -> Tree:
        if isinstance(node, ir.Leaf):
            return _from_dnf(self._leaf(node, _NEGATE[node.op] if negated else node.op))
        if isinstance(node, ir.NotNode):
            return self._tree(node.child, not negated)
        if isinstance(node, ir.AtLeastNode):
            conjs = self._dnf(node, negated)
            return _from_dnf(conjs) if conjs else ("or", [])
        conjunctive = isinstance(node, ir.AllNode) != negated
        return ("and" if conjunctive else "or", [self._tree(c, negated) for c in node.children])

    def _dnf(self, node: ir.Node, negated: bool) -> list[Conjunction]:
        if isinstance(node, ir.Leaf):
            return self._leaf(node, _NEGATE[node.op] if negated else node.op)
        if isinstance(node, ir.NotNode):
            return self._dnf(node.child, not negated)
        if isinstance(node, ir.AtLeastNode):
            k = len(node.children)
            n = k - node.n + 1 if negated else node.n
            kids = [self._dnf(c, negated) for c in node.children]
            out: list[Conjunction] = []
            for idx in combinations(range(k), n):
                acc: list[Conjunction] = [frozenset()]
                for i in idx:
                    acc = _and(acc, kids[i])
                out.extend(acc)
            return _absorb(out)
        conjunctive = isinstance(node, ir.AllNode) != negated
        parts = [self._dnf(c, negated) for c in node.children]
        if conjunctive:
            acc = [frozenset()]
            for part in parts:
                acc = _absorb(_and(acc, part))
                if len(acc) > 4 * MAX_ALTERNATIVES:
                    raise ValueError("condition expands to too many alternatives")
            return acc
        return _absorb([c for part in parts for c in part])

    def _leaf(self, leaf: ir.Leaf, op: str) -> list[Conjunction]:
        key = self.key(leaf.path)
        value = resolve_value(leaf, self.params)
        if op in ("contains_any", "contains_all", "contains_none", "lacks_any"):
            self.members.setdefault(leaf.path, set()).update(value)
            want = op in ("contains_any", "contains_all")
            atoms = [(self.key(leaf.path, v), "eq", want) for v in sorted(value)]
            if op in ("contains_any", "lacks_any"):
                return [frozenset({a}) for a in atoms]
            return [frozenset(atoms)]
        self.scalar_keys.add(leaf.path)
        if op == "recorded":
            return [frozenset({(key, "ex", 1)})]
        if op == "not_recorded":
            return [frozenset({(key, "nex", 1)})]
        if op == "in":
            return [frozenset({(key, "eq", v)}) for v in sorted(value, key=repr)]
        if op == "not_in":
            return [frozenset((key, "ne", v) for v in value)]
        return [frozenset({(key, op, value)})]


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
                try:
                    patterns = comp.alternatives(rule.when)
                except ValueError as exc:
                    raise EngineError(
                        "a rule is too complex for durable-rules",
                        [Problem("when", str(exc), rule_id=rule.id, file=rule.file)],
                    ) from exc
                for i, pattern in enumerate(patterns):
                    definition[f"{rule.id}{_ALT}{i}"] = {"all": [{"m": pattern}]}
            if len(definition) > MAX_DURABLE_RULES:
                raise EngineError(
                    "a stratum is too large for durable-rules",
                    [
                        Problem(
                            stratum.id,
                            f"{len(definition)} compiled alternatives exceed "
                            f"{MAX_DURABLE_RULES} (durable-rules hangs above 512)",
                        )
                    ],
                )
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
                    tuple((p, comp.key(p)) for p in sorted(comp.scalar_keys)),
                    tuple(
                        (p, tuple((v, comp.key(p, v)) for v in sorted(vals)))
                        for p, vals in sorted(comp.members.items())
                    ),
                    frozenset(r.id for r in stratum.rules),
                )
            )

    def project(self, index: int, facts: Mapping[str, Any]) -> dict[str, Any]:
        """The fact asserted for stratum ``index``: only the keys its rules read, unrecorded ones absent."""
        stratum = self._strata[index]
        get = facts.get
        out: dict[str, Any] = {key: v for path, key in stratum.scalar_paths if (v := get(path)) is not None}
        out["kind"] = _KIND
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
                result = _dre.assert_fact(handle, orjson.dumps(fact).decode())
                if result[0] != 0:
                    raise EngineError(
                        "durable-rules did not handle the fact",
                        [Problem(str(index), f"assert_fact returned {result[0]}")],
                    )
                state = result[1]
                action = _dre.start_action_for_state(handle, state)
                message = action[1] if action else None
                while message:
                    fired.add(message[2 : message.index('"', 2)].partition(_ALT)[0])
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
