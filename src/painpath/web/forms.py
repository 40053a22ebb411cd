"""The GP referral form, built from the question catalogue (``painpath.facts.questions``).

Topics come in consultation order (``questions.yaml``: the referral being considered, the patient,
one topic per red-flag condition, the pain, one topic per instrument, mental health, function, care
so far, readiness); each question brings its wording, help and answer labels, and each topic its
"none of these" group answers (posted as ``answered_groups``). The widget and its limits come from
the fact catalogue. Instruments whose facts model accepts items (``painpath.facts.instruments``)
can also be scored item by item: the items are sent and the facts model computes the total.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from painpath.facts import CATALOGUE, unflatten
from painpath.facts.instruments import Gad7, Odi, Phq9, ScoredInstrument, StartBack
from painpath.facts.questions import GroupAnswer, load_questions

Widget = Literal["yes_no", "number", "choice", "multi", "item"]
TopicKind = Literal["referral", "patient", "red_flags", "pain", "instrument", "other"]

KIND_TITLES: Mapping[TopicKind, str] = {
    "red_flags": "Red flags: serious pathology to rule out",
    "instrument": "Questionnaires and scores",
}
"""Headings over runs of topics of one kind (the red-flag conditions, the instruments)."""
OPEN_KINDS = frozenset({"referral", "patient", "red_flags", "pain"})
"""Topics shown open when the page loads; the others are collapsed (keyboard: Enter or Space)."""


NONE_OF_THESE = "__none__"
"""The value of a list question's "None of these" box: the list is recorded as empty (not unknown)."""


def field_id(path: str) -> str:
    """The HTML id of the control that records ``path`` (the advice panel links to ``#field-<path>``)."""
    return "field-" + path


@dataclass(frozen=True)
class Answer:
    value: str
    text: str


@dataclass(frozen=True)
class Question:
    """One control of the form: the fact (or instrument item) it records, its wording and answers."""

    path: str
    text: str
    answers: tuple[Answer, ...]
    topic: str
    widget: Widget
    minimum: float | None = None
    maximum: float | None = None
    integer: bool = False
    help: str = ""
    unit: str | None = None

    @property
    def field_id(self) -> str:
        return field_id(self.path)


@dataclass(frozen=True)
class ItemSet:
    """Item-level entry for one instrument: ``<prefix>.items.<n>`` fields, scored by the facts model."""

    prefix: str
    """The instrument's fact prefix, e.g. ``instruments.phq9``."""
    model: type[ScoredInstrument]
    labels: tuple[str, ...]
    scale: str

    @property
    def questions(self) -> tuple[Question, ...]:
        m = self.model
        answers = tuple(Answer(str(v), str(v)) for v in range(m.ITEM_MIN, m.ITEM_MAX + 1))
        return tuple(
            Question(
                f"{self.prefix}.items.{n}",
                f"{n}. {label}",
                answers,
                self.prefix.split(".")[-1],
                "item",
                m.ITEM_MIN,
                m.ITEM_MAX,
                integer=True,
            )
            for n, label in enumerate(self.labels, start=1)
        )

    @property
    def allows_gaps(self) -> bool:
        return self.model.ALLOW_UNANSWERED


# Items are described by their meaning, not quoted (several instruments are copyrighted or licensed).
ITEM_SETS: tuple[ItemSet, ...] = (
    ItemSet(
        "instruments.start_back",
        StartBack,
        (
            "Back pain has spread down the leg(s)",
            "Pain in the shoulder or neck as well",
            "Walks only short distances because of back pain",
            "Dresses more slowly than usual because of back pain",
            "Feels it is not safe to be physically active",
            "Worrying thoughts a lot of the time",
            "Feels the back pain is terrible and will never get better",
            "Has not enjoyed things as usual",
            "Overall bothered by the back pain 'very much' or 'extremely'",
        ),
        "0 = disagree (item 9: not at all to moderately), 1 = agree (item 9: very much or extremely)",
    ),
    ItemSet(
        "instruments.odi",
        Odi,
        (
            "Pain intensity",
            "Personal care",
            "Lifting",
            "Walking",
            "Sitting",
            "Standing",
            "Sleeping",
            "Sex life",
            "Social life",
            "Travelling",
        ),
        "each section 0 (no difficulty) to 5 (worst); sections left out are allowed",
    ),
    ItemSet(
        "instruments.phq9",
        Phq9,
        (
            "Little interest or pleasure in doing things",
            "Feeling down, depressed or hopeless",
            "Trouble falling or staying asleep, or sleeping too much",
            "Feeling tired or having little energy",
            "Poor appetite or overeating",
            "Feeling bad about themselves, or a failure",
            "Trouble concentrating",
            "Moving or speaking slowly, or being fidgety or restless",
            "Thoughts of being better off dead or of self-harm",
        ),
        "over the last two weeks: 0 not at all, 1 several days, 2 more than half the days, 3 nearly every day",
    ),
    ItemSet(
        "instruments.gad7",
        Gad7,
        (
            "Feeling nervous, anxious or on edge",
            "Not being able to stop or control worrying",
            "Worrying too much about different things",
            "Trouble relaxing",
            "So restless that it is hard to sit still",
            "Becoming easily annoyed or irritable",
            "Feeling afraid as if something awful might happen",
        ),
        "over the last two weeks: 0 not at all, 1 several days, 2 more than half the days, 3 nearly every day",
    ),
)
ITEMS_BY_TOPIC: Mapping[str, ItemSet] = {s.prefix.split(".")[-1]: s for s in ITEM_SETS}


@dataclass(frozen=True)
class Topic:
    key: str
    title: str
    questions: tuple[Question, ...]
    open: bool
    kind: TopicKind = "other"
    groups: tuple[GroupAnswer, ...] = ()
    items: tuple[Question, ...] = ()
    item_scale: str = ""
    heading: str | None = None
    """The heading of the run of topics this one starts (``KIND_TITLES``), if any."""

    @property
    def level(self) -> int:
        """The topic's heading level: 3 under a run's heading, else 2."""
        return 3 if self.kind in KIND_TITLES else 2


def _question(path: str) -> Question:
    spec = CATALOGUE[path]
    q = load_questions().question(path)
    labels = dict(q.answers)
    if spec.kind == "boolean":
        yes_no: tuple[Answer, ...] = (
            Answer("true", labels.get("true", "Yes")),
            Answer("false", labels.get("false", "No")),
        )
        return Question(path, q.text, yes_no, q.topic, "yes_no", help=q.help)
    if spec.kind in ("integer", "number"):
        low, high = spec.minimum, spec.maximum
        return Question(
            path, q.text, (), q.topic, "number", low, high, integer=spec.kind == "integer", help=q.help, unit=q.unit
        )
    answers = tuple(Answer(v, labels.get(v, v.replace("_", " "))) for v, _label in q.answers)
    return Question(path, q.text, answers, q.topic, "multi" if spec.kind == "set" else "choice", help=q.help)


def catalogue_questions() -> tuple[Question, ...]:
    """One question per catalogue fact, in the question catalogue's order (derived facts are never asked)."""
    return tuple(_question(q.path) for q in load_questions().questions if q.path in CATALOGUE)


def item_questions() -> tuple[Question, ...]:
    return tuple(q for s in ITEM_SETS for q in s.questions)


def _kind(topic: str, questions: Sequence[Question]) -> TopicKind:
    if topic in ("referral", "patient", "pain"):
        return topic  # type: ignore[return-value]
    prefixes = {q.path.split(".", 1)[0] for q in questions}
    if prefixes == {"red_flags"}:
        return "red_flags"
    if prefixes == {"instruments"}:
        return "instrument"
    return "other"


def build_topics(questions: Iterable[Question]) -> tuple[Topic, ...]:
    """Questions grouped under the catalogue's topics, in consultation order, with their groups and items."""
    catalogue = load_questions()
    grouped: dict[str, list[Question]] = {}
    for q in questions:
        if q.widget != "item":
            grouped.setdefault(q.topic, []).append(q)
    out: list[Topic] = []
    previous: TopicKind | None = None
    for t in catalogue.topics:
        members = tuple(grouped.get(t.id, ()))
        if not members:
            continue
        kind = _kind(t.id, members)
        items = ITEMS_BY_TOPIC.get(t.id)
        out.append(
            Topic(
                t.id,
                t.title,
                members,
                kind in OPEN_KINDS,
                kind,
                catalogue.groups_for(t.id),
                items.questions if items else (),
                items.scale if items else "",
                KIND_TITLES.get(kind) if kind != previous else None,
            )
        )
        previous = kind
    return tuple(out)


@dataclass(frozen=True)
class FormFacts:
    """What a submitted form says: the facts document, and the raw values to show the form again."""

    facts: dict[str, Any]
    values: Mapping[str, Sequence[str]]
    errors: Mapping[str, str]
    """Field path -> what is wrong with the value typed (before the facts model checks it)."""
    items_answered: Mapping[str, tuple[int, int]]
    """Instrument topic -> (items answered, items) for instruments scored item by item."""


def _items(form: Mapping[str, Sequence[str]], flat: dict[str, Any], answered: dict[str, tuple[int, int]]) -> None:
    for s in ITEM_SETS:
        n = s.model.N_ITEMS
        values: list[int | None] = []
        for i in range(1, n + 1):
            raw = [v.strip() for v in form.get(f"{s.prefix}.items.{i}", ()) if v.strip()]
            values.append(int(raw[0]) if raw and raw[0].isdigit() else None)
        count = sum(v is not None for v in values)
        if not count:
            continue
        answered[s.prefix.split(".")[-1]] = (count, n)
        # A partly answered questionnaire is not scored (unless the instrument allows gaps): the
        # items wait until all are given, and the total typed (if any) is used meanwhile.
        if count == n or s.allows_gaps:
            flat[f"{s.prefix}.items"] = values


def facts_from_form(questions: Sequence[Question], form: Mapping[str, Sequence[str]]) -> FormFacts:
    """Turn form values into a facts document. Empty answers are left out: not known, never "no"."""
    flat: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for q in questions:
        if q.widget == "item":
            continue
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
            chosen = [v for v in raw if v in allowed]
            if chosen or NONE_OF_THESE in raw:
                flat[q.path] = chosen
    answered: dict[str, tuple[int, int]] = {}
    _items(form, flat, answered)
    patient = [v.strip() for v in form.get("patient_id", ()) if v.strip()]
    facts = unflatten(flat)
    known = {g.id for g in load_questions().groups}
    groups = [g for g in dict.fromkeys(v.strip() for v in form.get("answered_groups", ())) if g in known]
    if groups:
        facts["answered_groups"] = groups
    if patient:
        facts["patient_id"] = patient[0][:128]
    return FormFacts(facts=facts, values=form, errors=errors, items_answered=answered)
