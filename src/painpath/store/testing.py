"""Throwaway databases for tests: an SQLite file in a directory, or a fresh PostgreSQL database.

``PAINPATH_TEST_DATABASE_URL`` names a PostgreSQL server whose role may create databases
(``scripts/ci-postgres.sh`` starts one and prints it); each test gets its own database, dropped
afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from painpath.store.database import default_database_url, normalise_url

TEST_DATABASE_ENV = "PAINPATH_TEST_DATABASE_URL"


def sqlite_url(directory: Path) -> str:
    """The embedded database URL the service would use with ``PAINPATH_DATA_DIR=directory``."""
    return default_database_url(directory)


def postgres_server_url() -> str | None:
    """``$PAINPATH_TEST_DATABASE_URL`` if it is set and the server answers, else ``None``."""
    url = os.environ.get(TEST_DATABASE_ENV)
    if not url:
        return None
    engine = create_engine(normalise_url(url), connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except OperationalError:
        return None
    finally:
        engine.dispose()
    return url


@contextmanager
def temporary_postgres_database(server_url: str) -> Iterator[str]:
    """Create an empty database on the server, yield its URL, and drop it afterwards."""
    name = f"painpath_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(normalise_url(server_url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(normalise_url(server_url)).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
