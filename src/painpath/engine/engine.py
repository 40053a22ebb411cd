"""Evaluate patient facts against a ruleset: strata in order, two evaluators that must agree.

For each stratum the generated Kleene evaluator gives every rule true / false / unknown with its
leaf values; durable-rules independently gives the set of definitely-true rules. The sets must be
equal; any disagreement or engine error fails the decision closed (``manual_review``: nothing
clinical is asserted), is logged and counted. Each stratum's conclusions become ``derived.*``
facts for the strata after it.
"""

from __future__ import annotations

import datetime
import operator
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import structlog

from painpath import __version__
from painpath.engine import ir
from painpath.engine.decision import (
    AdherenceEntry,
    Decision,
    ParameterUse,
    PathwayEntry,
    PmpSection,
    Reason,
    RedFlagFinding,
    RedFlagSection,
    SectionEntry,
)
from painpath.engine.durable_adapter import DurableCore
from painpath.engine.kleene import T, U, compile_stratum
from painpath.engine.language import URGENCY_ORDER
from painpath.engine.loader import check_overrides, load_ruleset, load_site_config
from painpath.errors import EngineError
from painpath.facts import PatientFacts, flatten

log = structlog.get_logger("painpath.engine")

Evaluator = Literal["durable", "kleene"]
BEST_PRACTICE_COUNT = 11
_NOTHING = "no_conclusion"
"""Every rule of the section was definitely false: nothing applies."""
_URGENCY_RANK = {u: i for i, u in enumerate(URGENCY_ORDER)}


_NOTHING_ENTRY = SectionEntry(_NOTHING, ())
_REDIRECT_SETTINGS = ("paediatric_service", "case_management_first")
"""Triage settings that are a service to go to instead of (or before) an adult PMP: shown with a PMP that
is ``not_suitable`` or ``not_yet`` as well, so the decision says where to refer."""


@dataclass
class EngineStats:
    """Counters a service or benchmark reports: evaluations, disagreements, engine errors."""

    evaluations: int = 0
    disagreements: int = 0
    engine_errors: int = 0


def _get(rule: ir.Rule, name: str) -> Any:
    """An attribute of a rule's conclusion, or None when that conclusion kind has none."""
    return getattr(rule.concludes, name, None)


def _reason(rule: ir.Rule) -> Reason:
    text = _get(rule, "reason") or _get(rule, "action") or _get(rule, "text") or ""
    return Reason(rule, str(text), _get(rule, "instead"))


class Ladder:
    """A section's rules grouped by the status they conclude, strongest first.

    ``steps`` is ``((status, rule indices), ...)``; ``fetch`` reads all their results at once (C speed),
    and ``spans`` locates each step's slice of what it returns.
    """

    __slots__ = ("fetch", "indices", "spans", "steps")

    def __init__(self, steps: tuple[tuple[str, tuple[int, ...]], ...]) -> None:
        self.steps = steps
        self.indices = tuple(i for _status, idx in steps for i in idx)
        getter = operator.itemgetter(*self.indices) if self.indices else None
        if getter is None:
            self.fetch: Callable[[list[int]], tuple[int, ...]] = lambda _results: ()
        elif len(self.indices) == 1:
            self.fetch = lambda results: (getter(results),)
        else:
            self.fetch = getter
        spans = []
        pos = 0
        for status, idx in steps:
            spans.append((status, idx, pos, pos + len(idx)))
            pos += len(idx)
        self.spans = tuple(spans)

    def limited(self, limit: int) -> Ladder:
        """The same ladder without the rules at or after index ``limit`` (not evaluated yet)."""
        if all(i < limit for i in self.indices):
            return self
        return Ladder(tuple((status, tuple(i for i in idx if i < limit)) for status, idx in self.steps))


class Engine:
    """A loaded, compiled ruleset with a parameter set; thread-safe, reusable for many patients."""

    def __init__(
        self, ruleset: ir.RulesetIR, *, site_parameters: Mapping[str, Any] | None = None, site_name: str | None = None
    ) -> None:
        self.ruleset = ruleset
        site = dict(site_parameters or {})
        check_overrides(site, ruleset.parameters)
        self.site_name = site_name
        self._site = site
        self.parameters = {name: site.get(name, spec.value) for name, spec in ruleset.parameters.items()}
        self._kleene = [compile_stratum(s, self.parameters) for s in ruleset.strata]
        self._durable = DurableCore(ruleset, self.parameters)
        self._plan()
        self.stats = EngineStats()
        self._stats_lock = threading.Lock()
        self._parameter_uses = {
            name: ParameterUse(self.parameters[name], "site" if name in site else "default", tuple(spec.cites))
            for name, spec in ruleset.parameters.items()
        }

    @classmethod
    def from_directory(
        cls, rules_dir: Path, *, guidelines_dir: Path | None = None, site_config: Path | None = None
    ) -> Engine:
        """Load, validate and compile a rules directory (and an optional site configuration)."""
        ruleset = load_ruleset(rules_dir, guidelines_dir)
        site: dict[str, Any] = {}
        name = None
        if site_config is not None:
            site = load_site_config(site_config, ruleset.parameters)
            name = str(site_config)
        return cls(ruleset, site_parameters=site, site_name=name)

    def with_parameters(self, overrides: Mapping[str, Any]) -> Engine:
        """A new engine with request-level parameter overrides on top of the site's."""
        check_overrides(dict(overrides), self.ruleset.parameters)
        engine = Engine(self.ruleset, site_parameters={**self._site, **overrides}, site_name=self.site_name)
        for name in overrides:
            use = engine._parameter_uses[name]
            engine._parameter_uses[name] = ParameterUse(use.value, "request", use.cites)
        return engine

    def _count(self, field: str) -> None:
        with self._stats_lock:
            setattr(self.stats, field, getattr(self.stats, field) + 1)

    def evaluate(
        self,
        facts: PatientFacts,
        *,
        evaluator: Evaluator = "durable",
        inject: Mapping[str, Any] | None = None,
        decision_id: str | None = None,
        created_at: str | None = None,
    ) -> Decision:
        """Evaluate one patient. ``evaluator='kleene'`` skips the durable-rules cross-check (benchmarks).

        ``inject`` overrides derived facts (used by rule test vectors to assume earlier conclusions).
        ``decision_id`` and ``created_at`` are given when a recorded decision is re-derived (replay).
        """
        flat = flatten(facts)
        decision_id = decision_id or str(uuid.uuid4())
        evaluated: list[tuple[tuple[ir.Rule, ...], tuple[int, ...], tuple[int, ...]]] = []
        results: list[int] = []
        sections: dict[str, Any] = {}
        problems: list[str] = []
        self._count("evaluations")
        try:
            for k, stratum in enumerate(self.ruleset.strata):
                if inject:
                    flat.update({p: v for p, v in inject.items() if v is not None})
                    for p, v in inject.items():
                        if v is None:
                            flat.pop(p, None)
                values_list = [U] * stratum.leaf_count
                mine = self._kleene[k](flat, values_list)
                results.extend(mine)
                evaluated.append((stratum.rules, mine, tuple(values_list)))
                if evaluator == "durable":
                    durable = self._durable.fired(k, flat)
                    kleene_true = {r.id for r, v in zip(stratum.rules, mine, strict=True) if v == T}
                    if durable != kleene_true:
                        only_d = sorted(durable - kleene_true)
                        only_k = sorted(kleene_true - durable)
                        problems.append(f"stratum {stratum.id}: durable-rules only {only_d}, Kleene only {only_k}")
                        self._count("disagreements")
                        log.error(
                            "evaluators_disagree",
                            decision_id=decision_id,
                            stratum=stratum.id,
                            durable_only=only_d,
                            kleene_only=only_k,
                            ruleset_hash=self.ruleset.content_hash[:12],
                        )
                        break
                flat.update(self._derive(k, stratum, results, sections, flat))
        except EngineError as exc:
            self._count("engine_errors")
            problems.append(str(exc))
            log.error(
                "engine_error", decision_id=decision_id, error=exc.summary, ruleset_hash=self.ruleset.content_hash[:12]
            )
        common: dict[str, Any] = {
            "decision_id": decision_id,
            "created_at": created_at or datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
            "engine_version": __version__,
            "ruleset_name": self.ruleset.name,
            "ruleset_version": self.ruleset.version,
            "ruleset_hash": self.ruleset.content_hash,
            "evaluator": evaluator,
            "parameters": self._parameter_uses,
            "facts": flat,
            "evaluated": tuple(evaluated),
            "patient_id": facts.patient_id,
        }
        if problems:
            return Decision(
                status="manual_review",
                manual_review_reason=("the two rule evaluators did not agree or the engine failed; no advice is given"),
                manual_review_details=tuple(problems),
                **common,
            )
        return Decision(status="ok", **common, **sections)

    # -- derived facts and sections -------------------------------------------------------------

    def _ladder(self, indices: list[int], precedence: tuple[str, ...]) -> Ladder:
        return Ladder(tuple((status, tuple(i for i in indices if self._key[i] == status)) for status in precedence))

    def _plan(self) -> None:
        """Precompute, per stratum and section, the rule indices, keys and constant texts used per patient."""
        catalogue = self.ruleset.derived_catalogue
        rules = self.ruleset.rules
        self._first: list[int] = []
        pos = 0
        for stratum in self.ruleset.strata:
            self._first.append(pos)
            pos += len(stratum.rules)
        self._ids = [r.id for r in rules]
        self._rule_paths = [f"derived.rule.{r.id}" for r in rules]
        self._kind = [r.concludes.kind for r in rules]
        self._reasons = [_reason(r) for r in rules]
        self._key = [str(_get(r, "setting") or _get(r, "status") or "") for r in rules]
        self._rank = [_URGENCY_RANK.get(str(_get(r, "urgency")), len(URGENCY_ORDER)) for r in rules]
        groups: dict[str, list[int]] = {}
        for i, r in enumerate(rules):
            for g in r.groups:
                groups.setdefault(g, []).append(i)
        self._groups_at: list[list[tuple[str, tuple[int, ...]]]] = [[] for _ in self.ruleset.strata]
        for g, idx in groups.items():
            path = f"derived.group.{g}"
            at = catalogue[path][2] - 1
            self._groups_at[at].append((path, tuple(idx)))
        by_kind: dict[str, list[int]] = {}
        for i, kind in enumerate(self._kind):
            by_kind.setdefault(kind, []).append(i)
        self._urgent = tuple(by_kind.get("red_flag", []) + by_kind.get("safety_alert", []))
        self._urgency_at = catalogue.get("derived.urgency.highest", ("", (), 0))[2] - 1
        self._pmp_at = catalogue.get("derived.pmp.status", ("", (), 0))[2] - 1
        # red-flag findings, most urgent first (stable: rule order within an urgency)
        self._findings = {
            i: RedFlagFinding(r, _get(r, "condition"), _get(r, "urgency"), _get(r, "action"))
            for i, r in enumerate(rules)
            if r.concludes.kind == "red_flag"
        }
        self._red_flag_order = [
            tuple(sorted((i for i in self._findings if rules[i].stratum == s.id), key=lambda i: (self._rank[i], i)))
            for s in self.ruleset.strata
        ]
        self._pmp_ladder = self._ladder(
            by_kind.get("pmp", []), self._precedence("pmp", ("not_suitable", "not_yet", "not_indicated", "recommended"))
        )
        self._triage_ladder = self._ladder(
            by_kind.get("triage", []),
            self._precedence(
                "triage", ("paediatric_service", "case_management_first", "residential", "young_adult", "outpatient")
            ),
        )
        self._options_at: list[list[tuple[str, str, Ladder, str | None]]] = [[] for _ in self.ruleset.strata]
        option_rules: dict[str, list[int]] = {}
        for i in by_kind.get("pathway", []):
            option_rules.setdefault(str(_get(rules[i], "option")), []).append(i)
        pathway_order = self._precedence("pathway", ("not_recommended", "recommended", "consider"))
        for path, (_kind, _vocab, first) in catalogue.items():
            if path.startswith("derived.pathway."):
                option = path.removeprefix("derived.pathway.")
                idx = option_rules[option]
                evidence = next((_get(rules[i], "evidence") for i in idx if _get(rules[i], "evidence")), None)
                self._options_at[first - 1].append((option, path, self._ladder(idx, pathway_order), evidence))
        adherence_order = self._precedence("adherence", ("not_met", "met", "not_applicable"))
        advised = {
            i: str(_get(r, "advice")) for i, r in enumerate(rules) if self._key[i] == "not_met" and _get(r, "advice")
        }
        rec_rules: dict[str, list[int]] = {str(n): [] for n in range(1, BEST_PRACTICE_COUNT + 1)}
        for i in by_kind.get("adherence", []):
            rec_rules.setdefault(str(_get(rules[i], "recommendation")), []).append(i)
        self._recommendations = [
            (
                key,
                self._ladder(idx, adherence_order),
                tuple((i, advised[i]) for i in idx if i in advised),
            )
            for key, idx in rec_rules.items()
        ]
        self._adherence_at = max(
            (k for k, s in enumerate(self.ruleset.strata) if any(r.concludes.kind == "adherence" for r in s.rules)),
            default=-1,
        )
        self._alerts = tuple(sorted(by_kind.get("safety_alert", []), key=lambda i: (self._rank[i], i)))
        self._notes = tuple(by_kind.get("note", []))

    def _resolve(self, ladder: Ladder, results: list[int]) -> SectionEntry:
        """Pick the strongest status that fired; an undetermined stronger status makes it undetermined."""
        values = ladder.fetch(results)
        if not any(values):
            return _NOTHING_ENTRY  # every rule definitely false (F == 0): the common case
        for status, indices, start, end in ladder.spans:
            step = values[start:end]
            if T in step:
                reasons = self._reasons
                return SectionEntry(status, tuple(reasons[i] for i, v in zip(indices, step, strict=True) if v == T))
            if U in step:
                ids = self._ids
                return SectionEntry(
                    "undetermined", (), tuple(ids[i] for i, v in zip(indices, step, strict=True) if v == U)
                )
        return _NOTHING_ENTRY

    def _derive(
        self,
        k: int,
        stratum: ir.StratumIR,
        results: list[int],
        sections: dict[str, Any],
        flat: Mapping[str, Any],
    ) -> dict[str, Any]:
        first = self._first[k]
        paths = self._rule_paths
        derived: dict[str, Any] = {paths[i]: results[i] == T for i in range(first, len(results)) if results[i] != U}
        for path, idx in self._groups_at[k]:
            statuses = {results[i] for i in idx}
            if T in statuses:
                derived[path] = True
            elif U not in statuses:
                derived[path] = False
        if stratum.screen_requires is not None:
            section = self._red_flags(k, stratum, results, flat)
            sections["red_flags"] = section
            derived[f"derived.{stratum.id}.screen"] = section.status
        if k == self._urgency_at:
            highest = self._highest_urgency(results)
            if highest is not None:
                derived["derived.urgency.highest"] = highest
        if k == self._pmp_at:
            pmp_section = self._pmp(results)
            sections["pmp"] = pmp_section
            if pmp_section.status != "undetermined":
                derived["derived.pmp.status"] = pmp_section.status
            if pmp_section.setting is not None and pmp_section.setting != "undetermined":
                derived["derived.triage.setting"] = pmp_section.setting
        if self._options_at[k]:
            entries = list(sections.get("pathways", ()))
            for option, path, ladder, evidence in self._options_at[k]:
                entry = self._resolve(ladder, results)
                if entry.status == _NOTHING:
                    continue  # no rule for this option applies to this patient: not listed
                entries.append(PathwayEntry(option, entry, evidence))
                if entry.status != "undetermined":
                    derived[path] = entry.status
            sections["pathways"] = tuple(entries)
        if k == self._adherence_at:
            sections["best_practice"] = self._best_practice(results)
        if k == len(self.ruleset.strata) - 1:
            reasons = self._reasons
            sections["safety_alerts"] = tuple(reasons[i] for i in self._alerts if results[i] == T)
            sections["notes"] = tuple(reasons[i] for i in self._notes if results[i] == T)
        return derived

    def _highest_urgency(self, results: list[int]) -> str | None:
        limit = len(results)
        fired = [self._rank[i] for i in self._urgent if i < limit and results[i] == T]
        best = min(fired) if fired else len(URGENCY_ORDER)
        unsure = [self._rank[i] for i in self._urgent if i < limit and results[i] == U]
        if unsure and min(unsure) < best:
            return None
        return URGENCY_ORDER[best] if best < len(URGENCY_ORDER) else "none"

    def _red_flags(self, k: int, stratum: ir.StratumIR, results: list[int], flat: Mapping[str, Any]) -> RedFlagSection:
        findings = tuple(self._findings[i] for i in self._red_flag_order[k] if results[i] == T)
        requires = stratum.screen_requires or ()
        if findings:
            status = "present"
        elif any(flat.get(path) is None for path in requires) or any(results[i] == U for i in self._red_flag_order[k]):
            status = "incomplete"
        else:
            status = "absent"
        return RedFlagSection(status, findings, requires)  # type: ignore[arg-type]

    def _precedence(self, section: str, default: tuple[str, ...]) -> tuple[str, ...]:
        return self.ruleset.precedence.get(section, default)

    def _pmp(self, results: list[int]) -> PmpSection:
        entry = self._resolve(self._pmp_ladder, results)
        if entry.status == _NOTHING:
            entry = SectionEntry("undetermined", ())
        preparation: list[str] = []
        setting: str | None = None
        setting_reasons: tuple[Reason, ...] = ()
        if entry.status == "recommended":
            for reason in entry.reasons:
                preparation.extend(getattr(reason.rule.concludes, "preparation", []))
            ladder = self._triage_ladder.limited(len(results))
            if ladder.indices:
                t = self._resolve(ladder, results)
                setting = None if t.status == _NOTHING else t.status
                setting_reasons = t.reasons
        elif entry.status in ("not_suitable", "not_yet"):
            limit = len(results)
            for status, idx in self._triage_ladder.steps:
                fired = [i for i in idx if i < limit and results[i] == T]
                if status in _REDIRECT_SETTINGS and fired:
                    setting, setting_reasons = status, tuple(self._reasons[i] for i in fired)
                    break
        return PmpSection(
            entry.status, setting, entry.reasons, setting_reasons, tuple(dict.fromkeys(preparation)), entry.blocked_by
        )

    def _best_practice(self, results: list[int]) -> tuple[AdherenceEntry, ...]:
        out = []
        for key, ladder, advice in self._recommendations:
            entry = self._resolve(ladder, results)
            if entry.status in ("undetermined", _NOTHING):
                entry = SectionEntry("unknown", entry.reasons, entry.blocked_by)
            out.append(AdherenceEntry(key, entry, tuple(text for i, text in advice if results[i] == T)))
        return tuple(out)
