"""Issue 16: ``python -m painpath``, ``painpath --version``, plain help with examples, one exit-code table."""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from painpath.cli.exit_codes import DESCRIPTIONS, ExitCode
from painpath.cli.main import build_parser
from painpath.version import __version__
from tests.conftest import ROOT

SRC = ROOT / "src" / "painpath"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, check=False, timeout=120)


def _commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    """Every command and subcommand of the parser with its help text."""
    found = [(path, parser.format_help())]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found += _commands(sub, (*path, name))
    return found


def _has_exit_table(text: str) -> bool:
    flat = " ".join(text.split())
    return "exit codes:" in text and all(f"{code.value} {DESCRIPTIONS[code]}" in flat for code in ExitCode)


def test_python_dash_m_painpath_prints_the_version_and_the_rulesets() -> None:
    header = yaml.safe_load((ROOT / "rules" / "ruleset.yaml").read_text(encoding="utf-8"))
    for args in (("-m", "painpath", "--version"), ("-m", "painpath.cli", "--version")):
        done = run(*args)
        assert done.returncode == ExitCode.OK, done.stderr
        assert done.stdout == f"painpath {__version__} (ruleset {header['ruleset']} {header['version']})\n"


def test_no_command_is_a_usage_error_that_says_so() -> None:
    done = run("-m", "painpath")
    assert done.returncode == ExitCode.USAGE
    assert "COMMAND" in done.stderr


def test_the_top_help_is_plain_words_with_examples_and_the_exit_codes() -> None:
    done = run("-m", "painpath", "--help")
    assert done.returncode == ExitCode.OK
    assert "``" not in done.stdout, "no raw reStructuredText"
    assert "examples:\n  painpath evaluate" in done.stdout
    assert _has_exit_table(done.stdout)


def test_every_subcommand_help_has_examples_and_the_one_exit_code_table() -> None:
    commands = _commands(build_parser())
    names = {" ".join(path) for path, _ in commands}
    assert {"evaluate", "serve", "synth", "audit", "rules check", "rules test", "rules list", "store prune"} <= names
    for path, text in commands:
        assert "``" not in text, path
        assert "examples:" in text, path
        assert _has_exit_table(text), path


def test_the_key_command_lists_the_same_exit_codes() -> None:
    done = run("-m", "painpath.cli.keys", "--help")
    assert done.returncode == ExitCode.OK
    assert "examples:" in done.stdout
    assert _has_exit_table(done.stdout)


@pytest.mark.parametrize("path", sorted([*(SRC / "cli").glob("*.py"), SRC / "api" / "server.py"]), ids=str)
def test_commands_return_exit_codes_from_the_one_table(path: Path) -> None:
    """A command returns ``ExitCode`` members, never a bare number, so every code is in the table."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bare = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, int)
    ]
    assert bare == [], f"{path.name} returns bare exit codes at lines {bare}"
