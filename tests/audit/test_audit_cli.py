"""The audit end to end through the real ``painpath`` command: synth, audit, reports, rejected records."""

from __future__ import annotations

import csv
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.list import List as FhirList
from fhir.resources.R4B.measurereport import MeasureReport

from painpath.facts import parse_facts_json
from tests.conftest import ROOT

PAINPATH = [sys.executable, "-m", "painpath.cli"]
N = 240
BAD_LINES = [
    b'{"red_flags": {"saddle_anesthesia": true}}',  # misspelt field
    b'{"demographics": {"age": 300}}',  # out of range
    b"{not json",  # not JSON at all
]


def run(*args: str, stdout: Path | None = None) -> subprocess.CompletedProcess[str]:
    out = stdout.open("w") if stdout else None
    try:
        return subprocess.run(
            [*PAINPATH, *args],
            stdout=out or subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
            check=False,
            timeout=600,
        )
    finally:
        if out:
            out.close()


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cohort") / "c.jsonl"
    result = run("synth", "--n", str(N), "--seed", "7", stdout=path)
    assert result.returncode == 0, result.stderr
    assert "SYNTHETIC" in result.stderr
    return path


@pytest.fixture(scope="module")
def audited(cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cohort with three corrupted lines appended, audited with two worker processes."""
    corrupted = cohort.with_name("corrupted.jsonl")
    corrupted.write_bytes(cohort.read_bytes() + b"\n".join(BAD_LINES) + b"\n")
    out = tmp_path_factory.mktemp("out")
    result = run("audit", str(corrupted), "--out", str(out), "--jobs", "2", "--chunk-size", "50")
    assert result.returncode == 0, result.stderr
    assert f"{N + 3} records read: {N} evaluated + 3 rejected = {N + 3}" in result.stderr
    return out


def test_synth_is_seeded_labelled_and_valid(cohort: Path) -> None:
    lines = cohort.read_bytes().splitlines()
    assert len(lines) == N
    again = run("synth", "--n", "5", "--seed", "7")
    assert again.stdout.encode().splitlines() == lines[:5]
    other = run("synth", "--n", "5", "--seed", "8")
    assert other.stdout.encode().splitlines() != lines[:5]
    records = [json.loads(line) for line in lines]
    # each line carries its envelope (site, clinician) beside the facts, which include the assessment date
    assert all(r.pop("site").startswith("SITE-") and r.pop("clinician") for r in records)
    facts = [parse_facts_json(json.dumps(r)) for r in records]
    assert all(f.patient_id and f.patient_id.startswith("SYNTHETIC-7-") for f in facts)
    assert all(f.assessment_date is not None for f in facts)
    # varied: some red flags answered yes, some facts missing, some care not documented
    assert any(f.red_flags.saddle_anaesthesia is None for f in facts)
    assert any(f.care.education_given is False for f in facts)


def test_counts_reconcile_and_rejected_records_name_line_and_field(audited: Path) -> None:
    summary = json.loads((audited / "summary.json").read_text())
    assert summary["records"] == {
        "input": N + 3,
        "evaluated": N,
        "rejected": 3,
        "reconciled": True,
        "statement": f"{N + 3} records read: {N} evaluated + 3 rejected = {N + 3}",
    }
    assert summary["synthetic"] is True
    with (audited / "rejected.csv").open() as f:
        rejected = list(csv.DictReader(f))
    assert [int(r["line"]) for r in rejected] == [N + 1, N + 2, N + 3]
    assert "red_flags.saddle_anesthesia: unknown field" in rejected[0]["reason"]
    assert "red_flags.saddle_anaesthesia" in rejected[0]["reason"]  # the suggestion
    assert rejected[1]["reason"].startswith("demographics.age:")
    assert rejected[2]["reason"]
    with (audited / "patients.csv").open() as f:
        patients = list(csv.DictReader(f))
    assert len(patients) == N
    assert [int(p["line"]) for p in patients] == list(range(1, N + 1))  # input order, whatever the workers did


def test_measures_have_ecqm_populations_and_wilson_intervals(audited: Path) -> None:
    summary = json.loads((audited / "summary.json").read_text())
    measures = {m["key"]: m for m in summary["measures"]}
    assert {f"bp-{i}" for i in range(1, 12)} <= set(measures)
    assert any(m["kind"] == "finding" and m["rule"].startswith("RF_CES") for m in measures.values())
    with (audited / "patients.csv").open() as f:
        patients = list(csv.DictReader(f))
    for key, m in measures.items():
        p = m["populations"]
        assert p["initial_population"] == N
        assert (
            p["denominator"] == p["numerator"] + p["not_met"] + p["denominator_exception"] + p["denominator_exclusion"]
        )
        assert p["initial_population"] == p["denominator"] + p["undetermined"] + p["manual_review"]
        # the per-patient table agrees with the counts
        column = [row[key] for row in patients]
        assert column.count("numerator") == p["numerator"]
        assert column.count("not_met") == p["not_met"]
        effective = p["numerator"] + p["not_met"]
        if effective:
            low, high = m["ci95"]
            assert m["rate"] == pytest.approx(p["numerator"] / effective, abs=1e-6)
            assert low <= m["rate"] <= high
    assert sum(m["populations"]["denominator_exception"] for m in measures.values()) > 0
    rows = list(csv.DictReader((audited / "measures.csv").open()))
    assert {r["measure"] for r in rows} == set(measures)


def test_measure_reports_are_valid_fhir(audited: Path) -> None:
    bundle = Bundle.model_validate_json((audited / "measure-report-summary.json").read_text())
    reports = [e.resource for e in bundle.entry]
    assert all(r.type == "summary" and r.status == "complete" for r in reports)
    lines = (audited / "measure-report-subject-list.ndjson").read_text().splitlines()
    cohort = FhirList.model_validate_json(lines[0])
    assert len(cohort.entry) == N
    summary = json.loads((audited / "summary.json").read_text())
    by_key = {m["key"]: m for m in summary["measures"]}
    for line in lines[1:]:
        report = MeasureReport.model_validate_json(line)
        assert report.type == "subject-list"
        key = report.group[0].code.coding[0].code
        contained = {c.id: c for c in report.contained or []}
        for pop in report.group[0].population:
            code = pop.code.coding[0].code
            if code == "numerator" and pop.count:
                listed = contained[pop.subjectResults.reference.lstrip("#")]
                assert len(listed.entry) == pop.count == by_key[key]["populations"]["numerator"]


def test_html_report_is_self_contained_and_bars_link_to_patients(audited: Path) -> None:
    html = (audited / "report.html").read_text()
    assert "SYNTHETIC COHORT" in html
    assert f"{N + 3} records read: {N} evaluated + 3 rejected = {N + 3}" in html
    assert not re.search(r"(?i)(https?:)?//[a-z0-9]", html), "no external URLs"
    assert not re.search(r"(?i)<script[^>]*\bsrc=", html), "only our inline script"
    assert "<link" not in html.lower()
    anchors = set(re.findall(r'id="([^"]+)"', html))
    links = set(re.findall(r'href="#([^"]+)"', html))
    assert links and links <= anchors, sorted(links - anchors)[:5]
    # every count that links into the drill-down table names rows that the table holds
    drill_links = set(re.findall(r'data-drill="([^"]+)"', html))
    drill_rows = set(re.findall(r'<tr data-key="([^"]+)"', html))
    assert drill_links and drill_links <= drill_rows, sorted(drill_links - drill_rows)[:5]
    assert html.count('id="drill-table"') == 1  # one table, not a section per population
    assert "qs155 4 medicines lbp" not in html.lower()  # labels come from the data, not from ids
    for section in (
        "Adherence per recommendation",
        "Red-flag findings by urgency",
        "Pain Management Programme",
        "missing facts",
    ):
        assert section in html
    assert html.count('<svg role="img" class="chart"') >= 4  # Vega-Lite charts, inline
    assert "red_flags.saddle_anesthesia: unknown field" in html  # the rejected records are shown


def test_csv_cohort_gives_the_same_audit(audited: Path, cohort: Path, tmp_path: Path) -> None:
    """The same patients as CSV (flat catalogue paths as columns) give the same per-patient results."""
    from painpath.facts import CATALOGUE, flatten

    envelope = ("site", "clinician")  # beside the facts in a synth line; not facts
    records = [json.loads(line) for line in cohort.read_bytes().splitlines()[:60]]
    facts = [parse_facts_json(json.dumps({k: v for k, v in r.items() if k not in envelope})) for r in records]
    columns = ["patient_id", *CATALOGUE]
    path = tmp_path / "c.csv"
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(columns)
        for fact in facts:
            flat = flatten(fact)
            row = [fact.patient_id]
            for c in columns[1:]:
                v = flat.get(c)
                if isinstance(v, tuple):
                    v = ";".join(v) or "[]"
                elif isinstance(v, bool):
                    v = str(v).lower()
                row.append("" if v is None else v)
            w.writerow(row)
        w.writerow(["bad-row", *["maybe" if c == "red_flags.fever" else "" for c in columns[1:]]])
    out = tmp_path / "out"
    result = run("audit", str(path), "--out", str(out), "--jobs", "1")
    assert result.returncode == 0, result.stderr
    rejected = list(csv.DictReader((out / "rejected.csv").open()))
    assert rejected == [{"line": "62", "reason": "red_flags.fever: expected true or false"}]
    mine = list(csv.DictReader((out / "patients.csv").open()))
    theirs = list(csv.DictReader((audited / "patients.csv").open()))[:60]
    strip = lambda rows: [{k: v for k, v in r.items() if k != "line"} for r in rows]  # noqa: E731
    assert strip(mine) == strip(theirs)


def test_unknown_csv_column_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text("patient_id,red_flags.saddle_anesthesia\np1,true\n")
    result = run("audit", str(path), "--out", str(tmp_path / "out"))
    assert result.returncode == 3
    assert "red_flags.saddle_anesthesia" in result.stderr and "red_flags.saddle_anaesthesia" in result.stderr
