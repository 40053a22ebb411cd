"""Issue 16: an audit that closes the audit cycle, through the real ``painpath`` command.

Period (by assessment date, outside records counted), stratifiers (site, clinician, age band, sex)
as FHIR stratifiers, targets, a re-audit compared with the first, data quality, progress lines
off a terminal, and triage agreement read from a real decision log written through the real API.
"""

from __future__ import annotations

import csv
import datetime
import json
from pathlib import Path

import pytest
from fhir.resources.R4B.bundle import Bundle

from painpath.api.auth import Role
from painpath.audit.stats import newcombe_difference, wilson_interval
from tests.api.conftest import Service, service  # noqa: F401  (the module-scoped real server)
from tests.audit.test_audit_cli import run

N = 400
FIRST = "2025-01-01..2025-06-30"
SECOND = "2025-07-01..2025-12-31"
STRATA = "site,clinician,age_band,sex"


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cycle") / "c.jsonl"
    assert run("synth", "--n", str(N), "--seed", "16", stdout=path).returncode == 0
    undated = json.loads(path.read_text().splitlines()[0])
    del undated["assessment_date"]
    path.write_text(path.read_text() + json.dumps(undated) + "\n")  # one record that cannot be placed in a period
    return path


@pytest.fixture(scope="module")
def audits(cohort: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """The first half-year, then the second compared with it (stratified, progress as log lines)."""
    base = tmp_path_factory.mktemp("audits")
    first, second = base / "first", base / "second"
    r1 = run("audit", str(cohort), "--out", str(first), "--jobs", "2", "--period", FIRST, "--progress", "never")
    assert r1.returncode == 0, r1.stderr
    r2 = run(
        "audit", str(cohort), "--out", str(second), "--jobs", "2", "--chunk-size", "100",
        "--period", SECOND, "--stratify", STRATA, "--compare", str(first), "--progress", "always",
    )  # fmt: skip
    assert r2.returncode == 0, r2.stderr
    return first, second, r2.stderr


def _summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def _dates(cohort: Path) -> list[str | None]:
    return [json.loads(line).get("assessment_date") for line in cohort.read_text().splitlines()]


def test_the_period_selects_records_by_assessment_date_and_the_counts_reconcile(
    audits: tuple[Path, Path, str], cohort: Path
) -> None:
    first, second, _ = audits
    dates = _dates(cohort)
    for out, period in ((first, FIRST), (second, SECOND)):
        start, end = period.split("..")
        inside = sum(1 for d in dates if d is not None and start <= d <= end)
        s = _summary(out)
        rec = s["records"]
        assert rec["input"] == N + 1 and rec["evaluated"] == inside and rec["rejected"] == 0
        assert rec["outside_period"] == N + 1 - inside and rec["undated"] == 1
        assert rec["reconciled"] is True
        assert rec["statement"] == (
            f"{N + 1} records read: {inside} evaluated + 0 rejected + {N + 1 - inside} outside the period = {N + 1}"
        )
        assert s["period"] == {"start": start, "end": end, "source": "--period"}
        with (out / "patients.csv").open() as f:
            lines = [int(r["line"]) for r in csv.DictReader(f)]
        assert all(start <= (dates[i - 1] or "") <= end for i in lines)
        html = (out / "report.html").read_text()
        assert f"{start} to {end}" in html and rec["statement"] in html
        bundle = Bundle.model_validate_json((out / "measure-report-summary.json").read_text())
        for entry in bundle.entry:
            assert entry.resource.period.start.isoformat() == start
            assert entry.resource.period.end.isoformat() == end


def test_without_a_period_the_measurement_period_is_the_span_of_assessment_dates(cohort: Path, tmp_path: Path) -> None:
    out = tmp_path / "all"
    assert run("audit", str(cohort), "--out", str(out), "--jobs", "1", "--no-subject-list").returncode == 0
    dates = sorted(d for d in _dates(cohort) if d)
    s = _summary(out)
    assert s["period"] == {"start": dates[0], "end": dates[-1], "source": "assessment dates"}
    assert "outside_period" not in s["records"] and s["records"]["evaluated"] == N + 1


def test_strata_partition_every_measure_and_are_fhir_stratifiers(audits: tuple[Path, Path, str], cohort: Path) -> None:
    _, second, _ = audits
    s = _summary(second)
    assert s["stratifiers"] == {
        "site": "Site or practice",
        "clinician": "Clinician",
        "age_band": "Age band",
        "sex": "Sex",
    }
    sites = {json.loads(line)["site"] for line in cohort.read_text().splitlines()}
    for m in s["measures"]:
        for key in ("site", "clinician", "age_band", "sex"):
            strata = m["strata"][key]
            for pop, total in m["populations"].items():
                assert sum(x["populations"][pop] for x in strata) == total, (m["key"], key, pop)
            for x in strata:
                p = x["populations"]
                effective = p["numerator"] + p["not_met"]
                assert x["rate"] == (pytest.approx(p["numerator"] / effective, abs=1e-6) if effective else None)
        assert {x["value"] for x in m["strata"]["site"]} == sites
    bundle = Bundle.model_validate_json((second / "measure-report-summary.json").read_text())
    report = bundle.entry[0].resource
    stratifiers = {st.code[0].coding[0].code: st for st in report.group[0].stratifier}
    assert set(stratifiers) == {"site", "clinician", "age_band", "sex"}
    by_site = {x["value"]: x for x in s["measures"][0]["strata"]["site"]}
    for stratum in stratifiers["site"].stratum:
        counts = {p.code.coding[0].code: p.count for p in stratum.population}
        assert counts["numerator"] == by_site[stratum.value.text]["populations"]["numerator"]
        if by_site[stratum.value.text]["rate"] is not None:
            assert float(stratum.measureScore.value) == pytest.approx(by_site[stratum.value.text]["rate"])
    rows = list(csv.DictReader((second / "strata.csv").open()))
    assert {r["stratifier"] for r in rows} == {"site", "clinician", "age_band", "sex"}
    html = (second / "report.html").read_text()
    assert "Adherence by site or practice" in html and "Adherence by age band" in html


def test_targets_are_shown_against_each_rate(audits: tuple[Path, Path, str]) -> None:
    _, second, _ = audits
    s = _summary(second)
    adherence = [m for m in s["measures"] if m["kind"] == "adherence"]
    assert adherence and all(m["target"] for m in adherence)
    for m in adherence:
        t = m["target"]
        assert t["local"] or t["cites"]  # a local target says why; a cited one names its standard
        assert t["met"] == (None if m["rate"] is None else m["rate"] >= t["value"])
    assert all(m["target"] is None for m in s["measures"] if m["kind"] == "finding")
    rows = {r["measure"]: r for r in csv.DictReader((second / "measures.csv").open())}
    assert rows["bp-1"]["target"] and rows["bp-1"]["target_met"] in {"true", "false"}


def test_compare_gives_each_change_with_its_newcombe_interval(audits: tuple[Path, Path, str]) -> None:
    first, second, _ = audits
    before = {m["key"]: m for m in _summary(first)["measures"]}
    s = _summary(second)
    comparison = s["comparison"]
    assert comparison["same_ruleset"] is True
    assert comparison["previous"]["period"]["start"] == FIRST.split("..", maxsplit=1)[0]
    rows = {r["measure"]: r for r in csv.DictReader((second / "compare.csv").open())}
    compared = 0
    for m, c in zip(s["measures"], comparison["measures"], strict=True):
        assert c["key"] == m["key"]
        p = before[m["key"]]["populations"]
        q = m["populations"]
        diff = newcombe_difference(
            q["numerator"], q["numerator"] + q["not_met"], p["numerator"], p["numerator"] + p["not_met"]
        )
        if diff is None:
            assert c["status"] != "compared"
            continue
        compared += 1
        assert c["change"] == pytest.approx(diff[0], abs=1e-6)
        assert c["ci95"] == pytest.approx([diff[1], diff[2]], abs=1e-6)
        assert c["significant"] == (diff[1] > 0 or diff[2] < 0)
        assert rows[m["key"]]["significant"] == str(c["significant"]).lower()
    assert compared >= 11
    assert "Change since the previous audit" in (second / "report.html").read_text()


def test_a_missing_previous_audit_or_a_bad_option_is_a_usage_error(cohort: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "out")
    bad = run("audit", str(cohort), "--out", out, "--compare", str(tmp_path / "nowhere"))
    assert bad.returncode == 2 and "--compare" in bad.stderr and "summary.json" in bad.stderr
    period = run("audit", str(cohort), "--out", out, "--period", "2025-06-30..2025-01-01")
    assert period.returncode == 2 and "--period" in period.stderr
    garbled = run("audit", str(cohort), "--out", out, "--period", "last year")
    assert garbled.returncode == 2 and "START..END" in garbled.stderr
    strat = run("audit", str(cohort), "--out", out, "--stratify", "site,postcode")
    assert strat.returncode == 2 and "'postcode'" in strat.stderr and "age_band" in strat.stderr


def test_data_quality_names_the_facts_missing_most_per_measure(audits: tuple[Path, Path, str]) -> None:
    _, second, _ = audits
    s = _summary(second)
    with (second / "patients.csv").open() as f:
        patients = list(csv.DictReader(f))
    some = 0
    for m in s["measures"]:
        dq = m["data_quality"]
        assert dq["undetermined"] == m["populations"]["undetermined"]
        assert dq["undetermined"] == sum(1 for p in patients if p[m["key"]] == "undetermined")
        for item in dq["missing_most"]:
            assert 0 < item["patients"] <= dq["undetermined"]
            some += 1
    assert some > 0
    rows = list(csv.DictReader((second / "data_quality.csv").open()))
    assert len(rows) == len(s["measures"])
    assert "Data quality" in (second / "report.html").read_text()


def test_progress_is_logged_in_records_without_patient_data_when_not_a_terminal(audits: tuple[Path, Path, str]) -> None:
    _, _, stderr = audits
    lines = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    progress = [line for line in lines if line.get("event") == "audit_progress"]
    assert progress, stderr
    assert all(isinstance(p["records"], int) and p["records"] > 0 for p in progress)
    assert "bytes" not in stderr and "SYNTHETIC-" not in stderr and "SITE-" not in stderr


def test_a_csv_cohort_stratifies_by_its_site_and_clinician_columns(tmp_path: Path) -> None:
    path = tmp_path / "c.csv"
    path.write_text(
        "patient_id,site,clinician,assessment_date,demographics.age,demographics.sex\n"
        "a,North,Dr A,2025-02-01,40,female\n"
        "b,South,,2025-02-02,70,male\n"
        "c,North,Dr B,2024-12-31,30,\n"
    )
    out = tmp_path / "out"
    result = run("audit", str(path), "--out", str(out), "--jobs", "1", "--period", "2025-01-01..2025-12-31",
                 "--stratify", "site,clinician,age_band,sex")  # fmt: skip
    assert result.returncode == 0, result.stderr
    s = _summary(out)
    assert s["records"]["outside_period"] == 1
    strata = s["measures"][0]["strata"]
    assert {x["value"]: x["populations"]["initial_population"] for x in strata["site"]} == {"North": 1, "South": 1}
    assert {x["value"] for x in strata["clinician"]} == {"Dr A", "not recorded"}
    assert {x["value"] for x in strata["age_band"]} == {"30-44", "65-79"}


def test_triage_agreement_is_read_from_the_decision_log(service: Service, cohort: Path, tmp_path: Path) -> None:  # noqa: F811
    """Outcomes recorded through the real API are compared with painpath's advice by the audit."""
    cauda_equina = {"demographics": {"age": 47}, "red_flags": {"saddle_anaesthesia": True, "ces_symptom_onset_days": 3}}
    with service.client(Role.clinician) as c:
        ces = c.post("/v1/evaluations", json=cauda_equina).json()["decision_id"]
        other = c.post("/v1/evaluations", json=cauda_equina).json()["decision_id"]
    with service.client(Role.triage) as c:
        agreed = c.post(f"/v1/evaluations/{ces}/triage",
                        json={"outcome": "redirected", "redirected_to": "emergency_department"})  # fmt: skip
        assert agreed.status_code == 201 and agreed.json()["departs_from_advice"] is False
        departed = c.post(f"/v1/evaluations/{other}/triage", json={"outcome": "accepted", "service": "pmp",
                          "setting": "outpatient", "reason": "seen in ED already"})  # fmt: skip
        assert departed.status_code == 201 and departed.json()["departs_from_advice"] is True
    out = tmp_path / "out"
    today = datetime.date.today().isoformat()
    result = run("audit", str(cohort), "--out", str(out), "--jobs", "1", "--no-subject-list",
                 "--decision-log", service.database_url, "--period", f"2025-01-01..{today}")  # fmt: skip
    assert result.returncode == 0, result.stderr
    ta = _summary(out)["triage_agreement"]
    assert ta["decisions_triaged"] >= 2
    row = next(r for r in ta["by_advice"] if r["advice"] == "emergency_red_flag")
    assert row["agrees"] >= 1 and row["departs"] >= 1 and row["counted"] is True
    ci = wilson_interval(ta["agrees"], ta["compared"])
    assert ci is not None and ta["ci95"] == pytest.approx(list(ci), abs=1e-6)
    assert ta["kappa"] is None and ta["kappa_note"]
    assert "Triage agreement" in (out / "report.html").read_text()
    assert (out / "triage_agreement.csv").exists()
    unreachable = run("audit", str(cohort), "--out", str(tmp_path / "o2"), "--jobs", "1",
                      "--decision-log", "postgresql://nobody@127.0.0.1:1/none")  # fmt: skip
    assert unreachable.returncode == 1 and "--decision-log" in unreachable.stderr
