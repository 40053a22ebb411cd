"""``/v1/evaluations``: issue a decision from patient facts; read a stored decision back."""

from __future__ import annotations

import uuid
from typing import Annotated

import structlog
from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response

from painpath.api.deps import MayEvaluate, MayReadDecisions, ServicesDep, only_query
from painpath.api.issue import issue_decision
from painpath.api.limits import JSON_MEDIA_TYPE, JsonBody
from painpath.api.models import DecisionOut
from painpath.api.openapi import AUTH_PROBLEMS, FACTS_REQUEST_BODY, INVALID_FACTS_EXAMPLE, problems
from painpath.api.problems import ApiProblem
from painpath.engine.render import Trace

router = APIRouter(prefix="/v1/evaluations", tags=["evaluations"])


@router.post(
    "",
    status_code=201,
    operation_id="createEvaluation",
    response_model=DecisionOut,
    openapi_extra=FACTS_REQUEST_BODY,
    dependencies=[Depends(only_query("trace"))],
    summary="Evaluate patient facts",
    description="Evaluates the facts against the loaded ruleset, records the decision in the decision log and "
    "returns it. The decision is returned only once it is committed. Needs the `evaluate` permission "
    "(roles clinician, triage, admin).",
    responses={
        201: {
            "description": "The decision, as recorded.",
            "headers": {
                "Location": {"description": "Where the decision can be read again.", "schema": {"type": "string"}}
            },
            "links": {
                "readEvaluation": {
                    "operationId": "readEvaluation",
                    "parameters": {"decision_id": "$response.body#/decision_id"},
                    "description": "Read the recorded decision back (byte for byte the same).",
                }
            },
        },
        **AUTH_PROBLEMS,
        **problems(413, 415, 422, 503, examples=INVALID_FACTS_EXAMPLE),
    },
)
async def create_evaluation(
    caller: MayEvaluate,
    body: JsonBody,
    services: ServicesDep,
    trace: Annotated[
        Trace,
        Query(
            description="`summary` (default): the clause trace of every rule that fired or is undetermined, and "
            "the id, version and status of the rules that did not fire. `full`: the clause trace (why not) of "
            "every rule as well. The sections of the decision are the same either way."
        ),
    ] = "summary",
) -> Response:
    request_id = str(structlog.contextvars.get_contextvars().get("request_id", ""))
    issued = await issue_decision(services.evaluator, services.store.decisions, body, caller, request_id, trace)
    return Response(
        issued.body,
        status_code=201,
        media_type=JSON_MEDIA_TYPE,
        headers={"Location": f"/v1/evaluations/{issued.decision_id}"},
    )


@router.get(
    "/{decision_id}",
    response_model=DecisionOut,
    operation_id="readEvaluation",
    summary="Read a stored decision",
    description="The decision exactly as it was issued, byte for byte. Needs the `read_decisions` permission "
    "(roles triage, auditor, admin).",
    responses={200: {"description": "The stored decision."}, **AUTH_PROBLEMS, **problems(404, 422, 503)},
)
def read_evaluation(
    caller: MayReadDecisions,
    services: ServicesDep,
    decision_id: Annotated[uuid.UUID, Path(description="The decision id (a UUID).")],
) -> Response:
    stored = services.store.decisions.output(str(decision_id))
    if stored is None:
        raise ApiProblem(404, "decision-not-found", "Decision not found", "no decision with this id was recorded")
    return Response(stored.encode("utf-8"), media_type=JSON_MEDIA_TYPE)
