"""Replay protection for CDS client JWTs: each (issuer, ``jti``) is accepted once until it expires.

The ids live in the database (``cds_jwt_ids``), not in a process: every worker process of the
service sees the same set, and a restart forgets nothing. Only a sha256 of issuer and ``jti`` is
stored. Expired ids are deleted as new ones are claimed.
"""

from __future__ import annotations

import datetime
import hashlib

from sqlalchemy import Engine, delete, insert
from sqlalchemy.exc import IntegrityError

from painpath.store.database import unavailable_on_error
from painpath.store.tables import cds_jwt_ids

PURGE_GRACE = datetime.timedelta(seconds=60)
"""Ids are kept this long past their token's expiry (more than any clock-skew leeway)."""


def jti_digest(issuer: str, jti: str) -> str:
    return hashlib.sha256(f"{issuer}\x00{jti}".encode()).hexdigest()


class ReplayGuard:
    """Claim token ids; a claim succeeds once per id."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def claim(self, issuer: str, jti: str, expires_at: datetime.datetime) -> bool:
        """True the first time (issuer, jti) is claimed, False for a replay. Raises ``StoreUnavailable``."""
        now = datetime.datetime.now(datetime.UTC)
        digest = jti_digest(issuer, jti)
        try:
            with unavailable_on_error("checking a CDS client token"), self._engine.begin() as conn:
                conn.execute(delete(cds_jwt_ids).where(cds_jwt_ids.c.expires_at < now - PURGE_GRACE))
                conn.execute(insert(cds_jwt_ids), {"jti_sha256": digest, "expires_at": expires_at})
        except IntegrityError:  # the id is there: a replay (the purge, in the same transaction, is undone)
            return False
        return True
