"""Issue 13 (security and robustness review), through the real server: one regression test per finding.

Findings 1 and 2 (JWT audience, replay after restart) are in ``test_cds_jwt.py``; the fuzzing of the
CDS routes in ``test_api_fuzz.py`` and ``test_cds_mutation_fuzz.py``; the audit queue in
``test_api_audits.py``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from painpath.api.auth import Role, create_key
from painpath.store import open_store
from painpath.store.testing import sqlite_url
from tests.api.conftest import Service, launch
from tests.api.test_cds_hooks import hook_request

FHIR = {"content-type": "application/fhir+json"}
JSON = {"content-type": "application/json"}
SIGN = "/cds-services/painpath-referral-sign"


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    data = tmp_path_factory.mktemp("issue13")
    service = launch(
        data,
        sqlite_url(data),
        PAINPATH_WORKERS="0",
        PAINPATH_MAX_BODY_BYTES="65536",
        PAINPATH_CDS_CARE_SETTING="primary_care",
    )
    yield service
    service.server.stop()


def outcome(response: httpx.Response) -> dict[str, Any]:
    assert response.headers["content-type"].startswith("application/json"), response.headers
    body: dict[str, Any] = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return body["issue"][0]  # type: ignore[no-any-return]


# -- 3. no 5xx on malformed FHIR -------------------------------------------------------------------------


def test_issue13_non_string_resource_type_is_not_a_500(svc: Service) -> None:
    bundle = b'{"resourceType":"Bundle","type":"collection","entry":[{"resource":{"resourceType":[]}}]}'
    with svc.client(Role.clinician) as client:
        response = client.post("/v1/evaluations", content=bundle, headers=FHIR)
    assert response.status_code == 201, response.text
    issues = response.json()["fhir"]["issues"]
    assert any(i["code"] == "invalid-resource" for i in issues)


@pytest.mark.parametrize("entry", ["true", "-1", "1.5", '"x"', "null"])
def test_issue13_prefetch_entries_that_are_not_objects_are_400(svc: Service, entry: str) -> None:
    body = hook_request("order_sign_lumbar_mri")
    body["prefetch"]["observations"] = {"resourceType": "Bundle", "type": "searchset", "entry": ["ENTRY"]}
    raw = httpx.Request("POST", "/", json=body).content.replace(b'"ENTRY"', entry.encode())
    with svc.client(Role.clinician) as client:
        response = client.post(SIGN, content=raw, headers=JSON)
    assert response.status_code == 400, response.text
    assert outcome(response)["expression"] == ["prefetch.observations"]


# -- 5. stalled storage fails fast ----------------------------------------------------------------------


def test_issue13_stalled_storage_fails_fast_and_readyz_says_so(svc: Service) -> None:
    path = svc.database_url.removeprefix("sqlite:///")
    locked = threading.Event()
    release = threading.Event()

    def hold() -> None:
        conn = sqlite3.connect(path, timeout=5)
        try:
            conn.execute("BEGIN IMMEDIATE")  # the write lock, as another process's long transaction would
            locked.set()
            release.wait(30)
            conn.rollback()
        finally:
            conn.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(10)
        with svc.client(Role.clinician) as client:
            started = time.monotonic()
            ready = client.get("/readyz")
            assert ready.status_code == 503 and ready.json()["checks"]["database"] != "ok"
            assert time.monotonic() - started < 6
            started = time.monotonic()
            response = client.post("/v1/evaluations", content=b'{"demographics": {"age": 44}}', headers=JSON)
            assert response.status_code == 503, response.text
            assert response.headers["retry-after"].isdigit()
            assert time.monotonic() - started < 6
    finally:
        release.set()
        holder.join()
    with svc.client(Role.clinician) as client:
        assert client.get("/readyz").status_code == 200
        assert client.post("/v1/evaluations", content=b'{"demographics": {"age": 44}}', headers=JSON).status_code == 201


# -- 6. strict input ------------------------------------------------------------------------------------


def test_issue13_duplicate_json_keys_are_refused_naming_the_key(svc: Service) -> None:
    facts = b'{"demographics": {"age": 44, "age": 80}}'
    with svc.client(Role.clinician) as client:
        response = client.post("/v1/evaluations", content=facts, headers=JSON)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "demographics.age"
        assert "duplicate key 'age'" in response.json()["errors"][0]["reason"]
        bundle = b'{"resourceType":"Bundle","type":"collection","type":"searchset"}'
        assert client.post("/v1/evaluations", content=bundle, headers=FHIR).status_code == 422
        raw = httpx.Request("POST", "/", json=hook_request("order_sign_lumbar_mri")).content
        doubled = raw.replace(b'"hook":', b'"hook":"patient-view","hook":', 1)
        cds = client.post(SIGN, content=doubled, headers=JSON)
    assert cds.status_code == 400
    issue = outcome(cds)
    assert issue["expression"] == ["hook"] and "duplicate key 'hook'" in issue["diagnostics"]


@pytest.mark.parametrize("value", ["0", '"0"', '"1700000000"', "1700000000", '"2026-11-18T00:00:00"'])
def test_issue13_dates_are_only_iso_8601_strings(svc: Service, value: str) -> None:
    with svc.client(Role.clinician) as client:
        response = client.post("/v1/evaluations", content=f'{{"assessment_date": {value}}}', headers=JSON)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == "assessment_date"
        ok = client.post("/v1/evaluations", content=b'{"assessment_date": "2026-11-18"}', headers=JSON)
        assert ok.status_code == 201


@pytest.mark.parametrize(
    "content_type", ["text/plain", None, "application/json; charset=latin-1", "application/fhir+json"]
)
def test_issue13_cds_services_need_application_json(svc: Service, content_type: str | None) -> None:
    raw = httpx.Request("POST", "/", json=hook_request("order_sign_lumbar_mri")).content
    headers = {"content-type": content_type} if content_type else {}
    with svc.client(Role.clinician) as client:
        request = client.build_request("POST", SIGN, content=raw, headers=headers)
        assert request.headers.get("content-type") == content_type
        response = client.send(request)
    assert response.status_code == 415
    assert outcome(response)["code"] == "not-supported"
    assert response.headers["accept-post"] == "application/json"


def test_issue13_cds_401_403_413_are_operation_outcomes(svc: Service) -> None:
    body = hook_request("order_sign_lumbar_mri")
    with svc.client() as anonymous:
        unauthenticated = anonymous.post(SIGN, json=body)
    assert unauthenticated.status_code == 401 and outcome(unauthenticated)["code"] == "login"
    assert "www-authenticate" in unauthenticated.headers
    with svc.client(Role.auditor) as auditor:
        forbidden = auditor.post(SIGN, json=body)
    assert forbidden.status_code == 403 and outcome(forbidden)["code"] == "forbidden"
    with svc.client(Role.clinician) as client:
        large = client.post(SIGN, content=b'{"hook": "' + b"x" * 70_000 + b'"}', headers=JSON)
        assert large.status_code == 413 and outcome(large)["code"] == "too-costly"
        missing = client.post("/cds-services/no-such-service/feedback", json={"feedback": []})
        assert missing.status_code == 404 and outcome(missing)["code"] == "not-found"


def test_issue13_bundle_type_is_checked_as_the_schema_says(svc: Service) -> None:
    with svc.client(Role.clinician) as client:
        schema = client.get("/openapi.json").json()["components"]["schemas"]["FhirBundle"]
        assert "" not in schema["properties"]["type"]["enum"]  # the document says "" is not a Bundle type...
        for kind in ("", "not-a-bundle-type"):
            bundle = f'{{"resourceType": "Bundle", "type": "{kind}"}}'
            assert (
                client.post("/v1/evaluations", content=bundle, headers=FHIR).status_code == 422
            )  # ...and so does the API
        for kind in schema["properties"]["type"]["enum"]:
            bundle = f'{{"resourceType": "Bundle", "type": "{kind}"}}'
            assert client.post("/v1/evaluations", content=bundle, headers=FHIR).status_code == 201, kind


def test_issue13_a_cohort_that_is_not_csv_is_refused_at_once(svc: Service) -> None:
    with svc.client(Role.auditor) as client:
        for body in (b"\x00\x01\x02 not csv at all \xff", b'{"demographics": {"age": 40}}\n', b"no_such_fact\n1\n"):
            response = client.post("/v1/audits", content=body, headers={"content-type": "text/csv"})
            assert response.status_code == 422, (body, response.text)
            assert response.headers["content-type"] == "application/problem+json"
        good = client.post("/v1/audits", content=b"demographics.age\n44\n", headers={"content-type": "text/csv"})
        assert good.status_code == 202, good.text


# -- 7. feedback only from the card's client -------------------------------------------------------------


def test_issue13_feedback_on_another_clients_card_is_refused(svc: Service) -> None:
    with svc.client(Role.clinician) as client:
        cards = client.post(SIGN, json=hook_request("order_sign_lumbar_mri")).json()["cards"]
    warning = next(c for c in cards if c["indicator"] == "warning")
    feedback = {
        "feedback": [
            {
                "card": warning["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": warning["suggestions"][0]["uuid"]}],
                "outcomeTimestamp": "2026-11-21T10:06:00Z",
            }
        ]
    }
    store = open_store(svc.database_url)
    try:
        _, other = create_key(store.keys, "another practice", Role.clinician)
    finally:
        store.close()
    with httpx.Client(base_url=svc.url, headers={"authorization": f"Bearer {other}"}, timeout=30) as stranger:
        refused = stranger.post(f"{SIGN}/feedback", json=feedback)
    assert refused.status_code == 404 and outcome(refused)["code"] == "not-found"
    with svc.client(Role.clinician) as client:
        assert client.post(f"{SIGN}/feedback", json=feedback).status_code == 200
    store = open_store(svc.database_url)
    try:
        assert len(store.cds.feedback_for(warning["uuid"])) == 1
    finally:
        store.close()


def test_issue13_the_fuzzed_document_includes_the_cds_routes(svc: Service) -> None:
    from tests.api.test_api_fuzz import OPERATIONS

    with svc.client() as client:
        paths = client.get("/openapi.json").json()["paths"]
    cds = {("POST", "/cds-services/{service_id}"), ("POST", "/cds-services/{service_id}/feedback")}
    assert cds <= set(OPERATIONS)
    assert all(method.lower() in paths[path] for method, path in cds)


def test_issue13_json_null_in_a_bundle_is_refused_or_reported(svc: Service) -> None:
    """FHIR JSON has no null property values: in the Bundle itself a 422 naming the property (the fuzz
    suite found `"signature": null` accepted); inside a resource, the resource is reported and not used."""
    shell = b'{"resourceType":"Bundle","type":"collection","signature":null}'
    inner = (
        b'{"resourceType":"Bundle","type":"collection","entry":[{"resource":'
        b'{"resourceType":"Patient","id":"p1","gender":null,"birthDate":"1970-01-01"}}]}'
    )
    with svc.client(Role.clinician) as client:
        refused = client.post("/v1/evaluations", content=shell, headers=FHIR)
        reported = client.post("/v1/evaluations", content=inner, headers=FHIR)
    assert refused.status_code == 422, refused.text
    assert "signature" in refused.text
    assert reported.status_code == 201, reported.text
    issues = reported.json()["fhir"]["issues"]
    assert any(i["code"] == "invalid-resource" and "gender" in i["message"] for i in issues), issues
    assert "demographics" not in reported.json().get("provenance", {})
