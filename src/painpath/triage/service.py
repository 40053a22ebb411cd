"""Recording a triage outcome and paging the worklist: the operations the API and the web app share.

Neither knows HTTP: errors are ``UnknownDecision`` (no such decision), ``InvalidOutcome`` (its
``problems`` name each field and the reason) and ``InvalidCursor``.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import uuid
from typing import Any

import orjson

from painpath.errors import PainpathError, Problem
from painpath.store import Store
from painpath.store.triage import Sort, TriageLog, TriageOutcomeRecord, UnknownDecision
from painpath.triage.codes import AdviceRule, load_codes
from painpath.triage.outcome import OutcomeChoice, check_outcome
from painpath.triage.summary import advice_summary

__all__ = [
    "InvalidCursor",
    "InvalidOutcome",
    "UnknownDecision",
    "advice_for",
    "decode_cursor",
    "encode_cursor",
    "record_outcome",
]


class InvalidOutcome(PainpathError):
    """The triage outcome is not valid; nothing was recorded."""


class InvalidCursor(PainpathError):
    """The cursor was not issued for this sort order, or was altered."""


def advice_for(store: Store, decision_id: str) -> AdviceRule | None:
    """The advice rule an outcome for this decision is compared with, or ``None`` for an unknown decision."""
    row = store.triage.row(decision_id)
    if row is None:
        return None
    return load_codes().advice_for(advice_summary(row.status, row.index))


def record_outcome(
    store: Store,
    decision_id: str,
    choice: OutcomeChoice,
    actor_key_id: str,
    now: datetime.datetime | None = None,
) -> tuple[TriageOutcomeRecord, AdviceRule]:
    """Check ``choice`` against the codes and the decision's advice, then append it to the log."""
    row = store.triage.row(decision_id)
    if row is None:
        raise UnknownDecision("no decision with this id was recorded")
    checked = check_outcome(load_codes(), choice, advice_summary(row.status, row.index))
    if checked.problems:
        n = len(checked.problems)
        raise InvalidOutcome(
            f"{n} problem{'s' if n != 1 else ''} in the triage outcome",
            [Problem(p.field, p.reason) for p in checked.problems],
        )
    record = TriageOutcomeRecord(
        outcome_id=str(uuid.uuid4()),
        decision_id=decision_id,
        outcome=choice.outcome,
        service=choice.service or None,
        setting=choice.setting or None,
        redirected_to=choice.redirected_to or None,
        returned_reason=choice.returned_reason or None,
        advice=checked.advice.id,
        departs_from_advice=checked.departs_from_advice,
        reason_text=(choice.reason or "").strip() or None,
        actor_key_id=actor_key_id,
        created_at=now or datetime.datetime.now(datetime.UTC),
    )
    store.triage.append(record)
    return record, checked.advice


def encode_cursor(sort: Sort, key: tuple[Any, ...]) -> str:
    """An opaque cursor: the sort order and the last row's sort key."""
    return base64.urlsafe_b64encode(orjson.dumps({"v": 1, "sort": sort, "key": list(key)})).decode().rstrip("=")


def decode_cursor(cursor: str, sort: Sort) -> tuple[Any, ...]:
    """The sort key in ``cursor``; ``InvalidCursor`` unless it was issued for ``sort``."""
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError, orjson.JSONDecodeError):
        raise InvalidCursor("the cursor is not one this service issued") from None
    if not isinstance(data, dict) or data.get("v") != 1 or not isinstance(data.get("key"), list):
        raise InvalidCursor("the cursor is not one this service issued")
    if data.get("sort") != sort:
        raise InvalidCursor(f"the cursor was issued for sort={data.get('sort')}, not sort={sort}")
    try:
        return TriageLog.parse_key(sort, tuple(data["key"]))
    except (ValueError, TypeError):
        raise InvalidCursor("the cursor is not one this service issued") from None
