"""``/v1/evaluations``: issue a decision from patient facts; read a stored decision back."""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn

import orjson
import structlog
from fastapi import APIRouter, Depends, Header, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import URLPath
from starlette.routing import BaseRoute, Match, NoMatchFound
from starlette.types import Receive, Scope, Send

from painpath.api.auth import Caller, Permission
from painpath.api.deps import (
    MayEvaluate,
    MayReadDecisions,
    ServicesDep,
    authenticate,
    bearer,
    get_services,
    only_query,
    require,
)
from painpath.api.fhir_input import issue_mapped_decision, map_bundle, prefers_fhir
from painpath.api.issue import issue_decision
from painpath.api.limits import FHIR_MEDIA_TYPE, JSON_MEDIA_TYPE, FactsOrFhirBody, TypedBody, facts_or_fhir_body
from painpath.api.models import DecisionOut
from painpath.api.openapi import AUTH_PROBLEMS, FACTS_REQUEST_BODY, INVALID_FACTS_EXAMPLE, problems
from painpath.api.problems import ApiProblem
from painpath.api.state import Services
from painpath.engine import Trace
from painpath.engine.contract import DecisionDocument
from painpath.fhir.guidance import guidance_response
from painpath.replay import ReplayUnavailable, replayer_for
from painpath.store.retention import tombstone

router = APIRouter(prefix="/v1/evaluations", tags=["evaluations"])


@dataclass(frozen=True)
class EvaluationOptions:
    """The query parameters of ``POST /v1/evaluations``."""

    trace: Trace
    as_of: datetime.date | None


def evaluation_options(
    trace: Annotated[
        Trace,
        Query(
            description="`summary` (default): the clause trace of every rule that fired, the facts that would "
            "settle each undetermined rule, and the id, version and status of the rules that did not fire. "
            "`full`: the clause trace of every rule (why, why not, unknown). The sections are the same either way."
        ),
    ] = "summary",
    as_of: Annotated[
        datetime.date | None,
        Query(
            description="FHIR bodies only: the assessment date (`YYYY-MM-DD`, default today, UTC). Ages are computed "
            "and observations and answers judged stale against it, so a retrospective evaluation of old records "
            "uses the values that were current then; values dated after it are not used. For patient facts "
            "(`application/json`) give `assessment_date` in the facts instead (422 here)."
        ),
    ] = None,
) -> EvaluationOptions:
    return EvaluationOptions(trace, as_of)


@router.post(
    "",
    status_code=201,
    operation_id="createEvaluation",
    response_model=DecisionOut,
    openapi_extra=FACTS_REQUEST_BODY,
    dependencies=[Depends(only_query("trace", "as_of"))],
    summary="Evaluate patient facts",
    description="Evaluates the facts against the loaded ruleset, records the decision in the decision log and "
    "returns it. The decision is returned only once it is committed. Needs the `evaluate` permission "
    "(roles clinician, triage, admin). The body may instead be a FHIR R4 Bundle "
    "(`Content-Type: application/fhir+json`): its facts, their source resources and the mapping issues "
    "are reported in the decision's `fhir` member; a QuestionnaireResponse on its own (for example to "
    "`GET /fhir/Questionnaire/painpath-msk`) is read as a Bundle holding just it. With "
    "`Accept: application/fhir+json` the answer is a FHIR GuidanceResponse (see docs/fhir.md).",
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
    body: FactsOrFhirBody,
    services: ServicesDep,
    options: Annotated[EvaluationOptions, Depends(evaluation_options)],
    accept: Annotated[str | None, Header(description="`application/fhir+json` for a FHIR GuidanceResponse.")] = None,
) -> Response:
    return await evaluate_and_answer(services, caller, body, options, accept)


async def evaluate_and_answer(
    services: Services, caller: Caller, body: TypedBody, options: EvaluationOptions, accept: str | None
) -> Response:
    """``POST /v1/evaluations`` once its caller, body and options are known (both routes below end here)."""
    trace, as_of = options.trace, options.as_of
    mapped = None
    if as_of is not None and body.media_type != FHIR_MEDIA_TYPE:
        raise RequestValidationError(
            [
                {
                    "loc": ("query", "as_of"),
                    "msg": "as_of applies to FHIR bodies (application/fhir+json); give assessment_date in the facts",
                    "type": "value_error",
                }
            ]
        )
    if body.media_type == FHIR_MEDIA_TYPE:
        mapped = await run_in_threadpool(map_bundle, body.raw, services.settings, as_of)
        issued = await issue_mapped_decision(services, mapped, caller, received=body.raw, trace=trace)
    else:
        request_id = str(structlog.contextvars.get_contextvars().get("request_id", ""))
        issued = await issue_decision(services.evaluator, services.store.decisions, body.raw, caller, request_id, trace)
    headers = {"Location": f"/v1/evaluations/{issued.decision_id}"}
    if prefers_fhir(accept):
        document = guidance_response(
            DecisionDocument.model_validate_json(issued.body),
            services.engine.ruleset.guidelines,
            sources=mapped.sources if mapped else {},
            issues=mapped.issues if mapped else (),
            patient_ref=mapped.patient_ref if mapped else None,
        )
        return Response(orjson.dumps(document), status_code=201, media_type=FHIR_MEDIA_TYPE, headers=headers)
    return Response(issued.body, status_code=201, media_type=JSON_MEDIA_TYPE, headers=headers)


_may_evaluate = require(Permission.evaluate)
_DEFAULT_OPTIONS = EvaluationOptions(trace="summary", as_of=None)


class PlainEvaluationRoute(BaseRoute):
    """``POST /v1/evaluations`` without a query string: the same dependencies, called directly.

    FastAPI's per-request dependency solving cost ~0.8 ms of the server's CPU per evaluation (a
    quarter of it). This route, placed before the declared one, takes the common request (no query
    string) and calls the declared route's dependency functions in FastAPI's order: authenticate,
    require ``evaluate``, read and check the body; then the same ``evaluate_and_answer``. Errors are
    raised to the same handlers, so each answer is the one the declared route gives (a test compares
    them). Any request with a query string goes to the declared route, which validates the options.
    The OpenAPI document describes the declared route.
    """

    path = "/v1/evaluations"

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if (
            scope["type"] == "http"
            and scope["path"] == self.path
            and scope["method"] == "POST"
            and not scope.get("query_string")
        ):
            return Match.FULL, {"route": self, "endpoint": self.handle, "path_params": {}}
        return Match.NONE, {}

    def url_path_for(self, name: str, /, **path_params: Any) -> URLPath:
        raise NoMatchFound(name, path_params)  # reverse routing names the declared route

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        services = await get_services(request)
        caller = await _may_evaluate(await authenticate(request, services, await bearer(request)))
        body = await facts_or_fhir_body(request)
        response = await evaluate_and_answer(services, caller, body, _DEFAULT_OPTIONS, request.headers.get("accept"))
        await response(scope, receive, send)


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
        decision_not_found(services, str(decision_id))
    return Response(stored.encode("utf-8"), media_type=JSON_MEDIA_TYPE)


def decision_not_found(services: ServicesDep, decision_id: str) -> NoReturn:
    """404, or 410 Gone with its id and date for a decision the retention policy pruned."""
    gone = tombstone(services.store.engine, decision_id)
    if gone is not None:
        raise ApiProblem(
            410,
            "decision-pruned",
            "Decision pruned",
            f"decision {gone.decision_id} of {gone.created_at.isoformat(timespec='seconds')} was pruned by the "
            f"retention policy on {gone.pruned_at.date().isoformat()}",
        )
    raise ApiProblem(404, "decision-not-found", "Decision not found", "no decision with this id was recorded")


@router.get(
    "/{decision_id}/trace",
    response_model=DecisionOut,
    operation_id="readEvaluationTrace",
    summary="Re-derive a stored decision's full trace",
    description="The recorded decision with the full clause trace of every rule (why, why not, unknown), "
    "re-derived from what the decision log stored: its facts, parameters and the ruleset it was made with "
    "(kept by content hash, so also after a rules upgrade). Byte for byte what `?trace=full` gave when it "
    "was issued; the decision is first checked to reproduce exactly what was issued (409 if it does not). "
    "Needs the `read_decisions` permission (roles triage, auditor, admin).",
    responses={
        200: {"description": "The decision with its full trace."},
        **AUTH_PROBLEMS,
        **problems(404, 409, 410, 422, 503),
    },
)
def read_evaluation_trace(
    caller: MayReadDecisions,
    services: ServicesDep,
    decision_id: Annotated[uuid.UUID, Path(description="The decision id (a UUID).")],
) -> Response:
    record = services.store.decisions.get(str(decision_id))
    if record is None:
        decision_not_found(services, str(decision_id))
    try:
        body = replayer_for(services.engine, services.store).rederive(record, "full")
    except ReplayUnavailable as exc:
        raise ApiProblem(409, "decision-not-replayable", "Decision cannot be re-derived", exc.summary) from None
    return Response(body, media_type=JSON_MEDIA_TYPE)
