"""Shared fixtures: the real repository rules, compiled once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from painpath.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def engine() -> Engine:
    """The bundled ruleset, loaded and compiled like the CLI does."""
    return Engine.from_directory(RULES)
