"""The ASGI application factory.

``create_app`` loads and compiles the rules first and refuses to build an app if they are invalid
(``RulesValidationError``: fail closed), then opens and migrates the database (``StoreUnavailable``).
Both happen before a socket is bound, so a service that is listening can always evaluate.
``uvicorn --factory painpath.api.app:create_app`` works too; ``painpath.api.server.serve`` is the
supported way to run it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from jwt import PyJWTError
from starlette.types import ASGIApp

from painpath.api.compression import CompressionMiddleware
from painpath.api.limits import FHIR_MEDIA_TYPE, BodyLimitMiddleware
from painpath.api.middleware import RequestLogMiddleware
from painpath.api.openapi import build_openapi
from painpath.api.problems import install_problem_handlers
from painpath.api.routes import audits, cds_hooks, evaluations, fhir, guidelines, operations, rules, triage
from painpath.api.settings import ServiceConfigError, Settings
from painpath.api.state import Services
from painpath.audit.jobs import AuditJobs, QueueLimits
from painpath.cds.jwt_auth import JwtVerifier, TrustedIssuers
from painpath.cds.scope import load_scope
from painpath.cds.services import load_catalogue
from painpath.cds.wording import load_wording
from painpath.engine import Engine
from painpath.errors import EngineError, Problem, RulesValidationError
from painpath.replay import prepare_decision_log
from painpath.store import Store, open_store
from painpath.version import __version__
from painpath.web import install_web
from painpath.workers import EngineSpec, EvaluationWorkers, Evaluator

DESCRIPTION = """\
Guideline-based clinical decision support for chronic musculoskeletal pain.

`POST /v1/evaluations` takes facts about one patient and returns a decision: red flags first, then
Pain Management Programme eligibility, pathways and best-practice adherence, each with the rules that
fired, why, the facts they used, their citations and the facts still missing. Every decision is
recorded and can be read back unchanged. Errors are RFC 9457 problem documents.

Authenticate with `Authorization: Bearer <API key>`. Roles: **clinician** (evaluate), **triage**
(evaluate, read stored decisions), **auditor** (read stored decisions, run audits), **admin** (everything).
Every role may read rules and guidelines.
"""

TAGS = [
    {"name": "evaluations", "description": "Issue decisions and read them back."},
    {"name": "audits", "description": "Guideline-adherence audits of a cohort, run as background jobs."},
    {"name": "rules", "description": "The loaded ruleset: conditions, citations, test vectors."},
    {"name": "guidelines", "description": "The sources the rules cite."},
    {"name": "fhir", "description": "FHIR R4 definitions: the SDC Questionnaire of every fact (see docs/fhir.md)."},
    {"name": "cds-hooks", "description": "CDS Hooks 2.0.1 services for referral decisions (see docs/cds-hooks.md)."},
    {"name": "operations", "description": "Probes and versions (no authentication)."},
]


class PainpathAPI(FastAPI):
    """FastAPI with painpath's OpenAPI document and the request log outside every other layer."""

    def __init__(self, services: Services, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.state.services = services
        self._services = services

    def openapi(self) -> dict[str, Any]:
        if self.openapi_schema is None:
            self.openapi_schema = build_openapi(self, self._services.engine)
        return self.openapi_schema

    def build_middleware_stack(self) -> ASGIApp:
        # Outside Starlette's ServerErrorMiddleware, so even an escaping exception is logged our way.
        return RequestLogMiddleware(super().build_middleware_stack(), self._services.engine.ruleset.content_hash)


def load_services(settings: Settings) -> Services:
    """Load the rules (fail closed) here and in the evaluation workers, then open and migrate the database."""
    workers = settings.evaluation_workers
    spec = EngineSpec.of(settings.rules_dir, settings.site_config)
    pool = EvaluationWorkers(workers, spec, settings.log_level) if workers else None
    try:
        try:
            engine = Engine.from_directory(settings.rules_dir, site_config=settings.site_config)
        except EngineError as exc:  # compiling for durable-rules failed: as invalid as a validation error
            raise RulesValidationError(
                f"the rules in {settings.rules_dir} cannot be compiled: {exc.summary}", exc.problems
            ) from exc
        evaluator = Evaluator(engine, pool)
        evaluator.check_workers()
        store = open_store(settings.resolved_database_url, busy_timeout_ms=settings.db_busy_timeout_ms)
        prepare_decision_log(store, engine, settings.rules_dir)
        cds_jwt = load_cds_jwt(settings, store)
        audits = AuditJobs(
            settings.data_dir / "audits",
            None,
            settings.rules_dir,
            settings.site_config,
            settings.audit_workers,
            QueueLimits(per_key=settings.audit_queue_per_key, total=settings.audit_queue_total),
        )
    except BaseException:
        if pool is not None:
            pool.close()
        raise
    return Services(
        settings=settings,
        engine=engine,
        store=store,
        evaluator=evaluator,
        audits=audits,
        cds_jwt=cds_jwt,
    )


def load_cds_jwt(settings: Settings, store: Store) -> JwtVerifier | None:
    """The CDS client JWT verifier, when trusted issuers are configured; the CDS data files are checked too.

    Token ids are claimed in the decision log, so replay protection is shared by every service
    process and survives restarts.
    """
    load_catalogue()
    load_wording()
    load_scope()
    if settings.cds_trusted_issuers is None:
        return None
    try:
        return JwtVerifier(TrustedIssuers.from_file(settings.cds_trusted_issuers), store.replay.claim)
    except (OSError, ValueError, PyJWTError) as exc:
        raise ServiceConfigError(
            "invalid CDS client issuers", [Problem("PAINPATH_CDS_TRUSTED_ISSUERS", str(exc))]
        ) from None


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """The painpath API. Raises ``RulesValidationError``, ``StoreUnavailable`` or ``ServiceConfigError``."""
    settings = settings or Settings.from_env()
    services = services or load_services(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        services.evaluator.close()
        services.audits.close()
        services.store.close()

    app = PainpathAPI(
        services,
        title="painpath",
        version=__version__,
        description=DESCRIPTION,
        openapi_tags=TAGS,
        lifespan=lifespan,
        docs_url=None,  # served from packaged files by painpath.web (no CDN)
        redoc_url=None,
        summary="Clinical decision support for chronic musculoskeletal pain",
    )
    app.add_middleware(
        BodyLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        path_limits={audits.UPLOAD_PATH: settings.audit_max_bytes},
        media_limits={FHIR_MEDIA_TYPE: settings.fhir_max_body_bytes},
    )
    app.add_middleware(CompressionMiddleware)  # JSON responses, as Accept-Encoding allows
    install_problem_handlers(app)
    app.router.routes.append(evaluations.PlainEvaluationRoute())  # before the declared route: see its docstring
    for module in (evaluations, triage, audits, cds_hooks, rules, guidelines, fhir, operations):
        app.include_router(module.router)
    install_web(app)
    app.openapi()  # built now: a broken document should stop the start, not the first client
    return app
