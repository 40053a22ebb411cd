"""Audit jobs of the HTTP service: stored as files under the data directory, run one at a time.

A job is a directory ``<data dir>/audits/<job id>/`` holding ``job.json`` (its state, replaced
atomically), the uploaded cohort and ``out/`` (the reports of ``painpath audit``). Jobs run in a
background thread, one at a time, with the same ``run_audit`` as the command line: small cohorts in
this process with the service's own engine, larger ones in a pool of worker processes. A job that
was queued or running when the service stopped is reported as ``interrupted``.

Nothing about a job is logged except its id, state and counts (never patient data).
"""

from __future__ import annotations

import datetime
import json
import os
import threading
import uuid
from collections.abc import AsyncIterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import structlog

from painpath.audit.runner import DEFAULT_CHUNK, AuditError, AuditOptions, run_audit
from painpath.audit.worker import EngineSpec, use_engine
from painpath.engine import Engine
from painpath.errors import PainpathError

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
    "measure-report-summary.json": "application/fhir+json",
    "measure-report-subject-list.ndjson": "application/fhir+ndjson",
}
"""The downloadable results of a finished job, with their media types."""


class CohortTooLarge(PainpathError):
    """The uploaded cohort has more records or bytes than the service accepts."""


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class AuditLimits:
    max_patients: int
    max_bytes: int


class AuditJobs:
    """Create, run and read audit jobs stored under ``root``."""

    def __init__(self, root: Path, engine: Engine, rules_dir: Path, site_config: Path | None, workers: int) -> None:
        self.root = root
        self.rules_dir = rules_dir.resolve()
        self.site_config = site_config.resolve() if site_config else None
        self.workers = workers
        self._active: set[str] = set()
        self._lock = threading.Lock()
        self._runner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit")
        # In-process audits share the service's compiled engine instead of building another.
        use_engine(EngineSpec(str(self.rules_dir), str(self.site_config) if self.site_config else None), engine)

    def _dir(self, job_id: str) -> Path:
        return self.root / job_id

    def _write(self, job_id: str, state: dict[str, Any]) -> None:
        path = self._dir(job_id) / "job.json"
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, path)

    async def create(
        self, chunks: AsyncIterator[bytes], fmt: AuditFormat, limits: AuditLimits, created_by: str
    ) -> dict[str, Any]:
        """Store the uploaded cohort (streamed to disk, counted as it arrives) and queue the job."""
        job_id = uuid.uuid4().hex
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
        with self._lock:
            self._active.add(job_id)
        self._write(job_id, state)
        self._runner.submit(self._run, job_id, cohort, fmt, records)
        log.info("audit_job_queued", job_id=job_id, bytes=size)
        return state

    def _run(self, job_id: str, cohort: Path, fmt: AuditFormat, records: int) -> None:
        state = self.read(job_id) or {}
        state.update(status="running", started_at=_now())
        self._write(job_id, state)
        try:
            summary = run_audit(
                AuditOptions(
                    cohort=cohort,
                    out=self._dir(job_id) / "out",
                    format=fmt,
                    jobs=1 if records <= 2 * DEFAULT_CHUNK or self.workers < 2 else self.workers,
                    rules_dir=self.rules_dir,
                    site_config=self.site_config,
                )
            )
            state.update(status="succeeded", records=summary["records"], finished_at=_now())
        except (AuditError, PainpathError, OSError) as exc:
            state.update(status="failed", error=str(exc), finished_at=_now())
        finally:
            if state["status"] == "running":  # an unexpected error: never leave the job looking alive
                state.update(status="failed", error="the audit stopped unexpectedly", finished_at=_now())
            self._write(job_id, state)  # before leaving the active set, so a reader never sees a stale state
            with self._lock:
                self._active.discard(job_id)
        log.info(
            "audit_job_finished", job_id=job_id, status=state["status"], records=state.get("records", {}).get("input")
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
        self._runner.shutdown(wait=False, cancel_futures=True)
