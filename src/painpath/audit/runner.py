"""Run an audit: stream the cohort in chunks to workers, aggregate as results arrive, write reports.

Memory stays flat as the cohort grows: at most ``2 x workers`` chunks are in flight, results are
taken in input order and folded into counters straight away, patient rows and subject-list entries
are appended to files, and only the first few patients of each population are kept for the HTML.

Executors: ``inline`` (one process, ``jobs=1``), ``local`` (a process pool, one engine per worker)
and ``dask`` (a ``dask.distributed`` cluster; each chunk is a task). All three run the same
``evaluate_chunk`` on the same chunks, so their outputs are identical.
"""

from __future__ import annotations

import contextlib
import csv
import datetime
import os
import shutil
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import structlog

from painpath.audit.aggregate import Aggregate, Subjects
from painpath.audit.measures import build_measures
from painpath.audit.readers import FORMATS
from painpath.audit.worker import Chunk, ChunkResult, evaluate_chunk, patient_header
from painpath.engine import load_ruleset
from painpath.errors import PainpathError
from painpath.paths import default_rules_dir
from painpath.workers import EngineSpec, WorkerPool

log = structlog.get_logger("painpath.audit")

DEFAULT_CHUNK = 500
SUBJECTS_DIR = ".subjects"


class AuditError(PainpathError):
    """The audit could not run (unreadable input, workers on another ruleset, no scheduler)."""


class AuditUnavailable(AuditError):
    """Something the audit reads could not be reached (the decision log's database)."""


@dataclass
class AuditOptions:
    """Everything one audit run needs."""

    cohort: Path
    out: Path
    format: str = "jsonl"
    jobs: int | None = None
    engine: Literal["local", "dask"] = "local"
    scheduler: str | None = None
    rules_dir: Path | None = None
    site_config: Path | None = None
    chunk_size: int = DEFAULT_CHUNK
    sample_size: int = 20
    explanations: bool = False
    subject_lists: bool = True
    progress: Callable[[int, int | None], None] | None = None
    """Called with (records done, estimated records in the file or ``None``) as chunks complete."""
    period: tuple[datetime.date, datetime.date] | None = None
    """Evaluate the records assessed in this period (inclusive); the others are counted as outside it."""
    stratify: tuple[str, ...] = ()
    """Stratifier keys of ``measures.yaml`` to report populations by."""
    compare: Path | None = None
    """A previous audit's output directory to compare each measure's rate with."""
    decision_log: str | None = None
    """A decision-log database URL whose triage outcomes are compared with painpath's advice."""
    as_of: datetime.date | None = None
    """FHIR cohorts: the assessment date (default today); ages and staleness are measured from it."""


class _Pending(Protocol):
    """A submitted chunk: a ``concurrent.futures.Future`` or a ``distributed.Future``."""

    def result(self, timeout: float | None = None) -> ChunkResult: ...


class _Executor(Protocol):
    workers: int

    def submit(self, chunk: Chunk) -> _Pending: ...

    def close(self) -> None: ...


class _Inline:
    workers = 1

    def submit(self, chunk: Chunk) -> Future[ChunkResult]:
        f: Future[ChunkResult] = Future()
        f.set_result(evaluate_chunk(chunk))
        return f

    def close(self) -> None:
        return None


class _Local:
    """The project's worker pool (one engine per process, built from ``spec`` as each worker starts)."""

    def __init__(self, jobs: int, spec: EngineSpec) -> None:
        self.workers = jobs
        self.pool = WorkerPool(jobs, spec)  # every result carries its ruleset hash, checked in ``collect``

    def submit(self, chunk: Chunk) -> Future[ChunkResult]:
        return self.pool.executor.submit(evaluate_chunk, chunk)

    def close(self) -> None:
        self.pool.close(wait=True)


class _Dask:
    def __init__(self, scheduler: str) -> None:
        try:
            from distributed import Client  # noqa: PLC0415 - optional extra, imported only for --engine dask
        except ImportError as exc:
            raise AuditError("--engine dask needs the 'dask' extra: pip install 'painpath[dask]'") from exc
        try:
            self.client = Client(scheduler, timeout=30)  # type: ignore[no-untyped-call]
        except OSError as exc:
            raise AuditError(f"cannot reach the Dask scheduler at {scheduler}: {exc}") from exc
        self.workers = max(1, sum(self.client.nthreads().values()))  # type: ignore[no-untyped-call]

    def submit(self, chunk: Chunk) -> _Pending:
        future: _Pending = self.client.submit(evaluate_chunk, chunk, pure=False)
        return future

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]


def _chunks(records: Iterator[tuple[int, Any]], size: int) -> Iterator[list[tuple[int, Any]]]:
    batch: list[tuple[int, Any]] = []
    for record in records:
        batch.append(record)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def default_jobs() -> int:
    """All cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        return os.cpu_count() or 1


def run_audit(opts: AuditOptions) -> dict[str, Any]:
    """Audit ``opts.cohort`` into ``opts.out``; returns the summary (also written as ``summary.json``)."""
    from painpath.audit.report import write_reports  # noqa: PLC0415 - report modules (fhir.resources) load late

    if opts.format not in FORMATS:
        raise AuditError(f"unknown cohort format {opts.format!r} (known: {', '.join(FORMATS)})")
    rules_dir = (opts.rules_dir or default_rules_dir()).resolve()
    ruleset = load_ruleset(rules_dir)
    measures = build_measures(ruleset)
    unknown = [s for s in opts.stratify if s not in measures.stratifiers]
    if unknown:
        raise AuditError(f"unknown stratifier {unknown[0]!r} (known: {', '.join(measures.stratifiers)})")
    previous = None
    if opts.compare is not None:
        from painpath.audit.compare import CompareError, read_previous  # noqa: PLC0415 - only when comparing

        try:
            previous = read_previous(opts.compare)  # before the run: a wrong directory fails fast
        except CompareError as exc:
            raise AuditError(str(exc)) from exc
    spec = EngineSpec(str(rules_dir), str(opts.site_config.resolve()) if opts.site_config else None)
    fmt = FORMATS[opts.format]
    try:
        stream = opts.cohort.open("rb")
    except OSError as exc:
        raise AuditError(f"cannot read {opts.cohort}: {exc.strerror}") from exc
    total_bytes = os.fstat(stream.fileno()).st_size
    out = opts.out
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    agg = Aggregate(measures, opts.sample_size)
    jobs = opts.jobs or default_jobs()
    executor: _Executor
    if opts.engine == "dask":
        if not opts.scheduler:
            raise AuditError("--engine dask needs --scheduler ADDRESS")
        executor = _Dask(opts.scheduler)
    elif jobs <= 1:
        executor = _Inline()
    else:
        executor = _Local(jobs, spec)
    subjects = Subjects(out / SUBJECTS_DIR) if opts.subject_lists else None
    log.info("audit_started", format=opts.format, engine=opts.engine, workers=executor.workers)
    with contextlib.ExitStack() as stack:
        stack.callback(executor.close)
        stack.enter_context(stream)
        patients = stack.enter_context((out / "patients.csv").open("w", encoding="utf-8", newline=""))
        rejected = stack.enter_context((out / "rejected.csv").open("w", encoding="utf-8", newline=""))
        explanations = (
            stack.enter_context((out / "explanations.jsonl").open("w", encoding="utf-8")) if opts.explanations else None
        )
        csv.writer(patients, lineterminator="\n").writerow(patient_header(measures))
        rejected_rows = csv.writer(rejected, lineterminator="\n")
        rejected_rows.writerow(["line", "reason"])
        in_flight: deque[_Pending] = deque()
        submitted = [0]

        def collect(future: _Pending) -> None:
            r = future.result()
            if r.ruleset_hash != ruleset.content_hash:  # fail closed: one audit, one ruleset
                raise AuditError(
                    f"a worker evaluated with ruleset {r.ruleset_hash[:12]}, not {ruleset.content_hash[:12]}: "
                    "every worker must read the same rules directory"
                )
            agg.add(r)
            patients.write(r.patients_csv)
            rejected_rows.writerows(r.rejected)
            if explanations is not None:
                explanations.write(r.explanations)
            if subjects is not None:
                for key, entries in r.subjects.items():
                    subjects.add(key, entries)
            if opts.progress is not None:
                with contextlib.suppress(ValueError, OSError):
                    read = stream.tell()  # the reader is ahead of the results: estimate from what it has read
                    estimate = round(submitted[0] * total_bytes / read) if read else None
                    opts.progress(agg.n_input, estimate)

        try:
            for index, records in enumerate(_chunks(fmt.records(stream), opts.chunk_size)):
                chunk = Chunk(
                    index,
                    opts.format,
                    records,
                    spec,
                    opts.sample_size,
                    opts.explanations,
                    opts.subject_lists,
                    opts.period,
                    opts.stratify,
                    opts.as_of,
                )
                in_flight.append(executor.submit(chunk))
                submitted[0] += len(records)
                while len(in_flight) >= 2 * executor.workers:
                    collect(in_flight.popleft())
            while in_flight:
                collect(in_flight.popleft())
        except UnicodeDecodeError as exc:
            raise AuditError(f"{opts.cohort} is not UTF-8 text: {exc}") from exc
        finally:
            if subjects is not None:
                subjects.close()
    elapsed = time.perf_counter() - started
    triage = None
    if opts.decision_log is not None:
        from painpath.audit.triage import triage_agreement  # noqa: PLC0415 - only with --decision-log
        from painpath.store.database import StoreUnavailable  # noqa: PLC0415

        try:
            triage = triage_agreement(opts.decision_log, opts.period)
        except StoreUnavailable as exc:
            raise AuditUnavailable(f"--decision-log: {exc}") from exc
    today = datetime.date.today().isoformat()
    if opts.period is not None:
        period = {"start": opts.period[0].isoformat(), "end": opts.period[1].isoformat(), "source": "--period"}
    elif agg.first_date is not None and agg.last_date is not None:
        period = {"start": agg.first_date, "end": agg.last_date, "source": "assessment dates"}
    else:
        period = {"start": today, "end": today, "source": "audit date (no assessment dates recorded)"}
    summary = write_reports(
        agg,
        out,
        subjects=subjects,
        previous=previous,
        triage=triage,
        meta={
            "period": period,
            "stratify": list(opts.stratify),
            "cohort": opts.cohort.name,
            "format": opts.format,
            "engine": opts.engine,
            "workers": executor.workers,
            "audit_date": today,
            "evaluation_seconds": round(elapsed, 3),
        },
    )
    if subjects is not None:
        shutil.rmtree(subjects.dir, ignore_errors=True)
    log.info(
        "audit_finished",
        records=agg.n_input,
        evaluated=agg.evaluated,
        rejected=agg.rejected,
        seconds=round(time.perf_counter() - started, 3),
    )
    return summary
