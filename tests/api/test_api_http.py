"""The HTTP contract, end to end through the real server: status codes, bodies, headers, roles."""

from __future__ import annotations

import datetime
import json
import socket
import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from painpath import __version__
from painpath.api.auth import Role
from painpath.api.examples import CAUDA_EQUINA_FACTS
from painpath.cli.main import rules_listing
from painpath.engine import Engine
from painpath.engine.render import decision_to_dict
from painpath.facts import parse_facts
from painpath.paths import default_rules_dir
from painpath.store import open_store
from tests.api.conftest import Service, make_keys

PROBLEM = "application/problem+json"
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine.from_directory(default_rules_dir())


def without_identity(decision: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in decision.items() if k not in ("decision_id", "created_at")}


def post(
    service: Service,
    body: bytes | dict[str, Any],
    role: Role = Role.clinician,
    headers: dict[str, str] | None = None,
    query: str = "",
) -> httpx.Response:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    with service.client(role) as client:
        return client.post("/v1/evaluations" + query, content=content, headers=headers or JSON)


def assert_problem(response: httpx.Response, status: int, type_suffix: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    assert problem["title"]
    assert problem["request_id"] == response.headers["x-request-id"]
    if type_suffix:
        assert problem["type"] == f"urn:painpath:problem:{type_suffix}"
    return problem


def test_probes_and_version_need_no_key(service: Service, engine: Engine) -> None:
    with service.client() as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {
            "status": "ready",
            "checks": {"rules": "ok", "database": "ok", "durable_sessions": "ok", "evaluation": "ok"},
        }
        version = client.get("/version").json()
    assert version == {
        "painpath": __version__,
        "api": "v1",
        "ruleset": {
            "name": engine.ruleset.name,
            "version": engine.ruleset.version,
            "content_hash": engine.ruleset.content_hash,
        },
    }


def test_an_evaluation_is_issued_recorded_and_served_again_byte_for_byte(service: Service, engine: Engine) -> None:
    raw = json.dumps(CAUDA_EQUINA_FACTS, indent=1).encode()
    created = post(service, raw)
    assert created.status_code == 201, created.text
    assert created.headers["content-type"] == "application/json"
    decision = created.json()
    assert created.headers["location"] == f"/v1/evaluations/{decision['decision_id']}"

    # The same JSON contract as the CLI: decision_to_dict of the same facts, identity aside; the API's
    # default trace is the summary (rules that did not fire carry no clause trace).
    expected = decision_to_dict(engine.evaluate(parse_facts(CAUDA_EQUINA_FACTS)), trace="summary")
    assert without_identity(decision) == without_identity(expected)
    full = post(service, raw, query="?trace=full").json()
    assert full["trace"] == "full"
    assert without_identity(full) == without_identity(
        decision_to_dict(engine.evaluate(parse_facts(CAUDA_EQUINA_FACTS)))
    )
    assert all("because" in r for r in full["rules"])
    assert all(r["status"] == "fired" for r in decision["rules"])  # the others: ?trace=full
    fired = [r for r in decision["rules"] if r["status"] == "fired"]
    assert fired and all(set(r) == {"id", "version", "stratum", "status", "because"} for r in fired)
    misspelt = post(service, raw, query="?tarce=full")
    assert misspelt.status_code == 422
    assert misspelt.json()["errors"][0]["field"] == "query.tarce"

    with service.client(Role.triage) as client:
        again = client.get(created.headers["location"])
    assert again.status_code == 200
    assert again.headers["content-type"] == "application/json"
    assert again.content == created.content

    store = open_store(service.database_url)
    try:
        rec = store.decisions.get(decision["decision_id"])
    finally:
        store.close()
    assert rec is not None
    assert rec.caller_key_id == service.key_ids[Role.clinician]
    assert rec.input_facts == raw.decode()
    assert rec.output_json.encode() == created.content
    assert (rec.ruleset_version, rec.ruleset_hash) == (engine.ruleset.version, engine.ruleset.content_hash)
    assert json.loads(rec.parameters) == decision["parameters"]
    assert rec.status == decision["status"]


def test_a_misspelt_field_gets_422_naming_it_with_a_suggestion(service: Service) -> None:
    problem = assert_problem(post(service, {"red_flags": {"saddle_anesthesia": True}}), 422, "invalid-facts")
    assert problem["instance"] == "/v1/evaluations"
    assert problem["errors"] == [
        {
            "field": "red_flags.saddle_anesthesia",
            "pointer": "/red_flags/saddle_anesthesia",
            "reason": "unknown field",
            "suggestion": "red_flags.saddle_anaesthesia",
        }
    ]


def test_every_problem_in_the_facts_is_reported_at_once(service: Service) -> None:
    body = {"demographics": {"age": 300, "sex": "unknown"}, "red_flags": {"fever": "yes"}, "pian": {}}
    problem = assert_problem(post(service, body), 422, "invalid-facts")
    fields = {e["field"] for e in problem["errors"]}
    assert {"demographics.age", "demographics.sex", "red_flags.fever", "pian"} <= fields
    assert next(e for e in problem["errors"] if e["field"] == "pian")["suggestion"] == "pain"
    assert all(e["reason"] for e in problem["errors"])


@pytest.mark.parametrize("body", [b"{not json", b"[]", b"", b'"facts"', b'{"care": {"episode_weeks": NaN}}'])
def test_bodies_that_are_not_a_facts_object_get_422(service: Service, body: bytes) -> None:
    problem = assert_problem(post(service, body), 422, "invalid-facts")
    assert problem["errors"]


@pytest.mark.parametrize(
    "content_type", [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1"]
)
def test_a_body_that_is_not_json_gets_415(service: Service, content_type: str | None) -> None:
    headers = {"content-type": content_type} if content_type else {}
    with service.client(Role.clinician) as client:
        response = client.post("/v1/evaluations", content=b'{"demographics": {"age": 40}}', headers=headers)
    assert_problem(response, 415, "unsupported-media-type")
    assert response.headers["accept-post"] == "application/json, application/fhir+json"


def test_json_with_a_charset_parameter_is_accepted(service: Service) -> None:
    response = post(
        service, b'{"demographics": {"age": 40}}', headers={"content-type": "Application/JSON; charset=UTF-8"}
    )
    assert response.status_code == 201, response.text


def _raw_request(service: Service, head: bytes, chunks: Sequence[bytes] = ()) -> bytes:
    """Send a request by hand and return the raw response (the server may stop reading early)."""
    parts = urlsplit(service.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(head)
        try:
            for chunk in chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server refused the rest: that is the point
        received = b""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                data = sock.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            received += data
            if b"\r\n\r\n" in received:
                header, _, body = received.partition(b"\r\n\r\n")
                length = next(
                    (
                        int(line.split(b":")[1])
                        for line in header.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    None,
                )
                if length is not None and len(body) >= length:
                    break
        return received


def _head(service: Service, extra: str) -> bytes:
    host = urlsplit(service.url).netloc
    return (
        f"POST /v1/evaluations HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {service.tokens[Role.clinician]}"
        f"\r\nContent-Type: application/json\r\n{extra}\r\n"
    ).encode()


def test_a_declared_oversized_body_gets_413_before_any_of_it_is_sent(service: Service) -> None:
    started = time.monotonic()
    response = _raw_request(service, _head(service, "Content-Length: 5000000\r\n"))
    assert response.startswith(b"HTTP/1.1 413 "), response[:200]
    assert b"application/problem+json" in response
    assert b"body-too-large" in response
    assert time.monotonic() - started < 5, "answered without waiting for the body"


def test_a_streamed_oversized_body_gets_413_once_it_passes_the_limit(service: Service) -> None:
    chunk = b" " * 65536
    chunks = [f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n" for _ in range(64)]  # 4 MiB, no Content-Length
    response = _raw_request(service, _head(service, "Transfer-Encoding: chunked\r\n"), chunks)
    assert response.startswith(b"HTTP/1.1 413 "), response[:200]
    assert b"body-too-large" in response


def test_a_body_just_under_the_limit_is_accepted(service: Service) -> None:
    body = b'{"demographics": {"age": 40}' + b" " * (1_048_576 - 40) + b"}"
    assert len(body) <= 1_048_576
    assert post(service, body).status_code == 201


def test_no_or_bad_credentials_get_401_with_a_challenge(service: Service) -> None:
    body = b'{"demographics": {"age": 40}}'
    with httpx.Client(base_url=service.url) as client:
        missing = client.post("/v1/evaluations", content=body, headers=JSON)
        wrong_scheme = client.post(
            "/v1/evaluations", content=body, headers={**JSON, "authorization": "Basic Zm9vOmJhcg=="}
        )
        garbage = client.post("/v1/evaluations", content=body, headers={**JSON, "authorization": "Bearer nonsense"})
        forged = service.tokens[Role.admin][:-4] + "AAAA"
        wrong = client.get("/v1/rules", headers={"authorization": f"Bearer {forged}"})
    for response in (missing, wrong_scheme):
        assert_problem(response, 401, "unauthenticated")
        assert response.headers["www-authenticate"] == 'Bearer realm="painpath"'
    for response in (garbage, wrong):
        assert_problem(response, 401, "invalid-credentials")
        assert response.headers["www-authenticate"] == 'Bearer realm="painpath", error="invalid_token"'


def test_roles_grant_exactly_their_permissions(service: Service) -> None:
    created = post(service, CAUDA_EQUINA_FACTS, role=Role.triage)
    assert created.status_code == 201
    location = created.headers["location"]
    expected = {  # role -> (may evaluate, may read a stored decision)
        Role.clinician: (True, False),
        Role.triage: (True, True),
        Role.auditor: (False, True),
        Role.admin: (True, True),
    }
    for role, (may_evaluate, may_read) in expected.items():
        with service.client(role) as client:
            evaluated = client.post("/v1/evaluations", content=b"{}", headers=JSON)
            read = client.get(location)
            rules = client.get("/v1/rules")
        assert evaluated.status_code == (201 if may_evaluate else 403), (role, evaluated.text)
        assert read.status_code == (200 if may_read else 403), (role, read.text)
        assert rules.status_code == 200
        for response in (evaluated, read):
            if response.status_code == 403:
                problem = assert_problem(response, 403, "forbidden")
                assert role.value in problem["detail"]
                assert "www-authenticate" not in response.headers


def test_a_revoked_key_is_refused(service: Service) -> None:
    tokens, key_ids = make_keys(service.database_url)
    store = open_store(service.database_url)
    try:
        assert store.keys.revoke(key_ids[Role.admin], datetime.datetime.now(datetime.UTC))
    finally:
        store.close()
    with httpx.Client(base_url=service.url, headers={"authorization": f"Bearer {tokens[Role.admin]}"}) as client:
        assert_problem(client.get("/v1/rules"), 401, "invalid-credentials")
        assert client.get("/healthz").status_code == 200


def test_reading_decisions_that_do_not_exist(service: Service) -> None:
    with service.client(Role.triage) as client:
        missing = client.get("/v1/evaluations/7b0c9a52-3f0e-4c55-9a37-2f1f0e0f5d1e")
        malformed = client.get("/v1/evaluations/not-a-uuid")
    assert_problem(missing, 404, "decision-not-found")
    problem = assert_problem(malformed, 422, "invalid-request")
    assert problem["errors"][0]["field"] == "path.decision_id"


def test_the_rules_index_is_the_cli_listing(service: Service, engine: Engine) -> None:
    with service.client(Role.clinician) as client:
        index = client.get("/v1/rules").json()
    assert index["ruleset"]["content_hash"] == engine.ruleset.content_hash
    assert index["rules"] == rules_listing(engine.ruleset)


def test_a_rule_shows_condition_citations_version_and_vectors(service: Service, engine: Engine) -> None:
    rule = engine.ruleset.rule("RF_CES_EMERGENCY")
    with service.client(Role.clinician) as client:
        detail = client.get(f"/v1/rules/{rule.id}").json()
        near = client.get("/v1/rules/RF_CES_EMERGENC")
    assert (detail["id"], detail["version"], detail["title"]) == (rule.id, rule.version, rule.title)
    assert detail["cites"] == list(rule.cites)
    assert [c["ref"] for c in detail["citations"]] == list(rule.cites)
    assert all(c["title"] for c in detail["citations"]), "every citation resolves to a guideline"
    assert len(detail["vectors"]) == len(rule.vectors)
    assert {v["expect"] for v in detail["vectors"]} >= {"fired", "not_fired", "undetermined"}
    assert detail["concludes"]["kind"] == "red_flag"
    facts = json.dumps(detail["condition"])
    assert "red_flags.saddle_anaesthesia" in facts
    assert '"parameter": "ces_recent_onset_days"' in facts, "a parameter is named with its value in force"
    assert detail["ruleset"]["content_hash"] == engine.ruleset.content_hash
    problem = assert_problem(near, 404, "rule-not-found")
    assert "RF_CES_EMERGENCY" in problem["detail"]


def test_guidelines_list_and_detail(service: Service, engine: Engine) -> None:
    with service.client(Role.auditor) as client:
        index = client.get("/v1/guidelines").json()
        detail = client.get("/v1/guidelines/girft-ces-2023").json()
        missing = client.get("/v1/guidelines/girft-ces-2032")
    assert [g["id"] for g in index["guidelines"]] == sorted(engine.ruleset.guidelines)
    assert detail["id"] == "girft-ces-2023"
    assert detail["sections"] == dict(engine.ruleset.guidelines["girft-ces-2023"].sections)
    assert "RF_CES_EMERGENCY" in detail["cited_by"]
    assert "girft-ces-2023" in assert_problem(missing, 404, "guideline-not-found")["detail"]


def test_unknown_routes_and_methods_are_problems_too(service: Service) -> None:
    with service.client(Role.admin) as client:
        unknown = client.get("/v2/evaluations")
        method = client.delete("/v1/rules")
    assert assert_problem(unknown, 404)["type"] == "about:blank"
    assert assert_problem(method, 405)["type"] == "about:blank"
    assert method.headers["allow"] == "GET"
