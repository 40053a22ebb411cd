"""``/v1/audits`` end to end through the real server: roles, limits, a background job and its files."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from painpath.api.auth import Role
from painpath.audit.synth import cohort
from painpath.store.testing import sqlite_url
from tests.api.conftest import Service, launch
from tests.api.test_api_storage import children

NDJSON = {"content-type": "application/x-ndjson"}
MAX = 40


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    data = tmp_path_factory.mktemp("audits")
    svc = launch(data, sqlite_url(data), PAINPATH_AUDIT_MAX_PATIENTS=str(MAX), PAINPATH_WORKERS="0")
    yield svc
    svc.server.stop()


def body(n: int, bad: int = 0) -> bytes:
    lines = [json.dumps(p) for p in cohort(n, 3)] + ['{"demographics": {"agee": 40}}'] * bad
    return ("\n".join(lines) + "\n").encode()


def wait(client: httpx.Client, url: str) -> dict[str, object]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        state: dict[str, object] = client.get(url).json()
        if state["status"] not in ("queued", "running"):
            return state
        time.sleep(0.2)
    raise AssertionError("the audit job did not finish")


def test_an_auditor_runs_an_audit_and_downloads_the_results(service: Service) -> None:
    with service.client(Role.auditor) as client:
        created = client.post("/v1/audits", content=body(30, bad=2), headers=NDJSON)
        assert created.status_code == 202, created.text
        location = created.headers["location"]
        assert created.json()["status"] in ("queued", "running", "succeeded")
        state = wait(client, location)
        assert state["status"] == "succeeded", state
        assert state["records"] == {
            "input": 32,
            "evaluated": 30,
            "rejected": 2,
            "reconciled": True,
            "statement": "32 records read: 30 evaluated + 2 rejected = 32",
        }
        files = state["files"]
        assert isinstance(files, dict)
        summary = client.get(files["summary.json"])
        assert summary.status_code == 200
        assert summary.json()["records"]["evaluated"] == 30
        html = client.get(files["report.html"])
        assert html.headers["content-type"].startswith("text/html") and "SYNTHETIC COHORT" in html.text
        rejected = client.get(files["rejected.csv"]).text.splitlines()
        assert rejected[0] == "line,reason" and rejected[1].startswith("31,demographics.agee: unknown field")
        assert client.get(location + "/files/..%2Fjob.json").status_code == 404
        assert client.get(location + "/files/cohort.jsonl").status_code == 404


def test_roles_limits_and_media_types(service: Service) -> None:
    with service.client(Role.clinician) as client:
        refused = client.post("/v1/audits", content=body(2), headers=NDJSON)
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
    with service.client(Role.auditor) as client:
        too_many = client.post("/v1/audits", content=body(MAX + 1), headers=NDJSON)
        assert too_many.status_code == 413
        assert str(MAX) in too_many.json()["detail"]
        wrong = client.post("/v1/audits", content=body(2), headers={"content-type": "application/json"})
        assert wrong.status_code == 415
        missing = client.get("/v1/audits/0123456789abcdef0123456789abcdef")
        assert missing.status_code == 404
    jobs = service.data_dir / "audits"
    assert all((d / "job.json").exists() for d in jobs.iterdir()), "refused uploads leave nothing behind"


def test_a_csv_cohort_and_a_refused_header(service: Service) -> None:
    csv_headers = {"content-type": "text/csv"}
    with service.client(Role.auditor) as client:
        good = client.post(
            "/v1/audits",
            content=b"patient_id,demographics.age,red_flags.fever\np1,47,false\np2,,maybe\n",
            headers=csv_headers,
        )
        assert good.status_code == 202
        state = wait(client, good.headers["location"])
        assert state["status"] == "succeeded", state
        records = state["records"]
        assert isinstance(records, dict)
        assert (records["evaluated"], records["rejected"]) == (1, 1)
        bad = client.post("/v1/audits", content=b"patient_id,red_flags.feverr\np1,true\n", headers=csv_headers)
        assert bad.status_code == 422  # refused at once (issue 13): never a job that fails later
        error = bad.json()["errors"][0]
        assert "red_flags.feverr" in error["field"] and error["suggestion"] == "red_flags.fever"


def nice(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[16])


def test_issue13_audit_flood_is_bounded_with_429_and_runs_outside_the_server(tmp_path: Path) -> None:
    svc = launch(
        tmp_path,
        sqlite_url(tmp_path),
        PAINPATH_WORKERS="0",
        PAINPATH_AUDIT_QUEUE_PER_KEY="2",
        PAINPATH_AUDIT_QUEUE_TOTAL="3",
    )
    try:
        with svc.client(Role.auditor) as auditor, svc.client(Role.admin) as admin:
            accepted = [auditor.post("/v1/audits", content=body(5), headers=NDJSON) for _ in range(2)]
            assert [r.status_code for r in accepted] == [202, 202]
            per_key = auditor.post("/v1/audits", content=body(5), headers=NDJSON)
            assert per_key.status_code == 429, per_key.text
            assert per_key.headers["retry-after"].isdigit()
            assert per_key.headers["content-type"] == "application/problem+json"
            assert admin.post("/v1/audits", content=body(5), headers=NDJSON).status_code == 202
            in_all = admin.post("/v1/audits", content=body(5), headers=NDJSON)
            assert in_all.status_code == 429 and "at most 3" in in_all.json()["detail"]
            server = svc.server.process.pid
            deadline = time.monotonic() + 60
            while not [p for p in children(server) if nice(p) > nice(server)] and time.monotonic() < deadline:
                time.sleep(0.2)
            assert [p for p in children(server) if nice(p) > nice(server)], "audits run in niced processes of their own"
            for r in accepted:
                assert wait(auditor, r.headers["location"])["status"] == "succeeded"
            assert auditor.post("/v1/audits", content=body(5), headers=NDJSON).status_code == 202
    finally:
        svc.server.stop()
