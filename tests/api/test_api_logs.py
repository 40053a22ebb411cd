"""The logs of a full run are structured JSON and never carry a patient identifier or a fact value."""

from __future__ import annotations

import json
import re

import httpx

from painpath.api.auth import Role
from tests.api.conftest import Service

SENTINELS = {
    "patient_id": "PATIENT-7F3A-SENTINEL",
    "provenance": "Observation/OBS-SENTINEL-91F2",
    "unknown_field": "SENTINEL_UNKNOWN_FIELD_Q9",
    "path": "PATHSENTINEL-XYZ",
    "route": "SENTINEL-ROUTE-ABC",
    "query": "QUERYSENTINEL-55",
    "header": "HEADERSENTINEL-1",
}
ONSET_DAYS = 28657  # a fact value that is a number: must not appear as a number in the logs


def test_a_full_run_logs_ids_latency_and_ruleset_but_no_patient_data(service: Service) -> None:
    facts = {
        "patient_id": SENTINELS["patient_id"],
        "provenance": {"red_flags.saddle_anaesthesia": SENTINELS["provenance"]},
        "red_flags": {"saddle_anaesthesia": True, "ces_symptom_onset_days": ONSET_DAYS},
    }
    headers = {"content-type": "application/json", "x-request-id": SENTINELS["header"]}
    with service.client(Role.triage) as client:
        created = client.post("/v1/evaluations", content=json.dumps(facts).encode(), headers=headers)
        assert created.status_code == 201
        assert SENTINELS["patient_id"] in created.text, "the decision itself echoes the patient id to its caller"
        assert client.get(created.headers["location"]).status_code == 200
        rejected = client.post(
            "/v1/evaluations",
            headers=headers,
            content=json.dumps(
                {"patient_id": SENTINELS["patient_id"], "red_flags": {SENTINELS["unknown_field"]: True}}
            ).encode(),
        )
        assert rejected.status_code == 422
        assert client.get(f"/v1/evaluations/{SENTINELS['path']}").status_code == 422
        assert client.get(f"/{SENTINELS['route']}").status_code == 404
        assert client.get(f"/v1/rules?patient={SENTINELS['query']}").status_code == 200
    with httpx.Client(base_url=service.url) as anonymous:
        assert anonymous.get("/v1/rules", headers={"authorization": f"Bearer {SENTINELS['header']}"}).status_code == 401
    service.server.stop()
    logs = service.server.logs()

    for name, value in SENTINELS.items():
        assert value not in logs, f"the {name} leaked into the logs"
    assert not re.search(rf"(?<![\d.]){ONSET_DAYS}(?![\d.])", logs), "a fact value leaked into the logs"
    for role, token in service.tokens.items():
        assert token.split(".")[1] not in logs, f"the {role} token leaked into the logs"

    lines = [json.loads(line) for line in logs.splitlines() if line.strip()]
    decision_id = created.json()["decision_id"]
    issued = [e for e in lines if e["event"] == "decision_issued"]
    assert [e["decision_id"] for e in issued] == [decision_id]
    assert issued[0]["request_id"] == created.headers["x-request-id"] != SENTINELS["header"]
    assert issued[0]["ruleset_hash"] == created.json()["ruleset"]["content_hash"][:12]
    assert issued[0]["caller"] == service.key_ids[Role.triage]
    requests = [e for e in lines if e["event"] == "http_request"]
    assert len(requests) == 7
    for entry in requests:
        assert {"request_id", "method", "route", "status", "latency_ms", "ruleset_hash", "timestamp"} <= entry.keys()
    post = next(e for e in requests if e["request_id"] == created.headers["x-request-id"])
    assert (post["route"], post["status"], post["decision_id"]) == ("/v1/evaluations", 201, decision_id)
    assert {e["route"] for e in requests} >= {"/v1/evaluations/{decision_id}", "(unmatched)", "/v1/rules"}
    assert any(e["event"] == "facts_rejected" and e["problems"] == 1 for e in lines)
