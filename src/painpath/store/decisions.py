"""The decision log: every issued decision, append-only, returned exactly as it was issued.

Its content (input, parameters, decision) is kept compressed in one payload (``store/replay.py``);
retention (``store/retention.py``) may later remove the content and keep a tombstone row."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import Engine, func, insert, select

from painpath.errors import Problem
from painpath.store.database import StoreUnavailable, unavailable_on_error
from painpath.store.replay import Payload, RulesetArchive, pack, unpack
from painpath.store.tables import decisions
from painpath.store.triage import DecisionIndex


@dataclass(frozen=True)
class DecisionRecord:
    """One issued decision. ``caller_key_id`` identifies the API key, never the patient."""

    decision_id: str
    created_at: datetime.datetime
    caller_key_id: str
    status: str
    engine_version: str
    ruleset_name: str
    ruleset_version: str
    ruleset_hash: str
    parameters: str
    """JSON text: each parameter's value, source and citations."""
    input_facts: str
    """The request body exactly as received."""
    output_json: str
    """The decision JSON exactly as issued (the API serves these bytes again)."""
    index: DecisionIndex = field(default_factory=DecisionIndex)
    """The worklist's columns, computed from the Decision (empty for records made without one)."""
    evaluated_facts: str | None = None
    """The facts JSON evaluated, when not ``input_facts`` itself (a FHIR Bundle is mapped first)."""

    @property
    def output_sha256(self) -> str:
        return hashlib.sha256(self.output_json.encode("utf-8")).hexdigest()


def _utc(value: datetime.datetime) -> datetime.datetime:
    # SQLite hands timestamps back naive; they were written in UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)


_INSERT = insert(decisions)  # built once: per-call statement construction costs more than the insert


class DecisionLog:
    """Append and read decision records; each append is its own committed transaction."""

    def __init__(self, engine: Engine, *, serialise_writes: bool = False, lock_timeout_s: float = 2.0) -> None:
        self._engine = engine
        self.rulesets = RulesetArchive(engine)
        # SQLite has one write lock per database; threads that collide on it back off in sleeps of
        # up to 100 ms (its busy handler). Queueing writers on a Python lock instead keeps latency flat.
        # The wait for it is bounded like the database's own lock wait: a stalled writer fails the
        # requests queued behind it (503) instead of hanging them.
        self._write_lock = threading.Lock() if serialise_writes else None
        self._lock_timeout_s = lock_timeout_s

    @contextlib.contextmanager
    def writing(self, action: str) -> Iterator[None]:
        """Hold the write queue (if writes are serialised) for ``action``; ``StoreUnavailable`` if it stays busy."""
        if self._write_lock is None:
            yield
            return
        if not self._write_lock.acquire(timeout=self._lock_timeout_s):
            raise StoreUnavailable(
                f"database unavailable while {action}", [Problem("database", "the write queue is stalled")]
            )
        try:
            yield
        finally:
            self._write_lock.release()

    def append(self, record: DecisionRecord) -> None:
        """Commit ``record``; when this returns the decision is durable. Raises ``StoreUnavailable``."""
        codec = self.rulesets.codec(record.ruleset_hash)
        payload = pack(
            Payload(record.input_facts, record.parameters, record.output_json, record.evaluated_facts),
            None if codec else self.rulesets.zdict(record.ruleset_hash),  # zlib's only without zstd's
            codec,
        )
        with (
            self.writing("recording a decision"),
            unavailable_on_error("recording a decision"),
            self._engine.begin() as conn,
        ):
            conn.execute(
                _INSERT,
                {
                    "decision_id": record.decision_id,
                    "created_at": record.created_at,
                    "caller_key_id": record.caller_key_id,
                    "status": record.status,
                    "engine_version": record.engine_version,
                    "ruleset_name": record.ruleset_name,
                    "ruleset_version": record.ruleset_version,
                    "ruleset_hash": record.ruleset_hash,
                    "parameters": "",
                    "input_facts": "",
                    "output_json": "",
                    "output_sha256": record.output_sha256,
                    **record.index.columns(),
                    "payload": payload,
                },
            )

    def output(self, decision_id: str) -> str | None:
        """The decision JSON exactly as issued, or ``None`` if no such decision was recorded (or it was pruned)."""
        record = self.get(decision_id)
        return None if record is None else record.output_json

    def get(self, decision_id: str) -> DecisionRecord | None:
        """The whole record, or ``None`` (also for a pruned decision: see ``retention.tombstone``)."""
        with unavailable_on_error("reading a decision"), self._engine.connect() as conn:
            row = conn.execute(select(decisions).where(decisions.c.decision_id == decision_id)).mappings().first()
        if row is None or row["pruned_at"] is not None:
            return None
        if row["payload"] is not None:
            blob, ruleset_hash = row["payload"], row["ruleset_hash"]
            zstd = blob[:1] == b"Z"
            content = unpack(
                blob,
                None if zstd else self.rulesets.zdict(ruleset_hash),
                self.rulesets.codec(ruleset_hash) if zstd else None,
            )
        else:  # written before migration 0005
            content = Payload(row["input_facts"], row["parameters"], row["output_json"])
        return DecisionRecord(
            decision_id=row["decision_id"],
            created_at=_utc(row["created_at"]),
            caller_key_id=row["caller_key_id"],
            status=row["status"],
            engine_version=row["engine_version"],
            ruleset_name=row["ruleset_name"],
            ruleset_version=row["ruleset_version"],
            ruleset_hash=row["ruleset_hash"],
            parameters=content.parameters,
            input_facts=content.input_facts,
            output_json=content.output_json,
            evaluated_facts=content.evaluated_facts,
        )

    def count(self) -> int:
        """How many decisions are recorded."""
        with unavailable_on_error("counting decisions"), self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(decisions)).scalar_one())
