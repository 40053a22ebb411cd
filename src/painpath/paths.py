"""Where the bundled rules and guidelines are found."""

from __future__ import annotations

import os
from pathlib import Path


def default_rules_dir() -> Path:
    """``$PAINPATH_RULES_DIR``, else the repository's ``rules/``, else ``./rules``."""
    env = os.environ.get("PAINPATH_RULES_DIR")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2] / "rules"
    return repo if repo.is_dir() else Path.cwd() / "rules"
