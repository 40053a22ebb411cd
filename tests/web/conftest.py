"""Browser tests: the real server (``tests.api.conftest.launch``) driven by Debian's Chromium via Playwright.

What the tests need is installed by ``scripts/ci-browser.sh`` (``make browser-deps``, a prerequisite
of ``make test``): ``/usr/bin/chromium`` and axe-core in ``tests/web/node``. Playwright for Python is
in the dev dependencies and never downloads a browser here: it launches ``/usr/bin/chromium``.
When something is missing the browser tests are skipped locally and FAIL under ``CI=true``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from painpath.api.auth import Role
from painpath.store.testing import sqlite_url
from tests.api.conftest import Service, launch

CHROMIUM = Path(os.environ.get("PAINPATH_CHROMIUM", "/usr/bin/chromium"))
AXE = Path(__file__).resolve().parent / "node" / "node_modules" / "axe-core" / "axe.min.js"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-default-apps",
]
VIEWPORT = {"width": 1366, "height": 768}
SADDLE = re.compile("numbness or altered sensation around the back passage")
"""The saddle-numbness question (facts/questions.yaml), as its radio group is named."""
ONSET = re.compile("How many days ago did these cauda equina symptoms start")


def unavailable(reason: str) -> None:
    """Skip locally; fail under ``CI=true`` (CI installs everything, so missing means broken)."""
    message = f"{reason}; run scripts/ci-browser.sh (make browser-deps)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true and {message}")
    pytest.skip(message)


@pytest.fixture(scope="session")
def axe_source() -> str:
    if not AXE.exists():
        unavailable(f"axe-core not installed at {AXE}")
    return AXE.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A keyed server on an SQLite file, shared by a test module (short idle expiry for its test)."""
    data: Path = tmp_path_factory.mktemp("web")
    svc = launch(data, sqlite_url(data), PAINPATH_WORKERS="0", PAINPATH_WEB_IDLE_SECONDS="600")
    yield svc
    svc.server.stop()


def _local_only(route: Any) -> None:
    host = urlsplit(route.request.url).hostname or ""
    if host in ("127.0.0.1", "localhost", "::1") or route.request.url.startswith(("data:", "blob:")):
        route.continue_()
    else:
        route.abort()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh browser context (no cookies) that may reach this machine only, as a closed network would."""
    ctx = browser.new_context(viewport=VIEWPORT)
    ctx.external_requests = []  # type: ignore[attr-defined]

    def guard(route: Any) -> None:
        host = urlsplit(route.request.url).hostname or ""
        if host not in ("127.0.0.1", "localhost", "::1"):
            ctx.external_requests.append(route.request.url)  # type: ignore[attr-defined]
        _local_only(route)

    ctx.route(re.compile(r"^(https?|wss?)://"), guard)
    yield ctx
    ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    page = context.new_page()
    page.set_default_timeout(15_000)
    return page


def sign_in(page: Any, web: Service, role: Role) -> None:
    """Sign in through the login form with the role's API key."""
    page.goto(f"{web.url}/app/login")
    page.get_by_label("API key").fill(web.tokens[role])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state("networkidle")


def axe_violations(page: Any, axe_source: str) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the current page (WCAG 2.x A and AA rules)."""
    # Evaluated through the DevTools protocol, so the pages' Content-Security-Policy (no inline
    # scripts) stays in force for everything else.
    page.evaluate(f"() => {{ {axe_source}\n }}")
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag',
                values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice']}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]
