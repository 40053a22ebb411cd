"""Build hook: ship the canonical ``rules/`` and ``guidelines/`` inside the wheel.

The rules and the guidelines they cite stay where reviewers and the docs expect them, at the top of the
repository. ``build_py`` copies both into ``painpath/_data/`` of the built package, side by side as in the
checkout, so the ruleset's content hash (paths relative to the rules directory's parent) is the same
installed as in a checkout. An editable install (``make venv``) copies nothing: it reads the checkout.
Everything else about the build is in ``pyproject.toml``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
BUNDLED = ("rules", "guidelines")


class BuildPyWithRuleset(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        target = Path(self.build_lib) / "painpath" / "_data"
        for name in BUNDLED:
            dest = target / name
            shutil.rmtree(dest, ignore_errors=True)
            shutil.copytree(ROOT / name, dest, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))


setup(cmdclass={"build_py": BuildPyWithRuleset})
