"""Two evaluators, one decision: durable-rules, the generated Kleene code and the reference interpreter agree.

Random rule trees over facts of every kind (yes/no, integer, real, category, set) are compiled for
durable-rules and for the generated evaluator; random patients (with facts left unrecorded) are
evaluated by all three. durable-rules' fired set must equal the rules the reference finds definitely
true, and the generated code must give every rule exactly the reference's three-valued result.
"""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from painpath.engine import Engine, ir
from painpath.engine.durable_adapter import DurableCore
from painpath.engine.kleene import T, compile_stratum, reference_value
from painpath.errors import EngineError, FactsValidationError
from painpath.facts import CATALOGUE, flatten, parse_facts, unflatten

FACTS: dict[str, tuple[str, Any]] = {
    "red_flags.fever": ("boolean", None),
    "red_flags.night_pain": ("boolean", None),
    "red_flags.buttock_pain": ("boolean", None),
    "demographics.age": ("integer", (0, 120)),
    "pain.intensity_nrs": ("integer", (0, 10)),
    "pain.duration_months": ("number", (0.0, 60.0)),
    "pain.classification": ("enum", ("primary", "secondary", "mixed")),
    "pain.sites": ("set", ("low_back", "neck", "knee", "hip")),
}


def _value(kind: str, dom: Any) -> st.SearchStrategy[Any]:
    if kind == "boolean":
        return st.booleans()
    if kind == "integer":
        return st.integers(*dom)
    if kind == "number":
        return st.floats(*dom, allow_nan=False).map(lambda x: round(x, 1))
    if kind == "enum":
        return st.sampled_from(dom)
    return st.lists(st.sampled_from(dom), unique=True, max_size=len(dom)).map(tuple)


@st.composite
def leaf_spec(draw: st.DrawFn) -> tuple[str, str, Any]:
    path = draw(st.sampled_from(sorted(FACTS)))
    kind, dom = FACTS[path]
    ops = {
        "boolean": ["eq", "ne", "recorded"],
        "integer": ["eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in"],
        "number": ["lt", "lte", "gt", "gte"],
        "enum": ["eq", "ne", "in", "not_in", "recorded"],
        "set": ["contains_any", "contains_all", "recorded"],
    }[kind]
    op = draw(st.sampled_from(ops))
    if op == "recorded":
        return path, op, True
    if op in ("in", "not_in"):
        inner = st.integers(*dom) if kind == "integer" else st.sampled_from(dom)
        return path, op, tuple(draw(st.lists(inner, min_size=1, max_size=3, unique=True)))
    if kind == "set":
        return path, op, tuple(draw(st.lists(st.sampled_from(dom), min_size=1, max_size=3, unique=True)))
    return path, op, draw(_value(kind, dom))


def tree(depth: int) -> st.SearchStrategy[Any]:
    leaf = leaf_spec().map(lambda spec: ("leaf", spec))
    if depth == 0:
        return leaf
    sub = tree(depth - 1)
    return st.one_of(
        leaf,
        st.tuples(st.sampled_from(["all", "any"]), st.lists(sub, min_size=1, max_size=3)),
        st.tuples(st.just("not"), sub),
        st.integers(1, 3).flatmap(
            lambda n: st.tuples(st.just("at_least"), st.just(n), st.lists(sub, min_size=n, max_size=4))
        ),
    )


def _build(spec: Any, counter: list[int]) -> ir.Node:
    tag = spec[0]
    if tag == "leaf":
        path, op, value = spec[1]
        counter[0] += 1
        return ir.Leaf(counter[0] - 1, path, op, value)
    if tag == "not":
        return ir.NotNode(_build(spec[1], counter))
    if tag == "at_least":
        return ir.AtLeastNode(spec[1], tuple(_build(s, counter) for s in spec[2]))
    kids = tuple(_build(s, counter) for s in spec[1])
    return ir.AllNode(kids) if tag == "all" else ir.AnyNode(kids)


def _ruleset(specs: list[Any]) -> ir.RulesetIR:
    counter = [0]
    rules = tuple(
        ir.Rule(
            id=f"R{i}",
            version="1.0.0",
            title="random",
            status="active",
            cites=("x",),
            rationale="",
            groups=(),
            when=_build(s, counter),
            concludes=None,  # type: ignore[arg-type]
            explanation="",
            vectors=(),
            file="generated",
            stratum="random",
        )
        for i, s in enumerate(specs)
    )
    stratum = ir.StratumIR("random", "random", rules, None, counter[0])
    return ir.RulesetIR("random", "0.0.0", "0" * 64, (stratum,), {}, {}, {})


patients = st.fixed_dictionaries({}, optional={p: _value(*FACTS[p]) for p in FACTS})


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(specs=st.lists(tree(3), min_size=1, max_size=8), people=st.lists(patients, min_size=1, max_size=15))
def test_durable_generated_and_reference_agree_on_random_rules(specs: list[Any], people: list[dict[str, Any]]) -> None:
    ruleset = _ruleset(specs)
    stratum = ruleset.strata[0]
    generated = compile_stratum(stratum, {})
    try:
        durable = DurableCore(ruleset, {})
    except EngineError as exc:  # the loader refuses such rules with the same message
        assume("too complex" not in exc.summary)
        raise
    for person in people:
        reference = [reference_value(r.when, person, {}) for r in stratum.rules]
        values = [0] * stratum.leaf_count
        assert list(generated(person, values)) == reference
        expected_true = {r.id for r, v in zip(stratum.rules, reference, strict=True) if v == T}
        assert durable.fired(0, person) == expected_true


def _random_facts() -> st.SearchStrategy[dict[str, Any]]:
    """Random patients over the whole facts catalogue, most facts left unrecorded."""
    strategies: dict[str, st.SearchStrategy[Any]] = {}
    for path, spec in CATALOGUE.items():
        if spec.kind == "boolean":
            s: st.SearchStrategy[Any] = st.booleans()
        elif spec.kind == "integer":
            lo, hi = int(spec.minimum or 0), int(spec.maximum if spec.maximum is not None else 100)
            s = st.integers(lo, hi)
        elif spec.kind == "number":
            lo_f, hi_f = spec.minimum or 0.0, spec.maximum if spec.maximum is not None else 100.0
            s = st.floats(lo_f, min(hi_f, 120.0), allow_nan=False)
        elif spec.kind == "enum":
            s = st.sampled_from(spec.values)
        else:
            s = st.lists(st.sampled_from(spec.values), unique=True, max_size=4)
        strategies[path] = s
    return st.fixed_dictionaries({}, optional=strategies)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(flat=_random_facts())
def test_bundled_rules_never_disagree(engine: Engine, flat: dict[str, Any]) -> None:
    try:
        facts = parse_facts(unflatten(flat))
    except FactsValidationError:
        assume(False)
        raise
    decision = engine.evaluate(facts)
    assert decision.status == "ok", decision.manual_review_details
    seen = dict(flatten(facts))
    for outcome in decision.outcomes:
        # the reference interpreter reads the same facts plus the derived facts of earlier strata
        assert (
            reference_value(outcome.rule.when, decision.facts, engine.parameters)
            == {"fired": 2, "not_fired": 0, "undetermined": 1}[outcome.status]
        )
    assert all(decision.facts[k] == v for k, v in seen.items())


def test_remembered_explanations_equal_fresh_ones(engine: Engine) -> None:
    """A rule remembers explanations by its comparisons' values; a remembered one must equal a fresh one."""
    from painpath.audit.synth import cohort
    from painpath.engine.kleene import supporting_leaves

    hits = 0
    for raw in cohort(300, 5):
        decision = engine.evaluate(parse_facts(raw))
        for outcome in decision.outcomes:
            key = tuple(outcome.values[i] for i in outcome.rule.leaf_indices)
            hits += key in outcome.rule.support_memo
            assert decision.support(outcome) == supporting_leaves(outcome.rule.when, outcome.values)
    assert hits > 0
