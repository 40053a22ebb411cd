"""Issue 12: the evaluation workers answer over their own pipes; a dead worker fails closed.

The real server with two evaluation worker processes. /readyz runs D1's idle check in every
worker (where the reused durable-rules sessions live). When a worker is killed, the requests
then get 503 evaluation-unavailable (no decision issued) and /readyz reports the workers
stopped, until the service is restarted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

from painpath.api.auth import Role
from painpath.store.testing import sqlite_url
from tests.api.conftest import launch, patient_bodies
from tests.api.test_api_storage import alive, children


def evaluation_workers(server_pid: int) -> list[int]:
    """The server's spawned worker processes (not multiprocessing's resource tracker)."""
    found = []
    for pid in children(server_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline and b"resource_tracker" not in cmdline:
            found.append(pid)
    return found


def test_a_killed_evaluation_worker_fails_closed_and_readyz_says_so(tmp_path: Path) -> None:
    data = tmp_path / "data"
    service = launch(data, sqlite_url(data), PAINPATH_WORKERS="2")
    try:
        bodies = patient_bodies()
        with service.client(Role.clinician) as client:
            ready = client.get("/readyz")
            assert ready.status_code == 200, ready.text
            assert ready.json()["checks"]["evaluation"] == "ok"
            assert ready.json()["checks"]["durable_sessions"] == "ok"

            async def burst() -> list[int]:
                async with service.async_client(Role.clinician) as aclient:
                    answers = await asyncio.gather(
                        *(
                            aclient.post("/v1/evaluations", content=b, headers={"content-type": "application/json"})
                            for b in bodies * 3
                        )
                    )
                return [a.status_code for a in answers]

            assert set(asyncio.run(burst())) == {201}, "concurrent requests beyond the two workers wait their turn"

            workers = evaluation_workers(service.server.process.pid)
            assert len(workers) == 2, workers
            os.kill(workers[0], signal.SIGKILL)
            deadline = time.monotonic() + 10
            while alive(workers[0]) and time.monotonic() < deadline:
                time.sleep(0.05)

            statuses = []
            for body in bodies[:4]:  # whichever worker gets them: once one has died, none is issued
                answer = client.post("/v1/evaluations", content=body, headers={"content-type": "application/json"})
                statuses.append(answer.status_code)
                if answer.status_code == 503:
                    assert answer.headers["content-type"].startswith("application/problem+json")
                    assert answer.json()["type"].endswith("evaluation-unavailable")
                    assert answer.headers["retry-after"]
                    assert "decision_id" not in answer.json()
            assert statuses[-1] == 503, statuses
            assert statuses[statuses.index(503) :] == [503] * (len(statuses) - statuses.index(503)), statuses
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["evaluation"] == "stopped"
            assert client.get("/healthz").status_code == 200, "the process itself is alive"
    finally:
        service.server.stop()
