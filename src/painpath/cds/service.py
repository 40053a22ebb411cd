"""A CDS Hooks service call, from request bytes to cards: the orchestration behind the HTTP route.

``call_service`` parses the hook request (strictly: no repeated keys, the CDS Hooks models), gathers
the FHIR data (``cds.prefetch``), maps it to facts (``fhir.mapping``), evaluates and records the
decision like any other (``issue_mapped_decision``) when the call is in scope (``cds.scope``; else
no cards), builds the cards (``cds.cards``) and records
them with the client they were issued to. ``record_feedback`` stores feedback on cards, accepted
only from that same client. Every failure is a ``CdsError`` (an OperationOutcome); no input gives a
5xx. The HTTP route (``api.routes.cds_hooks``) only authenticates and hands the body over.
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from collections.abc import Mapping
from typing import Any, TypeVar

import orjson
import structlog
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from painpath.api.auth import Caller
from painpath.api.fhir_input import issue_mapped_decision, map_bundle
from painpath.api.limits import duplicate_keys
from painpath.api.problems import CdsError
from painpath.api.state import Services
from painpath.cds.cards import CardBuilder, CardContext
from painpath.cds.models import HOOK_CONTEXTS, Feedback, HookRequest, OrderSelectContext, OrderSignContext
from painpath.cds.prefetch import DataUnavailable, InvalidPrefetch, gather
from painpath.cds.scope import load_scope
from painpath.cds.services import ServiceSpec, load_catalogue
from painpath.cds.wording import load_wording
from painpath.store import CardRecord, FeedbackRecord, UnknownCards

log = structlog.get_logger("painpath.api")
_Model = TypeVar("_Model", bound=BaseModel)
INLINE_CHECK_BYTES = 64 * 1024


def service_spec(service_id: str) -> ServiceSpec:
    """The service ``service_id`` of the catalogue, or a 404 ``CdsError``."""
    service = load_catalogue().by_id.get(service_id)
    if service is None:
        raise CdsError(404, "not-found", f"no CDS service '{service_id[:64]}'")
    return service


def _check_duplicates(raw: bytes) -> None:
    found = duplicate_keys(raw)
    if found:
        raise CdsError(
            400,
            "invalid",
            "; ".join(f"{loc}: duplicate key '{key[:64]}' (a key may appear once)" for loc, key in found),
            [loc for loc, _ in found],
        )


async def parse_body(model: type[_Model], raw: bytes) -> _Model:
    """A request body as ``model``: JSON without repeated keys, valid by the model, else 400."""
    if len(raw) <= INLINE_CHECK_BYTES:
        _check_duplicates(raw)
    else:
        await run_in_threadpool(_check_duplicates, raw)
    return parse(model, raw, "")


def parse(model: type[_Model], data: bytes | Mapping[str, Any], where: str) -> _Model:
    """``data`` (JSON text or decoded) as ``model``, or a 400 ``CdsError`` naming each problem."""
    try:
        if isinstance(data, bytes):
            return model.model_validate_json(data)
        return model.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors(include_url=False)
        locations = [".".join([where, *(str(p) for p in e["loc"])]).strip(".") for e in errors]
        detail = "; ".join(f"{loc or '(root)'}: {e['msg']}" for loc, e in zip(locations, errors, strict=True))
        raise CdsError(400, "invalid", detail[:2000], locations[:20]) from None


async def call_service(services: Services, service_id: str, raw: bytes, caller: Caller) -> dict[str, Any]:
    """The CDS Hooks response (``{"cards": [...]}``) to a hook request for ``service_id``."""
    service = service_spec(service_id)
    hook = await parse_body(HookRequest, raw)
    if hook.hook != service.hook:
        raise CdsError(400, "invalid", f"service '{service.id}' answers '{service.hook}', not '{hook.hook}'", ["hook"])
    context = parse(HOOK_CONTEXTS[service.hook], hook.context, "context")
    try:
        gathered = await gather(hook, service, load_catalogue())
    except DataUnavailable as exc:
        raise CdsError(412, "not-found", exc.diagnostics, [exc.expression]) from None
    except InvalidPrefetch as exc:
        raise CdsError(400, "invalid", exc.diagnostics, [exc.expression]) from None
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
    scope = load_scope()
    if service.hook == "patient-view":
        answered = scope.patient_in_scope(gathered.resources)
    else:
        focused = [r for r in drafts if f"{r['resourceType']}/{r['id']}" in focus]
        answered = scope.orders_in_scope(focused, mapped.referrals, gathered.resources)
    if not answered:
        # painpath has no rules for this order or patient: no cards, nothing evaluated or recorded
        log.info("cds_out_of_scope", service=service.id, hook=hook.hook)
        return {"cards": []}
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
            caller_key_id=caller.key_id,
        )
        for c in built
    ]
    await run_in_threadpool(services.store.cds.append_cards, records)
    log.info("cds_cards_issued", service=service.id, decision_id=issued.decision_id, cards=len(records))
    return {"cards": [c.card for c in built]}


async def record_feedback(services: Services, service_id: str, raw: bytes, caller: Caller) -> None:
    """Store feedback on cards ``service_id`` issued to ``caller``; 404 if any card is not such a card."""
    service = service_spec(service_id)
    items = (await parse_body(Feedback, raw)).feedback
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
