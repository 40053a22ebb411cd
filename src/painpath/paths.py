"""Where the bundled rules and guidelines are found, from any working directory.

The canonical files live at the top of the repository (``rules/`` and ``guidelines/``). A built wheel
carries copies of both in ``painpath/_data/`` (``setup.py`` puts them there), side by side as in the
checkout, so the ruleset's content hash is the same installed as in a checkout. The order:

1. ``$PAINPATH_RULES_DIR`` (its guidelines are ``../guidelines`` beside it);
2. the package's own data, ``painpath/_data/rules`` (an installed wheel);
3. the repository checkout's ``rules/`` (an editable install, ``make venv``);
4. ``./rules``.
"""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path


def bundled_data_dir() -> Path | None:
    """``painpath/_data`` of an installed wheel, or None (an editable install reads the checkout)."""
    root = resources.files("painpath") / "_data"
    # wheels are installed unpacked, so the package's files are on disk; a zip import is not supported
    if isinstance(root, Path) and (root / "rules" / "ruleset.yaml").is_file():
        return root
    return None


def checkout_dir() -> Path | None:
    """The repository checkout this package is imported from (``src/painpath/``), or None when installed."""
    repo = Path(__file__).resolve().parents[2]
    return repo if (repo / "rules" / "ruleset.yaml").is_file() and (repo / "pyproject.toml").is_file() else None


def default_rules_dir() -> Path:
    """``$PAINPATH_RULES_DIR``, else the bundled rules, else the repository's ``rules/``, else ``./rules``."""
    env = os.environ.get("PAINPATH_RULES_DIR")
    if env:
        return Path(env)
    for root in (bundled_data_dir(), checkout_dir()):
        if root is not None:
            return root / "rules"
    return Path.cwd() / "rules"
