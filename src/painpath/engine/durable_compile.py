"""Compile the rule IR to durable-rules rulesets: pure data, no calls into durable-rules.

Each condition is compiled to its "definitely true" form in negation normal form, where the negation
of a comparison is the opposite comparison on a recorded value; durable-rules then only says which
rules are *definitely true*, and the Kleene evaluator independently computes the same set.

Also generates, per stratum, the projection of a patient's flattened facts to the fact asserted
into durable-rules (only the keys the stratum's rules read, under short names; ``sid`` and ``id``
first, so a firing's message can be checked to carry this patient's fact id cheaply).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import combinations
from typing import Any

from painpath.engine import ir
from painpath.engine.kleene import resolve_value
from painpath.errors import EngineError, Problem

SENTINEL = "__painpath_sentinel__"
ALT = "~"
MAX_DURABLE_RULES = 480
"""durable-rules hangs in ``create_ruleset`` above 512 rules (research note 4.3)."""
KIND = "painpath_patient"

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


Atom = tuple[str, str, Any]
"""One durable-rules test on one key: ``(key, op, value)`` with op in eq/ne/lt/lte/gt/gte/ex/nex."""
Conjunction = frozenset[Atom]

MAXALTERNATIVES = 160
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
        if len(dnf) > MAXALTERNATIVES:
            raise ValueError(f"condition expands to {len(dnf)} alternatives (limit {MAXALTERNATIVES})")
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
        tests: list[dict[str, Any]] = [{"kind": KIND}]
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
                if len(acc) > 4 * MAXALTERNATIVES:
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


@dataclass(frozen=True)
class CompiledStratum:
    """One stratum as durable-rules takes it, with the projection of a patient's facts to its fact."""

    definition: dict[str, Any]
    """The durable-rules ruleset: one entry per rule alternative (``<rule id>~<n>``) and the sentinel."""
    project: Callable[[Mapping[str, Any], str, str], dict[str, Any]]
    """``project(flat_facts, sid, fact_id)``: the fact to assert (``sid`` and ``id`` first)."""
    source: str
    """The generated source of ``project`` (for reading and tests)."""
    rule_ids: frozenset[str]


def compile_stratum(stratum: ir.StratumIR, params: Mapping[str, Any]) -> CompiledStratum:
    """Compile one stratum; raises ``EngineError`` for a rule too complex or a stratum too large."""
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
            definition[f"{rule.id}{ALT}{i}"] = {"all": [{"m": pattern}]}
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
    definition[SENTINEL] = {"pri": 65000, "all": [{"m": {"kind": KIND}}]}
    scalars = tuple((p, comp.key(p)) for p in sorted(comp.scalar_keys))
    members = tuple((p, tuple((v, comp.key(p, v)) for v in sorted(vals))) for p, vals in sorted(comp.members.items()))
    source = projection_source(scalars, members)
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<durable projection {stratum.id}>", "exec"), namespace)  # noqa: S102 - generated from the catalogue and rules
    return CompiledStratum(definition, namespace["project"], source, frozenset(r.id for r in stratum.rules))


def projection_source(
    scalars: tuple[tuple[str, str], ...], members: tuple[tuple[str, tuple[tuple[Any, str], ...]], ...]
) -> str:
    """Python source of ``project(facts, sid, fid)``: the fact asserted for a stratum.

    Only the keys the stratum's rules read, under their short names; a value not recorded is absent
    (durable-rules treats ``null`` as existing); a set fact becomes one boolean per member the rules
    test. ``sid`` and ``id`` come first, so each firing's message starts with them.
    """
    lines = [
        "def project(facts, sid, fid):",
        "    get = facts.get",
        f"    out = {{'sid': sid, 'id': fid, 'kind': {KIND!r}}}",
    ]
    for path, key in scalars:
        lines += [f"    v = get({path!r})", "    if v is not None:", f"        out[{key!r}] = v"]
    for path, vals in members:
        lines += [f"    items = get({path!r})", "    if items is not None:"]
        lines += [f"        out[{key!r}] = {value!r} in items" for value, key in vals]
    lines.append("    return out")
    return "\n".join(lines) + "\n"
