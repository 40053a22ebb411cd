"""Issue 16: the audit report in a real browser (Debian's Chromium via Playwright, as ``tests/web``).

The page must fit a 1366 px laptop screen without horizontal scrolling, load nothing from outside
the file, and its one drill-down table must filter and sort. The screenshot goes to
``docs/screenshots/audit-report.png`` for the docs.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.audit.test_audit_cli import run
from tests.conftest import ROOT
from tests.web.conftest import VIEWPORT

SCREENSHOT = ROOT / "docs" / "screenshots" / "audit-report.png"


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    cohort = tmp / "c.jsonl"
    assert run("synth", "--n", "300", "--seed", "7", stdout=cohort).returncode == 0
    first, second = tmp / "first", tmp / "second"
    assert run("audit", str(cohort), "--out", str(first), "--jobs", "2", "--period", "2025-01-01..2025-06-30",
               "--no-subject-list").returncode == 0  # fmt: skip
    result = run("audit", str(cohort), "--out", str(second), "--jobs", "2", "--period", "2025-07-01..2025-12-31",
                 "--stratify", "site,clinician,age_band,sex", "--compare", str(first), "--no-subject-list")  # fmt: skip
    assert result.returncode == 0, result.stderr
    return second / "report.html"


@pytest.fixture
def page(browser: Any) -> Iterator[tuple[Any, list[str]]]:
    context = browser.new_context(viewport=VIEWPORT)
    outside: list[str] = []

    def block(route: Any) -> None:
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", block)
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page, outside
    context.close()


def test_the_report_fits_a_laptop_screen_and_loads_nothing_from_outside(
    page: tuple[Any, list[str]], report: Path
) -> None:
    p, outside = page
    p.goto(report.as_uri())
    assert p.evaluate("document.documentElement.scrollWidth") <= VIEWPORT["width"]
    assert p.locator("svg.chart").count() >= 4
    assert outside == []
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    p.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000


def test_the_drill_down_table_filters_and_sorts(page: tuple[Any, list[str]], report: Path) -> None:
    p, _ = page
    p.goto(report.as_uri())
    rows = p.locator("#drill-table tbody tr")
    total = rows.count()
    assert total > 50
    assert p.locator("#drill-table tbody tr:not([hidden])").count() == 50  # paged
    # a count in the adherence table opens its patients
    link = p.locator('table.measures a[data-drill$="|N"]').first
    key = link.get_attribute("data-drill")
    link.click()
    visible = p.locator("#drill-table tbody tr:not([hidden])")
    n = visible.count()
    assert 0 < n <= 50
    assert set(visible.evaluate_all("rows => rows.map(r => r.dataset.key)")) == {key}
    assert p.locator("#f-key").input_value() == key
    # search narrows, sort orders by line
    p.locator("#f-key").select_option("")
    p.locator("#f-text").fill("SYNTHETIC-7-1")
    texts = p.locator("#drill-table tbody tr:not([hidden]) td:nth-child(4)").all_inner_texts()
    assert texts and all("SYNTHETIC-7-1" in t for t in texts)
    p.locator("#drill-table th", has_text="line").click()
    lines = [int(t) for t in p.locator("#drill-table tbody tr:not([hidden]) td:nth-child(3)").all_inner_texts()]
    assert lines == sorted(lines)
    p.locator("#drill-table th", has_text="line").click()
    lines = [int(t) for t in p.locator("#drill-table tbody tr:not([hidden]) td:nth-child(3)").all_inner_texts()]
    assert lines == sorted(lines, reverse=True)


def test_the_print_stylesheet_hides_the_controls_and_shows_every_row(page: tuple[Any, list[str]], report: Path) -> None:
    p, _ = page
    p.goto(report.as_uri())
    p.emulate_media(media="print")
    assert not p.locator(".filters").is_visible()
    hidden_rows = p.locator("#drill-table tbody tr[hidden]").first
    assert hidden_rows.is_visible()
