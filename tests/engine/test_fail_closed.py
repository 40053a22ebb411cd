"""A disagreement between the evaluators fails closed to manual review and is counted."""

from __future__ import annotations

from dataclasses import replace

from painpath.engine import Engine, ir
from painpath.engine.contract import DecisionDocument
from painpath.engine.durable_adapter import DurableCore
from painpath.engine.render import decision_to_dict
from painpath.facts import CATALOGUE, parse_facts


def test_disagreement_fails_closed(engine: Engine) -> None:
    """Simulate a compiler defect: durable-rules is given a red-flag rule whose condition was inverted."""
    no_flags = {
        p.split(".", 1)[1]: False
        for p, spec in CATALOGUE.items()
        if p.startswith("red_flags.") and spec.kind == "boolean"
    }
    facts = parse_facts({"red_flags": no_flags, "demographics": {"age": 45}})
    original = engine.ruleset
    stratum = original.strata[0]
    silent = {o.rule.id for o in engine.evaluate(facts).outcomes if o.status == "not_fired"}
    index = next(i for i, r in enumerate(stratum.rules) if r.id in silent)
    rules = list(stratum.rules)
    rules[index] = replace(rules[index], when=ir.NotNode(rules[index].when))
    broken = replace(original, strata=(replace(stratum, rules=tuple(rules)), *original.strata[1:]))
    faulty = Engine(original)
    faulty._durable = DurableCore(broken, faulty.parameters)  # fault injection: a mis-compiled durable ruleset
    decision = faulty.evaluate(facts)
    assert decision.status == "manual_review"
    assert faulty.stats.disagreements == 1
    out = decision_to_dict(decision)
    assert "red_flags" not in out and "pmp" not in out  # nothing clinical is asserted
    assert out["manual_review"]["details"]
    DecisionDocument.model_validate(out)  # a manual-review decision still honours the decision contract


def test_agreeing_engine_counts_no_disagreement(engine: Engine) -> None:
    before = engine.stats.disagreements
    decision = engine.evaluate(parse_facts({}))
    assert decision.status == "ok"
    assert engine.stats.disagreements == before
