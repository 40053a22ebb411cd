"""Fixtures for end-to-end tests: the real server in a subprocess, API keys for each role.

Servers use the repository's rules (or ``$PAINPATH_RULES_DIR`` when set) and a fresh data
directory; storage-sensitive tests run on both SQLite and PostgreSQL (see ``tests/store/pg.py``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from painpath.api.auth import Role, create_key
from painpath.api.examples import FACTS_EXAMPLES
from painpath.api.testing import RunningServer, service_env, start_server
from painpath.store import open_store
from painpath.store.testing import sqlite_url
from tests.store.pg import postgres_database

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Service:
    """A running server with one API key per role."""

    server: RunningServer
    database_url: str
    tokens: dict[Role, str]
    key_ids: dict[Role, str]
    data_dir: Path

    @property
    def url(self) -> str:
        return self.server.base_url

    def client(self, role: Role | None = None, **kwargs: object) -> httpx.Client:
        headers = {"authorization": f"Bearer {self.tokens[role]}"} if role else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)  # type: ignore[arg-type]

    def async_client(self, role: Role, **kwargs: object) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=self.url, headers={"authorization": f"Bearer {self.tokens[role]}"}, timeout=60, **kwargs
        )  # type: ignore[arg-type]


def make_keys(database_url: str) -> tuple[dict[Role, str], dict[Role, str]]:
    store = open_store(database_url)
    try:
        made = {role: create_key(store.keys, f"test {role}", role) for role in Role}
    finally:
        store.close()
    return {r: token for r, (_, token) in made.items()}, {r: rec.key_id for r, (rec, _) in made.items()}


def launch(data_dir: Path, database_url: str, log_name: str = "server.log", **env: str) -> Service:
    data_dir.mkdir(parents=True, exist_ok=True)
    tokens, key_ids = make_keys(database_url)
    server = start_server(service_env(data_dir, database_url=database_url, extra=env), data_dir / log_name)
    return Service(server=server, database_url=database_url, tokens=tokens, key_ids=key_ids, data_dir=data_dir)


def patient_bodies() -> list[bytes]:
    """Example patients: the repository's ``examples/patients`` plus the OpenAPI examples."""
    files = sorted((ROOT / "examples" / "patients").glob("*.json"))
    return [f.read_bytes() for f in files] + [json.dumps(e["value"]).encode() for e in FACTS_EXAMPLES.values()]


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A keyed server on an SQLite file, shared by a test module."""
    data = tmp_path_factory.mktemp("service")
    svc = launch(data, sqlite_url(data))
    yield svc
    svc.server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "data")
    else:
        with postgres_database() as url:
            yield url
