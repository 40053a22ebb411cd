"""PostgreSQL for tests: skipped locally when absent, never skipped under ``CI=true``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from painpath.store.testing import TEST_DATABASE_ENV, postgres_server_url, temporary_postgres_database


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh database on the test PostgreSQL server (dropped afterwards)."""
    server = postgres_server_url()
    if server is None:
        reason = (
            f"PostgreSQL unavailable: set {TEST_DATABASE_ENV} to a reachable server "
            '(export {0}="$(scripts/ci-postgres.sh)")'.format(TEST_DATABASE_ENV)
        )
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true and {reason}")
        pytest.skip(reason)
    with temporary_postgres_database(server) as url:
        yield url
