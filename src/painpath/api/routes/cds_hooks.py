"""CDS Hooks 2.0.1 (with the 3.0 ``version`` and OperationOutcome errors): discovery, services, feedback.

Thin handlers: the FHIR data is gathered (``cds.prefetch``), mapped to facts (``facts.fhir``),
evaluated and recorded like any decision (``issue_decision``), and shown as cards
(``cds.cards``); the clinical logic is in the rules. Errors are FHIR OperationOutcomes, with 412
when required data cannot be had. These routes follow the CDS Hooks specification rather than
painpath's OpenAPI conventions (problem documents), so they are left out of the OpenAPI document
and described in docs/cds-hooks.md.
"""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import uuid
from collections.abc import Mapping
from typing import Annotated, Any, TypeVar, cast

import orjson
import structlog
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from painpath.api.auth import Caller, Permission, Role
from painpath.api.deps import ServicesDep, authenticate, bearer
from painpath.api.fhir_input import issue_mapped_decision, map_bundle
from painpath.api.problems import ApiProblem
from painpath.cds.cards import CardBuilder, CardContext
from painpath.cds.jwt_auth import JwtRejected
from painpath.cds.models import HOOK_CONTEXTS, Feedback, HookRequest, OrderSelectContext, OrderSignContext
from painpath.cds.prefetch import DataUnavailable, gather
from painpath.cds.services import ServiceSpec, load_catalogue
from painpath.cds.wording import load_wording
from painpath.store import CardRecord, FeedbackRecord, UnknownCards

log = structlog.get_logger("painpath.api")
router = APIRouter(prefix="/cds-services", tags=["cds-hooks"], include_in_schema=False)

CDS_MEDIA_TYPE = "application/json"
_Model = TypeVar("_Model", bound=BaseModel)


class CdsError(Exception):
    """An error answered as a FHIR OperationOutcome (CDS Hooks 3.0)."""

    def __init__(
        self,
        status: int,
        code: str,
        diagnostics: str,
        expression: list[str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.code = code
        self.diagnostics = diagnostics
        self.expression = expression or []
        self.headers = dict(headers or {})


def _outcome(exc: CdsError) -> Response:
    issue: dict[str, Any] = {"severity": "error", "code": exc.code, "diagnostics": exc.diagnostics}
    if exc.expression:
        issue["expression"] = exc.expression
    body = {"resourceType": "OperationOutcome", "issue": [issue]}
    return Response(orjson.dumps(body), status_code=exc.status, media_type=CDS_MEDIA_TYPE, headers=exc.headers)


async def _cds_error(_request: Request, exc: Exception) -> Response:
    return _outcome(cast(CdsError, exc))  # registered for CdsError only


def install_cds_handlers(app: FastAPI) -> None:
    """Answer ``CdsError`` as an OperationOutcome."""
    app.add_exception_handler(CdsError, _cds_error)


async def cds_caller(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """The CDS client: a verified JWT when issuers are configured, else a painpath API key (evaluate)."""
    if services.cds_jwt is not None:
        audience = str(request.url).split("?", 1)[0]
        try:
            issuer = services.cds_jwt.verify(credentials.credentials if credentials else None, audience)
        except JwtRejected as exc:
            raise CdsError(
                401, "login", str(exc), headers={"WWW-Authenticate": 'Bearer realm="painpath-cds"'}
            ) from None
        return Caller(key_id="cds:" + hashlib.sha256(issuer.encode()).hexdigest()[:24], role=Role.clinician)
    caller = await authenticate(request, services, credentials)
    if not caller.may(Permission.evaluate):
        raise ApiProblem(403, "forbidden", "Permission denied", f"the role '{caller.role}' may not evaluate")
    return caller


CdsCaller = Annotated[Caller, Depends(cds_caller)]


def _service(service_id: str) -> ServiceSpec:
    service = load_catalogue().by_id.get(service_id)
    if service is None:
        raise CdsError(404, "not-found", f"no CDS service '{service_id}'")
    return service


def _parse(model: type[_Model], data: bytes | Mapping[str, Any], where: str) -> _Model:
    try:
        if isinstance(data, bytes):
            return model.model_validate_json(data)
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        locations = [".".join([where, *(str(p) for p in e["loc"])]).strip(".") for e in errors]
        detail = "; ".join(f"{loc or '(root)'}: {e['msg']}" for loc, e in zip(locations, errors, strict=True))
        raise CdsError(400, "invalid", detail[:2000], locations[:20]) from None


@router.get("", summary="CDS Hooks discovery")
def discovery() -> Response:
    return Response(orjson.dumps(load_catalogue().discovery()), media_type=CDS_MEDIA_TYPE)


@router.post("/{service_id}", summary="Call a CDS service")
async def call_service(service_id: str, request: Request, caller: CdsCaller, services: ServicesDep) -> Response:
    service = _service(service_id)
    hook = _parse(HookRequest, await request.body(), "")
    if hook.hook != service.hook:
        raise CdsError(400, "invalid", f"service '{service.id}' answers '{service.hook}', not '{hook.hook}'", ["hook"])
    context = _parse(HOOK_CONTEXTS[service.hook], hook.context, "context")
    try:
        gathered = await gather(hook, service, load_catalogue())
    except DataUnavailable as exc:
        raise CdsError(412, "not-found", exc.diagnostics, [exc.expression]) from None
    drafts: list[Mapping[str, Any]] = []
    focus: set[str] = set()
    if isinstance(context, OrderSignContext):
        drafts = [e["resource"] for e in context.draftOrders.get("entry", [])]
        refs = {f"{r['resourceType']}/{r['id']}" for r in drafts}
        focus = set(context.selections) & refs if isinstance(context, OrderSelectContext) else refs
    bundle = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [{"resource": r} for r in (*gathered.resources, *drafts)],
    }
    mapped = await run_in_threadpool(map_bundle, bundle, services.settings)
    mapped = dataclasses.replace(mapped, issues=mapped.issues + gathered.notes)
    patient_ref = f"Patient/{context.patientId}"
    if mapped.patient_ref is not None and mapped.patient_ref != patient_ref:
        raise CdsError(400, "invalid", "the prefetched Patient is not context.patientId", ["prefetch.patient"])
    issued = await issue_mapped_decision(
        services, mapped, caller, extra={"cds": {"service": service.id, "hook": hook.hook}}
    )
    ctx = CardContext(hook.hook, patient_ref, mapped, tuple(r for r in mapped.referrals if r.source in focus))
    decision = orjson.loads(issued.body)
    built = CardBuilder(load_wording(), services.engine.ruleset.guidelines).build(decision, ctx)
    now = datetime.datetime.now(datetime.UTC)
    records = [
        CardRecord(
            card_uuid=c.card["uuid"],
            decision_id=issued.decision_id,
            service_id=service.id,
            hook_instance=hook.hookInstance[:64],
            rule_id=c.rule_id,
            rule_version=c.rule_version,
            indicator=c.card["indicator"],
            created_at=now,
        )
        for c in built
    ]
    await run_in_threadpool(services.store.cds.append_cards, records)
    log.info("cds_cards_issued", service=service.id, decision_id=issued.decision_id, cards=len(records))
    return Response(orjson.dumps({"cards": [c.card for c in built]}), media_type=CDS_MEDIA_TYPE)


@router.post("/{service_id}/feedback", summary="Feedback on cards")
async def feedback(service_id: str, request: Request, caller: CdsCaller, services: ServicesDep) -> Response:
    service = _service(service_id)
    items = _parse(Feedback, await request.body(), "").feedback
    now = datetime.datetime.now(datetime.UTC)
    records = [
        FeedbackRecord(
            feedback_id=str(uuid.uuid4()),
            card_uuid=item.card,
            service_id=service.id,
            outcome=item.outcome,
            accepted_suggestions=tuple(s.id for s in item.acceptedSuggestions or ()),
            override_system=item.overrideReason.reason.system
            if item.overrideReason and item.overrideReason.reason
            else None,
            override_code=item.overrideReason.reason.code
            if item.overrideReason and item.overrideReason.reason
            else None,
            override_comment=item.overrideReason.userComment if item.overrideReason else None,
            outcome_timestamp=item.outcomeTimestamp,
            received_at=now,
            caller_key_id=caller.key_id,
        )
        for item in items
    ]
    try:
        await run_in_threadpool(services.store.cds.append_feedback, records)
    except UnknownCards as exc:
        raise CdsError(404, "not-found", exc.summary, [p.location for p in exc.problems]) from None
    log.info(
        "cds_feedback_recorded",
        service=service.id,
        accepted=sum(1 for r in records if r.outcome == "accepted"),
        overridden=sum(1 for r in records if r.outcome == "overridden"),
    )
    return Response(status_code=200)
