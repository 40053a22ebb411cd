"""Structured request logs: one JSON line per request, plus JSON formatting for uvicorn's own logs.

Each request gets a fresh request id (returned as ``X-Request-ID`` and bound into every log line
written while it is handled). The request line names the route *template* (never the raw path,
which a caller could fill with anything), the status, the latency, the ruleset hash and, for a new
evaluation, the decision id. Fact values and patient identifiers are never logged.
"""

from __future__ import annotations

import logging
import time
import traceback
import uuid
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from painpath.api.problems import error_response, problem_type

log = structlog.get_logger("painpath.api")


class RequestLogMiddleware:
    """The outermost layer: request id, access log, and a last guard against escaping exceptions."""

    def __init__(self, app: ASGIApp, ruleset_hash: str) -> None:
        self.app = app
        self.ruleset_hash = ruleset_hash[:12]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        started = time.perf_counter()
        status = 0
        decision_id: str | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status, decision_id
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                for name, value in headers:
                    if name.lower() == b"location" and status == 201:
                        decision_id = value.decode("latin-1").rsplit("/", 1)[-1]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as exc:  # the ASGI boundary: log safely, never re-raise to uvicorn
                # Re-raised after a 500 was sent (Starlette does this for servers to log it); uvicorn would
                # log the message and locals, which may hold submitted values. Type and frames only.
                frames = [
                    f"{f.filename.rsplit('/', 1)[-1]}:{f.lineno}:{f.name}"
                    for f in traceback.extract_tb(exc.__traceback__)
                ]
                log.error("unhandled_exception", error_type=type(exc).__name__, frames=frames[-8:])
                if status == 0:
                    response = error_response(
                        str(scope.get("path", "")),
                        500,
                        "Internal Server Error",
                        type_=problem_type("internal-error"),
                        detail="the service failed; no decision was issued",
                    )
                    await response(scope, receive, send_with_id)
            finally:
                route = scope.get("route")
                log.info(
                    "http_request",
                    method=scope.get("method"),
                    route=getattr(route, "path", "(unmatched)"),
                    status=status,
                    latency_ms=round((time.perf_counter() - started) * 1e3, 3),
                    decision_id=decision_id,
                    ruleset_hash=self.ruleset_hash,
                )


def uvicorn_log_config(level: str) -> dict[str, Any]:
    """``logging.config`` for uvicorn and Alembic: JSON lines on stderr, no access log (ours is above)."""
    formatter = {
        "()": structlog.stdlib.ProcessorFormatter,
        "processors": [structlog.stdlib.ProcessorFormatter.remove_processors_meta, structlog.processors.JSONRenderer()],
        "foreign_pre_chain": [
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.stdlib.add_logger_name,
        ],
    }
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": formatter},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}},
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn.access": {"handlers": [], "level": logging.CRITICAL, "propagate": False},
            "alembic": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
            # httpx/httpcore log each request URL at INFO; a FHIR URL names the patient.
            "httpx": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
            "httpcore": {"handlers": ["stderr"], "level": "WARNING", "propagate": False},
        },
    }
