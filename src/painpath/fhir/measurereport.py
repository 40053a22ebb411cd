"""FHIR R4B MeasureReports of an audit, built with ``fhir.resources`` so they are valid.

Plain inputs, so FHIR stays at the edge and knows nothing of how the audit ran: the audit's JSON
summary (``painpath.audit.report.summarise``) and the part files of its subject lists.

* ``measure-report-summary.json``: a ``collection`` Bundle with one ``summary`` MeasureReport per
  measure: the population counts, the rate as ``measureScore`` and its 95% Wilson interval as an
  extension (``urn:painpath:fhir:extension:rate-interval-95``, a Range).
  ``period`` is the audit's measurement period (``--period``, else the span of the records'
  assessment dates); with ``--stratify`` the group carries one ``stratifier`` per stratifier
  (code system ``urn:painpath:audit-stratifier``), each stratum with its value, population counts and
  ``measureScore``.
* ``measure-report-subject-list.ndjson``: first a ``List`` of the whole cohort (id ``cohort``, the
  initial population of every measure), then one ``subject-list`` MeasureReport per measure whose
  populations point at contained Lists of the patients in them. Patients are named by the cohort's
  identifier (``urn:painpath:cohort:patient-id``) or, without one, by line number.

Subject lists can hold a hundred thousand entries, so each report is validated as a skeleton (every
List with one placeholder entry, built by the worker in the same shape) and the entries are then
streamed in from the part files the audit wrote while it ran: memory stays flat.

Populations beyond the eCQM set use the code system ``urn:painpath:measure-population``:
``not-met`` (in the denominator, not the numerator), ``undetermined`` (facts missing; not in the
denominator) and ``manual-review`` (the evaluators disagreed; nothing asserted).
"""

from __future__ import annotations

import datetime
import json
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.list import List as FhirList
from fhir.resources.R4B.measurereport import MeasureReport

MEASURE_POPULATION = "http://terminology.hl7.org/CodeSystem/measure-population"
PAINPATH_POPULATION = "urn:painpath:measure-population"
INTERVAL_EXTENSION = "urn:painpath:fhir:extension:rate-interval-95"
STRATIFIER = "urn:painpath:audit-stratifier"
IMPROVEMENT = "http://terminology.hl7.org/CodeSystem/measure-improvement-notation"

_POPULATIONS = (
    # (summary key, code system, code, code of the subject list or None)
    ("initial_population", MEASURE_POPULATION, "initial-population", None),
    ("denominator", MEASURE_POPULATION, "denominator", None),
    ("denominator_exclusion", MEASURE_POPULATION, "denominator-exclusion", "A"),
    ("denominator_exception", MEASURE_POPULATION, "denominator-exception", "X"),
    ("numerator", MEASURE_POPULATION, "numerator", "M"),
    ("not_met", PAINPATH_POPULATION, "not-met", "N"),
    ("undetermined", PAINPATH_POPULATION, "undetermined", "U"),
    ("manual_review", PAINPATH_POPULATION, "manual-review", None),
)


def _placeholder(list_id: str) -> dict[str, Any]:
    return {"item": {"identifier": {"system": "urn:painpath:placeholder", "value": list_id}}}


def _dump(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _stratifiers(m: dict[str, Any], labels: Mapping[str, str]) -> list[dict[str, Any]]:
    """``group.stratifier``: per stratifier, each stratum's value, population counts and score."""
    out = []
    for key, strata in m.get("strata", {}).items():
        stratum_list = []
        for s in strata:
            stratum: dict[str, Any] = {
                "value": {"text": s["value"]},
                "population": [
                    {"code": {"coding": [{"system": system, "code": code}]}, "count": s["populations"][pop]}
                    for pop, system, code, _list in _POPULATIONS
                ],
            }
            if s["rate"] is not None:
                stratum["measureScore"] = {"value": s["rate"]}
            stratum_list.append(stratum)
        out.append(
            {
                "code": [{"coding": [{"system": STRATIFIER, "code": key}], "text": labels.get(key, key)}],
                "stratum": stratum_list,
            }
        )
    return out


def _report(
    m: dict[str, Any],
    ruleset_version: str,
    period: Mapping[str, str],
    now: str,
    kind: str,
    lists: dict[str, str],
    labels: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    populations = []
    for key, system, code, list_code in _POPULATIONS:
        pop: dict[str, Any] = {
            "code": {"coding": [{"system": system, "code": code}]},
            "count": m["populations"][key],
        }
        if kind == "subject-list":
            if key == "initial_population":
                pop["subjectResults"] = {"reference": "List/cohort"}
            elif list_code is not None and list_code in lists:
                pop["subjectResults"] = {"reference": f"#{lists[list_code]}"}
        populations.append(pop)
    group: dict[str, Any] = {
        "code": {"coding": [{"system": "urn:painpath:measure", "code": m["key"], "display": m["title"][:200]}]},
        "population": populations,
    }
    if m["rate"] is not None:
        score: dict[str, Any] = {"value": m["rate"]}
        if m["ci95"]:
            low, high = m["ci95"]
            score["extension"] = [
                {"url": INTERVAL_EXTENSION, "valueRange": {"low": {"value": low}, "high": {"value": high}}}
            ]
        group["measureScore"] = score
    stratifiers = _stratifiers(m, labels or {})
    if stratifiers:
        group["stratifier"] = stratifiers
    report: dict[str, Any] = {
        "resourceType": "MeasureReport",
        "id": f"{m['key'].lower().replace('_', '-')}-{kind}"[:64],
        "status": "complete",
        "type": kind,
        "measure": f"urn:painpath:measure:{m['key']}|{ruleset_version}",
        "date": now,
        "period": {"start": period["start"], "end": period["end"]},
        "group": [group],
    }
    if m["kind"] == "adherence":
        report["improvementNotation"] = {"coding": [{"system": IMPROVEMENT, "code": "increase"}]}
    if lists:
        report["contained"] = [
            {"resourceType": "List", "id": lid, "status": "current", "mode": "snapshot", "entry": [_placeholder(lid)]}
            for lid in lists.values()
        ]
    return report


def _stream(f: Any, text: str, parts: dict[str, Path]) -> None:
    """Write ``text``, replacing each list's placeholder entry with the entries in its part file."""
    for lid, part in parts.items():
        marker = _dump(_placeholder(lid))
        if text.count(marker) != 1:  # the serialisation changed shape: refuse rather than write garbage
            raise RuntimeError(f"placeholder of list {lid} not found exactly once")
        head, text = text.split(marker)
        f.write(head)
        with part.open("r", encoding="utf-8") as src:
            shutil.copyfileobj(src, f)
    f.write(text)


def write_measure_reports(summary: dict[str, Any], out: Path, subject_parts: Mapping[str, Path] | None) -> None:
    """Write the summary Bundle and, when subject lists were collected, the subject-list NDJSON.

    ``subject_parts`` maps ``measure|code`` (``all|`` for the cohort) to the part file of that list's
    entries, for the lists that have entries; ``None`` when subject lists were not collected.
    """
    period = summary["period"]
    labels = summary.get("stratifiers", {})
    version = summary["ruleset"]["version"]
    now = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    bundle = Bundle.model_validate(
        {
            "resourceType": "Bundle",
            "type": "collection",
            "timestamp": now,
            "entry": [
                {
                    "resource": MeasureReport.model_validate(
                        _report(m, version, period, now, "summary", {}, labels)
                    ).model_dump()
                }
                for m in summary["measures"]
            ],
        }
    )
    (out / "measure-report-summary.json").write_text(bundle.model_dump_json(indent=2) + "\n", encoding="utf-8")
    if subject_parts is None:
        return
    with (out / "measure-report-subject-list.ndjson").open("w", encoding="utf-8") as f:
        cohort: dict[str, Any] = {
            "resourceType": "List",
            "id": "cohort",
            "status": "current",
            "mode": "snapshot",
            "title": "Evaluated patients",
        }
        all_part = subject_parts.get("all|")
        parts = {}
        if all_part is not None and all_part.exists():
            cohort["entry"] = [_placeholder("cohort")]
            parts["cohort"] = all_part
        _stream(f, FhirList.model_validate(cohort).model_dump_json(), parts)
        f.write("\n")
        for m in summary["measures"]:
            lists: dict[str, str] = {}
            parts = {}
            for code in "MNXAU":
                part = subject_parts.get(f"{m['key']}|{code}")
                if part is not None:
                    lid = f"list-{code}"
                    lists[code] = lid
                    parts[lid] = part
            report = MeasureReport.model_validate(_report(m, version, period, now, "subject-list", lists, labels))
            _stream(f, report.model_dump_json(), parts)
            f.write("\n")
