"""Render a Decision as the documented JSON contract or as a clinician-readable summary."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from painpath.engine import ir
from painpath.engine.decision import Decision, Reason, RuleOutcome, SectionEntry
from painpath.engine.kleene import NAMES, U, resolve_value
from painpath.engine.language import URGENCY_ORDER
from painpath.facts import CATALOGUE

_URGENCY_LABEL = {"emergency": "EMERGENCY", "urgent": "URGENT", "soon": "SOON", "routine": "ROUTINE"}


def _jsonable(value: Any) -> Any:
    if isinstance(value, (tuple, frozenset, set)):
        return sorted(value, key=repr) if isinstance(value, (frozenset, set)) else list(value)
    return value


def clause(
    leaf: ir.Leaf, negated: bool, values: tuple[int, ...], facts: Mapping[str, Any], params: Mapping[str, Any]
) -> dict[str, Any]:
    """One condition of a rule, with the fact's value and the condition's truth value."""
    out: dict[str, Any] = {
        "fact": leaf.path,
        "op": leaf.op,
        "expected": True if leaf.op == "recorded" else _jsonable(resolve_value(leaf, params)),
        "actual": _jsonable(facts.get(leaf.path)),
        "result": NAMES[values[leaf.index]],
    }
    if leaf.param:
        out["parameter"] = leaf.param
    if negated:
        out["negated"] = True
    if leaf.label:
        out["label"] = leaf.label
    return out


def _params(decision: Decision) -> dict[str, Any]:
    return {name: use.value for name, use in decision.parameters.items()}


def rule_summary(rule: ir.Rule) -> dict[str, Any]:
    """One entry of the rules index: id, version, title, stratum, cites and vector counts per expectation."""
    counts = {k: sum(1 for v in rule.vectors if v.expect == k) for k in ("fired", "not_fired", "undetermined")}
    return {
        "id": rule.id,
        "version": rule.version,
        "title": rule.title,
        "status": rule.status,
        "stratum": rule.stratum,
        "conclusion": rule.concludes.kind,
        "cites": list(rule.cites),
        "vectors": counts,
        "file": rule.file,
    }


def rule_ref(rule: ir.Rule) -> dict[str, Any]:
    return {"id": rule.id, "version": rule.version, "cites": list(rule.cites)}


def outcome_dict(o: RuleOutcome, decision: Decision, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Everything about one rule's outcome: status, why / why not, unknowns and citations."""
    if params is None:
        params = _params(decision)
    support = decision.support(o)
    out: dict[str, Any] = {
        "id": o.rule.id,
        "version": o.rule.version,
        "title": o.rule.title,
        "stratum": o.rule.stratum,
        "status": o.status,
        "cites": list(o.rule.cites),
        "facts_used": {p: _jsonable(decision.facts.get(p)) for p in o.rule.facts_used},
        "because": [clause(leaf, neg, o.values, decision.facts, params) for leaf, neg in support],
    }
    if o.status == "fired":
        out["explanation"] = o.rule.explanation.strip()
    if o.status == "undetermined":
        # the unknown clauses explain an undetermined rule; their facts are what would settle it
        out["missing"] = list(dict.fromkeys(leaf.path for leaf, _neg in support if o.values[leaf.index] == U))
    return out


def _reason(r: Reason) -> dict[str, Any]:
    out = {"rule": rule_ref(r.rule), "text": r.text.strip()}
    if r.instead:
        out["instead"] = r.instead.strip()
    return out


def _entry(e: SectionEntry) -> dict[str, Any]:
    out: dict[str, Any] = {"status": e.status, "reasons": [_reason(r) for r in e.reasons]}
    if e.blocked_by:
        out["waiting_on_rules"] = list(e.blocked_by)
    return out


Trace = Literal["full", "summary"]
"""How much of the rule trace a rendered decision carries: ``full`` gives every rule its clauses (why,
why not, unknown); ``summary`` (the default of the API) lists only the rules that fired (id, version,
stratum, status and the clauses that decided them; the sections give their reasons) and the
undetermined rules with the facts that would settle each; rules that did not fire are left out.
The sections are the same either way."""


def decision_to_dict(decision: Decision, *, trace: Trace = "full") -> dict[str, Any]:
    """The Decision as JSON-ready data (see docs/decision-format.md and schemas/decision.schema.json)."""
    params = _params(decision)
    out: dict[str, Any] = {
        "decision_id": decision.decision_id,
        "created_at": decision.created_at,
        "status": decision.status,
        "engine": {"name": "painpath", "version": decision.engine_version, "evaluator": decision.evaluator},
        "ruleset": {
            "name": decision.ruleset_name,
            "version": decision.ruleset_version,
            "content_hash": decision.ruleset_hash,
        },
        "parameters": {
            n: {"value": u.value, "source": u.source, "cites": list(u.cites)} for n, u in decision.parameters.items()
        },
    }
    if decision.patient_id is not None:
        out["patient_id"] = decision.patient_id
    if decision.status == "manual_review":
        out["manual_review"] = {
            "reason": decision.manual_review_reason,
            "details": list(decision.manual_review_details),
        }
        return out
    by_id = {o.rule.id: o for o in decision.outcomes}
    rf = decision.red_flags
    if rf is not None:
        out["red_flags"] = {
            "status": rf.status,
            "findings": [
                {
                    "condition": f.condition,
                    "urgency": f.urgency,
                    "action": f.action.strip(),
                    "rule": rule_ref(f.rule),
                    "explanation": f.rule.explanation.strip(),
                    "facts_used": outcome_dict(by_id[f.rule.id], decision, params)["because"],
                }
                for f in rf.findings
            ],
            "missing": list(decision.red_flag_missing),
        }
    out["safety_alerts"] = [
        {**_reason(r), "alert": r.rule.concludes.alert, "urgency": r.rule.concludes.urgency}  # type: ignore[union-attr]
        for r in decision.safety_alerts
    ]
    if decision.pmp is not None:
        p = decision.pmp
        out["pmp"] = {
            "status": p.status,
            "setting": p.setting,
            "reasons": [_reason(r) for r in p.reasons],
            "setting_reasons": [_reason(r) for r in p.setting_reasons],
            "preparation": [item.strip() for item in p.preparation],
        }
        if p.blocked_by:
            out["pmp"]["waiting_on_rules"] = list(p.blocked_by)
    out["pathways"] = [{"option": pw.option, **_entry(pw.entry), "evidence": pw.evidence} for pw in decision.pathways]
    out["best_practice"] = {
        a.recommendation: {**_entry(a.entry), "advice": [item.strip() for item in a.advice]}
        for a in decision.best_practice
    }
    out["notes"] = [_reason(r) for r in decision.notes]
    out["missing_information"] = [
        {
            "fact": m.path,
            "description": CATALOGUE[m.path].description if m.path in CATALOGUE else "",
            "needed_by": list(m.needed_by),
        }
        for m in decision.missing_information
    ]
    out["trace"] = trace
    if trace == "full":
        out["rules"] = [outcome_dict(o, decision, params) for o in decision.outcomes]
        return out
    unknown = decision.unknown_facts
    rules: list[dict[str, Any]] = []
    for o in decision.outcomes:
        if o.status == "not_fired":
            continue  # the full trace (``?trace=full``, ``GET .../trace``) lists them with their clauses
        rule = o.rule
        brief: dict[str, Any] = {"id": rule.id, "version": rule.version, "stratum": rule.stratum, "status": o.status}
        if o.status == "fired":  # why it fired: the clauses that decided it (cards and FHIR cite them)
            brief["because"] = [
                clause(leaf, neg, o.values, decision.facts, params) for leaf, neg in decision.support(o)
            ]
        else:
            brief["missing"] = list(unknown[rule.id])
        rules.append(brief)
    out["rules"] = rules
    return out


_PATHWAY_ORDER = {"recommended": 0, "consider": 1, "undetermined": 2, "not_recommended": 3}
"""Pathways in the summary: what to do first, what to weigh, what is still open, what to avoid."""


def _ref(rule: ir.Rule, cites: bool = False) -> str:
    return f"{rule.id} v{rule.version}" + (f"; {', '.join(rule.cites)}" if cites else "")


def _urgent_lines(decision: Decision) -> list[str]:
    """Safety alerts and red-flag findings merged, most urgent first (a safety alert first on a tie)."""
    rank = {u: i for i, u in enumerate(URGENCY_ORDER)}
    items: list[tuple[int, list[str]]] = []
    for r in decision.safety_alerts:
        urgency = str(getattr(r.rule.concludes, "urgency", "routine"))
        items.append(
            (rank[urgency], [f"  [{_URGENCY_LABEL[urgency]}] SAFETY: {r.text.strip()}  ({_ref(r.rule, cites=True)})"])
        )
    if decision.red_flags is not None:
        for f in decision.red_flags.findings:
            o = decision.outcome(f.rule.id)
            used = ", ".join(
                f"{leaf.path}={_jsonable(decision.facts.get(leaf.path))}" for leaf, _n in decision.support(o)
            )
            items.append(
                (
                    rank[f.urgency],
                    [
                        f"  [{_URGENCY_LABEL[f.urgency]}] RED FLAG {f.condition.replace('_', ' ')}: {f.action.strip()}",
                        f"      because {used}  ({_ref(f.rule, cites=True)})",
                    ],
                )
            )
    items.sort(key=lambda item: item[0])  # stable: alerts stay ahead of findings of the same urgency
    return [line for _rank, block in items for line in block]


def decision_to_text(decision: Decision) -> str:
    """A clinician's summary: urgent actions (safety alerts and red flags, most urgent first), the
    red-flag screen, the PMP decision with what was considered, pathways (recommended first), the
    best-practice audit, and the information that would change the advice."""
    lines = [
        f"painpath decision {decision.decision_id}",
        f"ruleset {decision.ruleset_name} {decision.ruleset_version} ({decision.ruleset_hash[:12]})",
        "",
    ]
    if decision.status == "manual_review":
        lines.append("MANUAL REVIEW REQUIRED: " + (decision.manual_review_reason or ""))
        lines.extend(f"  - {d}" for d in decision.manual_review_details)
        return "\n".join(lines) + "\n"
    urgent = _urgent_lines(decision)
    if urgent:
        lines.append("ACT FIRST (most urgent first; this comes before any pathway advice):")
        lines.extend(urgent)
    rf = decision.red_flags
    if rf is not None:
        lines.append(f"Red-flag screen: {rf.status.upper()}")
        if rf.status == "incomplete":
            lines.append("  Not yet answered: " + ", ".join(decision.red_flag_missing))
    if decision.pmp is not None:
        p = decision.pmp
        setting = f", setting {p.setting.replace('_', ' ')}" if p.setting else ""
        lines.append(f"Pain Management Programme: {p.status.replace('_', ' ')}{setting}")
        for r in (*p.reasons, *p.setting_reasons):
            lines.append(f"  - {r.text.strip()}  ({_ref(r.rule)})")
            if r.instead:
                lines.append(f"    instead: {r.instead.strip()}")
        if p.blocked_by:
            lines.append(f"  waiting on: {', '.join(p.blocked_by)}")
        if p.preparation:
            lines.append("  Preparing the patient:")
            lines.extend(f"  * {item.strip()}" for item in p.preparation)
    for r in decision.notes:
        lines.append(f"  Considered: {r.text.strip()}  ({r.rule.id})")
    if decision.pathways:
        lines.append("Treatment pathways:")
        for pw in sorted(decision.pathways, key=lambda pw: _PATHWAY_ORDER.get(pw.entry.status, 9)):
            lines.append(f"  - {pw.option.replace('_', ' ')}: {pw.entry.status.replace('_', ' ')}")
            for r in pw.entry.reasons:
                lines.append(f"      {r.text.strip()}  ({_ref(r.rule)})")
    if decision.best_practice:
        lines.append("Best-practice adherence (Lin et al. 2019, then NICE audit checks):")
        for a in decision.best_practice:
            extra = f" - {'; '.join(item.strip() for item in a.advice)}" if a.advice else ""
            lines.append(f"  {a.recommendation:>2}. {a.entry.status.replace('_', ' ')}{extra}")
    if decision.missing_information:
        lines.append("Information that would change the advice (most important first):")
        for m in decision.missing_information[:15]:
            lines.append(f"  - {m.path}" + (f" (needed by {', '.join(m.needed_by)})" if m.needed_by else ""))
    return "\n".join(lines) + "\n"


__all__ = ["U", "decision_to_dict", "decision_to_text", "outcome_dict"]
