"""``painpath audit``: options to ``run_audit``, progress in patients, a one-line summary.

Progress: on a terminal, a rich progress bar counting records with their rate and an ETA (the
total is estimated from the bytes read so far); otherwise plain structlog lines every few seconds
(``audit_progress``: records, rate, ETA; no patient data). ``--progress auto`` shows it unless
``CI`` is set, ``always`` shows it there too, ``never`` hides it.
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import structlog

from painpath.audit.readers import guess_format
from painpath.audit.runner import AuditError, AuditOptions, AuditUnavailable, run_audit
from painpath.cli.exit_codes import ExitCode

LOG_EVERY_SECONDS = 5.0
"""How often the plain progress lines are written when the output is not a terminal."""

Progress = Callable[[int, int | None], None]


class UsageError(ValueError):
    """A command-line value that cannot be used; the message names the option."""


def parse_period(text: str) -> tuple[datetime.date, datetime.date]:
    """``START..END`` as two ISO dates, START not after END."""
    start, sep, end = text.partition("..")
    try:
        if not sep:
            raise ValueError
        period = datetime.date.fromisoformat(start.strip()), datetime.date.fromisoformat(end.strip())
    except ValueError:
        raise UsageError(f"--period: expected START..END as ISO dates (2025-01-01..2025-06-30), not {text!r}") from None
    if period[0] > period[1]:
        raise UsageError(f"--period: the start {period[0]} is after the end {period[1]}")
    return period


def _progress_mode(mode: str) -> str:
    """``bar``, ``log`` or ``none``."""
    if mode == "never" or (mode == "auto" and os.environ.get("CI")):
        return "none"
    return "bar" if sys.stderr.isatty() else "log"


@contextmanager
def _progress(mode: str) -> Iterator[Progress | None]:
    if mode == "none":
        yield None
        return
    if mode == "log":
        yield _log_progress()
        return
    try:  # rich is the optional 'progress' extra: without it a terminal gets the plain progress lines
        from rich.console import Console  # noqa: PLC0415 - only when a progress bar is shown
        from rich.progress import (  # noqa: PLC0415
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )
    except ImportError:
        print(
            "painpath: no progress bar without the 'progress' extra: pip install 'painpath[progress]'", file=sys.stderr
        )
        yield _log_progress()
        return

    with Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[count]}"),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("starting workers", total=None, rate="", count="")  # no "0/?" before the first result
        first: list[tuple[float, int]] = []

        def update(done: int, total: int | None) -> None:
            now = time.monotonic()
            if not first:
                first.append((now, done))  # the rate is measured from the first result: workers start slowly
            t0, d0 = first[0]
            speed = (done - d0) / (now - t0) if now > t0 else 0.0
            estimate = max(total or done, done)
            count = f"{done:,} of ~{estimate:,} records" if estimate != done else f"{done:,} records"
            eta = f" · ~{(estimate - done) / speed:,.0f} s left" if speed > 0 and estimate > done else ""
            rate = f"{speed:,.0f}/s{eta}" if speed > 0 else ""
            bar.update(task, completed=done, total=estimate, description="auditing", rate=rate, count=count)

        yield update


def _log_progress() -> Progress:
    log = structlog.get_logger("painpath.audit")
    started = time.monotonic()
    last = [started - LOG_EVERY_SECONDS]  # the first result is logged at once

    def update(done: int, total: int | None) -> None:
        now = time.monotonic()
        if now - last[0] < LOG_EVERY_SECONDS:
            return
        last[0] = now
        rate = done / (now - started)
        eta = round((total - done) / rate) if total is not None and rate > 0 and total >= done else None
        # warning: shown at the command's default log level; --progress never turns the lines off
        log.warning(
            "audit_progress", records=done, estimated_total=total, records_per_second=round(rate, 1), eta_seconds=eta
        )

    return update


def _usage_problem(args: argparse.Namespace) -> str | None:
    """What is wrong with the audit's options, if anything."""
    if args.jobs is not None and args.jobs < 1:
        return "--jobs must be 1 or more"
    if args.engine == "dask" and not args.scheduler:
        return "--engine dask needs --scheduler ADDRESS"
    if args.as_of is not None and (args.format or guess_format(args.cohort)) != "fhir-ndjson":
        return "--as-of applies to --format fhir-ndjson (facts give assessment_date)"
    return None


def run_audit_command(args: argparse.Namespace) -> int:
    """Run the audit the command line describes; exit 0 when done (rejected records do not fail it)."""
    wrong = _usage_problem(args)
    if wrong is not None:
        print(f"painpath: {wrong}", file=sys.stderr)
        return ExitCode.USAGE
    try:
        period = parse_period(args.period) if args.period else None
    except UsageError as exc:
        print(f"painpath: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    stratify = tuple(s.strip() for s in args.stratify.split(",") if s.strip())
    fmt = args.format or guess_format(args.cohort)
    with _progress(_progress_mode(args.progress)) as progress:
        try:
            summary = run_audit(
                AuditOptions(
                    cohort=Path(args.cohort),
                    out=Path(args.out),
                    format=fmt,
                    jobs=args.jobs,
                    engine=args.engine,
                    scheduler=args.scheduler,
                    rules_dir=Path(args.rules) if args.rules else None,
                    site_config=Path(args.site_config) if args.site_config else None,
                    chunk_size=max(1, args.chunk_size),
                    explanations=args.explanations,
                    subject_lists=not args.no_subject_list,
                    progress=progress,
                    period=period,
                    stratify=stratify,
                    compare=Path(args.compare) if args.compare else None,
                    decision_log=args.decision_log,
                    as_of=args.as_of,
                )
            )
        except AuditUnavailable as exc:
            print(f"painpath: {exc}", file=sys.stderr)
            return ExitCode.FAILED
        except AuditError as exc:
            print(f"painpath: {exc}", file=sys.stderr)
            return ExitCode.USAGE
    rec = summary["records"]
    print(f"painpath audit: {rec['statement']}; reports in {args.out}", file=sys.stderr)
    return ExitCode.OK
