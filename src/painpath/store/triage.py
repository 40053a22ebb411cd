"""The triage part of the decision log: the worklist over recorded decisions, and triage outcomes.

Outcomes are append-only: recording a new outcome for a decision supersedes the earlier one for
the worklist's state, and the earlier one stays in the log. The worklist is keyset-paginated: a
page ends with the sort key of its last row, and the next page starts strictly after it, so pages
do not shift when new referrals arrive.
"""

from __future__ import annotations

import datetime
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import ColumnElement, Engine, and_, func, insert, literal, or_, select

from painpath.errors import PainpathError
from painpath.store.database import unavailable_on_error
from painpath.store.tables import decisions, triage_outcomes

NO_URGENCY_RANK = 4
"""``urgency_rank`` of a decision with no red flag or safety alert (and of manual-review decisions)."""
URGENCY_RANKS = {"emergency": 0, "urgent": 1, "soon": 2, "routine": 3, "none": NO_URGENCY_RANK}
NEW_STATE = "new"
"""The triage state of a decision with no outcome recorded."""

Sort = Literal["newest", "oldest", "urgency"]


class UnknownDecision(PainpathError):
    """A triage outcome named a decision that was never recorded; nothing was stored."""


@dataclass(frozen=True)
class DecisionIndex:
    """The worklist columns of one decision, computed from the Decision when it is recorded."""

    patient_ref: str | None = None
    highest_urgency: str | None = None
    urgency_rank: int | None = None
    red_flag_status: str | None = None
    pmp_status: str | None = None
    pmp_setting: str | None = None
    referrals_requested: tuple[str, ...] = ()

    def columns(self) -> dict[str, Any]:
        return {
            "patient_ref": self.patient_ref[:128] if self.patient_ref else None,
            "highest_urgency": self.highest_urgency,
            "urgency_rank": self.urgency_rank,
            "red_flag_status": self.red_flag_status,
            "pmp_status": self.pmp_status,
            "pmp_setting": self.pmp_setting,
            "referrals_requested": " ".join(sorted(set(self.referrals_requested)))[:255] or None,
        }


@dataclass(frozen=True)
class TriageOutcomeRecord:
    """One triage outcome, as recorded. ``actor_key_id`` is the API key of who recorded it."""

    outcome_id: str
    decision_id: str
    outcome: str
    service: str | None
    setting: str | None
    redirected_to: str | None
    returned_reason: str | None
    advice: str
    departs_from_advice: bool
    reason_text: str | None
    actor_key_id: str
    created_at: datetime.datetime


@dataclass(frozen=True)
class WorklistRow:
    """One decision in the worklist, with its latest triage outcome (``None`` while new)."""

    decision_id: str
    created_at: datetime.datetime
    status: str
    index: DecisionIndex
    latest: TriageOutcomeRecord | None

    @property
    def state(self) -> str:
        return self.latest.outcome if self.latest is not None else NEW_STATE


@dataclass(frozen=True)
class WorklistQuery:
    """Filters (each a set of accepted values; empty accepts all), sort and page size."""

    urgency: tuple[str, ...] = ()
    """``emergency``, ``urgent``, ``soon``, ``routine`` or ``none``."""
    pmp_status: tuple[str, ...] = ()
    red_flag_status: tuple[str, ...] = ()
    state: tuple[str, ...] = ()
    """``new`` or an outcome code."""
    referral: tuple[str, ...] = ()
    """Decisions whose referrals requested include any of these."""
    since: datetime.datetime | None = None
    until: datetime.datetime | None = None
    sort: Sort = "newest"
    limit: int = 25
    after: tuple[Any, ...] | None = None
    """The sort key of the last row of the previous page (``WorklistPage.next_key``)."""


@dataclass(frozen=True)
class WorklistPage:
    rows: tuple[WorklistRow, ...]
    next_key: tuple[Any, ...] | None = field(default=None)
    """The key to pass as ``after`` for the next page; ``None`` on the last page."""


def _utc(value: datetime.datetime) -> datetime.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)


def _as_utc(value: datetime.datetime) -> datetime.datetime:
    return _utc(value).astimezone(datetime.UTC)


def _latest_outcome() -> Any:
    t = triage_outcomes.alias("latest")
    return (
        select(t.c.outcome)
        .where(t.c.decision_id == decisions.c.decision_id)
        .order_by(t.c.created_at.desc(), t.c.outcome_id.desc())
        .limit(1)
        .scalar_subquery()
    )


_RANK = func.coalesce(decisions.c.urgency_rank, NO_URGENCY_RANK)


def _sort_columns(sort: Sort) -> list[tuple[Any, bool]]:
    """``(expression, descending)`` pairs, most significant first; the decision id breaks ties."""
    if sort == "oldest":
        return [(decisions.c.created_at, False), (decisions.c.decision_id, False)]
    if sort == "urgency":
        return [(_RANK, False), (decisions.c.created_at, True), (decisions.c.decision_id, True)]
    return [(decisions.c.created_at, True), (decisions.c.decision_id, True)]


def _after(columns: list[tuple[Any, bool]], key: tuple[Any, ...]) -> ColumnElement[bool]:
    """Rows strictly after ``key`` in the order of ``columns`` (keyset pagination, mixed directions)."""
    clauses = []
    for i, (column, descending) in enumerate(columns):
        equal = [c == v for (c, _d), v in zip(columns[:i], key[:i], strict=True)]
        beyond = column < key[i] if descending else column > key[i]
        clauses.append(and_(*equal, beyond))
    return or_(*clauses)


def _record(row: Any) -> TriageOutcomeRecord:
    return TriageOutcomeRecord(
        outcome_id=row["outcome_id"],
        decision_id=row["decision_id"],
        outcome=row["outcome"],
        service=row["service"],
        setting=row["setting"],
        redirected_to=row["redirected_to"],
        returned_reason=row["returned_reason"],
        advice=row["advice"],
        departs_from_advice=bool(row["departs_from_advice"]),
        reason_text=row["reason_text"],
        actor_key_id=row["actor_key_id"],
        created_at=_utc(row["created_at"]),
    )


def index_of(row: Any) -> DecisionIndex:
    """The ``DecisionIndex`` of a row selected from ``decisions``."""
    referrals = row["referrals_requested"]
    return DecisionIndex(
        patient_ref=row["patient_ref"],
        highest_urgency=row["highest_urgency"],
        urgency_rank=row["urgency_rank"],
        red_flag_status=row["red_flag_status"],
        pmp_status=row["pmp_status"],
        pmp_setting=row["pmp_setting"],
        referrals_requested=tuple(referrals.split()) if referrals else (),
    )


_LIST_COLUMNS = (
    decisions.c.decision_id,
    decisions.c.created_at,
    decisions.c.status,
    decisions.c.patient_ref,
    decisions.c.highest_urgency,
    decisions.c.urgency_rank,
    decisions.c.red_flag_status,
    decisions.c.pmp_status,
    decisions.c.pmp_setting,
    decisions.c.referrals_requested,
)


class TriageLog:
    """Record triage outcomes and list the worklist."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def append(self, record: TriageOutcomeRecord) -> None:
        """Commit one outcome; ``UnknownDecision`` if its decision was never recorded."""
        with unavailable_on_error("recording a triage outcome"), self._engine.begin() as conn:
            found = conn.execute(
                select(decisions.c.decision_id).where(decisions.c.decision_id == record.decision_id)
            ).first()
            if found is None:
                raise UnknownDecision("no decision with this id was recorded")
            conn.execute(insert(triage_outcomes), [vars(record)])

    def history(self, decision_id: str) -> list[TriageOutcomeRecord]:
        """Every outcome recorded for a decision, oldest first."""
        query = (
            select(triage_outcomes)
            .where(triage_outcomes.c.decision_id == decision_id)
            .order_by(triage_outcomes.c.created_at, triage_outcomes.c.outcome_id)
        )
        with unavailable_on_error("reading triage outcomes"), self._engine.connect() as conn:
            return [_record(r) for r in conn.execute(query).mappings()]

    def row(self, decision_id: str) -> WorklistRow | None:
        """One decision as the worklist shows it, or ``None``."""
        query = select(*_LIST_COLUMNS).where(decisions.c.decision_id == decision_id)
        with unavailable_on_error("reading the worklist"), self._engine.connect() as conn:
            found = conn.execute(query).mappings().first()
        if found is None:
            return None
        history = self.history(decision_id)
        return self._row(found, history[-1] if history else None)

    @staticmethod
    def _row(row: Any, latest: TriageOutcomeRecord | None) -> WorklistRow:
        return WorklistRow(
            decision_id=row["decision_id"],
            created_at=_utc(row["created_at"]),
            status=row["status"],
            index=index_of(row),
            latest=latest,
        )

    def worklist(self, q: WorklistQuery) -> WorklistPage:
        """One page of the worklist."""
        state = func.coalesce(_latest_outcome(), NEW_STATE)
        query = select(*_LIST_COLUMNS)
        if q.urgency:
            query = query.where(_RANK.in_([URGENCY_RANKS[u] for u in q.urgency]))
        if q.pmp_status:
            query = query.where(decisions.c.pmp_status.in_(q.pmp_status))
        if q.red_flag_status:
            query = query.where(decisions.c.red_flag_status.in_(q.red_flag_status))
        if q.state:
            query = query.where(state.in_(q.state))
        if q.referral:
            padded = literal(" ") + func.coalesce(decisions.c.referrals_requested, "") + literal(" ")
            query = query.where(or_(*(padded.like(f"% {code} %") for code in q.referral)))
        if q.since is not None:
            query = query.where(decisions.c.created_at >= _as_utc(q.since))
        if q.until is not None:
            query = query.where(decisions.c.created_at < _as_utc(q.until))
        columns = _sort_columns(q.sort)
        if q.after is not None:
            query = query.where(_after(columns, self.parse_key(q.sort, q.after)))
        query = query.order_by(*(c.desc() if d else c.asc() for c, d in columns)).limit(q.limit + 1)
        with unavailable_on_error("reading the worklist"), self._engine.connect() as conn:
            found = conn.execute(query).mappings().all()
            page = found[: q.limit]
            latest = self._latest(conn, [r["decision_id"] for r in page])
        rows = tuple(self._row(r, latest.get(r["decision_id"])) for r in page)
        next_key = None
        if len(found) > q.limit and rows:
            last = rows[-1]
            next_key = self.key_of(q.sort, last)
        return WorklistPage(rows=rows, next_key=next_key)

    def latest_outcomes(
        self, since: datetime.datetime | None = None, until: datetime.datetime | None = None
    ) -> list[TriageOutcomeRecord]:
        """The latest outcome of every triaged decision recorded in ``[since, until)`` (for the audit)."""
        query = select(triage_outcomes).join(decisions, decisions.c.decision_id == triage_outcomes.c.decision_id)
        if since is not None:
            query = query.where(decisions.c.created_at >= _as_utc(since))
        if until is not None:
            query = query.where(decisions.c.created_at < _as_utc(until))
        query = query.order_by(triage_outcomes.c.created_at, triage_outcomes.c.outcome_id)
        latest: dict[str, TriageOutcomeRecord] = {}
        with unavailable_on_error("reading triage outcomes"), self._engine.connect() as conn:
            for r in conn.execute(query).mappings():
                latest[r["decision_id"]] = _record(r)  # oldest first: the last one wins
        return list(latest.values())

    @staticmethod
    def key_of(sort: Sort, row: WorklistRow) -> tuple[Any, ...]:
        """The sort key of ``row`` as plain JSON values (for an opaque cursor)."""
        created = _as_utc(row.created_at).isoformat()
        if sort == "urgency":
            rank = row.index.urgency_rank if row.index.urgency_rank is not None else NO_URGENCY_RANK
            return (rank, created, row.decision_id)
        return (created, row.decision_id)

    @staticmethod
    def parse_key(sort: Sort, key: tuple[Any, ...]) -> tuple[Any, ...]:
        """``key_of``'s plain values back as the column types; ``ValueError`` or ``TypeError`` if they do not fit."""
        if sort == "urgency":
            rank, created, decision_id = key
            if not isinstance(rank, int):
                raise ValueError("rank")
            return (rank, _as_utc(datetime.datetime.fromisoformat(str(created))), str(decision_id))
        created, decision_id = key
        return (_as_utc(datetime.datetime.fromisoformat(str(created))), str(decision_id))

    @staticmethod
    def _latest(conn: Any, decision_ids: Sequence[str]) -> dict[str, TriageOutcomeRecord]:
        if not decision_ids:
            return {}
        query = (
            select(triage_outcomes)
            .where(triage_outcomes.c.decision_id.in_(decision_ids))
            .order_by(triage_outcomes.c.created_at, triage_outcomes.c.outcome_id)
        )
        latest: dict[str, TriageOutcomeRecord] = {}
        for r in conn.execute(query).mappings():
            latest[r["decision_id"]] = _record(r)  # ordered oldest first: the last one wins
        return latest
