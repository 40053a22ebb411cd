"""``painpath store prune``: keep the decision log bounded (retention; see ``store/retention.py``)."""

from __future__ import annotations

import argparse
import sys

from painpath.cli.exit_codes import ExitCode
from painpath.cli.help import add_command
from painpath.store.retention import RETENTION_ENV, retention_days


def cmd_store_prune(args: argparse.Namespace) -> int:
    from painpath.api.settings import Settings  # noqa: PLC0415 - the service's database settings
    from painpath.store import open_store  # noqa: PLC0415
    from painpath.store.retention import prune  # noqa: PLC0415

    try:
        days = args.older_than if args.older_than is not None else retention_days()
    except ValueError as exc:
        print(f"painpath: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    if days is None:
        print(f"painpath: give --older-than DAYS or set {RETENTION_ENV}", file=sys.stderr)
        return ExitCode.USAGE
    if days < 0:
        print("painpath: --older-than must not be negative", file=sys.stderr)
        return ExitCode.USAGE
    store = open_store(Settings.from_env().resolved_database_url)
    try:
        pruned = prune(store.engine, days)
    finally:
        store.close()
    print(
        f"painpath store prune: pruned {pruned} decision(s) older than {days:g} days in {store.display_url} "
        "(tombstones kept: reading one answers 410 Gone)",
        file=sys.stderr,
    )
    return ExitCode.OK


def add_store_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``store prune`` to the ``painpath`` command line."""
    store = add_command(
        sub,
        "store",
        "maintain the decision log",
        "Maintain the decision log (the database of PAINPATH_DATABASE_URL, or SQLite in PAINPATH_DATA_DIR).",
        "painpath store prune --older-than 3650",
    ).add_subparsers(dest="store_command", required=True, metavar="COMMAND")
    prune = add_command(
        store,
        "prune",
        "remove the content of old decisions, keeping tombstones",
        "Remove the content of decisions older than DAYS; their tombstones stay (reading one answers 410 Gone).",
        "painpath store prune --older-than 3650",
        f"{RETENTION_ENV}=3650 painpath store prune",
    )
    prune.add_argument(
        "--older-than",
        type=float,
        default=None,
        metavar="DAYS",
        help=f"prune decisions created more than DAYS days ago (default: ${RETENTION_ENV})",
    )
    prune.set_defaults(func=cmd_store_prune)
