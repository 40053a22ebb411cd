"""Missing prefetch is fetched from the client's FHIR server with its access token (real HTTP both ways).

The FHIR server is a small stand-in (an external system, not a painpath component) that serves the
fixture's resources for the painpath prefetch queries and records what it was asked.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from painpath.cds.models import HookResponse
from tests.api.test_cds_hooks import call, gp_service, hook_request  # noqa: F401 - gp_service is a fixture

TOKEN = "opaque-fhir-access-token"  # noqa: S105 - a test token for the stand-in server


class FhirStandIn(ThreadingHTTPServer):
    def __init__(self, searchsets: dict[str, dict[str, Any]]) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.searchsets = searchsets
        self.seen: list[tuple[str, str | None]] = []
        self.fail: set[str] = set()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/fhir"


class Handler(BaseHTTPRequestHandler):
    server: FhirStandIn

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        resource = parts.path.removeprefix("/fhir/")
        self.server.seen.append((resource, self.headers.get("authorization")))
        if self.headers.get("authorization") != f"Bearer {TOKEN}" or resource in self.server.fail:
            self.send_response(401 if resource not in self.server.fail else 500)
            self.end_headers()
            return
        query = parse_qs(parts.query)
        body = self.server.searchsets.get(resource, {"resourceType": "Bundle", "type": "searchset", "entry": []})
        assert query.get("patient") == ["pp-1001"]
        payload = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/fhir+json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def fhir_server() -> Iterator[FhirStandIn]:
    prefetch = hook_request("order_sign_cauda_equina")["prefetch"]
    server = FhirStandIn(
        {"Observation": prefetch["observations"], "QuestionnaireResponse": prefetch["questionnaireResponses"]}
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def request_without(keys: tuple[str, ...], server: FhirStandIn) -> dict[str, Any]:
    body = hook_request("order_sign_cauda_equina")
    for key in keys:
        del body["prefetch"][key]
    body["fhirServer"] = server.url
    body["fhirAuthorization"] = {
        "access_token": TOKEN,
        "token_type": "Bearer",
        "expires_in": 300,
        "scope": "patient/Observation.read patient/QuestionnaireResponse.read",
        "subject": "painpath",
        "patient": "pp-1001",
    }
    return body


def test_missing_prefetch_is_fetched_with_the_access_token(gp_service: Any, fhir_server: FhirStandIn) -> None:  # noqa: F811
    body = request_without(("observations", "questionnaireResponses", "procedures"), fhir_server)
    response = call(gp_service, "painpath-referral-sign", body)
    assert response.status_code == 200, response.text
    cards = HookResponse.model_validate(response.json()).cards
    assert cards[0].indicator == "critical"  # the red-flag answers came from the FHIR server
    assert sorted(r for r, _ in fhir_server.seen) == ["Observation", "Procedure", "QuestionnaireResponse"]
    assert {auth for _, auth in fhir_server.seen} == {f"Bearer {TOKEN}"}


def test_later_pages_of_a_prefetched_searchset_are_fetched(gp_service: Any, fhir_server: FhirStandIn) -> None:  # noqa: F811
    body = request_without((), fhir_server)
    answers = body["prefetch"]["questionnaireResponses"]
    body["prefetch"]["questionnaireResponses"] = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [],
        "link": [{"relation": "next", "url": f"{fhir_server.url}/QuestionnaireResponse?patient=pp-1001&page=2"}],
    }
    fhir_server.searchsets["QuestionnaireResponse"] = answers
    cards = HookResponse.model_validate(call(gp_service, "painpath-referral-sign", body).json()).cards
    assert cards[0].indicator == "critical"  # the answers were on page 2
    assert [r for r, _ in fhir_server.seen] == ["QuestionnaireResponse"]
    body["prefetch"]["questionnaireResponses"]["link"][0]["url"] = (
        "https://elsewhere.example.org/fhir/x?patient=pp-1001"
    )
    assert call(gp_service, "painpath-referral-sign", body).status_code == 412  # the token is not sent elsewhere


def test_required_data_the_server_cannot_give_is_412(gp_service: Any, fhir_server: FhirStandIn) -> None:  # noqa: F811
    fhir_server.fail.add("QuestionnaireResponse")
    response = call(gp_service, "painpath-referral-sign", request_without(("questionnaireResponses",), fhir_server))
    assert response.status_code == 412
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["expression"] == ["prefetch.questionnaireResponses"]
