"""Issue 14: ``painpath evaluate --as-of`` and ``painpath audit --as-of`` (the real CLI, in a subprocess).

A retrospective audit of old FHIR records uses the values current at the as-of date: a 2019 pain
score is stale today, and used when the audit is run as of 2019.
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from painpath.fhir import questionnaire
from tests.audit.test_audit_cli import run
from tests.support.questionnaire import response_from

OLD = "2019-05-10"


def old_bundle() -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"resource": {"resourceType": "Patient", "id": "p1", "gender": "female", "birthDate": "1970-02-01"}},
            {
                "resource": {
                    "resourceType": "Observation",
                    "id": "o1",
                    "status": "final",
                    "code": {"coding": [{"system": "http://loinc.org", "code": "72514-3"}]},
                    "effectiveDateTime": "2019-05-01",
                    "valueInteger": 7,
                }
            },
        ],
    }


@pytest.fixture
def bundle_file(tmp_path: Path) -> Path:
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(old_bundle()), encoding="utf-8")
    return path


def test_evaluate_as_of_uses_the_scores_current_then(bundle_file: Path) -> None:
    then = run("evaluate", "--as-of", OLD, str(bundle_file))
    assert then.returncode == 0, then.stderr
    assert json.loads(then.stdout)["provenance"]["pain.intensity_nrs"] == "Observation/o1"
    assert "stale" not in then.stderr
    today = run("evaluate", str(bundle_file))
    assert today.returncode == 0, today.stderr
    assert "pain.intensity_nrs" not in json.loads(today.stdout)["provenance"]
    assert "Observation/o1: 2019-05-01 is older than 90 days, not used for pain.intensity_nrs" in today.stderr


def test_evaluate_reads_a_questionnaire_response_as_of_its_date(tmp_path: Path) -> None:
    path = tmp_path / "qr.json"
    response = response_from(questionnaire(), {"pain.intensity_nrs": 6}, datetime.date(2019, 5, 1))
    path.write_text(json.dumps(response), encoding="utf-8")
    result = run("evaluate", "--as-of", OLD, str(path))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["provenance"] == {"pain.intensity_nrs": "QuestionnaireResponse/qr1"}


def test_a_bad_as_of_date_and_as_of_with_painpath_facts_are_refused(tmp_path: Path, bundle_file: Path) -> None:
    bad = run("evaluate", "--as-of", "10/05/2019", str(bundle_file))
    assert bad.returncode != 0 and "'10/05/2019' is not a date (YYYY-MM-DD)" in bad.stderr
    facts = tmp_path / "facts.json"
    facts.write_text('{"demographics": {"age": 50}}', encoding="utf-8")
    refused = run("evaluate", "--as-of", OLD, str(facts))
    assert refused.returncode != 0 and "--as-of" in refused.stderr and "assessment_date" in refused.stderr


def test_audit_as_of_uses_the_scores_current_then(tmp_path: Path) -> None:
    cohort = tmp_path / "cohort.ndjson"
    cohort.write_text(json.dumps(old_bundle()) + "\n", encoding="utf-8")
    summaries = {}
    for name, extra in (("then", ["--as-of", OLD]), ("today", [])):
        out = tmp_path / name
        result = run("audit", str(cohort), "--out", str(out), "--format", "fhir-ndjson", "--jobs", "1", *extra)
        assert result.returncode == 0, result.stderr
        summaries[name] = json.loads((out / "summary.json").read_text(encoding="utf-8"))
        summaries[name]["missing"] = (out / "missing_facts.csv").read_text(encoding="utf-8")
    assert summaries["then"]["input_issues"] == {"patients": 0, "by_code": {}}
    assert "pain.intensity_nrs" not in summaries["then"]["missing"]
    assert summaries["today"]["input_issues"] == {"patients": 1, "by_code": {"stale": 1}}
    assert "pain.intensity_nrs" in summaries["today"]["missing"]


def test_audit_as_of_is_only_for_fhir_cohorts(tmp_path: Path) -> None:
    cohort = tmp_path / "cohort.jsonl"
    cohort.write_text('{"demographics": {"age": 50}}\n', encoding="utf-8")
    result = run("audit", str(cohort), "--out", str(tmp_path / "out"), "--as-of", OLD)
    assert result.returncode != 0 and "--as-of applies to --format fhir-ndjson" in result.stderr
