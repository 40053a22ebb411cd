"""Cohort input formats: how a file is split into records, and how a record becomes facts.

A format is two small functions. ``records`` runs in the reading process and yields
``(line number, raw record)`` without parsing more than it must (a JSON line stays bytes);
``to_facts`` runs in the worker and turns one raw record into ``PatientFacts`` or raises
``FactsValidationError`` naming the field and why, with the codes of anything the input reported
instead of using (FHIR mapping issues; none for facts given directly). Adding a format is one entry
in ``FORMATS``.

FHIR NDJSON: one FHIR R4 ``Bundle`` per line, mapped by ``painpath.fhir.facts_from_bundle``;
its mapping issues (unknown codes, conflicting or stale observations, ...) are counted by code in
the audit summary (``input_issues``), never silently dropped.

Envelope: a JSON Lines record may carry ``site`` and ``clinician`` beside its facts (a CSV the
columns of the same names). They say where the record comes from, stratify the audit, and are never
facts a rule reads. FHIR Bundles carry none today.

CSV: one row per patient. The header names facts by their flat catalogue path
(``painpath.facts.catalogue``, e.g. ``red_flags.saddle_anaesthesia``), plus ``patient_id``,
``assessment_date``, ``site`` and ``clinician``. Empty cells are "not recorded". Yes/no facts
take ``true``/``false`` (also ``yes``/``no``, ``1``/``0``); sets are ``;``-separated values,
``[]`` for a recorded empty set (an empty cell is "not recorded"); numbers are plain decimals. An
unknown column stops the audit before any row is read (it would otherwise be silently ignored in
every row).
"""

from __future__ import annotations

import csv
import datetime
import io
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

import orjson

from painpath.errors import FactsValidationError, Problem, suggest
from painpath.facts import CATALOGUE, PatientFacts, parse_facts, parse_facts_json, unflatten
from painpath.fhir import facts_from_bundle

ENVELOPE_KEYS = ("site", "clinician")
"""Keys beside the facts that say where a record comes from (used only to stratify the audit, never by a rule)."""
ENVELOPE_MAX = 128
"""The longest envelope value (a site or clinician code, never free text)."""
CSV_EXTRA_COLUMNS = ("patient_id", "assessment_date", *ENVELOPE_KEYS)
EMPTY_SET = "[]"
_TRUE = frozenset({"true", "yes", "y", "1"})
_FALSE = frozenset({"false", "no", "n", "0"})
_INVALID = "\x00invalid"
"""Key of a row the CSV reader could not split (never a column name: the header is checked)."""


Envelope = dict[str, str]
Parsed = tuple[PatientFacts, tuple[str, ...], Envelope]
"""One record's facts, the codes of the issues its mapping reported, and its envelope (site, clinician)."""


@dataclass(frozen=True)
class InputFormat:
    """A cohort format: ``records`` splits the file (reader side), ``to_facts`` parses one record (worker side)."""

    name: str
    records: Callable[[IO[bytes]], Iterator[tuple[int, Any]]]
    to_facts: Callable[[Any, datetime.date | None], Parsed]
    """One record -> facts; the date is ``--as-of`` (FHIR: ages and staleness are measured from it)."""


def json_lines(stream: IO[bytes]) -> Iterator[tuple[int, bytes]]:
    """Non-blank lines with their 1-based line numbers (blank lines are not records)."""
    for number, line in enumerate(stream, start=1):
        stripped = line.strip()
        if stripped:
            yield number, stripped


def _csv_columns(header: list[str]) -> None:
    problems = []
    for name in header:
        if name not in CATALOGUE and name not in CSV_EXTRA_COLUMNS:
            problems.append(
                Problem(f"column {name!r}", "unknown fact path", suggest(name, [*CATALOGUE, *CSV_EXTRA_COLUMNS]))
            )
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        problems.append(Problem("header", f"duplicate columns: {', '.join(dupes)}"))
    if problems:
        raise FactsValidationError("the CSV header names columns that are not facts", problems)


def csv_rows(stream: IO[bytes]) -> Iterator[tuple[int, dict[str, str]]]:
    """Rows as ``{column: cell}`` with the line each row starts on (the header is line 1)."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    reader = csv.reader(text)
    header = next(reader, None)
    if header is None:
        return
    header = [h.strip() for h in header]
    _csv_columns(header)
    start = reader.line_num + 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a NUL byte: this row is rejected, the next one is read
            yield start, {_INVALID: f"unreadable CSV row: {exc}"}
            start = reader.line_num + 1
            continue
        if any(cell.strip() for cell in row):
            if len(row) == len(header):
                yield start, dict(zip(header, row, strict=True))
            else:
                yield start, {_INVALID: f"{len(row)} cells, but the header has {len(header)} columns"}
        start = reader.line_num + 1


def _cell(path: str, cell: str) -> Any:
    spec = CATALOGUE[path]
    value = cell.strip()
    if spec.kind == "boolean":
        low = value.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError("expected true or false")
    if spec.kind == "integer":
        try:
            return int(value)
        except ValueError:
            raise ValueError("expected a whole number") from None
    if spec.kind == "number":
        try:
            return float(value)
        except ValueError:
            raise ValueError("expected a number") from None
    if spec.kind == "set":
        return [] if value == EMPTY_SET else [v.strip() for v in value.split(";") if v.strip()]
    return value


def csv_to_facts(row: Mapping[str, str]) -> PatientFacts:
    """One CSV row as facts (cells converted by the fact's kind, then validated like any facts)."""
    return _csv_record(row)[0]


def _csv_record(row: Mapping[str, str]) -> tuple[PatientFacts, Envelope]:
    if _INVALID in row:
        raise FactsValidationError("invalid CSV row", [Problem("(row)", row[_INVALID])])
    flat: dict[str, Any] = {}
    extra: dict[str, str] = {}
    problems: list[Problem] = []
    for column, cell in row.items():
        if not cell.strip():
            continue
        if column in CSV_EXTRA_COLUMNS:
            extra[column] = cell.strip()
            continue
        try:
            flat[column] = _cell(column, cell)
        except ValueError as exc:
            problems.append(Problem(column, str(exc)))
    if problems:
        raise FactsValidationError("invalid patient facts", problems)
    envelope = {k: extra.pop(k) for k in ENVELOPE_KEYS if k in extra}
    return parse_facts({**extra, **unflatten(flat)}), envelope


def _envelope_value(key: str, value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= ENVELOPE_MAX:
        problem = Problem(key, f"expected text of 1 to {ENVELOPE_MAX} characters")
        raise FactsValidationError("invalid record envelope", [problem])
    return value


def _facts_json(raw: bytes, as_of: datetime.date | None = None) -> Parsed:
    """A facts document, optionally with envelope keys (``site``, ``clinician``) beside the facts."""
    if b'"site"' not in raw and b'"clinician"' not in raw:  # the common case: parse the bytes directly
        return parse_facts_json(raw), (), {}
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return parse_facts_json(raw), (), {}  # the same error as a record without an envelope
    if not isinstance(doc, dict):
        return parse_facts_json(raw), (), {}
    envelope = {k: _envelope_value(k, doc.pop(k)) for k in ENVELOPE_KEYS if k in doc}
    return parse_facts(doc), (), envelope


def _facts_csv(row: Mapping[str, str], as_of: datetime.date | None = None) -> Parsed:
    facts, envelope = _csv_record(row)
    return facts, (), envelope


def fhir_bundle_to_facts(raw: bytes, as_of: datetime.date | None = None) -> Parsed:
    """One NDJSON line holding a FHIR R4 Bundle: its facts as of ``as_of`` (default today), and the codes of
    its mapping issues."""
    try:
        bundle = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise FactsValidationError("invalid JSON", [Problem("(root)", f"invalid JSON: {exc}")]) from None
    mapped = facts_from_bundle(bundle, as_of=as_of)
    return mapped.facts, tuple(issue.code for issue in mapped.issues), {}


FORMATS: Mapping[str, InputFormat] = {
    "jsonl": InputFormat("jsonl", json_lines, _facts_json),
    "csv": InputFormat("csv", csv_rows, _facts_csv),
    "fhir-ndjson": InputFormat("fhir-ndjson", json_lines, fhir_bundle_to_facts),
}
"""Cohort formats by name (``painpath audit --format``)."""


def guess_format(name: str) -> str:
    """The format a file name suggests (``.csv`` is CSV; everything else JSON Lines)."""
    return "csv" if name.lower().endswith(".csv") else "jsonl"
