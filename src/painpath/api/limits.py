"""Request body limits (413) and content-type checks (415).

The body limit is enforced in an ASGI middleware: a declared ``Content-Length`` over the limit is
refused before any of the body is read, and a body without one (chunked) is counted as it streams
in and refused as soon as it passes the limit. Nothing over the limit is ever held in memory.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from painpath.api.problems import ApiProblem, problem_response, problem_type

JSON_MEDIA_TYPE = "application/json"
FHIR_MEDIA_TYPE = "application/fhir+json"


class RequestBodyTooLarge(ApiProblem):
    """The request body passed the configured limit."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            413,
            "body-too-large",
            "Request body too large",
            f"request bodies are limited to {limit} bytes",
            headers={"Connection": "close"},
        )


class BodyLimitMiddleware:
    """Refuse request bodies larger than ``max_bytes`` (or a path's own limit) without reading them whole."""

    def __init__(self, app: ASGIApp, max_bytes: int, path_limits: Mapping[str, int] | None = None) -> None:
        self.app = app
        self.default_max_bytes = max_bytes
        self.path_limits = dict(path_limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        max_bytes = self.path_limits.get(scope.get("path", ""), self.default_max_bytes)
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            problem = RequestBodyTooLarge(max_bytes)
            response = problem_response(
                413,
                problem.title,
                type_=problem_type(problem.slug),
                detail=problem.detail,
                instance=scope.get("path"),
                headers=problem.headers,
            )
            await response(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > max_bytes:
                    raise RequestBodyTooLarge(max_bytes)
            return message

        await self.app(scope, limited_receive, send)


def _media_type(request: Request, accepted: tuple[str, ...], what: str) -> str:
    """The declared media type when it is one of ``accepted`` in UTF-8, else 415."""
    content_type = request.headers.get("content-type", "")
    media_type, _, params = content_type.partition(";")
    charset = next(
        (
            v.strip().strip('"').lower()
            for k, _, v in (p.partition("=") for p in params.split(";"))
            if k.strip().lower() == "charset"
        ),
        "utf-8",
    )
    media_type = media_type.strip().lower()
    if media_type not in accepted or charset not in ("utf-8", "utf8"):
        raise ApiProblem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            f"send {what} as Content-Type: {' or '.join(accepted)} (UTF-8)",
            headers={"Accept-Post": ", ".join(accepted)},
        )
    return media_type


@dataclass(frozen=True)
class TypedBody:
    """A request body and its declared media type."""

    media_type: str
    raw: bytes


async def facts_or_fhir_body(request: Request) -> TypedBody:
    """Patient facts (``application/json``) or a FHIR R4 Bundle (``application/fhir+json``), UTF-8."""
    media_type = _media_type(request, (JSON_MEDIA_TYPE, FHIR_MEDIA_TYPE), "patient facts or a FHIR R4 Bundle")
    return TypedBody(media_type, await request.body())


FactsOrFhirBody = Annotated[TypedBody, Depends(facts_or_fhir_body)]
