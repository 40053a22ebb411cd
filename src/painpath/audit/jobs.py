"""Audit jobs of the HTTP service: stored as files under the data directory, run in their own processes.

A job is a directory ``<data dir>/audits/<job id>/`` holding ``job.json`` (its state, replaced
atomically), the uploaded cohort and ``out/`` (the reports of ``painpath audit``). Jobs run outside
the server's request path: in a small pool of audit worker processes (``PAINPATH_AUDIT_WORKERS``,
default 1) started with ``spawn`` and lowered in CPU priority (``os.nice``), each with its own engine,
with the same ``run_audit`` as the command line. So an audit never competes with evaluations for the
server's interpreter, and the kernel gives evaluations the CPU first.

The queue is bounded: at most ``per_key`` jobs queued or running for one API key and ``total`` in all;
past that ``create`` raises ``AuditQueueFull`` (answered 429 with ``Retry-After``) before any of the
upload is read. A CSV cohort's header is checked before the job is accepted, so a body that is not a
CSV cohort is refused at once (422) rather than failing later. A job that was queued or running when
the service stopped is reported as ``interrupted``.

Nothing about a job is logged except its id, state and counts (never patient data).
"""

from __future__ import annotations

import contextlib
import datetime
import json
import multiprocessing
import os
import threading
import uuid
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import structlog

from painpath.audit.readers import csv_rows
from painpath.audit.runner import AuditError, AuditOptions, run_audit
from painpath.audit.worker import EngineSpec, engine_for
from painpath.engine import Engine
from painpath.errors import FactsValidationError, PainpathError, Problem

log = structlog.get_logger("painpath.api")

AuditFormat = Literal["jsonl", "csv"]
MEDIA_TYPES: Mapping[str, AuditFormat] = {
    "application/x-ndjson": "jsonl",
    "application/jsonl": "jsonl",
    "text/csv": "csv",
}
"""Accepted request media types and the cohort format each means."""

RESULT_FILES: Mapping[str, str] = {
    "report.html": "text/html; charset=utf-8",
    "summary.json": "application/json",
    "measures.csv": "text/csv; charset=utf-8",
    "patients.csv": "text/csv; charset=utf-8",
    "rejected.csv": "text/csv; charset=utf-8",
    "red_flags.csv": "text/csv; charset=utf-8",
    "pmp.csv": "text/csv; charset=utf-8",
    "missing_facts.csv": "text/csv; charset=utf-8",
    "data_quality.csv": "text/csv; charset=utf-8",
    "measure-report-summary.json": "application/fhir+json",
    "measure-report-subject-list.ndjson": "application/fhir+ndjson",
}
"""The downloadable results of a finished job, with their media types."""


class CohortTooLarge(PainpathError):
    """The uploaded cohort has more records or bytes than the service accepts."""


class InvalidCohort(PainpathError):
    """The upload is not a cohort in the declared format (e.g. not CSV with fact columns)."""


class AuditQueueFull(PainpathError):
    """Too many audit jobs are queued or running (for this key, or in all); retry later."""

    def __init__(self, summary: str, retry_after: int) -> None:
        super().__init__(summary)
        self.retry_after = retry_after


AUDIT_NICE = 19
"""How much lower than the server the audit worker processes run (``os.nice`` increment); on Linux they
are also put in the ``SCHED_IDLE`` class, so they get a CPU only when nothing else wants it."""
RETRY_AFTER_SECONDS = 30


def _start_audit_worker(spec: EngineSpec, parent: int) -> None:
    """Audit worker initializer: lower priority, exit with the server, build the engine before the first job."""
    from painpath.workers import watch_parent  # noqa: PLC0415 - keeps this module's imports light

    del parent
    with contextlib.suppress(OSError):
        os.nice(AUDIT_NICE)
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    watch_parent()
    with contextlib.suppress(PainpathError):
        engine_for(spec)  # a failure is reported by the job that needs it


def _run_job(job_dir: str, fmt: AuditFormat, rules_dir: str, site_config: str | None) -> dict[str, Any]:
    """Run one job in an audit worker process; returns its final state (also written to ``job.json``)."""
    directory = Path(job_dir)
    state: dict[str, Any] = json.loads((directory / "job.json").read_text(encoding="utf-8"))
    state.update(status="running", started_at=_now())
    _write_state(directory, state)
    try:
        summary = run_audit(
            AuditOptions(
                cohort=directory / f"cohort.{fmt}",
                out=directory / "out",
                format=fmt,
                jobs=1,
                rules_dir=Path(rules_dir),
                site_config=Path(site_config) if site_config else None,
            )
        )
        state.update(status="succeeded", records=summary["records"], finished_at=_now())
    except (AuditError, PainpathError, OSError, UnicodeDecodeError) as exc:
        state.update(status="failed", error=str(exc)[:500], finished_at=_now())
    finally:
        if state["status"] == "running":  # an unexpected error: never leave the job looking alive
            state.update(status="failed", error="the audit stopped unexpectedly", finished_at=_now())
        _write_state(directory, state)
    return state


def _write_state(directory: Path, state: Mapping[str, Any]) -> None:
    path = directory / "job.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def check_cohort(path: Path, fmt: AuditFormat) -> None:
    """Raise ``InvalidCohort`` unless ``path`` starts like a cohort of ``fmt`` (a CSV header of fact paths)."""
    if fmt != "csv":
        return  # JSON Lines: each line is a record, and a bad line is a rejected record (reported)
    try:
        with path.open("rb") as stream:
            next(csv_rows(stream), None)
    except UnicodeDecodeError:
        raise InvalidCohort("the cohort is not CSV text", [Problem("(body)", "not UTF-8 text")]) from None
    except FactsValidationError as exc:
        raise InvalidCohort("the CSV header names columns that are not facts", exc.problems) from None


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class AuditLimits:
    max_patients: int
    max_bytes: int


@dataclass(frozen=True)
class QueueLimits:
    per_key: int = 4
    total: int = 16


class AuditJobs:
    """Create, run and read audit jobs stored under ``root``."""

    def __init__(
        self,
        root: Path,
        engine: Engine | None,
        rules_dir: Path,
        site_config: Path | None,
        workers: int = 1,
        queue: QueueLimits | None = None,
    ) -> None:
        del engine  # audits build their own engine in their own processes
        self.root = root
        self.rules_dir = rules_dir.resolve()
        self.site_config = site_config.resolve() if site_config else None
        self.workers = max(1, workers)
        self.queue = queue or QueueLimits()
        self._active: dict[str, str] = {}
        """Job id -> the key that created it, for every job queued or running (or being uploaded)."""
        self._lock = threading.Lock()
        self._spec = EngineSpec(str(self.rules_dir), str(self.site_config) if self.site_config else None)
        self._runner = self._pool()

    def _pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),  # forking a threaded server is unsafe
            initializer=_start_audit_worker,
            initargs=(self._spec, os.getpid()),
        )

    def _dir(self, job_id: str) -> Path:
        return self.root / job_id

    def _write(self, job_id: str, state: dict[str, Any]) -> None:
        _write_state(self._dir(job_id), state)

    def _reserve(self, job_id: str, created_by: str) -> None:
        with self._lock:
            mine = sum(1 for key in self._active.values() if key == created_by)
            if mine >= self.queue.per_key:
                raise AuditQueueFull(
                    f"this API key has {mine} audit jobs queued or running (at most {self.queue.per_key})",
                    RETRY_AFTER_SECONDS,
                )
            if len(self._active) >= self.queue.total:
                raise AuditQueueFull(
                    f"{len(self._active)} audit jobs are queued or running (at most {self.queue.total})",
                    RETRY_AFTER_SECONDS,
                )
            self._active[job_id] = created_by

    def _release(self, job_id: str) -> None:
        with self._lock:
            self._active.pop(job_id, None)

    async def create(
        self, chunks: AsyncIterator[bytes], fmt: AuditFormat, limits: AuditLimits, created_by: str
    ) -> dict[str, Any]:
        """Store the uploaded cohort (streamed to disk, counted as it arrives) and queue the job.

        Raises ``AuditQueueFull`` (before reading the upload), ``CohortTooLarge`` or ``InvalidCohort``.
        """
        job_id = uuid.uuid4().hex
        self._reserve(job_id, created_by)
        try:
            return await self._create(job_id, chunks, fmt, limits, created_by)
        except BaseException:
            self._release(job_id)
            raise

    async def _create(
        self, job_id: str, chunks: AsyncIterator[bytes], fmt: AuditFormat, limits: AuditLimits, created_by: str
    ) -> dict[str, Any]:
        directory = self._dir(job_id)
        directory.mkdir(parents=True)
        cohort = directory / f"cohort.{fmt}"
        size = 0
        lines = 0
        last = b"\n"
        try:
            with cohort.open("wb") as f:
                async for chunk in chunks:
                    size += len(chunk)
                    lines += chunk.count(b"\n")
                    if chunk:
                        last = chunk[-1:]
                    if size > limits.max_bytes:
                        raise CohortTooLarge(f"cohorts are limited to {limits.max_bytes} bytes")
                    f.write(chunk)
            records = lines + (0 if last == b"\n" else 1) - (1 if fmt == "csv" else 0)
            if records > limits.max_patients:
                raise CohortTooLarge(
                    f"this cohort has about {records} records; the service audits at most {limits.max_patients} "
                    "(use the painpath audit command for larger cohorts)"
                )
            check_cohort(cohort, fmt)
        except BaseException:
            for p in directory.iterdir():
                p.unlink()
            directory.rmdir()
            raise
        state = {
            "id": job_id,
            "status": "queued",
            "format": fmt,
            "bytes": size,
            "created_at": _now(),
            "created_by": created_by,
        }
        self._write(job_id, state)
        site = str(self.site_config) if self.site_config else None
        with self._lock:
            runner = self._runner
        future = runner.submit(_run_job, str(directory), fmt, str(self.rules_dir), site)
        future.add_done_callback(lambda done: self._finished(job_id, done, runner))
        log.info("audit_job_queued", job_id=job_id, bytes=size)
        return state

    def _finished(self, job_id: str, future: Future[dict[str, Any]], runner: ProcessPoolExecutor) -> None:
        try:
            state = future.result()
        except BaseException as exc:  # the worker process died (or the pool was shut down)
            state = self.read(job_id) or {"id": job_id}
            if state.get("status") in ("queued", "running"):
                state.update(status="failed", error="the audit worker stopped unexpectedly", finished_at=_now())
                with contextlib.suppress(OSError):
                    self._write(job_id, state)
            if isinstance(exc, BrokenProcessPool):
                with self._lock:
                    if self._runner is runner:  # the first of its failed jobs replaces the pool
                        self._runner = self._pool()
                runner.shutdown(wait=False, cancel_futures=False)
        self._release(job_id)  # after the final state is on disk, so a reader never sees a stale state
        log.info(
            "audit_job_finished",
            job_id=job_id,
            status=state.get("status"),
            records=state.get("records", {}).get("input"),
        )

    def read(self, job_id: str) -> dict[str, Any] | None:
        """The job's state, or ``None`` if there is no such job."""
        path = self._dir(job_id) / "job.json"
        try:
            state: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        with self._lock:
            active = job_id in self._active
        if state["status"] in ("queued", "running") and not active:
            state["status"] = "interrupted"
        return state

    def result_file(self, job_id: str, name: str) -> Path | None:
        """A finished job's result file, or ``None``."""
        state = self.read(job_id)
        if state is None or state["status"] != "succeeded" or name not in RESULT_FILES:
            return None
        path = self._dir(job_id) / "out" / name
        return path if path.is_file() else None

    def close(self) -> None:
        """Stop the audit workers now: a job still running is reported as ``interrupted`` after a restart.

        (Waiting for it would hold the service's shutdown for as long as the audit takes.)
        """
        with self._lock:
            runner = self._runner
        processes = list((getattr(runner, "_processes", None) or {}).values())
        runner.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            with contextlib.suppress(Exception):
                process.terminate()
