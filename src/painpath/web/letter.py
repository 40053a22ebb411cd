"""The printable referral summary of a recorded decision (``/app/referral/{id}/letter``).

Read from the decision log only: the facts as sent (each shown as its question and answer label,
in consultation order) and the decision exactly as issued (its rule ids, versions and citations,
ruleset version and decision id). Nothing is re-evaluated, so the letter says what was advised then.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from painpath.errors import FactsValidationError
from painpath.facts import flatten, parse_facts
from painpath.facts.questions import Question, load_questions
from painpath.store.decisions import DecisionRecord


@dataclass(frozen=True)
class AnswerLine:
    question: str
    answer: str
    source: str = ""
    """``"none of these" answer`` when set by a group answer, else empty."""


@dataclass(frozen=True)
class AnswerTopic:
    title: str
    lines: tuple[AnswerLine, ...]


def _format(q: Question, value: Any) -> str:
    if isinstance(value, tuple | list):
        return ", ".join(q.label(v) or str(v).replace("_", " ") for v in value) or "none"
    label = q.label(value)
    if label is not None:
        return label
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    unit = f" {q.unit}" if q.unit and not q.unit[0].isdigit() else ""
    return f"{value}{unit}"


def answers(flat: dict[str, Any], provenance: dict[str, str]) -> tuple[AnswerTopic, ...]:
    """The recorded facts as question and answer, grouped under the catalogue's topics."""
    catalogue = load_questions()
    groups = {g.id: g.label for g in catalogue.groups}
    out: list[AnswerTopic] = []
    for topic, questions in catalogue.by_topic().items():
        lines = []
        for q in questions:
            if q.path not in flat:
                continue
            source = provenance.get(q.path, "")
            if source.startswith("group:"):
                source = f'"{groups.get(source[6:], source[6:])}"'
            lines.append(AnswerLine(q.text, _format(q, flat[q.path]), source))
        if lines:
            out.append(AnswerTopic(topic.title, tuple(lines)))
    return tuple(out)


def letter_context(record: DecisionRecord) -> dict[str, Any]:
    doc = orjson.loads(record.output_json)
    try:
        flat = flatten(parse_facts(orjson.loads(record.input_facts)))
    except (FactsValidationError, orjson.JSONDecodeError):
        flat = {}
    return {
        "doc": doc,
        "record": record,
        "answers": answers(flat, doc.get("provenance") or {}),
        "answered": len(flat),
    }
