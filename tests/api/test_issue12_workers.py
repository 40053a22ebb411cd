"""Issue 12: the evaluation workers answer over their own pipes; a dead worker is replaced.

The real server with two evaluation worker processes. /readyz runs D1's idle check in every
worker (where the reused durable-rules sessions live). A killed worker is replaced (the other one
answers meanwhile) and /readyz is ready again once the replacement has loaded the rules; after
more than RESTARTS_ALLOWED replacements in the window, evaluation stops for good: 503
evaluation-unavailable (no decision issued) and /readyz reports it, until the service restarts.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from painpath.api.auth import Role
from painpath.store.testing import sqlite_url
from painpath.workers import RESTARTS_ALLOWED
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


def kill(pid: int) -> None:
    os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)


def evaluation_state(client: httpx.Client, until: Callable[[str], bool], seconds: float) -> tuple[int, str]:
    """Poll /readyz until its evaluation check satisfies ``until`` (or time runs out); status and check."""
    deadline = time.monotonic() + seconds
    while True:
        ready = client.get("/readyz")
        state = ready.json()["checks"]["evaluation"]
        if until(state) or time.monotonic() > deadline:
            return ready.status_code, state
        time.sleep(0.02)


def test_a_killed_evaluation_worker_is_replaced_and_a_crash_loop_stops_evaluation(tmp_path: Path) -> None:
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

            post = {"content-type": "application/json"}
            seen: set[int] = set()
            for round_ in range(RESTARTS_ALLOWED + 1):
                workers = evaluation_workers(service.server.process.pid)
                assert len(workers) == 2, workers
                seen |= set(workers)
                kill(workers[round_ % 2])
                if round_ < RESTARTS_ALLOWED:
                    # once the server has noticed (a request sent before that fails: 503, never retried) ...
                    status, state = evaluation_state(client, lambda s: s != "ok", 10)
                    assert (status, state.startswith("replacing worker")) == (503, True), state
                    # ... the other worker answers while the replacement loads the rules
                    statuses = [client.post("/v1/evaluations", content=b, headers=post).status_code for b in bodies[:4]]
                    assert statuses == [201] * 4, statuses
                    assert evaluation_state(client, lambda s: s == "ok", 60) == (200, "ok")
                    assert client.get("/readyz").json()["checks"]["durable_sessions"] == "ok"

            assert len(seen) == 2 + RESTARTS_ALLOWED, "each replacement is a new process"
            time.sleep(0.5)
            # one death too many within the window: no decision is issued any more
            for body in bodies[:3]:
                answer = client.post("/v1/evaluations", content=body, headers=post)
                assert answer.status_code == 503, answer.text
                assert answer.headers["content-type"].startswith("application/problem+json")
                assert answer.json()["type"].endswith("evaluation-unavailable")
                assert answer.headers["retry-after"]
                assert "decision_id" not in answer.json()
            ready = client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["evaluation"] == "stopped"
            assert client.get("/healthz").status_code == 200, "the process itself is alive"
            logs = service.server.logs()
            assert logs.count('"evaluation_worker_replaced"') == RESTARTS_ALLOWED
            assert '"evaluation_workers_broken"' in logs
    finally:
        service.server.stop()
