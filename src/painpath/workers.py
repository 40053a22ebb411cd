"""Where decisions are computed: in the server process, or in a pool of worker processes.

Evaluating and rendering a decision is pure CPU work under one GIL, so a single process tops out at
a few hundred decisions a second whatever the HTTP layer does.
With ``workers > 0`` each worker process loads the same rules directory, and the service refuses to
start unless every worker reports the ruleset hash the server itself loaded (fail closed: one
service, one ruleset). Workers only compute; the server process records every decision, so the
decision log keeps a single writer.

A worker returns plain data (``Evaluated`` or ``Rejected``), never an exception, so problems with
the facts cross the process boundary intact.

The service's evaluation workers (``EvaluationWorkers``) each own one pipe that the event loop
reads directly: a request costs one pickled message each way and no thread hand-over. (A
``ProcessPoolExecutor`` round trip spends ~350 us of the server's CPU in its queue-feeder and
manager threads, against ~90 us for the pipe.) The audit's chunks go through ``WorkerPool``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import datetime
import gc
import multiprocessing
import os
import pickle
import threading
import time
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
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
"""Why this worker process could not load its rules when it started (reported to the parent by
``_worker_ruleset_hash`` or ``_serve_evaluations``)."""


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

    The audit's local executor (the HTTP service's workers are ``EvaluationWorkers``). Each worker exits
    when its parent goes; ``hashes`` holds one ruleset-hash probe per worker, submitted at start so that
    every worker starts loading the rules at once (each chunk's result carries its ruleset hash too).
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


def _serve_evaluations(conn: Connection, spec: EngineSpec, log_level: str | None) -> None:
    """An evaluation worker's life: load the rules, report their hash, answer requests until the pipe closes."""
    _start_worker(spec, log_level)
    engine = _ENGINES.get(spec)
    conn.send_bytes(pickle.dumps(("hash", engine.ruleset.content_hash) if engine else ("error", _start_error)))
    while True:
        try:
            kind, args = pickle.loads(conn.recv_bytes())
        except EOFError:  # the server closed the pipe: stop
            return
        try:
            if kind == "evaluate":
                answer: tuple[str, Any] = ("ok", _worker_evaluate(spec, *args))
            else:  # "idle": the D1 guard, for this process's reused durable-rules sessions
                answer = ("ok", engine._durable.idle_check() if engine else ["no rules loaded"])
        except Exception as exc:  # an engine bug: the server answers 500; the worker lives on
            log.error("evaluation_worker_failed", error_type=type(exc).__name__)
            answer = ("failed", type(exc).__name__)
        conn.send_bytes(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))


RESTARTS_ALLOWED = 3
"""Evaluation workers replaced within ``RESTART_WINDOW_S`` before the service stops evaluating (a crash loop)."""
RESTART_WINDOW_S = 300.0


class EvaluationWorkers:
    """The service's evaluation worker processes, each answering one request at a time over its own pipe.

    The event loop writes a request to an idle worker's pipe and reads the answer when the pipe
    becomes readable (``loop.add_reader``); requests beyond the idle workers wait in arrival order.
    If a worker dies, the request it was computing fails with ``EvaluationUnavailable`` (no decision
    is issued; it is not retried elsewhere, since it may be what killed the worker) and a
    replacement is started, which takes requests once it reports the expected ruleset hash. Another
    ruleset, a replacement that fails, or more than ``RESTARTS_ALLOWED`` replacements within
    ``RESTART_WINDOW_S`` stop evaluation for good (``broken``: every request fails, as does
    ``/readyz``) until the service is restarted.
    """

    def __init__(self, workers: int, spec: EngineSpec, log_level: str | None = None) -> None:
        self.size = workers
        self.spec = spec
        self.broken = False
        self.expected_hash: str | None = None
        """The ruleset hash a replacement must report (set once the first workers are checked)."""
        self._log_level = log_level
        # spawn: a fresh interpreter per worker; forking a process that has threads is unsafe
        self._context = multiprocessing.get_context("spawn")
        self._conns: list[Connection] = []
        self._processes: list[multiprocessing.process.BaseProcess] = []
        for n in range(workers):
            conn, process = self._spawn(n)
            self._conns.append(conn)
            self._processes.append(process)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: list[int] = []
        self._starting: set[int] = set()
        self._restarts: collections.deque[float] = collections.deque()
        self._busy: dict[int, asyncio.Future[Any]] = {}
        self._waiting: collections.defaultdict[int | None, collections.deque[tuple[bytes, asyncio.Future[Any]]]] = (
            collections.defaultdict(collections.deque)
        )
        """Requests waiting for a worker: for any (key ``None``), or for that one."""

    def _spawn(self, n: int) -> tuple[Connection, multiprocessing.process.BaseProcess]:
        ours, theirs = self._context.Pipe(duplex=True)
        process = self._context.Process(
            target=_serve_evaluations,
            args=(theirs, self.spec, self._log_level),
            name=f"painpath-evaluation-{n}",
            daemon=True,
        )
        process.start()
        theirs.close()
        return ours, process

    @property
    def starting(self) -> frozenset[int]:
        """The workers being replaced (loading their rules)."""
        return frozenset(self._starting)

    def ruleset_hashes(self, timeout_s: float = 300) -> set[str]:
        """Wait for every worker to load the rules; their ruleset hashes. ``RulesValidationError`` if one failed."""
        hashes: set[str] = set()
        for conn in self._conns:
            try:
                if not conn.poll(timeout_s):
                    raise RulesValidationError(f"an evaluation worker did not load the rules within {timeout_s:g} s")
                kind, value = pickle.loads(conn.recv_bytes())
            except (EOFError, OSError):
                raise RulesValidationError("the evaluation workers stopped while loading the rules") from None
            if kind != "hash":
                raise RulesValidationError(f"an evaluation worker could not load the rules: {value}")
            hashes.add(value)
        self._idle = list(range(self.size))
        return hashes

    async def call(self, kind: str, args: tuple[Any, ...], worker: int | None = None) -> Any:
        """Send one request to a worker (any, or ``worker``); its answer. Raises ``EvaluationUnavailable``."""
        if self.broken:
            raise EvaluationUnavailable("the evaluation workers have stopped; the service must be restarted")
        loop = asyncio.get_running_loop()
        self._bind(loop)
        future: asyncio.Future[Any] = loop.create_future()
        message = pickle.dumps((kind, args), protocol=pickle.HIGHEST_PROTOCOL)
        if worker is None and self._idle:
            self._send(self._idle.pop(), message, future)
        elif worker is not None and worker in self._idle:
            self._idle.remove(worker)
            self._send(worker, message, future)
        else:
            self._waiting[worker].append((message, future))
        status, value = await future
        if status == "failed":
            raise RuntimeError(f"an evaluation worker failed ({value})")
        return value

    def _bind(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._loop is loop:
            return
        if self._loop is not None and not self._loop.is_closed():
            raise RuntimeError("the evaluation workers serve one event loop")
        self._loop = loop
        for n, conn in enumerate(self._conns):
            if n not in self._starting:
                loop.add_reader(conn.fileno(), self._answered, n)

    def _send(self, n: int, message: bytes, future: asyncio.Future[Any]) -> None:
        self._busy[n] = future
        try:
            self._conns[n].send_bytes(message)
        except OSError:  # the worker died before it got the request: another one takes it
            self._busy.pop(n, None)
            self._waiting[None].appendleft((message, future))
            self._stopped(n)
            if self._idle and not self.broken:
                self._next(self._idle.pop())

    def _answered(self, n: int) -> None:
        try:
            answer = pickle.loads(self._conns[n].recv_bytes())
        except (EOFError, OSError):
            self._stopped(n)
            return
        future = self._busy.pop(n, None)
        if future is not None and not future.done():  # a cancelled request's answer is dropped
            future.set_result(answer)
        self._next(n)

    def _next(self, n: int) -> None:
        """Give worker ``n`` the next waiting request, or mark it idle."""
        for queue in (self._waiting[n], self._waiting[None]):
            while queue:
                message, waiting = queue.popleft()
                if not waiting.done():
                    self._send(n, message, waiting)
                    return
        self._idle.append(n)

    def _stopped(self, n: int) -> None:
        """Worker ``n`` has died: fail what it held and replace it, unless that has happened too often."""
        if self.broken or self._loop is None:
            return
        self._loop.remove_reader(self._conns[n].fileno())
        self._conns[n].close()
        dead = self._processes[n]
        dead.kill()  # gone already (its pipe closed); reaped here
        dead.join(timeout=0.1)
        lost = [self._busy.pop(n)] if n in self._busy else []
        lost += [f for _, f in self._waiting.pop(n, ())]
        for future in lost:
            if not future.done():
                future.set_exception(
                    EvaluationUnavailable("the evaluation worker stopped while computing this decision; it is replaced")
                )
        if n in self._idle:
            self._idle.remove(n)
        now = time.monotonic()
        while self._restarts and now - self._restarts[0] > RESTART_WINDOW_S:
            self._restarts.popleft()
        if self.expected_hash is None or len(self._restarts) >= RESTARTS_ALLOWED:
            log.error("evaluation_workers_broken", worker=n, restarts=len(self._restarts))
            self._fail_all()
            return
        self._restarts.append(now)
        log.error("evaluation_worker_stopped", worker=n, replacing=True)
        self._conns[n], self._processes[n] = self._spawn(n)
        self._starting.add(n)
        self._loop.add_reader(self._conns[n].fileno(), self._replaced, n)

    def _replaced(self, n: int) -> None:
        """The replacement of worker ``n`` has reported (its ruleset hash, or why it could not load the rules)."""
        if self._loop is None:
            return
        self._loop.remove_reader(self._conns[n].fileno())
        self._starting.discard(n)
        try:
            kind, value = pickle.loads(self._conns[n].recv_bytes())
        except (EOFError, OSError):
            kind, value = "error", "it stopped while loading the rules"
        if kind != "hash" or value != self.expected_hash:
            log.error("evaluation_worker_replacement_refused", worker=n, reason=str(value)[:200])
            self._fail_all()
            return
        log.info("evaluation_worker_replaced", worker=n)
        self._loop.add_reader(self._conns[n].fileno(), self._answered, n)
        self._next(n)

    def _fail_all(self) -> None:
        self.broken = True
        if self._loop is not None:
            for conn in self._conns:
                with contextlib.suppress(ValueError, OSError):  # closed already
                    self._loop.remove_reader(conn.fileno())
        error = EvaluationUnavailable("the evaluation workers have stopped; the service must be restarted")
        pending = [*self._busy.values(), *(f for queue in self._waiting.values() for _, f in queue)]
        self._busy.clear()
        self._waiting.clear()
        self._idle.clear()
        self._starting.clear()
        for future in pending:
            if not future.done():
                future.set_exception(error)

    def close(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            for conn in self._conns:
                with contextlib.suppress(ValueError, OSError):  # already closed
                    self._loop.remove_reader(conn.fileno())
        for conn in self._conns:
            conn.close()  # the worker reads EOF and exits
        for process in self._processes:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()


class Evaluator:
    """Computes decisions for the server: in worker processes when given them, else in threads."""

    def __init__(self, engine: Engine, pool: EvaluationWorkers | None = None) -> None:
        self.engine = engine
        self.pool = pool
        self._limiter = anyio.CapacityLimiter(_IN_PROCESS_THREADS)

    @property
    def workers(self) -> int:
        return self.pool.size if self.pool else 0

    @property
    def broken(self) -> bool:
        return self.pool is not None and self.pool.broken

    @property
    def state(self) -> str:
        """``ok``, ``replacing worker N`` while a dead worker's replacement loads the rules, or ``stopped``."""
        if self.pool is not None and self.pool.broken:
            return "stopped"
        if self.pool is not None and self.pool.starting:
            return "replacing worker " + ", ".join(str(n) for n in sorted(self.pool.starting))
        return "ok"

    def check_workers(self) -> None:
        """Wait until every worker has loaded the rules; refuse if any failed or loaded another ruleset."""
        if self.pool is None:
            return
        try:
            hashes = self.pool.ruleset_hashes()
        except RulesValidationError:
            self.close()
            raise
        if hashes != {self.engine.ruleset.content_hash}:
            self.close()
            raise RulesValidationError(
                "the evaluation workers loaded a different ruleset than the server (did the rules change while "
                f"starting?): {sorted(h[:12] for h in hashes)} vs {self.engine.ruleset.content_hash[:12]}"
            )
        self.pool.expected_hash = self.engine.ruleset.content_hash

    async def evaluate(
        self, raw: bytes, request_id: str, trace: Trace = "summary", extra: Mapping[str, Any] | None = None
    ) -> Evaluated | Rejected:
        """Evaluate one body; raises ``EvaluationUnavailable`` if the workers have died."""
        if self.pool is None:
            return await anyio.to_thread.run_sync(evaluate_raw, self.engine, raw, trace, extra, limiter=self._limiter)
        result: Evaluated | Rejected = await self.pool.call("evaluate", (raw, request_id, trace, extra))
        return result

    async def idle_check(self) -> list[str]:
        """D1's guard: what the reused durable-rules sessions hold between evaluations, here and in every worker."""
        problems = await anyio.to_thread.run_sync(self.engine._durable.idle_check)
        if self.pool is not None and not self.pool.broken:
            for n in range(self.pool.size):
                if n not in self.pool.starting:  # a replacement has no sessions yet
                    problems += [f"worker {n}: {p}" for p in await self.pool.call("idle", (), worker=n)]
        return problems

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
