"""Issue 12: the decision log's writer thread commits the records queued together (group commit).

Real SQLite and PostgreSQL. A future completes only once its record is committed; one record's
fault fails that record alone; a stalled write queue fails what waits behind it (503 upstream)
without writing it later; closing the log writes what was already queued.
"""

from __future__ import annotations

import threading
import uuid
from concurrent.futures import wait

import pytest
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from painpath.store import Store, StoreUnavailable, open_store
from painpath.store.decisions import MAX_GROUP
from painpath.store.testing import sqlite_url
from tests.store.test_store_log import record


def commits(store: Store) -> list[int]:
    seen: list[int] = []
    event.listen(store.engine, "commit", lambda _conn: seen.append(1))
    return seen


def test_queued_records_are_committed_together_and_each_future_waits_for_its_commit(store: Store) -> None:
    counted = commits(store)
    gate, entered = threading.Event(), threading.Event()

    def hold_first_insert(*_args: object) -> None:
        if not entered.is_set():
            entered.set()
            gate.wait(30)

    event.listen(store.engine, "before_cursor_execute", hold_first_insert)
    records = [record(f'{{"n":{n}}}') for n in range(40)]
    futures = [store.decisions.submit(records[0])]
    assert entered.wait(10), "the writer thread did not start writing"
    # the writer is busy with the first record: everything submitted now waits for the next group
    futures += [store.decisions.submit(r) for r in records[1:]]
    assert not any(f.done() for f in futures), "a future completed before its record was committed"
    gate.set()
    done, _ = wait(futures, timeout=30)
    assert len(done) == len(records)
    assert all(f.exception() is None for f in futures)
    assert store.decisions.count() == len(records)
    for r in records:
        assert store.decisions.output(r.decision_id) == r.output_json
    assert len(counted) == 2, f"{len(counted)} commits for {len(records)} records: expected the first, then one group"


def test_one_faulty_record_fails_alone(store: Store) -> None:
    good = [record(f'{{"n":{n}}}') for n in range(5)]
    dup = record('{"dup":1}')
    store.decisions.append(dup)
    futures = [store.decisions.submit(r) for r in [good[0], good[1], dup, good[2], good[3], good[4]]]
    wait(futures, timeout=30)
    assert isinstance(futures[2].exception(), IntegrityError)
    assert [f.exception() for i, f in enumerate(futures) if i != 2] == [None] * 5
    assert store.decisions.count() == 6
    assert all(store.decisions.output(r.decision_id) == r.output_json for r in good)


def test_a_stalled_queue_fails_the_waiting_records_and_does_not_write_them_later(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = open_store(sqlite_url(tmp_path / "data"), busy_timeout_ms=300)
    try:
        rec = record()
        with store.decisions.writing("stalling the queue"):
            future = store.decisions.submit(rec)
            with pytest.raises(StoreUnavailable, match="unavailable while recording a decision"):
                future.result(timeout=10)
        # a record queued behind the stall and failed is never written afterwards
        after = record('{"after":1}')
        store.decisions.submit(after).result(timeout=10)
        assert store.decisions.output(rec.decision_id) is None
        assert store.decisions.count() == 1
    finally:
        store.close()


def test_closing_writes_what_was_queued(database_url: str) -> None:
    store = open_store(database_url)
    records = [record(f'{{"n":{n}}}') for n in range(MAX_GROUP + 10)]
    futures = [store.decisions.submit(r) for r in records]
    store.close()
    assert all(f.done() and f.exception() is None for f in futures)
    reopened = open_store(database_url)
    try:
        assert reopened.decisions.count() == len(records)
        assert reopened.decisions.output(str(uuid.uuid4())) is None
    finally:
        reopened.close()
