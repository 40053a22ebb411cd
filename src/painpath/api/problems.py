"""RFC 9457 problem details: every error the API returns is ``application/problem+json``...

...except under ``/cds-services``, where CDS Hooks (3.0) wants a FHIR ``OperationOutcome`` as
``application/json``: every error there, whichever layer raises it (authentication, body limit,
content type, storage, an unexpected failure), is rendered as one (``error_response``).

``type`` is a ``urn:painpath:problem:<slug>`` URN (documented in docs/api.md) or ``about:blank``
for plain HTTP errors. Bad patient facts carry ``errors``: one entry per problem with the field
path, a JSON pointer, the reason and, when cheap, a suggested correction. Problem bodies never echo
submitted values.
"""

from __future__ import annotations

import http
import traceback
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

import orjson
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from painpath.errors import FactsValidationError, Problem
from painpath.store import StoreUnavailable
from painpath.workers import EvaluationUnavailable

PROBLEM_MEDIA_TYPE = "application/problem+json"
RETRY_AFTER_SECONDS = 5

log = structlog.get_logger("painpath.api")


def problem_type(slug: str) -> str:
    return f"urn:painpath:problem:{slug}"


CDS_PREFIX = "/cds-services"
CDS_MEDIA_TYPE = "application/json"

OUTCOME_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    412: "not-found",
    413: "too-costly",
    415: "not-supported",
    422: "invalid",
    429: "throttled",
    500: "exception",
    503: "transient",
}
"""The FHIR ``IssueType`` of an OperationOutcome for each HTTP status."""


def is_cds_path(path: str) -> bool:
    """Whether ``path`` is a CDS Hooks route (its errors are OperationOutcomes)."""
    return path == CDS_PREFIX or path.startswith(CDS_PREFIX + "/")


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


def outcome_response(
    status: int,
    diagnostics: str,
    *,
    code: str | None = None,
    expression: list[str] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A FHIR OperationOutcome with one error issue, as ``application/json``."""
    issue: dict[str, Any] = {
        "severity": "error",
        "code": code or OUTCOME_CODES.get(status, "processing"),
        "diagnostics": diagnostics,
    }
    if expression:
        issue["expression"] = expression
    return Response(
        orjson.dumps({"resourceType": "OperationOutcome", "issue": [issue]}),
        status_code=status,
        media_type=CDS_MEDIA_TYPE,
        headers=dict(headers or {}),
    )


def error_response(
    path: str,
    status: int,
    title: str,
    *,
    type_: str = "about:blank",
    detail: str | None = None,
    errors: list[FieldProblem] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A problem document, or an OperationOutcome on a CDS Hooks route."""
    if is_cds_path(path):
        diagnostics = detail or title
        if errors:
            diagnostics = "; ".join(f"{e.field}: {e.reason}" for e in errors)[:2000]
        return outcome_response(
            status, diagnostics, expression=[e.field for e in errors or []][:20] or None, headers=headers
        )
    return problem_response(status, title, type_=type_, detail=detail, instance=path, errors=errors, headers=headers)


class FieldProblem(BaseModel):
    """One thing wrong with the input, and where."""

    field: str = Field(description="Dotted path, e.g. `red_flags.saddle_anesthesia`; `(root)` for the whole body.")
    pointer: str = Field(description="RFC 6901 JSON pointer into the request body.")
    reason: str = Field(description="What is wrong, e.g. `unknown field`.")
    suggestion: str | None = Field(default=None, description="The likely intended field or value, when cheap to guess.")


class ProblemDetails(BaseModel):
    """An RFC 9457 problem document."""

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "urn:painpath:problem:invalid-facts",
                    "title": "Invalid patient facts",
                    "status": 422,
                    "detail": "1 problem in the patient facts",
                    "instance": "/v1/evaluations",
                    "request_id": "0c9a4c1e2f3b4d5e8a7b6c5d4e3f2a1b",
                    "errors": [
                        {
                            "field": "red_flags.saddle_anesthesia",
                            "pointer": "/red_flags/saddle_anesthesia",
                            "reason": "unknown field",
                            "suggestion": "red_flags.saddle_anaesthesia",
                        }
                    ],
                }
            ]
        },
    )

    type: str = Field(default="about:blank", description="A URN naming the problem type (see docs/api.md).")
    title: str
    status: int = Field(ge=400, le=599)
    detail: str | None = None
    instance: str | None = Field(default=None, description="The request path.")
    request_id: str | None = Field(default=None, description="Quote this when reporting a problem.")
    errors: list[FieldProblem] | None = None


class ApiProblem(Exception):
    """Raised by routes and dependencies; rendered as a problem document by the handler below."""

    def __init__(
        self,
        status: int,
        slug: str,
        title: str,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        errors: list[FieldProblem] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.slug = slug
        self.title = title
        self.detail = detail
        self.headers = dict(headers or {})
        self.errors = errors


def json_pointer(location: str) -> str:
    """``red_flags.saddle_anesthesia`` -> ``/red_flags/saddle_anesthesia`` (``(root)`` -> ``""``)."""
    if location in ("", "(root)"):
        return ""
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in location.split("."))


def field_problems(problems: Iterable[Problem]) -> list[FieldProblem]:
    return [
        FieldProblem(field=p.location, pointer=json_pointer(p.location), reason=p.message, suggestion=p.suggestion)
        for p in problems
    ]


def _request_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get("request_id")
    return str(value) if value is not None else None


def problem_response(
    status: int,
    title: str,
    *,
    type_: str = "about:blank",
    detail: str | None = None,
    instance: str | None = None,
    errors: list[FieldProblem] | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    """A problem+json response."""
    body = ProblemDetails(
        type=type_,
        title=title,
        status=status,
        detail=detail,
        instance=instance,
        request_id=_request_id(),
        errors=errors,
    )
    return Response(
        body.model_dump_json(exclude_none=True),
        status_code=status,
        media_type=PROBLEM_MEDIA_TYPE,
        headers=dict(headers or {}),
    )


async def _api_problem(request: Request, exc: ApiProblem) -> Response:
    return error_response(
        request.url.path,
        exc.status,
        exc.title,
        type_=problem_type(exc.slug),
        detail=exc.detail,
        errors=exc.errors,
        headers=exc.headers,
    )


async def _cds_error(request: Request, exc: CdsError) -> Response:
    return outcome_response(exc.status, exc.diagnostics, code=exc.code, expression=exc.expression, headers=exc.headers)


async def _invalid_facts(request: Request, exc: FactsValidationError) -> Response:
    n = len(exc.problems)
    log.info("facts_rejected", problems=n)  # counts only: locations may be caller-chosen keys
    return error_response(
        request.url.path,
        422,
        "Invalid patient facts",
        type_=problem_type("invalid-facts"),
        detail=f"{n} problem{'s' if n != 1 else ''} in the patient facts",
        errors=field_problems(exc.problems),
    )


async def _invalid_request(request: Request, exc: RequestValidationError) -> Response:
    errors = [
        FieldProblem(
            field=".".join(str(p) for p in e.get("loc", ())) or "(root)",
            pointer=json_pointer(".".join(str(p) for p in e.get("loc", ())[1:])),
            reason=str(e.get("msg", "invalid")),
        )
        for e in exc.errors()
    ]
    return error_response(
        request.url.path,
        422,
        "Invalid request",
        type_=problem_type("invalid-request"),
        detail="the request's path or query parameters are invalid",
        errors=errors,
    )


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    phrase = http.HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else None
    return error_response(request.url.path, exc.status_code, phrase, detail=detail, headers=exc.headers)


async def _store_unavailable(request: Request, exc: StoreUnavailable) -> Response:
    log.error("store_unavailable", error=exc.summary, reasons=[p.message for p in exc.problems])
    return error_response(
        request.url.path,
        503,
        "Decision log unavailable",
        type_=problem_type("store-unavailable"),
        detail="the decision log could not be read or written in time; no decision was issued",
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _evaluation_unavailable(request: Request, exc: EvaluationUnavailable) -> Response:
    return error_response(
        request.url.path,
        503,
        "Evaluation unavailable",
        type_=problem_type("evaluation-unavailable"),
        detail=f"{exc.summary}; no decision was issued",  # fixed texts (workers.py), never request data
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


async def _internal_error(request: Request, exc: Exception) -> Response:
    # Type and frames only: an exception's message or locals may hold submitted values.
    frames = [f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}:{f.name}" for f in traceback.extract_tb(exc.__traceback__)]
    log.error("internal_error", error_type=type(exc).__name__, frames=frames[-8:])
    return error_response(
        request.url.path,
        500,
        "Internal Server Error",
        type_=problem_type("internal-error"),
        detail="the service failed; no decision was issued",
    )


def install_problem_handlers(app: FastAPI) -> None:
    """Map painpath's errors and HTTP errors to problem documents."""
    handlers: dict[Any, Callable[[Request, Any], Awaitable[Response]]] = {
        ApiProblem: _api_problem,
        CdsError: _cds_error,
        FactsValidationError: _invalid_facts,
        RequestValidationError: _invalid_request,
        StarletteHTTPException: _http_error,
        StoreUnavailable: _store_unavailable,
        EvaluationUnavailable: _evaluation_unavailable,
        Exception: _internal_error,
    }
    for exc_class, handler in handlers.items():
        app.add_exception_handler(exc_class, handler)
