"""Connecting to the database: URL normalisation, SQLite durability settings, error mapping.

SQLite (the default) runs in WAL mode with ``synchronous=FULL``: a commit has reached the disk
before the API answers 201, so a killed process or a power cut loses no issued decision. PostgreSQL
is reached through psycopg 3 whatever driver the URL names.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError

from painpath.errors import PainpathError, Problem

SQLITE_BUSY_TIMEOUT_MS = 30_000
"""How long a writer waits for SQLite's single write lock before the request fails with 503."""


class StoreUnavailable(PainpathError):
    """The database could not be reached or did not accept a write; nothing was recorded."""


def normalise_url(url: str) -> str:
    """Return ``url`` with PostgreSQL URLs pinned to psycopg 3 (``postgresql+psycopg://``)."""
    for prefix in ("postgres://", "postgresql://", "postgresql+psycopg2://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


DEFAULT_DATABASE_FILE = "painpath.sqlite3"


def default_database_url(data_dir: Path) -> str:
    """The embedded SQLite database inside ``data_dir`` (absolute, so messages are unambiguous)."""
    return f"sqlite:///{data_dir.resolve() / DEFAULT_DATABASE_FILE}"


def redact_url(url: str) -> str:
    """The URL with any password hidden, for logs and messages."""
    return make_url(url).render_as_string(hide_password=True)


def sqlite_path(url: str) -> Path | None:
    """The file an SQLite URL points to, or ``None`` for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def create_db_engine(url: str) -> Engine:
    """An SQLAlchemy engine for ``url``; creates the directory of an SQLite file if needed."""
    url = normalise_url(url)
    path = sqlite_path(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            pool_size=8,
            max_overflow=8,
            pool_timeout=30,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    if make_url(url).get_backend_name() == "postgresql":
        return create_engine(
            url,
            pool_size=10,
            max_overflow=10,
            pool_timeout=30,
            pool_pre_ping=True,
            connect_args={"connect_timeout": 10},
        )
    return create_engine(url)


@contextlib.contextmanager
def unavailable_on_error(action: str) -> Iterator[None]:
    """Turn operational failures (unreachable, locked, read-only, disk) into ``StoreUnavailable``.

    Integrity and programming errors are bugs, not outages, and propagate unchanged.
    """
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        reason = type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__
        raise StoreUnavailable(f"database unavailable while {action}", [Problem("database", reason)]) from exc


def ping(engine: Engine) -> None:
    """Raise ``StoreUnavailable`` unless the database answers a trivial query."""
    with unavailable_on_error("checking the database"), engine.connect() as conn:
        conn.execute(text("SELECT 1"))
