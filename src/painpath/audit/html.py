"""The audit's HTML report: one self-contained file built from Jinja2 templates (package data).

The page holds its CSS, its charts as inline SVG (Vega-Lite rendered by ``painpath.audit.charts``)
and one small script of ours that filters and sorts the drill-down table; no URL, no CDN, so it
opens offline. Templates are autoescaped. Labels come from the measure data. Every count links to
the drill-down table filtered to its patients (the first few of each population; all of them are in
``patients.csv``). The page fits a 1366 px laptop screen without horizontal scrolling and has a
print stylesheet.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from painpath.audit import charts
from painpath.audit.measures import LABELS, POPULATIONS

MISSING_SHOWN = 20
SHORT_LABEL_MAX = 40
_URGENCY_ORDER = ("emergency", "urgent", "soon", "routine", "none", "undetermined")
_POP_CODES = {v: k for k, v in POPULATIONS.items()}
TABLE_POPULATIONS = (
    "numerator",
    "not_met",
    "denominator_exception",
    "denominator_exclusion",
    "undetermined",
    "manual_review",
)


@cache
def _env() -> Environment:
    return Environment(
        loader=PackageLoader("painpath.audit", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def short_label(title: str) -> str:
    """A measure's short label: its title up to the first colon ("Lin 4", "QS155 statement 2")."""
    head, sep, _ = title.partition(":")
    return head if sep and len(head) <= SHORT_LABEL_MAX else title[:SHORT_LABEL_MAX]


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _drill_groups(summary: dict[str, Any]) -> dict[str, tuple[str, str, int]]:
    """Drill-down key -> (group label, population label, patients in that population)."""
    groups: dict[str, tuple[str, str, int]] = {}
    for m in summary["measures"]:
        label = short_label(m["title"]) if m["kind"] == "adherence" else m["title"]
        for code, pop in POPULATIONS.items():
            groups[f"{m['key']}|{code}"] = (label, LABELS[m["kind"]][code], m["populations"][pop])
    for value, n in summary["red_flags"]["highest_urgency"].items():
        groups[f"urgency|{value}"] = ("Red flags: highest urgency", value, n)
    for value, n in summary["pmp"]["status"].items():
        groups[f"pmp|{value}"] = ("PMP decision", value, n)
    for value, n in summary["pmp"]["setting"].items():
        groups[f"setting|{value}"] = ("PMP setting", value, n)
    for item in summary["missing_facts"][:MISSING_SHOWN]:
        groups[f"missing|{item['fact']}"] = ("Missing fact", item["fact"], item["patients"])
    return groups


def _view(
    summary: dict[str, Any], samples: dict[str, list[tuple[int, str, str]]], rejected: list[tuple[int, str]]
) -> dict[str, Any]:
    adherence = [m for m in summary["measures"] if m["kind"] == "adherence"]
    findings = [m for m in summary["measures"] if m["kind"] == "finding"]
    groups = _drill_groups(summary)
    drill = []
    shown: set[str] = set()
    for key, (group, population, _n) in groups.items():
        for line, pid, text in samples.get(key, []):
            drill.append(
                {"key": key, "group": group, "population": population, "line": line, "patient": pid, "text": text}
            )
            shown.add(key)
    rate_rows = [
        {
            "label": short_label(m["title"]),
            "rate": m["rate"],
            "ci95": m["ci95"],
            "target": m["target"]["value"] if m["target"] else None,
        }
        for m in adherence
    ]
    urg = summary["red_flags"]["highest_urgency"]
    urgency_rows = [(u, urg[u]) for u in _URGENCY_ORDER if u in urg] + [
        (u, n) for u, n in urg.items() if u not in _URGENCY_ORDER
    ]
    chart = {
        "adherence": charts.rate_chart(rate_rows, "Adherence per recommendation: rate, 95% interval, target"),
        "urgency": charts.count_chart(urgency_rows, "Patients by highest red-flag urgency"),
        "pmp": charts.count_chart(list(summary["pmp"]["status"].items()), "Pain Management Programme decisions"),
        "missing": charts.count_chart(
            [(m["fact"], m["patients"]) for m in summary["missing_facts"][:MISSING_SHOWN]],
            "Most common missing facts",
        )
        if summary["missing_facts"]
        else "",
        "change": "",
    }
    comparison = summary.get("comparison")
    if comparison:
        by_key = {m["key"]: m for m in summary["measures"]}
        changed = [
            {**c, "label": short_label(c["title"]) if c["kind"] == "adherence" else c["title"][:50]}
            for c in comparison["measures"]
            if c["status"] == "compared" and by_key.get(c["key"], {}).get("kind") == "adherence"
        ]
        if changed:
            chart["change"] = charts.change_chart(changed, "Change in adherence since the previous audit")
    strata_tables = []
    for key, label in summary["stratifiers"].items():
        values: list[str] = []
        for m in adherence:
            for s in m["strata"].get(key, []):
                if s["value"] not in values:
                    values.append(s["value"])
        rows = []
        for m in adherence:
            cells = {s["value"]: s for s in m["strata"].get(key, [])}
            rows.append({"measure": m, "label": short_label(m["title"]), "cells": [cells.get(v) for v in values]})
        strata_tables.append({"key": key, "label": label, "values": values, "rows": rows})
    return {
        "s": summary,
        "adherence": adherence,
        "findings": findings,
        "chart": chart,
        "strata_tables": strata_tables,
        "drill": drill,
        "drill_keys": shown,
        "groups": groups,
        "rejected": rejected,
        "populations": TABLE_POPULATIONS,
        "pop_codes": _POP_CODES,
        "adherence_labels": LABELS["adherence"],
        "urgency_rows": urgency_rows,
        "pct": _pct,
        "short_label": short_label,
        "missing_shown": MISSING_SHOWN,
    }


def render_html(
    summary: dict[str, Any], samples: dict[str, list[tuple[int, str, str]]], rejected: list[tuple[int, str]]
) -> str:
    """The report page as a string."""
    return _env().get_template("report.html.j2").render(**_view(summary, samples, rejected))


def write_html(
    summary: dict[str, Any],
    samples: dict[str, list[tuple[int, str, str]]],
    rejected: list[tuple[int, str]],
    out: Path,
) -> None:
    """Write ``report.html``."""
    (out / "report.html").write_text(render_html(summary, samples, rejected), encoding="utf-8")
