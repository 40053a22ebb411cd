"""The store handle the service holds: one database engine, the decision log and the key store."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass

from sqlalchemy import Engine

from painpath.store import migrate
from painpath.store.cds import CdsLog
from painpath.store.database import (
    DEFAULT_BUSY_TIMEOUT_MS,
    create_db_engine,
    normalise_url,
    ping,
    probe_write,
    redact_url,
    sqlite_path,
)
from painpath.store.decisions import DecisionLog
from painpath.store.keys import KeyStore
from painpath.store.sessions import SessionStore
from painpath.store.tables import decisions as decisions_table
from painpath.store.token_ids import ReplayGuard
from painpath.store.triage import TriageLog


@dataclass(frozen=True)
class Store:
    """An open, migrated database."""

    engine: Engine
    url: str
    decisions: DecisionLog
    keys: KeyStore
    cds: CdsLog
    triage: TriageLog
    sessions: SessionStore
    replay: ReplayGuard
    created: bool
    """True when this open created the database (an SQLite file that did not exist, or an empty schema)."""

    @property
    def display_url(self) -> str:
        """The URL with the password hidden."""
        return redact_url(self.url)

    def ping(self) -> None:
        """Raise ``StoreUnavailable`` unless the database answers."""
        ping(self.engine)

    def probe_write(self) -> None:
        """Raise ``StoreUnavailable`` unless a decision could be written now (within the busy timeout).

        A probe row is inserted into the decision log and rolled back, behind the same write queue as
        real decisions.
        """
        now = datetime.datetime.now(datetime.UTC)
        row = {
            "decision_id": f"probe-{uuid.uuid4().hex[:30]}",
            "created_at": now,
            "caller_key_id": "readyz-probe",
            "status": "probe",
            "engine_version": "-",
            "ruleset_name": "-",
            "ruleset_version": "-",
            "ruleset_hash": "-",
            "parameters": "{}",
            "input_facts": "{}",
            "output_json": "{}",
            "output_sha256": "-",
        }
        with self.decisions.writing("probing a write"):
            probe_write(self.engine, decisions_table, row)

    def close(self) -> None:
        self.decisions.close()
        self.engine.dispose()


def open_store(url: str, *, apply_migrations: bool = True, busy_timeout_ms: int = DEFAULT_BUSY_TIMEOUT_MS) -> Store:
    """Connect, and (by default) migrate to the newest schema. Raises ``StoreUnavailable``.

    ``busy_timeout_ms`` bounds every wait for a lock or a connection (see ``create_db_engine``).
    """
    url = normalise_url(url)
    path = sqlite_path(url)
    existed = path.exists() if path is not None else True
    engine = create_db_engine(url, busy_timeout_ms=busy_timeout_ms)
    try:
        before = migrate.current_revision(engine)
        if apply_migrations:
            migrate.upgrade(engine)
    except BaseException:
        engine.dispose()
        raise
    return Store(
        engine=engine,
        url=url,
        decisions=DecisionLog(engine, serialise_writes=path is not None, lock_timeout_s=busy_timeout_ms / 1000),
        keys=KeyStore(engine),
        cds=CdsLog(engine),
        triage=TriageLog(engine),
        sessions=SessionStore(engine),
        replay=ReplayGuard(engine),
        created=not existed or before is None,
    )
