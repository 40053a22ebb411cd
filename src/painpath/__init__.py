"""painpath: guideline-based clinical decision support for chronic musculoskeletal pain.

The typed entry point for scripts and notebooks (``docs/python.md``)::

    import painpath

    decision = painpath.evaluate({"demographics": {"age": 52}, "pain": {"duration_weeks": 20}})
    print(decision.status)

``painpath.evaluate`` uses the bundled ruleset, loaded and compiled once on first use and kept for the
process (``painpath.bundled_engine``). ``painpath.Engine`` is the engine itself, for another rules
directory or a site configuration. The engine is imported on first use, so ``import painpath`` is cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from painpath.version import __version__

if TYPE_CHECKING:
    from painpath.engine import Decision as Decision
    from painpath.engine import Engine as Engine
    from painpath.engine import Evaluator
    from painpath.facts import PatientFacts as PatientFacts

__all__ = ["Decision", "Engine", "PatientFacts", "__version__", "bundled_engine", "evaluate"]

_LAZY = {"Engine": "painpath.engine", "Decision": "painpath.engine", "PatientFacts": "painpath.facts"}


def __getattr__(name: str) -> Any:
    """``painpath.Engine``, ``painpath.Decision`` and ``painpath.PatientFacts``, imported on first use."""
    if name in _LAZY:
        import importlib  # noqa: PLC0415

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'painpath' has no attribute {name!r}")


@lru_cache(maxsize=1)
def bundled_engine() -> Engine:
    """The engine of the bundled ruleset (or ``$PAINPATH_RULES_DIR``), loaded and compiled once."""
    from painpath.engine import Engine  # noqa: PLC0415
    from painpath.paths import default_rules_dir  # noqa: PLC0415

    return Engine.from_directory(default_rules_dir())


def evaluate(facts: Mapping[str, Any] | PatientFacts, *, evaluator: Evaluator = "durable") -> Decision:
    """Evaluate one patient's facts with the bundled ruleset and return the decision.

    ``facts`` is a ``PatientFacts`` or the same data as a mapping (the JSON that ``painpath evaluate`` reads,
    as in ``examples/patients/``); a mapping is validated first, and a misspelt or invalid field raises
    ``painpath.errors.FactsValidationError`` naming it. ``evaluator="kleene"`` skips the durable-rules cross-check.
    """
    from painpath.facts import PatientFacts, parse_facts  # noqa: PLC0415

    parsed = facts if isinstance(facts, PatientFacts) else parse_facts(dict(facts))
    return bundled_engine().evaluate(parsed, evaluator=evaluator)
