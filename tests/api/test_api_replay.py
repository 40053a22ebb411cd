"""The full trace on demand, re-derived from the decision log; pruned decisions answer 410 Gone."""

from __future__ import annotations

import datetime

from sqlalchemy import update

from painpath.api.auth import Role
from painpath.store import open_store
from painpath.store.retention import prune
from painpath.store.tables import decisions
from tests.api.conftest import Service, patient_bodies

JSON = {"content-type": "application/json"}


def test_the_trace_endpoint_rederives_the_full_trace_byte_for_byte(service: Service) -> None:
    for raw in patient_bodies()[:3]:
        with service.client(Role.clinician) as client:
            issued_full = client.post("/v1/evaluations?trace=full", content=raw, headers=JSON)
            issued_summary = client.post("/v1/evaluations", content=raw, headers=JSON)
        assert issued_full.status_code == issued_summary.status_code == 201
        with service.client(Role.triage) as client:
            again = client.get(f"{issued_full.headers['location']}/trace")
            summary_trace = client.get(f"{issued_summary.headers['location']}/trace")
        assert again.status_code == 200, again.text
        assert again.content == issued_full.content
        assert summary_trace.status_code == 200
        full = summary_trace.json()
        assert full["trace"] == "full" and all("because" in r for r in full["rules"])
        assert full["decision_id"] == issued_summary.json()["decision_id"]
        assert len(issued_summary.content) < len(summary_trace.content)


def test_a_pruned_decision_answers_410_with_its_id_and_date(service: Service) -> None:
    with service.client(Role.clinician) as client:
        created = client.post("/v1/evaluations", content=patient_bodies()[0], headers=JSON)
    decision_id = created.json()["decision_id"]
    store = open_store(service.database_url)
    try:
        old = datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
        with store.engine.begin() as conn:
            conn.execute(update(decisions).where(decisions.c.decision_id == decision_id).values(created_at=old))
        assert prune(store.engine, 300) >= 1
    finally:
        store.close()
    with service.client(Role.triage) as client:
        for path in (created.headers["location"], f"{created.headers['location']}/trace"):
            gone = client.get(path)
            assert gone.status_code == 410, gone.text
            problem = gone.json()
            assert problem["type"] == "urn:painpath:problem:decision-pruned"
            assert decision_id in problem["detail"] and "2026-01-02" in problem["detail"]
        missing = client.get("/v1/evaluations/00000000-0000-4000-8000-000000000000/trace")
        assert missing.status_code == 404
