"""API keys at rest: a key id, a name, a role and the sha256 of the token. Tokens are never stored."""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from sqlalchemy import Engine, insert, select, update

from painpath.store.database import unavailable_on_error
from painpath.store.tables import api_keys


@dataclass(frozen=True)
class ApiKeyRecord:
    """One API key as stored."""

    key_id: str
    name: str
    role: str
    token_sha256: str
    created_at: datetime.datetime
    revoked_at: datetime.datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _utc(value: datetime.datetime | None) -> datetime.datetime | None:
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=datetime.UTC)


class KeyStore:
    """Create, find, list and revoke API keys."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def add(self, record: ApiKeyRecord) -> None:
        with unavailable_on_error("storing an API key"), self._engine.begin() as conn:
            conn.execute(
                insert(api_keys).values(
                    key_id=record.key_id,
                    name=record.name,
                    role=record.role,
                    token_sha256=record.token_sha256,
                    created_at=record.created_at,
                    revoked_at=record.revoked_at,
                )
            )

    def get(self, key_id: str) -> ApiKeyRecord | None:
        with unavailable_on_error("looking up an API key"), self._engine.connect() as conn:
            row = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).mappings().first()
        return None if row is None else self._record(row)

    def list(self) -> list[ApiKeyRecord]:
        with unavailable_on_error("listing API keys"), self._engine.connect() as conn:
            rows = conn.execute(select(api_keys).order_by(api_keys.c.created_at)).mappings().all()
        return [self._record(r) for r in rows]

    def revoke(self, key_id: str, when: datetime.datetime) -> bool:
        """Mark the key revoked; ``False`` if there is no such active key."""
        with unavailable_on_error("revoking an API key"), self._engine.begin() as conn:
            result = conn.execute(
                update(api_keys)
                .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at.is_(None))
                .values(revoked_at=when)
            )
        return bool(result.rowcount)

    @staticmethod
    def _record(row: object) -> ApiKeyRecord:
        r = dict(row)  # type: ignore[call-overload]
        return ApiKeyRecord(
            key_id=r["key_id"],
            name=r["name"],
            role=r["role"],
            token_sha256=r["token_sha256"],
            created_at=_utc(r["created_at"]) or r["created_at"],
            revoked_at=_utc(r["revoked_at"]),
        )
