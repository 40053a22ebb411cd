"""The exit codes of every painpath command: ``painpath`` and its subcommands, ``python -m painpath.cli.keys``
and ``python -m painpath.api.server`` (which ``painpath serve`` runs).

This module imports nothing of painpath, so any entry point may use it. The README ("Exit codes") and the
epilog of ``painpath --help`` are written from ``DESCRIPTIONS``.
"""

from __future__ import annotations

import textwrap
from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1
    """The decision needs manual review, or the command could not complete (e.g. the database)."""
    USAGE = 2
    """Usage error (also argparse's) or unreadable input."""
    FACTS = 3
    """Invalid patient facts."""
    CONFIG = 4
    """Invalid rules or configuration (site configuration, service settings)."""
    VECTORS = 5
    """Rule test vectors failed."""


DESCRIPTIONS = {
    ExitCode.OK: "success",
    ExitCode.FAILED: (
        "the decision needs manual review (the two evaluators disagreed or the engine failed: nothing "
        "clinical is asserted), or the command could not complete (database unreachable, no such key)"
    ),
    ExitCode.USAGE: "usage error or unreadable input",
    ExitCode.FACTS: 'invalid patient facts (the field and the reason are printed, with a "did you mean")',
    ExitCode.CONFIG: (
        "invalid rules or configuration: rules, site configuration, service settings (the server refuses to start)"
    ),
    ExitCode.VECTORS: "rule test vectors failed",
}


def epilog() -> str:
    """The table as ``painpath --help`` prints it."""
    rows = (
        textwrap.fill(DESCRIPTIONS[code], 100, initial_indent=f"  {code.value}  ", subsequent_indent="     ")
        for code in ExitCode
    )
    return "exit codes:\n" + "\n".join(rows)
