"""The audit's outputs: summary.json, CSV tables, FHIR MeasureReports and the HTML report.

=================================  ===============================================================
file                               what
=================================  ===============================================================
``summary.json``                   counts, reconciliation, every measure's populations and rate
``measures.csv``                   one row per measure: populations, rate, 95% Wilson interval
``patients.csv``                   one row per evaluated patient (written while the audit runs)
``rejected.csv``                   one row per rejected record: line number and reason
``red_flags.csv``                  red-flag screen status, highest urgency, findings per rule
``pmp.csv``                        Pain Management Programme decisions and settings
``missing_facts.csv``              facts that would change the advice, by number of patients
``measure-report-summary.json``    FHIR R4B Bundle of summary MeasureReports (one per measure)
``measure-report-subject-list.ndjson``  the cohort List, then one subject-list MeasureReport per measure
``report.html``                    one self-contained page (inline SVG and CSS; opens offline)
``explanations.jsonl``             with ``--explanations``: each patient's decision as the CLI prints it
=================================  ===============================================================
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from painpath.audit.aggregate import Aggregate, Subjects
from painpath.audit.measures import population_counts
from painpath.audit.stats import wilson_interval
from painpath.facts import CATALOGUE


def _by_prefix(counts: dict[str, int], prefix: str) -> dict[str, int]:
    return {
        k[len(prefix) :]: v for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])) if k.startswith(prefix)
    }


def summarise(agg: Aggregate, meta: dict[str, Any]) -> dict[str, Any]:
    """The JSON summary of an audit (what every other report is drawn from)."""
    ms = agg.measures
    measures = []
    for m, codes in zip(ms.measures, agg.codes, strict=True):
        pops = population_counts(codes)
        effective = pops["numerator"] + pops["not_met"]
        ci = wilson_interval(pops["numerator"], effective)
        measures.append(
            {
                "key": m.key,
                "kind": m.kind,
                "title": m.title,
                "cites": list(m.cites),
                **({"recommendation": m.recommendation} if m.recommendation else {}),
                **({"rule": m.rule_id, "urgency": m.urgency, "condition": m.condition} if m.rule_id else {}),
                "populations": pops,
                "rate": round(pops["numerator"] / effective, 6) if effective else None,
                "ci95": [round(ci[0], 6), round(ci[1], 6)] if ci else None,
            }
        )
    counts = dict(agg.counts)
    reconciled = agg.evaluated + agg.rejected == agg.n_input
    missing = [
        {"fact": path, "description": CATALOGUE[path].description if path in CATALOGUE else "", "patients": n}
        for path, n in _by_prefix(counts, "missing:").items()
    ]
    return {
        "title": "painpath guideline-adherence audit",
        "synthetic": agg.evaluated > 0 and counts.get("synthetic", 0) == agg.evaluated,
        **meta,
        "ruleset": {"name": ms.ruleset_name, "version": ms.ruleset_version, "content_hash": ms.ruleset_hash},
        "records": {
            "input": agg.n_input,
            "evaluated": agg.evaluated,
            "rejected": agg.rejected,
            "reconciled": reconciled,
            "statement": (
                f"{agg.n_input} records read: {agg.evaluated} evaluated + {agg.rejected} rejected = "
                f"{agg.evaluated + agg.rejected}" + ("" if reconciled else " (DOES NOT RECONCILE)")
            ),
        },
        "decisions": _by_prefix(counts, "status:"),
        "exception_rule": {"fact": ms.exception.fact, "equals": ms.exception.equals, "cites": list(ms.exception.cites)},
        "measures": measures,
        "red_flags": {
            "screen": _by_prefix(counts, "screen:"),
            "highest_urgency": _by_prefix(counts, "urgency:"),
        },
        "pmp": {"status": _by_prefix(counts, "pmp:"), "setting": _by_prefix(counts, "setting:")},
        "missing_facts": missing,
        "input_issues": {
            "patients": counts.get("input_issue_patients", 0),
            "by_code": _by_prefix(counts, "input_issue:"),
        },
    }


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)


def write_tables(summary: dict[str, Any], out: Path) -> None:
    """measures.csv, red_flags.csv, pmp.csv and missing_facts.csv from the summary."""
    pop_names = list(summary["measures"][0]["populations"]) if summary["measures"] else []
    rows = []
    for m in summary["measures"]:
        ci = m["ci95"] or ["", ""]
        rows.append(
            [
                m["key"],
                m["kind"],
                m["title"],
                *m["populations"].values(),
                m["rate"] if m["rate"] is not None else "",
                *ci,
                " ".join(m["cites"]),
            ]
        )
    _write_csv(
        out / "measures.csv", ["measure", "kind", "title", *pop_names, "rate", "ci95_low", "ci95_high", "cites"], rows
    )
    rf = summary["red_flags"]
    rf_rows: list[list[Any]] = [["screen", k, "", v] for k, v in rf["screen"].items()]
    rf_rows += [["highest_urgency", k, "", v] for k, v in rf["highest_urgency"].items()]
    rf_rows += [
        ["finding", m["rule"], m["urgency"], m["populations"]["numerator"]]
        for m in summary["measures"]
        if m["kind"] == "finding"
    ]
    _write_csv(out / "red_flags.csv", ["section", "value", "urgency", "patients"], rf_rows)
    pmp = summary["pmp"]
    _write_csv(
        out / "pmp.csv",
        ["section", "value", "patients"],
        [["status", k, v] for k, v in pmp["status"].items()] + [["setting", k, v] for k, v in pmp["setting"].items()],
    )
    _write_csv(
        out / "missing_facts.csv",
        ["fact", "description", "patients"],
        [[m["fact"], m["description"], m["patients"]] for m in summary["missing_facts"]],
    )


def write_reports(agg: Aggregate, out: Path, *, subjects: Subjects | None, meta: dict[str, Any]) -> dict[str, Any]:
    """Write every report of the audit into ``out``; returns the summary."""
    from painpath.audit.html import write_html  # noqa: PLC0415 - report modules load only when reporting
    from painpath.fhir.measurereport import write_measure_reports  # noqa: PLC0415

    summary = summarise(agg, meta)
    write_tables(summary, out)
    write_measure_reports(summary, out, subjects.parts() if subjects is not None else None)
    write_html(summary, agg.samples, agg.first_rejected, out)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
