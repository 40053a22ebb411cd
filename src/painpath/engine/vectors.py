"""Run every rule's test vectors through the real engine and measure clause coverage."""

from __future__ import annotations

from dataclasses import dataclass, field

from painpath.engine import ir
from painpath.engine.kleene import F, T, U, missing_facts
from painpath.engine.strata import Engine
from painpath.errors import FactsValidationError
from painpath.facts import parse_facts


@dataclass(frozen=True)
class VectorResult:
    """The outcome of one vector: passed, or why not."""

    rule_id: str
    name: str
    passed: bool
    message: str = ""


@dataclass
class Coverage:
    """Which truth values each leaf of a rule took across its vectors."""

    seen: dict[int, set[int]] = field(default_factory=dict)

    def leaf_ratio(self, rule: ir.Rule) -> tuple[int, int]:
        """(leaves seen both true and false, all leaves)."""
        leaves = ir.leaves(rule.when)
        full = sum(1 for leaf in leaves if {T, F} <= self.seen.get(leaf.index, set()))
        return full, len(leaves)


@dataclass
class VectorReport:
    results: list[VectorResult] = field(default_factory=list)
    coverage: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def failed(self) -> list[VectorResult]:
        return [r for r in self.results if not r.passed]


def run_vectors(engine: Engine, rule_ids: set[str] | None = None) -> VectorReport:
    """Evaluate every vector of every (selected) rule and compare with its expectation."""
    report = VectorReport()
    engines: dict[tuple[tuple[str, object], ...], Engine] = {}
    for rule in engine.ruleset.rules:
        if rule_ids is not None and rule.id not in rule_ids:
            continue
        cov = Coverage()
        for vec in rule.vectors:
            key = tuple(sorted(vec.parameters.items()))
            if key not in engines:
                engines[key] = engine.with_parameters(vec.parameters) if key else engine
            try:
                facts = parse_facts(vec.facts)
            except FactsValidationError as exc:
                report.results.append(VectorResult(rule.id, vec.name, False, str(exc)))
                continue
            decision = engines[key].evaluate(facts, inject=vec.derived)
            if decision.status != "ok":
                report.results.append(VectorResult(rule.id, vec.name, False, "; ".join(decision.manual_review_details)))
                continue
            outcome = decision.outcome(rule.id)
            for leaf in ir.leaves(rule.when):
                cov.seen.setdefault(leaf.index, set()).add(outcome.values[leaf.index])
            problems = []
            if outcome.status != vec.expect:
                problems.append(f"expected {vec.expect}, got {outcome.status}")
            if vec.missing is not None:
                got = missing_facts(rule.when, outcome.values)
                if set(got) != set(vec.missing):
                    problems.append(f"expected missing {sorted(vec.missing)}, got {sorted(got)}")
            report.results.append(VectorResult(rule.id, vec.name, not problems, "; ".join(problems)))
        report.coverage[rule.id] = cov.leaf_ratio(rule)
    return report


__all__ = ["Coverage", "U", "VectorReport", "VectorResult", "run_vectors"]
