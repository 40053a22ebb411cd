"""Decisions that replay: compact payloads, archived rulesets, re-derived traces and retention."""

from __future__ import annotations

import datetime
import json
import shutil
import uuid
from pathlib import Path

import orjson
import pytest

from painpath.audit.synth import cohort
from painpath.engine import Engine
from painpath.engine.render import Trace, decision_to_dict
from painpath.facts import parse_facts_json
from painpath.paths import default_rules_dir
from painpath.replay import Replayer, ReplayUnavailable, archive_ruleset
from painpath.store import DecisionRecord, Store
from painpath.store.replay import Payload, ZstdCodec, pack, unpack
from painpath.store.retention import prune, retention_days, tombstone
from painpath.store.tables import decisions, rulesets

PATIENT = next(iter(cohort(1, 5)))  # SYNTHETIC


def _issue(engine: Engine, raw: bytes, trace: Trace, key: str = "kTEST") -> tuple[DecisionRecord, bytes]:
    decision = engine.evaluate(parse_facts_json(raw))
    document = decision_to_dict(decision, trace=trace)
    body = orjson.dumps(document)
    record = DecisionRecord(
        decision_id=decision.decision_id,
        created_at=datetime.datetime.fromisoformat(decision.created_at),
        caller_key_id=key,
        status=decision.status,
        engine_version=decision.engine_version,
        ruleset_name=decision.ruleset_name,
        ruleset_version=decision.ruleset_version,
        ruleset_hash=decision.ruleset_hash,
        parameters=orjson.dumps(document["parameters"]).decode(),
        input_facts=raw.decode(),
        output_json=body.decode(),
    )
    return record, body


def test_payloads_round_trip_plain_and_with_a_dictionary() -> None:
    payload = Payload('{"a": 1}', '{"p":{"value":14}}', '{"z":1,"a":"café ✓","n":1.50}', '{"f":true}')
    assert unpack(pack(payload)) == payload
    zdict = b'{"z":1,"a":"caf' * 100
    blob = pack(payload, zdict)
    assert blob[:1] == b"D"
    assert unpack(blob, zdict) == payload
    with pytest.raises(ValueError, match="dictionary"):
        unpack(blob)
    codec = ZstdCodec(b'{"o":"{\\"z\\":1,\\"a\\":\\"caf' * 100)
    blob = pack(payload, zdict, codec)
    assert blob[:1] == b"Z"  # zstd with the ruleset's dictionary wins over zlib's
    assert unpack(blob, codec=codec) == payload
    with pytest.raises(ValueError, match="zstd dictionary"):
        unpack(blob, zdict)


@pytest.fixture
def rules_copy(tmp_path: Path) -> Path:
    """A copy of the bundled rules and guidelines, to change without touching the repository."""
    root = tmp_path / "bundle"
    shutil.copytree(default_rules_dir(), root / "rules")
    shutil.copytree(default_rules_dir().parent / "guidelines", root / "guidelines")
    return root / "rules"


def test_a_decision_made_with_ruleset_a_rederives_identically_after_upgrading_to_b(
    store: Store, rules_copy: Path
) -> None:
    engine_a = Engine.from_directory(rules_copy)
    assert archive_ruleset(store, engine_a)
    assert not archive_ruleset(store, engine_a)  # once per content hash
    raw = json.dumps(PATIENT).encode()
    full_record, full_body = _issue(engine_a, raw, "full")
    summary_record, _ = _issue(engine_a, raw, "summary")
    for rec in (full_record, summary_record):
        store.decisions.append(rec)

    # upgrade: bump the ruleset's version and change a rule (its version and its reason)
    header = rules_copy / "ruleset.yaml"
    header.write_text(header.read_text(encoding="utf-8").replace("\nversion: ", "\nversion: 9", 1), encoding="utf-8")
    rule = rules_copy / "pmp" / "decision" / "no_significant_impact.yaml"
    text = rule.read_text(encoding="utf-8").replace("version: 1.0.0", "version: 1.1.0")
    rule.write_text(text.replace("so a PMP is not needed", "so a PMP is not indicated now"), encoding="utf-8")
    engine_b = Engine.from_directory(rules_copy)
    assert engine_b.ruleset.content_hash != engine_a.ruleset.content_hash
    assert archive_ruleset(store, engine_b)
    shutil.rmtree(rules_copy)  # ruleset A now exists only in the decision log's archive

    replayer = Replayer(engine_b, store.decisions.rulesets)
    got = store.decisions.get(full_record.decision_id)
    assert got == full_record
    assert replayer.rederive(got, "full") == full_body  # byte for byte, id and created_at included
    summary = store.decisions.get(summary_record.decision_id)
    assert summary is not None
    rederived = orjson.loads(replayer.rederive(summary, "full"))
    assert rederived["decision_id"] == summary_record.decision_id
    assert rederived["ruleset"]["content_hash"] == engine_a.ruleset.content_hash
    assert rederived["trace"] == "full" and all("because" in r for r in rederived["rules"])


def test_a_decision_that_does_not_reproduce_is_refused(store: Store) -> None:
    engine = Engine.from_directory(default_rules_dir())
    record, _ = _issue(engine, json.dumps(PATIENT).encode(), "summary")
    tampered = orjson.loads(record.output_json)
    tampered["pmp"]["status"] = "recommended" if tampered["pmp"]["status"] != "recommended" else "not_yet"
    bad = DecisionRecord(**{**record.__dict__, "output_json": orjson.dumps(tampered).decode()})
    with pytest.raises(ReplayUnavailable, match="did not reproduce"):
        Replayer(engine, store.decisions.rulesets).rederive(bad)
    unknown = DecisionRecord(**{**record.__dict__, "ruleset_hash": "cd" * 32})
    with pytest.raises(ReplayUnavailable, match="not in the decision log's archive"):
        Replayer(engine, store.decisions.rulesets).rederive(unknown)


def test_stored_decisions_are_compact(store: Store) -> None:
    engine = Engine.from_directory(default_rules_dir())
    archive_ruleset(store, engine)
    record, body = _issue(engine, json.dumps(PATIENT).encode(), "summary")
    store.decisions.append(record)
    with store.engine.connect() as conn:
        row = conn.execute(decisions.select().where(decisions.c.decision_id == record.decision_id)).mappings().one()
    assert row["output_json"] == row["input_facts"] == row["parameters"] == ""
    assert row["payload"][:1] == b"Z"
    assert len(row["payload"]) < len(body) / 8, (len(row["payload"]), len(body))
    assert store.decisions.output(record.decision_id) == body.decode()


def test_issue12_payloads_of_an_older_format_stay_readable_when_the_ruleset_gains_a_zstd_dictionary(
    store: Store,
) -> None:
    """A log written before zstd: its ruleset was archived with a zlib dictionary only, and its payloads
    are ``D``. Starting the service again adds the zstd dictionary; old and new payloads both read back."""
    engine = Engine.from_directory(default_rules_dir())
    rs = engine.ruleset
    archive = store.decisions.rulesets
    assert archive.archive(rs.content_hash, rs.name, rs.version, {"rules/ruleset.yaml": "x"})  # no zstd dictionary
    zdict = b"".join(_issue(engine, json.dumps(p).encode(), "summary")[1] for p in cohort(2, 9))[-32768:]
    with store.engine.begin() as conn:
        conn.execute(rulesets.update().where(rulesets.c.content_hash == rs.content_hash).values(zdict=zdict))
    archive._forget(rs.content_hash)  # a fresh process would read the row as it is now
    assert archive.kept(rs.content_hash) == (True, False)
    old, old_body = _issue(engine, json.dumps(PATIENT).encode(), "summary")
    store.decisions.append(old)

    assert not archive_ruleset(store, engine)  # already archived: not added again, but given its zstd dictionary
    assert archive.kept(rs.content_hash) == (True, True)
    new, new_body = _issue(engine, json.dumps(PATIENT).encode(), "full")
    store.decisions.append(new)
    with store.engine.connect() as conn:
        rows = conn.execute(decisions.select().with_only_columns(decisions.c.decision_id, decisions.c.payload))
        kinds: dict[str, bytes] = {str(row[0]): bytes(row[1]) for row in rows}
    assert kinds[old.decision_id][:1] == b"D" and kinds[new.decision_id][:1] == b"Z"
    assert store.decisions.output(old.decision_id) == old_body.decode()
    assert store.decisions.output(new.decision_id) == new_body.decode()


def test_pruning_keeps_a_tombstone(store: Store) -> None:
    engine = Engine.from_directory(default_rules_dir())
    old, _ = _issue(engine, json.dumps(PATIENT).encode(), "summary")
    old = DecisionRecord(**{**old.__dict__, "created_at": datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)})
    new, _ = _issue(engine, json.dumps(PATIENT).encode(), "summary")
    store.decisions.append(old)
    store.decisions.append(new)
    assert prune(store.engine, 30) == 1
    assert prune(store.engine, 30) == 0
    assert store.decisions.get(old.decision_id) is None
    assert store.decisions.output(old.decision_id) is None
    gone = tombstone(store.engine, old.decision_id)
    assert gone is not None and gone.created_at == old.created_at and gone.decision_id == old.decision_id
    assert tombstone(store.engine, new.decision_id) is None
    assert tombstone(store.engine, str(uuid.uuid4())) is None
    assert store.decisions.output(new.decision_id) == new.output_json
    assert store.decisions.count() == 2  # the tombstone row stays


def test_retention_days_setting() -> None:
    assert retention_days({}) is None
    assert retention_days({"PAINPATH_RETENTION_DAYS": "365"}) == 365
    with pytest.raises(ValueError, match="whole number"):
        retention_days({"PAINPATH_RETENTION_DAYS": "0"})


def test_issue12_a_summary_issued_before_the_lean_trace_still_rederives(store: Store) -> None:
    """Summary decisions issued before 2026-12-02 also listed undetermined rules with their missing
    facts; their full trace is still re-derived (and a tampered one still refused)."""
    engine = Engine.from_directory(default_rules_dir())
    archive_ruleset(store, engine)
    raw = json.dumps(PATIENT).encode()
    record, _ = _issue(engine, raw, "summary")
    issued = orjson.loads(record.output_json)
    full = orjson.loads(_issue(engine, raw, "full")[1])
    fired = {r["id"]: r for r in issued["rules"]}
    issued["rules"] = [  # the old summary, built from the full trace
        fired[r["id"]]
        if r["status"] == "fired"
        else {k: r[k] for k in ("id", "version", "stratum", "status", "missing")}
        for r in full["rules"]
        if r["status"] != "not_fired"
    ]
    assert any(r["status"] == "undetermined" for r in issued["rules"])
    old = DecisionRecord(**{**record.__dict__, "output_json": orjson.dumps(issued).decode()})
    store.decisions.append(old)
    got = store.decisions.get(old.decision_id)
    assert got is not None
    rederived = orjson.loads(Replayer(engine, store.decisions.rulesets).rederive(got, "full"))
    assert rederived["decision_id"] == old.decision_id and rederived["trace"] == "full"
    issued["rules"][0] = {**issued["rules"][0], "version": "0.0.1"}
    tampered = DecisionRecord(**{**old.__dict__, "output_json": orjson.dumps(issued).decode()})
    with pytest.raises(ReplayUnavailable, match="did not reproduce"):
        Replayer(engine, store.decisions.rulesets).rederive(tampered)
