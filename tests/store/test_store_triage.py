"""The worklist columns, triage outcomes and web sessions on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import datetime
import json
import uuid

import pytest
from sqlalchemy import select

from painpath.store import DecisionRecord, Store, open_store
from painpath.store.database import create_db_engine
from painpath.store.migrate import upgrade
from painpath.store.sessions import SessionRecord
from painpath.store.tables import decisions
from painpath.store.triage import DecisionIndex, TriageOutcomeRecord, UnknownDecision, WorklistQuery

T0 = datetime.datetime(2026, 11, 2, 9, 0, tzinfo=datetime.UTC)


def decision(minutes: int, index: DecisionIndex) -> DecisionRecord:
    return DecisionRecord(
        decision_id=str(uuid.uuid4()),
        created_at=T0 + datetime.timedelta(minutes=minutes),
        caller_key_id="k0123456789abcdef",
        status="ok",
        engine_version="0.1.0",
        ruleset_name="painpath-core",
        ruleset_version="0.1.0",
        ruleset_hash="ab" * 32,
        parameters="{}",
        input_facts="{}",
        output_json="{}",
        index=index,
    )


def outcome(decision_id: str, what: str, minutes: int, **fields: str) -> TriageOutcomeRecord:
    return TriageOutcomeRecord(
        outcome_id=str(uuid.uuid4()),
        decision_id=decision_id,
        outcome=what,
        service=fields.get("service"),
        setting=fields.get("setting"),
        redirected_to=fields.get("redirected_to"),
        returned_reason=fields.get("returned_reason"),
        advice="no_specific_advice",
        departs_from_advice=False,
        reason_text=None,
        actor_key_id="ktriage",
        created_at=T0 + datetime.timedelta(hours=1, minutes=minutes),
    )


EMERGENCY = DecisionIndex("p-1", "emergency", 0, "present", "undetermined", None, ("imaging",))
ROUTINE = DecisionIndex("p-2", "routine", 3, "present", "recommended", "outpatient", ("pmp",))
CLEAR = DecisionIndex("p-3", None, 4, "absent", "recommended", "residential", ("pain_clinic", "pmp"))


@pytest.fixture
def filled(store: Store) -> tuple[Store, list[DecisionRecord]]:
    records = [decision(i, idx) for i, idx in enumerate([CLEAR, EMERGENCY, ROUTINE, CLEAR, EMERGENCY])]
    for r in records:
        store.decisions.append(r)
    return store, records


def ids(store: Store, **query: object) -> list[str]:
    return [r.decision_id for r in store.triage.worklist(WorklistQuery(**query)).rows]  # type: ignore[arg-type]


def test_the_worklist_is_newest_first_and_filters(filled: tuple[Store, list[DecisionRecord]]) -> None:
    store, records = filled
    newest = [r.decision_id for r in reversed(records)]
    assert ids(store) == newest
    assert ids(store, sort="oldest") == newest[::-1]
    assert ids(store, urgency=("emergency",)) == [records[4].decision_id, records[1].decision_id]
    assert ids(store, urgency=("none",)) == [records[3].decision_id, records[0].decision_id]
    assert ids(store, pmp_status=("recommended",), red_flag_status=("present",)) == [records[2].decision_id]
    assert ids(store, referral=("pmp",)) == [records[3].decision_id, records[2].decision_id, records[0].decision_id]
    assert ids(store, since=T0 + datetime.timedelta(minutes=3)) == newest[:2]
    assert ids(store, until=T0 + datetime.timedelta(minutes=1)) == [records[0].decision_id]
    by_urgency = ids(store, sort="urgency")
    assert by_urgency[:2] == [records[4].decision_id, records[1].decision_id]
    assert by_urgency[2] == records[2].decision_id


@pytest.mark.parametrize("sort", ["newest", "oldest", "urgency"])
def test_pages_follow_each_other_without_gaps_or_repeats(filled: tuple[Store, list[DecisionRecord]], sort: str) -> None:
    store, _records = filled
    everything = ids(store, sort=sort, limit=100)
    seen: list[str] = []
    after = None
    while True:
        page = store.triage.worklist(WorklistQuery(sort=sort, limit=2, after=after))  # type: ignore[arg-type]
        seen += [r.decision_id for r in page.rows]
        if page.next_key is None:
            break
        after = page.next_key
    assert seen == everything


def test_outcomes_are_appended_and_the_latest_is_the_state(filled: tuple[Store, list[DecisionRecord]]) -> None:
    store, records = filled
    target = records[1].decision_id
    store.triage.append(outcome(target, "returned", 0, returned_reason="information_missing"))
    store.triage.append(outcome(target, "redirected", 5, redirected_to="emergency_department"))
    history = store.triage.history(target)
    assert [h.outcome for h in history] == ["returned", "redirected"]
    row = store.triage.row(target)
    assert row is not None and row.state == "redirected" and row.latest is not None
    assert row.latest.redirected_to == "emergency_department"
    assert ids(store, state=("redirected",)) == [target]
    assert target not in ids(store, state=("new",))
    assert len(ids(store, state=("new",))) == len(records) - 1


def test_an_outcome_for_an_unknown_decision_is_refused(store: Store) -> None:
    with pytest.raises(UnknownDecision):
        store.triage.append(outcome(str(uuid.uuid4()), "accepted", 0, service="pmp", setting="outpatient"))


def test_sessions_open_touch_expire_and_close(store: Store) -> None:
    rec = SessionRecord("ab" * 32, "k0123456789abcdef", "cd" * 16, T0, T0)
    store.sessions.add(rec)
    assert store.sessions.get(rec.session_sha256) == rec
    later = T0 + datetime.timedelta(minutes=10)
    store.sessions.touch(rec.session_sha256, later)
    got = store.sessions.get(rec.session_sha256)
    assert got is not None and got.last_seen_at == later
    assert store.sessions.remove_idle(T0 + datetime.timedelta(minutes=5)) == 0
    assert store.sessions.remove_idle(T0 + datetime.timedelta(minutes=15)) == 1
    assert store.sessions.get(rec.session_sha256) is None


def test_migration_0003_fills_the_worklist_columns_of_older_decisions(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        upgrade(engine, "0002")
        output = {
            "decision_id": "d",
            "status": "ok",
            "patient_id": "NHS-123",
            "red_flags": {"status": "present", "findings": [{"urgency": "urgent"}, {"urgency": "emergency"}]},
            "safety_alerts": [],
            "pmp": {"status": "not_yet", "setting": None},
        }
        facts = {"care": {"referrals_requested": ["pmp", "imaging"]}}
        legacy = {
            "decision_id": str(uuid.uuid4()),
            "created_at": T0,
            "caller_key_id": "k",
            "status": "ok",
            "engine_version": "0",
            "ruleset_name": "r",
            "ruleset_version": "0",
            "ruleset_hash": "0" * 64,
            "parameters": "{}",
            "input_facts": json.dumps(facts),
            "output_json": json.dumps(output),
            "output_sha256": "0" * 64,
        }
        legacy_table = decisions.c
        with engine.begin() as conn:
            conn.execute(decisions.insert().values({k: legacy[k] for k in legacy if k in legacy_table}))
    finally:
        engine.dispose()
    store = open_store(database_url)
    try:
        with store.engine.connect() as conn:
            row = conn.execute(select(decisions).where(decisions.c.decision_id == legacy["decision_id"])).mappings()
            got = dict(next(iter(row)))
        assert got["patient_ref"] == "NHS-123"
        assert (got["highest_urgency"], got["urgency_rank"]) == ("emergency", 0)
        assert (got["red_flag_status"], got["pmp_status"], got["pmp_setting"]) == ("present", "not_yet", None)
        assert got["referrals_requested"] == "imaging pmp"
    finally:
        store.close()
