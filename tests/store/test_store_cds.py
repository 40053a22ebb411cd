"""CDS Hooks cards and feedback in the decision log, on a real SQLite file and a real PostgreSQL server."""

from __future__ import annotations

import datetime
import uuid

import pytest

from painpath.store import CardRecord, FeedbackRecord, Store, UnknownCards, open_store

OWNER = "k0123456789abcdef"
WHEN = datetime.datetime(2026, 11, 21, 10, 5, 31, tzinfo=datetime.UTC)


def card(rule_id: str | None = "BP_QS155_2_IMAGING_NOT_MET") -> CardRecord:
    return CardRecord(
        card_uuid=str(uuid.uuid4()),
        decision_id=str(uuid.uuid4()),
        service_id="painpath-referral-sign",
        hook_instance=str(uuid.uuid4()),
        rule_id=rule_id,
        rule_version="1.0.0" if rule_id else None,
        indicator="warning",
        created_at=WHEN,
        caller_key_id=OWNER,
    )


def feedback(card_uuid: str, outcome: str = "overridden", **changes: object) -> FeedbackRecord:
    values: dict[str, object] = {
        "feedback_id": str(uuid.uuid4()),
        "card_uuid": card_uuid,
        "service_id": "painpath-referral-sign",
        "outcome": outcome,
        "accepted_suggestions": (),
        "override_system": "http://terminology.hl7.org/CodeSystem/non-adherence-reason-codes",
        "override_code": "patient-refuses",
        "override_comment": "wants the scan privately",
        "outcome_timestamp": WHEN,
        "received_at": WHEN + datetime.timedelta(seconds=1),
        "caller_key_id": "k0123456789abcdef",
    }
    values.update(changes)
    return FeedbackRecord(**values)  # type: ignore[arg-type]


def test_feedback_comes_back_linked_to_the_cards_rule(store: Store) -> None:
    issued = card()
    store.cds.append_cards([issued, card(rule_id=None)])
    accepted = feedback(
        issued.card_uuid,
        "accepted",
        accepted_suggestions=("6bbf2652-d392-45b1-a18a-bf9f22085832",),
        override_system=None,
        override_code=None,
        override_comment=None,
        received_at=WHEN + datetime.timedelta(seconds=2),
    )
    store.cds.append_feedback([feedback(issued.card_uuid), accepted])
    stored = store.cds.feedback_for(issued.card_uuid)
    assert [s.feedback for s in stored] == [
        feedback(issued.card_uuid, feedback_id=stored[0].feedback.feedback_id),
        accepted,
    ]
    assert {(s.decision_id, s.rule_id, s.rule_version) for s in stored} == {
        (issued.decision_id, "BP_QS155_2_IMAGING_NOT_MET", "1.0.0")
    }
    assert stored[0].feedback.outcome_timestamp == WHEN


def test_feedback_on_an_unknown_card_stores_nothing(store: Store) -> None:
    issued = card()
    store.cds.append_cards([issued])
    with pytest.raises(UnknownCards) as info:
        store.cds.append_feedback([feedback(issued.card_uuid), feedback(str(uuid.uuid4()))])
    assert [p.location for p in info.value.problems] == ["feedback[1].card"]
    assert store.cds.feedback_for(issued.card_uuid) == []
    other_service = feedback(issued.card_uuid, service_id="painpath-patient-view")
    with pytest.raises(UnknownCards):
        store.cds.append_feedback([other_service])


def test_issue13_feedback_from_another_client_is_refused(store: Store) -> None:
    issued = card()
    store.cds.append_cards([issued])
    with pytest.raises(UnknownCards):
        store.cds.append_feedback([feedback(issued.card_uuid, caller_key_id="kanotherclient0000")])
    assert store.cds.feedback_for(issued.card_uuid) == []
    store.cds.append_feedback([feedback(issued.card_uuid)])
    assert len(store.cds.feedback_for(issued.card_uuid)) == 1


def test_issue13_a_token_id_is_claimed_once_and_survives_reopening(database_url: str) -> None:
    expires = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=5)
    first = open_store(database_url)
    try:
        assert first.replay.claim("https://ehr.example.org/", "jti-1", expires)
        assert not first.replay.claim("https://ehr.example.org/", "jti-1", expires)
        assert first.replay.claim("https://other.example.org/", "jti-1", expires)
    finally:
        first.close()
    again = open_store(database_url)
    try:
        assert not again.replay.claim("https://ehr.example.org/", "jti-1", expires)
    finally:
        again.close()
