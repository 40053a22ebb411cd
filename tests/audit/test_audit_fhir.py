"""`painpath audit --format fhir-ndjson`: one FHIR Bundle per line, mapping issues counted, bad lines rejected."""

from __future__ import annotations

import json
from pathlib import Path

import orjson

from tests.api.test_fhir_evaluations import patient_bundle
from tests.audit.test_audit_cli import run


def test_a_fhir_ndjson_cohort_is_audited_with_its_mapping_issues_counted(tmp_path: Path) -> None:
    bundles = [patient_bundle("order_sign_cauda_equina"), patient_bundle("order_sign_lumbar_mri")]
    lines = [orjson.dumps(b) for b in bundles] + [b'{"resourceType": "Patient", "id": "p1"}', b"{not json"]
    cohort = tmp_path / "cohort.ndjson"
    cohort.write_bytes(b"\n".join(lines) + b"\n")
    out = tmp_path / "out"

    result = run("audit", str(cohort), "--out", str(out), "--format", "fhir-ndjson", "--jobs", "1")

    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["records"] == {
        "input": 4,
        "evaluated": 2,
        "rejected": 2,
        "reconciled": True,
        "statement": "4 records read: 2 evaluated + 2 rejected = 4",
    }
    # each Bundle carries an HbA1c observation painpath has no code for: reported, not dropped
    assert summary["input_issues"]["patients"] == 2
    assert summary["input_issues"]["by_code"]["unknown-code"] >= 2
    rejected = (out / "rejected.csv").read_text(encoding="utf-8")
    assert "3," in rejected and "Bundle" in rejected
    assert "4," in rejected and "invalid JSON" in rejected
    assert summary["red_flags"]["highest_urgency"].get("emergency") == 1  # the cauda equina Bundle
    assert "FHIR mapping issues" in (out / "report.html").read_text(encoding="utf-8")
