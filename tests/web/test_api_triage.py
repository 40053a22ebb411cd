"""``GET /v1/evaluations`` (the worklist) and ``/v1/evaluations/{id}/triage`` through the real HTTP server."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from painpath.api.auth import Role
from painpath.store.testing import sqlite_url
from tests.api.conftest import ROOT, Service, launch

CAUDA_EQUINA = {"patient_id": "ref-ces", "red_flags": {"saddle_anaesthesia": True, "ces_symptom_onset_days": 3}}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    data: Path = tmp_path_factory.mktemp("triage-api")
    svc = launch(data, sqlite_url(data), PAINPATH_WORKERS="0")
    yield svc
    svc.server.stop()


def evaluate(client: httpx.Client, facts: dict[str, Any]) -> str:
    response = client.post("/v1/evaluations", json=facts)
    assert response.status_code == 201, response.text
    return str(response.json()["decision_id"])


@pytest.fixture(scope="module")
def referrals(service: Service) -> dict[str, str]:
    """A cauda equina patient, then every example patient, each with a patient reference."""
    with service.client(Role.clinician) as c:
        out = {"ces": evaluate(c, CAUDA_EQUINA)}
        for path in sorted((ROOT / "examples" / "patients").glob("*.json")):
            facts = json.loads(path.read_text())
            facts["patient_id"] = f"ref-{path.stem}"
            out[path.stem] = evaluate(c, facts)
    return out


def test_the_worklist_lists_recorded_decisions_newest_first(service: Service, referrals: dict[str, str]) -> None:
    with service.client(Role.triage) as c:
        response = c.get("/v1/evaluations", params={"limit": 100})
    assert response.status_code == 200
    items = response.json()["items"]
    assert [i["decision_id"] for i in items] == list(reversed(referrals.values()))
    ces = next(i for i in items if i["decision_id"] == referrals["ces"])
    assert ces["patient_ref"] == "ref-ces"
    assert ces["highest_urgency"] == "emergency"
    assert ces["red_flag_status"] == "present"
    assert ces["triage_state"] == "new" and ces["latest_outcome"] is None
    assert response.json()["next_cursor"] is None


def test_filters_and_cursor_pages(service: Service, referrals: dict[str, str]) -> None:
    with service.client(Role.admin) as c:
        emergencies = c.get("/v1/evaluations", params={"urgency": "emergency"}).json()["items"]
        assert referrals["ces"] in {i["decision_id"] for i in emergencies}
        assert all(i["highest_urgency"] == "emergency" for i in emergencies)
        seen: list[str] = []
        params: dict[str, Any] = {"limit": 3, "sort": "urgency"}
        while True:
            page = c.get("/v1/evaluations", params=params)
            assert page.status_code == 200, page.text
            seen += [i["decision_id"] for i in page.json()["items"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
            params["cursor"] = cursor
        assert sorted(seen) == sorted(referrals.values()) and len(seen) == len(set(seen))
        wrong_sort = c.get("/v1/evaluations", params={"limit": 3, "sort": "oldest", "cursor": params["cursor"]})
        assert wrong_sort.status_code == 422
        assert wrong_sort.json()["errors"][0]["field"] == "query.cursor"
        forged = c.get("/v1/evaluations", params={"cursor": "not-a-cursor"})
        assert forged.status_code == 422
        assert c.get("/v1/evaluations", params={"urgency": "extreme"}).status_code == 422
        assert c.get("/v1/evaluations", params={"state": "lost"}).status_code == 422
        assert c.get("/v1/evaluations", params={"since": "2999-01-01"}).json()["items"] == []


def test_only_triage_and_admin_may_use_the_worklist(service: Service, referrals: dict[str, str]) -> None:
    for role, expected in [(Role.clinician, 403), (Role.auditor, 403), (Role.triage, 200), (Role.admin, 200)]:
        with service.client(role) as c:
            assert c.get("/v1/evaluations").status_code == expected, role
            posted = c.post(f"/v1/evaluations/{referrals['ces']}/triage", json={"outcome": "bogus"})
            assert posted.status_code == (403 if expected == 403 else 422), role
    with service.client() as anonymous:
        assert anonymous.get("/v1/evaluations").status_code == 401


def test_a_triage_outcome_is_recorded_and_becomes_the_state(service: Service, referrals: dict[str, str]) -> None:
    target = referrals["ces"]
    with service.client(Role.triage) as c:
        response = c.post(
            f"/v1/evaluations/{target}/triage", json={"outcome": "redirected", "redirected_to": "emergency_department"}
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert response.headers["location"] == f"/v1/evaluations/{target}/triage"
        assert body["departs_from_advice"] is False and body["advice"] == "emergency_red_flag"
        assert body["recorded_by"] == service.key_ids[Role.triage]
        state = c.get("/v1/evaluations", params={"state": "redirected"}).json()["items"]
        assert [i["decision_id"] for i in state] == [target]
        assert state[0]["latest_outcome"]["redirected_to"] == "emergency_department"
        history = c.get(f"/v1/evaluations/{target}/triage").json()
        assert history["triage_state"] == "redirected" and len(history["outcomes"]) == 1


def test_departing_from_the_advice_needs_a_reason(service: Service, referrals: dict[str, str]) -> None:
    target = referrals["ces"]
    accept = {"outcome": "accepted", "service": "pmp", "setting": "outpatient"}
    with service.client(Role.triage) as c:
        refused = c.post(f"/v1/evaluations/{target}/triage", json=accept)
        assert refused.status_code == 422
        assert refused.json()["type"] == "urn:painpath:problem:invalid-triage-outcome"
        assert [e["field"] for e in refused.json()["errors"]] == ["reason"]
        kept = c.post(f"/v1/evaluations/{target}/triage", json={**accept, "reason": "seen in ED already; CES excluded"})
        assert kept.status_code == 201 and kept.json()["departs_from_advice"] is True


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"outcome": "redirected"}, "redirected_to"),
        ({"outcome": "redirected", "redirected_to": "the moon"}, "redirected_to"),
        ({"outcome": "returned", "returned_reason": "information_missing", "service": "pmp"}, "service"),
        ({"outcome": "accepted", "service": "pmp"}, "setting"),
    ],
)
def test_an_invalid_outcome_names_the_field(
    service: Service, referrals: dict[str, str], body: dict[str, str], field: str
) -> None:
    with service.client(Role.triage) as c:
        response = c.post(f"/v1/evaluations/{referrals['ces']}/triage", json=body)
    assert response.status_code == 422
    assert field in {e["field"].removeprefix("body.") for e in response.json()["errors"]}


def test_an_unknown_decision_is_404(service: Service) -> None:
    with service.client(Role.triage) as c:
        response = c.post(f"/v1/evaluations/{uuid.uuid4()}/triage", json={"outcome": "returned"})
        assert response.status_code == 404
        assert response.json()["type"] == "urn:painpath:problem:decision-not-found"
        assert c.get(f"/v1/evaluations/{uuid.uuid4()}/triage").status_code == 404


def test_the_operations_are_in_the_openapi_document(service: Service) -> None:
    with service.client() as c:
        doc = c.get("/openapi.json").json()
    assert doc["paths"]["/v1/evaluations"]["get"]["operationId"] == "listEvaluations"
    assert doc["paths"]["/v1/evaluations/{decision_id}/triage"]["post"]["operationId"] == "recordTriageOutcome"


def test_issue15_the_letter_over_the_api_is_html_for_decision_readers_and_the_sender(
    service: Service, referrals: dict[str, str]
) -> None:
    seed = referrals["screen_clear"]
    with service.client(Role.triage) as c:
        response = c.get(f"/v1/evaluations/{seed}/letter")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    page = response.text
    assert seed in page and "Referral summary" in page and "Ruleset" in page
    with service.client(Role.clinician) as c:  # the key that sent every referral here
        assert c.get(f"/v1/evaluations/{seed}/letter").status_code == 200
    with service.client(Role.auditor) as c:
        assert c.get(f"/v1/evaluations/{uuid.uuid4()}/letter").status_code == 404
    with httpx.Client(base_url=service.url) as anonymous:
        assert anonymous.get(f"/v1/evaluations/{seed}/letter").status_code == 401


def test_issue15_the_letter_operation_is_in_the_openapi_document(service: Service) -> None:
    with httpx.Client(base_url=service.url) as c:
        spec = c.get("/openapi.json").json()
    operation = spec["paths"]["/v1/evaluations/{decision_id}/letter"]["get"]
    assert operation["operationId"] == "readEvaluationLetter"
    assert "text/html" in operation["responses"]["200"]["content"]
