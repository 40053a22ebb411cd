"""The decision log: every issued decision, append-only, returned exactly as it was issued.

Its content (input, parameters, decision) is kept compressed in one payload (``store/replay.py``);
retention (``store/retention.py``) may later remove the content and keep a tombstone row."""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

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

MAX_GROUP = 64
"""The most decisions the writer thread commits in one transaction."""


@dataclass(frozen=True)
class _Queued:
    record: DecisionRecord
    future: Future[None]
    queued_at: float


class DecisionLog:
    """Append and read decision records.

    ``append`` commits one record in its own transaction. ``submit`` hands a record to the log's
    writer thread, which commits the records queued meanwhile together (group commit): under load
    one transaction, one fsync and one thread hand-over serve many requests, and each future
    completes only once its record is committed, so nothing is issued before it is durable.
    """

    def __init__(self, engine: Engine, *, serialise_writes: bool = False, lock_timeout_s: float = 2.0) -> None:
        self._engine = engine
        self.rulesets = RulesetArchive(engine)
        # SQLite has one write lock per database; threads that collide on it back off in sleeps of
        # up to 100 ms (its busy handler). Queueing writers on a Python lock instead keeps latency flat.
        # The wait for it is bounded like the database's own lock wait: a stalled writer fails the
        # requests queued behind it (503) instead of hanging them.
        self._write_lock = threading.Lock() if serialise_writes else None
        self._lock_timeout_s = lock_timeout_s
        self._queue: queue.SimpleQueue[_Queued | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._writer_start = threading.Lock()

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
        self._insert([self._row(record)])

    def submit(self, record: DecisionRecord) -> Future[None]:
        """Queue ``record`` for the writer thread; the future completes once it is committed.

        It fails with ``StoreUnavailable`` when the database is unavailable, or when the record has
        waited in the queue longer than the lock timeout (a stalled writer fails the requests queued
        behind it, as a held write lock does, and those records are not written). A future
        cancelled before the writer takes its record is not written either.
        """
        future: Future[None] = Future()
        if self._writer is None:
            self._start_writer()
        self._queue.put(_Queued(record, future, time.monotonic()))
        return future

    def close(self) -> None:
        """Stop the writer thread once the records already queued are written."""
        with self._writer_start:
            writer, self._writer = self._writer, None  # a later submit starts a new writer
        if writer is not None:
            self._queue.put(None)
            writer.join(timeout=self._lock_timeout_s + 5)

    def _start_writer(self) -> None:
        with self._writer_start:
            if self._writer is None:
                writer = threading.Thread(target=self._write_queued, name="decision-log-writer", daemon=True)
                writer.start()
                self._writer = writer

    def _write_queued(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            while len(group) < MAX_GROUP:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:  # close: write this group, then stop
                    self._queue.put(None)
                    break
                group.append(item)
            self._commit_group(group)

    def _commit_group(self, group: Sequence[_Queued]) -> None:
        now = time.monotonic()
        live: list[_Queued] = []
        for item in group:
            if not item.future.set_running_or_notify_cancel():
                continue
            if now - item.queued_at > self._lock_timeout_s:
                item.future.set_exception(
                    StoreUnavailable(
                        "database unavailable while recording a decision",
                        [Problem("database", "the write queue is stalled")],
                    )
                )
                continue
            live.append(item)
        if not live:
            return
        try:
            self._insert([self._row(item.record) for item in live])
        except Exception as exc:  # every failure goes to the waiting requests and never kills the writer
            if len(live) == 1:
                live[0].future.set_exception(exc)
                return
            # One record's fault must not fail the others: write each on its own, and report each outcome.
            for item in live:
                try:
                    self._insert([self._row(item.record)])
                except Exception as one:  # as above, for this record alone
                    item.future.set_exception(one)
                else:
                    item.future.set_result(None)
            return
        for item in live:
            item.future.set_result(None)

    def _row(self, record: DecisionRecord) -> dict[str, Any]:
        codec = self.rulesets.codec(record.ruleset_hash)
        payload = pack(
            Payload(record.input_facts, record.parameters, record.output_json, record.evaluated_facts),
            None if codec else self.rulesets.zdict(record.ruleset_hash),  # zlib's only without zstd's
            codec,
        )
        return {
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
        }

    def _insert(self, rows: list[dict[str, Any]]) -> None:
        with (
            self.writing("recording a decision"),
            unavailable_on_error("recording a decision"),
            self._engine.begin() as conn,
        ):
            conn.execute(_INSERT, rows[0] if len(rows) == 1 else rows)

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
