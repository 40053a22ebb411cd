"""Storage fixtures: every storage test runs against a real SQLite file and a real PostgreSQL server.

PostgreSQL comes from ``PAINPATH_TEST_DATABASE_URL`` (``scripts/ci-postgres.sh`` prints one). Without
it the PostgreSQL half is skipped locally; with ``CI=true`` it fails instead, so CI never skips it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from painpath.store import Store, open_store
from painpath.store.testing import sqlite_url
from tests.store.pg import postgres_database


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield sqlite_url(tmp_path / "data")
    else:
        with postgres_database() as url:
            yield url


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    opened = open_store(database_url)
    yield opened
    opened.close()
