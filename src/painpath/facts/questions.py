"""The question catalogue (``questions.yaml``): how to ask for every fact, checked against the catalogue.

Python only checks and serves the data: the wording lives in the YAML. ``load_questions`` rejects a
file unless every catalogue fact has exactly one question, every topic and citation resolves, every
answer label belongs to a value the fact can take, and every "none of these" group sets only real
facts to valid values. All problems are reported together, as a ``RulesValidationError`` naming the
fact path (with a "did you mean" where cheap), like a broken rule.
"""

from __future__ import annotations

import functools
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError

from painpath.errors import Problem, RulesValidationError, suggest
from painpath.facts.catalogue import CATALOGUE, FactSpec
from painpath.paths import default_rules_dir

QUESTIONS_FILE = Path(__file__).with_name("questions.yaml")
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
BOOLEAN_ANSWERS = ("true", "false")
"""The answer keys of a yes/no fact, as quoted strings in the YAML."""


__all__ = [
    "BOOLEAN_ANSWERS",
    "QUESTIONS_FILE",
    "GroupAnswer",
    "Question",
    "QuestionCatalogue",
    "Topic",
    "default_guidelines_dir",
    "load_questions",
]


@dataclass(frozen=True)
class Topic:
    """A heading under which questions are shown, in consultation order."""

    id: str
    title: str


@dataclass(frozen=True)
class Question:
    """How to ask for one fact: the question, help, answer labels (value, label) in order, unit, cites."""

    path: str
    topic: str
    text: str
    help: str
    answers: tuple[tuple[str, str], ...]
    unit: str | None
    cites: tuple[str, ...]

    def label(self, value: object) -> str | None:
        """The label shown for a recorded value (``True`` -> the "true" label), or ``None`` if it has none."""
        key = ("true" if value else "false") if isinstance(value, bool) else value
        return dict(self.answers).get(key) if isinstance(key, str) else None


@dataclass(frozen=True)
class GroupAnswer:
    """One answer that sets several facts at once (e.g. "none of these cauda equina symptoms")."""

    id: str
    topic: str
    label: str
    sets: tuple[tuple[str, Any], ...]


@dataclass(frozen=True)
class QuestionCatalogue:
    """The validated question catalogue."""

    version: int
    topics: tuple[Topic, ...]
    questions: tuple[Question, ...]
    groups: tuple[GroupAnswer, ...]
    _index: Mapping[str, Question] = field(default_factory=dict, repr=False, compare=False)

    @functools.cached_property
    def topic_rank(self) -> Mapping[str, int]:
        """Fact path -> the position of its topic in consultation order."""
        order = {t.id: i for i, t in enumerate(self.topics)}
        return {q.path: order.get(q.topic, len(order)) for q in self.questions}

    def question(self, path: str) -> Question:
        """The question for a fact path; ``KeyError`` naming the path (with a suggestion) if there is none."""
        try:
            return self._index[path]
        except KeyError:
            near = suggest(path, self._index)
            raise KeyError(f"no question for '{path}'" + (f" (did you mean '{near}'?)" if near else "")) from None

    def get(self, path: str) -> Question | None:
        """The question for a fact path, or ``None`` (no suggestion is computed: cheap on hot paths)."""
        return self._index.get(path)

    def by_topic(self) -> dict[Topic, tuple[Question, ...]]:
        """Questions grouped under their topics, both in display order (topics without questions omitted)."""
        out: dict[Topic, tuple[Question, ...]] = {}
        for topic in self.topics:
            members = tuple(q for q in self.questions if q.topic == topic.id)
            if members:
                out[topic] = members
        return out

    def groups_for(self, topic: str) -> tuple[GroupAnswer, ...]:
        """The group answers offered under one topic."""
        return tuple(g for g in self.groups if g.topic == topic)


# --- the file's shape ---------------------------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _TopicIn(_In):
    id: StrictStr = Field(pattern=r"^[a-z][a-z0-9_]*$")
    title: StrictStr = Field(min_length=1)


class _QuestionIn(_In):
    topic: StrictStr
    text: StrictStr = Field(min_length=1)
    help: StrictStr = Field(min_length=1)
    answers: dict[Any, StrictStr] | None = None
    unit: StrictStr | None = None
    cites: list[StrictStr] = Field(default_factory=list)


class _GroupIn(_In):
    id: StrictStr = Field(pattern=r"^[a-z][a-z0-9_]*$")
    topic: StrictStr
    label: StrictStr = Field(min_length=1)
    sets: dict[StrictStr, Any] = Field(min_length=1)


class _FileIn(_In):
    version: Literal[1]
    topics: list[_TopicIn] = Field(min_length=1)
    questions: dict[StrictStr, _QuestionIn]
    groups: list[_GroupIn] = Field(default_factory=list)


# --- checks -------------------------------------------------------------------------------------


def default_guidelines_dir() -> Path:
    """The guideline entries beside the rules directory (``painpath.paths.default_rules_dir``)."""
    return default_rules_dir().parent / "guidelines"


def _guideline_ids(guidelines_dir: Path) -> frozenset[str]:
    return frozenset(p.stem for p in guidelines_dir.glob("*.yaml")) if guidelines_dir.is_dir() else frozenset()


def _expected_answers(spec: FactSpec) -> tuple[str, ...] | None:
    if spec.kind == "boolean":
        return BOOLEAN_ANSWERS
    if spec.kind in ("enum", "set"):
        return spec.values
    return None


class _Checker:
    def __init__(self, file: str, catalogue: Mapping[str, FactSpec], guideline_ids: frozenset[str]) -> None:
        self.file = file
        self.catalogue = catalogue
        self.guideline_ids = guideline_ids
        self.problems: list[Problem] = []

    def add(self, location: str, message: str, suggestion: str | None = None) -> None:
        self.problems.append(Problem(location, message, suggestion, self.file))

    def answers(self, path: str, spec: FactSpec, answers: dict[Any, str] | None, unit: str | None) -> None:
        expected = _expected_answers(spec)
        if expected is None:
            if answers is not None:
                self.add(f"{path}.answers", f"a {spec.kind} fact takes a number: give `unit:`, not `answers:`")
            if not unit:
                self.add(f"{path}.unit", f"a {spec.kind} fact needs a unit (e.g. 'days', '0-10')")
            return
        if answers is None:
            self.add(f"{path}.answers", f"missing: give a label for each of {', '.join(expected)}")
            return
        for key in answers:
            if not isinstance(key, str):
                self.add(f"{path}.answers", f'answer key {key!r} must be a quoted string (e.g. "true")')
            elif key not in expected:
                self.add(
                    f"{path}.answers.{key}", f"'{key}' is not a value of this {spec.kind} fact", suggest(key, expected)
                )
        missing = [v for v in expected if v not in answers]
        if missing:
            self.add(f"{path}.answers", f"no label for {', '.join(missing)}")
        if unit is not None:
            self.add(f"{path}.unit", f"only numbers take a unit; a {spec.kind} fact has `unit: null`")

    def cites(self, location: str, cites: Iterable[str]) -> None:
        for i, gid in enumerate(cites):
            if gid not in self.guideline_ids:
                self.add(
                    f"{location}[{i}]",
                    f"citation '{gid}' has no entry in guidelines/",
                    suggest(gid, self.guideline_ids),
                )

    def value(self, location: str, spec: FactSpec, value: Any) -> None:
        kind = spec.kind
        if kind == "boolean":
            ok = isinstance(value, bool)
        elif kind == "enum":
            ok = isinstance(value, str) and value in spec.values
        elif kind == "set":
            ok = isinstance(value, list) and all(isinstance(v, str) and v in spec.values for v in value)
        else:
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            ok = numeric and (kind == "number" or isinstance(value, int))
            if ok and spec.minimum is not None and value < spec.minimum:
                ok = False
            if ok and spec.maximum is not None and value > spec.maximum:
                ok = False
        if not ok:
            self.add(location, f"{value!r} is not a valid value of this {kind} fact")


def _problems_from(exc: ValidationError, file: str) -> list[Problem]:
    return [
        Problem(".".join(str(p) for p in err["loc"]) or "(file)", err["msg"], None, file)
        for err in exc.errors(include_url=False)
    ]


def _build(raw: Any, file: str, catalogue: Mapping[str, FactSpec], guideline_ids: frozenset[str]) -> QuestionCatalogue:
    try:
        data = _FileIn.model_validate(raw)
    except ValidationError as exc:
        raise RulesValidationError("invalid question catalogue", _problems_from(exc, file)) from None
    check = _Checker(file, catalogue, guideline_ids)
    if not guideline_ids:
        check.add("(guidelines)", "no guideline entries found, so no citation can be checked")

    topic_ids: list[str] = []
    for i, t in enumerate(data.topics):
        if t.id in topic_ids:
            check.add(f"topics[{i}]", f"topic '{t.id}' is listed twice")
        topic_ids.append(t.id)

    for path in catalogue:
        if path not in data.questions:
            check.add(path, "this fact has no question")
    questions: list[Question] = []
    for path, q in data.questions.items():
        spec = catalogue.get(path)
        if spec is None:
            check.add(path, "not a fact of the catalogue", suggest(path, catalogue))
            continue
        if q.topic not in topic_ids:
            check.add(f"{path}.topic", f"unknown topic '{q.topic}'", suggest(q.topic, topic_ids))
        check.answers(path, spec, q.answers, q.unit)
        check.cites(f"{path}.cites", q.cites)
        answers = tuple((k, v) for k, v in (q.answers or {}).items() if isinstance(k, str))
        questions.append(Question(path, q.topic, q.text, q.help, answers, q.unit, tuple(q.cites)))

    groups: list[GroupAnswer] = []
    seen: set[str] = set()
    for i, g in enumerate(data.groups):
        where = f"groups[{i}]({g.id})"
        if g.id in seen:
            check.add(where, f"group '{g.id}' is listed twice")
        seen.add(g.id)
        if g.topic not in topic_ids:
            check.add(f"{where}.topic", f"unknown topic '{g.topic}'", suggest(g.topic, topic_ids))
        for path, value in g.sets.items():
            spec = catalogue.get(path)
            if spec is None:
                check.add(f"{where}.sets.{path}", "not a fact of the catalogue", suggest(path, catalogue))
            else:
                check.value(f"{where}.sets.{path}", spec, value)
        sets = tuple((p, tuple(v) if isinstance(v, list) else v) for p, v in g.sets.items())
        groups.append(GroupAnswer(g.id, g.topic, g.label, sets))

    if check.problems:
        raise RulesValidationError("invalid question catalogue", check.problems)
    topics = tuple(Topic(t.id, t.title) for t in data.topics)
    index = types.MappingProxyType({q.path: q for q in questions})
    return QuestionCatalogue(data.version, topics, tuple(questions), tuple(groups), index)


def _read(path: Path) -> Any:
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_SAFE_LOADER)  # noqa: S506 - a safe loader
    except (OSError, yaml.YAMLError) as exc:
        raise RulesValidationError(
            "invalid question catalogue", [Problem("(file)", f"cannot read YAML: {exc}", None, str(path))]
        ) from None


@functools.lru_cache(maxsize=1)
def _load_default() -> QuestionCatalogue:
    return _load(QUESTIONS_FILE, default_guidelines_dir(), CATALOGUE)


def _load(path: Path, guidelines_dir: Path, catalogue: Mapping[str, FactSpec]) -> QuestionCatalogue:
    return _build(_read(path), str(path), catalogue, _guideline_ids(guidelines_dir))


def load_questions(
    path: Path | str | None = None,
    guidelines_dir: Path | str | None = None,
    catalogue: Mapping[str, FactSpec] = CATALOGUE,
) -> QuestionCatalogue:
    """Load and validate a question catalogue; raises ``RulesValidationError`` listing every problem.

    With no arguments, the bundled ``questions.yaml`` is checked against ``CATALOGUE`` and the
    guideline entries beside the rules directory, once per process (cached).
    """
    if path is None and guidelines_dir is None and catalogue is CATALOGUE:
        return _load_default()
    return _load(
        Path(path) if path is not None else QUESTIONS_FILE,
        Path(guidelines_dir) if guidelines_dir is not None else default_guidelines_dir(),
        catalogue,
    )
