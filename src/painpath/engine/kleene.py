"""painpath's three-valued (Kleene) evaluator, and a naive reference interpreter of the same semantics.

Truth values are encoded as ``F=0 < U=1 < T=2`` so that AND is ``min``, OR is ``max`` and NOT is
``2 - x``. A comparison on a fact that is not recorded is ``U`` (unknown), never false; only
``recorded`` is never unknown.

``compile_stratum`` turns a stratum's rules into one generated Python function that writes every
leaf's value into a list and returns each rule's value; it is the fast path used for every decision.
``reference_value`` is a deliberately simple recursive interpreter used by the property tests to
check both the generated code and durable-rules.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from painpath.engine import ir
from painpath.engine.vocabulary import LIST_OPS

F, U, T = 0, 1, 2
NAMES = {F: "false", U: "unknown", T: "true"}

StratumFn = Callable[[Mapping[str, Any], list[int]], tuple[int, ...]]
StratumValuesFn = Callable[[Mapping[str, Any]], tuple[tuple[int, ...], tuple[int, ...]]]


def resolve_value(leaf: ir.Leaf, params: Mapping[str, Any]) -> Any:
    """The operand of ``leaf`` for a parameter set (sets become frozensets)."""
    value = params[leaf.param] if leaf.param is not None else leaf.value
    if leaf.op in LIST_OPS:
        return frozenset(value)
    return value


def leaf_value(op: str, actual: Any, expected: Any) -> int:
    """Kleene value of one comparison (the reference semantics)."""
    if op == "recorded":
        return F if actual is None else T
    if actual is None:
        return U
    result: bool
    if op == "eq":
        result = actual == expected
    elif op == "ne":
        result = actual != expected
    elif op == "lt":
        result = actual < expected
    elif op == "lte":
        result = actual <= expected
    elif op == "gt":
        result = actual > expected
    elif op == "gte":
        result = actual >= expected
    elif op == "in":
        result = actual in expected
    elif op == "not_in":
        result = actual not in expected
    elif op == "contains_any":
        result = any(item in expected for item in actual)
    elif op == "contains_all":
        result = all(item in actual for item in expected)
    else:  # pragma: no cover - ops are validated at load time
        raise ValueError(op)
    return T if result else F


def at_least(n: int, values: Sequence[int]) -> int:
    """Kleene 'at least n of': true if n are true, false if fewer than n can still be true."""
    if sum(1 for v in values if v == T) >= n:
        return T
    if sum(1 for v in values if v != F) < n:
        return F
    return U


def reference_value(node: ir.Node, facts: Mapping[str, Any], params: Mapping[str, Any]) -> int:
    """Evaluate ``node`` by walking the tree: the reference semantics, kept simple on purpose."""
    if isinstance(node, ir.Leaf):
        return leaf_value(node.op, facts.get(node.path), resolve_value(node, params))
    if isinstance(node, ir.AllNode):
        return min(reference_value(c, facts, params) for c in node.children)
    if isinstance(node, ir.AnyNode):
        return max(reference_value(c, facts, params) for c in node.children)
    if isinstance(node, ir.NotNode):
        return T - reference_value(node.child, facts, params)
    return at_least(node.n, [reference_value(c, facts, params) for c in node.children])


_LEAF_CODE = {
    "eq": "T if {v} == {c} else F",
    "ne": "F if {v} == {c} else T",
    "lt": "T if {v} < {c} else F",
    "lte": "T if {v} <= {c} else F",
    "gt": "T if {v} > {c} else F",
    "gte": "T if {v} >= {c} else F",
    "in": "T if {v} in {c} else F",
    "not_in": "F if {v} in {c} else T",
    "contains_any": "F if {c}.isdisjoint({v}) else T",
    "contains_all": "T if {c}.issubset({v}) else F",
}
_LITERAL_TYPES = (bool, int, float, str)


def _node_code(node: ir.Node) -> str:
    if isinstance(node, ir.Leaf):
        return f"a{node.index}"
    if isinstance(node, ir.NotNode):
        return f"(T - {_node_code(node.child)})"
    parts = ", ".join(_node_code(c) for c in node.children)
    if isinstance(node, ir.AllNode):
        return f"min({parts})" if len(node.children) > 1 else _node_code(node.children[0])
    if isinstance(node, ir.AnyNode):
        return f"max({parts})" if len(node.children) > 1 else _node_code(node.children[0])
    return f"_at_least({node.n}, ({parts},))"


def generate_source(stratum: ir.StratumIR, params: Mapping[str, Any]) -> tuple[str, list[Any]]:
    """Generate the Python source of a stratum's evaluator and its constants table.

    Each fact is read once into a local and each comparison's value is kept in a local (``a<index>``);
    scalar operands are inlined as literals, sets come from the constants table ``C``.
    ``evaluate_values(f)`` returns the rules' values and the tuple of every comparison's value;
    ``evaluate(f, L)`` writes the latter into ``L`` and returns the former.
    """
    consts: list[Any] = []
    lines = ["def evaluate_values(f):", "    g = f.get"]
    local: dict[str, str] = {}
    assigned: set[int] = set()
    for rule in stratum.rules:
        for leaf in ir.leaves(rule.when):
            if leaf.path not in local:
                local[leaf.path] = f"v{len(local)}"
                lines.append(f"    {local[leaf.path]} = g({leaf.path!r})")
            v = local[leaf.path]
            assigned.add(leaf.index)
            if leaf.op == "recorded":
                lines.append(f"    a{leaf.index} = F if {v} is None else T")
                continue
            value = resolve_value(leaf, params)
            if type(value) in _LITERAL_TYPES:
                operand = repr(value)
            else:
                consts.append(value)
                operand = f"C[{len(consts) - 1}]"
            code = _LEAF_CODE[leaf.op].format(v=v, c=operand)
            lines.append(f"    a{leaf.index} = U if {v} is None else ({code})")
    results = "".join(f"{_node_code(rule.when)}, " for rule in stratum.rules)
    values = "".join(f"a{i}, " if i in assigned else "U, " for i in range(stratum.leaf_count))
    lines.append(f"    return ({results}), ({values})")
    lines += [
        "def evaluate(f, L):",
        "    results, values = evaluate_values(f)",
        "    L[: len(values)] = values",
        "    return results",
    ]
    return "\n".join(lines) + "\n", consts


def compile_stratum(stratum: ir.StratumIR, params: Mapping[str, Any]) -> StratumFn:
    """Compile a stratum into a function ``(flat_facts, leaf_values) -> rule values``."""
    return compile_stratum_values(stratum, params)[1]


def compile_stratum_values(stratum: ir.StratumIR, params: Mapping[str, Any]) -> tuple[StratumValuesFn, StratumFn]:
    """Compile a stratum into ``(flat_facts) -> (rule values, leaf values)`` and the ``StratumFn`` form."""
    source, consts = generate_source(stratum, params)
    namespace: dict[str, Any] = {"C": consts, "T": T, "F": F, "U": U, "_at_least": at_least}
    exec(compile(source, f"<painpath stratum {stratum.id}>", "exec"), namespace)  # noqa: S102 - our own generated code
    return namespace["evaluate_values"], namespace["evaluate"]


def supporting_leaves(node: ir.Node, values: Sequence[int]) -> list[tuple[ir.Leaf, bool]]:
    """The leaves that explain ``node``'s value, each with whether it is negated.

    For a true node: the clauses that made it true; false: those that made it false; unknown: those
    that are unknown (the facts that would settle it are among their facts).
    """
    memo: dict[int, int] = {}
    out: list[tuple[ir.Leaf, bool]] = []
    _support(node, values, _value(node, values, memo), False, out, memo)
    return out


def _value(node: ir.Node, values: Sequence[int], memo: dict[int, int]) -> int:
    if isinstance(node, ir.Leaf):
        return values[node.index]
    key = id(node)
    if key in memo:
        return memo[key]
    if isinstance(node, ir.NotNode):
        result = T - _value(node.child, values, memo)
    else:
        vals = [_value(c, values, memo) for c in node.children]
        if isinstance(node, ir.AllNode):
            result = min(vals)
        elif isinstance(node, ir.AnyNode):
            result = max(vals)
        else:
            result = at_least(node.n, vals)
    memo[key] = result
    return result


def _support(
    node: ir.Node,
    values: Sequence[int],
    target: int,
    negated: bool,
    out: list[tuple[ir.Leaf, bool]],
    memo: dict[int, int],
) -> None:
    if isinstance(node, ir.Leaf):
        out.append((node, negated))
        return
    if isinstance(node, ir.NotNode):
        _support(node.child, values, T - target, not negated, out, memo)
        return
    for child in node.children:
        v = _value(child, values, memo)
        if v == target:
            _support(child, values, v, negated, out, memo)


def missing_facts(node: ir.Node, values: Sequence[int]) -> list[str]:
    """For an unknown node: the fact paths whose recording would settle it (deduplicated, in order)."""
    if _value(node, values, {}) != U:
        return []
    return list(dict.fromkeys(leaf.path for leaf, _neg in supporting_leaves(node, values) if values[leaf.index] == U))


def value_of(node: ir.Node, values: Sequence[int]) -> int:
    """The three-valued value of ``node`` given its stratum's leaf values."""
    return _value(node, values, {})
