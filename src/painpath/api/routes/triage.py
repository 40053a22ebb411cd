"""The triage worklist over ``/v1/evaluations`` and triage outcomes (``/v1/evaluations/{id}/triage``).

Both need the ``triage`` permission (roles triage and admin). Outcomes are appended to the decision
log, never changed; the codes come from ``painpath/triage/codes.yaml``.
"""

from __future__ import annotations

import datetime
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, JsonValue
from starlette.concurrency import run_in_threadpool

from painpath.api.auth import Caller, Permission
from painpath.api.deps import ServicesDep, only_query, require
from painpath.api.openapi import AUTH_PROBLEMS, PROBLEM_SCHEMA, problems
from painpath.api.problems import PROBLEM_MEDIA_TYPE, ApiProblem, FieldProblem, json_pointer
from painpath.store.triage import URGENCY_RANKS, TriageOutcomeRecord, WorklistQuery, WorklistRow
from painpath.triage.codes import AdviceRule, load_codes
from painpath.triage.outcome import OutcomeChoice
from painpath.triage.service import (
    InvalidCursor,
    InvalidOutcome,
    UnknownDecision,
    advice_for,
    decode_cursor,
    encode_cursor,
    record_outcome,
)

router = APIRouter(prefix="/v1/evaluations", tags=["evaluations"])
MayTriage = Annotated[Caller, Depends(require(Permission.triage))]

_CODES = load_codes()
Urgency = Literal["emergency", "urgent", "soon", "routine", "none"]
PmpStatus = Literal["recommended", "not_yet", "not_suitable", "not_indicated", "undetermined"]
RedFlagStatus = Literal["present", "absent", "incomplete"]
SortOrder = Literal["newest", "oldest", "urgency"]
_STATES: list[JsonValue] = ["new", *_CODES.outcomes]
_REFERRALS = ["pain_clinic", "pmp", "physiotherapy", "imaging", "surgery"]


class Advice(BaseModel):
    id: str = Field(description="The advice rule in `triage/codes.yaml` the outcome was compared with.")
    text: str


class TriageOutcomeOut(BaseModel):
    """One recorded triage outcome."""

    outcome_id: str
    decision_id: str
    outcome: str = Field(json_schema_extra={"enum": list(_CODES.outcomes)})
    service: str | None
    setting: str | None
    redirected_to: str | None
    returned_reason: str | None
    advice: str = Field(description="The id of the advice rule it was compared with.")
    departs_from_advice: bool
    reason: str | None = Field(description="Why the outcome departs from the advice (or any note given).")
    recorded_by: str = Field(description="The API key id of who recorded it.")
    recorded_at: datetime.datetime


class WorklistItem(BaseModel):
    """One referral (a recorded decision) in the worklist."""

    decision_id: str
    created_at: datetime.datetime
    status: str = Field(description="`ok`, or `manual_review` (nothing clinical asserted).")
    patient_ref: str | None
    highest_urgency: str | None = Field(description="Most urgent red flag or safety alert; null when none.")
    red_flag_status: str | None
    pmp_status: str | None
    pmp_setting: str | None
    referrals_requested: list[str]
    triage_state: str = Field(json_schema_extra={"enum": _STATES})
    latest_outcome: TriageOutcomeOut | None
    href: str


class Worklist(BaseModel):
    items: list[WorklistItem]
    next_cursor: str | None = Field(description="Pass as `cursor` (with the same filters and sort) for the next page.")


class TriageHistory(BaseModel):
    decision_id: str
    triage_state: str
    advice: Advice
    outcomes: list[TriageOutcomeOut] = Field(description="Oldest first; the last one is the current state.")


class TriageOutcomeIn(BaseModel):
    """A triage outcome. Which fields an outcome needs: `accepted` service and setting, `redirected`
    redirected_to, `returned` returned_reason. An outcome that departs from painpath's advice needs a
    `reason`."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"outcome": "redirected", "redirected_to": "emergency_department"},
                {"outcome": "accepted", "service": "pmp", "setting": "outpatient"},
                {"outcome": "returned", "returned_reason": "information_missing", "reason": "no red-flag screen"},
            ]
        },
    )

    outcome: str = Field(json_schema_extra={"enum": list(_CODES.outcomes)})
    service: str | None = Field(default=None, json_schema_extra={"enum": [*_CODES.lists["service"], None]})
    setting: str | None = Field(default=None, json_schema_extra={"enum": [*_CODES.lists["setting"], None]})
    redirected_to: str | None = Field(default=None, json_schema_extra={"enum": [*_CODES.lists["redirected_to"], None]})
    returned_reason: str | None = Field(
        default=None, json_schema_extra={"enum": [*_CODES.lists["returned_reason"], None]}
    )
    reason: str | None = Field(default=None, max_length=2000, description="Required when departing from the advice.")


def outcome_out(record: TriageOutcomeRecord) -> TriageOutcomeOut:
    return TriageOutcomeOut(
        outcome_id=record.outcome_id,
        decision_id=record.decision_id,
        outcome=record.outcome,
        service=record.service,
        setting=record.setting,
        redirected_to=record.redirected_to,
        returned_reason=record.returned_reason,
        advice=record.advice,
        departs_from_advice=record.departs_from_advice,
        reason=record.reason_text,
        recorded_by=record.actor_key_id,
        recorded_at=record.created_at,
    )


def item_out(row: WorklistRow) -> WorklistItem:
    return WorklistItem(
        decision_id=row.decision_id,
        created_at=row.created_at,
        status=row.status,
        patient_ref=row.index.patient_ref,
        highest_urgency=row.index.highest_urgency,
        red_flag_status=row.index.red_flag_status,
        pmp_status=row.index.pmp_status,
        pmp_setting=row.index.pmp_setting,
        referrals_requested=list(row.index.referrals_requested),
        triage_state=row.state,
        latest_outcome=outcome_out(row.latest) if row.latest else None,
        href=f"/v1/evaluations/{row.decision_id}",
    )


def _utc(value: datetime.datetime | None) -> datetime.datetime | None:
    if value is None:
        return None
    return value if value.tzinfo is not None else value.replace(tzinfo=datetime.UTC)


def _not_found() -> ApiProblem:
    return ApiProblem(404, "decision-not-found", "Decision not found", "no decision with this id was recorded")


_QUERY = ("urgency", "pmp_status", "red_flags", "state", "referral", "since", "until", "sort", "limit", "cursor")


@router.get(
    "",
    operation_id="listEvaluations",
    response_model=Worklist,
    dependencies=[Depends(only_query(*_QUERY))],
    summary="The triage worklist",
    description="Recorded decisions (referrals), newest first by default, with their worklist summary and "
    "triage state. Each filter may be repeated (`urgency=emergency&urgency=urgent`); filters combine with AND. "
    "Pages are keyset-paginated: pass `next_cursor` back as `cursor` with the same filters and sort. "
    "Needs the `triage` permission (roles triage, admin).",
    responses={**AUTH_PROBLEMS, **problems(422, 503)},
)
def list_evaluations(
    caller: MayTriage,
    services: ServicesDep,
    urgency: Annotated[list[Urgency] | None, Query(description="Highest urgency (`none`: no red flag).")] = None,
    pmp_status: Annotated[list[PmpStatus] | None, Query(description="PMP status.")] = None,
    red_flags: Annotated[list[RedFlagStatus] | None, Query(description="Red-flag screen status.")] = None,
    state: Annotated[
        list[str] | None, Query(description="Triage state.", json_schema_extra={"items": {"enum": _STATES}})
    ] = None,
    referral: Annotated[
        list[str] | None,
        Query(description="A referral requested.", json_schema_extra={"items": {"enum": _REFERRALS}}),
    ] = None,
    since: Annotated[datetime.datetime | None, Query(description="Recorded at or after (UTC if no offset).")] = None,
    until: Annotated[datetime.datetime | None, Query(description="Recorded before (UTC if no offset).")] = None,
    sort: Annotated[SortOrder, Query(description="`newest`, `oldest` or `urgency` (most urgent first).")] = "newest",
    limit: Annotated[int, Query(ge=1, le=100, description="Page size.")] = 25,
    cursor: Annotated[str | None, Query(max_length=512, description="`next_cursor` of the previous page.")] = None,
) -> Worklist:
    bad = [("state", s) for s in state or () if s not in _STATES] + [
        ("referral", r) for r in referral or () if r not in _REFERRALS
    ]
    if bad:
        raise ApiProblem(
            422,
            "invalid-request",
            "Invalid request",
            "the request's query parameters are invalid",
            errors=[FieldProblem(field=f"query.{name}", pointer="", reason="unknown code") for name, _ in bad],
        )
    try:
        after = decode_cursor(cursor, sort) if cursor else None
    except InvalidCursor as exc:
        raise ApiProblem(
            422,
            "invalid-request",
            "Invalid request",
            exc.summary,
            errors=[FieldProblem(field="query.cursor", pointer="", reason=exc.summary)],
        ) from None
    query = WorklistQuery(
        urgency=tuple(u for u in urgency or () if u in URGENCY_RANKS),
        pmp_status=tuple(pmp_status or ()),
        red_flag_status=tuple(red_flags or ()),
        state=tuple(state or ()),
        referral=tuple(referral or ()),
        since=_utc(since),
        until=_utc(until),
        sort=sort,
        limit=limit,
        after=after,
    )
    page = services.store.triage.worklist(query)
    return Worklist(
        items=[item_out(r) for r in page.rows],
        next_cursor=encode_cursor(sort, page.next_key) if page.next_key is not None else None,
    )


def _advice(rule: AdviceRule) -> Advice:
    return Advice(id=rule.id, text=rule.text)


@router.post(
    "/{decision_id}/triage",
    status_code=201,
    operation_id="recordTriageOutcome",
    response_model=TriageOutcomeOut,
    summary="Record a triage outcome",
    description="Appends a triage outcome to the decision log: `accepted` (service and setting), `redirected` "
    "(where) or `returned` to the GP (a coded reason). The outcome is compared with painpath's advice for the "
    "decision (the advice rules of `triage/codes.yaml`); one that departs from it needs a `reason`, else 422 "
    "naming `reason`. Earlier outcomes stay in the log; the latest is the referral's triage state. "
    "Needs the `triage` permission (roles triage, admin).",
    responses={
        201: {
            "description": "The outcome, as recorded.",
            "headers": {"Location": {"description": "The decision's triage history.", "schema": {"type": "string"}}},
        },
        400: {
            "description": "The body is not JSON.",
            "content": {PROBLEM_MEDIA_TYPE: {"schema": PROBLEM_SCHEMA}},
        },
        **AUTH_PROBLEMS,
        **problems(404, 422, 503),
    },
)
async def record_triage_outcome(
    caller: MayTriage,
    services: ServicesDep,
    body: TriageOutcomeIn,
    decision_id: Annotated[uuid.UUID, Path(description="The decision id (a UUID).")],
) -> JSONResponse:
    choice = OutcomeChoice(
        outcome=body.outcome,
        service=body.service,
        setting=body.setting,
        redirected_to=body.redirected_to,
        returned_reason=body.returned_reason,
        reason=body.reason,
    )
    try:
        record, _advice_rule = await run_in_threadpool(
            record_outcome, services.store, str(decision_id), choice, caller.key_id
        )
    except UnknownDecision:
        raise _not_found() from None
    except InvalidOutcome as exc:
        raise ApiProblem(
            422,
            "invalid-triage-outcome",
            "Invalid triage outcome",
            exc.summary,
            errors=[
                FieldProblem(field=p.location, pointer=json_pointer(p.location), reason=p.message) for p in exc.problems
            ],
        ) from None
    content: dict[str, Any] = outcome_out(record).model_dump(mode="json")
    return JSONResponse(content, status_code=201, headers={"Location": f"/v1/evaluations/{decision_id}/triage"})


@router.get(
    "/{decision_id}/triage",
    operation_id="readTriageHistory",
    response_model=TriageHistory,
    summary="Read a referral's triage outcomes",
    description="Every triage outcome recorded for the decision, oldest first, and the advice they are compared "
    "with. Needs the `triage` permission (roles triage, admin).",
    responses={**AUTH_PROBLEMS, **problems(404, 422, 503)},
)
def read_triage_history(
    caller: MayTriage,
    services: ServicesDep,
    decision_id: Annotated[uuid.UUID, Path(description="The decision id (a UUID).")],
) -> TriageHistory:
    rule = advice_for(services.store, str(decision_id))
    if rule is None:
        raise _not_found()
    history = services.store.triage.history(str(decision_id))
    return TriageHistory(
        decision_id=str(decision_id),
        triage_state=history[-1].outcome if history else "new",
        advice=_advice(rule),
        outcomes=[outcome_out(r) for r in history],
    )
