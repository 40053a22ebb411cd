"""``painpath audit``: options to ``run_audit``, a progress bar on a terminal, a one-line summary."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from painpath.audit.readers import guess_format
from painpath.audit.runner import AuditError, AuditOptions, run_audit
from painpath.cli.exit_codes import ExitCode


def _want_progress(mode: str) -> bool:
    if mode != "auto":
        return mode == "always"
    return sys.stderr.isatty() and not os.environ.get("CI")


@contextmanager
def _progress(enabled: bool) -> Iterator[Callable[[int, int], None] | None]:
    if not enabled:
        yield None
        return
    from rich.console import Console  # noqa: PLC0415 - only when a progress bar is shown
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeElapsedColumn  # noqa: PLC0415

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("auditing", total=None)

        def update(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield update


def run_audit_command(args: argparse.Namespace) -> int:
    """Run the audit the command line describes; exit 0 when done (rejected records do not fail it)."""
    if args.jobs is not None and args.jobs < 1:
        print("painpath: --jobs must be 1 or more", file=sys.stderr)
        return ExitCode.USAGE
    if args.engine == "dask" and not args.scheduler:
        print("painpath: --engine dask needs --scheduler ADDRESS", file=sys.stderr)
        return ExitCode.USAGE
    fmt = args.format or guess_format(args.cohort)
    if args.as_of is not None and fmt != "fhir-ndjson":
        print("painpath: --as-of applies to --format fhir-ndjson (facts give assessment_date)", file=sys.stderr)
        return ExitCode.USAGE
    with _progress(_want_progress(args.progress)) as progress:
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
                    as_of=args.as_of,
                    progress=progress,
                )
            )
        except AuditError as exc:
            print(f"painpath: {exc}", file=sys.stderr)
            return ExitCode.USAGE
    rec = summary["records"]
    print(f"painpath audit: {rec['statement']}; reports in {args.out}", file=sys.stderr)
    return ExitCode.OK
