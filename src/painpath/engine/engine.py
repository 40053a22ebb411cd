"""Evaluate patient facts against a ruleset: strata in order, two evaluators that must agree.

For each stratum the generated Kleene evaluator gives every rule true / false / unknown with its
leaf values; durable-rules independently gives the set of definitely-true rules. The sets must be
equal; any disagreement or engine error fails the decision closed (``manual_review``: nothing
clinical is asserted), is logged and counted. Each stratum's conclusions become ``derived.*``
facts for the strata after it.
"""

from __future__ import annotations

import datetime
import threading
import uuid
from collections.abc import Mapping
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
    RuleOutcome,
    SectionEntry,
)
from painpath.engine.durable_adapter import DurableCore
from painpath.engine.kleene import F, T, U, compile_stratum
from painpath.engine.language import URGENCY_ORDER
from painpath.engine.loader import check_overrides, load_ruleset, load_site_config
from painpath.errors import EngineError
from painpath.facts import PatientFacts, flatten

log = structlog.get_logger("painpath.engine")

Evaluator = Literal["durable", "kleene"]
_STATUS = {T: "fired", F: "not_fired", U: "undetermined"}
BEST_PRACTICE_COUNT = 11
_NOTHING = "no_conclusion"
"""Every rule of the section was definitely false: nothing applies."""
_URGENCY_RANK = {u: i for i, u in enumerate(URGENCY_ORDER)}


@dataclass
class EngineStats:
    """Counters a service or benchmark reports: evaluations, disagreements, engine errors."""

    evaluations: int = 0
    disagreements: int = 0
    engine_errors: int = 0


def _resolve(precedence: tuple[str, ...], keyed: list[tuple[RuleOutcome, str]]) -> SectionEntry:
    """Pick the strongest status that fired; an undetermined stronger status makes it undetermined."""
    for status in precedence:
        fired = [o for o, key in keyed if key == status and o.status == "fired"]
        if fired:
            return SectionEntry(status, tuple(_reason(o) for o in fired))
        unsure = [o for o, key in keyed if key == status and o.status == "undetermined"]
        if unsure:
            return SectionEntry("undetermined", (), tuple(o.rule.id for o in unsure))
    return SectionEntry(_NOTHING, ())


def _get(o: RuleOutcome, name: str) -> Any:
    """An attribute of a rule's conclusion, or None when that conclusion kind has none."""
    return getattr(o.rule.concludes, name, None)


def _reason(o: RuleOutcome) -> Reason:
    text = _get(o, "reason") or _get(o, "action") or _get(o, "text") or ""
    return Reason(o.rule, str(text), _get(o, "instead"))


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
        self, facts: PatientFacts, *, evaluator: Evaluator = "durable", inject: Mapping[str, Any] | None = None
    ) -> Decision:
        """Evaluate one patient. ``evaluator='kleene'`` skips the durable-rules cross-check (benchmarks).

        ``inject`` overrides derived facts (used by rule test vectors to assume earlier conclusions).
        """
        flat = flatten(facts)
        decision_id = str(uuid.uuid4())
        outcomes: list[RuleOutcome] = []
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
                results = self._kleene[k](flat, values_list)
                values = tuple(values_list)
                stratum_outcomes = [
                    RuleOutcome(rule, _STATUS[r], values)  # type: ignore[arg-type]
                    for rule, r in zip(stratum.rules, results, strict=True)
                ]
                outcomes.extend(stratum_outcomes)
                if evaluator == "durable":
                    durable = self._durable.fired(k, flat)
                    kleene_true = {o.rule.id for o in stratum_outcomes if o.status == "fired"}
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
                flat.update(self._derive(k, stratum, outcomes, sections, flat))
        except EngineError as exc:
            self._count("engine_errors")
            problems.append(str(exc))
            log.error(
                "engine_error", decision_id=decision_id, error=exc.summary, ruleset_hash=self.ruleset.content_hash[:12]
            )
        common: dict[str, Any] = {
            "decision_id": decision_id,
            "created_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="milliseconds"),
            "engine_version": __version__,
            "ruleset_name": self.ruleset.name,
            "ruleset_version": self.ruleset.version,
            "ruleset_hash": self.ruleset.content_hash,
            "evaluator": evaluator,
            "parameters": self._parameter_uses,
            "facts": flat,
            "outcomes": tuple(outcomes),
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

    def _plan(self) -> None:
        """Precompute, per stratum, which derived facts and sections become final after it."""
        catalogue = self.ruleset.derived_catalogue
        rules = self.ruleset.rules
        self._first = []
        pos = 0
        for stratum in self.ruleset.strata:
            self._first.append(pos)
            pos += len(stratum.rules)
        self._kind = [r.concludes.kind for r in rules]
        groups: dict[str, list[int]] = {}
        for i, r in enumerate(rules):
            for g in r.groups:
                groups.setdefault(g, []).append(i)
        self._groups_at: list[list[tuple[str, list[int]]]] = [[] for _ in self.ruleset.strata]
        for g, idx in groups.items():
            path = f"derived.group.{g}"
            at = catalogue[path][2] - 1
            self._groups_at[at].append((path, idx))
        self._urgent = [i for i, k in enumerate(self._kind) if k in ("red_flag", "safety_alert")]
        self._urgency_at = catalogue.get("derived.urgency.highest", ("", (), 0))[2] - 1
        self._pmp_at = catalogue.get("derived.pmp.status", ("", (), 0))[2] - 1
        self._options_at: list[list[str]] = [[] for _ in self.ruleset.strata]
        for path, (_kind, _vocab, first) in catalogue.items():
            if path.startswith("derived.pathway."):
                self._options_at[first - 1].append(path.removeprefix("derived.pathway."))
        self._key = [str(getattr(r.concludes, "setting", None) or getattr(r.concludes, "status", "")) for r in rules]
        self._by_kind: dict[str, list[int]] = {}
        for i, kind in enumerate(self._kind):
            self._by_kind.setdefault(kind, []).append(i)
        self._option_rules: dict[str, list[int]] = {}
        for i in self._by_kind.get("pathway", []):
            self._option_rules.setdefault(str(getattr(rules[i].concludes, "option", "")), []).append(i)
        self._rec_rules: dict[str, list[int]] = {str(n): [] for n in range(1, BEST_PRACTICE_COUNT + 1)}
        for i in self._by_kind.get("adherence", []):
            self._rec_rules.setdefault(str(getattr(rules[i].concludes, "recommendation", "")), []).append(i)
        self._adherence_at = max(
            (k for k, s in enumerate(self.ruleset.strata) if any(r.concludes.kind == "adherence" for r in s.rules)),
            default=-1,
        )

    def _derive(
        self,
        k: int,
        stratum: ir.StratumIR,
        outcomes: list[RuleOutcome],
        sections: dict[str, Any],
        flat: Mapping[str, Any],
    ) -> dict[str, Any]:
        derived: dict[str, Any] = {}
        mine = outcomes[self._first[k] :]
        for o in mine:
            if o.status != "undetermined":
                derived[f"derived.rule.{o.rule.id}"] = o.status == "fired"
        for path, idx in self._groups_at[k]:
            statuses = {outcomes[i].status for i in idx}
            if "fired" in statuses:
                derived[path] = True
            elif "undetermined" not in statuses:
                derived[path] = False
        if stratum.screen_requires is not None:
            section = self._red_flags(stratum, [o for o in mine if o.rule.concludes.kind == "red_flag"], flat)
            sections["red_flags"] = section
            derived[f"derived.{stratum.id}.screen"] = section.status
        if k == self._urgency_at:
            highest = self._highest_urgency([outcomes[i] for i in self._urgent])
            if highest is not None:
                derived["derived.urgency.highest"] = highest
        if k == self._pmp_at:
            pmp_section = self._pmp(outcomes)
            sections["pmp"] = pmp_section
            if pmp_section.status != "undetermined":
                derived["derived.pmp.status"] = pmp_section.status
            if pmp_section.setting is not None and pmp_section.setting != "undetermined":
                derived["derived.triage.setting"] = pmp_section.setting
        if self._options_at[k]:
            entries = list(sections.get("pathways", ()))
            for option in self._options_at[k]:
                entry = self._pathway(option, outcomes)
                if entry.entry.status == _NOTHING:
                    continue  # no rule for this option applies to this patient: not listed
                entries.append(entry)
                if entry.entry.status != "undetermined":
                    derived[f"derived.pathway.{option}"] = entry.entry.status
            sections["pathways"] = tuple(entries)
        if k == self._adherence_at:
            sections["best_practice"] = self._best_practice(outcomes)
        if k == len(self.ruleset.strata) - 1:
            fired = [o for o in outcomes if o.status == "fired"]
            alerts = [o for o in fired if o.rule.concludes.kind == "safety_alert"]
            alerts.sort(key=lambda o: _URGENCY_RANK[_get(o, "urgency")])
            sections["safety_alerts"] = tuple(_reason(o) for o in alerts)
            sections["notes"] = tuple(_reason(o) for o in fired if o.rule.concludes.kind == "note")
        return derived

    def _highest_urgency(self, urgent: list[RuleOutcome]) -> str | None:
        fired = [_URGENCY_RANK[_get(o, "urgency")] for o in urgent if o.status == "fired"]
        best = min(fired) if fired else len(URGENCY_ORDER)
        unsure = [_URGENCY_RANK[_get(o, "urgency")] for o in urgent if o.status == "undetermined"]
        if unsure and min(unsure) < best:
            return None
        return URGENCY_ORDER[best] if best < len(URGENCY_ORDER) else "none"

    def _red_flags(self, stratum: ir.StratumIR, mine: list[RuleOutcome], flat: Mapping[str, Any]) -> RedFlagSection:
        findings = sorted(
            (
                RedFlagFinding(
                    o.rule,
                    _get(o, "condition"),
                    _get(o, "urgency"),
                    _get(o, "action"),
                )
                for o in mine
                if o.status == "fired" and o.rule.concludes.kind == "red_flag"
            ),
            key=lambda f: _URGENCY_RANK[f.urgency],
        )
        unanswered = any(flat.get(path) is None for path in stratum.screen_requires or ())
        if findings:
            status = "present"
        elif unanswered or any(o.status == "undetermined" for o in mine):
            status = "incomplete"
        else:
            status = "absent"
        return RedFlagSection(status, tuple(findings), stratum.screen_requires or ())  # type: ignore[arg-type]

    def _precedence(self, section: str, default: tuple[str, ...]) -> tuple[str, ...]:
        return self.ruleset.precedence.get(section, default)

    def _pmp(self, outcomes: list[RuleOutcome]) -> PmpSection:
        entry = _resolve(
            self._precedence("pmp", ("not_suitable", "not_yet", "not_indicated", "recommended")),
            [(outcomes[i], self._key[i]) for i in self._by_kind.get("pmp", [])],
        )
        if entry.status == _NOTHING:
            entry = SectionEntry("undetermined", ())
        preparation: list[str] = []
        setting: str | None = None
        setting_reasons: tuple[Reason, ...] = ()
        if entry.status == "recommended":
            for reason in entry.reasons:
                preparation.extend(getattr(reason.rule.concludes, "preparation", []))
            triage = [(outcomes[i], self._key[i]) for i in self._by_kind.get("triage", []) if i < len(outcomes)]
            if triage:
                t = _resolve(
                    self._precedence(
                        "triage",
                        ("paediatric_service", "case_management_first", "residential", "young_adult", "outpatient"),
                    ),
                    triage,
                )
                setting = None if t.status == _NOTHING else t.status
                setting_reasons = t.reasons
        return PmpSection(
            entry.status, setting, entry.reasons, setting_reasons, tuple(dict.fromkeys(preparation)), entry.blocked_by
        )

    def _pathway(self, option: str, outcomes: list[RuleOutcome]) -> PathwayEntry:
        mine = [(outcomes[i], self._key[i]) for i in self._option_rules[option]]
        entry = _resolve(self._precedence("pathway", ("not_recommended", "recommended", "consider")), mine)
        evidence = next((_get(o, "evidence") for o, _k in mine if _get(o, "evidence")), None)
        return PathwayEntry(option, entry, evidence)

    def _best_practice(self, outcomes: list[RuleOutcome]) -> tuple[AdherenceEntry, ...]:
        order = self._precedence("adherence", ("not_met", "met", "not_applicable"))
        out = []
        for key, idx in self._rec_rules.items():
            mine = [(outcomes[i], self._key[i]) for i in idx]
            entry = _resolve(order, mine)
            if entry.status in ("undetermined", _NOTHING):
                entry = SectionEntry("unknown", entry.reasons, entry.blocked_by)
            advice = tuple(
                _get(o, "advice") for o, k in mine if o.status == "fired" and k == "not_met" and _get(o, "advice")
            )
            out.append(AdherenceEntry(key, entry, advice))
        return tuple(out)
