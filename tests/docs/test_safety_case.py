"""The hazard log (docs/safety/hazard-log.yaml) is complete, consistent and points at real controls.

Every rule id a control names must be in the loaded ruleset, and every test id must be collected by
pytest (a parametrised id exactly, or a bare function name for all its parameters); ratings must
follow the log's DCB0129 matrix, and no residual risk may be higher than the initial one.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import yaml

from painpath.engine import Engine
from tests.conftest import ROOT

LOG = ROOT / "docs" / "safety" / "hazard-log.yaml"
REQUIRED_HAZARDS = {
    "missed red flag",
    "unknown read as no",
    "wrong exclusion",
    "outdated rule",
    "wrong urgency",
    "misspelt",
    "evaluator disagreement",
    "stale data",
    "suicide-risk alert overridden",
    "decision lost",
    "patient data leaked",
}
FIELDS = {
    *("id", "title", "description", "causes", "effects"),
    *("initial_risk", "controls", "residual_risk", "status", "owner"),
}


@pytest.fixture(scope="module")
def log() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(LOG.read_text(encoding="utf-8"))
    return data


def controls(log: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return [(h["id"], c) for h in log["hazards"] for c in h["controls"]]


def test_every_hazard_is_complete_and_owned(log: dict[str, Any]) -> None:
    ids = [h["id"] for h in log["hazards"]]
    assert len(ids) == len(set(ids)), "hazard ids must be unique"
    for h in log["hazards"]:
        assert set(h) >= FIELDS, f"{h.get('id')}: missing {sorted(FIELDS - set(h))}"
        assert h["causes"] and h["effects"] and h["controls"], h["id"]
        assert h["owner"] in log["owners"], f"{h['id']}: unknown owner {h['owner']}"
        assert h["status"] in ("open", "closed", "transferred"), h["id"]
        for c in h["controls"]:
            assert c["description"].strip() and c["type"] in ("design", "test", "process", "information"), h["id"]


def test_the_hazards_the_brief_requires_are_logged(log: dict[str, Any]) -> None:
    titles = " | ".join(f"{h['title']} {h['description']}".lower().replace("\n", " ") for h in log["hazards"])
    missing = {name for name in REQUIRED_HAZARDS if name not in titles}
    assert not missing, missing


def test_ratings_follow_the_matrix_and_controls_do_not_raise_risk(log: dict[str, Any]) -> None:
    matrix = log["matrix"]["rating"]
    for h in log["hazards"]:
        for key in ("initial_risk", "residual_risk"):
            risk = h[key]
            assert risk["rating"] == matrix[risk["likelihood"]][risk["severity"]], f"{h['id']} {key}: {risk}"
        assert h["residual_risk"]["rating"] <= h["initial_risk"]["rating"], h["id"]
        if h["residual_risk"]["rating"] >= 3:
            assert h.get("justification", "").strip(), f"{h['id']}: residual risk 3+ needs a justification"
        assert h["residual_risk"]["rating"] <= 3, f"{h['id']}: residual risk is unacceptable"


def test_every_rule_a_control_names_exists(log: dict[str, Any], engine: Engine) -> None:
    known = {r.id for r in engine.ruleset.rules}
    unknown = [(hid, rid) for hid, c in controls(log) for rid in c["rules"] if rid not in known]
    assert not unknown, unknown


def test_every_test_a_control_names_exists(log: dict[str, Any]) -> None:
    named = {t for _hid, c in controls(log) for t in c["tests"]}
    files = sorted({t.split("::")[0] for t in named})
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=300,
    )
    collected = {line.strip() for line in result.stdout.splitlines() if "::" in line}
    assert collected, result.stdout + result.stderr
    collected |= {node.split("[", 1)[0] for node in collected}  # a bare name covers all its parameters
    missing = sorted(named - collected)
    assert not missing, f"controls name tests that do not exist: {missing}"
