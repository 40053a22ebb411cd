"""Where decisions are computed: in the server process, or in a pool of worker processes.

Evaluating and rendering a decision is pure CPU work under one GIL, so a single process tops out at
a few hundred decisions a second whatever the HTTP layer does.
With ``workers > 0`` each worker process loads the same rules directory, and the service refuses to
start unless every worker reports the ruleset hash the server itself loaded (fail closed: one
service, one ruleset). Workers only compute; the server process records every decision, so the
decision log keeps a single writer.

A worker returns plain data (``Evaluated`` or ``Rejected``), never an exception, so problems with
the facts cross the process boundary intact.
"""

from __future__ import annotations

import asyncio
import datetime
import gc
import multiprocessing
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio.to_thread
import orjson
import structlog

from painpath.engine import Engine, Trace, decision_to_dict
from painpath.errors import FactsValidationError, PainpathError, Problem, RulesValidationError
from painpath.facts import parse_facts_json
from painpath.logging import configure_logging
from painpath.store.triage import DecisionIndex
from painpath.triage.summary import decision_index

PARENT_POLL_SECONDS = 0.5


def _exit_with_parent(parent: int) -> None:
    # A pool worker waits on a queue it also holds the writing end of, so it would never notice a
    # parent killed with SIGKILL (or SIGTERM): poll for the change of parent instead.
    while True:
        time.sleep(PARENT_POLL_SECONDS)
        if os.getppid() != parent:
            os._exit(0)


def watch_parent() -> None:
    """Exit this process as soon as its parent has gone (a daemon thread polls for it)."""
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), name="parent-watch", daemon=True).start()


log = structlog.get_logger("painpath.api")

_IN_PROCESS_THREADS = 4
"""Threads evaluating in the server process: more only contend for the GIL and make latency spiky."""


class EvaluationUnavailable(PainpathError):
    """The evaluation workers have failed; no decision can be issued until the service restarts."""


@dataclass(frozen=True)
class Evaluated:
    """A decision, rendered once (``body``), with what the decision log records beside it."""

    decision_id: str
    created_at: datetime.datetime
    status: str
    engine_version: str
    ruleset_name: str
    ruleset_version: str
    ruleset_hash: str
    parameters: bytes
    body: bytes
    compute_ms: float
    index: DecisionIndex = field(default_factory=DecisionIndex)
    """The decision's worklist columns (``triage.summary``), computed here beside the Decision."""


@dataclass(frozen=True)
class Rejected:
    """The facts were invalid: ``(location, message, suggestion)`` for each problem."""

    problems: tuple[tuple[str, str, str | None], ...]

    def error(self) -> FactsValidationError:
        return FactsValidationError("invalid patient facts", [Problem(*p) for p in self.problems])


def evaluate_raw(
    engine: Engine, raw: bytes, trace: Trace = "summary", extra: Mapping[str, Any] | None = None
) -> Evaluated | Rejected:
    """Parse the JSON facts in ``raw``, evaluate them and render the decision (compact UTF-8 JSON).

    ``extra`` are members added to the decision as issued (e.g. the FHIR mapping report of a Bundle).
    """
    started = time.perf_counter()
    try:
        raw.decode("utf-8")  # the decision log stores the body as text
        facts = parse_facts_json(raw)
    except UnicodeDecodeError:
        return Rejected((("(root)", "the body is not UTF-8", None),))
    except FactsValidationError as exc:
        return Rejected(tuple((p.location, p.message, p.suggestion) for p in exc.problems))
    decision = engine.evaluate(facts)
    document = decision_to_dict(decision, trace=trace)
    if extra:
        document.update(extra)
    return Evaluated(
        decision_id=decision.decision_id,
        created_at=datetime.datetime.fromisoformat(decision.created_at),
        status=decision.status,
        engine_version=decision.engine_version,
        ruleset_name=decision.ruleset_name,
        ruleset_version=decision.ruleset_version,
        ruleset_hash=decision.ruleset_hash,
        parameters=orjson.dumps(document["parameters"]),
        body=orjson.dumps(document),
        compute_ms=round((time.perf_counter() - started) * 1e3, 3),
        index=decision_index(decision),
    )


# -- worker processes: one engine per process ------------------------------------------------------


@dataclass(frozen=True)
class EngineSpec:
    """How a process builds its engine: a rules directory readable on that machine, and a site config."""

    rules_dir: str
    site_config: str | None = None

    @classmethod
    def of(cls, rules_dir: Path, site_config: Path | None) -> EngineSpec:
        return cls(str(rules_dir), str(site_config) if site_config else None)


_ENGINES: dict[EngineSpec, Engine] = {}
"""The engines of this process, by spec: built once by ``process_engine`` (or adopted by ``use_engine``)."""
_start_error: str | None = None
"""Why this worker process could not load its rules when it started (reported by ``_worker_ruleset_hash``)."""


def process_engine(spec: EngineSpec) -> Engine:
    """This process's engine for ``spec``, built on first use and kept for the life of the process.

    A pool worker builds it as it starts; a Dask worker or the inline audit on first use. After the
    build the heap is frozen: the compiled rules are long-lived, so full collections skip them.
    """
    engine = _ENGINES.get(spec)
    if engine is None:
        engine = Engine.from_directory(
            Path(spec.rules_dir), site_config=Path(spec.site_config) if spec.site_config else None
        )
        _ENGINES[spec] = engine
        gc.collect()
        gc.freeze()
    return engine


def use_engine(spec: EngineSpec, engine: Engine) -> None:
    """Let this process use an engine it already has (e.g. the HTTP service's), built from ``spec``."""
    _ENGINES[spec] = engine


def _start_worker(spec: EngineSpec, log_level: str | None) -> None:
    global _start_error  # noqa: PLW0603 - set once per worker process, by the pool initializer
    watch_parent()
    if log_level is not None:
        configure_logging(log_level)
    try:
        process_engine(spec)
    except PainpathError as exc:  # reported by the parent, which loads the same rules and says why
        _start_error = exc.summary


def _worker_ruleset_hash(spec: EngineSpec) -> str:
    engine = _ENGINES.get(spec)
    if engine is None:
        raise RulesValidationError(f"an evaluation worker could not load the rules: {_start_error}")
    return engine.ruleset.content_hash


class WorkerPool:
    """Worker processes, each building its engine from ``spec`` as soon as it starts (in parallel with the parent).

    The one pool of the project: the HTTP service's evaluation workers and the audit's local executor.
    Each worker exits when its parent goes; ``hashes`` holds one ruleset-hash probe per worker, submitted
    at start, for the parent to check before it relies on the workers (see ``Evaluator.check_workers``).
    """

    def __init__(self, workers: int, spec: EngineSpec, log_level: str | None = None) -> None:
        self.size = workers
        self.spec = spec
        self.executor = ProcessPoolExecutor(
            max_workers=workers,
            # spawn: a fresh interpreter per worker; forking a process that has threads is unsafe.
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_start_worker,
            initargs=(spec, log_level),
        )
        # One call per worker starts them all now.
        self.hashes = [self.executor.submit(_worker_ruleset_hash, spec) for _ in range(workers)]

    def close(self, *, wait: bool = False) -> None:
        self.executor.shutdown(wait=wait, cancel_futures=True)


def _worker_evaluate(
    spec: EngineSpec, raw: bytes, request_id: str, trace: Trace, extra: Mapping[str, Any] | None
) -> Evaluated | Rejected:
    engine = _ENGINES.get(spec)
    if engine is None:
        raise EvaluationUnavailable("this evaluation worker has no rules loaded")
    with structlog.contextvars.bound_contextvars(request_id=request_id):
        return evaluate_raw(engine, raw, trace, extra)


class Evaluator:
    """Computes decisions for the server: in worker processes when given a pool, else in threads."""

    def __init__(self, engine: Engine, pool: WorkerPool | None = None) -> None:
        self.engine = engine
        self.pool = pool
        self._limiter = anyio.CapacityLimiter(_IN_PROCESS_THREADS)
        self.broken = False

    @property
    def workers(self) -> int:
        return self.pool.size if self.pool else 0

    def check_workers(self) -> None:
        """Wait until every worker has loaded the rules; refuse if any failed or loaded another ruleset."""
        if self.pool is None:
            return
        try:
            hashes = {f.result() for f in self.pool.hashes}
        except BrokenProcessPool as exc:
            self.close()
            raise RulesValidationError("the evaluation workers stopped while loading the rules") from exc
        except RulesValidationError:
            self.close()
            raise
        if hashes != {self.engine.ruleset.content_hash}:
            self.close()
            raise RulesValidationError(
                "the evaluation workers loaded a different ruleset than the server (did the rules change while "
                f"starting?): {sorted(h[:12] for h in hashes)} vs {self.engine.ruleset.content_hash[:12]}"
            )

    async def evaluate(
        self, raw: bytes, request_id: str, trace: Trace = "summary", extra: Mapping[str, Any] | None = None
    ) -> Evaluated | Rejected:
        """Evaluate one body; raises ``EvaluationUnavailable`` if the workers have died."""
        if self.pool is None:
            return await anyio.to_thread.run_sync(evaluate_raw, self.engine, raw, trace, extra, limiter=self._limiter)
        try:
            return await asyncio.get_running_loop().run_in_executor(
                self.pool.executor, _worker_evaluate, self.pool.spec, raw, request_id, trace, extra
            )
        except BrokenProcessPool:
            self.broken = True
            log.error("evaluation_workers_broken")
            raise EvaluationUnavailable("the evaluation workers have stopped; restart the service") from None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
