"""Group answers ("none of these"): one answer that sets several facts, with its provenance.

The groups are defined in ``questions.yaml`` (``groups:``) and checked there by ``questions``; this
module reads only that part so the facts model can apply them without importing the catalogue.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

from painpath.errors import suggest

QUESTIONS_FILE = Path(__file__).with_name("questions.yaml")


@functools.lru_cache(maxsize=1)
def _groups() -> dict[str, tuple[tuple[str, Any], ...]]:
    data = yaml.safe_load(QUESTIONS_FILE.read_text(encoding="utf-8"))
    return {str(g["id"]): tuple((str(k), v) for k, v in g["sets"].items()) for g in data.get("groups", [])}


def expand_group_answers(data: dict[str, Any]) -> dict[str, Any]:
    """Apply ``answered_groups`` to raw facts: each group sets its facts unless they are recorded.

    Every fact set this way is recorded in ``provenance`` as ``group:<id>``. An unknown group id, or a
    recorded answer that contradicts the group (e.g. saddle numbness "yes" with "no cauda equina
    symptoms"), raises ``ValueError`` naming it (a validation error of the facts).
    """
    groups = _groups()
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in data.items()}
    provenance = dict(out.get("provenance") or {})
    answered = out.get("answered_groups")
    if not isinstance(answered, list):
        raise ValueError("answered_groups must be a list of group ids")
    for gid in answered:
        group = groups.get(gid) if isinstance(gid, str) else None
        if group is None:
            near = suggest(str(gid), groups)
            raise ValueError(f"answered_groups: unknown group {gid!r}" + (f" (did you mean '{near}'?)" if near else ""))
        for path, value in group:
            section, _, name = path.partition(".")
            target = out.setdefault(section, {})
            if not isinstance(target, dict):
                raise ValueError(f"{section}: must be an object")
            recorded = target.get(name)
            if recorded is None:
                target[name] = value
                provenance.setdefault(path, f"group:{gid}")
            elif recorded != value:
                raise ValueError(f"{path}: recorded as {recorded!r}, but the group answer {gid!r} says {value!r}")
    out["provenance"] = provenance
    return out


__all__ = ["expand_group_answers"]
