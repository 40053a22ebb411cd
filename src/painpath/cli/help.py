"""Help text of the ``painpath`` commands: plain words, examples, and the one exit-code table."""

from __future__ import annotations

import argparse
from pathlib import Path

import yaml

from painpath.cli.exit_codes import epilog


def add_command(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], name: str, summary: str, about: str, *examples: str
) -> argparse.ArgumentParser:
    """A subcommand whose ``--help`` says what it does, shows examples and lists the exit codes."""
    description = about + ("\n\nexamples:\n" + "\n".join(f"  {e}" for e in examples) if examples else "")
    return sub.add_parser(
        name,
        help=summary,
        description=description,
        epilog=epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def ruleset_line(rules_dir: Path) -> str:
    """``ruleset NAME VERSION`` from the rules directory's header (read, not compiled: ``--version`` is quick)."""
    try:
        header = yaml.safe_load((rules_dir / "ruleset.yaml").read_text(encoding="utf-8"))
        return f"ruleset {header['ruleset']} {header['version']}"
    except (OSError, yaml.YAMLError, TypeError, KeyError):
        return f"no readable ruleset in {rules_dir}"
