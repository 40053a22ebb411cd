"""One test runs every rule's vectors through the real engine (durable-rules cross-checked)."""

from __future__ import annotations

import pytest

from painpath.engine import Engine
from painpath.engine.loader import load_ruleset
from painpath.engine.vectors import run_vectors
from tests.conftest import RULES

RULE_IDS = [r.id for r in load_ruleset(RULES).rules]


@pytest.mark.parametrize("rule_id", RULE_IDS)
def test_rule_vectors(engine: Engine, rule_id: str) -> None:
    report = run_vectors(engine, {rule_id})
    assert report.results, f"{rule_id} has no vectors"
    failures = [f"{r.name}: {r.message}" for r in report.failed]
    assert not failures, "\n".join(failures)


def test_every_rule_has_citation_and_three_kinds_of_vector(engine: Engine) -> None:
    problems = []
    for rule in engine.ruleset.rules:
        kinds = {v.expect for v in rule.vectors}
        if not rule.cites:
            problems.append(f"{rule.id}: no citation")
        missing = {"fired", "not_fired", "undetermined"} - kinds
        if missing:
            problems.append(f"{rule.id}: no {sorted(missing)} vector")
    assert not problems, problems
