"""The store handle the service holds: one database engine, the decision log and the key store."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from painpath.store import migrate
from painpath.store.cds import CdsLog
from painpath.store.database import create_db_engine, normalise_url, ping, redact_url, sqlite_path
from painpath.store.decisions import DecisionLog
from painpath.store.keys import KeyStore
from painpath.store.replay import ReplayGuard


@dataclass(frozen=True)
class Store:
    """An open, migrated database."""

    engine: Engine
    url: str
    decisions: DecisionLog
    keys: KeyStore
    cds: CdsLog
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

    def close(self) -> None:
        self.engine.dispose()


def open_store(url: str, *, apply_migrations: bool = True) -> Store:
    """Connect, and (by default) migrate to the newest schema. Raises ``StoreUnavailable``."""
    url = normalise_url(url)
    path = sqlite_path(url)
    existed = path.exists() if path is not None else True
    engine = create_db_engine(url)
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
        decisions=DecisionLog(engine, serialise_writes=path is not None),
        keys=KeyStore(engine),
        cds=CdsLog(engine),
        replay=ReplayGuard(engine),
        created=not existed or before is None,
    )
