"""Golden files: the whole text decision of a few representative patients, reviewed in diffs.

Each ``tests/golden/NAME.json`` is a patient; ``NAME.txt`` is what ``painpath evaluate --format text``
prints for it, with the decision id and the ruleset hash replaced by placeholders. A change to the
rules or the renderer that changes what a clinician reads shows up here as a diff to review. After
reviewing, regenerate with ``PAINPATH_UPDATE_GOLDEN=1 .venv/bin/pytest tests/golden``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

HERE = Path(__file__).resolve().parent
PATIENTS = sorted(HERE.glob("*.json"))


def normalised(text: str) -> str:
    text = re.sub(r"painpath decision [0-9a-f-]{36}", "painpath decision <decision-id>", text)
    return re.sub(r"\(([0-9a-f]{12})\)\n", "(<ruleset-hash>)\n", text, count=1)


@pytest.mark.parametrize("patient", PATIENTS, ids=lambda p: p.stem)
def test_golden_text_decision(patient: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "painpath.cli", "evaluate", str(patient), "--format", "text"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        check=False,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    golden = patient.with_suffix(".txt")
    got = normalised(result.stdout)
    if os.environ.get("PAINPATH_UPDATE_GOLDEN") == "1":
        golden.write_text(got, encoding="utf-8")
    assert golden.is_file(), f"no golden file {golden.name}: run with PAINPATH_UPDATE_GOLDEN=1 and review it"
    assert got == golden.read_text(encoding="utf-8")
