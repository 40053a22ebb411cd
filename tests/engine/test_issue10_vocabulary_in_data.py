"""Issue 10: clinical vocabulary and policy live in rule data (rules/ruleset.yaml), not in Python."""

from __future__ import annotations

import re

from tests.conftest import ROOT

SRC = ROOT / "src" / "painpath"
GONE = (
    "BEST_PRACTICE_COUNT",
    "_REDIRECT_SETTINGS",
    "_KIND_RANK",
    "_PATHWAY_ORDER",
    "_URGENCY_LABEL",
    "_PMP_STATUSES",
    "_TRIAGE_SETTINGS",
    "_PATHWAY_STATUSES",
    "URGENCY_ORDER",
)
"""The Python copies of clinical vocabulary that issue 10 moved into rule data."""


def test_issue10_no_clinical_vocabulary_constants_in_python() -> None:
    found = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in SRC.rglob("*.py")
        for name in GONE
        if re.search(rf"\b{name}\b", path.read_text(encoding="utf-8"))
    ]
    assert not found, found


def test_issue10_the_operator_set_is_written_once() -> None:
    """The comparison operators are listed in engine/vocabulary.py only; the two evaluators implement
    each one (kleene.py, and durable_compile.py translating it into durable-rules' own), nothing else
    keeps a copy."""
    pattern = re.compile(r'"contains_all"')
    allowed = {
        SRC / "engine" / name for name in ("vocabulary.py", "kleene.py", "durable_adapter.py", "durable_compile.py")
    }
    found = [str(p.relative_to(ROOT)) for p in SRC.rglob("*.py") if p not in allowed and pattern.search(p.read_text())]
    assert not found, found


def test_issue10_section_statuses_come_from_the_ruleset(engine: object) -> None:
    from painpath.engine import Engine

    assert isinstance(engine, Engine)
    vocab = engine.ruleset.vocabulary
    assert vocab.sections["pmp"].precedence == ("not_suitable", "not_yet", "not_indicated", "recommended")
    assert vocab.sections["pmp"].redirects == ("paediatric_service", "case_management_first")
    assert len(vocab.sections["adherence"].items) == 11
