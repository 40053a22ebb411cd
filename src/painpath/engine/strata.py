"""Evaluate patient facts against a ruleset: strata in order, two evaluators that must agree.

For each stratum the generated Kleene evaluator gives every rule true / false / unknown with its
leaf values; durable-rules independently gives the set of definitely-true rules. The sets must be
equal; any disagreement or engine error fails the decision closed (``manual_review``: nothing
clinical is asserted), is logged and counted. Each stratum's conclusions become ``derived.*``
facts for the strata after it; the sections are resolved by ``sections``.
"""

from __future__ import annotations

import datetime
import threading
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import structlog

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
    ReferralEntry,
    SectionEntry,
)
from painpath.engine.durable_adapter import DurableCore
from painpath.engine.kleene import T, U, compile_stratum_values
from painpath.engine.loader import check_overrides, load_ruleset, load_site_config
from painpath.engine.scores import interpret
from painpath.engine.sections import (
    LADDER_MEMO_LIMIT,
    NOTHING,
    Context,
    Ladder,
    possible_findings,
    reason_of,
    resolve,
    resolve_values,
)
from painpath.engine.vocabulary import NO_URGENCY, SectionSpec
from painpath.errors import EngineError
from painpath.facts import PatientFacts, flatten
from painpath.version import __version__

log = structlog.get_logger("painpath.engine")

Evaluator = Literal["durable", "kleene"]


@dataclass
class EngineStats:
    """Counters a service or benchmark reports: evaluations, disagreements, engine errors."""

    evaluations: int = 0
    disagreements: int = 0
    engine_errors: int = 0


def _get(rule: ir.Rule, name: str) -> Any:
    """An attribute of a rule's conclusion, or None when that conclusion kind has none."""
    return getattr(rule.concludes, name, None)


_KeyedAnswer = tuple["PathwayEntry | ReferralEntry | AdherenceEntry | None", "str | None"]
"""A keyed section's item for one key (None: not listed) and the derived status it sets (None: none)."""
_SECTION_OF = {"pathway": "pathways", "referral": "referrals", "adherence": "best_practice"}


@dataclass(slots=True)
class _KeyedSlot:
    """One key of a keyed section, resolved in one stratum; ``memo`` remembers its answers that depend
    on its rules' results alone, keyed by those results (``ladder.fetch``)."""

    name: str
    key: str
    spec: SectionSpec
    ladder: Ladder
    evidence: str | None
    dpath: str | None
    section: str = field(init=False)
    requested_by: str | None = field(init=False)
    memo: dict[tuple[int, ...], _KeyedAnswer] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.section = _SECTION_OF[self.name]
        self.requested_by = self.spec.requested_by if self.name == "referral" else None


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
        self._kleene = [compile_stratum_values(s, self.parameters)[0] for s in ruleset.strata]
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
        stratum_values: list[Sequence[int]] = []
        sections: dict[str, Any] = {}
        ctx = Context(self._rules, results, self._stratum_of, stratum_values, self._groups, self._index_of, lambda: ())
        screened: dict[int, tuple[str, ...]] = {}

        def screen_missing() -> tuple[str, ...]:
            # the same while the same strata are evaluated (facts change only between strata)
            found = screened.get(len(stratum_values))
            if found is None:
                found = screened[len(stratum_values)] = self._screen_missing(ctx, flat)
            return found

        ctx.screen_missing = screen_missing
        problems: list[str] = []
        self._count("evaluations")
        try:
            for k, stratum in enumerate(self.ruleset.strata):
                if inject:
                    flat.update({p: v for p, v in inject.items() if v is not None})
                    for p, v in inject.items():
                        if v is None:
                            flat.pop(p, None)
                mine, leaf_values = self._kleene[k](flat)
                results.extend(mine)
                stratum_values.append(leaf_values)
                evaluated.append((stratum.rules, mine, leaf_values))
                if evaluator == "durable":
                    durable = self._durable.fired(k, flat)
                    # The sets are equal when they are as large and every durable-rules firing is
                    # Kleene-true (``fired`` returns only this stratum's rule ids, each once).
                    position = self._position[k]
                    if len(durable) != mine.count(T) or any(mine[position[r]] != T for r in durable):
                        kleene_true = {r.id for r, v in zip(stratum.rules, mine, strict=True) if v == T}
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
                flat.update(self._derive(k, stratum, ctx, sections, flat))
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
            "vocabulary": self.ruleset.vocabulary,
            "evaluator": evaluator,
            "parameters": self._parameter_uses,
            "facts": flat,
            "evaluated": tuple(evaluated),
            "patient_id": facts.patient_id,
            "provenance": dict(facts.provenance or {}),
        }
        if problems:
            return Decision(
                status="manual_review",
                manual_review_reason=("the two rule evaluators did not agree or the engine failed; no advice is given"),
                manual_review_details=tuple(problems),
                **common,
            )
        return Decision(status="ok", scores=interpret(self.ruleset.scores, flat), **common, **sections)

    # -- derived facts and sections -------------------------------------------------------------

    def _plan(self) -> None:
        """Precompute, per stratum and section, the rule indices, ladders and constant texts used per patient."""
        vocab = self.ruleset.vocabulary
        catalogue = self.ruleset.derived_catalogue
        rules = self.ruleset.rules
        self._rules = rules
        self._first: list[int] = []
        self._stratum_of: list[int] = []
        pos = 0
        for k, stratum in enumerate(self.ruleset.strata):
            self._first.append(pos)
            self._stratum_of.extend([k] * len(stratum.rules))
            pos += len(stratum.rules)
        self._ids = [r.id for r in rules]
        self._position = [{r.id: j for j, r in enumerate(s.rules)} for s in self.ruleset.strata]
        self._stratum_paths = [tuple(f"derived.rule.{r.id}" for r in s.rules) for s in self.ruleset.strata]
        self._index_of = {r.id: i for i, r in enumerate(rules)}
        self._reasons = [reason_of(r) for r in rules]
        rank = vocab.urgency_rank
        self._rank = [rank.get(str(_get(r, "urgency")), len(rank)) for r in rules]
        groups: dict[str, list[int]] = {}
        for i, r in enumerate(rules):
            for g in r.groups:
                groups.setdefault(g, []).append(i)
        self._groups = {g: tuple(idx) for g, idx in groups.items()}
        self._groups_at: list[list[tuple[str, Callable[[Sequence[int]], tuple[int, ...]]]]] = [
            [] for _ in self.ruleset.strata
        ]
        for g, idx in groups.items():
            path = f"derived.group.{g}"
            at = catalogue[path][2] - 1
            self._groups_at[at].append((path, ir.fetcher(tuple(idx))))
        by_kind: dict[str, list[int]] = {}
        for i, r in enumerate(rules):
            by_kind.setdefault(r.concludes.kind, []).append(i)
        self._urgent = tuple(i for kind in vocab.urgent_kinds for i in by_kind.get(kind, []))
        self._urgency_at = catalogue.get("derived.urgency.highest", ("", (), 0))[2] - 1
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
        self._urgent_at = [
            tuple(sorted((i for i in self._urgent if rules[i].stratum == s.id), key=lambda i: (self._rank[i], i)))
            for s in self.ruleset.strata
        ]
        sections = vocab.sections
        status_of = [self._status_value(r) for r in rules]
        self._status_of = status_of

        def keyed(name: str) -> dict[str, list[int]]:
            spec = sections[name]
            out: dict[str, list[int]] = {key: [] for key in spec.items}
            for i in by_kind.get(spec.kind, []):
                out.setdefault(str(getattr(rules[i].concludes, spec.key or "")), []).append(i)
            return out

        self._pmp_spec = sections.get("pmp")
        self._triage_spec = sections.get("triage")
        self._pmp_ladder = Ladder.of(self._pmp_spec, by_kind.get("pmp", []), status_of) if self._pmp_spec else None
        self._triage_ladder = (
            Ladder.of(self._triage_spec, by_kind.get("triage", []), status_of) if self._triage_spec else None
        )
        self._pmp_at = catalogue.get("derived.pmp.status", ("", (), 0))[2] - 1
        # keyed sections (pathways, referrals, adherence): one ladder per key, resolved in the last stratum
        # that concludes on it
        self._keyed_at: list[list[_KeyedSlot]] = [[] for _ in self.ruleset.strata]
        for name in ("pathway", "referral", "adherence"):
            spec = sections.get(name)
            if spec is None:
                continue
            for key, idx in keyed(name).items():
                at = max((self._stratum_of[i] for i in idx), default=len(self.ruleset.strata) - 1)
                evidence = next((_get(rules[i], "evidence") for i in idx if _get(rules[i], "evidence")), None)
                dpath = spec.derived_path(rules[idx[0]].concludes) if idx else None
                slot = _KeyedSlot(name, key, spec, Ladder.of(spec, idx, status_of), evidence, dpath)
                self._keyed_at[at].append(slot)
        self._advice = {i: str(_get(r, "advice")) for i, r in enumerate(rules) if _get(r, "advice")}
        self._contents = {i: tuple(_get(r, "contents") or ()) for i, r in enumerate(rules) if _get(r, "contents")}
        self._alerts = tuple(sorted(by_kind.get("safety_alert", []), key=lambda i: (self._rank[i], i)))
        self._notes = tuple(by_kind.get("note", []))

    def _status_value(self, rule: ir.Rule) -> str:
        """The status a rule concludes in its section (``""`` for kinds without a section)."""
        spec = self.ruleset.vocabulary.section_of_kind.get(rule.concludes.kind)
        return str(getattr(rule.concludes, spec.field)) if spec is not None else ""

    def _screen_missing(self, ctx: Context, flat: Mapping[str, Any]) -> tuple[str, ...]:
        """What the red-flag screen still needs: unknowns of undetermined findings, then unanswered items."""
        missing: dict[str, None] = {}
        for k, stratum in enumerate(self.ruleset.strata):
            if stratum.screen_requires is None or k >= len(ctx.values):
                continue
            for i in self._red_flag_order[k]:
                if ctx.results[i] == U:
                    missing.update(dict.fromkeys(ctx.unknown_facts(i)))
            missing.update((p, None) for p in stratum.screen_requires if flat.get(p) is None)
        return tuple(missing)

    def _derive(
        self,
        k: int,
        stratum: ir.StratumIR,
        ctx: Context,
        sections: dict[str, Any],
        flat: Mapping[str, Any],
    ) -> dict[str, Any]:
        results = ctx.results
        mine = results[self._first[k] :]
        derived: dict[str, Any] = {p: v == T for p, v in zip(self._stratum_paths[k], mine, strict=True) if v != U}
        for path, fetch in self._groups_at[k]:
            statuses = fetch(results)
            if T in statuses:
                derived[path] = True
            elif U not in statuses:
                derived[path] = False
        if stratum.screen_requires is not None:
            section = self._red_flags(k, stratum, ctx, flat)
            sections["red_flags"] = section
            derived[f"derived.{stratum.id}.screen"] = section.status
            if section.status in ("absent", "present"):
                derived[f"derived.{stratum.id}.clear"] = section.status == "absent"
        if k == self._urgency_at:
            highest = self._highest_urgency(results)
            if highest is not None:
                derived["derived.urgency.highest"] = highest
        if k == self._pmp_at and self._pmp_ladder is not None:
            pmp_section = self._pmp(ctx)
            sections["pmp"] = pmp_section
            if pmp_section.entry is not None and pmp_section.entry.certainty == "definite":
                derived["derived.pmp.status"] = pmp_section.status
            setting_entry = pmp_section.setting_entry
            if setting_entry is not None and setting_entry.certainty == "definite":
                derived["derived.triage.setting"] = setting_entry.status
        for slot in self._keyed_at[k]:
            if slot.requested_by is not None and slot.key not in (flat.get(slot.requested_by) or ()):
                continue  # only the referrals asked for are answered
            values = slot.ladder.fetch(results)
            found = slot.memo.get(values)
            if found is None:
                found, pure = self._keyed(slot, ctx, values)
                if pure and len(slot.memo) < LADDER_MEMO_LIMIT:
                    slot.memo[values] = found
            item, status = found
            if item is not None:
                sections.setdefault(slot.section, []).append(item)
            if status is not None:
                derived[slot.dpath] = status  # type: ignore[index]  # a status only where there is a path
        if k == len(self.ruleset.strata) - 1:
            reasons = self._reasons
            sections["safety_alerts"] = tuple(reasons[i] for i in self._alerts if results[i] == T)
            sections["notes"] = tuple(reasons[i] for i in self._notes if results[i] == T)
            for name in ("pathways", "referrals", "best_practice"):
                if name in sections:
                    sections[name] = tuple(sections[name])
        return derived

    def _keyed(self, slot: _KeyedSlot, ctx: Context, values: tuple[int, ...]) -> tuple[_KeyedAnswer, bool]:
        """One key of a keyed section (a pathway, referral or adherence item): its entry, or None when
        nothing applies, with the derived status it sets; and whether that depends on ``values`` alone."""
        entry, pure = resolve_values(slot.ladder, slot.spec, ctx, values)
        if slot.name == "adherence":
            if entry.status in ("undetermined", NOTHING):
                entry = SectionEntry("unknown", entry.reasons, entry.blocked_by)
            gap = slot.spec.precedence[0]
            advice = tuple(
                self._advice[i]
                for i, v in zip(slot.ladder.indices, values, strict=True)
                if v == T and i in self._advice and self._status_of[i] == gap
            )
            return (AdherenceEntry(slot.key, entry, advice), None), pure
        if entry.status == NOTHING:
            return (None, None), pure  # no rule for this key applies to this patient: not listed
        item: PathwayEntry | ReferralEntry
        if slot.name == "pathway":
            item = PathwayEntry(slot.key, entry, slot.evidence)
        else:
            answered = {r.rule.id for r in entry.reasons}
            contents = tuple(
                item for i in slot.ladder.indices if self._ids[i] in answered for item in self._contents.get(i, ())
            )
            item = ReferralEntry(slot.key, entry, tuple(dict.fromkeys(contents)))
        status = entry.status if slot.dpath is not None and entry.certainty == "definite" else None
        return (item, status), pure

    def _highest_urgency(self, results: list[int]) -> str | None:
        urgencies = self.ruleset.vocabulary.urgencies
        limit = len(results)
        fired = [self._rank[i] for i in self._urgent if i < limit and results[i] == T]
        best = min(fired) if fired else len(urgencies)
        unsure = [self._rank[i] for i in self._urgent if i < limit and results[i] == U]
        if unsure and min(unsure) < best:
            return None
        return urgencies[best] if best < len(urgencies) else NO_URGENCY

    def _red_flags(self, k: int, stratum: ir.StratumIR, ctx: Context, flat: Mapping[str, Any]) -> RedFlagSection:
        results = ctx.results
        findings = tuple(self._findings[i] for i in self._red_flag_order[k] if results[i] == T)
        possible = possible_findings(self._urgent_at[k], ctx, self.ruleset.vocabulary, findings, flat)
        requires = stratum.screen_requires or ()
        if findings:
            status = "present"
        elif any(p.rule.concludes.kind == "red_flag" for p in possible):
            status = "possible"
        elif any(flat.get(path) is None for path in requires) or any(results[i] == U for i in self._red_flag_order[k]):
            status = "incomplete"
        else:
            status = "absent"
        return RedFlagSection(status, findings, requires, possible)  # type: ignore[arg-type]

    def _pmp(self, ctx: Context) -> PmpSection:
        if self._pmp_ladder is None or self._pmp_spec is None:
            raise EngineError("the ruleset has no PMP section", [])
        results = ctx.results
        entry = resolve(self._pmp_ladder, self._pmp_spec, ctx)
        if entry.status == NOTHING:
            entry = SectionEntry("undetermined", ())
        preparation: list[str] = []
        setting: str | None = None
        setting_reasons: tuple[Reason, ...] = ()
        setting_entry: SectionEntry | None = None
        positive = entry.status if entry.certainty == "definite" else entry.conditional
        spec = self._pmp_spec
        if positive is not None and spec.polarity.get(positive) == "positive":
            for reason in entry.reasons:
                preparation.extend(getattr(reason.rule.concludes, "preparation", []))
            if self._triage_ladder is not None and self._triage_spec is not None:
                ladder = self._triage_ladder.limited(len(results))
                if ladder.indices:
                    t = resolve(ladder, self._triage_spec, ctx)
                    if t.status != NOTHING:
                        setting_entry = t
                        setting = t.conditional if t.certainty == "conditional" else t.status
                        setting_reasons = t.reasons
        elif entry.status in spec.polarity and spec.polarity[entry.status] == "negative" and self._triage_ladder:
            limit = len(results)
            for status, idx in self._triage_ladder.steps:
                fired = [i for i in idx if i < limit and results[i] == T]
                if status in spec.redirects and fired:
                    setting, setting_reasons = status, tuple(self._reasons[i] for i in fired)
                    setting_entry = SectionEntry(status, setting_reasons)
                    break
        return PmpSection(
            entry.status,
            setting,
            entry.reasons,
            setting_reasons,
            tuple(dict.fromkeys(preparation)),
            entry.blocked_by,
            entry,
            setting_entry,
        )
