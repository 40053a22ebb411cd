"""Web sessions: a signed-in browser, kept server-side so signing out and idle expiry are real.

Only the sha256 of the session cookie is stored; the cookie itself exists only in the browser.
A session names the API key it was opened with, so revoking the key ends the session too.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from sqlalchemy import Engine, delete, insert, select, update

from painpath.store.database import unavailable_on_error
from painpath.store.tables import web_sessions


@dataclass(frozen=True)
class SessionRecord:
    session_sha256: str
    key_id: str
    csrf_token: str
    created_at: datetime.datetime
    last_seen_at: datetime.datetime


def _utc(value: datetime.datetime) -> datetime.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)


class SessionStore:
    """Open, touch, read and close web sessions."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, record: SessionRecord) -> None:
        with unavailable_on_error("opening a session"), self._engine.begin() as conn:
            conn.execute(insert(web_sessions), [vars(record)])

    def get(self, session_sha256: str) -> SessionRecord | None:
        with unavailable_on_error("reading a session"), self._engine.connect() as conn:
            row = (
                conn.execute(select(web_sessions).where(web_sessions.c.session_sha256 == session_sha256))
                .mappings()
                .first()
            )
        if row is None:
            return None
        return SessionRecord(
            session_sha256=row["session_sha256"],
            key_id=row["key_id"],
            csrf_token=row["csrf_token"],
            created_at=_utc(row["created_at"]),
            last_seen_at=_utc(row["last_seen_at"]),
        )

    def touch(self, session_sha256: str, when: datetime.datetime) -> None:
        with unavailable_on_error("updating a session"), self._engine.begin() as conn:
            conn.execute(
                update(web_sessions).where(web_sessions.c.session_sha256 == session_sha256).values(last_seen_at=when)
            )

    def remove(self, session_sha256: str) -> None:
        with unavailable_on_error("closing a session"), self._engine.begin() as conn:
            conn.execute(delete(web_sessions).where(web_sessions.c.session_sha256 == session_sha256))

    def remove_idle(self, before: datetime.datetime) -> int:
        """Delete sessions last seen before ``before``; returns how many."""
        with unavailable_on_error("expiring sessions"), self._engine.begin() as conn:
            return conn.execute(delete(web_sessions).where(web_sessions.c.last_seen_at < before)).rowcount
