"""Many clients at once get exactly the decisions that one client gets one at a time."""

from __future__ import annotations

import asyncio
import json
import random
from typing import Any

from painpath.api.auth import Role
from tests.api.conftest import Service, patient_bodies

REPEATS = 4
CLIENTS = 24


def comparable(status: int, body: bytes) -> tuple[int, Any]:
    data = json.loads(body)
    for key in ("decision_id", "created_at", "request_id"):
        data.pop(key, None)
    return status, data


def test_parallel_clients_get_the_same_decisions_as_serial_ones(service: Service) -> None:
    bodies = patient_bodies()
    headers = {"content-type": "application/json"}
    with service.client(Role.clinician) as client:
        serial = [
            comparable(r.status_code, r.content)
            for r in (client.post("/v1/evaluations", content=b, headers=headers) for b in bodies)
        ]
    assert sum(1 for status, _ in serial if status == 201) >= 3

    jobs = [i for i in range(len(bodies)) for _ in range(REPEATS)]
    random.Random(7).shuffle(jobs)  # noqa: S311 - a reproducible order, not a secret
    results: dict[int, list[tuple[int, Any]]] = {}

    async def run() -> None:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for job in jobs:
            queue.put_nowait(job)

        async def worker() -> None:
            async with service.async_client(Role.clinician) as client:
                while not queue.empty():
                    i = queue.get_nowait()
                    r = await client.post("/v1/evaluations", content=bodies[i], headers=headers)
                    results.setdefault(i, []).append(comparable(r.status_code, r.content))

        await asyncio.gather(*(worker() for _ in range(CLIENTS)))

    asyncio.run(run())
    assert sum(len(v) for v in results.values()) == len(jobs)
    for i, outcomes in results.items():
        assert all(outcome == serial[i] for outcome in outcomes), f"patient {i} differs under concurrency"
