"""Interpreted instrument scores (``rules/scores.yaml``): published cut-off bands, checked and applied.

``load_scores`` validates the file completely against the fact catalogue and the guideline ids:
every score reads a numeric fact, band labels are unique, citations resolve, one-dimensional bands
cover the fact's catalogue range with no gap and no overlap, and ``when`` bands (rule-language
conditions, for two-dimensional scores such as STarT Back) put every combination the facts model
accepts in exactly one band. All problems are reported together (``RulesValidationError``).

``interpret`` reads the flat ``{path: value}`` facts (``painpath.facts.flatten``) and returns, per
score id, the band with the values it used and its citations. A score that is not recorded has no
band: unknown is never a band. This module evaluates its own simple comparisons and does not use
the rule engine.
"""

from __future__ import annotations

import itertools
import operator
from collections.abc import Callable, Collection, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeGuard

import yaml

from painpath.errors import FactsValidationError, Problem, RulesValidationError, suggest
from painpath.facts import parse_facts, unflatten
from painpath.facts.catalogue import FactSpec
from painpath.paths import default_rules_dir

__all__ = [
    "BandSpec",
    "Comparison",
    "Condition",
    "ScoreBand",
    "ScoreSpec",
    "default_scores_file",
    "interpret",
    "load_scores",
]

_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "lte": operator.le,
    "gt": operator.gt,
    "gte": operator.ge,
}
_NUMERIC = ("integer", "number")
MAX_COMBINATIONS = 10_000
"""``when`` bands are checked on every combination of their facts' integer values, up to this many."""


# --- the typed form ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Comparison:
    """``{fact: path, <op>: value}``: true, false, or unknown when the fact is not recorded."""

    fact: str
    op: str
    value: Any


@dataclass(frozen=True)
class Condition:
    """``all`` / ``any`` of parts, or ``not`` of one part."""

    kind: Literal["all", "any", "not"]
    parts: tuple[Condition | Comparison, ...]


Node = Condition | Comparison


@dataclass(frozen=True)
class BandSpec:
    """One band: a range (``low`` inclusive unless ``low_exclusive``; ``high`` inclusive) or a condition."""

    label: str
    text: str
    low: float | None = None
    low_exclusive: bool = False
    high: float | None = None
    when: Node | None = None

    def contains(self, value: float) -> bool:
        """Whether a recorded value falls in this range band."""
        if self.low is None or self.high is None:
            return False
        above = value > self.low if self.low_exclusive else value >= self.low
        return above and value <= self.high


@dataclass(frozen=True)
class ScoreSpec:
    """A score and its bands, validated."""

    id: str
    fact: str
    title: str
    cites: tuple[str, ...]
    bands: tuple[BandSpec, ...]
    entered: str | None = None


@dataclass(frozen=True)
class ScoreBand:
    """The band a recorded score falls in, with the values it was read from.

    ``source`` is ``"score"`` when the band was decided from the scores, ``"entered"`` when it is the
    group recorded directly (``ScoreSpec.entered``) because the scores could not decide it.
    """

    score: str
    title: str
    label: str
    text: str
    values: tuple[tuple[str, Any], ...]
    cites: tuple[str, ...]
    source: Literal["score", "entered"] = "score"


# --- loading ----------------------------------------------------------------------------------


class _Collector:
    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[Problem] = []

    def add(self, location: str, message: str, suggestion: str | None = None, score: str | None = None) -> None:
        self.problems.append(Problem(location, message, suggestion, self.file, score))


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


class _Loader:
    def __init__(self, col: _Collector, catalogue: Mapping[str, FactSpec], guideline_ids: Collection[str]) -> None:
        self.col = col
        self.catalogue = catalogue
        self.guideline_ids = guideline_ids

    def condition(self, raw: Any, loc: str, sid: str) -> Node | None:
        add = self.col.add
        if not isinstance(raw, dict):
            add(loc, "a condition is a mapping (all / any / not, or {fact: ..., <op>: value})", score=sid)
            return None
        if "fact" in raw:
            return self.comparison(raw, loc, sid)
        if len(raw) != 1:
            add(loc, f"expected one of all, any, not; got {', '.join(map(str, raw)) or 'nothing'}", score=sid)
            return None
        ((kind, body),) = raw.items()
        if kind in ("all", "any"):
            if not isinstance(body, list) or not body:
                add(f"{loc}.{kind}", "expected a non-empty list of conditions", score=sid)
                return None
            parts = [self.condition(p, f"{loc}.{kind}[{i}]", sid) for i, p in enumerate(body)]
            if any(p is None for p in parts):
                return None
            return Condition(kind, tuple(p for p in parts if p is not None))
        if kind == "not":
            part = self.condition(body, f"{loc}.not", sid)
            return None if part is None else Condition("not", (part,))
        add(loc, f"unknown condition '{kind}'", suggest(str(kind), ["all", "any", "not", "fact"]), sid)
        return None

    def comparison(self, raw: dict[str, Any], loc: str, sid: str) -> Comparison | None:
        add = self.col.add
        fact = raw["fact"]
        ops = [k for k in raw if k != "fact"]
        spec = self.catalogue.get(fact) if isinstance(fact, str) else None
        if spec is None:
            add(f"{loc}.fact", f"'{fact}' is not a fact of the catalogue", suggest(str(fact), self.catalogue), sid)
            return None
        if len(ops) != 1 or ops[0] not in _OPS:
            bad = next((o for o in ops if o not in _OPS), None)
            hint = suggest(str(bad), _OPS) if bad is not None else None
            add(loc, f"expected exactly one of {', '.join(_OPS)}; got {', '.join(ops) or 'none'}", hint, sid)
            return None
        op, value = ops[0], raw[ops[0]]
        if spec.kind in _NUMERIC:
            ok = _is_number(value)
            if ok and spec.minimum is not None and value < spec.minimum:
                ok = False
            if ok and spec.maximum is not None and value > spec.maximum:
                ok = False
        elif spec.kind == "enum":
            ok = op in ("eq", "ne") and value in spec.values
        elif spec.kind == "boolean":
            ok = op in ("eq", "ne") and isinstance(value, bool)
        else:
            ok = False
        if not ok:
            add(loc, f"'{op}: {value!r}' does not suit the {spec.kind} fact '{fact}'", score=sid)
            return None
        return Comparison(fact, op, value)

    def band(self, raw: Any, loc: str, sid: str, spec: FactSpec | None) -> BandSpec | None:
        add = self.col.add
        if not isinstance(raw, dict):
            add(loc, "a band is a mapping with label and min/max, or label and when", score=sid)
            return None
        unknown = set(raw) - {"label", "text", "min", "above", "max", "when"}
        for key in sorted(unknown):
            add(
                f"{loc}.{key}",
                "unknown band field",
                suggest(key, ["label", "text", "min", "above", "max", "when"]),
                sid,
            )
        label = raw.get("label")
        if not isinstance(label, str) or not label:
            add(f"{loc}.label", "every band needs a label", score=sid)
            return None
        text = raw.get("text", label.replace("_", " "))
        if not isinstance(text, str):
            add(f"{loc}.text", "text must be a string", score=sid)
            text = label
        if "when" in raw:
            if {"min", "above", "max"} & set(raw):
                add(loc, "a band has either min/max or when, not both", score=sid)
            when = self.condition(raw["when"], f"{loc}.when", sid)
            return BandSpec(label, text, when=when) if when is not None and not unknown else None
        if "min" in raw and "above" in raw:
            add(loc, "give min (inclusive) or above (exclusive), not both", score=sid)
            return None
        low_key = "above" if "above" in raw else "min"
        raw_low, raw_high = raw.get(low_key), raw.get("max")
        if not _is_number(raw_low) or not _is_number(raw_high):
            add(loc, f"a range band needs numeric {low_key} and max", score=sid)
            return None
        low, high = float(raw_low), float(raw_high)
        if low > high or (low_key == "above" and low == high):
            add(loc, f"empty range {low_key} {_fmt(low)}, max {_fmt(high)}", score=sid)
            return None
        if spec is not None and spec.kind == "integer" and not (low.is_integer() and high.is_integer()):
            add(loc, "bands of a whole-number score have whole-number bounds", score=sid)
        return None if unknown else BandSpec(label, text, low, low_key == "above", high)

    def coverage(self, bands: list[tuple[int, BandSpec]], spec: FactSpec, loc: str, sid: str) -> None:
        """Range bands must tile [minimum, maximum] of the fact exactly."""
        add = self.col.add
        lo, hi = spec.minimum, spec.maximum
        if lo is None or hi is None:
            add(loc, f"'{spec.path}' has no catalogue range to band", score=sid)
            return
        integer = spec.kind == "integer"
        ordered = sorted(bands, key=lambda ib: (ib[1].low or 0.0, ib[1].low_exclusive))
        expected_low, expected_exclusive = lo, False
        for i, band in ordered:
            if band.low is None or band.high is None:  # pragma: no cover - range bands only
                continue
            start, exclusive = band.low, band.low_exclusive
            if integer and exclusive:  # "above 20" on whole numbers is "min 21"
                start, exclusive = start + 1, False
            here = f"{loc}[{i}]({band.label})"
            if (start, exclusive) != (expected_low, expected_exclusive):
                gap = start > expected_low or (start == expected_low and exclusive and not expected_exclusive)
                what = "gap" if gap else "overlap"
                before = f"above {_fmt(expected_low)}" if expected_exclusive else f"from {_fmt(expected_low)}"
                add(here, f"{what}: the previous band ends so this one should start {before}", score=sid)
            if band.low < lo or band.high > hi:
                add(here, f"outside the range of '{spec.path}' ({_fmt(lo)}-{_fmt(hi)})", score=sid)
            expected_low, expected_exclusive = (band.high + 1, False) if integer else (band.high, True)
        top = ordered[-1][1].high if ordered else None
        if top is not None and top < hi:
            add(f"{loc}[{ordered[-1][0]}]", f"gap: nothing covers {_fmt(top)}-{_fmt(hi)} of '{spec.path}'", score=sid)

    def exhaustive(self, bands: list[tuple[int, BandSpec]], loc: str, sid: str) -> None:
        """Every combination of the facts the conditions name, if the facts model accepts it, is in one band."""
        add = self.col.add
        facts = sorted({c.fact for _, b in bands if b.when is not None for c in _comparisons(b.when)})
        specs = [self.catalogue[f] for f in facts]
        if any(s.kind != "integer" or s.minimum is None or s.maximum is None for s in specs):
            add(
                loc,
                f"when bands can only be checked over whole-number facts with a range ({', '.join(facts)})",
                score=sid,
            )
            return
        axes = [range(int(s.minimum or 0), int(s.maximum or 0) + 1) for s in specs]
        total = 1
        for axis in axes:
            total *= len(axis)
        if total > MAX_COMBINATIONS:
            add(loc, f"{total} combinations of {', '.join(facts)} are too many to check", score=sid)
            return
        reported = 0
        for combo in itertools.product(*axes):
            flat = dict(zip(facts, combo, strict=True))
            try:
                parse_facts(unflatten(flat))
            except FactsValidationError:
                continue  # a combination no patient can have
            hits = [b.label for _, b in bands if b.when is not None and _evaluate(b.when, flat) is True]
            if len(hits) != 1 and reported < 5:
                reported += 1
                where = ", ".join(f"{f} {v}" for f, v in flat.items())
                what = "gap: no band" if not hits else f"overlap: bands {', '.join(hits)}"
                add(loc, f"{what} for {where}", score=sid)

    def score(self, raw: Any, i: int, seen: set[str]) -> ScoreSpec | None:
        add = self.col.add
        if not isinstance(raw, dict):
            add(f"scores[{i}]", "a score is a mapping", None)
            return None
        sid = raw.get("id")
        if not isinstance(sid, str) or not sid:
            add(f"scores[{i}].id", "every score needs an id")
            return None
        loc = f"scores[{i}]"
        if sid in seen:
            add(f"{loc}.id", f"score '{sid}' is listed twice", score=sid)
        seen.add(sid)
        known = {"id", "fact", "title", "cites", "bands", "entered"}
        for key in sorted(set(raw) - known):
            add(f"{loc}.{key}", "unknown score field", suggest(key, known), sid)
        fact = raw.get("fact")
        spec = self.catalogue.get(fact) if isinstance(fact, str) else None
        if spec is None:
            add(f"{loc}.fact", f"'{fact}' is not a fact of the catalogue", suggest(str(fact), self.catalogue), sid)
        elif spec.kind not in _NUMERIC:
            add(f"{loc}.fact", f"'{fact}' is a {spec.kind} fact, not a score", score=sid)
            spec = None
        title = raw.get("title")
        if not isinstance(title, str) or not title:
            add(f"{loc}.title", "every score needs a title", score=sid)
        cites = raw.get("cites", [])
        if not isinstance(cites, list) or not all(isinstance(c, str) for c in cites):
            add(f"{loc}.cites", "cites is a list of guideline ids", score=sid)
            cites = []
        for j, gid in enumerate(cites):
            if gid not in self.guideline_ids:
                add(
                    f"{loc}.cites[{j}]",
                    f"citation '{gid}' has no entry in guidelines/",
                    suggest(gid, self.guideline_ids),
                    sid,
                )
        raw_bands = raw.get("bands")
        if not isinstance(raw_bands, list) or not raw_bands:
            add(f"{loc}.bands", "every score needs a list of bands", score=sid)
            return None
        parsed = [(j, self.band(b, f"{loc}.bands[{j}]", sid, spec)) for j, b in enumerate(raw_bands)]
        bands = [(j, b) for j, b in parsed if b is not None]
        labels = [b.label for _, b in bands]
        for label in sorted({x for x in labels if labels.count(x) > 1}):
            add(f"{loc}.bands", f"label '{label}' is used twice", score=sid)
        kinds = {b.when is None for _, b in bands}
        if len(kinds) > 1:
            add(f"{loc}.bands", "bands are either all ranges (min/max) or all conditions (when)", score=sid)
        elif len(bands) == len(parsed) and spec is not None:
            if kinds == {True}:
                self.coverage(bands, spec, f"{loc}.bands", sid)
            else:
                self.exhaustive(bands, f"{loc}.bands", sid)
        entered = raw.get("entered")
        if entered is not None:
            espec = self.catalogue.get(entered) if isinstance(entered, str) else None
            if espec is None:
                add(
                    f"{loc}.entered",
                    f"'{entered}' is not a fact of the catalogue",
                    suggest(str(entered), self.catalogue),
                    sid,
                )
            elif espec.kind != "enum" or set(espec.values) != set(labels):
                add(
                    f"{loc}.entered", f"'{entered}' must be a category fact whose values are the band labels", score=sid
                )
        if any(p.rule_id == sid for p in self.col.problems) or not isinstance(fact, str) or not isinstance(title, str):
            return None
        return ScoreSpec(sid, fact, title, tuple(cites), tuple(b for _, b in bands), entered)


def default_scores_file() -> Path:
    """``scores.yaml`` in the rules directory (``painpath.paths.default_rules_dir``)."""
    return default_rules_dir() / "scores.yaml"


def load_scores(path: Path, catalogue: Mapping[str, FactSpec], guideline_ids: Collection[str]) -> tuple[ScoreSpec, ...]:
    """Load and validate ``scores.yaml``; raises ``RulesValidationError`` listing every problem."""
    file = str(path)
    col = _Collector(file)
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise RulesValidationError(
            "invalid scores", [Problem("(file)", f"cannot read YAML: {exc}", None, file)]
        ) from None
    if not isinstance(data, dict) or data.get("version") != 1 or not isinstance(data.get("scores"), list):
        raise RulesValidationError(
            "invalid scores", [Problem("(file)", "expected version: 1 and a list of scores", None, file)]
        )
    for key in sorted(set(data) - {"version", "scores"}):
        col.add(key, "unknown top-level field", suggest(key, ["version", "scores"]))
    loader = _Loader(col, catalogue, guideline_ids)
    seen: set[str] = set()
    specs = [loader.score(raw, i, seen) for i, raw in enumerate(data["scores"])]
    if col.problems:
        raise RulesValidationError("invalid scores", col.problems)
    return tuple(s for s in specs if s is not None)


# --- interpreting -----------------------------------------------------------------------------


def _comparisons(node: Node) -> Iterator[Comparison]:
    if isinstance(node, Comparison):
        yield node
    else:
        for part in node.parts:
            yield from _comparisons(part)


def _evaluate(node: Node, flat: Mapping[str, Any]) -> bool | None:
    """Three-valued: ``None`` when the answer depends on a fact that is not recorded."""
    if isinstance(node, Comparison):
        value = flat.get(node.fact)
        return None if value is None else _OPS[node.op](value, node.value)
    results = [_evaluate(p, flat) for p in node.parts]
    if node.kind == "not":
        return None if results[0] is None else not results[0]
    if node.kind == "all":
        return False if False in results else (True if all(r is True for r in results) else None)
    return True if True in results else (False if all(r is False for r in results) else None)


def _band(spec: ScoreSpec, band: BandSpec, values: dict[str, Any], source: Literal["score", "entered"]) -> ScoreBand:
    return ScoreBand(spec.id, spec.title, band.label, band.text, tuple(sorted(values.items())), spec.cites, source)


def interpret(specs: tuple[ScoreSpec, ...], flat: Mapping[str, Any]) -> dict[str, ScoreBand]:
    """The band of every recorded score, keyed by score id; scores that are not recorded are left out."""
    out: dict[str, ScoreBand] = {}
    for spec in specs:
        found: ScoreBand | None = None
        value = flat.get(spec.fact)
        for band in spec.bands:
            if band.when is not None:
                if _evaluate(band.when, flat) is True:
                    used = {c.fact: flat[c.fact] for c in _comparisons(band.when) if c.fact in flat}
                    found = _band(spec, band, used, "score")
                    break
            elif value is not None and band.contains(value):
                found = _band(spec, band, {spec.fact: value}, "score")
                break
        if found is None and spec.entered is not None and flat.get(spec.entered) is not None:
            group = flat[spec.entered]
            match = next((b for b in spec.bands if b.label == group), None)
            if match is not None:
                found = _band(spec, match, {spec.entered: group}, "entered")
        if found is not None:
            out[spec.id] = found
    return out
