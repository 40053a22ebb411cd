"""The decision log behind the real server, on SQLite and on PostgreSQL, including a crash (SIGKILL)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx

from painpath.api.auth import Role
from painpath.api.testing import service_env, start_server
from painpath.store import open_store
from tests.api.conftest import launch, patient_bodies

JSON = {"content-type": "application/json"}


def children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_decisions_round_trip_through_the_server(backend_url: str, tmp_path: Path) -> None:
    service = launch(tmp_path / "data", backend_url)
    try:
        with service.client(Role.admin) as client:
            assert client.get("/readyz").json()["checks"]["database"] == "ok"
            created = [client.post("/v1/evaluations", content=b, headers=JSON) for b in patient_bodies()[:5]]
            assert all(r.status_code == 201 for r in created)
            for r in created:
                assert client.get(r.headers["location"]).content == r.content
    finally:
        service.server.stop()


def test_no_committed_decision_is_lost_when_the_server_is_killed(backend_url: str, tmp_path: Path) -> None:
    service = launch(tmp_path / "data", backend_url)
    bodies = patient_bodies()
    issued: dict[str, bytes] = {}
    failures: list[str] = []
    workers: list[int] = []

    in_flight = [0]  # requests sent and not yet answered; at the kill
    in_flight_at_kill: list[int] = []

    async def load() -> None:
        async def worker(n: int) -> None:
            # Until its connection is refused or cut: a request the kill interrupts fails, and one
            # answered before it must be in the log after the restart.
            async with service.async_client(Role.clinician) as client:
                i = n
                while True:
                    in_flight[0] += 1
                    try:
                        r = await client.post("/v1/evaluations", content=bodies[i % len(bodies)], headers=JSON)
                    except httpx.HTTPError as exc:
                        failures.append(type(exc).__name__)
                        return
                    finally:
                        in_flight[0] -= 1
                    if r.status_code != 201:
                        failures.append(str(r.status_code))
                        return
                    issued[r.json()["decision_id"]] = r.content
                    i += 1

        async def killer() -> None:
            # A few seconds of load (and at least 40 acknowledged decisions), then SIGKILL.
            started = time.monotonic()
            deadline = started + 60
            while (len(issued) < 40 or time.monotonic() - started < 3) and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            # Looked up off the event loop, so the clients keep requests in flight meanwhile (a blocking
            # lookup let the server answer every request before the kill, and the test then proved less).
            workers.extend(await asyncio.to_thread(children, service.server.process.pid))
            in_flight_at_kill.append(in_flight[0])
            service.server.kill()  # SIGKILL with requests in flight

        await asyncio.gather(killer(), *(worker(n) for n in range(8)))

    asyncio.run(load())
    assert service.server.process.returncode == -9
    assert len(issued) >= 40
    assert in_flight_at_kill[0] > 0, "the kill was to interrupt requests in flight"
    assert len(failures) == 8  # every client stopped on the kill (a cut request or a refused connection)
    deadline = time.monotonic() + 10
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(alive(pid) for pid in workers), "evaluation workers outlived the killed server"

    restarted = start_server(service_env(service.data_dir, database_url=backend_url), service.data_dir / "after.log")
    try:
        with httpx.Client(
            base_url=restarted.base_url, headers={"authorization": f"Bearer {service.tokens[Role.triage]}"}
        ) as client:
            for decision_id, content in issued.items():
                again = client.get(f"/v1/evaluations/{decision_id}")
                assert again.status_code == 200, f"decision {decision_id} was answered 201 but is lost"
                assert again.content == content
    finally:
        restarted.stop()
    store = open_store(backend_url)
    try:
        assert store.decisions.count() >= len(issued)
    finally:
        store.close()
