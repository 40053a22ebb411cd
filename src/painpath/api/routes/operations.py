"""Probes and version: ``/healthz`` (process up), ``/readyz`` (rules and database), ``/version``.

``/readyz`` checks that the decision log is *writable* now, with a bounded probe (an insert that is
rolled back, waiting at most the busy timeout), so a locked or stalled database makes the service
not ready instead of leaving requests to hang.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from painpath.api import presenters
from painpath.api.deps import ServicesDep
from painpath.api.models import HealthReport, ReadinessReport, VersionInfo
from painpath.store import StoreUnavailable
from painpath.version import __version__
from painpath.workers import EvaluationUnavailable

router = APIRouter(tags=["operations"])
PROBE_GRACE_SECONDS = 1.0
"""How much longer than the busy timeout ``/readyz`` waits for its write probe."""
API_VERSION = "v1"


@router.get("/healthz", response_model=HealthReport, operation_id="healthz", summary="Liveness: the process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=ReadinessReport,
    operation_id="readyz",
    summary="Readiness: rules loaded and the decision log writable",
    responses={503: {"model": ReadinessReport, "description": "Not ready; `checks` says why."}},
)
async def readyz(services: ServicesDep) -> JSONResponse:
    checks = {"rules": "ok" if services.engine.ruleset.rules else "no active rules"}
    bound = services.settings.db_busy_timeout_ms / 1000 + PROBE_GRACE_SECONDS
    try:
        await asyncio.wait_for(run_in_threadpool(services.store.probe_write), timeout=bound)
        checks["database"] = "ok"
    except StoreUnavailable as exc:
        checks["database"] = "; ".join(p.message for p in exc.problems) or exc.summary
    except TimeoutError:
        checks["database"] = f"a write did not complete within {bound:g} s"
    # the reused durable-rules sessions of this process hold no facts between evaluations (D1)
    if services.evaluator.workers:
        checks["evaluation"] = services.evaluator.state
    try:
        idle = await services.evaluator.idle_check()  # here and in each evaluation worker
    except EvaluationUnavailable:
        idle = []  # reported as checks["evaluation"]
    checks["durable_sessions"] = "; ".join(idle) or "ok"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not_ready", "checks": checks}, status_code=200 if ready else 503
    )


@router.get("/version", response_model=VersionInfo, operation_id="version", summary="Package, API and ruleset versions")
async def version(services: ServicesDep) -> dict[str, Any]:
    return {"painpath": __version__, "api": API_VERSION, "ruleset": presenters.ruleset_ref(services.engine.ruleset)}
