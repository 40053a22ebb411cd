"""Shared fixtures: the real repository rules, compiled once per test session."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from painpath.engine import Engine

ROOT = Path(__file__).resolve().parents[1]
RULES = ROOT / "rules"
FIXTURES = Path(__file__).resolve().parent / "fixtures"


@pytest.fixture(scope="session")
def engine() -> Engine:
    """The bundled ruleset, loaded and compiled like the CLI does."""
    return Engine.from_directory(RULES)


# One Playwright instance and one Chromium for the whole session, shared by the web app's and the audit
# report's browser tests (Playwright's sync API allows one instance per thread).
@pytest.fixture(scope="session")
def playwright_api() -> Iterator[Any]:
    import shutil

    from tests.web.conftest import CHROMIUM, unavailable

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("Playwright for Python is not installed")
    if not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None:
        unavailable(f"Chromium not found at {CHROMIUM}")
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright_api: Any) -> Iterator[Any]:
    from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

    browser = playwright_api.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
    yield browser
    browser.close()
