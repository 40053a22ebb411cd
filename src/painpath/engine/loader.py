"""Load and validate a rules directory completely, reporting every problem at once.

``load_ruleset`` reads ``ruleset.yaml``, ``parameters.yaml``, the rule files of every stratum and the
guideline entries, checks each against the language models, then resolves every name: fact paths
(against the facts catalogue and the derived facts of *earlier* strata, so chaining has no cycles),
operators against fact kinds, values against vocabularies and ranges, parameters, citations and
test vectors. Problems carry the file, rule id and path, with a suggestion where cheap.
"""

from __future__ import annotations

import hashlib
import itertools
import math
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from painpath.engine import ir
from painpath.engine.durable_compile import MAX_DURABLE_RULES
from painpath.engine.language import (
    All,
    Any_,
    AtLeast,
    Comparison,
    Condition,
    Guideline,
    Not,
    Parameter,
    ParametersFile,
    ParamRef,
    Possible,
    RuleFile,
    RulesetFile,
    SiteConfig,
    Vector,
    VocabularyFile,
)
from painpath.engine.language import Conclusion as _Conclusion
from painpath.engine.scores import load_scores
from painpath.engine.vocabulary import (
    KIND_OPS,
    LIST_OPS,
    NO_URGENCY,
    SCREEN_STATUSES,
    SectionSpec,
    StatusSpec,
    Vocabulary,
)
from painpath.errors import FactsValidationError, Problem, RulesValidationError, suggest
from painpath.facts import CATALOGUE, parse_facts

MAX_RULES_PER_STRATUM = MAX_DURABLE_RULES
"""A stratum compiles to at least one durable-rules rule per rule: more can never be built."""
MAX_COMBINATIONS = 256
"""An ``at_least`` is expanded into combinations for durable-rules; cap the expansion."""

_CONCLUSION_MODELS = typing.get_args(typing.get_args(_Conclusion)[0])
_CONCLUSION_KINDS = tuple(typing.get_args(m.model_fields["kind"].annotation)[0] for m in _CONCLUSION_MODELS)


@dataclass
class _Collector:
    problems: list[Problem] = field(default_factory=list)

    def add(
        self, file: str, location: str, message: str, rule_id: str | None = None, suggestion: str | None = None
    ) -> None:
        self.problems.append(Problem(location or "(file)", message, suggestion, file, rule_id))

    def from_validation(self, file: str, exc: ValidationError, rule_id: str | None = None, prefix: str = "") -> None:
        for err in exc.errors(include_url=False):
            loc = prefix + ".".join(str(p) for p in err["loc"])
            msg = err["msg"]
            sug = None
            if err["type"] == "extra_forbidden" and isinstance(err["loc"][-1], str):
                sug = _suggest_key(err["loc"][-1])
            self.add(file, loc, msg, rule_id, sug)


_KNOWN_KEYS = (
    set(RuleFile.model_fields)
    | set(Comparison.model_fields)
    | {"in", "not", "all", "any", "at_least", "of"}
    | {key for model in _CONCLUSION_MODELS for key in model.model_fields}
    | set(Possible.model_fields)
    | set(Vector.model_fields)
)


def _suggest_key(key: str) -> str | None:
    return suggest(key, _KNOWN_KEYS)


def _read_yaml(path: Path, root: Path, col: _Collector) -> Any:
    rel = str(path.relative_to(root.parent)) if root.parent in path.parents else str(path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        col.add(rel, "(file)", f"cannot read YAML: {exc}")
        return None


def _validate(model: type[BaseModel], data: Any, file: str, col: _Collector, rule_id: str | None = None) -> Any:
    if data is None:
        col.add(file, "(file)", "file is empty")
        return None
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        col.from_validation(file, exc, rule_id)
        return None


def _derived_catalogue(
    parsed: list[tuple[int, RuleFile, str]], strata: list[Any], vocab: Vocabulary
) -> dict[str, tuple[str, tuple[str, ...], int]]:
    """Derived fact path -> (kind, vocabulary, first stratum index allowed to read it)."""
    out: dict[str, tuple[str, tuple[str, ...], int]] = {}

    def put(path: str, kind: str, vocab: tuple[str, ...], after: int) -> None:
        prev = out.get(path)
        out[path] = (kind, vocab, max(after + 1, prev[2] if prev else 0))

    for k, stratum in enumerate(strata):
        if stratum.screen is not None:
            put(f"derived.{stratum.id}.screen", "enum", SCREEN_STATUSES, k)
            # true when the screen is absent, false when a finding is present, unknown otherwise
            put(f"derived.{stratum.id}.clear", "boolean", (), k)
    for k, rule, _file in parsed:
        put(f"derived.rule.{rule.id}", "boolean", (), k)
        for group in rule.groups:
            put(f"derived.group.{group}", "boolean", (), k)
        c = rule.concludes
        section = vocab.section_of_kind.get(c.kind)
        if c.kind in vocab.urgent_kinds:
            put("derived.urgency.highest", "enum", (*vocab.urgencies, NO_URGENCY), k)
        elif section is not None and section.derived_path(c) is not None:
            put(str(section.derived_path(c)), "enum", section.precedence, k)
    return out


def _vocabulary(raw: VocabularyFile, guidelines: dict[str, Guideline], col: _Collector) -> Vocabulary:
    """The clinical vocabulary of ``rules/ruleset.yaml``, checked: every conclusion kind has a rank,
    every section names a known kind, redirects are statuses of the triage section, cites resolve."""
    file = "rules/ruleset.yaml"
    for kind in _CONCLUSION_KINDS:
        if kind not in raw.kinds:
            col.add(file, f"vocabulary.kinds.{kind}", "conclusion kind has no entry")
    for kind in raw.kinds:
        if kind not in _CONCLUSION_KINDS:
            col.add(file, f"vocabulary.kinds.{kind}", "unknown conclusion kind", None, suggest(kind, _CONCLUSION_KINDS))
    sections: dict[str, SectionSpec] = {}
    for name, sec in raw.sections.items():
        if sec.kind not in _CONCLUSION_KINDS:
            col.add(file, f"vocabulary.sections.{name}.kind", f"unknown conclusion kind '{sec.kind}'")
        _check_cites(sec.cites, guidelines, col, file, None, f"vocabulary.sections.{name}.cites")
        ids = [st.id for st in sec.statuses]
        if len(set(ids)) != len(ids):
            col.add(file, f"vocabulary.sections.{name}.statuses", "a status is listed twice")
        sections[name] = SectionSpec(
            name=name,
            kind=sec.kind,
            field=sec.field,
            key=sec.key,
            title=sec.title,
            statuses=tuple(StatusSpec(st.id, st.polarity, st.label) for st in sec.statuses),
            bounded=sec.bounded,
            display_order=tuple(sec.display_order),
            redirects=tuple(sec.redirects),
            items=tuple(sec.items),
            derived=sec.derived,
            requested_by=sec.requested_by,
            cites=tuple(sec.cites),
        )
    for name, spec in sections.items():
        if spec.requested_by is not None and spec.requested_by not in CATALOGUE:
            col.add(file, f"vocabulary.sections.{name}.requested_by", f"unknown fact '{spec.requested_by}'")
    triage = sections.get("triage")
    for name, spec in sections.items():
        for r in spec.redirects:
            if triage is None or r not in triage.precedence:
                col.add(file, f"vocabulary.sections.{name}.redirects", f"'{r}' is not a triage setting")
    return Vocabulary(
        urgencies=tuple(u.id for u in raw.urgencies),
        urgency_labels={u.id: u.label for u in raw.urgencies},
        kind_rank={k: v.rank for k, v in raw.kinds.items()},
        urgent_kinds=frozenset(k for k, v in raw.kinds.items() if v.urgent),
        sections=sections,
    )


def _check_conclusion(
    rule: RuleFile, vocab: Vocabulary, guidelines: dict[str, Guideline], col: _Collector, file: str
) -> None:
    """A conclusion's urgency and status must be words of the vocabulary; a possible block must fit."""
    c = rule.concludes
    urgency = getattr(c, "urgency", None)
    if urgency is not None and urgency not in vocab.urgencies:
        words = [f"'{u}'" for u in vocab.urgencies]
        allowed = ", ".join(words[:-1]) + f" or {words[-1]}" if len(words) > 1 else words[0]
        col.add(
            file,
            "concludes.urgency",
            f"unknown urgency '{urgency}': Input should be {allowed}",
            rule.id,
            suggest(urgency, vocab.urgencies),
        )
    section = vocab.section_of_kind.get(c.kind)
    if section is not None:
        value = getattr(c, section.field)
        if value not in section.precedence:
            col.add(
                file,
                f"concludes.{section.field}",
                f"'{value}' is not a {section.name} status of the vocabulary",
                rule.id,
                suggest(str(value), section.precedence),
            )
    if rule.possible is not None:
        if c.kind not in vocab.urgent_kinds:
            col.add(file, "possible", f"only {sorted(vocab.urgent_kinds)} conclusions can be possible", rule.id)
        if rule.possible.urgency not in vocab.urgencies:
            col.add(file, "possible.urgency", f"unknown urgency '{rule.possible.urgency}'", rule.id)
        _check_cites(rule.possible.cites, guidelines, col, file, rule.id, "possible.cites")


class _Resolver:
    """Resolves one rule's condition tree into IR leaves, collecting problems."""

    def __init__(
        self,
        col: _Collector,
        file: str,
        rule_id: str,
        stratum_index: int,
        derived: dict[str, tuple[str, tuple[str, ...], int]],
        parameters: dict[str, Parameter],
        counter: itertools.count[int],
    ) -> None:
        self.col, self.file, self.rule_id = col, file, rule_id
        self.stratum_index, self.derived, self.parameters = stratum_index, derived, parameters
        self.counter = counter

    def problem(self, loc: str, msg: str, sug: str | None = None) -> None:
        self.col.add(self.file, loc, msg, self.rule_id, sug)

    def node(self, cond: Condition, loc: str) -> ir.Node | None:
        if isinstance(cond, All):
            kids = [self.node(c, f"{loc}.all[{i}]") for i, c in enumerate(cond.all)]
            return None if None in kids else ir.AllNode(tuple(k for k in kids if k), cond.label)
        if isinstance(cond, Any_):
            kids = [self.node(c, f"{loc}.any[{i}]") for i, c in enumerate(cond.any)]
            return None if None in kids else ir.AnyNode(tuple(k for k in kids if k), cond.label)
        if isinstance(cond, Not):
            kid = self.node(cond.not_, f"{loc}.not")
            return None if kid is None else ir.NotNode(kid, cond.label)
        if isinstance(cond, AtLeast):
            kids = [self.node(c, f"{loc}.of[{i}]") for i, c in enumerate(cond.of)]
            k, n = len(cond.of), cond.at_least
            if n > k:
                self.problem(loc, f"at_least {n} of only {k} conditions can never be true")
                return None
            if max(_comb(k, n), _comb(k, k - n + 1)) > MAX_COMBINATIONS:
                self.problem(loc, f"at_least {n} of {k} expands to too many combinations for the engine")
                return None
            return None if None in kids else ir.AtLeastNode(n, tuple(x for x in kids if x), cond.label)
        return self.leaf(cond, loc)

    def _kind_of(self, path: str, loc: str) -> tuple[str, tuple[str, ...], float | None, float | None] | None:
        spec = CATALOGUE.get(path)
        if spec is not None:
            return spec.kind, spec.values, spec.minimum, spec.maximum
        d = self.derived.get(path)
        if d is not None:
            kind, vocab, first = d
            if self.stratum_index < first:
                self.problem(
                    f"{loc}.fact",
                    f"'{path}' is concluded in this or a later stratum; a rule may only "
                    "read conclusions of earlier strata (no cycles)",
                )
                return None
            return kind, vocab, None, None
        sug = suggest(path, list(CATALOGUE) + list(self.derived))
        self.problem(f"{loc}.fact", f"unknown fact '{path}'", sug)
        return None

    def leaf(self, cond: Comparison, loc: str) -> ir.Leaf | None:
        pairs = cond.operator()
        if len(pairs) != 1:
            self.problem(loc, f"a comparison needs exactly one operator, got {len(pairs)}")
            return None
        op, operand = pairs[0]
        info = self._kind_of(cond.fact, loc)
        if info is None:
            return None
        kind, vocab, lo, hi = info
        if op not in KIND_OPS[kind]:
            self.problem(
                f"{loc}.{op}",
                f"operator '{op}' does not apply to {kind} fact '{cond.fact}'",
                suggest(op, KIND_OPS[kind]),
            )
            return None
        param = None
        value: Any = operand
        if isinstance(operand, ParamRef):
            param = operand.param
            spec = self.parameters.get(param)
            if spec is None:
                self.problem(f"{loc}.{op}", f"unknown parameter '{param}'", suggest(param, self.parameters))
                return None
            value = spec.value
        if op == "recorded":
            if value is not True:
                self.problem(f"{loc}.recorded", "write 'recorded: true' (use 'not' for not recorded)")
                return None
        elif not self._check_value(op, value, kind, vocab, lo, hi, f"{loc}.{op}", cond.fact):
            return None
        return ir.Leaf(next(self.counter), cond.fact, op, _freeze(value), param, cond.label, cond.proviso)

    def _check_value(
        self,
        op: str,
        value: Any,
        kind: str,
        vocab: tuple[str, ...],
        lo: float | None,
        hi: float | None,
        loc: str,
        path: str,
    ) -> bool:
        items = value if isinstance(value, list) else [value]
        if (op in LIST_OPS) != isinstance(value, list):
            self.problem(loc, f"'{op}' takes {'a list' if op in LIST_OPS else 'a single value'}")
            return False
        if op in LIST_OPS and not items:
            self.problem(loc, f"'{op}' needs at least one value")
            return False
        ok = True
        for item in items:
            if kind == "boolean" and not isinstance(item, bool):
                self.problem(loc, f"'{path}' is yes/no; compare it with true or false, not {item!r}")
                ok = False
            elif kind in ("integer", "number") and (isinstance(item, bool) or not isinstance(item, (int, float))):
                self.problem(loc, f"'{path}' is a number; {item!r} is not")
                ok = False
            elif kind in ("integer", "number") and ((lo is not None and item < lo) or (hi is not None and item > hi)):
                self.problem(loc, f"{item} is outside the range of '{path}' ({lo}-{hi})")
                ok = False
            elif kind in ("enum", "set") and item not in vocab:
                self.problem(loc, f"'{item}' is not a value of '{path}'", suggest(str(item), vocab))
                ok = False
        return ok


def _comb(n: int, k: int) -> int:
    return math.comb(n, k) if 0 <= k <= n else 0


def _freeze(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _check_cites(
    cites: Iterable[str], guidelines: dict[str, Guideline], col: _Collector, file: str, rule_id: str | None, loc: str
) -> None:
    for i, cite in enumerate(cites):
        gid, _, section = cite.partition("#")
        g = guidelines.get(gid)
        if g is None:
            col.add(
                file, f"{loc}[{i}]", f"citation '{gid}' has no entry in guidelines/", rule_id, suggest(gid, guidelines)
            )
        elif section and section not in g.sections:
            col.add(
                file,
                f"{loc}[{i}]",
                f"guideline '{gid}' has no section '{section}'",
                rule_id,
                suggest(section, g.sections),
            )


def _check_vectors(
    rule: RuleFile,
    file: str,
    col: _Collector,
    derived: dict[str, tuple[str, tuple[str, ...], int]],
    parameters: dict[str, Parameter],
) -> None:
    kinds = {v.expect for v in rule.vectors}
    for need in ("fired", "not_fired", "undetermined"):
        if need not in kinds:
            col.add(file, "vectors", f"needs at least one vector expecting '{need}'", rule.id)
    names = [v.name for v in rule.vectors]
    for name in {n for n in names if names.count(n) > 1}:
        col.add(file, "vectors", f"vector name '{name}' is used twice", rule.id)
    for i, vec in enumerate(rule.vectors):
        loc = f"vectors[{i}]"
        try:
            parse_facts(vec.facts)
        except FactsValidationError as exc:
            for p in exc.problems:
                col.add(file, f"{loc}.facts.{p.location}", p.message, rule.id, p.suggestion)
        for path in vec.derived:
            if path not in derived:
                col.add(file, f"{loc}.derived.{path}", "unknown derived fact", rule.id, suggest(path, derived))
        for name in vec.parameters:
            if name not in parameters:
                col.add(file, f"{loc}.parameters.{name}", "unknown parameter", rule.id, suggest(name, parameters))
        if vec.missing is not None and vec.expect != "undetermined":
            col.add(file, f"{loc}.missing", "only an 'undetermined' vector lists missing facts", rule.id)
        for path in vec.missing or ():
            if path not in CATALOGUE and path not in derived:
                col.add(
                    file,
                    f"{loc}.missing",
                    f"unknown fact '{path}'",
                    rule.id,
                    suggest(path, list(CATALOGUE) + list(derived)),
                )


def hash_files(root: Path, files: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def _load_guidelines(guidelines_dir: Path, col: _Collector) -> tuple[dict[str, Guideline], list[Path]]:
    out: dict[str, Guideline] = {}
    files = sorted(guidelines_dir.glob("*.yaml")) if guidelines_dir.is_dir() else []
    if not files:
        col.add(str(guidelines_dir), "(dir)", "no guideline entries found")
    for path in files:
        rel = f"guidelines/{path.name}"
        g = _validate(Guideline, _read_yaml(path, guidelines_dir, col), rel, col)
        if g is None:
            continue
        if g.id != path.stem:
            col.add(rel, "id", f"id '{g.id}' must match the file name '{path.stem}'")
        if g.id in out:
            col.add(rel, "id", f"duplicate guideline id '{g.id}'")
        out[g.id] = g
    return out, files


def load_site_config(path: Path, parameters: dict[str, Parameter]) -> dict[str, Any]:
    """Validate a site configuration file and return its parameter overrides."""
    col = _Collector()
    data = _read_yaml(path, path.parent, col)
    site = _validate(SiteConfig, data, str(path), col)
    overrides: dict[str, Any] = {}
    if site is not None:
        overrides = check_overrides(site.parameters, parameters, col, str(path))
    if col.problems:
        raise RulesValidationError(f"invalid site configuration {path}", col.problems)
    return overrides


def check_overrides(
    values: dict[str, Any], parameters: dict[str, Parameter], col: _Collector | None = None, file: str = "(parameters)"
) -> dict[str, Any]:
    """Check parameter overrides against their declarations (name, type, range)."""
    own = col or _Collector()
    for name, value in values.items():
        spec = parameters.get(name)
        if spec is None:
            own.add(file, f"parameters.{name}", "unknown parameter", None, suggest(name, parameters))
            continue
        if type(value) is not type(spec.value) and not (
            isinstance(value, (int, float))
            and isinstance(spec.value, (int, float))
            and not isinstance(value, bool)
            and not isinstance(spec.value, bool)
        ):
            own.add(file, f"parameters.{name}", f"expected a value like {spec.value!r}, got {value!r}")
        elif (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and (
                (spec.minimum is not None and value < spec.minimum)
                or (spec.maximum is not None and value > spec.maximum)
            )
        ):
            own.add(file, f"parameters.{name}", f"{value} is outside {spec.minimum}-{spec.maximum}")
    if col is None and own.problems:
        raise RulesValidationError("invalid parameter overrides", own.problems)
    return dict(values)


def load_ruleset(rules_dir: Path, guidelines_dir: Path | None = None) -> ir.RulesetIR:
    """Load, validate and resolve a rules directory; raise ``RulesValidationError`` listing every problem."""
    rules_dir = Path(rules_dir)
    guidelines_dir = Path(guidelines_dir) if guidelines_dir else rules_dir.parent / "guidelines"
    col = _Collector()
    guidelines, guideline_files = _load_guidelines(guidelines_dir, col)

    ruleset_path = rules_dir / "ruleset.yaml"
    params_dir = rules_dir / "parameters"
    header: RulesetFile | None = None
    if ruleset_path.is_file():
        header = _validate(RulesetFile, _read_yaml(ruleset_path, rules_dir, col), "rules/ruleset.yaml", col)
    else:
        col.add("rules/ruleset.yaml", "(file)", "missing")
    parameters: dict[str, Parameter] = {}
    param_files = sorted(params_dir.glob("*.yaml")) if params_dir.is_dir() else []
    for path in param_files:
        rel = f"rules/parameters/{path.name}"
        pf = _validate(ParametersFile, _read_yaml(path, rules_dir, col), rel, col)
        if pf is None:
            continue
        for name, spec in pf.parameters.items():
            if name in parameters:
                col.add(rel, f"parameters.{name}", "parameter is declared in two files")
            parameters[name] = spec
            _check_cites(spec.cites, guidelines, col, rel, None, f"parameters.{name}.cites")
    if header is None:
        raise RulesValidationError(f"rules in {rules_dir} are invalid", col.problems)

    parsed: list[tuple[int, RuleFile, str]] = []
    rule_files: list[Path] = []
    seen_ids: dict[str, str] = {}
    seen_folders: set[str] = set()
    for k, stratum in enumerate(header.strata):
        if stratum.screen is not None:
            for i, req in enumerate(stratum.screen.requires):
                if req not in CATALOGUE:
                    col.add(
                        "rules/ruleset.yaml",
                        f"strata[{k}].screen.requires[{i}]",
                        f"unknown fact '{req}'",
                        None,
                        suggest(req, CATALOGUE),
                    )
        for folder in stratum.folders:
            if folder in seen_folders:
                col.add("rules/ruleset.yaml", f"strata[{k}].folders", f"folder '{folder}' is in two strata")
            seen_folders.add(folder)
            fdir = rules_dir / folder
            if not fdir.is_dir():
                col.add("rules/ruleset.yaml", f"strata[{k}].folders", f"folder '{folder}' does not exist")
                continue
            for path in sorted(fdir.glob("*.yaml")):
                rel = str(path.relative_to(rules_dir.parent))
                rule_files.append(path)
                data = _read_yaml(path, rules_dir, col)
                rid = data.get("id") if isinstance(data, dict) and isinstance(data.get("id"), str) else None
                rule = _validate(RuleFile, data, rel, col, rid)
                if rule is None:
                    continue
                if rule.id in seen_ids:
                    col.add(rel, "id", f"duplicate rule id (also in {seen_ids[rule.id]})", rule.id)
                    col.add(seen_ids[rule.id], "id", f"duplicate rule id (also in {rel})", rule.id)
                    continue
                seen_ids[rule.id] = rel
                if rule.status != "retired":
                    parsed.append((k, rule, rel))

    vocab = _vocabulary(header.vocabulary, guidelines, col)
    derived = _derived_catalogue(parsed, list(header.strata), vocab)
    built: dict[int, list[ir.Rule]] = {k: [] for k in range(len(header.strata))}
    counters = {k: itertools.count() for k in range(len(header.strata))}
    for k, rule, rel in parsed:
        _check_cites(rule.cites, guidelines, col, rel, rule.id, "cites")
        _check_vectors(rule, rel, col, derived, parameters)
        _check_conclusion(rule, vocab, guidelines, col, rel)
        node = _Resolver(col, rel, rule.id, k, derived, parameters, counters[k]).node(rule.when, "when")
        if node is None:
            continue
        built[k].append(
            ir.Rule(
                id=rule.id,
                version=rule.version,
                title=rule.title,
                status=rule.status,
                cites=tuple(rule.cites),
                rationale=rule.rationale,
                groups=tuple(rule.groups),
                when=node,
                concludes=rule.concludes,
                explanation=rule.explanation,
                vectors=tuple(rule.vectors),
                file=rel,
                stratum=header.strata[k].id,
                possible=rule.possible,
            )
        )
    for k in range(len(header.strata)):
        if len(built[k]) > MAX_RULES_PER_STRATUM:
            col.add(
                "rules/ruleset.yaml",
                f"strata[{k}]",
                f"{len(built[k])} rules exceed the engine's limit of {MAX_RULES_PER_STRATUM} per stratum",
            )
    if col.problems:
        raise RulesValidationError(f"rules in {rules_dir} are invalid ({len(col.problems)} problems)", col.problems)

    scores_path = rules_dir / "scores.yaml"
    scores = load_scores(scores_path, CATALOGUE, guidelines) if scores_path.is_file() else ()
    all_files = [ruleset_path, *param_files, *rule_files, *([scores_path] if scores else [])]
    content_hash = hash_files(rules_dir.parent, all_files + guideline_files)
    strata = tuple(
        ir.StratumIR(
            id=s.id,
            title=s.title,
            rules=tuple(built[k]),
            screen_requires=tuple(s.screen.requires) if s.screen else None,
            leaf_count=sum(len(ir.leaves(r.when)) for r in built[k]),
        )
        for k, s in enumerate(header.strata)
    )
    return ir.RulesetIR(
        name=header.ruleset,
        version=header.version,
        content_hash=content_hash,
        strata=strata,
        parameters=parameters,
        guidelines=guidelines,
        vocabulary=vocab,
        scores=scores,
        derived_catalogue=derived,
        source_root=rules_dir.parent,
        source_files=tuple(all_files + guideline_files),
    )
