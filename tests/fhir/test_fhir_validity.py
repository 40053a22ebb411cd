"""Every FHIR document painpath produces is valid R4: HL7's official R4 JSON schema and FHIR.js.

Documents: GuidanceResponses from ``POST /v1/evaluations`` (Bundle and facts in), with their
contained OperationOutcome and RequestGroup, the audit's MeasureReports and subject List, the SDC
Questionnaire ``GET /fhir/Questionnaire/painpath-msk`` and QuestionnaireResponses to it.
The validators are the pinned npm packages of ``tests/support/node`` (``make node-deps``).
"""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from painpath.api.auth import Role
from painpath.facts import parse_facts
from painpath.facts.catalogue import flatten
from tests.api.conftest import Service, service  # noqa: F401  (the module-scoped real server)
from tests.api.test_fhir_evaluations import FHIR, patient_bundle
from tests.audit.test_audit_cli import run
from tests.support.fhir_validate import Verdict, require_validators, validate
from tests.support.questionnaire import example_patients, response_from


@pytest.fixture(scope="module")
def guidance_documents(service: Service) -> dict[str, dict[str, Any]]:  # noqa: F811
    require_validators()
    out: dict[str, dict[str, Any]] = {}
    with service.client(Role.clinician) as client:
        for name, answers in (("order_sign_cauda_equina", True), ("order_sign_lumbar_mri", False)):
            body = orjson.dumps(patient_bundle(name, with_answers=answers))
            response = client.post("/v1/evaluations", content=body, headers={"content-type": FHIR, "accept": FHIR})
            assert response.status_code == 201, response.text
            out[f"GuidanceResponse ({name})"] = response.json()
    for key, doc in list(out.items()):
        for contained in doc.get("contained", []):
            out[f"{contained['resourceType']} contained in {key}"] = contained
    return out


@pytest.fixture(scope="module")
def audit_documents(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    require_validators()
    tmp = tmp_path_factory.mktemp("audit")
    cohort = tmp / "cohort.ndjson"
    bundles = [patient_bundle("order_sign_cauda_equina"), patient_bundle("order_sign_lumbar_mri")]
    cohort.write_bytes(b"\n".join(orjson.dumps(b) for b in bundles) + b"\n")
    # stratified (issue 16): every MeasureReport group then carries stratifiers with their strata
    args = ("--format", "fhir-ndjson", "--jobs", "1", "--stratify", "site,age_band,sex")
    result = run("audit", str(cohort), "--out", str(tmp / "out"), *args)
    assert result.returncode == 0, result.stderr
    out: dict[str, dict[str, Any]] = {}
    summary = json.loads((tmp / "out" / "measure-report-summary.json").read_text(encoding="utf-8"))
    out["Bundle of summary MeasureReports"] = summary
    lines = (tmp / "out" / "measure-report-subject-list.ndjson").read_text(encoding="utf-8").splitlines()
    for i, line in enumerate(lines[:4]):
        doc = json.loads(line)
        out[f"{doc['resourceType']} (subject-list line {i + 1})"] = doc
    return out


def _failures(verdicts: dict[str, Verdict]) -> str:
    lines = []
    for v in verdicts.values():
        lines += [f"{v.name} [schema] {e}" for e in v.schema_errors[:10]]
        lines += [f"{v.name} [FHIR.js] {e}" for e in v.fhirjs_errors[:10]]
    return "\n".join(lines)


def test_the_validators_catch_an_invalid_document() -> None:
    verdicts = validate({"bad": {"resourceType": "Patient", "gender": "fmale", "nickname": "x"}})
    assert verdicts["bad"].schema_errors and verdicts["bad"].fhirjs_errors


def test_operation_outcomes_are_valid(guidance_documents: dict[str, dict[str, Any]]) -> None:
    outcomes = {k: v for k, v in guidance_documents.items() if v["resourceType"] == "OperationOutcome"}
    assert outcomes
    verdicts = validate(outcomes)
    assert all(v.valid for v in verdicts.values()), _failures(verdicts)


def test_guidance_responses_are_valid(guidance_documents: dict[str, dict[str, Any]]) -> None:
    docs = {k: v for k, v in guidance_documents.items() if v["resourceType"] != "OperationOutcome"}
    verdicts = validate(docs)
    assert all(v.valid for v in verdicts.values()), _failures(verdicts)


def test_measure_reports_are_valid(audit_documents: dict[str, dict[str, Any]]) -> None:
    verdicts = validate(audit_documents)
    assert all(v.valid for v in verdicts.values()), _failures(verdicts)


def test_the_documents_are_not_empty(tmp_path: Path, audit_documents: dict[str, dict[str, Any]]) -> None:
    assert any(d["resourceType"] == "MeasureReport" for d in audit_documents.values())
    summary = audit_documents["Bundle of summary MeasureReports"]
    group = summary["entry"][0]["resource"]["group"][0]
    assert [s["code"][0]["coding"][0]["code"] for s in group["stratifier"]] == ["site", "age_band", "sex"]
    assert all(st["population"] for s in group["stratifier"] for st in s["stratum"])


@pytest.fixture(scope="module")
def questionnaire_documents(service: Service) -> dict[str, dict[str, Any]]:  # noqa: F811
    """The served Questionnaire, and QuestionnaireResponses to it for every example and scenario patient."""
    require_validators()
    with service.client(Role.clinician) as client:
        response = client.get("/fhir/Questionnaire/painpath-msk")
        assert response.status_code == 200, response.text
    doc = response.json()
    out: dict[str, dict[str, Any]] = {"Questionnaire painpath-msk": doc}
    for name, raw in example_patients().items():
        flat = flatten(parse_facts(raw))
        out[f"QuestionnaireResponse ({name})"] = response_from(doc, flat, datetime.date(2026, 11, 21))
    return out


def test_the_questionnaire_and_its_responses_are_valid(questionnaire_documents: dict[str, dict[str, Any]]) -> None:
    assert len(questionnaire_documents) > 50
    verdicts = validate(questionnaire_documents)
    assert all(v.valid for v in verdicts.values()), _failures(verdicts)
