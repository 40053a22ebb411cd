"""Triage agreement: how often triage outcomes recorded in the decision log agree with painpath's advice.

The web worklist and ``POST /v1/evaluations/{id}/triage`` record each outcome with the advice rule
it was compared with and whether it departs from that advice (``triage/codes.yaml``). The audit reads
the latest outcome of every triaged decision from the decision log (``--decision-log URL``; with
``--period``, the decisions recorded in the period) and reports the proportion that agree, with its
95% Wilson interval, overall and per advice rule. Advice rules that accept any outcome (``agrees:
any``, e.g. manual review) cannot be departed from and are reported but left out of the proportion.

Cohen's kappa is not reported: painpath's advice and a triage outcome are not two ratings on one
scale (an advice rule accepts a set of outcomes), so there is no shared category table to compute
it from.
"""

from __future__ import annotations

import datetime
from collections import Counter
from typing import Any

from painpath.audit.stats import wilson_interval
from painpath.store import open_store
from painpath.store.database import redact_url


def _always_agrees() -> frozenset[str]:
    from painpath.triage.codes import load_codes  # noqa: PLC0415 - only with --decision-log

    codes = load_codes()
    return frozenset(rule.id for rule in codes.advice if rule.agrees is None)


def triage_agreement(url: str, period: tuple[datetime.date, datetime.date] | None) -> dict[str, Any]:
    """The agreement section of the summary, read from the decision log at ``url``."""
    since = until = None
    if period is not None:
        since = datetime.datetime.combine(period[0], datetime.time(), tzinfo=datetime.UTC)
        until = datetime.datetime.combine(period[1] + datetime.timedelta(days=1), datetime.time(), tzinfo=datetime.UTC)
    store = open_store(url, apply_migrations=False)
    try:
        outcomes = store.triage.latest_outcomes(since, until)
    finally:
        store.close()
    any_ok = _always_agrees()
    per_advice: dict[str, Counter[str]] = {}
    for o in outcomes:
        c = per_advice.setdefault(o.advice, Counter())
        c["triaged"] += 1
        c["departs" if o.departs_from_advice else "agrees"] += 1
    rows = []
    agree = total = 0
    for advice, c in sorted(per_advice.items(), key=lambda kv: -kv[1]["triaged"]):
        counted = advice not in any_ok
        ci = wilson_interval(c["agrees"], c["triaged"]) if counted else None
        rows.append(
            {
                "advice": advice,
                "triaged": c["triaged"],
                "agrees": c["agrees"],
                "departs": c["departs"],
                "counted": counted,
                "rate": round(c["agrees"] / c["triaged"], 6) if counted else None,
                "ci95": [round(ci[0], 6), round(ci[1], 6)] if ci else None,
            }
        )
        if counted:
            agree += c["agrees"]
            total += c["triaged"]
    ci = wilson_interval(agree, total)
    return {
        "source": redact_url(url),
        "decisions_triaged": len(outcomes),
        "compared": total,
        "agrees": agree,
        "rate": round(agree / total, 6) if total else None,
        "ci95": [round(ci[0], 6), round(ci[1], 6)] if ci else None,
        "by_advice": rows,
        "kappa": None,
        "kappa_note": "not computed: an advice rule accepts a set of outcomes, so the two are not ratings on one scale",
    }
