"""Re-audit: each measure's rate compared with a previous audit's (``painpath audit --compare DIR``).

The previous audit is read from its output directory (its ``summary.json``). For every measure in
both audits the change in rate is given with its 95% interval (Newcombe's hybrid score interval for
the difference of two independent proportions); the change is *significant* when that interval
excludes 0. A measure in only one of the audits is listed as new or dropped, never compared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from painpath.audit.stats import newcombe_difference
from painpath.errors import PainpathError


class CompareError(PainpathError):
    """The previous audit's directory cannot be read."""


def read_previous(directory: Path) -> dict[str, Any]:
    """The summary of the audit in ``directory`` (fails fast, naming what is wrong)."""
    path = directory / "summary.json"
    try:
        summary: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CompareError(f"--compare: cannot read {path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise CompareError(f"--compare: {path} is not an audit summary (invalid JSON: {exc})") from exc
    if not isinstance(summary, dict) or not isinstance(summary.get("measures"), list):
        raise CompareError(f"--compare: {path} is not an audit summary (no measures)")
    return summary


def _effective(m: dict[str, Any]) -> tuple[int, int]:
    pops = m["populations"]
    return int(pops["numerator"]), int(pops["numerator"]) + int(pops["not_met"])


def compare(current: dict[str, Any], previous: dict[str, Any]) -> dict[str, Any]:
    """The comparison of two audit summaries, per measure, for the reports."""
    before = {m["key"]: m for m in previous["measures"]}
    rows = []
    for m in current["measures"]:
        p = before.pop(m["key"], None)
        row: dict[str, Any] = {"key": m["key"], "kind": m["kind"], "title": m["title"], "rate": m["rate"]}
        if p is None:
            rows.append({**row, "status": "new", "previous_rate": None})
            continue
        s1, n1 = _effective(m)
        s2, n2 = _effective(p)
        diff = newcombe_difference(s1, n1, s2, n2)
        row["previous_rate"] = p.get("rate")
        if diff is None:
            rows.append({**row, "status": "no rate in one of the audits"})
            continue
        d, low, high = diff
        significant = low > 0 or high < 0
        direction = "no significant change"
        if significant:
            direction = "higher" if d > 0 else "lower"
        rows.append(
            {
                **row,
                "status": "compared",
                "change": round(d, 6),
                "ci95": [round(low, 6), round(high, 6)],
                "significant": significant,
                "direction": direction,
            }
        )
    rows.extend(
        {
            "key": k,
            "kind": m["kind"],
            "title": m["title"],
            "rate": None,
            "previous_rate": m.get("rate"),
            "status": "dropped",
        }
        for k, m in before.items()
    )
    prev_rs = previous.get("ruleset", {})
    return {
        "previous": {
            "cohort": previous.get("cohort"),
            "audit_date": previous.get("audit_date"),
            "period": previous.get("period"),
            "ruleset": prev_rs,
        },
        "same_ruleset": prev_rs.get("content_hash") == current["ruleset"]["content_hash"],
        "method": "difference of two proportions (current - previous), 95% Newcombe hybrid score interval",
        "measures": rows,
    }
