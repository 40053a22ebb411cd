"""Whole-patient vignettes run through the real ``painpath evaluate`` command and compared with the
decision a clinician reading the sources would expect.

Each ``tests/scenarios/*.yaml`` file is one patient: ``title``, ``source`` (what it is written
from), ``story``, ``facts`` (patient facts, exactly what the CLI reads) and ``expect``. Every key of
``expect`` is optional; what it names is checked exactly:

``status``              decision status (default ``ok``)
``red_flags``           ``status`` and ``findings`` (the set of condition + urgency)
``safety_alerts``       list of ``alert`` + ``urgency``, in the order given (most urgent first)
``pmp``                 ``status``, ``setting``, ``reasons`` / ``setting_reasons`` (sets of rule ids),
                        ``instead_contains`` and ``preparation_contains`` (text fragments; an empty list
                        means there must be no preparation points)
``notes``               the set of rule ids of the notes (e.g. "older age was considered")
``pathways``            option -> status, or ``absent`` when the option must not be listed
``pathway_reasons``     option -> set of rule ids giving its status
``best_practice``       recommendation key -> status
``missing_information`` the exact list of missing facts (usually ``[]``)
``missing_information_first``    these facts, in this order, head the list
``missing_information_includes`` these facts are in the list
``text_order``          fragments that must appear in this order in ``--format text``

A vignette may carry ``xfail: {fields: [...], reason: ...}`` for a known engine gap: the test
xfails only if the listed fields, and nothing else, disagree, and fails once the gap is fixed.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import ROOT

SCENARIOS = Path(__file__).resolve().parent
VIGNETTES = sorted(SCENARIOS.glob("*.yaml"))
PAINPATH = [sys.executable, "-m", "painpath.cli", "evaluate"]


def load(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(path.read_text(encoding="utf-8"))
    return data


def write_facts(directory: Path, paths: list[Path]) -> list[Path]:
    """Write each vignette's facts as the JSON file a user would pass to the CLI."""
    out = []
    for path in paths:
        target = directory / f"{path.stem}.json"
        target.write_text(json.dumps(load(path)["facts"]), encoding="utf-8")
        out.append(target)
    return out


def evaluate(files: list[Path], *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*PAINPATH, *extra, *map(str, files)], capture_output=True, text=True, cwd=ROOT, check=False, timeout=300
    )


@pytest.fixture(scope="module")
def decisions(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Every vignette evaluated by one CLI invocation (one decision per output line, in file order)."""
    files = write_facts(tmp_path_factory.mktemp("scenarios"), VIGNETTES)
    result = evaluate(files)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == len(files), "the CLI must print one decision per file"
    return {path.stem: json.loads(line) for path, line in zip(VIGNETTES, lines, strict=True)}


def _ids(reasons: list[dict[str, Any]]) -> set[str]:
    return {r["rule"]["id"] for r in reasons}


def _check_pmp(expect: dict[str, Any], pmp: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for key in ("status", "setting"):
        if key in expect and pmp[key] != expect[key]:
            yield f"pmp.{key}", f"expected {expect[key]!r}, got {pmp[key]!r}"
    for key in ("reasons", "setting_reasons"):
        if key in expect and _ids(pmp[key]) != set(expect[key]):
            yield f"pmp.{key}", f"expected {sorted(expect[key])}, got {sorted(_ids(pmp[key]))}"
    instead = " ".join(r.get("instead", "") for r in pmp["reasons"])
    for fragment in expect.get("instead_contains", []):
        if fragment not in instead:
            yield "pmp.instead", f"{fragment!r} not in {instead!r}"
    if "preparation_contains" in expect:
        wanted = expect["preparation_contains"]
        text = " ".join(pmp["preparation"])
        if not wanted and pmp["preparation"]:
            yield "pmp.preparation", "expected no preparation points"
        for fragment in wanted:
            if fragment not in text:
                yield "pmp.preparation", f"{fragment!r} not in the preparation points"


def mismatches(expect: dict[str, Any], decision: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """Each (field, message) where the decision differs from the expectation."""
    if decision["status"] != expect.get("status", "ok"):
        yield "status", f"{decision['status']}: {decision.get('manual_review')}"
        return
    if "red_flags" in expect:
        rf, want = decision["red_flags"], expect["red_flags"]
        if rf["status"] != want["status"]:
            yield "red_flags.status", f"expected {want['status']!r}, got {rf['status']!r}"
        got = {(f["condition"], f["urgency"]) for f in rf["findings"]}
        wanted = {(f["condition"], f["urgency"]) for f in want.get("findings", [])}
        if "findings" in want and got != wanted:
            yield "red_flags.findings", f"expected {sorted(wanted)}, got {sorted(got)}"
    if "safety_alerts" in expect:
        got_alerts = [{"alert": a["alert"], "urgency": a["urgency"]} for a in decision["safety_alerts"]]
        if got_alerts != expect["safety_alerts"]:
            yield "safety_alerts", f"expected {expect['safety_alerts']}, got {got_alerts}"
    if "pmp" in expect:
        yield from _check_pmp(expect["pmp"], decision["pmp"])
    if "notes" in expect and _ids(decision["notes"]) != set(expect["notes"]):
        yield "notes", f"expected {sorted(expect['notes'])}, got {sorted(_ids(decision['notes']))}"
    pathways = {p["option"]: p for p in decision["pathways"]}
    for option, status in expect.get("pathways", {}).items():
        got_status = pathways[option]["status"] if option in pathways else "absent"
        if got_status != status:
            yield f"pathways.{option}", f"expected {status!r}, got {got_status!r}"
    for option, ids in expect.get("pathway_reasons", {}).items():
        got_ids = _ids(pathways[option]["reasons"]) if option in pathways else set()
        if got_ids != set(ids):
            yield f"pathway_reasons.{option}", f"expected {sorted(ids)}, got {sorted(got_ids)}"
    for key, status in expect.get("best_practice", {}).items():
        got_status = decision["best_practice"][str(key)]["status"]
        if got_status != status:
            yield f"best_practice.{key}", f"expected {status!r}, got {got_status!r}"
    missing = [m["fact"] for m in decision["missing_information"]]
    if "missing_information" in expect and missing != expect["missing_information"]:
        yield "missing_information", f"expected {expect['missing_information']}, got {missing[:10]}"
    first = expect.get("missing_information_first", [])
    if missing[: len(first)] != first:
        yield "missing_information_first", f"expected {first} first, got {missing[: len(first) + 3]}"
    absent = [m for m in expect.get("missing_information_includes", []) if m not in missing]
    if absent:
        yield "missing_information_includes", f"{absent} not in {missing}"


@pytest.mark.parametrize("path", VIGNETTES, ids=lambda p: p.stem)
def test_vignette(path: Path, decisions: dict[str, dict[str, Any]]) -> None:
    vignette = load(path)
    problems = list(mismatches(vignette["expect"], decisions[path.stem]))
    known = vignette.get("xfail")
    if known:
        unexpected = [p for p in problems if p[0] not in known["fields"]]
        assert not unexpected, f"{vignette['title']}: {unexpected}"
        assert problems, f"{path.name}: the known gap is fixed; remove its xfail ({known['fields']})"
        pytest.xfail(f"{known['reason']} {problems}")
    assert not problems, f"{vignette['title']}: " + "; ".join(f"{f}: {m}" for f, m in problems)


def test_there_are_at_least_thirty_vignettes_each_citing_a_source() -> None:
    assert len(VIGNETTES) >= 30
    for path in VIGNETTES:
        vignette = load(path)
        assert {"title", "source", "story", "facts", "expect"} <= set(vignette), path.name
        assert vignette["source"].strip(), path.name


@pytest.mark.parametrize("path", [p for p in VIGNETTES if "text_order" in load(p)["expect"]], ids=lambda p: p.stem)
def test_text_summary_puts_the_most_urgent_first(path: Path, tmp_path: Path) -> None:
    """``--format text`` reads like a clinician's summary: urgent actions, then PMP, pathways, gaps."""
    result = evaluate(write_facts(tmp_path, [path]), "--format", "text")
    assert result.returncode == 0, result.stderr
    text = result.stdout
    positions = []
    for fragment in load(path)["expect"]["text_order"]:
        assert fragment in text, f"{fragment!r} missing from:\n{text}"
        positions.append(text.index(fragment))
    assert positions == sorted(positions), f"out of order {load(path)['expect']['text_order']}:\n{text}"
