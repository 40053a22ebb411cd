"""The decision JSON contract: the generated schema is current, and real decisions conform to it.

Decisions come from the real ``painpath evaluate`` command over every example patient and every
scenario vignette, and are checked twice: against the checked-in ``schemas/decision.schema.json``
(jsonschema_rs) and through the pydantic models it is generated from.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest

from painpath import schemas
from painpath.engine import contract, load_ruleset
from painpath.engine.contract import DecisionDocument
from painpath.engine.vocabulary import COMPARISON_OPS
from tests.conftest import ROOT, RULES
from tests.scenarios.test_scenarios import VIGNETTES, write_facts

SCHEMA = ROOT / "schemas" / "decision.schema.json"
EXAMPLES = sorted((ROOT / "examples" / "patients").glob("*.json"))


def test_every_generated_schema_is_current() -> None:
    """facts, rule and decision schemas are generated; regenerate them with `make schemas`."""
    assert schemas.main(["--check"]) == 0


def test_contract_vocabularies_cover_the_rule_language() -> None:
    """Every status a rule can conclude is a status the contract documents (both read the one vocabulary
    of rules/ruleset.yaml), and the contract's operators are the language's."""
    defs = contract.DecisionDocument.model_json_schema()["$defs"]

    def enum(model: str, name: str) -> set[str]:
        prop = defs[model]["properties"][name]
        return {v for option in [prop, *prop.get("anyOf", [])] for v in option.get("enum", [])}

    ruleset = load_ruleset(RULES)
    concluded: dict[str, set[str]] = {}
    for rule in ruleset.rules:
        spec = ruleset.vocabulary.section_of_kind.get(rule.concludes.kind)
        if spec is not None:
            concluded.setdefault(spec.name, set()).add(str(getattr(rule.concludes, spec.field)))
    assert concluded["pmp"] <= enum("DecisionPmp", "status")
    assert concluded["triage"] <= enum("DecisionPmp", "setting") - {"undetermined"}
    assert concluded["pathway"] <= enum("DecisionPathway", "status")
    assert concluded["adherence"] <= enum("DecisionAdherence", "status")
    assert concluded["referral"] <= enum("DecisionReferral", "status")
    assert set(COMPARISON_OPS) == enum("DecisionClause", "op")


@pytest.fixture(scope="module")
def decisions(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Full-trace decisions of every example and scenario, then summary-trace decisions of the examples."""
    files: list[Path] = [*EXAMPLES, *write_facts(tmp_path_factory.mktemp("contract"), VIGNETTES)]
    return [*_evaluate(files), *_evaluate(EXAMPLES, "--trace", "summary")]


def _evaluate(files: list[Path], *options: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [sys.executable, "-m", "painpath.cli", "evaluate", *options, *map(str, files)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == len(files)
    return out


def test_every_example_and_scenario_decision_matches_the_schema(decisions: list[dict[str, Any]]) -> None:
    validator = jsonschema_rs.validator_for(json.loads(SCHEMA.read_text(encoding="utf-8")))
    problems = [
        f"{d.get('patient_id') or i}: {e.instance_path}: {e.message}"
        for i, d in enumerate(decisions)
        for e in validator.iter_errors(d)
    ]
    assert not problems, problems[:10]


def test_every_example_and_scenario_decision_matches_the_models(decisions: list[dict[str, Any]]) -> None:
    for decision in decisions:
        parsed = DecisionDocument.model_validate(decision)
        assert parsed.best_practice is not None and set(contract.LIN_RECOMMENDATIONS) <= set(parsed.best_practice)
    assert {d["trace"] for d in decisions} == {"full", "summary"}


def test_a_full_trace_gives_every_rule_its_clauses(decisions: list[dict[str, Any]]) -> None:
    summary = next(d for d in decisions if d["trace"] == "summary")
    assert summary["rules"] and all(
        set(r) == {"id", "version", "stratum", "status", "because"} for r in summary["rules"]
    )
    assert all(r["status"] == "fired" for r in summary["rules"])  # issue 12: the others are in the full trace
    with pytest.raises(ValueError, match="full trace"):
        DecisionDocument.model_validate({**summary, "trace": "full"})


def test_the_schema_rejects_what_the_contract_does_not_document(decisions: list[dict[str, Any]]) -> None:
    """The contract is strict: an undocumented key, a missing section or an unknown status fails."""
    validator = jsonschema_rs.validator_for(json.loads(SCHEMA.read_text(encoding="utf-8")))
    good = decisions[0]
    assert validator.is_valid(good)
    assert not validator.is_valid({**good, "surprise": 1})
    assert not validator.is_valid({k: v for k, v in good.items() if k != "pmp"})
    assert not validator.is_valid({**good, "pmp": {**good["pmp"], "status": "maybe"}})
    lacking = {k: v for k, v in good["best_practice"].items() if k != "7"}
    assert not validator.is_valid({**good, "best_practice": lacking})
