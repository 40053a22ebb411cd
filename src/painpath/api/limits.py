"""Request body limits (413) and content-type checks (415).

The body limit is enforced in an ASGI middleware: a declared ``Content-Length`` over the limit is
refused before any of the body is read, and a body without one (chunked) is counted as it streams
in and refused as soon as it passes the limit. Nothing over the limit is ever held in memory.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from painpath.api.problems import ApiProblem, error_response, problem_type
from painpath.errors import FactsValidationError, Problem

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
    """Refuse request bodies larger than ``max_bytes`` without reading them whole.

    A path's own limit (``path_limits``) comes first, then the limit of the declared media type
    (``media_limits``, e.g. larger FHIR Bundles), then ``max_bytes``.
    """

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        path_limits: Mapping[str, int] | None = None,
        media_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.default_max_bytes = max_bytes
        self.path_limits = dict(path_limits or {})
        self.media_limits = {k.lower(): v for k, v in (media_limits or {}).items()}

    def limit_for(self, scope: Scope, headers: Mapping[bytes, bytes]) -> int:
        """The body limit of one request."""
        path_limit = self.path_limits.get(scope.get("path", ""))
        if path_limit is not None:
            return path_limit
        media_type = headers.get(b"content-type", b"").decode("latin-1").partition(";")[0].strip().lower()
        return self.media_limits.get(media_type, self.default_max_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        max_bytes = self.limit_for(scope, headers)
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            problem = RequestBodyTooLarge(max_bytes)
            response = error_response(
                scope.get("path", ""),
                413,
                problem.title,
                type_=problem_type(problem.slug),
                detail=problem.detail,
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


def media_type_of(request: Request) -> tuple[str, str]:
    """The declared media type (lower case, ``""`` when absent) and charset (``utf-8`` unless declared)."""
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
    return media_type.strip().lower(), "utf-8" if charset == "utf8" else charset


def _media_type(request: Request, accepted: tuple[str, ...], what: str) -> str:
    """The declared media type when it is one of ``accepted`` in UTF-8, else 415."""
    media_type, charset = media_type_of(request)
    if media_type not in accepted or charset != "utf-8":
        raise ApiProblem(
            415,
            "unsupported-media-type",
            "Unsupported media type",
            f"send {what} as Content-Type: {' or '.join(accepted)} (UTF-8)",
            headers={"Accept-Post": ", ".join(accepted)},
        )
    return media_type


async def json_body(request: Request) -> bytes:
    """The request body, which must be declared ``application/json`` (UTF-8), without repeated keys."""
    _media_type(request, (JSON_MEDIA_TYPE,), "the patient facts")
    raw = await request.body()
    await checked_for_duplicates(raw)
    return raw


@dataclass(frozen=True)
class TypedBody:
    """A request body and its declared media type."""

    media_type: str
    raw: bytes


async def facts_or_fhir_body(request: Request) -> TypedBody:
    """Patient facts (``application/json``) or a FHIR R4 Bundle (``application/fhir+json``), UTF-8."""
    media_type = _media_type(request, (JSON_MEDIA_TYPE, FHIR_MEDIA_TYPE), "patient facts or a FHIR R4 Bundle")
    raw = await request.body()
    await checked_for_duplicates(
        raw, "invalid patient facts" if media_type == JSON_MEDIA_TYPE else "invalid FHIR Bundle"
    )
    return TypedBody(media_type, raw)


FactsOrFhirBody = Annotated[TypedBody, Depends(facts_or_fhir_body)]


# -- duplicate keys --------------------------------------------------------------------------------------


class _Duplicates(dict[str, Any]):
    """A decoded JSON object that had repeated keys (the names are kept in ``repeated``)."""

    repeated: list[str]


def _marked(obj: dict[str, Any], pairs: list[tuple[str, Any]]) -> _Duplicates:
    seen: set[str] = set()
    marked = _Duplicates(obj)
    marked.repeated = []
    for key, _ in pairs:
        if key in seen:
            marked.repeated.append(key)
        seen.add(key)
    return marked


def _find_duplicates(value: Any, path: tuple[str, ...], found: list[tuple[tuple[str, ...], str]]) -> None:
    if isinstance(value, dict):
        if isinstance(value, _Duplicates):
            found.extend((path, key) for key in value.repeated)
        for key, item in value.items():
            _find_duplicates(item, (*path, key), found)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _find_duplicates(item, (*path, str(i)), found)


MAX_DUPLICATES_REPORTED = 20


def duplicate_keys(raw: bytes) -> list[tuple[str, str]]:
    """``(location, key)`` of every key repeated within one JSON object of ``raw``; empty if none.

    JSON (RFC 8259) leaves repeated names undefined and parsers differ on which one wins, so painpath
    refuses them. Text that is not JSON gives no duplicates here: the body's own parser reports it.
    """
    if b'"' not in raw:
        return []
    repeated = False

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        nonlocal repeated
        obj = dict(items)
        if len(obj) == len(items):
            return obj
        repeated = True
        return _marked(obj, items)

    try:
        decoded = json.loads(raw, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return []
    if not repeated:
        return []
    found: list[tuple[tuple[str, ...], str]] = []
    _find_duplicates(decoded, (), found)
    return [(".".join((*path, key)), key) for path, key in found[:MAX_DUPLICATES_REPORTED]]


def check_duplicate_keys(raw: bytes, what: str = "invalid patient facts") -> None:
    """Raise ``FactsValidationError`` (422) naming each repeated key of the JSON ``raw``."""
    found = duplicate_keys(raw)
    if found:
        raise FactsValidationError(
            what, [Problem(location, f"duplicate key '{key[:64]}' (a key may appear once)") for location, key in found]
        )


INLINE_CHECK_BYTES = 64 * 1024
"""Bodies up to this size are checked for repeated keys on the event loop; larger ones in a thread."""


async def checked_for_duplicates(raw: bytes, what: str = "invalid patient facts") -> None:
    """``check_duplicate_keys``, off the event loop for large bodies."""
    if len(raw) <= INLINE_CHECK_BYTES:
        check_duplicate_keys(raw, what)
    else:
        await run_in_threadpool(check_duplicate_keys, raw, what)
