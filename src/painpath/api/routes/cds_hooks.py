"""CDS Hooks 2.0.1 (with the 3.0 ``version`` and OperationOutcome errors): discovery, services, feedback.

Thin handlers: authenticate the client (a JWT of a trusted issuer whose audience is this service's
configured public URL, or a painpath API key), insist on ``application/json``, and hand the body to
``cds.service``, which does the rest. Every error on these routes is a FHIR OperationOutcome
(``api.problems.error_response``), 401, 403, 413 and 415 included. The routes are in the OpenAPI
document with their real request and response models, so the fuzz suite reaches them.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Path, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials
from starlette.concurrency import run_in_threadpool

from painpath.api.auth import Caller, Permission, Role
from painpath.api.deps import ServicesDep, authenticate, bearer
from painpath.api.limits import media_type_of
from painpath.api.problems import CDS_MEDIA_TYPE, ApiProblem, CdsError
from painpath.cds import service as cds_service
from painpath.cds.jwt_auth import JwtRejected
from painpath.cds.services import load_catalogue

router = APIRouter(prefix="/cds-services", tags=["cds-hooks"])

OUTCOME_SCHEMA = {"$ref": "#/components/schemas/OperationOutcome"}
_OUTCOME_DESCRIPTIONS = {
    400: "The request is not a valid CDS Hooks request for this service (repeated keys included).",
    401: "No credentials, or a token that is not acceptable (JWT: untrusted, expired, replayed, wrong audience).",
    403: "The API key's role may not evaluate.",
    404: "No such CDS service, or feedback on a card this service did not issue to this client.",
    412: "Required FHIR data was neither prefetched nor fetchable from fhirServer.",
    413: "The request body is over the configured limit.",
    415: "The request body is not `application/json` (UTF-8).",
    422: "The path is invalid (a service id is at most 64 characters).",
    503: "The decision log is unavailable or stalled; retry after `Retry-After` seconds.",
}
_OUTCOME_HEADERS: dict[int, dict[str, Any]] = {
    401: {"WWW-Authenticate": {"description": "The bearer realm.", "schema": {"type": "string"}}},
    415: {"Accept-Post": {"description": "`application/json`.", "schema": {"type": "string"}}},
    503: {"Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "string"}}},
}


def outcomes(*codes: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entries for the given error statuses, as OperationOutcomes."""
    out: dict[int | str, dict[str, Any]] = {}
    for code in codes:
        entry: dict[str, Any] = {
            "description": _OUTCOME_DESCRIPTIONS[code],
            "content": {CDS_MEDIA_TYPE: {"schema": OUTCOME_SCHEMA}},
        }
        if code in _OUTCOME_HEADERS:
            entry["headers"] = _OUTCOME_HEADERS[code]
        out[code] = entry
    return out


def _body(model: str, description: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "description": description,
            "content": {CDS_MEDIA_TYPE: {"schema": {"$ref": f"#/components/schemas/{model}"}}},
        }
    }


async def cds_caller(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    """The CDS client: a verified JWT when issuers are configured, else a painpath API key (evaluate).

    A JWT's audience must be ``PAINPATH_PUBLIC_URL`` plus the route path: never the Host header or
    any other part of the request's idea of where it was sent.
    """
    verifier = services.cds_jwt
    if verifier is not None:
        audience = services.settings.cds_audience(request.scope["path"])
        try:
            issuer = await run_in_threadpool(
                verifier.verify, credentials.credentials if credentials else None, audience
            )
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


async def cds_json_body(request: Request) -> bytes:
    """The body, which must be declared ``application/json`` (UTF-8), else 415."""
    if media_type_of(request) != ("application/json", "utf-8"):
        raise CdsError(
            415,
            "not-supported",
            "send CDS Hooks requests as Content-Type: application/json (UTF-8)",
            headers={"Accept-Post": CDS_MEDIA_TYPE},
        )
    return await request.body()


CdsBody = Annotated[bytes, Depends(cds_json_body)]
ServiceId = Annotated[str, Path(description="A service id from the discovery document.", max_length=64)]


@router.get(
    "",
    operation_id="cdsDiscovery",
    summary="CDS Hooks discovery",
    description="The CDS services painpath offers, with their hooks and prefetch templates (no authentication).",
    responses={
        200: {
            "description": "The discovery document.",
            "content": {CDS_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Discovery"}}},
        }
    },
    response_class=Response,
)
def discovery() -> Response:
    return Response(orjson.dumps(load_catalogue().discovery()), media_type=CDS_MEDIA_TYPE)


@router.post(
    "/{service_id}",
    operation_id="callCdsService",
    summary="Call a CDS service",
    description="A CDS Hooks request for the service's hook. Answers cards; errors are OperationOutcomes. "
    "Needs a JWT of a trusted CDS client (when `PAINPATH_CDS_TRUSTED_ISSUERS` is set) or an API key "
    "with the `evaluate` permission.",
    openapi_extra=_body("HookRequest", "A CDS Hooks request (no repeated keys)."),
    responses={
        200: {
            "description": "The cards.",
            "content": {CDS_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/HookResponse"}}},
        },
        **outcomes(400, 401, 403, 404, 412, 413, 415, 422, 503),
    },
    response_class=Response,
)
async def call_service(service_id: ServiceId, caller: CdsCaller, body: CdsBody, services: ServicesDep) -> Response:
    answer = await cds_service.call_service(services, service_id, body, caller)
    return Response(orjson.dumps(answer), media_type=CDS_MEDIA_TYPE)


@router.post(
    "/{service_id}/feedback",
    operation_id="cdsFeedback",
    summary="Feedback on cards",
    description="Whether the clinician accepted or overrode cards. Accepted only from the client (API key or "
    "JWT issuer) the cards were issued to.",
    openapi_extra=_body("Feedback", "CDS Hooks feedback (no repeated keys)."),
    responses={200: {"description": "Stored."}, **outcomes(400, 401, 403, 404, 413, 415, 422, 503)},
    response_class=Response,
)
async def feedback(service_id: ServiceId, caller: CdsCaller, body: CdsBody, services: ServicesDep) -> Response:
    await cds_service.record_feedback(services, service_id, body, caller)
    return Response(status_code=200)


__all__ = ["CdsError", "router"]
