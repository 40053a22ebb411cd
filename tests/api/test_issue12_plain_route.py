"""Issue 12: ``POST /v1/evaluations`` without a query string skips FastAPI's dependency solving.

``PlainEvaluationRoute`` calls the declared route's dependencies itself. Every answer must be the
one the declared route gives: the same request sent with ``?trace=summary`` (the default, so the
same options) goes to the declared route, and both answers are compared, for valid and invalid
bodies, FHIR Bundles and GuidanceResponses, and each authentication failure. Real server.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from painpath.api.auth import Role
from tests.api.conftest import Service, patient_bodies
from tests.api.test_cds_mutation_fuzz import seeds

VARYING = re.compile(
    rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"  # decision ids
    rb"|[0-9a-f]{32}"  # request ids
    rb"|\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?"  # times
)


def normalised(body: bytes) -> bytes:
    """The answer without what differs between any two decisions (ids, times)."""
    return VARYING.sub(b"<varies>", body)


def fhir_bundle() -> bytes:
    return json.dumps(next(doc for path, media, doc in seeds() if media == "application/fhir+json")).encode()


def cases(service: Service) -> list[tuple[str, dict[str, str], bytes]]:
    token = {"authorization": f"Bearer {service.tokens[Role.clinician]}"}
    json_type = {"content-type": "application/json"}
    body = patient_bodies()[0]
    return [
        ("valid facts", {**token, **json_type}, body),
        ("another patient", {**token, **json_type}, patient_bodies()[3]),
        ("as a GuidanceResponse", {**token, **json_type, "accept": "application/fhir+json"}, body),
        ("a FHIR Bundle", {**token, "content-type": "application/fhir+json"}, fhir_bundle()),
        ("a misspelt field", {**token, **json_type}, b'{"red_flags": {"saddle_anaesthesa": true}}'),
        ("repeated keys", {**token, **json_type}, b'{"age_years": 40, "age_years": 41}'),
        ("not JSON", {**token, **json_type}, b"{nope"),
        ("not UTF-8", {**token, **json_type}, b'{"age_years": "\xff"}'),
        ("an empty body", {**token, **json_type}, b""),
        ("no content type", token, body),
        ("another content type", {**token, "content-type": "text/plain"}, body),
        ("no token", json_type, body),
        ("an unknown token", {"authorization": "Bearer ppk_k0000000000000000.nope", **json_type}, body),
        ("a malformed authorization", {"authorization": "Basic abc", **json_type}, body),
        ("a role without evaluate", {"authorization": f"Bearer {service.tokens[Role.auditor]}", **json_type}, body),
    ]


def answer(client: httpx.Client, query: str, headers: dict[str, str], body: bytes) -> tuple[Any, ...]:
    response = client.post(f"/v1/evaluations{query}", content=body, headers=headers)
    kept = {k: v for k, v in response.headers.items() if k in ("content-type", "www-authenticate", "retry-after")}
    if response.status_code == 201:
        assert response.headers["location"].startswith("/v1/evaluations/")
    return response.status_code, kept, normalised(response.content)


@pytest.mark.parametrize("index", range(15))
def test_the_plain_route_answers_exactly_as_the_declared_route(service: Service, index: int) -> None:
    name, headers, body = cases(service)[index]
    with httpx.Client(base_url=service.url, timeout=30) as client:
        plain = answer(client, "", headers, body)
        declared = answer(client, "?trace=summary", headers, body)
    assert plain == declared, name


def test_the_plain_route_logs_its_route_and_the_openapi_document_keeps_the_declared_one(service: Service) -> None:
    with service.client(Role.clinician) as client:
        assert (
            client.post(
                "/v1/evaluations", content=patient_bodies()[0], headers={"content-type": "application/json"}
            ).status_code
            == 201
        )
        paths = client.get("/openapi.json").json()["paths"]
    declared = paths["/v1/evaluations"]["post"]
    assert declared["operationId"] == "createEvaluation"
    assert {p["name"] for p in declared["parameters"]} >= {"trace", "as_of"}
    logged = [json.loads(line) for line in service.server.logs().splitlines() if '"http_request"' in line]
    posted = [entry for entry in logged if entry["method"] == "POST"]
    assert posted[-1]["route"] == "/v1/evaluations"
    assert posted[-1]["status"] == 201
    assert posted[-1]["decision_id"]
