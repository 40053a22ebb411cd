"""Evaluate one chunk of raw records: parse, evaluate, classify and reduce, all in the worker.

A chunk goes out as raw records (JSON lines stay bytes) and comes back as compact, already
formatted results: the patients' CSV rows as one string, the rejected records, the counts of the
chunk, the first few patients of every measure population with their explanation, and the subject
list entries. Nothing the size of a Decision crosses the process boundary, and the reading process
only appends strings and adds counters.

Each process builds its engine once and keeps it (``painpath.workers.process_engine``, the one
engine-per-process mechanism of the project): a local pool worker and a Dask worker run the same
function.
"""

from __future__ import annotations

import csv
import datetime
import io
import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from painpath.audit.measures import POPULATIONS, MeasureSet, build_measures, classify, explain
from painpath.audit.readers import FORMATS
from painpath.audit.synth import ID_PREFIX
from painpath.engine import Decision, Engine, PmpSection, Reason, decision_to_text
from painpath.errors import FactsValidationError
from painpath.workers import EngineSpec as EngineSpec  # noqa: PLC0414 - re-exported for chunks and audit jobs
from painpath.workers import process_engine
from painpath.workers import use_engine as use_process_engine

PATIENT_COLUMNS = (
    "line",
    "patient_id",
    "decision_status",
    "red_flag_screen",
    "highest_urgency",
    "red_flag_findings",
    "safety_alerts",
    "pmp_status",
    "pmp_setting",
    "missing_facts",
)
MISSING_IN_ROW = 5
"""How many of a patient's most important missing facts the patients table lists."""
SUBJECT_CODES = {"adherence": "MNXAU", "finding": "MU"}
"""Which populations get a subject list: every one for adherence; findings present or undetermined."""


@dataclass(frozen=True)
class Chunk:
    index: int
    format: str
    records: list[tuple[int, Any]]
    engine: EngineSpec
    sample_size: int = 20
    explanations: bool = False
    subject_lists: bool = True
    period: tuple[datetime.date, datetime.date] | None = None
    """Evaluate only records assessed in this period (inclusive); the others are counted as outside it."""
    stratify: tuple[str, ...] = ()
    """Stratifier keys (``measures.yaml`` ``stratifiers``) to count populations by."""
    as_of: datetime.date | None = None
    """FHIR cohorts: the assessment date (default today); ages and staleness are measured from it."""


@dataclass
class ChunkResult:
    """What a worker sends back for one chunk (plain data; cheap to pickle)."""

    index: int
    n_input: int
    ruleset_hash: str = ""
    evaluated: int = 0
    patients_csv: str = ""
    rejected: list[tuple[int, str]] = field(default_factory=list)
    codes: list[dict[str, int]] = field(default_factory=list)
    """Per measure (in ``MeasureSet`` order): code -> patients."""
    counts: Counter[str] = field(default_factory=Counter)
    """Other tallies, keyed ``<what>:<value>`` (status, screen, urgency, pmp, setting, missing)."""
    samples: dict[str, list[tuple[int, str, str]]] = field(default_factory=dict)
    """``<measure key>|<code>`` -> first patients as (line, patient id, explanation)."""
    subjects: dict[str, str] = field(default_factory=dict)
    """``<measure key>|<code>`` -> comma-joined FHIR List entries (JSON) of this chunk."""
    explanations: str = ""
    outside_period: int = 0
    """Records whose assessment date is outside ``Chunk.period`` (not evaluated)."""
    undated: int = 0
    """Of those, records with no assessment date, which cannot be placed in the period."""
    first_date: str | None = None
    last_date: str | None = None
    """The earliest and latest assessment dates of the evaluated records (ISO)."""
    strata: dict[str, list[dict[str, int]]] = field(default_factory=dict)
    """``<stratifier>|<value>`` -> per measure (``MeasureSet`` order): code -> patients."""


_MEASURES: dict[EngineSpec, MeasureSet] = {}


def engine_for(spec: EngineSpec) -> tuple[Engine, MeasureSet]:
    """This process's engine for ``spec`` and the measures of its ruleset, built on first use and kept."""
    engine = process_engine(spec)
    measures = _MEASURES.get(spec)
    if measures is None:
        measures = _MEASURES[spec] = build_measures(engine.ruleset)
    return engine, measures


def use_engine(spec: EngineSpec, engine: Engine) -> None:
    """Let this process audit with an engine it already has (the HTTP service's), built from ``spec``."""
    use_process_engine(spec, engine)
    _MEASURES[spec] = build_measures(engine.ruleset)


def subject_entry(patient_id: str | None, line: int) -> str:
    """A FHIR ``List.entry`` naming the patient by the cohort's identifier (or the record's line)."""
    if patient_id:
        return (
            '{"item":{"identifier":{"system":"urn:painpath:cohort:patient-id","value":' + json.dumps(patient_id) + "}}}"
        )
    return '{"item":{"identifier":{"system":"urn:painpath:cohort:line","value":"' + str(line) + '"}}}'


def reject_reason(exc: FactsValidationError) -> str:
    """The field path and why, for every problem of the record."""
    return "; ".join(p.render() for p in exc.problems) or exc.summary


def evaluate_chunk(chunk: Chunk) -> ChunkResult:
    """Parse, evaluate and reduce every record of ``chunk``; a bad record is rejected, never fatal."""
    engine, measures = engine_for(chunk.engine)
    to_facts = FORMATS[chunk.format].to_facts
    result = ChunkResult(chunk.index, len(chunk.records), engine.ruleset.content_hash)
    out = io.StringIO()
    rows = csv.writer(out, lineterminator="\n")
    explanations: list[str] = []
    per_measure: list[Counter[str]] = [Counter() for _ in measures.measures]
    subjects: dict[str, list[str]] = {}
    samples = result.samples
    counts = result.counts
    k = chunk.sample_size
    for line, raw in chunk.records:
        try:
            facts, issues, envelope = to_facts(raw, chunk.as_of)
        except FactsValidationError as exc:
            result.rejected.append((line, reject_reason(exc)))
            continue
        except (UnicodeDecodeError, ValueError) as exc:
            result.rejected.append((line, f"(root): unreadable record: {exc}"))
            continue
        date = facts.assessment_date
        if chunk.period is not None and (date is None or not chunk.period[0] <= date <= chunk.period[1]):
            result.outside_period += 1
            result.undated += date is None
            continue
        if date is not None:
            iso = date.isoformat()
            result.first_date = min(result.first_date or iso, iso)
            result.last_date = max(result.last_date or iso, iso)
        decision = engine.evaluate(facts)
        result.evaluated += 1
        for code in issues:
            counts[f"input_issue:{code}"] += 1
        if issues:
            counts["input_issue_patients"] += 1
        pid = facts.patient_id or ""
        patient = (line, pid)
        if pid.startswith(ID_PREFIX):
            counts["synthetic"] += 1
        classified = classify(decision, measures)
        counts[f"status:{decision.status}"] += 1
        rf = decision.red_flags
        urgency = ""
        findings = ""
        if rf is not None:
            counts[f"screen:{rf.status}"] += 1
            urgency = rf.findings[0].urgency if rf.findings else ("none" if rf.status == "absent" else "")
            findings = ";".join(f.rule.id for f in rf.findings)
            counts[f"urgency:{urgency or 'undetermined'}"] += 1
        else:
            counts["screen:manual_review"] += 1
        pmp = decision.pmp
        if pmp is not None:
            counts[f"pmp:{pmp.status}"] += 1
            if pmp.setting:
                counts[f"setting:{pmp.setting}"] += 1
        missing = [m.path for m in decision.missing_information] if decision.status == "ok" else []
        for path in missing:
            counts[f"missing:{path}"] += 1
        if rf is not None:
            _sample(samples, f"urgency|{urgency or 'undetermined'}", k, patient, _urgency_why, decision)
        if pmp is not None:
            _sample(samples, f"pmp|{pmp.status}", k, patient, _pmp_why, pmp)
            if pmp.setting:
                _sample(samples, f"setting|{pmp.setting}", k, patient, _reasons, pmp.setting_reasons)
        for path in missing:
            bucket = samples.get(f"missing|{path}")
            if bucket is None or len(bucket) < k:
                _sample(samples, f"missing|{path}", k, patient, _missing_why, decision, path)
        row: list[Any] = [
            line,
            pid,
            decision.status,
            rf.status if rf else "",
            urgency,
            findings,
            ";".join(r.rule.id for r in decision.safety_alerts),
            pmp.status if pmp else "",
            pmp.setting or "" if pmp else "",
            ";".join(missing[:MISSING_IN_ROW]),
        ]
        entry = subject_entry(facts.patient_id, line) if chunk.subject_lists else ""
        if chunk.subject_lists:
            subjects.setdefault("all|", []).append(entry)
        strata = [
            result.strata.setdefault(f"{key}|{_stratum(measures, key, decision, envelope)}", [{} for _ in per_measure])
            for key in chunk.stratify
        ]
        by_rule = _missing_by_rule(decision)
        for i, (m, code) in enumerate(zip(measures.measures, classified.codes, strict=True)):
            per_measure[i][code] += 1
            for stratum in strata:
                stratum[i][code] = stratum[i].get(code, 0) + 1
            if code == "U":
                for path in {p for r in classified.rules[i] or (m.rule_id or "",) for p in by_rule.get(r, ())}:
                    counts[f"dq:{m.key}|{path}"] += 1
            row.append(POPULATIONS[code])
            row.append(";".join(classified.rules[i]))
            key = f"{m.key}|{code}"
            if chunk.subject_lists and code in SUBJECT_CODES[m.kind]:
                subjects.setdefault(key, []).append(entry)
            if code != "N" or m.kind == "adherence":
                bucket = samples.get(key)
                if bucket is None or len(bucket) < k:
                    _sample(samples, key, k, patient, explain, decision, m, code, measures)
        rows.writerow(row)
        if chunk.explanations:
            explanations.append(
                json.dumps({"line": line, "patient_id": pid, "explanation": decision_to_text(decision)}) + "\n"
            )
    result.patients_csv = out.getvalue()
    result.codes = [dict(c) for c in per_measure]
    result.subjects = {key: ",".join(entries) for key, entries in subjects.items()}
    result.explanations = "".join(explanations)
    return result


def _stratum(measures: MeasureSet, key: str, decision: Decision, envelope: dict[str, str]) -> str:
    value = measures.stratifiers[key].value(decision.facts, envelope)
    return measures.not_recorded if value is None else value


def _missing_by_rule(decision: Decision) -> dict[str, list[str]]:
    """Rule id -> the missing facts that would settle it (the decision's missing information)."""
    out: dict[str, list[str]] = {}
    for m in decision.missing_information:
        for rule in m.needed_by:
            out.setdefault(rule, []).append(m.path)
    return out


def _reasons(reasons: tuple[Reason, ...]) -> str:
    return "; ".join(f"{r.text.strip()}  ({r.rule.id} v{r.rule.version})" for r in reasons)


def _sample(
    samples: dict[str, list[tuple[int, str, str]]],
    key: str,
    k: int,
    patient: tuple[int, str],
    why: Callable[..., str],
    *args: Any,
) -> None:
    """Keep this patient under ``key`` if fewer than ``k`` are kept; ``why(*args)`` is only called then."""
    bucket = samples.get(key)
    if bucket is None:
        bucket = samples[key] = []
    if len(bucket) < k:
        bucket.append((*patient, why(*args)))


def _pmp_why(pmp: PmpSection) -> str:
    return _reasons(pmp.reasons) or f"waiting on {', '.join(pmp.blocked_by) or 'no rule'}"


def _urgency_why(decision: Decision) -> str:
    rf = decision.red_flags
    if rf is None:
        return ""
    return (
        "; ".join(
            f"[{f.urgency.upper()}] {f.condition.replace('_', ' ')}: {f.action.strip()}  "
            f"({f.rule.id} v{f.rule.version})"
            for f in rf.findings
        )
        or f"screen {rf.status}; not yet answered: {', '.join(decision.red_flag_missing)}"
    )


def _missing_why(decision: Decision, path: str) -> str:
    needed = next((m.needed_by for m in decision.missing_information if m.path == path), ())
    return "needed by " + (", ".join(needed) or "the red-flag screen")


def patient_header(measures: MeasureSet) -> list[str]:
    """The header of ``patients.csv``: the fixed columns, then population and rules per measure."""
    header = list(PATIENT_COLUMNS)
    for m in measures.measures:
        header.extend((m.key, f"{m.key}:rules"))
    return header
