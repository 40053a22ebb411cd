"""Connecting to the database: URL normalisation, SQLite durability settings, error mapping.

SQLite (the default) runs in WAL mode with ``synchronous=FULL``: a commit has reached the disk
before the API answers 201, so a killed process or a power cut loses no issued decision. PostgreSQL
is reached through psycopg 3 whatever driver the URL names.
"""

from __future__ import annotations

import contextlib
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SqlTimeoutError

from painpath.errors import PainpathError, Problem

DEFAULT_BUSY_TIMEOUT_MS = 2_000
"""How long a statement waits for a lock (SQLite's single write lock, a PostgreSQL row or table lock)
or a pooled connection before it fails (``StoreUnavailable``: 503 with ``Retry-After``), rather than
hanging the request while another connection holds the database. ``PAINPATH_DB_BUSY_TIMEOUT_MS``."""
SQLITE_BUSY_TIMEOUT_MS = DEFAULT_BUSY_TIMEOUT_MS  # the former name
POSTGRES_STATEMENT_TIMEOUT_MS = 30_000
"""No single statement of the service runs longer than this on PostgreSQL (a stalled server fails)."""


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


def _sqlite_pragmas(busy_timeout_ms: int) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    return on_connect


def create_db_engine(url: str, *, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> Engine:
    """An SQLAlchemy engine for ``url``; creates the directory of an SQLite file if needed.

    Every wait is bounded by ``busy_timeout_ms``: for a lock (SQLite ``busy_timeout``, PostgreSQL
    ``lock_timeout``) and for a pooled connection; PostgreSQL statements also by
    ``POSTGRES_STATEMENT_TIMEOUT_MS`` and connecting by a few seconds.
    """
    url = normalise_url(url)
    path = sqlite_path(url)
    seconds = busy_timeout_ms / 1000
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            pool_size=8,
            max_overflow=8,
            pool_timeout=seconds,
            connect_args={"check_same_thread": False, "timeout": seconds},
        )
        event.listen(engine, "connect", _sqlite_pragmas(busy_timeout_ms))
        return engine
    if make_url(url).get_backend_name() == "postgresql":
        if importlib.util.find_spec("psycopg") is None:
            raise StoreUnavailable(
                "PostgreSQL needs the 'postgres' extra: pip install 'painpath[postgres]' (SQLite needs no extra)",
                [Problem("PAINPATH_DATABASE_URL", "the psycopg driver is not installed")],
            )
        return create_engine(
            url,
            pool_size=10,
            max_overflow=10,
            pool_timeout=seconds,
            pool_pre_ping=True,
            connect_args={
                "connect_timeout": max(2, round(seconds)),
                "options": f"-c lock_timeout={int(busy_timeout_ms)} "
                f"-c statement_timeout={max(POSTGRES_STATEMENT_TIMEOUT_MS, int(busy_timeout_ms))}",
            },
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
    except SqlTimeoutError as exc:  # no pooled connection came free in time: every one is stuck waiting
        raise StoreUnavailable(
            f"database unavailable while {action}", [Problem("database", "connection pool exhausted")]
        ) from exc


def ping(engine: Engine) -> None:
    """Raise ``StoreUnavailable`` unless the database answers a trivial query."""
    with unavailable_on_error("checking the database"), engine.connect() as conn:
        conn.execute(text("SELECT 1"))


def probe_write(engine: Engine, table: Any, row: dict[str, Any]) -> None:
    """Raise ``StoreUnavailable`` unless ``row`` can be inserted into ``table`` within the lock timeout.

    The insert is rolled back: nothing is written. It takes the same locks a real write takes (SQLite's
    write lock; PostgreSQL's row-exclusive lock on the table), so a database that is locked, stalled,
    read-only or full fails the probe.
    """
    with unavailable_on_error("probing a write"), engine.connect() as conn:
        transaction = conn.begin()
        try:
            conn.execute(insert(table), row)
        finally:
            transaction.rollback()
