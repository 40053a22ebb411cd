"""The CDS Hooks part of the decision log: the cards issued, and the feedback clinicians gave on them.

Each card is recorded with the decision it was built from and the rule (id and version) it rests
on, so feedback on a card (accepted, or overridden with a reason) links back to the rule.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass

import orjson
from sqlalchemy import Engine, insert, select

from painpath.errors import PainpathError, Problem
from painpath.store.database import unavailable_on_error
from painpath.store.tables import cds_cards, cds_feedback


class UnknownCards(PainpathError):
    """Feedback named cards this service never issued; nothing was stored."""


@dataclass(frozen=True)
class CardRecord:
    card_uuid: str
    decision_id: str
    service_id: str
    hook_instance: str
    rule_id: str | None
    rule_version: str | None
    indicator: str
    created_at: datetime.datetime
    caller_key_id: str | None = None
    """The client the card was issued to: only it may give feedback on the card."""


@dataclass(frozen=True)
class FeedbackRecord:
    feedback_id: str
    card_uuid: str
    service_id: str
    outcome: str
    accepted_suggestions: tuple[str, ...]
    override_system: str | None
    override_code: str | None
    override_comment: str | None
    outcome_timestamp: datetime.datetime
    received_at: datetime.datetime
    caller_key_id: str


@dataclass(frozen=True)
class LinkedFeedback:
    """Feedback with the card's decision and rule."""

    feedback: FeedbackRecord
    decision_id: str
    rule_id: str | None
    rule_version: str | None


def _utc(value: datetime.datetime) -> datetime.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)


class CdsLog:
    """Append cards and feedback; read feedback back with its rule."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def append_cards(self, cards: Sequence[CardRecord]) -> None:
        if not cards:
            return
        with unavailable_on_error("recording CDS cards"), self._engine.begin() as conn:
            conn.execute(insert(cds_cards), [vars(c) for c in cards])

    def append_feedback(self, items: Sequence[FeedbackRecord]) -> None:
        """Store all of ``items`` or none: ``UnknownCards`` if any names a card that service did not issue
        to the item's caller (a card issued to another client is not distinguished from no card at all)."""
        with unavailable_on_error("recording CDS feedback"), self._engine.begin() as conn:
            wanted = {i.card_uuid for i in items}
            known = {
                (row.card_uuid, row.service_id, row.caller_key_id)
                for row in conn.execute(
                    select(cds_cards.c.card_uuid, cds_cards.c.service_id, cds_cards.c.caller_key_id).where(
                        cds_cards.c.card_uuid.in_(wanted)
                    )
                )
            }
            unknown = [i for i in items if (i.card_uuid, i.service_id, i.caller_key_id) not in known]
            if unknown:
                raise UnknownCards(
                    "feedback names cards this service did not issue to this client",
                    [
                        Problem(f"feedback[{items.index(i)}].card", "no such card from this service for this client")
                        for i in unknown
                    ],
                )
            rows = []
            for i in items:
                row = vars(i).copy()
                row["accepted_suggestions"] = orjson.dumps(list(i.accepted_suggestions)).decode()
                rows.append(row)
            conn.execute(insert(cds_feedback), rows)

    def feedback_for(self, card_uuid: str) -> list[LinkedFeedback]:
        """Every feedback item on one card, oldest first, with the card's decision and rule."""
        query = (
            select(cds_feedback, cds_cards.c.decision_id, cds_cards.c.rule_id, cds_cards.c.rule_version)
            .join(cds_cards, cds_cards.c.card_uuid == cds_feedback.c.card_uuid)
            .where(cds_feedback.c.card_uuid == card_uuid)
            .order_by(cds_feedback.c.received_at)
        )
        with unavailable_on_error("reading CDS feedback"), self._engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [
            LinkedFeedback(
                feedback=FeedbackRecord(
                    feedback_id=r["feedback_id"],
                    card_uuid=r["card_uuid"],
                    service_id=r["service_id"],
                    outcome=r["outcome"],
                    accepted_suggestions=tuple(orjson.loads(r["accepted_suggestions"])),
                    override_system=r["override_system"],
                    override_code=r["override_code"],
                    override_comment=r["override_comment"],
                    outcome_timestamp=_utc(r["outcome_timestamp"]),
                    received_at=_utc(r["received_at"]),
                    caller_key_id=r["caller_key_id"],
                ),
                decision_id=r["decision_id"],
                rule_id=r["rule_id"],
                rule_version=r["rule_version"],
            )
            for r in rows
        ]
