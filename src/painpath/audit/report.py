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


DQ_FACTS = 5
"""How many of the facts missing most often the data-quality section names per measure."""


def _rate(pops: dict[str, int]) -> tuple[float | None, list[float] | None]:
    effective = pops["numerator"] + pops["not_met"]
    ci = wilson_interval(pops["numerator"], effective)
    return (
        round(pops["numerator"] / effective, 6) if effective else None,
        [round(ci[0], 6), round(ci[1], 6)] if ci else None,
    )


def _strata(agg: Aggregate, index: int, order: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Per stratifier (in ``--stratify`` order), measure ``index``'s populations and rate per stratum, by value."""
    out: dict[str, list[dict[str, Any]]] = {key: [] for key in order}
    for key in sorted(agg.strata):
        stratifier, _, value = key.partition("|")
        pops = population_counts(agg.strata[key][index])
        rate, ci = _rate(pops)
        out.setdefault(stratifier, []).append({"value": value, "populations": pops, "rate": rate, "ci95": ci})
    return out


def _data_quality(counts: dict[str, int], key: str, undetermined: int) -> list[dict[str, Any]]:
    missing = _by_prefix(counts, f"dq:{key}|")
    return [
        {"fact": path, "patients": n, "share_of_undetermined": round(n / undetermined, 4) if undetermined else None}
        for path, n in list(missing.items())[:DQ_FACTS]
    ]


def summarise(agg: Aggregate, meta: dict[str, Any]) -> dict[str, Any]:
    """The JSON summary of an audit (what every other report is drawn from)."""
    ms = agg.measures
    measures = []
    counts = dict(agg.counts)
    for i, (m, codes) in enumerate(zip(ms.measures, agg.codes, strict=True)):
        pops = population_counts(codes)
        rate, ci = _rate(pops)
        target = None
        if m.target is not None:
            target = {
                "value": m.target.value,
                "cites": list(m.target.cites),
                "local": m.target.local,
                "met": None if rate is None else rate >= m.target.value,
            }
        measures.append(
            {
                "key": m.key,
                "kind": m.kind,
                "title": m.title,
                "cites": list(m.cites),
                **({"recommendation": m.recommendation} if m.recommendation else {}),
                **({"rule": m.rule_id, "urgency": m.urgency, "condition": m.condition} if m.rule_id else {}),
                "populations": pops,
                "rate": rate,
                "ci95": ci,
                "target": target,
                "strata": _strata(agg, i, list(meta.get("stratify", ()))),
                "data_quality": {
                    "undetermined": pops["undetermined"],
                    "share": round(pops["undetermined"] / pops["initial_population"], 4)
                    if pops["initial_population"]
                    else None,
                    "missing_most": _data_quality(counts, m.key, pops["undetermined"]),
                },
            }
        )
    accounted = agg.evaluated + agg.rejected + agg.outside_period
    reconciled = accounted == agg.n_input
    outside = (
        f" + {agg.outside_period} outside the period" if meta.get("period", {}).get("source") == "--period" else ""
    )
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
            **({"outside_period": agg.outside_period, "undated": agg.undated} if outside else {}),
            "reconciled": reconciled,
            "statement": (
                f"{agg.n_input} records read: {agg.evaluated} evaluated + {agg.rejected} rejected{outside} = "
                f"{accounted}" + ("" if reconciled else " (DOES NOT RECONCILE)")
            ),
        },
        "stratifiers": {k: ms.stratifiers[k].label for k in meta.get("stratify", ())},
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
                m["target"]["value"] if m["target"] else "",
                "" if not m["target"] or m["target"]["met"] is None else str(m["target"]["met"]).lower(),
                " ".join(m["cites"]),
            ]
        )
    _write_csv(
        out / "measures.csv",
        ["measure", "kind", "title", *pop_names, "rate", "ci95_low", "ci95_high", "target", "target_met", "cites"],
        rows,
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


def write_extra_tables(summary: dict[str, Any], out: Path) -> None:
    """strata.csv, data_quality.csv, compare.csv and triage_agreement.csv, when the audit has them."""
    if summary["stratifiers"]:
        rows = []
        for m in summary["measures"]:
            for stratifier, strata in m["strata"].items():
                for s in strata:
                    ci = s["ci95"] or ["", ""]
                    rows.append(
                        [
                            m["key"],
                            stratifier,
                            s["value"],
                            *s["populations"].values(),
                            "" if s["rate"] is None else s["rate"],
                            *ci,
                        ]
                    )
        pops = list(summary["measures"][0]["populations"]) if summary["measures"] else []
        _write_csv(
            out / "strata.csv", ["measure", "stratifier", "stratum", *pops, "rate", "ci95_low", "ci95_high"], rows
        )
    dq_rows = []
    for m in summary["measures"]:
        dq = m["data_quality"]
        missing = "; ".join(f"{x['fact']} ({x['patients']})" for x in dq["missing_most"])
        dq_rows.append([m["key"], m["title"], dq["undetermined"], "" if dq["share"] is None else dq["share"], missing])
    _write_csv(out / "data_quality.csv", ["measure", "title", "undetermined", "share", "missing_most"], dq_rows)
    comparison = summary.get("comparison")
    if comparison:
        c_rows = []
        for c in comparison["measures"]:
            ci = c.get("ci95") or ["", ""]
            c_rows.append(
                [
                    c["key"],
                    c["status"],
                    "" if c["previous_rate"] is None else c["previous_rate"],
                    "" if c["rate"] is None else c["rate"],
                    c.get("change", ""),
                    *ci,
                    "" if "significant" not in c else str(c["significant"]).lower(),
                ]
            )
        _write_csv(
            out / "compare.csv",
            ["measure", "status", "previous_rate", "rate", "change", "ci95_low", "ci95_high", "significant"],
            c_rows,
        )
    triage = summary.get("triage_agreement")
    if triage:
        _write_csv(
            out / "triage_agreement.csv",
            ["advice", "triaged", "agrees", "departs", "counted", "rate", "ci95_low", "ci95_high"],
            [
                [
                    r["advice"],
                    r["triaged"],
                    r["agrees"],
                    r["departs"],
                    str(r["counted"]).lower(),
                    "" if r["rate"] is None else r["rate"],
                    *(r["ci95"] or ["", ""]),
                ]
                for r in triage["by_advice"]
            ],
        )


def write_reports(  # noqa: PLR0913 - keyword-only report inputs, each optional but the first two
    agg: Aggregate,
    out: Path,
    *,
    subjects: Subjects | None,
    meta: dict[str, Any],
    previous: dict[str, Any] | None = None,
    triage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write every report of the audit into ``out``; returns the summary."""
    from painpath.audit.html import write_html  # noqa: PLC0415 - report modules load only when reporting
    from painpath.fhir.measurereport import write_measure_reports  # noqa: PLC0415

    summary = summarise(agg, meta)
    if previous is not None:
        from painpath.audit.compare import compare  # noqa: PLC0415 - only when comparing

        summary["comparison"] = compare(summary, previous)
    if triage is not None:
        summary["triage_agreement"] = triage
    write_tables(summary, out)
    write_extra_tables(summary, out)
    write_measure_reports(summary, out, subjects.parts() if subjects is not None else None)
    write_html(summary, agg.samples, agg.first_rejected, out)
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return summary
