"""The OpenAPI document: complete, with examples that are true of the running code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from painpath.api.app import create_app
from painpath.api.examples import FACTS_EXAMPLES
from painpath.api.models import DecisionOut
from painpath.api.settings import Settings
from painpath.engine.render import decision_to_dict
from painpath.errors import FactsValidationError
from painpath.facts import parse_facts, parse_facts_json
from tests.api.conftest import patient_bodies
from tests.api.test_api_fuzz import OPERATIONS

PROBLEM = "application/problem+json"
OUTCOME = "application/json"  # CDS Hooks routes answer errors as FHIR OperationOutcomes


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    data: Path = tmp_path_factory.mktemp("openapi")
    application = create_app(Settings(data_dir=data, dev_mode=True, workers=0))
    yield application
    application.state.services.store.close()


@pytest.fixture(scope="module")
def doc(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            yield path, method, operation


def test_the_document_is_openapi_31_with_every_endpoint(doc: dict[str, Any]) -> None:
    assert doc["openapi"].startswith("3.1")
    assert {(m.upper(), p) for p, m, _ in operations(doc)} == set(OPERATIONS)
    assert all(op.get("operationId") and op.get("summary") for _, _, op in operations(doc))


def test_secured_operations_document_401_and_403_as_problems(doc: dict[str, Any]) -> None:
    secured = [(p, op) for p, _, op in operations(doc) if op.get("security")]
    assert len(secured) == 17  # with GET /fhir/Questionnaire/painpath-msk (issue 14)
    for path, op in secured:
        for status in ("401", "403"):
            media = OUTCOME if path.startswith("/cds-services") else PROBLEM
            assert media in op["responses"][status]["content"], (path, status)
        assert "WWW-Authenticate" in op["responses"]["401"]["headers"]
    public = {p for p, _, op in operations(doc) if not op.get("security")}
    assert public == {"/healthz", "/readyz", "/version", "/cds-services"}


def test_every_error_response_is_a_problem_document(doc: dict[str, Any]) -> None:
    for path, method, op in operations(doc):
        for status, response in op["responses"].items():
            if status.startswith(("4", "5")) and path != "/readyz":
                if path.startswith("/cds-services"):
                    assert response["content"] == {
                        OUTCOME: {"schema": {"$ref": "#/components/schemas/OperationOutcome"}}
                    }
                else:
                    assert list(response["content"]) == [PROBLEM], (method, path, status)


def test_issue13_cds_routes_are_in_the_document_with_their_models(doc: dict[str, Any]) -> None:
    call = doc["paths"]["/cds-services/{service_id}"]["post"]
    assert call["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/HookRequest"}
    assert set(call["responses"]) >= {"200", "400", "401", "403", "404", "412", "413", "415", "503"}
    feedback = doc["paths"]["/cds-services/{service_id}/feedback"]["post"]
    assert feedback["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Feedback"}
    assert {"HookRequest", "Feedback", "HookResponse", "OperationOutcome"} <= set(doc["components"]["schemas"])


def test_the_evaluation_request_is_patient_facts_with_valid_examples(doc: dict[str, Any]) -> None:
    body = doc["paths"]["/v1/evaluations"]["post"]["requestBody"]
    assert body["required"]
    content = body["content"]["application/json"]
    assert content["schema"] == {"$ref": "#/components/schemas/PatientFacts"}
    assert "PatientFacts" in doc["components"]["schemas"]
    for example in content["examples"].values():
        assert parse_facts(example["value"]) is not None  # raises if an example is not valid facts
    created = doc["paths"]["/v1/evaluations"]["post"]["responses"]["201"]
    assert "Location" in created["headers"]
    assert created["links"]["readEvaluation"]["operationId"] == "readEvaluation"
    assert set(doc["paths"]["/v1/evaluations/{decision_id}"]["get"]["responses"]) >= {"200", "401", "403", "404"}


def test_the_example_decision_is_what_the_engine_issues(app: FastAPI, doc: dict[str, Any]) -> None:
    example = doc["components"]["examples"]["CaudaEquinaDecision"]["value"]
    engine = app.state.services.engine
    fresh = decision_to_dict(engine.evaluate(parse_facts(FACTS_EXAMPLES["cauda_equina"]["value"])))
    assert {k: v for k, v in example.items() if k not in ("decision_id", "created_at")} == {
        k: v for k, v in fresh.items() if k not in ("decision_id", "created_at")
    }


def test_the_decision_model_describes_real_decisions(app: FastAPI) -> None:
    engine = app.state.services.engine
    for body in patient_bodies():
        try:
            facts = parse_facts_json(body)
        except FactsValidationError:
            continue
        DecisionOut.model_validate(decision_to_dict(engine.evaluate(facts)), strict=False)
