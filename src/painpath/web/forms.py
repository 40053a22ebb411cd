"""The GP referral form, built from questions: ``(path, text, answers, topic)``.

Today the questions come from the fact catalogue (``painpath.facts.CATALOGUE``: the fact's
description is its text, its vocabulary its answers, its first path segment its topic). A question
catalogue with plain-language wording can replace ``catalogue_questions`` without touching the
form, the templates or the parsing: anything that yields ``Question`` tuples will do.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from painpath.facts import CATALOGUE, FactSpec, unflatten

Widget = Literal["yes_no", "number", "choice", "multi"]

TOPIC_TITLES: Mapping[str, str] = {
    "demographics": "About the patient",
    "red_flags": "Red flags (serious pathology)",
    "pain": "The pain",
    "function": "Function and work",
    "mental_health": "Mood and mental health",
    "instruments": "Questionnaire scores",
    "care": "Care so far and the referral",
    "readiness": "Readiness for a pain programme",
}
"""Topic order and headings of the form (topics not named here follow, by name)."""
OPEN_TOPICS = frozenset({"demographics", "red_flags"})
"""Topics shown open when the page loads; the others are collapsed (keyboard: Enter or Space)."""


@dataclass(frozen=True)
class Answer:
    value: str
    text: str


@dataclass(frozen=True)
class Question:
    """One question of the form: the fact it records, its wording, its answers and its topic."""

    path: str
    text: str
    answers: tuple[Answer, ...]
    topic: str
    widget: Widget
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False

    @property
    def field_id(self) -> str:
        return "q-" + self.path.replace(".", "-").replace("_", "-")


@dataclass(frozen=True)
class Topic:
    key: str
    title: str
    questions: tuple[Question, ...]
    open: bool


YES_NO = (Answer("true", "Yes"), Answer("false", "No"), Answer("", "Not known"))


def _humanise(code: str) -> str:
    return code.replace("_", " ").capitalize()


def _question(spec: FactSpec) -> Question:
    topic = spec.path.split(".", 1)[0]
    name = spec.path.split(".")[-1]
    text = spec.description.rstrip(".") if spec.description else _humanise(name.replace(".", " "))
    label = f"{_humanise(name)}" if not spec.description else text
    if spec.kind == "boolean":
        return Question(spec.path, label, YES_NO, topic, "yes_no")
    if spec.kind in ("integer", "number"):
        return Question(
            spec.path, label, (), topic, "number", spec.minimum, spec.maximum, integer=spec.kind == "integer"
        )
    answers = tuple(Answer(v, _humanise(v)) for v in spec.values)
    return Question(spec.path, label, answers, topic, "multi" if spec.kind == "set" else "choice")


def catalogue_questions() -> tuple[Question, ...]:
    """One question per fact in the catalogue, in catalogue order."""
    return tuple(_question(spec) for spec in CATALOGUE.values())


def build_topics(questions: Iterable[Question]) -> tuple[Topic, ...]:
    """Questions grouped by topic, in ``TOPIC_TITLES`` order."""
    grouped: dict[str, list[Question]] = {}
    for q in questions:
        grouped.setdefault(q.topic, []).append(q)
    order = [t for t in TOPIC_TITLES if t in grouped] + sorted(t for t in grouped if t not in TOPIC_TITLES)
    return tuple(Topic(t, TOPIC_TITLES.get(t, _humanise(t)), tuple(grouped[t]), t in OPEN_TOPICS) for t in order)


@dataclass(frozen=True)
class FormFacts:
    """What a submitted form says: the facts document, and the raw values to show the form again."""

    facts: dict[str, Any]
    values: Mapping[str, Sequence[str]]
    errors: Mapping[str, str]
    """Field path -> what is wrong with the value typed (before the facts model checks it)."""


def facts_from_form(questions: Sequence[Question], form: Mapping[str, Sequence[str]]) -> FormFacts:
    """Turn form values into a facts document. Empty answers are left out: not known, never "no"."""
    flat: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for q in questions:
        raw = [v.strip() for v in form.get(q.path, ()) if v.strip()]
        if not raw:
            continue
        if q.widget == "yes_no":
            if raw[0] in ("true", "false"):
                flat[q.path] = raw[0] == "true"
        elif q.widget == "number":
            try:
                number = float(raw[0])
            except ValueError:
                errors[q.path] = "enter a number"
                continue
            if q.integer:
                if not number.is_integer():
                    errors[q.path] = "enter a whole number"
                    continue
                flat[q.path] = int(number)
            else:
                flat[q.path] = number
        elif q.widget == "choice":
            if raw[0] in {a.value for a in q.answers}:
                flat[q.path] = raw[0]
        else:
            allowed = {a.value for a in q.answers}
            flat[q.path] = [v for v in raw if v in allowed]
    patient = [v.strip() for v in form.get("patient_id", ()) if v.strip()]
    facts = unflatten(flat)
    if patient:
        facts["patient_id"] = patient[0][:128]
    return FormFacts(facts=facts, values=form, errors=errors)
