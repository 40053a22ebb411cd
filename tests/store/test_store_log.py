"""The decision log and key store on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import datetime
import hashlib
import uuid

import pytest
from sqlalchemy.exc import IntegrityError

from painpath.store import ApiKeyRecord, DecisionRecord, Store, StoreUnavailable, open_store
from painpath.store.migrate import current_revision, head_revision, schema_drift


def record(output: str = '{"decision_id":"x"}') -> DecisionRecord:
    return DecisionRecord(
        decision_id=str(uuid.uuid4()),
        created_at=datetime.datetime(2026, 11, 2, 9, 30, 1, 250000, datetime.UTC),
        caller_key_id="k0123456789abcdef",
        status="ok",
        engine_version="0.1.0",
        ruleset_name="painpath-core",
        ruleset_version="0.1.0",
        ruleset_hash="ab" * 32,
        parameters='{"p":{"value":14}}',
        input_facts='{"red_flags": {"saddle_anaesthesia": true}}',
        output_json=output,
    )


def test_migrations_produce_exactly_the_declared_schema(store: Store) -> None:
    assert current_revision(store.engine) == head_revision()
    assert schema_drift(store.engine) == []


def test_opening_again_is_idempotent_and_not_a_creation(database_url: str) -> None:
    first = open_store(database_url)
    first.close()
    second = open_store(database_url)
    try:
        assert first.created
        assert not second.created
        assert current_revision(second.engine) == head_revision()
    finally:
        second.close()


def test_a_decision_comes_back_exactly_as_stored(store: Store) -> None:
    # Non-ASCII text, escapes and key order must survive byte for byte.
    output = '{"z":1,"a":"Schmerz – café ✓","esc":"line\\nbreak \\"q\\"","n":1.50}'
    rec = record(output)
    store.decisions.append(rec)
    assert store.decisions.output(rec.decision_id) == output
    got = store.decisions.get(rec.decision_id)
    assert got == rec
    assert got.output_sha256 == hashlib.sha256(output.encode()).hexdigest()
    assert store.decisions.output(str(uuid.uuid4())) is None
    assert store.decisions.count() == 1


def test_decision_ids_are_unique(store: Store) -> None:
    rec = record()
    store.decisions.append(rec)
    with pytest.raises(IntegrityError):
        store.decisions.append(rec)
    assert store.decisions.count() == 1


def test_keys_are_stored_hashed_listed_and_revoked(store: Store) -> None:
    now = datetime.datetime.now(datetime.UTC)
    key = ApiKeyRecord(key_id="k00112233aabbccdd", name="ward 7", role="triage", token_sha256="cd" * 32, created_at=now)
    store.keys.add(key)
    assert store.keys.get("k00112233aabbccdd") == ApiKeyRecord(**{**key.__dict__, "created_at": key.created_at})
    assert [k.key_id for k in store.keys.list()] == ["k00112233aabbccdd"]
    assert store.keys.revoke("k00112233aabbccdd", now)
    assert not store.keys.revoke("k00112233aabbccdd", now), "revoking twice reports nothing to revoke"
    revoked = store.keys.get("k00112233aabbccdd")
    assert revoked is not None and not revoked.active
    assert store.keys.get("knothere") is None


def test_an_unreachable_database_is_reported_not_raised_raw() -> None:
    with pytest.raises(StoreUnavailable) as info:
        open_store("postgresql://nobody:secret@127.0.0.1:9/none")
    assert "secret" not in str(info.value)
