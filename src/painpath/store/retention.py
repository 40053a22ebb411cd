"""Keeping the decision log bounded: prune decisions older than the retention period, keep tombstones.

Pruning removes a decision's content (its payload: input, parameters, decision) and keeps the row
as a tombstone: id, time, status, ruleset and the sha256 of what was issued, so the API can answer
``410 Gone`` with the id and date instead of pretending the decision never existed. The period is
``PAINPATH_RETENTION_DAYS`` (unset: keep everything) or ``painpath store prune --older-than DAYS``.
On SQLite the file keeps its size until ``VACUUM``; the freed pages are reused for new decisions.
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

from sqlalchemy import Engine, and_, func, select, update

from painpath.store.database import unavailable_on_error
from painpath.store.tables import decisions

RETENTION_ENV = "PAINPATH_RETENTION_DAYS"


def retention_days(environ: dict[str, str] | None = None) -> int | None:
    """The configured retention period in days, or ``None`` to keep everything; raises ``ValueError``."""
    value = (os.environ if environ is None else environ).get(RETENTION_ENV, "").strip()
    if not value:
        return None
    days = int(value)
    if days < 1:
        raise ValueError(f"{RETENTION_ENV} must be a whole number of days >= 1, not {value!r}")
    return days


@dataclass(frozen=True)
class Tombstone:
    decision_id: str
    created_at: datetime.datetime
    pruned_at: datetime.datetime


def _utc(value: datetime.datetime) -> datetime.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)


def prune(engine: Engine, older_than_days: float, *, now: datetime.datetime | None = None) -> int:
    """Remove the content of decisions created more than ``older_than_days`` ago; how many were pruned."""
    if older_than_days < 0:
        raise ValueError("older_than_days must not be negative")
    now = now or datetime.datetime.now(datetime.UTC)
    cutoff = now - datetime.timedelta(days=older_than_days)
    statement = (
        update(decisions)
        .where(and_(decisions.c.created_at < cutoff, decisions.c.pruned_at.is_(None)))
        .values(payload=None, input_facts="", output_json="", parameters="", pruned_at=now)
    )
    with unavailable_on_error("pruning decisions"), engine.begin() as conn:
        return int(conn.execute(statement).rowcount or 0)


def tombstone(engine: Engine, decision_id: str) -> Tombstone | None:
    """The tombstone of a pruned decision, or ``None`` (never recorded, or not pruned)."""
    with unavailable_on_error("reading a decision"), engine.connect() as conn:
        row = conn.execute(
            select(decisions.c.decision_id, decisions.c.created_at, decisions.c.pruned_at).where(
                and_(decisions.c.decision_id == decision_id, decisions.c.pruned_at.is_not(None))
            )
        ).first()
    if row is None:
        return None
    return Tombstone(str(row[0]), _utc(row[1]), _utc(row[2]))


def stored_bytes(engine: Engine) -> tuple[int, int]:
    """(decisions with content, total bytes of their stored columns): for the storage benchmark."""
    c = decisions.c
    size = (
        func.length(c.payload)
        + func.length(c.parameters)
        + func.length(c.input_facts)
        + func.length(c.output_json)
        + func.length(c.decision_id)
        + func.length(c.caller_key_id)
        + func.length(c.status)
        + func.length(c.engine_version)
        + func.length(c.ruleset_name)
        + func.length(c.ruleset_version)
        + func.length(c.ruleset_hash)
        + func.length(c.output_sha256)
        + 16
    )
    with engine.connect() as conn:
        n, total = conn.execute(select(func.count(), func.sum(size)).where(c.pruned_at.is_(None))).one()
    return int(n), int(total or 0)
